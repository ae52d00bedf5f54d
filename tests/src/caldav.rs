//! Real CalDAV servers for the CalDAV provider's tests, started on 127.0.0.1 with a free port:
//! Radicale (PyPI, Basic authentication from an htpasswd file, a service account allowed only
//! free/busy of others' calendars) and Xandikos (PyPI, single-user, with a scheduling outbox).
//! Both come from the virtual environment `scripts/test` makes in `target/caldav-servers`
//! (`$FREEBUSY_CALDAV_SERVERS` overrides it); without it the tests fail saying so.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use freebusy_emulator::tenant::Mailbox;
use reqwest::Method;
use tokio::process::{Child, Command};

use crate::{free_port, repo_root, test_dir};

/// The account the provider signs in with on Radicale.
pub const SERVICE_USER: &str = "freebusy-svc";
/// Its password.
pub const SERVICE_PASSWORD: &str = "svc-pass-1";

/// A mailbox's own password on Radicale (each person signs in to seed their calendar).
pub fn mailbox_password(address: &str) -> String {
    format!("pw-{}", address.split('@').next().unwrap_or_default())
}

fn program(name: &str) -> PathBuf {
    let dir = std::env::var_os("FREEBUSY_CALDAV_SERVERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/caldav-servers"));
    let bin = dir.join("bin").join(name);
    assert!(
        bin.is_file(),
        "{} is missing: the CalDAV tests run Radicale and Xandikos from a Python virtual environment \
         (scripts/test makes it: python3 -m venv target/caldav-servers && target/caldav-servers/bin/pip install radicale xandikos)",
        bin.display()
    );
    bin
}

/// A running CalDAV server, stopped when dropped.
pub struct Server {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    child: Child,
    /// Its data and config.
    pub dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

async fn wait_for(url: &str, child: &mut Child, what: &str, log: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = reqwest::Client::new();
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited ({status}) before answering: {}", std::fs::read_to_string(log).unwrap_or_default());
        }
        if client.request(Method::OPTIONS, url).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not answer on {url} within 30 s: {}", std::fs::read_to_string(log).unwrap_or_default());
}

impl Server {
    /// Radicale with an htpasswd user per mailbox plus the service account. Rights
    /// (Radicale's `from_file`, DOCUMENTATION.md "Rights"): each user owns their principal and
    /// calendars; everyone may list principals' calendars (`R`) and read their free/busy (`f`),
    /// never their events.
    pub async fn radicale(name: &str, mailboxes: &[&Mailbox]) -> Server {
        let bin = program("radicale");
        let dir = test_dir(name);
        let port = free_port();
        let mut users = format!("{SERVICE_USER}:{SERVICE_PASSWORD}\n");
        for m in mailboxes {
            users.push_str(&format!("{}:{}\n", m.address, mailbox_password(&m.address)));
        }
        std::fs::write(dir.join("users"), users).unwrap();
        std::fs::write(
            dir.join("rights"),
            "[root]\nuser: .+\ncollection:\npermissions: R\n\
             [own-principal]\nuser: .+\ncollection: {user}\npermissions: RW\n\
             [own-calendars]\nuser: .+\ncollection: {user}/[^/]+\npermissions: rw\n\
             [principals]\nuser: .+\ncollection: [^/]+\npermissions: R\n\
             [free-busy]\nuser: .+\ncollection: [^/]+/[^/]+\npermissions: f\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("config"),
            format!(
                "[server]\nhosts = 127.0.0.1:{port}\n\
                 [auth]\ntype = htpasswd\nhtpasswd_filename = {d}/users\nhtpasswd_encryption = plain\ndelay = 0\n\
                 [rights]\ntype = from_file\nfile = {d}/rights\n\
                 [storage]\nfilesystem_folder = {d}/collections\n\
                 [logging]\nlevel = warning\n",
                d = dir.display()
            ),
        )
        .unwrap();
        let log = dir.join("server.log");
        let mut child = Command::new(bin)
            .arg("--config")
            .arg(dir.join("config"))
            .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(dir.join("server.err")).unwrap()))
            .kill_on_drop(true)
            .spawn()
            .expect("start Radicale");
        let url = format!("http://127.0.0.1:{port}");
        wait_for(&url, &mut child, "Radicale", &dir.join("server.err")).await;
        Server { url, child, dir }
    }

    /// Xandikos serving one principal, `/<local part>/`, with the address as its calendar user
    /// address, a calendar and a scheduling outbox (`--defaults`). It has no authentication of its
    /// own in this mode (every request is that principal), so the provider's Basic header is
    /// sent and ignored.
    pub async fn xandikos(name: &str, address: &str) -> Server {
        let bin = program("xandikos");
        let dir = test_dir(name);
        let port = free_port();
        let local = address.split('@').next().unwrap_or_default();
        let log = dir.join("server.err");
        let mut child = Command::new(bin)
            .args(["serve", "--defaults", "-l", "127.0.0.1", "-p", &port.to_string()])
            .arg("-d")
            .arg(dir.join("data"))
            .arg("--current-user-principal")
            .arg(format!("/{local}/"))
            .env("EMAIL", address)
            .env("XDG_DATA_HOME", dir.join("state"))
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .kill_on_drop(true)
            .spawn()
            .expect("start Xandikos");
        let url = format!("http://127.0.0.1:{port}");
        wait_for(&url, &mut child, "Xandikos", &log).await;
        Server { url, child, dir }
    }
}

/// Send one WebDAV request and return its status, failing the test on a transport error.
pub async fn dav(
    method: &str,
    url: &str,
    auth: Option<(&str, &str)>,
    content_type: &str,
    body: String,
) -> (u16, String) {
    let mut req = reqwest::Client::new()
        .request(Method::from_bytes(method.as_bytes()).expect("a method"), url)
        .header("content-type", content_type)
        .body(body);
    if let Some((user, password)) = auth {
        req = req.basic_auth(user, Some(password));
    }
    let resp = req.send().await.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

/// Create `calendar` under `home` (as `auth`) and put each of the mailbox's items in it, one
/// calendar object per item (RFC 4791 §5.3.2).
pub async fn seed(home: &str, calendar: &str, auth: Option<(&str, &str)>, mailbox: &Mailbox) {
    let url = format!("{}/{calendar}/", home.trim_end_matches('/'));
    let mk = r#"<?xml version="1.0" encoding="utf-8"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname>Calendar</D:displayname></D:prop></D:set></C:mkcalendar>"#;
    let (status, body) = dav("MKCALENDAR", &url, auth, "application/xml", mk.to_string()).await;
    assert!(
        status == 201 || status == 405 || status == 409 || status == 403 && body.contains("exists"),
        "MKCALENDAR {url}: {status} {body}"
    );
    for (uid, object) in freebusy_emulator::ics::objects(mailbox) {
        let (status, body) = dav("PUT", &format!("{url}{uid}.ics"), auth, "text/calendar; charset=utf-8", object).await;
        assert!(status == 201 || status == 204, "PUT {uid} on {url}: {status} {body}");
    }
}
