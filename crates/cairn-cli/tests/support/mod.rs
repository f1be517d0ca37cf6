//! Helpers shared by the integration tests of the `cairn` binary: running it, streaming
//! documents into `cairn insert` while reading its acknowledgements, killing it with SIGKILL,
//! and reading back what a database holds through `export` and `changes`.
//!
//! Every test drives the real binary (`CARGO_BIN_EXE_cairn`), so what is pinned here is what a
//! user of the command line gets.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Instant;

use serde_json::Value as Json;

/// The binary under test.
pub const CAIRN: &str = env!("CARGO_BIN_EXE_cairn");

/// The signal number of SIGKILL on every Unix this project targets (Linux, macOS, BSDs).
pub const SIGKILL: i32 = 9;

/// Changes requested per `cairn changes` call; the engine's `MAX_CHANGES_PER_READ`.
const CHANGES_PAGE: usize = 10_000;

/// Environment variable naming another copy of the binary to drive (for long runs outside
/// the build, e.g. the write-ahead log torture, whose binaries are copied out first).
pub const CAIRN_BIN_ENV: &str = "CAIRN_TEST_BIN";

/// A `cairn --data DIR` command, isolated from the caller's `CAIRN_*` environment.
pub fn cairn(dir: &Path) -> Command {
    let binary = std::env::var(CAIRN_BIN_ENV).unwrap_or_else(|_| CAIRN.to_string());
    let mut cmd = Command::new(binary);
    cmd.env_remove("CAIRN_DATA")
        .env_remove("CAIRN_MODE")
        .env_remove("CAIRN_PASSPHRASE")
        .env_remove("CAIRN_NEW_PASSPHRASE")
        .env_remove("CAIRN_KEY_FILE")
        .env_remove("CAIRN_PROFILE")
        .arg("--data")
        .arg(dir);
    cmd
}

/// Runs a command that must succeed; returns its standard output.
pub fn run_ok(cmd: &mut Command) -> String {
    let output = cmd.output().expect("spawning cairn");
    assert!(
        output.status.success(),
        "{cmd:?} failed with {}:\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("cairn prints UTF-8")
}

/// Runs a command that must fail with a normal non-zero exit (not a crash by signal); returns
/// (stdout, stderr).
pub fn run_err(cmd: &mut Command) -> (String, String) {
    let output = cmd.output().expect("spawning cairn");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success() && output.status.code().is_some(),
        "{cmd:?} should have failed with an error exit, got {}:\nstdout: {stdout}\nstderr: {stderr}",
        output.status
    );
    (stdout, stderr)
}

/// `cairn check` (redb checksums and structure) must pass. After a crash it may first note
/// that the file was recovered on open, which is expected and not damage.
pub fn assert_check_passes(dir: &Path) {
    let out = run_ok(cairn(dir).arg("check"));
    let verdict = out.lines().find(|line| !line.starts_with("note: "));
    assert!(
        verdict.is_some_and(|line| line.starts_with("ok")),
        "unexpected `check` output: {out}"
    );
}

/// Every document of `collection` as exported by `cairn export`, in export order.
pub fn export(dir: &Path, mode_args: &[&str], collection: &str) -> Vec<Json> {
    let out = run_ok(cairn(dir).args(mode_args).args(["export", collection]));
    out.lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|err| panic!("export line {line:?}: {err}"))
        })
        .collect()
}

/// One `insert` entry of the change log.
#[derive(Debug, Clone)]
pub struct InsertChange {
    pub seq: u64,
    pub index: u64,
    pub id: Json,
    pub new: Json,
}

/// Every `insert` entry of the change log, in (seq, index) order.
///
/// `cairn changes --after S` resumes after a whole commit, so a page that ends inside a commit
/// would make the next page skip the rest of that commit (reported as a rough edge). To read
/// every entry, a full page's last commit is dropped and re-read by the next page.
pub fn insert_changes(dir: &Path) -> Vec<InsertChange> {
    let mut all = Vec::new();
    let mut after = 0u64;
    loop {
        let out = run_ok(cairn(dir).args([
            "changes",
            "--after",
            &after.to_string(),
            "--limit",
            &CHANGES_PAGE.to_string(),
        ]));
        let mut page: Vec<Json> = out
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|err| panic!("changes line {line:?}: {err}"))
            })
            .collect();
        // A page never splits a commit: it ends with the whole commit that reached the
        // limit, so a full page may hold more than the limit.
        let full = page.len() >= CHANGES_PAGE;
        let seq_of = |change: &Json| change["seq"].as_u64().expect("change has a seq");
        if full {
            let last_seq = page.last().map(seq_of).expect("full page is not empty");
            page.retain(|change| seq_of(change) != last_seq);
            assert!(
                !page.is_empty(),
                "commit {last_seq} has more changes than one page holds"
            );
        }
        for change in &page {
            if change["op"] == "insert" {
                all.push(InsertChange {
                    seq: seq_of(change),
                    index: change["index"].as_u64().expect("change has an index"),
                    id: change["id"].clone(),
                    new: change["new"].clone(),
                });
            }
        }
        match page.last() {
            Some(last) if full => after = seq_of(last),
            _ => return all,
        }
    }
}

