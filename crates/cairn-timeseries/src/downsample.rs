//! Downsampling: per series, the points of a range grouped into buckets of `every` time units
//! (aligned to multiples of `every`) and reduced by aggregates, with optional gap filling.
//!
//! Semantics (the tests compute the same naively):
//! * numbers: `avg` (a float, summed in time order), `sum` (`int` columns stay `int`, an
//!   overflow is [`TsError::SumOverflow`]; floats sum in time order), `min`/`max` (NaN is
//!   ignored; all NaN gives NaN; ints and floats mixed in one bucket compare as floats);
//! * vectors: every aggregate but `count` per component (all vectors of the bucket must have
//!   one dimension);
//! * strings and booleans: `count`, `first`, `last` only;
//! * `count` counts points where the field is present; `first`/`last` are those points'
//!   values as stored. A bucket with no such point is left out, or under [`Fill::Null`] given
//!   `None` for every aggregate, or under [`Fill::Previous`] the previous bucket's results.

use cairn_doc::Value;
use cairn_engine::Transaction;

use crate::error::{Result, TsError};
use crate::limits::MAX_DOWNSAMPLE_BUCKETS;
use crate::read::read_range;
use crate::sample::{Point, Sample};

/// An aggregate over the values of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// Arithmetic mean.
    Avg,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Sum.
    Sum,
    /// Number of values.
    Count,
    /// Value of the earliest point.
    First,
    /// Value of the latest point.
    Last,
}

impl Aggregate {
    /// Every aggregate, in the order the documentation lists them.
    pub const ALL: [Aggregate; 7] = [
        Aggregate::Avg,
        Aggregate::Min,
        Aggregate::Max,
        Aggregate::Sum,
        Aggregate::Count,
        Aggregate::First,
        Aggregate::Last,
    ];

    /// The aggregate named `name` (as [`Aggregate::name`] spells it), or
    /// [`TsError::InvalidQuery`] listing the names.
    pub fn parse(name: &str) -> Result<Aggregate> {
        Aggregate::ALL
            .into_iter()
            .find(|agg| agg.name() == name)
            .ok_or_else(|| TsError::InvalidQuery {
                reason: format!(
                    "unknown aggregate `{name}`; use avg, min, max, sum, count, first or last"
                ),
            })
    }

    /// The aggregate's name as the query language spells it.
    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Avg => "avg",
            Aggregate::Min => "min",
            Aggregate::Max => "max",
            Aggregate::Sum => "sum",
            Aggregate::Count => "count",
            Aggregate::First => "first",
            Aggregate::Last => "last",
        }
    }
}

/// What empty buckets become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// Empty buckets are left out.
    None,
    /// Empty buckets are present with `None` results.
    Null,
    /// Empty buckets repeat the previous bucket's results (`None` before the first).
    Previous,
}

impl Fill {
    /// The gap filling named `name` (`none`, `null` or `previous`), or
    /// [`TsError::InvalidQuery`].
    pub fn parse(name: &str) -> Result<Fill> {
        match name {
            "none" => Ok(Fill::None),
            "null" => Ok(Fill::Null),
            "previous" => Ok(Fill::Previous),
            _ => Err(TsError::InvalidQuery {
                reason: format!("unknown fill `{name}`; use none, null or previous"),
            }),
        }
    }
}

/// A downsampling request over one field.
#[derive(Debug, Clone, PartialEq)]
pub struct Downsample {
    /// Start of the range (inclusive).
    pub from: i64,
    /// End of the range (exclusive).
    pub to: i64,
    /// Bucket width, in the collection's time unit.
    pub every: i64,
    /// The field aggregated.
    pub field: String,
    /// The aggregates, in the order of each bucket's results.
    pub aggregates: Vec<Aggregate>,
    /// Gap filling.
    pub fill: Fill,
}

/// One bucket of a downsample.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// The bucket's start (a multiple of `every`).
    pub start: i64,
    /// One result per requested aggregate.
    pub values: Vec<Option<Sample>>,
}

/// Downsamples one series.
pub fn downsample(
    txn: &mut Transaction,
    collection: &str,
    series: &Value,
    request: &Downsample,
) -> Result<Vec<Bucket>> {
    check_request(request)?;
    let (points, _) = read_range(txn, collection, series, request.from, request.to)?;
    downsample_points(&points, request)
}

/// Downsamples every series of the collection (series in creation order).
pub fn downsample_all(
    txn: &mut Transaction,
    collection: &str,
    request: &Downsample,
) -> Result<Vec<(Value, Vec<Bucket>)>> {
    check_request(request)?;
    let mut out = Vec::new();
    for (series, _) in crate::read::latest(txn, collection)? {
        let buckets = downsample(txn, collection, &series, request)?;
        out.push((series, buckets));
    }
    Ok(out)
}

fn check_request(request: &Downsample) -> Result<()> {
    if request.every <= 0 {
        return Err(TsError::InvalidQuery {
            reason: "`every` must be positive".to_string(),
        });
    }
    if request.from >= request.to {
        return Err(TsError::InvalidQuery {
            reason: "the range is empty (from >= to)".to_string(),
        });
    }
    let buckets =
        (i128::from(request.to) - i128::from(request.from)) / i128::from(request.every) + 1;
    if buckets > i128::from(MAX_DOWNSAMPLE_BUCKETS) {
        return Err(TsError::LimitExceeded {
            what: "buckets in one downsample",
            actual: u64::try_from(buckets).unwrap_or(u64::MAX),
            limit: MAX_DOWNSAMPLE_BUCKETS,
        });
    }
    Ok(())
}

