//! Raft snapshots are Cairn backups: building one takes a full online backup of the database
//! (one storage snapshot, writers keep going) into `<data>/raft/snapshot/build`, packs its
//! files into one checksummed byte string, and openraft streams that to a lagging or new node
//! over the cluster link (`/raft/snapshot`, in chunks). Installing one is atomic and
//! crash-safe, in the way `cairn restore` is:
//!
//! 1. the received bytes are checked and unpacked into `snapshot/incoming`, restored (the
//!    engine's restore: staging folder renamed into place) into `snapshot/installed`, and the
//!    restored database is opened once to check that it holds exactly the snapshot's log
//!    position;
//! 2. the marker `snapshot/INSTALL` (phase `out`) is written durably, and the process
//!    re-executes itself ([`restart`]): the running server holds the database open in many
//!    places, and only a fresh start lets every one of them see the new one;
//! 3. at the next start, before the database is opened, [`finish_pending_install`] moves the
//!    old database's files aside (phase `out`), then the installed ones into place (phase
//!    `in`), and removes the marker. Each phase is repeated safely after a crash; until the
//!    marker is gone no database is opened.
//!
//! The Raft log and vote (`<data>/raft`) stay: openraft purges the log behind the installed
//! position when it starts (its "dirty state" clean-up), and the leader sends what follows.
//! Node-local system collections (users, tokens, idempotency records) come from the leader's
//! backup with everything else.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use cairn::backup::RestoreTarget;
use cairn::{Config, Database, DocId, StorageMode, Value};

use crate::error::ClusterError;
use crate::limits::MAX_SNAPSHOT_FILE_NAME_BYTES;
use crate::state_machine::{APPLIED_COLLECTION, APPLIED_ID};
use crate::types::LogId;

/// Folder under `<data>/raft` holding snapshot work.
pub const SNAPSHOT_DIR: &str = "snapshot";
/// Marker of an install in progress (its content is the phase: `out` or `in`).
pub const INSTALL_MARKER: &str = "INSTALL";
/// File counting the snapshots this node installed (it survives the restart an install needs).
pub const INSTALLS_FILE: &str = "installs";

/// First bytes of a packed snapshot (format version 1).
const MAGIC: &[u8; 10] = b"CAIRNSNAP1";

/// The snapshot folder of a node whose Raft files are in `raft_dir`.
pub fn dir(raft_dir: &Path) -> PathBuf {
    raft_dir.join(SNAPSHOT_DIR)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ClusterError + '_ {
    move |source| ClusterError::Log {
        path: path.to_path_buf(),
        source,
    }
}

fn corrupt(path: &Path, reason: impl Into<String>) -> ClusterError {
    ClusterError::Corrupt {
        path: path.to_path_buf(),
        offset: 0,
        reason: reason.into(),
    }
}

/// Removes `path` if it exists (a folder left by an interrupted build or install).
fn clear(path: &Path) -> Result<(), ClusterError> {
    match fs::remove_dir_all(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(io(path)(err)),
        _ => Ok(()),
    }
}

/// Takes a full backup of `db` and packs it (see the module documentation).
pub fn build(db: &Database, raft_dir: &Path) -> Result<Vec<u8>, ClusterError> {
    let work = dir(raft_dir).join("build");
    clear(&work)?;
    db.backup(&work, false, &mut |_, _| {})?;
    let packed = pack(&work);
    clear(&work)?;
    packed
}

