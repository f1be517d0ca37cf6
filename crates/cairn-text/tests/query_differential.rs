//! `$text` through the query layer against the naive BM25 scorer: random corpora, random query
//! strings, combined with a random other condition, sort (on the score, on a field, or both),
//! skip and limit. Expected: the naive ranking of every document (score descending, ties by
//! `_id`), the documents the other condition rejects removed, the first `k` kept, then sorted
//! (ties by `_id`), skipped and limited — same documents in the same order, same scores to 1e-9
//! relative.

mod common;

use std::collections::BTreeMap;

use cairn_doc::{DocId, Object, Value};
use cairn_engine::Database;
use cairn_query::{find, parse_sort, Filter, Query};
use cairn_text::create_text_index;
use cairn_text::query::parse;
use proptest::prelude::*;

use common::{document, open_memory, query, spec, to_value, Naive};

/// The other condition: none, `n` equal to, `n` at least, `g` equal to.
#[derive(Debug, Clone)]
enum Other {
    None,
    NEquals(i64),
    NAtLeast(i64),
    GEquals(&'static str),
}

impl Other {
    fn holds(&self, doc: &Value) -> bool {
        let o = doc.as_object().expect("an object");
        match self {
            Other::None => true,
            Other::NEquals(v) => o.get("n").and_then(Value::as_i64) == Some(*v),
            Other::NAtLeast(v) => o.get("n").and_then(Value::as_i64).is_some_and(|n| n >= *v),
            Other::GEquals(g) => o.get("g").and_then(Value::as_str) == Some(*g),
        }
    }

