//! [`Geometry`]: 3D shapes as document values.
//!
//! Six shapes, all with `f64` coordinates: a point, a segment, a triangle, a triangle mesh
//! (shared vertices plus triangles as vertex indices), an axis-aligned box and a sphere. A box
//! and a sphere are *solids*; a mesh is its *surface* (its triangles), like PostGIS's
//! `ST_3DDistance` on a TIN — whether a mesh is closed, and what it encloses, is the geometry
//! crate's business (`cairn-geo`).
//!
//! Every geometry in a document is valid ([`Geometry::validate`]): finite coordinates,
//! triangles with non-zero area, mesh indices in range, box corners ordered, a non-negative
//! radius, and meshes within [`MAX_MESH_VERTICES`] and [`MAX_MESH_TRIANGLES`]. The encoder, the
//! decoder and the JSON parser all check it, so a defect is reported when written, naming it.
//!
//! JSON form (one wrapper key, `$geometry`, whose object has a `type`):
//!
//! ```text
//! {"$geometry": {"type": "point",    "coordinates": [x, y, z]}}
//! {"$geometry": {"type": "segment",  "coordinates": [[x,y,z], [x,y,z]]}}
//! {"$geometry": {"type": "triangle", "coordinates": [[x,y,z], [x,y,z], [x,y,z]]}}
//! {"$geometry": {"type": "mesh",     "vertices": [[x,y,z], ...], "triangles": [[i,j,k], ...]}}
//! {"$geometry": {"type": "box",      "min": [x,y,z], "max": [x,y,z]}}
//! {"$geometry": {"type": "sphere",   "center": [x,y,z], "radius": r}}
//! ```
//!
//! Binary form (after the value tag, see `format.rs`): a kind byte (0 point, 1 segment,
//! 2 triangle, 3 mesh, 4 box, 5 sphere), then coordinates as little-endian binary64; a mesh
//! writes `vertex-count:varint triangle-count:varint`, the vertices, then each index as a varint.

use crate::limits::{MAX_MESH_TRIANGLES, MAX_MESH_VERTICES};
use crate::{Object, Value};

/// A point in 3D: `[x, y, z]`.
pub type Point3 = [f64; 3];

/// A 3D shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Geometry {
    /// One point.
    Point(Point3),
    /// The straight segment between two points.
    Segment([Point3; 2]),
    /// A triangle (its surface); never of zero area.
    Triangle([Point3; 3]),
    /// A triangle mesh (its surface).
    Mesh(Mesh),
    /// A solid axis-aligned box, `min <= max` on every axis (a flat or empty-volume box is
    /// allowed: it is a rectangle, a segment or a point).
    Box {
        /// The lowest corner.
        min: Point3,
        /// The highest corner.
        max: Point3,
    },
    /// A solid ball.
    Sphere {
        /// Its center.
        center: Point3,
        /// Its radius, `>= 0`.
        radius: f64,
    },
}

/// A triangle mesh: vertices shared by triangles, each triangle three indices into
/// `vertices`, counter-clockwise seen from outside when the mesh is closed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mesh {
    /// The vertices.
    pub vertices: Vec<Point3>,
    /// The triangles, as indices into `vertices`.
    pub triangles: Vec<[u32; 3]>,
}

impl Mesh {
    /// The corners of triangle `index`; `None` when out of range (valid meshes never are).
    pub fn triangle(&self, index: usize) -> Option<[Point3; 3]> {
        let [a, b, c] = *self.triangles.get(index)?;
        Some([
            *self.vertices.get(a as usize)?,
            *self.vertices.get(b as usize)?,
            *self.vertices.get(c as usize)?,
        ])
    }
}

