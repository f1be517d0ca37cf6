//! Arrow results as PostgreSQL rows: column types and value encodings (text, and binary for
//! the types a driver may ask binary for).
//!
//! | Arrow | PostgreSQL |
//! |---|---|
//! | Int64 / Int32 / Int16 (and unsigned) | int8 / int4 / int2 |
//! | Float64 / Float32 | float8 / float4 |
//! | Boolean | bool |
//! | Utf8 | text |
//! | Binary | bytea |
//! | Timestamp | timestamptz (UTC) |
//! | List, FixedSizeList, Struct | json (the value as JSON text) |
//! | anything else | text (Arrow's display form) |

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{
    DataType, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Schema,
    TimestampMicrosecondType, UInt32Type, UInt64Type,
};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use pgwire::api::portal::Format;
use pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo};
use pgwire::api::Type;
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::data::DataRow;

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

/// The PostgreSQL type of an Arrow type.
pub fn pg_type(data_type: &DataType) -> Type {
    match data_type {
        DataType::Int64 | DataType::UInt64 | DataType::UInt32 => Type::INT8,
        DataType::Int32 | DataType::UInt16 => Type::INT4,
        DataType::Int16 | DataType::Int8 | DataType::UInt8 => Type::INT2,
        DataType::Float64 => Type::FLOAT8,
        DataType::Float32 | DataType::Float16 => Type::FLOAT4,
        DataType::Boolean => Type::BOOL,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Type::BYTEA,
        DataType::Timestamp(_, _) => Type::TIMESTAMPTZ,
        DataType::List(_)
        | DataType::LargeList(_)
        | DataType::FixedSizeList(_, _)
        | DataType::Struct(_) => Type::JSON,
        _ => Type::TEXT,
    }
}

/// The row description of `schema` in `format`.
pub fn fields(schema: &Schema, format: &Format) -> Vec<FieldInfo> {
    schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            FieldInfo::new(
                f.name().clone(),
                None,
                None,
                pg_type(f.data_type()),
                format.format_for(i),
            )
        })
        .collect()
}

fn err(e: impl std::error::Error + Send + Sync + 'static) -> PgWireError {
    PgWireError::ApiError(Box::new(e))
}

/// The rows of one batch.
pub fn encode_batch(
    batch: &RecordBatch,
    fields: &Arc<Vec<FieldInfo>>,
) -> PgWireResult<Vec<DataRow>> {
    let columns = normalised_columns(batch)?;
    let options = FormatOptions::default();
    let formatters = columns
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).map_err(err))
        .collect::<PgWireResult<Vec<_>>>()?;
    let mut encoder = DataRowEncoder::new(fields.clone());
    let mut rows = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        for (i, column) in columns.iter().enumerate() {
            let format = fields.get(i).map_or(FieldFormat::Text, FieldInfo::format);
            encode_value(&mut encoder, column, &formatters[i], row, format)?;
        }
        rows.push(encoder.take_row());
    }
    Ok(rows)
}

/// Every cell of `batch` in PostgreSQL's text form, row by row (`None`: NULL) — what
/// `COPY … TO STDOUT` writes. The same forms as the text encoding of a result row.
pub fn text_rows(batch: &RecordBatch) -> PgWireResult<Vec<Vec<Option<String>>>> {
    let columns = normalised_columns(batch)?;
    let options = FormatOptions::default();
    let formatters = columns
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).map_err(err))
        .collect::<PgWireResult<Vec<_>>>()?;
    Ok((0..batch.num_rows())
        .map(|row| {
            columns
                .iter()
                .zip(&formatters)
                .map(|(column, formatter)| cell_text(column, formatter, row))
                .collect()
        })
        .collect())
}

fn cell_text(column: &ArrayRef, formatter: &ArrayFormatter<'_>, row: usize) -> Option<String> {
    if column.is_null(row) {
        return None;
    }
    Some(match column.data_type() {
        DataType::Boolean => if column.as_boolean().value(row) {
            "t"
        } else {
            "f"
        }
        .to_string(),
        DataType::Timestamp(_, _) => {
            timestamp_text(column.as_primitive::<TimestampMicrosecondType>().value(row))
        }
        DataType::List(_) | DataType::FixedSizeList(_, _) | DataType::Struct(_) => {
            json_text(column, row)
        }
        _ => formatter.value(row).to_string(),
    })
}

/// The batch's columns with timestamps normalised to microseconds (once per column).
fn normalised_columns(batch: &RecordBatch) -> PgWireResult<Vec<ArrayRef>> {
    batch
        .columns()
        .iter()
        .map(|c| match c.data_type() {
            DataType::Timestamp(_, tz) => datafusion::arrow::compute::cast(
                c,
                &DataType::Timestamp(
                    datafusion::arrow::datatypes::TimeUnit::Microsecond,
                    tz.clone(),
                ),
            )
            .map_err(err),
            _ => Ok(c.clone()),
        })
        .collect()
}

