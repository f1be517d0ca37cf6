//! Top-k by BM25 without scoring every match: MaxScore (Turtle & Flood, 1995) over posting
//! cursors.
//!
//! Units (field, term) are sorted by their score bound (from the dictionary: `boost · idf`
//! times the BM25 term factor at the largest frequency and shortest field any posting of
//! the term had). Once `k` documents are held, the smallest of their scores is a threshold:
//! the low-bound units whose bounds add up to less than it are *non-essential* — a document
//! holding only them cannot enter. Candidates come only from the essential units' cursors,
//! in document-key order; each is completed by seeking the non-essential cursors to it, in
//! decreasing bound order, and dropped as soon as its score plus the remaining bounds falls
//! below the threshold. Non-essential postings are thus read only around candidates (a seek
//! is one range read of [`CURSOR_SEEK_BLOCK`] postings) and their other documents never scored.
//!
//! Candidates arrive in ascending key order, so a later document that only ties the
//! threshold has a larger `_id` and loses the tie: "enter" means "score above the threshold",
//! which keeps the result identical to sorting every match by (score desc, `_id` asc).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::ops::Bound;

use crate::error::{Result, TextError};
use crate::layout::{term_prefix, Posting, POSTINGS_TABLE};
use crate::limits::{CURSOR_BLOCK, CURSOR_SEEK_BLOCK};
use crate::search::{prefix_end, Plan, Resolver, Unit};

/// A flat disjunction of units (with negated clauses), the shape MaxScore handles.
pub(crate) fn flat_disjunction(plan: &Plan) -> Option<(Vec<Unit>, &[Plan])> {
    match plan {
        Plan::Units(units) => Some((units.clone(), &[])),
        Plan::Bool {
            must,
            should,
            must_not,
        } if must.is_empty() => {
            let mut units = Vec::new();
            for clause in should {
                match clause {
                    Plan::Units(u) => units.extend(u.iter().cloned()),
                    Plan::Nothing | Plan::Ignored => {}
                    _ => return None,
                }
            }
            Some((units, must_not.as_slice()))
        }
        _ => None,
    }
}

/// A position in one unit's postings, read a block at a time.
struct Cursor {
    prefix: Vec<u8>,
    end: Option<Vec<u8>>,
    /// (doc key, tf, field length) of the current block.
    block: Vec<(Vec<u8>, u32, u32)>,
    at: usize,
    /// No postings after the block.
    last_block: bool,
}

impl Cursor {
    fn new(unit: &Unit) -> Cursor {
        let prefix = term_prefix(unit.field, &unit.term);
        Cursor {
            end: prefix_end(&prefix),
            prefix,
            block: Vec::new(),
            at: 0,
            last_block: false,
        }
    }

    fn current(&self) -> Option<&(Vec<u8>, u32, u32)> {
        self.block.get(self.at)
    }

    /// Reads the block starting at `from` (a doc key bound).
    fn load(&mut self, ctx: &mut Resolver<'_, '_>, from: Bound<&[u8]>, size: usize) -> Result<()> {
        let start: Vec<u8> = match from {
            Bound::Included(doc) | Bound::Excluded(doc) => {
                let mut key = self.prefix.clone();
                key.extend_from_slice(doc);
                key
            }
            Bound::Unbounded => self.prefix.clone(),
        };
        let start = match from {
            Bound::Excluded(_) => Bound::Excluded(start.as_slice()),
            _ => Bound::Included(start.as_slice()),
        };
        self.block.clear();
        self.at = 0;
        let prefix_len = self.prefix.len();
        let block = &mut self.block;
        ctx.txn.extension_range(
            ctx.collection,
            ctx.index,
            POSTINGS_TABLE,
            start,
            self.end
                .as_deref()
                .map_or(Bound::Unbounded, Bound::Excluded),
            |key, value| {
                let (tf, len) = Posting::decode_head(value)?;
                block.push((key[prefix_len..].to_vec(), tf, len));
                Ok::<_, TextError>(block.len() < size)
            },
        )?;
        ctx.explain.postings_read += self.block.len() as u64;
        self.last_block = self.block.len() < size;
        Ok(())
    }

    fn advance(&mut self, ctx: &mut Resolver<'_, '_>) -> Result<()> {
        self.at += 1;
        if self.at >= self.block.len() && !self.last_block {
            if let Some((last, _, _)) = self.block.last().cloned() {
                self.load(ctx, Bound::Excluded(&last), CURSOR_BLOCK)?;
            }
        }
        Ok(())
    }

