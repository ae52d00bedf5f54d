//! Test harness for freebusy's end-to-end tests: builds the real provider components and test
//! fixtures (once per test binary, through `scripts/toolchain.sh`), starts the emulator and the
//! host's HTTP API on 127.0.0.1, and gives typed access to both.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use freebusy_emulator::{demo, Emulator, Options};
use freebusy_host::config::LoadedConfig;
use freebusy_host::runtime::{Runtime, RuntimeSettings};
use freebusy_host::service::Service;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// The directory of built components (`target/components`), building them on first use.
pub fn components() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = repo_root();
        let status = Command::new("bash")
            .arg(root.join("scripts/toolchain.sh"))
            .args(["build", "--test"])
            .status()
            .expect("run scripts/toolchain.sh");
        assert!(status.success(), "building the components failed (scripts/toolchain.sh build --test)");
        root.join("target/components")
    })
}

/// A component file by name (`freebusy_graph.wasm`, `fixture_no_io.wasm`, ...).
pub fn component(file: &str) -> PathBuf {
    let path = components().join(file);
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// TOML for one Graph tenant on the emulator with the given credentials.
pub fn graph_tenant(name: &str, emulator: &str, client_id: &str, secret: &str) -> String {
    format!(
        r#"
[tenants.{name}]
provider = "graph"
[tenants.{name}.settings]
tenant_id = "{tenant}"
client_id = "{client_id}"
client_secret = "{secret}"
authority = "{emulator}"
graph_base_url = "{emulator}"
"#,
        tenant = demo::TENANT_ID
    )
}

/// TOML for one EWS tenant on the emulator with Basic authentication.
pub fn ews_tenant(name: &str, emulator: &str, password: &str) -> String {
    format!(
        r#"
[tenants.{name}]
provider = "ews"
[tenants.{name}.settings]
ews_url = "{emulator}/EWS/Exchange.asmx"
username = "{user}"
password = "{password}"
"#,
        user = demo::EWS_USER
    )
}

/// The EWS schemas (Microsoft's `messages.xsd` and `types.xsd`): `$FREEBUSY_EWS_SCHEMAS`, else
/// `../shared/reference/ews` beside the repository. The EWS tests check every request and answer
/// against them, so without them they fail, saying where the schemas were looked for.
pub fn ews_schema_dir() -> PathBuf {
    let dir = std::env::var_os("FREEBUSY_EWS_SCHEMAS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/reference/ews"));
    assert!(
        dir.join("messages.xsd").is_file(),
        "the EWS schemas are not in {} (messages.xsd, types.xsd): the EWS tests validate against them; \
         set FREEBUSY_EWS_SCHEMAS to their directory",
        dir.display()
    );
    dir
}

/// Fail with `hint` unless `program args` runs successfully: a tool a test needs (installed by
/// `scripts/test`), never a silent skip.
pub fn require(program: &str, args: &[&str], hint: &str) {
    let ok = Command::new(program).args(args).output().is_ok_and(|o| o.status.success());
    assert!(ok, "`{program} {}` failed: {hint}", args.join(" "));
}

/// Validate one SOAP body element (with its namespaces declared) against `messages.xsd`, with
/// the emulator's own validator.
pub async fn xmllint(element: &str) -> Result<(), String> {
    freebusy_emulator::ews::xmllint(&ews_schema_dir(), element).await
}

/// The element inside a SOAP envelope's Body, with the `m:` and `t:` namespaces declared on it,
/// ready for [`xmllint`]. Works for the provider's requests (`soap:Body`) and the emulator's
/// answers (`s:Body`).
pub fn soap_body_element(envelope: &str) -> String {
    let open = envelope.find(":Body>").expect("a SOAP Body") + ":Body>".len();
    let closing = envelope.rfind(":Body>").expect("a closed SOAP Body");
    let inner_end = envelope[..closing].rfind("</").expect("a closed SOAP Body");
    let inner = &envelope[open..inner_end];
    let tag_end = inner.find(|c: char| c.is_whitespace() || c == '>' || c == '/').expect("an element");
    let mut declarations = String::new();
    for (prefix, uri) in [
        ("m", "http://schemas.microsoft.com/exchange/services/2006/messages"),
        ("t", "http://schemas.microsoft.com/exchange/services/2006/types"),
    ] {
        if !inner[..inner.find('>').unwrap_or(inner.len())].contains(&format!("xmlns:{prefix}=")) {
            declarations.push_str(&format!(" xmlns:{prefix}=\"{uri}\""));
        }
    }
    format!("{}{declarations}{}", &inner[..tag_end], &inner[tag_end..])
}

