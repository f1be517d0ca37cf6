//! Checking a document against a schema, and filling defaults.
//!
//! Pure functions over values: references are only *collected* here (in a [`Probe`]); the
//! write hook looks them up inside the transaction.

use std::cmp::Ordering;

use cairn_doc::{Object, Value};

use crate::definition::{Bounds, FieldDef, FieldType, ObjectDef, Reference, Schema};
use crate::extension::SCHEMA_VERSION_FIELD;

/// Why a value does not fit its definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// Where (`a.b`, `tags[2]`).
    pub path: String,
    /// What is wrong, naming the value.
    pub reason: String,
}

/// What validation found that needs the database to check: reference values.
#[derive(Debug, Default)]
pub struct Probe {
    /// `(path, referenced id value, reference)` for each non-null reference field.
    pub references: Vec<(String, Value, Reference)>,
}

/// Fills the defaults of absent fields, in declared objects that are present.
pub fn fill_defaults(object: &ObjectDef, value: &mut Value) {
    let Some(obj) = value.as_object_mut() else {
        return;
    };
    for (name, def) in &object.fields {
        if def.default.is_none() && !matches!(def.ty, FieldType::Object(_)) {
            continue;
        }
        match obj.get_mut(name) {
            None => {
                if let Some(default) = &def.default {
                    obj.insert(name.clone(), default.produce());
                }
            }
            Some(inner) => {
                if let FieldType::Object(nested) = &def.ty {
                    fill_defaults(nested, inner);
                }
            }
        }
    }
}

/// Where a value sits in a document, built on the stack as validation descends and rendered
/// (`a.b`, `tags[2]`) only for a message, so a valid document costs no path allocations.
#[derive(Debug, Clone, Copy)]
pub enum Loc<'a> {
    /// The document itself.
    Root,
    /// A path rendered already (e.g. a schema position).
    Named(&'a str),
    /// A field of an object.
    Field(&'a Loc<'a>, &'a str),
    /// An element of an array.
    Index(&'a Loc<'a>, usize),
}

impl Loc<'_> {
    /// The path as text.
    pub fn render(&self) -> String {
        match self {
            Loc::Root => String::new(),
            Loc::Named(path) => (*path).to_string(),
            Loc::Field(parent, name) => join(&parent.render(), name),
            Loc::Index(parent, i) => format!("{}[{i}]", parent.render()),
        }
    }
}

/// Checks a whole document (types and constraints; not rules, not references).
pub fn check_document(schema: &Schema, doc: &Value, probe: &mut Probe) -> Result<(), Violation> {
    let Some(obj) = doc.as_object() else {
        return Err(violation(
            &Loc::Root,
            format!("a document is an object, not {}", doc.type_name()),
        ));
    };
    check_object(&schema.root, obj, &Loc::Root, true, probe)
}

