//! The change log: every committed change, in commit order, in the same atomic commit as the
//! data it describes.
//!
//! Each commit has a sequence number; its changes are keyed `(seq, index)` so a reader can
//! resume from any point. A record carries the collection, the operation, the document id and
//! the full new and old documents, which is what change streams, incremental backups,
//! replication and "as of" reads each need. Collection DDL is logged too, so replaying the log
//! from an empty database reproduces it.
//!
//! Record layout (little-endian):
//! ```text
//! [0]      record version (4; 2 = the same without elided payloads; 1 = version 2 without
//!          the trailing checksum)
//! [1]      operation code (ChangeOp)
//! [2..10)  commit time, µs since the epoch (stamped by the writer)
//! [10..14) collection id
//! u16 len + collection name (UTF-8)
//! u16 len + document key (0 = none)
//! u32 len + new payload (u32::MAX = none,   document encoding, or a name for DDL, or an
//!   u32::MAX - 1 = elided, version 4)       extension write's target (see `write_target`)
//! u32 len + old payload (u32::MAX = none)   document encoding, or an extension write's value
//! u32 checksum: XXH3-64 of everything before it, seeded with XXH3-64 of the record's key
//!     `(seq, index)`, folded to 32 bits (stamped by the writer with the commit time)
//! ```
//! Every decode verifies the checksum, so a damaged record is an [`EngineError::Corruption`]
//! (naming `seq:index`), never a change stream, backup or replica fed a different change.
//!
//! **Elided payloads** (version 4): an insert's or update's new document is not stored here
//! while it is the document's current version — the documents table holds it, and its record
//! names this change (`record.rs`, tag 0xC4). The transaction that supersedes it (an update or
//! delete of the key, or reclamation after a drop) has read that version anyway and has the
//! writer fill it into this record in the same commit (`elided.rs`), unless retention already
//! trimmed the record. Readers resolve an elided payload from the documents table of the same
//! snapshot and check that the version there is the one this record wrote; a mismatch is a
//! corruption, never a different document.

use std::ops::Bound;

use cairn_doc::{DateTime, DocId, Value};
use cairn_storage::TableReader;

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use crate::compression::Codecs;
use crate::elided::Resolver;
use crate::error::{EngineError, Result};
use crate::layout::{changelog_key, parse_changelog_key, CHANGELOG_TABLE};

/// The current record version: a new document payload may be elided. (Not 3: one flipped bit
/// would turn 3 into 1, a version read without a checksum.)
const RECORD_VERSION: u8 = 4;
/// Records with every payload present and a trailing checksum: written before elision, and
/// still written for backups (portable records, readable by older versions of Cairn).
const RECORD_VERSION_FULL: u8 = 2;
/// Records written before the checksum; still read.
const RECORD_VERSION_UNCHECKED: u8 = 1;
const CHECKSUM_BYTES: usize = 4;
const AT_OFFSET: usize = 2;
const NONE_LEN: u32 = u32::MAX;
/// The new payload's length slot of a record whose document the documents table holds.
const ELIDED_LEN: u32 = u32::MAX - 1;

/// What a record's new-payload slot holds.
#[derive(Clone, Copy)]
pub(crate) enum NewPayload<'a> {
    /// Nothing (deletes, most DDL).
    None,
    /// These bytes.
    Bytes(&'a [u8]),
    /// The document's current version, held by the documents table (see the module comment).
    Elided,
}

