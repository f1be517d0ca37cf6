//! Applying a [`Patch`] to a document.
//!
//! Each operation first resolves its path to a [`Slot`] (the object field or array element it
//! names, which may not exist yet), then acts on the slot. Operations that write (`$set`, `$inc`,
//! `$push`) create missing parent objects; operations that remove (`$unset`, `$pull`) treat a
//! missing path as nothing to do.

use super::{Patch, PatchOp};
use crate::encode::check_document;
use crate::path::array_index;
use crate::{values_equal, DocError, FieldPath, Object, Value};

impl Patch {
    /// Applies every operation to `doc`, which must be an object.
    ///
    /// Atomic: the operations run on a copy that replaces `doc` only if all succeed and the result
    /// still obeys every document rule and limit (size included), so on error `doc` is unchanged.
    pub fn apply(&self, doc: &mut Value) -> Result<(), DocError> {
        if !matches!(doc, Value::Object(_)) {
            return Err(DocError::RootNotObject {
                found: doc.type_name(),
            });
        }
        let mut draft = doc.clone();
        for op in &self.ops {
            apply_op(op, &mut draft)?;
        }
        check_document(&draft)?;
        *doc = draft;
        Ok(())
    }
}

fn apply_op(op: &PatchOp, doc: &mut Value) -> Result<(), DocError> {
    let path = op.path();
    match op {
        PatchOp::Set { value, .. } => {
            if let Some(mut slot) = resolve(doc, path, Mode::Create)? {
                slot.put(value.clone());
            }
        }
        PatchOp::Unset { .. } => {
            if let Some(slot) = resolve(doc, path, Mode::IfPresent)? {
                slot.remove();
            }
        }
        PatchOp::Inc { by, .. } => {
            if let Some(mut slot) = resolve(doc, path, Mode::Create)? {
                let sum = match slot.get() {
                    None => by.clone(),
                    Some(current) => add(current, by, path)?,
                };
                slot.put(sum);
            }
        }
        PatchOp::Push { values, .. } => {
            if let Some(mut slot) = resolve(doc, path, Mode::Create)? {
                match slot.get_mut() {
                    None => slot.put(Value::Array(values.clone())),
                    Some(Value::Array(items)) => items.extend(values.iter().cloned()),
                    Some(other) => return Err(mismatch(path.to_string(), "an array", other)),
                }
            }
        }
        PatchOp::AddToSet { values, .. } => {
            if let Some(mut slot) = resolve(doc, path, Mode::Create)? {
                match slot.get_mut() {
                    None => slot.put(Value::Array(distinct(Vec::new(), values))),
                    Some(Value::Array(items)) => {
                        let current = std::mem::take(items);
                        *items = distinct(current, values);
                    }
                    Some(other) => return Err(mismatch(path.to_string(), "an array", other)),
                }
            }
        }
        PatchOp::Rename { to, .. } => {
            let moved = match resolve(doc, path, Mode::IfPresent)? {
                Some(slot) => slot.take(),
                None => None,
            };
            if let Some(value) = moved {
                if let Some(mut slot) = resolve(doc, to, Mode::Create)? {
                    slot.put(value);
                }
            }
        }
        PatchOp::Mul { by, .. } => {
            if let Some(mut slot) = resolve(doc, path, Mode::Create)? {
                let product = match slot.get() {
                    // MongoDB's rule: a missing field becomes zero of the factor's type.
                    None => match by {
                        Value::Int(_) => Value::Int(0),
                        _ => Value::Float(0.0),
                    },
                    Some(current) => multiply(current, by, path)?,
                };
                slot.put(product);
            }
        }
        PatchOp::Bound { value, larger, .. } => {
            if let Some(mut slot) = resolve(doc, path, Mode::Create)? {
                let replace = match slot.get() {
                    None => true,
                    Some(current) => {
                        let order = bound_order(value, current, path)?;
                        if *larger {
                            order.is_gt()
                        } else {
                            order.is_lt()
                        }
                    }
                };
                if replace {
                    slot.put(value.clone());
                }
            }
        }
        PatchOp::CurrentDate { .. } => {
            if let Some(mut slot) = resolve(doc, path, Mode::Create)? {
                slot.put(Value::DateTime(crate::DateTime::now()));
            }
        }
        PatchOp::Pull { value, .. } => {
            if let Some(mut slot) = resolve(doc, path, Mode::IfPresent)? {
                match slot.get_mut() {
                    None => {}
                    Some(Value::Array(items)) => items.retain(|item| !values_equal(item, value)),
                    Some(other) => return Err(mismatch(path.to_string(), "an array", other)),
                }
            }
        }
    }
    Ok(())
}

