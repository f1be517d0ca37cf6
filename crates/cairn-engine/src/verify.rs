//! The deep integrity check behind `cairn check`.
//!
//! Layers, each reported as precise [`Finding`]s rather than stopping at the first problem:
//! 1. storage: the write-ahead log's records (checksums, order, payloads, authentication),
//!    every encrypted block authenticates; redb's page checksums and B-tree structure;
//! 2. records: every catalog entry, dictionary, document key and document record decodes
//!    (decompressing and, through the storage layer, decrypting), and each document's `_id`
//!    matches its key;
//! 3. cross-references: every document of a routed collection has its routing entry, every
//!    routing entry its document, and no unrouted collection has routing entries;
//! 4. the change log: sequence numbers are contiguous, each commit's records are numbered
//!    from 0 without gaps, and every record decodes.
//!
//! Extensions (secondary indexes, model structures) verify their own tables through
//! [`crate::Extension::verify`] ([`verify_extensions`], run on the opened database after the
//! storage check); their findings join the same report as [`Finding::Extension`].

use std::collections::HashMap;
use std::ops::Bound;

use cairn_doc::DocId;
use cairn_storage::{Snapshot, StorageError, StorageMode, Store, TableReader};

use crate::catalog::CollectionMeta;
use crate::compression::Codecs;
use crate::database::Config;
use crate::error::Result;
use crate::layout::{
    docs_table, parse_changelog_key, routing_key, CATALOG_TABLE, CHANGELOG_TABLE, DICTIONARY_TABLE,
    RECLAIM_TABLE, ROUTING_TABLE,
};
use crate::limits::MAX_REPORTED_FINDINGS;
use crate::record::{decode_record, RecordAt};

