//! `$facet`: several sub-pipelines over the same input, their outputs gathered into one
//! document (`{"$facet": {"by_city": [{"$sortByCount": "$city"}], "total": [{"$count": "n"}]}}`
//! gives `{"by_city": [...], "total": [{"n": 42}]}`), as in MongoDB.
//!
//! Each input document streams into every sub-pipeline (no copy of the input is kept); the
//! sub-pipelines' blocking stages keep their own memory limits, and the gathered output, being
//! one document, is bounded by [`crate::limits::MAX_FACET_OUTPUT_BYTES`]. Exactly one document
//! comes out, even for no input (each field an empty array). A `$facet` inside a `$facet` is
//! refused, as MongoDB does; the stages of all sub-pipelines count towards
//! [`crate::limits::MAX_PIPELINE_STAGES`].

use cairn_doc::Value;

use super::parse::parse_stage;
use super::stage::{check_output_name, Stage};
use crate::error::{QueryError, Result};
use crate::limits::MAX_PIPELINE_STAGES;

/// A `$facet` stage: named sub-pipelines.
#[derive(Debug, Clone)]
pub struct Facet {
    pipelines: Vec<(String, Vec<Stage>)>,
}

impl Facet {
    /// Parses `{"<name>": [<stage>, ...], ...}`; `at` names its place.
    pub fn parse(json: &Value, at: &str) -> Result<Facet> {
        let object = json
            .as_object()
            .filter(|object| !object.is_empty())
            .ok_or_else(|| {
                QueryError::invalid(
                    at,
                    "expects an object of named sub-pipelines such as {\"total\": [{\"$count\": \"n\"}]}",
                )
            })?;
        let mut pipelines = Vec::with_capacity(object.len());
        let mut stage_count = 0usize;
        for (name, spec) in object.iter() {
            let here = format!("{at}.{name}");
            check_output_name(name, &here)?;
            let items = spec.as_array().ok_or_else(|| {
                QueryError::invalid(&here, "expects an array of stages (it may be empty)")
            })?;
            stage_count += items.len();
            if stage_count > MAX_PIPELINE_STAGES {
                return Err(QueryError::invalid(
                    at,
                    format!("its sub-pipelines have more than {MAX_PIPELINE_STAGES} stages in all"),
                ));
            }
            let mut stages = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let stage_at = format!("{here}[{i}]");
                let stage = parse_stage(item, &stage_at)?;
                if matches!(stage, Stage::Facet(_)) {
                    return Err(QueryError::invalid(
                        stage_at,
                        "a $facet cannot contain another $facet",
                    ));
                }
                stages.push(stage);
            }
            pipelines.push((name.to_owned(), stages));
        }
        Ok(Facet { pipelines })
    }

    /// The named sub-pipelines, in the order written.
    pub fn pipelines(&self) -> &[(String, Vec<Stage>)] {
        &self.pipelines
    }
}
