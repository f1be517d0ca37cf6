//! SIGKILL of a real `cairn` process in the middle of a stream of edge inserts or time-series
//! appends: afterwards every acknowledged edge and point is present, the adjacency index equals
//! a rebuild from the edges and every chunk decodes (`cairn check`), over several kill rounds
//! on the same database.
//!
//! Method: a writer thread feeds JSON lines into the child's stdin and keeps it open (so the
//! child never commits a partial batch on end of input); the test reads acknowledgements (printed
//! only after their commit), kills the child after a seeded number of them, reads every complete
//! acknowledgement it printed before dying, and inspects the database with the real binary.

mod support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdout, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;

use serde_json::{json, Value as Json};
use support::{cairn, export, run_ok, sigkill, Rng};

const ROUNDS: usize = 3;

/// A child fed `lines` through stdin by a thread that holds stdin open until released.
struct Fed {
    child: Child,
    out: BufReader<ChildStdout>,
    feeder: Option<JoinHandle<()>>,
    release: Option<mpsc::Sender<()>>,
}

impl Fed {
    fn spawn(dir: &Path, args: &[&str], lines: Vec<String>) -> Fed {
        let mut child = cairn(dir)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn cairn");
        let mut stdin = child.stdin.take().expect("stdin");
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        let (release, released) = mpsc::channel::<()>();
        let feeder = std::thread::spawn(move || {
            for line in lines {
                // After SIGKILL the write fails (EPIPE), which ends the loop.
                if stdin.write_all(line.as_bytes()).is_err() {
                    break;
                }
            }
            let _ = released.recv();
        });
        Fed {
            child,
            out,
            feeder: Some(feeder),
            release: Some(release),
        }
    }

    /// The next complete output line; `None` at the end (a line cut by the kill is no line).
    fn next_line(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.out.read_line(&mut line) {
            Ok(n) if n > 0 && line.ends_with('\n') => Some(line.trim_end().to_string()),
            _ => None,
        }
    }

    /// Kills the child and returns every complete line it printed (those before the kill
    /// included).
    fn kill_after(mut self, lines: usize) -> Vec<String> {
        let mut seen = Vec::new();
        while seen.len() < lines {
            match self.next_line() {
                Some(line) => seen.push(line),
                None => panic!("cairn ended after {} lines", seen.len()),
            }
        }
        sigkill(&mut self.child);
        while let Some(line) = self.next_line() {
            seen.push(line);
        }
        self.release.take();
        if let Some(feeder) = self.feeder.take() {
            feeder.join().expect("feeder");
        }
        seen
    }
}

impl Drop for Fed {
    fn drop(&mut self) {
        self.release.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn edge_line(id: i64) -> String {
    format!(
        "{}\n",
        json!({"_id": id, "_from": format!("v/{}", id * 7 % 50), "_to": format!("v/{}", id * 13 % 50), "w": id})
    )
}

#[test]
fn killed_edge_inserts_keep_every_acknowledged_edge_and_an_adjacency_equal_to_a_rebuild() {
    let mut rng = Rng::from_env(18);
    let work = tempfile::tempdir().expect("temporary directory");
    let dir = work.path();
    run_ok(cairn(dir).args(["collection", "create", "v"]));
    for id in 0..50 {
        run_ok(cairn(dir).args(["insert", "v", &json!({"_id": id}).to_string()]));
    }
    run_ok(cairn(dir).args([
        "collection",
        "create",
        "e",
        "--edges",
        "--on-delete",
        "cascade",
        "--vertices",
        "v",
    ]));
    let mut acked: BTreeSet<i64> = BTreeSet::new();
    let mut next = 0i64;
    for _ in 0..ROUNDS {
        let lines = (next..next + 20_000).map(edge_line).collect();
        let fed = Fed::spawn(dir, &["insert", "e", "--batch", "25"], lines);
        let wait = rng.range(50..400) as usize;
        for line in fed.kill_after(wait) {
            acked.insert(line.parse().expect("an acknowledged id"));
        }
        let stored: BTreeSet<i64> = export(dir, &[], "e")
            .iter()
            .map(|doc| doc["_id"].as_i64().expect("integer id"))
            .collect();
        let lost: Vec<_> = acked.difference(&stored).take(5).collect();
        assert!(lost.is_empty(), "acknowledged edges lost: {lost:?}");
        support::assert_check_passes(dir);
        next = stored.last().map_or(0, |id| id + 1);
        // A vertex delete cascades to its edges in the killed database too.
        run_ok(cairn(dir).args(["delete", "v", &(next % 50).to_string()]));
        run_ok(cairn(dir).args(["insert", "v", &json!({"_id": next % 50}).to_string()]));
        acked.retain(|id| stored.contains(id));
        let remaining: BTreeSet<i64> = export(dir, &[], "e")
            .iter()
            .map(|doc| doc["_id"].as_i64().expect("integer id"))
            .collect();
        acked.retain(|id| remaining.contains(id));
        support::assert_check_passes(dir);
    }
}

fn point_line(i: i64) -> String {
    format!(
        "{}\n",
        json!({"t": i, "sensor": i % 5, "v": i as f64 / 4.0, "n": i})
    )
}

#[test]
fn killed_series_appends_keep_every_acknowledged_point() {
    let mut rng = Rng::from_env(19);
    let work = tempfile::tempdir().expect("temporary directory");
    let dir = work.path();
    run_ok(cairn(dir).args([
        "collection",
        "create",
        "m",
        "--timeseries",
        "--time-field",
        "t",
        "--meta-field",
        "sensor",
        "--chunk-span",
        "1000",
    ]));
    let mut committed = 0i64;
    for round in 0..ROUNDS {
        // Each round restarts at the last acknowledged point, so points the kill lost (sent
        // but not acknowledged) are appended again, some of them late into existing chunks.
        let lines = (committed..committed + 500_000).map(point_line).collect();
        let fed = Fed::spawn(dir, &["series", "append", "m", "--batch", "200"], lines);
        let wait = rng.range(3..40) as usize;
        let acks = fed.kill_after(wait);
        let last: Json = serde_json::from_str(acks.last().expect("an ack")).expect("JSON ack");
        let acked = committed + last["committed"].as_i64().expect("a count");
        for sensor in 0..5 {
            let out = run_ok(cairn(dir).args([
                "series",
                "range",
                "m",
                "--series",
                &sensor.to_string(),
                "--from",
                "0",
                "--to",
                &acked.to_string(),
            ]));
            let times: Vec<i64> = out
                .lines()
                .map(|line| {
                    let doc: Json = serde_json::from_str(line).expect("a point");
                    assert_eq!(doc["n"], doc["t"], "round {round}: {line}");
                    doc["t"].as_i64().expect("a time")
                })
                .collect();
            let expected: Vec<i64> = (0..acked).filter(|i| i % 5 == sensor).collect();
            assert_eq!(
                times, expected,
                "round {round}, sensor {sensor}: acknowledged points up to {acked}"
            );
        }
        support::assert_check_passes(dir);
        committed = acked;
    }
}
