//! The stages of a pipeline as typed values, and the per-document `$unwind`.

use cairn_doc::{FieldPath, Object, Value};

use super::bucket::Bucket;
use super::bucket_by_time::BucketByTime;
use super::expr::set_path;
use super::facet::Facet;
use super::graph_lookup::GraphLookup;
use super::group::Group;
use super::lookup::Lookup;
use super::project::{AddFields, Project};
use super::replace_root::ReplaceRoot;
use super::sort_by_count::SortByCount;
use crate::error::{QueryError, Result};
use crate::filter::Filter;
use crate::query::SortKey;

/// One stage of a pipeline.
#[derive(Debug, Clone)]
pub enum Stage {
    /// `$match`: keeps the documents the filter matches. At the front of a pipeline it is
    /// answered with indexes.
    Match(Filter),
    /// `$project`: reshapes each document.
    Project(Project),
    /// `$addFields` / `$set`: adds computed fields.
    AddFields(AddFields),
    /// `$group`: one document per distinct key.
    Group(Group),
    /// `$sort`: orders the documents (stable; ties keep their input order).
    Sort(Vec<SortKey>),
    /// `$skip`: drops the first n documents.
    Skip(usize),
    /// `$limit`: passes at most n documents.
    Limit(usize),
    /// `$unwind`: one document per element of an array field.
    Unwind(Unwind),
    /// `$count`: one document `{<name>: <number of documents>}` (none when there are none).
    Count(String),
    /// `$lookup`: an equality join with another collection.
    Lookup(Lookup),
    /// `$graphLookup`: a recursive search of another collection.
    GraphLookup(GraphLookup),
    /// `$replaceRoot` / `$replaceWith`: each document replaced by a computed object.
    ReplaceRoot(ReplaceRoot),
    /// `$bucket`: documents grouped into ranges of a value.
    Bucket(Bucket),
    /// `$bucketByTime`: documents grouped into fixed time buckets (downsampling).
    BucketByTime(BucketByTime),
    /// `$sortByCount`: a count per value, most frequent first.
    SortByCount(SortByCount),
    /// `$facet`: sub-pipelines over the same input, gathered into one document.
    Facet(Facet),
}

