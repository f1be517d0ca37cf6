//! Property test: random writes against a schema, compared with a trivially correct model (a
//! `BTreeMap` and the constraints written out by hand). An accepted write changes exactly what
//! the model says; a refused one changes nothing at all (full dump compared).

mod support;

use std::collections::BTreeMap;

use cairn_doc::{DocId, Value};
use cairn_schema::set_schema;
use proptest::prelude::*;
use support::{dump, json, open};

#[derive(Debug, Clone)]
enum Op {
    Insert { id: i64, n: i64, tag: u8 },
    Delete { id: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0i64..12, -5i64..25, 0u8..4).prop_map(|(id, n, tag)| Op::Insert { id, n, tag }),
        (0i64..12).prop_map(|id| Op::Delete { id }),
    ]
}

/// The model's verdict: n within 0..=20, tag one of a/b/c (3 = "d" is refused), rule n != 13,
/// unique n.
fn model_accepts(model: &BTreeMap<i64, (i64, u8)>, id: i64, n: i64, tag: u8) -> bool {
    !model.contains_key(&id)
        && (0..=20).contains(&n)
        && tag < 3
        && n != 13
        && !model.values().any(|(m, _)| *m == n)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn writes_match_a_reference_model(ops in proptest::collection::vec(op(), 1..30)) {
        let db = open();
        db.create_collection("c").expect("create");
        set_schema(&db, "c", &json(r#"{"fields": {
            "n": {"type": "int", "required": true, "min": 0, "max": 20, "unique": true},
            "tag": {"type": "string", "enum": ["a", "b", "c"]}},
            "rules": {"not_thirteen": "n != 13"}}"#), "t").expect("schema");
        let mut model: BTreeMap<i64, (i64, u8)> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Insert { id, n, tag } => {
                    let before = dump(&db);
                    let doc = format!(r#"{{"_id": {id}, "n": {n}, "tag": "{}"}}"#, (b'a' + tag) as char);
                    let accepted = db.insert("c", json(&doc)).is_ok();
                    prop_assert_eq!(accepted, model_accepts(&model, id, n, tag), "{}", doc);
                    if accepted {
                        model.insert(id, (n, tag));
                    } else {
                        prop_assert_eq!(dump(&db), before);
                    }
                }
                Op::Delete { id } => {
                    let existed = db.delete("c", &DocId::Int(id)).expect("delete");
                    prop_assert_eq!(existed, model.remove(&id).is_some());
                }
            }
        }
        let mut stored = BTreeMap::new();
        db.for_each("c", |id, doc| {
            let obj = doc.as_object().expect("object");
            if let (DocId::Int(id), Some(Value::Int(n))) = (id, obj.get("n")) {
                stored.insert(*id, *n);
            }
            true
        }).expect("scan");
        let expected: BTreeMap<i64, i64> = model.iter().map(|(id, (n, _))| (*id, *n)).collect();
        prop_assert_eq!(stored, expected);
    }
}
