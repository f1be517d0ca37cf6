//! Shared helpers for the invariant tests (a module of each test crate, not a test target of its own).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use cairn_doc::{DocId, Value};
use cairn_engine::{Config, Database, EngineError, StorageMode};
use cairn_invariant::{ExactSum, InvariantExtensionKind};

pub fn config(dir: &std::path::Path, mode: StorageMode) -> Config {
    let mut config = Config::new(dir, mode);
    config.extension_kinds = vec![Arc::new(InvariantExtensionKind)];
    config
}

pub fn memory_db() -> Database {
    Database::open(config(std::path::Path::new(""), StorageMode::MemoryOnly)).unwrap()
}

pub fn doc(json: &str) -> Value {
    Value::from_json_str(json).unwrap()
}

/// Every document of the collection, for "nothing changed" comparisons.
pub fn export(db: &Database, collection: &str) -> Vec<(DocId, Value)> {
    let mut out = Vec::new();
    db.for_each(collection, |id, doc| {
        out.push((id.clone(), doc.clone()));
        true
    })
    .unwrap();
    out
}

pub fn expect_violation(err: EngineError, invariant: &str) -> (String, Vec<(String, Value)>) {
    match err {
        EngineError::InvariantViolation {
            invariant: found,
            detail,
            amounts,
            ..
        } => {
            assert_eq!(found, invariant, "{detail}");
            (detail, amounts.into_vec())
        }
        other => panic!("expected an invariant violation, got {other:?}"),
    }
}

/// Full-scan recomputation of `sum(field) by group`: group value (JSON) -> (documents, sum).
pub fn scan_groups(
    db: &Database,
    collection: &str,
    field: &str,
    group: &str,
) -> BTreeMap<String, (u64, i128)> {
    let mut out: BTreeMap<String, (u64, i128)> = BTreeMap::new();
    db.for_each(collection, |_, doc| {
        let obj = doc.as_object().unwrap();
        // Cairn compares 1 and 1.0 as equal, so they are one group.
        let key = match obj.get(group).cloned().unwrap_or(Value::Null) {
            Value::Float(f) if f.fract() == 0.0 => Value::Int(f as i64),
            other => other,
        };
        let key = key.to_json_string();
        let entry = out.entry(key).or_default();
        entry.0 += 1;
        entry.1 += i128::from(obj.get(field).and_then(Value::as_i64).unwrap_or(0));
        true
    })
    .unwrap();
    out
}

/// The stored aggregates in the same shape as [`scan_groups`].
pub fn stored_groups(db: &Database, collection: &str, name: &str) -> BTreeMap<String, (u64, i128)> {
    cairn_invariant::group_aggregates(db, collection, name)
        .unwrap()
        .into_iter()
        .map(|agg| {
            let sum = match agg.sum.to_value() {
                Value::Int(int) => i128::from(int),
                other => panic!("integer data summed to {other:?}"),
            };
            assert!(agg.sum.is_integer());
            (agg.group.to_json_string(), (agg.documents, sum))
        })
        .collect()
}

pub fn int_sum(db: &Database, collection: &str, field: &str) -> i128 {
    let mut sum = 0i128;
    db.for_each(collection, |_, doc| {
        sum += i128::from(
            doc.as_object()
                .unwrap()
                .get(field)
                .and_then(Value::as_i64)
                .unwrap_or(0),
        );
        true
    })
    .unwrap();
    sum
}

pub fn exact(value: i64) -> ExactSum {
    let mut sum = ExactSum::zero();
    sum.add_int(i128::from(value)).unwrap();
    sum
}
