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

pub mod caldav;
pub mod redis;

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
        ("caldav", "freebusy_caldav.wasm"),
        ("template", "freebusy_provider_template.wasm"),
        ("forbidden_host", "fixture_forbidden_host.wasm"),
        ("spin_forever", "fixture_spin_forever.wasm"),
        ("misbehave", "fixture_misbehave.wasm"),
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
///
/// Unless `tenants` brings its own, the store is in memory and authentication is off (the
/// harness listens on 127.0.0.1); the tests of API keys, the store and onboarding bring theirs.
pub fn config_text_with_cache(tenants: &str, cache: &str) -> String {
    let store = if tenants.contains("[store]") { "" } else { "[store]\npath = \":memory:\"\n" };
    let auth = if tenants.contains("[auth]") { "" } else { "[auth]\nmode = \"none\"\n" };
    // `contoso` is the default unless the file names its tenants and contoso is not one of them.
    let default = if tenants.contains("[tenants.") && !tenants.contains("[tenants.contoso]") {
        ""
    } else {
        "default_tenant = \"contoso\"\n"
    };
    format!("{default}[cache]\n{cache}\n{store}{auth}{}\n{}", providers(), tenants)
}

/// A `[store]` table for a store file in `dir`, sealed with a key made there on first use: for
/// tests where several processes or steps (a login, then the service) share one store.
pub fn sealed_store_toml(dir: &Path) -> String {
    std::fs::create_dir_all(dir).expect("store dir");
    let key = dir.join("store.key");
    if !key.exists() {
        std::fs::write(&key, freebusy_host::store::seal::SealKey::generate().expect("a key")).expect("key file");
    }
    format!(
        "[store]\npath = \"{}\"\nsecret_key = {{ file = \"{}\" }}\n",
        dir.join("freebusy.db").display(),
        key.display()
    )
}

/// The store [`sealed_store_toml`] describes, opened with its key.
pub fn open_sealed_store(dir: &Path) -> freebusy_host::store::Store {
    let key = std::fs::read_to_string(dir.join("store.key")).expect("key file");
    let key = freebusy_host::store::seal::SealKey::from_base64(&key).expect("a key");
    freebusy_host::store::Store::open(&dir.join("freebusy.db"), Some(key)).expect("the store opens")
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

/// A fresh directory for one test's files (a store, a config), removed first if it exists.
pub fn test_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("freebusy-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test dir");
    dir
}

/// `[auth] mode = "keys"` and a sealed store in `dir`, before `tenants`: a service that needs API
/// keys, as `freebusy serve` does by default.
pub fn with_keys(dir: &Path, tenants: &str) -> String {
    format!("[auth]\nmode = \"keys\"\n{}\n{tenants}", sealed_store_toml(dir))
}

/// Make an API key in the store of `stack` (as `freebusy keys create` does from another
/// process) and let the service notice it.
pub async fn create_key(stack: &Stack, tenant: Option<&str>, scopes: &str, expires: Option<&str>) -> String {
    let loaded = stack.service.snapshot().config.clone();
    let store = loaded.open_store().expect("the store opens");
    let key = freebusy_host::cli::create_key(&loaded, &store, tenant, Some(scopes), expires, "test").expect("a key");
    stack.service.notice_store_changes().await.expect("the service reads the store");
    key
}

/// GET with `Authorization: Bearer <key>`: status, headers and body.
pub async fn get_keyed(url: &str, key: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let resp = reqwest::Client::new().get(url).bearer_auth(key).send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.expect("body"))
}

/// The `freebusy` binary, built on first use (debug profile, like the tests).
pub fn freebusy_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "freebusy-host", "--bin", "freebusy"])
            .current_dir(repo_root())
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building the freebusy binary failed");
        let target =
            std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo_root().join("target"));
        let bin = target.join("debug/freebusy");
        assert!(bin.is_file(), "{} was not built", bin.display());
        bin
    })
}

/// A free TCP port on 127.0.0.1 (bound and released; good enough for a test's own servers).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind").local_addr().expect("addr").port()
}

/// Wait until `url` answers 200, at most `seconds`.
pub async fn wait_until_up(url: &str, seconds: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while std::time::Instant::now() < deadline {
        if reqwest::get(url).await.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{url} did not come up within {seconds} s");
}