/// One problem found by [`check_database`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The data file could not be opened or read at all.
    Unreadable {
        /// What the storage layer reported.
        detail: String,
    },
    /// An encrypted block failed authentication (modified on disk).
    TamperedBlock {
        /// The logical block index.
        block: u64,
    },
    /// One of the two copies of an encrypted file's header block fails authentication (the
    /// other one is intact and in use): one more failure and the database is lost.
    DamagedHeaderCopy {
        /// The physical slot (0 or 1) holding the damaged copy.
        slot: u64,
    },
    /// The write-ahead log is damaged inside (not a torn tail, which is cut), misses a
    /// record, or holds one that does not decode or authenticate: the commits from there on
    /// cannot be replayed, so the database does not open.
    DamagedLog {
        /// The segment file.
        segment: String,
        /// Byte offset of the damaged record.
        offset: u64,
        /// What was wrong.
        detail: String,
    },
    /// redb's page checksums or B-tree structure failed.
    StorageChecksum {
        /// What failed.
        detail: String,
    },
    /// A catalog entry does not decode.
    BadCatalogEntry {
        /// The catalog key (the collection name as stored).
        name: String,
        /// What was wrong.
        detail: String,
    },
    /// A compression dictionary does not decode.
    BadDictionary {
        /// What was wrong.
        detail: String,
    },
    /// A document key does not decode.
    BadDocumentKey {
        /// The collection.
        collection: String,
        /// The key, hex-encoded.
        key_hex: String,
    },
    /// A document record does not decode (or decompress).
    BadRecord {
        /// The collection.
        collection: String,
        /// The document id.
        id: String,
        /// What was wrong.
        detail: String,
    },
    /// A document's `_id` differs from the key it is stored under.
    IdMismatch {
        /// The collection.
        collection: String,
        /// The id the key says.
        id: String,
        /// The `_id` inside the document.
        found: String,
    },
    /// A document has no routing entry.
    MissingRouting {
        /// The collection.
        collection: String,
        /// The document id.
        id: String,
    },
    /// A collection created without routing has a routing entry (only routed collections'
    /// documents have them; see `CollectionOptions::routing`).
    UnexpectedRouting {
        /// The collection.
        collection: String,
        /// The document id (or the key in hex when it does not decode).
        id: String,
    },
    /// A routing entry points to a document (or collection) that does not exist.
    DanglingRouting {
        /// The collection id in the entry.
        collection_id: u32,
        /// The document id (or the key in hex when it does not decode).
        id: String,
    },
    /// Commits are missing from the change log between two sequence numbers.
    ChangeLogGap {
        /// The last sequence number before the gap.
        after_seq: u64,
        /// The next one present.
        next_seq: u64,
    },
    /// A commit's change records are not numbered 0, 1, 2... (a record is missing).
    ChangeLogIndexGap {
        /// The commit.
        seq: u64,
        /// The index expected next.
        expected: u32,
        /// The index found.
        found: u32,
    },
    /// A change-log record does not decode.
    BadChange {
        /// The commit.
        seq: u64,
        /// The record's index in the commit.
        index: u32,
        /// What was wrong.
        detail: String,
    },
    /// Reported by an extension's own verification (e.g. a secondary index entry without its
    /// document).
    Extension {
        /// The collection.
        collection: String,
        /// The extension instance.
        extension: String,
        /// What the extension found.
        detail: String,
    },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Unreadable { detail } => write!(f, "data file unreadable: {detail}"),
            Finding::DamagedLog {
                segment,
                offset,
                detail,
            } => write!(
                f,
                "write-ahead log segment {segment} damaged at byte {offset}: {detail}"
            ),
            Finding::TamperedBlock { block } => {
                write!(
                    f,
                    "encrypted block {block} failed authentication (modified on disk)"
                )
            }
            Finding::DamagedHeaderCopy { slot } => write!(
                f,
                "the copy of the encrypted header block in slot {slot} failed authentication (the other copy is intact; take a backup)"
            ),
            Finding::StorageChecksum { detail } => write!(f, "storage checksums: {detail}"),
            Finding::BadCatalogEntry { name, detail } => {
                write!(f, "catalog entry `{name}`: {detail}")
            }
            Finding::BadDictionary { detail } => write!(f, "compression dictionary: {detail}"),
            Finding::BadDocumentKey {
                collection,
                key_hex,
            } => {
                write!(f, "`{collection}`: undecodable document key {key_hex}")
            }
            Finding::BadRecord {
                collection,
                id,
                detail,
            } => {
                write!(f, "`{collection}` document {id}: {detail}")
            }
            Finding::IdMismatch {
                collection,
                id,
                found,
            } => {
                write!(
                    f,
                    "`{collection}` document {id}: stored under its key but its _id is {found}"
                )
            }
            Finding::MissingRouting { collection, id } => {
                write!(f, "`{collection}` document {id}: no routing entry")
            }
            Finding::UnexpectedRouting { collection, id } => write!(
                f,
                "routing entry for {id} in `{collection}`, which keeps no routing entries"
            ),
            Finding::DanglingRouting { collection_id, id } => write!(
                f,
                "routing entry for {id} in collection #{collection_id}: no such document"
            ),
            Finding::ChangeLogGap {
                after_seq,
                next_seq,
            } => write!(
                f,
                "change log: commits {} to {} are missing",
                after_seq + 1,
                next_seq - 1
            ),
            Finding::ChangeLogIndexGap {
                seq,
                expected,
                found,
            } => write!(
                f,
                "change log: commit {seq} jumps from record {expected} to {found}"
            ),
            Finding::BadChange { seq, index, detail } => {
                write!(f, "change log record {seq}.{index}: {detail}")
            }
            Finding::Extension {
                collection,
                extension,
                detail,
            } => {
                write!(f, "`{collection}` extension `{extension}`: {detail}")
            }
        }
    }
}

/// What [`check_database`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// The file was not closed cleanly and the storage engine recovered it while opening
    /// (normal after a crash; not a finding).
    pub recovered_on_open: bool,
    /// Problems, up to [`MAX_REPORTED_FINDINGS`].
    pub findings: Vec<Finding>,
    /// All problems found, including any not listed.
    pub findings_total: u64,
    /// Collections checked.
    pub collections: u64,
    /// Documents checked.
    pub documents: u64,
    /// Change-log records checked.
    pub changes: u64,
    /// Whether the data file is encrypted (and so every block was authenticated).
    pub encrypted: bool,
    /// Write-ahead log records (commits after the last checkpoint) replayed, each verified,
    /// when the check opened the database (normal after a crash; not a finding).
    pub log_records_replayed: u64,
}

impl CheckReport {
    /// Whether nothing was found.
    pub fn is_clean(&self) -> bool {
        self.findings_total == 0
    }

    /// Adds a finding (counted always, listed up to the limit). Public so that layers above
    /// the engine (index verification) can add theirs to the same report.
    pub fn add(&mut self, finding: Finding) {
        self.findings_total += 1;
        if self.findings.len() < MAX_REPORTED_FINDINGS {
            self.findings.push(finding);
        }
    }
}

