//! `cairn series ...`: time-series collections — append points, range reads (with the chunks
//! skipped and decoded), downsampling, latest points, trajectories, deletes and retention.
//! Times and durations are integers in the collection's unit (microseconds for a `$date` time
//! field).

use std::io::{BufRead, Write};

use anyhow::{bail, Context};
use cairn::timeseries::{self, Aggregate, Downsample, Fill, SeriesOptions, TsError};
use cairn::{Database, Transaction, Value};
use serde_json::json;

use crate::limits::MAX_SERIES_APPEND_BATCH;

/// `cairn series ACTION`.
#[derive(Debug, clap::Subcommand)]
pub enum SeriesAction {
    /// Append points read as JSON lines from standard input (documents
    /// {time_field, meta_field, ...values}); commits every --batch points and prints
    /// {"committed": total, "seq": n} after each commit.
    Append {
        /// The time-series collection.
        collection: String,
        /// Points per transaction.
        #[arg(long, default_value_t = 10_000)]
        batch: usize,
    },
    /// Print the points of one series in [from, to) as JSON lines.
    Range {
        /// The time-series collection.
        collection: String,
        /// The series key as JSON (e.g. '"s1"' or '{"entity": 7}').
        #[arg(long)]
        series: String,
        /// Start (inclusive).
        #[arg(long, allow_hyphen_values = true)]
        from: i64,
        /// End (exclusive).
        #[arg(long, allow_hyphen_values = true)]
        to: i64,
        /// Also print a last line {"chunks_skipped", "chunks_decoded", "points"}: what the
        /// read did (chunks outside the range are skipped by their bounds, not decoded).
        #[arg(long)]
        explain: bool,
    },
    /// Downsample into buckets of --every; prints one JSON line per series
    /// {"series", "buckets": [{"start", "<aggregate>": value...}]}.
    Downsample {
        /// The time-series collection.
        collection: String,
        /// One series key as JSON; omitted: every series.
        #[arg(long)]
        series: Option<String>,
        /// Start (inclusive).
        #[arg(long, allow_hyphen_values = true)]
        from: i64,
        /// End (exclusive).
        #[arg(long, allow_hyphen_values = true)]
        to: i64,
        /// Bucket width.
        #[arg(long)]
        every: i64,
        /// The field aggregated.
        #[arg(long)]
        field: String,
        /// Aggregates (comma-separated): avg, min, max, sum, count, first, last.
        #[arg(long = "agg", value_delimiter = ',', required = true)]
        aggregates: Vec<String>,
        /// Empty buckets: none (left out), null, previous.
        #[arg(long, default_value = "none")]
        fill: String,
    },
    /// Print the latest point of every series (one record each, no chunk decoded).
    Latest {
        /// The time-series collection.
        collection: String,
    },
    /// Print the vectors of a field over [from, to) as JSON lines {"t", "v"}; with --at, print
    /// only the vector at that time (linear interpolation between its neighbours in range).
    Trajectory {
        /// The time-series collection.
        collection: String,
        /// The series key as JSON.
        #[arg(long)]
        series: String,
        /// The vector field.
        #[arg(long)]
        field: String,
        /// Start (inclusive).
        #[arg(long, allow_hyphen_values = true)]
        from: i64,
        /// End (exclusive).
        #[arg(long, allow_hyphen_values = true)]
        to: i64,
        /// Interpolate at this time.
        #[arg(long, allow_hyphen_values = true)]
        at: Option<i64>,
    },
    /// Delete the points of one series in [from, to); prints how many.
    Delete {
        /// The time-series collection.
        collection: String,
        /// The series key as JSON.
        #[arg(long)]
        series: String,
        /// Start (inclusive).
        #[arg(long, allow_hyphen_values = true)]
        from: i64,
        /// End (exclusive).
        #[arg(long, allow_hyphen_values = true)]
        to: i64,
    },
    /// Retention: drop every chunk whose newest point is older than now - expire_after.
    Expire {
        /// The time-series collection.
        collection: String,
        /// The current time in the collection's unit.
        #[arg(long, allow_hyphen_values = true)]
        now: i64,
    },
}

