//! How a collection looks as a table: its columns, their Cairn types and their Arrow types.
//!
//! Columns come from the collection's declared schema when it has one (`cairn-schema`),
//! else from its inferred schema (`cairn-infer`, kept exactly from the change log); `_id` is
//! always the first column. The mapping, chosen so that every value keeps its meaning:
//!
//! | Cairn type | SQL / Arrow type |
//! |---|---|
//! | `_id` (int, string or uuid) | `text` (the id's canonical text: decimal, as is, hyphenated) |
//! | `int` / `float` / `bool` / `string` | `bigint` / `double` / `boolean` / `text` |
//! | `datetime` | `timestamp with time zone` (microseconds, UTC) |
//! | `uuid` | `text` (hyphenated, lowercase) |
//! | `bytes` | `bytea` |
//! | `object` with known fields | a struct (`col['field']` or `col.field`) |
//! | `json`, `map<T>`, an object without known fields | `text` holding JSON |
//! | `array<T>` | a list of T |
//! | `vector<N>` | a fixed-size list of N `real`s |
//! | a geometry shape | `text` holding WKT (`POINT Z (1 2 3)`) |
//!
//! A stored value that does not fit its column's type (possible only without a declared
//! schema: inference describes the collection as it was when last read) reads as NULL.

use std::sync::Arc;

use cairn::schema::{FieldDef, FieldType, ObjectDef};
use cairn::Value;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

/// The name of the key column.
pub const ID_COLUMN: &str = "_id";

/// A column's Cairn-side type: what a stored value must be to read as non-NULL.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnType {
    /// The document id.
    Id,
    /// 64-bit integer.
    Int,
    /// Number (integers read as floats).
    Float,
    /// Boolean.
    Bool,
    /// UTF-8 text.
    Text,
    /// UUID, as text.
    Uuid,
    /// Instant, microseconds UTC.
    DateTime,
    /// Raw bytes.
    Bytes,
    /// Any value, as JSON text.
    Json,
    /// A geometry, as WKT text.
    Geometry,
    /// An `f32` vector of this many dimensions.
    Vector(usize),
    /// A list of elements of one type.
    List(Box<ColumnType>),
    /// An object with known fields.
    Struct(Vec<Column>),
}

/// One column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Its name (the top-level field name).
    pub name: String,
    /// Its type.
    pub ty: ColumnType,
    /// Declared `required` (never NULL).
    pub required: bool,
}

/// A collection as a table.
#[derive(Debug, Clone)]
pub struct TableShape {
    /// The columns, `_id` first.
    pub columns: Vec<Column>,
    /// Whether the columns come from a declared schema, which Cairn enforces on every write:
    /// only then does every stored value fit its column, so that Cairn's filter semantics
    /// equal SQL's and a pushed-down filter can be answered `Exact`.
    pub declared: bool,
}

impl TableShape {
    /// The shape of a collection with a declared schema.
    pub fn from_declared(root: &ObjectDef) -> TableShape {
        let mut columns = vec![id_column()];
        columns.extend(
            root.fields
                .iter()
                .filter(|(name, _)| name != ID_COLUMN)
                .map(|(name, def)| Column {
                    name: name.clone(),
                    ty: declared_type(def),
                    required: def.required,
                }),
        );
        TableShape {
            columns,
            declared: true,
        }
    }

    /// The shape of a schemaless collection from its emitted inferred schema
    /// (`cairn::infer::emit_schema`: `{"fields": {NAME: {"type": T, "required"?, "fields"?}}}`).
    pub fn from_inferred(emitted: &Value) -> TableShape {
        let mut columns = vec![id_column()];
        if let Some(fields) = emitted.as_object().and_then(|o| o.get("fields")) {
            columns.extend(inferred_columns(fields));
        }
        TableShape {
            columns,
            declared: false,
        }
    }

    /// The Arrow schema of the table.
    pub fn arrow_schema(&self) -> SchemaRef {
        let fields: Vec<Field> = self.columns.iter().map(Column::arrow_field).collect();
        Arc::new(Schema::new(fields))
    }

    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

impl Column {
    /// The column as an Arrow field. Every field is nullable, `_id` and required ones too:
    /// an `INSERT` without an `_id` gives NULL, which means "generate one", and a missing
    /// required value is for the collection's schema to refuse (with its own message and
    /// `23514`), not for DataFusion's batch checks.
    pub fn arrow_field(&self) -> Field {
        Field::new(&self.name, self.ty.arrow_type(), true)
    }
}

impl ColumnType {
    /// The Arrow type values of this column are read as.
    pub fn arrow_type(&self) -> DataType {
        match self {
            ColumnType::Id
            | ColumnType::Text
            | ColumnType::Uuid
            | ColumnType::Json
            | ColumnType::Geometry => DataType::Utf8,
            ColumnType::Int => DataType::Int64,
            ColumnType::Float => DataType::Float64,
            ColumnType::Bool => DataType::Boolean,
            ColumnType::DateTime => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            ColumnType::Bytes => DataType::Binary,
            ColumnType::Vector(n) => DataType::FixedSizeList(
                Arc::new(Field::new("item", DataType::Float32, true)),
                i32::try_from(*n).unwrap_or(i32::MAX),
            ),
            ColumnType::List(inner) => {
                DataType::List(Arc::new(Field::new("item", inner.arrow_type(), true)))
            }
            ColumnType::Struct(columns) => DataType::Struct(Fields::from(
                columns.iter().map(Column::arrow_field).collect::<Vec<_>>(),
            )),
        }
    }

