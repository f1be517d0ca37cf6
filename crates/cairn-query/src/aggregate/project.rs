//! `$project` (reshape: include, exclude or compute fields) and `$addFields` (compute fields,
//! keep the rest).

use cairn_doc::{FieldPath, Object, Value};

use super::expr::{set_path, Expr};
use crate::error::{QueryError, Result};
use crate::limits::MAX_EXPRESSION_DEPTH;
use crate::projection::Projection;

/// A `$project` stage.
///
/// `1`/`true` includes a field, `0`/`false` excludes it, anything else computes it (see
/// [`Expr`]); a nested object without operators is a path prefix (`{"a": {"b": 1}}` is
/// `{"a.b": 1}`). Inclusions and computed fields make an inclusion projection (only those
/// fields, plus `_id` unless excluded); otherwise the listed fields are removed. Exclusions
/// other than `_id` cannot be mixed with inclusions or computed fields.
#[derive(Debug, Clone)]
pub struct Project {
    /// The `0`/`1` part, applied by the find projection.
    flags: Option<Projection>,
    /// Whether the output holds only the named fields.
    inclusive: bool,
    keep_id: bool,
    computed: Vec<(FieldPath, Expr)>,
}

/// What one parsed `$project` entry asks for.
#[derive(Default)]
struct Entries {
    include: Vec<FieldPath>,
    exclude: Vec<FieldPath>,
    id_flag: Option<bool>,
    computed: Vec<(FieldPath, Expr)>,
}

impl Project {
    /// Parses a `$project` specification; `at` names its place for errors.
    pub fn parse(json: &Value, at: &str) -> Result<Project> {
        let object = json.as_object().ok_or_else(|| {
            QueryError::invalid(
                at,
                "expects an object such as {\"name\": 1, \"total\": \"$amount\"}",
            )
        })?;
        if object.is_empty() {
            return Err(QueryError::invalid(at, "expects at least one field"));
        }
        let mut entries = Entries::default();
        collect_entries(object, "", at, 0, &mut entries)?;
        check_overlaps(&entries, at)?;
        let inclusive = !entries.include.is_empty()
            || !entries.computed.is_empty()
            || (entries.id_flag == Some(true) && entries.exclude.is_empty());
        let keep_id = entries.id_flag != Some(false);
        let flags = if entries.include.is_empty() && entries.exclude.is_empty() {
            None
        } else {
            let on = i64::from(inclusive);
            let mut spec = Object::new();
            for path in entries.include.iter().chain(&entries.exclude) {
                spec.insert(path.to_string(), Value::Int(on));
            }
            spec.insert("_id", Value::Int(i64::from(keep_id)));
            Some(
                Projection::parse(&Value::Object(spec))
                    .map_err(|err| QueryError::invalid(at, err.to_string()))?,
            )
        };
        Ok(Project {
            flags,
            inclusive,
            keep_id,
            computed: entries.computed,
        })
    }

    /// Applies the stage to one document.
    pub fn apply(&self, doc: Value) -> Value {
        let values: Vec<(&FieldPath, Value)> = self
            .computed
            .iter()
            .filter_map(|(path, expr)| expr.eval(&doc).map(|value| (path, value)))
            .collect();
        let shaped = match (&self.flags, self.inclusive) {
            (Some(flags), _) => flags.apply(doc),
            (None, true) => {
                let mut out = Object::new();
                if let Some(id) = doc
                    .as_object()
                    .and_then(|o| o.get("_id"))
                    .filter(|_| self.keep_id)
                {
                    out.insert("_id", id.clone());
                }
                Value::Object(out)
            }
            (None, false) => without_id(doc, self.keep_id),
        };
        let Value::Object(mut out) = shaped else {
            return shaped;
        };
        for (path, value) in values {
            set_path(&mut out, path.segments(), value);
        }
        Value::Object(out)
    }
}

fn without_id(doc: Value, keep_id: bool) -> Value {
    match doc {
        Value::Object(mut object) if !keep_id => {
            object.remove("_id");
            Value::Object(object)
        }
        other => other,
    }
}

