//! The whole model against a `BTreeMap` per series: random appends (in and out of order,
//! large runs that split chunks), range deletes, retention and aborted transactions; after
//! every step, range reads, latest points, a downsample and `verify` must agree.

mod support;

use std::collections::BTreeMap;

use cairn_doc::Value;
use cairn_engine::Database;
use cairn_timeseries::{
    append, create, delete_range, downsample, expire, latest, latest_of, read_range, verify,
    Aggregate, Downsample, Fill, Point, Sample, SeriesOptions,
};
use proptest::prelude::*;

const SPAN: i64 = 1000;
const EXPIRE_AFTER: i64 = 3000;
const SERIES: usize = 3;

type Model = Vec<BTreeMap<i64, Point>>;

#[derive(Debug, Clone)]
enum Op {
    /// Scattered points (out of order, duplicates).
    Scatter(usize, Vec<(i64, f64)>),
    /// A regular run from a time: in-order appends, long enough to fill chunks.
    Run(usize, i64, i64, usize),
    Delete(usize, i64, i64),
    Expire(i64),
    /// Ops applied in a transaction that is rolled back.
    Aborted(Vec<Op>),
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-10_000i64..10_000).prop_map(|m| m as f64 / 100.0),
        any::<u64>().prop_map(f64::from_bits),
        Just(-0.0),
    ]
}

fn simple_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..SERIES, proptest::collection::vec((-2000i64..8000, value()), 1..40))
            .prop_map(|(s, pts)| Op::Scatter(s, pts)),
        2 => (0..SERIES, -2000i64..8000, 1i64..7, 1usize..2500)
            .prop_map(|(s, start, step, n)| Op::Run(s, start, step, n)),
        1 => (0..SERIES, -2000i64..8000, 0i64..3000).prop_map(|(s, from, len)| Op::Delete(s, from, from + len)),
        1 => (0i64..14_000).prop_map(Op::Expire),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => simple_op(),
        1 => proptest::collection::vec(simple_op(), 1..4).prop_map(Op::Aborted),
    ]
}

fn series_key(s: usize) -> Value {
    let mut object = cairn_doc::Object::new();
    object.insert("entity", Value::Int(s as i64));
    object.insert("measure", Value::String("pressure".to_string()));
    Value::Object(object)
}

fn point(t: i64, v: f64) -> Point {
    let mut p = Point::single(t, "v", Sample::Float(v));
    if t % 3 == 0 {
        p.fields
            .insert("state".to_string(), Sample::Str(format!("s{}", t % 4)));
    }
    p
}

/// Applies `op` to the database through `txn` and to the model.
fn apply(txn: &mut cairn_engine::Transaction, model: &mut Model, op: &Op) {
    match op {
        Op::Scatter(s, pts) => {
            let points: Vec<Point> = pts.iter().map(|(t, v)| point(*t, *v)).collect();
            for p in &points {
                model[*s].insert(p.time, p.clone());
            }
            append(txn, "m", &series_key(*s), points).unwrap();
        }
        Op::Run(s, start, step, n) => {
            let points: Vec<Point> = (0..*n as i64)
                .map(|i| point(start + i * step, (i % 97) as f64 * 0.25))
                .collect();
            for p in &points {
                model[*s].insert(p.time, p.clone());
            }
            append(txn, "m", &series_key(*s), points).unwrap();
        }
        Op::Delete(s, from, to) => {
            let expected = model[*s].range(*from..*to).count() as u64;
            let keys: Vec<i64> = model[*s].range(*from..*to).map(|(t, _)| *t).collect();
            for t in keys {
                model[*s].remove(&t);
            }
            assert_eq!(
                delete_range(txn, "m", &series_key(*s), *from, *to).unwrap(),
                expected
            );
        }
        Op::Expire(now) => {
            expire(txn, "m", *now).unwrap();
            let cutoff = now - EXPIRE_AFTER;
            for (s, series) in model.iter_mut().enumerate() {
                let (stored, _) = read_range(txn, "m", &series_key(s), i64::MIN, i64::MAX).unwrap();
                let stored: BTreeMap<i64, Point> =
                    stored.into_iter().map(|p| (p.time, p)).collect();
                // Everything at or after the cutoff is kept.
                for (t, p) in series.range(cutoff..) {
                    assert_eq!(stored.get(t), Some(p), "retention dropped a live point");
                }
                // What is kept below the cutoff shares a chunk span with the first live point.
                let first_live = series.range(cutoff..).next().map(|(t, _)| *t);
                for (t, p) in stored.range(..cutoff) {
                    assert_eq!(series.get(t), Some(p));
                    let live = first_live.expect("kept an expired point of an expired series");
                    assert_eq!(
                        t.div_euclid(SPAN),
                        live.div_euclid(SPAN),
                        "kept point {t} outside the straddling chunk"
                    );
                }
                *series = stored;
            }
        }
        Op::Aborted(_) => unreachable!("handled by the caller"),
    }
}

fn check(db: &Database, model: &Model) {
    let mut txn = db.read().unwrap();
    for (s, series) in model.iter().enumerate() {
        let (stored, _) = read_range(&mut txn, "m", &series_key(s), i64::MIN, i64::MAX).unwrap();
        let expected: Vec<Point> = series.values().cloned().collect();
        assert_eq!(stored, expected, "series {s}");
        assert_eq!(
            latest_of(&mut txn, "m", &series_key(s)).unwrap().as_ref(),
            series.values().next_back(),
            "latest of series {s}"
        );
        // A sub-range read.
        let (part, stats) = read_range(&mut txn, "m", &series_key(s), 1500, 2600).unwrap();
        let expected: Vec<Point> = series.range(1500..2600).map(|(_, p)| p.clone()).collect();
        assert_eq!(part, expected);
        assert!(stats.chunks_decoded <= 4, "{stats:?}");
        let request = Downsample {
            from: -500,
            to: 7000,
            every: 700,
            field: "v".to_string(),
            aggregates: vec![
                Aggregate::Count,
                Aggregate::First,
                Aggregate::Last,
                Aggregate::Max,
            ],
            fill: Fill::Previous,
        };
        let buckets = downsample(&mut txn, "m", &series_key(s), &request).unwrap();
        let expected = cairn_timeseries::downsample_points(
            &series
                .range(-500..7000)
                .map(|(_, p)| p.clone())
                .collect::<Vec<_>>(),
            &request,
        )
        .unwrap();
        assert_eq!(buckets, expected);
    }
    let with_points = model.iter().filter(|s| !s.is_empty()).count();
    assert_eq!(latest(&mut txn, "m").unwrap().len(), with_points);
    let report = verify(&mut txn, "m").unwrap();
    assert!(report.is_clean(), "{report:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn series_match_a_btreemap_model(ops in proptest::collection::vec(op(), 1..12)) {
        let db = support::open(None);
        let mut options = SeriesOptions::new("t", "sensor", SPAN);
        options.expire_after = Some(EXPIRE_AFTER);
        db.transaction(|txn| create(txn, "m", &options).map_err(Into::into)).unwrap();
        let mut model: Model = vec![BTreeMap::new(); SERIES];
        for op in &ops {
            match op {
                Op::Aborted(inner) => {
                    let mut scratch = model.clone();
                    let mut txn = db.begin().unwrap();
                    for op in inner {
                        apply(&mut txn, &mut scratch, op);
                    }
                    txn.rollback();
                }
                op => {
                    let mut txn = db.begin().unwrap();
                    apply(&mut txn, &mut model, op);
                    txn.commit().unwrap();
                }
            }
            check(&db, &model);
        }
    }
}
