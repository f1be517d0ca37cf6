//! `cairn bench http`: the HTTP server side by side with the ceiling of its HTTP stack, in one
//! run, on one machine.
//!
//! # Workload
//!
//! Systems, both in this process on loopback, each on its own ephemeral port:
//! - **Cairn**: `cairn serve` as started by the command (`cairn_server::start`), persistent
//!   mode (every insert fsynced before it is acknowledged; concurrent inserts share fsyncs
//!   through group commit) in a temporary folder, authentication on, every request carrying
//!   a bearer token (one SHA-256 and one point read per request to authenticate).
//! - **Ceiling**: a minimal axum router on `axum::serve` with the same Tokio runtime: `GET`
//!   returns a fixed JSON body byte-for-byte equal to what Cairn returns for a document, and
//!   `POST` reads the body and returns a fixed JSON body of the size Cairn's insert answer
//!   has. No database, no auth: what the HTTP stack alone can do on this machine.
//!
//! Data: `--docs` documents (default 10,000) of about 200 bytes of JSON, integer `_id`s
//! `0..docs`, loaded through `POST /v1/collections/bench/batch` 1,000 at a time before timing.
//!
//! Phases, in `--rounds` rounds (default 3); each round runs each phase against Cairn and then
//! the ceiling, and the table shows each system's median round:
//! 1. **GET by id**: `--connections` keep-alive connections (default 64), each sending
//!    `--gets` requests (default 1,000) one after another, for ids drawn uniformly with a
//!    fixed seed → requests/s, p50, p99.
//! 2. **Insert**: the same connections, each sending `--inserts` (default 250) `POST`s of a new
//!    document (fresh integer ids) → requests/s, p50, p99.
//!
//! The load generator (`http/load.rs`) is a raw HTTP/1.1 client on its own single-threaded
//! runtime; the servers share a multi-threaded runtime. All run on the same cores, so figures
//! are only meaningful as ratios within one run. The table also shows each server's CPU time
//! per request (the process's CPU time minus the load generator's thread, `http/cpu.rs`):
//! on a machine shared with other work it moves far less than throughput does, so it is the
//! figure to compare across runs. Reproduce with
//! `cargo run --release -p cairn-cli -- bench http`.

pub(crate) mod cpu;
pub(crate) mod load;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{ensure, Context};
use axum::body::Bytes;
use axum::http::{header, StatusCode};
use axum::routing::get;
use axum::Router;
use cairn_server::ServerConfig;

use self::load::{get as get_request, post as post_request, request_once, run_phase, PhaseResult};
use crate::bench::limits::{MAX_HTTP_CONNECTIONS, MAX_HTTP_DOCS, MAX_HTTP_ROUNDS};

/// The benchmark collection.
const COLLECTION: &str = "bench";

/// Password of the benchmark's `root` user (in a throwaway database).
const BENCH_PASSWORD: &str = "bench-password";

/// Documents per batch while loading.
const LOAD_BATCH_DOCS: usize = 1_000;

/// The goal Cairn's GET-by-id throughput is held to, as a fraction of the ceiling.
const GET_TARGET_RATIO: f64 = 0.70;

/// Rounds by default: three, so the median ignores one disturbed round.
const DEFAULT_ROUNDS: usize = 3;

/// Arguments of `cairn bench http`.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpArgs {
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Documents loaded before the GET phase.
    #[arg(long, default_value_t = 10_000)]
    pub docs: usize,
    /// GET requests per connection.
    #[arg(long, default_value_t = 1_000)]
    pub gets: usize,
    /// Insert requests per connection.
    #[arg(long, default_value_t = 250)]
    pub inserts: usize,
    /// Rounds; each runs every phase on Cairn, then on the ceiling, and the table shows each
    /// system's median round, so a burst of other work on the machine skews one round, not
    /// the result.
    #[arg(long, default_value_t = DEFAULT_ROUNDS)]
    pub rounds: usize,
    /// Folder for Cairn's database (default: a temporary folder under the current one).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Both systems' figures for one phase.
