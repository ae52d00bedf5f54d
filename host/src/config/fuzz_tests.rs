//! Structured fuzzing of the configuration file (`LoadedConfig::from_str`): arbitrary text and
//! TOML soup never panic; the container example (`deploy/freebusy.toml`) and the module's
//! example edited anywhere never panic; a template of every table with each value drawn from
//! valid ones and wrong ones (numbers at and past `i64`, negative and fractional numbers, `inf`,
//! dates that do not exist, wrong types, inline tables, odd unicode, unknown setting sources)
//! never panics, and what loads is consistent: every tenant's provider exists, every tenant may
//! make a call, the default tenant exists, relative paths are joined to the config's directory, and
//! the memory limit is whole MiB. Arrays nested ten thousand deep are an error, not a stack
//! overflow. A cut config is not necessarily an error (TOML ends at any line), so cuts are only
//! checked not to panic.
//!
//! proptest rather than cargo-fuzz (which needs nightly sanitizers; this toolchain is stable):
//! see `core/src/fuzz_support.rs`. `scripts/fuzz` runs these with many more cases.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::{LoadedConfig, SettingValue};
use crate::fuzz_support::{apply_str, edits, fragment};

const BASE: &str = "/etc/freebusy";
const DEPLOY: &str = include_str!("../../../deploy/freebusy.toml");

/// The example of the module's documentation, with the other tables.
const EXAMPLE: &str = r#"listen = "127.0.0.1:8080"
default_tenant = "contoso"
log_addresses = false

[runtime]
call_timeout_secs = 20
memory_limit_mb = 64
extra_ca_certificates = ["ca.pem"]
resolve = { "graph.microsoft.us" = "10.0.0.5:443" }

[cache]
ttl_secs = 60
stale_if_error_secs = 600

[circuit]
probe_interval_secs = 300

[providers.graph]
component = "components/freebusy_graph.wasm"

[tenants.contoso]
provider = "graph"
max_concurrent_calls = 4
secret_expires = 2027-05-01
allowed_hosts = ["https://login.microsoftonline.com"]
[tenants.contoso.settings]
tenant_id = "contoso.onmicrosoft.com"
client_id = "3f9b2c71-8d4e-4a06-b5f3-2e7c1a9d0b84"
client_secret = { env = "CONTOSO_CLIENT_SECRET" }
directory_page_size = 50
"#;

fn check_sane(text: &str) -> Result<(), TestCaseError> {
    let Ok(loaded) = LoadedConfig::from_str(text, PathBuf::from(BASE)) else { return Ok(()) };
    let c = &loaded.config;
    for (name, t) in &c.tenants {
        prop_assert!(c.providers.contains_key(&t.provider), "tenant {name} without its provider");
        prop_assert!(t.max_concurrent_calls >= 1);
        for v in t.settings.values() {
            // Debug never shows a literal value.
            let shown = format!("{v:?}");
            prop_assert!(!v.is_literal() || shown == "<literal>");
        }
    }
    if let Some(d) = &c.default_tenant {
        prop_assert!(c.tenants.contains_key(d));
    }
    // The base is absolute, so every path is once joined to it.
    prop_assert!(c.store.path == Path::new(":memory:") || c.store.path.is_absolute(), "{:?}", c.store.path);
    for ca in &c.runtime.extra_ca_certificates {
        prop_assert!(ca.is_absolute(), "{ca:?}");
    }
    prop_assert_eq!(c.runtime.memory_limit_bytes % (1 << 20), 0);
    Ok(())
}

/// TOML values: valid ones and wrong ones for every kind of key.
fn value() -> impl Strategy<Value = String> {
    let odd = vec![
        "0",
        "1",
        "4",
        "-1",
        "64",
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
        "18446744073709551615",
        "17592186044416",
        "1.5",
        "inf",
        "nan",
        "-0",
        "0x10",
        "1_000",
        "true",
        "false",
        "\"\"",
        "\"30\"",
        "\"graph\"",
        "\"nope\"",
        "\"é🎉\\u0000\"",
        "'''multi\nline'''",
        "[]",
        "[1, \"a\"]",
        "[\"ca.pem\", \"/abs.pem\"]",
        "{}",
        "{ env = \"X\" }",
        "{ file = \"secret.txt\" }",
        "{ stored = true }",
        "{ stored = \"yes\" }",
        "{ env = 1 }",
        "{ other = \"x\" }",
        "2027-05-01",
        "2027-02-30",
        "1979-05-27T07:32:00Z",
        "07:32:00",
        "\"2027-05-01\"",
        "\"2027-13-01\"",
        "\"127.0.0.1:8080\"",
        "\"[::1]:8080\"",
        "\"[::1]:99999\"",
        "\"localhost:80\"",
        "\":memory:\"",
        "\"../../etc/passwd\"",
        "\"redis://redis:6379\"",
        "\"contoso\"",
        "\"other\"",
    ];
    prop_oneof![
        6 => proptest::sample::select(odd).prop_map(str::to_string),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<String>().prop_map(|s| format!("{s:?}")),
        1 => fragment(),
    ]
}

