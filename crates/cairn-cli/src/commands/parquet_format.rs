//! Parquet in and out of a collection, through Arrow.
//!
//! | Cairn value | Arrow / Parquet type |
//! |---|---|
//! | bool, int, float, string | Boolean, Int64, Float64, Utf8 (ints and floats in one field: Float64) |
//! | datetime | Timestamp(µs, UTC) |
//! | uuid | FixedSizeBinary(16), field metadata `cairn.type = uuid` |
//! | bytes | Binary |
//! | vector (one dimension per field) | FixedSizeList<Float32, N> (mixed dimensions: List<Float32>) |
//! | object | Struct (fields in first-seen order) |
//! | array | List of its elements' type |
//! | geometry, or a field whose types disagree | Utf8 of the JSON text, metadata `cairn.type = json` |
//!
//! Export reads one snapshot twice: first to find each field's type, then to write row groups
//! of [`PARQUET_ROWS_PER_BATCH`] documents, so memory stays bounded by a batch. A missing field
//! is a null. Import reads any Parquet file (pandas, Spark, DuckDB…): integers of every width,
//! floats, strings, binaries, timestamps and dates of any unit, decimals (as floats up to 15
//! digits, else text), lists, fixed-size lists (of floats: vectors), structs and dictionaries;
//! nulls leave the field out. Anything else is refused naming the column and its type.
//! Fields come back in column order (the order export first saw them in).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal128Type, DecimalType, Float16Type, Float32Type, Float64Type,
    Int16Type, Int32Type, Int64Type, Int8Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, FixedSizeBinaryArray, FixedSizeListArray,
    Float32Array, Float64Array, Int64Array, ListArray, NullArray, RecordBatch, StringArray,
    StructArray, TimestampMicrosecondArray,
};
use arrow_buffer::{NullBuffer, OffsetBuffer};
use arrow_schema::{DataType, Field, Fields, Schema, TimeUnit};
use cairn::{Database, DateTime, Object, Value, Vector};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

use super::import_source::ImportRecord;

/// Documents per Arrow batch (one Parquet row group each) on export, and rows per batch read on
/// import: 8,192, Arrow's usual batch size; bounds memory to a batch's worth of documents.
pub const PARQUET_ROWS_PER_BATCH: usize = 8_192;

/// Field metadata key naming the Cairn type a column's Arrow type cannot say alone.
const CAIRN_TYPE: &str = "cairn.type";

/// Significant digits a stored float keeps exactly; wider decimals import as text.
const DECIMAL_DIGITS_AS_FLOAT: u8 = 15;

/// The type export infers for a field.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// Only nulls seen.
    Null,
    Bool,
    Int,
    Float,
    String,
    Date,
    Uuid,
    Bytes,
    /// A vector; `Some(n)` while every vector had `n` components.
    Vector(Option<usize>),
    List(Box<Kind>),
    Struct(Vec<(String, Kind)>),
    /// Types disagree (or a geometry): the JSON text.
    Json,
}

impl Kind {
    fn of(value: &Value) -> Kind {
        match value {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Int(_) => Kind::Int,
            Value::Float(_) => Kind::Float,
            Value::String(_) => Kind::String,
            Value::DateTime(_) => Kind::Date,
            Value::Uuid(_) => Kind::Uuid,
            Value::Bytes(_) => Kind::Bytes,
            Value::Vector(v) => Kind::Vector(Some(v.as_slice().len())),
            Value::Array(items) => Kind::List(Box::new(
                items
                    .iter()
                    .fold(Kind::Null, |kind, item| kind.merge(Kind::of(item))),
            )),
            Value::Object(object) => Kind::Struct(
                object
                    .iter()
                    .map(|(key, item)| (key.to_string(), Kind::of(item)))
                    .collect(),
            ),
            _ => Kind::Json,
        }
    }

