//! `cairn bench cluster`: a three-node Cairn cluster against a three-node etcd, side by side in
//! one run on one machine, both driven over HTTP/1.1 + JSON by the same client.
//!
//! # Workload
//!
//! Systems, each three processes on loopback ports, started by the benchmark in a temporary
//! folder (or `--dir`) and killed at the end:
//! - **Cairn**: `cairn serve` (this executable) with a `[cluster]` section, persistent mode,
//!   authentication off (`--insecure-no-auth`), default Raft timing (heartbeat 100 ms,
//!   election timeout 500–900 ms). Node 1 bootstraps the group.
//! - **etcd** (Debian `etcd-server`, the `etcd` binary on `PATH` or `--etcd`): three members
//!   with default settings (heartbeat 100 ms, election timeout 1 s, fsync per commit), spoken
//!   to through the v3 JSON gateway (`POST /v3/kv/put`, `POST /v3/kv/range`, keys and values
//!   base64). Without the binary the etcd columns are skipped and the run says so.
//!
//! Data: key `i` is Cairn document `{"_id": i, "v": V}` in collection `bench` and etcd key
//! `k{i}` with value `V`, `V` 100 bytes. Every write is a new key (ids from one counter per
//! system).
//!
//! Phases, each `--seconds` long (default 5) on Cairn and then on etcd; every connection is a
//! keep-alive HTTP/1.1 connection sending one request after another:
//! 1. **strong writes** with 1, 16 and 64 connections to the leader: Cairn `POST
//!    /v1/collections/bench/documents?consistency=strong` (committed on a majority and applied
//!    before the answer), etcd `put` (committed on a majority).
//! 2. **linearizable reads**, `--read-clients` connections (default 16) to the leader, of keys
//!    written in phase 1 (spread with a fixed stride): Cairn `GET …/documents/{i}?consistency=strong`
//!    (ReadIndex: a heartbeat round per read batch), etcd `range` (its default linearizable
//!    read, also ReadIndex).
//! 3. **local reads**, the same connections spread over the three members: Cairn
//!    `consistency=local`, etcd `range` with `serializable: true`; before the phase every member
//!    holds the last written key.
//! 4. **failover**: one write to the leader, SIGKILL of the leader, then writes tried on the
//!    two survivors in turn (each attempt a new connection, at most 1 s) until one succeeds;
//!    the time from the kill to that success is the failover time.
//!
//! Each row gives operations/s, p50 and p99 latency, and the CPU time the three server
//! processes used per operation (from `/proc`; the client is not counted): on a shared
//! machine CPU per operation moves far less than throughput, so it is the figure to compare
//! across runs. The last column is Cairn's throughput over etcd's (failover: time over time).
//! Targets (issue 22): strong writes ≥ etcd's at 16 and 64 clients, linearizable reads ≥
//! etcd's, failover < 2 s. Reproduce with `cargo run --release -p cairn-cli -- bench cluster`.

mod drive;
mod nodes;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context};

use self::drive::{failover, timed, MakeRequest};
use self::nodes::{find_program, read_request, write_request, Cluster};
use crate::bench::http::load::PhaseResult;
use crate::bench::limits::{MAX_CLUSTER_READ_CLIENTS, MAX_CLUSTER_SECONDS};

/// Concurrent writers of the three write rows.
const WRITERS: [usize; 3] = [1, 16, 64];

/// Stride that spreads read `n` over the written keys (a prime, so every key is visited).
const READ_STRIDE: u64 = 7_919;

/// Failover target of issue 22.
const FAILOVER_TARGET: Duration = Duration::from_secs(2);

/// Arguments of `cairn bench cluster`.
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterArgs {
    /// Length of each timed phase, in seconds (ten phases: five per system).
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Concurrent connections of the two read phases.
    #[arg(long, default_value_t = 16)]
    pub read_clients: usize,
    /// The etcd server program (a name looked up on `PATH`, or a path); when absent the etcd
    /// columns are skipped.
    #[arg(long, default_value = "etcd")]
    pub etcd: PathBuf,
    /// Folder for both clusters' data and logs (default: a temporary folder, removed).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// What a phase measures.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// New keys written with `strong` consistency by this many connections.
    Write(usize),
    /// Reads through the leader, linearizable (`true`) or of each member's state.
    Read { linearizable: bool },
}

