//! Which images are resident, and when one is loaded (see the module doc of `resident`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use cairn_engine::{Database, Transaction};

use super::{load::load, Image};
use crate::error::Result;
use crate::limits::{MAX_RESIDENT_BYTES, MAX_RESIDENT_IMAGES, RESIDENT_AFTER_SEARCHES};
use crate::search::vector_index;
use crate::spec::VectorSpec;

/// The resident images, oldest first, by stamp.
static IMAGES: Mutex<Vec<(u128, Arc<Image>)>> = Mutex::new(Vec::new());
/// Searches served from the tables per stamp not (yet) resident.
static SEARCHES: Mutex<Option<HashMap<u128, u32>>> = Mutex::new(None);
/// Whether a background load runs (one at a time).
static LOADING: AtomicBool = AtomicBool::new(false);
/// Stamps counted at most; past it the counts start again (a count only delays a load).
const COUNTED_STAMPS: usize = 1024;

fn resident(stamp: u128) -> Option<Arc<Image>> {
    let images = IMAGES.lock().unwrap_or_else(PoisonError::into_inner);
    images
        .iter()
        .find(|(s, _)| *s == stamp)
        .map(|(_, image)| image.clone())
}

fn keep(stamp: u128, image: Image) {
    if image.bytes > MAX_RESIDENT_BYTES {
        return;
    }
    let mut images = IMAGES.lock().unwrap_or_else(PoisonError::into_inner);
    if images.iter().any(|(s, _)| *s == stamp) {
        return;
    }
    if images.len() >= MAX_RESIDENT_IMAGES {
        images.remove(0);
    }
    images.push((stamp, Arc::new(image)));
}

/// Counts one search of `stamp` from the tables; whether it is time to load it.
fn count(stamp: u128) -> bool {
    let mut counts = SEARCHES.lock().unwrap_or_else(PoisonError::into_inner);
    let counts = counts.get_or_insert_with(HashMap::new);
    if counts.len() >= COUNTED_STAMPS && !counts.contains_key(&stamp) {
        counts.clear();
    }
    let n = counts.entry(stamp).or_insert(0);
    *n += 1;
    *n >= RESIDENT_AFTER_SEARCHES
}

/// Clears [`LOADING`] when a load ends, however it ends.
struct LoadingGuard;

impl Drop for LoadingGuard {
    fn drop(&mut self) {
        LOADING.store(false, Ordering::Release);
    }
}

/// The resident image of the content `txn` sees of index `spec`, if there is one and `txn`
/// may use it (a read-only snapshot without writes of its own); otherwise counts the search
/// and, past [`RESIDENT_AFTER_SEARCHES`], starts loading the content in the background.
pub(crate) fn image_for(
    txn: &mut Transaction,
    collection: &str,
    spec: &VectorSpec,
) -> Result<Option<Arc<Image>>> {
    if txn.records_reads() || !txn.is_read_only() {
        return Ok(None);
    }
    let Some(stamp) = crate::stamp::read(txn, collection, &spec.name)? else {
        return Ok(None);
    };
    if let Some(image) = resident(stamp) {
        return Ok(Some(image));
    }
    if count(stamp) && !LOADING.swap(true, Ordering::AcqRel) {
        let guard = LoadingGuard;
        let mut reader = txn.fork_background();
        let (collection, spec) = (collection.to_string(), spec.clone());
        // A failed spawn only means no image this time (the guard clears the flag).
        let _ = std::thread::Builder::new()
            .name("cairn-vector-resident".into())
            .spawn(move || {
                let _guard = guard;
                let (txn, stop) = reader.split();
                if let Ok(Some(image)) = load(txn, &collection, &spec, Some(&stop)) {
                    keep(stamp, image);
                }
            });
    }
    Ok(None)
}

/// Loads the current content of vector index `index` on `collection` into memory now (a
/// warm-up); returns whether it is resident (false: written before stamps existed, or over
/// `MAX_RESIDENT_BYTES`).
pub fn make_resident(db: &Database, collection: &str, index: &str) -> Result<bool> {
    let mut txn = db.read()?;
    let spec = vector_index(&mut txn, collection, index)?;
    let Some(stamp) = crate::stamp::read(&mut txn, collection, index)? else {
        return Ok(false);
    };
    if resident(stamp).is_some() {
        return Ok(true);
    }
    if let Some(image) = load(&mut txn, collection, &spec, None)? {
        keep(stamp, image);
    }
    Ok(resident(stamp).is_some())
}
