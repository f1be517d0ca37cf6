//! Verifying a backup chain, and restoring it — whole, or to a point in time.
//!
//! A restore builds the database in a temporary sibling folder and renames it into place only
//! when complete, so a failed or interrupted restore never leaves a half-restored database
//! where one is expected. The full piece is loaded table by table; incremental pieces are then
//! replayed commit by commit (each source commit becomes one transaction, so the restored
//! database passes through exactly the states the source did, with the same sequence
//! numbers), stopping at the requested sequence number or time.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_doc::DateTime;
use cairn_storage::{Cipher, KeySource, StorageError, StorageMode, Store, KEYRING_FILE_NAME};

use crate::backup::keys::BackupKeys;
use crate::backup::manifest::{Manifest, PieceInfo};
use crate::backup::piece::{corrupt, sha256_file, Entry, PieceKind, PieceReader};
use crate::backup::take::Progress;
use crate::catalog::{CollectionOptions, ExtensionSpec};
use crate::changelog::{decode, Change, ChangeOp};
use crate::compression::Codecs;
use crate::database::{Config, Database};
use crate::error::{EngineError, Result};
use crate::extension::ExtensionKind;
use crate::txn::Transaction;

/// How far a restore goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreTarget {
    /// Everything in the chain.
    Latest,
    /// Up to and including this commit.
    Seq(u64),
    /// Up to and including the last commit at or before this time.
    Time(DateTime),
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    /// The last commit the restored database holds.
    pub seq: u64,
    /// Backup files used.
    pub pieces: usize,
    /// Commits replayed from incremental pieces.
    pub replayed_commits: u64,
}

/// Checks a backup folder without restoring it: the chain is complete, every piece has its
/// recorded size and SHA-256, and every frame authenticates, decompresses and parses.
/// `key` is needed for an encrypted backup. Returns the manifest.
pub fn verify_backup(dir: &Path, key: Option<&KeySource>) -> Result<Manifest> {
    let manifest = read_chain(dir)?;
    let mut keys = BackupKeys::new(dir, &manifest, key)?;
    for piece in &manifest.pieces {
        let path = check_piece_file(dir, piece)?;
        let mut reader = PieceReader::open(&path, keys.for_piece(piece)?)?;
        if reader.kind != piece.kind {
            return Err(corrupt(&path, "kind differs from the manifest"));
        }
        let mut entries = 0u64;
        while let Some(chunk) = reader.next_chunk()? {
            reader.entries(&chunk, |entry| {
                entries += 1;
                if let Entry::Change(seq, index, record) = entry {
                    if seq <= piece.from_seq || seq > piece.to_seq {
                        return Err(corrupt(&path, "change outside the piece's range"));
                    }
                    decode(
                        &Codecs::new(Default::default(), Default::default()),
                        seq,
                        index,
                        record,
                    )?;
                }
                Ok(())
            })?;
        }
        if entries != piece.entries {
            return Err(corrupt(&path, "entry count differs from the manifest"));
        }
    }
    Ok(manifest)
}

/// Restores the backup in `src` into the new folder `to`, up to `target`. `key` opens an
/// encrypted backup, and the restored database is encrypted under the same keyring.
///
/// Replaying incremental pieces writes documents through the collections' extensions
/// (indexes, schemas, invariants), so `kinds` must provide every extension kind the backed-up
/// collections use — the same kinds the database is opened with (`cairn::backup::restore`
/// passes the built-in ones).
pub fn restore(
    src: &Path,
    to: &Path,
    target: RestoreTarget,
    key: Option<&KeySource>,
    kinds: &[Arc<dyn ExtensionKind>],
    progress: Progress<'_>,
) -> Result<RestoreReport> {
    let manifest = read_chain(src)?;
    let mut keys = BackupKeys::new(src, &manifest, key)?;
    let start = choose_full(&manifest, target)?;
    if to.exists() {
        return Err(EngineError::RestoreDestinationExists {
            path: to.to_path_buf(),
        });
    }
    let staging = staging_dir(to);
    if staging.exists() {
        // Left by a restore into the same destination that was killed: never a live database.
        std::fs::remove_dir_all(&staging).map_err(|source| io(&staging, source))?;
    }
    std::fs::create_dir_all(&staging).map_err(|source| io(&staging, source))?;
    let pieces = &manifest.pieces[start..];
    let plan = Plan {
        src,
        pieces,
        encrypted: manifest.encrypted,
        target,
        key,
        kinds,
    };
    let built = plan.build(&staging, &mut keys, progress);
    let (seq, replayed) = match built {
        Ok(built) => built,
        Err(err) => {
            // A failed restore leaves nothing behind; the error says why it failed, so a
            // failure to remove the half-built folder is secondary (the next attempt
            // removes it).
            let _ = std::fs::remove_dir_all(&staging);
            return Err(err);
        }
    };
    std::fs::rename(&staging, to).map_err(|source| io(to, source))?;
    if let Some(parent) = to.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(|source| io(parent, source))?;
    }
    Ok(RestoreReport {
        seq,
        pieces: pieces.len(),
        replayed_commits: replayed,
    })
}

