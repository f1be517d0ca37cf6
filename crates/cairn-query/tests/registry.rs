//! Operators are registered, not hard-coded: the parser asks the registered models for an
//! operator it does not know, an unknown one stays a named `Invalid` error, and a registered
//! ranking operator takes the one ranking path through find, count, distinct, explain and
//! `$match` (without any index: the scan ranks).

use std::any::Any;
use std::sync::Arc;

use cairn_doc::Value;
use cairn_engine::Transaction;
use cairn_query::access::{AccessMethod, FieldOperator, QueryModel, Ranking};
use cairn_query::{Filter, Query, QueryError, Result};

mod support;
use support::open_memory;

/// `{"f": {"$closeTo": {"to": N, "k": K}}}`: the `k` integers closest to `N`.
#[derive(Debug)]
struct CloseTo {
    to: i64,
    ranking: Ranking,
}

impl FieldOperator for CloseTo {
    fn name(&self) -> &str {
        "$closeTo"
    }
    fn holds(&self, value: &Value) -> bool {
        value.as_i64().is_some()
    }
    fn ranking(&self) -> Option<&Ranking> {
        Some(&self.ranking)
    }
    fn rank(&self, value: &Value) -> Option<f64> {
        value.as_i64().map(|v| (v - self.to).abs() as f64)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct Toy;

impl QueryModel for Toy {
    fn name(&self) -> &'static str {
        "toy"
    }
    fn parse_operator(
        &self,
        name: &str,
        operand: &Value,
        at: &str,
    ) -> Option<Result<Arc<dyn FieldOperator>>> {
        if name != "$closeTo" {
            return None;
        }
        let get = |field: &str| operand.as_object().and_then(|o| o.get(field)?.as_i64());
        Some(match (get("to"), get("k")) {
            (Some(to), Some(k)) if k >= 1 => Ok(Arc::new(CloseTo {
                to,
                ranking: Ranking {
                    k: k as usize,
                    output_field: "_rank".into(),
                },
            }) as Arc<dyn FieldOperator>),
            _ => Err(QueryError::invalid(at, "expects {\"to\": N, \"k\": K}")),
        })
    }
    fn access_methods(
        &self,
        _: &mut Transaction,
        _: &str,
        _: &Filter,
    ) -> Result<Vec<Arc<dyn AccessMethod>>> {
        Ok(Vec::new())
    }
}

fn parse(json: &str) -> Result<Filter> {
    Filter::parse(&Value::from_json_expression(json).expect("json"))
}

#[test]
fn unknown_operators_are_named_errors_and_registered_ones_parse_and_rank() {
    match parse(r#"{"$and": [{"n": 1}, {"n": {"$closeToo": 2}}]}"#) {
        Err(QueryError::Invalid { at, reason }) => {
            assert_eq!(at, "$and[1].n.$closeToo");
            assert!(reason.contains("$closeToo"), "{reason}");
        }
        other => panic!("expected an invalid query, got {other:?}"),
    }
    cairn_query::access::register(Arc::new(Toy));
    // Registering twice changes nothing.
    cairn_query::access::register(Arc::new(Toy));
    assert!(matches!(
        parse(r#"{"n": {"$closeTo": {"to": 1}}}"#),
        Err(QueryError::Invalid { at, .. }) if at == "n.$closeTo"
    ));
    let db = open_memory();
    db.create_collection("c").expect("create");
    for n in 0..10 {
        db.insert(
            "c",
            Value::from_json_expression(&format!(r#"{{"_id": {n}, "n": {n}}}"#)).expect("doc"),
        )
        .expect("insert");
    }
    let filter = parse(r#"{"n": {"$closeTo": {"to": 6, "k": 3}}}"#).expect("registered");
    let found = cairn_query::find(&db, "c", &Query::new(filter.clone())).expect("find");
    let ids: Vec<i64> = found
        .documents
        .iter()
        .map(|d| {
            d.as_object()
                .and_then(|o| o.get("_id")?.as_i64())
                .expect("id")
        })
        .collect();
    assert_eq!(ids, vec![6, 5, 7]);
    assert_eq!(cairn_query::count(&db, "c", &filter).expect("count"), 3);
    assert_eq!(
        cairn_query::distinct(&db, "c", "n", &filter).expect("distinct"),
        vec![Value::Int(5), Value::Int(6), Value::Int(7)]
    );
    let explain = cairn_query::explain(&db, "c", &Query::new(filter)).expect("explain");
    assert!(explain.chosen.description.contains("$closeTo k=3"));
    assert_eq!(explain.returned, 3);
    let nested =
        parse(r#"{"$or": [{"n": {"$closeTo": {"to": 6, "k": 3}}}, {"n": 1}]}"#).expect("parses");
    let err = cairn_query::count(&db, "c", &nested).expect_err("nested ranking");
    assert!(err.to_string().contains("top-level"), "{err}");
}
