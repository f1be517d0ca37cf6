//! The filter language on time-series collections: `find`, `count`, `explain`, `delete_many`
//! and `update_many` answer from (and write to) the chunks, equal to a naive model (every point as a document in a `Vec`, tested with the
//! same filter), and skip series and chunks the filter excludes.

use cairn::timeseries::{self, Point, Sample, SeriesOptions};
use cairn::{Config, Database, StorageMode, Value};
use cairn_query::{count, explain, find, Filter, Query};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Chunk span of the test collection: 100 time units.
const SPAN: i64 = 100;

/// A deterministic pseudo-random sequence (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> i64 {
        (self.next() % n) as i64
    }
}

fn series_key(i: i64) -> Value {
    match i % 3 {
        0 => Value::Int(i),
        1 => Value::String(format!("s{i}")),
        _ => Value::from_json_expression(&format!(r#"{{"entity": {i}, "measure": "p"}}"#))
            .unwrap_or(Value::Null),
    }
}

/// A time-series collection `m` (time `t`, meta `s`) of 6 series with points appended in
/// and out of order, and the same points as documents.
fn populated() -> Result<(Database, Vec<Value>), Box<dyn std::error::Error>> {
    let db = cairn::open(Config::new("", StorageMode::MemoryOnly))?;
    db.transaction(|txn| {
        timeseries::create(txn, "m", &SeriesOptions::new("t", "s", SPAN)).map_err(Into::into)
    })?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut model: std::collections::BTreeMap<(i64, i64), Point> = Default::default();
    for round in 0..4 {
        for s in 0..6 {
            let mut points = Vec::new();
            for _ in 0..40 {
                // Mostly in order within a round, some late points from earlier rounds.
                let t = if rng.below(5) == 0 {
                    rng.below(1_000)
                } else {
                    round * 250 + rng.below(250)
                };
                let mut point =
                    Point::single(t, "v", Sample::Float(rng.below(1_000) as f64 / 10.0));
                if rng.below(2) == 0 {
                    point.fields.insert("n".into(), Sample::Int(rng.below(50)));
                }
                if rng.below(4) == 0 {
                    point
                        .fields
                        .insert("ok".into(), Sample::Bool(rng.below(2) == 0));
                }
                points.push(point);
            }
            let mut txn = db.begin()?;
            timeseries::append(&mut txn, "m", &series_key(s), points.clone())?;
            txn.commit()?;
            for point in points {
                model.insert((s, point.time), point);
            }
        }
    }
    let docs = model
        .into_iter()
        .map(|((s, _), point)| point.to_document("t", "s", &series_key(s)))
        .collect();
    Ok((db, docs))
}

/// Field `name` of a document.
fn field<'v>(doc: &'v Value, name: &str) -> Option<&'v Value> {
    doc.as_object().and_then(|object| object.get(name))
}

/// A canonical form of a set of documents, for comparing answers regardless of order.
/// A point's fields have no order (a patch appends a new field last; a point reads back in
/// its own order), so each document's top-level fields are sorted by name.
fn canonical(docs: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = docs
        .iter()
        .map(|d| match d.as_object() {
            Some(object) => {
                let mut fields: Vec<_> = object.iter().collect();
                fields.sort_by(|a, b| a.0.cmp(b.0));
                format!("{fields:?}")
            }
            None => format!("{d:?}"),
        })
        .collect();
    out.sort();
    out
}

const FILTERS: &[&str] = &[
    r#"{}"#,
    r#"{"t": {"$gte": 120, "$lt": 180}}"#,
    r#"{"t": 500}"#,
    r#"{"t": {"$in": [3, 250, 999]}}"#,
    r#"{"t": {"$gt": 990}}"#,
    r#"{"t": {"$lte": 10}}"#,
    r#"{"s": 3}"#,
    r#"{"s": "s4"}"#,
    r#"{"s": {"measure": "p", "entity": 5}}"#,
    r#"{"s.entity": {"$gte": 2}}"#,
    r#"{"s": {"$in": [0, "s1"]}, "t": {"$gte": 400, "$lt": 700}}"#,
    r#"{"s": {"$ne": 0}, "v": {"$gt": 90}}"#,
    r#"{"n": {"$exists": true}, "t": {"$lt": 300}}"#,
    r#"{"ok": true}"#,
    r#"{"$or": [{"t": {"$lt": 5}}, {"v": {"$lt": 1}}]}"#,
    r#"{"$and": [{"t": {"$gte": 200}}, {"t": {"$lt": 260}}, {"s": 3}]}"#,
    r#"{"t": {"$gte": 2.5, "$lt": 40}}"#,
    r#"{"t": {"$gt": 700, "$lt": 650}}"#,
];

