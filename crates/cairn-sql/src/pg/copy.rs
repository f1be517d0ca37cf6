//! `COPY` over the wire, as psql's `\copy` and drivers send it: `COPY table [(columns)] FROM
//! STDIN` and `COPY table [(columns)] | (query) TO STDOUT`, in PostgreSQL's text format
//! (delimiter tab, `\N` for NULL, backslash escapes) or CSV (`FORMAT csv` or the legacy `CSV`,
//! with `HEADER`, `DELIMITER`, `NULL`; an unquoted field equal to the NULL string — empty by
//! default — is NULL, a quoted one is text, as in PostgreSQL).
//!
//! `COPY … FROM STDIN` holds the data (at most [`MAX_COPY_IN_BYTES`]) until the client's
//! CopyDone, parses all of it, then writes it as `INSERT` statements of [`COPY_INSERT_ROWS`]
//! rows through the session, in one transaction: a malformed line or a refused row stores
//! nothing. Inside `BEGIN … COMMIT` it joins the open block instead. Why `INSERT` text rather
//! than Arrow batches of our own: values arrive as text, and DataFusion's `INSERT` already casts
//! text to each column's type with that column's error, checks grants and goes through the
//! same write path (schema rules, unique indexes) as every other write. Vector columns take
//! pgvector's text form `[1, 2, 3]` (written as an `ARRAY[…]`, since DataFusion has no text to
//! list cast) — what `COPY … TO` writes for them.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::sql::sqlparser::ast::{
    CopyLegacyCsvOption, CopyLegacyOption, CopyOption, CopySource, CopyTarget, Statement,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use futures::{stream, StreamExt};
use pgwire::api::results::CopyResponse;
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::copy::CopyData;

use super::encode::text_rows;
use crate::error::{Result, SqlError};
use crate::limits::{COPY_INSERT_ROWS, MAX_COPY_IN_BYTES, MAX_STATEMENT_BYTES};
use crate::session::{Output, SqlSession};

/// How rows are written as text.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyFormat {
    csv: bool,
    header: bool,
    delimiter: char,
    null: String,
}

impl Default for CopyFormat {
    fn default() -> Self {
        CopyFormat {
            csv: false,
            header: false,
            delimiter: '\t',
            null: "\\N".to_string(),
        }
    }
}

/// A parsed `COPY` statement.
#[derive(Debug)]
pub enum Copy {
    /// `COPY … FROM STDIN`: data follows from the client.
    In(CopyIn),
    /// `COPY … TO STDOUT`: the rows of `query`.
    Out {
        /// The `SELECT` whose rows are written.
        query: String,
        /// How they are written.
        format: CopyFormat,
    },
}

/// A `COPY … FROM STDIN` waiting for its data.
#[derive(Debug)]
pub struct CopyIn {
    table: String,
    /// Quoted column names, in the data's order (all the table's when the statement names none).
    columns: Vec<String>,
    /// Whether each column takes a vector (a list of numbers).
    vector: Vec<bool>,
    format: CopyFormat,
    data: Vec<u8>,
    overflow: bool,
}

impl CopyIn {
    /// Columns per row of the data.
    pub fn column_count(&self) -> usize {
        self.columns.len()
    }

    /// Takes one CopyData message; past [`MAX_COPY_IN_BYTES`] the data is dropped and the
    /// COPY fails at CopyDone.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.overflow || self.data.len() + bytes.len() > MAX_COPY_IN_BYTES {
            self.overflow = true;
            self.data = Vec::new();
        } else {
            self.data.extend_from_slice(bytes);
        }
    }
}

/// `Some` when `sql` is a `COPY` statement: what it asks, or why it cannot run.
pub fn parse(sql: &str) -> Option<Result<Copy>> {
    let head = sql.trim_start().get(..5)?;
    if !head.eq_ignore_ascii_case("copy ") && !head.eq_ignore_ascii_case("copy\t") {
        return None;
    }
    Some(parse_copy(sql))
}

