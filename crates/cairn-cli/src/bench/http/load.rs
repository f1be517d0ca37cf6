//! The load generator: keep-alive HTTP/1.1 connections on raw Tokio TCP streams, each sending
//! pre-built requests one after another and timing each response. Deliberately minimal (no
//! client library) so the client costs as little CPU as possible on a machine it shares with
//! the server.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::cpu::server_cpu_time;
use crate::bench::limits::{MAX_HTTP_BODY_BYTES, MAX_HTTP_HEAD_BYTES};

/// What one phase measured.
#[derive(Debug, Clone)]
pub struct PhaseResult {
    /// Requests completed.
    pub requests: u64,
    /// Wall time of the phase.
    pub elapsed: Duration,
    /// Every request's latency, sorted.
    pub latencies: Vec<Duration>,
    /// CPU time the servers used during the phase (see `cpu.rs`), where measurable.
    pub server_cpu: Option<Duration>,
}

impl PhaseResult {
    /// Requests per second.
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// The latency at quantile `q` (0..=1).
    pub fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((self.latencies.len() - 1) as f64 * q).round() as usize;
        self.latencies[rank.min(self.latencies.len() - 1)]
    }

    /// Server CPU time per request, in microseconds.
    pub fn server_cpu_us_per_request(&self) -> Option<f64> {
        let cpu = self.server_cpu?;
        (self.requests > 0).then(|| cpu.as_secs_f64() * 1e6 / self.requests as f64)
    }
}

/// Opens `lanes.len()` connections to `addr`; connection `i` sends every request of
/// `lanes[i]` in order, each answered with `expected_status` before the next is sent. Timing
/// starts once every connection is open.
pub async fn run_phase(
    addr: SocketAddr,
    lanes: Vec<Vec<Vec<u8>>>,
    expected_status: u16,
) -> anyhow::Result<PhaseResult> {
    let mut connections = Vec::with_capacity(lanes.len());
    for _ in 0..lanes.len() {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        connections.push(stream);
    }
    let cpu_before = server_cpu_time();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(lanes.len());
    for (stream, requests) in connections.into_iter().zip(lanes) {
        tasks.push(tokio::spawn(drive(stream, requests, expected_status)));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.context("load task panicked")??);
    }
    let elapsed = started.elapsed();
    let server_cpu = server_cpu_time()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    latencies.sort_unstable();
    Ok(PhaseResult {
        requests: latencies.len() as u64,
        elapsed,
        latencies,
        server_cpu,
    })
}

/// Sends one request on a new connection; returns the status and the body.
pub async fn request_once(addr: SocketAddr, request: &[u8]) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.write_all(request).await?;
    let mut buffer = Vec::new();
    let status = read_response(&mut stream, &mut buffer).await?;
    let head_end = find(&buffer, b"\r\n\r\n").map_or(0, |end| end + 4);
    Ok((
        status,
        String::from_utf8_lossy(&buffer[head_end..]).into_owned(),
    ))
}

/// Sends each request and waits for its response; returns the latencies.
async fn drive(
    mut stream: TcpStream,
    requests: Vec<Vec<u8>>,
    expected_status: u16,
) -> anyhow::Result<Vec<Duration>> {
    let mut latencies = Vec::with_capacity(requests.len());
    let mut buffer = Vec::with_capacity(4096);
    for request in &requests {
        let sent = Instant::now();
        stream.write_all(request).await?;
        let status = read_response(&mut stream, &mut buffer).await?;
        latencies.push(sent.elapsed());
        ensure!(
            status == expected_status,
            "got HTTP {status}, expected {expected_status}: {}",
            String::from_utf8_lossy(&buffer)
        );
    }
    Ok(latencies)
}

/// Reads one response (head and `Content-Length` body) into `buffer`; returns its status.
pub(crate) async fn read_response(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
) -> anyhow::Result<u16> {
    buffer.clear();
    let head_end = loop {
        if let Some(end) = find(buffer, b"\r\n\r\n") {
            break end + 4;
        }
        ensure!(
            buffer.len() <= MAX_HTTP_HEAD_BYTES,
            "response head too long"
        );
        read_more(stream, buffer).await?;
    };
    let head = std::str::from_utf8(&buffer[..head_end]).context("response head is not UTF-8")?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .context("malformed status line")?;
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())
                .flatten()
        })
        .context("response without Content-Length")?;
    ensure!(length <= MAX_HTTP_BODY_BYTES, "response body too long");
    while buffer.len() < head_end + length {
        read_more(stream, buffer).await?;
    }
    ensure!(
        buffer.len() == head_end + length,
        "server sent more than one response"
    );
    Ok(status)
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> anyhow::Result<()> {
    let mut chunk = [0u8; 8192];
    let read = stream.read(&mut chunk).await?;
    if read == 0 {
        bail!("the server closed the connection");
    }
    buffer.extend_from_slice(&chunk[..read]);
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// A GET request.
pub fn get(path: &str, authorization: Option<&str>) -> Vec<u8> {
    let auth = authorization.map_or(String::new(), |value| format!("Authorization: {value}\r\n"));
    format!("GET {path} HTTP/1.1\r\nHost: bench\r\n{auth}\r\n").into_bytes()
}

/// A POST request with a JSON body.
pub fn post(path: &str, authorization: Option<&str>, body: &str) -> Vec<u8> {
    let auth = authorization.map_or(String::new(), |value| format!("Authorization: {value}\r\n"));
    format!(
        "POST {path} HTTP/1.1\r\nHost: bench\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_sorted_latencies() {
        let result = PhaseResult {
            requests: 4,
            elapsed: Duration::from_secs(2),
            latencies: (1..=4).map(Duration::from_millis).collect(),
            server_cpu: Some(Duration::from_millis(2)),
        };
        assert_eq!(result.server_cpu_us_per_request(), Some(500.0));
        assert_eq!(result.rate(), 2.0);
        assert_eq!(result.quantile(0.0), Duration::from_millis(1));
        assert_eq!(result.quantile(1.0), Duration::from_millis(4));
    }
}