/// Creates a time-series collection (`cairn collection create NAME --timeseries`).
pub fn create(
    db: &Database,
    name: &str,
    time_field: &str,
    meta_field: &str,
    chunk_span: i64,
    expire_after: Option<i64>,
) -> anyhow::Result<()> {
    let mut options = SeriesOptions::new(time_field, meta_field, chunk_span);
    options.expire_after = expire_after;
    write(db, |txn| timeseries::create(txn, name, &options))?;
    println!(
        "created time-series collection `{name}` (time: `{time_field}`, series: `{meta_field}`)"
    );
    Ok(())
}

/// Runs `body` in a write transaction and commits it, retrying on conflicts (a time-series
/// error other than a conflict aborts it and keeps its message).
fn write<T>(
    db: &Database,
    mut body: impl FnMut(&mut Transaction) -> Result<T, TsError>,
) -> anyhow::Result<T> {
    Ok(db.transaction(|txn| body(txn).map_err(cairn::EngineError::from))?)
}

fn key(text: &str) -> anyhow::Result<Value> {
    Value::from_json_str(text).context("--series is not valid JSON")
}

/// Runs one `cairn series` action.
pub fn run(db: &Database, action: &SeriesAction) -> anyhow::Result<()> {
    match action {
        SeriesAction::Append { collection, batch } => append(db, collection, *batch),
        SeriesAction::Range {
            collection,
            series,
            from,
            to,
            explain,
        } => range(db, collection, &key(series)?, (*from, *to), *explain),
        SeriesAction::Downsample {
            collection,
            series,
            from,
            to,
            every,
            field,
            aggregates,
            fill,
        } => {
            let spec = Downsample {
                from: *from,
                to: *to,
                every: *every,
                field: field.clone(),
                aggregates: aggregates
                    .iter()
                    .map(|name| Aggregate::parse(name))
                    .collect::<Result<_, _>>()?,
                fill: Fill::parse(fill)?,
            };
            let series = series.as_deref().map(key).transpose()?;
            downsample(db, collection, series, &spec)
        }
        SeriesAction::Latest { collection } => latest(db, collection),
        SeriesAction::Trajectory {
            collection,
            series,
            field,
            from,
            to,
            at,
        } => trajectory(db, collection, &key(series)?, field, (*from, *to), *at),
        SeriesAction::Delete {
            collection,
            series,
            from,
            to,
        } => {
            let series = key(series)?;
            let deleted = write(db, |txn| {
                timeseries::delete_range(txn, collection, &series, *from, *to)
            })?;
            println!("{}", json!({ "deleted": deleted }));
            Ok(())
        }
        SeriesAction::Expire { collection, now } => {
            let dropped = write(db, |txn| timeseries::expire(txn, collection, *now))?;
            println!("{}", json!({ "chunks_dropped": dropped }));
            Ok(())
        }
    }
}