/// The files of `folder` (no subfolders: a backup folder has none) as one byte string:
/// `MAGIC`, then per file `name length: u16 LE | name | length: u64 LE | bytes`, then the
/// xxh3-64 of everything before it.
fn pack(folder: &Path) -> Result<Vec<u8>, ClusterError> {
    let mut names = Vec::new();
    for entry in fs::read_dir(folder).map_err(io(folder))? {
        let entry = entry.map_err(io(folder))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    let mut out = MAGIC.to_vec();
    for name in names {
        let path = folder.join(&name);
        let bytes = fs::read(&path).map_err(io(&path))?;
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(&bytes);
    }
    let sum = xxhash_rust::xxh3::xxh3_64(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    Ok(out)
}

/// Checks and unpacks `packed` into the new folder `folder`, fsyncing every file.
fn unpack(packed: &[u8], folder: &Path) -> Result<(), ClusterError> {
    let bad = |reason: &str| corrupt(folder, format!("received snapshot: {reason}"));
    if packed.len() < MAGIC.len() + 8 || &packed[..MAGIC.len()] != MAGIC {
        return Err(bad("not a Cairn snapshot"));
    }
    let (body, sum) = packed.split_at(packed.len() - 8);
    let sum = u64::from_le_bytes(sum.try_into().map_err(|_| bad("no checksum"))?);
    if xxhash_rust::xxh3::xxh3_64(body) != sum {
        return Err(bad("checksum mismatch"));
    }
    fs::create_dir_all(folder).map_err(io(folder))?;
    let mut reader = Reader {
        body,
        at: MAGIC.len(),
    };
    while reader.at < body.len() {
        let len = reader.take(2).ok_or_else(|| bad("truncated"))?;
        let len = u16::from_le_bytes([len[0], len[1]]) as usize;
        if len == 0 || len > MAX_SNAPSHOT_FILE_NAME_BYTES {
            return Err(bad("bad file name length"));
        }
        let name = reader.take(len).ok_or_else(|| bad("truncated"))?;
        let name = std::str::from_utf8(name).map_err(|_| bad("file name not UTF-8"))?;
        // A plain file name only: the bytes come from another node.
        if name.contains(['/', '\\']) || name == "." || name == ".." {
            return Err(bad("file name with a path"));
        }
        let size = reader.take(8).ok_or_else(|| bad("truncated"))?;
        let size = u64::from_le_bytes(size.try_into().map_err(|_| bad("truncated"))?);
        let size = usize::try_from(size).map_err(|_| bad("file too large"))?;
        let bytes = reader.take(size).ok_or_else(|| bad("truncated"))?;
        let path = folder.join(name);
        let mut file = File::create(&path).map_err(io(&path))?;
        file.write_all(bytes).map_err(io(&path))?;
        file.sync_all().map_err(io(&path))?;
    }
    sync_dir(folder)
}

/// Reads a packed snapshot front to back.
struct Reader<'a> {
    body: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// The next `n` bytes, or `None` past the end.
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.body.len())?;
        let slice = &self.body[self.at..end];
        self.at = end;
        Some(slice)
    }
}

/// Step 1 of an install: unpacks and restores `packed` into `snapshot/installed`, checks that
/// it holds `expected` as its applied position, and writes the marker (phase `out`). The
/// caller then restarts the process ([`restart`]).
pub fn stage(packed: &[u8], raft_dir: &Path, expected: Option<LogId>) -> Result<(), ClusterError> {
    let snapshots = dir(raft_dir);
    let incoming = snapshots.join("incoming");
    let installed = snapshots.join("installed");
    clear(&incoming)?;
    clear(&installed)?;
    unpack(packed, &incoming)?;
    cairn::backup::restore(
        &incoming,
        &installed,
        RestoreTarget::Latest,
        None,
        &mut |_, _| {},
    )?;
    clear(&incoming)?;
    let held = applied_in(&installed)?;
    if held != expected {
        clear(&installed)?;
        return Err(corrupt(
            &installed,
            format!("the snapshot holds log position {held:?}, its metadata says {expected:?}"),
        ));
    }
    write_marker(&snapshots, "out")
}

