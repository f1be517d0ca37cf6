//! Traversals: breadth-first from one or more start vertices, over one or more edge
//! collections, with depth bounds, edge and vertex filters, uniqueness and a limit.
//!
//! Semantics (pinned by the model-based tests):
//! * Depth 0 is a start vertex itself; results are the vertices reached at depths
//!   `min_depth..=max_depth`, in breadth-first order (by depth; within a depth, in the order
//!   their parents were expanded, and per parent by edge collection, direction, edge key).
//! * [`Uniqueness::Global`]: each vertex is reached once per traversal, at its smallest depth
//!   (so a vertex's depth is its hop distance from the nearest start vertex), by the first
//!   edge that reached it. [`Uniqueness::Path`]: each *path* is a result, and a vertex occurs
//!   at most once on a path — the number of results can grow exponentially with the depth,
//!   which the memory limit and `limit` bound.
//! * An edge failing the edge filter is not followed. A vertex failing the vertex filter
//!   (or whose document does not exist) is neither returned nor expanded; start vertices are
//!   always expanded, and returned at depth 0 only if they pass.

use cairn_doc::Value;
use cairn_engine::{EngineError, Transaction};
use foldhash::{HashSet, HashSetExt};

use crate::budget::{Budget, Meter};
use crate::error::{GraphError, Result};
use crate::explain::GraphExplain;
use crate::limits::{MAX_EDGE_COLLECTIONS_PER_QUERY, MAX_START_VERTICES, MAX_TRAVERSAL_DEPTH};
use crate::read::{edge_ref, expand, vertex_ref, Direction, DocFilter, EdgeRef, Prepared};
use crate::vertex::{key_collection, key_id, VertexRef};

/// What every graph query walks: which edge collections, which way, which edges.
#[derive(Clone, Copy)]
pub struct Walk<'a> {
    /// The edge collections followed (at most [`MAX_EDGE_COLLECTIONS_PER_QUERY`]).
    pub edge_collections: &'a [String],
    /// Which way edges are followed.
    pub direction: Direction,
    /// Edges whose document fails this are not followed.
    pub edge_filter: Option<DocFilter<'a>>,
    /// The top-level fields `edge_filter` reads, when the caller knows them (the facade
    /// derives them from a filter of the query language). When an edge collection stores
    /// every one in its adjacency ([`crate::EdgeOptions::properties`]), the filter runs on
    /// the stored values and no edge document is read. `None`: unknown, read the documents.
    pub edge_filter_fields: Option<&'a [String]>,
    /// Time budget and memory limit.
    pub budget: Budget,
}

impl<'a> Walk<'a> {
    /// Follows `edge_collections` in `direction`, no filter, the default budget.
    pub fn new(edge_collections: &'a [String], direction: Direction) -> Walk<'a> {
        Walk {
            edge_collections,
            direction,
            edge_filter: None,
            edge_filter_fields: None,
            budget: Budget::default(),
        }
    }
}

/// Whether a traversal reaches a vertex once, or once per path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    /// Each vertex once per traversal (at its smallest depth).
    Global,
    /// Each vertex at most once per path; every such path is a result.
    Path,
}

/// What each result carries besides the vertex and its depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returns {
    /// The vertex only.
    Vertices,
    /// Also the edge it was reached by.
    Edges,
    /// Also the whole path from its start vertex.
    Paths,
}

/// A traversal: see the module documentation for its semantics.
#[derive(Clone, Copy)]
pub struct Traversal<'a> {
    /// Edges followed.
    pub walk: Walk<'a>,
    /// Smallest depth returned (0 returns the start vertices).
    pub min_depth: u32,
    /// Largest depth reached (at most [`MAX_TRAVERSAL_DEPTH`]).
    pub max_depth: u32,
    /// Once per traversal or once per path.
    pub uniqueness: Uniqueness,
    /// Vertices whose document fails this are neither returned nor expanded.
    pub vertex_filter: Option<DocFilter<'a>>,
    /// Which collections the vertex filter may read documents of (by name); a vertex of any
    /// other collection fails the filter unread. `None`: all. A server passes the caller's
    /// read access here, so a filter cannot probe documents access hides.
    pub readable: Option<&'a dyn Fn(&str) -> bool>,
    /// What each result carries.
    pub returns: Returns,
    /// Stop after this many results.
    pub limit: Option<usize>,
}

impl<'a> Traversal<'a> {
    /// Depths 1 to `max_depth`, global uniqueness, vertices, no filter or limit.
    pub fn new(walk: Walk<'a>, max_depth: u32) -> Traversal<'a> {
        Traversal {
            walk,
            min_depth: 1,
            max_depth,
            uniqueness: Uniqueness::Global,
            vertex_filter: None,
            readable: None,
            returns: Returns::Vertices,
            limit: None,
        }
    }
}

/// A path: `vertices[i]` and `vertices[i + 1]` are joined by `edges[i]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// The vertices, from the start.
    pub vertices: Vec<VertexRef>,
    /// The edges, one fewer than the vertices.
    pub edges: Vec<EdgeRef>,
    /// The number of edges, or the sum of their weights for a weighted shortest path.
    pub weight: f64,
}

