//! Which schema changes apply at once and which need a migration.
//!
//! A change is *compatible* when every document valid under the old schema is still valid
//! under the new one: a new optional field (or a required one with a default, filled when a
//! document is next written), a default added or changed, a constraint relaxed, `int` widened
//! to `float`, a geometry shape widened to `geometry` (any shape), `required`/`unique`/
//! `references`/rules/patterns/`closed` dropped, `reject` relaxed to `allow`. Everything else — a new required field without default, a type change, a removed
//! field under `additional_fields: reject`, a tightened constraint, a new rule, a new unique
//! or reference on an existing field, `closed: true` set on a mesh — is *incompatible* and needs `cairn schema migrate`.
//! (A rename shows as a removal plus an addition; a migration's `rename` step carries values.)

use std::cmp::Ordering;

use cairn_doc::Value;

use crate::definition::{Bounds, FieldDef, FieldType, ObjectDef, Schema, Shape};
use crate::validate::compare_numbers;

/// One difference between two schemas.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// What changed (for the history and for errors).
    pub description: String,
    /// Whether existing documents stay valid.
    pub compatible: bool,
}

/// An incompatible change (its description).
pub type Incompatibility = String;

/// Every difference from `old` (none: a first schema) to `new`.
pub fn diff(old: Option<&Schema>, new: &Schema) -> Vec<Change> {
    let mut out = Vec::new();
    let Some(old) = old else {
        out.push(Change {
            description: format!(
                "first schema ({} fields, {} rules)",
                new.field_paths().len(),
                new.rules.len()
            ),
            compatible: true,
        });
        return out;
    };
    let mut push = |description: String, compatible: bool| {
        out.push(Change {
            description,
            compatible,
        })
    };
    let old_paths = old.field_paths();
    let new_paths = new.field_paths();
    for (path, def) in &new_paths {
        match old_paths.iter().find(|(p, _)| p == path) {
            None => push(
                format!("added field `{path}` ({})", def.ty.name()),
                !def.required || def.default.is_some(),
            ),
            Some((_, before)) => field_changes(path, before, def, &mut push),
        }
    }
    for (path, _) in &old_paths {
        if !new_paths.iter().any(|(p, _)| p == path) {
            let open = parent_object(new, path).is_none_or(|object| object.additional_fields);
            push(format!("removed field `{path}`"), open);
        }
    }
    objects(&old.root, &new.root, "", &mut push);
    for rule in &new.rules {
        match old.rules.iter().find(|r| r.name == rule.name) {
            None => push(format!("added rule `{}`", rule.name), false),
            Some(before) if before.expr.source() != rule.expr.source() => {
                push(format!("changed rule `{}`", rule.name), false)
            }
            Some(_) => {}
        }
    }
    for rule in &old.rules {
        if !new.rules.iter().any(|r| r.name == rule.name) {
            push(format!("removed rule `{}`", rule.name), true);
        }
    }
    out
}

/// The incompatible changes from `old` to `new`.
pub fn incompatibilities(old: Option<&Schema>, new: &Schema) -> Vec<Incompatibility> {
    diff(old, new)
        .into_iter()
        .filter(|c| !c.compatible)
        .map(|c| c.description)
        .collect()
}

fn parent_object<'s>(schema: &'s Schema, path: &str) -> Option<&'s ObjectDef> {
    let Some((parent, _)) = path.rsplit_once('.') else {
        return Some(&schema.root);
    };
    schema
        .field_paths()
        .into_iter()
        .find(|(p, _)| p == parent)
        .and_then(|(_, def)| match &def.ty {
            FieldType::Object(object) => Some(object),
            _ => None,
        })
}

fn objects(old: &ObjectDef, new: &ObjectDef, at: &str, push: &mut impl FnMut(String, bool)) {
    if old.additional_fields != new.additional_fields {
        let what = if new.additional_fields {
            "allow"
        } else {
            "reject"
        };
        push(
            format!(
                "additional_fields of `{}` set to {what}",
                if at.is_empty() { "." } else { at }
            ),
            new.additional_fields,
        );
    }
    for (name, def) in &new.fields {
        let path = if at.is_empty() {
            name.clone()
        } else {
            format!("{at}.{name}")
        };
        if let (FieldType::Object(inner_new), Some((_, before))) =
            (&def.ty, old.fields.iter().find(|(n, _)| n == name))
        {
            if let FieldType::Object(inner_old) = &before.ty {
                objects(inner_old, inner_new, &path, push);
            }
        }
    }
}

fn field_changes(path: &str, old: &FieldDef, new: &FieldDef, push: &mut impl FnMut(String, bool)) {
    match (&old.ty, &new.ty) {
        (FieldType::Object(_), FieldType::Object(_)) => {} // compared field by field
        (FieldType::Int, FieldType::Float) => {
            push(format!("`{path}` widened from int to float"), true)
        }
        (FieldType::Geometry(a), FieldType::Geometry(Shape::Any)) if *a != Shape::Any => push(
            format!("`{path}` widened from {} to geometry", a.name()),
            true,
        ),
        (a, b) if format!("{a:?}") != format!("{b:?}") => {
            push(
                format!("`{path}` changed type from {} to {}", a.name(), b.name()),
                matches!(b, FieldType::Json),
            );
        }
        _ => {}
    }
    if old.required != new.required {
        push(
            format!(
                "`{path}` is {}required",
                if new.required { "" } else { "no longer " }
            ),
            !new.required,
        );
    }
    if old.unique != new.unique {
        push(
            format!(
                "`{path}` is {}unique",
                if new.unique { "" } else { "no longer " }
            ),
            !new.unique,
        );
    }
    if old.closed != new.closed {
        push(
            format!(
                "`{path}` is {}closed",
                if new.closed {
                    ""
                } else {
                    "no longer required to be "
                }
            ),
            !new.closed,
        );
    }
    if old.default != new.default {
        push(format!("`{path}` default changed"), true);
    }
    bounds(path, "min/max", &old.range, &new.range, push);
    bounds(path, "length", &old.length, &new.length, push);
    let (was, now) = (
        old.pattern.as_ref().map(|p| &p.source),
        new.pattern.as_ref().map(|p| &p.source),
    );
    if was != now {
        push(format!("`{path}` pattern changed"), now.is_none());
    }
    if old.allowed != new.allowed {
        let relaxed = match (&old.allowed, &new.allowed) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(before), Some(after)) => before.values().iter().all(|v| after.contains(v)),
        };
        push(format!("`{path}` enum changed"), relaxed);
    }
    if old.references != new.references {
        let relaxed = match (&old.references, &new.references) {
            (_, None) => true,
            (Some(a), Some(b)) => a.collection == b.collection,
            (None, Some(_)) => false,
        };
        push(format!("`{path}` reference changed"), relaxed);
    }
}

