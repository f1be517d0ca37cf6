//! `cairn collection create --timeseries` and `cairn series ...` end to end: append in
//! batches, range reads with what they skipped, downsampling, latest points, trajectories,
//! deletes, retention, and typed errors for bad input.

mod support;

use std::io::Write;
use std::process::Stdio;

use serde_json::{json, Value as Json};
use support::{cairn, run_err, run_ok};

fn lines(out: &str) -> Vec<Json> {
    out.lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

fn append(dir: &std::path::Path, collection: &str, batch: &str, input: &str) -> String {
    let mut child = cairn(dir)
        .args(["series", "append", collection, "--batch", batch])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cairn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write points");
    let output = child.wait_with_output().expect("wait");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

#[test]
fn series_are_created_appended_read_downsampled_and_expired_from_the_command_line() {
    let work = tempfile::tempdir().expect("temporary directory");
    let dir = work.path();
    let out = run_ok(cairn(dir).args([
        "collection",
        "create",
        "readings",
        "--timeseries",
        "--time-field",
        "t",
        "--meta-field",
        "sensor",
        "--chunk-span",
        "100",
        "--expire-after",
        "250",
    ]));
    assert!(out.contains("time-series collection `readings`"), "{out}");
    // Two series, 40 points each at t = 0, 10, ..., 390, one given late and out of order.
    let mut input = String::new();
    for t in (0..40).rev() {
        for sensor in ["a", "b"] {
            let v = t as f64 / 4.0;
            let line = json!({"t": t * 10, "sensor": sensor, "v": v, "pos": [t, t * 2]});
            input.push_str(&format!("{line}\n"));
        }
    }
    let acks = lines(&append(dir, "readings", "30", &input));
    assert_eq!(acks.last(), Some(&json!({"committed": 80})), "{acks:?}");
    assert_eq!(acks.len(), 3, "one line per commit: {acks:?}");

    let out = run_ok(cairn(dir).args([
        "series",
        "range",
        "readings",
        "--series",
        r#""a""#,
        "--from",
        "100",
        "--to",
        "130",
        "--explain",
    ]));
    let got = lines(&out);
    assert_eq!(got.len(), 4, "{out}");
    assert_eq!(
        got[0],
        json!({"t": 100, "sensor": "a", "v": 2.5, "pos": [10.0, 20.0]})
    );
    assert_eq!(got[3]["points"], json!(3));
    assert_eq!(got[3]["chunks_decoded"], json!(1), "{out}");

    let out = run_ok(cairn(dir).args([
        "series",
        "downsample",
        "readings",
        "--from",
        "0",
        "--to",
        "400",
        "--every",
        "200",
        "--field",
        "v",
        "--agg",
        "avg,max,count",
    ]));
    let got = lines(&out);
    assert_eq!(got.len(), 2, "one line per series: {out}");
    assert_eq!(
        got[0]["buckets"][1],
        json!({"start": 200, "avg": 7.375, "max": 9.75, "count": 20})
    );

    let out = run_ok(cairn(dir).args(["series", "latest", "readings"]));
    assert_eq!(lines(&out)[1]["t"], json!(390), "{out}");

    let out = run_ok(cairn(dir).args([
        "series",
        "trajectory",
        "readings",
        "--series",
        r#""b""#,
        "--field",
        "pos",
        "--from",
        "0",
        "--to",
        "400",
        "--at",
        "15",
    ]));
    assert_eq!(lines(&out), vec![json!({"t": 15, "v": [1.5, 3.0]})]);

    let out = run_ok(cairn(dir).args([
        "series", "delete", "readings", "--series", r#""b""#, "--from", "0", "--to", "50",
    ]));
    assert_eq!(lines(&out), vec![json!({"deleted": 5})]);
    // Cutoff 400 - 250 = 150: the chunks of [0, 100) end before it and go; [100, 200) stays.
    let out = run_ok(cairn(dir).args(["series", "expire", "readings", "--now", "400"]));
    assert_eq!(lines(&out), vec![json!({"chunks_dropped": 2})]);
    let out = run_ok(cairn(dir).args([
        "series", "range", "readings", "--series", r#""a""#, "--from", "0", "--to", "400",
    ]));
    assert_eq!(lines(&out).len(), 30, "{out}");
    let out = run_ok(cairn(dir).args(["check"]));
    assert!(out.contains("time-series chunks decode"), "{out}");
}

#[test]
fn bad_series_input_is_refused_with_what_was_wrong() {
    let work = tempfile::tempdir().expect("temporary directory");
    let dir = work.path();
    let (_, err) = run_err(cairn(dir).args(["collection", "create", "x", "--timeseries"]));
    assert!(err.contains("--time-field"), "{err}");
    run_ok(cairn(dir).args([
        "collection",
        "create",
        "r",
        "--timeseries",
        "--time-field",
        "t",
        "--meta-field",
        "s",
    ]));
    run_ok(cairn(dir).args(["collection", "create", "plain"]));
    let (_, err) = run_err(cairn(dir).args(["series", "latest", "plain"]));
    assert!(err.contains("not a time-series collection"), "{err}");
    let (_, err) = run_err(cairn(dir).args([
        "series",
        "downsample",
        "r",
        "--from",
        "0",
        "--to",
        "10",
        "--every",
        "5",
        "--field",
        "v",
        "--agg",
        "median",
    ]));
    assert!(err.contains("unknown aggregate `median`"), "{err}");
    let mut child = cairn(dir)
        .args(["series", "append", "r"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"{\"t\": 1, \"s\": 1, \"v\": 1}\n{\"s\": 1, \"v\": 2}\n")
        .expect("write");
    let output = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(err.contains("lines 1-end") && err.contains("`t`"), "{err}");
    // Nothing of the failed batch was stored.
    let out = run_ok(cairn(dir).args(["series", "latest", "r"]));
    assert_eq!(out, "");
}
