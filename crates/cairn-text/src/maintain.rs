//! Keeping a text index in step with its collection: the write hook the engine calls inside
//! every writing transaction, and the change application shared with online builds.
//!
//! A change is applied as a difference between the old and the new version's postings:
//! postings that vanished are deleted, new or changed ones put, and the document's dictionary
//! stripe and statistics stripe adjusted (see `layout` for the striping). The old version is
//! subtracted only if the `docs` table says its postings are stored, which is what makes the
//! hook correct while an online build has not reached the document yet.

use std::ops::Bound;
use std::sync::Arc;

use cairn_doc::Value;
use cairn_engine::{
    DocChange, EngineError, Extension, ExtensionKind, ExtensionTxn, Result as EngineResult,
    Transaction,
};

use crate::analyzer::Analyzer;
use crate::error::{Result, TextError};
use crate::layout::{
    decode_lengths, doc_terms, encode_lengths, posting_key, stats_stripe, term_prefix, term_stripe,
    CollectionStats, DocTerms, TermStripe, DOCS_TABLE, META_TABLE, POSTINGS_TABLE, READY_KEY,
    STATS_TABLE, TERMS_TABLE,
};
use crate::spec::TextSpec;

/// The extension kind name of text indexes in the catalog.
pub const TEXT_KIND: &str = "text";

/// Table access a change needs; implemented for the write hook and for online builds so
/// both run the same code.
pub(crate) trait Tables {
    fn get(&mut self, table: &str, key: &[u8]) -> EngineResult<Option<Vec<u8>>>;
    fn put(&mut self, table: &str, key: &[u8], value: &[u8]) -> EngineResult<()>;
    fn delete(&mut self, table: &str, key: &[u8]) -> EngineResult<()>;
}

impl Tables for ExtensionTxn<'_> {
    fn get(&mut self, table: &str, key: &[u8]) -> EngineResult<Option<Vec<u8>>> {
        ExtensionTxn::get(self, table, key)
    }
    fn put(&mut self, table: &str, key: &[u8], value: &[u8]) -> EngineResult<()> {
        ExtensionTxn::put(self, table, key, value)
    }
    fn delete(&mut self, table: &str, key: &[u8]) -> EngineResult<()> {
        ExtensionTxn::delete(self, table, key)
    }
}

/// A builder's view of one text index inside a plain transaction.
pub(crate) struct BuilderTables<'t> {
    pub(crate) txn: &'t mut Transaction,
    pub(crate) collection: &'t str,
    pub(crate) index: &'t str,
}

impl Tables for BuilderTables<'_> {
    fn get(&mut self, table: &str, key: &[u8]) -> EngineResult<Option<Vec<u8>>> {
        self.txn
            .extension_get(self.collection, self.index, table, key)
    }
    fn put(&mut self, table: &str, key: &[u8], value: &[u8]) -> EngineResult<()> {
        self.txn
            .extension_put(self.collection, self.index, table, key, value)
    }
    fn delete(&mut self, table: &str, key: &[u8]) -> EngineResult<()> {
        self.txn
            .extension_delete(self.collection, self.index, table, key)
    }
}

/// Applies a document change: `old` is what the document held (its postings are subtracted
/// only if stored), `new` what it holds now (`None` for a delete).
pub(crate) fn apply_change(
    tables: &mut dyn Tables,
    spec: &TextSpec,
    analyzer: &Analyzer,
    doc_key: &[u8],
    old: Option<&Value>,
    new: Option<&Value>,
) -> Result<()> {
    let fields = spec.fields.len();
    let stored = match tables.get(DOCS_TABLE, doc_key)? {
        Some(bytes) => Some(decode_lengths(&bytes, fields)?),
        None => None,
    };
    let old = match (stored.is_some(), old) {
        (true, Some(doc)) => doc_terms(spec, analyzer, doc),
        _ => DocTerms::default(),
    };
    let new = match new {
        Some(doc) => doc_terms(spec, analyzer, doc),
        None => DocTerms::default(),
    };
    let term_stripe = term_stripe(doc_key);
    for (field_term, posting) in &old.postings {
        if !new.postings.contains_key(field_term) {
            let (field, term) = (field_term.0, field_term.1.as_str());
            tables.delete(POSTINGS_TABLE, &posting_key(field, term, doc_key))?;
            adjust_term(tables, field, term, term_stripe, posting, -1)?;
        }
    }
    for (field_term, posting) in &new.postings {
        let (field, term) = (field_term.0, field_term.1.as_str());
        match old.postings.get(field_term) {
            Some(before) if before == posting => continue,
            Some(_) => adjust_term(tables, field, term, term_stripe, posting, 0)?,
            None => adjust_term(tables, field, term, term_stripe, posting, 1)?,
        }
        tables.put(
            POSTINGS_TABLE,
            &posting_key(field, term, doc_key),
            &posting.encode(),
        )?;
    }
    let (was, is) = (stored.is_some(), new.is_indexed());
    if was || is {
        let stripe = [stats_stripe(doc_key)];
        let mut stats = match tables.get(STATS_TABLE, &stripe)? {
            Some(bytes) => CollectionStats::decode(&bytes, fields)?,
            None => CollectionStats::empty(fields),
        };
        if let Some(lengths) = &stored {
            stats.apply(lengths, -1);
        }
        if is {
            stats.apply(&new.lengths, 1);
        }
        tables.put(STATS_TABLE, &stripe, &stats.encode())?;
    }
    if is {
        if stored.as_deref() != Some(new.lengths.as_slice()) {
            tables.put(DOCS_TABLE, doc_key, &encode_lengths(&new.lengths))?;
        }
    } else if was {
        tables.delete(DOCS_TABLE, doc_key)?;
    }
    Ok(())
}

