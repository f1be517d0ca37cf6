//! The two extension kinds of the graph model: the edge side (validation and the adjacency
//! index) and the vertex side (referential behaviour when a vertex is deleted).
//!
//! * [`EdgeExtension`] (kind [`EDGE_KIND`], attached as [`EDGE_EXTENSION`] to an edge
//!   collection) checks `_from`/`_to` in `prepare_write`, stores them in canonical text form,
//!   and — under `restrict`/`cascade` — reads each (changed) endpoint vertex, a
//!   conflict-checked read, so a concurrent delete of the vertex cannot also commit. Its
//!   `on_write` keeps the adjacency tables `out` (`from ‖ edge → to`) and `in`
//!   (`to ‖ edge → from`) in the writing transaction, each value carrying the edge's stored
//!   properties ([`crate::stored`]). An update of properties the index does not store touches
//!   neither.
//! * [`VertexExtension`] (kind [`VERTEX_KIND`], attached to a *vertex* collection as
//!   [`VERTEX_EXTENSION_PREFIX`]`{edge collection}`) is how a delete in another collection
//!   becomes visible: the engine calls an extension only for writes to its own collection,
//!   so each vertex collection an edge collection points into under `restrict`/`cascade`
//!   carries one. When one of its documents is deleted it range-reads the edge collection's
//!   `out` and `in` entries of that vertex (conflict-checked: a concurrent new edge
//!   conflicts) and refuses the delete or deletes the edges through the engine's cascade API.
//!   It is the mechanism `cairn-schema` uses for `references` (its `schema_referrers`
//!   extension), keyed by the adjacency instead of a secondary index.
//!
//! An edge write under `restrict`/`cascade` requires the endpoint's collection to carry the
//! vertex extension of this edge collection (checked by a read that also records the vertex
//! collection's catalog entry, so a concurrent detach conflicts); otherwise a vertex delete
//! could leave the edge dangling unseen. [`crate::register_vertex_collection`] attaches it;
//! the entity API does so on first use.

use std::ops::Bound;
use std::sync::Arc;

use cairn_doc::{DocId, Object, Value};
use cairn_engine::{
    DocChange, EngineError, Extension, ExtensionKind, ExtensionTxn, Result as EngineResult,
};

use crate::error::GraphError;
use crate::layout::{AdjacencyEntries, IN_TABLE, META_TABLE, MODE_KEY, OUT_TABLE};
use crate::vertex::VertexRef;

/// Extension kind of an edge collection's adjacency index.
pub const EDGE_KIND: &str = "graph_edges";
/// The name the edge extension is attached under.
pub const EDGE_EXTENSION: &str = "graph";
/// Extension kind of the vertex side of an edge collection.
pub const VERTEX_KIND: &str = "graph_vertex";
/// Prefix of the vertex-side extension's name; the edge collection's name follows.
pub const VERTEX_EXTENSION_PREFIX: &str = "graph_v_";
/// The field naming an edge's source vertex.
pub const FROM_FIELD: &str = "_from";
/// The field naming an edge's target vertex.
pub const TO_FIELD: &str = "_to";

/// The name of the vertex-side extension of edge collection `edges`.
pub fn vertex_extension_name(edges: &str) -> String {
    format!("{VERTEX_EXTENSION_PREFIX}{edges}")
}

/// What deleting a vertex does to the edges that name it, chosen per edge collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnVertexDelete {
    /// Refuse the delete while any edge of the collection names the vertex.
    #[default]
    Restrict,
    /// Delete those edges in the same transaction.
    Cascade,
    /// Leave them dangling (reported by [`crate::verify_edges`]); edges may also name
    /// vertices that never existed.
    None,
}

impl OnVertexDelete {
    /// The stored name: `restrict`, `cascade` or `none`.
    pub fn name(self) -> &'static str {
        match self {
            OnVertexDelete::Restrict => "restrict",
            OnVertexDelete::Cascade => "cascade",
            OnVertexDelete::None => "none",
        }
    }

    /// Parses a stored or user-given name.
    pub fn parse(name: &str) -> Option<OnVertexDelete> {
        match name {
            "restrict" => Some(OnVertexDelete::Restrict),
            "cascade" => Some(OnVertexDelete::Cascade),
            "none" => Some(OnVertexDelete::None),
            _ => None,
        }
    }

    /// The edge extension's catalog configuration: the mode, and the stored properties
    /// (omitted when none, so such a configuration is the one earlier versions wrote).
    pub(crate) fn to_config(self, properties: &[String]) -> Value {
        let mut obj = Object::new();
        obj.insert("on_vertex_delete", Value::String(self.name().to_string()));
        if !properties.is_empty() {
            let names = properties.iter().cloned().map(Value::String).collect();
            obj.insert("properties", Value::Array(names));
        }
        Value::Object(obj)
    }

    /// Reads the edge extension's catalog configuration.
    pub(crate) fn from_config(config: &Value) -> Option<OnVertexDelete> {
        config
            .as_object()?
            .get("on_vertex_delete")?
            .as_str()
            .and_then(OnVertexDelete::parse)
    }
}