/// The `[providers.*]` section for the Graph component and every fixture.
pub fn providers() -> String {
    let mut out = String::new();
    for (name, file) in [
        ("graph", "freebusy_graph.wasm"),
        ("ews", "freebusy_ews.wasm"),
        ("forbidden_host", "fixture_forbidden_host.wasm"),
        ("spin_forever", "fixture_spin_forever.wasm"),
        ("no_io", "fixture_no_io.wasm"),
        ("legacy_v0_1", "fixture_legacy_v0_1.wasm"),
        ("legacy_v0_2", "fixture_legacy_v0_2.wasm"),
    ] {
        out.push_str(&format!("[providers.{name}]\ncomponent = \"{}\"\n", component(file).display()));
    }
    out
}

/// The emulator plus a host serving the API.
pub struct Stack {
    /// The Microsoft 365 stand-in.
    pub emulator: Emulator,
    /// The host's service.
    pub service: Arc<Service>,
    /// `http://127.0.0.1:<port>` of the host API.
    pub api: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Start the emulator, then a host whose config `tenants(emulator_url)` returns.
pub async fn start(runtime: RuntimeSettings, tenants: impl FnOnce(&str) -> String) -> Stack {
    start_with(Options::default(), runtime, tenants).await
}

/// [`start`] with emulator options.
pub async fn start_with(options: Options, runtime: RuntimeSettings, tenants: impl FnOnce(&str) -> String) -> Stack {
    let emulator = Emulator::start(([127, 0, 0, 1], 0).into(), options).await.expect("start emulator");
    stack_on(emulator, runtime, tenants).await
}

/// The config text [`stack_on`] uses: the providers plus `tenants`.
///
/// The cache is off: these tests count upstream calls and inject faults per request, so every
/// request must reach the provider. `tests/tests/cache.rs` turns it on.
pub fn config_text(tenants: &str) -> String {
    config_text_with_cache(tenants, "ttl_secs = 0")
}

/// [`config_text`] with these `[cache]` settings.
pub fn config_text_with_cache(tenants: &str, cache: &str) -> String {
    format!("default_tenant = \"contoso\"\n[cache]\n{cache}\n{}\n{}", providers(), tenants)
}

/// A host serving `tenants(emulator_url)` for an emulator that is already running.
pub async fn stack_on(emulator: Emulator, runtime: RuntimeSettings, tenants: impl FnOnce(&str) -> String) -> Stack {
    let text = config_text(&tenants(&emulator.base_url));
    stack_with_config(emulator, runtime, &text).await
}

/// A host serving the whole config `text` for an emulator that is already running.
pub async fn stack_with_config(emulator: Emulator, runtime: RuntimeSettings, text: &str) -> Stack {
    let loaded = LoadedConfig::from_str(text, PathBuf::new()).expect("valid test config");
    // Dozens of stacks load the same components: compile each once per machine.
    let runtime = Runtime::new(RuntimeSettings { compile_cache: true, ..runtime }).expect("runtime");
    let service = Arc::new(Service::from_config(&loaded, &runtime).await.expect("service"));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind API");
    let api = format!("http://{}", listener.local_addr().expect("addr"));
    let server = tokio::spawn({
        let service = service.clone();
        async move {
            let _ = freebusy_host::http::serve(listener, service).await;
        }
    });
    Stack { emulator, service, api, server }
}

/// Emulator options that validate EWS requests against the schemas when they are available.
pub fn validating_options() -> Options {
    Options { ews_schema_dir: Some(ews_schema_dir()), ..Options::default() }
}

/// A stack with the demo tenant as `contoso` (the demo app's credentials).
pub async fn demo_stack() -> Stack {
    start(RuntimeSettings::default(), |url| graph_tenant("contoso", url, demo::CLIENT_ID, demo::CLIENT_SECRET)).await
}

/// GET a URL and return status, content type and body.
pub async fn get(url: &str) -> (u16, String, String) {
    get_with(url, &[]).await
}

/// POST a form (as OAuth clients do) and return the JSON answer, whatever its status.
pub async fn post_form(url: &str, form: &[(&str, &str)]) -> serde_json::Value {
    let resp = reqwest::Client::new().post(url).form(form).send().await.expect("request");
    resp.json().await.expect("a JSON answer")
}

/// GET with extra headers.
pub async fn get_with(url: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut req = reqwest::Client::new().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let ctype = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    (status, ctype, resp.text().await.expect("body"))
}
