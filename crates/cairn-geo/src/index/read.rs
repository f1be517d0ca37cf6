//! Reading a spatial index: the parts whose bounding boxes overlap a query box, through the
//! bucket cache (`cached_read.rs`) for read-only snapshots, or with one guided scan of the
//! entries table.

use cairn_engine::{ScanStep, Transaction};

use crate::error::{GeoError, Result};
use crate::index::entries::{decode_primitive, doc_key_of};
use crate::index::grid::{block_beyond, code_in_box, next_in_box, CellBox, OVERFLOW_LEVEL};
pub use crate::index::limits::MAX_SKIPPED_BLOCK_SHIFT;
use crate::index::maintain::{META_TABLE, READY_KEY, SPATIAL_KIND};
use crate::index::spec::SpatialSpec;
use crate::index::{cached_read, entries_table, residency, stamp};
use crate::primitive::{Aabb, Primitive};

/// A spatial index of a collection as a snapshot sees it.
#[derive(Debug, Clone)]
pub struct SpatialHandle {
    /// The definition.
    pub spec: SpatialSpec,
    /// Whether its build has finished (only then may queries use it).
    pub ready: bool,
}

/// Entries a search steps over outside its box before it jumps (one B-tree descent, which
/// costs about as much as this many steps) to where the Morton curve re-enters the box.
pub const STEPS_BEFORE_SEEK: u32 = 4;

/// What a nearest-first walk looks for (see [`SpatialHandle::resident_nearest`]).
#[derive(Debug, Clone, Copy)]
pub struct NearestQuery<'a> {
    /// The query shape's bounding box.
    pub around: &'a Aabb,
    /// Documents farther than this are never handed over.
    pub limit: f64,
    /// How many nearest documents the caller needs (0: no bound on the walk).
    pub want: usize,
}

/// What a search's visitor says after a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visit {
    /// Go on.
    Next,
    /// Go on; the part's document needs none of its other parts. A search may still hand
    /// some (it skips them where that is cheap: the rest of a run of the document's parts
    /// in a resident image), so the visitor must still tolerate them.
    DocumentDone,
    /// Stop the search.
    Stop,
}

/// What one search read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchStats {
    /// B-tree descents made through the stored pages: into a level's box, or back into it
    /// beyond the page the search was in.
    pub seeks: u64,
    /// Entries read (parts whose cell may overlap the query; from the cache, every entry of
    /// each bucket visited).
    pub entries: u64,
    /// Parts whose bounding box overlaps the query box (handed to the caller).
    pub candidates: u64,
    /// Buckets found decoded in the bucket cache (`cache.rs`).
    pub bucket_hits: u64,
    /// Buckets read from the snapshot and decoded into the cache.
    pub bucket_loads: u64,
    /// Searches answered from the content's resident image (`resident/`).
    pub resident: u64,
}

impl SearchStats {
    /// Adds another search's figures.
    pub fn add(&mut self, other: &SearchStats) {
        self.seeks += other.seeks;
        self.entries += other.entries;
        self.candidates += other.candidates;
        self.bucket_hits += other.bucket_hits;
        self.bucket_loads += other.bucket_loads;
        self.resident += other.resident;
    }
}

/// One search in progress, shared by both ways of reading: the query, the visitor, and what
/// was read so far.
pub(crate) struct Search<'s> {
    /// The query box.
    pub(crate) query: &'s Aabb,
    /// For a distance search: the box searched around and the distance.
    pub(crate) ball: Option<(&'s Aabb, f64)>,
    visit: &'s mut dyn FnMut(&[u8], &Primitive) -> Result<Visit>,
    /// What was read.
    pub(crate) stats: SearchStats,
    /// Set once the visitor asked to stop.
    pub(crate) stopped: bool,
}

