//! `cairn stats [--queries --server URL] | changes | locate | check | compact`

use anyhow::{bail, Context};
use cairn::{Config, Database, DocId, Object, Value};

/// Prints per-collection documents and bytes, and the storage mode.
pub fn stats(db: &Database) -> anyhow::Result<()> {
    let stats = db.stats()?;
    println!("storage mode: {}", stats.mode);
    println!(
        "data file:    {} bytes on disk ({} bytes long; the tail is preallocated and sparse)",
        stats.store.disk_bytes, stats.store.file_bytes
    );
    println!("last commit:  {}", stats.last_seq);
    println!(
        "change log:   {} entries, {} bytes",
        stats.changelog_entries, stats.changelog_bytes
    );
    println!();
    println!(
        "{:<32} {:>12} {:>14}",
        "collection", "documents", "bytes on disk"
    );
    for coll in &stats.collections {
        println!(
            "{:<32} {:>12} {:>14}",
            coll.name, coll.documents, coll.bytes
        );
    }
    println!();
    println!(
        "{:<32} {:>14} {:>14} {:>7} {:>6}",
        "compression", "logical bytes", "stored bytes", "ratio", "dicts"
    );
    for coll in db.compression_stats()? {
        println!(
            "{:<32} {:>14} {:>14} {:>7.3} {:>6}",
            coll.collection,
            coll.logical_bytes,
            coll.stored_bytes,
            coll.ratio(),
            coll.dictionaries
        );
    }
    Ok(())
}

/// Prints the query statistics of the server at `url` (`GET /v1/stats/queries`): one line
/// per shape, most total time first, shapes that miss an index marked `!`, then the slow-query
/// log.
pub fn query_stats_through_server(url: &str, user: &str) -> anyhow::Result<()> {
    let stats = super::backup::server_get(url, user, "/v1/stats/queries")?;
    let empty = Vec::new();
    let shapes = stats["shapes"].as_array().unwrap_or(&empty);
    println!(
        "{} query shapes (at most {}, {} evicted); slow-query threshold {} ms",
        shapes.len(),
        stats["max_shapes"],
        stats["evicted"],
        stats["slow_threshold_ms"]
    );
    println!(
        "{:>1} {:>8} {:>11} {:>9} {:>9} {:>11} {:>9}  shape / last plan",
        "", "count", "total ms", "mean ms", "p99 ms", "examined", "returned"
    );
    for shape in shapes {
        println!(
            "{:>1} {:>8} {:>11.1} {:>9.2} {:>9.2} {:>11} {:>9}  {}  /  {}",
            if shape["missing_index"] == true {
                "!"
            } else {
                ""
            },
            shape["count"].as_u64().unwrap_or(0),
            shape["total_ms"].as_f64().unwrap_or(0.0),
            shape["mean_ms"].as_f64().unwrap_or(0.0),
            shape["p99_ms"].as_f64().unwrap_or(0.0),
            shape["docs_examined"].as_u64().unwrap_or(0),
            shape["returned"].as_u64().unwrap_or(0),
            shape_text(shape),
            shape["last_plan"].as_str().unwrap_or("")
        );
    }
    if shapes.iter().any(|s| s["missing_index"] == true) {
        println!("! reads far more documents than it returns with a full scan: index the filtered fields");
    }
    let slow = stats["slow"].as_array().unwrap_or(&empty);
    println!();
    println!("slow queries: {}", slow.len());
    for query in slow {
        println!(
            "{} {:>9.1} ms  examined {} returned {}  {}  /  {}",
            query["at"].as_str().unwrap_or(""),
            query["ms"].as_f64().unwrap_or(0.0),
            query["docs_examined"].as_u64().unwrap_or(0),
            query["returned"].as_u64().unwrap_or(0),
            shape_text(query),
            query["plan"].as_str().unwrap_or("")
        );
    }
    Ok(())
}

/// `collection operation filter [sort] [stages]` of a shape or slow query.
fn shape_text(shape: &serde_json::Value) -> String {
    let mut text = format!(
        "{} {} {}",
        shape["collection"].as_str().unwrap_or(""),
        shape["operation"].as_str().unwrap_or(""),
        shape["filter"].as_str().unwrap_or("")
    );
    if let Some(sort) = shape["sort"].as_str().filter(|s| *s != "{}") {
        text.push_str(&format!(" sort {sort}"));
    }
    if let Some(stages) = shape["stages"].as_array().filter(|s| !s.is_empty()) {
        let names: Vec<&str> = stages.iter().filter_map(|s| s.as_str()).collect();
        text.push_str(&format!(" [{}]", names.join(", ")));
    }
    text
}

