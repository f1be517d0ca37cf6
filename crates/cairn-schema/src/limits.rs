//! The schema layer's limits. Each bounds work done on every write or memory held per schema.

/// Fields declared in one object of a schema (top level or nested): 1,024. Validation walks
/// every declared field of every write.
pub const MAX_FIELDS_PER_OBJECT: usize = 1_024;

/// Nesting of object/array/map types in a schema: 32, the same order as document nesting.
pub const MAX_SCHEMA_DEPTH: usize = 32;

/// Validation rules per schema: 64. Every rule is evaluated on every write.
pub const MAX_RULES: usize = 64;

/// Source length of one rule or transformation expression: 4 KiB.
pub const MAX_EXPR_SOURCE_BYTES: usize = 4 * 1024;

/// Syntax-tree nodes in one expression: 256. The language has no loops, recursion or
/// user functions, so evaluation visits each node at most once: this *is* the bound on a
/// rule's evaluation cost (plus string work bounded by [`MAX_EXPR_STRING_BYTES`]).
pub const MAX_EXPR_NODES: usize = 256;

/// Parenthesis / operator nesting in one expression: 32 (keeps the recursive parser's stack
/// small).
pub const MAX_EXPR_DEPTH: usize = 32;

/// Longest string an expression may build by concatenation: 64 KiB.
pub const MAX_EXPR_STRING_BYTES: usize = 64 * 1024;

/// Values in one `enum` constraint: 1,024.
pub const MAX_ENUM_VALUES: usize = 1_024;

/// Source length of one `pattern`: 1 KiB (and the compiled program is capped by
/// [`MAX_PATTERN_COMPILED_BYTES`]).
pub const MAX_PATTERN_BYTES: usize = 1_024;

/// Compiled size of one `pattern`: 1 MiB, so a hostile pattern cannot take the memory of a
/// huge automaton.
pub const MAX_PATTERN_COMPILED_BYTES: usize = 1024 * 1024;

/// Steps in one migration's transformation: 256.
pub const MAX_MIGRATION_STEPS: usize = 256;

/// Documents a migration rewrites per transaction: 256. Small enough that a chunk rarely
/// conflicts with concurrent writers (and is retried cheaply when it does), large enough to
/// amortise the commit.
pub const MIGRATION_CHUNK_DOCUMENTS: usize = 256;

/// Failure reasons a dry run lists (each with a count and sample ids): 32.
pub const MAX_DRY_RUN_REASONS: usize = 32;

/// Sample document ids a dry run keeps per failure reason: 5.
pub const MAX_DRY_RUN_SAMPLES: usize = 5;

/// Unique-field values a dry run remembers to find duplicates a transformation would create:
/// 1,000,000 (tens of MiB). Past it the dry run reports the check as incomplete.
pub const MAX_DRY_RUN_UNIQUE_VALUES: usize = 1_000_000;

/// Bytes of a schema file: 1 MiB.
pub const MAX_SCHEMA_FILE_BYTES: usize = 1024 * 1024;
