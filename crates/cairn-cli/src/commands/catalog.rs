//! `cairn catalog [--tag K=V]...`, `cairn tag set|remove|list` and `cairn lineage`: the catalog
//! of the database (`cairn::catalog`) as JSON lines, one per collection and per external
//! table of the sources (`cairn_sql::source::listing`), the tags it can be
//! searched by, and where a collection's data came from (`cairn::lineage`).

use cairn::catalog::{self, CatalogEntry};
use cairn::lineage::{self as lineage_log, LineageInput, LineageRecord};
use cairn::Database;
use serde_json::{json, Value as Json};

use crate::cli::TagAction;

/// Prints the catalog entries carrying every tag of `tags` (`KEY=VALUE` each).
pub fn list(db: &Database, tags: &[String]) -> anyhow::Result<()> {
    let filter = tags
        .iter()
        .map(|tag| catalog::parse_tag(tag))
        .collect::<Result<Vec<_>, _>>()?;
    let registry = cairn_sql::source::SourceRegistry::open(db.clone())?;
    let external = catalog::ListedEntries {
        name: "sources".to_string(),
        entries: cairn_sql::source::listing::gather(&registry),
    };
    for entry in catalog::catalog(db, &[&external], &filter)? {
        println!("{}", entry_json(&entry));
    }
    Ok(())
}

/// Runs one tag command; prints the collection's tags after it.
pub fn tag(db: &Database, action: &TagAction) -> anyhow::Result<()> {
    let tags = match action {
        TagAction::Set { collection, tags } => {
            let set = tags
                .iter()
                .map(|tag| catalog::parse_tag(tag))
                .collect::<Result<Vec<_>, _>>()?;
            catalog::update_tags(db, collection, &set, &[])?
        }
        TagAction::Remove { collection, keys } => catalog::update_tags(db, collection, &[], keys)?,
        TagAction::List { collection } => catalog::tags(db, collection)?,
    };
    println!("{}", json!(tags));
    Ok(())
}

/// One entry as JSON (the same fields as `GET /v1/catalog`).
fn entry_json(entry: &CatalogEntry) -> Json {
    json!({
        "name": entry.name,
        "kind": entry.kind,
        "source": entry.source,
        "columns": entry.columns.iter().map(|c| json!({"path": c.path, "types": c.types})).collect::<Vec<_>>(),
        "column_origin": entry.column_origin.name(),
        "schema_version": entry.schema_version,
        "documents": entry.documents,
        "bytes": entry.bytes,
        "extensions": entry.extensions.iter().map(|e| json!({"kind": e.kind, "name": e.name})).collect::<Vec<_>>(),
        "tags": entry.tags,
        "schema_history": entry.schema_history.iter().map(|v| json!({
            "version": v.version, "at": v.at.to_string(), "by": v.by, "changes": v.changes,
        })).collect::<Vec<_>>(),
        "owner": entry.owner,
        "created_at": entry.created_at.map(|at| at.to_string()),
        "origins": entry.origins.iter().map(|o| json!({
            "operation": o.operation, "inputs": o.inputs, "at": o.at.to_string(),
        })).collect::<Vec<_>>(),
    })
}

/// Prints the lineage of a collection or an external table (`source.schema.table`):
/// `{"direction": "upstream"|"downstream", ...record}` per line, or with `openlineage` the
/// upstream records as OpenLineage run events.
pub fn lineage(db: &Database, collection: &str, openlineage: bool) -> anyhow::Result<()> {
    if !collection.contains('.') {
        // A collection must exist; an external table is known only by the records naming it.
        db.begin()?.collection_meta(collection)?;
    }
    let found = lineage_log::lineage(db, collection)?;
    if openlineage {
        for record in &found.upstream {
            println!(
                "{}",
                lineage_log::openlineage_event(record).to_json_string()
            );
        }
        return Ok(());
    }
    for (direction, records) in [
        ("upstream", &found.upstream),
        ("downstream", &found.downstream),
    ] {
        for record in records {
            println!("{}", record_json(direction, record));
        }
    }
    Ok(())
}

/// One lineage record as JSON (the same fields as `GET /v1/collections/{c}/lineage`).
fn record_json(direction: &str, record: &LineageRecord) -> Json {
    let inputs: Vec<Json> = record
        .inputs
        .iter()
        .map(|input| match input {
            LineageInput::File {
                name,
                size_bytes,
                sha256,
            } => json!({"kind": "file", "name": name, "size_bytes": size_bytes, "sha256": sha256}),
            LineageInput::Collection { name } => json!({"kind": "collection", "name": name}),
            LineageInput::Source {
                name,
                kind,
                namespace,
                dataset,
            } => json!({
                "kind": "source",
                "name": name,
                "source_kind": kind,
                "namespace": namespace,
                "dataset": dataset,
            }),
        })
        .collect();
    json!({
        "direction": direction,
        "output": record.output,
        "operation": record.operation,
        "inputs": inputs,
        "statement": record.statement,
        "at": record.at.to_string(),
        "documents": record.documents,
    })
}
