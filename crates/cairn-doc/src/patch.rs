//! [`Patch`]: MongoDB-style update operators, parsed, validated and applied to documents.
//!
//! ```text
//! {"$set":   {"path": value, ...}}             set the field, creating missing parent objects
//! {"$unset": {"path": <anything>, ...}}        remove the field (an array element becomes null)
//! {"$inc":   {"path": number, ...}}            add to a number; a missing field is set to it
//! {"$push":  {"path": value | {"$each": [..]}}} append to an array, creating it if missing
//! {"$pull":  {"path": value, ...}}             remove every array element equal to the value
//! {"$addToSet": {"path": value | {"$each": [..]}}} append the values not already in the array
//! {"$rename": {"path": "new.path", ...}}       move a field (a missing field: nothing to do)
//! {"$mul":   {"path": number, ...}}            multiply a number; a missing field is set to 0
//! {"$min":   {"path": value, ...}}             set the field if the value is smaller (or missing)
//! {"$max":   {"path": value, ...}}             set the field if the value is larger (or missing)
//! {"$currentDate": {"path": true | {"$type": "date"}}} set the field to the time of the write
//! ```
//!
//! `$min` and `$max` compare numbers with numbers (integers and floats by value), strings with
//! strings (by bytes) and dates with dates; any other pair is a type error naming the path,
//! rather than MongoDB's cross-type order, which surprises more than it helps. `$rename`'s
//! target counts as a written path for the overlap rule below.
//!
//! A patch is checked as a whole before it touches anything: operators must be known, paths valid,
//! values obey the document rules, no path may touch `_id`, and no two paths may overlap (`a` and
//! `a.b`), because then the result would depend on the order of operations. Applying is atomic: on
//! any error the document is left exactly as it was.
//!
//! Numbers: `$inc` of two integers stays an integer and fails on overflow rather than wrapping (a
//! counter silently jumping to a huge negative number is worse than a failed write); if either side
//! is a float the result is a float. `$pull` compares with [`crate::values_equal`], so `1` pulls
//! `1.0` too.

mod apply;

use crate::encode::check_nested_value;
use crate::limits::MAX_PATCH_OPERATIONS;
use crate::{DocError, FieldPath, Object, Value};

/// One operation of a [`Patch`].
#[derive(Debug, Clone, PartialEq)]
pub enum PatchOp {
    /// `$set`: store `value` at `path`.
    Set {
        /// Where to store it.
        path: FieldPath,
        /// What to store.
        value: Value,
    },
    /// `$unset`: remove the field at `path`.
    Unset {
        /// What to remove.
        path: FieldPath,
    },
    /// `$inc`: add `by` (an `Int` or a `Float`) to the number at `path`.
    Inc {
        /// The number to change.
        path: FieldPath,
        /// The amount, an `Int` or a finite `Float`.
        by: Value,
    },
    /// `$push`: append `values` to the array at `path`.
    Push {
        /// The array.
        path: FieldPath,
        /// Elements to append, in order.
        values: Vec<Value>,
    },
    /// `$pull`: remove every element of the array at `path` equal to `value`.
    Pull {
        /// The array.
        path: FieldPath,
        /// The value to remove (compared with [`crate::values_equal`]).
        value: Value,
    },
    /// `$addToSet`: append each of `values` not already in the array at `path`.
    AddToSet {
        /// The array.
        path: FieldPath,
        /// Candidates, in order (compared with [`crate::values_equal`]).
        values: Vec<Value>,
    },
    /// `$rename`: move the field at `path` to `to`.
    Rename {
        /// The field to move.
        path: FieldPath,
        /// Where it goes.
        to: FieldPath,
    },
    /// `$mul`: multiply the number at `path` by `by` (an `Int` or a `Float`).
    Mul {
        /// The number to change.
        path: FieldPath,
        /// The factor, an `Int` or a finite `Float`.
        by: Value,
    },
    /// `$min` (`larger == false`) or `$max` (`larger == true`): store `value` at `path` if it is
    /// smaller (larger) than the value there, or nothing is there.
    Bound {
        /// The field.
        path: FieldPath,
        /// The candidate value.
        value: Value,
        /// `$max` rather than `$min`.
        larger: bool,
    },
    /// `$currentDate`: store the time of the write at `path`.
    CurrentDate {
        /// The field.
        path: FieldPath,
    },
}

