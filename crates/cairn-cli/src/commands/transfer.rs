//! `cairn import` and `cairn export` (JSON lines, round-tripping through extended JSON; MongoDB's
//! Extended JSON in, and optionally out).

use std::fs::File;
use std::io::{BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use cairn::{Database, EngineError, Value};
use indicatif::{ProgressBar, ProgressStyle};

use super::csv_format::{CsvOptions, CsvSource};
use super::import_source::{ImportRecord, ImportSource};
use super::parquet_format::ParquetSource;

/// The text formats of `cairn import` and `cairn export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Cairn's extended JSON, one document per line (MongoDB's Extended JSON wrappers are read
    /// too, so `mongoexport` output imports as is).
    #[default]
    Jsonl,
    /// MongoDB relaxed Extended JSON v2: on import the same as `jsonl`, on export what
    /// `mongoimport` reads (`$binary`, ISO dates, plain arrays for vectors).
    Mongo,
    /// CSV with a header row (see `csv_format.rs` for typing and flattening).
    Csv,
    /// Apache Parquet (see `parquet_format.rs` for the type mapping); export needs a file.
    Parquet,
}

/// `cairn import COLLECTION FILE`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// Target collection (created if missing).
    pub collection: String,
    /// The file: JSON lines, or one JSON array of documents (`mongoexport --jsonArray`).
    pub file: PathBuf,
    /// Documents per transaction.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Input format.
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    pub format: Format,
    /// Skip up to N bad lines (malformed, or refused by the database: duplicate id, schema
    /// violation…), each reported with file and line, instead of stopping at the first.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub skip_errors: u64,
    /// Copy every skipped line into this file (JSON lines), to fix and import again.
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
    /// Start at this line: resumes an import that stopped, after the lines it says it committed.
    #[arg(long, value_name = "LINE", default_value_t = 1)]
    pub resume_from: usize,
    /// Replace documents whose `_id` already exists instead of refusing them.
    #[arg(long)]
    pub upsert: bool,
    /// CSV field separator (one character, e.g. `;` or `\t`).
    #[arg(long, value_parser = parse_delimiter, default_value = ",")]
    pub delimiter: u8,
    /// CSV: keep every cell as a string instead of typing numbers and booleans.
    #[arg(long)]
    pub no_infer: bool,
}

/// Parses a one-byte delimiter; `\t` names a tab.
pub fn parse_delimiter(text: &str) -> Result<u8, String> {
    match text {
        "\\t" | "tab" => Ok(b'\t'),
        _ if text.len() == 1 && text.is_ascii() => Ok(text.as_bytes()[0]),
        _ => Err(format!("{text:?}: the delimiter is one ASCII character")),
    }
}

/// Where imported documents come from.
enum Source {
    Json(ImportSource<BufReader<File>>),
    Csv(CsvSource<BufReader<File>>),
    Parquet(ParquetSource),
}

impl Source {
    /// The next record: its line, its text (for a rejects file), the document or why not.
    fn next_record(&mut self) -> anyhow::Result<Option<ImportRecord>> {
        Ok(match self {
            Source::Json(source) => source.next_item()?.map(|item| ImportRecord {
                doc: Value::from_json_str(&item.text).map_err(|err| err.to_string()),
                line: item.line,
                text: item.text,
            }),
            Source::Csv(source) => source.next_record()?,
            Source::Parquet(source) => source.next_record()?,
        })
    }

    fn consumed(&self) -> u64 {
        match self {
            Source::Json(source) => source.consumed(),
            Source::Csv(source) => source.consumed(),
            // Row groups are decoded whole; the bar shows rows as a fraction of nothing useful.
            Source::Parquet(_) => 0,
        }
    }
}

/// Lines skipped so far and where they are copied.
struct Rejects {
    limit: u64,
    skipped: u64,
    file: Option<(PathBuf, BufWriter<File>)>,
    source: PathBuf,
}