fn parse_copy(sql: &str) -> Result<Copy> {
    let statements = Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .map_err(|e| SqlError::Plan(DataFusionError::Plan(format!("COPY: {e}"))))?;
    let [Statement::Copy {
        source,
        to,
        target,
        options,
        legacy_options,
        ..
    }] = statements.as_slice()
    else {
        return Err(unsupported("one COPY statement at a time"));
    };
    let format = format_of(options, legacy_options)?;
    match (to, target) {
        (true, CopyTarget::Stdout) => {
            let query = match source {
                CopySource::Table {
                    table_name,
                    columns,
                } if columns.is_empty() => format!("SELECT * FROM {table_name}"),
                CopySource::Table {
                    table_name,
                    columns,
                } => {
                    let names: Vec<String> = columns.iter().map(ToString::to_string).collect();
                    format!("SELECT {} FROM {table_name}", names.join(", "))
                }
                CopySource::Query(query) => query.to_string(),
            };
            Ok(Copy::Out { query, format })
        }
        (false, CopyTarget::Stdin) => match source {
            CopySource::Table {
                table_name,
                columns,
            } => Ok(Copy::In(CopyIn {
                table: table_name.to_string(),
                columns: columns.iter().map(ToString::to_string).collect(),
                vector: Vec::new(),
                format,
                data: Vec::new(),
                overflow: false,
            })),
            CopySource::Query(_) => Err(unsupported("COPY FROM into a query")),
        },
        _ => Err(unsupported(
            "COPY to or from a file or program on the server (use STDIN/STDOUT, e.g. psql's \\copy)",
        )),
    }
}

fn unsupported(what: &str) -> SqlError {
    SqlError::Unsupported(what.to_string())
}

fn format_of(options: &[CopyOption], legacy: &[CopyLegacyOption]) -> Result<CopyFormat> {
    let mut format = CopyFormat::default();
    let mut null = None;
    let mut delimiter = None;
    for option in options {
        match option {
            CopyOption::Format(name) if name.value.eq_ignore_ascii_case("csv") => format.csv = true,
            CopyOption::Format(name) if name.value.eq_ignore_ascii_case("text") => {}
            CopyOption::Format(name) => {
                return Err(unsupported(&format!(
                    "COPY format {name} (text and csv are)"
                )))
            }
            CopyOption::Header(on) => format.header = *on,
            CopyOption::Delimiter(c) => delimiter = Some(*c),
            CopyOption::Null(text) => null = Some(text.clone()),
            CopyOption::Quote('"') | CopyOption::Escape('"') => {}
            other => return Err(unsupported(&format!("COPY option {other}"))),
        }
    }
    for option in legacy {
        match option {
            CopyLegacyOption::Csv(csv) => {
                format.csv = true;
                for option in csv {
                    match option {
                        CopyLegacyCsvOption::Header => format.header = true,
                        CopyLegacyCsvOption::Quote('"') | CopyLegacyCsvOption::Escape('"') => {}
                        other => return Err(unsupported(&format!("COPY option {other}"))),
                    }
                }
            }
            CopyLegacyOption::Delimiter(c) => delimiter = Some(*c),
            CopyLegacyOption::Null(text) => null = Some(text.clone()),
            other => return Err(unsupported(&format!("COPY option {other}"))),
        }
    }
    if format.header && !format.csv {
        return Err(unsupported("HEADER in text format (use FORMAT csv)"));
    }
    format.delimiter = delimiter.unwrap_or(if format.csv { ',' } else { '\t' });
    format.null = null.unwrap_or_else(|| if format.csv { "" } else { "\\N" }.to_string());
    if format.delimiter == '"' || format.delimiter == '\\' || format.delimiter == '\n' {
        return Err(unsupported("that COPY delimiter"));
    }
    Ok(format)
}

/// Resolves the table's columns (all of them when the statement names none) before the data
/// comes, so an unknown table or column fails the COPY at once.
pub async fn prepare_in(session: &SqlSession, mut copy: CopyIn) -> Result<CopyIn> {
    let schema: Arc<Schema> = session
        .context()
        .table(copy.table.as_str())
        .await
        .map_err(SqlError::from_datafusion)?
        .schema()
        .inner()
        .clone();
    if copy.columns.is_empty() {
        copy.columns = schema
            .fields()
            .iter()
            .map(|f| format!("\"{}\"", f.name().replace('"', "\"\"")))
            .collect();
    }
    copy.vector = Vec::with_capacity(copy.columns.len());
    for column in &copy.columns {
        let name = column
            .strip_prefix('"')
            .and_then(|c| c.strip_suffix('"'))
            .map_or_else(|| column.to_lowercase(), |c| c.replace("\"\"", "\""));
        let field = schema.field_with_name(&name).map_err(|_| {
            SqlError::Plan(DataFusionError::Plan(format!(
                "column {column} of table {} does not exist",
                copy.table
            )))
        })?;
        copy.vector.push(matches!(
            field.data_type(),
            DataType::FixedSizeList(..) | DataType::List(_)
        ));
    }
    Ok(copy)
}

