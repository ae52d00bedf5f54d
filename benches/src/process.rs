//! Servers the bench runs as processes of their own, the way users run them: `freebusy-demo`,
//! `freebusy serve`, `redis-server` and `spin up`, each on a free loopback port and killed when
//! dropped; and their resident memory, read from `/proc/<pid>/status`.

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
        rss_bytes(self.pid())
    }
}

/// The resident memory (VmRSS) of process `pid` in bytes.
pub fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS in /proc/{pid}/status"))?;
    Ok(kib * 1024)
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

/// The Spin CLI: `spin` on PATH, else `../shared/tools/spin` beside the repository (which unpacks
/// its compressed binary on first use), as tests/tests/spin_edge.rs finds it; `None` without
/// either.
pub fn spin_binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join("spin")).find(|p| p.is_file()));
    on_path.or_else(|| Some(repo_root().join("../shared/tools/spin")).filter(|p| p.is_file()))
}

/// The repository the bench was built from.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("benches/ has a parent").to_path_buf()
}

/// `spin up` on a manifest of its own, on a free loopback port, its state directory (manifest,
/// key-value store, log) under the temporary directory. Stopped with SIGINT (as Spin's README
/// asks; killed if it has not ended within 5 s) and its directory removed when dropped.
pub struct Spin {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    state: PathBuf,
    /// From spawning `spin up` to its first 200 on `/healthz`.
    pub ready_after: Duration,
}

impl Spin {
    /// Write `manifest` (spin.toml text, paths absolute) into a fresh state directory and
    /// `spin up` it with `variables` (as `SPIN_VARIABLE_<NAME>`); waits at most `limit` for
    /// `/healthz` to answer 200.
    pub async fn up(spin: &Path, manifest: &str, variables: &[(&str, &str)], limit: Duration) -> anyhow::Result<Spin> {
        let port = free_port()?;
        let state = std::env::temp_dir().join(format!("freebusy-bench-spin-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&state)?;
        let file = state.join("spin.toml");
        std::fs::write(&file, manifest)?;
        let log = std::fs::File::create(state.join("spin.log"))?;
        let mut cmd = Command::new(spin);
        cmd.args(["up", "--from"])
            .arg(&file)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--state-dir"])
            .arg(&state)
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .stdin(Stdio::null());
        for (name, value) in variables {
            cmd.env(format!("SPIN_VARIABLE_{}", name.to_uppercase()), value);
        }
        let spawned = Instant::now();
        let child = cmd.spawn()?;
        let mut app = Spin { child, url: format!("http://127.0.0.1:{port}"), state, ready_after: Duration::ZERO };
        let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
        let until = spawned + limit;
        while Instant::now() < until {
            if let Ok(resp) = client.get(format!("{}/healthz", app.url)).send().await {
                if resp.status() == 200 {
                    app.ready_after = spawned.elapsed();
                    return Ok(app);
                }
            }
            if let Some(status) = app.child.try_wait()? {
                anyhow::bail!("spin up exited ({status}): {}", app.log());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("spin up did not answer /healthz within {limit:?}: {}", app.log())
    }

    /// What it has printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.state.join("spin.log")).unwrap_or_default()
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Spin {
    fn drop(&mut self) {
        let interrupted = Command::new("kill")
            .args(["-INT", &self.pid().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let until = Instant::now() + Duration::from_secs(5);
        while interrupted && Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.state);
    }
}