/// What a change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeOp {
    /// A document was inserted.
    Insert,
    /// A document was replaced or patched.
    Update,
    /// A document was deleted.
    Delete,
    /// The collection was created. The change's `new` holds its options when any differs
    /// from what absent options mean (`{"routing": false}`; see
    /// [`crate::CollectionOptions`]), else nothing.
    CreateCollection,
    /// The collection was dropped with all its documents.
    DropCollection,
    /// The collection was renamed; `collection` holds the old name.
    RenameCollection {
        /// The new name.
        to: String,
    },
    /// An extension was attached to the collection, or an attached one reconfigured (say, a
    /// new schema version). The change's `new` holds the extension's spec
    /// `{kind, name, config, incarnation}` (absent in logs written before Cairn recorded it).
    AttachExtension {
        /// The extension's instance name.
        name: String,
    },
    /// An extension was detached from the collection.
    DetachExtension {
        /// The extension's instance name.
        name: String,
    },
    /// An extension's data was written outside any document write (a step of an online
    /// index build). No document changed; the record exists because every commit has a
    /// sequence number and the change log's last key is the last commit's.
    ExtensionData {
        /// The extension's instance name.
        name: String,
    },
    /// A key of an extension table that holds **primary data** (see
    /// [`crate::Extension::primary_tables`]: data no document describes, such as time-series
    /// chunks) was written: the table's net write of the commit, one record per key. Replaying
    /// these records (an incremental restore, a replica) reproduces the table exactly;
    /// derived tables (indexes) are never logged this way, since replaying their documents
    /// rebuilds them.
    ExtensionWrite {
        /// The extension's instance name.
        name: String,
        /// The extension's table (its own name for it, as given to `extension_put`).
        table: String,
        /// The key written.
        key: Vec<u8>,
        /// The value stored; `None` when the key was deleted.
        value: Option<Vec<u8>>,
    },
    /// Part of a dropped collection's storage was reclaimed (its documents' records and
    /// routing entries, a chunk at a time after the drop; see `reclaim.rs`). Nothing visible
    /// changed; the record exists because every commit has one.
    ReclaimDropped,
}

impl ChangeOp {
    fn code(&self) -> u8 {
        match self {
            ChangeOp::Insert => 1,
            ChangeOp::Update => 2,
            ChangeOp::Delete => 3,
            ChangeOp::CreateCollection => 10,
            ChangeOp::DropCollection => 11,
            ChangeOp::RenameCollection { .. } => 12,
            ChangeOp::AttachExtension { .. } => 13,
            ChangeOp::DetachExtension { .. } => 14,
            ChangeOp::ExtensionData { .. } => 15,
            ChangeOp::ReclaimDropped => 16,
            ChangeOp::ExtensionWrite { .. } => 17,
        }
    }

    /// A short lowercase name (`insert`, `update`, ...), as used in JSON output.
    pub fn name(&self) -> &'static str {
        match self {
            ChangeOp::Insert => "insert",
            ChangeOp::Update => "update",
            ChangeOp::Delete => "delete",
            ChangeOp::CreateCollection => "create_collection",
            ChangeOp::DropCollection => "drop_collection",
            ChangeOp::RenameCollection { .. } => "rename_collection",
            ChangeOp::AttachExtension { .. } => "attach_extension",
            ChangeOp::DetachExtension { .. } => "detach_extension",
            ChangeOp::ExtensionData { .. } => "extension_data",
            ChangeOp::ReclaimDropped => "reclaim_dropped",
            ChangeOp::ExtensionWrite { .. } => "extension_write",
        }
    }
}

/// One committed change, as read back from the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Sequence number of the commit.
    pub seq: u64,
    /// Position within the commit.
    pub index: u32,
    /// When the commit happened.
    pub at: DateTime,
    /// The collection's internal id.
    pub collection_id: u32,
    /// The collection's name at the time of the change.
    pub collection: String,
    /// What happened.
    pub op: ChangeOp,
    /// The document, for document changes.
    pub id: Option<DocId>,
    /// The document after the change (inserts and updates).
    pub new: Option<Value>,
    /// The document before the change (updates and deletes).
    pub old: Option<Value>,
}

/// A change encoded by a transaction, waiting for its commit's sequence number and time.
#[derive(Debug)]
pub(crate) struct PendingChange {
    pub(crate) body: Vec<u8>,
    /// Whether `body` ends with a checksum (a retried commit seals again).
    sealed: bool,
}

impl PendingChange {
    /// Encodes a change. `new` and `old` are document encodings (without record header), or
    /// UTF-8 names for DDL operations.
    pub(crate) fn encode(
        op: &ChangeOp,
        collection_id: u32,
        collection: &str,
        id_key: Option<&[u8]>,
        new: Option<&[u8]>,
        old: Option<&[u8]>,
    ) -> PendingChange {
        let new = new.map_or(NewPayload::None, NewPayload::Bytes);
        Self::encode_as(
            RECORD_VERSION,
            op,
            (collection_id, collection),
            id_key,
            new,
            old,
        )
    }

