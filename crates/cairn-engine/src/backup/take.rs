//! Taking backups of an open database while writers keep going.
//!
//! A full backup copies every table of **one** storage snapshot (so it is consistent without
//! stopping anyone; the snapshot only delays page reuse while it lives). An incremental backup
//! copies the change-log records committed after the previous piece of the chain, from one
//! snapshot too, re-encoded with plain documents so that replaying them needs nothing from
//! the source database.

use std::ops::Bound;
use std::path::{Path, PathBuf};

use cairn_doc::DateTime;
use cairn_storage::{Snapshot, StorageError, KEYRING_FILE_NAME};

use crate::backup::manifest::{Manifest, PieceInfo};
use crate::backup::piece::{PieceKind, PieceWriter};
use crate::changelog::{decode_stored, encode_portable};
use crate::committer::trimmed_through;
use crate::database::Database;
use crate::error::{EngineError, Result};
use crate::layout::{changelog_key, parse_changelog_key, CHANGELOG_TABLE};

/// Progress callback: (work done, total work), in entries.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

impl Database {
    /// Backs the database up into the folder `dest` (created if needed) and returns the new
    /// piece. `incremental`: only the changes since the last piece in `dest` (which must
    /// exist, and still be covered by the change log); otherwise a full copy. Writers keep
    /// going throughout; the piece is consistent as of one commit (`to_seq`).
    pub fn backup(
        &self,
        dest: &Path,
        incremental: bool,
        progress: Progress<'_>,
    ) -> Result<PieceInfo> {
        std::fs::create_dir_all(dest).map_err(|source| io(dest, source))?;
        let shared = &self.inner.shared;
        let cipher = shared.store.cipher();
        let mut manifest = match Manifest::read(dest)? {
            Some(manifest) => manifest,
            None if incremental => {
                return Err(EngineError::NoBackup {
                    dir: dest.to_path_buf(),
                    detail:
                        "an incremental backup needs a previous backup there; take a full one first",
                })
            }
            None => Manifest {
                encrypted: cipher.is_some(),
                pieces: Vec::new(),
            },
        };
        if manifest.encrypted != cipher.is_some() {
            return Err(EngineError::BackupKey {
                path: dest.to_path_buf(),
                encrypted: manifest.encrypted,
            });
        }
        let key_id = shared.store.data_key_id().unwrap_or(0);
        let chain_key = manifest.pieces.last().map(|p| p.key_id);
        if let Some(chain_key) = chain_key.filter(|&k| k != key_id && cipher.is_some()) {
            if incremental {
                return Err(EngineError::BackupKeyRotated {
                    dir: dest.to_path_buf(),
                    chain_key,
                    database_key: key_id,
                });
            }
            // A new chain under the new key: the older pieces stay readable through their
            // own keyring, kept beside the new one.
            archive_keyring(dest, chain_key)?;
        }
        if cipher.is_some() {
            self.copy_keyring(dest)?;
        }
        let number = manifest.pieces.len() as u32 + 1;
        let kind = if incremental {
            PieceKind::Incremental
        } else {
            PieceKind::Full
        };
        let file = format!("{number:06}-{}.cbk", kind.name());
        let path = dest.join(&file);
        // A file with this number but not in the manifest is left from a backup that crashed
        // before finishing; nothing refers to it.
        if path.exists() {
            std::fs::remove_file(&path).map_err(|source| io(&path, source))?;
        }
        let snapshot = shared.store.snapshot()?;
        let (to_seq, to_time) = last_commit(&snapshot, &shared.codecs)?;
        let mut writer = PieceWriter::create(&path, kind, number, cipher)?;
        let from_seq = if incremental {
            let base = manifest.last_seq().unwrap_or(0);
            copy_changes(&snapshot, &shared.codecs, base, &mut writer, progress)?;
            base
        } else {
            copy_tables(&snapshot, &mut writer, progress)?;
            0
        };
        let entries = writer.entries;
        let (bytes, sha256) = writer.finish()?;
        let piece = PieceInfo {
            kind,
            file,
            from_seq,
            to_seq,
            to_time,
            bytes,
            sha256,
            entries,
            created_at: DateTime::now(),
            key_id,
        };
        manifest.pieces.push(piece.clone());
        manifest.write(dest)?;
        Ok(piece)
    }