/// The `_from` and `_to` of an edge document as written by `prepare_write`, or `None` when
/// either is missing or malformed: every stored edge has both, so callers treat `None` as
/// damaged data.
pub(crate) fn endpoints(doc: &Value) -> Option<(VertexRef, VertexRef)> {
    let obj = doc.as_object()?;
    let from = VertexRef::from_value(FROM_FIELD, obj.get(FROM_FIELD)?).ok()?;
    let to = VertexRef::from_value(TO_FIELD, obj.get(TO_FIELD)?).ok()?;
    Some((from, to))
}

/// An edge collection's write hooks: validation and the adjacency index.
pub struct EdgeExtension {
    mode: OnVertexDelete,
    /// The edge properties copied into the adjacency values (see [`crate::stored`]).
    properties: Vec<String>,
}

impl EdgeExtension {
    /// The collection's referential mode.
    pub fn mode(&self) -> OnVertexDelete {
        self.mode
    }

    /// The edge properties the adjacency index stores.
    pub fn stored_properties(&self) -> &[String] {
        &self.properties
    }

    /// The adjacency entries of the edge document `doc` stored under `edge_key`, or `None`
    /// when it has no valid `_from`/`_to` (a damaged stored edge).
    pub(crate) fn entries_of(
        &self,
        edge_key: &[u8],
        doc: &Value,
    ) -> EngineResult<Option<AdjacencyEntries>> {
        let Some((from, to)) = endpoints(doc) else {
            return Ok(None);
        };
        let tail = crate::stored::tail(doc, &self.properties);
        Ok(Some(AdjacencyEntries::of(edge_key, &from, &to, &tail)?))
    }

    /// Reads and checks one endpoint field of a document being written.
    fn endpoint(
        collection: &str,
        id: &DocId,
        obj: &Object,
        field: &'static str,
    ) -> EngineResult<VertexRef> {
        let violation = |reason: String| EngineError::SchemaViolation {
            collection: collection.to_string(),
            id: id.clone(),
            path: field.to_string(),
            reason,
        };
        let Some(value) = obj.get(field) else {
            return Err(violation(format!(
                "an edge needs `{field}`: \"collection/id\" text or {{\"collection\", \"id\"}}"
            )));
        };
        VertexRef::from_value(field, value).map_err(|err| match err {
            GraphError::InvalidVertex { reason, .. } => violation(reason),
            other => other.into(),
        })
    }

    /// Under `restrict`/`cascade`: the vertex's collection must carry this edge collection's
    /// vertex extension, and the vertex must exist. Both reads are conflict-checked.
    fn check_vertex(
        txn: &mut ExtensionTxn<'_>,
        id: &DocId,
        field: &str,
        vertex: &VertexRef,
    ) -> EngineResult<()> {
        let edges = txn.collection().to_string();
        let refused = |reason: String| EngineError::ReferenceViolation {
            collection: edges.clone(),
            id: id.clone(),
            reason,
        };
        let registration = vertex_extension_name(&edges);
        let probe = txn.scan_extension_of(
            (&vertex.collection, &registration, META_TABLE),
            Bound::Included(&[0u8][..]),
            Bound::Included(&[0u8][..]),
            |_, _| Ok(false),
        );
        match probe {
            Ok(()) => {}
            Err(EngineError::UnknownCollection { .. }) => {
                return Err(refused(format!(
                    "`{field}` names `{vertex}`, but collection `{}` does not exist",
                    vertex.collection
                )))
            }
            Err(EngineError::ExtensionState { .. }) => {
                return Err(refused(format!(
                    "`{field}` names `{vertex}`, but `{}` is not registered as a vertex collection of edge collection `{edges}`; register it (cairn::graph::register_vertex_collection, or create the edge collection with it listed)",
                    vertex.collection
                )))
            }
            Err(other) => return Err(other),
        }
        if txn.get_document(&vertex.collection, &vertex.id)?.is_none() {
            return Err(refused(format!(
                "`{field}` names `{vertex}`, which does not exist"
            )));
        }
        Ok(())
    }
}