struct Row {
    operation: &'static str,
    cairn: PhaseResult,
    ceiling: PhaseResult,
    target: Option<f64>,
}

/// Runs the benchmark and prints the table.
pub fn run(args: &HttpArgs) -> anyhow::Result<()> {
    ensure!(
        (1..=MAX_HTTP_CONNECTIONS).contains(&args.connections),
        "--connections must be between 1 and {MAX_HTTP_CONNECTIONS}"
    );
    ensure!(
        (1..=MAX_HTTP_DOCS).contains(&args.docs),
        "--docs must be between 1 and {MAX_HTTP_DOCS}"
    );
    ensure!(
        args.gets >= 1 && args.inserts >= 1,
        "--gets and --inserts must be at least 1"
    );
    ensure!(
        (1..=MAX_HTTP_ROUNDS).contains(&args.rounds),
        "--rounds must be between 1 and {MAX_HTTP_ROUNDS}"
    );
    let temp_dir;
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => {
            temp_dir = tempfile::Builder::new()
                .prefix("cairn-bench-http-")
                .tempdir_in(".")
                .context("creating a temporary folder under the current one")?;
            temp_dir.path().to_path_buf()
        }
    };
    let servers = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let rows = measure(args, dir, &servers, &client)?;
    print!("{}", render(args, &rows));
    Ok(())
}

/// Starts both servers, runs both phases on each, stops them.
fn measure(
    args: &HttpArgs,
    dir: PathBuf,
    servers: &tokio::runtime::Runtime,
    client: &tokio::runtime::Runtime,
) -> anyhow::Result<Vec<Row>> {
    let mut config = ServerConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: dir.join("cairn"),
        root_password: Some(BENCH_PASSWORD.to_string()),
        ..ServerConfig::default()
    };
    config.storage.mode = Some("persistent".to_string());
    config.limits.max_concurrent_requests =
        config.limits.max_concurrent_requests.max(args.connections);
    let server = servers.block_on(cairn_server::start(config))?;
    let outcome = run_phases(args, &server, servers, client);
    servers.block_on(server.shutdown())?;
    outcome
}

/// Loads the data, then runs both phases against Cairn and the ceiling.
fn run_phases(
    args: &HttpArgs,
    server: &cairn_server::RunningServer,
    servers: &tokio::runtime::Runtime,
    client: &tokio::runtime::Runtime,
) -> anyhow::Result<Vec<Row>> {
    let cairn_addr = server.info().local_addr;
    let (auth, sample_doc, sample_insert) = client.block_on(prepare(cairn_addr, args))?;
    let ceiling_addr = servers.block_on(start_ceiling(sample_doc, sample_insert))?;
    let mut cairn_gets = Vec::new();
    let mut ceiling_gets = Vec::new();
    let mut cairn_inserts = Vec::new();
    let mut ceiling_inserts = Vec::new();
    for round in 0..args.rounds {
        eprintln!(
            "round {}/{}: GET by id, then inserts",
            round + 1,
            args.rounds
        );
        let lanes = get_lanes(args, Some(&auth), false);
        cairn_gets.push(client.block_on(run_phase(cairn_addr, lanes, 200))?);
        let lanes = get_lanes(args, None, true);
        ceiling_gets.push(client.block_on(run_phase(ceiling_addr, lanes, 200))?);
        let lanes = insert_lanes(args, round, Some(&auth), false);
        cairn_inserts.push(client.block_on(run_phase(cairn_addr, lanes, 201))?);
        let lanes = insert_lanes(args, round, None, true);
        ceiling_inserts.push(client.block_on(run_phase(ceiling_addr, lanes, 201))?);
    }
    let [cairn_gets, ceiling_gets, cairn_inserts, ceiling_inserts] =
        [cairn_gets, ceiling_gets, cairn_inserts, ceiling_inserts].map(median_round);
    Ok(vec![
        Row {
            operation: "GET by id",
            cairn: cairn_gets,
            ceiling: ceiling_gets,
            target: Some(GET_TARGET_RATIO),
        },
        Row {
            operation: "insert (durable)",
            cairn: cairn_inserts,
            ceiling: ceiling_inserts,
            target: None,
        },
    ])
}

