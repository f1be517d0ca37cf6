//! Replay: rebuilding a database, or one collection, from the change log of an open database
//! into a new folder, up to a sequence number or time.
//!
//! The change log is the event log: replaying it from the first commit reproduces every state
//! the database passed through. Each source commit becomes one transaction of the new database
//! through the same code a point-in-time restore uses (`restore::apply_commit`), so a whole
//! database replays to the same sequence numbers and the same documents (with indexes, schemas
//! and invariants maintained by the writes, as the originals were). A collection replay keeps
//! only the commits that touched that collection (its id, so renames are followed), minus
//! index-build and reclaim steps; its sequence numbers are therefore its own.
//!
//! The whole log is needed from commit 1: once retention trimmed it, the answer is
//! [`EngineError::ChangeLogTrimmed`] (restore a backup instead, which starts from a snapshot).
//! Like a restore, the new database is built in a sibling folder and renamed into place only
//! when complete.

use std::path::Path;
use std::sync::Arc;

use cairn_storage::{KeySource, StorageMode};

use crate::backup::restore::{apply_commit, io, staging_dir, RestoreTarget};
use crate::changelog::{Change, ChangeOp};
use crate::database::{Config, Database};
use crate::error::{EngineError, Result};
use crate::extension::ExtensionKind;
use crate::limits::MAX_CHANGES_PER_READ;

/// What a replay did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    /// The source's last commit the replay applied (0: none).
    pub source_seq: u64,
    /// The new database's last commit.
    pub seq: u64,
    /// Commits applied.
    pub commits: u64,
}

/// Replays `src`'s change log into the new folder `to`, up to `target` (or the latest commit
/// at the start of the replay), optionally only the changes of `collection` (its present
/// name). `key` encrypts the new database (under a new data key); `kinds` must provide the
/// extension kinds the replayed collections use, as for [`super::restore`].
pub fn replay(
    src: &Database,
    to: &Path,
    target: RestoreTarget,
    collection: Option<&str>,
    key: Option<&KeySource>,
    kinds: &[Arc<dyn ExtensionKind>],
) -> Result<ReplayReport> {
    if to.exists() {
        return Err(EngineError::RestoreDestinationExists {
            path: to.to_path_buf(),
        });
    }
    let only = match collection {
        Some(name) => Some(src.begin()?.collection_meta(name)?.id),
        None => None,
    };
    let end = src.last_seq();
    let staging = staging_dir(to);
    if staging.exists() {
        // Left by a replay into the same destination that was killed: never a live database.
        std::fs::remove_dir_all(&staging).map_err(|source| io(&staging, source))?;
    }
    std::fs::create_dir_all(&staging).map_err(|source| io(&staging, source))?;
    let built = build(src, &staging, end, target, only, key, kinds);
    let report = match built {
        Ok(report) => report,
        Err(err) => {
            // Nothing half-built is left behind; a failure to remove it is secondary.
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
    Ok(report)
}

/// Builds the replayed database in `staging`; it is closed when this returns.
fn build(
    src: &Database,
    staging: &Path,
    end: u64,
    target: RestoreTarget,
    only: Option<u32>,
    key: Option<&KeySource>,
    kinds: &[Arc<dyn ExtensionKind>],
) -> Result<ReplayReport> {
    let mut config = Config::new(staging, StorageMode::Persistent);
    config.encryption = key.cloned();
    config.extension_kinds = kinds.to_vec();
    let db = Database::open(config)?;
    let mut commits = 0u64;
    let mut source_seq = 0u64;
    let mut after = 0u64;
    'log: while after < end {
        let batch = src.changes_after(after, MAX_CHANGES_PER_READ)?;
        let Some(last) = batch.last() else { break };
        after = last.seq;
        for commit in split_commits(batch) {
            let Some(first) = commit.first() else {
                continue;
            };
            let (seq, at) = (first.seq, first.at);
            if seq > end || past(target, seq, at) {
                break 'log;
            }
            let kept: Vec<Change> = match only {
                None => commit,
                Some(id) => commit.into_iter().filter(|c| wanted(c, id)).collect(),
            };
            if !kept.is_empty() {
                let mut applied = 0;
                apply_commit(&db, kept, target, &mut applied)?;
                commits += applied;
                source_seq = seq;
            }
            if matches!(target, RestoreTarget::Seq(t) if seq >= t) {
                break 'log;
            }
        }
    }
    let seq = db.last_seq();
    db.flush()?;
    Ok(ReplayReport {
        source_seq,
        seq,
        commits,
    })
}

/// Whether a commit lies past the target.
fn past(target: RestoreTarget, seq: u64, at: cairn_doc::DateTime) -> bool {
    match target {
        RestoreTarget::Latest => false,
        RestoreTarget::Seq(target) => seq > target,
        RestoreTarget::Time(target) => at > target,
    }
}

/// A collection replay keeps the collection's own changes, without the steps that only
/// exist to give a source commit its sequence number.
fn wanted(change: &Change, collection_id: u32) -> bool {
    change.collection_id == collection_id
        && !matches!(
            change.op,
            ChangeOp::ExtensionData { .. } | ChangeOp::ReclaimDropped
        )
}

/// Splits a page of the log (whole commits, in order) into its commits.
fn split_commits(batch: Vec<Change>) -> Vec<Vec<Change>> {
    let mut commits: Vec<Vec<Change>> = Vec::new();
    for change in batch {
        match commits.last_mut() {
            Some(commit) if commit.first().is_some_and(|c| c.seq == change.seq) => {
                commit.push(change);
            }
            _ => commits.push(vec![change]),
        }
    }
    commits
}
