//! Reading the adjacency index: the edges of one vertex, as a prefix scan of `out` and/or
//! `in` — one B-tree descent plus one step per edge, never a scan of the edge collection.

use std::ops::Bound;

use cairn_doc::{DocId, Value};
use cairn_engine::{EngineError, Transaction};

use crate::budget::Meter;
use crate::error::{GraphError, Result};
use crate::layout::{IN_TABLE, OUT_TABLE};
use crate::traverse::Walk;
use crate::vertex::{split_key, VertexRef};
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
/// list), the edge's key and the other vertex's key, the direction it was found in, and the
/// edge's stored properties when the query uses them and the entry carries them.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub(crate) collection: usize,
    pub(crate) edge_key: Vec<u8>,
    pub(crate) other: Vec<u8>,
    pub(crate) direction: Direction,
    pub(crate) stored: Option<Value>,
}

/// What one query knows about the edge collections it walks, read once from the catalog:
/// which properties each stores in its adjacency, and so whether the edge filter and the
/// weight can be answered from stored values.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    /// Per edge collection: the edge filter reads only stored properties.
    pub(crate) filter_stored: Vec<bool>,
    /// Per edge collection: the weight field is a stored property.
    pub(crate) weight_stored: Vec<bool>,
}

impl Prepared {
    /// Reads the stored-property lists of `walk`'s edge collections (refusing a collection
    /// that is not an edge collection) and decides what can be answered from them.
    pub(crate) fn new(
        txn: &mut Transaction,
        walk: &Walk<'_>,
        weight: Option<&str>,
    ) -> Result<Self> {
        crate::traverse::check_collections(walk.edge_collections)?;
        let mut prepared = Prepared {
            filter_stored: Vec::new(),
            weight_stored: Vec::new(),
        };
        for name in walk.edge_collections {
            let stored = crate::admin::stored_properties(txn, name)?.ok_or_else(|| {
                GraphError::NotEdgeCollection {
                    collection: name.clone(),
                }
            })?;
            let filter = walk.edge_filter.is_some()
                && walk
                    .edge_filter_fields
                    .is_some_and(|fields| crate::stored::covers(&stored, fields));
            let weight = weight.is_some_and(|field| {
                let top = field.split('.').next().unwrap_or(field);
                stored.iter().any(|name| name == top)
            });
            prepared.filter_stored.push(filter);
            prepared.weight_stored.push(weight);
        }
        Ok(prepared)
    }

    /// Whether entries of edge collection `index` should carry their stored properties.
    fn wants_stored(&self, index: usize) -> bool {
        self.filter_stored[index] || self.weight_stored[index]
    }

    /// How the query reads edges, for `explain`.
    pub(crate) fn describe(&self, walk: &Walk<'_>, weight: Option<&str>) -> String {
        let side = match walk.direction {
            Direction::Out => "out",
            Direction::In => "in",
            Direction::Any => "out+in",
        };
        let mut text = format!("adjacency {side} of {}", walk.edge_collections.join(", "));
        let listed = |flags: &[bool]| -> Vec<&str> {
            walk.edge_collections
                .iter()
                .zip(flags)
                .filter(|(_, on)| **on)
                .map(|(name, _)| name.as_str())
                .collect()
        };
        if walk.edge_filter.is_some() {
            let from_stored = listed(&self.filter_stored);
            if from_stored.len() == walk.edge_collections.len() {
                text.push_str("; edge filter on stored properties");
            } else if from_stored.is_empty() {
                text.push_str("; edge filter reads edge documents");
            } else {
                text.push_str(&format!(
                    "; edge filter on stored properties of {}, else reads edge documents",
                    from_stored.join(", ")
                ));
            }
        }
        if let Some(field) = weight {
            let from_stored = listed(&self.weight_stored);
            if from_stored.len() == walk.edge_collections.len() {
                text.push_str(&format!("; weight `{field}` stored in the adjacency"));
            } else {
                text.push_str(&format!("; weight `{field}` read from edge documents"));
                if !from_stored.is_empty() {
                    text.push_str(&format!(" (stored for {})", from_stored.join(", ")));
                }
            }
        }
        text
    }
}

