//! The schema document and its parsed form.
//!
//! A schema is a JSON or YAML document (the same shape in the Rust API, as a `Value`):
//!
//! ```yaml
//! additional_fields: reject          # allow (default) | reject, per object
//! fields:
//!   name:   {type: string, required: true, length: {min: 1, max: 80}, pattern: "^[A-Z]"}
//!   email:  {type: string, unique: true}
//!   age:    {type: int, min: 0, max: 150}
//!   kind:   {type: string, enum: [star, planet], default: star}
//!   at:     {type: datetime, default: "now()"}
//!   key:    {type: uuid, default: "uuid()"}
//!   owner:  {type: string, references: {collection: users, on_delete: restrict}}
//!   tags:   "array<string>"              # shorthand: just the type
//!   steps:  {type: array, items: {type: object, fields: {kind: string}}, length: {min: 1}}
//!   scores: "map<float>"
//!   embedding: "vector<3>"
//!   site:   point                        # a geometry of that shape
//!   hull:   {type: mesh, closed: true}   # a watertight triangle mesh
//!   shape:  geometry                     # any shape
//!   extra:  json                         # anything
//! rules:
//!   balanced: "energy_out <= energy_in"
//! ```
//!
//! Types: `string int float bool datetime uuid bytes json object array<T> map<T> vector<N>`
//! (`array`/`map` with `items`/`values` for element definitions; `float` accepts integers),
//! and the geometry types `point segment triangle mesh box sphere` (one shape of
//! [`cairn_doc::Geometry`]) and `geometry` (any shape).
//! Per field: `required` (present and not null), `unique` (a unique index), `default` (a
//! literal, `now()` or `uuid()`, filled when the field is absent), `min`/`max` (numbers),
//! `length: {min, max}` (characters of a string, bytes, array elements, map entries),
//! `pattern` (a regular expression a string must match somewhere; anchor it with `^…$`),
//! `enum` (allowed values), `references` (another collection's `_id`; `on_delete: restrict |
//! cascade | set_null`), `closed: true` (a `mesh` must be closed — watertight, every edge
//! shared by exactly two triangles in opposite directions, as [`cairn_geo::is_closed`] checks).
//! A field that is not required may be absent or null.
//!
//! The parser's `parse_type` is the one place that names types.

use cairn_doc::{DateTime, Value};
use regex::Regex;

use crate::error::{Result, SchemaError};
use crate::expr::Expr;
use crate::extension::SCHEMA_VERSION_FIELD;
use crate::limits::{
    MAX_ENUM_VALUES, MAX_FIELDS_PER_OBJECT, MAX_PATTERN_BYTES, MAX_PATTERN_COMPILED_BYTES,
    MAX_RULES, MAX_SCHEMA_DEPTH,
};

/// A parsed schema.
#[derive(Debug, Clone)]
pub struct Schema {
    /// The document's top-level object.
    pub root: ObjectDef,
    /// Named validation rules, checked on every write after types and constraints.
    pub rules: Vec<Rule>,
}

/// The fields of an object and whether others are allowed.
#[derive(Debug, Clone, Default)]
pub struct ObjectDef {
    /// Declared fields, in declaration order.
    pub fields: Vec<(String, FieldDef)>,
    /// Whether undeclared fields are accepted (`additional_fields: allow`, the default).
    pub additional_fields: bool,
}

/// A field's type.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum FieldType {
    /// UTF-8 text.
    String,
    /// 64-bit integer.
    Int,
    /// Number (integers accepted).
    Float,
    /// Boolean.
    Bool,
    /// Instant.
    DateTime,
    /// UUID.
    Uuid,
    /// Raw bytes.
    Bytes,
    /// Any value.
    Json,
    /// A list whose elements match the definition.
    Array(Box<FieldDef>),
    /// An object with declared fields.
    Object(ObjectDef),
    /// An object used as a map: any keys, values matching the definition.
    Map(Box<FieldDef>),
    /// An `f32` vector of exactly this many dimensions.
    Vector(usize),
    /// A geometry value of this shape.
    Geometry(Shape),
}

/// Which geometries a geometry field accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Any shape (`geometry`).
    Any,
    /// A point.
    Point,
    /// A segment.
    Segment,
    /// A triangle.
    Triangle,
    /// A triangle mesh.
    Mesh,
    /// An axis-aligned box.
    Box,
    /// A sphere.
    Sphere,
}

