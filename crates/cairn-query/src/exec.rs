//! The executor: runs an access path over one snapshot and hands matching documents on.

use std::collections::HashSet;
use std::ops::Bound;
use std::time::Instant;

use cairn_doc::Value;
use cairn_engine::Transaction;
use cairn_index::IndexHandle;

use crate::error::{QueryError, Result};
use crate::filter::Filter;
use crate::index_only;
use crate::key_bounds::{as_slice, tighter_lower};
use crate::limits::BUDGET_CHECK_INTERVAL;
use crate::plan::{Access, MatchedDocs};
use crate::primary_key::{bounded, KeyAccess};

/// What an execution did, for `explain`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecStats {
    /// Index entries read, and primary keys looked up or scanned.
    pub keys_examined: u64,
    /// Documents read and tested against the filter.
    pub docs_examined: u64,
    /// Documents that matched.
    pub matched: u64,
    /// Parts a spatial index produced as candidates (bounding box overlapping the query).
    pub spatial_candidates: u64,
    /// Exact geometric tests performed on candidate parts (`$near` included).
    pub exact_tests: u64,
    /// Spatial-index buckets found decoded in the bucket cache (read-only snapshots).
    pub spatial_bucket_hits: u64,
    /// Spatial-index buckets read from the snapshot and decoded into the cache.
    pub spatial_bucket_loads: u64,
    /// Jumps a spatial-index search made through the stored pages (each a B-tree descent).
    pub spatial_seeks: u64,
    /// Spatial-index searches answered from the index content's resident image (in memory).
    pub spatial_resident: u64,
}

impl ExecStats {
    /// Adds what a spatial-index search read: its entries count as keys examined.
    pub fn add_spatial(&mut self, search: &cairn_geo::index::SearchStats) {
        self.keys_examined += search.entries;
        self.spatial_candidates += search.candidates;
        self.spatial_bucket_hits += search.bucket_hits;
        self.spatial_bucket_loads += search.bucket_loads;
        self.spatial_seeks += search.seeks;
        self.spatial_resident += search.resident;
    }
}

/// The running context of one query execution.
pub struct Executor<'a> {
    pub(crate) txn: &'a mut Transaction,
    pub(crate) collection: &'a str,
    pub(crate) indexes: &'a [IndexHandle],
    pub(crate) filter: &'a Filter,
    pub(crate) started: Instant,
    pub(crate) budget: std::time::Duration,
    pub(crate) stats: ExecStats,
    /// The query keeps only `_id` (and needs no other field to sort): an access that decides
    /// the filter by itself emits `{"_id"}` documents from keys (see `index_only.rs`).
    pub(crate) ids_only: bool,
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
            Access::Spatial { .. } if self.ids_only && index_only::decides(access, self.filter) => {
                for key in self.doc_keys(access)? {
                    self.stats.matched += 1;
                    if !emit(&key, index_only::id_document(&key)?)? {
                        break;
                    }
                }
                Ok(())
            }
            Access::Index { .. }
            | Access::Union(_)
            | Access::Intersect(..)
            | Access::Spatial { .. } => {
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
        let Access::Index {
            index,
            scans,
            may_repeat,
            ..
        } = access
        else {
            return self.run(access, None, emit);
        };
        let handle = self.handle(index)?;
        let mut seen = HashSet::new();
        let mut failure = None;
        for scan in scans {
            let mut stop = false;
            let mut pending: Vec<Vec<u8>> = Vec::new();
            // Read keys in batches so the document fetches do not nest inside the index scan's
            // borrow of the transaction.
            let mut resume: Option<Vec<u8>> = None;
            // Start small (a top-k query needs few keys) and grow towards ORDERED_BATCH.
            let mut batch = FIRST_ORDERED_BATCH;
            loop {
                pending.clear();
                let mut scan_now = scan.clone();
                if let (Some(last), cairn_index::IndexScan::Range { lower, .. }) =
                    (&resume, &mut scan_now)
                {
                    *lower = Bound::Excluded(last.clone());
                }
                let mut last_tuple_key = None;
                handle.scan(self.txn, self.collection, &scan_now, |tuple, doc_key| {
                    self.stats.keys_examined += 1;
                    pending.push(doc_key.to_vec());
                    last_tuple_key = Some([tuple, doc_key].concat());
                    Ok(pending.len() < batch)
                })?;
                let exhausted = pending.len() < batch;
                batch = (batch * 2).min(ORDERED_BATCH);
                for doc_key in &pending {
                    if *may_repeat && !seen.insert(doc_key.clone()) {
                        continue;
                    }
                    match self.fetch_one(doc_key, emit) {
                        Ok(true) => {}
                        Ok(false) => {
                            stop = true;
                            break;
                        }
                        Err(err) => {
                            failure = Some(err);
                            stop = true;
                            break;
                        }
                    }
                }
                if stop || exhausted {
                    break;
                }
                resume = last_tuple_key;
            }
            if let Some(err) = failure {
                return Err(err);
            }
            if stop {
                break;
            }
        }
        Ok(())
    }

    fn handle(&self, name: &str) -> Result<IndexHandle> {
        self.indexes
            .iter()
            .find(|i| i.spec.name == name)
            .cloned()
            .ok_or_else(|| QueryError::invalid("plan", format!("index `{name}` vanished")))
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
        let mut failure = None;
        let collection = self.collection;
        let started = self.started;
        let budget = self.budget;
        let stats = &mut self.stats;
        self.txn
            .scan_documents(collection, start, end, |key, doc| {
                stats.docs_examined += 1;
                if count_keys {
                    stats.keys_examined += 1;
                }
                if let Err(err) = check_budget(started, budget, stats.docs_examined) {
                    failure = Some(err);
                    return Ok(false);
                }
                if !filter.matches(&doc) {
                    return Ok(true);
                }
                stats.matched += 1;
                match emit(key, doc) {
                    Ok(more) => Ok(more),
                    Err(err) => {
                        failure = Some(err);
                        Ok(false)
                    }
                }
            })?;
        failure.map_or(Ok(()), Err)
    }

    /// The document keys an index access finds, sorted and deduplicated.
    fn doc_keys(&mut self, access: &Access) -> Result<Vec<Vec<u8>>> {
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
                        Ok(true)
                    },
                )?;
                keys
            }
            Access::Index { index, scans, .. } => {
                let handle = self.handle(index)?;
                let mut keys = Vec::new();
                for scan in scans {
                    let stats = &mut self.stats;
                    handle.scan(self.txn, self.collection, scan, |_, doc_key| {
                        stats.keys_examined += 1;
                        keys.push(doc_key.to_vec());
                        Ok(true)
                    })?;
                }
                keys
            }
            Access::Spatial {
                handle,
                query,
                test,
                ball,
                found,
            } => {
                if let Some(found) = found {
                    self.stats.add_spatial(&found.search);
                    self.stats.exact_tests += found.exact_tests;
                    found.keys.clone()
                } else {
                    let mut matched = MatchedDocs::default();
                    let mut tests = 0u64;
                    let search = crate::plan::spatial_search(
                        handle,
                        self.txn,
                        self.collection,
                        query,
                        ball.as_deref(),
                        &mut |key, part| Ok(matched.offer(key, part, test, &mut tests)),
                    )?;
                    self.stats.add_spatial(&search);
                    self.stats.exact_tests += tests;
                    matched.into_sorted()
                }
            }
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
