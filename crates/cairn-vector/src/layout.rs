//! Where the graph lives: the tables of the vector index and every key and record format, in
//! one place — the on-disk map of this crate, read first (as `cairn-engine/src/layout.rs` is
//! for the engine).
//!
//! | table     | key              | value                                                     |
//! |-----------|------------------|-----------------------------------------------------------|
//! | `vectors` | document key     | the vector, `dims` little-endian `f32`                    |
//! | `links`   | document key     | `0x80 | level: u8`, then per layer `0..=level`:            |
//! |           |                  | `count: u16 LE`, then `count` × (`shared: u8`,            |
//! |           |                  | `rest: varint`, the neighbour key's last `rest` bytes)    |
//! | `meta`    | `ready`          | empty: the online build finished                          |
//! | `meta`    | `entry`          | `level: u8`, the entry point's document key               |
//! | `meta`    | `building`       | empty: a bulk build is running; writes go to `pending`    |
//! | `pending` | document key     | empty: written during a bulk build, to apply (`bulk/`)    |
//!
//! Nodes are keyed by the document key (`DocId::to_key`), so no id map has to be kept in step
//! and a search result is a document key at once.
//!
//! **Neighbour keys are stored against the node's own key**: `shared` leading bytes equal to
//! the node's key, then the rest (a LEB128 length and the bytes). Integer ids are a tag and 8
//! big-endian bytes, and neighbours' ids are spread over a few million at most, so a neighbour
//! takes 4–5 bytes instead of 11 (a `u16` length and the whole key): about 150 bytes less per
//! node at `M = 16` (measured in `cairn bench vector`). Random keys (UUIDs) share nothing and
//! cost the same as before. Records written before this form (first byte without bit 7: each
//! neighbour a `len: u16 LE` and the whole key) still read.
//!
//! **The index keeps its own copy of each vector** (`vectors`) rather than reading it from the
//! document: a search computes a distance for every node it visits (hundreds per query), and
//! reading a few hundred contiguous bytes is far cheaper than fetching and decoding whole
//! documents that may hold much else. The vector and the neighbour lists are separate records
//! because an insert rewrites the neighbour lists of dozens of nodes; rewriting their vectors
//! too (3 KiB each at 768 dimensions) would multiply the write volume. The copy is written in
//! the same transaction as its document, so both are always the same in any snapshot; search
//! results are still rechecked against the documents (`search.rs`), and `verify.rs` compares
//! them all.

use std::rc::Rc;

use crate::error::{Result, VectorError};

/// Table of vectors, by document key.
pub const VECTORS_TABLE: &str = "vectors";
/// Table of neighbour lists, by document key.
pub const LINKS_TABLE: &str = "links";
/// Bit 7 of a links record's first byte: the neighbour keys are stored against the node's own
/// key (the level is at most [`crate::limits::MAX_LEVEL`], far below it).
const SHARED_PREFIX_FORM: u8 = 0x80;

/// Table of facts about the index (build state, entry point).
pub const META_TABLE: &str = "meta";
/// Key in [`META_TABLE`] present once the index is complete.
pub const READY_KEY: &[u8] = b"ready";
/// Key in [`META_TABLE`] holding the entry point.
pub const ENTRY_KEY: &[u8] = b"entry";
/// Key in [`META_TABLE`] present while a bulk build runs (`bulk/`): the write hook records
/// written documents in [`PENDING_TABLE`] instead of changing the graph.
pub const BUILDING_KEY: &[u8] = b"building";
/// Table of documents written during a bulk build, by document key, applied to the graph
/// before the index is marked ready.
pub const PENDING_TABLE: &str = "pending";

/// A node's neighbour lists, layer 0 first; `layers.len() - 1` is the node's level.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Links {
    pub(crate) layers: Vec<Vec<Vec<u8>>>,
}

impl Links {
    /// Empty lists on layers `0..=level`.
    pub(crate) fn empty(level: u8) -> Links {
        Links {
            layers: vec![Vec::new(); level as usize + 1],
        }
    }

    /// The node's top layer.
    pub(crate) fn level(&self) -> u8 {
        // At most MAX_LEVEL + 1 layers (checked when decoding and when building).
        self.layers.len().saturating_sub(1) as u8
    }

    /// The record stored in [`LINKS_TABLE`] under the node key `own`.
    pub(crate) fn encode(&self, own: &[u8]) -> Vec<u8> {
        let mut out = vec![SHARED_PREFIX_FORM | self.level()];
        for layer in &self.layers {
            out.extend_from_slice(&(layer.len() as u16).to_le_bytes());
            for key in layer {
                let shared = own
                    .iter()
                    .zip(key)
                    .take_while(|(a, b)| a == b)
                    .count()
                    .min(u8::MAX as usize);
                out.push(shared as u8);
                push_varint(&mut out, key.len() - shared);
                out.extend_from_slice(&key[shared..]);
            }
        }
        out
    }