impl Shape {
    /// Every shape, by its name in schemas.
    pub const ALL: [Shape; 7] = [
        Shape::Any,
        Shape::Point,
        Shape::Segment,
        Shape::Triangle,
        Shape::Mesh,
        Shape::Box,
        Shape::Sphere,
    ];

    /// The name written in schemas; for a single shape also the geometry's own
    /// [`cairn_doc::Geometry::type_name`].
    pub fn name(self) -> &'static str {
        match self {
            Shape::Any => "geometry",
            Shape::Point => "point",
            Shape::Segment => "segment",
            Shape::Triangle => "triangle",
            Shape::Mesh => "mesh",
            Shape::Box => "box",
            Shape::Sphere => "sphere",
        }
    }

    /// The shape of this schema name, if it is one.
    pub fn from_name(name: &str) -> Option<Shape> {
        Shape::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether `geometry` is of this shape.
    pub fn accepts(self, geometry: &cairn_doc::Geometry) -> bool {
        self == Shape::Any || self.name() == geometry.type_name()
    }
}

impl FieldType {
    /// The type's name as written in schemas (`array<int>`, `vector<3>`).
    pub fn name(&self) -> String {
        match self {
            FieldType::String => "string".into(),
            FieldType::Int => "int".into(),
            FieldType::Float => "float".into(),
            FieldType::Bool => "bool".into(),
            FieldType::DateTime => "datetime".into(),
            FieldType::Uuid => "uuid".into(),
            FieldType::Bytes => "bytes".into(),
            FieldType::Json => "json".into(),
            FieldType::Array(item) => format!("array<{}>", item.ty.name()),
            FieldType::Object(_) => "object".into(),
            FieldType::Map(value) => format!("map<{}>", value.ty.name()),
            FieldType::Vector(dim) => format!("vector<{dim}>"),
            FieldType::Geometry(shape) => shape.name().into(),
        }
    }
}

/// What a field's default is.
#[derive(Debug, Clone, PartialEq)]
pub enum DefaultValue {
    /// This value.
    Literal(Value),
    /// The write's time (`now()`).
    Now,
    /// A fresh time-ordered UUID (`uuid()`).
    Uuid,
}

impl DefaultValue {
    /// The value to fill in now.
    pub fn produce(&self) -> Value {
        match self {
            DefaultValue::Literal(value) => value.clone(),
            DefaultValue::Now => Value::DateTime(DateTime::now()),
            DefaultValue::Uuid => Value::Uuid(uuid::Uuid::now_v7()),
        }
    }
}

/// What deleting a referenced document does to the documents referencing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDelete {
    /// The delete fails while references exist.
    Restrict,
    /// Referencing documents are deleted too.
    Cascade,
    /// The referencing field is set to null.
    SetNull,
}

impl OnDelete {
    /// The rule's name in schemas.
    pub fn name(self) -> &'static str {
        match self {
            OnDelete::Restrict => "restrict",
            OnDelete::Cascade => "cascade",
            OnDelete::SetNull => "set_null",
        }
    }
}

/// A field holding the `_id` of a document in another collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// The referenced collection.
    pub collection: String,
    /// What deleting a referenced document does.
    pub on_delete: OnDelete,
}

/// Numeric or length bounds (inclusive).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bounds {
    /// Lower bound.
    pub min: Option<Value>,
    /// Upper bound.
    pub max: Option<Value>,
}

/// One field's definition.
#[derive(Debug, Clone)]
pub struct FieldDef {
    /// Its type.
    pub ty: FieldType,
    /// Must be present and not null.
    pub required: bool,
    /// No two documents share a (non-null) value; kept by a unique index.
    pub unique: bool,
    /// Filled when absent.
    pub default: Option<DefaultValue>,
    /// `min`/`max` for numbers.
    pub range: Bounds,
    /// `length` for strings (characters), bytes, arrays and maps.
    pub length: Bounds,
    /// A regular expression strings must match.
    pub pattern: Option<Pattern>,
    /// Allowed values.
    pub allowed: Option<Allowed>,
    /// A reference to another collection's documents.
    pub references: Option<Reference>,
    /// `closed: true`: a mesh must be closed (watertight).
    pub closed: bool,
}

