//! Property tests against full-scan recomputation: random single-threaded writes, and many
//! threads racing random transfers.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cairn_doc::{DocId, Patch, Value};
use cairn_engine::{Database, EngineError};
use cairn_invariant::add_invariant;
use common::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Insert {
        id: i64,
        account: u8,
        amount: i64,
    },
    SetAmount {
        id: i64,
        amount: i64,
    },
    Move {
        id: i64,
        account: u8,
    },
    Delete {
        id: i64,
    },
    /// Two writes in one transaction: a withdrawal and a deposit elsewhere.
    Pair {
        from: i64,
        to: i64,
        amount: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0i64..12, 0u8..4, -5i64..20).prop_map(|(id, account, amount)| Op::Insert {
            id,
            account,
            amount
        }),
        (0i64..12, -10i64..20).prop_map(|(id, amount)| Op::SetAmount { id, amount }),
        (0i64..12, 0u8..4).prop_map(|(id, account)| Op::Move { id, account }),
        (0i64..12).prop_map(|id| Op::Delete { id }),
        (0i64..12, 0i64..12, 0i64..15).prop_map(|(from, to, amount)| Op::Pair { from, to, amount }),
    ]
}

fn apply(db: &Database, op: &Op) -> Result<(), EngineError> {
    let coll = "ledger";
    match op {
        Op::Insert {
            id,
            account,
            amount,
        } => db
            .insert(
                coll,
                doc(&format!(
                    r#"{{"_id": {id}, "account": {account}, "amount": {amount}}}"#
                )),
            )
            .map(|_| ()),
        Op::SetAmount { id, amount } => db
            .update(
                coll,
                &DocId::Int(*id),
                &Patch::from_json_str(&format!(r#"{{"$set": {{"amount": {amount}}}}}"#))?,
            )
            .map(|_| ()),
        Op::Move { id, account } => db
            .update(
                coll,
                &DocId::Int(*id),
                &Patch::from_json_str(&format!(r#"{{"$set": {{"account": {account}.0}}}}"#))?,
            )
            .map(|_| ()),
        Op::Delete { id } => db.delete(coll, &DocId::Int(*id)).map(|_| ()),
        Op::Pair { from, to, amount } => db.transaction(|txn| {
            let minus = Patch::from_json_str(&format!(r#"{{"$inc": {{"amount": {}}}}}"#, -amount))?;
            let plus = Patch::from_json_str(&format!(r#"{{"$inc": {{"amount": {amount}}}}}"#))?;
            txn.update(coll, &DocId::Int(*from), &minus)?;
            txn.update(coll, &DocId::Int(*to), &plus)?;
            Ok(())
        }),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// After any sequence of writes (some refused), the stored group aggregates equal a full
    /// scan, no group is below the bound, and every refusal left the data unchanged.
    #[test]
    fn group_aggregates_equal_a_full_scan_after_random_writes(
        ops in proptest::collection::vec(op(), 1..60),
        add_after in 0usize..20,
    ) {
        let db = memory_db();
        db.create_collection("ledger").unwrap();
        for (index, op) in ops.iter().enumerate() {
            if index == add_after.min(ops.len() - 1) {
                // Adding may fail if the data so far already breaks the bound.
                let added = add_invariant(&db, "ledger", Some("g"), "sum(amount) by account >= 0");
                prop_assume!(added.is_ok());
            }
            let before = export(&db, "ledger");
            match apply(&db, op) {
                Ok(()) => {}
                Err(EngineError::InvariantViolation { invariant, .. }) => {
                    prop_assert_eq!(invariant, "g");
                    prop_assert_eq!(&export(&db, "ledger"), &before);
                }
                Err(EngineError::DuplicateId { .. } | EngineError::DocumentNotFound { .. }) => {}
                Err(other) => return Err(TestCaseError::fail(format!("{op:?}: {other}"))),
            }
        }
        let scanned = scan_groups(&db, "ledger", "amount", "account");
        prop_assert_eq!(stored_groups(&db, "ledger", "g"), scanned.clone());
        prop_assert!(scanned.values().all(|(_, sum)| *sum >= 0), "{:?}", scanned);
    }
}

/// A small deterministic generator for the worker threads (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const DOCS: i64 = 24;
const ACCOUNTS: i64 = 4;
const START_ENERGY: i64 = 5;

/// One transfer: moves energy and money between two documents, and sometimes withdraws
/// money outright (which only the account bound limits).
fn transfer(db: &Database, rng: &mut Rng) -> Result<(), EngineError> {
    let from = DocId::Int(rng.below(DOCS as u64) as i64);
    let to = DocId::Int(rng.below(DOCS as u64) as i64);
    let energy = rng.below(4) as i64;
    let money = rng.below(6) as i64;
    let withdraw = rng.below(3) == 0;
    db.transaction(|txn| {
        let minus = Patch::from_json_str(&format!(
            r#"{{"$inc": {{"energy": {}, "amount": {}}}}}"#,
            -energy, -money
        ))?;
        txn.update("cells", &from, &minus)?;
        let plus_money = if withdraw { 0 } else { money };
        let plus = Patch::from_json_str(&format!(
            r#"{{"$inc": {{"energy": {energy}, "amount": {plus_money}}}}}"#
        ))?;
        txn.update("cells", &to, &plus)?;
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4))]

    /// Many threads race random transfers under a conserved sum, a per-document bound and a
    /// per-account bound. Whatever interleaving happens, the conserved sum is exact and no
    /// bound is broken (checked by full scans), and the running aggregates match.
    #[test]
    fn concurrent_transfers_keep_every_invariant(seed in 1u64..u64::MAX, threads in 4usize..9) {
        let db = memory_db();
        db.create_collection("cells").unwrap();
        for n in 0..DOCS {
            db.insert("cells", doc(&format!(
                r#"{{"_id": {n}, "account": "acct{}", "energy": {START_ENERGY}, "amount": 3}}"#,
                n % ACCOUNTS
            ))).unwrap();
        }
        add_invariant(&db, "cells", Some("conserve"), "conserve sum(energy)").unwrap();
        add_invariant(&db, "cells", Some("non_negative"), "energy >= 0").unwrap();
        add_invariant(&db, "cells", Some("solvent"), "sum(amount) by account >= 0").unwrap();
        let committed = Arc::new(AtomicU64::new(0));
        let refused = Arc::new(AtomicU64::new(0));
        std::thread::scope(|scope| {
            for thread in 0..threads {
                let db = db.clone();
                let (committed, refused) = (committed.clone(), refused.clone());
                scope.spawn(move || {
                    let mut rng = Rng((seed ^ (thread as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1);
                    for _ in 0..40 {
                        match transfer(&db, &mut rng) {
                            Ok(()) => committed.fetch_add(1, Ordering::Relaxed),
                            Err(EngineError::InvariantViolation { .. }) => refused.fetch_add(1, Ordering::Relaxed),
                            // Retries ran out under heavy contention: nothing was written.
                            Err(err) if err.is_retryable() => 0,
                            Err(other) => panic!("unexpected error: {other}"),
                        };
                    }
                });
            }
        });
        prop_assert!(committed.load(Ordering::Relaxed) > 0);
        // Withdrawals outpace the accounts' money, so the group bound is exercised.
        prop_assert!(refused.load(Ordering::Relaxed) > 0);
        prop_assert_eq!(int_sum(&db, "cells", "energy"), i128::from(DOCS * START_ENERGY));
        let mut min_energy = i64::MAX;
        db.for_each("cells", |_, d| {
            let e = d.as_object().and_then(|o| o.get("energy")).and_then(Value::as_i64).unwrap_or(0);
            min_energy = min_energy.min(e);
            true
        }).unwrap();
        prop_assert!(min_energy >= 0, "min energy {}", min_energy);
        let scanned = scan_groups(&db, "cells", "amount", "account");
        prop_assert!(scanned.values().all(|(_, sum)| *sum >= 0), "{:?}", scanned);
        prop_assert_eq!(stored_groups(&db, "cells", "solvent"), scanned);
    }
}