/// What is wrong with a geometry.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GeometryDefect {
    /// A coordinate or radius is NaN or infinite.
    #[error("a coordinate is not finite (NaN or infinity)")]
    NonFinite,
    /// A triangle's corners are collinear (zero area).
    #[error("triangle {triangle} has zero area (its corners are collinear)")]
    DegenerateTriangle {
        /// Index of the triangle (0 for a lone triangle).
        triangle: usize,
    },
    /// A mesh triangle names a vertex that does not exist.
    #[error("triangle {triangle} uses vertex {vertex}, but the mesh has {vertices} vertices")]
    IndexOutOfRange {
        /// Index of the triangle.
        triangle: usize,
        /// The vertex index it names.
        vertex: u64,
        /// Vertices in the mesh.
        vertices: usize,
    },
    /// A mesh has no triangles.
    #[error("a mesh needs at least one triangle")]
    EmptyMesh,
    /// A mesh has more vertices than [`MAX_MESH_VERTICES`].
    #[error("a mesh has {count} vertices; the limit is {limit}")]
    TooManyVertices {
        /// Vertices given.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A mesh has more triangles than [`MAX_MESH_TRIANGLES`].
    #[error("a mesh has {count} triangles; the limit is {limit}")]
    TooManyTriangles {
        /// Triangles given.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A box has `min > max` on an axis.
    #[error("box min is above max on axis {axis}")]
    InvertedBox {
        /// 0, 1 or 2 for x, y, z.
        axis: usize,
    },
    /// A sphere has a negative radius.
    #[error("sphere radius {radius} is negative")]
    NegativeRadius {
        /// The radius given.
        radius: f64,
    },
    /// The JSON form is malformed.
    #[error("{0}")]
    Malformed(String),
}

impl Geometry {
    /// The shape's name in the JSON form: `point`, `segment`, `triangle`, `mesh`, `box`,
    /// `sphere`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Geometry::Point(_) => "point",
            Geometry::Segment(_) => "segment",
            Geometry::Triangle(_) => "triangle",
            Geometry::Mesh(_) => "mesh",
            Geometry::Box { .. } => "box",
            Geometry::Sphere { .. } => "sphere",
        }
    }

    /// The kind byte of the binary and key encodings.
    pub fn kind_byte(&self) -> u8 {
        match self {
            Geometry::Point(_) => 0,
            Geometry::Segment(_) => 1,
            Geometry::Triangle(_) => 2,
            Geometry::Mesh(_) => 3,
            Geometry::Box { .. } => 4,
            Geometry::Sphere { .. } => 5,
        }
    }

    /// Checks every rule in the module documentation; the first defect found is returned.
    pub fn validate(&self) -> Result<(), GeometryDefect> {
        let finite = |points: &[Point3]| points.iter().flatten().all(|c| c.is_finite());
        match self {
            Geometry::Point(p) => check(finite(&[*p])),
            Geometry::Segment(s) => check(finite(s)),
            Geometry::Triangle(t) => {
                check(finite(t))?;
                check_triangle_area(t, 0)
            }
            Geometry::Mesh(mesh) => validate_mesh(mesh),
            Geometry::Box { min, max } => {
                check(finite(&[*min, *max]))?;
                match (0..3).find(|&axis| min[axis] > max[axis]) {
                    Some(axis) => Err(GeometryDefect::InvertedBox { axis }),
                    None => Ok(()),
                }
            }
            Geometry::Sphere { center, radius } => {
                check(finite(&[*center]) && radius.is_finite())?;
                if *radius < 0.0 {
                    return Err(GeometryDefect::NegativeRadius { radius: *radius });
                }
                Ok(())
            }
        }
    }

    /// The JSON-form object (the value of the `$geometry` key).
    pub fn to_json_object(&self) -> Object {
        let point = |p: &Point3| Value::Array(p.iter().map(|c| Value::Float(*c)).collect());
        let points = |ps: &[Point3]| Value::Array(ps.iter().map(point).collect());
        let mut object = Object::new();
        object.insert("type", Value::String(self.type_name().to_string()));
        match self {
            Geometry::Point(p) => {
                object.insert("coordinates", point(p));
            }
            Geometry::Segment(s) => {
                object.insert("coordinates", points(s));
            }
            Geometry::Triangle(t) => {
                object.insert("coordinates", points(t));
            }
            Geometry::Mesh(mesh) => {
                object.insert("vertices", points(&mesh.vertices));
                let triangles = mesh
                    .triangles
                    .iter()
                    .map(|t| Value::Array(t.iter().map(|i| Value::Int(i64::from(*i))).collect()))
                    .collect();
                object.insert("triangles", Value::Array(triangles));
            }
            Geometry::Box { min, max } => {
                object.insert("min", point(min));
                object.insert("max", point(max));
            }
            Geometry::Sphere { center, radius } => {
                object.insert("center", point(center));
                object.insert("radius", Value::Float(*radius));
            }
        }
        object
    }

    /// Reads the JSON-form object (the value of the `$geometry` key) and validates it.
    pub fn from_json_value(value: &Value) -> Result<Geometry, GeometryDefect> {
        let object = value
            .as_object()
            .ok_or_else(|| malformed("`$geometry` expects an object with a `type`"))?;
        let field = |name: &str| {
            object
                .get(name)
                .ok_or_else(|| malformed(&format!("missing field `{name}`")))
        };
        let kind = field("type")?
            .as_str()
            .ok_or_else(|| malformed("`type` must be a string"))?;
        let allowed: &[&str] = match kind {
            "point" | "segment" | "triangle" => &["type", "coordinates"],
            "mesh" => &["type", "vertices", "triangles"],
            "box" => &["type", "min", "max"],
            "sphere" => &["type", "center", "radius"],
            other => {
                return Err(malformed(&format!(
                    "unknown geometry type `{other}` (known: point, segment, triangle, mesh, \
                     box, sphere)"
                )))
            }
        };
        if let Some(extra) = object.keys().find(|k| !allowed.contains(k)) {
            return Err(malformed(&format!(
                "unexpected field `{extra}` for a {kind}"
            )));
        }
        let geometry = match kind {
            "point" => Geometry::Point(json_point(field("coordinates")?)?),
            "segment" => Geometry::Segment(json_points::<2>(field("coordinates")?)?),
            "triangle" => Geometry::Triangle(json_points::<3>(field("coordinates")?)?),
            "mesh" => Geometry::Mesh(json_mesh(field("vertices")?, field("triangles")?)?),
            "box" => Geometry::Box {
                min: json_point(field("min")?)?,
                max: json_point(field("max")?)?,
            },
            _ => Geometry::Sphere {
                center: json_point(field("center")?)?,
                radius: field("radius")?
                    .as_f64()
                    .ok_or_else(|| malformed("`radius` must be a number"))?,
            },
        };
        geometry.validate()?;
        Ok(geometry)
    }

    /// Appends the binary payload (after the value tag).
    pub(crate) fn encode_payload(&self, out: &mut Vec<u8>) {
        out.push(self.kind_byte());
        let mut put = |p: &Point3| {
            for c in p {
                out.extend_from_slice(&c.to_le_bytes());
            }
        };
        match self {
            Geometry::Point(p) => put(p),
            Geometry::Segment(s) => s.iter().for_each(put),
            Geometry::Triangle(t) => t.iter().for_each(put),
            Geometry::Box { min, max } => {
                put(min);
                put(max);
            }
            Geometry::Sphere { center, radius } => {
                put(center);
                out.extend_from_slice(&radius.to_le_bytes());
            }
            Geometry::Mesh(mesh) => {
                push_varint(out, mesh.vertices.len() as u64);
                push_varint(out, mesh.triangles.len() as u64);
                for v in &mesh.vertices {
                    for c in v {
                        out.extend_from_slice(&c.to_le_bytes());
                    }
                }
                for t in &mesh.triangles {
                    for i in t {
                        push_varint(out, u64::from(*i));
                    }
                }
            }
        }
    }
}

