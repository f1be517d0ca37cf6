//! A query: filter, sort, skip, limit, projection and pagination cursor.

use std::time::Duration;

use cairn_doc::{FieldPath, Value};
use cairn_index::{keys, path_values};

use crate::error::{QueryError, Result};
use crate::filter::Filter;
use crate::limits::{DEFAULT_TIME_BUDGET, MAX_SORT_FIELDS};
use crate::projection::Projection;

/// One sort key.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    /// The field.
    pub path: FieldPath,
    /// Descending instead of ascending.
    pub descending: bool,
}

/// A find query.
#[derive(Debug, Clone)]
pub struct Query {
    /// Which documents.
    pub filter: Filter,
    /// Order; ties (and an empty sort) are broken by `_id` ascending, so order is total.
    pub sort: Vec<SortKey>,
    /// Matching documents to skip.
    pub skip: usize,
    /// At most this many documents.
    pub limit: Option<usize>,
    /// Which fields to return.
    pub projection: Option<Projection>,
    /// Continue after this cursor (from a previous page's result).
    pub after: Option<String>,
    /// Time budget; exceeding it fails the query with [`QueryError::TimedOut`].
    pub time_budget: Duration,
    /// Ends a page early, with a cursor, before its documents (projected, encoded size)
    /// would pass this many bytes; a first document over it alone fails the query with
    /// [`QueryError::TooLarge`]. `None`: pages are bounded by `limit` only. Servers set it so
    /// a page of large documents cannot grow a response without bound.
    pub max_page_bytes: Option<usize>,
}

impl Query {
    /// A query for the documents matching `filter`, in `_id` order.
    pub fn new(filter: Filter) -> Query {
        Query {
            filter,
            sort: Vec::new(),
            skip: 0,
            limit: None,
            projection: None,
            after: None,
            time_budget: DEFAULT_TIME_BUDGET,
            max_page_bytes: None,
        }
    }

    /// Builder: sort by `path` (ascending unless `descending`).
    pub fn sort_by(mut self, path: &str, descending: bool) -> Result<Query> {
        let path =
            FieldPath::parse(path).map_err(|err| QueryError::invalid(path, err.to_string()))?;
        self.sort.push(SortKey { path, descending });
        Ok(self)
    }

    /// Builder: limit.
    pub fn limit(mut self, limit: usize) -> Query {
        self.limit = Some(limit);
        self
    }

    /// Builder: skip.
    pub fn skip(mut self, skip: usize) -> Query {
        self.skip = skip;
        self
    }

    /// Builder: continue after a cursor.
    pub fn after(mut self, cursor: impl Into<String>) -> Query {
        self.after = Some(cursor.into());
        self
    }
}

/// Parses a sort specification: `{"age": -1, "name": 1}`.
pub fn parse_sort(json: &Value) -> Result<Vec<SortKey>> {
    let object = json
        .as_object()
        .ok_or_else(|| QueryError::invalid("sort", "expects an object such as {\"age\": -1}"))?;
    if object.len() > MAX_SORT_FIELDS {
        return Err(QueryError::invalid(
            "sort",
            format!("{} fields; the limit is {MAX_SORT_FIELDS}", object.len()),
        ));
    }
    object
        .iter()
        .map(|(key, direction)| {
            let place = format!("sort.{key}");
            let path = FieldPath::parse(key)
                .map_err(|err| QueryError::invalid(&place, err.to_string()))?;
            let descending = match direction.as_i64() {
                Some(1) => false,
                Some(-1) => true,
                _ => return Err(QueryError::invalid(&place, "direction must be 1 or -1")),
            };
            Ok(SortKey { path, descending })
        })
        .collect()
}

/// The value a document sorts by on `path`: the value reached, null when missing, and the
/// list of values when a path fans out over an array of objects.
pub fn sort_value(path: &FieldPath, doc: &Value) -> Value {
    let mut reached = Vec::new();
    path_values::collect(path, doc, &mut reached);
    match reached.len() {
        0 => Value::Null,
        1 => reached[0].clone(),
        _ => Value::Array(reached.into_iter().cloned().collect()),
    }
}

/// Appends the byte key a document sorts by: each sort value's order-preserving encoding
/// (inverted for descending keys: the encodings are prefix-free, so inverting every byte
/// reverses their order), then the document key as the tie-breaker.
pub fn sort_key(sort: &[SortKey], doc: &Value, doc_key: &[u8], out: &mut Vec<u8>) {
    for key in sort {
        let start = out.len();
        keys::encode(&sort_value(&key.path, doc), out);
        if key.descending {
            for byte in &mut out[start..] {
                *byte = !*byte;
            }
        }
    }
    out.extend_from_slice(doc_key);
}
