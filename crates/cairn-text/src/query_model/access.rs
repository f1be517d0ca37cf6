//! The text index as an access method: it ranks by `$text` (MaxScore top-k over its posting
//! lists, in the query's snapshot), and serves no condition by itself.
//!
//! **With other conditions.** The index ranks without knowing the rest of the filter, so the
//! search asks for the best `L` documents (first `L = 4k`), tests them best first against the
//! whole filter (`Fetcher::take`) and stops at `k` passing. If fewer pass and the search had
//! more to give, `L` grows fourfold (past [`MAX_TOP_K`]: every match). Because the `L` best
//! are exact (ties by `_id`, as ranks are), the `k` best passing among them are the `k` best
//! passing overall. Without other conditions the first search asks for `k` and fetches only
//! the results.

use cairn_doc::{FieldPath, Value};
use cairn_query::access::{
    AccessMethod, Fetcher, FieldOperator, Path, PlanContext, Ranked, RankedRow,
};
use cairn_query::{Filter, QueryError, Result, DOCUMENT_LEVEL_PATH};

use super::op::{TextOp, SNIPPETS_FIELD};
use crate::limits::{MAX_TOP_K, SNIPPET_WORDS};
use crate::search::{search, Explain};
use crate::snippet::snippet;
use crate::spec::TextSpec;

/// Growth of the number of results asked of the index when too few pass the filter.
const WIDEN: usize = 4;

/// One ready text index.
pub(crate) struct TextAccess {
    pub(crate) spec: TextSpec,
}

impl AccessMethod for TextAccess {
    fn name(&self) -> &str {
        &self.spec.name
    }

    /// None: a text index finds documents only as a ranking.
    fn paths(&self, _: &mut PlanContext<'_>, _: &[&Filter]) -> Result<Vec<Path>> {
        Ok(Vec::new())
    }

    fn ranks(&self, field: &FieldPath, op: &dyn FieldOperator) -> bool {
        field.to_string() == DOCUMENT_LEVEL_PATH && op.as_any().is::<TextOp>()
    }

    fn rank(
        &self,
        fetch: &mut Fetcher<'_, '_>,
        _: &FieldPath,
        op: &dyn FieldOperator,
        k: usize,
    ) -> Result<Ranked> {
        let Some(text) = op.as_any().downcast_ref::<TextOp>() else {
            return Err(QueryError::invalid(
                op.name(),
                "a text index ranks by `$text` only",
            ));
        };
        let filtered = fetch.filters_beyond_ranking();
        let mut want = if filtered { k.saturating_mul(WIDEN) } else { k };
        let mut total = Explain::default();
        let mut rounds = 0u32;
        let rows = loop {
            rounds += 1;
            let limit = (want < MAX_TOP_K).then_some(want);
            let cx = fetch.scan();
            let found = search(cx.txn, cx.collection, &self.spec.name, &text.query, limit)?;
            total.postings_read += found.explain.postings_read;
            total.documents_scored += found.explain.documents_scored;
            total.terms = found.explain.terms;
            total.pruned |= found.explain.pruned;
            let complete = limit.is_none_or(|l| found.hits.len() < l);
            let mut rows = Vec::with_capacity(k);
            for hit in found.hits {
                if rows.len() == k {
                    break;
                }
                if let Some(doc) = fetch.take(&hit.key)? {
                    rows.push(RankedRow {
                        rank: -hit.score,
                        key: hit.key,
                        doc,
                    });
                }
            }
            if rows.len() == k || complete {
                break rows;
            }
            want = want.saturating_mul(WIDEN);
        };
        let mut cx = fetch.scan();
        cx.count("text_postings_read", total.postings_read);
        cx.count("text_documents_scored", total.documents_scored);
        cx.count("text_terms", total.terms);
        let rows = if text.snippets {
            rows.into_iter()
                .map(|row| self.with_snippets(text, row))
                .collect::<Result<_>>()?
        } else {
            rows
        };
        Ok(Ranked {
            rows,
            description: format!(
                "text index `{}` ($text k={k}: BM25{}, {} round(s); {} postings read, {} \
                 documents scored)",
                self.spec.name,
                if total.pruned { ", MaxScore top-k" } else { "" },
                rounds,
                total.postings_read,
                total.documents_scored
            ),
        })
    }
}

impl TextAccess {
    /// Adds `_snippets` to a result: per indexed field whose text a query word matches, the
    /// words around the first match.
    fn with_snippets(&self, text: &TextOp, mut row: RankedRow) -> Result<RankedRow> {
        let analyzer = self.spec.analyzer();
        let mut snippets = cairn_doc::Object::new();
        for field in &self.spec.fields {
            let name = field.path.to_string();
            let mut reached = Vec::new();
            cairn_index::path_values::collect(&field.path, &row.doc, &mut reached);
            for value in reached {
                let texts: Vec<&str> = match value {
                    Value::String(s) => vec![s.as_str()],
                    Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                    _ => Vec::new(),
                };
                for t in texts {
                    if snippets.get(&name).is_some() {
                        break;
                    }
                    if let Some(s) = snippet(&analyzer, &text.query, &name, t, SNIPPET_WORDS)? {
                        snippets.insert(&name, Value::String(s));
                    }
                }
            }
        }
        if let Value::Object(doc) = &mut row.doc {
            doc.insert(SNIPPETS_FIELD, Value::Object(snippets));
        }
        Ok(row)
    }
}
