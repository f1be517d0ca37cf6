//! Isolation and concurrency: serializability (no write skew), exactly-once compare-and-swap
//! under contention, conserved sums under concurrent transfers, and group commit.

use std::sync::Arc;

use cairn_doc::{DocId, FieldPath, Patch, Value};
use cairn_engine::{CasOutcome, Config, Database, EngineError, StorageMode};

fn json(text: &str) -> Value {
    Value::from_json_str(text).expect("valid JSON")
}

fn int_field(doc: &Value, field: &str) -> i64 {
    match doc.as_object().and_then(|o| o.get(field)) {
        Some(Value::Int(v)) => *v,
        other => panic!("field {field} is {other:?}"),
    }
}

#[test]
fn write_skew_is_rejected_so_isolation_is_serializable() {
    let db = Database::open_in_memory().expect("open");
    db.create_collection("doctors").expect("create");
    db.insert("doctors", json(r#"{"_id": "x", "on_call": 1}"#))
        .expect("insert");
    db.insert("doctors", json(r#"{"_id": "y", "on_call": 1}"#))
        .expect("insert");
    let (x, y) = (DocId::String("x".into()), DocId::String("y".into()));
    let off = Patch::from_json_str(r#"{"$set": {"on_call": 0}}"#).expect("patch");

    // Each transaction checks that the other doctor is on call, then goes off call itself.
    // Under snapshot isolation both would commit and nobody would be on call.
    let mut t1 = db.begin().expect("begin");
    let mut t2 = db.begin().expect("begin");
    for txn in [&mut t1, &mut t2] {
        let on = int_field(&txn.get("doctors", &x).expect("get").expect("x"), "on_call")
            + int_field(&txn.get("doctors", &y).expect("get").expect("y"), "on_call");
        assert_eq!(on, 2);
    }
    t1.update("doctors", &x, &off).expect("update");
    t2.update("doctors", &y, &off).expect("update");
    t1.commit().expect("first commit wins");
    let err = t2.commit().expect_err("second must conflict");
    assert!(matches!(err, EngineError::Conflict { .. }), "{err}");
    assert!(err.is_retryable());
}

#[test]
fn a_scan_conflicts_with_a_concurrent_insert_into_its_range() {
    let db = Database::open_in_memory().expect("open");
    db.create_collection("c").expect("create");
    let mut reader = db.begin().expect("begin");
    let mut count = 0;
    reader
        .for_each("c", |_, _| {
            count += 1;
            true
        })
        .expect("scan");
    reader
        .insert("c", json(r#"{"_id": "count", "n": 0}"#))
        .expect("insert");
    db.insert("c", json(r#"{"_id": "phantom"}"#))
        .expect("concurrent insert");
    assert!(matches!(reader.commit(), Err(EngineError::Conflict { .. })));
}

#[test]
fn racing_executors_take_every_job_exactly_once() {
    const JOBS: i64 = 60;
    const EXECUTORS: usize = 8;
    let db = Database::open_in_memory().expect("open");
    db.create_collection("jobs").expect("create");
    for job in 0..JOBS {
        db.insert(
            "jobs",
            json(&format!(r#"{{"_id": {job}, "state": "waiting"}}"#)),
        )
        .expect("insert");
    }
    let waiting = [(
        FieldPath::parse("state").expect("path"),
        Value::String("waiting".into()),
    )];
    let waiting = Arc::new(waiting);
    let handles: Vec<_> = (0..EXECUTORS)
        .map(|executor| {
            let (db, waiting) = (db.clone(), waiting.clone());
            std::thread::spawn(move || {
                let take = Patch::from_json_str(&format!(
                    r#"{{"$set": {{"state": "taken", "by": {executor}}}}}"#
                ))
                .expect("patch");
                let mut taken = Vec::new();
                for job in 0..JOBS {
                    let outcome = db
                        .compare_and_swap("jobs", &DocId::Int(job), waiting.as_slice(), &take)
                        .expect("cas");
                    if matches!(outcome, CasOutcome::Applied(_)) {
                        taken.push(job);
                    }
                }
                (executor as i64, taken)
            })
        })
        .collect();
    let mut takers = vec![Vec::new(); JOBS as usize];
    for handle in handles {
        let (executor, taken) = handle.join().expect("thread");
        for job in taken {
            takers[job as usize].push(executor);
        }
    }
    for (job, who) in takers.iter().enumerate() {
        assert_eq!(who.len(), 1, "job {job} taken by {who:?}");
        let doc = db
            .get("jobs", &DocId::Int(job as i64))
            .expect("get")
            .expect("job");
        assert_eq!(int_field(&doc, "by"), who[0]);
    }
}

#[test]
fn concurrent_transfers_conserve_the_total() {
    const ACCOUNTS: i64 = 10;
    const THREADS: i64 = 6;
    const TRANSFERS: i64 = 60;
    let db = Database::open_in_memory().expect("open");
    db.create_collection("accounts").expect("create");
    for account in 0..ACCOUNTS {
        db.insert(
            "accounts",
            json(&format!(r#"{{"_id": {account}, "balance": 100}}"#)),
        )
        .expect("insert");
    }
    let handles: Vec<_> = (0..THREADS)
        .map(|thread| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..TRANSFERS {
                    let from = DocId::Int((thread + i) % ACCOUNTS);
                    let to = DocId::Int((thread * 7 + i * 3 + 1) % ACCOUNTS);
                    if from == to {
                        continue;
                    }
                    db.transaction(|txn| {
                        let balance =
                            int_field(&txn.get("accounts", &from)?.expect("from"), "balance");
                        if balance < 5 {
                            return Ok(());
                        }
                        let debit = Patch::from_json_str(r#"{"$inc": {"balance": -5}}"#)?;
                        let credit = Patch::from_json_str(r#"{"$inc": {"balance": 5}}"#)?;
                        txn.update("accounts", &from, &debit)?;
                        txn.update("accounts", &to, &credit)?;
                        Ok(())
                    })
                    .expect("transfer");
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("thread");
    }
    let mut total = 0;
    db.for_each("accounts", |_, doc| {
        let balance = int_field(doc, "balance");
        assert!(balance >= 0);
        total += balance;
        true
    })
    .expect("scan");
    assert_eq!(total, ACCOUNTS * 100);
}

#[test]
fn concurrent_durable_writers_share_group_commits() {
    const THREADS: usize = 16;
    const INSERTS: usize = 20;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Database::open(Config::new(dir.path(), StorageMode::Persistent)).expect("open");
    db.create_collection("c").expect("create");
    let before = db.stats().expect("stats");
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let db = db.clone();
            std::thread::spawn(move || {
                for _ in 0..INSERTS {
                    db.insert("c", json(r#"{"x": 1}"#)).expect("insert");
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("thread");
    }
    let after = db.stats().expect("stats");
    let txns = after.transactions_committed - before.transactions_committed;
    let groups = after.group_commits - before.group_commits;
    assert_eq!(txns, (THREADS * INSERTS) as u64);
    // Structural, not timing: with 16 writers each waiting on an fsync, commits must have been
    // merged; one storage commit per transaction would mean no group commit at all.
    assert!(
        groups < txns,
        "{groups} storage commits for {txns} transactions"
    );
    assert_eq!(after.collections[0].documents, (THREADS * INSERTS) as u64);
}

#[test]
fn pipelined_commits_land_in_order_and_still_detect_conflicts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Database::open(Config::new(dir.path(), StorageMode::Persistent)).expect("open");
    db.create_collection("c").expect("create");
    let mut pending = std::collections::VecDeque::new();
    let mut seqs = Vec::new();
    for batch in 0..20 {
        let mut txn = db.begin().expect("begin");
        for i in 0..50 {
            txn.insert("c", json(&format!(r#"{{"_id": {}}}"#, batch * 50 + i)))
                .expect("insert");
        }
        pending.push_back(txn.commit_async().expect("submit"));
        if pending.len() > 2 {
            seqs.push(pending.pop_front().expect("queued").wait().expect("commit"));
        }
    }
    for commit in pending {
        seqs.push(commit.wait().expect("commit"));
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let mut count = 0;
    db.for_each("c", |_, _| {
        count += 1;
        true
    })
    .expect("scan");
    assert_eq!(count, 1000);

    // Two transactions read document 0 before either commits; both are queued. The second
    // read what the first overwrote, so it must not commit.
    let bump = Patch::from_json_str(r#"{"$set": {"v": 1}}"#).expect("patch");
    let mut first = db.begin().expect("begin");
    let mut second = db.begin().expect("begin");
    first.update("c", &DocId::Int(0), &bump).expect("update");
    second.get("c", &DocId::Int(0)).expect("get");
    second.update("c", &DocId::Int(1), &bump).expect("update");
    let first = first.commit_async().expect("submit");
    let second = second.commit_async().expect("submit");
    first.wait().expect("first commits");
    assert!(matches!(second.wait(), Err(EngineError::Conflict { .. })));
}