/// Appends the adjacency entries of `vertex` (its key) in edge collection `edges` (number
/// `index` of the query's list) to `out`: outgoing then incoming for [`Direction::Any`].
/// `with_stored`: decode the stored properties of each entry carrying them.
pub(crate) fn adjacent(
    txn: &mut Transaction,
    (index, edges): (usize, &str),
    vertex: &[u8],
    (direction, with_stored): (Direction, bool),
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
            |key, value| {
                let (other, tail) = split_value(edges, value)?;
                if skip_loops && other == vertex {
                    return Ok(true);
                }
                let stored = match (with_stored, tail) {
                    (true, tail) if !tail.is_empty() => Some(crate::stored::decode(edges, tail)?),
                    _ => None,
                };
                out.push(Step {
                    collection: index,
                    edge_key: key.get(vertex.len()..).unwrap_or_default().to_vec(),
                    other: other.to_vec(),
                    direction: found,
                    stored,
                });
                Ok::<_, GraphError>(true)
            },
        );
        scanned.map_err(|err| match err {
            GraphError::Engine(EngineError::ExtensionState { .. }) => {
                GraphError::NotEdgeCollection {
                    collection: edges.to_string(),
                }
            }
            other => other,
        })?;
    }
    Ok(())
}

/// Splits an adjacency value into the other vertex's key and the stored properties.
fn split_value<'v>(edges: &str, value: &'v [u8]) -> Result<(&'v [u8], &'v [u8])> {
    let (len, tail) = split_key(value).ok_or_else(|| GraphError::Corrupt {
        collection: edges.to_string(),
        detail: "an adjacency value holds no vertex key".into(),
    })?;
    Ok((&value[..len], tail))
}

/// Reads the adjacency of `key` in every edge collection of `walk` and keeps the steps whose
/// edge passes the edge filter.
pub(crate) fn expand(
    txn: &mut Transaction,
    (walk, prepared): (&Walk<'_>, &Prepared),
    key: &[u8],
    steps: &mut Vec<Step>,
    meter: &mut Meter,
) -> Result<()> {
    steps.clear();
    meter.counts.vertices_expanded += 1;
    for (index, edges) in walk.edge_collections.iter().enumerate() {
        let with_stored = prepared.wants_stored(index);
        adjacent(
            txn,
            (index, edges),
            key,
            (walk.direction, with_stored),
            steps,
        )?;
    }
    meter.counts.adjacency_entries += steps.len() as u64;
    filter_edges(txn, (walk, prepared), steps, meter)
}

/// Keeps the steps whose edge passes `walk`'s edge filter: on the stored properties where
/// they answer it, else on the edge document (read by its key).
fn filter_edges(
    txn: &mut Transaction,
    (walk, prepared): (&Walk<'_>, &Prepared),
    steps: &mut Vec<Step>,
    meter: &mut Meter,
) -> Result<()> {
    let Some(filter) = walk.edge_filter else {
        return Ok(());
    };
    let mut kept = Vec::with_capacity(steps.len());
    for step in steps.drain(..) {
        let passes = match &step.stored {
            Some(stored) if prepared.filter_stored[step.collection] => {
                meter.counts.stored_property_reads += 1;
                filter(stored)
            }
            _ => {
                meter.counts.edge_documents_read += 1;
                let collection = &walk.edge_collections[step.collection];
                txn.get_by_key(collection, &step.edge_key)?
                    .is_some_and(|doc| filter(&doc))
            }
        };
        if passes {
            kept.push(step);
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
/// Runs in `txn`, so it sees the transaction's own writes. [`neighbours_walk`] takes a
/// [`Walk`], whose edge filter can be answered from stored properties.
pub fn neighbours(
    txn: &mut Transaction,
    vertex: &VertexRef,
    direction: Direction,
    edge_collections: &[String],
    edge_filter: Option<DocFilter<'_>>,
) -> Result<Vec<Neighbour>> {
    let mut walk = Walk::new(edge_collections, direction);
    walk.edge_filter = edge_filter;
    neighbours_walk(txn, vertex, &walk)
}

/// The edges of `vertex` that `walk` follows, with the vertex at their other end (see
/// [`neighbours`]); the edge filter runs on stored properties when they cover it.
pub fn neighbours_walk(
    txn: &mut Transaction,
    vertex: &VertexRef,
    walk: &Walk<'_>,
) -> Result<Vec<Neighbour>> {
    let prepared = Prepared::new(txn, walk, None)?;
    let key = vertex.key()?;
    let mut steps = Vec::new();
    let mut meter = Meter::new(walk.budget);
    expand(txn, (walk, &prepared), &key, &mut steps, &mut meter)?;
    let edge_collections = walk.edge_collections;
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
    adjacent(txn, (0, edges), &key, (direction, false), &mut steps)?;
    Ok(steps.into_iter().map(|step| step.edge_key).collect())
}