/// Writes the data of a finished `COPY … FROM STDIN`; the number of rows stored.
pub async fn finish_in(session: &mut SqlSession, copy: CopyIn) -> Result<usize> {
    if copy.overflow {
        return Err(SqlError::TooLarge {
            bytes: MAX_COPY_IN_BYTES + 1,
            limit: MAX_COPY_IN_BYTES,
        });
    }
    let text = String::from_utf8(copy.data).map_err(|e| SqlError::CopyData {
        line: 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count(),
        reason: "not UTF-8".to_string(),
    })?;
    let rows = if copy.format.csv {
        csv_rows(&text, &copy.format)?
    } else {
        text_format_rows(&text, &copy.format)?
    };
    let skip = usize::from(copy.format.header);
    let mut statements = Vec::new();
    let mut sql = String::new();
    let mut in_statement = 0;
    for (line, row) in rows.iter().enumerate().skip(skip) {
        if row.len() != copy.columns.len() {
            return Err(SqlError::CopyData {
                line: line + 1,
                reason: format!("{} fields, {} expected", row.len(), copy.columns.len()),
            });
        }
        if in_statement == 0 {
            sql = format!(
                "INSERT INTO {} ({}) VALUES ",
                copy.table,
                copy.columns.join(", ")
            );
        } else {
            sql.push_str(", ");
        }
        sql.push('(');
        for (i, value) in row.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            push_literal(&mut sql, value.as_deref(), copy.vector[i], line + 1)?;
        }
        sql.push(')');
        in_statement += 1;
        if in_statement == COPY_INSERT_ROWS || sql.len() > MAX_STATEMENT_BYTES / 2 {
            statements.push(std::mem::take(&mut sql));
            in_statement = 0;
        }
    }
    if in_statement > 0 {
        statements.push(sql);
    }
    let stored = rows.len().saturating_sub(skip);
    if session.in_transaction() {
        run_all(session, &statements).await?;
        return Ok(stored);
    }
    session.execute_all("BEGIN").await?;
    match run_all(session, &statements).await {
        Ok(()) => {
            session.execute_all("COMMIT").await?;
            Ok(stored)
        }
        Err(e) => {
            // The error to report is the statement's; a failed rollback leaves nothing either.
            let _ = session.execute_all("ROLLBACK").await;
            Err(e)
        }
    }
}

async fn run_all(session: &mut SqlSession, statements: &[String]) -> Result<()> {
    for statement in statements {
        session.execute_all(statement).await?;
    }
    Ok(())
}

/// One value as an SQL literal: NULL, a quoted text the INSERT casts to the column's type, or
/// an `ARRAY[…]` for a vector column.
fn push_literal(sql: &mut String, value: Option<&str>, vector: bool, line: usize) -> Result<()> {
    let Some(value) = value else {
        sql.push_str("NULL");
        return Ok(());
    };
    if vector {
        let numbers: Vec<f64> = serde_json::from_str(value).map_err(|_| SqlError::CopyData {
            line,
            reason: format!("`{value}` is not a vector: write [1, 2, 3]"),
        })?;
        sql.push_str("ARRAY[");
        for (i, n) in numbers.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            // `{:?}` keeps a decimal point, so the array is one of floats.
            sql.push_str(&format!("{n:?}"));
        }
        sql.push(']');
        return Ok(());
    }
    sql.push('\'');
    sql.push_str(&value.replace('\'', "''"));
    sql.push('\'');
    Ok(())
}

/// Rows of PostgreSQL's text format: lines, fields split by the delimiter, backslash escapes,
/// the NULL string as NULL; a `\.` line ends the data.
fn text_format_rows(text: &str, format: &CopyFormat) -> Result<Vec<Vec<Option<String>>>> {
    let mut rows = Vec::new();
    for (n, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line == "\\." {
            break;
        }
        if line.is_empty() && n + 1 == text.split('\n').count() {
            break;
        }
        let mut fields = Vec::new();
        let mut raw = String::new();
        let mut value = String::new();
        let mut chars = line.chars();
        loop {
            match chars.next() {
                Some('\\') => {
                    let escaped = chars.next().ok_or_else(|| SqlError::CopyData {
                        line: n + 1,
                        reason: "a line ends in a backslash".to_string(),
                    })?;
                    raw.push('\\');
                    raw.push(escaped);
                    value.push(match escaped {
                        't' => '\t',
                        'n' => '\n',
                        'r' => '\r',
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        'v' => '\u{b}',
                        other => other,
                    });
                }
                Some(c) if c == format.delimiter => {
                    fields.push(text_field(&raw, &mut value, format));
                    raw.clear();
                }
                Some(c) => {
                    raw.push(c);
                    value.push(c);
                }
                None => {
                    fields.push(text_field(&raw, &mut value, format));
                    break;
                }
            }
        }
        rows.push(fields);
    }
    Ok(rows)
}

