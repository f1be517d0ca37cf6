//! Text index definitions and how they are stored in the catalog (as the extension config):
//!
//! ```json
//! {"fields": ["title", {"path": "body.paragraphs", "boost": 0.5}],
//!  "boosts": {"title": 2.0}, "language": "english", "edge_ngrams": {"min": 2, "max": 10}}
//! ```
//!
//! A field is a path, or `{"path", "boost"}`; `boosts` is a shorthand for top-level fields
//! (document field names cannot hold the `.` of a nested path). Boosts default to 1,
//! `edge_ngrams` to off, `language` to `english`. A field may be a nested path; what it reaches may be a string or an array of
//! strings (nested through arrays of objects, as secondary indexes read paths).

use cairn_doc::{FieldPath, Object, Value};

use crate::analyzer::{Analyzer, Language};
use crate::error::{Result, TextError};
use crate::limits::{MAX_EDGE_NGRAM, MAX_TEXT_FIELDS};

/// One indexed field.
#[derive(Debug, Clone, PartialEq)]
pub struct TextField {
    /// The path.
    pub path: FieldPath,
    /// Factor on the field's BM25 score (positive, finite).
    pub boost: f64,
}

/// A text index definition.
#[derive(Debug, Clone, PartialEq)]
pub struct TextSpec {
    /// The index name.
    pub name: String,
    /// The indexed fields; a field's id in keys is its position here.
    pub fields: Vec<TextField>,
    /// The analyzer's language.
    pub language: Language,
    /// Edge n-gram lengths `(min, max)` in characters, when on.
    pub edge_ngrams: Option<(usize, usize)>,
}

impl TextSpec {
    /// Builds and validates a definition: `fields` are `(path, boost)` pairs.
    pub fn new(
        name: &str,
        fields: &[(&str, f64)],
        language: Language,
        edge_ngrams: Option<(usize, usize)>,
    ) -> Result<TextSpec> {
        let invalid = |reason: String| TextError::InvalidDefinition {
            name: name.to_string(),
            reason,
        };
        if fields.is_empty() {
            return Err(invalid("a text index needs at least one field".into()));
        }
        if fields.len() > MAX_TEXT_FIELDS {
            return Err(invalid(format!(
                "{} fields; the limit is {MAX_TEXT_FIELDS}",
                fields.len()
            )));
        }
        let mut out: Vec<TextField> = Vec::with_capacity(fields.len());
        for &(field, boost) in fields {
            let path = FieldPath::parse(field)
                .map_err(|err| invalid(format!("field `{field}`: {err}")))?;
            if out.iter().any(|f| f.path == path) {
                return Err(invalid(format!("field `{field}` is listed twice")));
            }
            if !(boost.is_finite() && boost > 0.0) {
                return Err(invalid(format!(
                    "boost of `{field}` must be a positive number, not {boost}"
                )));
            }
            out.push(TextField { path, boost });
        }
        if let Some((min, max)) = edge_ngrams {
            if min == 0 || min > max || max > MAX_EDGE_NGRAM {
                return Err(invalid(format!(
                    "edge_ngrams must satisfy 1 <= min <= max <= {MAX_EDGE_NGRAM}, \
                     not {min}..{max}"
                )));
            }
        }
        Ok(TextSpec {
            name: name.to_string(),
            fields: out,
            language,
            edge_ngrams,
        })
    }

    /// The analyzer this definition describes.
    pub fn analyzer(&self) -> Analyzer {
        Analyzer::new(self.language, self.edge_ngrams)
    }

    /// The id of the field named `name` (as written in the definition).
    pub fn field_id(&self, name: &str) -> Option<u8> {
        self.fields
            .iter()
            .position(|f| f.path.to_string() == name)
            .and_then(|i| u8::try_from(i).ok())
    }

    /// The definition as stored in the catalog.
    pub fn to_config(&self) -> Value {
        let mut object = Object::new();
        object.insert(
            "fields",
            Value::Array(
                self.fields
                    .iter()
                    .map(|f| {
                        let mut field = Object::new();
                        field.insert("path", Value::String(f.path.to_string()));
                        field.insert("boost", Value::Float(f.boost));
                        Value::Object(field)
                    })
                    .collect(),
            ),
        );
        object.insert("language", Value::String(self.language.name().to_string()));
        if let Some((min, max)) = self.edge_ngrams {
            let mut grams = Object::new();
            grams.insert("min", Value::Int(min as i64));
            grams.insert("max", Value::Int(max as i64));
            object.insert("edge_ngrams", Value::Object(grams));
        }
        Value::Object(object)
    }