/// Insert changes grouped by commit sequence number.
pub fn inserts_by_commit(changes: &[InsertChange]) -> BTreeMap<u64, Vec<InsertChange>> {
    let mut commits: BTreeMap<u64, Vec<InsertChange>> = BTreeMap::new();
    for change in changes {
        commits.entry(change.seq).or_default().push(change.clone());
    }
    commits
}

/// Kills a child with SIGKILL and reaps it.
///
/// `std::process::Child::kill` sends SIGKILL on Unix (documented in std, and implemented as
/// `kill(pid, SIGKILL)`). The assertion on the exit status verifies it here: the child must
/// report death by signal 9, which also proves it was still running (a child that had already
/// exited on its own reports its exit code instead).
pub fn sigkill(child: &mut Child) -> ExitStatus {
    child.kill().expect("sending SIGKILL");
    let status = child.wait().expect("reaping the killed child");
    assert_eq!(
        status.signal(),
        Some(SIGKILL),
        "the child should have died by SIGKILL, but ended with {status}"
    );
    status
}

/// A small deterministic generator (SplitMix64) so that every kill point and generated
/// document can be reproduced from the printed seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The seed from `CAIRN_TEST_SEED` if set, else `default`; printed so a failure names it.
    pub fn from_env(default: u64) -> Rng {
        let seed = std::env::var("CAIRN_TEST_SEED")
            .ok()
            .and_then(|text| text.parse().ok())
            .unwrap_or(default);
        eprintln!("seed {seed} (set CAIRN_TEST_SEED to reproduce another run)");
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `range` (which must not be empty).
    pub fn range(&mut self, range: std::ops::Range<u64>) -> u64 {
        assert!(range.start < range.end, "empty range {range:?}");
        range.start + self.next_u64() % (range.end - range.start)
    }
}

/// The document with integer id `id` that the crash tests write: a payload whose length
/// (0..1500 bytes) and letters depend on the id, so that pages split irregularly and a document
/// stored under the wrong id, or torn, cannot match.
pub fn numbered_doc(id: i64) -> String {
    let len = (id.unsigned_abs().wrapping_mul(7919) % 1500) as usize;
    let payload: String = (0..len)
        .map(|i| char::from(b'a' + ((id.unsigned_abs() as usize + i) % 26) as u8))
        .collect();
    format!(
        r#"{{"_id":{id},"payload":"{payload}","triple":{}}}"#,
        id * 3
    )
}

/// What a killed or finished `insert` stream left behind.
#[derive(Debug)]
pub struct StreamEnd {
    /// Ids acknowledged on stdout, in order.
    pub acked: Vec<i64>,
    /// When the test read each acknowledgement (for logging loss windows, never asserted:
    /// acknowledgements read only after the kill carry the time they were read).
    pub acked_at: Vec<Instant>,
    /// When SIGKILL was sent, for a killed stream.
    pub killed_at: Option<Instant>,
    /// Lines written completely into the child's stdin.
    pub sent: u64,
    /// The child's standard error.
    pub stderr: String,
}

/// A running `cairn insert COLLECTION` fed `numbered_doc(start..)` through stdin by a writer
/// thread, as fast as the pipe takes them, while the test reads acknowledgements.
///
/// The writer stops after `max_docs` lines but keeps stdin open until [`InsertStream::finish`]
/// or [`InsertStream::kill`], so the child never sees end of input (which would commit its
/// partial batch) unless the test asks for a clean end.
pub struct InsertStream {
    child: Child,
    acks: BufReader<ChildStdout>,
    acked: Vec<i64>,
    acked_at: Vec<Instant>,
    killed_at: Option<Instant>,
    feeder: Option<JoinHandle<u64>>,
    release: Option<mpsc::Sender<()>>,
    start: i64,
}

