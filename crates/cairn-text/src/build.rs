//! Creating, building online, dropping and verifying text indexes.
//!
//! An online build attaches the index *unfilled* (from that commit on the write hook keeps
//! every written document indexed), then walks the collection in key order in chunk
//! transactions of [`BUILD_CHUNK_DOCUMENTS`] documents. A chunk indexes the documents whose
//! `docs` entry is absent (the hook has not indexed them since the attach) and reads them
//! inside its own transaction, so a concurrent write to one of them makes the chunk conflict
//! and retry rather than index a stale version. A last transaction marks the index ready;
//! searches refuse an index that is not. An interrupted build is finished by calling
//! [`resume_text_builds`]: chunks are idempotent, so it simply walks again.

use std::collections::BTreeMap;
use std::ops::Bound;

use cairn_doc::Value;
use cairn_engine::{Database, EngineError};

use crate::error::{Result, TextError};
use crate::layout::{
    decode_lengths, doc_terms, encode_lengths, posting_key, stats_stripe, term_prefix, term_stripe,
    CollectionStats, TermStripe, DOCS_TABLE, META_TABLE, POSTINGS_TABLE, READY_KEY, STATS_TABLE,
    TERMS_TABLE,
};
use crate::limits::{BUILD_CHUNK_DOCUMENTS, MAX_VERIFY_FINDINGS};
use crate::maintain::{apply_change, scan_all, text_index, BuilderTables, TEXT_KIND};
use crate::spec::TextSpec;

/// How far a build has got, reported to a progress callback after each chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildProgress {
    /// Documents walked so far.
    pub scanned: u64,
    /// Documents in the collection when the build started.
    pub total: u64,
}

/// Creates a text index and fills it from the documents already there, online: the
/// collection stays readable and writable throughout. If the build fails the index is
/// dropped again and the error returned.
pub fn create_text_index(
    db: &Database,
    collection: &str,
    spec: &TextSpec,
    progress: &mut dyn FnMut(BuildProgress),
) -> Result<()> {
    db.attach_extension_unfilled(collection, TEXT_KIND, &spec.name, spec.to_config())?;
    match fill(db, collection, spec, progress) {
        Ok(()) => Ok(()),
        Err(err) => {
            // Best effort: the build's own error is the one worth reporting.
            let _ = db.detach_extension(collection, &spec.name);
            Err(err)
        }
    }
}

/// Finishes the text index builds a crash interrupted (indexes attached but not ready);
/// returns the `(collection, index)` pairs it finished.
pub fn resume_text_builds(db: &Database) -> Result<Vec<(String, String)>> {
    let mut unfinished = Vec::new();
    {
        let mut txn = db.read()?;
        for meta in db.list_collections()? {
            for ext in meta.extensions.iter().filter(|e| e.kind == TEXT_KIND) {
                let (spec, ready) = text_index(&mut txn, &meta.name, &ext.name)?;
                if !ready {
                    unfinished.push((meta.name.clone(), spec));
                }
            }
        }
    }
    let mut done = Vec::new();
    for (collection, spec) in unfinished {
        fill(db, &collection, &spec, &mut |_| {})?;
        done.push((collection, spec.name));
    }
    Ok(done)
}

/// Drops a text index and its tables.
pub fn drop_text_index(db: &Database, collection: &str, name: &str) -> Result<()> {
    text_index(&mut db.read()?, collection, name)?;
    db.detach_extension(collection, name)?;
    Ok(())
}

