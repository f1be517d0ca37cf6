//! Primitives: the convex pieces every geometry is made of, and their bounding boxes.
//!
//! A geometry is the union of its *parts*: a mesh is its triangles, every other shape is one
//! part. Distances and intersections between geometries reduce to primitives (the distance
//! between unions is the minimum over pairs of parts), and the spatial index stores parts, so
//! a query near one corner of a large mesh only ever touches the triangles there.

use cairn_doc::{Geometry, Point3};

/// An axis-aligned bounding box, `min <= max` on every axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Aabb {
    /// Lowest corner.
    pub min: Point3,
    /// Highest corner.
    pub max: Point3,
}

impl Aabb {
    /// The box of one point.
    pub fn of_point(p: Point3) -> Aabb {
        Aabb { min: p, max: p }
    }

    /// The smallest box holding `points` (which must not be empty).
    pub fn of_points(points: &[Point3]) -> Aabb {
        let mut b = Aabb::of_point(points[0]);
        for p in &points[1..] {
            b = b.with(*p);
        }
        b
    }

    /// This box grown to hold `p`.
    pub fn with(self, p: Point3) -> Aabb {
        Aabb {
            min: [0, 1, 2].map(|a| self.min[a].min(p[a])),
            max: [0, 1, 2].map(|a| self.max[a].max(p[a])),
        }
    }

    /// The smallest box holding both.
    pub fn union(self, other: Aabb) -> Aabb {
        self.with(other.min).with(other.max)
    }

    /// This box grown by `r` on every side (saturating to infinity, never NaN).
    pub fn expanded(self, r: f64) -> Aabb {
        Aabb {
            min: self.min.map(|c| c - r),
            max: self.max.map(|c| c + r),
        }
    }

    /// Whether the two (closed) boxes share a point.
    pub fn overlaps(&self, other: &Aabb) -> bool {
        (0..3).all(|a| self.min[a] <= other.max[a] && other.min[a] <= self.max[a])
    }

    /// Whether `other` lies inside this box (boundary included).
    pub fn contains_box(&self, other: &Aabb) -> bool {
        (0..3).all(|a| self.min[a] <= other.min[a] && other.max[a] <= self.max[a])
    }

    /// Whether `p` lies inside this box (boundary included).
    pub fn contains_point(&self, p: Point3) -> bool {
        (0..3).all(|a| self.min[a] <= p[a] && p[a] <= self.max[a])
    }

    /// The distance between the two boxes (0 when they overlap): a lower bound of the
    /// distance between anything inside them.
    pub fn distance(&self, other: &Aabb) -> f64 {
        let gap = |a: usize| {
            (other.min[a] - self.max[a])
                .max(self.min[a] - other.max[a])
                .max(0.0)
        };
        crate::vec3::norm([gap(0), gap(1), gap(2)])
    }

    /// The squared distance between two boxes (0 when they overlap): comparing it with a
    /// squared bound saves the square root on hot paths. Unlike [`Aabb::distance`] it may
    /// overflow to infinity or underflow to zero for extreme gaps, so a caller pruning with
    /// it must treat both as "do not prune" unless the bound is finite and nonzero.
    pub fn distance_squared(&self, other: &Aabb) -> f64 {
        let gap = |a: usize| {
            (other.min[a] - self.max[a])
                .max(self.min[a] - other.max[a])
                .max(0.0)
        };
        let [x, y, z] = [gap(0), gap(1), gap(2)];
        x * x + y * y + z * z
    }

    /// The largest edge length.
    pub fn extent(&self) -> f64 {
        (0..3).fold(0.0f64, |m, a| m.max(self.max[a] - self.min[a]))
    }

    /// The eight corners.
    pub fn corners(&self) -> [Point3; 8] {
        let (l, h) = (self.min, self.max);
        [
            [l[0], l[1], l[2]],
            [h[0], l[1], l[2]],
            [l[0], h[1], l[2]],
            [h[0], h[1], l[2]],
            [l[0], l[1], h[2]],
            [h[0], l[1], h[2]],
            [l[0], h[1], h[2]],
            [h[0], h[1], h[2]],
        ]
    }

