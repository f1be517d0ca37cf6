//! Lineage of SQL derivations: `CREATE TABLE … AS SELECT` and `INSERT … SELECT` (from
//! collections or from external sources: a materialisation) record what they read and the
//! statement in `cairn::lineage`'s store, in the transaction that writes their rows.
//!
//! The inputs are the tables the statement's logical plan scans, subqueries included: a
//! collection by name (its provider is a [`CairnTable`]), an external table as
//! `source.schema.table` with its OpenLineage identity ([`SourceDef::openlineage_dataset`]).
//! Table functions (`as_of`, `text_search`) and literal rows are not inputs.

use std::collections::BTreeSet;

use cairn::lineage::{LineageInput, LineageRecord};
use cairn::DateTime;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::source_as_provider;
use datafusion::logical_expr::{LogicalPlan, WriteOp};

use crate::catalog::{CATALOG, SCHEMA};
use crate::provider::CairnTable;
use crate::source::SourceRegistry;

/// `create_table_as`: the operation name of a `CREATE TABLE … AS SELECT`.
pub const CREATE_TABLE_AS: &str = "create_table_as";
/// `insert_select`: the operation name of an `INSERT … SELECT`.
pub const INSERT_SELECT: &str = "insert_select";

/// The tables `plan` reads, each once, in the order first met.
pub fn inputs(plan: &LogicalPlan, sources: Option<&SourceRegistry>) -> Vec<LineageInput> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    // The visitor never fails: a node that is not a table scan is skipped.
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            if let Some(input) = input_of(scan, sources) {
                if seen.insert(input.table_name().unwrap_or_default().to_string()) {
                    out.push(input);
                }
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    out
}

fn input_of(
    scan: &datafusion::logical_expr::TableScan,
    sources: Option<&SourceRegistry>,
) -> Option<LineageInput> {
    if let Ok(provider) = source_as_provider(&scan.source) {
        if let Some(table) = provider.downcast_ref::<CairnTable>() {
            return Some(LineageInput::Collection {
                name: table.collection().to_string(),
            });
        }
    }
    let resolved = scan.table_name.clone().resolve(CATALOG, SCHEMA);
    if resolved.catalog.as_ref() == CATALOG {
        return None;
    }
    let handle = sources?.handle(&resolved.catalog)?;
    let (namespace, dataset) = handle
        .def
        .openlineage_dataset(&resolved.schema, &resolved.table);
    Some(LineageInput::Source {
        name: format!(
            "{}.{}.{}",
            resolved.catalog, resolved.schema, resolved.table
        ),
        kind: handle.def.kind.name().to_string(),
        namespace,
        dataset,
    })
}

/// The record of an `INSERT … SELECT` planned as `plan`: `None` for any other statement, an
/// insert into something other than a collection, or one reading no table (`VALUES`).
pub fn insert_select(
    plan: &LogicalPlan,
    sources: Option<&SourceRegistry>,
    statement: Option<String>,
) -> Option<LineageRecord> {
    let LogicalPlan::Dml(dml) = plan else {
        return None;
    };
    if !matches!(dml.op, WriteOp::Insert(_)) {
        return None;
    }
    let provider = source_as_provider(&dml.target).ok()?;
    let output = provider.downcast_ref::<CairnTable>()?.collection();
    let inputs = inputs(&dml.input, sources);
    if inputs.is_empty() {
        return None;
    }
    Some(record(output, INSERT_SELECT, inputs, statement))
}

/// A derivation's record (the documents written are filled in once known).
pub fn record(
    output: &str,
    operation: &str,
    inputs: Vec<LineageInput>,
    statement: Option<String>,
) -> LineageRecord {
    LineageRecord {
        id: None,
        output: output.to_string(),
        operation: operation.to_string(),
        inputs,
        statement,
        at: DateTime::now(),
        documents: None,
    }
}
