//! Time-series collections end to end: creation and options, documents, reopen without
//! rebuild, chunk splitting and skipping, trajectories, limits, damaged chunks.

mod support;

use cairn_doc::{DateTime, Object, Value};
use cairn_engine::EngineError;
use cairn_timeseries::limits::{MAX_POINTS_PER_CHUNK, MAX_VECTOR_DIM};
use cairn_timeseries::{
    append, create, insert_documents, interpolate, latest, options, read_range, trajectory, verify,
    Point, Sample, SeriesOptions, TsError,
};

fn doc(fields: &[(&str, Value)]) -> Value {
    let mut object = Object::new();
    for (name, value) in fields {
        object.insert(*name, value.clone());
    }
    Value::Object(object)
}

fn create_readings(db: &cairn_engine::Database, span: i64) {
    let options = SeriesOptions::new("t", "sensor", span);
    db.transaction(|txn| create(txn, "readings", &options).map_err(Into::into))
        .unwrap();
}

#[test]
fn documents_are_split_into_series_and_read_back() {
    let db = support::open(None);
    create_readings(&db, 1_000_000);
    let docs = vec![
        doc(&[
            ("t", Value::Int(20)),
            ("sensor", Value::Int(1)),
            ("temp", Value::Float(20.5)),
        ]),
        doc(&[
            ("t", Value::DateTime(DateTime::from_micros(10))),
            ("sensor", Value::Int(1)),
            ("temp", Value::Float(19.25)),
            ("ok", Value::Bool(true)),
        ]),
        doc(&[
            ("t", Value::Int(5)),
            ("sensor", Value::String("b".into())),
            ("level", Value::String("warn".into())),
        ]),
    ];
    let mut txn = db.begin().unwrap();
    insert_documents(&mut txn, "readings", &docs).unwrap();
    txn.commit().unwrap();
    let mut txn = db.read().unwrap();
    let (points, _) = read_range(&mut txn, "readings", &Value::Int(1), 0, 100).unwrap();
    assert_eq!(
        points.iter().map(|p| p.time).collect::<Vec<_>>(),
        vec![10, 20]
    );
    assert_eq!(points[0].fields["ok"], Sample::Bool(true));
    assert_eq!(points[1].fields["temp"], Sample::Float(20.5));
    let all = latest(&mut txn, "readings").unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].0, Value::Int(1));
    assert_eq!(all[0].1.time, 20);
    assert_eq!(all[1].1.fields["level"], Sample::Str("warn".into()));
}

#[test]
fn documents_cannot_be_written_directly() {
    let db = support::open(None);
    create_readings(&db, 1000);
    let err = db
        .insert(
            "readings",
            doc(&[("t", Value::Int(1)), ("sensor", Value::Int(1))]),
        )
        .unwrap_err();
    assert!(
        matches!(err, EngineError::ExtensionRejected { .. }),
        "{err}"
    );
}

#[test]
fn bad_options_and_documents_get_typed_errors() {
    let db = support::open(None);
    let mut txn = db.begin().unwrap();
    let err = create(&mut txn, "x", &SeriesOptions::new("t", "t", 10)).unwrap_err();
    assert!(matches!(err, TsError::InvalidOptions { .. }));
    let err = create(&mut txn, "x", &SeriesOptions::new("t", "m", 0)).unwrap_err();
    assert!(matches!(err, TsError::InvalidOptions { .. }));
    drop(txn);
    create_readings(&db, 1000);
    let mut txn = db.begin().unwrap();
    let no_time = doc(&[("sensor", Value::Int(1))]);
    assert!(matches!(
        insert_documents(&mut txn, "readings", &[no_time]),
        Err(TsError::BadTime { .. })
    ));
    let no_meta = doc(&[("t", Value::Int(1))]);
    assert!(matches!(
        insert_documents(&mut txn, "readings", &[no_meta]),
        Err(TsError::MissingMeta { .. })
    ));
    let bytes = doc(&[
        ("t", Value::Int(1)),
        ("sensor", Value::Int(1)),
        ("b", Value::Bytes(vec![1])),
    ]);
    assert!(matches!(
        insert_documents(&mut txn, "readings", &[bytes]),
        Err(TsError::UnsupportedValue { .. })
    ));
    let wide = Point::single(1, "v", Sample::Vector(vec![0.0; MAX_VECTOR_DIM + 1]));
    assert!(matches!(
        append(&mut txn, "readings", &Value::Int(1), vec![wide]),
        Err(TsError::LimitExceeded { .. })
    ));
    db.create_collection("plain").unwrap();
    let mut txn = db.read().unwrap();
    assert!(matches!(
        options(&mut txn, "plain"),
        Err(TsError::NotTimeSeries { .. })
    ));
}

#[test]
fn reopening_reads_everything_back_without_rebuilding() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = support::open(Some(dir.path()));
        create_readings(&db, 100);
        let mut txn = db.begin().unwrap();
        let points: Vec<Point> = (0..500)
            .map(|i| Point::single(i * 3, "v", Sample::Float(i as f64 / 8.0)))
            .collect();
        append(&mut txn, "readings", &Value::Int(7), points).unwrap();
        txn.commit().unwrap();
    }
    let db = support::open(Some(dir.path()));
    let mut txn = db.read().unwrap();
    let (points, _) = read_range(&mut txn, "readings", &Value::Int(7), i64::MIN, i64::MAX).unwrap();
    assert_eq!(points.len(), 500);
    assert_eq!(points[499].fields["v"], Sample::Float(499.0 / 8.0));
    assert_eq!(latest(&mut txn, "readings").unwrap()[0].1.time, 1497);
    assert!(verify(&mut txn, "readings").unwrap().is_clean());
}

