//! Results as text, laid out like psql's aligned format (for `cairn sql`).

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::error::{Result, SqlError};
use crate::session::{Output, SqlSession};

/// Runs every statement of `sql`, handing each result's text to `out` (a table with a row
/// count, or a command tag). Stops at the first error.
pub async fn run(session: &mut SqlSession, sql: &str, out: &mut dyn FnMut(&str)) -> Result<()> {
    for statement in SqlSession::parse(sql)? {
        match session.execute_statement(statement).await? {
            Output::Command(tag) => out(&tag),
            Output::Rows(stream) => {
                let schema = stream.schema();
                let batches = session.collect(stream).await?;
                let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
                out(&table(&names, &batches)?);
            }
        }
    }
    Ok(())
}

/// The aligned table of `batches` with column `names`, and the row count.
pub fn table(names: &[String], batches: &[RecordBatch]) -> Result<String> {
    let options = FormatOptions::default().with_null("");
    let mut rows: Vec<Vec<String>> = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| SqlError::Plan(e.into()))?;
        for row in 0..batch.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .map(|f| f.value(row).to_string())
                    .collect(),
            );
        }
    }
    Ok(aligned(names, &rows))
}

/// The aligned table of text `rows` under column `names`, and the row count (also for rows
/// that came over the wire: `cairn sql --server`).
pub fn aligned(names: &[String], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = names.iter().map(|n| n.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!(" {c:<w$} "))
            .collect::<Vec<_>>()
            .join("|")
            .trim_end()
            .to_string()
    };
    let mut text = line(names);
    text.push('\n');
    text.push_str(
        &widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("+"),
    );
    text.push('\n');
    for row in rows {
        text.push_str(&line(row));
        text.push('\n');
    }
    let n = rows.len();
    text.push_str(&format!("({n} row{})", if n == 1 { "" } else { "s" }));
    text
}

/// The rows of `batches` in sqllogictest's form: values separated by single spaces, NULL as
/// `NULL`, an empty string as `(empty)`.
pub fn rows(batches: &[RecordBatch]) -> Result<Vec<String>> {
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| SqlError::Plan(e.into()))?;
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = formatters
                .iter()
                .map(|f| match f.value(row).to_string() {
                    s if s.is_empty() => "(empty)".to_string(),
                    s => s,
                })
                .collect();
            out.push(cells.join(" "));
        }
    }
    Ok(out)
}
