//! The entity API: thin, typed calls over the same operations, for code that thinks in
//! entities, properties and edges rather than documents. Each call is one transaction (a
//! read on the latest snapshot, or a write retried on conflict); for several operations in
//! one transaction use the document API and [`crate::neighbours`] on a
//! [`cairn_engine::Transaction`].

use cairn_doc::{DocId, Object, Patch, Value};
use cairn_engine::{Database, EngineError};

use crate::admin::{edge_mode, is_registered, register_vertex_collection};
use crate::edges::{OnVertexDelete, FROM_FIELD, TO_FIELD};
use crate::error::{GraphError, Result};
use crate::read::{neighbours as read_neighbours, Direction, EdgeRef, Neighbour};
use crate::vertex::VertexRef;

/// Creates an entity: inserts `properties` (an object; `_id` is assigned when absent) into
/// `collection`. Returns the new entity.
pub fn create_entity(db: &Database, collection: &str, properties: Value) -> Result<VertexRef> {
    let id = db.insert(collection, properties)?;
    Ok(VertexRef::new(collection, id))
}

/// The entity's document, or `None` when it does not exist.
pub fn get_entity(db: &Database, entity: &VertexRef) -> Result<Option<Value>> {
    Ok(db.get(&entity.collection, &entity.id)?)
}

/// Refuses the names the entity API may not set: `_id` (the identity) and the empty name.
fn check_name(name: &str) -> Result<()> {
    let refuse = |reason: &str| GraphError::InvalidProperty {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    if name.is_empty() {
        return Err(refuse("the name is empty"));
    }
    if name == "_id" || name.starts_with("_id.") {
        return Err(refuse("`_id` is the entity's identity and cannot be set"));
    }
    Ok(())
}

/// Sets one property (a field name, or a dotted path into nested objects) of an existing
/// entity; fails with `DocumentNotFound` when it does not exist.
pub fn set_property(db: &Database, entity: &VertexRef, name: &str, value: Value) -> Result<()> {
    check_name(name)?;
    let patch = Patch::new().set(name, value)?;
    db.update(&entity.collection, &entity.id, &patch)?;
    Ok(())
}

/// One property of an entity (a field name or dotted path); `None` when the entity or the
/// property does not exist.
pub fn get_property(db: &Database, entity: &VertexRef, name: &str) -> Result<Option<Value>> {
    let Some(doc) = get_entity(db, entity)? else {
        return Ok(None);
    };
    Ok(name
        .split('.')
        .try_fold(&doc, |value, part| value.as_object()?.get(part))
        .cloned())
}

/// Adds an edge `from → to` with `properties` (an object, or `Value::Null` for none) to edge
/// collection `edges`. Registers the endpoints' collections with the edge collection first
/// when its mode needs it (a catalog commit, once per pair of collections). Returns the edge.
pub fn add_edge(
    db: &Database,
    edges: &str,
    from: &VertexRef,
    to: &VertexRef,
    properties: Value,
) -> Result<EdgeRef> {
    let mut doc = match properties {
        Value::Object(obj) => obj,
        Value::Null => Object::new(),
        other => {
            return Err(GraphError::InvalidProperty {
                name: "properties".into(),
                reason: format!("edge properties are an object, not {}", other.type_name()),
            })
        }
    };
    let mode = edge_mode(&mut db.read()?, edges)?.ok_or_else(|| GraphError::NotEdgeCollection {
        collection: edges.to_string(),
    })?;
    if mode != OnVertexDelete::None {
        for vertices in [&from.collection, &to.collection] {
            if !is_registered(&mut db.read()?, edges, vertices)? {
                register_vertex_collection(db, edges, vertices)?;
            }
        }
    }
    doc.insert(FROM_FIELD, Value::String(from.to_text()));
    doc.insert(TO_FIELD, Value::String(to.to_text()));
    let id = db.insert(edges, Value::Object(doc))?;
    Ok(EdgeRef {
        collection: edges.to_string(),
        id,
    })
}

/// Removes an edge; `false` when it did not exist.
pub fn remove_edge(db: &Database, edge: &EdgeRef) -> Result<bool> {
    match db.delete(&edge.collection, &edge.id) {
        Ok(found) => Ok(found),
        Err(EngineError::DocumentNotFound { .. }) => Ok(false),
        Err(other) => Err(other.into()),
    }
}

/// The neighbours of an entity over `edges` in `direction`, on the latest snapshot.
pub fn neighbours(
    db: &Database,
    entity: &VertexRef,
    direction: Direction,
    edges: &[String],
) -> Result<Vec<Neighbour>> {
    let mut txn = db.read()?;
    read_neighbours(&mut txn, entity, direction, edges, None)
}

/// The id of an entity given as text (`collection/id`), for callers holding text.
pub fn parse(text: &str) -> Result<VertexRef> {
    VertexRef::parse("entity", text)
}

/// An entity of `collection` with `id`.
pub fn of(collection: &str, id: impl Into<DocId>) -> VertexRef {
    VertexRef::new(collection, id)
}
