//! Cairn's full-text index: a transactional inverted index with BM25 ranking.
//!
//! # Why posting lists live in Cairn's own tables
//!
//! A search library keeps its own segments and makes a write visible only after its own
//! commit and reader reload; keeping it consistent with the database needs a change-log
//! replay after every crash and still lags behind commits. Here the index is an extension of
//! its collection (see `cairn_engine::extension`): the engine calls the write hook (`maintain.rs`) on every
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
//! concurrent writers is in `layout.rs`.
//!
//! * `analyzer.rs`: tokenizer, lowercase, stop words, stemming, ASCII folding, edge n-grams.
//! * `spec.rs`: index definitions (fields, boosts, language, n-grams).
//! * `layout.rs`: table and key layout, value encodings, striped statistics.
//! * `maintain.rs`: the write hook; `build.rs`: online builds, `verify`.
//! * [`query`]: the query string language; `search.rs`: BM25 top-k with MaxScore pruning;
//!   `snippet.rs`: highlighted fragments.
//! * `query_model/`: `$text` as an operator and access method of `cairn-query`'s seam,
//!   registered by the facade through [`register_query_model`].
//!
//! # Surface
//!
//! The items re-exported below, plus two public namespaces: [`query`] (the query string
//! language: its parser and syntax tree, whose `Query` would read ambiguously at the crate
//! root) and [`limits`] (the named bounds, so callers can quote them). Every other module is
//! private.

mod analyzer;
mod build;
mod error;
mod layout;
pub mod limits;
mod maintain;
pub mod query;
mod query_model;
mod search;
mod snippet;
mod spec;
mod topk;

pub use analyzer::{Analyzer, Language, Token};
pub use build::{
    create_text_index, drop_text_index, list_text_indexes, resume_text_builds, verify_text_index,
    BuildProgress, TextInfo, TextVerification,
};
pub use error::{Result, TextError};
pub use layout::{doc_terms, stats_stripe, term_stripe, DocTerms};
pub use maintain::{text_index, TextExtension, TextExtensionKind, TEXT_KIND};
pub use query_model::{register_query_model, TextOp, DEFAULT_SCORE_FIELD, SNIPPETS_FIELD};
pub use search::{search, Explain, Hit, SearchResult, B, K1};
pub use spec::{TextField, TextSpec};