/// Runs every attached extension's verification ([`crate::Extension::verify`]) on one
/// snapshot of `db` and adds what each found to `report`; an extension whose verification
/// fails outright is a finding too. Returns how many extensions verified something.
pub fn verify_extensions(db: &crate::Database, report: &mut CheckReport) -> Result<u64> {
    let mut txn = db.read()?;
    let mut verified = 0;
    for meta in db.list_collections()? {
        for attached in &meta.extensions {
            let Some(instance) = txn.extension_instance(&meta.name, &attached.name)? else {
                continue;
            };
            if !instance.verifies() {
                continue;
            }
            verified += 1;
            let details = match instance.verify(&mut txn, &meta.name, &attached.name) {
                Ok(details) => details,
                Err(err) => vec![format!("verification failed: {err}")],
            };
            for detail in details {
                report.add(Finding::Extension {
                    collection: meta.name.clone(),
                    extension: attached.name.clone(),
                    detail,
                });
            }
        }
    }
    Ok(verified)
}

/// Checks a closed database deeply (see the module documentation). Opens it exclusively
/// with `config`'s key; fails only when it cannot start (locked, wrong key) — damage is
/// reported as findings.
pub fn check_database(config: &Config) -> Result<CheckReport> {
    let mut report = CheckReport {
        encrypted: config.encryption.is_some(),
        ..CheckReport::default()
    };
    let mut store_config = config.store_config();
    store_config.mode = StorageMode::Persistent;
    let mut store = match Store::open(&store_config) {
        Ok(store) => store,
        Err(err) => return storage_finding(report, err),
    };
    report.recovered_on_open = store.recovered_on_open();
    // Opening replayed the log after the last checkpoint, verifying every record it read
    // (damage would have failed the open, below); what was logged since is verified here.
    report.log_records_replayed = store.log_records_replayed();
    if let Err(err) = store.verify_wal() {
        return storage_finding(report, err);
    }
    for block in store.verify_blocks()? {
        report.add(Finding::TamperedBlock { block });
    }
    for slot in store.damaged_header_copies()? {
        report.add(Finding::DamagedHeaderCopy { slot });
    }
    match store.check_integrity() {
        Ok(true) => {}
        Ok(false) => report.add(Finding::StorageChecksum {
            detail: "pages failed their checksums and were repaired or dropped".to_string(),
        }),
        Err(err) => return storage_finding(report, err),
    }
    let snapshot = match store.snapshot() {
        Ok(snapshot) => snapshot,
        Err(err) => return storage_finding(report, err),
    };
    if let Err(err) = check_logical(&snapshot, config, &mut report) {
        report.add(Finding::Unreadable {
            detail: err.to_string(),
        });
    }
    Ok(report)
}

/// Turns a storage failure into a finding when it is damage, or an error when it is not.
fn storage_finding(mut report: CheckReport, err: StorageError) -> Result<CheckReport> {
    match err {
        StorageError::Tampered { block } => report.add(Finding::TamperedBlock { block }),
        StorageError::WalCorrupt {
            segment,
            offset,
            detail,
        } => report.add(Finding::DamagedLog {
            segment: segment.display().to_string(),
            offset,
            detail,
        }),
        StorageError::Corrupted { detail } | StorageError::UnsupportedFormat { detail } => {
            report.add(Finding::StorageChecksum { detail })
        }
        StorageError::Engine { detail, .. } | StorageError::IoFailed { detail } => {
            report.add(Finding::Unreadable { detail })
        }
        other => return Err(other.into()),
    }
    Ok(report)
}

fn check_logical(snapshot: &Snapshot, config: &Config, report: &mut CheckReport) -> Result<()> {
    let codecs = Codecs::new(config.compression, HashMap::new());
    let layout = match snapshot.table(crate::layout::META_TABLE)? {
        Some(meta) => meta.get(crate::layout::MetaKey::LAYOUT_VERSION)?,
        None => None,
    };
    codecs.set_packed(
        layout.as_deref().and_then(crate::layout::read_u32) == Some(crate::layout::LAYOUT_VERSION),
    );
    if let Some(dicts) = snapshot.table(DICTIONARY_TABLE)? {
        for entry in dicts.range(Bound::Unbounded, Bound::Unbounded)? {
            let entry = entry?;
            match crate::dictionary::decode_entry(entry.key(), entry.value()) {
                Ok((id, dict)) => codecs.install(id, dict),
                Err(err) => report.add(Finding::BadDictionary {
                    detail: err.to_string(),
                }),
            }
        }
    }
    let metas = catalog(snapshot, report)?;
    for meta in metas.values() {
        report.collections += 1;
        check_documents(snapshot, &codecs, meta, report)?;
    }
    check_routing(snapshot, &codecs, &metas, report)?;
    check_changelog(snapshot, &codecs, report)
}

