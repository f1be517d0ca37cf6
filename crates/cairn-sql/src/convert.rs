//! Documents to Arrow columns (scans) and Arrow values to documents (writes), following the
//! type mapping of [`crate::types`].

use std::sync::Arc;

use cairn::{DateTime, DocId, Object, Value};
use datafusion::arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanArray, FixedSizeListArray, Float32Array, Float64Array,
    Int64Array, ListArray, RecordBatch, RecordBatchOptions, StringArray, StructArray,
    TimestampMicrosecondArray,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{Field, SchemaRef};
use datafusion::common::ScalarValue;

use crate::error::{Result, SqlError};
use crate::types::{Column, ColumnType};

/// One scanned document: its id and its value.
pub type Row = (DocId, Value);

/// The text of an id in the `_id` column: its canonical text (`DocId`'s `Display`), quoted
/// as JSON for a string id that would otherwise read as an int or a UUID, so that
/// [`DocId::parse_cli`] gives back exactly this id and distinct ids never share a text.
pub fn id_text(id: &DocId) -> String {
    let text = id.to_string();
    match id {
        DocId::String(s) if DocId::parse_cli(s) != *id => serde_json::to_string(s).unwrap_or(text),
        _ => text,
    }
}

/// The record batch of `rows` for `columns` (already projected) under `schema`.
pub fn rows_to_batch(schema: &SchemaRef, columns: &[&Column], rows: &[Row]) -> Result<RecordBatch> {
    let arrays = columns
        .iter()
        .map(|column| {
            if column.ty == ColumnType::Id {
                let ids: Vec<String> = rows.iter().map(|(id, _)| id_text(id)).collect();
                return Ok(Arc::new(StringArray::from(ids)) as ArrayRef);
            }
            let values: Vec<Option<&Value>> = rows
                .iter()
                .map(|(_, doc)| doc.as_object().and_then(|o| o.get(&column.name)))
                .collect();
            Ok(values_to_array(&column.ty, &values))
        })
        .collect::<Result<Vec<_>>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(rows.len()));
    RecordBatch::try_new_with_options(schema.clone(), arrays, &options)
        .map_err(|err| SqlError::Plan(err.into()))
}

/// The Arrow array of one column's values (`None`, a null, or a value of the wrong type:
/// NULL).
fn values_to_array(ty: &ColumnType, values: &[Option<&Value>]) -> ArrayRef {
    match ty {
        ColumnType::Id | ColumnType::Text => {
            Arc::new(StringArray::from_iter(values.iter().map(|v| match v {
                Some(Value::String(s)) => Some(s.as_str()),
                _ => None,
            })))
        }
        ColumnType::Uuid => Arc::new(StringArray::from_iter(values.iter().map(|v| match v {
            Some(Value::Uuid(u)) => Some(u.hyphenated().to_string()),
            _ => None,
        }))),
        ColumnType::Json => Arc::new(StringArray::from_iter(values.iter().map(|v| match v {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.to_json_string()),
        }))),
        ColumnType::Geometry => Arc::new(StringArray::from_iter(values.iter().map(|v| match v {
            Some(Value::Geometry(g)) => cairn::geo::to_wkt(g).ok(),
            _ => None,
        }))),
        ColumnType::Int => Arc::new(Int64Array::from_iter(values.iter().map(|v| match v {
            Some(Value::Int(i)) => Some(*i),
            _ => None,
        }))),
        ColumnType::Float => Arc::new(Float64Array::from_iter(values.iter().map(|v| match v {
            Some(Value::Float(f)) => Some(*f),
            Some(Value::Int(i)) => Some(*i as f64),
            _ => None,
        }))),
        ColumnType::Bool => Arc::new(BooleanArray::from_iter(values.iter().map(|v| match v {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        }))),
        ColumnType::DateTime => Arc::new(
            TimestampMicrosecondArray::from_iter(values.iter().map(|v| match v {
                Some(Value::DateTime(d)) => Some(d.0),
                _ => None,
            }))
            .with_timezone("UTC"),
        ),
        ColumnType::Bytes => Arc::new(BinaryArray::from_iter(values.iter().map(|v| match v {
            Some(Value::Bytes(b)) => Some(b.as_slice()),
            _ => None,
        }))),
        ColumnType::Vector(n) => vector_array(*n, values),
        ColumnType::List(element) => list_array(element, values),
        ColumnType::Struct(columns) => struct_array(columns, values),
    }
}

