//! Re-sealing the data file under a new data key (the backend's half of a rotation): key
//! switches, journaled chunks, and putting back slots a crash tore mid-overwrite.

use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;

use super::{
    open_slot, slot_key, BlockKeys, EncryptedBackend, ResealStep, BLOCK_BYTES, SLOT_BYTES,
};
use crate::cipher::Cipher;
use crate::keyring::DataKeys;

const JOURNAL_MAGIC: &[u8; 8] = b"CAIRNRJ1";
/// Journal header: magic, first block of the chunk (u64 LE).
const JOURNAL_HEAD_BYTES: usize = 16;
const JOURNAL_ENTRY_BYTES: usize = 8 + SLOT_BYTES;

impl EncryptedBackend {
    /// Switches sealing to a new data key while keeping the current one for reading: the
    /// start of a rotation. The keyring must already hold both (durably).
    pub(crate) fn begin_rotation(&self, keys: &DataKeys) -> io::Result<()> {
        *self.keys.write() = BlockKeys::from_data_keys(keys)?;
        Ok(())
    }

    /// Drops the retired key from memory (its key schedule is wiped as it is dropped) and
    /// removes the rotation journal: the end of a rotation. The keyring must already hold the
    /// active key only.
    pub(crate) fn finish_rotation(&self) -> io::Result<()> {
        self.keys.write().retiring = None;
        self.resume_from.store(0, Ordering::Release);
        self.remove_journal()
    }

    /// Removes the rotation journal, if there is one.
    pub(super) fn remove_journal(&self) -> io::Result<()> {
        if let Some(journal) = &self.journal {
            match std::fs::remove_file(journal) {
                Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
                _ => {}
            }
        }
        Ok(())
    }

    /// The cipher of data key `id`, if the backend holds it (the active key, or the retiring
    /// one during a rotation): what opens a write-ahead log record sealed under it.
    pub(crate) fn opener_for(&self, id: u32) -> Option<Cipher> {
        let id = u16::try_from(id).ok()?;
        self.keys.read().opener(id).cloned()
    }

    /// The active data key: its id and cipher.
    pub(crate) fn active_key(&self) -> (u32, Cipher) {
        let keys = self.keys.read();
        (u32::from(keys.active.id), keys.active.cipher.clone())
    }

    /// Whether a retiring key is still held (a rotation is unfinished).
    pub(crate) fn rotating(&self) -> bool {
        self.keys.read().retiring.is_some()
    }

    /// The block an interrupted rotation pass should resume at.
    pub(crate) fn resume_from(&self) -> u64 {
        self.resume_from.load(Ordering::Acquire)
    }

    /// Re-seals the slots of up to `max_blocks` blocks from `from` that are not under the
    /// active key, with every other block operation held off meanwhile. Crash-safe: the new
    /// slots are journaled and synced before they overwrite the old ones in place, and the
    /// data file is synced before the next chunk's journal replaces this one.
    pub(crate) fn reseal_chunk(&self, from: u64, max_blocks: u64) -> io::Result<ResealStep> {
        let keys = self.keys.write();
        let total = self
            .len
            .load(Ordering::Acquire)
            .div_ceil(BLOCK_BYTES as u64);
        let mut resealed = 0;
        if from == 0 && total > 0 {
            resealed += self.reseal_header(&keys)?;
        }
        let start = from.max(1);
        let end = from.saturating_add(max_blocks.max(1)).min(total);
        if start >= end {
            return Ok(ResealStep {
                next: end.max(from),
                total,
                resealed,
            });
        }
        let count = (end - start) as usize;
        let mut slots = vec![0u8; count * SLOT_BYTES];
        self.inner
            .read((start + 1) * SLOT_BYTES as u64, &mut slots)?;
        let mut journal = Vec::with_capacity(JOURNAL_HEAD_BYTES);
        journal.extend_from_slice(JOURNAL_MAGIC);
        journal.extend_from_slice(&start.to_le_bytes());
        let mut changed = Vec::new();
        for i in 0..count {
            let block = start + i as u64;
            let slot_buf = &mut slots[i * SLOT_BYTES..(i + 1) * SLOT_BYTES];
            if slot_buf.iter().all(|&b| b == 0) || slot_key(slot_buf) == keys.active.id {
                continue;
            }
            open_slot(&keys, block, slot_buf)?;
            Self::seal_slot(&keys, block, 0, slot_buf)?;
            journal.extend_from_slice(&block.to_le_bytes());
            journal.extend_from_slice(slot_buf);
            changed.push(i);
        }
        if !changed.is_empty() {
            if let Some(path) = &self.journal {
                write_synced(path, &journal)?;
            }
            for &i in &changed {
                let block = start + i as u64;
                self.inner.write(
                    (block + 1) * SLOT_BYTES as u64,
                    &slots[i * SLOT_BYTES..(i + 1) * SLOT_BYTES],
                )?;
            }
            self.inner.sync_data()?;
            resealed += changed.len() as u64;
        }
        Ok(ResealStep {
            next: end,
            total,
            resealed,
        })
    }

