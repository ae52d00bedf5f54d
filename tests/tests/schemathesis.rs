//! `scripts/schemathesis` in the test run: schemathesis generates requests for every operation
//! of the OpenAPI document against the demo and checks each answer (no server error, a
//! documented status, content type and schema). The script installs schemathesis from PyPI
//! into its own venv; without Python's venv or PyPI this fails, saying so, never skips.

use std::process::Command;

use freebusy_tests::{components, repo_root};

/// The demo binary, built like the `freebusy` one (debug profile, like the tests).
fn demo_binary() -> std::path::PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", "freebusy-demo", "--bin", "freebusy-demo"])
        .current_dir(repo_root())
        .status()
        .expect("run cargo build");
    assert!(status.success(), "building freebusy-demo failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let bin = target.join("debug/freebusy-demo");
    assert!(bin.is_file(), "{} was not built", bin.display());
    bin
}

#[test]
fn schemathesis_finds_no_server_error_or_schema_violation() {
    components();
    let demo = demo_binary();
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/schemathesis"))
        .env("FREEBUSY_DEMO_BIN", &demo)
        .current_dir(repo_root())
        .output()
        .expect("run scripts/schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => {}
        Some(2) if stderr.contains("schemathesis:") => {
            panic!("scripts/schemathesis could not install schemathesis or start the demo:\n{stderr}\n{stdout}")
        }
        code => panic!("schemathesis found failures (exit {code:?}):\n{stdout}\n{stderr}"),
    }
    println!("{stdout}");
    // The run tested every operation (none skipped for want of a schema, say).
    assert!(stdout.contains("passed") && !stdout.contains("errored"), "{stdout}");
}
