//! The executor: runs an access path over one snapshot and hands matching documents on.

use std::collections::HashSet;
use std::ops::Bound;
use std::time::Instant;

use cairn_doc::Value;
use cairn_engine::Transaction;

use crate::access::{DocumentSource, OrderedBatch, ScanContext};
use crate::error::{QueryError, Result};
use crate::filter::Filter;
use crate::index_only;
use crate::key_bounds::{as_slice, tighter_lower};
use crate::limits::BUDGET_CHECK_INTERVAL;
use crate::plan::Access;
use crate::primary_key::{bounded, KeyAccess};

/// What an execution did, for `explain`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecStats {
    /// Index entries read, and primary keys looked up or scanned.
    pub keys_examined: u64,
    /// Documents read and tested against the filter.
    pub docs_examined: u64,
    /// Documents that matched.
    pub matched: u64,
    /// What the access methods counted, by name, in the order first counted (a spatial
    /// index's `spatial_candidates`, `exact_tests`, `spatial_seeks`...).
    pub counters: Vec<(&'static str, u64)>,
}

impl ExecStats {
    /// Adds `n` to counter `name` (creating it, even at 0: `explain` shows what was counted).
    pub fn add(&mut self, name: &'static str, n: u64) {
        match self.counters.iter_mut().find(|(known, _)| *known == name) {
            Some((_, count)) => *count += n,
            None => self.counters.push((name, n)),
        }
    }

    /// Counter `name` (0 when never counted).
    pub fn counter(&self, name: &str) -> u64 {
        self.counters
            .iter()
            .find(|(known, _)| *known == name)
            .map_or(0, |(_, n)| *n)
    }
}

/// The running context of one query execution.
pub struct Executor<'a> {
    pub(crate) txn: &'a mut Transaction,
    pub(crate) collection: &'a str,
    pub(crate) filter: &'a Filter,
    pub(crate) started: Instant,
    pub(crate) budget: std::time::Duration,
    pub(crate) stats: ExecStats,
    /// The query keeps only `_id` (and needs no other field to sort): an access that decides
    /// the filter by itself emits `{"_id"}` documents from keys (see `index_only.rs`).
    pub(crate) ids_only: bool,
    /// Where the collection's documents come from when a model keeps them (time series);
    /// `None`: its stored documents.
    pub(crate) source: Option<std::sync::Arc<dyn DocumentSource>>,
}