/// Appends JSON lines in transactions of `batch`; prints the running total after each
/// commit, so a caller knows which points are acknowledged.
fn append(db: &Database, collection: &str, batch: usize) -> anyhow::Result<()> {
    if batch == 0 || batch > MAX_SERIES_APPEND_BATCH {
        bail!("--batch must be between 1 and {MAX_SERIES_APPEND_BATCH}");
    }
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut pending: Vec<Value> = Vec::with_capacity(batch);
    let mut committed = 0usize;
    let mut first_line = 1;
    for (index, line) in stdin.lock().lines().enumerate() {
        let line_no = index + 1;
        let line = line.with_context(|| format!("reading standard input at line {line_no}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let doc = Value::from_json_str(&line)
            .with_context(|| format!("line {line_no} is not a valid point"))?;
        pending.push(doc);
        if pending.len() == batch {
            committed += commit(db, collection, &mut pending, (first_line, line_no))?;
            print_committed(&mut stdout.lock(), committed)?;
            first_line = line_no + 1;
        }
    }
    if !pending.is_empty() {
        committed += commit(db, collection, &mut pending, (first_line, usize::MAX))?;
    }
    print_committed(&mut stdout.lock(), committed)
}

fn print_committed(out: &mut impl Write, committed: usize) -> anyhow::Result<()> {
    writeln!(out, "{}", json!({ "committed": committed }))?;
    out.flush()?;
    Ok(())
}

fn commit(
    db: &Database,
    collection: &str,
    pending: &mut Vec<Value>,
    (first, last): (usize, usize),
) -> anyhow::Result<usize> {
    write(db, |txn| {
        timeseries::insert_documents(txn, collection, pending)
    })
    .map_err(|err| {
        let lines = if last == usize::MAX {
            format!("lines {first}-end")
        } else {
            format!("lines {first}-{last}")
        };
        anyhow::anyhow!("{lines}: {err}; nothing from this batch was stored")
    })?;
    let count = pending.len();
    pending.clear();
    Ok(count)
}

fn range(
    db: &Database,
    collection: &str,
    series: &Value,
    (from, to): (i64, i64),
    explain: bool,
) -> anyhow::Result<()> {
    let mut txn = db.read()?;
    let options = timeseries::options(&mut txn, collection)?;
    let (points, stats) = timeseries::read_range(&mut txn, collection, series, from, to)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for point in &points {
        let doc = point.to_document(&options.time_field, &options.meta_field, series);
        writeln!(out, "{}", doc.to_json_string())?;
    }
    if explain {
        let line = json!({
            "chunks_skipped": stats.chunks_skipped,
            "chunks_decoded": stats.chunks_decoded,
            "points": points.len(),
        });
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn downsample(
    db: &Database,
    collection: &str,
    series: Option<Value>,
    spec: &Downsample,
) -> anyhow::Result<()> {
    let mut txn = db.read()?;
    let results = match series {
        Some(key) => {
            let buckets = timeseries::downsample(&mut txn, collection, &key, spec)?;
            vec![(key, buckets)]
        }
        None => timeseries::downsample_all(&mut txn, collection, spec)?,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (key, buckets) in results {
        let buckets: Vec<serde_json::Value> = buckets
            .iter()
            .map(|bucket| {
                let mut object = serde_json::Map::new();
                object.insert("start".to_string(), json!(bucket.start));
                for (agg, value) in spec.aggregates.iter().zip(&bucket.values) {
                    let value = match value {
                        Some(sample) => serde_json::to_value(sample.to_value())?,
                        None => serde_json::Value::Null,
                    };
                    object.insert(agg.name().to_string(), value);
                }
                Ok(serde_json::Value::Object(object))
            })
            .collect::<Result<_, serde_json::Error>>()?;
        let line = json!({ "series": serde_json::to_value(&key)?, "buckets": buckets });
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn latest(db: &Database, collection: &str) -> anyhow::Result<()> {
    let mut txn = db.read()?;
    let options = timeseries::options(&mut txn, collection)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (series, point) in timeseries::latest(&mut txn, collection)? {
        let doc = point.to_document(&options.time_field, &options.meta_field, &series);
        writeln!(out, "{}", doc.to_json_string())?;
    }
    Ok(())
}

fn trajectory(
    db: &Database,
    collection: &str,
    series: &Value,
    field: &str,
    (from, to): (i64, i64),
    at: Option<i64>,
) -> anyhow::Result<()> {
    let mut txn = db.read()?;
    let path = timeseries::trajectory(&mut txn, collection, series, field, from, to)?;
    if let Some(at) = at {
        let value = timeseries::interpolate_path(&path, field, at)?;
        println!("{}", json!({ "t": at, "v": value }));
        return Ok(());
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (t, v) in path {
        writeln!(out, "{}", json!({ "t": t, "v": v }))?;
    }
    Ok(())
}