/// Counts a posting into (`delta` 1) or out of (-1) its term's dictionary stripe, or (0)
/// only widens the stripe's score bounds for a changed posting.
fn adjust_term(
    tables: &mut dyn Tables,
    field: u8,
    term: &str,
    stripe: u8,
    posting: &crate::layout::Posting,
    delta: i64,
) -> Result<()> {
    let mut key = term_prefix(field, term);
    key.push(stripe);
    let mut entry = match tables.get(TERMS_TABLE, &key)? {
        Some(bytes) => TermStripe::decode(&bytes)?,
        None => TermStripe::default(),
    };
    if delta < 0 {
        entry.df = entry.df.saturating_sub(1);
        if entry.df == 0 {
            tables.delete(TERMS_TABLE, &key)?;
            return Ok(());
        }
    } else {
        let fresh = entry.df == 0;
        entry.df += delta as u64;
        entry.max_tf = if fresh {
            posting.tf()
        } else {
            entry.max_tf.max(posting.tf())
        };
        entry.min_len = if fresh {
            posting.field_len
        } else {
            entry.min_len.min(posting.field_len)
        };
    }
    tables.put(TERMS_TABLE, &key, &entry.encode())?;
    Ok(())
}

/// A live text index: the engine calls it on every write to its collection.
pub struct TextExtension {
    spec: TextSpec,
    analyzer: Analyzer,
}

impl TextExtension {
    /// The definition.
    pub fn spec(&self) -> &TextSpec {
        &self.spec
    }

    /// The analyzer.
    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }
}

impl Extension for TextExtension {
    fn on_write(&self, txn: &mut ExtensionTxn<'_>, change: &DocChange<'_>) -> EngineResult<()> {
        let doc_key = change.id.to_key().map_err(EngineError::from)?;
        apply_change(
            txn,
            &self.spec,
            &self.analyzer,
            &doc_key,
            change.old,
            change.new,
        )
        .map_err(EngineError::from)
    }

    fn backfilled(&self, txn: &mut ExtensionTxn<'_>) -> EngineResult<()> {
        txn.put(META_TABLE, READY_KEY, &[])
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The extension kind that instantiates text indexes from their catalog entries.
#[derive(Debug, Default)]
pub struct TextExtensionKind;

impl ExtensionKind for TextExtensionKind {
    fn kind(&self) -> &str {
        TEXT_KIND
    }

    fn instantiate(
        &self,
        _collection: &str,
        name: &str,
        config: &Value,
    ) -> EngineResult<Arc<dyn Extension>> {
        let spec = TextSpec::from_config(name, config).map_err(EngineError::from)?;
        Ok(Arc::new(TextExtension {
            analyzer: spec.analyzer(),
            spec,
        }))
    }
}

/// The definition of the text index `name` on `collection` and whether its build finished.
pub fn text_index(txn: &mut Transaction, collection: &str, name: &str) -> Result<(TextSpec, bool)> {
    let meta = txn.collection_meta(collection)?;
    let Some(ext) = meta
        .extensions
        .iter()
        .find(|e| e.kind == TEXT_KIND && e.name == name)
    else {
        return Err(TextError::UnknownIndex {
            collection: collection.to_string(),
            name: name.to_string(),
        });
    };
    let spec = TextSpec::from_config(name, &ext.config)?;
    let ready = txn
        .extension_get(collection, name, META_TABLE, READY_KEY)?
        .is_some();
    Ok((spec, ready))
}

/// Visits every entry of one of the index's tables, in key order.
pub(crate) fn scan_all(
    txn: &mut Transaction,
    collection: &str,
    name: &str,
    table: &str,
    visit: impl FnMut(&[u8], &[u8]) -> Result<bool>,
) -> Result<()> {
    txn.extension_range(
        collection,
        name,
        table,
        Bound::Unbounded,
        Bound::Unbounded,
        visit,
    )
}