fn fill(
    db: &Database,
    collection: &str,
    spec: &TextSpec,
    progress: &mut dyn FnMut(BuildProgress),
) -> Result<()> {
    let analyzer = spec.analyzer();
    let mut state = BuildProgress {
        scanned: 0,
        total: db.read()?.document_count(collection)?,
    };
    let mut after: Option<Vec<u8>> = None;
    loop {
        let (walked, last) = db.transaction(|txn| {
            let mut docs: Vec<(Vec<u8>, Value)> = Vec::new();
            let start = after.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
            txn.scan_documents(collection, start, Bound::Unbounded, |key, doc| {
                docs.push((key.to_vec(), doc));
                Ok::<_, cairn_engine::EngineError>(docs.len() < BUILD_CHUNK_DOCUMENTS)
            })?;
            let mut tables = BuilderTables {
                txn,
                collection,
                index: &spec.name,
            };
            for (key, doc) in &docs {
                if crate::maintain::Tables::get(&mut tables, DOCS_TABLE, key)?.is_none() {
                    apply_change(&mut tables, spec, &analyzer, key, None, Some(doc))
                        .map_err(EngineError::from)?;
                }
            }
            Ok((docs.len(), docs.last().map(|(key, _)| key.clone())))
        })?;
        state.scanned += walked as u64;
        progress(state);
        match last {
            Some(key) if walked == BUILD_CHUNK_DOCUMENTS => after = Some(key),
            _ => break,
        }
    }
    db.transaction(|txn| txn.extension_put(collection, &spec.name, META_TABLE, READY_KEY, &[]))?;
    Ok(())
}

/// What verifying a text index against its collection found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextVerification {
    /// Human-readable findings (at most [`MAX_VERIFY_FINDINGS`]).
    pub findings: Vec<String>,
    /// Total mismatches, including those beyond the findings listed.
    pub mismatches: u64,
}

impl TextVerification {
    /// Whether the index matched its collection exactly.
    pub fn is_clean(&self) -> bool {
        self.mismatches == 0
    }

    fn note(&mut self, finding: impl FnOnce() -> String) {
        self.mismatches += 1;
        if self.findings.len() < MAX_VERIFY_FINDINGS {
            self.findings.push(finding());
        }
    }
}

