//! Reading the adjacency index: the edges of one vertex, as a prefix scan of `out` and/or
//! `in` — one B-tree descent plus one step per edge, never a scan of the edge collection.

use std::ops::Bound;

use cairn_doc::{DocId, Value};
use cairn_engine::{EngineError, Transaction};

use crate::error::{GraphError, Result};
use crate::layout::{IN_TABLE, OUT_TABLE};
use crate::vertex::VertexRef;
use crate::EDGE_EXTENSION;

/// Which edges of a vertex a query follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Edges whose `_from` is the vertex.
    Out,
    /// Edges whose `_to` is the vertex.
    In,
    /// Both; a self-loop is followed once (as outgoing).
    Any,
}

impl Direction {
    /// Parses `out`, `in` or `any`.
    pub fn parse(text: &str) -> Option<Direction> {
        match text {
            "out" => Some(Direction::Out),
            "in" => Some(Direction::In),
            "any" => Some(Direction::Any),
            _ => None,
        }
    }
}

/// An edge: a document of an edge collection.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EdgeRef {
    /// The edge collection.
    pub collection: String,
    /// The edge document's `_id`.
    pub id: DocId,
}

/// One edge at a vertex and the vertex at its other end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbour {
    /// The edge.
    pub edge: EdgeRef,
    /// The vertex at the other end (the vertex itself for a self-loop).
    pub vertex: VertexRef,
    /// [`Direction::Out`] when the edge leaves the vertex, [`Direction::In`] when it arrives.
    pub direction: Direction,
}

/// A filter on edge (or vertex) documents: `true` keeps it. The facade adapts the ordinary
/// filter language (`cairn::query::Filter`) to this.
pub type DocFilter<'f> = &'f dyn Fn(&Value) -> bool;

/// The exclusive end of the key range starting with `prefix`: the next prefix in byte order
/// (`None` when every byte is 0xff: the range is unbounded).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// One adjacency entry found for a vertex: which edge collection (index into the query's
/// list), the edge's key and the other vertex's key, and the direction it was found in.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub(crate) collection: usize,
    pub(crate) edge_key: Vec<u8>,
    pub(crate) other: Vec<u8>,
    pub(crate) direction: Direction,
}

/// Appends the adjacency entries of `vertex` (its key) in edge collection `edges` (number
/// `index` of the query's list) to `out`: outgoing then incoming for [`Direction::Any`].
pub(crate) fn adjacent(
    txn: &mut Transaction,
    (index, edges): (usize, &str),
    vertex: &[u8],
    direction: Direction,
    out: &mut Vec<Step>,
) -> Result<()> {
    let end = prefix_end(vertex);
    let end = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
    let tables: &[(&str, Direction)] = match direction {
        Direction::Out => &[(OUT_TABLE, Direction::Out)],
        Direction::In => &[(IN_TABLE, Direction::In)],
        Direction::Any => &[(OUT_TABLE, Direction::Out), (IN_TABLE, Direction::In)],
    };
    for &(table, found) in tables {
        let skip_loops = direction == Direction::Any && found == Direction::In;
        let scanned = txn.extension_range(
            edges,
            EDGE_EXTENSION,
            table,
            Bound::Included(vertex),
            end,
            |key, other| {
                if skip_loops && other == vertex {
                    return Ok(true);
                }
                out.push(Step {
                    collection: index,
                    edge_key: key.get(vertex.len()..).unwrap_or_default().to_vec(),
                    other: other.to_vec(),
                    direction: found,
                });
                Ok(true)
            },
        );
        scanned.map_err(|err| match err {
            EngineError::ExtensionState { .. } => GraphError::NotEdgeCollection {
                collection: edges.to_string(),
            },
            other => other.into(),
        })?;
    }
    Ok(())
}

/// Keeps the steps whose edge document passes `filter` (each edge read by its key).
pub(crate) fn filter_edges(
    txn: &mut Transaction,
    edge_collections: &[String],
    steps: &mut Vec<Step>,
    filter: Option<DocFilter<'_>>,
) -> Result<()> {
    let Some(filter) = filter else {
        return Ok(());
    };
    let mut kept = Vec::with_capacity(steps.len());
    for step in steps.drain(..) {
        let collection = &edge_collections[step.collection];
        if let Some(doc) = txn.get_by_key(collection, &step.edge_key)? {
            if filter(&doc) {
                kept.push(step);
            }
        }
    }
    *steps = kept;
    Ok(())
}

/// Decodes an edge key of `collection` found in its adjacency.
pub(crate) fn edge_ref(collection: &str, key: &[u8]) -> Result<EdgeRef> {
    let id = DocId::decode_key(key).map_err(|err| GraphError::Corrupt {
        collection: collection.to_string(),
        detail: format!("bad edge key: {err}"),
    })?;
    Ok(EdgeRef {
        collection: collection.to_string(),
        id,
    })
}

/// Decodes a vertex key found in `collection`'s adjacency.
pub(crate) fn vertex_ref(collection: &str, key: &[u8]) -> Result<VertexRef> {
    match VertexRef::decode_key(key) {
        Some((vertex, [])) => Ok(vertex),
        _ => Err(GraphError::Corrupt {
            collection: collection.to_string(),
            detail: "bad vertex key".into(),
        }),
    }
}

/// The edges of `vertex` in `edge_collections` in `direction`, with the vertex at their other
/// end, narrowed by `edge_filter` (applied to the edge documents). Reads the adjacency index
/// of each edge collection once per direction: O(log n + degree), plus one document read per
/// edge when filtering. Order: per edge collection, outgoing then incoming, by edge key.
/// Runs in `txn`, so it sees the transaction's own writes.
pub fn neighbours(
    txn: &mut Transaction,
    vertex: &VertexRef,
    direction: Direction,
    edge_collections: &[String],
    edge_filter: Option<DocFilter<'_>>,
) -> Result<Vec<Neighbour>> {
    crate::traverse::check_collections(edge_collections)?;
    let key = vertex.key()?;
    let mut steps = Vec::new();
    for (index, edges) in edge_collections.iter().enumerate() {
        adjacent(txn, (index, edges), &key, direction, &mut steps)?;
    }
    filter_edges(txn, edge_collections, &mut steps, edge_filter)?;
    steps
        .into_iter()
        .map(|step| {
            let collection = &edge_collections[step.collection];
            Ok(Neighbour {
                edge: edge_ref(collection, &step.edge_key)?,
                vertex: vertex_ref(collection, &step.other)?,
                direction: step.direction,
            })
        })
        .collect()
}

/// The document keys of the edges of `vertex` in edge collection `edges` in `direction`
/// (outgoing then incoming for [`Direction::Any`], a self-loop once), straight from the
/// adjacency index: one prefix scan per table, no edge document read. What the query
/// planner's adjacency access method returns for `{_from: v}` / `{_to: v}`.
pub fn edge_keys(
    txn: &mut Transaction,
    edges: &str,
    vertex: &VertexRef,
    direction: Direction,
) -> Result<Vec<Vec<u8>>> {
    let key = vertex.key()?;
    let mut steps = Vec::new();
    adjacent(txn, (0, edges), &key, direction, &mut steps)?;
    Ok(steps.into_iter().map(|step| step.edge_key).collect())
}
