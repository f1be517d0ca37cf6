//! Creating edge collections and registering the vertex collections they point into.

use std::ops::Bound;

use cairn_engine::{Database, EngineError, Transaction};

use crate::edges::{vertex_config, vertex_extension_name, EdgeExtension, OnVertexDelete};
use crate::error::{GraphError, Result};
use crate::layout::{IN_TABLE, OUT_TABLE};
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
    /// Top-level edge properties to store in the adjacency index (at most
    /// [`crate::limits::MAX_STORED_PROPERTIES`]), so traversals filtering on them and
    /// shortest paths weighing by them read no edge document (see `stored.rs`).
    pub properties: Vec<String>,
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
    crate::stored::check_names(&options.properties)?;
    let config = options.on_vertex_delete.to_config(&options.properties);
    db.transaction(|txn| {
        txn.create_collection(name)?;
        txn.attach_extension(name, EDGE_KIND, EDGE_EXTENSION, config.clone())
    })?;
    for vertices in &options.vertex_collections {
        register_vertex_collection(db, name, vertices)?;
    }
    Ok(())
}

/// Changes the edge properties edge collection `edges` stores in its adjacency index to
/// `properties` (an empty list stores none) and rewrites every adjacency value to match, in
/// one transaction: queries never see a mix. Cost: one pass over the edge documents.
///
/// A restore or follower replaying this change applies the new list to the edges written
/// after it; edges written before keep values without stored properties, which queries
/// answer by reading the edge document and `cairn check` accepts (see `stored.rs`).
pub fn declare_edge_properties(db: &Database, edges: &str, properties: &[String]) -> Result<()> {
    crate::stored::check_names(properties)?;
    let not_edges = || GraphError::NotEdgeCollection {
        collection: edges.to_string(),
    };
    // The mode is fixed at creation; only this function changes the rest of the configuration.
    let mode = edge_mode(&mut db.read()?, edges)?.ok_or_else(not_edges)?;
    db.transaction(|txn| {
        txn.set_extension_config(edges, EDGE_EXTENSION, mode.to_config(properties))?;
        let extension = txn.extension_instance(edges, EDGE_EXTENSION)?;
        let Some(extension) = extension
            .as_ref()
            .and_then(|ext| ext.as_any().downcast_ref::<EdgeExtension>())
        else {
            return Err(not_edges().into());
        };
        let mut rewritten = Vec::new();
        txn.scan_documents(edges, Bound::Unbounded, Bound::Unbounded, |key, doc| {
            if let Some(entries) = extension.entries_of(key, &doc)? {
                rewritten.push(entries);
            }
            Ok::<_, EngineError>(true)
        })?;
        for entries in rewritten {
            txn.extension_put(
                edges,
                EDGE_EXTENSION,
                OUT_TABLE,
                &entries.out_key,
                &entries.out_value,
            )?;
            txn.extension_put(
                edges,
                EDGE_EXTENSION,
                IN_TABLE,
                &entries.in_key,
                &entries.in_value,
            )?;
        }
        Ok(())
    })?;
    Ok(())
}

/// The edge properties edge collection `collection` stores in its adjacency index (empty
/// when none), or `None` when it is not an edge collection.
pub fn stored_properties(txn: &mut Transaction, collection: &str) -> Result<Option<Vec<String>>> {
    let meta = txn.collection_meta(collection)?;
    Ok(meta
        .extensions
        .iter()
        .find(|ext| ext.name == EDGE_EXTENSION && ext.kind == EDGE_KIND)
        .map(|ext| crate::stored::from_config(&ext.config)))
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
