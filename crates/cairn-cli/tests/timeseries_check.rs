//! `cairn check` decodes every time-series chunk: a clean collection passes and counts its
//! chunks; a damaged chunk makes it exit non-zero naming the collection.

use std::path::Path;
use std::process::{Command, Output};

use cairn::timeseries::{append, create, Point, Sample, SeriesOptions};
use cairn::{Config, StorageMode, Value};

fn cairn_check(data: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("--data")
        .arg(data)
        .arg("check")
        .output()
        .expect("run cairn")
}

fn with_db(data: &Path, body: impl FnOnce(&mut cairn::Transaction)) {
    let db = cairn::open(Config::new(data, StorageMode::Persistent)).expect("open");
    let mut txn = db.begin().expect("begin");
    body(&mut txn);
    txn.commit().expect("commit");
}

#[test]
fn check_verifies_time_series_chunks_and_names_a_damaged_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("db");
    with_db(&data, |txn| {
        create(txn, "readings", &SeriesOptions::new("t", "sensor", 1000)).expect("create");
        let points = (0..50)
            .map(|i| Point::single(i * 10, "v", Sample::Float(i as f64 / 4.0)))
            .collect();
        append(txn, "readings", &Value::Int(1), points).expect("append");
    });
    let clean = cairn_check(&data);
    let stdout = String::from_utf8_lossy(&clean.stdout);
    assert!(
        clean.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&clean.stderr)
    );
    assert!(stdout.contains("1 time-series chunks decode"), "{stdout}");

    with_db(&data, |txn| {
        let mut key = 0u32.to_be_bytes().to_vec();
        // The chunk of series 0 starting at time 0 (times are stored sign-flipped).
        key.extend_from_slice(&(1u64 << 63).to_be_bytes());
        txn.extension_put("readings", "timeseries", "chunks", &key, b"garbage")
            .expect("damage");
    });
    let damaged = cairn_check(&data);
    let stdout = String::from_utf8_lossy(&damaged.stdout);
    assert!(!damaged.status.success(), "{stdout}");
    assert!(stdout.contains("readings"), "{stdout}");
}
