//! Table names and key formats: how the engine lays its data out in storage tables.
//!
//! | table | key | value |
//! |---|---|---|
//! | `sys.meta` | setting name (ASCII) | setting value (see [`MetaKey`]) |
//! | `sys.catalog` | collection name (UTF-8) | [`crate::catalog::CollectionMeta`] encoded |
//! | `sys.routing` | document key ‖ collection id (u32 BE) | empty |
//! | `sys.changelog` | sequence (u64 BE) ‖ index in commit (u32 BE) | [`crate::changelog`] record |
//! | `sys.dicts` | dictionary id (u32 BE) | collection id ‖ documents at training ‖ zstd dictionary (`dictionary.rs`) |
//! | `sys.reclaim` | dropped collection id (u32 BE) | its name (UTF-8) (`reclaim.rs`) |
//! | `sys.retention` | collection id (u32 BE) | changes the collection keeps (u64 LE) (`retention.rs`) |
//! | `c{id}.log` | empty: kept-history state; else `sys.changelog`'s key | a trimmed record of the collection, as it was (`retention.rs`) |
//! | `c{id}.docs` | document key ([`cairn_doc::DocId::encode_key`]) | [`crate::record`] (layout 1) |
//! | `c{id}.docs` | first document key of a run; empty: the count | packed run (`packed.rs`, layout 2) |
//! | `c{id}.x.{ext}` | extension-defined | extension-defined |
//!
//! Nothing is rewritten on every commit besides the data and its change-log records: the last
//! sequence number is the change log's last key, and how far retention trimmed follows from its
//! first key (retention always keeps the newest commit).
//!
//! Collections are named by a numeric id that is never reused, so renaming is a catalog update
//! and dropping a collection deletes exactly the tables under its prefix.

/// Dropped collections whose documents' routing entries and records are still being deleted
/// (`reclaim.rs`); their `c{id}.docs` table lives until then.
pub const RECLAIM_TABLE: &str = "sys.reclaim";

/// Engine settings and counters.
pub const META_TABLE: &str = "sys.meta";
/// Per-collection change-log retention settings (`retention.rs`).
pub const RETENTION_TABLE: &str = "sys.retention";
/// Collection name → metadata.
pub const CATALOG_TABLE: &str = "sys.catalog";
/// Document id → collections holding it.
pub const ROUTING_TABLE: &str = "sys.routing";
/// The change log.
pub const CHANGELOG_TABLE: &str = "sys.changelog";
/// Trained compression dictionaries.
pub const DICTIONARY_TABLE: &str = "sys.dicts";

/// Keys of `sys.meta`.
pub struct MetaKey;

impl MetaKey {
    /// On-disk layout version (u32 LE); see [`LAYOUT_VERSION`].
    pub const LAYOUT_VERSION: &'static [u8] = b"layout_version";
    /// Next collection id to hand out (u32 LE).
    pub const NEXT_COLLECTION_ID: &'static [u8] = b"next_collection_id";
    /// Storage mode name the database was last opened with (UTF-8).
    pub const MODE: &'static [u8] = b"mode";
}

/// The system tables' names as shared strings, built once per database: transactions key their
/// read and write sets by `Arc<str>`, and the hot paths (every insert writes `sys.routing`,
/// every transaction reads `sys.changelog`) should clone a handle, not allocate a name.
pub(crate) struct SystemTables {
    pub(crate) catalog: std::sync::Arc<str>,
    pub(crate) routing: std::sync::Arc<str>,
    pub(crate) changelog: std::sync::Arc<str>,
    pub(crate) meta: std::sync::Arc<str>,
}

impl SystemTables {
    pub(crate) fn new() -> Self {
        SystemTables {
            catalog: CATALOG_TABLE.into(),
            routing: ROUTING_TABLE.into(),
            changelog: CHANGELOG_TABLE.into(),
            meta: META_TABLE.into(),
        }
    }
}

/// Version of the table layout described above. Bumped on any incompatible change; a database
/// with a version this build does not know is refused at open rather than misread.
/// Version 2 stores `c{id}.docs` as packed runs (`packed.rs`: key = a run's first document key,
/// plus the document count under the empty key); version 1, one record per document, stays
/// readable and writable: a database keeps the layout it was created with
/// (`Config::packed_runs` decides for a new one).
pub const LAYOUT_VERSION: u32 = 2;

/// The layout before packed runs: one record per document key.
pub const LAYOUT_VERSION_PER_RECORD: u32 = 1;

/// Whether `name` is a collection's documents table (`c{id}.docs`).
pub fn is_docs_table(name: &str) -> bool {
    name.strip_prefix('c')
        .and_then(|rest| rest.strip_suffix(".docs"))
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
}

/// Name of a collection's document table.
pub fn docs_table(collection_id: u32) -> String {
    format!("c{collection_id}.docs")
}

/// Name of a collection's kept history: its change-log records that retention trimmed from
/// `sys.changelog` while the collection's own retention still wants them (`retention.rs`).
pub fn kept_table(collection_id: u32) -> String {
    format!("c{collection_id}.log")
}

/// Prefix shared by every table of a collection, extensions included.
pub fn collection_table_prefix(collection_id: u32) -> String {
    format!("c{collection_id}.")
}

/// Prefix shared by every extension table of a collection (dropped at once with the
/// collection; its documents table is reclaimed in chunks, see `reclaim.rs`).
pub fn extension_tables_prefix(collection_id: u32) -> String {
    format!("c{collection_id}.x.")
}

/// Name of one of an extension's tables. `ext` is the extension's instance name and `table` a
/// name the extension chooses.
pub fn extension_table(collection_id: u32, ext: &str, table: &str) -> String {
    format!("c{collection_id}.x.{ext}.{table}")
}

/// Routing-index key: the document key, then the collection id.
pub fn routing_key(doc_key: &[u8], collection_id: u32) -> Vec<u8> {
    let mut key = Vec::with_capacity(doc_key.len() + 4);
    key.extend_from_slice(doc_key);
    key.extend_from_slice(&collection_id.to_be_bytes());
    key
}

/// Change-log key for the `index`-th change of commit `seq`.
pub fn changelog_key(seq: u64, index: u32) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[..8].copy_from_slice(&seq.to_be_bytes());
    key[8..].copy_from_slice(&index.to_be_bytes());
    key
}

/// Splits a change-log key into (sequence, index).
pub fn parse_changelog_key(key: &[u8]) -> Option<(u64, u32)> {
    let seq = u64::from_be_bytes(key.get(..8)?.try_into().ok()?);
    let index = u32::from_be_bytes(key.get(8..12)?.try_into().ok()?);
    (key.len() == 12).then_some((seq, index))
}

/// Reads a little-endian u32 setting.
pub fn read_u32(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changelog_keys_sort_by_sequence_then_index() {
        let a = changelog_key(1, 5);
        let b = changelog_key(2, 0);
        let c = changelog_key(2, 1);
        assert!(a < b && b < c);
        assert_eq!(parse_changelog_key(&c), Some((2, 1)));
        assert_eq!(parse_changelog_key(&c[..11]), None);
    }

    #[test]
    fn docs_tables_are_told_from_extension_tables() {
        assert!(is_docs_table(&docs_table(17)));
        assert!(!is_docs_table(&extension_table(17, "idx", "docs")));
        assert!(!is_docs_table("c.docs"));
        assert!(!is_docs_table("sys.routing"));
    }
}
