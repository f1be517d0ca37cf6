//! A redb storage backend that encrypts and authenticates every block it stores.
//!
//! redb sees an ordinary byte array; underneath, the array is cut into fixed logical blocks of
//! [`BLOCK_BYTES`], and each block is stored in a physical *slot*:
//!
//! ```text
//! slot = [generation u64 LE][nonce 12][ciphertext BLOCK_BYTES][tag 16]
//! aad  = "cairn-block" ‖ block index u64 LE ‖ generation u64 LE
//! ```
//! The block index in the authenticated data stops blocks being moved around; the tag stops
//! them being changed. A slot that is all zeros was never written (the file grew sparsely) and
//! reads as zeros, which is what redb expects of new space.
//!
//! Block 0 holds redb's commit header, whose in-place update is what makes a redb commit
//! atomic. A torn write of an encrypted block would fail authentication as a whole, so block 0
//! is stored twice (slots 0 and 1) and written alternately with an increasing generation:
//! after a crash the newest slot that authenticates wins, which is either the header of the
//! last commit or of the one before — the same outcome redb's own double-buffered header gives.
//! Block `b ≥ 1` lives in slot `b + 1`.
//!
//! Partial writes are read-modify-write under a per-block lock (striped), so concurrent readers
//! never see half a block.

use std::io;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use redb::{BackendError, StorageBackend};

use crate::cipher::{Cipher, NONCE_BYTES, TAG_BYTES};

/// Logical block size: 4 KiB, redb's page size, so one page write is one block write.
pub const BLOCK_BYTES: usize = 4096;
const GENERATION_BYTES: usize = 8;
/// Physical bytes per slot: generation, nonce, ciphertext, tag.
pub const SLOT_BYTES: usize = GENERATION_BYTES + NONCE_BYTES + BLOCK_BYTES + TAG_BYTES;
/// Lock stripes for block read-modify-write: 64, enough that unrelated blocks rarely share one.
const LOCK_STRIPES: usize = 64;
const AAD_DOMAIN: &[u8; 11] = b"cairn-block";

/// A block failed authentication: it was changed on disk, or belongs elsewhere.
#[derive(Debug)]
pub struct BlockAuthFailed {
    /// The logical block index.
    pub block: u64,
}

impl std::fmt::Display for BlockAuthFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "encrypted block {} failed authentication (modified on disk or not from this database)",
            self.block
        )
    }
}

impl std::error::Error for BlockAuthFailed {}

/// Which slot holds the current copy of block 0, and its generation.
#[derive(Debug, Clone, Copy)]
struct HeaderSlot {
    slot: u64,
    generation: u64,
}

/// The encrypting backend; shared between redb (through [`SharedBackend`]) and the store,
/// which uses it to verify every block.
pub struct EncryptedBackend {
    inner: Box<dyn StorageBackend>,
    cipher: Cipher,
    len: AtomicU64,
    stripes: Vec<RwLock<()>>,
    header: Mutex<HeaderSlot>,
}