fn encode_value(
    encoder: &mut DataRowEncoder,
    column: &ArrayRef,
    formatter: &ArrayFormatter<'_>,
    row: usize,
    format: FieldFormat,
) -> PgWireResult<()> {
    if column.is_null(row) {
        return encoder.encode_field(&None::<i64>);
    }
    match column.data_type() {
        DataType::Int64 => encoder.encode_field(&column.as_primitive::<Int64Type>().value(row)),
        DataType::UInt64 => {
            let v = column.as_primitive::<UInt64Type>().value(row);
            encoder.encode_field(&i64::try_from(v).unwrap_or(i64::MAX))
        }
        DataType::UInt32 => {
            encoder.encode_field(&i64::from(column.as_primitive::<UInt32Type>().value(row)))
        }
        DataType::Int32 => encoder.encode_field(&column.as_primitive::<Int32Type>().value(row)),
        DataType::Int16 => encoder.encode_field(&column.as_primitive::<Int16Type>().value(row)),
        DataType::Float64 => encoder.encode_field(&column.as_primitive::<Float64Type>().value(row)),
        DataType::Float32 => encoder.encode_field(&column.as_primitive::<Float32Type>().value(row)),
        DataType::Boolean => encoder.encode_field(&column.as_boolean().value(row)),
        DataType::Binary => encoder.encode_field(&column.as_binary::<i32>().value(row).to_vec()),
        DataType::Timestamp(_, _) => {
            let us = column.as_primitive::<TimestampMicrosecondType>().value(row);
            if format == FieldFormat::Binary {
                encoder.encode_field(&us.saturating_sub(PG_EPOCH_OFFSET_US))
            } else {
                encoder.encode_field(&timestamp_text(us))
            }
        }
        DataType::List(_) | DataType::FixedSizeList(_, _) | DataType::Struct(_) => {
            encoder.encode_field(&json_text(column, row))
        }
        DataType::Int8 | DataType::UInt8 | DataType::UInt16 => {
            let text = formatter.value(row).to_string();
            encoder.encode_field(&text.parse::<i32>().unwrap_or(0))
        }
        _ => encoder.encode_field(&formatter.value(row).to_string()),
    }
}

/// PostgreSQL's text form of a `timestamptz` in UTC: `2024-01-02 03:04:05.123456+00`.
fn timestamp_text(us: i64) -> String {
    let text = cairn::DateTime(us).to_string();
    // RFC 3339 (`2024-01-02T03:04:05.123456Z`) to PostgreSQL's form.
    text.replacen('T', " ", 1).trim_end_matches('Z').to_string() + "+00"
}

/// A nested value as JSON text.
fn json_text(column: &ArrayRef, row: usize) -> String {
    json_value(column.as_ref(), row).to_string()
}

fn json_value(array: &dyn Array, row: usize) -> serde_json::Value {
    use datafusion::common::ScalarValue;
    use serde_json::Value as J;
    if array.is_null(row) {
        return J::Null;
    }
    match array.data_type() {
        DataType::List(_) => {
            let items = array.as_list::<i32>().value(row);
            J::Array(
                (0..items.len())
                    .map(|i| json_value(items.as_ref(), i))
                    .collect(),
            )
        }
        DataType::FixedSizeList(_, _) => {
            let items = array.as_fixed_size_list().value(row);
            J::Array(
                (0..items.len())
                    .map(|i| json_value(items.as_ref(), i))
                    .collect(),
            )
        }
        DataType::Struct(fields) => {
            let s = array.as_struct();
            J::Object(
                fields
                    .iter()
                    .zip(s.columns())
                    .map(|(f, c)| (f.name().clone(), json_value(c.as_ref(), row)))
                    .collect(),
            )
        }
        _ => match ScalarValue::try_from_array(array, row) {
            Ok(ScalarValue::Boolean(Some(b))) => J::Bool(b),
            Ok(ScalarValue::Int64(Some(i))) => J::from(i),
            Ok(ScalarValue::Int32(Some(i))) => J::from(i),
            Ok(ScalarValue::Float64(Some(f))) => J::from(f),
            Ok(ScalarValue::Float32(Some(f))) => J::from(f64::from(f)),
            Ok(ScalarValue::Utf8(Some(s))) => J::String(s),
            Ok(other) => J::String(other.to_string()),
            Err(_) => J::Null,
        },
    }
}
