//! The printed result: the configuration, the side-by-side Markdown table and notes (plans,
//! per-index build times, verification).

use std::time::Duration;

use super::subject::INDEXED_FIELDS;
use super::workload::{CATEGORIES, DOCS_PER_ACCOUNT};
use super::{QueryArgs, LOAD_BATCH_DOCS};
use crate::bench::core::report::grouped;

/// Operations and the time they took, on one system.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timed {
    /// Queries run.
    pub ops: u64,
    /// Their total wall time.
    pub elapsed: Duration,
}

impl Timed {
    /// Operations per second.
    pub fn rate(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// One timed query row: both systems' figures.
#[derive(Debug, Clone)]
pub struct QueryRow {
    /// What the row measures.
    pub label: String,
    /// Unit of the rate (`ops/s`, `queries/s`).
    pub unit: &'static str,
    /// Cairn, then SQLite.
    pub timed: [Timed; 2],
    /// Each system's plan for a sample query of the row: Cairn, then SQLite.
    pub plans: [String; 2],
}

/// Everything the run measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Average size of a document as JSON text.
    pub average_doc_bytes: usize,
    /// Distinct `account` values.
    pub accounts: u64,
    /// Time to load the documents: Cairn, then SQLite.
    pub load: [Duration; 2],
    /// Index build time per indexed field: Cairn, then SQLite.
    pub backfill: Vec<(String, [Duration; 2])>,
    /// The four query rows.
    pub rows: Vec<QueryRow>,
    /// Sample queries whose answers were compared between the systems.
    pub verified: usize,
    /// Descriptions of sample queries whose answers differed.
    pub mismatches: Vec<String>,
}

/// The whole report as Markdown.
pub fn render(args: &QueryArgs, outcome: &Outcome) -> String {
    let mut lines = header(args, outcome);
    lines.push(String::new());
    lines.push("| query | Cairn | SQLite | Cairn/SQLite |".to_string());
    lines.push("|---|---:|---:|---:|".to_string());
    for row in &outcome.rows {
        let [cairn, sqlite] = row.timed;
        lines.push(format!(
            "| {} | {} {unit} | {} {unit} | {:.2}× |",
            row.label,
            rate_text(cairn.rate()),
            rate_text(sqlite.rate()),
            cairn.rate() / sqlite.rate().max(f64::MIN_POSITIVE),
            unit = row.unit,
        ));
    }
    let total = |side: usize| -> f64 {
        outcome
            .backfill
            .iter()
            .map(|(_, times)| times[side].as_secs_f64())
            .sum()
    };
    lines.push(format!(
        "| index backfill, {} indexes on {} docs (ratio: SQLite time / Cairn time) | {:.2} s | {:.2} s | {:.2}× |",
        outcome.backfill.len(),
        grouped(args.docs as f64),
        total(0),
        total(1),
        total(1) / total(0).max(f64::MIN_POSITIVE),
    ));
    lines.push(String::new());
    lines.extend(notes(outcome).into_iter().map(|note| format!("- {note}")));
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// The configuration lines above the table.
fn header(args: &QueryArgs, outcome: &Outcome) -> Vec<String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let folder = match &args.dir {
        Some(dir) => format!("{} (kept)", dir.display()),
        None => "a temporary folder under the current one (removed)".to_string(),
    };
    vec![
        "## cairn bench query".to_string(),
        String::new(),
        format!("- machine: {cores} cores; one query thread"),
        format!(
            "- documents: {}, ~{} bytes of JSON each, loaded {} per transaction (Cairn {:.1} s, SQLite {:.1} s)",
            grouped(args.docs as f64),
            outcome.average_doc_bytes,
            grouped(LOAD_BATCH_DOCS as f64),
            outcome.load[0].as_secs_f64(),
            outcome.load[1].as_secs_f64(),
        ),
        format!(
            "- fields queried: `account` int ({} distinct, ~{DOCS_PER_ACCOUNT} docs each), `price` uniform 0–10,000, `score` uniform 0–1,000, `category` {} strings",
            grouped(outcome.accounts as f64),
            CATEGORIES.len(),
        ),
        format!(
            "- indexes: {} (Cairn B-tree via create_index; SQLite expression index on json_extract, then ANALYZE); `category` unindexed on both",
            INDEXED_FIELDS.map(|f| format!("`{f}`")).join(", "),
        ),
        format!(
            "- each query row: warm-up of {:.1} s with other parameters, then {:.1} s timed (at least {} queries), same seeded parameters on both; returned documents materialised on both sides (Cairn `Value`, SQLite text parsed by serde_json)",
            super::warmup(args.seconds).as_secs_f64(),
            args.seconds,
            super::MIN_TIMED_OPS,
        ),
        format!(
            "- Cairn: persistent mode, default 1 GiB page cache; SQLite {}: WAL, synchronous=FULL, 1 GiB cache, JSON text in a WITHOUT ROWID table",
            rusqlite::version()
        ),
        format!("- folder: {folder}"),
    ]
}

/// The lines below the table.
fn notes(outcome: &Outcome) -> Vec<String> {
    let mut notes = vec![if outcome.mismatches.is_empty() {
        format!(
            "verified: {} sample queries returned the same result counts (and equal groups) on both systems",
            outcome.verified
        )
    } else {
        format!(
            "MISMATCH: {} of {} sample queries differed between the systems (listed on standard error)",
            outcome.mismatches.len(),
            outcome.verified
        )
    }];
    for (field, [cairn, sqlite]) in &outcome.backfill {
        notes.push(format!(
            "backfill of the `{field}` index: Cairn {:.2} s, SQLite {:.2} s",
            cairn.as_secs_f64(),
            sqlite.as_secs_f64()
        ));
    }
    for row in &outcome.rows {
        notes.push(format!(
            "plan, {}: Cairn: {}; SQLite: {}",
            row.label, row.plans[0], row.plans[1]
        ));
    }
    notes
}

/// A rate with thousands separators, or with two decimals below 100.
fn rate_text(rate: f64) -> String {
    if rate < 100.0 {
        format!("{rate:.2}")
    } else {
        grouped(rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_rates_keep_decimals() {
        assert_eq!(rate_text(0.456), "0.46");
        assert_eq!(rate_text(12_345.6), "12,346");
    }
}
