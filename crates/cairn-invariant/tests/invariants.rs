//! Each invariant kind accepting and rejecting single writes, batches and transactions; a
//! rejected write leaving no trace; adding invariants to existing data; persistence.

mod common;

use cairn_doc::{DocId, Patch, Value};
use cairn_engine::{BatchOp, StorageMode};
use cairn_invariant::{
    add_invariant, drop_invariant, list_invariants, InvariantError, InvariantState,
};
use common::*;

fn patch(json: &str) -> Patch {
    Patch::from_json_str(json).unwrap()
}

fn id(n: i64) -> DocId {
    DocId::Int(n)
}

/// Three cells holding 10 energy each, under `conserve sum(energy)`.
fn conserved_cells() -> cairn_engine::Database {
    let db = memory_db();
    db.create_collection("cells").unwrap();
    for n in 0..3 {
        db.insert("cells", doc(&format!(r#"{{"_id": {n}, "energy": 10}}"#)))
            .unwrap();
    }
    add_invariant(
        &db,
        "cells",
        Some("energy_conserved"),
        "conserve sum(energy)",
    )
    .unwrap();
    db
}

#[test]
fn conserved_sum_rejects_single_writes_that_create_or_destroy_energy() {
    let db = conserved_cells();
    let before = (export(&db, "cells"), db.last_seq());
    let err = db
        .update("cells", &id(0), &patch(r#"{"$inc": {"energy": 1}}"#))
        .unwrap_err();
    let (detail, amounts) = expect_violation(err, "energy_conserved");
    assert!(detail.contains("by 1 (from 30 to 31)"), "{detail}");
    assert!(amounts.contains(&("delta".to_string(), Value::Int(1))));
    let err = db
        .insert("cells", doc(r#"{"_id": 9, "energy": 2}"#))
        .unwrap_err();
    expect_violation(err, "energy_conserved");
    let err = db.delete("cells", &id(1)).unwrap_err();
    expect_violation(err, "energy_conserved");
    assert_eq!((export(&db, "cells"), db.last_seq()), before, "no trace");
    // Energy-neutral single writes pass: a new empty cell, a change of another field.
    db.insert("cells", doc(r#"{"_id": 3, "energy": 0}"#))
        .unwrap();
    db.insert("cells", doc(r#"{"_id": 4}"#)).unwrap();
    db.update("cells", &id(0), &patch(r#"{"$set": {"label": "a"}}"#))
        .unwrap();
    db.delete("cells", &id(3)).unwrap();
}

#[test]
fn conserved_sum_judges_a_batch_or_transaction_by_its_net_effect() {
    let db = conserved_cells();
    let transfer = |from: i64, to: i64, amount: i64| {
        vec![
            BatchOp::Update {
                collection: "cells".into(),
                id: id(from),
                patch: patch(&format!(r#"{{"$inc": {{"energy": {}}}}}"#, -amount)),
            },
            BatchOp::Update {
                collection: "cells".into(),
                id: id(to),
                patch: patch(&format!(r#"{{"$inc": {{"energy": {amount}}}}}"#)),
            },
        ]
    };
    db.batch(&transfer(0, 1, 4)).unwrap();
    let before = (export(&db, "cells"), db.last_seq());
    let mut unbalanced = transfer(1, 2, 3);
    unbalanced.pop();
    let err = db.batch(&unbalanced).unwrap_err();
    let (_, amounts) = expect_violation(err, "energy_conserved");
    assert!(amounts.contains(&("delta".to_string(), Value::Int(-3))));
    assert_eq!((export(&db, "cells"), db.last_seq()), before);
    // A transaction may pass through unbalanced states; only its end is judged.
    db.transaction(|txn| {
        txn.update("cells", &id(2), &patch(r#"{"$inc": {"energy": -10}}"#))?;
        txn.delete("cells", &id(2))?;
        txn.update("cells", &id(0), &patch(r#"{"$inc": {"energy": 10}}"#))
    })
    .unwrap();
    let err = db
        .transaction(|txn| {
            txn.update("cells", &id(0), &patch(r#"{"$inc": {"energy": -1}}"#))?;
            txn.insert("cells", doc(r#"{"_id": 7, "energy": 2}"#))
        })
        .unwrap_err();
    expect_violation(err, "energy_conserved");
    assert_eq!(int_sum(&db, "cells", "energy"), 30);
}

#[test]
fn conserved_float_sums_are_exact() {
    let db = memory_db();
    db.create_collection("cells").unwrap();
    db.insert("cells", doc(r#"{"_id": 1, "energy": 0.75}"#))
        .unwrap();
    db.insert("cells", doc(r#"{"_id": 2, "energy": 0.5}"#))
        .unwrap();
    add_invariant(&db, "cells", None, "conserve sum(energy)").unwrap();
    // Binary fractions move exactly.
    db.batch(&[
        BatchOp::Update {
            collection: "cells".into(),
            id: id(1),
            patch: patch(r#"{"$inc": {"energy": -0.25}}"#),
        },
        BatchOp::Update {
            collection: "cells".into(),
            id: id(2),
            patch: patch(r#"{"$inc": {"energy": 0.25}}"#),
        },
    ])
    .unwrap();
    // 0.1 is not a binary fraction: 0.5 - 0.1 rounds, so moving 0.1 this way does not
    // conserve the exact sum, and the exact check notices (a rounded check would not).
    let err = db
        .batch(&[
            BatchOp::Update {
                collection: "cells".into(),
                id: id(1),
                patch: patch(r#"{"$set": {"energy": 0.3}}"#),
            },
            BatchOp::Update {
                collection: "cells".into(),
                id: id(2),
                patch: patch(r#"{"$set": {"energy": 0.95}}"#),
            },
        ])
        .unwrap_err();
    let (detail, _) = expect_violation(err, "conserve_energy");
    assert!(detail.contains('~'), "{detail}");
    let info = list_invariants(&db, "cells").unwrap();
    match &info[0].state {
        InvariantState::Conserved { total } => assert_eq!(total.to_value(), Value::Float(1.25)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn field_bound_rejects_the_final_state_only() {
    let db = memory_db();
    db.create_collection("cells").unwrap();
    db.insert("cells", doc(r#"{"_id": 1, "energy": 5}"#))
        .unwrap();
    add_invariant(&db, "cells", None, "energy >= 0").unwrap();
    let err = db
        .update("cells", &id(1), &patch(r#"{"$inc": {"energy": -6}}"#))
        .unwrap_err();
    let (detail, amounts) = expect_violation(err, "energy_ge_0");
    assert!(detail.contains("energy = -1"), "{detail}");
    assert!(amounts.contains(&("bound".to_string(), Value::Int(0))));
    let err = db
        .batch(&[
            BatchOp::Insert {
                collection: "cells".into(),
                doc: doc(r#"{"_id": 2, "energy": 1}"#),
            },
            BatchOp::Insert {
                collection: "cells".into(),
                doc: doc(r#"{"_id": 3, "energy": -0.5}"#),
            },
        ])
        .unwrap_err();
    expect_violation(err, "energy_ge_0");
    assert_eq!(export(&db, "cells").len(), 1, "the batch left no trace");
    // Negative in the middle of a transaction, fine at the end.
    db.transaction(|txn| {
        txn.update("cells", &id(1), &patch(r#"{"$inc": {"energy": -100}}"#))?;
        txn.update("cells", &id(1), &patch(r#"{"$inc": {"energy": 100}}"#))
    })
    .unwrap();
    let err = db
        .transaction(|txn| {
            txn.update("cells", &id(1), &patch(r#"{"$inc": {"energy": 1}}"#))?;
            txn.insert("cells", doc(r#"{"_id": 8, "energy": -1}"#))
        })
        .unwrap_err();
    expect_violation(err, "energy_ge_0");
    assert_eq!(
        export(&db, "cells").len(),
        1,
        "the transaction left no trace"
    );
    // Missing and null are not bounded; a string is refused.
    db.insert("cells", doc(r#"{"_id": 4}"#)).unwrap();
    db.insert("cells", doc(r#"{"_id": 5, "energy": null}"#))
        .unwrap();
    let err = db
        .insert("cells", doc(r#"{"_id": 6, "energy": "lots"}"#))
        .unwrap_err();
    let (detail, _) = expect_violation(err, "energy_ge_0");
    assert!(detail.contains("holds a string"), "{detail}");
    // Strict and upper bounds.
    add_invariant(&db, "cells", Some("cap"), "energy < 100").unwrap();
    let err = db
        .update("cells", &id(1), &patch(r#"{"$set": {"energy": 100}}"#))
        .unwrap_err();
    expect_violation(err, "cap");
    db.update("cells", &id(1), &patch(r#"{"$set": {"energy": 99.5}}"#))
        .unwrap();
}

#[test]
fn group_bound_keeps_running_sums_and_rejects_overdrafts() {
    let db = memory_db();
    db.create_collection("ledger").unwrap();
    db.insert("ledger", doc(r#"{"_id": 1, "account": "a", "amount": 10}"#))
        .unwrap();
    db.insert("ledger", doc(r#"{"_id": 2, "account": "b", "amount": 3}"#))
        .unwrap();
    add_invariant(
        &db,
        "ledger",
        Some("no_overdraft"),
        "sum(amount) by account >= 0",
    )
    .unwrap();
    assert_eq!(
        stored_groups(&db, "ledger", "no_overdraft"),
        scan_groups(&db, "ledger", "amount", "account")
    );
    // A withdrawal within the balance is fine; beyond it is refused.
    db.insert(
        "ledger",
        doc(r#"{"_id": 3, "account": "a", "amount": -10}"#),
    )
    .unwrap();
    let before = (export(&db, "ledger"), db.last_seq());
    let err = db
        .insert("ledger", doc(r#"{"_id": 4, "account": "a", "amount": -1}"#))
        .unwrap_err();
    let (detail, amounts) = expect_violation(err, "no_overdraft");
    assert!(
        detail.contains(r#"group account = "a" would sum amount to -1 (from 0)"#),
        "{detail}"
    );
    assert!(amounts.contains(&("group".to_string(), Value::String("a".into()))));
    assert!(amounts.contains(&("after".to_string(), Value::Int(-1))));
    // Moving a document into another account counts against both.
    let err = db
        .update("ledger", &id(2), &patch(r#"{"$set": {"amount": -4}}"#))
        .unwrap_err();
    expect_violation(err, "no_overdraft");
    let err = db
        .transaction(|txn| {
            txn.update("ledger", &id(1), &patch(r#"{"$set": {"account": "b"}}"#))?;
            Ok(())
        })
        .unwrap_err();
    expect_violation(err, "no_overdraft");
    assert_eq!((export(&db, "ledger"), db.last_seq()), before);
    assert_eq!(
        stored_groups(&db, "ledger", "no_overdraft"),
        scan_groups(&db, "ledger", "amount", "account")
    );
    // A batch that deposits before withdrawing passes; deleting a whole account removes it.
    db.batch(&[
        BatchOp::Insert {
            collection: "ledger".into(),
            doc: doc(r#"{"_id": 5, "account": "c", "amount": -2}"#),
        },
        BatchOp::Insert {
            collection: "ledger".into(),
            doc: doc(r#"{"_id": 6, "account": "c", "amount": 2}"#),
        },
    ])
    .unwrap();
    let before = (export(&db, "ledger"), db.last_seq());
    let err = db
        .batch(&[
            BatchOp::Delete {
                collection: "ledger".into(),
                id: id(6),
            },
            BatchOp::Insert {
                collection: "ledger".into(),
                doc: doc(r#"{"_id": 8, "account": "a", "amount": 1}"#),
            },
        ])
        .unwrap_err();
    expect_violation(err, "no_overdraft");
    assert_eq!((export(&db, "ledger"), db.last_seq()), before);
    db.delete("ledger", &id(5)).unwrap();
    db.delete("ledger", &id(6)).unwrap();
    let stored = stored_groups(&db, "ledger", "no_overdraft");
    assert!(
        !stored.contains_key("\"c\""),
        "empty groups are removed: {stored:?}"
    );
    assert_eq!(stored, scan_groups(&db, "ledger", "amount", "account"));
}

#[test]
fn adding_an_invariant_that_existing_data_breaks_fails_and_adds_nothing() {
    let db = memory_db();
    db.create_collection("ledger").unwrap();
    db.insert("ledger", doc(r#"{"_id": 1, "account": "a", "amount": -1}"#))
        .unwrap();
    db.insert(
        "ledger",
        doc(r#"{"_id": 2, "account": "b", "amount": "x"}"#),
    )
    .unwrap();
    let err = add_invariant(&db, "ledger", None, "amount >= 0").unwrap_err();
    let InvariantError::Engine(err) = err else {
        panic!("{err:?}")
    };
    expect_violation(err, "amount_ge_0");
    let err = add_invariant(&db, "ledger", Some("g"), "sum(amount) by account >= -5").unwrap_err();
    let InvariantError::Engine(err) = err else {
        panic!("{err:?}")
    };
    let (detail, _) = expect_violation(err, "g");
    assert!(detail.contains("holds a string"), "{detail}");
    assert!(list_invariants(&db, "ledger").unwrap().is_empty());
    let err = add_invariant(&db, "ledger", None, "amount => 0").unwrap_err();
    assert!(matches!(err, InvariantError::InvalidRule { .. }), "{err:?}");
    let err = drop_invariant(&db, "ledger", "nope").unwrap_err();
    assert!(
        matches!(err, InvariantError::UnknownInvariant { .. }),
        "{err:?}"
    );
}

#[test]
fn invariants_and_aggregates_survive_reopen_without_a_scan() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = cairn_engine::Database::open(config(dir.path(), StorageMode::Persistent)).unwrap();
        db.create_collection("ledger").unwrap();
        db.insert("ledger", doc(r#"{"_id": 1, "account": "a", "amount": 7}"#))
            .unwrap();
        add_invariant(&db, "ledger", Some("g"), "sum(amount) by account >= 0").unwrap();
        add_invariant(&db, "ledger", Some("c"), "conserve sum(amount)").unwrap();
    }
    let db = cairn_engine::Database::open(config(dir.path(), StorageMode::Persistent)).unwrap();
    let listed = list_invariants(&db, "ledger").unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(
        listed[1].state,
        InvariantState::Conserved { total: exact(7) }
    );
    match &listed[0].state {
        InvariantState::Groups { groups, lowest, .. } => {
            assert_eq!(*groups, 1);
            assert_eq!(lowest.as_ref().map(|(_, s)| s.clone()), Some(exact(7)));
        }
        other => panic!("{other:?}"),
    }
    let err = db
        .insert("ledger", doc(r#"{"_id": 2, "account": "b", "amount": 1}"#))
        .unwrap_err();
    expect_violation(err, "c");
    drop_invariant(&db, "ledger", "c").unwrap();
    let err = db
        .insert("ledger", doc(r#"{"_id": 2, "account": "a", "amount": -8}"#))
        .unwrap_err();
    expect_violation(err, "g");
    db.insert("ledger", doc(r#"{"_id": 2, "account": "a", "amount": -7}"#))
        .unwrap();
    assert_eq!(
        stored_groups(&db, "ledger", "g"),
        scan_groups(&db, "ledger", "amount", "account")
    );
}