impl Extension for EdgeExtension {
    fn prepare_write(
        &self,
        txn: &mut ExtensionTxn<'_>,
        id: &DocId,
        old: Option<&Value>,
        new: &mut Value,
    ) -> EngineResult<()> {
        let collection = txn.collection().to_string();
        let Some(obj) = new.as_object_mut() else {
            return Ok(());
        };
        let from = Self::endpoint(&collection, id, obj, FROM_FIELD)?;
        let to = Self::endpoint(&collection, id, obj, TO_FIELD)?;
        obj.insert(FROM_FIELD, Value::String(from.to_text()));
        obj.insert(TO_FIELD, Value::String(to.to_text()));
        if self.mode == OnVertexDelete::None {
            return Ok(());
        }
        let before = old.and_then(endpoints);
        let unchanged = |field: &str, vertex: &VertexRef| match &before {
            // The stored edge already has this endpoint's adjacency entry, so a concurrent
            // delete of the vertex finds it (and refuses, or deletes this edge, which then
            // conflicts with this write): no read needed.
            Some((f, t)) => (if field == FROM_FIELD { f } else { t }) == vertex,
            None => false,
        };
        if !unchanged(FROM_FIELD, &from) {
            Self::check_vertex(txn, id, FROM_FIELD, &from)?;
        }
        if to != from && !unchanged(TO_FIELD, &to) {
            Self::check_vertex(txn, id, TO_FIELD, &to)?;
        }
        Ok(())
    }

    fn on_write(&self, txn: &mut ExtensionTxn<'_>, change: &DocChange<'_>) -> EngineResult<()> {
        let corrupt = |which: &str| EngineError::ExtensionFailed {
            message: format!(
                "edge `{}` in `{}`: the {which} document has no valid `_from`/`_to`",
                change.id,
                txn.collection()
            ),
        };
        let edge_key = change.id.to_key()?;
        let old = match change.old {
            Some(doc) => Some(
                self.entries_of(&edge_key, doc)?
                    .ok_or_else(|| corrupt("stored"))?,
            ),
            None => None,
        };
        let new = match change.new {
            Some(doc) => Some(
                self.entries_of(&edge_key, doc)?
                    .ok_or_else(|| corrupt("new"))?,
            ),
            None => None,
        };
        // An update of properties the index does not store changes no entry.
        if old == new {
            return Ok(());
        }
        if let Some(old) = &old {
            let moved = new.as_ref().is_none_or(|new| new.out_key != old.out_key);
            if moved {
                txn.delete(OUT_TABLE, &old.out_key)?;
            }
            let moved = new.as_ref().is_none_or(|new| new.in_key != old.in_key);
            if moved {
                txn.delete(IN_TABLE, &old.in_key)?;
            }
        }
        if let Some(new) = &new {
            txn.put(OUT_TABLE, &new.out_key, &new.out_value)?;
            txn.put(IN_TABLE, &new.in_key, &new.in_value)?;
        }
        Ok(())
    }

