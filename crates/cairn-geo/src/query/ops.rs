//! The geometric operators of the filter language.
//!
//! ```text
//! {"f": {"$withinDistance": {"shape": G, "distance": r}}}   exact distance(f, G) <= r
//! {"f": {"$intersects": G}}                                  f and G share a point
//! {"f": {"$within": G}}                                      f inside G (box, sphere, closed mesh)
//! {"f": {"$near": {"shape": G, "k": 10, "maxDistance": r, "distanceField": "d"}}}
//! ```
//!
//! `G` is a geometry (`{"$geometry": {...}}`) or WKT/EWKT text. Like every operator they look
//! at each value the path reaches and at the elements of reached arrays; non-geometries never
//! match. `$near` selects the `k` documents nearest to `G` (exact distance, ties by `_id`)
//! among those matching the rest of the filter, returns them nearest first (unless a sort is
//! given) and writes each distance into `distanceField` (default `_distance`); it must be a
//! top-level condition, at most one per query (`cairn_query::ranked`).
//!
//! Each is a [`FieldOperator`] (registered with the query layer by [`super::GeoModel`]):
//! [`FieldOperator::holds`] is the exact test every plan re-checks, and `$near` ranks by
//! exact distance ([`FieldOperator::rank`]).

use std::any::Any;

use cairn_doc::{Geometry, Value};
use cairn_query::access::{operand_options, FieldOperator, Ranking};
use cairn_query::limits::MAX_NEAR_K;
use cairn_query::{QueryError, Result};

use crate::{distance, intersects, is_closed, within};

/// Default name of the field `$near` writes each result's distance into.
pub const DEFAULT_DISTANCE_FIELD: &str = "_distance";

/// A geometric condition.
#[derive(Debug, Clone)]
pub enum GeoOp {
    /// Exact distance at most `max`.
    WithinDistance {
        /// The query shape.
        shape: Geometry,
        /// The largest distance that matches.
        max: f64,
    },
    /// Shares a point with `shape`.
    Intersects {
        /// The query shape.
        shape: Geometry,
    },
    /// Lies inside `region` (a box, a sphere or a closed mesh).
    Within {
        /// The region.
        region: Geometry,
    },
    /// The `k` nearest.
    Near {
        /// The query shape.
        shape: Geometry,
        /// Farther documents never match.
        max: Option<f64>,
        /// How many, and where each result's distance is written.
        ranking: Ranking,
    },
}

impl GeoOp {
    /// `$near`: the `k` nearest to `shape` (within `max`), each result's distance written
    /// into `distance_field`.
    pub fn near(shape: Geometry, k: usize, max: Option<f64>, distance_field: &str) -> GeoOp {
        GeoOp::Near {
            shape,
            max,
            ranking: Ranking {
                k,
                output_field: distance_field.to_string(),
            },
        }
    }
}

impl FieldOperator for GeoOp {
    fn name(&self) -> &str {
        match self {
            GeoOp::WithinDistance { .. } => "$withinDistance",
            GeoOp::Intersects { .. } => "$intersects",
            GeoOp::Within { .. } => "$within",
            GeoOp::Near { .. } => "$near",
        }
    }

    fn holds(&self, value: &Value) -> bool {
        GeoOp::holds(self, value)
    }

    fn ranking(&self) -> Option<&Ranking> {
        match self {
            GeoOp::Near { ranking, .. } => Some(ranking),
            _ => None,
        }
    }

