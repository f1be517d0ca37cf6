//! Measures of a geometry: bounding box, centroid, area, volume.

use cairn_doc::{Geometry, Mesh, Point3};

use crate::error::{GeoError, Result};
use crate::primitive::{parts, vertices, Aabb};
use crate::solid::is_closed;
use crate::vec3::{add, cross, dot, norm, scale, sub};

/// The bounding box.
pub fn bbox(g: &Geometry) -> Aabb {
    let mut out: Option<Aabb> = None;
    for p in parts(g) {
        let b = p.bbox();
        out = Some(out.map_or(b, |o| o.union(b)));
    }
    // Every valid geometry has at least one part; a point box is the neutral answer otherwise.
    out.unwrap_or_else(|| Aabb::of_point(vertices(g).first().copied().unwrap_or([0.0; 3])))
}

fn triangle_area(t: [Point3; 3]) -> f64 {
    norm(cross(sub(t[1], t[0]), sub(t[2], t[0]))) * 0.5
}

/// Surface area: a triangle's or a mesh's total, a box's six faces, a sphere's `4πr²`; points
/// and segments have none.
pub fn area(g: &Geometry) -> f64 {
    match g {
        Geometry::Point(_) | Geometry::Segment(_) => 0.0,
        Geometry::Triangle(t) => triangle_area(*t),
        Geometry::Mesh(mesh) => (0..mesh.triangles.len())
            .filter_map(|i| mesh.triangle(i))
            .map(triangle_area)
            .sum(),
        Geometry::Box { min, max } => {
            let e = sub(*max, *min);
            2.0 * (e[0] * e[1] + e[1] * e[2] + e[0] * e[2])
        }
        Geometry::Sphere { radius, .. } => 4.0 * std::f64::consts::PI * radius * radius,
    }
}

/// Signed volume of a mesh by the divergence theorem (positive when outward-oriented).
fn signed_volume(mesh: &Mesh) -> f64 {
    (0..mesh.triangles.len())
        .filter_map(|i| mesh.triangle(i))
        .map(|[a, b, c]| dot(a, cross(b, c)) / 6.0)
        .sum()
}

/// Volume of a solid: a box, a sphere, or a closed mesh (enclosed volume). Points, segments
/// and triangles have volume 0; an open mesh encloses nothing and is an error.
pub fn volume(g: &Geometry) -> Result<f64> {
    match g {
        Geometry::Point(_) | Geometry::Segment(_) | Geometry::Triangle(_) => Ok(0.0),
        Geometry::Box { min, max } => {
            let e = sub(*max, *min);
            Ok(e[0] * e[1] * e[2])
        }
        Geometry::Sphere { radius, .. } => Ok(4.0 / 3.0 * std::f64::consts::PI * radius.powi(3)),
        Geometry::Mesh(mesh) => {
            if !is_closed(mesh) {
                return Err(GeoError::NotClosed {
                    operation: "volume",
                });
            }
            Ok(signed_volume(mesh).abs())
        }
    }
}

/// Centroid: of the solid for boxes, spheres and closed meshes; of the surface (area-weighted)
/// for triangles and open meshes; the midpoint of a segment; a point itself.
pub fn centroid(g: &Geometry) -> Point3 {
    match g {
        Geometry::Point(p) => *p,
        Geometry::Segment([a, b]) => scale(add(*a, *b), 0.5),
        Geometry::Triangle([a, b, c]) => scale(add(add(*a, *b), *c), 1.0 / 3.0),
        Geometry::Box { min, max } => scale(add(*min, *max), 0.5),
        Geometry::Sphere { center, .. } => *center,
        Geometry::Mesh(mesh) => mesh_centroid(mesh),
    }
}

fn mesh_centroid(mesh: &Mesh) -> Point3 {
    let triangles = || (0..mesh.triangles.len()).filter_map(|i| mesh.triangle(i));
    if is_closed(mesh) {
        // Sum of tetrahedra (origin, a, b, c), each weighted by its signed volume. Shifting to
        // the first vertex keeps the arithmetic well conditioned far from the origin.
        let o = mesh.vertices[0];
        let mut total = 0.0;
        let mut acc = [0.0; 3];
        for [a, b, c] in triangles() {
            let (a, b, c) = (sub(a, o), sub(b, o), sub(c, o));
            let v = dot(a, cross(b, c)) / 6.0;
            total += v;
            acc = add(acc, scale(add(add(a, b), c), v / 4.0));
        }
        if total != 0.0 {
            return add(o, scale(acc, 1.0 / total));
        }
    }
    let mut total = 0.0;
    let mut acc = [0.0; 3];
    for t in triangles() {
        let w = triangle_area(t);
        total += w;
        acc = add(acc, scale(add(add(t[0], t[1]), t[2]), w / 3.0));
    }
    if total == 0.0 {
        return mesh.vertices[0];
    }
    scale(acc, 1.0 / total)
}