    fn add_to(&self, filter: &mut Object) {
        match self {
            Other::None => {}
            Other::NEquals(v) => {
                filter.insert("n", Value::Int(*v));
            }
            Other::NAtLeast(v) => {
                let mut op = Object::new();
                op.insert("$gte", Value::Int(*v));
                filter.insert("n", Value::Object(op));
            }
            Other::GEquals(g) => {
                filter.insert("g", Value::String((*g).to_string()));
            }
        }
    }
}

fn other() -> impl Strategy<Value = Other> {
    prop_oneof![
        2 => Just(Other::None),
        1 => (0i64..4).prop_map(Other::NEquals),
        1 => (0i64..4).prop_map(Other::NAtLeast),
        1 => prop::sample::select(&["a", "b"][..]).prop_map(Other::GEquals),
    ]
}

/// Sorts as `{field: ±1, …}` (empty: the ranking's order).
const SORTS: &[&[(&str, bool)]] = &[
    &[],
    &[("_score", true)],
    &[("_score", false)],
    &[("n", false), ("_score", true)],
    &[("g", true), ("n", false)],
    &[("n", true)],
];

/// A document: the corpus's fields plus `n` (0–3) and `g` ("a"/"b"; absent for some).
fn with_fields(id: i64, d: &(String, Vec<String>, Vec<String>), n: i64, g: Option<&str>) -> Value {
    let mut value = to_value(id, d);
    if let Value::Object(o) = &mut value {
        o.insert("n", Value::Int(n));
        if let Some(g) = g {
            o.insert("g", Value::String(g.to_string()));
        }
    }
    value
}

/// The number a sort compares for `field` (absent fields first, as the value order has it).
fn sort_number(doc: &Value, score: f64, field: &str) -> (u8, f64, String) {
    match field {
        "_score" => (1, score, String::new()),
        "n" => match doc.as_object().and_then(|o| o.get("n")?.as_i64()) {
            Some(n) => (1, n as f64, String::new()),
            None => (0, 0.0, String::new()),
        },
        _ => match doc.as_object().and_then(|o| o.get(field)?.as_str()) {
            Some(s) => (2, 0.0, s.to_string()),
            None => (0, 0.0, String::new()),
        },
    }
}

/// The expected answer: (id, score) in order.
#[allow(clippy::too_many_arguments)]
fn expected(
    naive: &Naive,
    docs: &BTreeMap<i64, Value>,
    text: &str,
    k: usize,
    other: &Other,
    sort: &[(&str, bool)],
    skip: usize,
    limit: Option<usize>,
) -> Option<Vec<(i64, f64)>> {
    let parsed = parse(text).ok()?;
    let by_key: BTreeMap<Vec<u8>, i64> = docs
        .keys()
        .map(|&id| (DocId::Int(id).to_key().expect("key"), id))
        .collect();
    let mut rows: Vec<(Vec<u8>, i64, f64)> = naive
        .search(&parsed)
        .into_iter()
        .map(|(key, score)| (key.clone(), by_key[&key], score))
        .filter(|(_, id, _)| other.holds(&docs[id]))
        .take(k)
        .collect();
    if !sort.is_empty() {
        rows.sort_by(|a, b| {
            for (field, descending) in sort {
                let x = sort_number(&docs[&a.1], a.2, field);
                let y = sort_number(&docs[&b.1], b.2, field);
                let order =
                    x.0.cmp(&y.0)
                        .then(x.1.total_cmp(&y.1))
                        .then_with(|| x.2.cmp(&y.2));
                let order = if *descending { order.reverse() } else { order };
                if order.is_ne() {
                    return order;
                }
            }
            a.0.cmp(&b.0)
        });
    }
    Some(
        rows.into_iter()
            .skip(skip)
            .take(limit.unwrap_or(usize::MAX))
            .map(|(_, id, score)| (id, score))
            .collect(),
    )
}

#[allow(clippy::too_many_arguments)]
fn build_query(
    text: &str,
    k: usize,
    other: &Other,
    sort: &[(&str, bool)],
    skip: usize,
    limit: Option<usize>,
) -> Result<Query, cairn_query::QueryError> {
    let mut operand = Object::new();
    operand.insert("query", Value::String(text.to_string()));
    operand.insert("k", Value::Int(k as i64));
    let mut filter = Object::new();
    filter.insert("$text", Value::Object(operand));
    other.add_to(&mut filter);
    let mut query = Query::new(Filter::parse(&Value::Object(filter))?);
    let mut sort_doc = Object::new();
    for (field, descending) in sort {
        sort_doc.insert(*field, Value::Int(if *descending { -1 } else { 1 }));
    }
    query.sort = parse_sort(&Value::Object(sort_doc))?;
    query.skip = skip;
    query.limit = limit;
    Ok(query)
}

fn answer(found: &[Value]) -> Vec<(i64, f64)> {
    found
        .iter()
        .map(|d| {
            let o = d.as_object().expect("an object");
            (
                o.get("_id").and_then(Value::as_i64).expect("an int id"),
                o.get("_score").and_then(Value::as_f64).expect("a score"),
            )
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn check(
    db: &Database,
    naive: &Naive,
    docs: &BTreeMap<i64, Value>,
    text: &str,
    k: usize,
    other: &Other,
    sort: &[(&str, bool)],
    skip: usize,
    limit: Option<usize>,
) -> Result<(), TestCaseError> {
    let asked = build_query(text, k, other, sort, skip, limit);
    let Some(want) = expected(naive, docs, text, k, other, sort, skip, limit) else {
        prop_assert!(
            asked.is_err(),
            "{} parsed by $text but not by the index",
            text
        );
        return Ok(());
    };
    let query = asked.map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
    let got = find(db, "c", &query).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
    let got = answer(&got.documents);
    let label = format!("{text} k={k} {other:?} sort={sort:?} skip={skip} limit={limit:?}");
    prop_assert_eq!(
        got.iter().map(|r| r.0).collect::<Vec<_>>(),
        want.iter().map(|r| r.0).collect::<Vec<_>>(),
        "documents of {}",
        label
    );
    for ((_, a), (_, b)) in got.iter().zip(&want) {
        prop_assert!(
            (a - b).abs() <= 1e-9 * b.abs().max(1e-300),
            "score {} vs {} in {}",
            a,
            b,
            label
        );
    }
    Ok(())
}

type Doc = (
    (String, Vec<String>, Vec<String>),
    i64,
    Option<&'static str>,
);

fn doc() -> impl Strategy<Value = Doc> {
    (
        document(),
        0i64..4,
        prop::option::of(prop::sample::select(&["a", "b"][..])),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn text_in_find_matches_the_naive_scorer_with_filters_sorts_and_limits(
        corpus in prop::collection::vec(doc(), 1..40),
        asks in prop::collection::vec(
            (query(), 1usize..15, other(), 0..SORTS.len(), 0usize..3, prop::option::of(1usize..8)),
            1..10,
        ),
    ) {
        cairn_text::register_query_model();
        let db = open_memory();
        db.create_collection("c").unwrap();
        create_text_index(&db, "c", &spec(), &mut |_| {}).unwrap();
        let mut docs = BTreeMap::new();
        for (i, (d, n, g)) in corpus.iter().enumerate() {
            let value = with_fields(i as i64, d, *n, *g);
            db.insert("c", value.clone()).unwrap();
            docs.insert(i as i64, value);
        }
        let naive = Naive::new(spec(), &docs);
        for (text, k, other, sort, skip, limit) in &asks {
            check(&db, &naive, &docs, text, *k, other, SORTS[*sort], *skip, *limit)?;
        }
    }
}

/// Equal scores sort by `_id` whichever direction the score is sorted in, and a sort on the
/// score after another key breaks that key's ties by score.
#[test]
fn sorting_on_the_score_is_a_real_sort_key_with_ties_by_id() {
    cairn_text::register_query_model();
    let db = open_memory();
    db.create_collection("c").unwrap();
    create_text_index(&db, "c", &spec(), &mut |_| {}).unwrap();
    // Ids 0–3 hold the same title (equal scores); 4 mentions the fox twice (a higher score).
    let titles = ["fox dog", "fox dog", "fox dog", "fox dog", "fox fox dog"];
    for (i, title) in titles.iter().enumerate() {
        let d = (title.to_string(), vec![], vec![]);
        let n = [1, 0, 1, 0, 0][i];
        db.insert("c", with_fields(i as i64, &d, n, None)).unwrap();
    }
    let ids = |sort: &[(&str, bool)]| -> Vec<i64> {
        let query = build_query("fox", 10, &Other::None, sort, 0, None).unwrap();
        answer(&find(&db, "c", &query).unwrap().documents)
            .into_iter()
            .map(|r| r.0)
            .collect()
    };
    assert_eq!(ids(&[]), vec![4, 0, 1, 2, 3]);
    assert_eq!(ids(&[("_score", true)]), vec![4, 0, 1, 2, 3]);
    assert_eq!(ids(&[("_score", false)]), vec![0, 1, 2, 3, 4]);
    assert_eq!(ids(&[("n", false), ("_score", true)]), vec![4, 1, 3, 0, 2]);
    assert_eq!(ids(&[("n", false), ("_score", false)]), vec![1, 3, 4, 0, 2]);
}
