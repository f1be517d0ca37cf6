//! Cairn's graph model: edge collections, a bidirectional adjacency index kept in the same
//! commit as the edges, referential behaviour on vertex delete, traversals, shortest paths,
//! and a small entity API.
//!
//! * An **edge collection** is an ordinary collection with the edge extension attached
//!   ([`create_edge_collection`]). Its documents carry `_from` and `_to`, each naming a
//!   vertex — a document of any collection — as `"collection/id"` text or as
//!   `{"collection": "patients", "id": 7}`; it is stored as text (see [`VertexRef`] for the
//!   exact form), plus any properties.
//! * The **adjacency index** (tables `out`: `from ‖ edge → to`, and `in`: `to ‖ edge →
//!   from`, see `vertex.rs` for the key format) is written by the extension's write hook in
//!   the writing transaction, so it commits with the edge or not at all, survives restarts
//!   without a rebuild, and is checked by [`verify_edges`]. The edges of a vertex are one
//!   prefix scan: O(log n + degree), no scan of the edge collection.
//! * **On vertex delete** ([`OnVertexDelete`], per edge collection): `restrict`, `cascade`
//!   or `none`. The engine calls an extension only for its own collection's writes, so a
//!   vertex collection an edge collection points into carries a small vertex-side
//!   extension ([`register_vertex_collection`]); see `edges.rs` for why this is sound under
//!   concurrency.
//! * **Stored properties** (`stored.rs`, [`declare_edge_properties`]): an edge collection
//!   may declare a few edge properties (a weight, an `active` flag) copied into its
//!   adjacency values, so traversals filtering on them and Dijkstra weighing by them read no
//!   edge document.
//! * **Queries** run in a [`cairn_engine::Transaction`] — one snapshot, or a writing
//!   transaction seeing its own writes — under a [`Budget`] (time and memory):
//!   [`neighbours`], [`traverse`], [`shortest_path`] (BFS or Dijkstra), [`khop_count`]; each
//!   has an `_explained` form returning a [`GraphExplain`] (plan and counters).
//! * [`entity`]: create/get entity, set/get one property, add/remove edge, neighbours.
//!
//! Surface: the items re-exported below, plus two public namespaces: [`entity`] (the small
//! entity API, whose `neighbours` and `parse` would clash at the crate root) and [`limits`]
//! (the named bounds, so callers can quote them). Every other module is private.
//!
//! Layering: depends on `cairn-doc` and `cairn-engine` only. The query layer may use it (a
//! `$graphLookup` stage); it knows nothing of the query language — filters are closures
//! ([`DocFilter`]), which the facade builds from `cairn::query::Filter`.

mod admin;
mod budget;
mod edges;
pub mod entity;
mod error;
mod explain;
mod layout;
pub mod limits;
mod paths;
mod read;
mod stored;
mod traverse;
mod verify;
mod vertex;

pub use admin::{
    create_edge_collection, declare_edge_properties, edge_collections, edge_mode, is_registered,
    register_vertex_collection, stored_properties, EdgeOptions,
};
pub use budget::{Budget, Counts};
pub use edges::{
    EdgeExtension, EdgeExtensionKind, OnVertexDelete, VertexExtension, VertexExtensionKind,
    EDGE_EXTENSION, EDGE_KIND, VERTEX_EXTENSION_PREFIX, VERTEX_KIND,
};
pub use error::{GraphError, Result};
pub use explain::GraphExplain;
pub use layout::{IN_TABLE, OUT_TABLE};
pub use paths::{khop_count, khop_count_explained, shortest_path, shortest_path_explained};
pub use read::{edge_keys, neighbours, neighbours_walk, Direction, DocFilter, EdgeRef, Neighbour};
pub use traverse::{
    traverse, traverse_explained, vertex_document, Path, Returns, Traversal, Uniqueness, Visit,
    Walk,
};
pub use verify::{verify_edges, EdgeVerification};
pub use vertex::VertexRef;

use std::sync::Arc;

/// The graph model's extension kinds, for `Config::extension_kinds` (the facade registers
/// them in `cairn::open`).
pub fn extension_kinds() -> Vec<Arc<dyn cairn_engine::ExtensionKind>> {
    vec![Arc::new(EdgeExtensionKind), Arc::new(VertexExtensionKind)]
}
