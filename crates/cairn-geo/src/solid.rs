//! Closed meshes as solids: watertightness, point-in-mesh, and "within a region".

use std::collections::HashMap;

use cairn_doc::{Geometry, Mesh, Point3};

use crate::distance::{distance, length};
use crate::error::{GeoError, Result};
use crate::primitive::{vertices, Aabb};
use crate::vec3::{cross, dot, sub};

/// Whether a mesh is closed (watertight) and consistently oriented: every directed edge
/// `a→b` of a triangle appears exactly once, and its reverse `b→a` exactly once too. That is
/// a 2-manifold-with-consistent-orientation test by connectivity (shared vertex *indices*):
/// two vertices at the same position with different indices are different vertices.
pub fn is_closed(mesh: &Mesh) -> bool {
    let mut edges: HashMap<(u32, u32), u32> = HashMap::with_capacity(mesh.triangles.len() * 3);
    for t in &mesh.triangles {
        for (a, b) in [(t[0], t[1]), (t[1], t[2]), (t[2], t[0])] {
            *edges.entry((a, b)).or_insert(0) += 1;
        }
    }
    edges
        .iter()
        .all(|(&(a, b), &count)| count == 1 && edges.get(&(b, a)) == Some(&1))
}

/// The winding number of a closed mesh around `p`: ±1 inside, 0 outside (the sum of the
/// solid angles of its triangles seen from `p`, over 4π; Van Oosterom–Strackee).
fn winding_number(mesh: &Mesh, p: Point3) -> f64 {
    let mut total = 0.0;
    for i in 0..mesh.triangles.len() {
        let Some([a, b, c]) = mesh.triangle(i) else {
            continue;
        };
        let (a, b, c) = (sub(a, p), sub(b, p), sub(c, p));
        let (la, lb, lc) = (length(a), length(b), length(c));
        let numerator = dot(a, cross(b, c));
        let denominator = la * lb * lc + dot(a, b) * lc + dot(a, c) * lb + dot(b, c) * la;
        total += 2.0 * numerator.atan2(denominator);
    }
    total / (4.0 * std::f64::consts::PI)
}

/// Whether `p` lies inside a closed mesh or on its surface. An open mesh encloses nothing and
/// is an error.
pub fn point_in_mesh(mesh: &Mesh, p: Point3) -> Result<bool> {
    if !is_closed(mesh) {
        return Err(GeoError::NotClosed {
            operation: "point-in-mesh",
        });
    }
    let surface = Geometry::Mesh(mesh.clone());
    if distance(&Geometry::Point(p), &surface) == 0.0 {
        return Ok(true);
    }
    Ok(winding_number(mesh, p).abs() > 0.5)
}

/// Whether `g` lies inside `region`, a solid: a box or a sphere (boundary included), or a
/// closed mesh. For a closed mesh, a point may lie on the surface; any other shape must have
/// every vertex inside and must not meet the surface (so it lies strictly inside).
/// Other regions are an error.
pub fn within(g: &Geometry, region: &Geometry) -> Result<bool> {
    match region {
        Geometry::Box { min, max } => {
            let b = Aabb {
                min: *min,
                max: *max,
            };
            Ok(match g {
                Geometry::Sphere { center, radius } => {
                    b.contains_box(&Aabb::of_point(*center).expanded(*radius))
                }
                _ => vertices(g).iter().all(|v| b.contains_point(*v)),
            })
        }
        Geometry::Sphere { center, radius } => Ok(match g {
            Geometry::Sphere {
                center: c,
                radius: r,
            } => length(sub(*c, *center)) + r <= *radius,
            _ => vertices(g)
                .iter()
                .all(|v| length(sub(*v, *center)) <= *radius),
        }),
        Geometry::Mesh(mesh) => {
            if !is_closed(mesh) {
                return Err(GeoError::NotClosed {
                    operation: "$within",
                });
            }
            if let Geometry::Point(p) = g {
                return point_in_mesh(mesh, *p);
            }
            let anchor = match g {
                Geometry::Sphere { center, .. } => vec![*center],
                _ => vertices(g),
            };
            for v in &anchor {
                if winding_number(mesh, *v).abs() <= 0.5 {
                    return Ok(false);
                }
            }
            Ok(distance(g, region) > 0.0)
        }
        other => Err(GeoError::NotARegion {
            found: other.type_name(),
        }),
    }
}
