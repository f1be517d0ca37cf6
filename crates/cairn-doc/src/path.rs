//! [`FieldPath`]: dotted paths such as `address.city` or `tags.0` that name a value inside a
//! document.
//!
//! Segments are field names; a segment of decimal digits also indexes arrays (`tags.0` is the first
//! tag). Because field names may not contain `.` or start with `$`, every field is addressable and
//! a path can never be confused with an operator.

use crate::limits::{MAX_FIELD_NAME_BYTES, MAX_PATH_SEGMENTS};
use crate::{DocError, Value};

/// A parsed, validated field path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath {
    segments: Vec<String>,
}

impl FieldPath {
    /// Parses `a.b.0.c`: one or more non-empty segments separated by `.`, none starting with `$`,
    /// each at most [`MAX_FIELD_NAME_BYTES`] bytes, at most [`MAX_PATH_SEGMENTS`] of them.
    pub fn parse(text: &str) -> Result<FieldPath, DocError> {
        let invalid = |reason| DocError::InvalidPath {
            path: text.to_owned(),
            reason,
        };
        if text.is_empty() {
            return Err(invalid("a path must not be empty"));
        }
        let mut segments = Vec::new();
        for segment in text.split('.') {
            if segments.len() == MAX_PATH_SEGMENTS {
                return Err(invalid("a path has more segments than MAX_PATH_SEGMENTS"));
            }
            if segment.is_empty() {
                return Err(invalid(
                    "a path must not have empty segments (`a..b`, `.a`, `a.`)",
                ));
            }
            if segment.starts_with('$') {
                return Err(invalid("a path segment must not start with `$`"));
            }
            if segment.len() > MAX_FIELD_NAME_BYTES {
                return Err(invalid(
                    "a path segment is longer than MAX_FIELD_NAME_BYTES",
                ));
            }
            segments.push(segment.to_owned());
        }
        Ok(FieldPath { segments })
    }

    /// The segments, outermost first.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// Number of segments (at least 1).
    pub fn len(&self) -> usize {
        self.segments.len()
    }

    /// Always false: a path has at least one segment. Present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// The first segment: the top-level field this path lives under.
    pub fn first(&self) -> &str {
        // `parse` guarantees at least one segment; an empty path would be a bug, and "" names
        // no field, which is the harmless answer.
        self.segments.first().map_or("", String::as_str)
    }

    /// Whether `self` equals `other` or names a field that contains it (`a` contains `a.b`).
    pub fn contains(&self, other: &FieldPath) -> bool {
        other.segments.starts_with(&self.segments)
    }

    /// Whether one of the two paths contains the other, so writing both in one update would be
    /// ambiguous.
    pub fn overlaps(&self, other: &FieldPath) -> bool {
        self.contains(other) || other.contains(self)
    }

    /// The value at this path inside `value`, if present. Numeric segments index arrays; on
    /// objects every segment is a field name.
    pub fn get<'a>(&self, value: &'a Value) -> Option<&'a Value> {
        self.segments
            .iter()
            .try_fold(value, |current, segment| step(current, segment))
    }

    /// The value at this path inside `value`, mutably, if present.
    pub fn get_mut<'a>(&self, value: &'a mut Value) -> Option<&'a mut Value> {
        let mut current = value;
        for segment in &self.segments {
            current = match current {
                Value::Object(object) => object.get_mut(segment)?,
                Value::Array(items) => items.get_mut(array_index(segment)?)?,
                _ => return None,
            };
        }
        Some(current)
    }
}

/// One step down from `value` along `segment`.
fn step<'a>(value: &'a Value, segment: &str) -> Option<&'a Value> {
    match value {
        Value::Object(object) => object.get(segment),
        Value::Array(items) => items.get(array_index(segment)?),
        _ => None,
    }
}

/// The array index a segment denotes: canonical decimal (`0`, `17`, not `017` or `+1`).
///
/// Requiring the canonical form means each element has exactly one path, which keeps conflict
/// detection between paths exact.
pub(crate) fn array_index(segment: &str) -> Option<usize> {
    let canonical = segment.bytes().all(|b| b.is_ascii_digit())
        && !segment.is_empty()
        && (segment == "0" || !segment.starts_with('0'));
    if !canonical {
        return None;
    }
    segment.parse().ok()
}

impl std::fmt::Display for FieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.segments.join("."))
    }
}

impl std::str::FromStr for FieldPath {
    type Err = DocError;

    fn from_str(text: &str) -> Result<FieldPath, DocError> {
        FieldPath::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Object;

    fn sample() -> Value {
        let mut inner = Object::new();
        inner.insert("c", 3);
        inner.insert("0", "zero-key");
        let mut root = Object::new();
        root.insert("a", Value::Array(vec![Value::Int(1), Value::Object(inner)]));
        root.insert("s", "text");
        Value::Object(root)
    }

    #[test]
    fn get_walks_objects_and_indexes_arrays() {
        let doc = sample();
        let get = |p: &str| FieldPath::parse(p).unwrap().get(&doc).cloned();
        assert_eq!(get("a.0"), Some(Value::Int(1)));
        assert_eq!(get("a.1.c"), Some(Value::Int(3)));
        assert_eq!(get("a.1.0"), Some(Value::from("zero-key")));
        assert_eq!(get("a.2"), None);
        assert_eq!(get("a.01"), None);
        assert_eq!(get("s.x"), None);
        assert_eq!(get("missing"), None);
    }

    #[test]
    fn get_mut_reaches_the_same_places() {
        let mut doc = sample();
        *FieldPath::parse("a.1.c")
            .unwrap()
            .get_mut(&mut doc)
            .unwrap() = Value::Null;
        assert_eq!(
            FieldPath::parse("a.1.c").unwrap().get(&doc),
            Some(&Value::Null)
        );
        assert!(FieldPath::parse("s.x").unwrap().get_mut(&mut doc).is_none());
    }

    #[test]
    fn malformed_paths_are_rejected() {
        let too_many = vec!["a"; MAX_PATH_SEGMENTS + 1].join(".");
        let long_segment = "x".repeat(MAX_FIELD_NAME_BYTES + 1);
        for bad in [
            "",
            ".",
            "a.",
            ".a",
            "a..b",
            "$set",
            "a.$x",
            &too_many,
            &long_segment,
        ] {
            assert!(
                matches!(FieldPath::parse(bad), Err(DocError::InvalidPath { .. })),
                "{bad:?}"
            );
        }
        let deepest = vec!["a"; MAX_PATH_SEGMENTS].join(".");
        assert_eq!(FieldPath::parse(&deepest).unwrap().len(), MAX_PATH_SEGMENTS);
    }

    #[test]
    fn display_round_trips_and_overlap_is_prefix_based() {
        let p = FieldPath::parse("a.b.0").unwrap();
        assert_eq!(p.to_string(), "a.b.0");
        let a = FieldPath::parse("a").unwrap();
        let ab = FieldPath::parse("a.b").unwrap();
        let abc = FieldPath::parse("abc").unwrap();
        assert!(a.contains(&ab) && !ab.contains(&a));
        assert!(a.overlaps(&ab) && ab.overlaps(&a) && a.overlaps(&a));
        assert!(!a.overlaps(&abc));
    }
}