fn violation(at: &Loc<'_>, reason: impl Into<String>) -> Violation {
    let path = at.render();
    Violation {
        path: if path.is_empty() { ".".into() } else { path },
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

fn check_object(
    def: &ObjectDef,
    obj: &Object,
    at: &Loc<'_>,
    top: bool,
    probe: &mut Probe,
) -> Result<(), Violation> {
    // Documents usually hold their fields in the declared order: look for each field after
    // the previous one first.
    let mut hint = 0;
    for (name, field) in &def.fields {
        let here = Loc::Field(at, name);
        let found = obj.find_from(name, hint).map(|(i, value)| {
            hint = i + 1;
            value
        });
        match found {
            None | Some(Value::Null) if field.required => {
                return Err(violation(&here, "required field is missing or null"));
            }
            None | Some(Value::Null) => {}
            Some(value) => check_value(field, value, &here, probe)?,
        }
    }
    if !def.additional_fields {
        for key in obj.keys() {
            let reserved = top && (key == "_id" || key == SCHEMA_VERSION_FIELD);
            if !reserved && !def.fields.iter().any(|(name, _)| name == key) {
                return Err(violation(
                    &Loc::Field(at, key),
                    "field is not declared (additional_fields: reject)",
                ));
            }
        }
    }
    Ok(())
}

fn shown(value: &Value) -> String {
    let mut text = value.to_json_string();
    if text.len() > 80 {
        let mut cut = 77;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    text
}

/// Checks one present, non-null value against its field definition.
pub fn check_value(
    def: &FieldDef,
    value: &Value,
    at: &Loc<'_>,
    probe: &mut Probe,
) -> Result<(), Violation> {
    match (&def.ty, value) {
        (FieldType::Json, _)
        | (FieldType::String, Value::String(_))
        | (FieldType::Int, Value::Int(_))
        | (FieldType::Float, Value::Float(_) | Value::Int(_))
        | (FieldType::Bool, Value::Bool(_))
        | (FieldType::DateTime, Value::DateTime(_))
        | (FieldType::Uuid, Value::Uuid(_))
        | (FieldType::Bytes, Value::Bytes(_)) => {}
        (FieldType::Vector(dim), Value::Vector(v)) => {
            if v.dim() != *dim {
                return Err(violation(
                    at,
                    format!("expected vector<{dim}>, found {} dimensions", v.dim()),
                ));
            }
        }
        (FieldType::Geometry(shape), Value::Geometry(geometry)) => {
            if !shape.accepts(geometry) {
                return Err(violation(
                    at,
                    format!(
                        "expected {}, found a {}",
                        shape.name(),
                        geometry.type_name()
                    ),
                ));
            }
            if def.closed {
                if let cairn_doc::Geometry::Mesh(mesh) = geometry.as_ref() {
                    if !cairn_geo::is_closed(mesh) {
                        return Err(violation(
                            at,
                            format!(
                                "the mesh ({} vertices, {} triangles) is not closed: some edge is \
                                 not shared by exactly two triangles in opposite directions",
                                mesh.vertices.len(),
                                mesh.triangles.len()
                            ),
                        ));
                    }
                }
            }
        }
        (FieldType::Array(item), Value::Array(items)) => {
            for (i, element) in items.iter().enumerate() {
                check_element(item, element, &Loc::Index(at, i), probe)?;
            }
        }
        (FieldType::Map(item), Value::Object(obj)) => {
            for (key, element) in obj.iter() {
                check_element(item, element, &Loc::Field(at, key), probe)?;
            }
        }
        (FieldType::Object(object), Value::Object(obj)) => {
            check_object(object, obj, at, false, probe)?
        }
        _ => {
            return Err(violation(
                at,
                format!(
                    "expected {}, found {} {}",
                    def.ty.name(),
                    value.type_name(),
                    shown(value)
                ),
            ))
        }
    }
    check_constraints(def, value, at)?;
    if let Some(reference) = &def.references {
        probe
            .references
            .push((at.render(), value.clone(), reference.clone()));
    }
    Ok(())
}

/// An array element or map value: null only where the element type is `json`.
fn check_element(
    item: &FieldDef,
    element: &Value,
    at: &Loc<'_>,
    probe: &mut Probe,
) -> Result<(), Violation> {
    if element.is_null() && !matches!(item.ty, FieldType::Json) {
        return Err(violation(
            at,
            format!("expected {}, found null", item.ty.name()),
        ));
    }
    check_value(item, element, at, probe)
}

fn check_constraints(def: &FieldDef, value: &Value, at: &Loc<'_>) -> Result<(), Violation> {
    if def.range.min.is_some() || def.range.max.is_some() {
        check_bounds(&def.range, value, at, "")?;
    }
    if def.length.min.is_some() || def.length.max.is_some() {
        let length = match value {
            Value::String(s) => s.chars().count(),
            Value::Bytes(b) => b.len(),
            Value::Array(items) => items.len(),
            Value::Object(obj) => obj.len(),
            _ => 0,
        };
        check_bounds(&def.length, &Value::Int(length as i64), at, "length ")?;
    }
    if let (Some(pattern), Value::String(s)) = (&def.pattern, value) {
        if !pattern.regex.is_match(s) {
            return Err(violation(
                at,
                format!(
                    "{} does not match pattern `{}`",
                    shown(value),
                    pattern.source
                ),
            ));
        }
    }
    if let Some(allowed) = &def.allowed {
        if !allowed.contains(value) {
            let list: Vec<String> = allowed.values().iter().map(shown).collect();
            return Err(violation(
                at,
                format!("{} is not one of [{}]", shown(value), list.join(", ")),
            ));
        }
    }
    Ok(())
}

/// Numeric comparison, exact for two ints.
pub(crate) fn compare_numbers(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

fn check_bounds(bounds: &Bounds, value: &Value, at: &Loc<'_>, what: &str) -> Result<(), Violation> {
    if let Some(min) = &bounds.min {
        if compare_numbers(value, min) == Some(Ordering::Less) {
            return Err(violation(
                at,
                format!("{what}{} is below the minimum {}", shown(value), shown(min)),
            ));
        }
    }
    if let Some(max) = &bounds.max {
        if compare_numbers(value, max) == Some(Ordering::Greater) {
            return Err(violation(
                at,
                format!("{what}{} is above the maximum {}", shown(value), shown(max)),
            ));
        }
    }
    Ok(())
}
