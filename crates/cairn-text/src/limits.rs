//! Limits of the text index. Each bounds something that would otherwise grow with input.

/// Fields one text index may cover (the field id is one byte of every posting key).
pub const MAX_TEXT_FIELDS: usize = 16;

/// Bytes of one token; longer tokens (base64 blobs, hashes) are dropped, as tantivy's
/// `RemoveLongFilter` does, so a key never carries an unbounded term.
pub const MAX_TOKEN_BYTES: usize = 64;

/// Tokens indexed per field of one document; the rest of a huge field is ignored, so one
/// write cannot produce an unbounded number of postings.
pub const MAX_TOKENS_PER_FIELD: usize = 100_000;

/// Longest edge n-gram an index may ask for.
pub const MAX_EDGE_NGRAM: usize = 20;

/// Stripes of the collection statistics (document count, total field lengths). A write
/// updates the stripe its document key hashes to, so two concurrent writers conflict on
/// them with probability 1/64 instead of always; a search sums the 64 stripes.
pub const STATS_STRIPES: u8 = 64;

/// Stripes of each term's dictionary entry (document frequency and score bounds), for the
/// same reason: concurrent writers sharing a common term rarely touch the same stripe.
pub const TERM_STRIPES: u8 = 8;

/// Bytes of a query string.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;

/// Clauses (terms, phrases, groups) in one query.
pub const MAX_QUERY_CLAUSES: usize = 256;

/// Nesting depth of parenthesised groups in a query.
pub const MAX_QUERY_DEPTH: usize = 16;

/// Dictionary terms one prefix or fuzzy clause may expand to (per field), the first in term
/// order; beyond that the clause is refused rather than reading unbounded posting lists.
pub const MAX_EXPANSIONS: usize = 128;

/// Largest edit distance a fuzzy term may ask for (`term~2`).
pub const MAX_FUZZY_DISTANCE: u8 = 2;

/// Results one search may return.
pub const MAX_TOP_K: usize = 10_000;

/// Postings a cursor reads per range scan: a seek within the block costs nothing, a seek
/// past it one B-tree descent.
pub const CURSOR_BLOCK: usize = 64;

/// Postings a cursor reads when it seeks past its block: a seek usually comes from a
/// candidate a non-essential term is probed for, where the next postings are seldom needed.
pub const CURSOR_SEEK_BLOCK: usize = 4;

/// Documents an online build indexes per transaction.
pub const BUILD_CHUNK_DOCUMENTS: usize = 1_000;

/// Findings `verify` reports, at most; the count of the rest is still given.
pub const MAX_VERIFY_FINDINGS: usize = 100;

/// `k` of a `$text` that gives none: 100 best documents, a few pages of a search box, small
/// enough for MaxScore to skip most postings of common terms.
pub const DEFAULT_TEXT_K: usize = 100;

/// Words in a `$text` snippet: 20, about one line of context around the first match.
pub const SNIPPET_WORDS: usize = 20;
