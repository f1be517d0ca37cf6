//! Points written after a full backup come back from an incremental one: the change log
//! carries the time-series tables' writes (`ChangeOp::ExtensionWrite`), so a restore to any
//! commit between the writes holds exactly the points written up to it, and change-log
//! readers see the writes.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use cairn_doc::Value;
use cairn_engine::backup::{restore, RestoreTarget};
use cairn_engine::{ChangeOp, Database, ExtensionKind};
use cairn_timeseries::{
    append, create, delete_range, latest, read_range, verify, Point, Sample, SeriesOptions,
    TimeSeriesExtensionKind,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The naive model: per series, time → value.
type Model = BTreeMap<i64, BTreeMap<i64, i64>>;

fn points(times: impl IntoIterator<Item = i64>, value: i64) -> Vec<Point> {
    times
        .into_iter()
        .map(|t| Point::single(t, "v", Sample::Int(value + t)))
        .collect()
}

/// Appends to the database and the model in one commit; returns its sequence number.
fn write(db: &Database, model: &mut Model, series: i64, times: &[i64], value: i64) -> u64 {
    let mut txn = db.begin().unwrap();
    append(
        &mut txn,
        "m",
        &Value::Int(series),
        points(times.iter().copied(), value),
    )
    .unwrap();
    let seq = txn.commit().unwrap();
    let entry = model.entry(series).or_default();
    for &t in times {
        entry.insert(t, value + t);
    }
    seq
}

/// The database's points, as the model holds them.
fn contents(db: &Database) -> Model {
    let mut txn = db.read().unwrap();
    let report = verify(&mut txn, "m").unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let mut out = Model::new();
    for (series, last) in latest(&mut txn, "m").unwrap() {
        let Value::Int(s) = series else {
            panic!("series key {series:?}")
        };
        let (got, _) = read_range(&mut txn, "m", &series, i64::MIN, i64::MAX).unwrap();
        assert_eq!(got.last().map(|p| p.time), Some(last.time));
        let entry: &mut BTreeMap<i64, i64> = out.entry(s).or_default();
        for point in got {
            let Some(Sample::Int(v)) = point.fields.get("v") else {
                panic!("point {point:?}")
            };
            entry.insert(point.time, *v);
        }
    }
    out.retain(|_, points| !points.is_empty());
    out
}

#[test]
fn a_restore_between_incremental_writes_holds_exactly_the_points_up_to_then() -> TestResult {
    let dir = tempfile::tempdir()?;
    let backups = dir.path().join("backups");
    let db = support::open(Some(&dir.path().join("db")));
    db.transaction(|txn| {
        create(txn, "m", &SeriesOptions::new("t", "s", 1_000)).map_err(Into::into)
    })?;
    let mut model = Model::new();
    write(&db, &mut model, 1, &[1, 2, 3], 100);
    db.backup(&backups, false, &mut |_, _| {})?;

    // After the full backup: in-order appends (fast path), a new series, late points merged
    // into an existing chunk, a range delete, a write spanning chunk spans, and a transaction
    // that appends to one series twice (its net chunk is logged once).
    let mut states: Vec<(u64, Model)> = Vec::new();
    let seq = write(&db, &mut model, 1, &[4, 5, 6], 100);
    states.push((seq, model.clone()));
    let seq = write(&db, &mut model, 2, &[10, 20], 7);
    states.push((seq, model.clone()));
    let seq = write(&db, &mut model, 1, &[0, 2, 1_500, 2_500], 50);
    states.push((seq, model.clone()));
    let mut txn = db.begin()?;
    let deleted = delete_range(&mut txn, "m", &Value::Int(1), 2, 5)?;
    let seq = txn.commit()?;
    assert_eq!(deleted, 3);
    model
        .entry(1)
        .or_default()
        .retain(|t, _| !(2..5).contains(t));
    states.push((seq, model.clone()));
    let mut txn = db.begin()?;
    append(&mut txn, "m", &Value::Int(2), points([30], 1))?;
    append(&mut txn, "m", &Value::Int(2), points([40, 50], 1))?;
    let seq = txn.commit()?;
    model
        .entry(2)
        .or_default()
        .extend([(30, 31), (40, 41), (50, 51)]);
    states.push((seq, model.clone()));
    db.backup(&backups, true, &mut |_, _| {})?;
    assert_eq!(contents(&db), model);

    let kinds: Vec<Arc<dyn ExtensionKind>> = vec![Arc::new(TimeSeriesExtensionKind)];
    for (i, (seq, expected)) in states.iter().enumerate() {
        let to = dir.path().join(format!("restored-{i}"));
        let report = restore(
            &backups,
            &to,
            RestoreTarget::Seq(*seq),
            None,
            &kinds,
            &mut |_, _| {},
        )?;
        assert_eq!(report.seq, *seq);
        let restored = support::open(Some(&to));
        assert_eq!(&contents(&restored), expected, "restored to commit {seq}");
        // The restored change log carries the same writes, so a backup of the restored
        // database can be continued incrementally too.
        assert_eq!(
            extension_writes(&restored, *seq),
            extension_writes(&db, *seq),
            "change log up to commit {seq}"
        );
    }
    Ok(())
}

/// The `ExtensionWrite` records up to commit `through`, as (seq, table, key, value).
type Writes = Vec<(u64, String, Vec<u8>, Option<Vec<u8>>)>;

fn extension_writes(db: &Database, through: u64) -> Writes {
    let mut out = Writes::new();
    let mut after = 0;
    loop {
        let changes = db.changes_after(after, 1_000).unwrap();
        let Some(last) = changes.last() else {
            return out;
        };
        after = last.seq;
        for change in changes.into_iter().filter(|c| c.seq <= through) {
            if let ChangeOp::ExtensionWrite {
                name,
                table,
                key,
                value,
            } = change.op
            {
                assert_eq!(name, cairn_timeseries::EXTENSION_NAME);
                out.push((change.seq, table, key, value));
            }
        }
    }
}

#[test]
fn the_change_log_carries_each_commits_net_chunk_writes() -> TestResult {
    let db = support::open(None);
    db.transaction(|txn| {
        create(txn, "m", &SeriesOptions::new("t", "s", 1_000)).map_err(Into::into)
    })?;
    let mut txn = db.begin()?;
    for t in 0..10 {
        append(&mut txn, "m", &Value::Int(1), points([t], 0))?;
    }
    let seq = txn.commit()?;
    let writes: Vec<_> = extension_writes(&db, seq)
        .into_iter()
        .filter(|w| w.0 == seq)
        .collect();
    // One chunk, one latest point, the series' key → id, id → key and the next-id counter:
    // ten appends rewrote the chunk ten times, the log holds its last state once.
    let mut tables: Vec<&str> = writes.iter().map(|w| w.1.as_str()).collect();
    tables.sort_unstable();
    assert_eq!(tables, ["chunks", "last", "series", "series", "series"]);
    let chunk = writes
        .iter()
        .find(|w| w.1 == "chunks")
        .and_then(|w| w.3.as_deref())
        .ok_or("no chunk write with a value")?;
    let (_, decoded) = cairn_timeseries::chunk::decode(chunk)?;
    assert_eq!(decoded, points(0..10, 0));

    let mut txn = db.begin()?;
    delete_range(&mut txn, "m", &Value::Int(1), 0, 100)?;
    let seq = txn.commit()?;
    let deletes: Vec<_> = extension_writes(&db, seq)
        .into_iter()
        .filter(|w| w.0 == seq)
        .map(|w| (w.1, w.3.is_none()))
        .collect();
    let mut deletes = deletes;
    deletes.sort();
    assert_eq!(
        deletes,
        [("chunks".to_string(), true), ("last".to_string(), true)]
    );
    Ok(())
}