#[test]
fn find_and_count_on_a_time_series_collection_equal_the_naive_model() -> TestResult {
    let (db, docs) = populated()?;
    assert!(docs.len() > 500, "{} points", docs.len());
    for text in FILTERS {
        let filter = Filter::parse(&Value::from_json_expression(text)?)?;
        let expected: Vec<Value> = docs.iter().filter(|d| filter.matches(d)).cloned().collect();
        let found = find(&db, "m", &Query::new(filter.clone()))?;
        assert_eq!(
            canonical(&found.documents),
            canonical(&expected),
            "find {text}"
        );
        assert_eq!(
            count(&db, "m", &filter)?,
            expected.len() as u64,
            "count {text}"
        );
    }
    Ok(())
}

#[test]
fn a_find_pages_through_points_with_a_cursor() -> TestResult {
    let (db, docs) = populated()?;
    let filter = Filter::parse(&Value::from_json_expression(r#"{"t": {"$lt": 400}}"#)?)?;
    let expected: Vec<Value> = docs.iter().filter(|d| filter.matches(d)).cloned().collect();
    let mut query = Query::new(filter);
    query.limit = Some(37);
    let mut got = Vec::new();
    loop {
        let page = find(&db, "m", &query)?;
        got.extend(page.documents);
        match page.cursor {
            Some(cursor) => query.after = Some(cursor),
            None => break,
        }
    }
    assert_eq!(canonical(&got), canonical(&expected));
    Ok(())
}

#[test]
fn explain_shows_series_and_chunks_skipped() -> TestResult {
    let (db, _) = populated()?;
    let filter = Value::from_json_expression(r#"{"s": 3, "t": {"$gte": 120, "$lt": 180}}"#)?;
    let explained = explain(&db, "m", &Query::new(Filter::parse(&filter)?))?;
    assert!(
        explained
            .chosen
            .description
            .starts_with("time-series chunks"),
        "{}",
        explained.chosen.description
    );
    let e = &explained.executed;
    assert_eq!(e.counter("series_read"), 1);
    assert_eq!(e.counter("series_skipped"), 5);
    // Only the span [100, 200) of series 3 is visited: its chunk(s) there are decoded.
    assert!(e.counter("chunks_decoded") >= 1);
    assert!(e.docs_examined < 60, "examined {}", e.docs_examined);
    let everything = explain(&db, "m", &Query::new(Filter::All))?;
    assert_eq!(everything.executed.counter("series_read"), 6);
    assert!(
        everything.executed.counter("chunks_decoded") > 10 * e.counter("chunks_decoded"),
        "{:?} vs {:?}",
        everything.executed.counters,
        e.counters
    );
    Ok(())
}

#[test]
fn bucket_by_time_downsamples_like_a_naive_computation() -> TestResult {
    let (db, docs) = populated()?;
    let every = 60;
    let pipeline = Value::from_json_expression(
        r#"[{"$match": {"t": {"$gte": 100, "$lt": 800}, "s": {"$ne": 3}}},
            {"$bucketByTime": {"time": "$t", "every": 60, "by": "$s", "output": {
                "avg": {"$avg": "$v"}, "hi": {"$max": "$v"}, "n": {"$count": {}},
                "first": {"$first": "$v"}, "last": {"$last": "$v"}, "sum_n": {"$sum": "$n"}}}}]"#,
    )?;
    let got = cairn::aggregate(&db, "m", &pipeline)?;
    // The naive model: points in series-then-time order (as documents come from the chunks),
    // grouped by (series, bucket start).
    let mut expected: std::collections::BTreeMap<(String, i64), Vec<&Value>> = Default::default();
    for doc in &docs {
        let (Some(Value::Int(t)), Some(s)) = (field(doc, "t"), field(doc, "s")) else {
            return Err("point without t or s".into());
        };
        if !(100..800).contains(t) || *s == Value::Int(3) {
            continue;
        }
        let start = t - t.rem_euclid(every);
        expected
            .entry((s.to_json_string(), start))
            .or_default()
            .push(doc);
    }
    assert_eq!(got.len(), expected.len());
    let mut rows: Vec<((String, i64), &Value)> = Vec::new();
    for bucket in &got {
        let id = field(bucket, "_id").ok_or("bucket without _id")?;
        let (Some(by), Some(Value::Int(start))) = (field(id, "by"), field(id, "start")) else {
            return Err(format!("bucket id {id:?}").into());
        };
        rows.push(((by.to_json_string(), *start), bucket));
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    for ((key, bucket), (expected_key, points)) in rows.iter().zip(&expected) {
        assert_eq!(key, expected_key);
        let v: Vec<f64> = points
            .iter()
            .map(|p| match field(p, "v") {
                Some(Value::Float(v)) => *v,
                _ => f64::NAN,
            })
            .collect();
        let sum_n: i64 = points
            .iter()
            .map(|p| match field(p, "n") {
                Some(Value::Int(n)) => *n,
                _ => 0,
            })
            .sum();
        let avg = v.iter().sum::<f64>() / v.len() as f64;
        let Some(Value::Float(got_avg)) = field(bucket, "avg") else {
            return Err(format!("avg of {bucket:?}").into());
        };
        assert!((got_avg - avg).abs() < 1e-9, "{key:?}: {got_avg} vs {avg}");
        let hi = v.iter().copied().fold(f64::MIN, f64::max);
        assert_eq!(field(bucket, "hi"), Some(&Value::Float(hi)), "{key:?}");
        assert_eq!(
            field(bucket, "n"),
            Some(&Value::Int(v.len() as i64)),
            "{key:?}"
        );
        assert_eq!(field(bucket, "first"), Some(&Value::Float(v[0])), "{key:?}");
        assert_eq!(
            field(bucket, "last"),
            Some(&Value::Float(v[v.len() - 1])),
            "{key:?}"
        );
        assert_eq!(field(bucket, "sum_n"), Some(&Value::Int(sum_n)), "{key:?}");
    }
    Ok(())
}

#[test]
fn bucket_by_time_refuses_bad_options_and_times() -> TestResult {
    let (db, _) = populated()?;
    for (pipeline, wanted) in [
        (r#"[{"$bucketByTime": {"time": "$t"}}]"#, "every"),
        (
            r#"[{"$bucketByTime": {"time": "$t", "every": 0}}]"#,
            "every",
        ),
        (r#"[{"$bucketByTime": {"every": 10}}]"#, "time"),
        (
            r#"[{"$bucketByTime": {"time": "$t", "every": 10, "fill": 1}}]"#,
            "fill",
        ),
        (
            r#"[{"$bucketByTime": {"time": "$v", "every": 10}}]"#,
            "not an integer",
        ),
    ] {
        let err = cairn::aggregate(&db, "m", &Value::from_json_expression(pipeline)?)
            .err()
            .ok_or(format!("{pipeline} was accepted"))?;
        assert!(err.to_string().contains(wanted), "{pipeline}: {err}");
    }
    let counted = cairn::aggregate(
        &db,
        "m",
        &Value::from_json_expression(r#"[{"$bucketByTime": {"time": "$t", "every": 1000}}]"#)?,
    )?;
    assert_eq!(counted.len(), 1);
    assert_eq!(field(&counted[0], "_id"), Some(&Value::Int(0)));
    Ok(())
}

#[test]
fn delete_many_deletes_exactly_the_matching_points() -> TestResult {
    let (db, docs) = populated()?;
    for text in [
        r#"{"t": {"$gte": 120, "$lt": 180}, "s": 3}"#,
        r#"{"v": {"$lt": 30}}"#,
        r#"{"s": "s1"}"#,
    ] {
        let filter = Filter::parse(&Value::from_json_expression(text)?)?;
        let before = find(&db, "m", &Query::new(Filter::All))?.documents;
        let report = cairn::delete_many(&db, "m", &filter, &cairn::BulkOptions::default())?;
        let expected: Vec<Value> = before
            .iter()
            .filter(|d| !filter.matches(d))
            .cloned()
            .collect();
        assert_eq!(
            report.changed,
            (before.len() - expected.len()) as u64,
            "{text}"
        );
        let after = find(&db, "m", &Query::new(Filter::All))?.documents;
        assert_eq!(canonical(&after), canonical(&expected), "{text}");
        let mut txn = db.read()?;
        let report = timeseries::verify(&mut txn, "m")?;
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        // The latest point of every series is the newest one left.
        for (series, last) in timeseries::latest(&mut txn, "m")? {
            let newest = after
                .iter()
                .filter(|d| field(d, "s") == Some(&series))
                .filter_map(|d| match field(d, "t") {
                    Some(Value::Int(t)) => Some(*t),
                    _ => None,
                })
                .max();
            assert_eq!(Some(last.time), newest, "{text}: series {series:?}");
        }
    }
    assert!(docs.len() > find(&db, "m", &Query::new(Filter::All))?.documents.len());
    Ok(())
}

#[test]
fn update_many_rewrites_exactly_the_matching_points() -> TestResult {
    let (db, _) = populated()?;
    for (filter, patch) in [
        (
            r#"{"t": {"$gte": 120, "$lt": 380}, "s": 3}"#,
            r#"{"$set": {"v": 1.5}}"#,
        ),
        (
            r#"{"v": {"$lt": 30}}"#,
            r#"{"$inc": {"n": 1}, "$unset": {"ok": ""}}"#,
        ),
        // The time moves: every point of the series shifts by 5,000 (into new chunks).
        (r#"{"s": "s1"}"#, r#"{"$inc": {"t": 5000}}"#),
        // A patch that changes nothing writes nothing.
        (r#"{"s": 0}"#, r#"{"$set": {"s": 0}}"#),
    ] {
        let parsed = Filter::parse(&Value::from_json_expression(filter)?)?;
        let patch_value = cairn::Patch::from_json_str(patch)?;
        let before = find(&db, "m", &Query::new(Filter::All))?.documents;
        let report = cairn::update_many(
            &db,
            "m",
            &parsed,
            &patch_value,
            &cairn::BulkOptions::default(),
        )?;
        let mut changed = 0;
        let expected: Vec<Value> = before
            .iter()
            .map(|d| {
                if !parsed.matches(d) {
                    return Ok(d.clone());
                }
                let mut new = d.clone();
                patch_value.apply(&mut new)?;
                if new != *d {
                    changed += 1;
                }
                Ok(new)
            })
            .collect::<Result<_, Box<dyn std::error::Error>>>()?;
        let matched = before.iter().filter(|d| parsed.matches(d)).count() as u64;
        assert_eq!(
            (report.matched, report.changed),
            (matched, changed),
            "{filter}"
        );
        let after = find(&db, "m", &Query::new(Filter::All))?.documents;
        assert_eq!(canonical(&after), canonical(&expected), "{filter} {patch}");
        let mut txn = db.read()?;
        let verified = timeseries::verify(&mut txn, "m")?;
        assert!(verified.problems.is_empty(), "{:?}", verified.problems);
    }
    // A patched point that is not a point any more is refused and nothing is written.
    let before = find(&db, "m", &Query::new(Filter::All))?.documents;
    let bad = cairn::Patch::from_json_str(r#"{"$set": {"t": "noon"}}"#)?;
    let refused = cairn::update_many(&db, "m", &Filter::All, &bad, &cairn::BulkOptions::default());
    assert!(refused.is_err(), "a text time was accepted");
    let after = find(&db, "m", &Query::new(Filter::All))?.documents;
    assert_eq!(canonical(&after), canonical(&before));
    Ok(())
}
