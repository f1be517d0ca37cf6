//! The data set: deterministic pseudo-random documents of about 200 bytes of JSON, each built
//! on demand from its index in both systems' native forms (a Cairn [`Value`] and JSON text), so
//! both systems store exactly the same documents without holding a million of them in memory.

use crate::bench::limits::MAX_CORE_TAGS;
use cairn::{DocId, Object, Value};

/// Seed of the document contents: fixed, so every run stores the same documents.
const CONTENT_SEED: u64 = 0xCA12_0B0E_2024_0001;

/// Seed of the point-get sequence: fixed, so every run reads the same documents.
const PICK_SEED: u64 = 0xCA12_0B0E_2024_0002;

/// Values of `city`: 50, a low-cardinality field like a country or a status.
#[rustfmt::skip]
const CITIES: [&str; 50] = [
    "Amsterdam", "Athens", "Auckland", "Bangkok", "Barcelona", "Berlin", "Bogota", "Boston",
    "Brussels", "Budapest", "Buenos Aires", "Cairo", "Cape Town", "Chicago", "Copenhagen", "Dublin",
    "Edinburgh", "Helsinki", "Hong Kong", "Istanbul", "Jakarta", "Johannesburg", "Kyiv", "Lagos",
    "Lima", "Lisbon", "London", "Los Angeles", "Madrid", "Manila", "Melbourne", "Mexico City",
    "Montreal", "Mumbai", "Nairobi", "New York", "Oslo", "Paris", "Prague", "Reykjavik",
    "Rio de Janeiro", "Rome", "Santiago", "Seoul", "Singapore", "Stockholm", "Sydney", "Tokyo",
    "Toronto", "Vienna",
];

/// First names: 16.
#[rustfmt::skip]
const FIRST_NAMES: [&str; 16] = [
    "Ada", "Alan", "Barbara", "Claude", "Donald", "Edsger", "Frances", "Grace", "John", "Katherine",
    "Leslie", "Margaret", "Niklaus", "Radia", "Shafi", "Tony",
];

/// Last names: 16.
#[rustfmt::skip]
const LAST_NAMES: [&str; 16] = [
    "Allen", "Backus", "Dijkstra", "Hamilton", "Hoare", "Hopper", "Johnson", "Knuth", "Lamport",
    "Liskov", "Lovelace", "McCarthy", "Perlman", "Shannon", "Turing", "Wirth",
];

/// Tag vocabulary: 12 words; each document takes 1 to [`MAX_CORE_TAGS`] consecutive ones.
#[rustfmt::skip]
const TAGS: [&str; 12] = [
    "alpha", "beta", "gamma", "delta", "red", "green", "blue", "new", "vip", "trial", "beta-user",
    "archived",
];

/// Documents sampled to report the average JSON size.
const SIZE_SAMPLE_DOCS: usize = 1_000;

/// SplitMix64: a tiny, well-mixed deterministic generator (no dependency, same on every
/// platform).
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0; the modulo bias is irrelevant at these sizes).
    pub fn below(&mut self, bound: u64) -> u64 {
        debug_assert!(bound > 0);
        self.next_u64() % bound.max(1)
    }
}

/// The fields of one document, before it takes either system's form.
pub(crate) struct Fields {
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) age: i64,
    pub(crate) city: &'static str,
    pub(crate) score: f64,
    pub(crate) tags: Vec<&'static str>,
    pub(crate) active: bool,
}

/// Every document of the run, addressed by index: ids are UUIDv7 generated once at start (so
/// they are time-ordered, as freshly inserted documents are), contents follow from the index.
pub struct Workload {
    ids: Vec<DocId>,
}

impl Workload {
    /// A workload of `total` documents with fresh time-ordered ids.
    pub fn new(total: usize) -> Workload {
        Workload {
            ids: (0..total).map(|_| DocId::new_v7()).collect(),
        }
    }

    /// The id of document `index`.
    pub fn id(&self, index: usize) -> &DocId {
        &self.ids[index]
    }

    /// The id of document `index` as SQLite's primary key: the UUID's 16 bytes.
    pub fn key(&self, index: usize) -> [u8; 16] {
        match &self.ids[index] {
            DocId::Uuid(uuid) => *uuid.as_bytes(),
            // `new` only makes UUIDs; anything else is a bug in this file.
            other => unreachable!("workload id {other} is not a UUID"),
        }
    }

