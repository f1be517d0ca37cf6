//! Bounds of the `cairn` commands (import, export, shell); each says why its value. The
//! benchmarks' own bounds are in `bench/limits.rs`.

/// Lines of history kept: 1,000 (`rustyline`'s own default), enough for a working session.
pub(crate) const MAX_HISTORY_LINES: usize = 1_000;

/// Longest document text accepted from an import file: 64 MiB. JSON text of a document at the
/// document limit (16 MiB encoded) can be a few times longer; anything beyond this is refused
/// instead of buffered.
pub const MAX_IMPORT_ELEMENT_BYTES: usize = 64 << 20;

/// Columns an export or import handles at most: 4,096. A wider table is almost certainly
/// nested data flattened by accident; refusing it beats writing an unreadable file.
pub const MAX_CSV_COLUMNS: usize = 4_096;

/// Points one `cairn series append` transaction takes at most (`--batch`): the library's own
/// per-append limit, so a batch is never split behind the caller's back.
pub const MAX_SERIES_APPEND_BATCH: usize = cairn::timeseries::limits::MAX_POINTS_PER_APPEND;
