//! Cairn's full-text index: a transactional inverted index with BM25 ranking.
//!
//! # Why posting lists live in Cairn's own tables
//!
//! A search library keeps its own segments and makes a write visible only after its own
//! commit and reader reload; keeping it consistent with the database needs a change-log
//! replay after every crash and still lags behind commits. Here the index is an extension of
//! its collection (see `cairn_engine::extension`): the engine calls [`maintain`] on every
//! document write *inside the writing transaction*, and the postings, the per-document field
//! lengths and the collection statistics are written to the extension's tables in that same
//! transaction. So, by construction:
//!
//! * a document is found by the first search that starts after its commit (no refresh);
//! * a deleted document is never found again;
//! * a transaction searching its own collection sees its own pending writes;
//! * an aborted transaction leaves no trace in the index;
//! * a SIGKILL loses nothing and needs no rebuild: the index is exactly as durable as the
//!   documents, committed with them through redb.
//!
//! A search reads one snapshot (one [`cairn_engine::Transaction`]), so the statistics BM25
//! uses (document count, field lengths, document frequencies) are exactly those of the
//! documents the search can see. The table layout and why it avoids hot keys between
//! concurrent writers is in [`layout`].
//!
//! * [`analyzer`]: tokenizer, lowercase, stop words, stemming, ASCII folding, edge n-grams.
//! * [`spec`]: index definitions (fields, boosts, language, n-grams).
//! * [`layout`]: table and key layout, value encodings, striped statistics.
//! * [`maintain`]: the write hook; [`build`]: online builds, `verify`.
//! * [`query`]: the query string language; [`search`]: BM25 top-k with MaxScore pruning.

pub mod analyzer;
mod error;
pub mod limits;
pub mod spec;

pub use analyzer::{Analyzer, Language, Token};
pub use error::{Result, TextError};
pub use spec::{TextField, TextSpec};
pub mod build;
pub mod layout;
pub mod maintain;

pub use build::{
    create_text_index, drop_text_index, list_text_indexes, resume_text_builds, verify_text_index,
    BuildProgress, TextInfo, TextVerification,
};
pub use maintain::{text_index, TextExtension, TextExtensionKind, TEXT_KIND};
pub mod query;
pub mod query_model;
pub mod search;
mod topk;

pub use search::{search, Explain, Hit, SearchResult, B, K1};
pub mod snippet;