    fn rank(&self, value: &Value) -> Option<f64> {
        match value {
            Value::Geometry(g) => Some(distance(g, self.shape())),
            _ => None,
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl GeoOp {
    /// Whether one reached value satisfies the condition (`$near`: whether it is a geometry,
    /// within `maxDistance` if given; the nearest-k selection happens in `find`).
    pub fn holds(&self, value: &Value) -> bool {
        let Value::Geometry(g) = value else {
            return false;
        };
        match self {
            GeoOp::WithinDistance { shape, max } => distance(g, shape) <= *max,
            GeoOp::Intersects { shape } => intersects(g, shape),
            // Regions are validated when parsed, so `within` cannot fail here.
            GeoOp::Within { region } => within(g, region).unwrap_or(false),
            GeoOp::Near { shape, max, .. } => max.is_none_or(|m| distance(g, shape) <= m),
        }
    }

    /// The query shape.
    pub fn shape(&self) -> &Geometry {
        match self {
            GeoOp::WithinDistance { shape, .. }
            | GeoOp::Intersects { shape }
            | GeoOp::Near { shape, .. } => shape,
            GeoOp::Within { region } => region,
        }
    }
}

fn geometry(operand: &Value, place: &str) -> Result<Geometry> {
    match operand {
        Value::Geometry(g) => Ok((**g).clone()),
        Value::String(text) => crate::from_wkt(text)
            .map_err(|err| QueryError::invalid(place, format!("bad WKT: {err}"))),
        other => Err(QueryError::invalid(
            place,
            format!(
                "expects a geometry ({{\"$geometry\": ...}} or WKT text), found {}",
                other.type_name()
            ),
        )),
    }
}

fn number(operand: Option<&Value>, place: &str, name: &str) -> Result<f64> {
    let value = operand
        .and_then(Value::as_f64)
        .ok_or_else(|| QueryError::invalid(place, format!("`{name}` must be a number")))?;
    if value.is_nan() || value < 0.0 || value.is_infinite() {
        return Err(QueryError::invalid(
            place,
            format!("`{name}` must be finite and at least 0"),
        ));
    }
    Ok(value)
}

/// Parses the operand of a geometric operator `key` (`$withinDistance`, `$intersects`,
/// `$within`, `$near`); `None` when `key` is not one.
pub fn parse(key: &str, operand: &Value, place: &str) -> Option<Result<GeoOp>> {
    let parsed = match key {
        "$withinDistance" => (|| {
            let o = operand_options(operand, key, &["shape", "distance"], place)?;
            let shape = o
                .get("shape")
                .ok_or_else(|| QueryError::invalid(place, "missing `shape`"))?;
            Ok(GeoOp::WithinDistance {
                shape: geometry(shape, place)?,
                max: number(o.get("distance"), place, "distance")?,
            })
        })(),
        "$intersects" => geometry(operand, place).map(|shape| GeoOp::Intersects { shape }),
        "$within" => geometry(operand, place).and_then(|region| {
            let ok = match &region {
                Geometry::Box { .. } | Geometry::Sphere { .. } => true,
                Geometry::Mesh(mesh) => is_closed(mesh),
                _ => false,
            };
            if !ok {
                return Err(QueryError::invalid(
                    place,
                    format!(
                        "`$within` takes a box, a sphere or a closed mesh, found a {}{}",
                        if matches!(region, Geometry::Mesh(_)) {
                            "n open "
                        } else {
                            " "
                        },
                        region.type_name()
                    ),
                ));
            }
            Ok(GeoOp::Within { region })
        }),
        "$near" => (|| {
            let o = operand_options(
                operand,
                key,
                &["shape", "k", "maxDistance", "distanceField"],
                place,
            )?;
            let shape = o
                .get("shape")
                .ok_or_else(|| QueryError::invalid(place, "missing `shape`"))?;
            let k = match o.get("k") {
                Some(Value::Int(k)) if *k >= 1 && (*k as u64) <= MAX_NEAR_K as u64 => *k as usize,
                _ => {
                    return Err(QueryError::invalid(
                        place,
                        format!("`k` must be an integer from 1 to {MAX_NEAR_K}"),
                    ))
                }
            };
            let max = match o.get("maxDistance") {
                None => None,
                some => Some(number(some, place, "maxDistance")?),
            };
            let distance_field = match o.get("distanceField") {
                None => DEFAULT_DISTANCE_FIELD.to_string(),
                Some(Value::String(name)) => {
                    cairn_doc::check_field_name(name).map_err(|err| {
                        QueryError::invalid(place, format!("`distanceField`: {err}"))
                    })?;
                    name.clone()
                }
                Some(_) => {
                    return Err(QueryError::invalid(
                        place,
                        "`distanceField` must be a field name",
                    ))
                }
            };
            Ok(GeoOp::Near {
                shape: geometry(shape, place)?,
                max,
                ranking: Ranking {
                    k,
                    output_field: distance_field,
                },
            })
        })(),
        _ => return None,
    };
    Some(parsed)
}
