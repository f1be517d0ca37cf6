//! `cairn index create | drop | list`

use std::io::IsTerminal;

use anyhow::bail;
use cairn::geo::index::{
    create_spatial_index, drop_spatial_index, list_spatial_indexes, SpatialSpec,
};
use cairn::index::BuildProgress;
use cairn::text::{create_text_index, drop_text_index, list_text_indexes, Language, TextSpec};
use cairn::vector::{
    create_vector_index, drop_vector_index, list_vector_indexes, HnswParams, Metric, VectorSpec,
};
use cairn::{Database, IndexKind, IndexSpec};

use crate::cli::{IndexKindArg, TextIndexArgs, VectorIndexArgs};
use indicatif::{ProgressBar, ProgressStyle};

/// Creates and builds an index, with a progress bar on a terminal.
#[allow(clippy::too_many_arguments)] // One per flag group of `cairn index create`.
pub fn create(
    db: &Database,
    collection: &str,
    name: &str,
    fields: &[String],
    kind: IndexKindArg,
    unique: bool,
    vector: &VectorIndexArgs,
    text: &TextIndexArgs,
) -> anyhow::Result<()> {
    let text_options =
        text.language.is_some() || text.boosts.is_some() || text.edge_ngrams.is_some();
    if kind == IndexKindArg::Text {
        return create_text(db, collection, name, fields, unique, text);
    }
    if text_options {
        bail!("--language, --boosts and --edge-ngrams apply to --kind text only");
    }
    if kind == IndexKindArg::Vector {
        return create_vector(db, collection, name, fields, unique, vector);
    }
    let VectorIndexArgs {
        dims,
        metric,
        m,
        ef_construction,
        ef_search,
    } = vector;
    if dims.is_some()
        || metric.is_some()
        || m.is_some()
        || ef_construction.is_some()
        || ef_search.is_some()
    {
        bail!(
            "--dims, --metric, --m, --ef-construction and --ef-search apply to --kind vector only"
        );
    }
    let kind = match kind {
        IndexKindArg::Spatial => return create_spatial(db, collection, name, fields, unique),
        IndexKindArg::Btree => IndexKind::BTree,
        IndexKindArg::Hash => IndexKind::Hash,
        IndexKindArg::Vector => return create_vector(db, collection, name, fields, unique, vector),
        IndexKindArg::Text => return create_text(db, collection, name, fields, unique, text),
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

/// Creates and builds a vector index (one vector field; online, with a progress count on a
/// terminal).
fn create_vector(
    db: &Database,
    collection: &str,
    name: &str,
    fields: &[String],
    unique: bool,
    args: &VectorIndexArgs,
) -> anyhow::Result<()> {
    if unique {
        bail!("a vector index cannot be --unique");
    }
    let [field] = fields else {
        bail!(
            "a vector index takes exactly one field, got {}",
            fields.len()
        );
    };
    let Some(dims) = args.dims else {
        bail!("a vector index needs --dims (the dimension of its vectors)");
    };
    let Some(metric_name) = args.metric.as_deref() else {
        bail!("a vector index needs --metric (cosine, dot, l2 or poincare)");
    };
    let Some(metric) = Metric::parse(metric_name) else {
        bail!("--metric must be `cosine`, `dot`, `l2` or `poincare`, not `{metric_name}`");
    };
    let defaults = HnswParams::default();
    let params = HnswParams {
        m: args.m.unwrap_or(defaults.m),
        ef_construction: args.ef_construction.unwrap_or(defaults.ef_construction),
        ef_search: args.ef_search.unwrap_or(defaults.ef_search),
    };
    let spec = VectorSpec::with_params(name, field.trim(), dims, metric, params)?;
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("building {msg}: {pos} vectors")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(name.to_string());
    let started = std::time::Instant::now();
    let vectors = create_vector_index(db, collection, &spec, &mut |n| bar.set_position(n))?;
    bar.finish_and_clear();
    println!(
        "created vector index `{name}` on `{collection}` ({vectors} vectors, {dims} dims, \
         {metric_name}) in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Creates and builds a text index (online, with a progress bar on a terminal).
fn create_text(
    db: &Database,
    collection: &str,
    name: &str,
    fields: &[String],
    unique: bool,
    args: &TextIndexArgs,
) -> anyhow::Result<()> {
    if unique {
        bail!("a text index cannot be --unique");
    }
    let boosts = match &args.boosts {
        None => vec![1.0; fields.len()],
        Some(boosts) if boosts.len() == fields.len() => boosts.clone(),
        Some(boosts) => bail!(
            "--boosts has {} values for {} fields; give one per field",
            boosts.len(),
            fields.len()
        ),
    };
    let language = match args.language.as_deref() {
        None => Language::English,
        Some(text) => match Language::parse(text) {
            Some(language) => language,
            None => {
                let known: Vec<&str> = Language::ALL.iter().map(|l| l.name()).collect();
                bail!("unknown --language `{text}` (known: {})", known.join(", "))
            }
        },
    };
    let ngrams = match args.edge_ngrams.as_deref() {
        None => None,
        Some([min, max]) => Some((*min, *max)),
        Some(_) => bail!("--edge-ngrams takes MIN,MAX"),
    };
    let pairs: Vec<(&str, f64)> = fields.iter().map(|f| f.trim()).zip(boosts).collect();
    let spec = TextSpec::new(name, &pairs, language, ngrams)?;
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
    create_text_index(db, collection, &spec, &mut |p| {
        bar.set_length(p.total);
        bar.set_position(p.scanned);
    })?;
    bar.finish_and_clear();
    println!(
        "created text index `{name}` on `{collection}` ({}) in {:.2} s",
        language.name(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Drops an index (secondary, spatial, vector or text).
pub fn drop(db: &Database, collection: &str, name: &str) -> anyhow::Result<()> {
    let spatial = list_spatial_indexes(db, collection)?;
    if spatial.iter().any(|s| s.spec.name == name) {
        drop_spatial_index(db, collection, name)?;
        println!("dropped spatial index `{name}` on `{collection}`");
        return Ok(());
    }
    if list_vector_indexes(db, collection)?
        .iter()
        .any(|v| v.spec.name == name)
    {
        drop_vector_index(db, collection, name)?;
        println!("dropped vector index `{name}` on `{collection}`");
        return Ok(());
    }
    if list_text_indexes(db, collection)?
        .iter()
        .any(|t| t.spec.name == name)
    {
        drop_text_index(db, collection, name)?;
        println!("dropped text index `{name}` on `{collection}`");
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
    let vectors = list_vector_indexes(db, collection)?;
    let texts = list_text_indexes(db, collection)?;
    if indexes.is_empty() && spatial.is_empty() && vectors.is_empty() && texts.is_empty() {
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
    for info in vectors {
        let state = if info.ready { "ready" } else { "building" };
        let spec = &info.spec;
        println!(
            "{:<24} {:<6} {:<7} {:<24} {:>10} {:>12}  {state}, {} dims, {}, m {}, ef_construction {}, ef_search {}",
            spec.name,
            "vector",
            false,
            spec.field,
            info.vectors,
            info.bytes,
            spec.dims,
            spec.metric.name(),
            spec.params.m,
            spec.params.ef_construction,
            spec.params.ef_search
        );
    }
    for info in texts {
        let state = if info.ready { "ready" } else { "building" };
        let spec = &info.spec;
        let fields: Vec<String> = spec
            .fields
            .iter()
            .map(|f| format!("{}^{}", f.path, f.boost))
            .collect();
        println!(
            "{:<24} {:<6} {:<7} {:<24} {:>10} {:>12}  {state}, {}{}",
            spec.name,
            "text",
            false,
            fields.join(","),
            info.documents,
            info.bytes,
            spec.language.name(),
            spec.edge_ngrams
                .map_or(String::new(), |(a, b)| format!(", edge n-grams {a}-{b}"))
        );
    }
    Ok(())
}
