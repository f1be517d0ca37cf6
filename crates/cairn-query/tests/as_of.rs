//! Time travel: every "as of" get, find, count and distinct equals the state recorded right after that
//! commit (a `BTreeMap` model), for random inserts, replaces and deletes across commits, with
//! writes to another collection interleaved; with a small change-log retention the trimmed
//! points are typed errors and every retained one is still exact. With a retention of the
//! collection's own, longer or shorter than the database's, a point is readable exactly when at
//! most that many of the collection's changes come after it (the model counts them).

use std::collections::BTreeMap;
use std::path::PathBuf;

use cairn_doc::{DateTime, DocId, Value};
use cairn_engine::{Config, Database, EngineError, StorageMode};
use cairn_query::{
    count_as_of, distinct_as_of, find_as_of, get_as_of, AsOf, Filter, Query, QueryError,
};
use proptest::prelude::*;

type Model = BTreeMap<i64, i64>;

/// One write: `(id, value)`; applied as an insert when the id is absent, else as a replace,
/// or as a delete when `value` is negative.
type Write = (i64, i64);

fn doc(id: i64, v: i64) -> Value {
    Value::from_json_str(&format!(r#"{{"_id": {id}, "v": {v}}}"#)).unwrap_or(Value::Null)
}

fn open(retention: u64) -> Database {
    let mut config = Config::new(PathBuf::new(), StorageMode::MemoryOnly);
    config.changelog_retention = retention;
    Database::open(config).expect("open")
}

/// Commits each group of writes as one transaction; returns `(seq, state after it)` per commit
/// of the collection `t`, starting with its creation (empty).
fn run(db: &Database, commits: &[(bool, Vec<Write>)]) -> Vec<(u64, Model)> {
    run_keeping(db, commits, None).0
}

/// States of `t` by commit, the sequence numbers of `t`'s change-log records, and commit times.
type Recorded = (Vec<(u64, Model)>, Vec<u64>, Vec<(u64, DateTime)>);

/// [`run`] with `t` keeping `keep` changes of its own (set right after its creation); also
/// returns the sequence number of every change-log record of `t`, oldest first, and every
/// commit's time.
fn run_keeping(db: &Database, commits: &[(bool, Vec<Write>)], keep: Option<u64>) -> Recorded {
    db.create_collection("t").expect("create");
    let mut records = vec![db.last_seq()];
    if keep.is_some() {
        db.set_collection_retention("t", keep).expect("retention");
        records.push(db.last_seq());
    }
    db.create_collection("noise").expect("create noise");
    let mut times = Vec::new();
    let mut states = vec![(records[0], Model::new())];
    let mut models = [Model::new(), Model::new()];
    for (noise, writes) in commits {
        let target = if *noise { "noise" } else { "t" };
        let slot = usize::from(*noise);
        let mut next = Model::new();
        let mut written = 0;
        db.transaction(|txn| {
            next = models[slot].clone();
            written = 0;
            for &(id, v) in writes {
                let key = DocId::Int(id);
                match (next.contains_key(&id), v < 0) {
                    (true, true) => {
                        txn.delete(target, &key)?;
                        next.remove(&id);
                    }
                    (true, false) => {
                        txn.replace(target, &key, doc(id, v))?;
                        next.insert(id, v);
                    }
                    (false, true) => continue,
                    (false, false) => {
                        txn.insert(target, doc(id, v))?;
                        next.insert(id, v);
                    }
                }
                written += 1;
            }
            Ok(())
        })
        .expect("commit");
        models[slot] = next;
        let seq = db.last_seq();
        if !noise {
            records.extend(std::iter::repeat_n(seq, written));
        }
        if written > 0 {
            // Read before the next commits can trim it.
            let change = db.changes_after(seq - 1, 1).expect("read log");
            times.push((seq, change[0].at));
        }
        states.push((seq, models[0].clone()));
    }
    (states, records, times)
}

fn expected_find(model: &Model, min: i64) -> Vec<Value> {
    let mut hits: Vec<(i64, i64)> = model
        .iter()
        .filter(|(_, v)| **v >= min)
        .map(|(id, v)| (*id, *v))
        .collect();
    // Sorted by v descending, then _id ascending.
    hits.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    hits.into_iter().map(|(id, v)| doc(id, v)).collect()
}

fn check_point(db: &Database, seq: u64, model: &Model, as_of: AsOf) {
    for id in 0..8 {
        let got = get_as_of(db, "t", &DocId::Int(id), as_of).expect("get as of");
        assert_eq!(
            got,
            model.get(&id).map(|v| doc(id, *v)),
            "get {id} as of {seq}"
        );
    }
    for min in [0, 3] {
        let filter = Filter::field("v").map(|f| f.gte(min)).expect("filter");
        let query = Query::new(filter.clone()).sort_by("v", true).expect("sort");
        let found = find_as_of(db, "t", &query, as_of).expect("find as of");
        assert_eq!(
            found.documents,
            expected_find(model, min),
            "find as of {seq}"
        );
        let n = count_as_of(db, "t", &filter, as_of).expect("count as of");
        assert_eq!(
            n as usize,
            expected_find(model, min).len(),
            "count as of {seq}"
        );
        let values = distinct_as_of(db, "t", "v", &filter, as_of).expect("distinct as of");
        let want: std::collections::BTreeSet<i64> =
            model.values().copied().filter(|v| *v >= min).collect();
        let want: Vec<Value> = want.into_iter().map(Value::Int).collect();
        assert_eq!(values, want, "distinct as of {seq}");
    }
}

/// Commit times, by sequence number, of the retained log.
fn commit_times(db: &Database, from: u64) -> BTreeMap<u64, DateTime> {
    let mut times = BTreeMap::new();
    let mut after = from;
    loop {
        let changes = db.changes_after(after, 1000).expect("read log");
        let Some(last) = changes.last() else { break };
        after = last.seq;
        for change in changes {
            times.insert(change.seq, change.at);
        }
    }
    times
}

fn commits() -> impl Strategy<Value = Vec<(bool, Vec<Write>)>> {
    let write = (0i64..8, -3i64..6);
    proptest::collection::vec(
        (
            proptest::bool::weighted(0.2),
            proptest::collection::vec(write, 1..4),
        ),
        1..12,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn as_of_reads_equal_the_recorded_states(commits in commits(), small in any::<bool>()) {
        // A small retention trims the oldest commits; a large one keeps them all.
        let retention = if small { 6 } else { 100_000 };
        let db = open(retention);
        let states = run(&db, &commits);
        let trimmed = match db.changes_after(0, 1) {
            Err(EngineError::ChangeLogTrimmed { oldest_available, .. }) => oldest_available - 1,
            other => { prop_assert!(other.is_ok()); 0 }
        };
        for (seq, model) in &states {
            if *seq < trimmed {
                let outcome = get_as_of(&db, "t", &DocId::Int(0), AsOf::Seq(*seq));
                prop_assert!(
                    matches!(outcome, Err(QueryError::Engine(EngineError::CollectionHistoryTrimmed { .. }))),
                    "seq {seq} below {trimmed}: {outcome:?}"
                );
                continue;
            }
            check_point(&db, *seq, model, AsOf::Seq(*seq));
        }
        // Before the collection existed: a typed error, not an empty answer.
        let created = states[0].0;
        if created > trimmed {
            let before = get_as_of(&db, "t", &DocId::Int(0), AsOf::Seq(created - 1));
            prop_assert!(matches!(before, Err(QueryError::AsOfUnavailable { .. })), "{before:?}");
        }
        // After the latest commit: a typed error.
        let future = get_as_of(&db, "t", &DocId::Int(0), AsOf::Seq(db.last_seq() + 1));
        prop_assert!(matches!(future, Err(QueryError::AsOfUnavailable { .. })), "{future:?}");
        // By time: the state after the last commit before the first one stamped later.
        let times = commit_times(&db, trimmed);
        let by_seq: BTreeMap<u64, &Model> = states.iter().map(|(s, m)| (*s, m)).collect();
        for at in times.values() {
            let first_later = times.iter().find(|(_, t)| *t > at).map(|(s, _)| *s);
            let expected_seq = first_later.map_or(db.last_seq(), |s| s - 1);
            let outcome = get_as_of(&db, "t", &DocId::Int(0), AsOf::Time(*at));
            if expected_seq == trimmed && trimmed > 0 {
                // Only reachable when the first retained commits share the clock tick.
                continue;
            }
            // The state at `expected_seq` is the latest recorded state at or before it.
            let model = by_seq.range(..=expected_seq).next_back().map(|(_, m)| *m);
            match model {
                Some(model) if expected_seq >= by_seq.keys().next().copied().unwrap_or(0) => {
                    prop_assert_eq!(outcome.expect("get as of time"), model.get(&0).map(|v| doc(0, *v)));
                    check_point(&db, expected_seq, model, AsOf::Time(*at));
                }
                _ => prop_assert!(outcome.is_err()),
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn a_collections_own_retention_decides_how_far_back_as_of_reads(
        commits in commits(),
        keep in prop::sample::select(vec![2u64, 5, 1000]),
    ) {
        // The database keeps 4 changes: `t`'s own retention, shorter or far longer, decides.
        let db = open(4);
        let (states, records, times) = run_keeping(&db, &commits, Some(keep));
        prop_assert_eq!(db.collection_retention("t").expect("setting"), Some(keep));
        for (seq, model) in &states[1..] {
            let after = records.iter().filter(|s| **s > *seq).count() as u64;
            if after <= keep {
                check_point(&db, *seq, model, AsOf::Seq(*seq));
                continue;
            }
            let outcome = get_as_of(&db, "t", &DocId::Int(0), AsOf::Seq(*seq));
            match outcome {
                Err(QueryError::Engine(EngineError::CollectionHistoryTrimmed {
                    collection, oldest_available, retention, ..
                })) => {
                    prop_assert_eq!(collection, "t");
                    prop_assert!(retention.contains(&keep.to_string()), "{}", retention);
                    // The oldest readable point has at most `keep` changes after it.
                    let later = records.iter().filter(|s| **s > oldest_available).count() as u64;
                    prop_assert!(later <= keep && oldest_available > *seq);
                }
                other => prop_assert!(false, "seq {seq}, {after} changes after: {other:?}"),
            }
        }
        // By time, through the kept history when the change log no longer reaches back.
        if keep == 1000 {
            let by_seq: BTreeMap<u64, &Model> = states.iter().map(|(s, m)| (*s, m)).collect();
            for (seq, at) in &times {
                if times.iter().any(|(other, t)| other != seq && t == at) {
                    continue; // Two commits in one clock tick: either answer is a guess.
                }
                let model = by_seq.range(..=*seq).next_back().map(|(_, m)| *m);
                if let Some(model) = model {
                    check_point(&db, *seq, model, AsOf::Time(*at));
                }
            }
        }
        // Back to the database's retention: the kept history goes with the setting.
        db.set_collection_retention("t", None).expect("reset");
        prop_assert_eq!(db.collection_retention("t").expect("setting"), None);
    }
}

#[test]
fn a_retention_setting_is_checked_and_goes_with_its_collection() {
    let db = open(2);
    db.create_collection("t").expect("create");
    assert!(matches!(
        db.set_collection_retention("t", Some(0)),
        Err(EngineError::LimitExceeded { .. })
    ));
    assert!(matches!(
        db.set_collection_retention("missing", Some(5)),
        Err(EngineError::UnknownCollection { .. })
    ));
    db.set_collection_retention("t", Some(100)).expect("set");
    for i in 0..10 {
        db.insert("t", doc(i, i)).expect("insert");
    }
    let early = db.last_seq() - 8;
    assert!(get_as_of(&db, "t", &DocId::Int(1), AsOf::Seq(early)).is_ok());
    // Dropped and created again: no setting, no kept history.
    db.drop_collection("t").expect("drop");
    db.create_collection("t").expect("recreate");
    assert_eq!(db.collection_retention("t").expect("setting"), None);
    for i in 0..4 {
        db.insert("t", doc(i, i)).expect("insert");
    }
    let outcome = get_as_of(&db, "t", &DocId::Int(1), AsOf::Seq(db.last_seq() - 3));
    assert!(
        matches!(
            outcome,
            Err(QueryError::Engine(
                EngineError::CollectionHistoryTrimmed { .. }
            ))
        ),
        "{outcome:?}"
    );
}

#[test]
fn a_dropped_and_recreated_collection_is_refused_before_the_recreate() {
    let db = open(100_000);
    db.create_collection("t").expect("create");
    db.insert("t", doc(1, 1)).expect("insert");
    let before_drop = db.last_seq();
    db.drop_collection("t").expect("drop");
    db.create_collection("t").expect("recreate");
    db.insert("t", doc(1, 2)).expect("insert");
    let outcome = get_as_of(&db, "t", &DocId::Int(1), AsOf::Seq(before_drop));
    assert!(
        matches!(outcome, Err(QueryError::AsOfUnavailable { .. })),
        "{outcome:?}"
    );
    let now = get_as_of(&db, "t", &DocId::Int(1), AsOf::Seq(db.last_seq()));
    assert_eq!(now.expect("now"), Some(doc(1, 2)));
}

#[test]
fn a_renamed_collection_is_refused_before_the_rename() {
    let db = open(100_000);
    db.create_collection("a").expect("create");
    db.insert("a", doc(1, 1)).expect("insert");
    let before = db.last_seq();
    db.rename_collection("a", "b").expect("rename");
    let outcome = get_as_of(&db, "b", &DocId::Int(1), AsOf::Seq(before));
    assert!(
        matches!(outcome, Err(QueryError::AsOfUnavailable { .. })),
        "{outcome:?}"
    );
}

#[test]
fn cursors_and_unknown_collections_are_clear_errors() {
    let db = open(100_000);
    db.create_collection("t").expect("create");
    let query = Query::new(Filter::All).after("x");
    let outcome = find_as_of(&db, "t", &query, AsOf::Seq(db.last_seq()));
    assert!(
        matches!(outcome, Err(QueryError::Invalid { .. })),
        "{outcome:?}"
    );
    let outcome = get_as_of(&db, "missing", &DocId::Int(1), AsOf::Seq(db.last_seq()));
    assert!(
        matches!(
            outcome,
            Err(QueryError::Engine(EngineError::UnknownCollection { .. }))
        ),
        "{outcome:?}"
    );
}