    /// Reads the record of node `own` in [`LINKS_TABLE`] back; `index` names the index in
    /// errors.
    pub(crate) fn decode(index: &str, own: &[u8], bytes: &[u8]) -> Result<Links> {
        let corrupt = |reason| VectorError::Corrupt {
            index: index.to_string(),
            reason,
        };
        let mut reader = Reader { bytes };
        let first = reader.u8().ok_or(corrupt("links record is empty"))?;
        let shared_form = first & SHARED_PREFIX_FORM != 0;
        let level = first & !SHARED_PREFIX_FORM;
        if level > crate::limits::MAX_LEVEL {
            return Err(corrupt("links record has a level above MAX_LEVEL"));
        }
        let truncated = || corrupt("links record is truncated");
        let mut layers = Vec::with_capacity(level as usize + 1);
        for _ in 0..=level {
            let count = reader.u16().ok_or_else(truncated)?;
            let mut layer = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let key = if shared_form {
                    let shared = reader.u8().ok_or_else(truncated)? as usize;
                    let prefix = own
                        .get(..shared)
                        .ok_or(corrupt("links record shares more than the node's key"))?;
                    let rest = reader.varint().ok_or_else(truncated)?;
                    let rest = reader.take(rest).ok_or_else(truncated)?;
                    [prefix, rest].concat()
                } else {
                    let len = reader.u16().ok_or_else(truncated)?;
                    reader.take(len as usize).ok_or_else(truncated)?.to_vec()
                };
                layer.push(key);
            }
            layers.push(layer);
        }
        if !reader.bytes.is_empty() {
            return Err(corrupt("links record has trailing bytes"));
        }
        Ok(Links { layers })
    }
}

/// Appends `n` as LEB128 (7 bits a byte, low first).
fn push_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A cursor over a record.
struct Reader<'b> {
    bytes: &'b [u8],
}

impl<'b> Reader<'b> {
    fn take(&mut self, n: usize) -> Option<&'b [u8]> {
        if self.bytes.len() < n {
            return None;
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }

    /// A LEB128 length of at most three bytes (a document key is far shorter than 2²¹).
    fn varint(&mut self) -> Option<usize> {
        let mut n = 0usize;
        for shift in [0, 7, 14] {
            let byte = self.u8()?;
            n |= ((byte & 0x7f) as usize) << shift;
            if byte & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }
}

/// The record stored in [`VECTORS_TABLE`].
pub(crate) fn encode_vector(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Reads a record of [`VECTORS_TABLE`] back, checking its dimension.
pub(crate) fn decode_vector(index: &str, dims: usize, bytes: &[u8]) -> Result<Vec<f32>> {
    Ok(components(index, dims, bytes)?.collect())
}

/// [`decode_vector`] straight into a shared slice: one allocation (the exact-size iterator
/// lets `Rc` allocate once), which matters because a search decodes hundreds of vectors.
pub(crate) fn decode_vector_rc(index: &str, dims: usize, bytes: &[u8]) -> Result<Rc<[f32]>> {
    Ok(components(index, dims, bytes)?.collect())
}

/// The components of a [`VECTORS_TABLE`] record, once its length is checked against the
/// index's dimension; exact-size, so either collection above allocates once.
fn components<'b>(
    index: &str,
    dims: usize,
    bytes: &'b [u8],
) -> Result<impl ExactSizeIterator<Item = f32> + 'b> {
    if bytes.len() != dims * 4 {
        return Err(VectorError::Corrupt {
            index: index.to_string(),
            reason: "vector record does not have the index's dimension",
        });
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
}

/// The entry point: the node searches start from, on the graph's top layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) key: Vec<u8>,
    pub(crate) level: u8,
}

impl Entry {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.level];
        out.extend_from_slice(&self.key);
        out
    }

    pub(crate) fn decode(index: &str, bytes: &[u8]) -> Result<Entry> {
        match bytes.split_first() {
            Some((&level, key)) if !key.is_empty() && level <= crate::limits::MAX_LEVEL => {
                Ok(Entry {
                    key: key.to_vec(),
                    level,
                })
            }
            _ => Err(VectorError::Corrupt {
                index: index.to_string(),
                reason: "entry point record is malformed",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_records_round_trip_and_truncation_is_an_error() {
        let own = b"k\x80\x00\x00\x01".to_vec();
        let long = vec![b'z'; 300];
        let links = Links {
            layers: vec![
                vec![
                    b"a".to_vec(),
                    b"k\x80\x00\x00\x02".to_vec(),
                    own[..2].to_vec(),
                    long,
                ],
                vec![],
                vec![b"e".to_vec()],
            ],
        };
        let bytes = links.encode(&own);
        assert_eq!(Links::decode("i", &own, &bytes).expect("decodes"), links);
        // The neighbour sharing four bytes with the node takes three: shared, length, byte.
        assert!(bytes.windows(3).any(|w| w == [4, 1, 2]));
        for cut in 0..bytes.len() {
            assert!(
                Links::decode("i", &own, &bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        // Sharing more than the node's own key is corrupt, not a panic.
        assert!(Links::decode("i", b"k", &bytes).is_err());
    }

    #[test]
    fn records_of_the_earlier_form_still_read() {
        // Level 1; layer 0 holds "ab" and "c"; layer 1 is empty.
        let bytes = [1, 2, 0, 2, 0, b'a', b'b', 1, 0, b'c', 0, 0];
        let links = Links::decode("i", b"whatever", &bytes).expect("decodes");
        assert_eq!(
            links.layers,
            vec![vec![b"ab".to_vec(), b"c".to_vec()], vec![]]
        );
    }
}
