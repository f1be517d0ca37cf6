//! The raw-structure ceiling: an in-memory `rstar` R*-tree over the same triangles, bulk
//! loaded, with the same exact tests (cairn-geo's primitive distances) on its candidates.

use cairn::geo::parts;
use cairn::geo::primitive_distance;
use cairn::geo::Primitive;
use cairn::{Geometry, Point3};
use rstar::{PointDistance, RTree, RTreeObject, AABB};

use super::workload::{GeoQuery, K};

/// One triangle of one shape.
pub struct Tri {
    part: Primitive,
    min: Point3,
    max: Point3,
    id: u64,
}

impl RTreeObject for Tri {
    type Envelope = AABB<[f64; 3]>;
    fn envelope(&self) -> Self::Envelope {
        AABB::from_corners(self.min, self.max)
    }
}

impl PointDistance for Tri {
    fn distance_2(&self, point: &[f64; 3]) -> f64 {
        let d = primitive_distance(&self.part, &Primitive::Point(*point));
        d * d
    }
}

pub struct RstarSide {
    tree: RTree<Tri>,
}

impl RstarSide {
    pub fn build(shapes: &[Geometry]) -> RstarSide {
        let mut tris = Vec::new();
        for (id, shape) in shapes.iter().enumerate() {
            for part in parts(shape) {
                let b = part.bbox();
                tris.push(Tri {
                    part,
                    min: b.min,
                    max: b.max,
                    id: id as u64,
                });
            }
        }
        RstarSide {
            tree: RTree::bulk_load(tris),
        }
    }

    /// Bytes of the entries themselves (the tree's inner nodes are not counted).
    pub fn entry_bytes(&self) -> u64 {
        (self.tree.size() * std::mem::size_of::<Tri>()) as u64
    }

    pub fn query(&self, q: &GeoQuery) -> Vec<u64> {
        let mut ids: Vec<u64> = match *q {
            GeoQuery::Radius(p, r) => {
                let envelope = AABB::from_corners(p.map(|c| c - r), p.map(|c| c + r));
                self.tree
                    .locate_in_envelope_intersecting(&envelope)
                    .filter(|t| primitive_distance(&t.part, &Primitive::Point(p)) <= r)
                    .map(|t| t.id)
                    .collect()
            }
            GeoQuery::Box(b) => {
                let envelope = AABB::from_corners(b.min, b.max);
                self.tree
                    .locate_in_envelope_intersecting(&envelope)
                    .filter(|t| primitive_distance(&t.part, &Primitive::Box(b)) == 0.0)
                    .map(|t| t.id)
                    .collect()
            }
            GeoQuery::Nearest(p) => {
                let mut out: Vec<(f64, u64)> = Vec::with_capacity(K);
                for (t, d2) in self.tree.nearest_neighbor_iter_with_distance_2(&p) {
                    if out.len() == K && d2.sqrt() > out[K - 1].0 {
                        break;
                    }
                    if out.iter().any(|(_, id)| *id == t.id) {
                        continue;
                    }
                    out.push((d2.sqrt(), t.id));
                    out.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                    out.truncate(K);
                }
                return out.into_iter().map(|(_, id)| id).collect();
            }
        };
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}
