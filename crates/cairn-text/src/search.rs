//! Search: a query string against a text index in one snapshot, ranked by BM25.
//!
//! **Scoring.** A document's score for a term `t` in field `f` is Okapi BM25 as Lucene and
//! tantivy compute it, times the field's boost:
//!
//! ```text
//! boost_f · idf(t, f) · tf · (K1 + 1) / (tf + K1 · (1 − B + B · len_f / avglen_f))
//! idf(t, f) = ln(1 + (N − df + 0.5) / (df + 0.5))
//! ```
//!
//! with `N` the indexed documents, `df` those holding `t` in `f`, `len_f` the document's field
//! length in words and `avglen_f` its mean over indexed documents — all read from the
//! search's snapshot, so they are exact. A term without a field restriction scores in every
//! indexed field and the scores add up; prefix and fuzzy clauses add up the scores of the
//! dictionary terms they expand to; a phrase scores as its words do in each field where it
//! occurs; a boolean group adds up its matching clauses.
//!
//! **Top-k.** For a disjunction of terms, prefixes and fuzzy terms (the common search box
//! query) with a small `k`, [`crate::topk`] runs MaxScore: each term's score is bounded
//! from its dictionary entry, and documents that only low-bound terms contain are never
//! visited, nor are those terms' postings read except by seeking to a candidate. Other
//! queries are evaluated exhaustively. [`Explain`] counts postings read and documents scored.

use std::collections::HashMap;
use std::ops::Bound;

use cairn_doc::DocId;
use cairn_engine::Transaction;

use crate::analyzer::Analyzer;
use crate::error::{Result, TextError};
use crate::layout::{
    split_key, term_prefix, CollectionStats, Posting, TermStripe, POSTINGS_TABLE, STATS_TABLE,
    TERMS_TABLE,
};
use crate::limits::{MAX_EXPANSIONS, MAX_TOP_K};
use crate::maintain::{scan_all, text_index};
use crate::query::{parse, Leaf, LeafKind, Query};
use crate::spec::TextSpec;

/// BM25 term-frequency saturation: how quickly repeated occurrences stop adding score
/// (Lucene's and tantivy's default).
pub const K1: f64 = 1.2;
/// BM25 length normalisation: 0 ignores field length, 1 divides fully by it (the default of
/// Lucene and tantivy).
pub const B: f64 = 0.75;

/// One result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The document's id.
    pub id: DocId,
    /// The document's stored key (ties in score are ordered by it, i.e. by `_id`).
    pub key: Vec<u8>,
    /// BM25 score.
    pub score: f64,
}

/// How a search ran (for `explain`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Explain {
    /// Postings read from the index (range scans and seeks).
    pub postings_read: u64,
    /// Documents whose score was computed in full.
    pub documents_scored: u64,
    /// (field, term) pairs the query resolved to.
    pub terms: u64,
    /// Whether MaxScore top-k pruning was used.
    pub pruned: bool,
}

/// Results and how they were found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchResult {
    /// Matching documents, best first (ties by `_id`), at most `limit`.
    pub hits: Vec<Hit>,
    /// Counters.
    pub explain: Explain,
}

/// One (field, term) a query resolved to, with what scoring needs.
#[derive(Debug, Clone)]
pub(crate) struct Unit {
    pub(crate) field: u8,
    pub(crate) term: String,
    /// `boost · idf`.
    pub(crate) weight: f64,
    /// Upper bound of the unit's score in any document.
    pub(crate) bound: f64,
}

/// The scoring context of one search.
pub(crate) struct Scorer {
    pub(crate) avg_len: Vec<f64>,
}

impl Scorer {
    /// The score of a unit in a posting with frequency `tf` and field length `len`.
    pub(crate) fn score(&self, unit: &Unit, tf: u32, len: u32) -> f64 {
        unit.weight * self.tfn(unit.field, tf, len)
    }

    fn tfn(&self, field: u8, tf: u32, len: u32) -> f64 {
        let tf = f64::from(tf);
        let norm = 1.0 - B + B * f64::from(len) / self.avg_len[field as usize];
        tf * (K1 + 1.0) / (tf + K1 * norm)
    }
}