/// The round with the median request rate: one system's figure from one whole round, so the
/// rate and its latencies belong together.
fn median_round(mut rounds: Vec<PhaseResult>) -> PhaseResult {
    rounds.sort_by(|a, b| a.rate().total_cmp(&b.rate()));
    let middle = rounds.len() / 2;
    rounds.swap_remove(middle)
}

/// Gets a token, creates and loads the collection; returns the `Authorization` value, a
/// document exactly as Cairn serves it, and an insert answer exactly as Cairn sends it.
async fn prepare(addr: SocketAddr, args: &HttpArgs) -> anyhow::Result<(String, String, String)> {
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("root:{BENCH_PASSWORD}"))
    );
    let (status, body) =
        request_once(addr, &post_request("/v1/auth/tokens", Some(&basic), "{}")).await?;
    ensure!(status == 201, "token request failed: {status} {body}");
    let token: serde_json::Value = serde_json::from_str(&body)?;
    let token = token["token"].as_str().context("no token in the answer")?;
    let auth = format!("Bearer {token}");
    let create = format!(r#"{{"name": "{COLLECTION}"}}"#);
    let (status, body) =
        request_once(addr, &post_request("/v1/collections", Some(&auth), &create)).await?;
    ensure!(
        status == 201,
        "creating the collection failed: {status} {body}"
    );
    for start in (0..args.docs).step_by(LOAD_BATCH_DOCS) {
        let docs: Vec<String> = (start..(start + LOAD_BATCH_DOCS).min(args.docs))
            .map(document)
            .collect();
        let body = format!(r#"{{"documents": [{}]}}"#, docs.join(","));
        let path = format!("/v1/collections/{COLLECTION}/batch");
        let (status, answer) = request_once(addr, &post_request(&path, Some(&auth), &body)).await?;
        ensure!(status == 200, "loading failed: {status} {answer}");
    }
    let (status, sample_doc) = request_once(
        addr,
        &get_request(
            &format!("/v1/collections/{COLLECTION}/documents/0"),
            Some(&auth),
        ),
    )
    .await?;
    ensure!(status == 200, "reading a document failed: {status}");
    let insert_path = format!("/v1/collections/{COLLECTION}/documents");
    let probe_id = usize::MAX / 2;
    let (status, sample_insert) = request_once(
        addr,
        &post_request(&insert_path, Some(&auth), &document(probe_id)),
    )
    .await?;
    ensure!(status == 201, "inserting failed: {status} {sample_insert}");
    Ok((auth, sample_doc, sample_insert))
}

/// The ceiling: fixed bodies, no work.
async fn start_ceiling(doc: String, insert_answer: String) -> anyhow::Result<SocketAddr> {
    let doc = Bytes::from(doc);
    let insert_answer = Bytes::from(insert_answer);
    let app = Router::new().route(
        "/doc",
        get(move || {
            let doc = doc.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], doc) }
        })
        .post(move |_body: Bytes| {
            let answer = insert_answer.clone();
            async move {
                (
                    StatusCode::CREATED,
                    [(header::CONTENT_TYPE, "application/json")],
                    answer,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            eprintln!("ceiling server failed: {err}");
        }
    });
    Ok(addr)
}

/// Per connection, GET requests for uniformly drawn ids (fixed seed).
fn get_lanes(args: &HttpArgs, auth: Option<&str>, ceiling: bool) -> Vec<Vec<Vec<u8>>> {
    let mut seed = 0x5eed_u64;
    (0..args.connections)
        .map(|_| {
            (0..args.gets)
                .map(|_| {
                    let id = split_mix(&mut seed) % args.docs as u64;
                    let path = if ceiling {
                        "/doc".to_string()
                    } else {
                        format!("/v1/collections/{COLLECTION}/documents/{id}")
                    };
                    get_request(&path, auth)
                })
                .collect()
        })
        .collect()
}

