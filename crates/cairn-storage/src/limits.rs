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