impl std::fmt::Debug for EncryptedBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptedBackend")
            .field("len", &self.len.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl EncryptedBackend {
    /// Wraps `inner` (which holds slots) with `cipher`.
    pub fn new(inner: Box<dyn StorageBackend>, cipher: Cipher) -> io::Result<EncryptedBackend> {
        let slots = inner.len()? / SLOT_BYTES as u64;
        let blocks = slots.saturating_sub(1);
        let backend = EncryptedBackend {
            inner,
            cipher,
            len: AtomicU64::new(blocks * BLOCK_BYTES as u64),
            stripes: (0..LOCK_STRIPES).map(|_| RwLock::new(())).collect(),
            header: Mutex::new(HeaderSlot {
                slot: 0,
                generation: 0,
            }),
        };
        if blocks > 0 {
            *backend.header.lock() = backend.newest_header_slot()?;
        }
        Ok(backend)
    }

    /// Logical blocks that fail authentication (an empty list means every stored block is
    /// intact). Reads the whole file once; for `cairn check`.
    pub fn verify_all_blocks(&self) -> io::Result<Vec<u64>> {
        let blocks = self
            .len
            .load(Ordering::Acquire)
            .div_ceil(BLOCK_BYTES as u64);
        let mut bad = Vec::new();
        let mut buf = vec![0u8; SLOT_BYTES];
        for block in 0..blocks {
            let ok = if block == 0 {
                self.newest_header_slot().is_ok()
            } else {
                let _guard = self.stripe(block).read();
                self.decrypt_slot(block, block + 1, &mut buf).is_ok()
            };
            if !ok {
                bad.push(block);
            }
        }
        Ok(bad)
    }

    fn stripe(&self, block: u64) -> &RwLock<()> {
        &self.stripes[(block % LOCK_STRIPES as u64) as usize]
    }

    /// Reads `slot` and decrypts it as `block` into `buf[plaintext]`; returns its generation.
    /// `buf` must be `SLOT_BYTES` long; the plaintext is `buf[20..20 + BLOCK_BYTES]`.
    fn decrypt_slot(&self, block: u64, slot: u64, buf: &mut [u8]) -> io::Result<u64> {
        // Blocks past the logical end were never written (set_len keeps the physical file in
        // step), so they read as zeros without asking the file.
        if block * BLOCK_BYTES as u64 >= self.len.load(Ordering::Acquire) {
            buf.fill(0);
            return Ok(0);
        }
        self.inner.read(slot * SLOT_BYTES as u64, buf)?;
        if buf.iter().all(|&b| b == 0) {
            return Ok(0);
        }
        let (head, rest) = buf.split_at_mut(GENERATION_BYTES + NONCE_BYTES);
        let (body, tag) = rest.split_at_mut(BLOCK_BYTES);
        let mut generation = [0u8; GENERATION_BYTES];
        generation.copy_from_slice(&head[..GENERATION_BYTES]);
        let generation = u64::from_le_bytes(generation);
        let mut nonce = [0u8; NONCE_BYTES];
        nonce.copy_from_slice(&head[GENERATION_BYTES..]);
        let mut tag_bytes = [0u8; TAG_BYTES];
        tag_bytes.copy_from_slice(tag);
        let aad = block_aad(block, generation);
        if self.cipher.open_in_place(&aad, &nonce, &tag_bytes, body) {
            Ok(generation)
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                BlockAuthFailed { block },
            ))
        }
    }

    fn encrypt_slot(&self, block: u64, slot: u64, generation: u64, plain: &[u8]) -> io::Result<()> {
        let mut buf = [0u8; SLOT_BYTES];
        let (head, rest) = buf.split_at_mut(GENERATION_BYTES + NONCE_BYTES);
        let (body, tag) = rest.split_at_mut(BLOCK_BYTES);
        body.copy_from_slice(plain);
        let aad = block_aad(block, generation);
        let (nonce, tag_bytes) = self
            .cipher
            .seal_in_place(&aad, body)
            .map_err(io::Error::other)?;
        head[..GENERATION_BYTES].copy_from_slice(&generation.to_le_bytes());
        head[GENERATION_BYTES..].copy_from_slice(&nonce);
        tag.copy_from_slice(&tag_bytes);
        self.inner.write(slot * SLOT_BYTES as u64, &buf)
    }

    /// The slot of block 0 that authenticates with the highest generation.
    fn newest_header_slot(&self) -> io::Result<HeaderSlot> {
        let mut buf = vec![0u8; SLOT_BYTES];
        let mut best: Option<HeaderSlot> = None;
        let mut failure = None;
        for slot in 0..2 {
            match self.decrypt_slot(0, slot, &mut buf) {
                Ok(generation) if best.is_none_or(|b| generation > b.generation) => {
                    best = Some(HeaderSlot { slot, generation });
                }
                Ok(_) => {}
                Err(err) => failure = Some(err),
            }
        }
        match (best, failure) {
            (Some(best), _) => Ok(best),
            (None, Some(err)) => Err(err),
            (None, None) => Ok(HeaderSlot {
                slot: 0,
                generation: 0,
            }),
        }
    }

    /// Plaintext of `block` into `out` (`BLOCK_BYTES` long). Caller holds the block's lock.
    fn read_block(&self, block: u64, out: &mut [u8]) -> io::Result<()> {
        let slot = if block == 0 {
            self.header.lock().slot
        } else {
            block + 1
        };
        let mut buf = [0u8; SLOT_BYTES];
        self.decrypt_slot(block, slot, &mut buf)?;
        let start = GENERATION_BYTES + NONCE_BYTES;
        out.copy_from_slice(&buf[start..start + BLOCK_BYTES]);
        Ok(())
    }

    /// Stores `plain` (`BLOCK_BYTES` long) as `block`. Caller holds the block's lock.
    fn write_block(&self, block: u64, plain: &[u8]) -> io::Result<()> {
        if block != 0 {
            return self.encrypt_slot(block, block + 1, 0, plain);
        }
        let mut header = self.header.lock();
        let next = HeaderSlot {
            slot: 1 - header.slot,
            generation: header.generation + 1,
        };
        self.encrypt_slot(0, next.slot, next.generation, plain)?;
        *header = next;
        Ok(())
    }

    /// Applies `op` to each block overlapping `[offset, offset + len)`, with the block's
    /// plaintext range. Block 0's mutex serialises it; other blocks take their stripe.
    fn blocks(offset: u64, len: usize) -> impl Iterator<Item = (u64, usize, usize, usize)> {
        let end = offset + len as u64;
        let first = offset / BLOCK_BYTES as u64;
        let last = end.div_ceil(BLOCK_BYTES as u64);
        (first..last).map(move |block| {
            let block_start = block * BLOCK_BYTES as u64;
            let from = offset.max(block_start);
            let to = end.min(block_start + BLOCK_BYTES as u64);
            let in_block = (from - block_start) as usize;
            let in_data = (from - offset) as usize;
            (block, in_block, in_data, (to - from) as usize)
        })
    }
}

