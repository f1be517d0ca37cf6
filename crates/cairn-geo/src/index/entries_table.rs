//! Reading an index's entries: the sorted map of entries its pages hold (`pages.rs`), read
//! with visitors that can fail with a [`GeoError`] (a corrupt key, a part that does not
//! decode, a caller's own error).
//!
//! Both readers walk pages with the engine and hand on the entries inside them, so callers
//! see exactly the map a table of one entry per key would hold. The first error a visitor
//! returns stops the read and is handed back.

use std::ops::Bound;

use cairn_engine::{ScanStep, Transaction};

use crate::error::{GeoError, Result};
use crate::index::page_cache;
use crate::index::pages::{records, PAGES_TABLE};

/// Walks the entries of `index` from `start` in key order, steered by `visit` (next, stop,
/// or seek to a later key). A seek within the current page's span costs no B-tree descent;
/// one beyond it lands the engine's scan on the page holding its target. Returns the B-tree
/// descents made (the start and every seek beyond a page).
///
/// With a `stamp` (a transaction that records no reads, on an index with a content stamp),
/// pages come from the page cache (`page_cache.rs`), and those it lacks are read and added.
pub(crate) fn guided(
    txn: &mut Transaction,
    collection: &str,
    index: &str,
    stamp: Option<u128>,
    start: &[u8],
    mut visit: impl FnMut(&[u8], &[u8]) -> Result<ScanStep>,
) -> Result<u64> {
    if let Some(stamp) = stamp {
        debug_assert!(!txn.records_reads());
        return guided_cached(txn, collection, index, stamp, start, &mut visit);
    }
    let mut descents = 1;
    // Entries below this are skipped: the scan's start, then the latest seek's target.
    let mut target: Vec<u8> = start.to_vec();
    txn.extension_guided_scan(collection, index, PAGES_TABLE, start, |page_key, page| {
        Ok::<_, GeoError>(match walk_page(page_key, page, &mut target, &mut visit)? {
            InPage::Continue => ScanStep::Next,
            InPage::Stop => ScanStep::Stop,
            InPage::Leave => {
                descents += 1;
                ScanStep::SeekTo(target.clone())
            }
        })
    })?;
    Ok(descents)
}

/// Reads the entries of `index` between `start` and `end` in key order, while `visit`
/// returns true.
pub(crate) fn range(
    txn: &mut Transaction,
    collection: &str,
    index: &str,
    (start, end): (Bound<&[u8]>, Bound<&[u8]>),
    mut visit: impl FnMut(&[u8], &[u8]) -> Result<bool>,
) -> Result<()> {
    let after_start = |key: &[u8]| match start {
        Bound::Included(s) => key >= s,
        Bound::Excluded(s) => key > s,
        Bound::Unbounded => true,
    };
    let before_end = |key: &[u8]| match end {
        Bound::Included(e) => key <= e,
        Bound::Excluded(e) => key < e,
        Bound::Unbounded => true,
    };
    // The first page that can hold an entry at `start` is the first whose key is >= it.
    let first_page = match start {
        Bound::Included(s) | Bound::Excluded(s) => Bound::Included(s),
        Bound::Unbounded => Bound::Unbounded,
    };
    txn.extension_range(
        collection,
        index,
        PAGES_TABLE,
        first_page,
        Bound::Unbounded,
        |page_key, page| {
            for record in records(page) {
                let (key, value) = record?;
                if !after_start(key) {
                    continue;
                }
                if !before_end(key) || !visit(key, value)? {
                    return Ok(false);
                }
            }
            // Later pages hold only keys above this page's key.
            Ok(before_end(page_key))
        },
    )
}

/// What a visitor's answer means for the page being walked.
enum InPage {
    /// Go on with the page's next record (skipping those below the target).
    Continue,
    /// The walk is over.
    Stop,
    /// The target lies beyond this page.
    Leave,
}

/// Hands the records of one page at or above `target` to `visit`, moving `target` on
/// with its seeks.
fn walk_page(
    page_key: &[u8],
    page: &[u8],
    target: &mut Vec<u8>,
    visit: &mut impl FnMut(&[u8], &[u8]) -> Result<ScanStep>,
) -> Result<InPage> {
    let mut seeking = true;
    for record in records(page) {
        let (key, value) = record?;
        if seeking {
            if key < target.as_slice() {
                continue;
            }
            seeking = false;
        }
        match visit(key, value)? {
            ScanStep::Next => {}
            ScanStep::Stop => return Ok(InPage::Stop),
            ScanStep::SeekTo(to) => {
                debug_assert!(to > *target, "seeks go forward");
                *target = to;
                if target.as_slice() > page_key {
                    return Ok(InPage::Leave);
                }
                seeking = true;
            }
        }
    }
    Ok(InPage::Continue)
}

/// [`guided`] through the page cache: each page the walk needs is looked up in the cache,
/// or read from the snapshot (one descent) and cached.
fn guided_cached(
    txn: &mut Transaction,
    collection: &str,
    index: &str,
    stamp: u128,
    start: &[u8],
    visit: &mut impl FnMut(&[u8], &[u8]) -> Result<ScanStep>,
) -> Result<u64> {
    let cache = page_cache::global();
    let pages = cache.pages(stamp);
    let mut descents = 0;
    let mut target = start.to_vec();
    loop {
        let page = match pages.lookup(&target) {
            Some(page) => page,
            None => {
                descents += 1;
                match txn.extension_ceiling(collection, index, PAGES_TABLE, &target)? {
                    Some((key, bytes)) => cache.insert_into(&pages, &target, key, bytes),
                    None => return Ok(descents),
                }
            }
        };
        match walk_page(&page.key, &page.bytes, &mut target, visit)? {
            InPage::Stop => return Ok(descents),
            InPage::Leave => {}
            InPage::Continue => {
                // The smallest key above the page's: where the next page's span begins.
                target.clear();
                target.extend_from_slice(&page.key);
                target.push(0);
            }
        }
    }
}