/// One traversal result.
#[derive(Debug, Clone, PartialEq)]
pub struct Visit {
    /// The vertex reached.
    pub vertex: VertexRef,
    /// Its depth (hops from its start vertex along this path).
    pub depth: u32,
    /// The edge it was reached by ([`Returns::Edges`] and [`Returns::Paths`], depth > 0).
    pub edge: Option<EdgeRef>,
    /// The path from its start vertex ([`Returns::Paths`]).
    pub path: Option<Path>,
}

/// A reached vertex in the traversal's arena: every path is a chain of parent links.
struct Node {
    key: Vec<u8>,
    depth: u32,
    parent: Option<usize>,
    /// Edge collection index and edge key of the edge from the parent.
    edge: Option<(usize, Vec<u8>)>,
}

/// Refuses an empty or too long list of edge collections.
pub(crate) fn check_collections(edge_collections: &[String]) -> Result<()> {
    if edge_collections.is_empty() || edge_collections.len() > MAX_EDGE_COLLECTIONS_PER_QUERY {
        return Err(GraphError::InvalidQuery {
            reason: format!(
                "a query follows 1 to {MAX_EDGE_COLLECTIONS_PER_QUERY} edge collections; {} given",
                edge_collections.len()
            ),
        });
    }
    Ok(())
}

/// Refuses a depth beyond [`MAX_TRAVERSAL_DEPTH`].
pub(crate) fn check_depth(what: &str, depth: u32) -> Result<()> {
    if depth > MAX_TRAVERSAL_DEPTH {
        return Err(GraphError::InvalidQuery {
            reason: format!("{what} is {depth}; the limit is {MAX_TRAVERSAL_DEPTH}"),
        });
    }
    Ok(())
}

/// Whether the vertex with adjacency key `key` exists and passes `spec`'s vertex filter
/// (reading only collections `spec.readable` allows).
fn vertex_passes(
    txn: &mut Transaction,
    key: &[u8],
    spec: &Traversal<'_>,
    meter: &mut Meter,
) -> Result<bool> {
    let (filter, readable) = (spec.vertex_filter, spec.readable);
    let Some(filter) = filter else {
        return Ok(true);
    };
    let (Some(collection), Some(id)) = (key_collection(key), key_id(key)) else {
        return Ok(false);
    };
    if readable.is_some_and(|readable| !readable(collection)) {
        return Ok(false);
    }
    meter.counts.vertex_documents_read += 1;
    match txn.get_by_key(collection, id) {
        Ok(Some(doc)) => Ok(filter(&doc)),
        Ok(None) | Err(EngineError::UnknownCollection { .. }) => Ok(false),
        Err(other) => Err(other.into()),
    }
}

/// Runs a traversal from `starts` in `txn` (its snapshot and its own writes).
pub fn traverse(
    txn: &mut Transaction,
    starts: &[VertexRef],
    spec: &Traversal<'_>,
) -> Result<Vec<Visit>> {
    traverse_explained(txn, starts, spec).map(|(visits, _)| visits)
}

/// [`traverse`], also returning what it did (`explain`).
pub fn traverse_explained(
    txn: &mut Transaction,
    starts: &[VertexRef],
    spec: &Traversal<'_>,
) -> Result<(Vec<Visit>, GraphExplain)> {
    check_collections(spec.walk.edge_collections)?;
    check_depth("max_depth", spec.max_depth)?;
    if spec.min_depth > spec.max_depth {
        return Err(GraphError::InvalidQuery {
            reason: format!(
                "min_depth {} is above max_depth {}",
                spec.min_depth, spec.max_depth
            ),
        });
    }
    if starts.len() > MAX_START_VERTICES {
        return Err(GraphError::InvalidQuery {
            reason: format!(
                "{} start vertices; the limit is {MAX_START_VERTICES}",
                starts.len()
            ),
        });
    }
    let prepared = Prepared::new(txn, &spec.walk, None)?;
    let mut run = Run {
        spec,
        prepared: &prepared,
        meter: Meter::new(spec.walk.budget),
        arena: Vec::new(),
        visited: HashSet::new(),
        results: Vec::new(),
    };
    run.go(txn, starts)?;
    let uniqueness = match spec.uniqueness {
        Uniqueness::Global => "global",
        Uniqueness::Path => "path",
    };
    let mut plan = format!(
        "breadth-first from {} start vertices, depth {}..{}, {uniqueness} uniqueness; {}",
        starts.len(),
        spec.min_depth,
        spec.max_depth,
        prepared.describe(&spec.walk, None)
    );
    if spec.vertex_filter.is_some() {
        plan.push_str("; vertex filter reads vertex documents");
    }
    if let Some(limit) = spec.limit {
        plan.push_str(&format!("; limit {limit}"));
    }
    let explain = GraphExplain::of(plan, &run.meter, run.results.len() as u64);
    Ok((run.results, explain))
}