/// `current + by` for `$inc`: exact for two integers (failing on overflow), float otherwise.
fn add(current: &Value, by: &Value, path: &FieldPath) -> Result<Value, DocError> {
    let sum = match (current, by) {
        (Value::Int(a), Value::Int(b)) => {
            return a
                .checked_add(*b)
                .map(Value::Int)
                .ok_or_else(|| DocError::IntegerOverflow {
                    path: path.to_string(),
                })
        }
        (Value::Int(a), Value::Float(b)) => *a as f64 + b,
        (Value::Float(a), Value::Int(b)) => a + *b as f64,
        (Value::Float(a), Value::Float(b)) => a + b,
        (other, _) => return Err(mismatch(path.to_string(), "a number", other)),
    };
    if !sum.is_finite() {
        return Err(DocError::NonFiniteFloat {
            path: path.to_string(),
        });
    }
    Ok(Value::Float(sum))
}

/// `current` with each of `values` appended unless an equal element is already there.
fn distinct(mut current: Vec<Value>, values: &[Value]) -> Vec<Value> {
    for value in values {
        if !current.iter().any(|item| values_equal(item, value)) {
            current.push(value.clone());
        }
    }
    current
}

/// `current * by` for `$mul`: exact for two integers (failing on overflow), float otherwise.
fn multiply(current: &Value, by: &Value, path: &FieldPath) -> Result<Value, DocError> {
    let product = match (current, by) {
        (Value::Int(a), Value::Int(b)) => {
            return a
                .checked_mul(*b)
                .map(Value::Int)
                .ok_or_else(|| DocError::IntegerOverflow {
                    path: path.to_string(),
                })
        }
        (Value::Int(a), Value::Float(b)) => *a as f64 * b,
        (Value::Float(a), Value::Int(b)) => a * *b as f64,
        (Value::Float(a), Value::Float(b)) => a * b,
        (other, _) => return Err(mismatch(path.to_string(), "a number", other)),
    };
    if !product.is_finite() {
        return Err(DocError::NonFiniteFloat {
            path: path.to_string(),
        });
    }
    Ok(Value::Float(product))
}

/// How `value` orders against `current` for `$min`/`$max`: numbers by value, strings by bytes,
/// dates by time; any other pair cannot be compared.
fn bound_order(
    value: &Value,
    current: &Value,
    path: &FieldPath,
) -> Result<std::cmp::Ordering, DocError> {
    let as_f64 = |v: &Value| match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    };
    match (value, current) {
        (Value::Int(a), Value::Int(b)) => Ok(a.cmp(b)),
        (Value::String(a), Value::String(b)) => Ok(a.as_bytes().cmp(b.as_bytes())),
        (Value::DateTime(a), Value::DateTime(b)) => Ok(a.cmp(b)),
        _ => match (as_f64(value), as_f64(current)) {
            (Some(a), Some(b)) => Ok(a.total_cmp(&b)),
            _ => Err(DocError::PatchTypeMismatch {
                path: path.to_string(),
                expected: match value {
                    Value::Int(_) | Value::Float(_) => "a number",
                    Value::String(_) => "a string",
                    Value::DateTime(_) => "a date",
                    _ => "a number, string or date",
                },
                found: current.type_name(),
            }),
        },
    }
}

fn mismatch(path: String, expected: &'static str, found: &Value) -> DocError {
    DocError::PatchTypeMismatch {
        path,
        expected,
        found: found.type_name(),
    }
}

/// What to do when a path runs into something missing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Create missing parent objects; a path that cannot exist is an error.
    Create,
    /// Stop quietly: there is nothing to remove.
    IfPresent,
}

/// The place a path names: a field of an object or an element of an array, present or not.
enum Slot<'a> {
    Field(&'a mut Object, &'a str),
    Element(&'a mut Vec<Value>, usize),
}

