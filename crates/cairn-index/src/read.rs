//! Reading indexes: what the planner and executor see of them.

use std::ops::Bound;
use std::sync::Arc;

use cairn_engine::{Direction, Transaction};

use crate::entries::{hash_tuple, split};
use crate::error::{IndexError, Result};
use crate::keys::prefix_successor;
use crate::maintain::{
    instance, IndexExtension, ENTRIES_TABLE, INDEX_KIND, META_TABLE, MULTIKEY_KEY, READY_KEY,
};
use crate::spec::{IndexKind, IndexSpec};
use crate::stats::IndexStats;

/// A range of an index's tuples, as bounds on tuple *prefixes*: `Included(p)` as a lower bound
/// starts at the first tuple beginning with `p`; `Excluded(p)` skips every tuple beginning
/// with `p`; as upper bounds, `Included(p)` keeps and `Excluded(p)` stops before tuples
/// beginning with `p`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexScan {
    /// B-tree tuples within prefix bounds.
    Range {
        /// Lower bound.
        lower: Bound<Vec<u8>>,
        /// Upper bound.
        upper: Bound<Vec<u8>>,
    },
    /// Hash entries whose whole tuple equals this one.
    HashEqual {
        /// The encoded tuple.
        tuple: Vec<u8>,
    },
}

impl IndexScan {
    /// The scan of every tuple starting with `prefix`.
    pub fn prefix(prefix: Vec<u8>) -> IndexScan {
        IndexScan::Range {
            lower: Bound::Included(prefix.clone()),
            upper: Bound::Included(prefix),
        }
    }

    /// The stored-key bounds of this scan.
    fn stored_bounds(&self) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        match self {
            IndexScan::Range { lower, upper } => {
                let lower = match lower {
                    Bound::Included(p) => Bound::Included(p.clone()),
                    Bound::Excluded(p) => match prefix_successor(p) {
                        Some(s) => Bound::Included(s),
                        None => Bound::Excluded(p.clone()),
                    },
                    Bound::Unbounded => Bound::Unbounded,
                };
                let upper = match upper {
                    Bound::Included(p) => match prefix_successor(p) {
                        Some(s) => Bound::Excluded(s),
                        None => Bound::Unbounded,
                    },
                    Bound::Excluded(p) => Bound::Excluded(p.clone()),
                    Bound::Unbounded => Bound::Unbounded,
                };
                (lower, upper)
            }
            IndexScan::HashEqual { tuple } => {
                let prefix = hash_tuple(tuple).to_be_bytes().to_vec();
                let upper = prefix_successor(&prefix).map_or(Bound::Unbounded, Bound::Excluded);
                (Bound::Included(prefix), upper)
            }
        }
    }
}

/// An index of a collection as a snapshot sees it.
#[derive(Clone)]
pub struct IndexHandle {
    /// The definition.
    pub spec: IndexSpec,
    /// Whether its build has finished (only then may queries use it).
    pub ready: bool,
    /// Whether some document held an array in an indexed field: entries are then per element
    /// and a document may appear more than once, so the index cannot provide sort order.
    pub multikey: bool,
    instance: Arc<dyn cairn_engine::Extension>,
}

impl std::fmt::Debug for IndexHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexHandle")
            .field("spec", &self.spec)
            .field("ready", &self.ready)
            .field("multikey", &self.multikey)
            .finish()
    }
}

/// The secondary indexes of a collection in `txn`'s snapshot.
pub fn indexes(txn: &mut Transaction, collection: &str) -> Result<Vec<IndexHandle>> {
    let meta = txn.collection_meta(collection)?;
    let mut out = Vec::new();
    for ext in meta.extensions.iter().filter(|e| e.kind == INDEX_KIND) {
        let spec = IndexSpec::from_config(&ext.name, &ext.config)?;
        let ready = txn
            .extension_get(collection, &ext.name, META_TABLE, READY_KEY)?
            .is_some();
        let multikey = txn
            .extension_get(collection, &ext.name, META_TABLE, MULTIKEY_KEY)?
            .is_some();
        let instance = instance(txn, collection, &ext.name)?;
        out.push(IndexHandle {
            spec,
            ready,
            multikey,
            instance,
        });
    }
    Ok(out)
}

