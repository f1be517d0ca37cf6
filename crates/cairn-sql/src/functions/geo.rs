//! PostGIS-style geometry functions on geometry columns (which read as WKT text,
//! `crate::types`), computed with Cairn's exact 3D geometry (`cairn::geo`):
//!
//! * `st_geomfromtext(wkt)`: a geometry from WKT or EWKT (an `SRID=…;` prefix is dropped),
//!   in Cairn's canonical WKT; bad text is an error (`22023`) naming what is wrong.
//! * `st_astext(geom)`: a geometry's WKT (canonical).
//! * `st_3ddistance(a, b)`: the exact 3D distance between two geometries (`double`), the
//!   distance `$near` ranks by.
//! * `st_3ddwithin(a, b, d)`: whether that distance is at most `d`, the test of
//!   `$withinDistance`.
//!
//! NULL in, NULL out. `ORDER BY st_3ddistance(geom, '…') LIMIT k` is answered by Cairn's
//! `$near` (`super::rank`), and `WHERE st_3ddwithin(geom, '…', d)` is pushed into Cairn as
//! `$withinDistance` (`super::pushdown`), both served by a spatial index when there is one.

use std::sync::Arc;

use cairn::geo::{distance, from_wkt, to_wkt};
use cairn::Geometry;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::error::SqlError;

/// `st_geomfromtext(wkt)`.
pub const ST_GEOMFROMTEXT: &str = "st_geomfromtext";
/// `st_astext(geom)`.
pub const ST_ASTEXT: &str = "st_astext";
/// `st_3ddistance(a, b)`.
pub const ST_3DDISTANCE: &str = "st_3ddistance";
/// `st_3ddwithin(a, b, d)`.
pub const ST_3DDWITHIN: &str = "st_3ddwithin";

/// What a geometry function computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum GeoFn {
    FromText,
    AsText,
    Distance,
    DWithin,
}

/// One geometry function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct GeoFunction {
    name: &'static str,
    function: GeoFn,
    signature: Signature,
}

/// The geometry functions.
pub fn udfs() -> Vec<ScalarUDF> {
    let text = || Signature::exact(vec![DataType::Utf8], Volatility::Immutable);
    let pair = || Signature::exact(vec![DataType::Utf8, DataType::Utf8], Volatility::Immutable);
    [
        (ST_GEOMFROMTEXT, GeoFn::FromText, text()),
        (ST_ASTEXT, GeoFn::AsText, text()),
        (ST_3DDISTANCE, GeoFn::Distance, pair()),
        (
            ST_3DDWITHIN,
            GeoFn::DWithin,
            Signature::exact(
                vec![DataType::Utf8, DataType::Utf8, DataType::Float64],
                Volatility::Immutable,
            ),
        ),
    ]
    .into_iter()
    .map(|(name, function, signature)| {
        ScalarUDF::new_from_impl(GeoFunction {
            name,
            function,
            signature,
        })
    })
    .collect()
}

impl ScalarUDFImpl for GeoFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(match self.function {
            GeoFn::FromText | GeoFn::AsText => DataType::Utf8,
            GeoFn::Distance => DataType::Float64,
            GeoFn::DWithin => DataType::Boolean,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let name = self.name;
        let mut geometries = Vec::with_capacity(2);
        for arg in args.args.iter().take(2) {
            geometries.push(GeoArg::new(name, arg, rows)?);
        }
        let array: ArrayRef = match self.function {
            GeoFn::FromText | GeoFn::AsText => {
                let g = &geometries[0];
                let mut out = Vec::with_capacity(rows);
                for i in 0..rows {
                    out.push(match g.at(name, i)? {
                        Some(geometry) => Some(wkt_of(name, &geometry)?),
                        None => None,
                    });
                }
                Arc::new(StringArray::from(out))
            }
            GeoFn::Distance => Arc::new(Float64Array::from(distances(name, &geometries, rows)?)),
            GeoFn::DWithin => {
                let limits = args
                    .args
                    .get(2)
                    .map(|a| a.to_array(rows))
                    .transpose()?
                    .ok_or_else(|| invalid(name, "takes two geometries and a distance".into()))?;
                let limits = datafusion::arrow::compute::cast(&limits, &DataType::Float64)?;
                let limits = limits.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
                let out: BooleanArray = distances(name, &geometries, rows)?
                    .into_iter()
                    .enumerate()
                    .map(|(i, d)| match (d, limits.is_null(i)) {
                        (Some(d), false) => Some(d <= limits.value(i)),
                        _ => None,
                    })
                    .collect();
                Arc::new(out)
            }
        };
        Ok(ColumnarValue::Array(array))
    }
}

fn distances(name: &str, geometries: &[GeoArg], rows: usize) -> DfResult<Vec<Option<f64>>> {
    let (Some(a), Some(b)) = (geometries.first(), geometries.get(1)) else {
        return Err(invalid(name, "takes two geometries".into()));
    };
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        out.push(match (a.at(name, i)?, b.at(name, i)?) {
            (Some(x), Some(y)) => Some(distance(&x, &y)),
            _ => None,
        });
    }
    Ok(out)
}

/// A geometry argument: a constant parsed once, or a column parsed per row.
enum GeoArg {
    Constant(Option<Arc<Geometry>>),
    Column(ArrayRef),
}

impl GeoArg {
    fn new(name: &str, arg: &ColumnarValue, rows: usize) -> DfResult<GeoArg> {
        Ok(match arg {
            ColumnarValue::Scalar(scalar) => GeoArg::Constant(match text_of(scalar) {
                Some(text) => Some(Arc::new(parse(name, &text)?)),
                None => None,
            }),
            ColumnarValue::Array(_) => {
                let array = arg.to_array(rows)?;
                GeoArg::Column(datafusion::arrow::compute::cast(&array, &DataType::Utf8)?)
            }
        })
    }

    fn at(&self, name: &str, i: usize) -> DfResult<Option<Arc<Geometry>>> {
        match self {
            GeoArg::Constant(g) => Ok(g.clone()),
            GeoArg::Column(array) if array.is_null(i) => Ok(None),
            GeoArg::Column(array) => Ok(Some(Arc::new(parse(
                name,
                array.as_string::<i32>().value(i),
            )?))),
        }
    }
}

fn text_of(scalar: &ScalarValue) -> Option<String> {
    match scalar {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Some(s.clone()),
        _ => None,
    }
}

/// A geometry from WKT/EWKT text; an error (`22023`) naming what is wrong.
fn parse(name: &str, text: &str) -> DfResult<Geometry> {
    from_wkt(text).map_err(|err| invalid(name, format!("`{text}`: {err}")))
}

fn wkt_of(name: &str, geometry: &Geometry) -> DfResult<String> {
    to_wkt(geometry).map_err(|err| invalid(name, err.to_string()))
}

/// A constant geometry argument as WKT, checked to parse (for pushdown into Cairn).
pub fn literal_shape(value: &ScalarValue) -> Option<String> {
    let text = text_of(value)?;
    from_wkt(&text).ok()?;
    Some(text)
}

fn invalid(function: &str, reason: String) -> datafusion::error::DataFusionError {
    SqlError::InvalidArgument {
        function: function.to_string(),
        reason,
    }
    .into_datafusion()
}
