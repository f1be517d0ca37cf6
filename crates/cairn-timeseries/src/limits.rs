//! Every limit of the time-series layer, with the reason for its value.

/// Points one chunk holds at most. A chunk is decoded and re-encoded whole when a point is
/// appended to it, so this bounds the work of one append; 1,024 points keep a gauge chunk
/// under a few KiB while the per-chunk header (about 40 bytes) costs well under 0.1 byte per
/// point.
pub const MAX_POINTS_PER_CHUNK: usize = 1024;

/// Series one collection holds at most. Series ids are `u32`; the limit keeps the "latest
/// point" table (one record per series, read whole by `latest`) bounded.
pub const MAX_SERIES_PER_COLLECTION: u32 = 1_000_000;

/// Bytes of an encoded series key (the meta field's value) at most: it prefixes nothing but
/// is stored twice (key to id and id to key), and long keys are almost always a mistake.
pub const MAX_SERIES_KEY_BYTES: usize = 1024;

/// Value fields one point carries at most (each a column of its chunk).
pub const MAX_FIELDS_PER_POINT: usize = 64;

/// Bytes of a field name at most.
pub const MAX_FIELD_NAME_BYTES: usize = 128;

/// Components of a vector value at most (a trajectory point of 17 joints × 3 is 51).
pub const MAX_VECTOR_DIM: usize = 1024;

/// Bytes of one string value at most: strings are dictionary-coded per chunk, so a chunk of
/// distinct long strings would otherwise grow without bound.
pub const MAX_STRING_BYTES: usize = 4096;

/// Points one `append` call takes at most; larger batches are split by the caller, which
/// keeps a transaction's write set bounded.
pub const MAX_POINTS_PER_APPEND: usize = 1_000_000;

/// Buckets one downsample may produce at most (a range divided by `every`), so a tiny
/// `every` over a long range is refused rather than allocating without bound.
pub const MAX_DOWNSAMPLE_BUCKETS: u64 = 1_000_000;

/// Points one range read returns at most.
pub const MAX_POINTS_PER_READ: usize = 10_000_000;

/// Columns one chunk may hold: each field may appear under every type.
pub const MAX_COLUMNS: usize = MAX_FIELDS_PER_POINT * 5;

/// Bytes one column's data may take: far above what `MAX_POINTS_PER_CHUNK` values encode to,
/// so a larger stored length means damage.
pub const MAX_COLUMN_BYTES: usize = 1 << 30;

/// Decimal digits the float codec's decimal path tries at most: beyond 10, `m` nears 2^53 for
/// ordinary magnitudes and Gorilla does as well.
pub const MAX_DECIMALS: u8 = 10;

/// Largest `|m|` the decimal path accepts: every integer up to 2^53 is an exact `f64`.
pub const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// Problems one verification report lists at most (the count of all is kept).
pub const MAX_REPORTED_PROBLEMS: usize = 100;