fn text_field(raw: &str, value: &mut String, format: &CopyFormat) -> Option<String> {
    let taken = std::mem::take(value);
    (raw != format.null).then_some(taken)
}

/// Rows of CSV: `"` quotes (doubled inside), quoted fields may hold delimiters and newlines;
/// an unquoted field equal to the NULL string is NULL.
fn csv_rows(text: &str, format: &CopyFormat) -> Result<Vec<Vec<Option<String>>>> {
    let mut rows = Vec::new();
    let mut fields = Vec::new();
    let mut value = String::new();
    let mut quoted = false;
    let mut in_quotes = false;
    let mut line = 1;
    // Where the open quoted field began: an unclosed quote is reported there.
    let mut quote_line = 1;
    let mut chars = text.chars().peekable();
    let mut row_started = false;
    while let Some(c) = chars.next() {
        row_started = true;
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    value.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    value.push(c);
                }
                _ => value.push(c),
            }
            continue;
        }
        match c {
            '"' if value.is_empty() && !quoted => {
                quoted = true;
                in_quotes = true;
                quote_line = line;
            }
            c if c == format.delimiter => {
                fields.push(csv_field(&mut value, &mut quoted, format));
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(csv_field(&mut value, &mut quoted, format));
                rows.push(std::mem::take(&mut fields));
                row_started = false;
                line += 1;
            }
            _ if quoted => {
                return Err(SqlError::CopyData {
                    line,
                    reason: "text after a closing quote".to_string(),
                })
            }
            _ => value.push(c),
        }
    }
    if in_quotes {
        return Err(SqlError::CopyData {
            line: quote_line,
            reason: "a quoted field is not closed".to_string(),
        });
    }
    if row_started && !(fields.is_empty() && value == "\\." && !quoted) {
        fields.push(csv_field(&mut value, &mut quoted, format));
        rows.push(fields);
    }
    // psql ends CSV data with a `\.` line in some versions; it is not a row.
    if rows
        .last()
        .is_some_and(|r| r.len() == 1 && r[0].as_deref() == Some("\\."))
    {
        rows.pop();
    }
    Ok(rows)
}

fn csv_field(value: &mut String, quoted: &mut bool, format: &CopyFormat) -> Option<String> {
    let taken = std::mem::take(value);
    let was_quoted = std::mem::replace(quoted, false);
    (was_quoted || taken != format.null).then_some(taken)
}

/// The rows of `COPY … TO STDOUT`: one CopyData per row (CSV's header with the first), each
/// under the statement timeout.
pub async fn copy_out(
    session: &mut SqlSession,
    query: &str,
    format: CopyFormat,
    timeout: std::time::Duration,
) -> Result<CopyResponse> {
    let mut statements = SqlSession::parse(query)?;
    let (Some(statement), true) = (statements.pop(), statements.is_empty()) else {
        return Err(unsupported("COPY of more than one query"));
    };
    let stream: SendableRecordBatchStream = match session.execute_statement(statement).await? {
        Output::Rows(stream) => stream,
        Output::Command(_) => return Err(unsupported("COPY of a statement without rows")),
    };
    let schema = stream.schema();
    let columns = schema.fields().len();
    let mut header = format.header.then(|| {
        let names: Vec<Option<String>> = schema
            .fields()
            .iter()
            .map(|f| Some(f.name().clone()))
            .collect();
        line_of(&names, &format)
    });
    let batches = super::handler::timed(stream, timeout);
    let data = batches.flat_map(move |batch| {
        let lines: Vec<PgWireResult<CopyData>> = match batch.map(|b| text_rows(&b)) {
            Ok(Ok(rows)) => rows
                .iter()
                .map(|row| {
                    let mut text = header.take().unwrap_or_default();
                    text.push_str(&line_of(row, &format));
                    Ok(CopyData::new(text.into_bytes().into()))
                })
                .collect(),
            Ok(Err(e)) => vec![Err(e)],
            Err(e) => vec![Err(PgWireError::UserError(Box::new(
                super::handler::error_info(&e),
            )))],
        };
        stream::iter(lines)
    });
    Ok(CopyResponse::new(0, columns, data))
}

