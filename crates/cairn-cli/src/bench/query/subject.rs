//! What the query benchmark asks of each system, and the answers it compares between them.

use std::ops::Range;
use std::time::Duration;

use super::workload::QueryDocs;

/// Fields indexed on both systems, in the order the indexes are built: the equality field,
/// the range field and the sort field. `category` is deliberately not indexed: the `$group`
/// row is a whole-collection aggregation on both sides.
pub const INDEXED_FIELDS: [&str; 3] = ["account", "price", "score"];

/// The field the top-100 query sorts by (ascending).
pub const SORT_FIELD: &str = "score";

/// Documents the sorted query returns.
pub const TOP_LIMIT: usize = 100;

/// One query to run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Probe {
    /// Documents whose `account` equals the value.
    Equal(i64),
    /// Documents whose `price` lies in `[low, high)`.
    Range(f64, f64),
    /// The [`TOP_LIMIT`] documents with the lowest [`SORT_FIELD`].
    Top,
    /// Per `category`: how many documents and their average `price`.
    Group,
}

/// One group of a `$group` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The `category`.
    pub key: String,
    /// Documents in the group.
    pub count: u64,
    /// Their average `price`.
    pub average: f64,
}

/// What a query returned, reduced to what both systems must agree on.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Documents returned (each fully materialised by the system).
    Documents(usize),
    /// Groups, sorted by key.
    Groups(Vec<Group>),
}

impl Answer {
    /// Whether `other` is the same answer: equal counts and keys; averages equal to within
    /// floating-point summation error.
    pub fn agrees_with(&self, other: &Answer) -> bool {
        match (self, other) {
            (Answer::Documents(a), Answer::Documents(b)) => a == b,
            (Answer::Groups(a), Answer::Groups(b)) => {
                a.len() == b.len()
                    && a.iter().zip(b).all(|(x, y)| {
                        x.key == y.key
                            && x.count == y.count
                            && (x.average - y.average).abs() <= 1e-9 * x.average.abs().max(1.0)
                    })
            }
            _ => false,
        }
    }

    /// A short description for mismatch messages.
    pub fn describe(&self) -> String {
        match self {
            Answer::Documents(n) => format!("{n} documents"),
            Answer::Groups(groups) => {
                let parts: Vec<String> = groups
                    .iter()
                    .map(|g| format!("{}={}/{:.4}", g.key, g.count, g.average))
                    .collect();
                format!("{} groups [{}]", groups.len(), parts.join(", "))
            }
        }
    }
}

/// One system under test.
pub trait QuerySubject {
    /// The system's name for the table and progress lines.
    fn name(&self) -> &'static str;

    /// Inserts the documents with indices `chunk` in one durable transaction; returns its time.
    fn insert_batch(&mut self, docs: &QueryDocs, chunk: Range<usize>) -> anyhow::Result<Duration>;

    /// Creates a B-tree index on `field` over the loaded documents; returns the time until it
    /// is complete and usable.
    fn create_index(&mut self, field: &str) -> anyhow::Result<Duration>;

    /// Anything the system needs after the indexes are built and before queries run (untimed).
    fn prepare_queries(&mut self) -> anyhow::Result<()>;

    /// Runs one query, materialising every document it returns.
    fn execute(&mut self, probe: &Probe) -> anyhow::Result<Answer>;

    /// The plan the system chooses for `probe`, in its own words.
    fn plan(&mut self, probe: &Probe) -> anyhow::Result<String>;
}

/// Groups sorted by key, for comparison between systems.
pub fn sorted_groups(mut groups: Vec<Group>) -> Answer {
    groups.sort_by(|a, b| a.key.cmp(&b.key));
    Answer::Groups(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_agree_within_rounding_only() {
        let group = |average| Group {
            key: "books".to_string(),
            count: 3,
            average,
        };
        let a = Answer::Groups(vec![group(500.0)]);
        assert!(a.agrees_with(&Answer::Groups(vec![group(500.000_000_000_1)])));
        assert!(!a.agrees_with(&Answer::Groups(vec![group(500.1)])));
        assert!(!Answer::Documents(3).agrees_with(&Answer::Documents(4)));
    }
}