impl Phase {
    fn label(self, read_clients: usize) -> String {
        match self {
            Phase::Write(clients) => format!("strong writes | {clients}"),
            Phase::Read { linearizable: true } => format!("linearizable reads | {read_clients}"),
            Phase::Read {
                linearizable: false,
            } => format!("local (etcd: serializable) reads | {read_clients}"),
        }
    }

    /// The ratio issue 22 holds Cairn to (`None`: no target).
    fn target(self) -> Option<f64> {
        match self {
            Phase::Write(clients) if clients >= 16 => Some(1.0),
            Phase::Read { linearizable: true } => Some(1.0),
            _ => None,
        }
    }
}

/// One row: Cairn's result and etcd's when it ran.
struct Row {
    phase: Phase,
    cairn: PhaseResult,
    etcd: Option<PhaseResult>,
}

/// One system under load, with its key counter.
struct Side {
    cluster: Cluster,
    counter: Arc<AtomicU64>,
    /// Keys written by the write phases (all present), set before the read phases.
    written: u64,
}

/// Runs the benchmark and prints the tables.
pub fn run(args: &ClusterArgs) -> anyhow::Result<()> {
    ensure!(
        args.seconds > 0.0 && args.seconds <= MAX_CLUSTER_SECONDS,
        "--seconds must be above 0 and at most {MAX_CLUSTER_SECONDS}"
    );
    ensure!(
        (1..=MAX_CLUSTER_READ_CLIENTS).contains(&args.read_clients),
        "--read-clients must be between 1 and {MAX_CLUSTER_READ_CLIENTS}"
    );
    let temp;
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::Builder::new()
                .prefix("cairn-bench-cluster-")
                .tempdir()
                .context("creating a temporary folder")?;
            temp.path().to_path_buf()
        }
    };
    std::fs::create_dir_all(&dir)?;
    let etcd = find_program(&args.etcd);
    println!(
        "cairn bench cluster: 3 nodes on loopback, {} s per phase, {} read clients",
        args.seconds, args.read_clients
    );
    let skipped = match &etcd {
        Some(path) => {
            println!("etcd: {}", path.display());
            None
        }
        None => {
            let note = format!(
                "etcd: not run (no `{}` program found; Debian: apt-get install etcd-server)",
                args.etcd.display()
            );
            println!("{note}");
            Some(note)
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (rows, failovers) = runtime.block_on(measure(args, &dir, etcd))?;
    print!("{}", render(args, &rows, failovers, skipped.as_deref()));
    Ok(())
}

/// Starts the clusters, runs every phase on each, and the failover last.
async fn measure(
    args: &ClusterArgs,
    dir: &std::path::Path,
    etcd: Option<PathBuf>,
) -> anyhow::Result<(Vec<Row>, (Duration, Option<Duration>))> {
    let mut cairn = Side::new(Cluster::start_cairn(dir)?);
    let mut etcd = match etcd {
        Some(program) => Some(Side::new(Cluster::start_etcd(&program, dir)?)),
        None => None,
    };
    cairn.cluster.prepare().await?;
    if let Some(side) = &etcd {
        side.cluster.prepare().await?;
    }
    let duration = Duration::from_secs_f64(args.seconds);
    let mut phases: Vec<Phase> = WRITERS.iter().map(|&c| Phase::Write(c)).collect();
    phases.push(Phase::Read { linearizable: true });
    phases.push(Phase::Read {
        linearizable: false,
    });
    let mut rows = Vec::new();
    for phase in phases {
        if matches!(phase, Phase::Read { .. }) {
            cairn.settle().await?;
            if let Some(side) = &mut etcd {
                side.settle().await?;
            }
        }
        let cairn_result = cairn.phase(phase, args.read_clients, duration).await?;
        let etcd_result = match &etcd {
            Some(side) => Some(side.phase(phase, args.read_clients, duration).await?),
            None => None,
        };
        rows.push(Row {
            phase,
            cairn: cairn_result,
            etcd: etcd_result,
        });
    }
    let cairn_failover = failover(&mut cairn.cluster, &cairn.counter).await?;
    let etcd_failover = match &mut etcd {
        Some(side) => Some(failover(&mut side.cluster, &side.counter).await?),
        None => None,
    };
    Ok((rows, (cairn_failover, etcd_failover)))
}

impl Side {
    fn new(cluster: Cluster) -> Side {
        Side {
            cluster,
            counter: Arc::new(AtomicU64::new(0)),
            written: 0,
        }
    }

    /// After the writes: remembers how many keys exist and waits until every member holds
    /// the last one (Raft applies in log order, so it holds them all).
    async fn settle(&mut self) -> anyhow::Result<()> {
        if self.written == 0 {
            self.written = self.counter.load(Ordering::Relaxed);
            ensure!(
                self.written > 0,
                "{}: no write completed",
                self.cluster.name()
            );
            for addr in self.cluster.live() {
                self.cluster.wait_for_key(addr, self.written - 1).await?;
            }
        }
        Ok(())
    }

    async fn phase(
        &self,
        phase: Phase,
        read_clients: usize,
        duration: Duration,
    ) -> anyhow::Result<PhaseResult> {
        let leader = self.cluster.leader().await?;
        // The load tasks outlive this borrow of the cluster: they capture only its kind.
        let kind = self.cluster.kind;
        let (targets, make, counter, expected): (_, MakeRequest, _, _) = match phase {
            Phase::Write(clients) => (
                vec![leader; clients],
                Arc::new(move |n| write_request(kind, n)),
                self.counter.clone(),
                self.cluster.write_status(),
            ),
            Phase::Read { linearizable } => {
                let targets = if linearizable {
                    vec![leader; read_clients]
                } else {
                    let live = self.cluster.live();
                    (0..read_clients).map(|i| live[i % live.len()]).collect()
                };
                let written = self.written;
                (
                    targets,
                    Arc::new(move |n| {
                        read_request(kind, (n * READ_STRIDE) % written, linearizable)
                    }),
                    Arc::new(AtomicU64::new(0)),
                    200,
                )
            }
        };
        timed(&self.cluster, targets, make, expected, duration, counter)
            .await
            .with_context(|| format!("{} {phase:?}", self.cluster.name()))
    }
}

/// The tables, as Markdown.
fn render(
    args: &ClusterArgs,
    rows: &[Row],
    failovers: (Duration, Option<Duration>),
    skipped: Option<&str>,
) -> String {
    let mut out = String::new();
    out.push('\n');
    out.push_str(
        "| operation | clients | Cairn ops/s | Cairn p50 | Cairn p99 | Cairn CPU µs/op | etcd ops/s | etcd p50 | etcd p99 | etcd CPU µs/op | Cairn/etcd | target |\n",
    );
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for row in rows {
        let (etcd_cells, ratio) = match &row.etcd {
            Some(etcd) => (
                cells(etcd),
                Some(row.cairn.rate() / etcd.rate().max(f64::MIN_POSITIVE)),
            ),
            None => ("— | — | — | —".to_string(), None),
        };
        let target = match (row.phase.target(), ratio) {
            (Some(goal), Some(r)) => {
                format!("≥ {goal:.2}× {}", if r >= goal { "met" } else { "missed" })
            }
            (Some(goal), None) => format!("≥ {goal:.2}×"),
            (None, _) => String::new(),
        };
        out.push_str(&format!(
            "| {} | {} | {etcd_cells} | {} | {target} |\n",
            row.phase.label(args.read_clients),
            cells(&row.cairn),
            ratio.map_or("—".to_string(), |r| format!("{r:.2}×")),
        ));
    }
    let (cairn, etcd) = failovers;
    out.push('\n');
    out.push_str("| failover after SIGKILL of the leader | Cairn | etcd | Cairn/etcd | target |\n");
    out.push_str("|---|---:|---:|---:|---|\n");
    out.push_str(&format!(
        "| time until a write succeeds | {} | {} | {} | < {} ms {} |\n",
        millis(cairn),
        etcd.map_or("—".to_string(), millis),
        etcd.map_or("—".to_string(), |e| format!(
            "{:.2}×",
            cairn.as_secs_f64() / e.as_secs_f64().max(f64::MIN_POSITIVE)
        )),
        FAILOVER_TARGET.as_millis(),
        if cairn < FAILOVER_TARGET {
            "met"
        } else {
            "missed"
        },
    ));
    if let Some(note) = skipped {
        out.push('\n');
        out.push_str(note);
        out.push('\n');
    }
    out
}

/// ops/s, p50, p99 and CPU µs/op of one result.
fn cells(result: &PhaseResult) -> String {
    format!(
        "{:.0} | {} | {} | {}",
        result.rate(),
        millis(result.quantile(0.50)),
        millis(result.quantile(0.99)),
        result
            .server_cpu_us_per_request()
            .map_or("—".to_string(), |us| format!("{us:.0}")),
    )
}

fn millis(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1e3)
}