/// The bucket start of `t`: the multiple of `every` at or below it (clamped to `i64::MIN`).
pub fn bucket_start(t: i64, every: i64) -> i64 {
    (i128::from(t.div_euclid(every)) * i128::from(every)).max(i128::from(i64::MIN)) as i64
}

/// Downsamples points already read (sorted by time, all within the request's range).
pub fn downsample_points(points: &[Point], request: &Downsample) -> Result<Vec<Bucket>> {
    let mut out: Vec<Bucket> = Vec::new();
    let mut previous: Option<Vec<Option<Sample>>> = None;
    let first = bucket_start(request.from, request.every);
    let mut start = i128::from(first);
    let mut i = 0;
    while start < i128::from(request.to) {
        let end = start + i128::from(request.every);
        let from = i;
        while i < points.len() && i128::from(points[i].time) < end {
            i += 1;
        }
        let values: Vec<&Sample> = points[from..i]
            .iter()
            .filter_map(|p| p.fields.get(&request.field))
            .collect();
        let bucket_start = start as i64;
        if values.is_empty() {
            match request.fill {
                Fill::None => {}
                Fill::Null => out.push(Bucket {
                    start: bucket_start,
                    values: vec![None; request.aggregates.len()],
                }),
                Fill::Previous => out.push(Bucket {
                    start: bucket_start,
                    values: previous
                        .clone()
                        .unwrap_or_else(|| vec![None; request.aggregates.len()]),
                }),
            }
        } else {
            let results = request
                .aggregates
                .iter()
                .map(|agg| aggregate(&values, *agg, &request.field).map(Some))
                .collect::<Result<Vec<_>>>()?;
            previous = Some(results.clone());
            out.push(Bucket {
                start: bucket_start,
                values: results,
            });
        }
        start = end;
    }
    Ok(out)
}

/// Reduces the values of one bucket (at least one) by one aggregate.
pub fn aggregate(values: &[&Sample], agg: Aggregate, field: &str) -> Result<Sample> {
    let unsupported = |kind| TsError::UnsupportedAggregate {
        aggregate: agg.name(),
        kind,
        field: field.to_string(),
    };
    match agg {
        Aggregate::Count => return Ok(Sample::Int(values.len() as i64)),
        Aggregate::First => {
            return values
                .first()
                .map(|s| (*s).clone())
                .ok_or_else(|| unsupported("empty"))
        }
        Aggregate::Last => {
            return values
                .last()
                .map(|s| (*s).clone())
                .ok_or_else(|| unsupported("empty"))
        }
        _ => {}
    }
    if let Some(Sample::Vector(first)) = values.first() {
        return aggregate_vectors(values, first.len(), agg, field);
    }
    if values.iter().all(|s| matches!(s, Sample::Int(_))) {
        let ints: Vec<i64> = values
            .iter()
            .map(|s| if let Sample::Int(x) = s { *x } else { 0 })
            .collect();
        return aggregate_ints(&ints, agg, field);
    }
    let floats = values
        .iter()
        .map(|s| match s {
            Sample::Float(x) => Ok(*x),
            Sample::Int(x) => Ok(*x as f64),
            other => Err(unsupported(other.kind_name())),
        })
        .collect::<Result<Vec<f64>>>()?;
    Ok(Sample::Float(aggregate_floats(&floats, agg)))
}

fn aggregate_ints(values: &[i64], agg: Aggregate, field: &str) -> Result<Sample> {
    let overflow = || TsError::SumOverflow {
        field: field.to_string(),
    };
    Ok(match agg {
        Aggregate::Min => Sample::Int(values.iter().copied().min().unwrap_or(0)),
        Aggregate::Max => Sample::Int(values.iter().copied().max().unwrap_or(0)),
        Aggregate::Sum => Sample::Int(
            values
                .iter()
                .try_fold(0i64, |acc, x| acc.checked_add(*x))
                .ok_or_else(overflow)?,
        ),
        _ => {
            let sum: i128 = values.iter().map(|x| i128::from(*x)).sum();
            Sample::Float(sum as f64 / values.len() as f64)
        }
    })
}

/// Float aggregates other than count/first/last.
fn aggregate_floats(values: &[f64], agg: Aggregate) -> f64 {
    let bounds = || crate::chunk::float_bounds(values.iter().copied());
    match agg {
        Aggregate::Min => bounds().map_or(f64::NAN, |b| b.0),
        Aggregate::Max => bounds().map_or(f64::NAN, |b| b.1),
        Aggregate::Sum => values.iter().fold(0.0, |acc, x| acc + x),
        _ => values.iter().fold(0.0, |acc, x| acc + x) / values.len() as f64,
    }
}

fn aggregate_vectors(
    values: &[&Sample],
    dim: usize,
    agg: Aggregate,
    field: &str,
) -> Result<Sample> {
    let mut components = vec![Vec::with_capacity(values.len()); dim];
    for sample in values {
        let Sample::Vector(v) = sample else {
            return Err(TsError::UnsupportedAggregate {
                aggregate: agg.name(),
                kind: "mixed vector and scalar",
                field: field.to_string(),
            });
        };
        if v.len() != dim {
            return Err(TsError::DimensionMismatch {
                field: field.to_string(),
                left: dim,
                right: v.len(),
            });
        }
        for (c, x) in components.iter_mut().zip(v) {
            c.push(*x);
        }
    }
    Ok(Sample::Vector(
        components
            .iter()
            .map(|c| aggregate_floats(c, agg))
            .collect(),
    ))
}
