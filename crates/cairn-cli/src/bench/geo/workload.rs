//! The geo benchmark's data and queries, and the brute-force answers every system is checked
//! against.

use cairn::geo::parts;
use cairn::geo::primitive_distance;
use cairn::geo::{Aabb, Primitive};
use cairn::{Geometry, Point3};

use crate::bench::core::workload::SplitMix64;

/// Edge of the cube the shapes are placed in.
pub const CUBE_EDGE: f64 = 1000.0;
/// Circumradius of every icosahedron.
pub const SHAPE_RADIUS: f64 = 2.0;
/// Edge of the query boxes of the box-intersection row.
pub const BOX_EDGE: f64 = 20.0;
/// Neighbours asked for by the k-NN row.
pub const K: usize = 10;

/// One query of the workload.
#[derive(Debug, Clone, Copy)]
pub enum GeoQuery {
    /// Shapes whose exact distance to the point is at most the radius.
    Radius(Point3, f64),
    /// The `K` nearest shapes to the point (exact distance, ties by id).
    Nearest(Point3),
    /// Shapes sharing a point with the solid box.
    Box(Aabb),
}

/// A uniform value in `[0, 1)`.
pub fn unit(rng: &mut SplitMix64) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

fn cube_point(rng: &mut SplitMix64) -> Point3 {
    [0, 1, 2].map(|_| unit(rng) * CUBE_EDGE)
}

/// `count` icosahedra, centers uniform in the cube; the id of shape `i` is `i`.
pub fn shapes(count: usize) -> Vec<Geometry> {
    let mut rng = SplitMix64::new(0x6E0_5EED);
    (0..count)
        .map(|_| {
            cairn::geo::icosahedron(cube_point(&mut rng), SHAPE_RADIUS)
                .expect("a radius of 2 inside the cube is always representable")
        })
        .collect()
}

/// `count` queries of each row kind, seeded.
pub fn queries(count: usize, seed: u64) -> [Vec<GeoQuery>; 4] {
    let mut rng = SplitMix64::new(seed);
    let mut row = |make: &mut dyn FnMut(&mut SplitMix64) -> GeoQuery| {
        (0..count).map(|_| make(&mut rng)).collect::<Vec<_>>()
    };
    let r10 = row(&mut |r| GeoQuery::Radius(cube_point(r), 10.0));
    let r30 = row(&mut |r| GeoQuery::Radius(cube_point(r), 30.0));
    let knn = row(&mut |r| GeoQuery::Nearest(cube_point(r)));
    let boxes = row(&mut |r| {
        let min = [0, 1, 2].map(|_| unit(r) * (CUBE_EDGE - BOX_EDGE));
        GeoQuery::Box(Aabb {
            min,
            max: min.map(|c| c + BOX_EDGE),
        })
    });
    [r10, r30, knn, boxes]
}

/// The shapes' triangles with their bounding boxes, for the brute force.
pub struct BruteForce {
    shapes: Vec<(Aabb, Vec<Primitive>)>,
}

impl BruteForce {
    /// Prepares every shape.
    pub fn new(shapes: &[Geometry]) -> BruteForce {
        BruteForce {
            shapes: shapes
                .iter()
                .map(|g| (cairn::geo::bbox(g), parts(g).collect()))
                .collect(),
        }
    }

    fn distance(&self, id: usize, query: &Primitive) -> f64 {
        self.shapes[id]
            .1
            .iter()
            .map(|p| primitive_distance(p, query))
            .fold(f64::INFINITY, f64::min)
    }

    /// The exact answer: ids ascending (k-NN: nearest first, ties by id). Every shape is
    /// considered; a shape is measured exactly unless its bounding box alone proves it out.
    pub fn answer(&self, query: &GeoQuery) -> Vec<u64> {
        match *query {
            GeoQuery::Radius(p, r) => {
                let probe = Aabb::of_point(p);
                (0..self.shapes.len())
                    .filter(|&i| self.shapes[i].0.distance(&probe) <= r)
                    .filter(|&i| self.distance(i, &Primitive::Point(p)) <= r)
                    .map(|i| i as u64)
                    .collect()
            }
            GeoQuery::Box(b) => (0..self.shapes.len())
                .filter(|&i| self.shapes[i].0.overlaps(&b))
                .filter(|&i| self.distance(i, &Primitive::Box(b)) == 0.0)
                .map(|i| i as u64)
                .collect(),
            GeoQuery::Nearest(p) => {
                let probe = Aabb::of_point(p);
                let mut order: Vec<(f64, usize)> = (0..self.shapes.len())
                    .map(|i| (self.shapes[i].0.distance(&probe), i))
                    .collect();
                order.sort_by(|a, b| a.0.total_cmp(&b.0));
                let mut best: Vec<(f64, usize)> = Vec::new();
                for (lower, i) in order {
                    if best.len() == K && lower > best[K - 1].0 {
                        break;
                    }
                    best.push((self.distance(i, &Primitive::Point(p)), i));
                    best.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                    best.truncate(K);
                }
                best.into_iter().map(|(_, i)| i as u64).collect()
            }
        }
    }
}
