//! `cairn bench text`: Cairn's full-text index side by side with raw tantivy (PyPI `tantivy`,
//! its own index, driven by `text/side.py`), SQLite FTS5 (rusqlite's bundled SQLite) and
//! PostgreSQL 15 `tsvector` + GIN, on the same paragraphs and queries, in one run.
//!
//! # Workload
//!
//! Corpus: the paragraphs of the machine's English man pages, `--docs` of them (default
//! 20,000; the reference size is `--docs 200000`). Preparation (`text/corpus.rs`): the files
//! `/usr/share/man/man1/*.gz` … `man8/*.gz`, sections in order and paths sorted within one,
//! each decompressed by `gzip -dc`; a page that is only a `.so` link is skipped. Lines starting
//! with `.` or `'` are requests: paragraph macros (`.PP .P .LP .TP .IP .HP .SH .SS .sp .nf .fi
//! .RS .RE .TS .TE .EX .EE .TH` and mdoc's `.Pp .Sh .Ss .It .Bl .El .Bd .Ed .Dd .Dt .Os`) end
//! the paragraph and their arguments are dropped; font macros (`.B .I .BR .RB .IR .RI .BI .IB
//! .SM .SB`) keep their arguments without quotes; every other request is dropped. A blank line
//! ends a paragraph. In text, escapes are removed: fonts `\f`, strings `\*`, sizes `\s`, `\&`,
//! `\c`, comments `\"` to the end of the line; `\-` is `-`, `\(em`/`\(en` `-`, `\(lq`/`\(rq`
//! `"`, `\(aq` `'`, other specials nothing. A paragraph's lines are joined with single spaces;
//! paragraphs of fewer than 8 words are dropped. Document `i` is the `i`-th paragraph:
//! `{"_id": i, "body": paragraph}`.
//!
//! Queries (`--queries` per class, default 200, splitmix64 seed 7): a *query word* is a token
//! of a random paragraph (split at non-alphanumerics, lowercased) of 3–20 ASCII letters that is
//! not an English stop word — so frequent words are drawn more often, as in real searches.
//! `term`: one query word; `and`: two different words of one paragraph, both required; `or`:
//! a word of one paragraph or of another; `phrase`: two adjacent query words of a paragraph;
//! `prefix`: the first 5 letters of a query word of 7+ letters; `fuzzy`: a query word of 6+
//! letters with one letter after the first replaced (edit distance 1). Each system gets every
//! query twice; the first pass warms the caches, the second is timed, one query at a time, one
//! thread, top 10.
//!
//! Systems and what is timed:
//! - **Cairn** (persistent mode, local disk): the paragraphs loaded 1,000 per transaction, then
//!   a text index (English: Snowball stemming, NLTK stop words, folding) built online — its
//!   time is the build. Queries two ways: `Cairn find` through the query layer
//!   (`cairn::find` with `{"$text": {"query": …, "k": 10}}`, limit 10, projected to `_id`),
//!   the user's path; `Cairn index` through `cairn::text::search` on a new read snapshot,
//!   comparable with a raw library. Query strings: `w`, `+a +b`, `a b`, `"a b"`, `pre*`,
//!   `w~1`.
//! - **tantivy** 0.27 (Python binding): `en_stem` tokenizer, positions, one indexing thread
//!   with a 64 MB budget; build = adding every paragraph + commit + merges. `parse_query` for
//!   term/AND/OR/phrase, `regex_query("pre.*")` for prefix, `fuzzy_term_query(distance=1)` for
//!   fuzzy (both constant-score in tantivy, so their top 10 differ from a BM25 ranking). Timed:
//!   `searcher.search(query, 10)`, the prebuilt query objects (ids fetched after timing).
//! - **SQLite FTS5**: external-content FTS5 over the loaded table, `porter unicode61
//!   remove_diacritics 2`, built by `rebuild`; `ORDER BY rank LIMIT 10` (BM25). No fuzzy.
//! - **PostgreSQL 15**: a private cluster; build = a stored generated
//!   `to_tsvector('english', body)` column + GIN index; `ORDER BY ts_rank DESC, id LIMIT 10`.
//!   No fuzzy.
//!
//! Figures: indexing MB/s (bytes of paragraph text / build time), index bytes (Cairn: growth of
//! the database folder; tantivy: its folder; SQLite: growth of the file; PostgreSQL: growth of
//! `pg_total_relation_size`), per query class the mean and p99 latency in µs and the mean
//! top-10 overlap with Cairn's index answer, and *commit → searchable*: the mean over 20
//! rounds of the time from committing a one-paragraph write to a search that finds it
//! returning (Cairn, SQLite and PostgreSQL: the commit and one search, nothing else is needed;
//! tantivy: commit + reader reload + search). Ratios: Cairn's mean latency over tantivy's.
//! Queries a system refuses or cannot express are counted, not timed.
//!
//! Reproduce with `cargo run --release -p cairn-cli -- bench text` (`--docs 200000` for the
//! reference size).

