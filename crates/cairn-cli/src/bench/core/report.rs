//! The printed result: the configuration, the side-by-side Markdown table with the design
//! targets, and notes on internals. Targets are reported, never asserted.

use super::{CoreArgs, BATCH_DOCS, MIB};

/// What one system achieved in the run.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// Phase 1: documents per second, 1,000 per transaction.
    pub batched_docs_per_s: f64,
    /// Phase 2: durable single-document commits per second from one thread.
    pub single_commits_per_s: f64,
    /// Phase 3: durable single-document commits per second from all threads together.
    pub concurrent_commits_per_s: f64,
    /// Phase 4: random point gets per second.
    pub gets_per_s: f64,
    /// Phase 5: documents per second of a full scan.
    pub scan_docs_per_s: f64,
    /// Phase 5: documents the scan found.
    pub scanned_docs: u64,
    /// Phase 6: bytes of the database's files.
    pub disk_bytes: u64,
    /// System-specific lines for below the table.
    pub notes: Vec<String>,
}

/// Both systems' figures, and facts about the data.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Average size of a document as JSON text.
    pub average_doc_bytes: usize,
    /// Cairn's figures.
    pub cairn: Figures,
    /// SQLite's figures.
    pub sqlite: Figures,
}

/// The goal the Cairn/SQLite ratio of one row is held to.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// The ratio should be at least this (throughput).
    AtLeast(f64),
    /// The ratio should be at most this (size).
    AtMost(f64),
    /// No goal was set.
    Unset,
}

impl Target {
    /// The target column: the goal and whether this run met it.
    fn describe(self, ratio: f64) -> String {
        let verdict = |met: bool| if met { "met" } else { "missed" };
        match self {
            Target::AtLeast(goal) => format!("≥ {goal}× ({})", verdict(ratio >= goal)),
            Target::AtMost(goal) => format!("≤ {goal}× ({})", verdict(ratio <= goal)),
            Target::Unset => "—".to_string(),
        }
    }
}

/// One table row: both figures already formatted with their unit.
struct Row {
    operation: String,
    cairn: String,
    sqlite: String,
    ratio: f64,
    target: Target,
}

impl Row {
    /// A throughput row: higher is better.
    fn rate(operation: String, unit: &str, cairn: f64, sqlite: f64, target: Target) -> Row {
        Row {
            operation,
            cairn: format!("{} {unit}", grouped(cairn)),
            sqlite: format!("{} {unit}", grouped(sqlite)),
            ratio: cairn / sqlite.max(f64::MIN_POSITIVE),
            target,
        }
    }
}