fn bounds(path: &str, what: &str, old: &Bounds, new: &Bounds, push: &mut impl FnMut(String, bool)) {
    if old == new {
        return;
    }
    let looser =
        |before: &Option<Value>, after: &Option<Value>, want: Ordering| match (before, after) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(a), Some(b)) => {
                compare_numbers(b, a).is_some_and(|o| o == want || o == Ordering::Equal)
            }
        };
    let relaxed =
        looser(&old.min, &new.min, Ordering::Less) && looser(&old.max, &new.max, Ordering::Greater);
    push(
        format!(
            "`{path}` {what} {}",
            if relaxed { "relaxed" } else { "tightened" }
        ),
        relaxed,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(json: &str) -> Option<Schema> {
        Value::from_json_str(json)
            .ok()
            .and_then(|v| Schema::from_value(&v).ok())
    }

    fn incompatible(old: &str, new: &str) -> usize {
        match (schema(old), schema(new)) {
            (Some(old), Some(new)) => incompatibilities(Some(&old), &new).len(),
            _ => usize::MAX,
        }
    }

    #[test]
    fn compatible_changes_apply_at_once() {
        let base = r#"{"fields": {"a": {"type": "int", "min": 0, "max": 10}, "b": {"type": "string", "enum": ["x"]}}}"#;
        for new in [
            r#"{"fields": {"a": {"type": "int", "min": -5, "max": 10}, "b": {"type": "string", "enum": ["x"]}}}"#,
            r#"{"fields": {"a": {"type": "float", "min": 0, "max": 10}, "b": {"type": "string", "enum": ["x", "y"]}}}"#,
            r#"{"fields": {"a": {"type": "int", "min": 0, "max": 10}, "b": "string", "c": "string"}}"#,
            r#"{"fields": {"a": {"type": "int", "min": 0, "max": 10, "default": 1}, "b": {"type": "string", "enum": ["x"]}, "d": {"type": "int", "required": true, "default": 0}}}"#,
        ] {
            assert_eq!(incompatible(base, new), 0, "{new}");
        }
        let closed = r#"{"fields": {"m": {"type": "mesh", "closed": true}, "p": "point"}}"#;
        for new in [
            r#"{"fields": {"m": "mesh", "p": "point"}}"#,
            r#"{"fields": {"m": {"type": "mesh", "closed": false}, "p": "geometry"}}"#,
            r#"{"fields": {"m": "geometry", "p": "json"}}"#,
        ] {
            assert_eq!(incompatible(closed, new), 0, "{new}");
        }
    }

    #[test]
    fn geometry_changes_that_tighten_need_a_migration() {
        let open = r#"{"fields": {"m": {"type": "mesh", "closed": false}, "g": "geometry"}}"#;
        for new in [
            r#"{"fields": {"m": {"type": "mesh", "closed": true}, "g": "geometry"}}"#,
            r#"{"fields": {"m": "sphere", "g": "geometry"}}"#,
            r#"{"fields": {"m": "mesh", "g": "point"}}"#,
        ] {
            assert!(incompatible(open, new) > 0, "{new}");
        }
        let closed = schema(r#"{"fields": {"m": {"type": "mesh", "closed": true}}}"#);
        let loose = schema(r#"{"fields": {"m": "mesh"}}"#);
        if let (Some(closed), Some(loose)) = (closed, loose) {
            assert_eq!(
                incompatibilities(Some(&loose), &closed),
                vec!["`m` is closed".to_string()]
            );
        } else {
            panic!("schemas parse");
        }
    }

    #[test]
    fn incompatible_changes_need_a_migration() {
        let base = r#"{"additional_fields": "reject", "fields": {"a": {"type": "int", "min": 0}, "b": "string"}}"#;
        for new in [
            r#"{"additional_fields": "reject", "fields": {"a": {"type": "int", "min": 1}, "b": "string"}}"#,
            r#"{"additional_fields": "reject", "fields": {"a": {"type": "string"}, "b": "string"}}"#,
            r#"{"additional_fields": "reject", "fields": {"a": {"type": "int", "min": 0}, "b": "string", "c": {"type": "int", "required": true}}}"#,
            r#"{"additional_fields": "reject", "fields": {"a": {"type": "int", "min": 0}}}"#,
            r#"{"additional_fields": "reject", "fields": {"a": {"type": "int", "min": 0}, "b": {"type": "string", "unique": true}}}"#,
            r#"{"additional_fields": "reject", "fields": {"a": {"type": "int", "min": 0}, "b": "string"}, "rules": {"r": "a > 1"}}"#,
        ] {
            assert!(incompatible(base, new) > 0, "{new}");
        }
    }
}