impl StorageBackend for EncryptedBackend {
    fn len(&self) -> io::Result<u64> {
        Ok(self.len.load(Ordering::Acquire))
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        if offset + out.len() as u64 > self.len.load(Ordering::Acquire) {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "read past the end of the encrypted file",
            ));
        }
        let mut plain = [0u8; BLOCK_BYTES];
        for (block, in_block, in_data, n) in Self::blocks(offset, out.len()) {
            let _guard = self.stripe(block).read();
            self.read_block(block, &mut plain)?;
            out[in_data..in_data + n].copy_from_slice(&plain[in_block..in_block + n]);
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let blocks = len.div_ceil(BLOCK_BYTES as u64);
        let old = self.len.load(Ordering::Acquire);
        if len < old && !len.is_multiple_of(BLOCK_BYTES as u64) {
            // New space must read as zeros if the file grows again: clear the kept block's tail.
            let block = len / BLOCK_BYTES as u64;
            let _guard = self.stripe(block).write();
            let mut plain = vec![0u8; BLOCK_BYTES];
            self.read_block(block, &mut plain)?;
            plain[(len % BLOCK_BYTES as u64) as usize..].fill(0);
            self.write_block(block, &plain)?;
        }
        let physical = if blocks == 0 {
            0
        } else {
            (blocks + 1) * SLOT_BYTES as u64
        };
        self.inner.set_len(physical)?;
        if blocks == 0 {
            *self.header.lock() = HeaderSlot {
                slot: 0,
                generation: 0,
            };
        }
        self.len.store(len, Ordering::Release);
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        self.inner.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut plain = [0u8; BLOCK_BYTES];
        for (block, in_block, in_data, n) in Self::blocks(offset, data.len()) {
            let _guard = self.stripe(block).write();
            if n < BLOCK_BYTES {
                self.read_block(block, &mut plain)?;
            }
            plain[in_block..in_block + n].copy_from_slice(&data[in_data..in_data + n]);
            self.write_block(block, &plain)?;
        }
        Ok(())
    }

    fn close(&self) -> io::Result<()> {
        self.inner.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.query_lock_range(start, end)
    }
}

/// Hands redb a shared handle so the store can keep one too (for block verification).
#[derive(Debug, Clone)]
pub struct SharedBackend(pub Arc<EncryptedBackend>);