#[test]
fn full_chunks_split_and_reads_skip_chunks_by_bounds() {
    let db = support::open(None);
    create_readings(&db, 1_000_000);
    let n = MAX_POINTS_PER_CHUNK as i64 * 3 + 10;
    let mut txn = db.begin().unwrap();
    // In-order appends in small batches: the fast path fills chunks one after another.
    for batch in 0..n / 100 + 1 {
        let points: Vec<Point> = (batch * 100..(batch * 100 + 100).min(n))
            .map(|i| Point::single(i, "v", Sample::Int(i * 2)))
            .collect();
        append(&mut txn, "readings", &Value::Int(1), points).unwrap();
    }
    txn.commit().unwrap();
    let mut txn = db.read().unwrap();
    let report = verify(&mut txn, "readings").unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.chunks, 4);
    let (points, stats) = read_range(&mut txn, "readings", &Value::Int(1), 2100, 2200).unwrap();
    assert_eq!(points.len(), 100);
    assert_eq!(stats.chunks_decoded, 1);
    assert_eq!(
        stats.chunks_skipped, 2,
        "the span's first two chunks end before the range"
    );
}

#[test]
fn trajectories_read_in_order_and_interpolate() {
    let db = support::open(None);
    create_readings(&db, 1000);
    let entity = doc(&[
        ("entity", Value::Int(7)),
        ("measure", Value::String("pose".into())),
    ]);
    let mut txn = db.begin().unwrap();
    let points: Vec<Point> = [(30, [3.0, 30.0]), (10, [1.0, 10.0]), (20, [2.0, 20.0])]
        .into_iter()
        .map(|(t, v)| Point::single(t, "pos", Sample::Vector(v.to_vec())))
        .collect();
    append(&mut txn, "readings", &entity, points).unwrap();
    txn.commit().unwrap();
    let mut txn = db.read().unwrap();
    let path = trajectory(&mut txn, "readings", &entity, "pos", 0, 100).unwrap();
    assert_eq!(
        path.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
        vec![10, 20, 30]
    );
    assert_eq!(
        interpolate(&mut txn, "readings", &entity, "pos", 15, 100).unwrap(),
        Some(vec![1.5, 15.0])
    );
    assert_eq!(
        interpolate(&mut txn, "readings", &entity, "pos", 20, 100).unwrap(),
        Some(vec![2.0, 20.0])
    );
    assert_eq!(
        interpolate(&mut txn, "readings", &entity, "pos", 35, 100).unwrap(),
        None
    );
}

#[test]
fn a_damaged_chunk_is_reported_by_verify_and_reads() {
    let db = support::open(None);
    create_readings(&db, 1000);
    let mut txn = db.begin().unwrap();
    append(
        &mut txn,
        "readings",
        &Value::Int(1),
        vec![Point::single(5, "v", Sample::Float(1.0))],
    )
    .unwrap();
    // Overwrite the chunk with garbage, as a damaged page would.
    let mut key = 0u32.to_be_bytes().to_vec();
    key.extend_from_slice(&((5i64 as u64) ^ (1 << 63)).to_be_bytes());
    txn.extension_put(
        "readings",
        "timeseries",
        "chunks",
        &key,
        b"not a chunk at all",
    )
    .unwrap();
    txn.commit().unwrap();
    let mut txn = db.read().unwrap();
    let report = verify(&mut txn, "readings").unwrap();
    assert_eq!(report.problem_count, 2, "{report:?}");
    assert!(matches!(
        read_range(&mut txn, "readings", &Value::Int(1), 0, 10),
        Err(TsError::Corrupt { .. })
    ));
}

#[test]
fn concurrent_appends_to_one_series_conflict_instead_of_losing_points() {
    let db = support::open(None);
    create_readings(&db, 1000);
    let mut a = db.begin().unwrap();
    let mut b = db.begin().unwrap();
    append(
        &mut a,
        "readings",
        &Value::Int(1),
        vec![Point::single(1, "v", Sample::Int(1))],
    )
    .unwrap();
    append(
        &mut b,
        "readings",
        &Value::Int(1),
        vec![Point::single(2, "v", Sample::Int(2))],
    )
    .unwrap();
    a.commit().unwrap();
    let err = b.commit().unwrap_err();
    assert!(err.is_retryable(), "{err}");
    // Retried through `Database::transaction`, both points are kept.
    db.transaction(|txn| {
        append(
            txn,
            "readings",
            &Value::Int(1),
            vec![Point::single(2, "v", Sample::Int(2))],
        )
        .map_err(Into::into)
    })
    .unwrap();
    let mut txn = db.read().unwrap();
    let (points, _) = read_range(&mut txn, "readings", &Value::Int(1), 0, 10).unwrap();
    assert_eq!(
        points.iter().map(|p| p.time).collect::<Vec<_>>(),
        vec![1, 2]
    );
}