/// An `enum` constraint: the values as written, and their strings sorted for a binary search
/// (string enums are the common case and are checked on every write).
#[derive(Debug, Clone, PartialEq)]
pub struct Allowed {
    values: Vec<Value>,
    strings: Vec<String>,
}

impl Allowed {
    /// Builds the constraint from its values.
    pub fn new(values: Vec<Value>) -> Allowed {
        let mut strings: Vec<String> = values
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        strings.sort_unstable();
        Allowed { values, strings }
    }

    /// The values as written.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// Whether `value` is one of them (numbers compare by value).
    pub fn contains(&self, value: &Value) -> bool {
        match value {
            Value::String(s) => self.strings.binary_search(s).is_ok(),
            other => self
                .values
                .iter()
                .any(|a| cairn_doc::values_equal(a, other)),
        }
    }
}

/// A compiled `pattern` with its source.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// As written.
    pub source: String,
    /// Compiled.
    pub regex: Regex,
}

/// A named validation rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Its name (reported when it fails).
    pub name: String,
    /// The parsed expression.
    pub expr: Expr,
}

fn invalid(at: &str, reason: impl Into<String>) -> SchemaError {
    SchemaError::InvalidSchema {
        at: if at.is_empty() { ".".into() } else { at.into() },
        reason: reason.into(),
    }
}

fn join(at: &str, name: &str) -> String {
    if at.is_empty() {
        name.to_string()
    } else {
        format!("{at}.{name}")
    }
}

impl Schema {
    /// Parses and validates a schema document.
    pub fn from_value(value: &Value) -> Result<Schema> {
        let obj = value
            .as_object()
            .ok_or_else(|| invalid("", "a schema is an object with `fields`"))?;
        for (key, _) in obj.iter() {
            if !matches!(key, "fields" | "additional_fields" | "rules") {
                return Err(invalid(
                    key,
                    "unknown schema key (expected fields, additional_fields, rules)",
                ));
            }
        }
        let root = parse_object(value, "", 0)?;
        let mut rules = Vec::new();
        if let Some(value) = obj.get("rules") {
            let list = value
                .as_object()
                .ok_or_else(|| invalid("rules", "an object of name: expression"))?;
            if list.len() > MAX_RULES {
                return Err(invalid(
                    "rules",
                    format!("{} rules; the limit is {MAX_RULES}", list.len()),
                ));
            }
            for (name, source) in list.iter() {
                let at = format!("rules.{name}");
                let source = source
                    .as_str()
                    .ok_or_else(|| invalid(&at, "a rule is an expression string"))?;
                rules.push(Rule {
                    name: name.to_string(),
                    expr: Expr::parse(source)?,
                });
            }
        }
        Ok(Schema { root, rules })
    }

    /// Every declared field with its dotted path (objects nested through `object` types only),
    /// in declaration order.
    pub fn field_paths(&self) -> Vec<(String, &FieldDef)> {
        let mut out = Vec::new();
        collect_paths(&self.root, "", &mut out);
        out
    }
}

impl Schema {
    /// Every reference the schema declares, wherever it sits: in top-level fields, nested
    /// objects, and the items and values of arrays and maps at any depth, in declaration
    /// order. Authorization must see all of them ([`Schema::field_paths`] stops at arrays and
    /// maps): a migration dry run checks references inside arrays too, and would otherwise tell
    /// a caller which ids exist in a collection it cannot read.
    pub fn references(&self) -> Vec<&Reference> {
        let mut out = Vec::new();
        for (_, def) in &self.root.fields {
            collect_references(def, &mut out);
        }
        out
    }
}

fn collect_references<'a>(def: &'a FieldDef, out: &mut Vec<&'a Reference>) {
    if let Some(reference) = &def.references {
        out.push(reference);
    }
    match &def.ty {
        FieldType::Object(object) => {
            for (_, inner) in &object.fields {
                collect_references(inner, out);
            }
        }
        FieldType::Array(item) | FieldType::Map(item) => collect_references(item, out),
        _ => {}
    }
}