/// What a restore replays: the pieces from a full backup on, up to a target.
struct Plan<'a> {
    src: &'a Path,
    /// A full piece, then the incremental ones after it.
    pieces: &'a [PieceInfo],
    /// Whether the chain is encrypted (the restored database gets its keyring).
    encrypted: bool,
    target: RestoreTarget,
    key: Option<&'a KeySource>,
    kinds: &'a [Arc<dyn ExtensionKind>],
}

impl Plan<'_> {
    /// Builds the restored database in `staging`; returns its last sequence number and the
    /// commits replayed. The database is closed when this returns.
    fn build(
        &self,
        staging: &Path,
        keys: &mut BackupKeys,
        progress: Progress<'_>,
    ) -> Result<(u64, u64)> {
        let Plan {
            src,
            pieces,
            encrypted,
            target,
            key,
            kinds,
        } = *self;
        let full = &pieces[0];
        if encrypted {
            // The restored database gets the keyring of the chain's data key.
            let from = keys.keyring_file(full.key_id)?;
            let dest = staging.join(KEYRING_FILE_NAME);
            std::fs::copy(&from, &dest).map_err(|source| io(&from, source))?;
        }
        load_full(src, staging, full, keys.for_piece(full)?, key, progress)?;
        let mut config = Config::new(staging, StorageMode::Persistent);
        config.encryption = key.cloned();
        config.extension_kinds = kinds.to_vec();
        let db = Database::open(config)?;
        let mut replayed = 0;
        for piece in pieces[1..]
            .iter()
            .take_while(|p| p.kind == PieceKind::Incremental)
        {
            let cipher = keys.for_piece(piece)?;
            if !replay_piece(&db, src, piece, cipher, target, &mut replayed)? {
                break;
            }
        }
        Ok((db.last_seq(), replayed))
    }
}

pub(crate) fn staging_dir(to: &Path) -> PathBuf {
    let mut name = to.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".restoring");
    to.with_file_name(name)
}

/// Reads the manifest and checks that its pieces form chains: each starts with a full piece,
/// and each incremental piece continues exactly where the previous piece ended.
fn read_chain(dir: &Path) -> Result<Manifest> {
    let manifest = Manifest::read(dir)?.ok_or_else(|| EngineError::NoBackup {
        dir: dir.to_path_buf(),
        detail: "the folder has no manifest.json",
    })?;
    let broken = |detail: String| EngineError::BackupChain {
        dir: dir.to_path_buf(),
        detail,
    };
    let mut previous: Option<&PieceInfo> = None;
    for piece in &manifest.pieces {
        match (piece.kind, previous) {
            (PieceKind::Full, _) => {}
            (PieceKind::Incremental, None) => {
                return Err(broken(format!(
                    "{} has no full backup before it",
                    piece.file
                )))
            }
            (PieceKind::Incremental, Some(prev)) if piece.from_seq != prev.to_seq => {
                return Err(broken(format!(
                    "{} starts after commit {} but {} ends at {}",
                    piece.file, piece.from_seq, prev.file, prev.to_seq
                )))
            }
            _ => {}
        }
        previous = Some(piece);
    }
    if manifest.pieces.is_empty() {
        return Err(EngineError::NoBackup {
            dir: dir.to_path_buf(),
            detail: "the manifest lists no pieces",
        });
    }
    Ok(manifest)
}