    /// Encodes an insert or update whose new document the documents table holds (its record
    /// names this change: `record::encode_record` with the change's index).
    pub(crate) fn elided(
        op: &ChangeOp,
        (collection_id, collection): (u32, &str),
        id_key: &[u8],
        old: Option<&[u8]>,
    ) -> PendingChange {
        let target = (collection_id, collection);
        Self::encode_as(
            RECORD_VERSION,
            op,
            target,
            Some(id_key),
            NewPayload::Elided,
            old,
        )
    }

    /// Puts `payload` into this (unsealed) record's elided new-payload slot: a later write of
    /// the same transaction superseded the document it elided. Records that carry their
    /// payload are left as they are.
    pub(crate) fn fill(&mut self, payload: &[u8]) -> Result<()> {
        debug_assert!(!self.sealed, "filled after sealing");
        if let Some(filled) = fill_slot(&self.body, payload)? {
            self.body = filled;
        }
        Ok(())
    }

    fn encode_as(
        version: u8,
        op: &ChangeOp,
        (collection_id, collection): (u32, &str),
        id_key: Option<&[u8]>,
        new: NewPayload<'_>,
        old: Option<&[u8]>,
    ) -> PendingChange {
        let target;
        let (name_payload, old) = match op {
            ChangeOp::RenameCollection { to } => (Some(to.as_bytes()), old),
            ChangeOp::AttachExtension { name }
            | ChangeOp::DetachExtension { name }
            | ChangeOp::ExtensionData { name } => (Some(name.as_bytes()), old),
            // The write's target rides in `new`, the value (raw bytes) in `old`.
            ChangeOp::ExtensionWrite {
                name,
                table,
                key,
                value,
            } => {
                target = write_target(name, table, key);
                (Some(&target[..]), value.as_deref())
            }
            _ => (None, old),
        };
        let new = name_payload.map_or(new, NewPayload::Bytes);
        let id_key = id_key.unwrap_or_default();
        let new_len = match new {
            NewPayload::Bytes(bytes) => bytes.len(),
            NewPayload::None | NewPayload::Elided => 0,
        };
        let mut body = Vec::with_capacity(
            32 + collection.len() + id_key.len() + new_len + old.map_or(0, <[u8]>::len),
        );
        body.push(version);
        body.push(op.code());
        body.extend_from_slice(&0i64.to_le_bytes());
        body.extend_from_slice(&collection_id.to_le_bytes());
        // Names are at most 128 bytes and ids at most MAX_ID_BYTES, both far below u16::MAX.
        debug_assert!(collection.len() <= usize::from(u16::MAX));
        debug_assert!(id_key.len() <= usize::from(u16::MAX));
        body.extend_from_slice(&(collection.len() as u16).to_le_bytes());
        body.extend_from_slice(collection.as_bytes());
        body.extend_from_slice(&(id_key.len() as u16).to_le_bytes());
        body.extend_from_slice(id_key);
        match new {
            NewPayload::Bytes(bytes) => push_payload(&mut body, Some(bytes)),
            NewPayload::None => push_payload(&mut body, None),
            NewPayload::Elided => body.extend_from_slice(&ELIDED_LEN.to_le_bytes()),
        }
        push_payload(&mut body, old);
        PendingChange {
            body,
            sealed: false,
        }
    }

    /// Writes the commit time into the record and appends its checksum, for the record
    /// stored under `(seq, index)`. Called by the writer (again if a commit is retried).
    pub(crate) fn seal(&mut self, at: DateTime, seq: u64, index: u32) {
        if std::mem::replace(&mut self.sealed, true) {
            self.body
                .truncate(self.body.len().saturating_sub(CHECKSUM_BYTES));
        }
        if let Some(slot) = self.body.get_mut(AT_OFFSET..AT_OFFSET + 8) {
            slot.copy_from_slice(&at.micros().to_le_bytes());
        }
        let check = record_checksum(seq, index, &self.body);
        self.body.extend_from_slice(&check.to_le_bytes());
    }
}

