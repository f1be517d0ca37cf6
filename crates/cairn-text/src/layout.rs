//! Table and key layout of a text index, value encodings, and what a document contributes.
//!
//! Tables (private to the extension instance, `c{collection}.x.{name}.{table}`):
//!
//! | table   | key                                   | value                                   |
//! |---------|---------------------------------------|-----------------------------------------|
//! | `post`  | field ‖ term ‖ 0x00 ‖ doc key         | tf, field length, positions (deltas)    |
//! | `terms` | field ‖ term ‖ 0x00 ‖ stripe          | document frequency, max tf, min length  |
//! | `stats` | stripe                                | documents, total length of each field   |
//! | `docs`  | doc key                               | length of each field                    |
//! | `meta`  | `ready`                               | (present once the build finished)       |
//!
//! A term's postings are one contiguous key range in document-key (`_id`) order, so a
//! search reads a term with one range scan and can seek to a document by key. Storing the
//! field length in each posting lets BM25 score a posting without a second lookup.
//!
//! **No hot keys between concurrent writers.** The engine's transactions are optimistic: two
//! writers conflict when one reads a key the other writes. A single document-count key (or one
//! document-frequency key per common term) would make every pair of concurrent writers
//! conflict. So both are *striped*: a document updates only the stripe its key hashes to
//! ([`STATS_STRIPES`] stripes of collection statistics, [`TERM_STRIPES`] per term), and a
//! search sums the stripes in its snapshot. Two writers of different documents conflict on
//! statistics only when their documents hash to the same stripe. The dictionary stripes are
//! per term, so two writers conflict there only if their documents share a term *and* a
//! stripe: for documents sharing `s` terms that is `1 - (7/8)^s` — rare for short documents
//! with distinct vocabularies, likely for long ones in the same language. A conflict costs a
//! retry (the engine's `Database::transaction` retries), never a wrong count; blind counter
//! increments in the engine would remove it (not done: the extension interface is fixed). `docs` holds each indexed
//! document's field lengths: its presence says the document's postings are stored, which is
//! what lets an online build and the write hook run concurrently without counting a
//! document twice or subtracting one never added.
//!
//! The `terms` entries also serve as the dictionary prefix and fuzzy terms expand against,
//! and carry a per-term score bound: the largest term frequency and the smallest field length
//! any posting of the stripe ever had. Deletes do not shrink them (that would need a scan), so
//! they stay upper bounds on what the term can contribute — all MaxScore pruning needs.

use std::collections::BTreeMap;

use cairn_doc::Value;

use crate::error::{Result, TextError};
use crate::limits::{STATS_STRIPES, TERM_STRIPES};
use crate::spec::TextSpec;

/// Postings table.
pub const POSTINGS_TABLE: &str = "post";
/// Dictionary and per-term statistics table.
pub const TERMS_TABLE: &str = "terms";
/// Collection statistics table (striped).
pub const STATS_TABLE: &str = "stats";
/// Indexed documents' field lengths.
pub const DOCS_TABLE: &str = "docs";
/// Build state.
pub const META_TABLE: &str = "meta";
/// Key in [`META_TABLE`] present once the index is complete.
pub const READY_KEY: &[u8] = b"ready";
/// Position gap between two values of a multi-valued field, so a phrase never matches across
/// array elements (Lucene's `position_increment_gap`).
pub const VALUE_POSITION_GAP: u32 = 100;

/// Appends `value` as a LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads a LEB128 varint at `*at`, advancing it.
pub fn get_varint(bytes: &[u8], at: &mut usize, table: &'static str) -> Result<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at).ok_or(TextError::Corrupt { table })?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(TextError::Corrupt { table })
}

/// The key prefix of every posting (and dictionary entry) of `term` in `field`.
pub fn term_prefix(field: u8, term: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(term.len() + 2);
    key.push(field);
    key.extend_from_slice(term.as_bytes());
    key.push(0);
    key
}

/// The posting key of `term` in `field` for document `doc_key`.
pub fn posting_key(field: u8, term: &str, doc_key: &[u8]) -> Vec<u8> {
    let mut key = term_prefix(field, term);
    key.extend_from_slice(doc_key);
    key
}

/// Splits a posting or dictionary key into field, term and the rest (doc key or stripe).
pub fn split_key<'k>(key: &'k [u8], table: &'static str) -> Result<(u8, &'k str, &'k [u8])> {
    let (&field, rest) = key.split_first().ok_or(TextError::Corrupt { table })?;
    let nul = rest
        .iter()
        .position(|&b| b == 0)
        .ok_or(TextError::Corrupt { table })?;
    let term = std::str::from_utf8(&rest[..nul]).map_err(|_| TextError::Corrupt { table })?;
    Ok((field, term, &rest[nul + 1..]))
}