    /// Copies the database's keyring into the backup folder, so the same passphrase or key
    /// file opens the backup (refreshed on every backup, so it follows rekeys).
    fn copy_keyring(&self, dest: &Path) -> Result<()> {
        let data = self.inner.shared.store.path().map(Path::to_path_buf);
        let Some(dir) = data.as_deref().and_then(Path::parent) else {
            return Ok(());
        };
        let from = dir.join(KEYRING_FILE_NAME);
        let to = dest.join(KEYRING_FILE_NAME);
        std::fs::copy(&from, &to).map_err(|source| io(&from, source))?;
        Ok(())
    }
}

/// Name of the keyring file in a backup folder that opens pieces sealed with data key `id`
/// when it is no longer the folder's current key.
pub(crate) fn archived_keyring_name(id: u32) -> String {
    format!("{KEYRING_FILE_NAME}.{id}")
}

/// Keeps the backup folder's current keyring (for data key `id`) under its archived name,
/// unless it is already kept.
fn archive_keyring(dest: &Path, id: u32) -> Result<()> {
    let from = dest.join(KEYRING_FILE_NAME);
    let to = dest.join(archived_keyring_name(id));
    if to.exists() || !from.exists() {
        return Ok(());
    }
    std::fs::copy(&from, &to).map_err(|source| io(&from, source))?;
    std::fs::File::open(&to)
        .and_then(|file| file.sync_all())
        .map_err(|source| io(&to, source))?;
    Ok(())
}

/// Sequence number and commit time of the last commit in the snapshot ((0, epoch) when empty).
fn last_commit(
    snapshot: &Snapshot,
    codecs: &crate::compression::Codecs,
) -> Result<(u64, DateTime)> {
    let Some(log) = snapshot.table(CHANGELOG_TABLE)? else {
        return Ok((0, DateTime::from_micros(0)));
    };
    let Some((key, value)) = log.last()? else {
        return Ok((0, DateTime::from_micros(0)));
    };
    let (seq, index) = parse_changelog_key(&key)
        .ok_or_else(|| EngineError::corrupt(CHANGELOG_TABLE, "malformed key"))?;
    Ok((seq, decode_stored(codecs, seq, index, &value)?.0.at))
}

fn copy_tables(
    snapshot: &Snapshot,
    writer: &mut PieceWriter,
    progress: Progress<'_>,
) -> Result<()> {
    let names = snapshot.table_names()?;
    let mut total = 0;
    for name in &names {
        if let Some(table) = snapshot.table(name)? {
            total += table.len()?;
        }
    }
    let mut done = 0;
    for name in &names {
        let Some(table) = snapshot.table(name)? else {
            continue;
        };
        writer.table(name)?;
        for entry in table.range(Bound::Unbounded, Bound::Unbounded)? {
            let entry = entry?;
            writer.kv(entry.key(), entry.value())?;
            done += 1;
            if done % 4096 == 0 {
                progress(done, total);
            }
        }
    }
    progress(done, total);
    Ok(())
}

fn copy_changes(
    snapshot: &Snapshot,
    codecs: &crate::compression::Codecs,
    base: u64,
    writer: &mut PieceWriter,
    progress: Progress<'_>,
) -> Result<()> {
    let Some(log) = snapshot.table(CHANGELOG_TABLE)? else {
        return Ok(());
    };
    if let Some((key, _)) = log.first()? {
        let first = parse_changelog_key(&key)
            .ok_or_else(|| EngineError::corrupt(CHANGELOG_TABLE, "malformed key"))?;
        let trimmed = trimmed_through(first);
        if base < trimmed {
            return Err(EngineError::BackupBaseTrimmed {
                base_seq: base,
                oldest_available: trimmed + 1,
            });
        }
    }
    let total = log.len()?;
    let mut resolver = crate::elided::Resolver::new(snapshot, codecs);
    let start = changelog_key(base.saturating_add(1), 0);
    let mut done = 0;
    for entry in log.range(Bound::Included(&start), Bound::Unbounded)? {
        let entry = entry?;
        let (seq, index) = parse_changelog_key(entry.key())
            .ok_or_else(|| EngineError::corrupt(CHANGELOG_TABLE, "malformed key"))?;
        let change = resolver.decode(seq, index, entry.value())?;
        writer.change(seq, index, &encode_portable(&change)?)?;
        done += 1;
        if done % 4096 == 0 {
            progress(done, total);
        }
    }
    progress(done, done);
    Ok(())
}

fn io(path: &Path, source: std::io::Error) -> EngineError {
    EngineError::Storage(StorageError::Io {
        path: PathBuf::from(path),
        source,
    })
}