    /// The column type a value of Arrow type `ty` is stored as when a query's rows become
    /// documents (`CREATE TABLE … AS SELECT`); `None` for types Cairn has no value for.
    pub fn from_arrow(ty: &DataType) -> Option<ColumnType> {
        Some(match ty {
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64 => ColumnType::Int,
            DataType::Float16
            | DataType::Float32
            | DataType::Float64
            | DataType::Decimal128(..)
            | DataType::Decimal256(..) => ColumnType::Float,
            DataType::Boolean => ColumnType::Bool,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ColumnType::Text,
            DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => ColumnType::DateTime,
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => ColumnType::Bytes,
            DataType::FixedSizeList(field, n) if field.data_type() == &DataType::Float32 => {
                ColumnType::Vector(usize::try_from(*n).ok()?)
            }
            DataType::List(field)
            | DataType::LargeList(field)
            | DataType::FixedSizeList(field, _) => {
                ColumnType::List(Box::new(ColumnType::from_arrow(field.data_type())?))
            }
            DataType::Struct(fields) => ColumnType::Struct(
                fields
                    .iter()
                    .map(|f| {
                        Some(Column {
                            name: f.name().clone(),
                            ty: ColumnType::from_arrow(f.data_type())?,
                            required: false,
                        })
                    })
                    .collect::<Option<Vec<_>>>()?,
            ),
            _ => return None,
        })
    }

    /// Whether a value of this column compares in SQL exactly as Cairn's filters compare it
    /// (a scalar whose type bracket is one SQL type), so filters on it can be pushed down.
    pub fn is_comparable_scalar(&self) -> bool {
        matches!(
            self,
            ColumnType::Int
                | ColumnType::Float
                | ColumnType::Bool
                | ColumnType::Text
                | ColumnType::DateTime
        )
    }
}

fn id_column() -> Column {
    Column {
        name: ID_COLUMN.to_string(),
        ty: ColumnType::Id,
        required: true,
    }
}

fn declared_type(def: &FieldDef) -> ColumnType {
    match &def.ty {
        FieldType::String => ColumnType::Text,
        FieldType::Int => ColumnType::Int,
        FieldType::Float => ColumnType::Float,
        FieldType::Bool => ColumnType::Bool,
        FieldType::DateTime => ColumnType::DateTime,
        FieldType::Uuid => ColumnType::Uuid,
        FieldType::Bytes => ColumnType::Bytes,
        FieldType::Array(element) => ColumnType::List(Box::new(declared_type(element))),
        FieldType::Object(object) if !object.fields.is_empty() => ColumnType::Struct(
            object
                .fields
                .iter()
                .map(|(name, def)| Column {
                    name: name.clone(),
                    ty: declared_type(def),
                    required: def.required,
                })
                .collect(),
        ),
        FieldType::Vector(n) => ColumnType::Vector(*n),
        FieldType::Geometry(_) => ColumnType::Geometry,
        // Objects without declared fields, maps and `json`: JSON text.
        _ => ColumnType::Json,
    }
}

fn inferred_columns(fields: &Value) -> Vec<Column> {
    let Some(fields) = fields.as_object() else {
        return Vec::new();
    };
    fields
        .iter()
        .map(|(name, spec)| {
            let spec = spec.as_object();
            let type_name = spec
                .and_then(|s| s.get("type"))
                .and_then(Value::as_str)
                .unwrap_or("json");
            let nested = spec.and_then(|s| s.get("fields"));
            Column {
                name: name.to_string(),
                ty: inferred_type(type_name, nested),
                required: false,
            }
        })
        .collect()
}

/// A type string of the inferred-schema vocabulary (`int`, `array<array<string>>`,
/// `vector<3>`, `object` with `fields`...).
fn inferred_type(name: &str, fields: Option<&Value>) -> ColumnType {
    if let Some(inner) = name
        .strip_prefix("array<")
        .and_then(|r| r.strip_suffix('>'))
    {
        return ColumnType::List(Box::new(inferred_type(inner, fields)));
    }
    if let Some(n) = name
        .strip_prefix("vector<")
        .and_then(|r| r.strip_suffix('>'))
    {
        return n.parse().map_or(ColumnType::Json, ColumnType::Vector);
    }
    match name {
        "int" => ColumnType::Int,
        "float" => ColumnType::Float,
        "bool" => ColumnType::Bool,
        "string" => ColumnType::Text,
        "datetime" => ColumnType::DateTime,
        "uuid" => ColumnType::Uuid,
        "bytes" => ColumnType::Bytes,
        "geometry" | "point" | "segment" | "triangle" | "mesh" | "box" | "sphere" => {
            ColumnType::Geometry
        }
        "object" => match fields.map(inferred_columns) {
            Some(columns) if !columns.is_empty() => ColumnType::Struct(columns),
            _ => ColumnType::Json,
        },
        _ => ColumnType::Json,
    }
}
