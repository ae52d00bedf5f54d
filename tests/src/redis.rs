//! A real `redis-server` (Debian's package, installed by `scripts/test`) on 127.0.0.1 with a free
//! port and no persistence (calendar data is never written to disk), and `freebusy serve`
//! processes sharing it: the pieces of the tests of several instances.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, freebusy_binary, providers, require, test_dir, wait_until_up};

/// A running `redis-server`, stopped when dropped.
pub struct Redis {
    /// Its port on 127.0.0.1.
    pub port: u16,
    child: Option<Child>,
    dir: PathBuf,
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut answer = [0u8; 7];
    stream.read_exact(&mut answer).is_ok() && &answer == b"+PONG\r\n"
}

impl Redis {
    /// Start one on a free port.
    pub fn start(name: &str) -> Redis {
        require("redis-server", &["--version"], "redis-server is needed (scripts/test installs Debian's redis-server)");
        let mut redis = Redis { port: free_port(), child: None, dir: test_dir(name) };
        redis.restart();
        redis
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stop it (as a crash would: the instances see the connection go).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start it again on the same port, empty.
    pub fn restart(&mut self) {
        self.stop();
        let log = std::fs::File::create(self.dir.join("redis.log")).expect("log file");
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string(), "--save", "", "--appendonly", "no"])
            .args(["--protected-mode", "no", "--maxmemory", "64mb", "--maxmemory-policy", "volatile-ttl"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::from(log.try_clone().expect("log file")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ping(self.port) {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer on port {}: {}",
                self.port,
                std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A `freebusy serve` process, killed when dropped.
pub struct Instance {
    /// `http://127.0.0.1:<port>`.
    pub api: String,
    child: Option<Child>,
    /// Its log (stderr).
    pub log: PathBuf,
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Instance {
    /// Serve `tenants` (TOML) with `extra` top-level tables (`[shared]`, `[cache]`), keys off
    /// (127.0.0.1 only) and an in-memory tenant store.
    pub async fn start(dir: &Path, name: &str, extra: &str, tenants: &str) -> Instance {
        let port = free_port();
        let file = dir.join(format!("{name}.toml"));
        let text = format!(
            "listen = \"127.0.0.1:{port}\"\ndefault_tenant = \"contoso\"\n[auth]\nmode = \"none\"\n[store]\npath = \":memory:\"\n{extra}\n{}\n{tenants}",
            providers()
        );
        std::fs::write(&file, text).expect("config file");
        let log = dir.join(format!("{name}.log"));
        let child = Command::new(freebusy_binary())
            .args(["serve", "--config"])
            .arg(&file)
            .stderr(std::fs::File::create(&log).expect("log file"))
            .stdout(Stdio::null())
            .spawn()
            .expect("start freebusy serve");
        let api = format!("http://127.0.0.1:{port}");
        wait_until_up(&format!("{api}/healthz"), 60).await;
        Instance { api, child: Some(child), log }
    }

    /// `kill -9`: no chance to give anything back.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