mod cairn_side;
mod corpus;
mod postgres_side;
mod sqlite_side;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use self::corpus::{TextQuery, CLASSES};
use super::core::bench_folder;
use super::limits::{MAX_TEXT_DOCS, MAX_TEXT_QUERIES};

/// `cairn bench text`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct TextArgs {
    /// Paragraphs indexed (the reference size: 200000).
    #[arg(long, default_value_t = 20_000)]
    pub docs: usize,
    /// Queries per class (term, and, or, phrase, prefix, fuzzy).
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// The Python interpreter that runs tantivy.
    #[arg(long, default_value = "python3")]
    pub python: String,
    /// Skip tantivy.
    #[arg(long)]
    pub no_tantivy: bool,
    /// Skip PostgreSQL.
    #[arg(long)]
    pub no_postgres: bool,
    /// Where to create the databases (kept afterwards); default: a temporary folder under the
    /// current one, removed afterwards.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Results per query.
const K: usize = 10;
/// Documents per load transaction.
const LOAD_BATCH: usize = 1_000;
/// Rounds of the commit → searchable measure.
const VISIBILITY_ROUNDS: usize = 20;

/// Per query, in the queries' order: the ids returned and the time taken, or `None` when the
/// system refused the query or cannot express it.
type Answers = Vec<Option<(Vec<u64>, Duration)>>;

/// One system's figures.
struct System {
    name: String,
    build_s: f64,
    index_bytes: u64,
    visible_ms: f64,
    answers: Answers,
    note: String,
}

/// A word no paragraph holds, distinct per round (letters only, so no analyzer splits it).
fn fresh_word(round: usize) -> String {
    let mut word = "zqxjv".to_string();
    let mut n = round;
    loop {
        word.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
        if n == 0 {
            return word;
        }
    }
}