impl Slot<'_> {
    fn get(&self) -> Option<&Value> {
        match self {
            Slot::Field(object, key) => object.get(key),
            Slot::Element(items, index) => items.get(*index),
        }
    }

    fn get_mut(&mut self) -> Option<&mut Value> {
        match self {
            Slot::Field(object, key) => object.get_mut(key),
            Slot::Element(items, index) => items.get_mut(*index),
        }
    }

    /// Stores `value`; an element slot always exists (resolve checks the index).
    fn put(&mut self, value: Value) {
        match self {
            Slot::Field(object, key) => {
                object.insert(*key, value);
            }
            Slot::Element(items, index) => {
                if let Some(item) = items.get_mut(*index) {
                    *item = value;
                }
            }
        }
    }

    /// Removes and returns the value (an array element becomes null, as in [`Slot::remove`]).
    fn take(self) -> Option<Value> {
        match self {
            Slot::Field(object, key) => object.remove(key),
            Slot::Element(items, index) => items
                .get_mut(index)
                .map(|item| std::mem::replace(item, Value::Null)),
        }
    }

    /// Removes a field; an array element becomes null so later indexes keep their meaning.
    fn remove(self) {
        match self {
            Slot::Field(object, key) => {
                object.remove(key);
            }
            Slot::Element(items, index) => {
                if let Some(item) = items.get_mut(index) {
                    *item = Value::Null;
                }
            }
        }
    }
}

/// Walks `doc` to the slot `path` names. `None` means the path cannot exist and `mode` is
/// [`Mode::IfPresent`].
fn resolve<'a>(
    doc: &'a mut Value,
    path: &'a FieldPath,
    mode: Mode,
) -> Result<Option<Slot<'a>>, DocError> {
    let segments = path.segments();
    // A parsed path has at least one segment.
    let Some((last, parents)) = segments.split_last() else {
        return Ok(None);
    };
    let mut current = doc;
    for (depth, segment) in parents.iter().enumerate() {
        let here = || segments[..depth].join(".");
        current = match descend(current, segment, mode, here)? {
            Some(next) => next,
            None => return Ok(None),
        };
    }
    slot_in(current, last, mode, || parents.join("."))
}

/// One step of [`resolve`]: the child `segment` of `value`, created as an empty object if missing
/// in [`Mode::Create`]. `here` names `value` for error messages.
fn descend<'v>(
    value: &'v mut Value,
    segment: &str,
    mode: Mode,
    here: impl Fn() -> String,
) -> Result<Option<&'v mut Value>, DocError> {
    let create = mode == Mode::Create;
    match value {
        Value::Object(object) => {
            if !object.contains_key(segment) {
                if !create {
                    return Ok(None);
                }
                object.insert(segment, Object::new());
            }
            Ok(object.get_mut(segment))
        }
        Value::Array(items) => {
            let len = items.len();
            match array_index(segment) {
                Some(index) if index < len => Ok(items.get_mut(index)),
                _ if !create => Ok(None),
                Some(index) => Err(out_of_range(here(), segment, index, len)),
                None => Err(DocError::PatchTypeMismatch {
                    path: here(),
                    expected: "an object (the next path segment is not an array index)",
                    found: "array",
                }),
            }
        }
        other if create => Err(mismatch(here(), "an object or array", other)),
        _ => Ok(None),
    }
}

/// The slot for the final `segment` inside `container`.
fn slot_in<'a>(
    container: &'a mut Value,
    segment: &'a str,
    mode: Mode,
    here: impl Fn() -> String,
) -> Result<Option<Slot<'a>>, DocError> {
    let create = mode == Mode::Create;
    match container {
        Value::Object(object) => Ok(Some(Slot::Field(object, segment))),
        Value::Array(items) => {
            let len = items.len();
            match array_index(segment) {
                Some(index) if index < len => Ok(Some(Slot::Element(items, index))),
                _ if !create => Ok(None),
                Some(index) => Err(out_of_range(here(), segment, index, len)),
                None => Err(DocError::PatchTypeMismatch {
                    path: here(),
                    expected: "an object (the last path segment is not an array index)",
                    found: "array",
                }),
            }
        }
        other if create => Err(mismatch(here(), "an object or array", other)),
        _ => Ok(None),
    }
}

fn out_of_range(parent: String, segment: &str, index: usize, len: usize) -> DocError {
    let path = if parent.is_empty() {
        segment.to_owned()
    } else {
        format!("{parent}.{segment}")
    };
    DocError::ArrayIndexOutOfRange { path, index, len }
}
