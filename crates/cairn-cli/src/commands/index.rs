//! `cairn index create | drop | list`

use std::io::IsTerminal;

use anyhow::bail;
use cairn::geo::index::{
    create_spatial_index, drop_spatial_index, list_spatial_indexes, SpatialSpec,
};
use cairn::index::BuildProgress;
use cairn::{Database, IndexKind, IndexSpec};

use crate::cli::IndexKindArg;
use indicatif::{ProgressBar, ProgressStyle};

/// Creates and builds an index, with a progress bar on a terminal.
pub fn create(
    db: &Database,
    collection: &str,
    name: &str,
    fields: &[String],
    kind: IndexKindArg,
    unique: bool,
) -> anyhow::Result<()> {
    let kind = match kind {
        IndexKindArg::Spatial => return create_spatial(db, collection, name, fields, unique),
        IndexKindArg::Btree => IndexKind::BTree,
        IndexKindArg::Hash => IndexKind::Hash,
    };
    let fields: Vec<&str> = fields.iter().map(|f| f.trim()).collect();
    let spec = IndexSpec::new(name, &fields, kind, unique)?;
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("building {msg} [{bar:30}] {pos}/{len} documents")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(name.to_string());
    let started = std::time::Instant::now();
    let mut report = |p: BuildProgress| {
        bar.set_length(p.total);
        bar.set_position(p.scanned);
    };
    cairn::create_index(db, collection, &spec, &mut report)?;
    bar.finish_and_clear();
    println!(
        "created index `{name}` on `{collection}` in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Creates and builds a spatial index (one geometry field; online, like other indexes).
fn create_spatial(
    db: &Database,
    collection: &str,
    name: &str,
    fields: &[String],
    unique: bool,
) -> anyhow::Result<()> {
    if unique {
        bail!("a spatial index cannot be --unique");
    }
    let [field] = fields else {
        bail!(
            "a spatial index takes exactly one field, got {}",
            fields.len()
        );
    };
    let spec = SpatialSpec::new(name, field.trim())?;
    let started = std::time::Instant::now();
    let parts = create_spatial_index(db, collection, &spec)?;
    println!(
        "created spatial index `{name}` on `{collection}` ({parts} parts) in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Drops an index (secondary or spatial).
pub fn drop(db: &Database, collection: &str, name: &str) -> anyhow::Result<()> {
    let spatial = list_spatial_indexes(db, collection)?;
    if spatial.iter().any(|s| s.spec.name == name) {
        drop_spatial_index(db, collection, name)?;
        println!("dropped spatial index `{name}` on `{collection}`");
        return Ok(());
    }
    cairn::drop_index(db, collection, name)?;
    println!("dropped index `{name}` on `{collection}`");
    Ok(())
}

/// Lists indexes as a table.
pub fn list(db: &Database, collection: &str) -> anyhow::Result<()> {
    let indexes = cairn::list_indexes(db, collection)?;
    let spatial = list_spatial_indexes(db, collection)?;
    if indexes.is_empty() && spatial.is_empty() {
        println!("no indexes on `{collection}`");
        return Ok(());
    }
    println!(
        "{:<24} {:<6} {:<7} {:<24} {:>10} {:>12}  state",
        "name", "kind", "unique", "fields", "entries", "bytes"
    );
    for info in indexes {
        let mut state = if info.ready { "ready" } else { "building" }.to_string();
        if info.multikey {
            state.push_str(", multikey");
        }
        println!(
            "{:<24} {:<6} {:<7} {:<24} {:>10} {:>12}  {state}",
            info.spec.name,
            info.spec.kind.name(),
            info.spec.unique,
            info.spec.field_names().join(","),
            info.entries,
            info.bytes
        );
    }
    for info in spatial {
        let state = if info.ready { "ready" } else { "building" };
        println!(
            "{:<24} {:<6} {:<7} {:<24} {:>10} {:>12}  {state}",
            info.spec.name, "spatial", false, info.spec.field, info.entries, info.bytes
        );
    }
    Ok(())
}
