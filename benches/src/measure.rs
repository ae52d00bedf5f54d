//! Measuring: latency percentiles, a load loop of the bench's own (reqwest, N concurrent
//! clients), and `wrk` (Debian's package) for the throughput figures, since a load generator in
//! the same process as the server would share its runtime and understate the ratios.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The `p`-th percentile (0..=1) of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Microseconds with one decimal.
pub fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

/// Drive `request` from `concurrency` tasks for `seconds`; returns sorted latencies.
pub async fn load<F, Fut>(concurrency: usize, seconds: u64, request: F) -> anyhow::Result<Vec<Duration>>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let request = Arc::new(request);
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (request, stop) = (request.clone(), stop.clone());
            tokio::spawn(async move {
                let mut times = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    request().await?;
                    times.push(started.elapsed());
                }
                anyhow::Ok(times)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    all.sort();
    Ok(all)
}

/// GETs of `url` (with `authorization` as that header, if any), each of which must answer 200,
/// from `concurrency` clients for `seconds`.
pub async fn load_get(
    concurrency: usize,
    seconds: u64,
    client: &reqwest::Client,
    url: &str,
    authorization: Option<String>,
) -> anyhow::Result<Vec<Duration>> {
    let (client, url) = (client.clone(), url.to_string());
    load(concurrency, seconds, move || {
        let mut req = client.get(&url);
        if let Some(a) = &authorization {
            req = req.header("authorization", a);
        }
        async move {
            let resp = req.send().await?;
            anyhow::ensure!(resp.status() == 200, "answered {}", resp.status());
            resp.bytes().await?;
            Ok(())
        }
    })
    .await
}

/// Connections the kernel dropped because a listener's accept queue was full, since boot, all
/// sockets (`TcpExt: ListenOverflows` in `/proc/net/netstat`).
pub fn listen_overflows() -> Option<u64> {
    let netstat = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut tcp_ext = netstat.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (tcp_ext.next()?, tcp_ext.next()?);
    let at = names.split_whitespace().position(|n| n == "ListenOverflows")?;
    values.split_whitespace().nth(at)?.parse().ok()
}

/// A table row: requests per second, p50, p99.
pub fn report(name: &str, times: &[Duration], seconds: f64) {
    println!(
        "| {name} | {:.0} | {} | {} |",
        times.len() as f64 / seconds,
        ms(percentile(times, 0.5)),
        ms(percentile(times, 0.99))
    );
}

/// What one wrk run measured.
#[derive(Debug, Clone, Copy)]
pub struct WrkRun {
    pub requests_per_sec: f64,
    pub p50: Duration,
    pub p99: Duration,
}

/// Whether wrk is installed.
pub fn wrk_available() -> bool {
    std::process::Command::new("wrk").arg("--version").output().is_ok()
}

/// `wrk --latency` against `url` with `connections` connections over two threads for `seconds`;
/// fails if any answer was not 2xx or 3xx, or a socket error happened.
pub fn wrk(url: &str, bearer: Option<&str>, connections: usize, seconds: u64) -> anyhow::Result<WrkRun> {
    let mut cmd = std::process::Command::new("wrk");
    cmd.args(["-t2", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency", "--timeout", "10s"]);
    if let Some(key) = bearer {
        cmd.args(["-H", &format!("Authorization: Bearer {key}")]);
    }
    let out = cmd.arg(url).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(out.status.success(), "wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    anyhow::ensure!(!text.contains("Non-2xx or 3xx responses"), "wrk saw error answers:\n{text}");
    anyhow::ensure!(!text.contains("Socket errors"), "wrk saw socket errors:\n{text}");
    let field = |prefix: &str| -> anyhow::Result<&str> {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
            .ok_or_else(|| anyhow::anyhow!("no '{prefix}' in wrk's output:\n{text}"))
    };
    Ok(WrkRun {
        requests_per_sec: field("Requests/sec:")?.parse()?,
        p50: wrk_duration(field("50%")?)?,
        p99: wrk_duration(field("99%")?)?,
    })
}

/// wrk's durations: `812.00us`, `1.23ms`, `2.00s`.
fn wrk_duration(text: &str) -> anyhow::Result<Duration> {
    let (number, unit) = text.split_at(text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len()));
    let value: f64 = number.parse()?;
    let seconds = match unit {
        "us" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        _ => anyhow::bail!("unknown wrk unit in '{text}'"),
    };
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_durations_are_read_in_their_units() {
        assert_eq!(wrk_duration("812.00us").unwrap(), Duration::from_micros(812));
        assert_eq!(wrk_duration("1.50ms").unwrap(), Duration::from_micros(1500));
        assert_eq!(wrk_duration("2.00s").unwrap(), Duration::from_secs(2));
        assert!(wrk_duration("3.0parsecs").is_err());
    }
}