impl<'s> Search<'s> {
    /// A search of `query` (within the distance of `ball`, when given) handing candidates to
    /// `visit`.
    pub(crate) fn new(
        query: &'s Aabb,
        ball: Option<(&'s Aabb, f64)>,
        visit: &'s mut dyn FnMut(&[u8], &Primitive) -> Result<Visit>,
    ) -> Search<'s> {
        Search {
            query,
            ball,
            visit,
            stats: SearchStats::default(),
            stopped: false,
        }
    }

    /// Hands `part` to the visitor if its exact bounding box overlaps the query box (and lies
    /// within the distance of a distance search); returns whether the search goes on.
    pub(crate) fn offer(&mut self, doc_key: &[u8], part: &Primitive) -> Result<bool> {
        let bbox = part.bbox();
        if !bbox.overlaps(self.query) || !self.within_ball(&bbox) {
            return Ok(true);
        }
        Ok(self.offer_tested(doc_key, part)? != Visit::Stop)
    }

    /// Hands `part` to the visitor, its box already tested by the caller (a box holding
    /// the part's exact box: the resident image's `f32` boxes, rounded outward). Such a box
    /// may let through a part whose exact box lies a rounding error outside the query, which
    /// the visitor's exact test rejects; it never drops one [`Search::offer`] would keep.
    /// Returns what the visitor said.
    pub(crate) fn offer_tested(&mut self, doc_key: &[u8], part: &Primitive) -> Result<Visit> {
        self.stats.candidates += 1;
        let said = (self.visit)(doc_key, part)?;
        self.stopped |= said == Visit::Stop;
        Ok(said)
    }

    /// Whether a box may hold a part within the distance (always, for a box search).
    pub(crate) fn within_ball(&self, bbox: &Aabb) -> bool {
        match self.ball {
            // The squared test only errs towards keeping a part (see `distance_squared`).
            Some((around, r)) => bbox.distance_squared(around) * (1.0 - 2e-9) <= r * r,
            None => true,
        }
    }
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
    /// (a document appears once per such part, or fewer times once `visit` says
    /// [`Visit::DocumentDone`]), until it says [`Visit::Stop`].
    pub fn search(
        &self,
        txn: &mut Transaction,
        collection: &str,
        query: &Aabb,
        visit: &mut dyn FnMut(&[u8], &Primitive) -> Result<Visit>,
    ) -> Result<SearchStats> {
        self.search_in(txn, collection, query, None, visit)
    }

    /// Like [`SpatialHandle::search`] over the box `around` grown by `radius`, but hands on
    /// only parts whose bounding box lies within `radius` of `around` (the ball, not its
    /// bounding cube). Every part within `radius` of `around` is visited; some farther ones
    /// may be too.
    pub fn search_near(
        &self,
        txn: &mut Transaction,
        collection: &str,
        around: &Aabb,
        radius: f64,
        visit: &mut dyn FnMut(&[u8], &Primitive) -> Result<Visit>,
    ) -> Result<SearchStats> {
        let query = around.expanded(radius);
        self.search_in(txn, collection, &query, Some((around, radius)), visit)
    }

    /// The nearest documents to a shape (box `around`) from the content's resident image:
    /// `visit(doc_key, distance)` for each, nearest first by exact distance (`distance(part)`
    /// measures a part), each once at its smallest, until it returns false or the next lies
    /// beyond `limit`; with `want` above 0, documents past the `want`-th nearest (ties
    /// included) may be left out, and the flag returned says whether any were (see
    /// `ResidentIndex::nearest`). `None`, having visited nothing, when
    /// `txn` records its reads or the content is not resident (the caller searches by radius
    /// instead, which also counts towards making it resident).
    pub fn resident_nearest(
        &self,
        txn: &mut Transaction,
        collection: &str,
        NearestQuery {
            around,
            limit,
            want,
        }: NearestQuery<'_>,
        distance: &mut dyn FnMut(&Primitive) -> f64,
        visit: &mut dyn FnMut(&[u8], f64) -> Result<bool>,
    ) -> Result<Option<(SearchStats, bool)>> {
        if txn.records_reads() {
            return Ok(None);
        }
        let Some(stamp) = stamp::read(txn, collection, &self.spec.name)? else {
            return Ok(None);
        };
        let Some(image) = residency::peek(stamp) else {
            return Ok(None);
        };
        let mut stats = SearchStats::default();
        let pruned = image.nearest(around, limit, want, distance, visit, &mut stats)?;
        Ok(Some((stats, pruned)))
    }