/// The applied log position recorded in the database at `folder` (opened and closed here).
fn applied_in(folder: &Path) -> Result<Option<LogId>, ClusterError> {
    let db = cairn::open(Config::new(folder, StorageMode::Persistent))?;
    let doc = db.get(APPLIED_COLLECTION, &DocId::String(APPLIED_ID.into()));
    let doc = match doc {
        Ok(doc) => doc,
        Err(cairn::EngineError::UnknownCollection { .. }) => None,
        Err(err) => return Err(err.into()),
    };
    let log_id = doc.and_then(|doc| match doc.as_object().and_then(|o| o.get("log_id")) {
        Some(Value::String(text)) => serde_json::from_str(text).ok(),
        _ => None,
    });
    db.flush()?;
    Ok(log_id)
}

/// Writes the marker durably: temporary file, fsync, rename, fsync of the folder.
fn write_marker(snapshots: &Path, phase: &str) -> Result<(), ClusterError> {
    let tmp = snapshots.join(format!("{INSTALL_MARKER}.tmp"));
    let marker = snapshots.join(INSTALL_MARKER);
    let mut file = File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(phase.as_bytes()).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, &marker).map_err(io(&marker))?;
    sync_dir(snapshots)
}

fn sync_dir(folder: &Path) -> Result<(), ClusterError> {
    File::open(folder)
        .and_then(|d| d.sync_all())
        .map_err(io(folder))
}

/// Moves every entry of `from` except `keep` into `to` (created if needed).
fn move_entries(from: &Path, to: &Path, keep: Option<&str>) -> Result<(), ClusterError> {
    fs::create_dir_all(to).map_err(io(to))?;
    for entry in fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        let name = entry.file_name();
        if keep.is_some_and(|keep| name == keep) {
            continue;
        }
        let target = to.join(&name);
        fs::rename(entry.path(), &target).map_err(io(&target))?;
    }
    sync_dir(from)?;
    sync_dir(to)
}

/// Step 3 of an install, at start before the database at `data_dir` is opened: completes an
/// install staged before a restart (or a crash). Returns whether there was one.
pub fn finish_pending_install(data_dir: &Path) -> Result<bool, ClusterError> {
    let raft_dir = data_dir.join(crate::node::RAFT_DIR);
    let snapshots = dir(&raft_dir);
    let marker = snapshots.join(INSTALL_MARKER);
    let phase = match fs::read_to_string(&marker) {
        Ok(phase) => phase,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(err) => return Err(io(&marker)(err)),
    };
    let replaced = snapshots.join("replaced");
    let installed = snapshots.join("installed");
    if phase == "out" {
        move_entries(data_dir, &replaced, Some(crate::node::RAFT_DIR))?;
        write_marker(&snapshots, "in")?;
    } else if phase != "in" {
        return Err(corrupt(&marker, format!("unknown install phase {phase:?}")));
    }
    move_entries(&installed, data_dir, None)?;
    fs::remove_file(&marker).map_err(io(&marker))?;
    sync_dir(&snapshots)?;
    clear(&replaced)?;
    clear(&installed)?;
    let count_path = snapshots.join(INSTALLS_FILE);
    let count = installs(&raft_dir) + 1;
    fs::write(&count_path, count.to_string()).map_err(io(&count_path))?;
    tracing::info!(installs = count, "installed a snapshot from the leader");
    Ok(true)
}

/// How many snapshots this node has installed (0 when it never did).
pub fn installs(raft_dir: &Path) -> u64 {
    fs::read_to_string(dir(raft_dir).join(INSTALLS_FILE))
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(0)
}

/// Step 2 of an install: flushes `db` and replaces the process with a fresh run of the same
/// command line (same process id), which finishes the install before opening the database.
/// Returns only if that failed; the install then completes at the next start.
pub fn restart(db: &Database) -> ClusterError {
    if let Err(err) = db.flush() {
        return err.into();
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(source) => {
            return ClusterError::Log {
                path: PathBuf::from("/proc/self/exe"),
                source,
            }
        }
    };
    tracing::warn!("restarting to install a snapshot from the leader");
    let mut command = std::process::Command::new(&exe);
    command.args(std::env::args_os().skip(1));
    ClusterError::Log {
        path: exe,
        source: exec(&mut command),
    }
}