/// The state of one traversal.
struct Run<'s, 'a> {
    spec: &'s Traversal<'a>,
    prepared: &'s Prepared,
    meter: Meter,
    arena: Vec<Node>,
    visited: HashSet<Vec<u8>>,
    results: Vec<Visit>,
}

impl Run<'_, '_> {
    fn go(&mut self, txn: &mut Transaction, starts: &[VertexRef]) -> Result<()> {
        let mut frontier = Vec::new();
        for start in starts {
            let key = start.key()?;
            if self.spec.uniqueness == Uniqueness::Global && !self.visited.insert(key.clone()) {
                continue;
            }
            self.meter.charge(key.len() * 2)?;
            self.arena.push(Node {
                key,
                depth: 0,
                parent: None,
                edge: None,
            });
            let index = self.arena.len() - 1;
            let emit = self.spec.min_depth == 0
                && vertex_passes(txn, &self.arena[index].key, self.spec, &mut self.meter)?;
            if emit && self.emit(index)? {
                return Ok(());
            }
            frontier.push(index);
        }
        let mut steps = Vec::new();
        for depth in 1..=self.spec.max_depth {
            let mut next = Vec::new();
            for &parent in &frontier {
                self.meter.step()?;
                let key = std::mem::take(&mut self.arena[parent].key);
                let expanded = expand(
                    txn,
                    (&self.spec.walk, self.prepared),
                    &key,
                    &mut steps,
                    &mut self.meter,
                );
                self.arena[parent].key = key;
                expanded?;
                for step in steps.drain(..) {
                    if !self.admit(parent, &step.other) {
                        continue;
                    }
                    if !vertex_passes(txn, &step.other, self.spec, &mut self.meter)? {
                        continue;
                    }
                    self.meter
                        .charge(step.other.len() * 2 + step.edge_key.len())?;
                    self.arena.push(Node {
                        key: step.other,
                        depth,
                        parent: Some(parent),
                        edge: Some((step.collection, step.edge_key)),
                    });
                    let index = self.arena.len() - 1;
                    if depth >= self.spec.min_depth && self.emit(index)? {
                        return Ok(());
                    }
                    if depth < self.spec.max_depth {
                        next.push(index);
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        Ok(())
    }

    /// Whether `other` may be reached from arena node `parent` under the uniqueness rule
    /// (marking it visited for global uniqueness).
    fn admit(&mut self, parent: usize, other: &[u8]) -> bool {
        match self.spec.uniqueness {
            Uniqueness::Global => {
                if self.visited.contains(other) {
                    return false;
                }
                self.visited.insert(other.to_vec());
                true
            }
            Uniqueness::Path => {
                let mut at = Some(parent);
                while let Some(index) = at {
                    if self.arena[index].key == other {
                        return false;
                    }
                    at = self.arena[index].parent;
                }
                true
            }
        }
    }

    /// Adds arena node `index` to the results; true when the limit is reached.
    fn emit(&mut self, index: usize) -> Result<bool> {
        let visit = visit_of(&self.arena, self.spec, index)?;
        self.results.push(visit);
        Ok(self
            .spec
            .limit
            .is_some_and(|limit| self.results.len() >= limit))
    }
}

fn visit_of(arena: &[Node], spec: &Traversal<'_>, index: usize) -> Result<Visit> {
    let collections = spec.walk.edge_collections;
    let node = &arena[index];
    let vertex = decode_vertex(collections, &node.key)?;
    let edge = match (&node.edge, spec.returns) {
        (Some((coll, key)), Returns::Edges | Returns::Paths) => {
            Some(edge_ref(&collections[*coll], key)?)
        }
        _ => None,
    };
    let path = match spec.returns {
        Returns::Paths => Some(path_of(arena, collections, index)?),
        _ => None,
    };
    Ok(Visit {
        vertex,
        depth: node.depth,
        edge,
        path,
    })
}

fn decode_vertex(collections: &[String], key: &[u8]) -> Result<VertexRef> {
    vertex_ref(collections.first().map_or("", String::as_str), key)
}

/// The path to arena node `index`, following parent links.
fn path_of(arena: &[Node], collections: &[String], index: usize) -> Result<Path> {
    let mut vertices = Vec::new();
    let mut edges = Vec::new();
    let mut at = Some(index);
    while let Some(i) = at {
        let node = &arena[i];
        vertices.push(decode_vertex(collections, &node.key)?);
        if let Some((coll, key)) = &node.edge {
            edges.push(edge_ref(&collections[*coll], key)?);
        }
        at = node.parent;
    }
    vertices.reverse();
    edges.reverse();
    let weight = edges.len() as f64;
    Ok(Path {
        vertices,
        edges,
        weight,
    })
}

/// Reads the vertex document for a caller that wants it with a result.
pub fn vertex_document(txn: &mut Transaction, vertex: &VertexRef) -> Result<Option<Value>> {
    match txn.get(&vertex.collection, &vertex.id) {
        Ok(doc) => Ok(doc),
        Err(EngineError::UnknownCollection { .. }) => Ok(None),
        Err(other) => Err(other.into()),
    }
}
