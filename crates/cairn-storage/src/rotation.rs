//! Online data-key rotation: every block of the data file re-sealed under a fresh data key
//! while readers and writers keep going.
//!
//! 1. The keyring gains a new random data key (wrapped, with the current one, under the new
//!    user key) and is synced; only then does the backend seal new writes with it.
//! 2. A pass walks the file in chunks of [`ROTATION_CHUNK_BLOCKS`]; each chunk holds every
//!    block operation off while it re-seals the slots still under the old key (journaled
//!    first, see `encrypted_backend.rs`), so writers wait at most one chunk at a time.
//! 3. When the pass reaches the end, the keyring is rewritten with the new key only, and the
//!    old key is dropped from memory.
//!
//! A crash anywhere leaves a readable database: before step 1 completes the keyring holds the
//! old key only and nothing used the new one; after it, the keyring holds both until step 3,
//! and opening loads both. Calling [`Store::rotate_data_key`] again finishes the rotation,
//! resuming at the chunk the journal names.

use std::path::{Path, PathBuf};

use crate::cipher::KeySource;
use crate::keyring;
use crate::store::Store;
use crate::{Result, StorageError};

/// Blocks re-sealed per chunk: 1,024 (4 MiB of data). Writers are held off for one chunk —
/// a few milliseconds of AES plus two fsyncs — and a 10 GiB file takes 2,560 chunks.
pub const ROTATION_CHUNK_BLOCKS: u64 = 1024;

/// What a finished rotation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationReport {
    /// The id of the data key everything is now sealed with.
    pub key_id: u32,
    /// Block slots re-sealed by this call.
    pub resealed_blocks: u64,
    /// Whether this call finished a rotation an earlier one had started.
    pub resumed: bool,
}

impl Store {
    /// Re-encrypts the whole data file under a new random data key, online; the keyring is
    /// then opened by `new` (which may equal `current`). Runs the pass on the calling thread
    /// (call it from a background thread to keep going meanwhile); `progress(done, total)`
    /// is called after every chunk, in blocks. `chunk_blocks` of 0 means
    /// [`ROTATION_CHUNK_BLOCKS`]. When a rotation was interrupted, this finishes it (with the
    /// new key from that rotation) instead of starting another; `current` is then the key the
    /// keyring was rewrapped under, i.e. the earlier call's `new`.
    pub fn rotate_data_key(
        &self,
        current: &KeySource,
        new: &KeySource,
        chunk_blocks: u64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<RotationReport> {
        let Some(backend) = &self.encryption else {
            return Err(StorageError::NotEncrypted {
                path: self.folder(),
            });
        };
        let _only_one = self.rotation.lock();
        let dir = self.folder();
        let resumed = backend.rotating();
        let keys = keyring::begin_rotation(&dir, current, new)?;
        backend
            .begin_rotation(&keys)
            .map_err(|source| self.io(source))?;
        let chunk = if chunk_blocks == 0 {
            ROTATION_CHUNK_BLOCKS
        } else {
            chunk_blocks
        };
        let mut next = if resumed { backend.resume_from() } else { 0 };
        let mut resealed = 0;
        if next > 0 {
            // Block 0 (the header) is re-sealed by the chunk that starts at 0; a resumed pass
            // starts later, so do it first.
            resealed += backend
                .reseal_chunk(0, 0)
                .map_err(|e| self.block_error(e))?
                .resealed;
        }
        loop {
            let step = backend
                .reseal_chunk(next, chunk)
                .map_err(|e| self.block_error(e))?;
            resealed += step.resealed;
            progress(step.next.min(step.total), step.total);
            if step.next >= step.total {
                break;
            }
            next = step.next;
        }
        // Log records sealed under the retiring key must be in the data file before the
        // keyring forgets that key: a checkpoint leaves only records sealed under the new one.
        self.checkpoint()?;
        let keys = keyring::finish_rotation(&dir, new)?;
        backend
            .finish_rotation()
            .map_err(|source| self.io(source))?;
        Ok(RotationReport {
            key_id: keys.active().0,
            resealed_blocks: resealed,
            resumed,
        })
    }

    fn folder(&self) -> PathBuf {
        self.path()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    fn io(&self, source: std::io::Error) -> StorageError {
        StorageError::Io {
            path: self.path().map(Path::to_path_buf).unwrap_or_default(),
            source,
        }
    }

    fn block_error(&self, err: std::io::Error) -> StorageError {
        match crate::error::tampered_block(&err) {
            Some(block) => StorageError::Tampered { block },
            None => self.io(err),
        }
    }
}