impl StorageBackend for SharedBackend {
    fn len(&self) -> io::Result<u64> {
        self.0.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        self.0.read(offset, out)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.0.write(offset, data)
    }
    fn close(&self) -> io::Result<()> {
        self.0.close()
    }
    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.0.try_lock_range(start, end)
    }
    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.0.try_lock_shared_range(start, end)
    }
    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.0.lock_range(start, end)
    }
    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.0.lock_shared_range(start, end)
    }
    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.0.unlock_range(start, end)
    }
    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.0.query_lock_range(start, end)
    }
}

fn block_aad(block: u64, generation: u64) -> [u8; 27] {
    let mut aad = [0u8; 27];
    aad[..11].copy_from_slice(AAD_DOMAIN);
    aad[11..19].copy_from_slice(&block.to_le_bytes());
    aad[19..].copy_from_slice(&generation.to_le_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use redb::backends::InMemoryBackend;

    fn backend() -> io::Result<EncryptedBackend> {
        EncryptedBackend::new(
            Box::new(InMemoryBackend::new()),
            Cipher::new(&[9u8; crate::cipher::KEY_BYTES]),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Any sequence of writes at any offsets reads back exactly like a plain byte array.
        #[test]
        fn reads_match_a_plain_byte_array(
            writes in proptest::collection::vec((0u64..20_000, proptest::collection::vec(any::<u8>(), 1..6000)), 1..12)
        ) {
            let enc = backend().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut model: Vec<u8> = Vec::new();
            for (offset, data) in writes {
                let end = offset as usize + data.len();
                if end > model.len() {
                    model.resize(end, 0);
                    enc.set_len(end as u64).map_err(|e| TestCaseError::fail(e.to_string()))?;
                }
                model[offset as usize..end].copy_from_slice(&data);
                enc.write(offset, &data).map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
            let mut out = vec![0u8; model.len()];
            enc.read(0, &mut out).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(out, model);
            prop_assert!(enc.verify_all_blocks().map_err(|e| TestCaseError::fail(e.to_string()))?.is_empty());
        }
    }

    #[test]
    fn a_flipped_byte_is_an_authentication_error_naming_the_block() -> io::Result<()> {
        let inner = Arc::new(InMemoryBackend::new());
        struct Shared(Arc<InMemoryBackend>);
        impl std::fmt::Debug for Shared {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("Shared")
            }
        }
        impl StorageBackend for Shared {
            fn len(&self) -> io::Result<u64> {
                self.0.len()
            }
            fn read(&self, o: u64, out: &mut [u8]) -> io::Result<()> {
                self.0.read(o, out)
            }
            fn set_len(&self, l: u64) -> io::Result<()> {
                self.0.set_len(l)
            }
            fn sync_data(&self) -> io::Result<()> {
                Ok(())
            }
            fn write(&self, o: u64, d: &[u8]) -> io::Result<()> {
                self.0.write(o, d)
            }
        }
        let enc = EncryptedBackend::new(Box::new(Shared(inner.clone())), Cipher::new(&[1; 32]))?;
        enc.set_len(3 * BLOCK_BYTES as u64)?;
        enc.write(0, &vec![0xAB; 3 * BLOCK_BYTES])?;
        // Flip one ciphertext byte of block 2 (slot 3).
        let at = 3 * SLOT_BYTES as u64 + 40;
        let mut byte = [0u8];
        inner.read(at, &mut byte)?;
        inner.write(at, &[byte[0] ^ 1])?;
        let mut out = vec![0u8; 10];
        let err = enc.read(2 * BLOCK_BYTES as u64, &mut out).err();
        let block = err
            .as_ref()
            .and_then(|e| e.get_ref())
            .and_then(|e| e.downcast_ref::<BlockAuthFailed>())
            .map(|e| e.block);
        assert_eq!(block, Some(2));
        assert_eq!(enc.verify_all_blocks()?, vec![2]);
        // Block 0 survives damage to one of its two copies.
        inner.write(20, &[0x55])?;
        let reopened = EncryptedBackend::new(Box::new(Shared(inner)), Cipher::new(&[1; 32]))?;
        reopened.read(0, &mut out)?;
        assert_eq!(out, vec![0xAB; 10]);
        Ok(())
    }
}