fn collect_paths<'a>(object: &'a ObjectDef, at: &str, out: &mut Vec<(String, &'a FieldDef)>) {
    for (name, def) in &object.fields {
        let path = join(at, name);
        out.push((path.clone(), def));
        if let FieldType::Object(inner) = &def.ty {
            collect_paths(inner, &path, out);
        }
    }
}

/// Parses an object definition (`fields`, `additional_fields`) found at `at`.
fn parse_object(value: &Value, at: &str, depth: usize) -> Result<ObjectDef> {
    if depth > MAX_SCHEMA_DEPTH {
        return Err(invalid(
            at,
            format!("nested deeper than {MAX_SCHEMA_DEPTH} levels"),
        ));
    }
    let obj = value
        .as_object()
        .ok_or_else(|| invalid(at, "expected an object"))?;
    let additional_fields = match obj.get("additional_fields") {
        None => true,
        Some(Value::String(s)) if s == "allow" => true,
        Some(Value::String(s)) if s == "reject" => false,
        Some(_) => return Err(invalid(at, "`additional_fields` is `allow` or `reject`")),
    };
    let mut fields = Vec::new();
    if let Some(list) = obj.get("fields") {
        let list = list
            .as_object()
            .ok_or_else(|| invalid(at, "`fields` is an object of name: definition"))?;
        if list.len() > MAX_FIELDS_PER_OBJECT {
            return Err(invalid(
                at,
                format!(
                    "{} fields; the limit is {MAX_FIELDS_PER_OBJECT}",
                    list.len()
                ),
            ));
        }
        for (name, def) in list.iter() {
            let path = join(at, name);
            if name.is_empty() || name.contains('.') || name.starts_with('$') {
                return Err(invalid(
                    &path,
                    "field names are non-empty, without `.` and not starting with `$`",
                ));
            }
            if depth == 0 && name == SCHEMA_VERSION_FIELD {
                return Err(invalid(
                    &path,
                    "reserved: the schema version documents were written under",
                ));
            }
            fields.push((name.to_string(), parse_field(def, &path, depth + 1)?));
        }
    }
    Ok(ObjectDef {
        fields,
        additional_fields,
    })
}

const FIELD_KEYS: &[&str] = &[
    "type",
    "required",
    "unique",
    "default",
    "min",
    "max",
    "length",
    "pattern",
    "enum",
    "items",
    "values",
    "fields",
    "additional_fields",
    "references",
    "closed",
];

/// Parses one field definition (a type string, or an object).
fn parse_field(value: &Value, at: &str, depth: usize) -> Result<FieldDef> {
    if depth > MAX_SCHEMA_DEPTH {
        return Err(invalid(
            at,
            format!("nested deeper than {MAX_SCHEMA_DEPTH} levels"),
        ));
    }
    if let Value::String(ty) = value {
        return Ok(plain(parse_type(ty, None, at, depth)?));
    }
    let obj = value
        .as_object()
        .ok_or_else(|| invalid(at, "a field is a type name or an object with `type`"))?;
    for (key, _) in obj.iter() {
        if !FIELD_KEYS.contains(&key) {
            return Err(invalid(
                at,
                format!(
                    "unknown key `{key}` (expected one of {})",
                    FIELD_KEYS.join(", ")
                ),
            ));
        }
    }
    let ty = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(at, "`type` (a string) is required"))?;
    let mut def = plain(parse_type(ty, Some(value), at, depth)?);
    def.required = flag(obj.get("required"), at, "required")?;
    def.unique = flag(obj.get("unique"), at, "unique")?;
    def.closed = flag(obj.get("closed"), at, "closed")?;
    if def.closed && !matches!(def.ty, FieldType::Geometry(Shape::Mesh)) {
        return Err(invalid(at, "`closed` applies to mesh fields"));
    }
    parse_sizes(obj, &mut def, at)?;
    parse_value_constraints(obj, &mut def, at)?;
    if let Some(reference) = obj.get("references") {
        parse_reference_field(reference, &mut def, at)?;
    }
    if let Some(default) = obj.get("default") {
        def.default = Some(parse_default(default, &def, at)?);
    }
    Ok(def)
}