    /// Documents per unit volume near the center of `around`, estimated from the decoded
    /// buckets around it (see `cached_read::density`), for a nearest-neighbour search's first
    /// radius. `None` when `txn` records its reads or the index has no stamp (the cache is not
    /// used then) or nothing lies near. Loads what it consults into the cache, counted in
    /// `stats`.
    pub fn density_near(
        &self,
        txn: &mut Transaction,
        collection: &str,
        around: &Aabb,
        stats: &mut SearchStats,
    ) -> Result<Option<f64>> {
        if txn.records_reads() {
            return Ok(None);
        }
        match stamp::read(txn, collection, &self.spec.name)? {
            Some(stamp) => cached_read::density(self, txn, collection, stamp, around, stats),
            None => Ok(None),
        }
    }

    /// The search. A transaction that records no reads, on an index with a stamp, reads
    /// through the bucket cache (`cached_read.rs`); every other one (it must record what it
    /// reads, or see its own writes) walks the entries table with one guided scan.
    fn search_in(
        &self,
        txn: &mut Transaction,
        collection: &str,
        query: &Aabb,
        ball: Option<(&Aabb, f64)>,
        visit: &mut dyn FnMut(&[u8], &Primitive) -> Result<Visit>,
    ) -> Result<SearchStats> {
        let mut search = Search::new(query, ball, visit);
        let stamp = match txn.records_reads() {
            true => None,
            false => stamp::read(txn, collection, &self.spec.name)?,
        };
        match stamp {
            Some(stamp) => match residency::lookup(txn, collection, &self.spec.name, stamp) {
                Some(image) => image.search(&mut search)?,
                None => cached_read::search(self, txn, collection, stamp, &mut search)?,
            },
            None => self.guided_scan(txn, collection, None, None, &mut search)?,
        }
        Ok(search.stats)
    }

    /// One guided scan of the entries table: of every level (`only` = `None`) or of one.
    /// Within a level, entries whose cell lies in the level's [`CellBox`] are tested; after
    /// [`STEPS_BEFORE_SEEK`] entries outside it the scan jumps to the next Morton code inside
    /// it, and past the box's last code to the next level (or ends, for one level). The
    /// overflow level is read whole.
    pub(crate) fn guided_scan(
        &self,
        txn: &mut Transaction,
        collection: &str,
        stamp: Option<u128>,
        only: Option<u8>,
        search: &mut Search<'_>,
    ) -> Result<()> {
        let mut walk = Walk {
            query: search.query,
            ball: search.ball,
            only,
            level: None,
            outside: 0,
            last_tested: None,
        };
        let start = match only {
            None => vec![0],
            Some(OVERFLOW_LEVEL) => vec![OVERFLOW_LEVEL],
            Some(level) => level_key(
                level,
                CellBox::of_query(level, search.query).code_bounds().0,
            ),
        };
        search.stats.seeks += entries_table::guided(
            txn,
            collection,
            &self.spec.name,
            stamp,
            &start,
            |key, value| {
                if let Some(step) = walk.route(key)? {
                    return Ok(step);
                }
                search.stats.entries += 1;
                let part = decode_primitive(value)?;
                Ok(if search.offer(doc_key_of(key)?, &part)? {
                    ScanStep::Next
                } else {
                    ScanStep::Stop
                })
            },
        )?;
        Ok(())
    }
}

/// Where a search's scan stands: the level it is walking (with its box's Morton bounds) and
/// how many entries in a row it has stepped over without needing them.
struct Walk<'q> {
    query: &'q Aabb,
    ball: Option<(&'q Aabb, f64)>,
    /// The one level walked, when not all.
    only: Option<u8>,
    level: Option<(u8, u128, u128)>,
    outside: u32,
    /// The cell of the last entry routed to its test: the next entries of that cell (a
    /// mesh's neighbouring triangles share cells) are tested without deciding again.
    last_tested: Option<(u8, u128)>,
}

