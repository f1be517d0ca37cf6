//! `cairn invariant add | drop | list`

use cairn::invariant::{add_invariant, drop_invariant, list_invariants, ExactSum, InvariantState};
use cairn::Database;

/// Adds an invariant (checking the documents already there).
pub fn add(db: &Database, collection: &str, rule: &str, name: Option<&str>) -> anyhow::Result<()> {
    let spec = add_invariant(db, collection, name, rule)?;
    println!(
        "added invariant `{}` on `{collection}`: {}",
        spec.name, spec.rule
    );
    Ok(())
}

/// Drops an invariant.
pub fn drop(db: &Database, collection: &str, name: &str) -> anyhow::Result<()> {
    drop_invariant(db, collection, name)?;
    println!("dropped invariant `{name}` on `{collection}`");
    Ok(())
}

/// Lists invariants as a table.
pub fn list(db: &Database, collection: &str) -> anyhow::Result<()> {
    let invariants = list_invariants(db, collection)?;
    if invariants.is_empty() {
        println!("no invariants on `{collection}`");
        return Ok(());
    }
    println!("{:<28} {:<36} state", "name", "rule");
    for info in invariants {
        let state = match &info.state {
            InvariantState::Conserved { total } => format!("total {}", show(total)),
            InvariantState::FieldBound => "checked per document".to_string(),
            InvariantState::Groups {
                groups,
                lowest,
                highest,
            } => {
                let mut text = format!("{groups} groups");
                if let (Some((lo, lo_sum)), Some((hi, hi_sum))) = (lowest, highest) {
                    text.push_str(&format!(
                        ", lowest {} = {}, highest {} = {}",
                        lo.to_json_string(),
                        show(lo_sum),
                        hi.to_json_string(),
                        show(hi_sum)
                    ));
                }
                text
            }
        };
        println!(
            "{:<28} {:<36} {state}",
            info.spec.name,
            info.spec.rule.to_string()
        );
    }
    Ok(())
}

/// A sum for people: exact when it is an integer, else the nearest float marked `~`.
fn show(sum: &ExactSum) -> String {
    if sum.is_integer() {
        sum.to_value().to_json_string()
    } else {
        format!("~{}", sum.approx())
    }
}