/// The statistics stripe of a document.
pub fn stats_stripe(doc_key: &[u8]) -> u8 {
    (xxhash_rust::xxh3::xxh3_64(doc_key) % u64::from(STATS_STRIPES)) as u8
}

/// The dictionary stripe of a document.
pub fn term_stripe(doc_key: &[u8]) -> u8 {
    (xxhash_rust::xxh3::xxh3_64(doc_key).rotate_left(32) % u64::from(TERM_STRIPES)) as u8
}

/// One posting: a term's occurrences in one field of one document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Posting {
    /// Positions of the term, ascending (its frequency is their count).
    pub positions: Vec<u32>,
    /// The field's length in words.
    pub field_len: u32,
}

impl Posting {
    /// Term frequency.
    pub fn tf(&self) -> u32 {
        self.positions.len() as u32
    }

    /// The stored value.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.positions.len());
        put_varint(&mut out, u64::from(self.tf()));
        put_varint(&mut out, u64::from(self.field_len));
        let mut last = 0;
        for &p in &self.positions {
            put_varint(&mut out, u64::from(p - last));
            last = p;
        }
        out
    }

    /// Decodes only the frequency and field length (all scoring needs).
    pub fn decode_head(bytes: &[u8]) -> Result<(u32, u32)> {
        let mut at = 0;
        let tf = get_varint(bytes, &mut at, POSTINGS_TABLE)?;
        let len = get_varint(bytes, &mut at, POSTINGS_TABLE)?;
        Ok((tf as u32, len as u32))
    }

    /// Decodes a stored value.
    pub fn decode(bytes: &[u8]) -> Result<Posting> {
        let mut at = 0;
        let tf = get_varint(bytes, &mut at, POSTINGS_TABLE)?;
        let field_len = get_varint(bytes, &mut at, POSTINGS_TABLE)? as u32;
        let mut positions = Vec::with_capacity(tf.min(1 << 16) as usize);
        let mut last = 0u64;
        for _ in 0..tf {
            last += get_varint(bytes, &mut at, POSTINGS_TABLE)?;
            positions.push(u32::try_from(last).map_err(|_| TextError::Corrupt {
                table: POSTINGS_TABLE,
            })?);
        }
        Ok(Posting {
            positions,
            field_len,
        })
    }
}

/// One dictionary stripe: how many documents hold the term, and score bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TermStripe {
    /// Documents of this stripe holding the term in the field.
    pub df: u64,
    /// At least the largest term frequency of any such posting.
    pub max_tf: u32,
    /// At most the smallest field length of any such posting.
    pub min_len: u32,
}

impl TermStripe {
    /// The stored value.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8);
        put_varint(&mut out, self.df);
        put_varint(&mut out, u64::from(self.max_tf));
        put_varint(&mut out, u64::from(self.min_len));
        out
    }

    /// Decodes a stored value.
    pub fn decode(bytes: &[u8]) -> Result<TermStripe> {
        let mut at = 0;
        Ok(TermStripe {
            df: get_varint(bytes, &mut at, TERMS_TABLE)?,
            max_tf: get_varint(bytes, &mut at, TERMS_TABLE)? as u32,
            min_len: get_varint(bytes, &mut at, TERMS_TABLE)? as u32,
        })
    }

    /// Combines stripes into the term's figures.
    pub fn merge(self, other: TermStripe) -> TermStripe {
        if self.df == 0 {
            return other;
        }
        if other.df == 0 {
            return self;
        }
        TermStripe {
            df: self.df + other.df,
            max_tf: self.max_tf.max(other.max_tf),
            min_len: self.min_len.min(other.min_len),
        }
    }
}

/// Collection statistics (one stripe, or their sum).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CollectionStats {
    /// Indexed documents (those with at least one word in an indexed field).
    pub docs: u64,
    /// Sum of each field's length over indexed documents.
    pub total_len: Vec<u64>,
}

impl CollectionStats {
    /// Zero statistics for `fields` fields.
    pub fn empty(fields: usize) -> CollectionStats {
        CollectionStats {
            docs: 0,
            total_len: vec![0; fields],
        }
    }