/// Bytes of the files under `path`.
fn folder_bytes(path: &Path) -> u64 {
    std::fs::read_dir(path).map_or(0, |entries| {
        entries
            .filter_map(|e| e.ok())
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => folder_bytes(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    })
}

/// Runs the benchmark and prints its tables.
pub fn run(args: &TextArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (100..=MAX_TEXT_DOCS).contains(&args.docs),
        "--docs must be between 100 and {MAX_TEXT_DOCS}"
    );
    anyhow::ensure!(
        (1..=MAX_TEXT_QUERIES).contains(&args.queries),
        "--queries must be between 1 and {MAX_TEXT_QUERIES}"
    );
    let (_temp, dir) = bench_folder(args.dir.as_deref())?;
    eprintln!("reading {} paragraphs of man pages…", args.docs);
    let docs = corpus::paragraphs(args.docs)?;
    let text_bytes: usize = docs.iter().map(String::len).sum();
    let queries = corpus::queries(&docs, args.queries);
    let (find, index) = cairn_side::run(&dir, &docs, &queries)?;
    let mut systems = vec![find, index];
    let mut skipped = Vec::new();
    if args.no_tantivy {
        skipped.push("tantivy: --no-tantivy given".to_string());
    } else {
        match tantivy_side(&dir, args, &docs, &queries)? {
            Ok(system) => systems.push(system),
            Err(why) => skipped.push(format!("tantivy: {why}")),
        }
    }
    systems.push(sqlite_side::run(&dir, &docs, &queries)?);
    let pg_skip = if args.no_postgres {
        Some("--no-postgres given".to_string())
    } else {
        crate::bench::pg_cluster::unavailable()
    };
    match pg_skip {
        Some(why) => skipped.push(format!("PostgreSQL: {why}")),
        None => systems.push(postgres_side::run(&dir, &docs, &queries)?),
    }
    print!("{}", render(args, text_bytes, &queries, &systems, &skipped));
    Ok(())
}

/// tantivy through `text/side.py`: the system, or why it was skipped.
fn tantivy_side(
    dir: &Path,
    args: &TextArgs,
    docs: &[String],
    queries: &[TextQuery],
) -> anyhow::Result<Result<System, String>> {
    std::fs::write(dir.join("corpus.json"), serde_json::to_vec(docs)?)?;
    let listed: Vec<serde_json::Value> = queries
        .iter()
        .map(|q| serde_json::json!({"class": CLASSES[q.class], "words": q.words}))
        .collect();
    std::fs::write(dir.join("queries.json"), serde_json::to_vec(&listed)?)?;
    let script = dir.join("side.py");
    std::fs::write(&script, include_str!("text/side.py"))?;
    eprintln!("tantivy (python)…");
    let words: Vec<String> = (0..VISIBILITY_ROUNDS).map(fresh_word).collect();
    let output = std::process::Command::new(&args.python)
        .arg(&script)
        .arg(dir)
        .args([K.to_string(), VISIBILITY_ROUNDS.to_string()])
        .args(&words)
        .output()
        .with_context(|| format!("running {}", args.python))?;
    anyhow::ensure!(
        output.status.success(),
        "the tantivy script failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    if let Some(err) = json["error"].as_str() {
        return Ok(Err(err.to_string()));
    }
    let answers = json["answers"]
        .as_array()
        .context("tantivy: no answers")?
        .iter()
        .map(|a| {
            let ids = a[0].as_array()?.iter().filter_map(|x| x.as_u64()).collect();
            Some((ids, Duration::from_secs_f64(a[1].as_f64()?)))
        })
        .collect();
    Ok(Ok(System {
        name: "tantivy".to_string(),
        build_s: json["build_s"].as_f64().unwrap_or(f64::NAN),
        index_bytes: json["index_bytes"].as_u64().unwrap_or(0),
        visible_ms: json["visible_ms"].as_f64().unwrap_or(f64::NAN),
        answers,
        note: "prefix and fuzzy are constant-score".to_string(),
    }))
}

/// Mean and p99 (µs) of one system's answered queries of `class`, and how many it did not answer.
fn latency(system: &System, queries: &[TextQuery], class: usize) -> Option<(f64, f64, usize)> {
    let mut times: Vec<Duration> = Vec::new();
    let mut missing = 0;
    for (q, a) in queries.iter().zip(&system.answers) {
        if q.class == class {
            match a {
                Some((_, t)) => times.push(*t),
                None => missing += 1,
            }
        }
    }
    if times.is_empty() {
        return None;
    }
    times.sort();
    let mean = times.iter().sum::<Duration>().as_secs_f64() * 1e6 / times.len() as f64;
    let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)].as_secs_f64() * 1e6;
    Some((mean, p99, missing))
}

