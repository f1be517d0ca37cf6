//! Keeping a vector index in step with its collection: the extension the engine calls on
//! every write, inside the writing transaction. Validation happens in `prepare_write`, before
//! the document is staged, so a refused vector leaves nothing behind; `on_write` changes the
//! graph in the same transaction, so commit and abort cover document and graph together.
//! While a bulk build runs (`bulk/`) it records the written document's key instead, for the
//! build to apply.

use std::sync::Arc;

use cairn_doc::{DocId, Value};
use cairn_engine::{
    DocChange, EngineError, Extension, ExtensionKind, ExtensionTxn, Result as EngineResult,
};

use crate::error::{Result, VectorError};
use crate::hnsw::{delete::delete, insert::insert, nodes::Nodes};
use crate::layout::{BUILDING_KEY, META_TABLE, PENDING_TABLE, READY_KEY};
use crate::spec::VectorSpec;

/// The extension kind name of vector indexes in the catalog.
pub const VECTOR_KIND: &str = "vector";

/// A live vector index.
pub struct VectorExtension {
    spec: VectorSpec,
}

impl VectorExtension {
    /// The definition.
    pub fn spec(&self) -> &VectorSpec {
        &self.spec
    }
}

/// The vector a document holds in the indexed field, validated: `None` when the field is
/// missing or null (the document is simply not in the index).
pub fn document_vector<'d>(spec: &VectorSpec, doc: &'d Value) -> Result<Option<&'d [f32]>> {
    match spec.field.get(doc) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Vector(vector)) => {
            let values = vector.as_slice();
            spec.metric
                .validate(&spec.field_name(), spec.dims, values)?;
            Ok(Some(values))
        }
        Some(other) => Err(VectorError::NotAVector {
            field: spec.field_name(),
            found: other.type_name(),
        }),
    }
}

/// A refused vector as the engine reports it: `ExtensionRejected` (the writer's mistake,
/// HTTP 422 `extension_rejected`) naming the collection and index, with this crate's message
/// naming the field and the reason. Other errors pass through.
fn refusal(txn: &ExtensionTxn<'_>, err: VectorError) -> EngineError {
    if err.is_invalid_vector() {
        EngineError::ExtensionRejected {
            collection: txn.collection().to_string(),
            extension: txn.extension().to_string(),
            message: err.to_string(),
        }
    } else {
        err.into()
    }
}

impl Extension for VectorExtension {
    fn prepare_write(
        &self,
        txn: &mut ExtensionTxn<'_>,
        _id: &DocId,
        _old: Option<&Value>,
        new: &mut Value,
    ) -> EngineResult<()> {
        match document_vector(&self.spec, new) {
            Ok(_) => Ok(()),
            Err(err) => Err(refusal(txn, err)),
        }
    }

    fn on_write(&self, txn: &mut ExtensionTxn<'_>, change: &DocChange<'_>) -> EngineResult<()> {
        let old = match change.old {
            // The stored version was validated when written; if it no longer reads as a
            // vector, its node (if any) goes anyway.
            Some(doc) => document_vector(&self.spec, doc).ok().flatten(),
            None => None,
        };
        let new = match change.new {
            Some(doc) => document_vector(&self.spec, doc).map_err(|err| refusal(txn, err))?,
            None => None,
        };
        if old.is_some() && old == new {
            return Ok(()); // Another field changed: the node stays as it is.
        }
        let key = change.id.to_key().map_err(EngineError::from)?;
        if txn.get(META_TABLE, BUILDING_KEY)?.is_some() {
            // A bulk build is running (`bulk/`): it applies this document as it ends up.
            return txn.put(PENDING_TABLE, &key, &[]);
        }
        let name = self.spec.name.clone();
        let mut nodes = Nodes::new(txn, &name, self.spec.dims, self.spec.metric);
        match new {
            // `insert` replaces a node already stored under the key.
            Some(vector) => insert(&mut nodes, &self.spec.params, &key, vector)?,
            None => delete(&mut nodes, &self.spec.params, &key)?,
        }
        Ok(())
    }

    fn backfilled(&self, txn: &mut ExtensionTxn<'_>) -> EngineResult<()> {
        // Attached with every existing document fed through `on_write`: complete at once.
        txn.put(META_TABLE, READY_KEY, &[])
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The extension kind that instantiates vector indexes from their catalog entries.
#[derive(Debug, Default)]
pub struct VectorExtensionKind;

impl ExtensionKind for VectorExtensionKind {
    fn kind(&self) -> &str {
        VECTOR_KIND
    }

    fn instantiate(
        &self,
        _collection: &str,
        name: &str,
        config: &Value,
    ) -> EngineResult<Arc<dyn Extension>> {
        let spec = VectorSpec::from_config(name, config)?;
        Ok(Arc::new(VectorExtension { spec }))
    }
}
