//! Loading an image from one snapshot: the vectors table, then the links table (both in key
//! order, so node numbers follow keys), then the entry point.

use cairn_engine::{BackgroundStop, Transaction};

use super::Image;
use crate::error::{Result, VectorError};
use crate::hnsw::nodes::KeyMap;
use crate::layout::{
    decode_vector, Entry, Links, ENTRY_KEY, LINKS_TABLE, META_TABLE, VECTORS_TABLE,
};
use crate::limits::MAX_RESIDENT_BYTES;
use crate::spec::VectorSpec;

/// Entries read between two checks whether the database is closing.
const STOP_CHECK_EVERY: usize = 1024;

/// Loads the index content `txn` sees; `None` when it is over [`MAX_RESIDENT_BYTES`] or the
/// database is closing (`stop`).
pub(crate) fn load(
    txn: &mut Transaction,
    collection: &str,
    spec: &VectorSpec,
    stop: Option<&BackgroundStop<'_>>,
) -> Result<Option<Image>> {
    let index = spec.name.as_str();
    let vector_bytes = txn
        .extension_table_stats(collection, index, VECTORS_TABLE)?
        .entries
        .saturating_mul((spec.dims * 4) as u64);
    if vector_bytes > MAX_RESIDENT_BYTES as u64 {
        return Ok(None);
    }
    let should_stop = |read: usize| {
        read.is_multiple_of(STOP_CHECK_EVERY) && stop.is_some_and(|s| s.should_stop())
    };
    let mut keys: Vec<Box<[u8]>> = Vec::new();
    let mut vectors: Vec<f32> = Vec::new();
    let mut stopped = false;
    txn.extension_range::<VectorError>(
        collection,
        index,
        VECTORS_TABLE,
        std::ops::Bound::Unbounded,
        std::ops::Bound::Unbounded,
        |key, value| {
            vectors.extend_from_slice(&decode_vector(index, spec.dims, value)?);
            keys.push(key.into());
            stopped = should_stop(keys.len());
            Ok(!stopped)
        },
    )?;
    if stopped {
        return Ok(None);
    }
    let ids: KeyMap<u32> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| (key.to_vec(), i as u32))
        .collect();
    let mut l0_start: Vec<u32> = Vec::with_capacity(keys.len() + 1);
    let mut l0: Vec<u32> = Vec::new();
    let mut upper: Vec<Vec<Vec<u32>>> = Vec::with_capacity(keys.len());
    let mut read = 0usize;
    txn.extension_range::<VectorError>(
        collection,
        index,
        LINKS_TABLE,
        std::ops::Bound::Unbounded,
        std::ops::Bound::Unbounded,
        |key, value| {
            read += 1;
            // Both tables hold the same keys (one node each); a links record without its
            // vector would be a broken graph, reported rather than guessed around.
            if ids.get(key).copied() != Some(upper.len() as u32) {
                return Err(VectorError::Corrupt {
                    index: index.to_string(),
                    reason: "the links and vectors tables do not hold the same nodes",
                });
            }
            let links = Links::decode(index, key, value)?;
            let known = |layer: &Vec<Vec<u8>>| -> Vec<u32> {
                layer
                    .iter()
                    .filter_map(|k| ids.get(k.as_slice()).copied())
                    .collect()
            };
            l0_start.push(l0.len() as u32);
            if let Some(layer0) = links.layers.first() {
                l0.extend(known(layer0));
            }
            upper.push(links.layers.iter().skip(1).map(known).collect());
            stopped = should_stop(read);
            Ok(!stopped)
        },
    )?;
    if stopped {
        return Ok(None);
    }
    if upper.len() != keys.len() {
        return Err(VectorError::Corrupt {
            index: index.to_string(),
            reason: "the links and vectors tables do not hold the same nodes",
        });
    }
    l0_start.push(l0.len() as u32);
    let entry = match txn.extension_get(collection, index, META_TABLE, ENTRY_KEY)? {
        None => None,
        Some(bytes) => {
            let entry = Entry::decode(index, &bytes)?;
            ids.get(&entry.key).map(|&id| (id, entry.level))
        }
    };
    let bytes = vectors.len() * 4
        + l0.len() * 4
        + l0_start.len() * 4
        + keys.iter().map(|k| k.len() + 16).sum::<usize>()
        + upper.len() * 24
        + upper
            .iter()
            .flatten()
            .map(|l| l.len() * 4 + 24)
            .sum::<usize>();
    Ok(Some(Image {
        dims: spec.dims,
        metric: spec.metric,
        keys,
        vectors,
        l0_start,
        l0,
        upper,
        entry,
        bytes,
    }))
}