impl PatchOp {
    /// The path this operation writes.
    pub fn path(&self) -> &FieldPath {
        match self {
            PatchOp::Set { path, .. }
            | PatchOp::Unset { path }
            | PatchOp::Inc { path, .. }
            | PatchOp::Push { path, .. }
            | PatchOp::Pull { path, .. }
            | PatchOp::AddToSet { path, .. }
            | PatchOp::Rename { path, .. }
            | PatchOp::Mul { path, .. }
            | PatchOp::Bound { path, .. }
            | PatchOp::CurrentDate { path } => path,
        }
    }

    /// Every path this operation touches: its own, and `$rename`'s target.
    pub fn paths(&self) -> impl Iterator<Item = &FieldPath> {
        let target = match self {
            PatchOp::Rename { to, .. } => Some(to),
            _ => None,
        };
        std::iter::once(self.path()).chain(target)
    }

    /// The operator's name as written in JSON, e.g. `$set`.
    pub fn operator(&self) -> &'static str {
        match self {
            PatchOp::Set { .. } => "$set",
            PatchOp::Unset { .. } => "$unset",
            PatchOp::Inc { .. } => "$inc",
            PatchOp::Push { .. } => "$push",
            PatchOp::Pull { .. } => "$pull",
            PatchOp::AddToSet { .. } => "$addToSet",
            PatchOp::Rename { .. } => "$rename",
            PatchOp::Mul { .. } => "$mul",
            PatchOp::Bound { larger: false, .. } => "$min",
            PatchOp::Bound { larger: true, .. } => "$max",
            PatchOp::CurrentDate { .. } => "$currentDate",
        }
    }
}

/// A validated set of update operations on distinct, non-overlapping paths.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Patch {
    ops: Vec<PatchOp>,
}

impl Patch {
    /// An empty patch (applying it changes nothing).
    pub fn new() -> Patch {
        Patch::default()
    }

    /// Parses a patch value such as `{"$set": {"a.b": 1}, "$inc": {"n": 2}}`; see the
    /// module docs of `patch.rs`. Parse its JSON with [`Value::from_json_expression`], or use
    /// [`Patch::from_json_str`].
    pub fn from_value(value: &Value) -> Result<Patch, DocError> {
        let Value::Object(operators) = value else {
            return Err(DocError::PatchTypeMismatch {
                path: String::new(),
                expected: "an object of operators",
                found: value.type_name(),
            });
        };
        let mut patch = Patch::new();
        for (operator, fields) in operators.iter() {
            let fields = fields.as_object().ok_or(DocError::PatchTypeMismatch {
                path: operator.to_owned(),
                expected: "an object of field paths",
                found: fields.type_name(),
            })?;
            for (path, operand) in fields.iter() {
                let op = parse_op(operator, FieldPath::parse(path)?, operand)?;
                patch.add(op)?;
            }
        }
        Ok(patch)
    }

    /// Parses a patch from JSON text (expression rules: paths may contain `.`).
    pub fn from_json_str(text: &str) -> Result<Patch, DocError> {
        Patch::from_value(&Value::from_json_expression(text)?)
    }

    /// The patch in the form [`Patch::from_value`] reads, e.g. to log or replicate it.
    pub fn to_value(&self) -> Value {
        let mut operators = Object::new();
        for op in &self.ops {
            let (path, operand) = match op {
                PatchOp::Set { path, value } => (path, value.clone()),
                PatchOp::Unset { path } => (path, Value::Bool(true)),
                PatchOp::Inc { path, by } => (path, by.clone()),
                PatchOp::Push { path, values } => (path, push_operand(values)),
                PatchOp::Pull { path, value } => (path, value.clone()),
                PatchOp::AddToSet { path, values } => (path, push_operand(values)),
                PatchOp::Rename { path, to } => (path, Value::String(to.to_string())),
                PatchOp::Mul { path, by } => (path, by.clone()),
                PatchOp::Bound { path, value, .. } => (path, value.clone()),
                PatchOp::CurrentDate { path } => (path, Value::Bool(true)),
            };
            if !operators.contains_key(op.operator()) {
                operators.insert(op.operator(), Object::new());
            }
            if let Some(Value::Object(fields)) = operators.get_mut(op.operator()) {
                fields.insert(path.to_string(), operand);
            }
        }
        Value::Object(operators)
    }

