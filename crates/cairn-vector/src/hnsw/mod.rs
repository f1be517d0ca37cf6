//! The HNSW graph (Malkov & Yashunin, 2016), kept in the index's tables (`store.rs`) and
//! changed only inside the transaction that changes the documents.
//!
//! * `nodes.rs`: a per-operation view of the stored nodes, caching what it decoded.
//! * `layer.rs`: the two building blocks — the best-first search of one layer (with an
//!   optional filter applied during the traversal) and the neighbour-selection heuristic.
//! * `insert.rs`, `delete.rs`: changing the graph; `level.rs`: which layers a node is on.
//!
//! **Deletes repair, they do not tombstone.** Deleting a node removes its records and
//! rewrites the neighbour list of every neighbour that links back to it, choosing (with the
//! same heuristic as an insert) among that neighbour's remaining links and the deleted node's
//! links: the hole is bridged at once, so the graph's quality does not decay with churn and
//! no tombstones pile up for a later vacuum. Links are directed, so a node that links to the
//! deleted one without being linked from it keeps a dangling link; searches skip links to
//! nodes without a vector, and the next rewrite of that list (any insert or repair nearby)
//! drops it. Tombstones would keep every search walking dead nodes and need a background
//! rewrite pass that does not exist in a transactional setting (it would conflict with every
//! writer); repair costs a delete about as much as an insert, paid by the writer.
//!
//! If the deleted node was the entry point, its highest-level remaining neighbour becomes
//! the entry (or, with no neighbour left, the first node in key order).

pub(crate) mod delete;
pub(crate) mod insert;
pub(crate) mod layer;
pub(crate) mod level;
pub(crate) mod nodes;