/// Replaces the process with `command`; returns only its failure.
#[cfg(unix)]
fn exec(command: &mut std::process::Command) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    command.exec()
}

/// Replacing the process is Unix only: elsewhere the operator restarts the node.
#[cfg(not(unix))]
fn exec(_: &mut std::process::Command) -> std::io::Error {
    std::io::Error::other("restart the node to finish installing the snapshot")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_folder_unpacks_to_the_same_files_and_damage_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let src = root.path().join("src");
        fs::create_dir_all(&src).unwrap();
        fs::write(src.join("a.cbk"), vec![7u8; 5000]).unwrap();
        fs::write(src.join("manifest.json"), b"{}").unwrap();
        let packed = pack(&src).unwrap();
        let out = root.path().join("out");
        unpack(&packed, &out).unwrap();
        assert_eq!(fs::read(out.join("a.cbk")).unwrap(), vec![7u8; 5000]);
        assert_eq!(fs::read(out.join("manifest.json")).unwrap(), b"{}");
        let mut damaged = packed.clone();
        damaged[20] ^= 1;
        assert!(matches!(
            unpack(&damaged, &root.path().join("d")),
            Err(ClusterError::Corrupt { .. })
        ));
        assert!(unpack(&packed[..packed.len() - 1], &root.path().join("t")).is_err());
    }

    #[test]
    fn a_staged_install_is_finished_at_start_even_after_a_crash_between_phases() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        let raft = data.join(crate::node::RAFT_DIR);
        fs::create_dir_all(&raft).unwrap();
        fs::write(raft.join("log"), b"kept").unwrap();
        {
            let db = cairn::open(Config::new(&data, StorageMode::Persistent)).unwrap();
            db.create_collection("old").unwrap();
            db.flush().unwrap();
        }
        // The leader's database: one collection and its applied position.
        let leader_dir = root.path().join("leader");
        let leader = cairn::open(Config::new(&leader_dir, StorageMode::Persistent)).unwrap();
        leader.create_collection("new").unwrap();
        let log_id: LogId =
            serde_json::from_str(r#"{"leader_id": {"term": 2, "node_id": 1}, "index": 40}"#)
                .unwrap();
        leader.create_collection(APPLIED_COLLECTION).unwrap();
        leader
            .transaction(|txn| {
                let mut doc = cairn::Object::new();
                doc.insert("_id", Value::String(APPLIED_ID.into()));
                doc.insert(
                    "log_id",
                    Value::String(serde_json::to_string(&log_id).unwrap()),
                );
                txn.upsert(APPLIED_COLLECTION, Value::Object(doc))?;
                Ok(())
            })
            .unwrap();
        let packed = build(&leader, &root.path().join("leader-raft")).unwrap();
        // Metadata that disagrees with the data is refused before anything is replaced.
        let mut other = log_id;
        other.index = 41;
        assert!(stage(&packed, &raft, Some(other)).is_err());
        assert!(!finish_pending_install(&data).unwrap());
        stage(&packed, &raft, Some(log_id)).unwrap();
        // A crash after the old files moved out and before the new ones moved in.
        let snapshots = dir(&raft);
        move_entries(
            &data,
            &snapshots.join("replaced"),
            Some(crate::node::RAFT_DIR),
        )
        .unwrap();
        write_marker(&snapshots, "in").unwrap();
        assert!(finish_pending_install(&data).unwrap());
        assert!(!finish_pending_install(&data).unwrap());
        let db = cairn::open(Config::new(&data, StorageMode::Persistent)).unwrap();
        let names: Vec<String> = db
            .list_collections()
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert!(names.contains(&"new".to_string()), "{names:?}");
        assert!(!names.contains(&"old".to_string()), "{names:?}");
        assert_eq!(fs::read(raft.join("log")).unwrap(), b"kept");
        assert_eq!(installs(&raft), 1);
    }
}
