//! The tables of the graph model and their key formats: the on-disk map of this crate, read
//! first (as `cairn-engine/src/layout.rs` is for the engine). Every table lives under the edge
//! collection's extension prefix `c{edges}.x.graph.`.
//!
//! | table | key | value |
//! |---|---|---|
//! | [`OUT_TABLE`] | `from ‖ edge key` | `to ‖ stored properties` |
//! | [`IN_TABLE`] | `to ‖ edge key` | `from ‖ stored properties` |
//! | [`META_TABLE`] | [`MODE_KEY`] | the referential mode's name (`restrict`, `cascade`, `none`) |
//!
//! `from` and `to` are vertex keys ([`VertexRef::key`]: collection name and document key, each
//! length-prefixed), so no vertex key is a prefix of another's and a range over one vertex's
//! key reads exactly its edges, in edge-key order. The edge key is the edge document's own key
//! ([`cairn_doc::DocId::encode_key`]), which makes every entry unique even for parallel edges.
//!
//! The stored properties (see [`crate::stored`]) are empty unless the edge collection declares
//! properties to store, in which case they are one encoded document of the declared fields the
//! edge has. With none declared a value is the vertex key alone, as in every version before
//! properties could be stored, so no layout version is needed: a reader splits the value after
//! the (length-prefixed) vertex key and treats an empty rest as "read the edge document".

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
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct AdjacencyEntries {
    /// `from ‖ edge key`, in [`OUT_TABLE`].
    pub(crate) out_key: Vec<u8>,
    /// `to ‖ edge key`, in [`IN_TABLE`].
    pub(crate) in_key: Vec<u8>,
    /// `to ‖ stored properties`: the value of the [`OUT_TABLE`] entry.
    pub(crate) out_value: Vec<u8>,
    /// `from ‖ stored properties`: the value of the [`IN_TABLE`] entry.
    pub(crate) in_value: Vec<u8>,
}

impl AdjacencyEntries {
    /// The entries of the edge stored under `edge_key` from `from` to `to`, carrying `stored`
    /// (the encoded stored properties, empty for none).
    pub(crate) fn of(
        edge_key: &[u8],
        from: &VertexRef,
        to: &VertexRef,
        stored: &[u8],
    ) -> Result<Self> {
        let joined = |vertex: &[u8], rest: &[u8]| {
            let mut out = Vec::with_capacity(vertex.len() + rest.len());
            out.extend_from_slice(vertex);
            out.extend_from_slice(rest);
            out
        };
        let from_key = from.key()?;
        let to_key = to.key()?;
        Ok(AdjacencyEntries {
            out_key: joined(&from_key, edge_key),
            in_key: joined(&to_key, edge_key),
            out_value: joined(&to_key, stored),
            in_value: joined(&from_key, stored),
        })
    }
}