/// Per connection, POSTs of new documents (ids after the loaded ones and earlier rounds').
fn insert_lanes(
    args: &HttpArgs,
    round: usize,
    auth: Option<&str>,
    ceiling: bool,
) -> Vec<Vec<Vec<u8>>> {
    let first = args.docs + round * args.connections * args.inserts;
    let path = if ceiling {
        "/doc".to_string()
    } else {
        format!("/v1/collections/{COLLECTION}/documents")
    };
    (0..args.connections)
        .map(|lane| {
            (0..args.inserts)
                .map(|i| post_request(&path, auth, &document(first + lane * args.inserts + i)))
                .collect()
        })
        .collect()
}

/// A document of about 200 bytes of JSON with `_id` = `id`.
fn document(id: usize) -> String {
    const CITIES: [&str; 5] = ["Oslo", "Lima", "Kyoto", "Accra", "Quito"];
    let mut seed = id as u64;
    let age = 18 + split_mix(&mut seed) % 70;
    let score = (split_mix(&mut seed) % 10_000) as f64 / 100.0;
    let city = CITIES[(split_mix(&mut seed) % CITIES.len() as u64) as usize];
    format!(
        r#"{{"_id": {id}, "name": "Grace Hopper {id}", "email": "grace.hopper{id}@mail.example.com", "age": {age}, "city": "{city}", "score": {score:.2}, "tags": ["red", "green"], "active": true, "note": "bench document"}}"#
    )
}

/// SplitMix64: a tiny, seedable generator, so every run draws the same ids.
fn split_mix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The Markdown table: rates, latencies and the Cairn/ceiling ratio.
fn render(args: &HttpArgs, rows: &[Row]) -> String {
    let mut out = format!(
        "\ncairn bench http: {} keep-alive connections on loopback, {} cores; \
         {} documents; {} GETs and {} inserts per connection per round; median of {} rounds\n\n",
        args.connections,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        args.docs,
        args.gets,
        args.inserts,
        args.rounds
    );
    out.push_str("| operation | Cairn req/s | ceiling req/s | Cairn/ceiling | Cairn p50 / p99 | ceiling p50 / p99 | server CPU µs/req Cairn / ceiling | target |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---|\n");
    for row in rows {
        let ratio = row.cairn.rate() / row.ceiling.rate().max(f64::MIN_POSITIVE);
        let target = row.target.map_or("—".to_string(), |goal| {
            format!(
                "≥ {goal:.2} ({})",
                if ratio >= goal { "met" } else { "missed" }
            )
        });
        out.push_str(&format!(
            "| {} | {:.0} | {:.0} | {ratio:.2} | {} / {} | {} / {} | {} / {} | {target} |\n",
            row.operation,
            row.cairn.rate(),
            row.ceiling.rate(),
            millis(row.cairn.quantile(0.5)),
            millis(row.cairn.quantile(0.99)),
            millis(row.ceiling.quantile(0.5)),
            millis(row.ceiling.quantile(0.99)),
            micros(row.cairn.server_cpu_us_per_request()),
            micros(row.ceiling.server_cpu_us_per_request()),
        ));
    }
    out
}

fn micros(value: Option<f64>) -> String {
    value.map_or("—".to_string(), |us| format!("{us:.1}"))
}

fn millis(duration: std::time::Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_run_completes_and_prints_both_systems() {
        let dir = tempfile::tempdir().unwrap();
        let args = HttpArgs {
            connections: 4,
            docs: 50,
            gets: 20,
            inserts: 5,
            rounds: 2,
            dir: Some(dir.path().to_path_buf()),
        };
        let servers = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let rows = measure(&args, dir.path().to_path_buf(), &servers, &client).unwrap();
        assert_eq!(rows[0].cairn.requests, 80);
        assert_eq!(rows[1].ceiling.requests, 20);
        let table = render(&args, &rows);
        assert!(table.contains("| GET by id |"), "{table}");
    }
}