    /// The stored value.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + 3 * self.total_len.len());
        put_varint(&mut out, self.docs);
        for &len in &self.total_len {
            put_varint(&mut out, len);
        }
        out
    }

    /// Decodes a stored value for `fields` fields.
    pub fn decode(bytes: &[u8], fields: usize) -> Result<CollectionStats> {
        let mut at = 0;
        let docs = get_varint(bytes, &mut at, STATS_TABLE)?;
        let total_len = (0..fields)
            .map(|_| get_varint(bytes, &mut at, STATS_TABLE))
            .collect::<Result<_>>()?;
        Ok(CollectionStats { docs, total_len })
    }

    /// Adds (`sign` = 1) or removes (`sign` = -1) one document's field lengths.
    pub fn apply(&mut self, lengths: &[u32], sign: i64) {
        self.docs = self.docs.saturating_add_signed(sign);
        for (total, &len) in self.total_len.iter_mut().zip(lengths) {
            *total = total.saturating_add_signed(sign * i64::from(len));
        }
    }

    /// Adds another stripe.
    pub fn add(&mut self, other: &CollectionStats) {
        self.docs += other.docs;
        for (total, len) in self.total_len.iter_mut().zip(&other.total_len) {
            *total += len;
        }
    }
}

/// Encodes a document's field lengths (the `docs` value).
pub fn encode_lengths(lengths: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(lengths.len() * 2);
    for &len in lengths {
        put_varint(&mut out, u64::from(len));
    }
    out
}

/// Decodes a document's field lengths.
pub fn decode_lengths(bytes: &[u8], fields: usize) -> Result<Vec<u32>> {
    let mut at = 0;
    (0..fields)
        .map(|_| get_varint(bytes, &mut at, DOCS_TABLE).map(|v| v as u32))
        .collect()
}

/// What one document contributes to the index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocTerms {
    /// Postings by (field, term).
    pub postings: BTreeMap<(u8, String), Posting>,
    /// Each field's length in words.
    pub lengths: Vec<u32>,
}

impl DocTerms {
    /// Whether the document has any word in an indexed field (only then is it indexed).
    pub fn is_indexed(&self) -> bool {
        self.lengths.iter().any(|&l| l > 0)
    }
}

/// Analyzes a document's indexed fields.
pub fn doc_terms(spec: &TextSpec, analyzer: &crate::Analyzer, doc: &Value) -> DocTerms {
    let mut out = DocTerms {
        postings: BTreeMap::new(),
        lengths: vec![0; spec.fields.len()],
    };
    for (field_id, field) in spec.fields.iter().enumerate() {
        let field_id = field_id as u8;
        let mut reached = Vec::new();
        cairn_index::path_values::collect(&field.path, doc, &mut reached);
        let mut strings = Vec::new();
        for value in reached {
            push_strings(value, &mut strings);
        }
        let mut position = 0u32;
        let mut words = 0u32;
        let mut field_terms: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for text in strings {
            let analyzed = analyzer.analyze(text, position);
            words += analyzed.words;
            position = analyzed.next_position.saturating_add(VALUE_POSITION_GAP);
            for token in analyzed.tokens {
                field_terms
                    .entry(token.term)
                    .or_default()
                    .push(token.position);
            }
        }
        out.lengths[field_id as usize] = words;
        for (term, mut positions) in field_terms {
            positions.sort_unstable();
            positions.dedup();
            out.postings.insert(
                (field_id, term),
                Posting {
                    positions,
                    field_len: words,
                },
            );
        }
    }
    out
}

/// Strings a reached value holds: itself, or the strings of an array (nested arrays too).
fn push_strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(text) => out.push(text),
        Value::Array(items) => items.iter().for_each(|item| push_strings(item, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Language;

    #[test]
    fn encodings_round_trip() {
        let posting = Posting {
            positions: vec![0, 3, 300],
            field_len: 7,
        };
        assert_eq!(Posting::decode(&posting.encode()).unwrap(), posting);
        assert_eq!(Posting::decode_head(&posting.encode()).unwrap(), (3, 7));
        let stats = CollectionStats {
            docs: 5,
            total_len: vec![1, 1 << 40],
        };
        assert_eq!(CollectionStats::decode(&stats.encode(), 2).unwrap(), stats);
        assert!(Posting::decode(&[0x80]).is_err());
        let key = posting_key(2, "hydrogen", b"\x02abc");
        assert_eq!(
            split_key(&key, POSTINGS_TABLE).unwrap(),
            (2, "hydrogen", &b"\x02abc"[..])
        );
    }

    #[test]
    fn nested_paths_and_arrays_of_strings() {
        let spec = TextSpec::new("t", &[("a.b", 1.0)], Language::English, None).unwrap();
        let doc =
            Value::from_json_str(r#"{"a": [{"b": "red fox"}, {"b": ["blue fox", 3]}]}"#).unwrap();
        let terms = doc_terms(&spec, &spec.analyzer(), &doc);
        assert_eq!(terms.lengths, [4]);
        let fox = &terms.postings[&(0, "fox".to_string())];
        assert_eq!(fox.positions, [1, 103]);
    }
}