/// Everything a rebuild from the documents would store (score bounds aside).
#[derive(Default)]
struct Expected {
    postings: BTreeMap<Vec<u8>, Vec<u8>>,
    terms: BTreeMap<Vec<u8>, TermStripe>,
    stats: BTreeMap<u8, CollectionStats>,
    docs: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// Compares a text index with a rebuild from its collection's documents in `txn`'s snapshot
/// (what `cairn check` runs): postings, document frequencies, statistics and field lengths
/// must match exactly, and the stored score bounds must bound the actual postings.
/// Memory: the expected index of the whole collection.
pub fn verify_text_index(
    txn: &mut cairn_engine::Transaction,
    collection: &str,
    name: &str,
) -> Result<TextVerification> {
    let (spec, _) = text_index(txn, collection, name)?;
    let analyzer = spec.analyzer();
    let fields = spec.fields.len();
    let mut expected = Expected::default();
    txn.scan_documents(
        collection,
        Bound::Unbounded,
        Bound::Unbounded,
        |key, doc| {
            let terms = doc_terms(&spec, &analyzer, &doc);
            if !terms.is_indexed() {
                return Ok::<_, cairn_engine::EngineError>(true);
            }
            let stripe = term_stripe(key);
            for ((field, term), posting) in &terms.postings {
                expected
                    .postings
                    .insert(posting_key(*field, term, key), posting.encode());
                let mut tkey = term_prefix(*field, term);
                tkey.push(stripe);
                let entry = expected.terms.entry(tkey).or_default();
                *entry = entry.merge(TermStripe {
                    df: 1,
                    max_tf: posting.tf(),
                    min_len: posting.field_len,
                });
            }
            expected
                .stats
                .entry(stats_stripe(key))
                .or_insert_with(|| CollectionStats::empty(fields))
                .apply(&terms.lengths, 1);
            expected
                .docs
                .insert(key.to_vec(), encode_lengths(&terms.lengths));
            Ok(true)
        },
    )?;
    let mut report = TextVerification::default();
    let mut failure: Option<TextError> = None;
    compare_table(
        txn,
        collection,
        name,
        POSTINGS_TABLE,
        &mut report,
        |key, value| Ok(expected.postings.remove(key).map(|e| e == value)),
    )?;
    for key in expected.postings.keys() {
        report.note(|| format!("missing posting {}", hex(key)));
    }
    compare_table(
        txn,
        collection,
        name,
        TERMS_TABLE,
        &mut report,
        |key, value| {
            let stored = TermStripe::decode(value)?;
            Ok(expected.terms.remove(key).map(|e| {
                e.df == stored.df && stored.max_tf >= e.max_tf && stored.min_len <= e.min_len
            }))
        },
    )?;
    for key in expected.terms.keys() {
        report.note(|| format!("missing dictionary entry {}", hex(key)));
    }
    compare_table(
        txn,
        collection,
        name,
        STATS_TABLE,
        &mut report,
        |key, value| {
            let stored = CollectionStats::decode(value, fields)?;
            let stripe = *key
                .first()
                .ok_or(TextError::Corrupt { table: STATS_TABLE })?;
            let want = expected
                .stats
                .remove(&stripe)
                .unwrap_or_else(|| CollectionStats::empty(fields));
            Ok(Some(want == stored))
        },
    )?;
    for stripe in expected.stats.keys() {
        report.note(|| format!("missing statistics stripe {stripe}"));
    }
    compare_table(
        txn,
        collection,
        name,
        DOCS_TABLE,
        &mut report,
        |key, value| {
            if let Err(err) = decode_lengths(value, fields) {
                failure.get_or_insert(err);
            }
            Ok(expected.docs.remove(key).map(|e| e == value))
        },
    )?;
    for key in expected.docs.keys() {
        report.note(|| format!("missing document lengths {}", hex(key)));
    }
    match failure {
        Some(err) => Err(err),
        None => Ok(report),
    }
}

/// Walks a stored table; `check` says whether an entry is expected (`None`: not at all,
/// `Some(false)`: with another value).
fn compare_table(
    txn: &mut cairn_engine::Transaction,
    collection: &str,
    name: &str,
    table: &'static str,
    report: &mut TextVerification,
    mut check: impl FnMut(&[u8], &[u8]) -> Result<Option<bool>>,
) -> Result<()> {
    scan_all(txn, collection, name, table, |key, value| {
        match check(key, value)? {
            Some(true) => {}
            Some(false) => report.note(|| format!("{table}: wrong value at {}", hex(key))),
            None => report.note(|| format!("{table}: extra entry {}", hex(key))),
        }
        Ok(true)
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A text index as listed.
#[derive(Debug, Clone)]
pub struct TextInfo {
    /// The definition.
    pub spec: TextSpec,
    /// Whether the build finished and queries may use it.
    pub ready: bool,
    /// Documents whose postings are stored.
    pub documents: u64,
    /// Bytes its tables occupy on disk.
    pub bytes: u64,
}

/// Lists a collection's text indexes with their sizes.
pub fn list_text_indexes(db: &Database, collection: &str) -> Result<Vec<TextInfo>> {
    let mut txn = db.read()?;
    let names: Vec<String> = txn
        .collection_meta(collection)?
        .extensions
        .iter()
        .filter(|e| e.kind == TEXT_KIND)
        .map(|e| e.name.clone())
        .collect();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let (spec, ready) = text_index(&mut txn, collection, &name)?;
        let mut bytes = 0;
        for table in [POSTINGS_TABLE, TERMS_TABLE, STATS_TABLE, DOCS_TABLE] {
            bytes += txn.extension_table_stats(collection, &name, table)?.bytes;
        }
        let documents = txn
            .extension_table_stats(collection, &name, DOCS_TABLE)?
            .entries;
        out.push(TextInfo {
            spec,
            ready,
            documents,
            bytes,
        });
    }
    Ok(out)
}