impl IndexHandle {
    /// Current statistics (recomputed by a scan when missing or stale).
    pub fn stats(&self, txn: &mut Transaction, collection: &str) -> Result<Arc<IndexStats>> {
        let ext = self
            .instance
            .as_any()
            .downcast_ref::<IndexExtension>()
            .ok_or_else(|| IndexError::UnknownIndex {
                collection: collection.to_string(),
                name: self.spec.name.clone(),
            })?;
        ext.stats().get_or_compute(txn, collection, &self.spec)
    }

    /// Visits `(tuple, document key)` of the entries in `scan`, in key order, until `visit`
    /// returns false.
    pub fn scan(
        &self,
        txn: &mut Transaction,
        collection: &str,
        scan: &IndexScan,
        visit: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        self.scan_toward(Direction::Forward, txn, collection, scan, visit)
    }

    /// [`IndexHandle::scan`] in either direction: backwards, entries come in descending
    /// `tuple ‖ document key` order (what serves a descending sort; entries with equal tuples
    /// then come in descending key order, which the reader regroups if it needs ties by key).
    pub fn scan_toward(
        &self,
        direction: Direction,
        txn: &mut Transaction,
        collection: &str,
        scan: &IndexScan,
        mut visit: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        if matches!(scan, IndexScan::HashEqual { .. }) != (self.spec.kind == IndexKind::Hash) {
            return Err(IndexError::InvalidDefinition {
                name: self.spec.name.clone(),
                reason: "scan kind does not match the index kind".into(),
            });
        }
        let (lower, upper) = scan.stored_bounds();
        let wanted = match scan {
            IndexScan::HashEqual { tuple } => Some(tuple.as_slice()),
            IndexScan::Range { .. } => None,
        };
        txn.extension_range_toward(
            direction,
            collection,
            &self.spec.name,
            ENTRIES_TABLE,
            (bound_ref(&lower), bound_ref(&upper)),
            |key, value| {
                let (tuple, doc_key) = split(&self.spec, key, value)?;
                if wanted.is_some_and(|w| w != tuple) {
                    return Ok(true);
                }
                visit(tuple, doc_key)
            },
        )
    }

    /// Every stored `(key, value)` of the index, in key order: for verification (`check`,
    /// tests comparing an index with a rebuild).
    pub fn raw_entries(
        &self,
        txn: &mut Transaction,
        collection: &str,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        visit_entries(
            txn,
            collection,
            &self.spec.name,
            (Bound::Unbounded, Bound::Unbounded),
            |key, value| {
                out.push((key.to_vec(), value.to_vec()));
                Ok(true)
            },
        )?;
        Ok(out)
    }

    /// Counts the entries of `scan`, stopping at `cap`: exact below the cap.
    pub fn count_up_to(
        &self,
        txn: &mut Transaction,
        collection: &str,
        scan: &IndexScan,
        cap: u64,
    ) -> Result<u64> {
        let mut count = 0;
        self.scan(txn, collection, scan, |_, _| {
            count += 1;
            Ok(count < cap)
        })?;
        Ok(count)
    }
}

/// Visits the stored `(key, value)` entries of an index within `range`, in key order, until
/// `visit` returns false; an error from `visit` stops the scan and is returned as it was
/// (the engine's visitor can only carry engine errors).
pub(crate) fn visit_entries(
    txn: &mut Transaction,
    collection: &str,
    index: &str,
    range: (Bound<&[u8]>, Bound<&[u8]>),
    visit: impl FnMut(&[u8], &[u8]) -> Result<bool>,
) -> Result<()> {
    txn.extension_range(collection, index, ENTRIES_TABLE, range.0, range.1, visit)
}

fn bound_ref(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match bound {
        Bound::Included(b) => Bound::Included(b.as_slice()),
        Bound::Excluded(b) => Bound::Excluded(b.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}
