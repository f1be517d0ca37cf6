//! Every bound this crate enforces, in one place.
//!
//! A limit that is not written down is a limit discovered in production. Each constant says why it
//! has its value; the encoder, the decoder, the JSON parser and patch application all check against
//! these and report a [`crate::DocError`] naming the limit when input exceeds it.

/// Largest encoded document, in bytes (16 MiB).
///
/// Large enough for any document a person would design (the same bound MongoDB chose for BSON),
/// small enough that one document can always be held in memory, copied into a record buffer and
/// shipped in a single replication message without streaming.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;

/// Deepest nesting of arrays and objects, counting the root object as depth 1.
///
/// The encoder, decoder, equality and patch code recurse once per level; 64 keeps that recursion
/// far from the smallest thread stacks while exceeding what real documents use (MongoDB allows 100,
/// JSON documents in the wild rarely pass 10).
pub const MAX_NESTING_DEPTH: usize = 64;

/// Longest encoded document id key ([`crate::DocId::encode_key`]), in bytes.
///
/// Ids are B-tree keys and are repeated in every secondary index entry; keeping them to 1 KiB keeps
/// several keys per page and index entries bounded.
pub const MAX_ID_BYTES: usize = 1024;

/// Longest field name, in UTF-8 bytes.
///
/// Field names are repeated in every document and index definition; anything longer than this is a
/// value mistakenly used as a key.
pub const MAX_FIELD_NAME_BYTES: usize = 1024;

/// Largest number of dimensions of a [`crate::Vector`].
///
/// Embedding models produce at most a few thousand dimensions; 65,536 leaves ample room while
/// bounding one vector at 256 KiB of floats.
pub const MAX_VECTOR_DIM: usize = 65_536;

/// Most vertices in one mesh [`crate::Geometry::Mesh`].
///
/// 262,144 vertices are 6 MiB of coordinates, well inside [`MAX_DOCUMENT_BYTES`] together with
/// their triangles; a finer surface belongs in several documents (parts of a model), which the
/// spatial index can then skip independently.
pub const MAX_MESH_VERTICES: usize = 262_144;

/// Most triangles in one mesh. A closed mesh has about twice as many triangles as vertices.
pub const MAX_MESH_TRIANGLES: usize = 2 * MAX_MESH_VERTICES;

/// Most segments in a [`crate::FieldPath`].
///
/// A path cannot usefully be longer than the deepest document it can address.
pub const MAX_PATH_SEGMENTS: usize = MAX_NESTING_DEPTH;

/// Most operations (one per path) in a single [`crate::Patch`].
///
/// Conflict detection compares every pair of paths, so this keeps it at about a million
/// comparisons in the worst case; real updates touch a handful of fields.
pub const MAX_PATCH_OPERATIONS: usize = 1024;

/// Earliest [`crate::DateTime`] a document may hold: 0000-01-01T00:00:00Z, in microseconds since
/// the Unix epoch.
///
/// RFC 3339 text (the JSON form of a date) has exactly four year digits, so this and
/// [`DATETIME_MAX_MICROS`] are the range that survives a JSON round trip.
pub const DATETIME_MIN_MICROS: i64 = -62_167_219_200_000_000;

/// Latest [`crate::DateTime`] a document may hold: 9999-12-31T23:59:59.999999Z, in microseconds
/// since the Unix epoch. See [`DATETIME_MIN_MICROS`].
pub const DATETIME_MAX_MICROS: i64 = 253_402_300_799_999_999;
