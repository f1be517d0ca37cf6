//! Cairn's vector model: distance kernels and a transactional HNSW index.
//!
//! Owns: the four metrics (`metric.rs`) and their SIMD kernels (`kernels.rs`); validation of
//! vectors written to an indexed field; the HNSW graph (`hnsw/`) stored in the extension's
//! own tables (`store.rs`, read first) and changed in the writing transaction
//! (`maintain.rs`); online builds (`admin.rs`, in memory and written once by `bulk/`);
//! searches, graph and exact (`search.rs`); and the check of an index against its documents (`verify.rs`).
//!
//! Knows nothing about: the server, SQL or the CLI; the planner knows nothing about it. Its
//! query side (`query/`: `$nearVector` as an operator and access method) implements
//! `cairn-query`'s seam and is registered by the facade through [`register_query_model`]; it
//! reaches an index through [`search`] / [`search_exact`] with a key filter it evaluates
//! itself. The engine reaches it through the `vector` [`VectorExtensionKind`].
//!
//! Surface: the items re-exported below and one public namespace, [`limits`] (the named
//! bounds, so callers can quote them); every module is private.
//!
//! Invariants: in every snapshot the graph holds exactly one node per document whose
//! indexed field holds a vector, with that vector (same transaction); no vector that fails
//! its metric's validation is ever stored; a filtered search returns `min(k, matches)`.

mod admin;
mod bulk;
mod error;
mod hnsw;
mod kernels;
mod layout;
pub mod limits;
mod maintain;
mod metric;
mod query;
mod resident;
mod search;
mod spec;
mod stamp;
mod store;
mod verify;

pub use admin::{
    create_vector_index, create_vector_index_chunked, drop_vector_index, list_vector_indexes,
    VectorInfo,
};
pub use error::{Result, VectorError};
pub use maintain::{document_vector, VectorExtension, VectorExtensionKind, VECTOR_KIND};
pub use metric::Metric;
pub use query::{register_query_model, NearVector, DEFAULT_DISTANCE_FIELD};
pub use resident::make_resident;
pub use search::{
    search, search_exact, vector_index, DocKey, Hit, KeyFilter, SearchOutcome, SearchStats,
};
pub use spec::{HnswParams, VectorSpec};
pub use verify::{verify, VerifyFinding, VerifyReport};