impl Executor<'_> {
    fn check_budget(&self) -> Result<()> {
        check_budget(self.started, self.budget, self.stats.docs_examined)
    }

    /// Runs `access`, calling `emit(doc_key, doc)` for each matching document until it
    /// returns false. `start_after` (a document key) skips a full scan or a primary-key
    /// range forward.
    pub fn run(
        &mut self,
        access: &Access,
        start_after: Option<&[u8]>,
        emit: &mut dyn FnMut(&[u8], Value) -> Result<bool>,
    ) -> Result<()> {
        match access {
            Access::FullScan if self.source.is_some() => self.scan_source(start_after, emit),
            // A model's source has no stored documents: nothing to fetch by key.
            _ if self.source.is_some() => Ok(()),
            Access::FullScan => {
                let start = start_after.map_or(Bound::Unbounded, Bound::Excluded);
                self.scan_range(start, Bound::Unbounded, false, emit)
            }
            Access::PrimaryKey(KeyAccess::Points(keys)) => {
                for key in keys {
                    self.stats.keys_examined += 1;
                    if !self.fetch_one(key, emit)? {
                        break;
                    }
                }
                Ok(())
            }
            Access::PrimaryKey(KeyAccess::Range { lower, upper }) => {
                let lower = match start_after {
                    Some(after) => tighter_lower(lower.clone(), Bound::Excluded(after.to_vec())),
                    None => lower.clone(),
                };
                // The cursor may have moved past the range: then nothing is left to read.
                match bounded(lower, upper.clone()) {
                    KeyAccess::Range { lower, upper } => {
                        self.scan_range(as_slice(&lower), as_slice(&upper), true, emit)
                    }
                    KeyAccess::Points(_) => Ok(()),
                }
            }
            Access::Index(path) if self.ids_only && path.decides(self.filter) => {
                for key in self.doc_keys(access)? {
                    self.stats.matched += 1;
                    if !emit(&key, index_only::id_document(&key)?)? {
                        break;
                    }
                }
                Ok(())
            }
            Access::Index(_) | Access::Union(_) | Access::Intersect(..) => {
                let keys = self.doc_keys(access)?;
                self.fetch_each(&keys, emit)
            }
        }
    }

    /// Runs an ordered index access, emitting documents in index order (deduplicated).
    pub fn run_ordered(
        &mut self,
        access: &Access,
        emit: &mut dyn FnMut(&[u8], Value) -> Result<bool>,
    ) -> Result<()> {
        let Access::Index(path) = access else {
            return self.run(access, None, emit);
        };
        let may_repeat = path.may_repeat();
        let mut seen = HashSet::new();
        // Keys are read in batches so the document fetches do not nest inside the index
        // read's borrow of the transaction. Start small (a top-k query needs few keys) and
        // grow towards ORDERED_BATCH.
        let mut batch = FIRST_ORDERED_BATCH;
        let mut position = None;
        loop {
            let OrderedBatch { keys, next } =
                path.ordered_batch(&mut self.scan_context(), position, batch)?;
            batch = (batch * 2).min(ORDERED_BATCH);
            for doc_key in &keys {
                if may_repeat && !seen.insert(doc_key.clone()) {
                    continue;
                }
                if !self.fetch_one(doc_key, emit)? {
                    return Ok(());
                }
            }
            match next {
                Some(next) => position = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// How many documents `access` finds, counted from its keys without reading a document,
    /// when it is an index path that decides the filter by itself (`count` from the index);
    /// `None` when the documents must be read and tested.
    pub(crate) fn count_from_keys(&mut self, access: &Access) -> Result<Option<u64>> {
        match access {
            Access::Index(path) if path.decides(self.filter) => {
                let found = self.doc_keys(access)?.len() as u64;
                self.stats.matched += found;
                Ok(Some(found))
            }
            _ => Ok(None),
        }
    }

    /// What an index read may use: the snapshot and the counters.
    pub(crate) fn scan_context(&mut self) -> ScanContext<'_> {
        ScanContext {
            txn: self.txn,
            collection: self.collection,
            stats: &mut self.stats,
        }
    }

    /// Reads the documents whose keys lie within `(start, end)` in key order, testing each;
    /// `count_keys` counts them as keys examined too (a primary-key range).
    fn scan_range(
        &mut self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        count_keys: bool,
        emit: &mut dyn FnMut(&[u8], Value) -> Result<bool>,
    ) -> Result<()> {
        let filter = self.filter;
        let collection = self.collection;
        let started = self.started;
        let budget = self.budget;
        let stats = &mut self.stats;
        self.txn.scan_documents(collection, start, end, |key, doc| {
            stats.docs_examined += 1;
            if count_keys {
                stats.keys_examined += 1;
            }
            check_budget(started, budget, stats.docs_examined)?;
            if !filter.matches(&doc) {
                return Ok(true);
            }
            stats.matched += 1;
            emit(key, doc)
        })
    }

    /// Reads the documents of the model's source (past `start_after`), testing each.
    fn scan_source(
        &mut self,
        start_after: Option<&[u8]>,
        emit: &mut dyn FnMut(&[u8], Value) -> Result<bool>,
    ) -> Result<()> {
        let Some(source) = self.source.clone() else {
            return Ok(());
        };
        let filter = self.filter;
        let (started, budget) = (self.started, self.budget);
        let mut examined = self.stats.docs_examined;
        let mut matched = 0;
        let mut visit = |key: &[u8], doc: Value| -> Result<bool> {
            if start_after.is_some_and(|after| key <= after) {
                return Ok(true);
            }
            examined += 1;
            check_budget(started, budget, examined)?;
            if !filter.matches(&doc) {
                return Ok(true);
            }
            matched += 1;
            emit(key, doc)
        };
        let outcome = source.scan(&mut self.scan_context(), filter, &mut visit);
        self.stats.docs_examined = examined;
        self.stats.matched += matched;
        outcome
    }

    /// The document keys an index access finds, sorted and deduplicated.
    pub(crate) fn doc_keys(&mut self, access: &Access) -> Result<Vec<Vec<u8>>> {
        let mut keys = match access {
            Access::FullScan => {
                return Err(QueryError::invalid("plan", "a full scan has no key list"));
            }
            Access::PrimaryKey(KeyAccess::Points(keys)) => {
                self.stats.keys_examined += keys.len() as u64;
                keys.clone()
            }
            Access::PrimaryKey(KeyAccess::Range { lower, upper }) => {
                let mut keys = Vec::new();
                let stats = &mut self.stats;
                self.txn.scan_documents(
                    self.collection,
                    as_slice(lower),
                    as_slice(upper),
                    |key, _| {
                        stats.keys_examined += 1;
                        keys.push(key.to_vec());
                        Ok::<_, cairn_engine::EngineError>(true)
                    },
                )?;
                keys
            }
            Access::Index(path) => path.keys(&mut self.scan_context())?,
            Access::Union(parts) => {
                let mut keys = Vec::new();
                for part in parts {
                    keys.extend(self.doc_keys(part)?);
                }
                keys
            }
            Access::Intersect(a, b) => {
                let left: HashSet<Vec<u8>> = self.doc_keys(a)?.into_iter().collect();
                self.doc_keys(b)?
                    .into_iter()
                    .filter(|k| left.contains(k))
                    .collect()
            }
        };
        keys.sort_unstable();
        keys.dedup();
        Ok(keys)
    }

    fn fetch_each(
        &mut self,
        keys: &[Vec<u8>],
        emit: &mut dyn FnMut(&[u8], Value) -> Result<bool>,
    ) -> Result<()> {
        for key in keys {
            if !self.fetch_one(key, emit)? {
                break;
            }
        }
        Ok(())
    }

    /// Fetches one document, tests it and emits it; returns whether to go on.
    pub(crate) fn fetch_one(
        &mut self,
        key: &[u8],
        emit: &mut dyn FnMut(&[u8], Value) -> Result<bool>,
    ) -> Result<bool> {
        let Some(doc) = self.txn.get_by_key(self.collection, key)? else {
            // An index entry always has its document in the same snapshot; a missing one
            // means damage, which `cairn check` reports. Skipping keeps the query correct.
            // A primary-key lookup of an id that does not exist lands here too.
            return Ok(true);
        };
        self.stats.docs_examined += 1;
        self.check_budget()?;
        if !self.filter.matches(&doc) {
            return Ok(true);
        }
        self.stats.matched += 1;
        emit(key, doc)
    }
}

/// Fails once `budget` has passed since `started`; looks at the clock only every
/// [`BUDGET_CHECK_INTERVAL`] documents, so the check costs nothing per document.
/// A cancelled query (see [`crate::cancel`]) stops at the same points.
fn check_budget(started: Instant, budget: std::time::Duration, examined: u64) -> Result<()> {
    if !examined.is_multiple_of(BUDGET_CHECK_INTERVAL) {
        return Ok(());
    }
    crate::cancel::check()?;
    if started.elapsed() > budget {
        return Err(QueryError::TimedOut {
            budget_ms: budget.as_millis() as u64,
            examined,
        });
    }
    Ok(())
}

/// Index keys read per batch in an ordered scan, at most.
const ORDERED_BATCH: usize = 1024;
/// Index keys read by an ordered scan's first batch.
const FIRST_ORDERED_BATCH: usize = 32;