/// Appends a payload slot: length and bytes, or the none marker.
fn push_payload(body: &mut Vec<u8>, payload: Option<&[u8]>) {
    match payload {
        Some(bytes) => {
            // Documents are bounded by MAX_DOCUMENT_BYTES (16 MiB), far below u32::MAX.
            body.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            body.extend_from_slice(bytes);
        }
        None => body.extend_from_slice(&NONE_LEN.to_le_bytes()),
    }
}

/// `record` (its bytes before any checksum) with `payload` in its elided new-payload slot;
/// `None` when the slot is not elided (the record carries its document already).
fn fill_slot(record: &[u8], payload: &[u8]) -> Result<Option<Vec<u8>>> {
    let mut r = Reader {
        bytes: record,
        pos: 0,
    };
    let [version, _code] = r.array()?;
    if version != RECORD_VERSION {
        return Ok(None);
    }
    r.take(8 + 4)?;
    r.short()?;
    r.short()?;
    let slot = r.pos;
    if u32::from_le_bytes(r.array()?) != ELIDED_LEN {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(record.len() + payload.len() + CHECKSUM_BYTES);
    out.extend_from_slice(&record[..slot]);
    push_payload(&mut out, Some(payload));
    out.extend_from_slice(&record[r.pos..]);
    Ok(Some(out))
}

/// The stored record `(seq, index)` with `payload` filled into its elided new-payload slot and
/// sealed again under the same key, for the writer of the transaction that superseded its
/// document. `None` when there is nothing to fill: the record carries its payload, or it is
/// not the change of document `id_key` of collection `collection_id` (then it never elided
/// that document, and readers resolve it — or report it — as before).
pub(crate) fn fill_stored(
    (seq, index): (u64, u32),
    stored: &[u8],
    (collection_id, id_key): (u32, &[u8]),
    payload: &[u8],
) -> Result<Option<Vec<u8>>> {
    let record = verified(seq, index, stored)?;
    let mut r = Reader {
        bytes: record,
        pos: 0,
    };
    r.take(2 + 8)?;
    let same_doc = u32::from_le_bytes(r.array()?) == collection_id && {
        r.short()?;
        r.short()? == id_key
    };
    if !same_doc {
        return Ok(None);
    }
    let Some(mut filled) = fill_slot(record, payload)? else {
        return Ok(None);
    };
    let check = record_checksum(seq, index, &filled);
    filled.extend_from_slice(&check.to_le_bytes());
    Ok(Some(filled))
}

/// The `new` payload of an [`ChangeOp::ExtensionWrite`] record: `u16` length + extension
/// name, `u16` length + table name, then the key (the rest). Names are at most a few hundred
/// bytes (collection and extension name limits), far below `u16::MAX`.
fn write_target(name: &str, table: &str, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + name.len() + table.len() + key.len());
    for part in [name, table] {
        debug_assert!(part.len() <= usize::from(u16::MAX));
        out.extend_from_slice(&(part.len() as u16).to_le_bytes());
        out.extend_from_slice(part.as_bytes());
    }
    out.extend_from_slice(key);
    out
}

/// Inverse of [`write_target`]: (extension name, table name, key).
fn parse_write_target(bytes: &[u8]) -> Result<(String, String, Vec<u8>)> {
    let mut r = Reader { bytes, pos: 0 };
    let mut text = || -> Result<String> {
        std::str::from_utf8(r.short()?)
            .map(str::to_string)
            .map_err(|_| EngineError::corrupt(CHANGELOG_TABLE, "extension name is not UTF-8"))
    };
    let name = text()?;
    let table = text()?;
    Ok((name, table, bytes[r.pos..].to_vec()))
}

