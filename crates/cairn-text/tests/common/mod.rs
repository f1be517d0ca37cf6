//! What the text index's differential tests share: the naive BM25 scorer (every document
//! analysed, BM25 computed from its definition), random corpora and random query strings.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use cairn_doc::{DocId, Value};
use cairn_engine::{Config, Database, StorageMode};
use cairn_text::query::{Leaf, LeafKind, Query};
use cairn_text::{doc_terms, DocTerms};
use cairn_text::{Analyzer, Language, TextExtensionKind, TextSpec, B, K1};
use proptest::prelude::*;

pub fn open_memory() -> Database {
    let mut config = Config::new(std::path::PathBuf::new(), StorageMode::MemoryOnly);
    config.extension_kinds.push(Arc::new(TextExtensionKind));
    Database::open(config).expect("open")
}

pub fn spec() -> TextSpec {
    TextSpec::new(
        "t",
        &[("title", 2.5), ("body", 1.0), ("meta.tags", 0.5)],
        Language::English,
        Some((2, 4)),
    )
    .unwrap()
}

/// The naive scorer: every document analysed, BM25 computed from its definition.
pub struct Naive {
    spec: TextSpec,
    analyzer: Analyzer,
    docs: Vec<(Vec<u8>, DocTerms)>,
    n: u64,
    avg: Vec<f64>,
    df: BTreeMap<(u8, String), u64>,
}

impl Naive {
    pub fn new(spec: TextSpec, docs: &BTreeMap<i64, Value>) -> Naive {
        let analyzer = spec.analyzer();
        let mut out = Naive {
            avg: Vec::new(),
            docs: Vec::new(),
            n: 0,
            df: BTreeMap::new(),
            analyzer,
            spec,
        };
        let mut total = vec![0u64; out.spec.fields.len()];
        for (id, doc) in docs {
            let terms = doc_terms(&out.spec, &out.analyzer, doc);
            if !terms.is_indexed() {
                continue;
            }
            out.n += 1;
            for (t, &len) in total.iter_mut().zip(&terms.lengths) {
                *t += u64::from(len);
            }
            for key in terms.postings.keys() {
                *out.df.entry(key.clone()).or_default() += 1;
            }
            out.docs.push((DocId::Int(*id).to_key().unwrap(), terms));
        }
        out.avg = total
            .iter()
            .map(|&t| {
                if t == 0 || out.n == 0 {
                    1.0
                } else {
                    t as f64 / out.n as f64
                }
            })
            .collect();
        out
    }

