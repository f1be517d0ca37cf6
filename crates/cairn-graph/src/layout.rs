//! The tables of the graph model and their key formats: the on-disk map of this crate, read
//! first (as `cairn-engine/src/layout.rs` is for the engine). Every table lives under the edge
//! collection's extension prefix `c{edges}.x.graph.`.
//!
//! | table | key | value |
//! |---|---|---|
//! | [`OUT_TABLE`] | `from ‖ edge key` | `to` |
//! | [`IN_TABLE`] | `to ‖ edge key` | `from` |
//! | [`META_TABLE`] | [`MODE_KEY`] | the referential mode's name (`restrict`, `cascade`, `none`) |
//!
//! `from` and `to` are vertex keys ([`VertexRef::key`]: collection name and document key, each
//! length-prefixed), so no vertex key is a prefix of another's and a range over one vertex's
//! key reads exactly its edges, in edge-key order. The edge key is the edge document's own key
//! ([`cairn_doc::DocId::encode_key`]), which makes every entry unique even for parallel edges.

use crate::error::Result;
use crate::vertex::VertexRef;

/// Outgoing adjacency: `from ‖ edge key → to`.
pub const OUT_TABLE: &str = "out";
/// Incoming adjacency: `to ‖ edge key → from`.
pub const IN_TABLE: &str = "in";
/// The edge collection's settings as written at creation (`on_vertex_delete`), readable by
/// the vertex side through the engine.
pub const META_TABLE: &str = "meta";
/// Key of the referential mode in [`META_TABLE`].
pub const MODE_KEY: &[u8] = b"on_vertex_delete";

/// The two adjacency entries one edge owns: the key and value in [`OUT_TABLE`] and in
/// [`IN_TABLE`]. Built in one place so the write path and `verify` cannot disagree on them.
pub(crate) struct AdjacencyEntries {
    /// `from ‖ edge key`, in [`OUT_TABLE`].
    pub(crate) out_key: Vec<u8>,
    /// `to ‖ edge key`, in [`IN_TABLE`].
    pub(crate) in_key: Vec<u8>,
    /// The source vertex key: the value of the [`IN_TABLE`] entry.
    pub(crate) from_key: Vec<u8>,
    /// The target vertex key: the value of the [`OUT_TABLE`] entry.
    pub(crate) to_key: Vec<u8>,
}

impl AdjacencyEntries {
    /// The entries of the edge stored under `edge_key` from `from` to `to`.
    pub(crate) fn of(edge_key: &[u8], from: &VertexRef, to: &VertexRef) -> Result<Self> {
        let from_key = from.key()?;
        let to_key = to.key()?;
        let mut out_key = Vec::with_capacity(from_key.len() + edge_key.len());
        out_key.extend_from_slice(&from_key);
        out_key.extend_from_slice(edge_key);
        let mut in_key = Vec::with_capacity(to_key.len() + edge_key.len());
        in_key.extend_from_slice(&to_key);
        in_key.extend_from_slice(edge_key);
        Ok(AdjacencyEntries {
            out_key,
            in_key,
            from_key,
            to_key,
        })
    }
}