/// Mean share of `reference`'s top 10 that `system` also returned, over queries both answered
/// (a query with no matches in the reference counts as agreeing when the system has none either).
fn overlap(
    system: &System,
    reference: &System,
    queries: &[TextQuery],
    class: usize,
) -> Option<f64> {
    let mut sum = 0.0;
    let mut n = 0;
    for ((q, a), r) in queries.iter().zip(&system.answers).zip(&reference.answers) {
        if let (true, Some((got, _)), Some((want, _))) = (q.class == class, a, r) {
            sum += if want.is_empty() {
                f64::from(u8::from(got.is_empty()))
            } else {
                got.iter().filter(|g| want.contains(g)).count() as f64 / want.len() as f64
            };
            n += 1;
        }
    }
    (n > 0).then(|| sum / n as f64)
}

/// The report: a table of builds, then one of queries.
fn render(
    args: &TextArgs,
    text_bytes: usize,
    queries: &[TextQuery],
    systems: &[System],
    skipped: &[String],
) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let mb = text_bytes as f64 / 1e6;
    let _ = writeln!(
        out,
        "`cairn bench text`: {} man-page paragraphs ({mb:.1} MB of text), {} queries per class, \
         top {K}, one thread\n",
        args.docs, args.queries
    );
    let _ = writeln!(
        out,
        "| system | build s | indexing MB/s | index MiB | commit → searchable ms | note |\n|---|---|---|---|---|---|"
    );
    for s in systems.iter().filter(|s| s.name != "Cairn index") {
        let _ = writeln!(
            out,
            "| {} | {:.2} | {:.2} | {:.1} | {:.2} | {} |",
            s.name.trim_end_matches(" find"),
            s.build_s,
            mb / s.build_s,
            s.index_bytes as f64 / 1048576.0,
            s.visible_ms,
            s.note
        );
    }
    let tantivy = systems.iter().find(|s| s.name == "tantivy");
    let cairn_index = systems.iter().find(|s| s.name == "Cairn index");
    let mut header = "\n| query |".to_string();
    let mut rule = "|---|".to_string();
    for s in systems {
        let _ = write!(header, " {} mean µs | p99 |", s.name);
        rule.push_str("---|---|");
    }
    if tantivy.is_some() {
        header.push_str(" Cairn find / tantivy | Cairn index / tantivy |");
        rule.push_str("---|---|");
    }
    header.push_str(" top-10 overlap with Cairn index |");
    rule.push_str("---|");
    let _ = writeln!(out, "{header}\n{rule}");
    for (class, name) in CLASSES.iter().enumerate() {
        let mut line = format!("| {name} |");
        let mut means = Vec::new();
        for s in systems {
            match latency(s, queries, class) {
                Some((mean, p99, missing)) => {
                    let refused = if missing > 0 {
                        format!(" ({missing} unanswered)")
                    } else {
                        String::new()
                    };
                    let _ = write!(line, " {mean:.0}{refused} | {p99:.0} |");
                    means.push(Some(mean));
                }
                None => {
                    line.push_str(" – | – |");
                    means.push(None);
                }
            }
        }
        if let Some(t) = tantivy.and_then(|t| latency(t, queries, class)) {
            for m in means.iter().take(2) {
                match m {
                    Some(m) => {
                        let _ = write!(line, " {:.2}× |", m / t.0);
                    }
                    None => line.push_str(" – |"),
                }
            }
        } else if tantivy.is_some() {
            line.push_str(" – | – |");
        }
        let overlaps: Vec<String> = systems
            .iter()
            .filter(|s| s.name != "Cairn index")
            .filter_map(|s| {
                let o = overlap(s, cairn_index?, queries, class)?;
                Some(format!("{} {o:.2}", s.name))
            })
            .collect();
        let _ = writeln!(line, " {} |", overlaps.join(", "));
        out.push_str(&line);
    }
    for why in skipped {
        let _ = writeln!(out, "\nskipped: {why}");
    }
    out
}