    /// Adds `$set path value`.
    pub fn set(self, path: &str, value: impl Into<Value>) -> Result<Patch, DocError> {
        let path = FieldPath::parse(path)?;
        self.with(PatchOp::Set {
            path,
            value: value.into(),
        })
    }

    /// Adds `$unset path`.
    pub fn unset(self, path: &str) -> Result<Patch, DocError> {
        let path = FieldPath::parse(path)?;
        self.with(PatchOp::Unset { path })
    }

    /// Adds `$inc path by` (`by` must be an `Int` or a finite `Float`).
    pub fn inc(self, path: &str, by: impl Into<Value>) -> Result<Patch, DocError> {
        let path = FieldPath::parse(path)?;
        self.with(PatchOp::Inc {
            path,
            by: by.into(),
        })
    }

    /// Adds `$push path value`.
    pub fn push(self, path: &str, value: impl Into<Value>) -> Result<Patch, DocError> {
        self.push_each(path, vec![value.into()])
    }

    /// Adds `$push path {"$each": values}`.
    pub fn push_each(self, path: &str, values: Vec<Value>) -> Result<Patch, DocError> {
        let path = FieldPath::parse(path)?;
        self.with(PatchOp::Push { path, values })
    }

    /// Adds `$pull path value`.
    pub fn pull(self, path: &str, value: impl Into<Value>) -> Result<Patch, DocError> {
        let path = FieldPath::parse(path)?;
        self.with(PatchOp::Pull {
            path,
            value: value.into(),
        })
    }

    /// Builder form of [`Patch::add`].
    fn with(mut self, op: PatchOp) -> Result<Patch, DocError> {
        self.add(op)?;
        Ok(self)
    }

    /// Adds an operation after checking it: not on `_id`, not overlapping an existing path, within
    /// [`MAX_PATCH_OPERATIONS`], and with operands that obey the document rules.
    pub fn add(&mut self, op: PatchOp) -> Result<(), DocError> {
        if op.paths().any(|path| path.first() == "_id") {
            return Err(DocError::ImmutableId);
        }
        if self.ops.len() == MAX_PATCH_OPERATIONS {
            return Err(DocError::TooManyOperations {
                count: MAX_PATCH_OPERATIONS + 1,
                limit: MAX_PATCH_OPERATIONS,
            });
        }
        if let PatchOp::Rename { path, to } = &op {
            if path.overlaps(to) {
                return Err(DocError::PatchConflict {
                    first: path.to_string(),
                    second: to.to_string(),
                });
            }
        }
        for path in op.paths() {
            let clash = self
                .ops
                .iter()
                .flat_map(PatchOp::paths)
                .find(|existing| existing.overlaps(path));
            if let Some(existing) = clash {
                return Err(DocError::PatchConflict {
                    first: existing.to_string(),
                    second: path.to_string(),
                });
            }
        }
        check_operands(&op)?;
        self.ops.push(op);
        Ok(())
    }

