//! Query limits produce clear errors instead of unbounded work.

use std::sync::Arc;
use std::time::Duration;

use cairn_doc::Value;
use cairn_engine::{Config, Database, StorageMode};
use cairn_index::IndexExtensionKind;
use cairn_query::{find, Filter, Query, QueryError};

fn database(docs: i64) -> Database {
    let mut config = Config::new(std::path::PathBuf::new(), StorageMode::MemoryOnly);
    config.extension_kinds.push(Arc::new(IndexExtensionKind));
    let db = Database::open(config).unwrap();
    db.create_collection("c").unwrap();
    let mut txn = db.begin().unwrap();
    for i in 0..docs {
        txn.insert(
            "c",
            Value::from_json_str(&format!(r#"{{"_id": {i}, "v": {i}}}"#)).unwrap(),
        )
        .unwrap();
    }
    txn.commit().unwrap();
    db
}

#[test]
fn exceeding_the_time_budget_is_a_clear_error() {
    let db = database(2_000);
    let mut query = Query::new(Filter::field("v").unwrap().gte(0));
    query.time_budget = Duration::ZERO;
    match find(&db, "c", &query) {
        Err(err @ QueryError::TimedOut { .. }) => {
            assert!(err.to_string().contains("time budget"), "{err}")
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[test]
fn in_lists_and_unknown_collections_are_refused() {
    let db = database(1);
    let list: Vec<String> = (0..10_001).map(|i| i.to_string()).collect();
    let filter = format!(r#"{{"v": {{"$in": [{}]}}}}"#, list.join(","));
    let err = Filter::parse(&Value::from_json_expression(&filter).unwrap()).unwrap_err();
    assert!(err.to_string().contains("limit is 10000"), "{err}");
    let err = find(&db, "nope", &Query::new(Filter::All)).unwrap_err();
    assert!(err.to_string().contains("`nope` does not exist"), "{err}");
}

#[test]
fn results_are_paged_not_truncated() {
    let db = database(10);
    let page = find(&db, "c", &Query::new(Filter::All).limit(4)).unwrap();
    assert_eq!(page.documents.len(), 4);
    assert!(page.cursor.is_some(), "a full page says more results exist");
    let err = find(&db, "c", &Query::new(Filter::All).after("garbage!")).unwrap_err();
    assert!(matches!(err, QueryError::InvalidCursor(_)));
}

#[test]
fn a_page_ends_early_at_its_byte_budget_and_the_cursor_continues_it() {
    let db = database(10);
    let one =
        cairn_doc::encoded_len(&Value::from_json_str(r#"{"_id": 0, "v": 0}"#).unwrap()).unwrap();
    let mut query = Query::new(Filter::All);
    query.max_page_bytes = Some(one * 3 + one / 2);
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = find(&db, "c", &query).unwrap();
        pages += 1;
        assert!(page.documents.len() <= 3, "{:?}", page.documents);
        seen.extend(
            page.documents
                .iter()
                .map(|d| d.as_object().and_then(|o| o.get("_id")).cloned()),
        );
        match page.cursor {
            Some(cursor) => query.after = Some(cursor),
            None => break,
        }
        assert!(pages < 20, "paging does not end");
    }
    let expected: Vec<_> = (0..10).map(|i| Some(Value::Int(i))).collect();
    assert_eq!(seen, expected, "every document once, in order");
    query.after = None;
    query.max_page_bytes = Some(1);
    let err = find(&db, "c", &query).unwrap_err();
    assert!(matches!(err, QueryError::TooLarge { .. }), "{err}");
}

#[test]
fn a_cancelled_query_stops_with_a_clear_error() {
    use std::sync::atomic::AtomicBool;
    let db = database(2_000);
    let cancelled = Arc::new(AtomicBool::new(true));
    let query = Query::new(Filter::field("v").unwrap().gte(0));
    let outcome = cairn_query::cancel::scope(cancelled, || find(&db, "c", &query));
    assert!(matches!(outcome, Err(QueryError::Cancelled)), "{outcome:?}");
    assert_eq!(find(&db, "c", &query).unwrap().documents.len(), 2_000);
}
