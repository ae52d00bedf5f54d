//! Servers the bench runs as processes of their own, the way users run them: `freebusy-demo`,
//! `freebusy serve` and `redis-server`, each on a free loopback port and killed when dropped;
//! and their resident memory, read from `/proc/<pid>/status`.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process, killed when dropped.
pub struct Running(Child);

impl Running {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Its resident memory (VmRSS) in bytes.
    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| anyhow::anyhow!("no VmRSS in /proc/{}/status", self.pid()))?;
        Ok(kib * 1024)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free loopback port.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// Wait until `port` accepts connections, at most `limit`.
fn wait_for_port(port: u16, limit: Duration) -> anyhow::Result<()> {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    anyhow::bail!("nothing listened on port {port} within {limit:?}")
}

/// `freebusy-demo` (next to this binary) on a free port: its API URL and API key, read from what
/// it prints. Its log lines (one per request, as in production) go to /dev/null.
pub fn demo(components: &Path) -> anyhow::Result<(Running, String, String)> {
    let port = free_port()?;
    let mut child = Command::new(sibling("freebusy-demo")?)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--components"])
        .arg(components)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().expect("piped stdout");
    let running = Running(child);
    let mut key = None;
    let mut lines = std::io::BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line?;
        if let Some(rest) = line.strip_prefix("API key") {
            key = rest.rsplit(' ').next().map(str::to_string);
            break;
        }
    }
    // Keep reading what it prints: a closed pipe would end it at its next line.
    std::thread::spawn(move || lines.for_each(drop));
    let key = key.ok_or_else(|| anyhow::anyhow!("freebusy-demo printed no API key"))?;
    wait_for_port(port, Duration::from_secs(30))?;
    Ok((running, format!("http://127.0.0.1:{port}"), key))
}

/// `freebusy serve --config <file>` with `config` (TOML, without `listen`) on a free port; its
/// API URL. The log goes to /dev/null.
pub fn serve(dir: &Path, name: &str, config: &str) -> anyhow::Result<(Running, String)> {
    let port = free_port()?;
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, format!("listen = \"127.0.0.1:{port}\"\n{config}"))?;
    let child = Command::new(sibling("freebusy")?)
        .args(["serve", "--config"])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok((Running(child), format!("http://127.0.0.1:{port}")))
}

/// A binary built beside this one (`target/release/`).
fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let path = me.with_file_name(name);
    anyhow::ensure!(path.is_file(), "{} is not built (scripts/bench builds it)", path.display());
    Ok(path)
}

/// A `redis-server` on a free port without persistence; `None` when it is not installed.
pub fn redis() -> anyhow::Result<Option<(Running, u16)>> {
    let port = free_port()?;
    let spawned = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn();
    let Ok(child) = spawned else { return Ok(None) };
    let running = Running(child);
    wait_for_port(port, Duration::from_secs(5))?;
    Ok(Some((running, port)))
}
