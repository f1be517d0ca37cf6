//! When an index content becomes resident: the process-wide registry of resident images
//! (`resident/`), keyed by stamp like the other caches.
//!
//! A content is loaded once it has served [`RESIDENT_AFTER_SEARCHES`] read-only searches —
//! never at open (opening reads nothing), never for a content that changes before it is
//! queried much. The load runs on its own thread from a fork of the triggering search's
//! snapshot (`Transaction::fork_background`), so it reads exactly the content its stamp
//! names while that search, and every other until the image is ready, reads the pages as
//! before. One load runs at a time; a load gives up when the database closes, and a content
//! too large for [`MAX_RESIDENT_BYTES`] is never loaded (its searches keep using the pages).
//!
//! Memory: at most [`MAX_RESIDENT_IMAGES`] images and [`MAX_RESIDENT_BYTES`] bytes; a new
//! image evicts the oldest ones to fit. An image whose stamp no snapshot reads any more is
//! simply never hit again and goes at the next eviction.
//!
//! Writes: every commit that writes an index's entries gives it a new stamp, so under a steady
//! stream of writes a content rarely reaches the threshold and searches read the pages (with
//! the bucket and page caches); once writes pause and searches continue, the content becomes
//! resident again within a load (about half a second per million parts).

use std::collections::{HashMap, VecDeque};
use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use cairn_engine::{BackgroundRead, Transaction};
use parking_lot::RwLock;

use crate::error::Result;
use crate::index::entries::{decode_primitive, doc_key_of};
use crate::index::entries_table;
pub use crate::index::limits::{MAX_COUNTED_STAMPS, MAX_RESIDENT_BYTES, MAX_RESIDENT_IMAGES};
use crate::index::resident::{ResidentBuilder, ResidentIndex};

/// Read-only searches a content serves before it is loaded: enough that a content queried a
/// handful of times between writes never pays a load, few enough that a query workload
/// reaches resident speed within its first moments.
pub const RESIDENT_AFTER_SEARCHES: u32 = 32;

/// Entries a load reads between checks that its database is still open.
const ENTRIES_PER_CHECK: u32 = 1024;

/// What the registry knows about one content.
enum Slot {
    /// Searches served so far, below the threshold.
    Counting(u32),
    /// Being loaded.
    Loading,
    /// Loaded.
    Ready(Arc<ResidentIndex>),
    /// Not loaded and never to be: too large, or its load failed.
    Refused,
}

#[derive(Default)]
struct Registry {
    slots: HashMap<u128, Slot, foldhash::fast::FixedState>,
    /// Stamps in the order they entered the registry (eviction order).
    order: VecDeque<u128>,
    /// Bytes of the ready images.
    bytes: usize,
    /// Whether a load is running.
    loading: bool,
    /// Bumped by [`clear`], so a load started before it does not publish after it.
    generation: u64,
}

/// Read-locked by every search of a resident or loading content (the steady state);
/// write-locked only while a content counts its first searches, and when a load ends.
fn registry() -> &'static RwLock<Registry> {
    static REGISTRY: OnceLock<RwLock<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(RwLock::default)
}

/// Bytes of the resident images (mirrors the registry's count, readable without its lock).
static BYTES: AtomicUsize = AtomicUsize::new(0);

/// Bytes the resident images occupy now.
pub fn resident_bytes() -> usize {
    BYTES.load(Ordering::Relaxed)
}

/// Drops every resident image and search count (as a new process would start).
pub fn clear() {
    let mut reg = registry().write();
    reg.slots.clear();
    reg.order.clear();
    reg.bytes = 0;
    reg.generation += 1;
    BYTES.store(0, Ordering::Relaxed);
}

/// The resident image of `stamp`, if loaded. Otherwise counts this search towards loading
/// it, and starts the load (from a fork of `txn`'s snapshot, which must read `stamp`) when
/// the count reaches [`RESIDENT_AFTER_SEARCHES`] and no other load runs.
pub(crate) fn lookup(
    txn: &Transaction,
    collection: &str,
    index: &str,
    stamp: u128,
) -> Option<Arc<ResidentIndex>> {
    match registry().read().slots.get(&stamp) {
        Some(Slot::Ready(image)) => return Some(image.clone()),
        Some(Slot::Loading | Slot::Refused) => return None,
        Some(Slot::Counting(_)) | None => {}
    }
    let mut reg = registry().write();
    let count = match reg.slots.get_mut(&stamp) {
        Some(Slot::Ready(image)) => return Some(image.clone()),
        Some(Slot::Loading | Slot::Refused) => return None,
        Some(Slot::Counting(count)) => {
            *count += 1;
            *count
        }
        None => {
            reg.remember(stamp, Slot::Counting(1));
            1
        }
    };
    if count >= RESIDENT_AFTER_SEARCHES && !reg.loading {
        reg.loading = true;
        reg.slots.insert(stamp, Slot::Loading);
        let job = Load {
            read: txn.fork_background(),
            collection: collection.to_string(),
            index: index.to_string(),
            stamp,
            generation: reg.generation,
        };
        let generation = job.generation;
        drop(reg);
        let spawned = std::thread::Builder::new()
            .name("cairn-spatial-load".to_string())
            .spawn(move || job.run());
        if spawned.is_err() {
            finish(stamp, None, Origin::Background(generation));
        }
    }
    None
}

