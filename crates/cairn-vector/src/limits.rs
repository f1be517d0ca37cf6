//! Every bound and default of the vector index, with why it is what it is.

/// Largest dimension an index accepts: the document model's own bound on vectors.
pub const MAX_DIMS: usize = cairn_doc::limits::MAX_VECTOR_DIM;

/// Default `M`, the neighbours a node keeps per layer above 0 (layer 0 keeps `2·M`): 16, the
/// value hnswlib, FAISS and pgvector default to; recall ≥ 0.95 at moderate `ef` for
/// embeddings up to a few hundred dimensions.
pub const DEFAULT_M: usize = 16;

/// Smallest `M`: below 2 the graph degenerates into lists and the level distribution
/// (`1/ln M`) is undefined.
pub const MIN_M: usize = 2;

/// Largest `M`: 128. Larger lists make every insert rewrite very long neighbour records for
/// no recall gain at the dimensions we serve.
pub const MAX_M: usize = 128;

/// Default `ef_construction`, the candidate list of an insert: 128, between hnswlib's 200 and
/// pgvector's 64 — a graph of good quality at half hnswlib's build cost.
pub const DEFAULT_EF_CONSTRUCTION: usize = 128;

/// Default `ef_search`, the candidate list of a search (raised to `k` when smaller): 64,
/// recall@10 around 0.95 on 128-d embeddings at `M = 16`.
pub const DEFAULT_EF_SEARCH: usize = 64;

/// Largest `ef` (construction or search) and largest `k`: 10,000. A search keeps `ef`
/// candidates in memory and reads at least as many nodes; beyond this an exact scan is the
/// better plan.
pub const MAX_EF: usize = 10_000;

/// Highest layer a node can be placed on. With `M ≥ 2` a level above 24 has probability
/// below 2⁻²⁴ per node; capping keeps a hostile key from producing an unbounded record.
pub const MAX_LEVEL: u8 = 24;

/// Most vector indexes on one collection (one per vector field): 8. Every write to the
/// collection updates each.
pub const MAX_VECTOR_INDEXES_PER_COLLECTION: usize = 8;

/// Documents inserted into the graph per transaction by an online build: 500. Each insert
/// writes its vector and rewrites about `2M` neighbour lists (tens of bytes per neighbour),
/// so a chunk buffers a few MiB at 768 dimensions, far inside the engine's
/// `MAX_TXN_WRITE_BYTES`, and each build commit stays short.
pub const BUILD_CHUNK_DOCS: usize = 500;

/// Largest index a build makes in memory (`bulk/`), estimated as documents × bytes per
/// vector (the vector, a full layer-0 list, the key): 4 GiB, 1M vectors of 768 dimensions
/// with room to spare on a machine sized for such a collection. A larger collection is built
/// by inserting [`BUILD_CHUNK_DOCS`] documents per transaction instead, much more slowly.
pub const BULK_BUILD_MAX_BYTES: u64 = 4 << 30;

/// Bytes of node records (vectors and neighbour lists) a bulk build writes per transaction:
/// 16 MiB, about 25,000 nodes at 128 dimensions. Far inside the engine's
/// `MAX_TXN_WRITE_BYTES`, and a commit stays short, so the writes that go on meanwhile wait
/// little for the commit path.
pub const BULK_WRITE_BATCH_BYTES: usize = 16 << 20;

/// Documents written during a bulk build applied per catch-up transaction: 500, as
/// [`BUILD_CHUNK_DOCS`] (each is an ordinary transactional insert or delete).
pub const CATCH_UP_CHUNK_KEYS: usize = 500;

const _: () = assert!(MIN_M <= DEFAULT_M && DEFAULT_M <= MAX_M);
const _: () = assert!(DEFAULT_EF_SEARCH <= MAX_EF && DEFAULT_EF_CONSTRUCTION <= MAX_EF);

/// Read-only searches of one index content (stamp) served from the tables before it is
/// loaded into memory (`resident/`): 8. A content written and read once is never loaded; one
/// that keeps being searched is loaded after a handful of queries.
pub const RESIDENT_AFTER_SEARCHES: u32 = 8;

/// Most resident images kept at once (oldest dropped): 4, a few indexes (or a few contents
/// of one while writes come in).
pub const MAX_RESIDENT_IMAGES: usize = 4;

/// Largest resident image: 2 GiB. 1M vectors of 128 dimensions take about 0.65 GiB with
/// their links; a larger index stays on the tables.
pub const MAX_RESIDENT_BYTES: usize = 2 << 30;
