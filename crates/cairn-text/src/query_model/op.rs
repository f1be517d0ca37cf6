//! `$text`: the documents a full-text query matches, best BM25 score first.
//!
//! ```text
//! {"$text": {"query": "hydrogen -oxygen \"heavy water\" hyd* helium~1 title:fuel",
//!            "k": 20, "index": "by_text", "language": "english",
//!            "scoreField": "_score", "snippets": true}}
//! ```
//!
//! A document-level condition (written at the top of the filter, held on `_id`: see
//! `cairn_query::DOCUMENT_LEVEL_PATH`). The query string is `cairn_text::query`'s (bare terms
//! OR, `AND`/`OR`/`NOT`, `+`/`-`, quoted phrases, `pre*`, `term~1|2`, `field:`). It selects
//! the `k` best-scoring matching documents (default [`DEFAULT_TEXT_K`], ties by `_id`) among
//! those matching the rest of the filter, best first (unless a sort is given), each score
//! written into `scoreField` (default `_score`). `index` names the text index when the
//! collection has several (`language` picks it by language instead). With `snippets: true`
//! each result gets a `_snippets` object: per indexed field whose text a query word matched,
//! the words around the first match with matches in `<b>…</b>`.

use std::any::Any;

use cairn_doc::Value;
use cairn_query::access::{operand_options, FieldOperator, Ranking};
use cairn_query::{QueryError, Result};

use crate::analyzer::Language;
use crate::limits::{DEFAULT_TEXT_K, MAX_TOP_K};

/// Default name of the field `$text` writes each result's score into.
pub const DEFAULT_SCORE_FIELD: &str = "_score";
/// The field `$text` writes snippets into (when asked for).
pub const SNIPPETS_FIELD: &str = "_snippets";

/// A parsed `$text`.
#[derive(Debug, Clone)]
pub struct TextOp {
    /// The query string (checked to parse).
    pub query: String,
    /// The text index to use, by name.
    pub index: Option<String>,
    /// The text index to use, by language.
    pub language: Option<Language>,
    /// Whether results carry highlighted snippets.
    pub snippets: bool,
    /// How many, and where each result's score is written.
    pub ranking: Ranking,
}

impl FieldOperator for TextOp {
    fn name(&self) -> &str {
        "$text"
    }

    /// True: whether a document matches is the text index's to decide (its postings, in the
    /// query's snapshot); the value offered is the document's `_id`.
    fn holds(&self, _: &Value) -> bool {
        true
    }

    fn ranking(&self) -> Option<&Ranking> {
        Some(&self.ranking)
    }

    /// Ranks are negated scores (smaller is better); results show the score.
    fn shown_rank(&self, rank: f64) -> f64 {
        -rank
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Parses the operand of `$text`; `None` when `key` is another operator.
pub fn parse(key: &str, operand: &Value, place: &str) -> Option<Result<TextOp>> {
    (key == "$text").then(|| parse_text(operand, place))
}

const OPTIONS: &[&str] = &["query", "k", "index", "language", "scoreField", "snippets"];

fn parse_text(operand: &Value, place: &str) -> Result<TextOp> {
    let invalid = |reason: String| QueryError::invalid(place, reason);
    let o = operand_options(operand, "$text", OPTIONS, place)?;
    let query = match o.get("query") {
        Some(Value::String(text)) => text.clone(),
        _ => return Err(invalid("`query` must be a string".to_string())),
    };
    crate::query::parse(&query).map_err(|err| invalid(err.to_string()))?;
    let k = match o.get("k") {
        None => DEFAULT_TEXT_K,
        Some(Value::Int(k)) if *k >= 1 && (*k as u64) <= MAX_TOP_K as u64 => *k as usize,
        Some(_) => {
            return Err(invalid(format!(
                "`k` must be an integer from 1 to {MAX_TOP_K}"
            )))
        }
    };
    let index = match o.get("index") {
        None => None,
        Some(Value::String(name)) => Some(name.clone()),
        Some(_) => return Err(invalid("`index` must be an index name".to_string())),
    };
    let language = match o.get("language") {
        None => None,
        Some(Value::String(name)) => Some(
            Language::parse(name).ok_or_else(|| invalid(format!("unknown language `{name}`")))?,
        ),
        Some(_) => return Err(invalid("`language` must be a language name".to_string())),
    };
    let snippets = match o.get("snippets") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("`snippets` must be true or false".to_string())),
    };
    let output_field = match o.get("scoreField") {
        None => DEFAULT_SCORE_FIELD.to_string(),
        Some(Value::String(name)) => {
            cairn_doc::check_field_name(name)
                .map_err(|err| invalid(format!("`scoreField`: {err}")))?;
            name.clone()
        }
        Some(_) => return Err(invalid("`scoreField` must be a field name".to_string())),
    };
    Ok(TextOp {
        query,
        index,
        language,
        snippets,
        ranking: Ranking { k, output_field },
    })
}
