//! What several query test files share: an in-memory database with secondary indexes, and the
//! naive reference answer the planner's answers are compared with.

// Each test file compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::sync::Arc;

use cairn_doc::Value;
use cairn_engine::{Config, Database, StorageMode};
use cairn_index::IndexExtensionKind;
use cairn_index::{keys, path_values};
use cairn_query::sort_key;
use cairn_query::{find, Filter, Query, SortKey};

/// A memory-only database with the secondary-index kind registered.
pub fn open_memory() -> Database {
    let mut config = Config::new(std::path::PathBuf::new(), StorageMode::MemoryOnly);
    config.extension_kinds.push(Arc::new(IndexExtensionKind));
    Database::open(config).expect("open")
}

/// The naive answer: every document, filtered, sorted by the documented sort key.
pub fn naive(docs: &[(Vec<u8>, Value)], filter: &Filter, sort: &[SortKey]) -> Vec<Value> {
    let mut rows: Vec<(Vec<u8>, Value)> = docs
        .iter()
        .filter(|(_, d)| filter.matches(d))
        .map(|(k, d)| {
            let mut key = Vec::new();
            sort_key(sort, d, k, &mut key);
            (key, d.clone())
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows.into_iter().map(|(_, d)| d).collect()
}

/// Every document `query` finds, read page by page (`page` documents each, from skip 0) by
/// following the cursor: paging must yield the same sequence as one unlimited query.
pub fn find_paged(db: &Database, collection: &str, query: &Query, page: usize) -> Vec<Value> {
    let mut paged = Vec::new();
    let mut page_query = query.clone();
    page_query.skip = 0;
    page_query.limit = Some(page);
    loop {
        let found = find(db, collection, &page_query).expect("find a page");
        paged.extend(found.documents);
        match found.cursor {
            Some(c) => page_query.after = Some(c),
            None => return paged,
        }
    }
}

/// The naive `distinct`: every value (array elements separately) `field` reaches in the
/// matching documents, once each, in the total value order.
pub fn naive_distinct(docs: &[(Vec<u8>, Value)], filter: &Filter, field: &str) -> Vec<Value> {
    let path = cairn_doc::FieldPath::parse(field).expect("field path");
    let mut seen = std::collections::BTreeMap::new();
    for (_, doc) in docs.iter().filter(|(_, d)| filter.matches(d)) {
        let mut reached = Vec::new();
        path_values::collect(&path, doc, &mut reached);
        for value in reached {
            let items: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for item in items {
                seen.entry(keys::encode_to_vec(item))
                    .or_insert_with(|| item.clone());
            }
        }
    }
    seen.into_values().collect()
}