fn collect_entries(
    object: &Object,
    prefix: &str,
    at: &str,
    depth: usize,
    out: &mut Entries,
) -> Result<()> {
    if depth > MAX_EXPRESSION_DEPTH {
        return Err(QueryError::invalid(
            at,
            format!("nested deeper than {MAX_EXPRESSION_DEPTH} levels"),
        ));
    }
    for (key, value) in object.iter() {
        let here = format!("{at}.{key}");
        let name = if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}.{key}")
        };
        let path =
            FieldPath::parse(&name).map_err(|err| QueryError::invalid(&here, err.to_string()))?;
        let nested = value
            .as_object()
            .filter(|o| !o.is_empty() && !o.keys().any(|k| k.starts_with('$')));
        if let Some(inner) = nested {
            collect_entries(inner, &name, &here, depth + 1, out)?;
            continue;
        }
        let flag = match value {
            Value::Bool(on) => Some(*on),
            Value::Int(1) => Some(true),
            Value::Int(0) => Some(false),
            _ => None,
        };
        match flag {
            Some(on) if name == "_id" => out.id_flag = Some(on),
            Some(true) => out.include.push(path),
            Some(false) => out.exclude.push(path),
            None if matches!(value, Value::Int(_) | Value::Float(_)) => {
                return Err(QueryError::invalid(
                    here,
                    "a number other than 0 or 1 is ambiguous; write {\"$literal\": n} for a constant",
                ));
            }
            None => out.computed.push((path, Expr::parse(value, &here)?)),
        }
    }
    Ok(())
}

fn check_overlaps(entries: &Entries, at: &str) -> Result<()> {
    if let Some(excluded) = entries.exclude.first() {
        if !entries.include.is_empty() || !entries.computed.is_empty() {
            return Err(QueryError::invalid(
                format!("{at}.{excluded}"),
                "cannot mix exclusion with inclusion or computed fields (only `_id` may be excluded then)",
            ));
        }
    }
    let paths: Vec<&FieldPath> = entries
        .include
        .iter()
        .chain(&entries.exclude)
        .chain(entries.computed.iter().map(|(path, _)| path))
        .collect();
    for (i, path) in paths.iter().enumerate() {
        if let Some(other) = paths[..i].iter().find(|other| other.overlaps(path)) {
            return Err(QueryError::invalid(
                format!("{at}.{path}"),
                format!("overlaps `{other}`"),
            ));
        }
    }
    Ok(())
}

/// An `$addFields` (alias `$set`) stage: computes fields and keeps the rest of the document.
/// Every value is an expression (a number is a constant here); a field whose expression is
/// missing is left as it was.
#[derive(Debug, Clone)]
pub struct AddFields {
    fields: Vec<(FieldPath, Expr)>,
}

impl AddFields {
    /// Parses an `$addFields` specification; `at` names its place for errors.
    pub fn parse(json: &Value, at: &str) -> Result<AddFields> {
        let object = json.as_object().filter(|o| !o.is_empty()).ok_or_else(|| {
            QueryError::invalid(
                at,
                "expects a non-empty object such as {\"total\": \"$amount\"}",
            )
        })?;
        let fields = object
            .iter()
            .map(|(key, value)| {
                let here = format!("{at}.{key}");
                let path = FieldPath::parse(key)
                    .map_err(|err| QueryError::invalid(&here, err.to_string()))?;
                Ok((path, Expr::parse(value, &here)?))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(AddFields { fields })
    }

    /// Applies the stage to one document.
    pub fn apply(&self, doc: Value) -> Value {
        let values: Vec<(&FieldPath, Value)> = self
            .fields
            .iter()
            .filter_map(|(path, expr)| expr.eval(&doc).map(|value| (path, value)))
            .collect();
        let Value::Object(mut out) = doc else {
            return doc;
        };
        for (path, value) in values {
            set_path(&mut out, path.segments(), value);
        }
        Value::Object(out)
    }
}
