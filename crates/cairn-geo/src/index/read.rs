//! Reading a spatial index: the parts whose bounding boxes overlap a query box.

use std::ops::Bound;

use cairn_engine::{KeyRange, Transaction};

use crate::error::{GeoError, Result};
use crate::index::entries::{decode_primitive, doc_key_of};
use crate::index::grid::{self, OVERFLOW_LEVEL};
use crate::index::maintain::{ENTRIES_TABLE, META_TABLE, READY_KEY, SPATIAL_KIND};
use crate::index::spec::SpatialSpec;
use crate::primitive::{Aabb, Primitive};

/// A spatial index of a collection as a snapshot sees it.
#[derive(Debug, Clone)]
pub struct SpatialHandle {
    /// The definition.
    pub spec: SpatialSpec,
    /// Whether its build has finished (only then may queries use it).
    pub ready: bool,
}

/// What one search read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchStats {
    /// Key ranges read.
    pub ranges: u64,
    /// Entries read (parts whose cell may overlap the query).
    pub entries: u64,
    /// Parts whose bounding box overlaps the query box (handed to the caller).
    pub candidates: u64,
}

/// The spatial indexes of a collection in `txn`'s snapshot.
pub fn spatial_indexes(txn: &mut Transaction, collection: &str) -> Result<Vec<SpatialHandle>> {
    let meta = txn.collection_meta(collection)?;
    let mut out = Vec::new();
    for ext in meta.extensions.iter().filter(|e| e.kind == SPATIAL_KIND) {
        let spec = SpatialSpec::from_config(&ext.name, &ext.config)?;
        let ready = txn
            .extension_get(collection, &ext.name, META_TABLE, READY_KEY)?
            .is_some();
        out.push(SpatialHandle { spec, ready });
    }
    Ok(out)
}

impl SpatialHandle {
    /// Calls `visit(doc_key, part)` for every stored part whose bounding box overlaps `query`
    /// (a document appears once per such part), until it returns false.
    pub fn search(
        &self,
        txn: &mut Transaction,
        collection: &str,
        query: &Aabb,
        visit: &mut dyn FnMut(&[u8], &Primitive) -> Result<bool>,
    ) -> Result<SearchStats> {
        self.search_in(txn, collection, query, None, visit)
    }

    /// Like [`SpatialHandle::search`] over the box `around` grown by `radius`, but reads only
    /// grid blocks that may hold a part within `radius` of `around` (the ball, not its
    /// bounding cube). Every part within `radius` of `around` is visited; some farther ones
    /// may be too.
    pub fn search_near(
        &self,
        txn: &mut Transaction,
        collection: &str,
        around: &Aabb,
        radius: f64,
        visit: &mut dyn FnMut(&[u8], &Primitive) -> Result<bool>,
    ) -> Result<SearchStats> {
        let query = around.expanded(radius);
        self.search_in(txn, collection, &query, Some((around, radius)), visit)
    }

    fn search_in(
        &self,
        txn: &mut Transaction,
        collection: &str,
        query: &Aabb,
        ball: Option<(&Aabb, f64)>,
        visit: &mut dyn FnMut(&[u8], &Primitive) -> Result<bool>,
    ) -> Result<SearchStats> {
        let mut stats = SearchStats::default();
        let mut failure: Option<GeoError> = None;
        let mut stopped = false;
        let mut from: u16 = 0;
        while from <= u16::from(OVERFLOW_LEVEL) && !stopped {
            // Jump to the next level that holds anything: one seek per non-empty level.
            let mut next = None;
            txn.extension_range(
                collection,
                &self.spec.name,
                ENTRIES_TABLE,
                Bound::Included(&[from as u8]),
                Bound::Unbounded,
                |key, _| {
                    next = key.first().copied();
                    Ok(false)
                },
            )?;
            let Some(level) = next else { break };
            let ranges = if level == OVERFLOW_LEVEL {
                vec![(0u128, u128::MAX)]
            } else {
                grid::ranges_near(level, query, ball)
            };
            stats.ranges += ranges.len() as u64;
            // Key bounds of every range (`level ‖ morton`); Morton codes use 126 bits, so
            // `hi + 1` never overflows on a regular level.
            let keys: Vec<([u8; 17], Option<[u8; 17]>)> = ranges
                .iter()
                .map(|&(lo, hi)| {
                    let key = |code: u128| {
                        let mut key = [0u8; 17];
                        key[0] = level;
                        key[1..].copy_from_slice(&code.to_be_bytes());
                        key
                    };
                    (
                        key(lo),
                        (level != OVERFLOW_LEVEL).then(|| key(hi.saturating_add(1))),
                    )
                })
                .collect();
            let bounds: Vec<KeyRange<'_>> = keys
                .iter()
                .map(|(start, end)| {
                    (
                        Bound::Included(start.as_slice()),
                        end.as_ref()
                            .map_or(Bound::Unbounded, |end| Bound::Excluded(end.as_slice())),
                    )
                })
                .collect();
            txn.extension_ranges(
                collection,
                &self.spec.name,
                ENTRIES_TABLE,
                &bounds,
                |_, key, value| {
                    stats.entries += 1;
                    let outcome = (|| -> Result<bool> {
                        let part = decode_primitive(value)?;
                        if !part.bbox().overlaps(query) {
                            return Ok(true);
                        }
                        stats.candidates += 1;
                        visit(doc_key_of(key)?, &part)
                    })();
                    match outcome {
                        Ok(more) => {
                            stopped |= !more;
                            Ok(more)
                        }
                        Err(err) => {
                            failure = Some(err);
                            stopped = true;
                            Ok(false)
                        }
                    }
                },
            )?;
            from = u16::from(level) + 1;
        }
        match failure {
            Some(err) => Err(err),
            None => Ok(stats),
        }
    }
}