    /// Writes block 0's current plaintext twice, so both of its slots end up under the active
    /// key (either write torn by a crash leaves the other slot whole). Returns slots re-sealed.
    fn reseal_header(&self, keys: &BlockKeys) -> io::Result<u64> {
        let mut buf = vec![0u8; SLOT_BYTES];
        let mut stale = false;
        for slot in 0..2 {
            self.inner.read(slot * SLOT_BYTES as u64, &mut buf)?;
            stale |= !buf.iter().all(|&b| b == 0) && slot_key(&buf) != keys.active.id;
        }
        if !stale {
            return Ok(0);
        }
        self.read_block(keys, 0, &mut buf)?;
        // Sealing works in place, so each write starts from its own copy of the plaintext.
        let plain = buf.clone();
        for _ in 0..2 {
            buf.copy_from_slice(&plain);
            self.write_header(keys, &mut buf)?;
            self.inner.sync_data()?;
        }
        Ok(2)
    }

    /// Puts back slots that a crash tore while a rotation chunk overwrote them, from the
    /// chunk's journal, and notes where the pass resumes. A journal slot replaces a stored
    /// one only when the stored one fails authentication and the journal's passes it, so an
    /// old journal can never overwrite a newer, intact block.
    pub(super) fn recover_journal(&self) -> io::Result<()> {
        let Some(path) = &self.journal else {
            return Ok(());
        };
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(err),
        };
        if bytes.len() < JOURNAL_HEAD_BYTES || &bytes[..8] != JOURNAL_MAGIC {
            // Torn before its header was whole: the previous chunk was already synced in
            // place, so nothing needs putting back; the pass restarts from the beginning.
            return Ok(());
        }
        let mut start = [0u8; 8];
        start.copy_from_slice(&bytes[8..16]);
        let keys = self.keys.read();
        let mut stored = vec![0u8; SLOT_BYTES];
        let mut repaired = false;
        for entry in bytes[JOURNAL_HEAD_BYTES..].chunks_exact(JOURNAL_ENTRY_BYTES) {
            let mut block = [0u8; 8];
            block.copy_from_slice(&entry[..8]);
            let block = u64::from_le_bytes(block);
            let at = (block + 1) * SLOT_BYTES as u64;
            if block == 0 || at + SLOT_BYTES as u64 > self.inner.len()? {
                continue;
            }
            self.inner.read(at, &mut stored)?;
            if open_slot(&keys, block, &mut stored).is_ok() {
                continue;
            }
            let mut journaled = entry[8..].to_vec();
            if open_slot(&keys, block, &mut journaled).is_ok() {
                self.inner.write(at, &entry[8..])?;
                repaired = true;
            }
        }
        if repaired {
            self.inner.sync_data()?;
        }
        self.resume_from
            .store(u64::from_le_bytes(start), Ordering::Release);
        Ok(())
    }
}

/// The data-key id of every written slot of a data file, by slot: for tests and tools that
/// must show no slot is left under a retired key. Reads the file directly.
pub fn slot_key_ids(data_file: &Path) -> io::Result<Vec<(u64, u32)>> {
    let bytes = std::fs::read(data_file)?;
    Ok(bytes
        .chunks(SLOT_BYTES)
        .enumerate()
        .filter(|(_, slot)| slot.len() == SLOT_BYTES && !slot.iter().all(|&b| b == 0))
        .map(|(i, slot)| (i as u64, u32::from(slot_key(slot))))
        .collect())
}

/// Writes `bytes` to `path` (replacing it) and syncs it (and, when it is new, its folder).
fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let existed = path.exists();
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    if let (false, Some(parent)) = (existed, path.parent()) {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}