/// Prints change-log entries as JSON lines.
pub fn changes(db: &Database, after: u64, limit: usize) -> anyhow::Result<()> {
    for change in db.changes_after(after, limit)? {
        let mut obj = Object::new();
        obj.insert("seq".to_string(), Value::Int(change.seq as i64));
        obj.insert("index".to_string(), Value::Int(i64::from(change.index)));
        obj.insert("at".to_string(), Value::DateTime(change.at));
        obj.insert("collection".to_string(), Value::String(change.collection));
        obj.insert(
            "op".to_string(),
            Value::String(change.op.name().to_string()),
        );
        if let cairn::ChangeOp::RenameCollection { to } = &change.op {
            obj.insert("to".to_string(), Value::String(to.clone()));
        }
        if let Some(id) = change.id {
            obj.insert("id".to_string(), id.to_value());
        }
        if let Some(new) = change.new {
            obj.insert("new".to_string(), new);
        }
        if let Some(old) = change.old {
            obj.insert("old".to_string(), old);
        }
        println!("{}", Value::Object(obj).to_json_string());
    }
    Ok(())
}

/// Prints the collections holding a document id.
pub fn locate(db: &Database, id: &DocId) -> anyhow::Result<()> {
    let located = db.locate(id)?;
    let searched = &located.searched_by_key;
    if !searched.is_empty() {
        // Collections created with `--no-routing` are not in the routing index: say how they
        // were searched, so a slower answer (a point get each) is not a surprise.
        let shown = searched.len().min(LOCATE_NAMES_SHOWN);
        let more = match searched.len() - shown {
            0 => String::new(),
            rest => format!(" and {rest} more"),
        };
        eprintln!(
            "note: {} collection(s) keep no routing index and were searched by primary key: {}{more}",
            searched.len(),
            searched[..shown].join(", "),
        );
    }
    if located.collections.is_empty() {
        bail!("no collection holds a document with id `{id}`");
    }
    for name in located.collections {
        println!("{name}");
    }
    Ok(())
}

/// How many unrouted collections `cairn locate` names in its note before "and N more".
const LOCATE_NAMES_SHOWN: usize = 10;

/// Verifies a (closed) database deeply; fails (non-zero exit) on any finding.
pub fn check(config: &Config) -> anyhow::Result<()> {
    if !config.dir.join(cairn::DATA_FILE_NAME).exists() {
        bail!("no database at {}", config.dir.display());
    }
    let mut report = cairn::check_database(config)
        .with_context(|| format!("checking the database at {}", config.dir.display()))?;
    // Every index kind verifies itself against the documents (the extensions' own hook), on
    // the opened database, once the storage itself is known to be sound; then edge
    // collections check their adjacency and endpoints (each step opens the database alone).
    let (indexes, graphs) = if report.is_clean() {
        let indexes = {
            let db = cairn::open(config.clone())?;
            cairn::verify_extensions(&db, &mut report)?
        };
        let vectors = check_vectors(config, &mut report)?;
        (indexes + vectors as u64, check_graphs(config, &mut report)?)
    } else {
        (0, 0)
    };
    let chunks = if report.is_clean() {
        check_timeseries(config, &mut report)?
    } else {
        0
    };
    if report.recovered_on_open {
        println!(
            "note: the database was not closed cleanly (crash or power loss); recovered on open"
        );
    }
    if report.log_records_replayed > 0 {
        println!(
            "note: {} write-ahead log records (commits after the last checkpoint) verified and replayed on open",
            report.log_records_replayed
        );
    }
    for finding in &report.findings {
        println!("finding: {finding}");
    }
    if report.is_clean() {
        println!(
            "ok: storage checksums{} verified; {} collections, {} documents and {} change-log records decode; routing and change log consistent; {} indexes match their documents; {} edge collections match their adjacency; {} time-series chunks decode and are ordered",
            if report.encrypted { " and every encrypted block" } else { "" },
            report.collections,
            report.documents,
            report.changes,
            indexes,
            graphs,
            chunks
        );
        Ok(())
    } else {
        bail!(
            "{} problem(s) found ({} listed)",
            report.findings_total,
            report.findings.len()
        )
    }
}