/// One row as a line of the format, newline included.
fn line_of(row: &[Option<String>], format: &CopyFormat) -> String {
    let mut line = String::new();
    for (i, value) in row.iter().enumerate() {
        if i > 0 {
            line.push(format.delimiter);
        }
        match value {
            None => line.push_str(&format.null),
            Some(v) if format.csv => {
                let quote = v.is_empty()
                    || *v == format.null
                    || v.contains([format.delimiter, '"', '\n', '\r']);
                if quote {
                    line.push('"');
                    line.push_str(&v.replace('"', "\"\""));
                    line.push('"');
                } else {
                    line.push_str(v);
                }
            }
            Some(v) => {
                for c in v.chars() {
                    match c {
                        '\\' => line.push_str("\\\\"),
                        '\t' => line.push_str("\\t"),
                        '\n' => line.push_str("\\n"),
                        '\r' => line.push_str("\\r"),
                        c if c == format.delimiter => {
                            line.push('\\');
                            line.push(c);
                        }
                        c => line.push(c),
                    }
                }
            }
        }
    }
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format_of_sql(sql: &str) -> CopyFormat {
        match parse(sql) {
            Some(Ok(Copy::In(c))) => c.format,
            Some(Ok(Copy::Out { format, .. })) => format,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn statements_parse_and_others_are_not_copy() {
        assert!(parse("SELECT 1").is_none());
        assert!(parse("copyright").is_none());
        let csv = format_of_sql("COPY t FROM STDIN WITH (FORMAT csv, HEADER true)");
        assert!(csv.csv && csv.header && csv.delimiter == ',' && csv.null.is_empty());
        let legacy = format_of_sql("copy t (a, b) from stdin with csv header");
        assert!(legacy.csv && legacy.header);
        assert_eq!(format_of_sql("COPY t TO STDOUT"), CopyFormat::default());
        match parse("COPY (SELECT a FROM t WHERE a > 1) TO STDOUT") {
            Some(Ok(Copy::Out { query, .. })) => assert_eq!(query, "SELECT a FROM t WHERE a > 1"),
            other => panic!("{other:?}"),
        }
        for bad in [
            "COPY t FROM '/etc/passwd'",
            "COPY t TO '/tmp/x'",
            "COPY t FROM STDIN WITH (FORMAT binary)",
            "COPY t FROM STDIN WITH (HEADER true)",
        ] {
            assert!(
                matches!(parse(bad), Some(Err(SqlError::Unsupported(_)))),
                "{bad}"
            );
        }
    }

    #[test]
    fn text_and_csv_rows_round_trip_through_lines() {
        let rows = vec![
            vec![Some("1".to_string()), None, Some("a\tb\\c\nd".to_string())],
            vec![Some(String::new()), Some("\"q\", x".to_string()), None],
        ];
        for format in [
            CopyFormat::default(),
            format_of_sql("COPY t FROM STDIN WITH (FORMAT csv)"),
        ] {
            let text: String = rows.iter().map(|r| line_of(r, &format)).collect();
            let back = if format.csv {
                csv_rows(&text, &format)
            } else {
                text_format_rows(&text, &format)
            };
            assert_eq!(back.ok(), Some(rows.clone()), "{format:?}: {text:?}");
        }
    }

    #[test]
    fn malformed_data_names_its_line() {
        let csv = format_of_sql("COPY t FROM STDIN WITH (FORMAT csv)");
        match csv_rows("1,a\n2,\"open\n", &csv) {
            Err(SqlError::CopyData { line, .. }) => assert_eq!(line, 2),
            other => panic!("{other:?}"),
        }
        match csv_rows("1,\"a\"b\n", &csv) {
            Err(SqlError::CopyData { line, .. }) => assert_eq!(line, 1),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            text_format_rows("1\tx\\", &CopyFormat::default()),
            Err(SqlError::CopyData { line: 1, .. })
        ));
        // psql's end-of-data marker is not a row.
        assert_eq!(
            text_format_rows("1\n\\.\n", &CopyFormat::default()).ok(),
            Some(vec![vec![Some("1".to_string())]])
        );
    }
}
