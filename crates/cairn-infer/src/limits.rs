//! Limits of schema inference; each is a named constant with the reason for its value.

/// Distinct field paths tracked per collection. A schemaless collection can hold unbounded
/// distinct keys (say, a map keyed by user id); past this many the statistics stop taking new
/// paths and say so (`truncated`), while the paths already tracked stay exact.
pub const MAX_INFERRED_FIELDS: usize = 1000;

/// Nesting levels inference descends into. Deeper values are recorded by type at this depth
/// (e.g. `object`) without their inner fields.
pub const MAX_INFER_DEPTH: usize = 8;

/// Changes read from the log per page while catching up.
pub const CHANGES_PER_PAGE: usize = 2000;

/// Attempts of a catch-up transaction that conflicts with another catch-up or a DDL change.
pub const MAX_CATCH_UP_ATTEMPTS: u32 = 8;

/// A catch-up that applied no change of its collection still stores its new position once it
/// moved this many commits, so a quiet collection in a busy database does not re-read an ever
/// longer stretch of the log on each look.
pub const SKIPPED_COMMITS_PERSIST: u64 = 1000;