/// Every table with a drawn value for each key; `keep` marks the keys written at all.
fn template(values: &[String], keep: &[bool]) -> String {
    const KEYS: [(&str, &str); 24] = [
        ("", "listen"),
        ("", "default_tenant"),
        ("", "log_addresses"),
        ("runtime", "call_timeout_secs"),
        ("runtime", "memory_limit_mb"),
        ("runtime", "max_instances"),
        ("runtime", "extra_ca_certificates"),
        ("runtime", "compile_cache_dir"),
        ("cache", "ttl_secs"),
        ("cache", "stale_if_error_secs"),
        ("cache", "max_entries"),
        ("shared", "url"),
        ("shared", "timeout_ms"),
        ("shared", "lease_secs"),
        ("shared", "mailbox_concurrency"),
        ("circuit", "probe_interval_secs"),
        ("store", "path"),
        ("store", "secret_key"),
        ("tenants.contoso", "provider"),
        ("tenants.contoso", "max_concurrent_calls"),
        ("tenants.contoso", "max_mailboxes_per_call"),
        ("tenants.contoso", "secret_expires"),
        ("tenants.contoso", "allowed_hosts"),
        ("tenants.contoso.settings", "client_secret"),
    ];
    let mut out = String::new();
    let mut table = "";
    for (i, (t, k)) in KEYS.iter().enumerate() {
        if *t != table {
            out.push_str(&format!("[{t}]\n"));
            if *t == "tenants.contoso" {
                // A provider table right before, so that a tenant can be valid.
                out.insert_str(
                    out.len() - "[tenants.contoso]\n".len(),
                    "[providers.graph]\ncomponent = \"graph.wasm\"\n",
                );
            }
            table = t;
        }
        if keep[i] {
            out.push_str(&format!("{k} = {}\n", values[i]));
        }
    }
    out
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        check_sane(&text)?;
    }

    #[test]
    fn toml_soup_never_panics(parts in proptest::collection::vec(fragment(), 0..60)) {
        check_sane(&parts.concat())?;
    }

    #[test]
    fn edited_configs_never_panic_and_load_consistently(deploy in any::<bool>(), edits in edits()) {
        check_sane(&apply_str(if deploy { DEPLOY } else { EXAMPLE }, &edits))?;
    }

    #[test]
    fn configs_with_wrong_values_never_panic_and_load_consistently(
        values in proptest::collection::vec(value(), 24),
        keep in proptest::collection::vec(proptest::bool::weighted(0.6), 24),
    ) {
        check_sane(&template(&values, &keep))?;
    }

    #[test]
    fn setting_values_never_panic(v in value()) {
        if let Ok(parsed) = toml::from_str::<std::collections::BTreeMap<String, SettingValue>>(&format!("x = {v}")) {
            let _ = format!("{:?}", parsed["x"]);
            if let SettingValue::Literal(_) | SettingValue::Number(_) | SettingValue::Flag(_) = parsed["x"] {
                prop_assert!(parsed["x"].resolve(Path::new(BASE), || Ok(None)).is_ok());
            }
        }
    }
}

#[test]
fn the_examples_load_and_every_cut_of_them_is_no_panic() {
    for seed in [DEPLOY, EXAMPLE] {
        assert!(LoadedConfig::from_str(seed, PathBuf::from(BASE)).is_ok());
        for cut in crate::fuzz_support::cuts(seed) {
            let _ = LoadedConfig::from_str(cut, PathBuf::from(BASE));
        }
    }
}

#[test]
fn arrays_nested_ten_thousand_deep_are_an_error_not_a_stack_overflow() {
    let deep = format!("[runtime]\nextra_ca_certificates = {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    assert!(LoadedConfig::from_str(&deep, PathBuf::from(BASE)).is_err());
    let tables = format!("x = {}1{}\n", "{ a = ".repeat(10_000), " }".repeat(10_000));
    assert!(LoadedConfig::from_str(&tables, PathBuf::from(BASE)).is_err());
}

/// Found by these tests: `seconds` took any `u64`, and `Instant::now() + call_timeout`
/// (tenant/calls.rs) panicked on the first call when the config said
/// `call_timeout_secs = 9223372036854775807`; `lease_secs` likewise, and `probe_interval_secs`
/// overflowed the circuit's next-probe time. Durations over a century are now refused.
#[test]
fn durations_that_load_can_be_added_to_an_instant() {
    let huge = "[runtime]\ncall_timeout_secs = 9223372036854775807\n";
    let err = LoadedConfig::from_str(huge, PathBuf::from(BASE)).err().expect("refused");
    assert!(format!("{err:#}").contains("100 years"), "{err:#}");
    let century: u64 = 100 * 365 * 86_400;
    let text = format!(
        "[runtime]\ncall_timeout_secs = {century}\n[shared]\nlease_secs = {century}\n[circuit]\nprobe_interval_secs = {century}\n"
    );
    let loaded = LoadedConfig::from_str(&text, PathBuf::from(BASE)).expect("a century loads");
    let c = &loaded.config;
    for d in [c.runtime.call_timeout, c.shared.lease, c.circuit.probe_interval] {
        assert!(std::time::Instant::now().checked_add(d).is_some(), "{d:?} loads but cannot be added to an instant");
        assert!(i64::try_from(d.as_millis()).is_ok_and(|ms| ms.checked_add(1_774_224_000_000).is_some()));
    }
}