impl Walk<'_> {
    /// `None` when the entry with this key must be tested; otherwise how the scan goes on
    /// without testing it. Within a level, entries whose cell lies in the level's
    /// [`CellBox`] are tested — for a distance search only those not in a block wholly
    /// outside the ball; past the box's last code the scan jumps to the next level. The
    /// overflow level is read whole.
    fn route(&mut self, key: &[u8]) -> Result<Option<ScanStep>> {
        let (level, code) = cell_of_key(key)?;
        if self.last_tested == Some((level, code)) {
            return Ok(None);
        }
        if self.only.is_some_and(|only| only != level) {
            return Ok(Some(ScanStep::Stop));
        }
        if level == OVERFLOW_LEVEL {
            return Ok(None);
        }
        let (zmin, zmax) = match self.level {
            Some((l, zmin, zmax)) if l == level => (zmin, zmax),
            _ => {
                let (zmin, zmax) = CellBox::of_query(level, self.query).code_bounds();
                self.level = Some((level, zmin, zmax));
                self.outside = 0;
                (zmin, zmax)
            }
        };
        if code > zmax {
            return Ok(Some(self.past_level(level)));
        }
        if !code_in_box(code, zmin, zmax) {
            // Before the box's first code there is nothing to walk through: jump at once.
            let next = || next_in_box(code, zmin, zmax);
            return Ok(Some(self.stray(level, code > zmin, next)));
        }
        if let Some((around, r)) = self.ball {
            if let Some((_, end)) = block_beyond(level, code, around, r, MAX_SKIPPED_BLOCK_SHIFT) {
                // In the box's corners, outside the ball: the next stop is past the block.
                let next = || match end.checked_add(1).filter(|&p| p <= zmax) {
                    Some(p) if code_in_box(p, zmin, zmax) => Some(p),
                    Some(p) => next_in_box(p, zmin, zmax),
                    None => None,
                };
                return Ok(Some(self.stray(level, true, next)));
            }
        }
        self.outside = 0;
        self.last_tested = Some((level, code));
        Ok(None)
    }

    /// An entry the search does not need: walk on (when `may_walk`) until
    /// [`STEPS_BEFORE_SEEK`] such entries in a row, then jump to the cell `next()` of the
    /// level, or to the next level when there is none.
    fn stray(
        &mut self,
        level: u8,
        may_walk: bool,
        next: impl FnOnce() -> Option<u128>,
    ) -> ScanStep {
        self.outside += 1;
        if may_walk && self.outside < STEPS_BEFORE_SEEK {
            return ScanStep::Next;
        }
        self.outside = 0;
        match next() {
            Some(next) => ScanStep::SeekTo(level_key(level, next)),
            None => self.past_level(level),
        }
    }

    /// Where the scan goes once a level's box is done: the next level, or nowhere when only
    /// this level is walked.
    fn past_level(&self, level: u8) -> ScanStep {
        match self.only {
            Some(_) => ScanStep::Stop,
            None => ScanStep::SeekTo(vec![level + 1]),
        }
    }
}

/// The level and Morton cell of an entry key.
pub(crate) fn cell_of_key(key: &[u8]) -> Result<(u8, u128)> {
    let code: Option<[u8; 16]> = key.get(1..17).and_then(|c| c.try_into().ok());
    match (key.first(), code) {
        (Some(&level), Some(code)) => Ok((level, u128::from_be_bytes(code))),
        _ => Err(GeoError::CorruptEntry {
            reason: "key too short",
        }),
    }
}

/// The key where a level's cell `code` begins.
pub(crate) fn level_key(level: u8, code: u128) -> Vec<u8> {
    let mut key = Vec::with_capacity(17);
    key.push(level);
    key.extend_from_slice(&code.to_be_bytes());
    key
}
