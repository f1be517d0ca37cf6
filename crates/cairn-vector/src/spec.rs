//! Vector index definitions and how they are stored in the catalog (the extension's config).

use cairn_doc::{FieldPath, Object, Value};

use crate::error::{Result, VectorError};
use crate::limits::{
    DEFAULT_EF_CONSTRUCTION, DEFAULT_EF_SEARCH, DEFAULT_M, MAX_DIMS, MAX_EF, MAX_M, MIN_M,
};
use crate::metric::Metric;

/// The storage layout this build reads and writes (`store.rs`). Stored in every definition,
/// so an index of another layout is refused by name instead of read wrong.
pub const LAYOUT: &str = "hnsw-v1";

/// The HNSW parameters of one index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HnswParams {
    /// Neighbours per node on layers above 0; layer 0 keeps `2·m`.
    pub m: usize,
    /// Candidate list size while inserting.
    pub ef_construction: usize,
    /// Default candidate list size while searching (a search may override it).
    pub ef_search: usize,
}

impl Default for HnswParams {
    fn default() -> HnswParams {
        HnswParams {
            m: DEFAULT_M,
            ef_construction: DEFAULT_EF_CONSTRUCTION,
            ef_search: DEFAULT_EF_SEARCH,
        }
    }
}

impl HnswParams {
    /// Most neighbours a node keeps on `layer`.
    pub fn max_neighbours(&self, layer: usize) -> usize {
        if layer == 0 {
            2 * self.m
        } else {
            self.m
        }
    }
}

/// A vector index definition: one field holding vectors of a fixed dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSpec {
    /// The index name (unique within its collection, shared with other extensions).
    pub name: String,
    /// The indexed field.
    pub field: FieldPath,
    /// The dimension every vector must have.
    pub dims: usize,
    /// The distance.
    pub metric: Metric,
    /// Graph parameters.
    pub params: HnswParams,
}

impl VectorSpec {
    /// Builds and validates a definition with default HNSW parameters.
    pub fn new(name: &str, field: &str, dims: usize, metric: Metric) -> Result<VectorSpec> {
        VectorSpec::with_params(name, field, dims, metric, HnswParams::default())
    }

    /// Builds and validates a definition.
    pub fn with_params(
        name: &str,
        field: &str,
        dims: usize,
        metric: Metric,
        params: HnswParams,
    ) -> Result<VectorSpec> {
        let invalid = |reason: String| VectorError::InvalidDefinition {
            name: name.to_string(),
            reason,
        };
        let field_path =
            FieldPath::parse(field).map_err(|err| invalid(format!("field `{field}`: {err}")))?;
        if dims == 0 || dims > MAX_DIMS {
            return Err(invalid(format!(
                "dims is {dims}; it must be between 1 and {MAX_DIMS}"
            )));
        }
        if !(MIN_M..=MAX_M).contains(&params.m) {
            return Err(invalid(format!(
                "m is {}; it must be between {MIN_M} and {MAX_M}",
                params.m
            )));
        }
        for (what, ef) in [
            ("ef_construction", params.ef_construction),
            ("ef_search", params.ef_search),
        ] {
            if !(1..=MAX_EF).contains(&ef) {
                return Err(invalid(format!(
                    "{what} is {ef}; it must be between 1 and {MAX_EF}"
                )));
            }
        }
        Ok(VectorSpec {
            name: name.to_string(),
            field: field_path,
            dims,
            metric,
            params,
        })
    }

    /// The definition as stored in the catalog.
    pub fn to_config(&self) -> Value {
        let mut object = Object::new();
        object.insert("field", Value::String(self.field.to_string()));
        object.insert("dims", Value::Int(self.dims as i64));
        object.insert("metric", Value::String(self.metric.name().to_string()));
        object.insert("m", Value::Int(self.params.m as i64));
        object.insert(
            "ef_construction",
            Value::Int(self.params.ef_construction as i64),
        );
        object.insert("ef_search", Value::Int(self.params.ef_search as i64));
        object.insert("layout", Value::String(LAYOUT.to_string()));
        Value::Object(object)
    }

    /// Reads a definition back: a stored one, or one given by a user (where `m`,
    /// `ef_construction`, `ef_search` and `layout` may be left out for their defaults).
    pub fn from_config(name: &str, config: &Value) -> Result<VectorSpec> {
        let invalid = |reason: String| VectorError::InvalidDefinition {
            name: name.to_string(),
            reason,
        };
        let object = config
            .as_object()
            .ok_or_else(|| invalid("the definition must be an object".into()))?;
        if let Some(layout) = object.get("layout") {
            if layout.as_str() != Some(LAYOUT) {
                return Err(invalid(format!(
                    "the index is stored in layout {layout:?}, this build reads `{LAYOUT}`: \
                     drop the index and create it again"
                )));
            }
        }
        let field = object
            .get("field")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("`field` must be a string".into()))?;
        let metric_name = object
            .get("metric")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("`metric` must be a string".into()))?;
        let metric = Metric::parse(metric_name).ok_or_else(|| {
            invalid(format!(
                "metric `{metric_name}` is unknown; use cosine, dot, l2 or poincare"
            ))
        })?;
        let number = |key: &str, default: Option<usize>| -> Result<usize> {
            match object.get(key) {
                None => default.ok_or_else(|| invalid(format!("`{key}` is required"))),
                Some(value) => value
                    .as_i64()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| invalid(format!("`{key}` must be a non-negative integer"))),
            }
        };
        let params = HnswParams {
            m: number("m", Some(DEFAULT_M))?,
            ef_construction: number("ef_construction", Some(DEFAULT_EF_CONSTRUCTION))?,
            ef_search: number("ef_search", Some(DEFAULT_EF_SEARCH))?,
        };
        let dims = number("dims", None)?;
        VectorSpec::with_params(name, field, dims, metric, params)
    }

    /// The indexed field as written (`a.b`).
    pub fn field_name(&self) -> String {
        self.field.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_definition_survives_the_catalog_round_trip() {
        let params = HnswParams {
            m: 8,
            ef_construction: 40,
            ef_search: 20,
        };
        let spec =
            VectorSpec::with_params("by_emb", "a.emb", 3, Metric::Poincare, params).expect("valid");
        let back = VectorSpec::from_config("by_emb", &spec.to_config()).expect("reads back");
        assert_eq!(spec, back);
    }

    #[test]
    fn bad_definitions_are_refused_with_the_reason() {
        let err = |s: &str| {
            VectorSpec::from_config("v", &Value::from_json_str(s).expect("json"))
                .unwrap_err()
                .to_string()
        };
        assert!(err(r#"{"field": "e", "metric": "cosine"}"#).contains("`dims` is required"));
        assert!(err(r#"{"field": "e", "dims": 0, "metric": "l2"}"#).contains("dims is 0"));
        assert!(err(r#"{"field": "e", "dims": 3, "metric": "manhattan"}"#).contains("unknown"));
        assert!(err(r#"{"field": "e", "dims": 3, "metric": "l2", "m": 1}"#).contains("m is 1"));
        assert!(
            err(r#"{"field": "e", "dims": 3, "metric": "l2", "layout": "x"}"#).contains("layout")
        );
    }
}