/// The resident image of `stamp`, if loaded, without counting a search.
pub(crate) fn peek(stamp: u128) -> Option<Arc<ResidentIndex>> {
    match registry().read().slots.get(&stamp) {
        Some(Slot::Ready(image)) => Some(image.clone()),
        _ => None,
    }
}

/// Loads `stamp`'s image synchronously from `txn` (which must read that stamp) and keeps it,
/// whatever the search count: for tests, and for callers that know a content is about to be
/// queried hard. Returns whether the image is resident afterwards.
pub fn load_now(txn: &mut Transaction, collection: &str, index: &str, stamp: u128) -> Result<bool> {
    let image = build(txn, collection, index, &|| false)?;
    let generation = registry().read().generation;
    finish(stamp, image.map(Arc::new), Origin::Caller(generation));
    Ok(matches!(
        registry().read().slots.get(&stamp),
        Some(Slot::Ready(_))
    ))
}

/// A background load of one content.
struct Load {
    read: BackgroundRead,
    collection: String,
    index: String,
    stamp: u128,
    generation: u64,
}

impl Load {
    fn run(mut self) {
        let (txn, stop) = self.read.split();
        // A failed read (say, the database closing under it) only means no image.
        let image = build(txn, &self.collection, &self.index, &|| stop.should_stop())
            .ok()
            .flatten();
        finish(
            self.stamp,
            image.map(Arc::new),
            Origin::Background(self.generation),
        );
    }
}

/// Reads every entry of the index into an image; `None` when it would pass
/// [`MAX_RESIDENT_BYTES`] or `stop` asked to give up.
fn build(
    txn: &mut Transaction,
    collection: &str,
    index: &str,
    stop: &dyn Fn() -> bool,
) -> Result<Option<ResidentIndex>> {
    let mut builder = ResidentBuilder::new(MAX_RESIDENT_BYTES);
    let mut complete = true;
    let mut since_check = 0u32;
    entries_table::range(
        txn,
        collection,
        index,
        (Bound::Unbounded, Bound::Unbounded),
        |key, value| {
            since_check += 1;
            if since_check >= ENTRIES_PER_CHECK {
                since_check = 0;
                if stop() {
                    complete = false;
                    return Ok(false);
                }
            }
            if !builder.push(doc_key_of(key)?, decode_primitive(value)?) {
                complete = false;
                return Ok(false);
            }
            Ok(true)
        },
    )?;
    Ok(complete.then(|| builder.finish()))
}

/// Who ran a load, and in which generation of the registry it began.
#[derive(Clone, Copy)]
enum Origin {
    /// The background load (the only one: it holds [`Registry::loading`]).
    Background(u64),
    /// A caller of [`load_now`], on its own thread.
    Caller(u64),
}

/// Records the end of a load: the image, or that the content is not to be loaded. A load of
/// an earlier generation (the registry was cleared since) publishes nothing.
fn finish(stamp: u128, image: Option<Arc<ResidentIndex>>, origin: Origin) {
    let mut reg = registry().write();
    let generation = match origin {
        Origin::Background(g) => {
            reg.loading = false;
            g
        }
        Origin::Caller(g) => g,
    };
    // An image loaded meanwhile by another load of the same content stays (same content).
    if generation != reg.generation || matches!(reg.slots.get(&stamp), Some(Slot::Ready(_))) {
        return;
    }
    match image {
        Some(image) => {
            reg.make_room(image.bytes());
            reg.bytes += image.bytes();
            BYTES.store(reg.bytes, Ordering::Relaxed);
            reg.remember(stamp, Slot::Ready(image));
        }
        None => reg.remember(stamp, Slot::Refused),
    }
}

impl Registry {
    /// Sets a stamp's slot, entering it in the eviction order if new; forgets the oldest
    /// counted stamps past [`MAX_COUNTED_STAMPS`].
    fn remember(&mut self, stamp: u128, slot: Slot) {
        if self.slots.insert(stamp, slot).is_none() {
            self.order.push_back(stamp);
        }
        while self.order.len() > MAX_COUNTED_STAMPS + MAX_RESIDENT_IMAGES {
            let Some(position) = self
                .order
                .iter()
                .position(|s| !matches!(self.slots.get(s), Some(Slot::Ready(_) | Slot::Loading)))
            else {
                break;
            };
            if let Some(old) = self.order.remove(position) {
                self.slots.remove(&old);
            }
        }
    }

    /// Evicts the oldest ready images until one of `bytes` fits both limits.
    fn make_room(&mut self, bytes: usize) {
        loop {
            let ready: Vec<u128> = self
                .order
                .iter()
                .copied()
                .filter(|s| matches!(self.slots.get(s), Some(Slot::Ready(_))))
                .collect();
            let fits =
                ready.len() < MAX_RESIDENT_IMAGES && self.bytes + bytes <= MAX_RESIDENT_BYTES;
            let Some(&oldest) = ready.first() else {
                return;
            };
            if fits {
                return;
            }
            if let Some(Slot::Ready(image)) = self.slots.remove(&oldest) {
                self.bytes -= image.bytes();
            }
            self.order.retain(|s| *s != oldest);
        }
    }
}
