//! `cairn schema infer COLL [--emit]`

use cairn::infer::{emit_schema, infer_schema};
use cairn::Database;

/// Prints the inferred schema as a table, or as a schema document with `emit`.
pub fn infer(db: &Database, collection: &str, emit: bool) -> anyhow::Result<()> {
    let schema = infer_schema(db, collection)?;
    if emit {
        let json: serde_json::Value = serde_json::from_str(&emit_schema(&schema).to_json_string())?;
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    println!(
        "`{collection}`: {} documents (as of commit {})",
        schema.documents, schema.as_of_seq
    );
    println!("{:<32} {:>18}  types", "field", "present");
    for (path, stats) in &schema.fields {
        let share = if schema.documents == 0 {
            0.0
        } else {
            100.0 * stats.documents as f64 / schema.documents as f64
        };
        let types: Vec<String> = stats
            .types
            .iter()
            .map(|(label, count)| format!("{label} {count}"))
            .collect();
        println!(
            "{path:<32} {:>18}  {}",
            format!("{} ({share:.1}%)", stats.documents),
            types.join(", ")
        );
    }
    if schema.truncated {
        println!(
            "(more fields exist: only the first {} distinct paths are tracked)",
            cairn::infer::limits::MAX_INFERRED_FIELDS
        );
    }
    Ok(())
}