fn push_varint(out: &mut Vec<u8>, value: u64) {
    let mut buf = [0; crate::varint::VARINT_MAX_BYTES];
    let used = crate::varint::encode_u64(value, &mut buf);
    out.extend_from_slice(&buf[..used]);
}

fn check(ok: bool) -> Result<(), GeometryDefect> {
    if ok {
        Ok(())
    } else {
        Err(GeometryDefect::NonFinite)
    }
}

fn malformed(reason: &str) -> GeometryDefect {
    GeometryDefect::Malformed(reason.to_string())
}

fn validate_mesh(mesh: &Mesh) -> Result<(), GeometryDefect> {
    if mesh.vertices.len() > MAX_MESH_VERTICES {
        return Err(GeometryDefect::TooManyVertices {
            count: mesh.vertices.len(),
            limit: MAX_MESH_VERTICES,
        });
    }
    if mesh.triangles.len() > MAX_MESH_TRIANGLES {
        return Err(GeometryDefect::TooManyTriangles {
            count: mesh.triangles.len(),
            limit: MAX_MESH_TRIANGLES,
        });
    }
    if mesh.triangles.is_empty() {
        return Err(GeometryDefect::EmptyMesh);
    }
    check(mesh.vertices.iter().flatten().all(|c| c.is_finite()))?;
    for (index, t) in mesh.triangles.iter().enumerate() {
        if let Some(&vertex) = t.iter().find(|&&i| i as usize >= mesh.vertices.len()) {
            return Err(GeometryDefect::IndexOutOfRange {
                triangle: index,
                vertex: u64::from(vertex),
                vertices: mesh.vertices.len(),
            });
        }
        let corners = t.map(|i| mesh.vertices[i as usize]);
        check_triangle_area(&corners, index)?;
    }
    Ok(())
}