impl InsertStream {
    /// Spawns `cairn --data DIR MODE_ARGS insert COLLECTION --batch BATCH`.
    pub fn spawn(
        dir: &Path,
        mode_args: &[&str],
        collection: &str,
        batch: usize,
        start: i64,
        max_docs: u64,
    ) -> InsertStream {
        let mut child = cairn(dir)
            .args(mode_args)
            .args(["insert", collection, "--batch", &batch.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning cairn insert");
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (release, released) = mpsc::channel::<()>();
        let feeder = std::thread::spawn(move || {
            let mut sent = 0u64;
            for id in start..start + max_docs as i64 {
                let line = numbered_doc(id) + "\n";
                // Unbuffered: a line counts as sent only once all of it is in the pipe. After
                // SIGKILL the pipe has no reader and the write fails with EPIPE (Rust ignores
                // SIGPIPE), which ends the loop.
                if stdin.write_all(line.as_bytes()).is_err() {
                    break;
                }
                sent += 1;
            }
            // Hold stdin open until the test decides how the child ends.
            let _ = released.recv();
            drop(stdin);
            sent
        });
        InsertStream {
            child,
            acks: BufReader::new(stdout),
            acked: Vec::new(),
            acked_at: Vec::new(),
            killed_at: None,
            feeder: Some(feeder),
            release: Some(release),
            start,
        }
    }

    /// The process id, e.g. for `/proc/PID/status`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Acknowledgements read so far.
    pub fn acked(&self) -> usize {
        self.acked.len()
    }

    /// Blocks for the next acknowledged id; `None` at end of output. Asserts the ids come back
    /// in input order: one stream commits its lines in order.
    pub fn next_ack(&mut self) -> Option<i64> {
        let id = read_ack(&mut self.acks)?;
        let expected = self.start + self.acked.len() as i64;
        assert_eq!(id, expected, "acknowledgements out of input order");
        self.acked.push(id);
        self.acked_at.push(Instant::now());
        Some(id)
    }

    /// Reads acknowledgements until `count` were seen in total; panics if output ends first.
    pub fn wait_for_acks(&mut self, count: usize) {
        while self.acked.len() < count {
            if self.next_ack().is_none() {
                let stderr = self.drain_stderr();
                panic!(
                    "cairn insert ended after {} acks: {stderr}",
                    self.acked.len()
                );
            }
        }
    }

    /// SIGKILLs the child (see [`sigkill`]), then collects every acknowledgement it printed
    /// completely before dying: those were printed after their commit, so they count too.
    pub fn kill(mut self) -> StreamEnd {
        self.killed_at = Some(Instant::now());
        sigkill(&mut self.child);
        self.end()
    }

    /// Closes stdin and waits for a clean exit, which commits the last partial batch.
    pub fn finish(mut self) -> StreamEnd {
        self.release.take();
        // Read to the end of output before waiting, so the child never blocks on a full pipe.
        while self.next_ack().is_some() {}
        let status = self.child.wait().expect("waiting for cairn insert");
        let end = self.end();
        assert!(
            status.success(),
            "cairn insert failed with {status}: {}",
            end.stderr
        );
        end
    }

    /// Collects the outcome of a child that has exited and been reaped.
    fn end(&mut self) -> StreamEnd {
        self.release.take();
        while self.next_ack().is_some() {}
        let sent = self
            .feeder
            .take()
            .map(|feeder| feeder.join().expect("feeder thread panicked"))
            .unwrap_or(0);
        StreamEnd {
            acked: std::mem::take(&mut self.acked),
            acked_at: std::mem::take(&mut self.acked_at),
            killed_at: self.killed_at,
            sent,
            stderr: self.drain_stderr(),
        }
    }

    fn drain_stderr(&mut self) -> String {
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        stderr
    }
}

impl Drop for InsertStream {
    fn drop(&mut self) {
        // A test that panicked mid-stream must not leave a writer behind.
        self.release.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads one complete acknowledgement line. A line cut short by the kill is no
/// acknowledgement and reads as the end.
fn read_ack(acks: &mut impl BufRead) -> Option<i64> {
    let mut line = String::new();
    match acks.read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) if !line.ends_with('\n') => None,
        Ok(_) => {
            Some(line.trim_end().parse().unwrap_or_else(|err| {
                panic!("acknowledgement {line:?} is not an integer id: {err}")
            }))
        }
    }
}

/// Peak memory of a running child, sampled from `/proc/PID/status`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PeakRss {
    /// Highest `VmRSS` seen by the sampler.
    pub sampled_bytes: u64,
    /// The kernel's own high-water mark `VmHWM` at the last sample: exact up to that moment,
    /// so a spike between two samples is not missed.
    pub high_water_bytes: u64,
    /// Samples taken.
    pub samples: u64,
}

impl PeakRss {
    /// The larger of the two measures.
    pub fn bytes(&self) -> u64 {
        self.sampled_bytes.max(self.high_water_bytes)
    }
}

/// Polls `/proc/PID/status` every 20 ms until the child exits; returns its exit status and
/// peak memory. The child is reaped only by this loop, so its pid cannot be reused while it is
/// being sampled.
pub fn wait_sampling_rss(child: &mut Child) -> (ExitStatus, PeakRss) {
    let mut peak = PeakRss::default();
    let status_path = format!("/proc/{}/status", child.id());
    loop {
        if let Some(status) = child.try_wait().expect("polling the child") {
            return (status, peak);
        }
        if let Ok(text) = std::fs::read_to_string(&status_path) {
            peak.samples += 1;
            for line in text.lines() {
                if let Some(kib) = line.strip_prefix("VmRSS:").and_then(parse_kib) {
                    peak.sampled_bytes = peak.sampled_bytes.max(kib * 1024);
                }
                if let Some(kib) = line.strip_prefix("VmHWM:").and_then(parse_kib) {
                    peak.high_water_bytes = peak.high_water_bytes.max(kib * 1024);
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn parse_kib(rest: &str) -> Option<u64> {
    rest.trim().strip_suffix("kB")?.trim().parse().ok()
}

/// Bytes as MiB with one decimal, for messages.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