impl Rejects {
    /// Records a bad line, or fails once more than the allowed number were skipped.
    fn skip(&mut self, line: usize, text: &str, reason: &str) -> anyhow::Result<()> {
        if self.skipped == self.limit {
            bail!("{}: line {line}: {reason}", self.source.display());
        }
        self.skipped += 1;
        eprintln!("skipped {}: line {line}: {reason}", self.source.display());
        if let Some((path, out)) = &mut self.file {
            writeln!(out, "{text}").with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    }
}

/// Imports a file in transactions of `batch` documents. A bad line stops the import (unless
/// `--skip-errors` allows it) with its line number and the lines already committed, so it can
/// be resumed with `--resume-from`.
pub fn import(db: &Database, args: &ImportArgs) -> anyhow::Result<()> {
    let (collection, file, batch) = (&args.collection, &args.file, args.batch);
    if batch == 0 || batch > cairn::limits::MAX_TXN_OPS {
        bail!(
            "--batch must be between 1 and {}",
            cairn::limits::MAX_TXN_OPS
        );
    }
    match db.create_collection(collection) {
        Ok(_) | Err(EngineError::CollectionExists { .. }) => {}
        Err(err) => return Err(err.into()),
    }
    let input = File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let total_bytes = input.metadata().map(|m| m.len()).unwrap_or(0);
    let mut rejects = Rejects {
        limit: args.skip_errors,
        skipped: 0,
        file: match &args.rejects {
            Some(path) => Some((
                path.clone(),
                BufWriter::new(
                    File::create(path).with_context(|| format!("creating {}", path.display()))?,
                ),
            )),
            None => None,
        },
        source: file.clone(),
    };
    let progress = progress_bar(total_bytes);
    let started = Instant::now();
    let reader = BufReader::with_capacity(1 << 20, input);
    let mut source = match args.format {
        Format::Jsonl | Format::Mongo => Source::Json(ImportSource::new(reader)),
        Format::Csv => Source::Csv(CsvSource::new(
            reader,
            CsvOptions {
                delimiter: args.delimiter,
                infer: !args.no_infer,
            },
        )?),
        Format::Parquet => Source::Parquet(ParquetSource::open(file)?),
    };
    let mut pending: Vec<Pending> = Vec::with_capacity(batch);
    let mut state = ImportState::default();
    let outcome = (|| -> anyhow::Result<()> {
        while let Some(ImportRecord { line, text, doc }) = source
            .next_record()
            .with_context(|| format!("reading {}", file.display()))?
        {
            progress.set_position(source.consumed());
            if line < args.resume_from {
                continue;
            }
            match doc {
                // The text is only needed to copy a refused document to the rejects.
                Ok(doc) => pending.push(Pending {
                    line,
                    text: if args.skip_errors > 0 {
                        text
                    } else {
                        String::new()
                    },
                    doc,
                }),
                Err(err) => rejects.skip(line, &text, &err)?,
            }
            if pending.len() == batch {
                commit_batch(db, args, &mut pending, &mut rejects, &mut state)?;
            }
        }
        commit_batch(db, args, &mut pending, &mut rejects, &mut state)
    })();
    progress.finish_and_clear();
    if let Some((path, out)) = &mut rejects.file {
        out.flush()
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Err(err) = outcome {
        let committed = match state.last_committed_line {
            Some(line) => format!(
                "lines up to {line} are done ({} documents committed by this run); after fixing \
                 the line, resume with `--resume-from {}`",
                state.imported,
                line + 1
            ),
            None => "nothing was committed by this run".to_string(),
        };
        return Err(err.context(format!("import stopped ({committed})")));
    }
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    let skipped = match rejects.skipped {
        0 => String::new(),
        n => format!(", skipped {n} bad lines"),
    };
    println!(
        "imported {} documents into `{collection}` in {seconds:.2} s ({:.0} documents/s){skipped}",
        state.imported,
        state.imported as f64 / seconds
    );
    record_lineage(db, collection, file, state.imported)
}

/// Records where the imported documents came from (`cairn lineage COLLECTION`): the file's
/// name, size and SHA-256. The file is read once more to hash it (formats read it through
/// different readers; a hash is cheap next to parsing).
fn record_lineage(
    db: &Database,
    collection: &str,
    file: &Path,
    documents: u64,
) -> anyhow::Result<()> {
    use sha2::{Digest, Sha256};
    let mut input = File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let mut hasher = Sha256::new();
    let size_bytes = std::io::copy(&mut input, &mut hasher)
        .with_context(|| format!("reading {} to hash it", file.display()))?;
    let sha256 = hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let record = cairn::lineage::LineageRecord {
        id: None,
        output: collection.to_string(),
        operation: "import".to_string(),
        inputs: vec![cairn::lineage::LineageInput::File {
            name: file.display().to_string(),
            size_bytes,
            sha256,
        }],
        statement: None,
        at: cairn::DateTime::now(),
        documents: Some(documents),
    };
    cairn::lineage::record(db, &record).context("recording the import's lineage")?;
    Ok(())
}

/// A parsed line waiting for its batch's commit.
struct Pending {
    line: usize,
    text: String,
    doc: Value,
}

/// What has been committed.
#[derive(Default)]
struct ImportState {
    imported: u64,
    last_committed_line: Option<usize>,
}

/// Whether an error refuses one document (the import may skip it) rather than the whole
/// import (storage failure, closed database, conflict).
fn refuses_document(err: &EngineError) -> bool {
    matches!(
        err,
        EngineError::DuplicateId { .. }
            | EngineError::IdMismatch { .. }
            | EngineError::Document(_)
            | EngineError::LimitExceeded { .. }
            | EngineError::ExtensionRejected { .. }
            | EngineError::UniqueViolation { .. }
            | EngineError::SchemaViolation { .. }
            | EngineError::ReferenceViolation { .. }
            | EngineError::RuleViolation { .. }
    )
}

/// Commits the pending documents in one transaction. A document the database refuses is
/// skipped (a failed operation leaves the transaction as it was) if `--skip-errors` allows,
/// else nothing of the batch is stored and the import stops naming its line.
fn commit_batch(
    db: &Database,
    args: &ImportArgs,
    pending: &mut Vec<Pending>,
    rejects: &mut Rejects,
    state: &mut ImportState,
) -> anyhow::Result<()> {
    let Some(last) = pending.last() else {
        return Ok(());
    };
    let last_line = last.line;
    let budget = rejects.limit - rejects.skipped;
    let mut refused: Vec<(usize, EngineError)> = Vec::new();
    let mut failed_line = None;
    let result = db.transaction(|txn| {
        // The closure runs again when the commit conflicts: start over each time.
        refused.clear();
        for item in pending.iter() {
            failed_line = Some(item.line);
            let written = if args.upsert {
                txn.upsert(&args.collection, item.doc.clone()).map(|_| ())
            } else {
                txn.insert(&args.collection, item.doc.clone()).map(|_| ())
            };
            match written {
                Ok(()) => {}
                Err(err) if refuses_document(&err) && (refused.len() as u64) < budget => {
                    refused.push((item.line, err));
                }
                Err(err) => return Err(err),
            }
        }
        // Past here only the commit can fail, and it names no line.
        failed_line = None;
        Ok(())
    });
    if let Err(err) = result {
        let at = failed_line.map_or(String::new(), |line| format!(" line {line}:"));
        bail!(
            "{}:{at} {err}; nothing from its batch was stored",
            args.file.display()
        );
    }
    for (line, err) in &refused {
        let text = pending
            .iter()
            .find(|item| item.line == *line)
            .map_or("", |item| item.text.as_str());
        rejects.skip(*line, text, &err.to_string())?;
    }
    state.imported += (pending.len() - refused.len()) as u64;
    state.last_committed_line = Some(last_line);
    pending.clear();
    Ok(())
}

fn progress_bar(total_bytes: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total_bytes);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}

/// Writes every document of the collection as one JSON line, on one snapshot.
pub fn export(
    db: &Database,
    collection: &str,
    file: Option<&Path>,
    format: Format,
    delimiter: u8,
) -> anyhow::Result<()> {
    if format == Format::Parquet {
        let Some(path) = file else {
            bail!("--format parquet writes a file: name it (`cairn export {collection} out.parquet --format parquet`)");
        };
        let count = super::parquet_format::export(db, collection, path)?;
        eprintln!("exported {count} documents to {}", path.display());
        return Ok(());
    }
    let out: Box<dyn Write> = match file {
        Some(path) => {
            Box::new(File::create(path).with_context(|| format!("creating {}", path.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(1 << 20, out);
    if format == Format::Csv {
        let count = super::csv_format::export(db, collection, &mut out, delimiter)?;
        out.flush().context("writing the export")?;
        if let Some(path) = file {
            eprintln!("exported {count} documents to {}", path.display());
        }
        return Ok(());
    }
    let mut write_error = None;
    let mut count = 0u64;
    db.for_each(collection, |_, doc| {
        let text = match format {
            Format::Mongo => doc.to_mongo_json_string(),
            Format::Jsonl | Format::Csv | Format::Parquet => doc.to_json_string(),
        };
        let written = writeln!(out, "{text}");
        count += 1;
        match written {
            Ok(()) => true,
            Err(err) => {
                write_error = Some(err);
                false
            }
        }
    })?;
    if let Some(err) = write_error {
        return Err(err).context("writing the export");
    }
    out.flush().context("writing the export")?;
    if let Some(path) = file {
        eprintln!("exported {count} documents to {}", path.display());
    }
    Ok(())
}