/// Encodes a change as a log record whose document payloads are plain (uncompressed)
/// encodings, readable without this database's dictionaries: what incremental backups hold.
pub(crate) fn encode_portable(change: &Change) -> Result<Vec<u8>> {
    let encode = |doc: &Option<Value>| -> Result<Option<Vec<u8>>> {
        doc.as_ref()
            .map(|doc| {
                let mut out = Vec::new();
                cairn_doc::encode_document(doc, &mut out)?;
                Ok(out)
            })
            .transpose()
    };
    let key = change
        .id
        .as_ref()
        .map(|id| {
            let mut key = Vec::new();
            id.encode_key(&mut key).map(|()| key)
        })
        .transpose()?;
    let (new, old) = match change.op {
        // An attach record's spec and a create record's options (their `new`) are stored in
        // the `old` slot; see `decode`.
        ChangeOp::AttachExtension { .. } | ChangeOp::CreateCollection => {
            (None, encode(&change.new)?)
        }
        // Raw bytes, carried by the op itself (see `PendingChange::encode`).
        ChangeOp::ExtensionWrite { .. } => (None, None),
        _ => (encode(&change.new)?, encode(&change.old)?),
    };
    let mut pending = PendingChange::encode_as(
        RECORD_VERSION_FULL,
        &change.op,
        (change.collection_id, &change.collection),
        key.as_deref(),
        new.as_deref().map_or(NewPayload::None, NewPayload::Bytes),
        old.as_deref(),
    );
    pending.seal(change.at, change.seq, change.index);
    Ok(pending.body)
}

/// Reads whole commits with sequence numbers greater than `after_seq`, in order, stopping at
/// the first commit boundary at or after `limit` changes. A commit is never split, so a reader
/// can page with the last sequence number it saw; a single commit larger than `limit` (at most
/// `MAX_TXN_OPS` changes) is returned whole.
pub(crate) fn read_after(
    resolver: &mut Resolver<'_>,
    reader: &TableReader,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<Change>> {
    let start = changelog_key(after_seq.saturating_add(1), 0);
    let mut changes: Vec<Change> = Vec::new();
    for entry in reader.range(Bound::Included(&start), Bound::Unbounded)? {
        let entry = entry?;
        let (seq, index) = parse_changelog_key(entry.key())
            .ok_or_else(|| EngineError::corrupt(CHANGELOG_TABLE, "malformed key"))?;
        let starts_new_commit = changes.last().is_none_or(|last| last.seq != seq);
        if changes.len() >= limit.max(1) && starts_new_commit {
            break;
        }
        changes.push(resolver.decode(seq, index, entry.value())?);
    }
    Ok(changes)
}

/// A cursor over a record's bytes that reports truncation instead of panicking.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len());
        let end = end.ok_or_else(|| EngineError::corrupt(CHANGELOG_TABLE, "truncated record"))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.take(N)?;
        bytes
            .try_into()
            .map_err(|_| EngineError::corrupt(CHANGELOG_TABLE, "truncated record"))
    }

    fn short(&mut self) -> Result<&'a [u8]> {
        let len = u16::from_le_bytes(self.array()?);
        self.take(usize::from(len))
    }

    fn payload(&mut self) -> Result<Option<&'a [u8]>> {
        let len = u32::from_le_bytes(self.array()?);
        if len == NONE_LEN {
            return Ok(None);
        }
        Ok(Some(self.take(len as usize)?))
    }
}

/// The checksum of a record's bytes (all but the checksum) stored under `(seq, index)`.
fn record_checksum(seq: u64, index: u32, bytes: &[u8]) -> u32 {
    let key = changelog_key(seq, index);
    let hash = xxh3_64_with_seed(bytes, xxh3_64(&key));
    (hash ^ (hash >> 32)) as u32
}

/// The record's bytes before its checksum, verified; version 1 records (no checksum) as they
/// are.
fn verified(seq: u64, index: u32, bytes: &[u8]) -> Result<&[u8]> {
    let corruption = |detail: &str| EngineError::Corruption {
        collection: CHANGELOG_TABLE.to_string(),
        id: format!("{seq}:{index}"),
        detail: detail.to_string(),
    };
    match bytes.first() {
        Some(&(RECORD_VERSION | RECORD_VERSION_FULL)) => {
            let (record, check) = bytes
                .split_at_checked(bytes.len().saturating_sub(CHECKSUM_BYTES))
                .filter(|(record, _)| !record.is_empty())
                .ok_or_else(|| corruption("truncated record"))?;
            let stored = u32::from_le_bytes(
                check
                    .try_into()
                    .map_err(|_| corruption("truncated record"))?,
            );
            if stored != record_checksum(seq, index, record) {
                return Err(corruption(
                    "change record checksum mismatch: the data file is damaged",
                ));
            }
            Ok(record)
        }
        Some(&RECORD_VERSION_UNCHECKED) => Ok(bytes),
        Some(_) => Err(corruption("unknown record version")),
        None => Err(corruption("empty record")),
    }
}

