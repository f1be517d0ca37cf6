//! Record compression: zstd, with per-collection dictionaries trained from the collection's own
//! documents (see `dictionary.rs`).
//!
//! A record body (what follows the 8-byte sequence header, and what the change log stores as a
//! document payload) is either the document encoding itself or a compressed envelope:
//!
//! ```text
//! raw:         cairn_doc encoding; its first byte is the encoding version (< 0x80)
//! zstd:        0xC1  plain length u32 LE  zstd frame
//! zstd + dict: 0xC2  plain length u32 LE  dictionary id u32 LE  zstd frame
//! ```
//! The first byte tells them apart, so records written before compression existed (or with it
//! off) stay readable, and every compressed record names the dictionary it needs: training a
//! new dictionary never makes an old record unreadable. Dictionaries are never deleted.
//!
//! Compression runs in the writing transaction's thread (not the single writer), with a
//! per-thread zstd context, so it parallelises with the clients. Reading an uncompressed record
//! costs nothing extra; a compressed one is decompressed into a per-thread scratch buffer.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use cairn_doc::limits::MAX_DOCUMENT_BYTES;
use parking_lot::RwLock;
use zstd::dict::{DecoderDictionary, EncoderDictionary};
use zstd::zstd_safe::{CCtx, DCtx};

use crate::error::{EngineError, Result};
use crate::limits::MAX_ZSTD_LEVEL;

/// Bodies shorter than this are stored raw: 64 bytes. A zstd frame costs about a dozen bytes
/// of its own, which eats most of what so little input could save.
pub const MIN_COMPRESS_BYTES: usize = 64;
/// A compressed body is kept only if it saves at least 1/`MIN_SAVING_DIVISOR` of the raw size
/// (1/16, about 6%); below that the decompression cost on every read is not worth it.
pub const MIN_SAVING_DIVISOR: usize = 16;
/// The level used unless configured: 3, zstd's default, which compresses JSON-like records
/// several-fold at a few hundred MB/s.
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;

const TAG_ZSTD: u8 = 0xC1;
const TAG_ZSTD_DICT: u8 = 0xC2;
const FIRST_TAG: u8 = 0x80;
const ZSTD_HEADER_BYTES: usize = 5;
const ZSTD_DICT_HEADER_BYTES: usize = 9;

/// How a database or collection compresses its documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compression {
    /// zstd level (1..=22; negative levels trade ratio for speed), or `None` for no
    /// compression.
    pub level: Option<i32>,
    /// Whether to train a dictionary per collection once it holds enough documents.
    pub dictionaries: bool,
}

impl Compression {
    /// No compression: fastest writes and reads, largest files.
    pub const OFF: Compression = Compression {
        level: None,
        dictionaries: false,
    };

    /// zstd at `level`, without dictionaries.
    pub fn zstd(level: i32) -> Compression {
        Compression {
            level: Some(level.min(MAX_ZSTD_LEVEL)),
            dictionaries: false,
        }
    }

    /// zstd at `level` with trained per-collection dictionaries.
    pub fn zstd_with_dictionaries(level: i32) -> Compression {
        Compression {
            dictionaries: true,
            ..Compression::zstd(level)
        }
    }
}

impl Default for Compression {
    /// zstd level 3 with dictionaries: documents in a collection share field names and many
    /// values, which a dictionary captures once instead of in every record.
    fn default() -> Self {
        Compression::zstd_with_dictionaries(DEFAULT_ZSTD_LEVEL)
    }
}

/// A trained dictionary, ready for both directions.
pub(crate) struct Dictionary {
    pub(crate) collection_id: u32,
    /// Documents the collection held when this dictionary was trained.
    pub(crate) trained_at_docs: u64,
    raw: Vec<u8>,
    decoder: DecoderDictionary<'static>,
    /// Built on first use, for the level in force then.
    encoder: RwLock<Option<Arc<(i32, EncoderDictionary<'static>)>>>,
}

impl Dictionary {
    pub(crate) fn new(collection_id: u32, trained_at_docs: u64, raw: Vec<u8>) -> Dictionary {
        Dictionary {
            collection_id,
            trained_at_docs,
            decoder: DecoderDictionary::copy(&raw),
            raw,
            encoder: RwLock::new(None),
        }
    }