    /// The operations, in the order they were written.
    pub fn ops(&self) -> &[PatchOp] {
        &self.ops
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the patch has no operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// Builds the operation `operator` names from one `path: operand` entry.
fn parse_op(operator: &str, path: FieldPath, operand: &Value) -> Result<PatchOp, DocError> {
    Ok(match operator {
        "$set" => PatchOp::Set {
            path,
            value: operand.clone(),
        },
        "$unset" => PatchOp::Unset { path },
        "$inc" => PatchOp::Inc {
            path,
            by: operand.clone(),
        },
        "$push" => {
            let values = parse_push_operand(&path, operand)?;
            PatchOp::Push { path, values }
        }
        "$pull" => PatchOp::Pull {
            path,
            value: operand.clone(),
        },
        "$addToSet" => {
            let values = parse_push_operand(&path, operand)?;
            PatchOp::AddToSet { path, values }
        }
        "$rename" => match operand {
            Value::String(to) => PatchOp::Rename {
                path,
                to: FieldPath::parse(to)?,
            },
            other => {
                return Err(DocError::PatchTypeMismatch {
                    path: path.to_string(),
                    expected: "the new path as a string",
                    found: other.type_name(),
                })
            }
        },
        "$mul" => PatchOp::Mul {
            path,
            by: operand.clone(),
        },
        "$min" | "$max" => PatchOp::Bound {
            path,
            value: operand.clone(),
            larger: operator == "$max",
        },
        "$currentDate" => {
            let is_date = match operand {
                Value::Bool(true) => true,
                Value::Object(spec) => {
                    spec.len() == 1
                        && matches!(
                            spec.get("$type"),
                            Some(Value::String(t)) if t == "date" || t == "timestamp"
                        )
                }
                _ => false,
            };
            if !is_date {
                return Err(DocError::PatchTypeMismatch {
                    path: path.to_string(),
                    expected: "true or {\"$type\": \"date\"}",
                    found: operand.type_name(),
                });
            }
            PatchOp::CurrentDate { path }
        }
        other => {
            return Err(DocError::UnknownOperator {
                op: other.to_owned(),
            })
        }
    })
}

/// `$push` takes one value, or `{"$each": [values]}` for several.
fn parse_push_operand(path: &FieldPath, operand: &Value) -> Result<Vec<Value>, DocError> {
    let Some(modifiers) = operand.as_object() else {
        return Ok(vec![operand.clone()]);
    };
    let Some(each) = modifiers.get("$each") else {
        return Ok(vec![operand.clone()]);
    };
    if let Some(other) = modifiers.keys().find(|k| *k != "$each") {
        return Err(DocError::UnknownOperator {
            op: other.to_owned(),
        });
    }
    match each {
        Value::Array(values) => Ok(values.clone()),
        other => Err(DocError::PatchTypeMismatch {
            path: format!("{path}.$each"),
            expected: "an array",
            found: other.type_name(),
        }),
    }
}

/// The `$push` operand that [`parse_push_operand`] reads back as `values`.
fn push_operand(values: &[Value]) -> Value {
    match values {
        [single] => single.clone(),
        many => {
            let mut each = Object::new();
            each.push_unchecked("$each".to_owned(), Value::Array(many.to_vec()));
            Value::Object(each)
        }
    }
}

/// Checks that the values an operation would write obey the document rules where they will sit.
fn check_operands(op: &PatchOp) -> Result<(), DocError> {
    let path = op.path();
    // A value at a path of n segments sits inside n containers (the root and n - 1 parents).
    let at_path = |value: &Value, depth: usize| {
        check_nested_value(value, depth).map_err(|e| e.within(&path.to_string()))
    };
    match op {
        PatchOp::Set { value, .. } => at_path(value, path.len()),
        PatchOp::Inc { by, .. } | PatchOp::Mul { by, .. } => match by {
            Value::Int(_) => Ok(()),
            Value::Float(_) => at_path(by, path.len()),
            other => Err(DocError::PatchTypeMismatch {
                path: path.to_string(),
                expected: match op {
                    PatchOp::Inc { .. } => "a number to add",
                    _ => "a number to multiply by",
                },
                found: other.type_name(),
            }),
        },
        PatchOp::Bound { value, .. } => at_path(value, path.len()),
        PatchOp::Push { values, .. } | PatchOp::AddToSet { values, .. } => values
            .iter()
            .try_for_each(|value| at_path(value, path.len() + 1)),
        PatchOp::Unset { .. }
        | PatchOp::Pull { .. }
        | PatchOp::Rename { .. }
        | PatchOp::CurrentDate { .. } => Ok(()),
    }
}