/// `min`/`max` and `length`, checked against the type.
fn parse_sizes(obj: &cairn_doc::Object, def: &mut FieldDef, at: &str) -> Result<()> {
    def.range = Bounds {
        min: number(obj.get("min"), at, "min")?,
        max: number(obj.get("max"), at, "max")?,
    };
    if (def.range.min.is_some() || def.range.max.is_some())
        && !matches!(def.ty, FieldType::Int | FieldType::Float)
    {
        return Err(invalid(
            at,
            "`min`/`max` apply to int and float fields (use `length` for sizes)",
        ));
    }
    if let Some(length) = obj.get("length") {
        let length = length
            .as_object()
            .ok_or_else(|| invalid(at, "`length` is {min, max}"))?;
        def.length = Bounds {
            min: count(length.get("min"), at, "length.min")?,
            max: count(length.get("max"), at, "length.max")?,
        };
        if !matches!(
            def.ty,
            FieldType::String | FieldType::Bytes | FieldType::Array(_) | FieldType::Map(_)
        ) {
            return Err(invalid(
                at,
                "`length` applies to string, bytes, array and map fields",
            ));
        }
    }
    Ok(())
}

/// `pattern` and `enum`.
fn parse_value_constraints(obj: &cairn_doc::Object, def: &mut FieldDef, at: &str) -> Result<()> {
    if let Some(pattern) = obj.get("pattern") {
        let source = pattern
            .as_str()
            .ok_or_else(|| invalid(at, "`pattern` is a string"))?;
        if !matches!(def.ty, FieldType::String) {
            return Err(invalid(at, "`pattern` applies to string fields"));
        }
        if source.len() > MAX_PATTERN_BYTES {
            return Err(invalid(
                at,
                format!(
                    "pattern is {} bytes; the limit is {MAX_PATTERN_BYTES}",
                    source.len()
                ),
            ));
        }
        let regex = regex::RegexBuilder::new(source)
            .size_limit(MAX_PATTERN_COMPILED_BYTES)
            .build()
            .map_err(|err| invalid(at, format!("bad pattern: {err}")))?;
        def.pattern = Some(Pattern {
            source: source.to_string(),
            regex,
        });
    }
    if let Some(list) = obj.get("enum") {
        let list = list
            .as_array()
            .ok_or_else(|| invalid(at, "`enum` is a list of values"))?;
        if list.is_empty() || list.len() > MAX_ENUM_VALUES {
            return Err(invalid(
                at,
                format!("`enum` needs 1 to {MAX_ENUM_VALUES} values"),
            ));
        }
        def.allowed = Some(Allowed::new(list.clone()));
    }
    Ok(())
}

/// `references`, checked against the type and `required`.
fn parse_reference_field(reference: &Value, def: &mut FieldDef, at: &str) -> Result<()> {
    def.references = Some(parse_reference(reference, at)?);
    if !matches!(def.ty, FieldType::String | FieldType::Int | FieldType::Uuid) {
        return Err(invalid(
            at,
            "a reference field holds an `_id`: type string, int or uuid",
        ));
    }
    if def.references.as_ref().map(|r| r.on_delete) == Some(OnDelete::SetNull) && def.required {
        return Err(invalid(
            at,
            "`on_delete: set_null` needs a field that is not required",
        ));
    }
    Ok(())
}

/// `default`: a literal (which must fit the field), `now()` or `uuid()`.
fn parse_default(default: &Value, def: &FieldDef, at: &str) -> Result<DefaultValue> {
    let default = match default {
        Value::String(s) if s == "now()" => DefaultValue::Now,
        Value::String(s) if s == "uuid()" => DefaultValue::Uuid,
        other => DefaultValue::Literal(other.clone()),
    };
    let sample = default.produce();
    let mut probe = crate::validate::Probe::default();
    crate::validate::check_value(def, &sample, &crate::validate::Loc::Named(at), &mut probe)
        .map_err(|violation| {
            invalid(
                at,
                format!("the default does not fit the field: {}", violation.reason),
            )
        })?;
    Ok(default)
}

fn plain(ty: FieldType) -> FieldDef {
    FieldDef {
        ty,
        required: false,
        unique: false,
        default: None,
        range: Bounds::default(),
        length: Bounds::default(),
        pattern: None,
        allowed: None,
        references: None,
        closed: false,
    }
}

