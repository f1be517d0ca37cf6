//! The one error type of this crate.
//!
//! Every variant names what was wrong and carries what a caller needs to fix it or report it: the
//! offending path, name or size, and the limit it broke. Variants are grouped by who usually acts on
//! them: document authors (rules and limits), operators (corrupt bytes), and API users (ids, paths,
//! patches).

/// Everything that can go wrong building, encoding, decoding, parsing or patching a document.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DocError {
    // ---- document rules and limits -------------------------------------------------------------
    /// The encoded document would exceed [`crate::limits::MAX_DOCUMENT_BYTES`].
    #[error("document is {size_bytes} bytes encoded; the limit is {limit_bytes}")]
    TooLarge {
        /// Encoded size reached (the encoder stops counting soon after passing the limit).
        size_bytes: usize,
        /// The limit that was exceeded.
        limit_bytes: usize,
    },
    /// Arrays and objects are nested deeper than [`crate::limits::MAX_NESTING_DEPTH`].
    #[error("document nests {depth} levels deep; the limit is {limit}")]
    TooDeep {
        /// Depth reached, counting the root object as 1.
        depth: usize,
        /// The limit that was exceeded.
        limit: usize,
    },
    /// A field name breaks the naming rules (see [`crate::check_field_name`]).
    #[error("invalid field name {name:?}: {reason}")]
    InvalidFieldName {
        /// The name as given (possibly long; it is the caller's own input).
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A float (or a vector component) is NaN or infinite; documents hold finite numbers only so
    /// that equality, ordering and JSON output stay well defined.
    #[error("field `{path}` holds a non-finite number (NaN or infinity)")]
    NonFiniteFloat {
        /// Dotted path of the offending value (empty for a bare value).
        path: String,
    },
    /// A date is outside 0000-01-01 ..= 9999-12-31, the range RFC 3339 text can express.
    #[error("field `{path}` holds a date {micros} µs from the epoch, outside years 0000..=9999")]
    DateTimeOutOfRange {
        /// Dotted path of the offending value (empty for a bare value).
        path: String,
        /// The date, in microseconds since the Unix epoch.
        micros: i64,
    },
    /// Text that should be an RFC 3339 date is not one.
    #[error("invalid date {text:?}: {reason}")]
    InvalidDateTime {
        /// The text as given.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A vector has more dimensions than [`crate::limits::MAX_VECTOR_DIM`].
    #[error("field `{path}` holds a vector of {dim} dimensions; the limit is {limit}")]
    VectorTooLarge {
        /// Dotted path of the offending value (empty for a bare value).
        path: String,
        /// Dimensions found.
        dim: usize,
        /// The limit that was exceeded.
        limit: usize,
    },
    /// A geometry breaks the geometry rules (see [`crate::Geometry::validate`]).
    #[error("invalid geometry{}: {defect}", at_path(path))]
    InvalidGeometry {
        /// Dotted path of the offending value (empty for a bare value).
        path: String,
        /// What is wrong with it.
        defect: crate::GeometryDefect,
    },
    /// A document's root is not an object.
    #[error("a document must be an object, found {found}")]
    RootNotObject {
        /// Type name of the root value.
        found: &'static str,
    },
    /// An object holds the same key twice (JSON parsers usually keep the last one silently).
    #[error("duplicate key {key:?} in an object")]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },

    // ---- bytes and text from outside -----------------------------------------------------------
    /// Encoded bytes are damaged or were not produced by this crate's encoder.
    #[error("corrupt document encoding at byte {offset}: {reason}")]
    Corrupt {
        /// Byte offset from the start of the encoding where the problem was found.
        offset: usize,
        /// What was wrong there.
        reason: &'static str,
    },
    /// The encoding starts with a version byte this build does not understand (written by a newer
    /// Cairn, or not a document at all).
    #[error(
        "document encoding version {found} is not supported (this build reads version {})",
        crate::ENCODING_VERSION
    )]
    UnsupportedVersion {
        /// The version byte found.
        found: u8,
    },
    /// JSON text is malformed or cannot be represented as a document value.
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line of the error (0 when unknown, e.g. at end of input).
        line: usize,
        /// 1-based column of the error (0 when unknown).
        column: usize,
        /// What the parser expected or found.
        message: String,
    },
    /// An extended-JSON wrapper such as `{"$date": ...}` has the wrong shape or an unusable value.
    #[error("invalid {wrapper} value: {reason}")]
    InvalidWrapper {
        /// The wrapper key, e.g. `$date`.
        wrapper: &'static str,
        /// What is wrong with its value.
        reason: String,
    },

    // ---- ids --------------------------------------------------------------------------------------
    /// A value of this type cannot be a document id (ids are integers, non-empty strings or UUIDs).
    #[error("a document id must be an integer, a non-empty string or a UUID, found {found_type}")]
    InvalidId {
        /// Type name of the value offered as an id.
        found_type: &'static str,
    },
    /// A string id is empty.
    #[error("a document id must not be the empty string")]
    EmptyId,
    /// An id's key encoding exceeds [`crate::limits::MAX_ID_BYTES`].
    #[error("document id is {size_bytes} bytes as a key; the limit is {limit_bytes}")]
    IdTooLong {
        /// Size of the encoded key.
        size_bytes: usize,
        /// The limit that was exceeded.
        limit_bytes: usize,
    },
    /// Key bytes do not decode to a document id.
    #[error("corrupt document id key: {reason}")]
    CorruptId {
        /// What was wrong with the bytes.
        reason: &'static str,
    },

    // ---- paths and patches ----------------------------------------------------------------------
    /// A field path is malformed.
    #[error("invalid field path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two operations of one patch touch the same field or one touches a parent of the other, so
    /// the result would depend on their order.
    #[error("patch paths `{first}` and `{second}` conflict: one contains the other")]
    PatchConflict {
        /// The path seen first.
        first: String,
        /// The path that overlaps it.
        second: String,
    },
    /// A patch operator found (or was given) a value of the wrong type.
    #[error("`{path}` must be {expected} for this operation, found {found}")]
    PatchTypeMismatch {
        /// Dotted path of the value (or the operator, when the patch itself is malformed).
        path: String,
        /// What the operation needs.
        expected: &'static str,
        /// Type name of what is there.
        found: &'static str,
    },
    /// A patch addresses an array element that does not exist.
    #[error("`{path}` addresses index {index} of an array of length {len}")]
    ArrayIndexOutOfRange {
        /// Dotted path of the element.
        path: String,
        /// The index asked for.
        index: usize,
        /// The array's length.
        len: usize,
    },
    /// `$inc` on two integers overflowed i64 (it does not wrap).
    #[error("`$inc` on `{path}` overflows a 64-bit integer")]
    IntegerOverflow {
        /// Dotted path of the field.
        path: String,
    },
    /// A patch names an operator this crate does not know.
    #[error("unknown patch operator {op:?} (known: $set, $unset, $inc, $push, $pull, $addToSet, $rename, $mul, $min, $max, $currentDate)")]
    UnknownOperator {
        /// The operator as given.
        op: String,
    },
    /// A patch tries to change `_id`, which identifies the document and never changes.
    #[error("a patch must not modify `_id`")]
    ImmutableId,
    /// A patch has more operations than [`crate::limits::MAX_PATCH_OPERATIONS`].
    #[error("patch has {count} operations; the limit is {limit}")]
    TooManyOperations {
        /// Operations in the patch.
        count: usize,
        /// The limit that was exceeded.
        limit: usize,
    },
}

impl DocError {
    /// Prefixes the path carried by a path-bearing variant with `segment`, as an error travels up
    /// out of a nested value; other variants pass through unchanged.
    ///
    /// Paths are built on the way out rather than tracked on the way in so that the common,
    /// successful case pays nothing for them.
    pub(crate) fn within(mut self, segment: &str) -> DocError {
        let path = match &mut self {
            DocError::NonFiniteFloat { path } => path,
            DocError::DateTimeOutOfRange { path, .. } => path,
            DocError::VectorTooLarge { path, .. } => path,
            DocError::InvalidGeometry { path, .. } => path,
            _ => return self,
        };
        *path = if path.is_empty() {
            segment.to_owned()
        } else {
            format!("{segment}.{path}")
        };
        self
    }
}

/// ` in field `a.b`` for a non-empty path, nothing for a bare value.
fn at_path(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!(" in field `{path}`")
    }
}

impl From<serde_json::Error> for DocError {
    fn from(e: serde_json::Error) -> DocError {
        // serde_json appends " at line L column C" to its message; the variant carries those as
        // fields, so strip the suffix rather than print the position twice.
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
        DocError::Json {
            line: e.line(),
            column: e.column(),
            message,
        }
    }
}