    /// The narrowest kind holding both.
    fn merge(self, other: Kind) -> Kind {
        match (self, other) {
            (Kind::Null, kind) | (kind, Kind::Null) => kind,
            (Kind::Int, Kind::Float) | (Kind::Float, Kind::Int) => Kind::Float,
            (Kind::Vector(a), Kind::Vector(b)) => Kind::Vector(if a == b { a } else { None }),
            (Kind::List(a), Kind::List(b)) => Kind::List(Box::new(a.merge(*b))),
            (Kind::Struct(mut fields), Kind::Struct(more)) => {
                for (name, kind) in more {
                    match fields.iter_mut().find(|(known, _)| *known == name) {
                        Some((_, existing)) => {
                            *existing = std::mem::replace(existing, Kind::Null).merge(kind)
                        }
                        None => fields.push((name, kind)),
                    }
                }
                Kind::Struct(fields)
            }
            (a, b) if a == b => a,
            _ => Kind::Json,
        }
    }

    fn field(&self, name: &str) -> Field {
        let tagged = |field: Field, tag: &str| {
            field.with_metadata([(CAIRN_TYPE.to_string(), tag.to_string())].into())
        };
        match self {
            Kind::Null => Field::new(name, DataType::Null, true),
            Kind::Bool => Field::new(name, DataType::Boolean, true),
            Kind::Int => Field::new(name, DataType::Int64, true),
            Kind::Float => Field::new(name, DataType::Float64, true),
            Kind::String => Field::new(name, DataType::Utf8, true),
            Kind::Date => Field::new(
                name,
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            Kind::Uuid => tagged(
                Field::new(name, DataType::FixedSizeBinary(16), true),
                "uuid",
            ),
            Kind::Bytes => Field::new(name, DataType::Binary, true),
            Kind::Vector(Some(dim)) => Field::new(
                name,
                DataType::FixedSizeList(
                    Arc::new(Field::new("item", DataType::Float32, false)),
                    i32::try_from(*dim).unwrap_or(i32::MAX),
                ),
                true,
            ),
            Kind::Vector(None) => tagged(
                Field::new(
                    name,
                    DataType::List(Arc::new(Field::new("item", DataType::Float32, false))),
                    true,
                ),
                "vector",
            ),
            Kind::List(item) => {
                Field::new(name, DataType::List(Arc::new(item.field("item"))), true)
            }
            Kind::Struct(fields) => Field::new(name, DataType::Struct(struct_fields(fields)), true),
            Kind::Json => tagged(Field::new(name, DataType::Utf8, true), "json"),
        }
    }
}

fn struct_fields(fields: &[(String, Kind)]) -> Fields {
    fields
        .iter()
        .map(|(name, kind)| kind.field(name))
        .collect::<Vec<_>>()
        .into()
}

/// Builds the Arrow array of `kind` for one value per row (`None`: null).
fn build(kind: &Kind, values: &[Option<&Value>]) -> anyhow::Result<ArrayRef> {
    let nulls = || NullBuffer::from(values.iter().map(|v| v.is_some()).collect::<Vec<_>>());
    Ok(match kind {
        Kind::Null => Arc::new(NullArray::new(values.len())),
        Kind::Bool => Arc::new(BooleanArray::from(
            values
                .iter()
                .map(|v| v.and_then(|v| v.as_bool()))
                .collect::<Vec<_>>(),
        )),
        Kind::Int => Arc::new(Int64Array::from(
            values
                .iter()
                .map(|v| match v {
                    Some(Value::Int(i)) => Some(*i),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        )),
        Kind::Float => Arc::new(Float64Array::from(
            values
                .iter()
                .map(|v| match v {
                    Some(Value::Int(i)) => Some(*i as f64),
                    Some(Value::Float(f)) => Some(*f),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        )),
        Kind::String => Arc::new(StringArray::from(
            values
                .iter()
                .map(|v| v.and_then(|v| v.as_str()))
                .collect::<Vec<_>>(),
        )),
        Kind::Json => Arc::new(StringArray::from(
            values
                .iter()
                .map(|v| v.filter(|v| !v.is_null()).map(|v| v.to_json_string()))
                .collect::<Vec<_>>(),
        )),
        Kind::Date => Arc::new(
            TimestampMicrosecondArray::from(
                values
                    .iter()
                    .map(|v| match v {
                        Some(Value::DateTime(d)) => Some(d.micros()),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
            )
            .with_timezone("UTC"),
        ),
        Kind::Uuid => Arc::new(FixedSizeBinaryArray::try_from_sparse_iter_with_size(
            values.iter().map(|v| match v {
                Some(Value::Uuid(u)) => Some(*u.as_bytes()),
                _ => None,
            }),
            16,
        )?),
        Kind::Bytes => Arc::new(BinaryArray::from(
            values
                .iter()
                .map(|v| match v {
                    Some(Value::Bytes(b)) => Some(b.as_slice()),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        )),
        Kind::Vector(Some(dim)) => {
            let mut flat = Vec::with_capacity(values.len() * dim);
            for value in values {
                match value {
                    Some(Value::Vector(v)) => flat.extend_from_slice(v.as_slice()),
                    _ => flat.extend(std::iter::repeat_n(0.0, *dim)),
                }
            }
            let item = Arc::new(Field::new("item", DataType::Float32, false));
            Arc::new(FixedSizeListArray::try_new(
                item,
                i32::try_from(*dim)?,
                Arc::new(Float32Array::from(flat)),
                Some(nulls()),
            )?)
        }
        Kind::Vector(None) | Kind::List(_) => {
            let (item_kind, item_field) = match kind {
                Kind::List(item) => ((**item).clone(), Arc::new(item.field("item"))),
                _ => (
                    Kind::Float,
                    Arc::new(Field::new("item", DataType::Float32, false)),
                ),
            };
            let mut lengths = Vec::with_capacity(values.len());
            let mut vector_items: Vec<f32> = Vec::new();
            let mut items: Vec<Option<&Value>> = Vec::new();
            for value in values {
                match value {
                    Some(Value::Array(list)) => {
                        lengths.push(list.len());
                        items.extend(list.iter().map(Some));
                    }
                    Some(Value::Vector(v)) => {
                        lengths.push(v.as_slice().len());
                        vector_items.extend_from_slice(v.as_slice());
                    }
                    _ => lengths.push(0),
                }
            }
            let child: ArrayRef = match kind {
                Kind::Vector(None) => Arc::new(Float32Array::from(vector_items)),
                _ => build(&item_kind, &items)?,
            };
            Arc::new(ListArray::try_new(
                item_field,
                OffsetBuffer::from_lengths(lengths),
                child,
                Some(nulls()),
            )?)
        }
        Kind::Struct(fields) => {
            let mut children = Vec::with_capacity(fields.len());
            for (name, child_kind) in fields {
                let column: Vec<Option<&Value>> = values
                    .iter()
                    .map(|v| match v {
                        Some(Value::Object(object)) => object.get(name),
                        _ => None,
                    })
                    .collect();
                children.push(build(child_kind, &column)?);
            }
            if fields.is_empty() {
                Arc::new(StructArray::new_empty_fields(values.len(), Some(nulls())))
            } else {
                Arc::new(StructArray::try_new(
                    struct_fields(fields),
                    children,
                    Some(nulls()),
                )?)
            }
        }
    })
}

/// Writes the collection as a Parquet file (zstd-compressed row groups).
pub fn export(db: &Database, collection: &str, path: &Path) -> anyhow::Result<u64> {
    let mut txn = db.read()?;
    let mut root = Kind::Struct(Vec::new());
    txn.for_each(collection, |_, doc| {
        root = std::mem::replace(&mut root, Kind::Null).merge(Kind::of(doc));
        true
    })?;
    let Kind::Struct(fields) = root else {
        bail!("documents are objects");
    };
    if fields.is_empty() {
        bail!("`{collection}` has no documents: Parquet needs at least one column");
    }
    let schema = Arc::new(Schema::new(struct_fields(&fields)));
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
        .build();
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(properties))?;
    let mut batch: Vec<Value> = Vec::with_capacity(PARQUET_ROWS_PER_BATCH);
    let mut count = 0u64;
    let flush = |batch: &mut Vec<Value>, writer: &mut ArrowWriter<File>| -> anyhow::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut columns = Vec::with_capacity(fields.len());
        for (name, kind) in &fields {
            let column: Vec<Option<&Value>> = batch
                .iter()
                .map(|doc| doc.as_object().and_then(|object| object.get(name)))
                .collect();
            columns.push(build(kind, &column)?);
        }
        writer.write(&RecordBatch::try_new(schema.clone(), columns)?)?;
        batch.clear();
        Ok(())
    };
    txn.try_for_each(collection, |_, doc| -> anyhow::Result<bool> {
        batch.push(doc.clone());
        count += 1;
        if batch.len() == PARQUET_ROWS_PER_BATCH {
            flush(&mut batch, &mut writer)?;
        }
        Ok(true)
    })?;
    flush(&mut batch, &mut writer)?;
    writer.close()?;
    Ok(count)
}

/// Reads documents from a Parquet file, a batch at a time.
pub struct ParquetSource {
    reader: parquet::arrow::arrow_reader::ParquetRecordBatchReader,
    batch: Option<RecordBatch>,
    row_in_batch: usize,
    row: usize,
}

impl ParquetSource {
    /// Opens `path`.
    pub fn open(path: &Path) -> anyhow::Result<ParquetSource> {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .with_context(|| format!("{} is not a Parquet file", path.display()))?
            .with_batch_size(PARQUET_ROWS_PER_BATCH)
            .build()?;
        Ok(ParquetSource {
            reader,
            batch: None,
            row_in_batch: 0,
            row: 0,
        })
    }

    /// The next row as a record (its "line" is the 1-based row number).
    pub fn next_record(&mut self) -> anyhow::Result<Option<ImportRecord>> {
        loop {
            if let Some(batch) = &self.batch {
                if self.row_in_batch < batch.num_rows() {
                    let doc = row_document(batch, self.row_in_batch);
                    self.row_in_batch += 1;
                    self.row += 1;
                    let text = match &doc {
                        Ok(doc) => doc.to_json_string(),
                        Err(_) => format!("{{\"row\": {}}}", self.row),
                    };
                    return Ok(Some(ImportRecord {
                        line: self.row,
                        text,
                        doc,
                    }));
                }
            }
            match self.reader.next() {
                Some(batch) => {
                    self.batch = Some(batch?);
                    self.row_in_batch = 0;
                }
                None => return Ok(None),
            }
        }
    }
}

fn row_document(batch: &RecordBatch, row: usize) -> Result<Value, String> {
    let mut doc = Object::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if let Some(value) = cell(field, column.as_ref(), row)
            .map_err(|e| format!("column `{}`: {e}", field.name()))?
        {
            doc.insert(field.name().as_str(), value);
        }
    }
    Ok(Value::Object(doc))
}

/// The value at `row` of `array` (described by `field`); `None` for a null.
fn cell(field: &Field, array: &dyn Array, row: usize) -> Result<Option<Value>, String> {
    if array.is_null(row) {
        return Ok(None);
    }
    let tag = field.metadata().get(CAIRN_TYPE).map(String::as_str);
    let float = |f: f64| {
        if f.is_finite() {
            Ok(Value::Float(f))
        } else {
            Err(format!("{f} is not a finite number"))
        }
    };
    Ok(Some(match array.data_type() {
        DataType::Null => return Ok(None),
        DataType::Boolean => Value::Bool(array.as_boolean().value(row)),
        DataType::Int8 => Value::Int(array.as_primitive::<Int8Type>().value(row).into()),
        DataType::Int16 => Value::Int(array.as_primitive::<Int16Type>().value(row).into()),
        DataType::Int32 => Value::Int(array.as_primitive::<Int32Type>().value(row).into()),
        DataType::Int64 => Value::Int(array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => Value::Int(array.as_primitive::<UInt8Type>().value(row).into()),
        DataType::UInt16 => Value::Int(array.as_primitive::<UInt16Type>().value(row).into()),
        DataType::UInt32 => Value::Int(array.as_primitive::<UInt32Type>().value(row).into()),
        DataType::UInt64 => {
            let u = array.as_primitive::<UInt64Type>().value(row);
            i64::try_from(u).map_or(Value::Float(u as f64), Value::Int)
        }
        DataType::Float16 => float(array.as_primitive::<Float16Type>().value(row).to_f64())?,
        DataType::Float32 => float(array.as_primitive::<Float32Type>().value(row).into())?,
        DataType::Float64 => float(array.as_primitive::<Float64Type>().value(row))?,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let text = match array.data_type() {
                DataType::Utf8 => array.as_string::<i32>().value(row),
                DataType::LargeUtf8 => array.as_string::<i64>().value(row),
                _ => array.as_string_view().value(row),
            };
            if tag == Some("json") {
                Value::from_json_str(text).map_err(|e| e.to_string())?
            } else {
                Value::String(text.to_string())
            }
        }
        DataType::Binary => Value::Bytes(array.as_binary::<i32>().value(row).to_vec()),
        DataType::LargeBinary => Value::Bytes(array.as_binary::<i64>().value(row).to_vec()),
        DataType::BinaryView => Value::Bytes(array.as_binary_view().value(row).to_vec()),
        DataType::FixedSizeBinary(16) if tag == Some("uuid") => {
            let bytes = array.as_fixed_size_binary().value(row);
            Value::Uuid(uuid::Uuid::from_slice(bytes).map_err(|e| e.to_string())?)
        }
        DataType::FixedSizeBinary(_) => {
            Value::Bytes(array.as_fixed_size_binary().value(row).to_vec())
        }
        DataType::Timestamp(unit, _) => {
            let micros = match unit {
                TimeUnit::Second => array
                    .as_primitive::<TimestampSecondType>()
                    .value(row)
                    .checked_mul(1_000_000),
                TimeUnit::Millisecond => array
                    .as_primitive::<TimestampMillisecondType>()
                    .value(row)
                    .checked_mul(1_000),
                TimeUnit::Microsecond => {
                    Some(array.as_primitive::<TimestampMicrosecondType>().value(row))
                }
                TimeUnit::Nanosecond => Some(
                    array
                        .as_primitive::<TimestampNanosecondType>()
                        .value(row)
                        .div_euclid(1_000),
                ),
            };
            date(micros)?
        }
        DataType::Date32 => date(
            i64::from(array.as_primitive::<Date32Type>().value(row)).checked_mul(86_400_000_000),
        )?,
        DataType::Date64 => date(
            array
                .as_primitive::<Date64Type>()
                .value(row)
                .checked_mul(1_000),
        )?,
        DataType::Decimal128(precision, scale) => {
            let raw = array.as_primitive::<Decimal128Type>().value(row);
            let text = Decimal128Type::format_decimal(raw, *precision, *scale);
            if *precision <= DECIMAL_DIGITS_AS_FLOAT {
                float(text.parse::<f64>().map_err(|e| e.to_string())?)?
            } else {
                Value::String(text)
            }
        }
        DataType::FixedSizeList(item, _)
            if matches!(item.data_type(), DataType::Float32 | DataType::Float64) =>
        {
            vector(&array.as_fixed_size_list().value(row))?
        }
        DataType::List(item) if tag == Some("vector") && item.data_type() == &DataType::Float32 => {
            vector(&array.as_list::<i32>().value(row))?
        }
        DataType::FixedSizeList(item, _) => {
            list_value(item, &array.as_fixed_size_list().value(row))?
        }
        DataType::List(item) => list_value(item, &array.as_list::<i32>().value(row))?,
        DataType::LargeList(item) => list_value(item, &array.as_list::<i64>().value(row))?,
        DataType::Struct(fields) => {
            let structure = array.as_struct();
            let mut object = Object::new();
            for (child_field, child) in fields.iter().zip(structure.columns()) {
                if let Some(value) = cell(child_field, child.as_ref(), row)? {
                    object.insert(child_field.name().as_str(), value);
                }
            }
            Value::Object(object)
        }
        DataType::Dictionary(_, value_type) => {
            let dictionary = array.as_any_dictionary();
            let index = dictionary.normalized_keys()[row];
            let values_field = Field::new(field.name(), (**value_type).clone(), true)
                .with_metadata(field.metadata().clone());
            return cell(&values_field, dictionary.values().as_ref(), index);
        }
        other => return Err(format!("the Arrow type {other} is not supported")),
    }))
}

/// A vector from a list of `f32` or `f64` components.
fn vector(values: &ArrayRef) -> Result<Value, String> {
    let components: Vec<f32> = match values.data_type() {
        DataType::Float32 => values.as_primitive::<Float32Type>().values().to_vec(),
        _ => values
            .as_primitive::<Float64Type>()
            .values()
            .iter()
            .map(|&f| f as f32)
            .collect(),
    };
    if components.iter().any(|c| !c.is_finite()) {
        return Err("a vector component is not a finite number".to_string());
    }
    Ok(Value::Vector(Vector::from_vec(components)))
}

fn list_value(item: &Field, values: &ArrayRef) -> Result<Value, String> {
    let mut items = Vec::with_capacity(values.len());
    for index in 0..values.len() {
        items.push(cell(item, values.as_ref(), index)?.unwrap_or(Value::Null));
    }
    Ok(Value::Array(items))
}

fn date(micros: Option<i64>) -> Result<Value, String> {
    match micros.map(DateTime::from_micros) {
        Some(date) if date.is_in_document_range() => Ok(Value::DateTime(date)),
        _ => Err("a date outside years 0000..=9999".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(path: &Path) -> Vec<Value> {
        let mut source = ParquetSource::open(path).unwrap();
        let mut docs = Vec::new();
        while let Some(record) = source.next_record().unwrap() {
            docs.push(record.doc.unwrap());
        }
        docs
    }

    #[test]
    fn every_value_type_round_trips_through_a_parquet_file() {
        let db = cairn::open_in_memory().unwrap();
        db.create_collection("c").unwrap();
        let docs = [
            r#"{"_id": 1, "i": 5, "n": 1, "s": "x", "b": true, "d": {"$date": "2024-05-01T10:30:00.123456Z"}, "u": {"$uuid": "0190c3c0-1234-7000-8000-00000000abcd"}, "raw": {"$bytes": "AAEC"}, "v": {"$vector": [0.5, 1.0]}, "o": {"a": 1, "b": {"c": "d"}}, "l": [1, 2, 3], "mix": 1, "vv": {"$vector": [1.0]}}"#,
            r#"{"_id": 2, "n": 2.5, "o": {"a": 2}, "l": [], "mix": "one", "vv": {"$vector": [1.0, 2.0]}, "g": {"$geometry": {"type": "point", "coordinates": [1, 2, 3]}}}"#,
        ];
        for text in docs {
            db.insert("c", Value::from_json_str(text).unwrap()).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.parquet");
        assert_eq!(export(&db, "c", &path).unwrap(), 2);
        let back = read_all(&path);
        // Ints and floats share a Float64 column; missing fields stay missing.
        let expected = docs[0].replace(r#""n": 1,"#, r#""n": 1.0,"#);
        assert_eq!(back[0], Value::from_json_str(&expected).unwrap());
        assert_eq!(back[1], Value::from_json_str(docs[1]).unwrap());
    }

    #[test]
    fn files_from_other_tools_import_with_dictionaries_dates_and_decimals() {
        use arrow_array::{Date32Array, Decimal128Array, DictionaryArray, Int32Array};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.parquet");
        let schema = Arc::new(Schema::new(vec![
            Field::new("day", DataType::Date32, true),
            Field::new("price", DataType::Decimal128(10, 2), true),
            Field::new(
                "kind",
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                true,
            ),
            Field::new("n", DataType::Int32, true),
        ]));
        let kind: DictionaryArray<Int32Type> = vec!["a", "b", "a"].into_iter().collect();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Date32Array::from(vec![Some(1), None, Some(19_000)])),
                Arc::new(
                    Decimal128Array::from(vec![Some(1999), Some(5), None])
                        .with_precision_and_scale(10, 2)
                        .unwrap(),
                ),
                Arc::new(kind),
                Arc::new(Int32Array::from(vec![Some(1), Some(2), None])),
            ],
        )
        .unwrap();
        let mut writer = ArrowWriter::try_new(File::create(&path).unwrap(), schema, None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        let docs = read_all(&path);
        assert_eq!(
            docs[0],
            Value::from_json_str(
                r#"{"day": {"$date": "1970-01-02T00:00:00Z"}, "price": 19.99, "kind": "a", "n": 1}"#
            )
            .unwrap()
        );
        assert_eq!(
            docs[1],
            Value::from_json_str(r#"{"price": 0.05, "kind": "b", "n": 2}"#).unwrap()
        );
        assert_eq!(docs.len(), 3);
    }
}