    /// Document `index` as a Cairn value, `_id` included.
    pub fn cairn_doc(&self, index: usize) -> Value {
        let fields = fields(index);
        let mut doc = Object::with_capacity(8);
        doc.insert("_id", self.ids[index].to_value());
        doc.insert("name", fields.name);
        doc.insert("email", fields.email);
        doc.insert("age", fields.age);
        doc.insert("city", fields.city);
        doc.insert("score", fields.score);
        let tags: Vec<Value> = fields.tags.into_iter().map(Value::from).collect();
        doc.insert("tags", tags);
        doc.insert("active", fields.active);
        Value::Object(doc)
    }

    /// Document `index` as compact JSON text, `_id` as the hyphenated UUID.
    pub fn json_doc(&self, index: usize) -> String {
        let fields = fields(index);
        serde_json::json!({
            "_id": self.ids[index].to_string(),
            "name": fields.name,
            "email": fields.email,
            "age": fields.age,
            "city": fields.city,
            "score": fields.score,
            "tags": fields.tags,
            "active": fields.active,
        })
        .to_string()
    }

    /// Average JSON size in bytes over the first documents (for the printed configuration).
    pub fn average_json_bytes(&self) -> usize {
        let sample = self.ids.len().min(SIZE_SAMPLE_DOCS);
        let total: usize = (0..sample).map(|index| self.json_doc(index).len()).sum();
        total / sample.max(1)
    }
}

/// Indices of `count` documents drawn uniformly from `0..population`, the same every run.
pub fn uniform_picks(count: usize, population: usize) -> Vec<usize> {
    let mut rng = SplitMix64::new(PICK_SEED);
    (0..count)
        .map(|_| rng.below(population as u64) as usize)
        .collect()
}

/// The fields of document `index`, from a generator seeded by the index.
pub(crate) fn fields(index: usize) -> Fields {
    let mut rng =
        SplitMix64::new(CONTENT_SEED ^ (index as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let pick = |rng: &mut SplitMix64, words: &[&'static str]| {
        words[rng.below(words.len() as u64) as usize]
    };
    let first = pick(&mut rng, &FIRST_NAMES);
    let last = pick(&mut rng, &LAST_NAMES);
    let email = format!(
        "{}.{}{}@mail.example.com",
        first.to_ascii_lowercase(),
        last.to_ascii_lowercase(),
        rng.below(10_000)
    );
    let tag_start = rng.below(TAGS.len() as u64) as usize;
    let tag_count = 1 + rng.below(MAX_CORE_TAGS) as usize;
    Fields {
        name: format!("{first} {last}"),
        email,
        age: 18 + rng.below(70) as i64,
        city: pick(&mut rng, &CITIES),
        score: rng.below(100_000) as f64 / 100.0,
        tags: (0..tag_count)
            .map(|offset| TAGS[(tag_start + offset) % TAGS.len()])
            .collect(),
        active: rng.below(2) == 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_deterministic_and_about_200_bytes() {
        let workload = Workload::new(100);
        let json = workload.json_doc(7);
        assert_eq!(json, workload.json_doc(7));
        let size = workload.average_json_bytes();
        assert!(
            (150..=250).contains(&size),
            "average document is {size} bytes"
        );
    }

    #[test]
    fn both_forms_hold_the_same_document() {
        let workload = Workload::new(10);
        for index in 0..10 {
            let from_json = Value::from_json_str(&workload.json_doc(index)).unwrap();
            let cairn = workload.cairn_doc(index);
            let (from_json, cairn) = (from_json.as_object().unwrap(), cairn.as_object().unwrap());
            for (key, value) in cairn.iter().filter(|(key, _)| *key != "_id") {
                assert_eq!(from_json.get(key), Some(value), "field {key}");
            }
            let id = from_json.get("_id").and_then(Value::as_str).unwrap();
            assert_eq!(id, workload.id(index).to_string());
        }
    }

    #[test]
    fn ids_are_time_ordered() {
        let workload = Workload::new(1_000);
        assert!((1..1_000).all(|i| workload.id(i - 1) < workload.id(i)));
    }
}
