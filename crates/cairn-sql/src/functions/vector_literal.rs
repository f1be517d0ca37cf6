//! pgvector's text form in `INSERT`: `INSERT INTO items (emb) VALUES ('[1, 2, 3]')`, the form
//! pgvector documents and drivers send. DataFusion casts each inserted value to its column's
//! type and has no cast from text to a list, so before planning, a text literal in a `VALUES`
//! row aimed at a vector column (a fixed-size or plain list) is rewritten into the array
//! `ARRAY[1.0, 2.0, 3.0]`; a text that is not a vector fails here, naming what is wrong.
//! Only literals are rewritten: a parameter (`$1`) or an expression keeps DataFusion's rules.

use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    Array, Expr, Insert, SetExpr, TableObject, Value as SqlValue,
};

use super::vector::parse_vector;
use crate::error::{Result, SqlError};

/// Rewrites the vector literals of `insert` in place (nothing when it inserts no `VALUES` or
/// names an unknown table: planning reports that).
pub async fn rewrite(ctx: &SessionContext, insert: &mut Insert) -> Result<()> {
    let TableObject::TableName(name) = &insert.table else {
        return Ok(());
    };
    let Some(source) = insert.source.as_mut() else {
        return Ok(());
    };
    let SetExpr::Values(values) = source.body.as_mut() else {
        return Ok(());
    };
    let Ok(provider) = ctx.table_provider(name.to_string()).await else {
        return Ok(());
    };
    let schema = provider.schema();
    let targets: Vec<Option<DataType>> = if insert.columns.is_empty() {
        schema
            .fields()
            .iter()
            .map(|f| Some(f.data_type().clone()))
            .collect()
    } else {
        insert
            .columns
            .iter()
            .map(|column| {
                let column = column.to_string();
                let column = column.trim_matches('"');
                schema
                    .field_with_name(column)
                    .ok()
                    .map(|f| f.data_type().clone())
            })
            .collect()
    };
    for row in &mut values.rows {
        for (value, target) in row.content.iter_mut().zip(&targets) {
            if !matches!(
                target,
                Some(DataType::FixedSizeList(..) | DataType::List(_))
            ) {
                continue;
            }
            let Expr::Value(literal) = value else {
                continue;
            };
            let SqlValue::SingleQuotedString(text) = &literal.value else {
                continue;
            };
            let numbers = parse_vector(text).map_err(SqlError::from_datafusion)?;
            *value = Expr::Array(Array {
                elem: numbers
                    .iter()
                    // `{:?}` keeps a decimal point, so the array is one of floats.
                    .map(|n| {
                        Expr::Value(SqlValue::Number(format!("{n:?}"), false).with_empty_span())
                    })
                    .collect(),
                named: true,
            });
        }
    }
    Ok(())
}