/// Parses a type name; `def` is the field's object, for `items`, `values` and `fields`.
fn parse_type(name: &str, def: Option<&Value>, at: &str, depth: usize) -> Result<FieldType> {
    let part = |key: &str| def.and_then(|d| d.as_object()).and_then(|o| o.get(key));
    let generic = |prefix: &str| {
        name.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix('>'))
    };
    Ok(match name {
        "string" => FieldType::String,
        "int" => FieldType::Int,
        "float" => FieldType::Float,
        "bool" => FieldType::Bool,
        "datetime" => FieldType::DateTime,
        "uuid" => FieldType::Uuid,
        "bytes" => FieldType::Bytes,
        "json" => FieldType::Json,
        "object" => FieldType::Object(match def {
            Some(def) => parse_object(def, at, depth)?,
            None => ObjectDef {
                fields: Vec::new(),
                additional_fields: true,
            },
        }),
        "array" | "map" => {
            let key = if name == "array" { "items" } else { "values" };
            let inner = part(key).ok_or_else(|| {
                invalid(at, format!("`{name}` needs `{key}` (or write `{name}<T>`)"))
            })?;
            let inner = Box::new(parse_field(inner, &format!("{at}[]"), depth + 1)?);
            if name == "array" {
                FieldType::Array(inner)
            } else {
                FieldType::Map(inner)
            }
        }
        _ => {
            if let Some(shape) = Shape::from_name(name) {
                FieldType::Geometry(shape)
            } else if let Some(inner) = generic("array<") {
                FieldType::Array(Box::new(plain(parse_type(
                    inner,
                    None,
                    &format!("{at}[]"),
                    depth + 1,
                )?)))
            } else if let Some(inner) = generic("map<") {
                FieldType::Map(Box::new(plain(parse_type(
                    inner,
                    None,
                    &format!("{at}[]"),
                    depth + 1,
                )?)))
            } else if let Some(dim) = generic("vector<") {
                let dim: usize = dim.trim().parse().map_err(|_| {
                    invalid(at, format!("`{name}`: the dimension is a positive integer"))
                })?;
                if dim == 0 || dim > cairn_doc::limits::MAX_VECTOR_DIM {
                    return Err(invalid(
                        at,
                        format!(
                            "vector dimension {dim} is outside 1..={}",
                            cairn_doc::limits::MAX_VECTOR_DIM
                        ),
                    ));
                }
                FieldType::Vector(dim)
            } else {
                return Err(invalid(at, format!("unknown type `{name}` (string, int, float, bool, datetime, uuid, bytes, json, object, array<T>, map<T>, vector<N>, point, segment, triangle, mesh, box, sphere, geometry)")));
            }
        }
    })
}

fn parse_reference(value: &Value, at: &str) -> Result<Reference> {
    let obj = value
        .as_object()
        .ok_or_else(|| invalid(at, "`references` is {collection, on_delete}"))?;
    let collection = obj
        .get("collection")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(at, "`references.collection` is required"))?;
    let on_delete = match obj.get("on_delete").and_then(Value::as_str) {
        None | Some("restrict") => OnDelete::Restrict,
        Some("cascade") => OnDelete::Cascade,
        Some("set_null") => OnDelete::SetNull,
        Some(other) => {
            return Err(invalid(
                at,
                format!("`on_delete: {other}`: expected restrict, cascade or set_null"),
            ))
        }
    };
    Ok(Reference {
        collection: collection.to_string(),
        on_delete,
    })
}

fn flag(value: Option<&Value>, at: &str, key: &str) -> Result<bool> {
    match value {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(invalid(at, format!("`{key}` is true or false"))),
    }
}

fn number(value: Option<&Value>, at: &str, key: &str) -> Result<Option<Value>> {
    match value {
        None => Ok(None),
        Some(v @ (Value::Int(_) | Value::Float(_))) => Ok(Some(v.clone())),
        Some(_) => Err(invalid(at, format!("`{key}` is a number"))),
    }
}

fn count(value: Option<&Value>, at: &str, key: &str) -> Result<Option<Value>> {
    match value {
        None => Ok(None),
        Some(Value::Int(n)) if *n >= 0 => Ok(Some(Value::Int(*n))),
        Some(_) => Err(invalid(at, format!("`{key}` is a non-negative integer"))),
    }
}
