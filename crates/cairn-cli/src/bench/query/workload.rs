//! The data set and the query parameters. Documents extend `bench core`'s (same generator for
//! name, email, age, score, tags, active, and the same UUIDv7 ids) with the fields the queries
//! need: `account` (equality), `price` (ranges), `category` (`$group`) and a nested `address`.
//! Every document is built on demand from its index, in both systems' forms, so both store
//! exactly the same documents.

use cairn::{Object, Value};

use crate::bench::core::workload::{fields, SplitMix64, Workload};

/// Seed of the query-specific fields (the shared fields use `bench core`'s seed).
const EXTRA_SEED: u64 = 0xCA12_0B0E_2024_0101;

/// Seed of the timed query parameters.
pub const TIMED_SEED: u64 = 0xCA12_0B0E_2024_0102;

/// Seed of the warm-up query parameters: different from the timed ones, so the warm-up does
/// not pre-load exactly the documents the timed pass reads.
pub const WARMUP_SEED: u64 = 0xCA12_0B0E_2024_0103;

/// Documents per distinct `account` value on average: equality lookups return about this many.
pub const DOCS_PER_ACCOUNT: usize = 100;

/// `price` is uniform over `0.00 ..< PRICE_CENTS / 100` in steps of a cent.
const PRICE_CENTS: u64 = 1_000_000;

/// Width of a range query: 1% of the price span, so ~1% of the documents.
pub const RANGE_WIDTH: f64 = PRICE_CENTS as f64 / 100.0 / 100.0;

/// Values of `category`: 20, a low-cardinality grouping field.
#[rustfmt::skip]
pub const CATEGORIES: [&str; 20] = [
    "books", "music", "movies", "games", "garden", "tools", "toys", "sports", "outdoors", "beauty",
    "health", "grocery", "baby", "pets", "office", "shoes", "jewelry", "automotive", "electronics",
    "kitchen",
];

/// Documents sampled to report the average JSON size.
const SIZE_SAMPLE_DOCS: usize = 1_000;

/// The fields this benchmark adds to `bench core`'s document.
struct Extra {
    account: i64,
    price: f64,
    category: &'static str,
    zip: String,
}

/// Every document of the run, addressed by index.
pub struct QueryDocs {
    base: Workload,
    total: usize,
    accounts: u64,
}

impl QueryDocs {
    /// `total` documents with fresh time-ordered ids.
    pub fn new(total: usize) -> QueryDocs {
        QueryDocs {
            base: Workload::new(total),
            total,
            accounts: account_count(total),
        }
    }

    /// Distinct `account` values: about one per [`DOCS_PER_ACCOUNT`] documents.
    pub fn accounts(&self) -> u64 {
        self.accounts
    }

    /// The id of document `index` as SQLite's primary key (the UUID's 16 bytes).
    pub fn key(&self, index: usize) -> [u8; 16] {
        self.base.key(index)
    }

    /// Document `index` as a Cairn value, `_id` included.
    pub fn cairn_doc(&self, index: usize) -> Value {
        let (base, extra) = (fields(index), self.extra(index));
        let mut address = Object::with_capacity(2);
        address.insert("city", base.city);
        address.insert("zip", extra.zip);
        let mut doc = Object::with_capacity(12);
        doc.insert("_id", self.base.id(index).to_value());
        doc.insert("name", base.name);
        doc.insert("email", base.email);
        doc.insert("age", base.age);
        doc.insert("account", extra.account);
        doc.insert("price", extra.price);
        doc.insert("category", extra.category);
        doc.insert("score", base.score);
        let tags: Vec<Value> = base.tags.into_iter().map(Value::from).collect();
        doc.insert("tags", tags);
        doc.insert("active", base.active);
        doc.insert("address", address);
        Value::Object(doc)
    }

    /// Document `index` as compact JSON text, `_id` as the hyphenated UUID.
    pub fn json_doc(&self, index: usize) -> String {
        let (base, extra) = (fields(index), self.extra(index));
        serde_json::json!({
            "_id": self.base.id(index).to_string(),
            "name": base.name,
            "email": base.email,
            "age": base.age,
            "account": extra.account,
            "price": extra.price,
            "category": extra.category,
            "score": base.score,
            "tags": base.tags,
            "active": base.active,
            "address": {"city": base.city, "zip": extra.zip},
        })
        .to_string()
    }

    /// Average JSON size in bytes over the first documents.
    pub fn average_json_bytes(&self) -> usize {
        let sample = self.total.clamp(1, SIZE_SAMPLE_DOCS);
        let total: usize = (0..sample).map(|index| self.json_doc(index).len()).sum();
        total / sample.max(1)
    }

    /// The query-specific fields of document `index`.
    fn extra(&self, index: usize) -> Extra {
        let mut rng =
            SplitMix64::new(EXTRA_SEED ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        Extra {
            account: rng.below(self.accounts) as i64,
            price: rng.below(PRICE_CENTS) as f64 / 100.0,
            category: CATEGORIES[rng.below(CATEGORIES.len() as u64) as usize],
            zip: format!("{:05}", rng.below(100_000)),
        }
    }
}

/// Distinct `account` values for `total` documents.
fn account_count(total: usize) -> u64 {
    (total / DOCS_PER_ACCOUNT).max(1) as u64
}

/// `count` account values to look up, uniform over the accounts, fixed by `seed`.
pub fn account_probes(seed: u64, count: usize, accounts: u64) -> Vec<i64> {
    let mut rng = SplitMix64::new(seed);
    (0..count).map(|_| rng.below(accounts) as i64).collect()
}

/// `count` price ranges `[low, low + RANGE_WIDTH)` lying inside the price span, fixed by
/// `seed`.
pub fn range_probes(seed: u64, count: usize) -> Vec<(f64, f64)> {
    let mut rng = SplitMix64::new(seed ^ 0x5A5A);
    let width_cents = (RANGE_WIDTH * 100.0) as u64;
    (0..count)
        .map(|_| {
            let low = rng.below(PRICE_CENTS - width_cents) as f64 / 100.0;
            (low, low + RANGE_WIDTH)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_hold_the_same_document() {
        let docs = QueryDocs::new(500);
        for index in 0..20 {
            let from_json = Value::from_json_str(&docs.json_doc(index)).unwrap();
            let cairn = docs.cairn_doc(index);
            let (from_json, cairn) = (from_json.as_object().unwrap(), cairn.as_object().unwrap());
            for (key, value) in cairn.iter().filter(|(key, _)| *key != "_id") {
                assert_eq!(from_json.get(key), Some(value), "field {key}");
            }
        }
        assert_eq!(docs.accounts(), 5);
    }

    #[test]
    fn ranges_stay_inside_the_price_span() {
        for (low, high) in range_probes(1, 1_000) {
            assert!(low >= 0.0 && high <= PRICE_CENTS as f64 / 100.0 && high > low);
        }
    }
}
