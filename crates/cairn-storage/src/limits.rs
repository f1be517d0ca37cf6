//! Every bound the storage layer enforces, in one place; each says why its value.

/// Data keys a keyring holds at most: the active one and, during a rotation, the one being
/// retired.
pub const MAX_DATA_KEYS: usize = 2;

/// Highest data-key id: block slots carry the id in 16 bits, so a database can be rotated to a
/// new data key 65,535 times.
pub const MAX_DATA_KEY_ID: u32 = u16::MAX as u32;

/// Tables one shared snapshot keeps open for its later users: 64. A query touches a handful
/// (change log, catalog, a collection's documents, its index tables); the bound only stops a
/// snapshot that walks every table (a backup, a verify) from holding them all. Tables past the
/// bound are opened per call, as without the cache.
pub const MAX_OPEN_TABLES_PER_SNAPSHOT: usize = 64;

/// Bytes of one write-ahead log record's body at most: 2 GiB. A record is one storage commit
/// (one group commit of the engine, itself bounded far lower); the bound lets a scan reject
/// a damaged length field without trying to read gigabytes, and keeps lengths in 32 bits.
pub const MAX_WAL_RECORD_BYTES: u64 = 2 * 1024 * 1024 * 1024;
