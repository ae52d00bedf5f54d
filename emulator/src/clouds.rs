//! National clouds (learn.microsoft.com/graph/deployments, and the Graph SDKs' national-cloud
//! page): each cloud has its own identity platform host and Graph hosts, and a token is for one
//! cloud's resource only ("any permission scope ... MUST use the domain of the Microsoft Graph
//! service root endpoint for the national cloud deployment"). The emulator answers as the cloud
//! whose host name a request was sent to (the `Host` header); reached by address or localhost it
//! is the global service.

/// One cloud: its identity platform host and the resources it issues tokens for.
struct Cloud {
    authority: &'static str,
    resources: &'static [&'static str],
}

const GLOBAL: Cloud = Cloud {
    authority: "login.microsoftonline.com",
    resources: &["https://graph.microsoft.com", "https://outlook.office365.com"],
};

/// US Government L4 (GCC High) and L5 (DoD) share the identity platform host.
const US_GOVERNMENT: Cloud = Cloud {
    authority: "login.microsoftonline.us",
    resources: &["https://graph.microsoft.us", "https://dod-graph.microsoft.us"],
};

/// Microsoft 365 operated by 21Vianet.
const CHINA: Cloud =
    Cloud { authority: "login.chinacloudapi.cn", resources: &["https://microsoftgraph.chinacloudapi.cn"] };

const CLOUDS: [Cloud; 3] = [GLOBAL, US_GOVERNMENT, CHINA];

/// Host names the emulator's TLS certificate carries, so that a host told to resolve them to
/// the emulator can reach it by name.
pub const HOST_NAMES: &[&str] = &[
    "login.microsoftonline.com",
    "graph.microsoft.com",
    "outlook.office365.com",
    "login.microsoftonline.us",
    "graph.microsoft.us",
    "dod-graph.microsoft.us",
    "login.chinacloudapi.cn",
    "microsoftgraph.chinacloudapi.cn",
];

fn host_name(host_header: Option<&str>) -> String {
    let host = host_header.unwrap_or("");
    host.rsplit_once(':').map_or(host, |(name, _)| name).to_ascii_lowercase()
}

/// Why a token endpoint refuses a resource, if it does: unknown, or another cloud's.
pub enum ResourceRefusal {
    /// Not a resource of any cloud.
    Unknown,
    /// A resource of another cloud than the authority's.
    OtherCloud,
}

/// Check that the token endpoint reached at `host_header` issues tokens for `resource`.
pub fn check_resource(host_header: Option<&str>, resource: &str) -> Result<(), ResourceRefusal> {
    let name = host_name(host_header);
    let cloud = CLOUDS.iter().find(|c| c.authority == name).unwrap_or(&GLOBAL);
    if cloud.resources.contains(&resource) {
        Ok(())
    } else if CLOUDS.iter().any(|c| c.resources.contains(&resource)) {
        Err(ResourceRefusal::OtherCloud)
    } else {
        Err(ResourceRefusal::Unknown)
    }
}

/// The audience a Graph request sent to `host_header` needs: the national Graph host it was
/// sent to, else the global one.
pub fn graph_audience(host_header: Option<&str>) -> String {
    let name = host_name(host_header);
    let national = format!("https://{name}");
    if CLOUDS.iter().skip(1).any(|c| c.resources.contains(&national.as_str())) {
        national
    } else {
        "https://graph.microsoft.com".to_string()
    }
}
