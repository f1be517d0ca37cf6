//! Parsing a JSON pipeline (`[{"$match": ..}, {"$group": ..}]`) into typed [`Stage`]s. Errors
//! name the stage and field: `pipeline[2].$group.total.$sum`.

use cairn_doc::Value;

use super::bucket::Bucket;
use super::bucket_by_time::BucketByTime;
use super::facet::Facet;
use super::graph_lookup::GraphLookup;
use super::group::Group;
use super::lookup::Lookup;
use super::project::{AddFields, Project};
use super::replace_root::ReplaceRoot;
use super::sort_by_count::SortByCount;
use super::stage::{check_output_name, Stage, Unwind};
use crate::error::{QueryError, Result};
use crate::filter::Filter;
use crate::limits::MAX_PIPELINE_STAGES;
use crate::query::parse_sort;

/// The stage names the parser knows, for error messages.
const STAGE_NAMES: &str = "$match, $project, $addFields, $set, $group, $sort, $skip, $limit, \
     $unwind, $count, $lookup, $graphLookup, $replaceRoot, $replaceWith, $bucket, $bucketByTime, $sortByCount, \
     $facet";

/// Parses a pipeline: a JSON array of stage objects.
pub(super) fn parse_pipeline(json: &Value) -> Result<Vec<Stage>> {
    let items = json.as_array().ok_or_else(|| {
        QueryError::invalid(
            "pipeline",
            "expects an array of stages such as [{\"$match\": {..}}]",
        )
    })?;
    if items.len() > MAX_PIPELINE_STAGES {
        return Err(QueryError::invalid(
            "pipeline",
            format!("{} stages; the limit is {MAX_PIPELINE_STAGES}", items.len()),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| parse_stage(item, &format!("pipeline[{i}]")))
        .collect()
}

/// Parses one stage object (`{"$name": spec}`); `at` is its place (`pipeline[i]`).
pub(super) fn parse_stage(json: &Value, at: &str) -> Result<Stage> {
    let (name, spec) = json
        .as_object()
        .filter(|object| object.len() == 1)
        .and_then(|object| object.iter().next())
        .ok_or_else(|| {
            QueryError::invalid(
                at,
                "a stage is an object with exactly one key, such as {\"$match\": {..}}",
            )
        })?;
    let here = format!("{at}.{name}");
    Ok(match name {
        "$match" => Stage::Match(Filter::parse(spec).map_err(|err| rebase(err, "", &here))?),
        "$project" => Stage::Project(Project::parse(spec, &here)?),
        "$addFields" | "$set" => Stage::AddFields(AddFields::parse(spec, &here)?),
        "$group" => Stage::Group(Group::parse(spec, &here)?),
        "$sort" => Stage::Sort(parse_sort_stage(spec, &here)?),
        "$skip" => Stage::Skip(parse_count(spec, &here, 0)?),
        "$limit" => Stage::Limit(parse_count(spec, &here, 1)?),
        "$unwind" => Stage::Unwind(Unwind::parse(spec, &here)?),
        "$count" => Stage::Count(parse_count_name(spec, &here)?),
        "$lookup" => Stage::Lookup(Lookup::parse(spec, &here)?),
        "$graphLookup" => Stage::GraphLookup(GraphLookup::parse(spec, &here)?),
        "$replaceRoot" => Stage::ReplaceRoot(ReplaceRoot::parse(spec, &here)?),
        "$replaceWith" => Stage::ReplaceRoot(ReplaceRoot::parse_with(spec, &here)?),
        "$bucket" => Stage::Bucket(Bucket::parse(spec, &here)?),
        "$bucketByTime" => Stage::BucketByTime(BucketByTime::parse(spec, &here)?),
        "$sortByCount" => Stage::SortByCount(SortByCount::parse(spec, &here)?),
        "$facet" => Stage::Facet(Facet::parse(spec, &here)?),
        _ => {
            return Err(QueryError::invalid(
                here,
                format!("unknown stage; supported: {STAGE_NAMES}"),
            ))
        }
    })
}

/// Moves an [`QueryError::Invalid`] from a sub-parser's naming (`old_root...`, or a bare path
/// when `old_root` is empty) under `here`.
pub(super) fn rebase(err: QueryError, old_root: &str, here: &str) -> QueryError {
    let QueryError::Invalid { at, reason } = err else {
        return err;
    };
    let rest = if old_root.is_empty() {
        Some(at.as_str())
    } else {
        at.strip_prefix(old_root)
    };
    let at = match rest {
        Some("") => here.to_owned(),
        Some(rest) if rest.starts_with('.') || rest.starts_with('[') => format!("{here}{rest}"),
        Some(rest) => format!("{here}.{rest}"),
        None => format!("{here}.{at}"),
    };
    QueryError::Invalid { at, reason }
}

fn parse_sort_stage(spec: &Value, here: &str) -> Result<Vec<crate::query::SortKey>> {
    let keys = parse_sort(spec).map_err(|err| rebase(err, "sort", here))?;
    if keys.is_empty() {
        return Err(QueryError::invalid(here, "expects at least one sort field"));
    }
    Ok(keys)
}

/// A `$skip`/`$limit` count: an integer of at least `min`.
fn parse_count(spec: &Value, here: &str, min: i64) -> Result<usize> {
    spec.as_i64()
        .filter(|n| *n >= min)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| QueryError::invalid(here, format!("expects an integer of at least {min}")))
}

fn parse_count_name(spec: &Value, here: &str) -> Result<String> {
    let name = spec.as_str().ok_or_else(|| {
        QueryError::invalid(here, "expects the output field name, such as \"total\"")
    })?;
    check_output_name(name, here)?;
    Ok(name.to_owned())
}
