//! `--profile`: where a server process spends its time during a run, sampled with `perf record`
//! (Debian's linux-perf; software clock events, which work in virtual machines without hardware
//! counters) and summarized by symbol.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A `perf record` attached to a process.
pub struct Recording {
    perf: Child,
    data: PathBuf,
}

/// Start sampling `pid` for `seconds` (plus one, so the run is covered); `None` without perf.
pub fn start(pid: u32, seconds: u64) -> anyhow::Result<Option<Recording>> {
    let data = std::env::temp_dir().join(format!("freebusy-bench-{pid}.perf.data"));
    let spawned = Command::new("perf")
        .args(["record", "-e", "cpu-clock", "-F", "999", "-p", &pid.to_string(), "-o"])
        .arg(&data)
        .args(["--", "sleep", &(seconds + 1).to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match spawned {
        Ok(perf) => Ok(Some(Recording { perf, data })),
        Err(_) => {
            println!("(perf is not installed: no profile)");
            Ok(None)
        }
    }
}

/// Wait for the recording and print the symbols that took at least 1% of the samples.
pub fn report(mut recording: Recording) -> anyhow::Result<()> {
    recording.perf.wait()?;
    let out = Command::new("perf")
        .args([
            "report",
            "--stdio",
            "--no-children",
            "--sort",
            "dso,symbol",
            "--percent-limit",
            "1",
            "-g",
            "none",
            "-i",
        ])
        .arg(&recording.data)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    println!("\nprofile of the server during a cached run of its own (perf, share of samples by symbol):\n\n```");
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).take(30) {
        // perf pads its columns; a symbol is enough.
        let line: String = line.chars().take(140).collect();
        println!("{}", line.trim_end());
    }
    println!("```");
    let _ = std::fs::remove_file(&recording.data);
    Ok(())
}
