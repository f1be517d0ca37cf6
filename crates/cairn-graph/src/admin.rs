//! Creating edge collections and registering the vertex collections they point into.

use cairn_engine::{Database, EngineError, Transaction};

use crate::edges::{vertex_config, vertex_extension_name, OnVertexDelete};
use crate::error::{GraphError, Result};
use crate::limits::MAX_EDGE_COLLECTION_NAME_BYTES;
use crate::{EDGE_EXTENSION, EDGE_KIND, VERTEX_KIND};

/// How an edge collection treats its vertices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EdgeOptions {
    /// What deleting a vertex named by an edge does (default: restrict).
    pub on_vertex_delete: OnVertexDelete,
    /// Vertex collections to register at once (see [`register_vertex_collection`]); more
    /// can be registered later.
    pub vertex_collections: Vec<String>,
}

/// Creates `name` as an edge collection: documents must carry `_from` and `_to`, and the
/// adjacency index is kept in every writing transaction. Then registers
/// `options.vertex_collections`.
pub fn create_edge_collection(db: &Database, name: &str, options: &EdgeOptions) -> Result<()> {
    if name.len() > MAX_EDGE_COLLECTION_NAME_BYTES {
        return Err(GraphError::NameTooLong {
            name: name.to_string(),
            actual: name.len(),
            limit: MAX_EDGE_COLLECTION_NAME_BYTES,
        });
    }
    let config = options.on_vertex_delete.to_config();
    db.transaction(|txn| {
        txn.create_collection(name)?;
        txn.attach_extension(name, EDGE_KIND, EDGE_EXTENSION, config.clone())
    })?;
    for vertices in &options.vertex_collections {
        register_vertex_collection(db, name, vertices)?;
    }
    Ok(())
}

/// The referential mode of edge collection `collection`, or `None` when it is not one.
pub fn edge_mode(txn: &mut Transaction, collection: &str) -> Result<Option<OnVertexDelete>> {
    let meta = txn.collection_meta(collection)?;
    Ok(meta
        .extensions
        .iter()
        .find(|ext| ext.name == EDGE_EXTENSION && ext.kind == EDGE_KIND)
        .and_then(|ext| OnVertexDelete::from_config(&ext.config)))
}

/// Lets edges of `edges` name documents of `vertices` under `restrict`/`cascade`: attaches
/// the vertex-side extension that sees deletes in `vertices` (one catalog commit, no scan of
/// `vertices`). Idempotent; nothing to do under `none`. Until a collection is registered,
/// writing an edge into it is refused with a reference violation that says so.
pub fn register_vertex_collection(db: &Database, edges: &str, vertices: &str) -> Result<()> {
    let mut txn = db.read()?;
    let mode = edge_mode(&mut txn, edges)?.ok_or_else(|| GraphError::NotEdgeCollection {
        collection: edges.to_string(),
    })?;
    if mode == OnVertexDelete::None {
        return Ok(());
    }
    let name = vertex_extension_name(edges);
    if is_registered(&mut txn, edges, vertices)? {
        return Ok(());
    }
    drop(txn);
    match db.attach_extension_unfilled(vertices, VERTEX_KIND, &name, vertex_config(edges)) {
        Ok(_) => Ok(()),
        // Registered concurrently: the same outcome.
        Err(EngineError::ExtensionState { .. }) => Ok(()),
        Err(other) => Err(other.into()),
    }
}

/// Whether `vertices` carries the vertex-side extension of `edges`.
pub fn is_registered(txn: &mut Transaction, edges: &str, vertices: &str) -> Result<bool> {
    let name = vertex_extension_name(edges);
    let meta = txn.collection_meta(vertices)?;
    Ok(meta
        .extensions
        .iter()
        .any(|ext| ext.name == name && ext.kind == VERTEX_KIND))
}

/// The edge collections of the database, with their modes, in name order.
pub fn edge_collections(db: &Database) -> Result<Vec<(String, OnVertexDelete)>> {
    let mut out = Vec::new();
    for meta in db.list_collections()? {
        let mode = meta
            .extensions
            .iter()
            .find(|ext| ext.name == EDGE_EXTENSION && ext.kind == EDGE_KIND)
            .and_then(|ext| OnVertexDelete::from_config(&ext.config));
        if let Some(mode) = mode {
            out.push((meta.name.clone(), mode));
        }
    }
    Ok(out)
}
