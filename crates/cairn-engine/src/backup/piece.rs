//! One backup file ("piece"): a stream of entries cut into chunks, each chunk compressed with
//! zstd and, for an encrypted database, sealed with the database's data key.
//!
//! ```text
//! header  "CAIRNBK1" ‖ kind u8 (1 full, 2 incremental) ‖ encrypted u8 ‖ piece number u32 LE
//! frame*  length u32 LE ‖ data          data = zstd(chunk), sealed when encrypted
//! aad     "cairn-backup" ‖ piece number u32 LE ‖ frame number u64 LE ‖ last u8
//! ```
//! The last frame holds an empty chunk and is marked `last`, so a truncated file is an error
//! even without the manifest's checksum; the frame number in the authenticated data stops
//! frames being reordered, and the piece number stops them moving between files.
//!
//! Entries (never split across chunks):
//! ```text
//! 0x01 table start   name len u16 LE ‖ name
//! 0x02 table entry   key len u32 LE ‖ key ‖ value len u32 LE ‖ value
//! 0x03 change        seq u64 LE ‖ index u32 LE ‖ record len u32 LE ‖ record (plain payloads)
//! ```

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use cairn_storage::{Cipher, StorageError};
use sha2::{Digest, Sha256};

use crate::error::{EngineError, Result};
use crate::limits::MAX_FRAME_BYTES;

/// Plaintext bytes per chunk: 4 MiB. Big enough for zstd to find long-range repetition, small
/// enough that a reader holds little in memory and a damaged chunk loses little.
pub const CHUNK_BYTES: usize = 4 * 1024 * 1024;
/// zstd level for backups: 3, fast enough not to slow an online backup down.
const BACKUP_ZSTD_LEVEL: i32 = 3;

const MAGIC: &[u8; 8] = b"CAIRNBK1";
const HEADER_BYTES: usize = 14;
pub(crate) const ENTRY_TABLE: u8 = 1;
pub(crate) const ENTRY_KV: u8 = 2;
pub(crate) const ENTRY_CHANGE: u8 = 3;

/// What a piece holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceKind {
    /// Every table of one snapshot.
    Full,
    /// Change-log records since the previous piece.
    Incremental,
}

impl PieceKind {
    fn code(self) -> u8 {
        match self {
            PieceKind::Full => 1,
            PieceKind::Incremental => 2,
        }
    }