    /// Moves to the first posting at or after `doc`.
    fn seek(&mut self, ctx: &mut Resolver<'_, '_>, doc: &[u8]) -> Result<()> {
        if self
            .current()
            .is_none_or(|(key, _, _)| key.as_slice() >= doc)
        {
            return Ok(());
        }
        let in_block = self
            .block
            .last()
            .is_some_and(|(last, _, _)| last.as_slice() >= doc);
        if in_block || self.last_block {
            let rest = &self.block[self.at..];
            self.at += rest.partition_point(|(key, _, _)| key.as_slice() < doc);
            return Ok(());
        }
        self.load(ctx, Bound::Included(doc), CURSOR_SEEK_BLOCK)
    }
}

/// A held result; the heap's top is the worst (lowest score, then largest key).
#[derive(PartialEq)]
struct Held(f64, Vec<u8>);

impl Eq for Held {}

impl Ord for Held {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .0
            .total_cmp(&self.0)
            .then_with(|| self.1.cmp(&other.1))
    }
}

impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Whether a score that can reach at most `upper` certainly stays below `threshold`. The
/// margin absorbs rounding between summing bounds and summing scores in other orders.
fn below(upper: f64, threshold: f64) -> bool {
    upper < threshold - threshold.abs() * 1e-9
}

/// The best `k` documents holding any of `units` and none of `excluded`, best first.
pub(crate) fn max_score(
    ctx: &mut Resolver<'_, '_>,
    units: Vec<Unit>,
    excluded: &HashMap<Vec<u8>, f64>,
    k: usize,
) -> Result<Vec<(Vec<u8>, f64)>> {
    if k == 0 || units.is_empty() {
        return Ok(Vec::new());
    }
    // Scores are summed in the units' original order (as exhaustive evaluation does), so
    // pruned and exhaustive searches give bit-identical scores; `rank` is that order.
    let mut rank: Vec<usize> = (0..units.len()).collect();
    rank.sort_by(|&a, &b| units[a].bound.total_cmp(&units[b].bound));
    let units: Vec<Unit> = rank.iter().map(|&i| units[i].clone()).collect();
    let cumulative: Vec<f64> = units
        .iter()
        .scan(0.0, |sum, unit| {
            *sum += unit.bound;
            Some(*sum)
        })
        .collect();
    let mut parts: Vec<(usize, f64)> = Vec::with_capacity(units.len());
    let mut cursors: Vec<Cursor> = units.iter().map(Cursor::new).collect();
    for cursor in &mut cursors {
        cursor.load(ctx, Bound::Unbounded, CURSOR_BLOCK)?;
    }
    let mut heap: BinaryHeap<Held> = BinaryHeap::with_capacity(k + 1);
    let mut essential = 0;
    loop {
        let threshold = (heap.len() == k).then(|| heap.peek().map_or(0.0, |h| h.0));
        if let Some(t) = threshold {
            while essential < units.len() && below(cumulative[essential], t) {
                essential += 1;
            }
        }
        let Some(candidate) = cursors[essential..]
            .iter()
            .filter_map(|c| c.current().map(|(key, _, _)| key))
            .min()
            .cloned()
        else {
            break;
        };
        let mut score = 0.0;
        parts.clear();
        for i in essential..units.len() {
            if let Some((key, tf, len)) = cursors[i].current() {
                if *key == candidate {
                    let part = ctx.scorer.score(&units[i], *tf, *len);
                    parts.push((rank[i], part));
                    score += part;
                    cursors[i].advance(ctx)?;
                }
            }
        }
        if excluded.contains_key(&candidate) {
            continue;
        }
        let mut pruned = false;
        for i in (0..essential).rev() {
            if threshold.is_some_and(|t| below(score + cumulative[i], t)) {
                pruned = true;
                break;
            }
            cursors[i].seek(ctx, &candidate)?;
            if let Some((key, tf, len)) = cursors[i].current() {
                if *key == candidate {
                    let part = ctx.scorer.score(&units[i], *tf, *len);
                    parts.push((rank[i], part));
                    score += part;
                }
            }
        }
        if pruned {
            continue;
        }
        parts.sort_by_key(|&(order, _)| order);
        let score = parts.iter().fold(0.0, |sum, &(_, part)| sum + part);
        ctx.explain.documents_scored += 1;
        if threshold.is_none_or(|t| score > t) {
            heap.push(Held(score, candidate));
            if heap.len() > k {
                heap.pop();
            }
        }
    }
    let mut out: Vec<(Vec<u8>, f64)> = heap.into_iter().map(|h| (h.1, h.0)).collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(out)
}