/// Index of the full piece to start from: the newest one not newer than the target.
fn choose_full(manifest: &Manifest, target: RestoreTarget) -> Result<usize> {
    let fits = |p: &PieceInfo| match target {
        RestoreTarget::Latest => true,
        RestoreTarget::Seq(seq) => p.to_seq <= seq,
        RestoreTarget::Time(at) => p.to_time <= at,
    };
    let found = manifest
        .pieces
        .iter()
        .enumerate()
        .rev()
        .find(|(_, p)| p.kind == PieceKind::Full && fits(p));
    match found {
        Some((index, _)) => Ok(index),
        None => {
            let oldest = manifest.pieces.iter().find(|p| p.kind == PieceKind::Full);
            Err(EngineError::RestoreTargetTooOld {
                target: match target {
                    RestoreTarget::Time(at) => at.to_string(),
                    RestoreTarget::Seq(seq) => format!("commit {seq}"),
                    RestoreTarget::Latest => "the latest commit".to_string(),
                },
                oldest: oldest.map_or("nowhere".to_string(), |p| {
                    format!("commit {} ({})", p.to_seq, p.to_time)
                }),
            })
        }
    }
}

/// Checks a piece's size and SHA-256 against the manifest; returns its path.
fn check_piece_file(dir: &Path, piece: &PieceInfo) -> Result<PathBuf> {
    let path = dir.join(&piece.file);
    let sha = sha256_file(&path)?;
    let bytes = std::fs::metadata(&path)
        .map_err(|source| io(&path, source))?
        .len();
    if bytes != piece.bytes || sha != piece.sha256 {
        return Err(corrupt(&path, "size or SHA-256 differs from the manifest"));
    }
    Ok(path)
}

/// Writes every table of a full piece into a new store, one storage commit per chunk.
fn load_full(
    src: &Path,
    staging: &Path,
    piece: &PieceInfo,
    cipher: Option<Cipher>,
    key: Option<&KeySource>,
    progress: Progress<'_>,
) -> Result<()> {
    let path = check_piece_file(src, piece)?;
    let mut reader = PieceReader::open(&path, cipher)?;
    let mut store_config = cairn_storage::StoreConfig::new(staging, StorageMode::Persistent);
    store_config.encryption = key.cloned();
    let store = Store::open(&store_config)?;
    let mut table: Option<String> = None;
    let mut done = 0u64;
    while let Some(chunk) = reader.next_chunk()? {
        let txn = store.begin_write()?;
        let mut writer = match &table {
            Some(name) => Some(txn.table(name)?),
            None => None,
        };
        reader.entries(&chunk, |entry| {
            match entry {
                Entry::Table(name) => {
                    drop(writer.take());
                    writer = Some(txn.table(name)?);
                    table = Some(name.to_string());
                }
                Entry::Kv(key, value) => {
                    let writer = writer
                        .as_mut()
                        .ok_or_else(|| corrupt(&path, "entry before any table"))?;
                    writer.put(key, value)?;
                    done += 1;
                }
                Entry::Change(..) => return Err(corrupt(&path, "change record in a full piece")),
            }
            Ok(())
        })?;
        drop(writer);
        txn.commit()?;
        progress(done, piece.entries);
    }
    store.flush()?;
    Ok(())
}

/// Replays one incremental piece up to the target; returns false once the target is reached.
fn replay_piece(
    db: &Database,
    src: &Path,
    piece: &PieceInfo,
    cipher: Option<Cipher>,
    target: RestoreTarget,
    replayed: &mut u64,
) -> Result<bool> {
    let path = check_piece_file(src, piece)?;
    let mut reader = PieceReader::open(&path, cipher)?;
    let codecs = Codecs::new(Default::default(), Default::default());
    let mut commit: Vec<Change> = Vec::new();
    let mut reached = false;
    while let Some(chunk) = reader.next_chunk()? {
        reader.entries(&chunk, |entry| {
            let Entry::Change(seq, index, record) = entry else {
                return Err(corrupt(&path, "table entry in an incremental piece"));
            };
            let change = decode(&codecs, seq, index, record)?;
            if commit.first().is_some_and(|c| c.seq != seq) && !reached {
                reached = apply_commit(db, std::mem::take(&mut commit), target, replayed)?;
            }
            commit.push(change);
            Ok(())
        })?;
        if reached {
            return Ok(false);
        }
    }
    if !commit.is_empty() && apply_commit(db, commit, target, replayed)? {
        return Ok(false);
    }
    Ok(true)
}