/// The BM25 inverse document frequency of a term held by `df` of `n` documents.
pub fn idf(n: u64, df: u64) -> f64 {
    let (n, df) = (n as f64, df as f64);
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

/// Mean field lengths from collection statistics (1 for a field with no words, which then
/// has no postings to score).
pub fn average_lengths(stats: &CollectionStats) -> Vec<f64> {
    stats
        .total_len
        .iter()
        .map(|&total| {
            if total == 0 || stats.docs == 0 {
                1.0
            } else {
                total as f64 / stats.docs as f64
            }
        })
        .collect()
}

/// A query with its leaves resolved against the dictionary.
pub(crate) enum Plan {
    /// Documents holding any of the units; the score is the sum over those they hold.
    Units(Vec<Unit>),
    /// A phrase: per field, its units in phrase order with their relative positions.
    Phrase(Vec<(Vec<Unit>, Vec<u32>)>),
    /// A boolean group.
    Bool {
        must: Vec<Plan>,
        should: Vec<Plan>,
        must_not: Vec<Plan>,
    },
    /// Matches nothing (terms absent from the index).
    Nothing,
    /// A leaf whose words are all stop words: dropped from its group (so `+the fox` finds
    /// what `fox` finds), matching nothing on its own.
    Ignored,
}

/// Searches the text index `index` of `collection` in `txn`'s snapshot (pending writes of
/// `txn` included). `limit` keeps the best `limit` hits (at most [`MAX_TOP_K`]); `None`
/// returns every match, ranked.
pub fn search(
    txn: &mut Transaction,
    collection: &str,
    index: &str,
    query: &str,
    limit: Option<usize>,
) -> Result<SearchResult> {
    let (spec, ready) = text_index(txn, collection, index)?;
    if !ready {
        return Err(TextError::NotReady {
            name: index.to_string(),
        });
    }
    let query = parse(query)?;
    let limit = limit.map(|k| k.min(MAX_TOP_K));
    let stats = collection_stats(txn, collection, index, spec.fields.len())?;
    let scorer = Scorer {
        avg_len: average_lengths(&stats),
    };
    let mut explain = Explain::default();
    let mut ctx = Resolver {
        txn,
        collection,
        index,
        spec: &spec,
        analyzer: spec.analyzer(),
        docs: stats.docs,
        scorer: &scorer,
        explain: &mut explain,
    };
    let plan = ctx.plan(&query)?;
    let mut hits = match (limit, crate::topk::flat_disjunction(&plan)) {
        (Some(k), Some((units, must_not))) => {
            ctx.explain.pruned = true;
            let mut excluded = HashMap::new();
            for plan in must_not {
                excluded.extend(ctx.evaluate(plan)?);
            }
            crate::topk::max_score(&mut ctx, units, &excluded, k)?
        }
        _ => {
            let matched = ctx.evaluate(&plan)?;
            ctx.explain.documents_scored += matched.len() as u64;
            let mut all: Vec<(Vec<u8>, f64)> = matched.into_iter().collect();
            all.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            all.truncate(limit.unwrap_or(usize::MAX));
            all
        }
    };
    let hits = hits
        .drain(..)
        .map(|(key, score)| {
            Ok(Hit {
                id: DocId::decode_key(&key)?,
                key,
                score,
            })
        })
        .collect::<Result<_>>()?;
    Ok(SearchResult { hits, explain })
}

/// The collection statistics in `txn`'s snapshot: the sum of all stripes.
pub fn collection_stats(
    txn: &mut Transaction,
    collection: &str,
    index: &str,
    fields: usize,
) -> Result<CollectionStats> {
    let mut total = CollectionStats::empty(fields);
    scan_all(txn, collection, index, STATS_TABLE, |_, value| {
        total.add(&CollectionStats::decode(value, fields)?);
        Ok(true)
    })?;
    Ok(total)
}

/// The end of the key range of everything starting with `prefix`.
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Resolves leaves against one snapshot and evaluates plans.
pub(crate) struct Resolver<'a, 't> {
    pub(crate) txn: &'t mut Transaction,
    pub(crate) collection: &'a str,
    pub(crate) index: &'a str,
    pub(crate) spec: &'a TextSpec,
    pub(crate) analyzer: Analyzer,
    pub(crate) docs: u64,
    pub(crate) scorer: &'a Scorer,
    pub(crate) explain: &'a mut Explain,
}

impl Resolver<'_, '_> {
    fn plan(&mut self, query: &Query) -> Result<Plan> {
        match query {
            Query::Leaf(leaf) => self.leaf(leaf),
            Query::Bool {
                must,
                should,
                must_not,
            } => {
                let mut plans = |list: &[Query]| -> Result<Vec<Plan>> {
                    let mut out = Vec::new();
                    for q in list {
                        out.push(self.plan(q)?);
                    }
                    Ok(out)
                };
                let kept = |list: Vec<Plan>| -> Vec<Plan> {
                    list.into_iter()
                        .filter(|p| !matches!(p, Plan::Ignored))
                        .collect()
                };
                let must = kept(plans(must)?);
                let should = kept(plans(should)?);
                let must_not = kept(plans(must_not)?);
                Ok(Plan::Bool {
                    must,
                    should,
                    must_not,
                })
            }
        }
    }

    fn fields(&self, leaf: &Leaf) -> Result<Vec<u8>> {
        match &leaf.field {
            None => Ok((0..self.spec.fields.len() as u8).collect()),
            Some(name) => match self.spec.field_id(name) {
                Some(id) => Ok(vec![id]),
                None => Err(TextError::InvalidQuery {
                    at: 0,
                    reason: format!("`{name}` is not a field of text index `{}`", self.spec.name),
                }),
            },
        }
    }

    fn leaf(&mut self, leaf: &Leaf) -> Result<Plan> {
        let fields = self.fields(leaf)?;
        match &leaf.kind {
            LeafKind::Term(word) => {
                let tokens = self.analyzer.analyze_query(word);
                if tokens.len() > 1 {
                    return self.phrase(&fields, word);
                }
                let Some(token) = tokens.first() else {
                    return Ok(Plan::Ignored);
                };
                let mut units = Vec::new();
                for field in fields {
                    if let Some(unit) = self.unit(field, &token.term)? {
                        units.push(unit);
                    }
                }
                Ok(units_plan(units))
            }
            LeafKind::Phrase(text) => self.phrase(&fields, text),
            LeafKind::Prefix(prefix) => {
                let prefix = self.analyzer.normalize(prefix);
                let mut units = Vec::new();
                for field in fields {
                    let start = {
                        let mut key = vec![field];
                        key.extend_from_slice(prefix.as_bytes());
                        key
                    };
                    let terms = self.dictionary(&start, |_| true)?;
                    self.check_expansions(&terms, &leaf.kind, field)?;
                    units.extend(terms.into_iter().map(|(t, s)| self.make_unit(field, t, s)));
                }
                Ok(units_plan(units))
            }
            LeafKind::Fuzzy(word, distance) => {
                let Some(token) = self.analyzer.analyze_query(word).into_iter().next() else {
                    return Ok(Plan::Ignored);
                };
                let target: Vec<char> = token.term.chars().collect();
                let mut units = Vec::new();
                for field in fields {
                    let terms = self.dictionary(&[field], |term| {
                        within_distance(&target, term, usize::from(*distance))
                    })?;
                    self.check_expansions(&terms, &leaf.kind, field)?;
                    units.extend(terms.into_iter().map(|(t, s)| self.make_unit(field, t, s)));
                }
                Ok(units_plan(units))
            }
        }
    }

    fn check_expansions(
        &self,
        terms: &[(String, TermStripe)],
        kind: &LeafKind,
        field: u8,
    ) -> Result<()> {
        if terms.len() > MAX_EXPANSIONS {
            return Err(TextError::TooManyExpansions {
                clause: match kind {
                    LeafKind::Prefix(p) => format!("{p}*"),
                    LeafKind::Fuzzy(w, d) => format!("{w}~{d}"),
                    LeafKind::Term(w) | LeafKind::Phrase(w) => w.clone(),
                },
                field: self.spec.fields[field as usize].path.to_string(),
                limit: MAX_EXPANSIONS,
            });
        }
        Ok(())
    }

    fn phrase(&mut self, fields: &[u8], text: &str) -> Result<Plan> {
        let tokens = self.analyzer.analyze_query(text);
        if tokens.is_empty() {
            return Ok(Plan::Ignored);
        }
        if tokens.len() == 1 {
            let mut units = Vec::new();
            for &field in fields {
                units.extend(self.unit(field, &tokens[0].term)?);
            }
            return Ok(units_plan(units));
        }
        let base = tokens[0].position;
        let offsets: Vec<u32> = tokens.iter().map(|t| t.position - base).collect();
        let mut per_field = Vec::new();
        'fields: for &field in fields {
            let mut units = Vec::new();
            for token in &tokens {
                match self.unit(field, &token.term)? {
                    Some(unit) => units.push(unit),
                    None => continue 'fields,
                }
            }
            per_field.push((units, offsets.clone()));
        }
        if per_field.is_empty() {
            return Ok(Plan::Nothing);
        }
        Ok(Plan::Phrase(per_field))
    }

    /// The unit for `term` in `field`, or `None` when no document holds it.
    fn unit(&mut self, field: u8, term: &str) -> Result<Option<Unit>> {
        let prefix = term_prefix(field, term);
        let mut stripe = TermStripe::default();
        let end = prefix_end(&prefix);
        self.txn.extension_range(
            self.collection,
            self.index,
            TERMS_TABLE,
            Bound::Included(prefix.as_slice()),
            end.as_deref().map_or(Bound::Unbounded, Bound::Excluded),
            |_, value| {
                stripe = stripe.merge(TermStripe::decode(value)?);
                Ok::<_, TextError>(true)
            },
        )?;
        Ok((stripe.df > 0).then(|| self.make_unit(field, term.to_string(), stripe)))
    }

    fn make_unit(&mut self, field: u8, term: String, stripe: TermStripe) -> Unit {
        self.explain.terms += 1;
        let weight = self.spec.fields[field as usize].boost * idf(self.docs, stripe.df);
        let bound = weight * self.scorer.tfn(field, stripe.max_tf, stripe.min_len);
        Unit {
            field,
            term,
            weight,
            bound,
        }
    }

    /// Dictionary terms whose key starts with `start` (field byte and term prefix) and that
    /// pass `keep`, in term order, with their merged stripes.
    fn dictionary(
        &mut self,
        start: &[u8],
        mut keep: impl FnMut(&str) -> bool,
    ) -> Result<Vec<(String, TermStripe)>> {
        let end = prefix_end(start);
        let mut out: Vec<(String, TermStripe)> = Vec::new();
        self.txn.extension_range(
            self.collection,
            self.index,
            TERMS_TABLE,
            Bound::Included(start),
            end.as_deref().map_or(Bound::Unbounded, Bound::Excluded),
            |key, value| {
                let (_, term, _) = split_key(key, TERMS_TABLE)?;
                let entry = TermStripe::decode(value)?;
                match out.last_mut() {
                    Some((last, stripe)) if last == term => *stripe = stripe.merge(entry),
                    _ if keep(term) => out.push((term.to_string(), entry)),
                    _ => {}
                }
                // One past the limit is enough to refuse the clause.
                Ok::<_, TextError>(out.len() <= MAX_EXPANSIONS)
            },
        )?;
        Ok(out)
    }

    /// Every posting of a unit: `(doc key, value)`.
    pub(crate) fn postings(&mut self, unit: &Unit) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let prefix = term_prefix(unit.field, &unit.term);
        let end = prefix_end(&prefix);
        let mut out = Vec::new();
        self.txn.extension_range(
            self.collection,
            self.index,
            POSTINGS_TABLE,
            Bound::Included(prefix.as_slice()),
            end.as_deref().map_or(Bound::Unbounded, Bound::Excluded),
            |key, value| {
                out.push((key[prefix.len()..].to_vec(), value.to_vec()));
                Ok::<_, cairn_engine::EngineError>(true)
            },
        )?;
        self.explain.postings_read += out.len() as u64;
        Ok(out)
    }

    /// Matching documents of a plan with their scores (exhaustive).
    pub(crate) fn evaluate(&mut self, plan: &Plan) -> Result<HashMap<Vec<u8>, f64>> {
        match plan {
            Plan::Nothing | Plan::Ignored => Ok(HashMap::new()),
            Plan::Units(units) => {
                let mut out: HashMap<Vec<u8>, f64> = HashMap::new();
                for unit in units {
                    for (doc, value) in self.postings(unit)? {
                        let (tf, len) = Posting::decode_head(&value)?;
                        *out.entry(doc).or_default() += self.scorer.score(unit, tf, len);
                    }
                }
                Ok(out)
            }
            Plan::Phrase(per_field) => {
                let mut out: HashMap<Vec<u8>, f64> = HashMap::new();
                for (units, offsets) in per_field {
                    for (doc, score) in self.phrase_matches(units, offsets)? {
                        *out.entry(doc).or_default() += score;
                    }
                }
                Ok(out)
            }
            Plan::Bool {
                must,
                should,
                must_not,
            } => {
                let mut result: Option<HashMap<Vec<u8>, f64>> = None;
                for clause in must {
                    let matched = self.evaluate(clause)?;
                    result = Some(match result {
                        None => matched,
                        Some(acc) => acc
                            .into_iter()
                            .filter_map(|(doc, s)| matched.get(&doc).map(|m| (doc, s + m)))
                            .collect(),
                    });
                }
                let required = result.is_some();
                let mut acc = result.unwrap_or_default();
                for clause in should {
                    for (doc, score) in self.evaluate(clause)? {
                        match acc.get_mut(&doc) {
                            Some(total) => *total += score,
                            None if !required => {
                                acc.insert(doc, score);
                            }
                            None => {}
                        }
                    }
                }
                for clause in must_not {
                    for doc in self.evaluate(clause)?.keys() {
                        acc.remove(doc);
                    }
                }
                Ok(acc)
            }
        }
    }

    /// Documents where the units occur at the given relative positions, with the sum of the
    /// units' scores.
    fn phrase_matches(&mut self, units: &[Unit], offsets: &[u32]) -> Result<Vec<(Vec<u8>, f64)>> {
        let mut lists = Vec::with_capacity(units.len());
        for unit in units {
            let mut map = HashMap::new();
            for (doc, value) in self.postings(unit)? {
                map.insert(doc, Posting::decode(&value)?);
            }
            lists.push(map);
        }
        let mut out = Vec::new();
        let Some((first, rest)) = lists.split_first() else {
            return Ok(out);
        };
        for (doc, posting) in first {
            let others: Option<Vec<&Posting>> = rest.iter().map(|m| m.get(doc)).collect();
            let Some(others) = others else { continue };
            let aligned = posting.positions.iter().any(|&start| {
                others.iter().zip(&offsets[1..]).all(|(p, &off)| {
                    start
                        .checked_add(off)
                        .is_some_and(|want| p.positions.binary_search(&want).is_ok())
                })
            });
            if aligned {
                let mut score = self
                    .scorer
                    .score(&units[0], posting.tf(), posting.field_len);
                for (unit, p) in units[1..].iter().zip(&others) {
                    score += self.scorer.score(unit, p.tf(), p.field_len);
                }
                out.push((doc.clone(), score));
            }
        }
        Ok(out)
    }
}

fn units_plan(units: Vec<Unit>) -> Plan {
    if units.is_empty() {
        Plan::Nothing
    } else {
        Plan::Units(units)
    }
}

/// Whether `term` is within `max` edits (Levenshtein) of `target`.
pub fn within_distance(target: &[char], term: &str, max: usize) -> bool {
    let term: Vec<char> = term.chars().collect();
    if term.len().abs_diff(target.len()) > max {
        return false;
    }
    let mut prev: Vec<usize> = (0..=term.len()).collect();
    for (i, &a) in target.iter().enumerate() {
        let mut row = vec![i + 1; term.len() + 1];
        for (j, &b) in term.iter().enumerate() {
            row[j + 1] = (prev[j] + usize::from(a != b))
                .min(prev[j + 1] + 1)
                .min(row[j] + 1);
        }
        if row.iter().min().is_some_and(|&m| m > max) {
            return false;
        }
        prev = row;
    }
    prev[term.len()] <= max
}