fn vector_array(n: usize, values: &[Option<&Value>]) -> ArrayRef {
    let mut floats = Vec::with_capacity(values.len() * n);
    let mut valid = Vec::with_capacity(values.len());
    for value in values {
        match value {
            Some(Value::Vector(v)) if v.as_slice().len() == n => {
                floats.extend_from_slice(v.as_slice());
                valid.push(true);
            }
            _ => {
                floats.extend(std::iter::repeat_n(0.0f32, n));
                valid.push(false);
            }
        }
    }
    let field = Arc::new(Field::new(
        "item",
        datafusion::arrow::datatypes::DataType::Float32,
        true,
    ));
    let size = i32::try_from(n).unwrap_or(i32::MAX);
    Arc::new(FixedSizeListArray::new(
        field,
        size,
        Arc::new(Float32Array::from(floats)),
        Some(NullBuffer::from(valid)),
    ))
}

fn list_array(element: &ColumnType, values: &[Option<&Value>]) -> ArrayRef {
    let mut lengths = Vec::with_capacity(values.len());
    let mut valid = Vec::with_capacity(values.len());
    let mut items: Vec<Option<&Value>> = Vec::new();
    for value in values {
        match value {
            Some(Value::Array(elements)) => {
                lengths.push(elements.len());
                valid.push(true);
                items.extend(elements.iter().map(|e| match e {
                    Value::Null => None,
                    e => Some(e),
                }));
            }
            _ => {
                lengths.push(0);
                valid.push(false);
            }
        }
    }
    let field = Arc::new(Field::new("item", element.arrow_type(), true));
    Arc::new(ListArray::new(
        field,
        OffsetBuffer::from_lengths(lengths),
        values_to_array(element, &items),
        Some(NullBuffer::from(valid)),
    ))
}

fn struct_array(columns: &[Column], values: &[Option<&Value>]) -> ArrayRef {
    let objects: Vec<Option<&Object>> = values
        .iter()
        .map(|v| match v {
            Some(Value::Object(o)) => Some(o),
            _ => None,
        })
        .collect();
    let children: Vec<ArrayRef> = columns
        .iter()
        .map(|column| {
            let field_values: Vec<Option<&Value>> = objects
                .iter()
                .map(|o| o.and_then(|o| o.get(&column.name)))
                .collect();
            values_to_array(&column.ty, &field_values)
        })
        .collect();
    let fields: Vec<Field> = columns.iter().map(Column::arrow_field).collect();
    let valid = NullBuffer::from(objects.iter().map(Option::is_some).collect::<Vec<_>>());
    Arc::new(StructArray::new(fields.into(), children, Some(valid)))
}

/// The stored value of row `row` of `array` in a column of type `ty`; `None` for SQL NULL
/// (the field is left out of the document).
pub fn array_value(
    ty: &ColumnType,
    column: &str,
    array: &dyn Array,
    row: usize,
) -> Result<Option<Value>> {
    let scalar = ScalarValue::try_from_array(array, row).map_err(SqlError::Plan)?;
    scalar_value(ty, column, &scalar)
}

fn invalid(column: &str, reason: impl Into<String>) -> SqlError {
    SqlError::InvalidValue {
        column: column.to_string(),
        reason: reason.into(),
    }
}

/// The stored value of a scalar written to a column of type `ty`.
pub fn scalar_value(ty: &ColumnType, column: &str, scalar: &ScalarValue) -> Result<Option<Value>> {
    if scalar.is_null() {
        return Ok(None);
    }
    let value = match (ty, scalar) {
        (ColumnType::Id, _) => DocId::parse_cli(&text_of(column, scalar)?).to_value(),
        (ColumnType::Text, _) => Value::String(text_of(column, scalar)?),
        (ColumnType::Uuid, _) => {
            let text = text_of(column, scalar)?;
            Value::Uuid(uuid::Uuid::try_parse(&text).map_err(|e| invalid(column, e.to_string()))?)
        }
        (ColumnType::Json, _) => {
            let text = text_of(column, scalar)?;
            Value::from_json_str(&text).map_err(|e| invalid(column, format!("not JSON: {e}")))?
        }
        (ColumnType::Geometry, _) => {
            let text = text_of(column, scalar)?;
            let geometry = cairn::geo::from_wkt(&text)
                .map_err(|e| invalid(column, format!("not WKT: {e}")))?;
            Value::Geometry(Box::new(geometry))
        }
        (ColumnType::Int, s) => Value::Int(int_of(column, s)?),
        (ColumnType::Float, s) => Value::Float(float_of(column, s)?),
        (ColumnType::Bool, ScalarValue::Boolean(Some(b))) => Value::Bool(*b),
        (ColumnType::DateTime, s) => Value::DateTime(datetime_of(column, s)?),
        (ColumnType::Bytes, ScalarValue::Binary(Some(b)) | ScalarValue::LargeBinary(Some(b))) => {
            Value::Bytes(b.clone())
        }
        (ColumnType::Bytes, ScalarValue::BinaryView(Some(b))) => Value::Bytes(b.clone()),
        (ColumnType::Vector(n), s) => vector_of(column, *n, s)?,
        (ColumnType::List(element), s) => Value::Array(list_of(column, element, s)?),
        (ColumnType::Struct(columns), ScalarValue::Struct(array)) => {
            let mut object = Object::new();
            for (i, child) in columns.iter().enumerate() {
                if let Some(v) = array_value(&child.ty, &child.name, array.column(i).as_ref(), 0)? {
                    object.insert(child.name.clone(), v);
                }
            }
            Value::Object(object)
        }
        (_, other) => {
            return Err(invalid(
                column,
                format!("a {} value does not fit this column", other.data_type()),
            ))
        }
    };
    Ok(Some(value))
}