    /// Reads a definition back (also how a user-supplied definition is checked).
    pub fn from_config(name: &str, config: &Value) -> Result<TextSpec> {
        let invalid = |reason: String| TextError::InvalidDefinition {
            name: name.to_string(),
            reason,
        };
        let object = config
            .as_object()
            .ok_or_else(|| invalid("not an object".into()))?;
        let fields = object
            .get("fields")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("`fields` must be a list of field paths".into()))?;
        let boosts = match object.get("boosts") {
            None | Some(Value::Null) => None,
            Some(Value::Object(boosts)) => Some(boosts),
            Some(_) => return Err(invalid("`boosts` must be an object".into())),
        };
        let mut pairs: Vec<(&str, f64)> = Vec::with_capacity(fields.len());
        for field in fields {
            let (path, boost) = match field {
                Value::String(path) => (path.as_str(), None),
                Value::Object(entry) => (
                    entry
                        .get("path")
                        .and_then(Value::as_str)
                        .ok_or_else(|| invalid("a field object needs a `path` string".into()))?,
                    entry.get("boost"),
                ),
                _ => {
                    return Err(invalid(
                        "fields must be paths or {path, boost} objects".into(),
                    ))
                }
            };
            let boost = match boost.or_else(|| boosts.and_then(|b| b.get(path))) {
                None => 1.0,
                Some(value) => value
                    .as_f64()
                    .ok_or_else(|| invalid(format!("boost of `{path}` must be a number")))?,
            };
            pairs.push((path, boost));
        }
        if let Some(boosts) = boosts {
            for (key, _) in boosts.iter() {
                if !pairs.iter().any(|(f, _)| *f == key) {
                    return Err(invalid(format!("boost for `{key}`, which is not a field")));
                }
            }
        }
        let language = match object.get("language") {
            None | Some(Value::Null) => Language::English,
            Some(value) => value.as_str().and_then(Language::parse).ok_or_else(|| {
                let names: Vec<&str> = Language::ALL.iter().map(|l| l.name()).collect();
                invalid(format!("`language` must be one of {}", names.join(", ")))
            })?,
        };
        let edge_ngrams = match object.get("edge_ngrams") {
            None | Some(Value::Null) => None,
            Some(value) => {
                let bound = |key: &str| {
                    value
                        .as_object()
                        .and_then(|o| o.get(key))
                        .and_then(Value::as_i64)
                        .and_then(|n| usize::try_from(n).ok())
                        .ok_or_else(|| {
                            invalid(format!(
                                "`edge_ngrams.{key}` must be a non-negative integer"
                            ))
                        })
                };
                Some((bound("min")?, bound("max")?))
            }
        };
        TextSpec::new(name, &pairs, language, edge_ngrams)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_and_bad_definitions_are_named() {
        let spec = TextSpec::new(
            "t",
            &[("title", 2.0), ("body.text", 1.0)],
            Language::French,
            Some((2, 5)),
        )
        .unwrap();
        assert_eq!(TextSpec::from_config("t", &spec.to_config()).unwrap(), spec);
        let bad = Value::from_json_str(r#"{"fields": ["a"], "language": "klingon"}"#).unwrap();
        let err = TextSpec::from_config("t", &bad).unwrap_err().to_string();
        assert!(err.contains("language"), "{err}");
        let bad = Value::from_json_str(r#"{"fields": ["a"], "boosts": {"a": -1}}"#).unwrap();
        assert!(TextSpec::from_config("t", &bad).is_err());
        let bad = Value::from_json_str(r#"{"fields": ["a"], "boosts": {"b": 2}}"#).unwrap();
        assert!(TextSpec::from_config("t", &bad).is_err());
        assert!(TextSpec::new("t", &[("a", 1.0)], Language::English, Some((3, 2))).is_err());
    }
}
