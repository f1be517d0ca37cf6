//! Limits of the graph layer; each is a named constant with the reason for its value.

use std::time::Duration;

/// Bytes of an edge collection's name. The vertex side of a registration is an extension of
/// the vertex collection named [`crate::VERTEX_EXTENSION_PREFIX`] + the edge collection's
/// name, and extension names share the engine's 128-byte name limit.
pub const MAX_EDGE_COLLECTION_NAME_BYTES: usize = 120;

/// Deepest traversal (hops from a start vertex). A traversal with path uniqueness can
/// enumerate exponentially many paths in its depth; the memory limit stops it anyway, but a
/// depth beyond this is nearly always a mistake (use a shortest path instead), so it is
/// refused up front with a clear error.
pub const MAX_TRAVERSAL_DEPTH: u32 = 64;

/// Start vertices of one traversal. Each is resolved and expanded; a longer list is a bulk
/// job, better split by the caller.
pub const MAX_START_VERTICES: usize = 10_000;

/// Edge collections one query walks at once. Each expansion scans every one of them, so the
/// cost of a hop grows with this.
pub const MAX_EDGE_COLLECTIONS_PER_QUERY: usize = 64;

/// Default wall-clock budget of one graph query: the same as the query layer's
/// (`cairn_query::limits::DEFAULT_TIME_BUDGET`), so a traversal cannot hold a snapshot (and
/// the pages it pins) longer than a `find` may.
pub const DEFAULT_TIME_BUDGET: Duration = Duration::from_secs(30);

/// Default memory limit of one graph query: what it keeps (visited vertices, the frontier,
/// the path arena and the results), estimated from key bytes plus per-entry overhead. Matches
/// the query layer's sort and group limits (256 MiB): one query must not take the process
/// down.
pub const DEFAULT_MEMORY_LIMIT_BYTES: usize = 256 * 1024 * 1024;

/// Expansions between two looks at the clock: reading it costs ~20 ns, an expansion a B-tree
/// descent (~1 µs), so checking every 64th keeps the overhead negligible and the overshoot of
/// the budget below a millisecond.
pub const BUDGET_CHECK_INTERVAL: u64 = 64;

/// Findings listed per edge collection by [`crate::verify_edges`]; the rest are counted.
pub const MAX_VERIFY_FINDINGS: usize = 100;

/// Estimated fixed bytes per remembered vertex or path node (hash-set slot, vector header,
/// parent link) added to its key bytes when charging the memory limit.
pub const NODE_OVERHEAD_BYTES: usize = 64;

/// Vertices one adjacency path of the query planner looks up at most (`{_from: {$in: [...]}}`
/// longer than this is left to other paths): the planner probes every vertex while planning,
/// so the list bounds that work. The query language's own `$in` limit is the same.
pub const MAX_ADJACENCY_PROBE_VERTICES: usize = 10_000;

/// Edge properties one edge collection may store in its adjacency index
/// ([`crate::EdgeOptions::properties`]). Each is copied into both entries of every edge, so
/// the index grows with them; a handful (a weight, a flag, a type) is what traversals narrow
/// and weigh by.
pub const MAX_STORED_PROPERTIES: usize = 8;

/// Bytes the stored properties of one edge may take (encoded). An edge whose declared values
/// are larger (a long text, an array) stores none, and queries read its document instead, so
/// adjacency entries stay small enough to keep a vertex's edges on few pages.
pub const MAX_STORED_PROPERTY_BYTES: usize = 256;