    fn encoder(&self, level: i32) -> Arc<(i32, EncoderDictionary<'static>)> {
        if let Some(found) = self.encoder.read().as_ref().filter(|e| e.0 == level) {
            return found.clone();
        }
        let built = Arc::new((level, EncoderDictionary::copy(&self.raw, level)));
        *self.encoder.write() = Some(built.clone());
        built
    }
}

/// The database's compression settings and its dictionaries (decoders cached for reads).
pub(crate) struct Codecs {
    default: Compression,
    overrides: HashMap<String, Compression>,
    dictionaries: RwLock<HashMap<u32, Arc<Dictionary>>>,
    /// Newest dictionary id per collection id: what new records use.
    current: RwLock<HashMap<u32, u32>>,
    /// Whether documents are stored in packed runs (`packed.rs`): then each record's body is
    /// stored plain and the run is compressed as a whole. A property of the data file (its
    /// layout version), set once at open.
    packed: std::sync::atomic::AtomicBool,
}

thread_local! {
    static CCTX: RefCell<Option<CCtx<'static>>> = const { RefCell::new(None) };
    static DCTX: RefCell<Option<DCtx<'static>>> = const { RefCell::new(None) };
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static FRAME: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Codecs {
    pub(crate) fn new(default: Compression, overrides: HashMap<String, Compression>) -> Codecs {
        Codecs {
            default,
            overrides,
            dictionaries: RwLock::new(HashMap::new()),
            current: RwLock::new(HashMap::new()),
            packed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Records whether the data file stores documents in packed runs (read from its layout).
    pub(crate) fn set_packed(&self, packed: bool) {
        self.packed
            .store(packed, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether documents are stored in packed runs: record bodies plain, runs compressed.
    pub(crate) fn packed(&self) -> bool {
        self.packed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The settings for a collection.
    pub(crate) fn settings(&self, collection: &str) -> Compression {
        self.overrides
            .get(collection)
            .copied()
            .unwrap_or(self.default)
    }

    /// Makes a dictionary available for reading, and for writing if it is the collection's
    /// newest.
    pub(crate) fn install(&self, id: u32, dict: Dictionary) {
        let collection = dict.collection_id;
        self.dictionaries.write().insert(id, Arc::new(dict));
        let mut current = self.current.write();
        let newest = current.entry(collection).or_insert(id);
        *newest = (*newest).max(id);
    }

    /// The newest dictionary of a collection, if any.
    pub(crate) fn newest(&self, collection_id: u32) -> Option<Arc<Dictionary>> {
        let id = *self.current.read().get(&collection_id)?;
        self.dictionaries.read().get(&id).cloned()
    }

    /// Number of dictionaries a collection has.
    pub(crate) fn count_for(&self, collection_id: u32) -> usize {
        let dicts = self.dictionaries.read();
        dicts
            .values()
            .filter(|d| d.collection_id == collection_id)
            .count()
    }

    /// Appends the body for the document encoding `plain` to `out`: compressed when the
    /// collection's settings ask for it and it pays, raw otherwise.
    pub(crate) fn encode_body(
        &self,
        collection_id: u32,
        collection: &str,
        plain: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let settings = self.settings(collection);
        let Some(level) = settings.level.filter(|_| plain.len() >= MIN_COMPRESS_BYTES) else {
            out.extend_from_slice(plain);
            return Ok(());
        };
        let dict = settings
            .dictionaries
            .then(|| self.current_with_id(collection_id))
            .flatten();
        let start = out.len();
        let header = match &dict {
            Some((id, _)) => {
                out.push(TAG_ZSTD_DICT);
                out.extend_from_slice(&(plain.len() as u32).to_le_bytes());
                out.extend_from_slice(&id.to_le_bytes());
                ZSTD_DICT_HEADER_BYTES
            }
            None => {
                out.push(TAG_ZSTD);
                out.extend_from_slice(&(plain.len() as u32).to_le_bytes());
                ZSTD_HEADER_BYTES
            }
        };
        let encoder = dict.as_ref().map(|(_, d)| d.encoder(level));
        let compressed = compress(plain, level, encoder.as_deref().map(|e| &e.1), out);
        let worth_it =
            compressed.is_ok_and(|n| header + n + plain.len() / MIN_SAVING_DIVISOR <= plain.len());
        if !worth_it {
            out.truncate(start);
            out.extend_from_slice(plain);
        }
        Ok(())
    }

    fn current_with_id(&self, collection_id: u32) -> Option<(u32, Arc<Dictionary>)> {
        let id = *self.current.read().get(&collection_id)?;
        let dict = self.dictionaries.read().get(&id).cloned()?;
        Some((id, dict))
    }

    /// Runs `read` on the document encoding inside `body`, decompressing if needed (into a
    /// per-thread buffer, so steady-state reads do not allocate for it).
    pub(crate) fn with_plain<R>(
        &self,
        table: &str,
        body: &[u8],
        read: impl FnOnce(&[u8]) -> Result<R>,
    ) -> Result<R> {
        let Some(&tag) = body.first() else {
            return Err(EngineError::corrupt(table, "empty record body"));
        };
        if tag < FIRST_TAG {
            return read(body);
        }
        // Taken out of the cell (and put back after) so a nested call cannot alias it.
        let mut scratch = SCRATCH.with(|cell| std::mem::take(&mut *cell.borrow_mut()));
        let outcome = self
            .decompress(table, tag, body, MAX_DOCUMENT_BYTES, &mut scratch)
            .and_then(|()| read(&scratch));
        SCRATCH.with(|cell| *cell.borrow_mut() = scratch);
        outcome
    }

    /// The document encoding inside `body`, copied out (for the change log and backups).
    pub(crate) fn plain_body(&self, table: &str, body: &[u8]) -> Result<Vec<u8>> {
        self.with_plain(table, body, |plain| Ok(plain.to_vec()))
    }

    /// The plain bytes inside `body` (raw or compressed, as [`Codecs::encode_body`] wrote it)
    /// into `out`, refusing a body that claims more than `limit` plain bytes: a packed run's
    /// payload (`packed.rs`), whose limit is larger than one document's.
    pub(crate) fn plain_into(
        &self,
        table: &str,
        body: &[u8],
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        match body.first() {
            None => Err(EngineError::corrupt(table, "empty body")),
            Some(&tag) if tag < FIRST_TAG => {
                out.clear();
                out.extend_from_slice(body);
                Ok(())
            }
            Some(&tag) => self.decompress(table, tag, body, limit, out),
        }
    }

    fn decompress(
        &self,
        table: &str,
        tag: u8,
        body: &[u8],
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let corrupt = |detail: &str| EngineError::corrupt(table, detail);
        let plain_len = plain_len(body).ok_or_else(|| corrupt("truncated compression header"))?;
        if plain_len > limit {
            return Err(corrupt("compressed body claims more than its size limit"));
        }
        let (dict, frame) = match tag {
            TAG_ZSTD => (None, &body[ZSTD_HEADER_BYTES..]),
            TAG_ZSTD_DICT => {
                let id = body
                    .get(5..9)
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                    .map(u32::from_le_bytes)
                    .ok_or_else(|| corrupt("truncated compression header"))?;
                let dict = self.dictionaries.read().get(&id).cloned().ok_or_else(|| {
                    EngineError::corrupt(
                        table,
                        format!("record needs dictionary {id}, which does not exist"),
                    )
                })?;
                (Some(dict), &body[ZSTD_DICT_HEADER_BYTES..])
            }
            _ => return Err(corrupt("unknown record compression tag")),
        };
        out.clear();
        out.reserve(plain_len);
        let written = DCTX.with(|cell| {
            let mut cell = cell.borrow_mut();
            let dctx = cell.get_or_insert_with(DCtx::create);
            match &dict {
                Some(dict) => dctx.decompress_using_ddict(out, frame, dict.decoder.as_ddict()),
                None => dctx.decompress(out, frame),
            }
        });
        match written {
            Ok(n) if n == plain_len => Ok(()),
            Ok(_) => Err(corrupt(
                "decompressed length differs from the recorded length",
            )),
            Err(code) => Err(EngineError::corrupt(
                table,
                format!("zstd: {}", zstd::zstd_safe::get_error_name(code)),
            )),
        }
    }
}

/// The uncompressed length of a body: its own length when raw, the recorded length otherwise.
pub(crate) fn plain_len(body: &[u8]) -> Option<usize> {
    match body.first()? {
        tag if *tag < FIRST_TAG => Some(body.len()),
        _ => {
            let len = body.get(1..5)?;
            Some(u32::from_le_bytes(len.try_into().ok()?) as usize)
        }
    }
}

/// Appends the zstd frame of `plain` to `out`; returns its length (or zstd's error code).
fn compress(
    plain: &[u8],
    level: i32,
    dict: Option<&EncoderDictionary<'static>>,
    out: &mut Vec<u8>,
) -> std::result::Result<usize, usize> {
    FRAME.with(|frame| {
        let mut frame = frame.borrow_mut();
        frame.clear();
        frame.reserve(zstd::zstd_safe::compress_bound(plain.len()));
        let written = CCTX.with(|cell| {
            let mut cell = cell.borrow_mut();
            let cctx = cell.get_or_insert_with(CCtx::create);
            match dict {
                Some(dict) => cctx.compress_using_cdict(&mut *frame, plain, dict.as_cdict()),
                None => cctx.compress(&mut *frame, plain, level),
            }
        })?;
        out.extend_from_slice(&frame[..written]);
        Ok(written)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(codecs: &Codecs, plain: &[u8]) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        codecs.encode_body(1, "c", plain, &mut body)?;
        codecs.plain_body("t", &body)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn every_body_round_trips_with_and_without_a_dictionary(
            words in proptest::collection::vec("[a-e]{1,6}", 0..200),
            level in 1i32..6,
        ) {
            // A leading byte below 0x80 is what a real document encoding has.
            let mut plain = vec![1u8];
            plain.extend(words.join(" ").into_bytes());
            let plain_codecs = Codecs::new(Compression::zstd(level), HashMap::new());
            prop_assert_eq!(round_trip(&plain_codecs, &plain).ok(), Some(plain.clone()));
            let dict_codecs = Codecs::new(Compression::zstd_with_dictionaries(level), HashMap::new());
            let samples: Vec<Vec<u8>> = (0..200).map(|i| format!("{{\"name\": \"abc{i}\", \"kind\": \"dde\"}}").into_bytes()).collect();
            if let Ok(raw) = zstd::dict::from_samples(&samples, 4096) {
                dict_codecs.install(7, Dictionary::new(1, 200, raw));
            }
            prop_assert_eq!(round_trip(&dict_codecs, &plain).ok(), Some(plain));
        }
    }

    #[test]
    fn hostile_bodies_are_errors_not_panics() {
        let codecs = Codecs::new(Compression::default(), HashMap::new());
        for body in [
            &[][..],
            &[TAG_ZSTD],
            &[TAG_ZSTD, 5, 0, 0, 0, 1, 2, 3],
            &[TAG_ZSTD_DICT, 5, 0, 0, 0, 9, 0, 0, 0, 1],
            &[TAG_ZSTD, 0xff, 0xff, 0xff, 0x7f],
            &[0xF0, 1, 2],
        ] {
            assert!(codecs.plain_body("t", body).is_err(), "{body:?}");
        }
    }

    #[test]
    fn small_or_incompressible_bodies_stay_raw() -> Result<()> {
        let codecs = Codecs::new(Compression::default(), HashMap::new());
        let mut body = Vec::new();
        codecs.encode_body(1, "c", &[1, 2, 3], &mut body)?;
        assert_eq!(body, vec![1, 2, 3]);
        let noise: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8 & 0x7f)
            .collect();
        body.clear();
        codecs.encode_body(1, "c", &noise, &mut body)?;
        assert_eq!(codecs.plain_body("t", &body)?, noise);
        Ok(())
    }
}
