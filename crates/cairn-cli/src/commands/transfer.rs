//! `cairn import` and `cairn export` (JSON lines, round-tripping through extended JSON).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context};
use cairn::{Database, EngineError, Value};
use indicatif::{ProgressBar, ProgressStyle};

/// Imports a JSONL file in transactions of `batch` documents. A malformed line stops the
/// import with its line number; nothing of the batch holding it is stored (earlier batches
/// are).
pub fn import(db: &Database, collection: &str, file: &Path, batch: usize) -> anyhow::Result<()> {
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
    let progress = progress_bar(total_bytes);
    let started = Instant::now();
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let mut pending: Vec<(usize, Value)> = Vec::with_capacity(batch);
    let mut line = String::new();
    let (mut line_no, mut imported) = (0usize, 0u64);
    loop {
        line.clear();
        let read = reader
            .read_line(&mut line)
            .with_context(|| format!("reading {} at line {}", file.display(), line_no + 1))?;
        if read == 0 {
            break;
        }
        line_no += 1;
        progress.inc(read as u64);
        if line.trim().is_empty() {
            continue;
        }
        let doc = Value::from_json_str(line.trim_end()).with_context(|| {
            format!(
                "{}: line {line_no} is not a valid document; nothing from its batch was stored",
                file.display()
            )
        })?;
        pending.push((line_no, doc));
        if pending.len() == batch {
            imported += commit_batch(db, collection, &mut pending)?;
        }
    }
    imported += commit_batch(db, collection, &mut pending)?;
    progress.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    println!(
        "imported {imported} documents into `{collection}` in {seconds:.2} s ({:.0} documents/s)",
        imported as f64 / seconds
    );
    Ok(())
}

fn commit_batch(
    db: &Database,
    collection: &str,
    pending: &mut Vec<(usize, Value)>,
) -> anyhow::Result<u64> {
    if pending.is_empty() {
        return Ok(0);
    }
    let mut failed_line = None;
    let result = db.transaction(|txn| {
        for (line_no, doc) in pending.iter() {
            failed_line = Some(*line_no);
            txn.insert(collection, doc.clone())?;
        }
        failed_line = None;
        Ok(())
    });
    if let Err(err) = result {
        match failed_line {
            Some(line_no) => bail!("line {line_no}: {err}; nothing from its batch was stored"),
            None => return Err(err.into()),
        }
    }
    let count = pending.len() as u64;
    pending.clear();
    Ok(count)
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
pub fn export(db: &Database, collection: &str, file: Option<&Path>) -> anyhow::Result<()> {
    let out: Box<dyn Write> = match file {
        Some(path) => {
            Box::new(File::create(path).with_context(|| format!("creating {}", path.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let mut write_error = None;
    let mut count = 0u64;
    db.for_each(collection, |_, doc| {
        let written = writeln!(out, "{}", doc.to_json_string());
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
