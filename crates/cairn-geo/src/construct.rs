//! Constructors for common solids: the icosahedron and its subdivided geodesic spheres.

use std::collections::HashMap;

use cairn_doc::{Geometry, Mesh, Point3};

use crate::error::{GeoError, Result};
use crate::limits::MAX_GEODESIC_LEVEL;
use crate::vec3::{add, norm, scale};

/// The unit icosahedron's 12 vertices (before normalisation) and 20 outward (counter-clockwise)
/// faces.
fn unit_icosahedron() -> (Vec<Point3>, Vec<[u32; 3]>) {
    let t = (1.0 + 5f64.sqrt()) / 2.0;
    let raw = [
        [-1.0, t, 0.0],
        [1.0, t, 0.0],
        [-1.0, -t, 0.0],
        [1.0, -t, 0.0],
        [0.0, -1.0, t],
        [0.0, 1.0, t],
        [0.0, -1.0, -t],
        [0.0, 1.0, -t],
        [t, 0.0, -1.0],
        [t, 0.0, 1.0],
        [-t, 0.0, -1.0],
        [-t, 0.0, 1.0],
    ];
    let vertices = raw.iter().map(|v| scale(*v, 1.0 / norm(*v))).collect();
    let faces = vec![
        [0, 11, 5],
        [0, 5, 1],
        [0, 1, 7],
        [0, 7, 10],
        [0, 10, 11],
        [1, 5, 9],
        [5, 11, 4],
        [11, 10, 2],
        [10, 7, 6],
        [7, 1, 8],
        [3, 9, 4],
        [3, 4, 2],
        [3, 2, 6],
        [3, 6, 8],
        [3, 8, 9],
        [4, 9, 5],
        [2, 4, 11],
        [6, 2, 10],
        [8, 6, 7],
        [9, 8, 1],
    ];
    (vertices, faces)
}

fn check(center: Point3, radius: f64) -> Result<()> {
    if !(radius > 0.0 && radius.is_finite() && center.iter().all(|c| c.is_finite())) {
        return Err(GeoError::InvalidArgument {
            reason: format!(
                "a solid needs a finite center and a positive finite radius, got {center:?} and \
                 {radius}"
            ),
        });
    }
    Ok(())
}

fn place(unit: &[Point3], center: Point3, radius: f64) -> Vec<Point3> {
    unit.iter()
        .map(|v| add(center, scale(*v, radius)))
        .collect()
}

/// A regular icosahedron (12 vertices, 20 triangles, closed, outward-oriented) inscribed in the
/// sphere of `radius` around `center`.
pub fn icosahedron(center: Point3, radius: f64) -> Result<Geometry> {
    geodesic_sphere(center, radius, 0)
}

/// A geodesic sphere: the icosahedron with every triangle split into four `level` times, the
/// new vertices pushed out to the sphere. Level 0 is the icosahedron; level `n` has `20·4ⁿ`
/// triangles and `10·4ⁿ + 2` vertices, shared between neighbours so the mesh stays closed.
pub fn geodesic_sphere(center: Point3, radius: f64, level: u32) -> Result<Geometry> {
    check(center, radius)?;
    if level > MAX_GEODESIC_LEVEL {
        return Err(GeoError::InvalidArgument {
            reason: format!(
                "subdivision level {level}; the limit is {MAX_GEODESIC_LEVEL} (mesh size limits)"
            ),
        });
    }
    let (mut vertices, mut faces) = unit_icosahedron();
    for _ in 0..level {
        let mut midpoints: HashMap<(u32, u32), u32> = HashMap::new();
        let mut next = Vec::with_capacity(faces.len() * 4);
        for [a, b, c] in faces {
            let mut mid = |x: u32, y: u32| -> u32 {
                let key = (x.min(y), x.max(y));
                *midpoints.entry(key).or_insert_with(|| {
                    let m = scale(add(vertices[x as usize], vertices[y as usize]), 0.5);
                    vertices.push(scale(m, 1.0 / norm(m)));
                    (vertices.len() - 1) as u32
                })
            };
            let (ab, bc, ca) = (mid(a, b), mid(b, c), mid(c, a));
            next.extend([[a, ab, ca], [b, bc, ab], [c, ca, bc], [ab, bc, ca]]);
        }
        faces = next;
    }
    let mesh = Geometry::Mesh(Mesh {
        vertices: place(&vertices, center, radius),
        triangles: faces,
    });
    // Tiny radii far from the origin can collapse triangles in f64; say so rather than store
    // an invalid mesh.
    mesh.validate()
        .map_err(|defect| GeoError::InvalidArgument {
            reason: format!("the solid is not representable at this scale: {defect}"),
        })?;
    Ok(mesh)
}