impl Stage {
    /// The stage's name in the pipeline language (`$match`...).
    pub fn name(&self) -> &'static str {
        match self {
            Stage::Match(_) => "$match",
            Stage::Project(_) => "$project",
            Stage::AddFields(_) => "$addFields",
            Stage::Group(_) => "$group",
            Stage::Sort(_) => "$sort",
            Stage::Skip(_) => "$skip",
            Stage::Limit(_) => "$limit",
            Stage::Unwind(_) => "$unwind",
            Stage::Count(_) => "$count",
            Stage::Lookup(_) => "$lookup",
            Stage::GraphLookup(_) => "$graphLookup",
            Stage::ReplaceRoot(_) => "$replaceRoot",
            Stage::Bucket(_) => "$bucket",
            Stage::BucketByTime(_) => "$bucketByTime",
            Stage::SortByCount(_) => "$sortByCount",
            Stage::Facet(_) => "$facet",
        }
    }

    /// The collections other than the source this stage reads (`$lookup`'s and
    /// `$graphLookup`'s `from`, inside `$facet` sub-pipelines too), which a caller checks
    /// access to: one place, so a new joining stage cannot slip past the check.
    pub fn foreign_collections(&self) -> Vec<&str> {
        match self {
            Stage::Lookup(lookup) => vec![lookup.from()],
            Stage::GraphLookup(search) => vec![search.from()],
            Stage::Facet(facet) => facet
                .pipelines()
                .iter()
                .flat_map(|(_, stages)| stages.iter().flat_map(Stage::foreign_collections))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Checks a name the pipeline writes into its output documents (`$group` fields, `$count`).
pub(super) fn check_output_name(name: &str, at: &str) -> Result<()> {
    if name.is_empty() || name.starts_with('$') || name.contains('.') {
        return Err(QueryError::invalid(
            at,
            "an output field name must be non-empty, not start with `$` and contain no `.`",
        ));
    }
    Ok(())
}

/// An `$unwind` stage: one output document per element of the array at `path`.
///
/// A non-array value passes as if it were a one-element array. Null, missing and empty arrays
/// drop the document unless `preserve_null_and_empty` is set (then it passes unchanged, an
/// empty array removed).
#[derive(Debug, Clone)]
pub struct Unwind {
    path: FieldPath,
    preserve_null_and_empty: bool,
    index_field: Option<FieldPath>,
}

/// What `$unwind` makes of one document.
pub(super) enum Unwound {
    /// Nothing passes.
    Drop,
    /// One document passes.
    One(Value),
    /// One document per element: the document (its array emptied) and the elements.
    Many(Value, Vec<Value>),
}

impl Unwind {
    /// Unwinds the array at `path` (without the leading `$`).
    pub fn new(path: &str) -> Result<Unwind> {
        let path =
            FieldPath::parse(path).map_err(|err| QueryError::invalid(path, err.to_string()))?;
        Ok(Unwind {
            path,
            preserve_null_and_empty: false,
            index_field: None,
        })
    }

    /// Builder: keep documents whose array is null, missing or empty.
    pub fn preserve_null_and_empty(mut self, preserve: bool) -> Unwind {
        self.preserve_null_and_empty = preserve;
        self
    }

    /// Parses `"$path"` or `{"path": "$path", "preserveNullAndEmptyArrays": bool,
    /// "includeArrayIndex": "name"}`; `at` names its place.
    pub fn parse(json: &Value, at: &str) -> Result<Unwind> {
        let (path, options) = match json {
            Value::String(path) => (path.as_str(), None),
            Value::Object(object) => {
                let path = object.get("path").and_then(Value::as_str);
                let path = path.ok_or_else(|| {
                    QueryError::invalid(format!("{at}.path"), "is required: \"$field\"")
                })?;
                (path, Some(object))
            }
            _ => {
                return Err(QueryError::invalid(
                    at,
                    "expects \"$field\" or {\"path\": \"$field\"}",
                ))
            }
        };
        let path_at = if options.is_some() {
            format!("{at}.path")
        } else {
            at.to_owned()
        };
        let bare = path
            .strip_prefix('$')
            .ok_or_else(|| QueryError::invalid(&path_at, "a path to unwind starts with `$`"))?;
        let mut unwind =
            Unwind::new(bare).map_err(|err| super::parse::rebase(err, bare, &path_at))?;
        for (key, value) in options.iter().flat_map(|object| object.iter()) {
            let here = format!("{at}.{key}");
            match (key, value) {
                ("path", _) => {}
                ("preserveNullAndEmptyArrays", Value::Bool(on)) => {
                    unwind.preserve_null_and_empty = *on
                }
                ("includeArrayIndex", Value::String(name)) => {
                    check_output_name(name, &here)?;
                    unwind.index_field = Some(
                        FieldPath::parse(name)
                            .map_err(|err| QueryError::invalid(&here, err.to_string()))?,
                    );
                }
                ("preserveNullAndEmptyArrays", _) => {
                    return Err(QueryError::invalid(here, "expects true or false"))
                }
                ("includeArrayIndex", _) => {
                    return Err(QueryError::invalid(here, "expects a field name"))
                }
                _ => return Err(QueryError::invalid(here, "unknown option")),
            }
        }
        Ok(unwind)
    }

    /// Splits one document.
    pub(super) fn split(&self, mut doc: Value) -> Unwound {
        let items = match self.path.get_mut(&mut doc) {
            Some(Value::Array(items)) if !items.is_empty() => std::mem::take(items),
            Some(Value::Array(_)) => return self.unmatched(doc, true),
            Some(Value::Null) | None => return self.unmatched(doc, false),
            Some(_) => return Unwound::One(self.with_index(doc, None)),
        };
        Unwound::Many(doc, items)
    }

    /// The output document for element `index` of a [`Unwound::Many`].
    pub(super) fn element(&self, base: &Value, item: Value, index: usize) -> Value {
        let mut doc = base.clone();
        // `split` left the (emptied) array in place, so the path still reaches it.
        if let Some(slot) = self.path.get_mut(&mut doc) {
            *slot = item;
        }
        self.with_index(doc, Some(index))
    }

    fn unmatched(&self, mut doc: Value, empty_array: bool) -> Unwound {
        if !self.preserve_null_and_empty {
            return Unwound::Drop;
        }
        if let (true, Some(object)) = (empty_array, doc.as_object_mut()) {
            remove_path(object, self.path.segments());
        }
        Unwound::One(self.with_index(doc, None))
    }

    fn with_index(&self, mut doc: Value, index: Option<usize>) -> Value {
        if let (Some(field), Some(object)) = (&self.index_field, doc.as_object_mut()) {
            let index = index.map_or(Value::Null, |i| {
                Value::Int(i64::try_from(i).unwrap_or(i64::MAX))
            });
            set_path(object, field.segments(), index);
        }
        doc
    }
}

fn remove_path(object: &mut Object, segments: &[String]) {
    match segments {
        [] => {}
        [last] => {
            object.remove(last);
        }
        [first, rest @ ..] => {
            if let Some(Value::Object(inner)) = object.get_mut(first) {
                remove_path(inner, rest);
            }
        }
    }
}
