//! The backup manifest: which pieces a backup folder holds, what sequence range each covers,
//! and their SHA-256 checksums. Plain JSON holding no user data (sequence numbers, commit
//! times, sizes, checksums), rewritten atomically (temporary file, fsync, rename) after each
//! new piece, so a crash mid-backup leaves the previous, valid chain.

use std::path::{Path, PathBuf};

use cairn_doc::{DateTime, Object, Value};

use crate::backup::piece::PieceKind;
use crate::error::{EngineError, Result};

/// Name of the manifest inside a backup folder.
pub const MANIFEST_FILE_NAME: &str = "manifest.json";
const FORMAT_VERSION: i64 = 1;

/// One backup file, as recorded in the manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct PieceInfo {
    /// Full or incremental.
    pub kind: PieceKind,
    /// File name inside the backup folder.
    pub file: String,
    /// The piece holds the commits after this sequence number (0 for a full piece)...
    pub from_seq: u64,
    /// ...up to and including this one.
    pub to_seq: u64,
    /// Commit time of `to_seq` (for restores to a point in time).
    pub to_time: DateTime,
    /// Size of the file.
    pub bytes: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Entries (table entries or change records) in the piece.
    pub entries: u64,
    /// When the piece was written.
    pub created_at: DateTime,
    /// The id of the database's data key the piece is sealed with (0 when not encrypted, and
    /// for pieces written before keys had ids). A chain (a full piece and the incrementals
    /// after it) uses one key; the folder keeps the keyring of every key its pieces use.
    pub key_id: u32,
}

/// The manifest of a backup folder.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Manifest {
    /// Whether the pieces are encrypted (the folder then holds the database's keyring).
    pub encrypted: bool,
    /// Pieces in the order they were taken.
    pub pieces: Vec<PieceInfo>,
}

impl Manifest {
    /// Reads the manifest of `dir`; `None` when the folder has none (no backup yet).
    pub fn read(dir: &Path) -> Result<Option<Manifest>> {
        let path = dir.join(MANIFEST_FILE_NAME);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(io(&path, source)),
        };
        let bad = |detail: &str| EngineError::BackupCorrupt {
            path: path.clone(),
            detail: format!("manifest: {detail}"),
        };
        let value = Value::from_json_str(&text).map_err(|err| bad(&err.to_string()))?;
        let obj = value.as_object().ok_or_else(|| bad("not an object"))?;
        if obj.get("format") != Some(&Value::Int(FORMAT_VERSION)) {
            return Err(bad("unsupported format version"));
        }
        let encrypted = matches!(obj.get("encrypted"), Some(Value::Bool(true)));
        let Some(Value::Array(items)) = obj.get("pieces") else {
            return Err(bad("no piece list"));
        };
        let pieces = items
            .iter()
            .map(|item| piece_from(item).ok_or_else(|| bad("malformed piece entry")))
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(Manifest { encrypted, pieces }))
    }

    /// Writes the manifest into `dir` atomically.
    pub(crate) fn write(&self, dir: &Path) -> Result<()> {
        let mut obj = Object::new();
        obj.insert("format".to_string(), Value::Int(FORMAT_VERSION));
        obj.insert("encrypted".to_string(), Value::Bool(self.encrypted));
        let pieces = self.pieces.iter().map(piece_to).collect();
        obj.insert("pieces".to_string(), Value::Array(pieces));
        let text = Value::Object(obj).to_json_string();
        let path = dir.join(MANIFEST_FILE_NAME);
        let tmp = dir.join(format!("{MANIFEST_FILE_NAME}.tmp"));
        std::fs::write(&tmp, text.as_bytes()).map_err(|source| io(&tmp, source))?;
        std::fs::File::open(&tmp)
            .and_then(|file| file.sync_all())
            .map_err(|source| io(&tmp, source))?;
        std::fs::rename(&tmp, &path).map_err(|source| io(&path, source))?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|source| io(dir, source))
    }

    /// The last sequence number the chain covers.
    pub fn last_seq(&self) -> Option<u64> {
        self.pieces.last().map(|p| p.to_seq)
    }
}

fn piece_to(p: &PieceInfo) -> Value {
    let mut obj = Object::new();
    obj.insert("kind".to_string(), Value::String(p.kind.name().to_string()));
    obj.insert("file".to_string(), Value::String(p.file.clone()));
    // Sequence numbers and sizes stay far below i64::MAX in practice; they are stored as
    // JSON integers for readability.
    obj.insert("from_seq".to_string(), Value::Int(p.from_seq as i64));
    obj.insert("to_seq".to_string(), Value::Int(p.to_seq as i64));
    obj.insert("to_time".to_string(), Value::DateTime(p.to_time));
    obj.insert("bytes".to_string(), Value::Int(p.bytes as i64));
    obj.insert("sha256".to_string(), Value::String(p.sha256.clone()));
    obj.insert("entries".to_string(), Value::Int(p.entries as i64));
    obj.insert("created_at".to_string(), Value::DateTime(p.created_at));
    obj.insert("key_id".to_string(), Value::Int(i64::from(p.key_id)));
    Value::Object(obj)
}

fn piece_from(item: &Value) -> Option<PieceInfo> {
    let obj = item.as_object()?;
    let text = |key: &str| match obj.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let int = |key: &str| match obj.get(key) {
        Some(Value::Int(n)) => u64::try_from(*n).ok(),
        _ => None,
    };
    let time = |key: &str| match obj.get(key) {
        Some(Value::DateTime(at)) => Some(*at),
        _ => None,
    };
    let file = text("file")?;
    // A file name from the manifest must stay inside the backup folder.
    if file.contains('/') || file.contains('\\') || file.starts_with('.') {
        return None;
    }
    Some(PieceInfo {
        kind: PieceKind::from_name(&text("kind")?)?,
        file,
        from_seq: int("from_seq")?,
        to_seq: int("to_seq")?,
        to_time: time("to_time")?,
        bytes: int("bytes")?,
        sha256: text("sha256")?,
        entries: int("entries")?,
        created_at: time("created_at")?,
        // Absent in manifests written before data keys had ids: key 0.
        key_id: match obj.get("key_id") {
            None => 0,
            Some(Value::Int(n)) => u32::try_from(*n).ok()?,
            Some(_) => return None,
        },
    })
}

fn io(path: &Path, source: std::io::Error) -> EngineError {
    EngineError::Storage(cairn_storage::StorageError::Io {
        path: PathBuf::from(path),
        source,
    })
}