/// The whole report as Markdown.
pub fn render(args: &CoreArgs, outcome: &Outcome) -> String {
    let mut lines = header(args, outcome);
    lines.push(String::new());
    lines.push("| operation | Cairn | SQLite | Cairn/SQLite | target |".to_string());
    lines.push("|---|---:|---:|---:|---|".to_string());
    for row in rows(args, outcome) {
        lines.push(format!(
            "| {} | {} | {} | {:.2}× | {} |",
            row.operation,
            row.cairn,
            row.sqlite,
            row.ratio,
            row.target.describe(row.ratio)
        ));
    }
    lines.push(String::new());
    let (cairn, sqlite) = (&outcome.cairn, &outcome.sqlite);
    let cairn_scaling =
        cairn.concurrent_commits_per_s / cairn.single_commits_per_s.max(f64::MIN_POSITIVE);
    let sqlite_scaling =
        sqlite.concurrent_commits_per_s / sqlite.single_commits_per_s.max(f64::MIN_POSITIVE);
    lines.push(format!(
        "- {} concurrent durable writers vs 1: Cairn {cairn_scaling:.2}× (target ≥ 10×: {}), SQLite {sqlite_scaling:.2}×",
        args.threads,
        if cairn_scaling >= 10.0 { "met" } else { "missed" },
    ));
    lines.push(format!(
        "- documents after the run: Cairn {}, SQLite {}",
        grouped(cairn.scanned_docs as f64),
        grouped(sqlite.scanned_docs as f64)
    ));
    lines.extend(
        cairn
            .notes
            .iter()
            .chain(&sqlite.notes)
            .map(|note| format!("- {note}")),
    );
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// The configuration lines above the table.
fn header(args: &CoreArgs, outcome: &Outcome) -> Vec<String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let folder = match &args.dir {
        Some(dir) => format!("{} (kept)", dir.display()),
        None => "a temporary folder under the current one (removed)".to_string(),
    };
    vec![
        "## cairn bench core".to_string(),
        String::new(),
        format!("- machine: {cores} cores"),
        format!(
            "- documents: {} batch-loaded, {} per transaction, ~{} bytes of JSON each; UUIDv7 ids",
            grouped(args.docs as f64),
            grouped(BATCH_DOCS as f64),
            outcome.average_doc_bytes
        ),
        format!(
            "- durable single inserts: {} from 1 thread, then {} from {} threads",
            grouped(args.single_inserts as f64),
            grouped(args.single_inserts as f64),
            args.threads
        ),
        format!(
            "- point gets: {}, uniform over the loaded ids, documents materialised on both sides",
            grouped(args.gets as f64)
        ),
        format!(
            "- Cairn: persistent mode (fsync per commit, group commit), routing entries {}; SQLite {}: WAL, synchronous=FULL, 1 GiB cache, JSON text in a WITHOUT ROWID table",
            if args.no_routing { "off" } else { "on" },
            rusqlite::version()
        ),
        format!("- folder: {folder}"),
    ]
}

/// The table's rows.
fn rows(args: &CoreArgs, outcome: &Outcome) -> Vec<Row> {
    let (cairn, sqlite) = (&outcome.cairn, &outcome.sqlite);
    vec![
        Row::rate(
            format!("batched insert ({} docs/txn)", grouped(BATCH_DOCS as f64)),
            "docs/s",
            cairn.batched_docs_per_s,
            sqlite.batched_docs_per_s,
            Target::AtLeast(1.5),
        ),
        Row::rate(
            "durable single insert, 1 thread".to_string(),
            "commits/s",
            cairn.single_commits_per_s,
            sqlite.single_commits_per_s,
            Target::Unset,
        ),
        Row::rate(
            format!("durable single insert, {} threads", args.threads),
            "commits/s",
            cairn.concurrent_commits_per_s,
            sqlite.concurrent_commits_per_s,
            Target::Unset,
        ),
        Row::rate(
            "random point get, 1 thread".to_string(),
            "gets/s",
            cairn.gets_per_s,
            sqlite.gets_per_s,
            Target::AtLeast(2.0),
        ),
        Row::rate(
            "full scan, 1 thread".to_string(),
            "docs/s",
            cairn.scan_docs_per_s,
            sqlite.scan_docs_per_s,
            Target::Unset,
        ),
        Row {
            operation: "size on disk".to_string(),
            cairn: format!("{:.1} MiB", cairn.disk_bytes as f64 / MIB),
            sqlite: format!("{:.1} MiB", sqlite.disk_bytes as f64 / MIB),
            ratio: cairn.disk_bytes as f64 / (sqlite.disk_bytes as f64).max(1.0),
            target: Target::AtMost(1.0),
        },
    ]
}

/// A non-negative figure rounded to an integer, with thousands separators: `1,234,567`.
pub(crate) fn grouped(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (position, digit) in digits.chars().enumerate() {
        if position > 0 && (digits.len() - position) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_grouped_by_thousands() {
        assert_eq!(grouped(0.0), "0");
        assert_eq!(grouped(999.4), "999");
        assert_eq!(grouped(1_000.0), "1,000");
        assert_eq!(grouped(1_234_567.0), "1,234,567");
    }

    #[test]
    fn targets_say_whether_they_were_met() {
        assert_eq!(Target::AtLeast(2.0).describe(2.5), "≥ 2× (met)");
        assert_eq!(Target::AtMost(1.0).describe(1.2), "≤ 1× (missed)");
    }
}