fn catalog(snapshot: &Snapshot, report: &mut CheckReport) -> Result<HashMap<u32, CollectionMeta>> {
    let mut metas = HashMap::new();
    if let Some(catalog) = snapshot.table(CATALOG_TABLE)? {
        for entry in catalog.range(Bound::Unbounded, Bound::Unbounded)? {
            let entry = entry?;
            match CollectionMeta::decode(entry.value()) {
                Ok(meta) => {
                    metas.insert(meta.id, meta);
                }
                Err(err) => report.add(Finding::BadCatalogEntry {
                    name: String::from_utf8_lossy(entry.key()).into_owned(),
                    detail: err.to_string(),
                }),
            }
        }
    }
    Ok(metas)
}

fn check_documents(
    snapshot: &Snapshot,
    codecs: &Codecs,
    meta: &CollectionMeta,
    report: &mut CheckReport,
) -> Result<()> {
    let table = docs_table(meta.id);
    let Some(docs) = snapshot.table(&table)? else {
        return Ok(());
    };
    let routing = snapshot.table(ROUTING_TABLE)?;
    if codecs.packed() {
        return check_runs(codecs, meta, &table, &docs, routing.as_ref(), report);
    }
    for entry in docs.range(Bound::Unbounded, Bound::Unbounded)? {
        let entry = entry?;
        check_record(
            codecs,
            meta,
            entry.key(),
            entry.value(),
            routing.as_ref(),
            report,
        )?;
    }
    Ok(())
}

/// [`check_documents`] for a table of packed runs: every run must decode (else its first
/// document is reported), every record in it is checked, and the stored count must match.
fn check_runs(
    codecs: &Codecs,
    meta: &CollectionMeta,
    table: &str,
    docs: &TableReader,
    routing: Option<&TableReader>,
    report: &mut CheckReport,
) -> Result<()> {
    let mut found = 0u64;
    for entry in docs.range(Bound::Excluded(crate::packed::COUNT_KEY), Bound::Unbounded)? {
        let entry = entry?;
        match crate::packed::Run::decode(codecs, table, entry.value()) {
            Ok(run) => {
                for i in 0..run.len() {
                    found += 1;
                    check_record(codecs, meta, run.key(i), run.record(i), routing, report)?;
                }
            }
            Err(err) => report.add(Finding::BadRecord {
                collection: meta.name.clone(),
                id: DocId::decode_key(entry.key())
                    .map_or_else(|_| hex(entry.key()), |id| id.to_string()),
                detail: format!("the packed run starting here does not decode: {err}"),
            }),
        }
    }
    let counted = crate::packed::document_count(docs)?;
    if counted != found {
        report.add(Finding::BadRecord {
            collection: meta.name.clone(),
            id: "(document count)".to_string(),
            detail: format!("the stored count says {counted} documents, the runs hold {found}"),
        });
    }
    Ok(())
}

/// Checks one stored record: its key, checksum, `_id` and routing entry.
fn check_record(
    codecs: &Codecs,
    meta: &CollectionMeta,
    key: &[u8],
    record: &[u8],
    routing: Option<&TableReader>,
    report: &mut CheckReport,
) -> Result<()> {
    let collection = || meta.name.clone();
    {
        report.documents += 1;
        let Ok(id) = DocId::decode_key(key) else {
            report.add(Finding::BadDocumentKey {
                collection: collection(),
                key_hex: hex(key),
            });
            return Ok(());
        };
        let at = RecordAt {
            collection: &meta.name,
            key,
        };
        match decode_record(codecs, at, record) {
            Ok(doc) => {
                let found = doc.as_object().and_then(|o| o.get("_id")).cloned();
                if found.as_ref() != Some(&id.to_value()) {
                    report.add(Finding::IdMismatch {
                        collection: collection(),
                        id: id.to_string(),
                        found: found.map_or("nothing".to_string(), |v| v.to_json_string()),
                    });
                }
            }
            Err(err) => report.add(Finding::BadRecord {
                collection: collection(),
                id: id.to_string(),
                detail: err.to_string(),
            }),
        }
        // Only a routed collection's documents have entries; an unrouted one's stray entries
        // are reported by `check_routing`.
        let routed = match routing {
            _ if !meta.routing => true,
            Some(routing) => routing.get(&routing_key(key, meta.id))?.is_some(),
            None => false,
        };
        if !routed {
            report.add(Finding::MissingRouting {
                collection: collection(),
                id: id.to_string(),
            });
        }
    }
    Ok(())
}