/// The collection id in a stored record's header, read without verifying the record (to
/// route it; whoever decodes it later verifies it). `None` for a record too short to hold one.
pub(crate) fn record_collection_id(bytes: &[u8]) -> Option<u32> {
    let id = bytes.get(10..14)?;
    Some(u32::from_le_bytes(id.try_into().ok()?))
}

/// Decodes one change-log record (keyed `(seq, index)`) of a record that carries all its
/// payloads — a backup's (portable) record — after verifying its checksum; document payloads
/// are decompressed. A record with an elided payload is refused: only its own database can
/// resolve it (through [`Resolver::decode`]).
pub(crate) fn decode(codecs: &Codecs, seq: u64, index: u32, bytes: &[u8]) -> Result<Change> {
    let (change, elided) = decode_stored(codecs, seq, index, bytes)?;
    if elided {
        return Err(EngineError::Corruption {
            collection: CHANGELOG_TABLE.to_string(),
            id: format!("{seq}:{index}"),
            detail: "a record with an elided document outside its database".to_string(),
        });
    }
    Ok(change)
}

/// Decodes one stored change-log record like [`decode`]; when its new document is elided, the
/// change's `new` is `None` and the flag is set (the caller resolves it).
pub(crate) fn decode_stored(
    codecs: &Codecs,
    seq: u64,
    index: u32,
    bytes: &[u8],
) -> Result<(Change, bool)> {
    let corrupt = |detail: &str| EngineError::corrupt(CHANGELOG_TABLE, detail);
    let bytes = verified(seq, index, bytes)?;
    let mut r = Reader { bytes, pos: 0 };
    let [version, code] = r.array()?;
    let at = DateTime::from_micros(i64::from_le_bytes(r.array()?));
    let collection_id = u32::from_le_bytes(r.array()?);
    let collection = std::str::from_utf8(r.short()?)
        .map_err(|_| corrupt("collection name is not UTF-8"))?
        .to_string();
    let id_key = r.short()?;
    let elided = version == RECORD_VERSION
        && r.bytes.get(r.pos..r.pos + 4) == Some(&ELIDED_LEN.to_le_bytes()[..]);
    if elided {
        r.take(4)?;
        if !matches!(code, 1 | 2) || id_key.is_empty() {
            return Err(corrupt("an elided payload outside a document write"));
        }
    }
    let new = if elided { None } else { r.payload()? };
    let old = r.payload()?;
    let id = if id_key.is_empty() {
        None
    } else {
        Some(DocId::decode_key(id_key).map_err(|err| EngineError::corrupt(CHANGELOG_TABLE, err))?)
    };
    let text = |payload: Option<&[u8]>| {
        payload
            .and_then(|b| std::str::from_utf8(b).ok())
            .map(str::to_string)
            .ok_or_else(|| corrupt("DDL record without a name"))
    };
    let doc = |payload: Option<&[u8]>| -> Result<Option<Value>> {
        payload
            .map(|b| {
                codecs.with_plain(CHANGELOG_TABLE, b, |plain| {
                    cairn_doc::decode_document(plain)
                        .map_err(|e| EngineError::corrupt(CHANGELOG_TABLE, e))
                })
            })
            .transpose()
    };
    let (op, new, old) = match code {
        1 => (ChangeOp::Insert, doc(new)?, None),
        2 => (ChangeOp::Update, doc(new)?, doc(old)?),
        3 => (ChangeOp::Delete, None, doc(old)?),
        // The collection's options ride in the `old` slot, as an attach record's spec.
        10 => (ChangeOp::CreateCollection, doc(old)?, None),
        11 => (ChangeOp::DropCollection, None, None),
        12 => (ChangeOp::RenameCollection { to: text(new)? }, None, None),
        // The attached extension's spec rides in the `old` slot (the name takes `new`).
        13 => (
            ChangeOp::AttachExtension { name: text(new)? },
            doc(old)?,
            None,
        ),
        14 => (ChangeOp::DetachExtension { name: text(new)? }, None, None),
        15 => (ChangeOp::ExtensionData { name: text(new)? }, None, None),
        16 => (ChangeOp::ReclaimDropped, None, None),
        17 => {
            let target = new.ok_or_else(|| corrupt("extension write without its target"))?;
            let (name, table, key) = parse_write_target(target)?;
            let value = old.map(<[u8]>::to_vec);
            let op = ChangeOp::ExtensionWrite {
                name,
                table,
                key,
                value,
            };
            (op, None, None)
        }
        _ => return Err(corrupt("unknown operation code")),
    };
    let change = Change {
        seq,
        index,
        at,
        collection_id,
        collection,
        op,
        id,
        new,
        old,
    };
    Ok((change, elided))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_decode_what_was_encoded() {
        let mut doc = Vec::new();
        let value = Value::from_json_str(r#"{"_id": 1, "a": "x"}"#);
        let value = value.unwrap_or(Value::Null);
        assert!(cairn_doc::encode_document(&value, &mut doc).is_ok());
        let mut key = Vec::new();
        assert!(DocId::Int(1).encode_key(&mut key).is_ok());
        let mut pending = PendingChange::encode(
            &ChangeOp::Update,
            3,
            "things",
            Some(&key),
            Some(&doc),
            Some(&doc),
        );
        pending.seal(DateTime::from_micros(42), 9, 2);
        let codecs = Codecs::new(Default::default(), Default::default());
        let change = decode(&codecs, 9, 2, &pending.body).ok();
        let change = change.map(|c| (c.seq, c.index, c.at, c.collection, c.op, c.id, c.new));
        assert_eq!(
            change,
            Some((
                9,
                2,
                DateTime::from_micros(42),
                "things".to_string(),
                ChangeOp::Update,
                Some(DocId::Int(1)),
                Some(value)
            ))
        );
    }

    #[test]
    fn truncated_records_are_errors_not_panics() {
        let pending = PendingChange::encode(
            &ChangeOp::RenameCollection {
                to: "b".to_string(),
            },
            1,
            "a",
            None,
            None,
            None,
        );
        let codecs = Codecs::new(Default::default(), Default::default());
        for cut in 0..pending.body.len() {
            assert!(decode(&codecs, 1, 0, &pending.body[..cut]).is_err());
        }
        let mut pending = pending;
        pending.seal(DateTime::from_micros(1), 1, 0);
        for cut in 0..pending.body.len() {
            assert!(decode(&codecs, 1, 0, &pending.body[..cut]).is_err());
        }
        assert!(decode(&codecs, 1, 0, &pending.body).is_ok());
    }

    #[test]
    fn every_flipped_bit_of_a_change_record_is_a_corruption_error() {
        let mut doc = Vec::new();
        let value = Value::from_json_str(r#"{"_id": 1, "name": "x"}"#).unwrap_or(Value::Null);
        assert!(cairn_doc::encode_document(&value, &mut doc).is_ok());
        let mut key = Vec::new();
        assert!(DocId::Int(1).encode_key(&mut key).is_ok());
        let mut pending =
            PendingChange::encode(&ChangeOp::Insert, 3, "things", Some(&key), Some(&doc), None);
        pending.seal(DateTime::from_micros(42), 7, 0);
        let codecs = Codecs::new(Default::default(), Default::default());
        assert!(decode(&codecs, 7, 0, &pending.body).is_ok());
        for byte in 0..pending.body.len() {
            for bit in 0..8 {
                let mut damaged = pending.body.clone();
                damaged[byte] ^= 1 << bit;
                let outcome = decode(&codecs, 7, 0, &damaged);
                assert!(
                    matches!(outcome, Err(EngineError::Corruption { .. })),
                    "byte {byte} bit {bit}: {outcome:?}"
                );
            }
        }
        // Read under another key (a damaged key), the record is refused too.
        assert!(decode(&codecs, 7, 1, &pending.body).is_err());
    }
}