    fn backfilled(&self, txn: &mut ExtensionTxn<'_>) -> EngineResult<()> {
        // Written in the attaching transaction (and again by a restore replaying the attach),
        // so the vertex side can read the mode without the catalog.
        txn.put(META_TABLE, MODE_KEY, self.mode.name().as_bytes())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Instantiates edge extensions from their catalog entries.
#[derive(Debug, Default)]
pub struct EdgeExtensionKind;

impl ExtensionKind for EdgeExtensionKind {
    fn kind(&self) -> &str {
        EDGE_KIND
    }

    fn instantiate(
        &self,
        collection: &str,
        _name: &str,
        config: &Value,
    ) -> EngineResult<Arc<dyn Extension>> {
        let mode = OnVertexDelete::from_config(config).ok_or_else(|| {
            EngineError::ExtensionFailed {
                message: format!("edge collection `{collection}`: stored configuration has no valid `on_vertex_delete`"),
            }
        })?;
        Ok(Arc::new(EdgeExtension {
            mode,
            properties: crate::stored::from_config(config),
        }))
    }
}

/// The vertex side of one edge collection on one vertex collection.
pub struct VertexExtension {
    edges: String,
}

impl VertexExtension {
    /// The edge collection's mode as stored at its creation, or `None` when the edge
    /// collection is gone (dropped, or re-created as a plain collection): nothing to do then.
    fn mode(&self, txn: &mut ExtensionTxn<'_>) -> EngineResult<Option<OnVertexDelete>> {
        let mut stored = None;
        let read = txn.scan_extension_of(
            (&self.edges, EDGE_EXTENSION, META_TABLE),
            Bound::Included(MODE_KEY),
            Bound::Included(MODE_KEY),
            |_, value| {
                stored = Some(value.to_vec());
                Ok(false)
            },
        );
        match read {
            Ok(()) => {}
            Err(EngineError::UnknownCollection { .. } | EngineError::ExtensionState { .. }) => {
                return Ok(None)
            }
            Err(other) => return Err(other),
        }
        Ok(stored
            .as_deref()
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .and_then(OnVertexDelete::parse))
    }

    /// Keys of the edges naming the vertex with adjacency key `vertex` (out, then in; a
    /// self-loop once). `first_only` stops at the first found.
    fn edges_of(
        &self,
        txn: &mut ExtensionTxn<'_>,
        vertex: &[u8],
        first_only: bool,
    ) -> EngineResult<Vec<Vec<u8>>> {
        let end = crate::read::prefix_end(vertex);
        let end = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        let mut found: Vec<Vec<u8>> = Vec::new();
        for table in [OUT_TABLE, IN_TABLE] {
            txn.scan_extension_of(
                (&self.edges, EDGE_EXTENSION, table),
                Bound::Included(vertex),
                end,
                |key, _| {
                    let edge = key.get(vertex.len()..).unwrap_or_default().to_vec();
                    if !found.contains(&edge) {
                        found.push(edge);
                    }
                    Ok::<_, cairn_engine::EngineError>(!first_only)
                },
            )?;
            if first_only && !found.is_empty() {
                break;
            }
        }
        Ok(found)
    }
}

impl Extension for VertexExtension {
    fn on_write(&self, txn: &mut ExtensionTxn<'_>, change: &DocChange<'_>) -> EngineResult<()> {
        if change.new.is_some() {
            return Ok(());
        }
        let mode = match self.mode(txn)? {
            Some(OnVertexDelete::None) | None => return Ok(()),
            Some(mode) => mode,
        };
        let vertex = VertexRef::new(txn.collection(), change.id.clone());
        let key = vertex.key()?;
        let restrict = mode == OnVertexDelete::Restrict;
        let found = self.edges_of(txn, &key, restrict)?;
        if restrict {
            if let Some(edge) = found.first() {
                let edge = DocId::decode_key(edge).map_or_else(|_| "?".into(), |e| e.to_string());
                return Err(EngineError::ReferenceViolation {
                    collection: txn.collection().to_string(),
                    id: change.id.clone(),
                    reason: format!(
                        "cannot delete: edge `{edge}` of `{}` names it (on_vertex_delete: restrict)",
                        self.edges
                    ),
                });
            }
            return Ok(());
        }
        for edge in found {
            let edge = DocId::decode_key(&edge).map_err(|err| EngineError::ExtensionFailed {
                message: format!("adjacency of `{}` holds a bad edge key: {err}", self.edges),
            })?;
            txn.delete_document(&self.edges, &edge)?;
        }
        Ok(())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Instantiates vertex-side extensions from their catalog entries (`{"edges": name}`).
#[derive(Debug, Default)]
pub struct VertexExtensionKind;

impl ExtensionKind for VertexExtensionKind {
    fn kind(&self) -> &str {
        VERTEX_KIND
    }

    fn instantiate(
        &self,
        collection: &str,
        name: &str,
        config: &Value,
    ) -> EngineResult<Arc<dyn Extension>> {
        let edges = config
            .as_object()
            .and_then(|o| o.get("edges"))
            .and_then(Value::as_str)
            .ok_or_else(|| EngineError::ExtensionFailed {
                message: format!(
                    "vertex extension `{name}` on `{collection}`: stored configuration has no `edges`"
                ),
            })?;
        Ok(Arc::new(VertexExtension {
            edges: edges.to_string(),
        }))
    }
}

/// The vertex-side extension's catalog configuration.
pub(crate) fn vertex_config(edges: &str) -> Value {
    let mut obj = Object::new();
    obj.insert("edges", Value::String(edges.to_string()));
    Value::Object(obj)
}
