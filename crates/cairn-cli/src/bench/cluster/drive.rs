//! The timed phases: `clients` keep-alive connections, each sending one request after another
//! for a fixed time, and the failover probe.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::nodes::Cluster;
use crate::bench::http::load::{read_response, request_once, PhaseResult};
use crate::bench::limits::{CLUSTER_FAILOVER_ATTEMPT, CLUSTER_FAILOVER_WAIT};

/// Builds request number `n` of a phase.
pub type MakeRequest = Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync>;

/// Runs one phase for `duration`: connection `i` goes to `targets[i]`; every request is
/// `make(n)` for the next `n` of `counter` and must answer `expected`. The servers' CPU time
/// is `cluster`'s members' over the phase.
pub async fn timed(
    cluster: &Cluster,
    targets: Vec<SocketAddr>,
    make: MakeRequest,
    expected: u16,
    duration: Duration,
    counter: Arc<AtomicU64>,
) -> anyhow::Result<PhaseResult> {
    let mut streams = Vec::with_capacity(targets.len());
    for addr in targets {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        streams.push(stream);
    }
    let cpu_before = cluster.cpu();
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|stream| {
            tokio::spawn(lane(
                stream,
                make.clone(),
                expected,
                deadline,
                counter.clone(),
            ))
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.context("load task panicked")??);
    }
    let elapsed = started.elapsed();
    let server_cpu = cluster
        .cpu()
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

/// One connection's loop until `deadline`.
async fn lane(
    mut stream: TcpStream,
    make: MakeRequest,
    expected: u16,
    deadline: Instant,
    counter: Arc<AtomicU64>,
) -> anyhow::Result<Vec<Duration>> {
    let mut latencies = Vec::new();
    let mut buffer = Vec::with_capacity(4096);
    while Instant::now() < deadline {
        let request = make(counter.fetch_add(1, Ordering::Relaxed));
        let sent = Instant::now();
        stream.write_all(&request).await?;
        let status = read_response(&mut stream, &mut buffer).await?;
        latencies.push(sent.elapsed());
        ensure!(
            status == expected,
            "got HTTP {status}, expected {expected}: {}",
            String::from_utf8_lossy(&buffer)
        );
    }
    Ok(latencies)
}

/// SIGKILLs the leader and measures the time until a write succeeds again: the surviving
/// members are tried in turn (each attempt a new connection, at most
/// [`CLUSTER_FAILOVER_ATTEMPT`]), a follower's redirect or refusal counting as a failure.
pub async fn failover(cluster: &mut Cluster, counter: &AtomicU64) -> anyhow::Result<Duration> {
    let leader = cluster.leader().await?;
    let (status, body) = request_once(
        leader,
        &cluster.write(counter.fetch_add(1, Ordering::Relaxed)),
    )
    .await?;
    ensure!(
        status == cluster.write_status(),
        "{}: a write before the kill answered {status}: {body}",
        cluster.name()
    );
    cluster.kill(leader)?;
    let killed = Instant::now();
    let survivors = cluster.live();
    let mut attempt = 0;
    loop {
        if killed.elapsed() > CLUSTER_FAILOVER_WAIT {
            bail!(
                "{}: no write succeeded within {CLUSTER_FAILOVER_WAIT:?} of the leader's kill",
                cluster.name()
            );
        }
        let addr = survivors[attempt % survivors.len()];
        attempt += 1;
        let request = cluster.write(counter.fetch_add(1, Ordering::Relaxed));
        let answer =
            tokio::time::timeout(CLUSTER_FAILOVER_ATTEMPT, request_once(addr, &request)).await;
        if let Ok(Ok((status, _))) = answer {
            if status == cluster.write_status() {
                return Ok(killed.elapsed());
            }
        }
        // A refusal comes back at once; pause so the probe does not take the cores the
        // election needs.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