    /// The name used in the manifest.
    pub fn name(self) -> &'static str {
        match self {
            PieceKind::Full => "full",
            PieceKind::Incremental => "incremental",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<PieceKind> {
        match name {
            "full" => Some(PieceKind::Full),
            "incremental" => Some(PieceKind::Incremental),
            _ => None,
        }
    }
}

fn aad(piece: u32, frame: u64, last: bool) -> Vec<u8> {
    let mut aad = b"cairn-backup".to_vec();
    aad.extend_from_slice(&piece.to_le_bytes());
    aad.extend_from_slice(&frame.to_le_bytes());
    aad.push(u8::from(last));
    aad
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> EngineError + '_ {
    move |source| {
        EngineError::Storage(StorageError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Writes a piece, hashing what it writes.
pub(crate) struct PieceWriter {
    path: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    hasher: Sha256,
    bytes: u64,
    cipher: Option<Cipher>,
    piece: u32,
    frame: u64,
    chunk: Vec<u8>,
    /// Entries written.
    pub(crate) entries: u64,
}

impl PieceWriter {
    pub(crate) fn create(
        path: &Path,
        kind: PieceKind,
        piece: u32,
        cipher: Option<Cipher>,
    ) -> Result<Self> {
        let file = std::fs::File::create_new(path).map_err(io_error(path))?;
        let mut writer = PieceWriter {
            path: path.to_path_buf(),
            file: std::io::BufWriter::new(file),
            hasher: Sha256::new(),
            bytes: 0,
            piece,
            cipher,
            frame: 0,
            chunk: Vec::with_capacity(CHUNK_BYTES),
            entries: 0,
        };
        let mut header = Vec::with_capacity(HEADER_BYTES);
        header.extend_from_slice(MAGIC);
        header.push(kind.code());
        header.push(u8::from(writer.cipher.is_some()));
        header.extend_from_slice(&piece.to_le_bytes());
        writer.raw(&header)?;
        Ok(writer)
    }

    fn raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.file.write_all(bytes).map_err(io_error(&self.path))?;
        self.hasher.update(bytes);
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    pub(crate) fn table(&mut self, name: &str) -> Result<()> {
        self.chunk.push(ENTRY_TABLE);
        // Table names are short (collection names are at most 128 bytes).
        self.chunk
            .extend_from_slice(&(name.len() as u16).to_le_bytes());
        self.chunk.extend_from_slice(name.as_bytes());
        self.entry_done()
    }

    pub(crate) fn kv(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.chunk.push(ENTRY_KV);
        self.chunk
            .extend_from_slice(&(key.len() as u32).to_le_bytes());
        self.chunk.extend_from_slice(key);
        self.chunk
            .extend_from_slice(&(value.len() as u32).to_le_bytes());
        self.chunk.extend_from_slice(value);
        self.entry_done()
    }

    pub(crate) fn change(&mut self, seq: u64, index: u32, record: &[u8]) -> Result<()> {
        self.chunk.push(ENTRY_CHANGE);
        self.chunk.extend_from_slice(&seq.to_le_bytes());
        self.chunk.extend_from_slice(&index.to_le_bytes());
        self.chunk
            .extend_from_slice(&(record.len() as u32).to_le_bytes());
        self.chunk.extend_from_slice(record);
        self.entry_done()
    }

    fn entry_done(&mut self) -> Result<()> {
        self.entries += 1;
        if self.chunk.len() >= CHUNK_BYTES {
            self.flush_chunk(false)?;
        }
        Ok(())
    }

    fn flush_chunk(&mut self, last: bool) -> Result<()> {
        let compressed =
            zstd::bulk::compress(&self.chunk, BACKUP_ZSTD_LEVEL).map_err(io_error(&self.path))?;
        let data = match &self.cipher {
            Some(cipher) => cipher.seal(&aad(self.piece, self.frame, last), &compressed)?,
            None => compressed,
        };
        self.raw(&(data.len() as u32).to_le_bytes())?;
        self.raw(&data)?;
        self.frame += 1;
        self.chunk.clear();
        Ok(())
    }

    /// Writes the remaining entries and the last frame, syncs, and returns (bytes, SHA-256).
    pub(crate) fn finish(mut self) -> Result<(u64, String)> {
        if !self.chunk.is_empty() {
            self.flush_chunk(false)?;
        }
        self.flush_chunk(true)?;
        let file = self
            .file
            .into_inner()
            .map_err(|err| io_error(&self.path)(err.into_error()))?;
        file.sync_all().map_err(io_error(&self.path))?;
        Ok((self.bytes, hex(&self.hasher.finalize())))
    }
}

/// One decoded entry.
pub(crate) enum Entry<'a> {
    Table(&'a str),
    Kv(&'a [u8], &'a [u8]),
    Change(u64, u32, &'a [u8]),
}

/// Reads a piece back, chunk by chunk, checking every frame.
pub(crate) struct PieceReader {
    path: PathBuf,
    file: std::io::BufReader<std::fs::File>,
    cipher: Option<Cipher>,
    piece: u32,
    frame: u64,
    done: bool,
    pub(crate) kind: PieceKind,
}

impl PieceReader {
    pub(crate) fn open(path: &Path, cipher: Option<Cipher>) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|source| missing_or_io(path, source))?;
        let mut file = std::io::BufReader::new(file);
        let mut header = [0u8; HEADER_BYTES];
        file.read_exact(&mut header)
            .map_err(|_| corrupt(path, "shorter than its header"))?;
        if &header[..8] != MAGIC {
            return Err(corrupt(path, "not a Cairn backup piece"));
        }
        let kind = match header[8] {
            1 => PieceKind::Full,
            2 => PieceKind::Incremental,
            _ => return Err(corrupt(path, "unknown piece kind")),
        };
        let encrypted = header[9] == 1;
        if encrypted != cipher.is_some() {
            return Err(EngineError::BackupKey {
                path: path.to_path_buf(),
                encrypted,
            });
        }
        let piece = u32::from_le_bytes([header[10], header[11], header[12], header[13]]);
        Ok(PieceReader {
            path: path.to_path_buf(),
            file,
            cipher,
            piece,
            frame: 0,
            done: false,
            kind,
        })
    }

    /// The next chunk's plaintext; `None` after the last frame.
    pub(crate) fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        if self.done {
            return Ok(None);
        }
        let mut len = [0u8; 4];
        self.file
            .read_exact(&mut len)
            .map_err(|_| corrupt(&self.path, "truncated: the last frame is missing"))?;
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_FRAME_BYTES {
            return Err(corrupt(&self.path, "frame length out of range"));
        }
        let mut data = vec![0u8; len];
        self.file
            .read_exact(&mut data)
            .map_err(|_| corrupt(&self.path, "truncated frame"))?;
        let compressed = match &self.cipher {
            Some(cipher) => {
                let plain = cipher.open(&aad(self.piece, self.frame, false), &data);
                match plain {
                    Some(plain) => plain,
                    None => {
                        let last = cipher.open(&aad(self.piece, self.frame, true), &data);
                        self.done = true;
                        last.ok_or_else(|| {
                            corrupt(
                                &self.path,
                                &format!("frame {} failed authentication", self.frame),
                            )
                        })?
                    }
                }
            }
            None => data,
        };
        self.frame += 1;
        let chunk = zstd::bulk::decompress(&compressed, MAX_FRAME_BYTES)
            .map_err(|err| corrupt(&self.path, &format!("chunk does not decompress: {err}")))?;
        if self.cipher.is_none() && chunk.is_empty() {
            // Unencrypted pieces mark the end with the only empty chunk the writer emits.
            self.done = true;
        }
        if self.done {
            if !chunk.is_empty() {
                return Err(corrupt(&self.path, "last frame is not empty"));
            }
            return Ok(None);
        }
        Ok(Some(chunk))
    }

    /// Parses every entry of a chunk.
    pub(crate) fn entries<'c>(
        &self,
        chunk: &'c [u8],
        mut visit: impl FnMut(Entry<'c>) -> Result<()>,
    ) -> Result<()> {
        let mut r = Cursor {
            bytes: chunk,
            pos: 0,
        };
        let bad = || corrupt(&self.path, "malformed entry");
        while r.pos < chunk.len() {
            let entry = match r.take(1).ok_or_else(bad)?[0] {
                ENTRY_TABLE => {
                    let len = u16::from_le_bytes(r.array().ok_or_else(bad)?) as usize;
                    let name =
                        std::str::from_utf8(r.take(len).ok_or_else(bad)?).map_err(|_| bad())?;
                    Entry::Table(name)
                }
                ENTRY_KV => {
                    let len = u32::from_le_bytes(r.array().ok_or_else(bad)?) as usize;
                    let key = r.take(len).ok_or_else(bad)?;
                    let len = u32::from_le_bytes(r.array().ok_or_else(bad)?) as usize;
                    Entry::Kv(key, r.take(len).ok_or_else(bad)?)
                }
                ENTRY_CHANGE => {
                    let seq = u64::from_le_bytes(r.array().ok_or_else(bad)?);
                    let index = u32::from_le_bytes(r.array().ok_or_else(bad)?);
                    let len = u32::from_le_bytes(r.array().ok_or_else(bad)?) as usize;
                    Entry::Change(seq, index, r.take(len).ok_or_else(bad)?)
                }
                _ => return Err(bad()),
            };
            visit(entry)?;
        }
        Ok(())
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Some(out)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
}

/// SHA-256 of a file, hex.
pub(crate) fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|source| missing_or_io(path, source))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(io_error(path))?;
    Ok(hex(&hasher.finalize()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn corrupt(path: &Path, detail: &str) -> EngineError {
    EngineError::BackupCorrupt {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

fn missing_or_io(path: &Path, source: std::io::Error) -> EngineError {
    if source.kind() == std::io::ErrorKind::NotFound {
        EngineError::BackupPieceMissing {
            path: path.to_path_buf(),
        }
    } else {
        io_error(path)(source)
    }
}