/// Applies one source commit as one transaction unless it lies past the target; returns
/// whether the target has been reached.
pub(crate) fn apply_commit(
    db: &Database,
    changes: Vec<Change>,
    target: RestoreTarget,
    replayed: &mut u64,
) -> Result<bool> {
    let Some(first) = changes.first() else {
        return Ok(false);
    };
    let (seq, at) = (first.seq, first.at);
    let past = match target {
        RestoreTarget::Latest => false,
        RestoreTarget::Seq(target) => seq > target,
        RestoreTarget::Time(target) => at > target,
    };
    if past {
        return Ok(true);
    }
    let mut txn = db.begin()?;
    for change in changes {
        replay_change(&mut txn, change)?;
    }
    txn.commit()?;
    *replayed += 1;
    Ok(matches!(target, RestoreTarget::Seq(target) if seq >= target))
}

fn replay_change(txn: &mut Transaction, change: Change) -> Result<()> {
    let missing = |what: &str| EngineError::Unreplayable {
        seq: change.seq,
        detail: format!("{} record without {what}", change.op.name()),
    };
    let coll = change.collection.as_str();
    match (&change.op, change.id.as_ref()) {
        (ChangeOp::Insert, _) => {
            txn.insert(
                coll,
                change.new.clone().ok_or_else(|| missing("a document"))?,
            )?;
        }
        (ChangeOp::Update, Some(id)) => {
            txn.replace(
                coll,
                id,
                change.new.clone().ok_or_else(|| missing("a document"))?,
            )?;
        }
        (ChangeOp::Delete, Some(id)) => {
            txn.delete(coll, id)?;
        }
        (ChangeOp::CreateCollection, _) => {
            // Explicit options: a record without any meant routing on, whatever the name.
            let options = CollectionOptions::from_logged(change.new.as_ref());
            txn.create_collection_with(coll, &options)?;
        }
        (ChangeOp::DropCollection, _) => txn.drop_collection(coll)?,
        (ChangeOp::RenameCollection { to }, _) => txn.rename_collection(coll, to)?,
        (ChangeOp::DetachExtension { name }, _) => txn.detach_extension(coll, name)?,
        (ChangeOp::AttachExtension { name }, _) => {
            // Logs written before attach records carried the extension's kind and
            // configuration cannot be replayed past an attach.
            let spec = change.new.as_ref().and_then(ExtensionSpec::from_value).ok_or_else(|| {
                EngineError::Unreplayable {
                    seq: change.seq,
                    detail: format!(
                        "extension `{name}` was attached to `{coll}` by a version of Cairn whose change log did not record its configuration; take a full backup after that point"
                    ),
                }
            })?;
            let attached = txn
                .collection_meta(coll)?
                .extensions
                .iter()
                .any(|ext| ext.name == *name);
            if attached {
                // A new configuration (say, a schema version) of an attached extension.
                txn.set_extension_config(coll, name, spec.config)?;
            } else {
                // Built from the documents replayed so far; the replayed writes that follow
                // maintain it, as they did the original (whose online-build steps, logged as
                // `ExtensionData`, are therefore skipped).
                txn.attach_extension(coll, &spec.kind, name, spec.config)?;
            }
        }
        // Index build steps: nothing to write (the replayed document writes maintain the
        // extensions), but the source committed here, and the restored database must pass
        // through the same sequence numbers: log the same record so this commit happens too.
        // Reclamation after a drop: the replayed drop reclaims on its own schedule; keep the
        // commit (and its sequence number), as for index build steps below.
        (ChangeOp::ReclaimDropped, _) => {
            if txn.changes.is_empty() {
                txn.log_reclaim(change.collection_id, coll);
            }
        }
        // Primary extension data (time-series chunks): the exact bytes the source stored.
        // The replayed transaction logs them again (the extension declares the same tables
        // primary), so the restored change log matches the source's.
        (
            ChangeOp::ExtensionWrite {
                name,
                table,
                key,
                value,
            },
            _,
        ) => match value {
            Some(value) => txn.extension_put(coll, name, table, key, value)?,
            None => txn.extension_delete(coll, name, table, key)?,
        },
        (ChangeOp::ExtensionData { .. }, _) => {
            if txn.changes.is_empty() {
                let meta = txn.collection_meta(coll)?;
                txn.log_ddl(&change.op, &meta);
            }
        }
        (_, None) => return Err(missing("a document id")),
    }
    Ok(())
}

pub(crate) fn io(path: &Path, source: std::io::Error) -> EngineError {
    EngineError::Storage(StorageError::Io {
        path: path.to_path_buf(),
        source,
    })
}