    fn weight(&self, field: u8, term: &str) -> f64 {
        let df = self.df[&(field, term.to_string())];
        let (n, df) = (self.n as f64, df as f64);
        self.spec.fields[field as usize].boost * (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    fn unit(&self, doc: &DocTerms, field: u8, term: &str) -> Option<f64> {
        let posting = doc.postings.get(&(field, term.to_string()))?;
        let tf = f64::from(posting.tf());
        let norm = 1.0 - B + B * f64::from(posting.field_len) / self.avg[field as usize];
        Some(self.weight(field, term) * (tf * (K1 + 1.0) / (tf + K1 * norm)))
    }

    fn fields(&self, leaf: &Leaf) -> Vec<u8> {
        match &leaf.field {
            None => (0..self.spec.fields.len() as u8).collect(),
            Some(name) => vec![self.spec.field_id(name).expect("known field")],
        }
    }

    fn vocabulary(&self, field: u8) -> BTreeSet<&str> {
        self.df
            .keys()
            .filter(|(f, _)| *f == field)
            .map(|(_, t)| t.as_str())
            .collect()
    }

    /// `None`: the clause is dropped (stop words only). `Some(None)`: no match.
    fn leaf(&self, doc: &DocTerms, leaf: &Leaf) -> Option<Option<f64>> {
        let fields = self.fields(leaf);
        let expansions: Vec<(u8, String)> = match &leaf.kind {
            LeafKind::Term(word) => {
                let tokens = self.analyzer.analyze_query(word);
                if tokens.len() > 1 {
                    return self.phrase(doc, &fields, word);
                }
                let token = tokens.first()?;
                fields
                    .iter()
                    .filter(|&&f| self.df.contains_key(&(f, token.term.clone())))
                    .map(|&f| (f, token.term.clone()))
                    .collect()
            }
            LeafKind::Phrase(text) => return self.phrase(doc, &fields, text),
            LeafKind::Prefix(prefix) => {
                let prefix = self.analyzer.normalize(prefix);
                fields
                    .iter()
                    .flat_map(|&f| {
                        self.vocabulary(f)
                            .into_iter()
                            .filter(|t| t.starts_with(&prefix))
                            .map(move |t| (f, t.to_string()))
                    })
                    .collect()
            }
            LeafKind::Fuzzy(word, distance) => {
                let token = self.analyzer.analyze_query(word).into_iter().next()?;
                fields
                    .iter()
                    .flat_map(|&f| {
                        self.vocabulary(f)
                            .into_iter()
                            .filter(|t| levenshtein(&token.term, t) <= usize::from(*distance))
                            .map(move |t| (f, t.to_string()))
                    })
                    .collect()
            }
        };
        let mut score = 0.0;
        let mut matched = false;
        for (field, term) in &expansions {
            if let Some(s) = self.unit(doc, *field, term) {
                score += s;
                matched = true;
            }
        }
        Some(matched.then_some(score))
    }

    fn phrase(&self, doc: &DocTerms, fields: &[u8], text: &str) -> Option<Option<f64>> {
        let tokens = self.analyzer.analyze_query(text);
        if tokens.is_empty() {
            return None;
        }
        let mut total = 0.0;
        let mut matched = false;
        for &field in fields {
            let mut field_score: Option<f64> = None;
            let postings: Option<Vec<_>> = tokens
                .iter()
                .map(|t| doc.postings.get(&(field, t.term.clone())))
                .collect();
            let Some(postings) = postings else { continue };
            let base = tokens[0].position;
            let aligned = postings[0].positions.iter().any(|&start| {
                tokens
                    .iter()
                    .zip(&postings)
                    .all(|(t, p)| p.positions.contains(&(start + t.position - base)))
            });
            if aligned {
                for t in &tokens {
                    let s = self.unit(doc, field, &t.term)?;
                    field_score = Some(field_score.map_or(s, |acc| acc + s));
                }
            }
            if let Some(s) = field_score {
                total += s;
                matched = true;
            }
        }
        Some(matched.then_some(total))
    }

    fn eval(&self, doc: &DocTerms, query: &Query) -> Option<Option<f64>> {
        match query {
            Query::Leaf(leaf) => self.leaf(doc, leaf),
            Query::Bool {
                must,
                should,
                must_not,
            } => {
                let must: Vec<Option<f64>> =
                    must.iter().filter_map(|q| self.eval(doc, q)).collect();
                let should: Vec<Option<f64>> =
                    should.iter().filter_map(|q| self.eval(doc, q)).collect();
                let negated = must_not
                    .iter()
                    .filter_map(|q| self.eval(doc, q))
                    .any(|m| m.is_some());
                if must.is_empty() && should.is_empty() {
                    return Some(None);
                }
                if must.iter().any(Option::is_none) {
                    return Some(None);
                }
                let mut score = 0.0;
                for m in must.iter().flatten() {
                    score += m;
                }
                let mut any_should = false;
                for s in should.iter().flatten() {
                    score += s;
                    any_should = true;
                }
                if negated || (must.is_empty() && !any_should) {
                    return Some(None);
                }
                Some(Some(score))
            }
        }
    }

    /// Every match, ranked by (score desc, key asc).
    pub fn search(&self, query: &Query) -> Vec<(Vec<u8>, f64)> {
        let mut out: Vec<(Vec<u8>, f64)> = self
            .docs
            .iter()
            .filter_map(|(key, doc)| self.eval(doc, query).flatten().map(|s| (key.clone(), s)))
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }
}

pub fn levenshtein(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut row = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            row[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(row[j] + 1);
        }
        prev = row;
    }
    prev[b.len()]
}

pub const WORDS: &[&str] = &[
    "fox", "foxes", "quick", "brown", "jumps", "jumped", "jumping", "lazy", "dog", "dogs", "the",
    "of", "a", "hydrogen", "hydrant", "hydra", "café", "cafe", "colour", "color", "state", "art",
    "data", "date", "dates", "science", "running", "runner",
];

pub fn sentence() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 0..7).prop_map(|w| w.join(" "))
}

pub fn document() -> impl Strategy<Value = (String, Vec<String>, Vec<String>)> {
    (
        sentence(),
        prop::collection::vec(sentence(), 0..3),
        prop::collection::vec(prop::sample::select(WORDS).prop_map(String::from), 0..3),
    )
}

pub fn to_value(id: i64, (title, body, tags): &(String, Vec<String>, Vec<String>)) -> Value {
    let mut object = cairn_doc::Object::new();
    object.insert("_id", Value::Int(id));
    object.insert("title", Value::String(title.clone()));
    object.insert(
        "body",
        Value::Array(body.iter().cloned().map(Value::String).collect()),
    );
    let mut meta = cairn_doc::Object::new();
    meta.insert(
        "tags",
        Value::Array(tags.iter().cloned().map(Value::String).collect()),
    );
    object.insert("meta", Value::Object(meta));
    Value::Object(object)
}

pub fn clause() -> impl Strategy<Value = String> {
    let word = || prop::sample::select(WORDS);
    let field = prop::sample::select(&["", "", "title:", "body:", "meta.tags:"][..]);
    let sign = prop::sample::select(&["", "", "+", "-"][..]);
    let leaf = prop_oneof![
        3 => word().prop_map(String::from),
        1 => (word(), 1usize..4).prop_map(|(w, n)| format!("{}*", w.chars().take(n).collect::<String>())),
        1 => (word(), 0usize..8, 1u8..3).prop_map(|(w, at, d)| {
            let mut chars: Vec<char> = w.chars().collect();
            if !chars.is_empty() { let i = at % chars.len(); chars[i] = 'x'; }
            format!("{}~{d}", chars.into_iter().collect::<String>())
        }),
        1 => (word(), word()).prop_map(|(a, b)| format!("\"{a} {b}\"")),
    ];
    (sign, field, leaf).prop_map(|(s, f, l)| format!("{s}{f}{l}"))
}

pub fn query() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec(clause(), 1..5).prop_map(|c| c.join(" ")),
        1 => (clause(), clause()).prop_map(|(a, b)| format!("{a} AND {b}")),
        1 => (clause(), clause(), clause()).prop_map(|(a, b, c)| format!("({a} OR {b}) AND {c}")),
        1 => (clause(), clause()).prop_map(|(a, b)| format!("{a} NOT {b}")),
    ]
}
