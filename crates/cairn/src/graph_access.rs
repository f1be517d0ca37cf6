//! The adjacency index as an access method of the query planner: on an edge collection, a
//! top-level `{_from: v}`, `{_to: v}` (or `$in` of vertices) is answered from the adjacency
//! index — one prefix scan per vertex, O(log n + degree) — instead of a scan of the edge
//! collection. `find`, `count`, `$lookup` and `$graphLookup` on `_from`/`_to` all get it through
//! the planner, and `explain` shows it (`adjacency out|in of N vertices`, counter
//! `adjacency_edges`).
//!
//! It lives in the facade because it joins two crates that must not know each other: the
//! graph layer knows no query language, and the query layer knows no edge collections.

use std::sync::Arc;

use cairn_doc::{FieldPath, Value};
use cairn_engine::Transaction;
use cairn_graph::limits::MAX_ADJACENCY_PROBE_VERTICES;
use cairn_graph::{edge_keys, edge_mode, Direction, GraphError, VertexRef};
use cairn_query::access::{
    AccessMethod, IndexPath, Path, PlanContext, QueryModel, ScanContext, COST_FETCH_DOC,
    COST_INDEX_ENTRY,
};
use cairn_query::{Filter, Op, QueryError, Result};

/// The graph model: no operators of its own, one access method per edge collection.
pub struct GraphQueryModel;

impl QueryModel for GraphQueryModel {
    fn name(&self) -> &'static str {
        "graph"
    }

    fn access_methods(
        &self,
        txn: &mut Transaction,
        collection: &str,
        filter: &Filter,
    ) -> Result<Vec<Arc<dyn AccessMethod>>> {
        if endpoint_conditions(filter).next().is_none() {
            return Ok(Vec::new());
        }
        match edge_mode(txn, collection) {
            Ok(Some(_)) => Ok(vec![Arc::new(AdjacencyAccess {
                collection: collection.to_string(),
            })]),
            Ok(None) => Ok(Vec::new()),
            Err(err) => Err(query_error(err)),
        }
    }
}

fn query_error(err: GraphError) -> QueryError {
    match err {
        GraphError::Engine(engine) => QueryError::Engine(engine),
        other => QueryError::Model(Box::new(other)),
    }
}

/// The top-level conditions on `_from` / `_to`: (direction, the operators).
fn endpoint_conditions(filter: &Filter) -> impl Iterator<Item = (Direction, &[Op])> {
    let conjuncts: Vec<&Filter> = match filter {
        Filter::And(parts) => parts.iter().collect(),
        other => vec![other],
    };
    conjuncts.into_iter().filter_map(|f| match f {
        Filter::Field(path, ops) => endpoint(path).map(|d| (d, ops.as_slice())),
        _ => None,
    })
}

fn endpoint(path: &FieldPath) -> Option<Direction> {
    match path.segments() {
        [only] if only.as_str() == "_from" => Some(Direction::Out),
        [only] if only.as_str() == "_to" => Some(Direction::In),
        _ => None,
    }
}

/// The vertices an `Eq`/`In` of vertex texts names; `None` when an operand is not a vertex
/// text (then the condition is left to a scan, which compares values as the filter does).
fn vertices(ops: &[Op]) -> Option<Vec<VertexRef>> {
    let parse = |value: &Value| match value {
        Value::String(text) => VertexRef::parse("_from", text).ok(),
        _ => None,
    };
    ops.iter().find_map(|op| match op {
        Op::Eq(value) => parse(value).map(|v| vec![v]),
        Op::In(values) if values.len() <= MAX_ADJACENCY_PROBE_VERTICES => {
            values.iter().map(parse).collect()
        }
        _ => None,
    })
}

/// The adjacency index of one edge collection.
struct AdjacencyAccess {
    collection: String,
}

impl AccessMethod for AdjacencyAccess {
    fn name(&self) -> &str {
        "adjacency"
    }

    /// One path per `_from`/`_to` condition naming vertices; its probe (the adjacency scan)
    /// is the answer itself, kept for the executor.
    fn paths(&self, cx: &mut PlanContext<'_>, conjuncts: &[&Filter]) -> Result<Vec<Path>> {
        let mut paths = Vec::new();
        for filter in conjuncts {
            let Filter::Field(field, ops) = filter else {
                continue;
            };
            let (Some(direction), Some(vertices)) = (endpoint(field), vertices(ops)) else {
                continue;
            };
            let mut keys = Vec::new();
            for vertex in &vertices {
                let found =
                    edge_keys(cx.txn, &self.collection, vertex, direction).map_err(query_error)?;
                keys.extend(found);
            }
            let rows = keys.len() as f64;
            paths.push(Path {
                scan: Arc::new(AdjacencyPath {
                    direction,
                    vertices: vertices.len(),
                    keys,
                }),
                estimated_rows: rows,
                cost: (vertices.len() as f64 + rows) * COST_INDEX_ENTRY
                    + rows * COST_FETCH_DOC
                    + cx.sort_cost(rows),
                ordered: false,
                narrows: true,
            });
        }
        Ok(paths)
    }
}

/// Edges found in the adjacency index while planning.
#[derive(Debug)]
struct AdjacencyPath {
    direction: Direction,
    vertices: usize,
    keys: Vec<Vec<u8>>,
}

impl IndexPath for AdjacencyPath {
    fn describe(&self) -> String {
        let side = match self.direction {
            Direction::Out => "out (_from)",
            _ => "in (_to)",
        };
        format!("adjacency {side} of {} vertices", self.vertices)
    }

    fn keys(&self, cx: &mut ScanContext<'_>) -> Result<Vec<Vec<u8>>> {
        cx.keys_examined(self.keys.len() as u64);
        cx.count("adjacency_edges", self.keys.len() as u64);
        Ok(self.keys.clone())
    }

    /// An edge is listed once per vertex it names; `$in` of both endpoints of a self-loop
    /// would name it twice, so repeats are possible.
    fn may_repeat(&self) -> bool {
        true
    }
}