/// Verifies every edge collection's adjacency against its edges, and looks up every vertex
/// an edge names: a dangling edge is a finding under restrict/cascade and a note under
/// `none` (allowed there). Returns the number of edge collections checked.
fn check_graphs(config: &Config, report: &mut cairn::CheckReport) -> anyhow::Result<usize> {
    let db = cairn::open(config.clone())?;
    let mut txn = db.read()?;
    let collections = cairn::graph::edge_collections(&db)?;
    for (name, mode) in &collections {
        let found = cairn::graph::verify_edges(&mut txn, name)?;
        let dangling_is_finding = *mode != cairn::graph::OnVertexDelete::None;
        for detail in &found.problems {
            report.add(cairn::Finding::Extension {
                collection: name.clone(),
                extension: cairn::graph::EDGE_EXTENSION.to_string(),
                detail: detail.clone(),
            });
        }
        for detail in &found.dangling {
            if dangling_is_finding {
                report.add(cairn::Finding::Extension {
                    collection: name.clone(),
                    extension: cairn::graph::EDGE_EXTENSION.to_string(),
                    detail: detail.clone(),
                });
            } else {
                println!("note: `{name}` (on vertex delete: none): {detail}");
            }
        }
        if !dangling_is_finding && found.dangling_count > found.dangling.len() as u64 {
            println!(
                "note: `{name}`: {} dangling edge endpoints in all",
                found.dangling_count
            );
        }
    }
    Ok(collections.len())
}

/// Decodes every chunk of every time-series collection (checksums, ordering, counts, the
/// latest-point records; see `cairn_timeseries::verify`); adds a finding per problem. Returns
/// the number of chunks checked.
fn check_timeseries(config: &Config, report: &mut cairn::CheckReport) -> anyhow::Result<u64> {
    let db = cairn::open(config.clone())?;
    let mut txn = db.read()?;
    let mut chunks = 0;
    for meta in db.list_collections()? {
        let is_series = meta
            .extensions
            .iter()
            .any(|spec| spec.kind == cairn::timeseries::KIND);
        if !is_series {
            continue;
        }
        let found = cairn::timeseries::verify(&mut txn, &meta.name)?;
        chunks += found.chunks;
        for detail in found.problems {
            report.add(cairn::Finding::Extension {
                collection: meta.name.clone(),
                extension: cairn::timeseries::EXTENSION_NAME.to_string(),
                detail,
            });
        }
    }
    Ok(chunks)
}

/// Verifies the vector and full-text indexes of every collection against their documents
/// (`cairn_vector::verify`; `cairn_text::verify_text_index`: postings, frequencies,
/// statistics, bounds), a finding per disagreement; the number of indexes checked.
fn check_vectors(config: &Config, report: &mut cairn::CheckReport) -> anyhow::Result<usize> {
    let db = cairn::open(config.clone())?;
    let mut txn = db.read()?;
    let mut checked = 0;
    for meta in db.list_collections()? {
        let collection = meta.name.as_str();
        for ext in &meta.extensions {
            let details: Vec<String> = if ext.kind == cairn::vector::VECTOR_KIND {
                cairn::vector::verify(&mut txn, collection, &ext.name)?
                    .findings
                    .into_iter()
                    .map(|finding| format!("{}: {}", finding.subject, finding.problem))
                    .collect()
            } else if ext.kind == cairn::text::TEXT_KIND {
                cairn::text::verify_text_index(&mut txn, collection, &ext.name)?.findings
            } else {
                continue;
            };
            checked += 1;
            for detail in details {
                report.add(cairn::Finding::Extension {
                    collection: collection.to_string(),
                    extension: ext.name.clone(),
                    detail,
                });
            }
        }
    }
    Ok(checked)
}

/// Compacts a closed database and says how much space it gave back.
pub fn compact(config: &Config) -> anyhow::Result<()> {
    if !config.dir.join(cairn::DATA_FILE_NAME).exists() {
        bail!("no database at {}", config.dir.display());
    }
    let report = cairn::compact(config)
        .with_context(|| format!("compacting the database at {}", config.dir.display()))?;
    println!(
        "compacted: {} -> {} bytes on disk ({} bytes reclaimed)",
        report.before_bytes,
        report.after_bytes,
        report.reclaimed_bytes()
    );
    Ok(())
}