/// Fails when the triangle's corners are collinear. The edges are scaled by their largest
/// component first, so tiny (or huge) but proper triangles do not underflow (overflow) to a
/// zero (infinite) cross product.
fn check_triangle_area(t: &[Point3; 3], index: usize) -> Result<(), GeometryDefect> {
    let sub = |a: &Point3, b: &Point3| [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
    let (mut u, mut v) = (sub(&t[1], &t[0]), sub(&t[2], &t[0]));
    let scale = u.iter().chain(&v).fold(0.0f64, |m, c| m.max(c.abs()));
    if scale == 0.0 || !scale.is_finite() {
        // All corners equal, or edges overflow (coordinates near f64::MAX of opposite signs).
        return if scale == 0.0 {
            Err(GeometryDefect::DegenerateTriangle { triangle: index })
        } else {
            Err(GeometryDefect::NonFinite)
        };
    }
    for c in u.iter_mut().chain(v.iter_mut()) {
        *c /= scale;
    }
    let cross = [
        u[1] * v[2] - u[2] * v[1],
        u[2] * v[0] - u[0] * v[2],
        u[0] * v[1] - u[1] * v[0],
    ];
    if cross == [0.0; 3] {
        return Err(GeometryDefect::DegenerateTriangle { triangle: index });
    }
    Ok(())
}

fn json_point(value: &Value) -> Result<Point3, GeometryDefect> {
    let items = value
        .as_array()
        .filter(|items| items.len() == 3)
        .ok_or_else(|| malformed("a point must be an array of three numbers [x, y, z]"))?;
    let mut point = [0.0; 3];
    for (slot, item) in point.iter_mut().zip(items) {
        *slot = item
            .as_f64()
            .ok_or_else(|| malformed("a coordinate must be a number"))?;
    }
    Ok(point)
}

fn json_points<const N: usize>(value: &Value) -> Result<[Point3; N], GeometryDefect> {
    let items = value
        .as_array()
        .filter(|items| items.len() == N)
        .ok_or_else(|| malformed(&format!("`coordinates` must be an array of {N} points")))?;
    let mut points = [[0.0; 3]; N];
    for (slot, item) in points.iter_mut().zip(items) {
        *slot = json_point(item)?;
    }
    Ok(points)
}

fn json_mesh(vertices: &Value, triangles: &Value) -> Result<Mesh, GeometryDefect> {
    let vertices = vertices
        .as_array()
        .ok_or_else(|| malformed("`vertices` must be an array of points"))?;
    let triangles = triangles
        .as_array()
        .ok_or_else(|| malformed("`triangles` must be an array of [i, j, k] index triples"))?;
    if vertices.len() > MAX_MESH_VERTICES {
        return Err(GeometryDefect::TooManyVertices {
            count: vertices.len(),
            limit: MAX_MESH_VERTICES,
        });
    }
    if triangles.len() > MAX_MESH_TRIANGLES {
        return Err(GeometryDefect::TooManyTriangles {
            count: triangles.len(),
            limit: MAX_MESH_TRIANGLES,
        });
    }
    let vertices = vertices.iter().map(json_point).collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(triangles.len());
    for (index, t) in triangles.iter().enumerate() {
        let items = t
            .as_array()
            .filter(|items| items.len() == 3)
            .ok_or_else(|| malformed(&format!("triangle {index} must be [i, j, k]")))?;
        let mut triple = [0u32; 3];
        for (slot, item) in triple.iter_mut().zip(items) {
            let raw = item
                .as_i64()
                .ok_or_else(|| malformed(&format!("triangle {index}: indices must be integers")))?;
            *slot = u32::try_from(raw).map_err(|_| GeometryDefect::IndexOutOfRange {
                triangle: index,
                vertex: raw.max(0) as u64,
                vertices: MAX_MESH_VERTICES,
            })?;
        }
        out.push(triple);
    }
    Ok(Mesh {
        vertices,
        triangles: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degenerate_and_out_of_range_are_named() {
        let flat = Geometry::Triangle([[0.0; 3], [1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]);
        assert_eq!(
            flat.validate(),
            Err(GeometryDefect::DegenerateTriangle { triangle: 0 })
        );
        let tiny = Geometry::Triangle([[0.0; 3], [1e-300, 0.0, 0.0], [0.0, 1e-300, 0.0]]);
        assert_eq!(tiny.validate(), Ok(()));
        let mesh = Geometry::Mesh(Mesh {
            vertices: vec![[0.0; 3], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
            triangles: vec![[0, 1, 2], [0, 1, 3]],
        });
        assert_eq!(
            mesh.validate(),
            Err(GeometryDefect::IndexOutOfRange {
                triangle: 1,
                vertex: 3,
                vertices: 3
            })
        );
        let nan = Geometry::Point([0.0, f64::NAN, 0.0]);
        assert_eq!(nan.validate(), Err(GeometryDefect::NonFinite));
        let inverted = Geometry::Box {
            min: [0.0, 2.0, 0.0],
            max: [1.0, 1.0, 1.0],
        };
        assert_eq!(
            inverted.validate(),
            Err(GeometryDefect::InvertedBox { axis: 1 })
        );
    }

    #[test]
    fn json_form_round_trips() {
        let shapes = [
            Geometry::Point([1.0, -2.5, 3.0]),
            Geometry::Segment([[0.0; 3], [1.0, 2.0, 3.0]]),
            Geometry::Sphere {
                center: [1.0, 2.0, 3.0],
                radius: 0.5,
            },
            Geometry::Mesh(Mesh {
                vertices: vec![[0.0; 3], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
                triangles: vec![[0, 1, 2]],
            }),
        ];
        for shape in shapes {
            let object = Value::Object(shape.to_json_object());
            assert_eq!(Geometry::from_json_value(&object), Ok(shape));
        }
    }
}