fn check_routing(
    snapshot: &Snapshot,
    codecs: &Codecs,
    metas: &HashMap<u32, CollectionMeta>,
    report: &mut CheckReport,
) -> Result<()> {
    let Some(routing) = snapshot.table(ROUTING_TABLE)? else {
        return Ok(());
    };
    // Collections being reclaimed after a drop keep their documents table until each routing
    // entry is gone with its record (`reclaim.rs`): their entries must still point to records.
    let mut reclaiming = std::collections::HashSet::new();
    if let Some(marks) = snapshot.table(RECLAIM_TABLE)? {
        for entry in marks.range(Bound::Unbounded, Bound::Unbounded)? {
            if let Ok(id) = <[u8; 4]>::try_from(entry?.key()) {
                reclaiming.insert(u32::from_be_bytes(id));
            }
        }
    }
    let mut tables = HashMap::new();
    for entry in routing.range(Bound::Unbounded, Bound::Unbounded)? {
        let entry = entry?;
        let key = entry.key();
        let split = key.len().saturating_sub(4);
        let (doc_key, id_bytes) = key.split_at(split);
        let collection_id = id_bytes
            .try_into()
            .map(u32::from_be_bytes)
            .unwrap_or(u32::MAX);
        let id = DocId::decode_key(doc_key).map_or_else(|_| hex(doc_key), |id| id.to_string());
        if let Some(meta) = metas.get(&collection_id).filter(|meta| !meta.routing) {
            report.add(Finding::UnexpectedRouting {
                collection: meta.name.clone(),
                id,
            });
            continue;
        }
        let docs = match tables.entry(collection_id) {
            std::collections::hash_map::Entry::Occupied(found) => found.into_mut(),
            std::collections::hash_map::Entry::Vacant(slot) => {
                let known =
                    metas.contains_key(&collection_id) || reclaiming.contains(&collection_id);
                let table = match known {
                    true => snapshot.table(&docs_table(collection_id))?,
                    false => None,
                };
                slot.insert(table)
            }
        };
        let table = docs_table(collection_id);
        let present = match docs {
            // A run that does not decode is reported with the documents; its keys count as
            // present here, so one damaged run is not also a list of dangling entries.
            Some(docs) => crate::packed::get_any(docs, codecs, &table, doc_key, |_| ())
                .map_or(true, |found| found.is_some()),
            None => false,
        };
        if !present {
            report.add(Finding::DanglingRouting { collection_id, id });
        }
    }
    Ok(())
}

fn check_changelog(snapshot: &Snapshot, codecs: &Codecs, report: &mut CheckReport) -> Result<()> {
    let Some(log) = snapshot.table(CHANGELOG_TABLE)? else {
        return Ok(());
    };
    let mut previous: Option<(u64, u32)> = None;
    // Elided documents are resolved (and their versions checked) like every reader does.
    let mut resolver = crate::elided::Resolver::new(snapshot, codecs);
    for entry in log.range(Bound::Unbounded, Bound::Unbounded)? {
        let entry = entry?;
        report.changes += 1;
        let Some((seq, index)) = parse_changelog_key(entry.key()) else {
            report.add(Finding::BadChange {
                seq: 0,
                index: 0,
                detail: format!("malformed key {}", hex(entry.key())),
            });
            continue;
        };
        match previous {
            // Retention trims whole entries from the front, so the first commit may start
            // part-way through; after that every commit starts at record 0.
            None => {}
            Some((prev_seq, prev_index)) if prev_seq == seq && index != prev_index + 1 => {
                report.add(Finding::ChangeLogIndexGap {
                    seq,
                    expected: prev_index + 1,
                    found: index,
                });
            }
            Some((prev_seq, _)) if prev_seq != seq && (seq != prev_seq + 1 || index != 0) => {
                if seq != prev_seq + 1 {
                    report.add(Finding::ChangeLogGap {
                        after_seq: prev_seq,
                        next_seq: seq,
                    });
                } else {
                    report.add(Finding::ChangeLogIndexGap {
                        seq,
                        expected: 0,
                        found: index,
                    });
                }
            }
            Some(_) => {}
        }
        previous = Some((seq, index));
        if let Err(err) = resolver.decode(seq, index, entry.value()) {
            report.add(Finding::BadChange {
                seq,
                index,
                detail: err.to_string(),
            });
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