fn text_of(column: &str, scalar: &ScalarValue) -> Result<String> {
    match scalar {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Ok(s.clone()),
        ScalarValue::Int64(Some(i)) => Ok(i.to_string()),
        ScalarValue::Int32(Some(i)) => Ok(i.to_string()),
        other => Err(invalid(
            column,
            format!("expected text, got {}", other.data_type()),
        )),
    }
}

fn int_of(column: &str, scalar: &ScalarValue) -> Result<i64> {
    let cast = scalar
        .cast_to(&datafusion::arrow::datatypes::DataType::Int64)
        .map_err(|e| invalid(column, e.to_string()))?;
    match cast {
        ScalarValue::Int64(Some(i)) => Ok(i),
        _ => Err(invalid(column, "expected an integer")),
    }
}

fn float_of(column: &str, scalar: &ScalarValue) -> Result<f64> {
    let cast = scalar
        .cast_to(&datafusion::arrow::datatypes::DataType::Float64)
        .map_err(|e| invalid(column, e.to_string()))?;
    match cast {
        ScalarValue::Float64(Some(f)) if f.is_finite() => Ok(f),
        _ => Err(invalid(column, "expected a finite number")),
    }
}

fn datetime_of(column: &str, scalar: &ScalarValue) -> Result<DateTime> {
    if let ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) = scalar {
        return DateTime::parse_rfc3339(s).map_err(|e| invalid(column, e.to_string()));
    }
    let micros = ColumnType::DateTime.arrow_type();
    match scalar.cast_to(&micros) {
        Ok(ScalarValue::TimestampMicrosecond(Some(us), _)) => Ok(DateTime(us)),
        _ => Err(invalid(column, "expected a timestamp")),
    }
}

fn vector_of(column: &str, n: usize, scalar: &ScalarValue) -> Result<Value> {
    let elements = list_of(column, &ColumnType::Float, scalar)?;
    if elements.len() != n {
        return Err(invalid(
            column,
            format!("expected {n} dimensions, got {}", elements.len()),
        ));
    }
    let floats = elements
        .iter()
        .map(|v| match v {
            Value::Float(f) => Ok(*f as f32),
            // pgvector's text form `'[1, 2, 3]'` reads its integers as JSON integers.
            Value::Int(i) => Ok(*i as f32),
            _ => Err(invalid(column, "a vector holds numbers only")),
        })
        .collect::<Result<Vec<f32>>>()?;
    Ok(Value::Vector(cairn::Vector::from_vec(floats)))
}

fn list_of(column: &str, element: &ColumnType, scalar: &ScalarValue) -> Result<Vec<Value>> {
    let array: ArrayRef = match scalar {
        ScalarValue::List(list) => list.value(0),
        ScalarValue::LargeList(list) => list.value(0),
        ScalarValue::FixedSizeList(list) => list.value(0),
        ScalarValue::Utf8(Some(text)) => {
            // `'[1, 2]'`: a JSON array literal.
            return match Value::from_json_str(text) {
                Ok(Value::Array(items)) => Ok(items),
                _ => Err(invalid(column, "expected an array")),
            };
        }
        other => {
            return Err(invalid(
                column,
                format!("expected an array, got {}", other.data_type()),
            ))
        }
    };
    (0..array.len())
        .map(|i| Ok(array_value(element, column, array.as_ref(), i)?.unwrap_or(Value::Null)))
        .collect()
}