    /// The twelve edges.
    pub fn edges(&self) -> [[Point3; 2]; 12] {
        let c = self.corners();
        const PAIRS: [(usize, usize); 12] = [
            (0, 1),
            (2, 3),
            (4, 5),
            (6, 7),
            (0, 2),
            (1, 3),
            (4, 6),
            (5, 7),
            (0, 4),
            (1, 5),
            (2, 6),
            (3, 7),
        ];
        PAIRS.map(|(a, b)| [c[a], c[b]])
    }
}

/// One convex piece of a geometry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Primitive {
    /// A point.
    Point(Point3),
    /// A segment.
    Segment([Point3; 2]),
    /// A triangle (surface).
    Triangle([Point3; 3]),
    /// A solid box.
    Box(Aabb),
    /// A solid ball.
    Sphere {
        /// Center.
        center: Point3,
        /// Radius.
        radius: f64,
    },
}

impl Primitive {
    /// The bounding box.
    pub fn bbox(&self) -> Aabb {
        match self {
            Primitive::Point(p) => Aabb::of_point(*p),
            Primitive::Segment(s) => Aabb::of_points(s),
            Primitive::Triangle(t) => Aabb::of_points(t),
            Primitive::Box(b) => *b,
            Primitive::Sphere { center, radius } => Aabb::of_point(*center).expanded(*radius),
        }
    }

    /// The primitive as a geometry value of its own.
    pub fn to_geometry(&self) -> Geometry {
        match *self {
            Primitive::Point(p) => Geometry::Point(p),
            Primitive::Segment(s) => Geometry::Segment(s),
            Primitive::Triangle(t) => Geometry::Triangle(t),
            Primitive::Box(b) => Geometry::Box {
                min: b.min,
                max: b.max,
            },
            Primitive::Sphere { center, radius } => Geometry::Sphere { center, radius },
        }
    }
}

/// Number of parts of a geometry (triangles of a mesh, else 1).
pub fn part_count(geometry: &Geometry) -> usize {
    match geometry {
        Geometry::Mesh(mesh) => mesh.triangles.len(),
        _ => 1,
    }
}

/// Part `index` of a geometry (see [`part_count`]); `None` past the end.
pub fn part(geometry: &Geometry, index: usize) -> Option<Primitive> {
    match geometry {
        Geometry::Mesh(mesh) => mesh.triangle(index).map(Primitive::Triangle),
        _ if index > 0 => None,
        Geometry::Point(p) => Some(Primitive::Point(*p)),
        Geometry::Segment(s) => Some(Primitive::Segment(*s)),
        Geometry::Triangle(t) => Some(Primitive::Triangle(*t)),
        Geometry::Box { min, max } => Some(Primitive::Box(Aabb {
            min: *min,
            max: *max,
        })),
        Geometry::Sphere { center, radius } => Some(Primitive::Sphere {
            center: *center,
            radius: *radius,
        }),
    }
}

/// Every part of a geometry, in part order.
pub fn parts(geometry: &Geometry) -> impl Iterator<Item = Primitive> + '_ {
    (0..part_count(geometry)).filter_map(move |i| part(geometry, i))
}

/// The vertices of a geometry's polyhedral parts (a box's corners; a sphere's center).
pub fn vertices(geometry: &Geometry) -> Vec<Point3> {
    match geometry {
        Geometry::Point(p) => vec![*p],
        Geometry::Segment(s) => s.to_vec(),
        Geometry::Triangle(t) => t.to_vec(),
        Geometry::Mesh(mesh) => mesh.vertices.clone(),
        Geometry::Box { min, max } => Aabb {
            min: *min,
            max: *max,
        }
        .corners()
        .to_vec(),
        Geometry::Sphere { center, .. } => vec![*center],
    }
}
