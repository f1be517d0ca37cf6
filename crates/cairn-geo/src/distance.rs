//! Exact distances between primitives and between geometries.
//!
//! "Exact" means structurally exact: each function considers every pair of features (vertex,
//! edge, face) where the closest points of two convex pieces can lie, computes each candidate
//! in closed form, and takes the minimum — never an approximation by boxes or sampling. The
//! arithmetic is `f64`; whether two shapes that *touch* are at distance exactly 0 is decided
//! by orientation tests in `f64`, which is as exact as the stored coordinates.
//!
//! Boxes and spheres are solids (a point inside a box is at distance 0); triangles and meshes
//! are surfaces (a point inside a closed mesh is at its distance to the surface), as in
//! PostGIS's `ST_3DDistance`.

use cairn_doc::{Geometry, Point3};

use crate::primitive::{part, part_count, parts, Aabb, Primitive};
use crate::vec3::{cross, dot, lerp, orient, sub};

/// Length of `v`: `sqrt(v·v)`, falling back to an overflow- and underflow-free form for extreme
/// components.
pub(crate) fn length(v: Point3) -> f64 {
    let squared = dot(v, v);
    if squared.is_finite() && squared >= f64::MIN_POSITIVE {
        squared.sqrt()
    } else {
        crate::vec3::norm(v)
    }
}

fn point_point(a: Point3, b: Point3) -> f64 {
    length(sub(a, b))
}

/// The point of segment `s` closest to `p`.
pub fn closest_on_segment(p: Point3, s: [Point3; 2]) -> Point3 {
    let d = sub(s[1], s[0]);
    let dd = dot(d, d);
    if dd == 0.0 {
        return s[0];
    }
    let t = (dot(sub(p, s[0]), d) / dd).clamp(0.0, 1.0);
    lerp(s[0], s[1], t)
}

/// The point of triangle `t` closest to `p` (Ericson, *Real-Time Collision Detection* 5.1.5:
/// find the Voronoi region of `p` among the triangle's features).
pub fn closest_on_triangle(p: Point3, t: [Point3; 3]) -> Point3 {
    let [a, b, c] = t;
    let (ab, ac, ap) = (sub(b, a), sub(c, a), sub(p, a));
    let (d1, d2) = (dot(ab, ap), dot(ac, ap));
    if d1 <= 0.0 && d2 <= 0.0 {
        return a;
    }
    let bp = sub(p, b);
    let (d3, d4) = (dot(ab, bp), dot(ac, bp));
    if d3 >= 0.0 && d4 <= d3 {
        return b;
    }
    let vc = d1 * d4 - d3 * d2;
    if vc <= 0.0 && d1 >= 0.0 && d3 <= 0.0 {
        return closest_on_segment(p, [a, b]);
    }
    let cp = sub(p, c);
    let (d5, d6) = (dot(ab, cp), dot(ac, cp));
    if d6 >= 0.0 && d5 <= d6 {
        return c;
    }
    let vb = d5 * d2 - d1 * d6;
    if vb <= 0.0 && d2 >= 0.0 && d6 <= 0.0 {
        return closest_on_segment(p, [a, c]);
    }
    let va = d3 * d6 - d5 * d4;
    if va <= 0.0 && (d4 - d3) >= 0.0 && (d5 - d6) >= 0.0 {
        return closest_on_segment(p, [b, c]);
    }
    let denom = va + vb + vc;
    if denom == 0.0 || !denom.is_finite() {
        // Only for triangles at the edge of f64 range: the edges then bound the answer.
        let candidates = [
            closest_on_segment(p, [a, b]),
            closest_on_segment(p, [b, c]),
            closest_on_segment(p, [a, c]),
        ];
        return nearest_of(p, &candidates);
    }
    let (v, w) = (vb / denom, vc / denom);
    let inside = [
        a[0] + ab[0] * v + ac[0] * w,
        a[1] + ab[1] * v + ac[1] * w,
        a[2] + ab[2] * v + ac[2] * w,
    ];
    // Rounding can put the projected point a hair outside; the edges bound it either way.
    nearest_of(
        p,
        &[
            inside,
            closest_on_segment(p, [a, b]),
            closest_on_segment(p, [b, c]),
            closest_on_segment(p, [a, c]),
        ],
    )
}

fn nearest_of(p: Point3, candidates: &[Point3]) -> Point3 {
    let mut best = candidates[0];
    let mut best_d = point_point(p, best);
    for c in &candidates[1..] {
        let d = point_point(p, *c);
        if d < best_d {
            best = *c;
            best_d = d;
        }
    }
    best
}

/// The point of box `b` closest to `p` (`p` itself when inside: boxes are solid).
pub fn closest_on_box(p: Point3, b: &Aabb) -> Point3 {
    [0, 1, 2].map(|a| p[a].clamp(b.min[a], b.max[a]))
}

/// Distance between two segments: the minimum of the four endpoint-to-segment distances and,
/// when the closest points of the two lines fall inside both segments, their distance.
fn segment_segment(s1: [Point3; 2], s2: [Point3; 2]) -> f64 {
    let mut best = point_point(s1[0], closest_on_segment(s1[0], s2))
        .min(point_point(s1[1], closest_on_segment(s1[1], s2)))
        .min(point_point(s2[0], closest_on_segment(s2[0], s1)))
        .min(point_point(s2[1], closest_on_segment(s2[1], s1)));
    let (d1, d2, r) = (sub(s1[1], s1[0]), sub(s2[1], s2[0]), sub(s1[0], s2[0]));
    let (a, e, b) = (dot(d1, d1), dot(d2, d2), dot(d1, d2));
    let (c, f) = (dot(d1, r), dot(d2, r));
    let denom = a * e - b * b;
    if denom > 0.0 && denom.is_finite() {
        let s = (b * f - c * e) / denom;
        let t = (a * f - b * c) / denom;
        if (0.0..=1.0).contains(&s) && (0.0..=1.0).contains(&t) {
            best = best.min(point_point(lerp(s1[0], s1[1], s), lerp(s2[0], s2[1], t)));
        }
    }
    best
}

/// Whether segment `s` passes through triangle `t` (touching counts), decided by orientation
/// signs. A segment lying in the triangle's plane is left to the edge and endpoint tests.
fn segment_crosses_triangle(s: [Point3; 2], t: [Point3; 3]) -> bool {
    let [a, b, c] = t;
    let (d0, d1) = (orient(a, b, c, s[0]), orient(a, b, c, s[1]));
    if (d0 > 0.0 && d1 > 0.0) || (d0 < 0.0 && d1 < 0.0) || (d0 == 0.0 && d1 == 0.0) {
        return false;
    }
    let (p, q) = (s[0], s[1]);
    let e1 = orient(p, q, a, b);
    let e2 = orient(p, q, b, c);
    let e3 = orient(p, q, c, a);
    (e1 >= 0.0 && e2 >= 0.0 && e3 >= 0.0) || (e1 <= 0.0 && e2 <= 0.0 && e3 <= 0.0)
}

fn point_triangle(p: Point3, t: [Point3; 3]) -> f64 {
    point_point(p, closest_on_triangle(p, t))
}

fn segment_triangle(s: [Point3; 2], t: [Point3; 3]) -> f64 {
    if segment_crosses_triangle(s, t) {
        return 0.0;
    }
    point_triangle(s[0], t)
        .min(point_triangle(s[1], t))
        .min(segment_segment(s, [t[0], t[1]]))
        .min(segment_segment(s, [t[1], t[2]]))
        .min(segment_segment(s, [t[2], t[0]]))
}

fn triangle_edges(t: [Point3; 3]) -> [[Point3; 2]; 3] {
    [[t[0], t[1]], [t[1], t[2]], [t[2], t[0]]]
}

/// Two triangles are at the minimum of their six edge-to-triangle distances: if they
/// intersect, some edge of one meets the other; if not, a closest pair always involves an
/// edge (face-face closest pairs only occur for parallel faces, where an edge does as well).
fn triangle_triangle(t1: [Point3; 3], t2: [Point3; 3]) -> f64 {
    let mut best = f64::INFINITY;
    for e in triangle_edges(t1) {
        best = best.min(segment_triangle(e, t2));
        if best == 0.0 {
            return 0.0;
        }
    }
    for e in triangle_edges(t2) {
        best = best.min(segment_triangle(e, t1));
        if best == 0.0 {
            return 0.0;
        }
    }
    best
}

fn point_box(p: Point3, b: &Aabb) -> f64 {
    point_point(p, closest_on_box(p, b))
}

/// Whether segment `s` meets the solid box (slab clipping).
fn segment_meets_box(s: [Point3; 2], b: &Aabb) -> bool {
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    let d = sub(s[1], s[0]);
    for a in 0..3 {
        if d[a] == 0.0 {
            if s[0][a] < b.min[a] || s[0][a] > b.max[a] {
                return false;
            }
            continue;
        }
        let (mut lo, mut hi) = ((b.min[a] - s[0][a]) / d[a], (b.max[a] - s[0][a]) / d[a]);
        if lo > hi {
            std::mem::swap(&mut lo, &mut hi);
        }
        t0 = t0.max(lo);
        t1 = t1.min(hi);
        if t0 > t1 {
            return false;
        }
    }
    true
}

fn segment_box(s: [Point3; 2], b: &Aabb) -> f64 {
    if b.contains_point(s[0]) || b.contains_point(s[1]) || segment_meets_box(s, b) {
        return 0.0;
    }
    let mut best = point_box(s[0], b).min(point_box(s[1], b));
    for edge in b.edges() {
        best = best.min(segment_segment(s, edge));
    }
    best
}

/// Whether triangle `t` meets the solid box: the separating-axis test over the box's three
/// normals, the triangle's normal and the nine edge cross products.
fn triangle_meets_box(t: [Point3; 3], b: &Aabb) -> bool {
    let center = [0, 1, 2].map(|a| (b.min[a] + b.max[a]) * 0.5);
    let half = [0, 1, 2].map(|a| (b.max[a] - b.min[a]) * 0.5);
    let v = t.map(|p| sub(p, center));
    let edges = [sub(v[1], v[0]), sub(v[2], v[1]), sub(v[0], v[2])];
    let units = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    let separated = |axis: Point3| {
        if axis == [0.0; 3] {
            return false;
        }
        let p = v.map(|x| dot(x, axis));
        let (lo, hi) = (p[0].min(p[1]).min(p[2]), p[0].max(p[1]).max(p[2]));
        let r = half[0] * axis[0].abs() + half[1] * axis[1].abs() + half[2] * axis[2].abs();
        lo > r || hi < -r
    };
    if units.iter().any(|u| separated(*u)) {
        return false;
    }
    if separated(cross(edges[0], edges[1])) {
        return false;
    }
    for u in units {
        for e in edges {
            if separated(cross(u, e)) {
                return false;
            }
        }
    }
    true
}

fn triangle_box(t: [Point3; 3], b: &Aabb) -> f64 {
    if triangle_meets_box(t, b) {
        return 0.0;
    }
    let mut best = f64::INFINITY;
    for e in triangle_edges(t) {
        best = best.min(segment_box(e, b));
    }
    for e in b.edges() {
        best = best.min(segment_triangle(e, t));
    }
    best
}

/// The exact distance between two primitives (0 when they meet).
pub fn primitive_distance(a: &Primitive, b: &Primitive) -> f64 {
    use Primitive as P;
    match (a, b) {
        (P::Sphere { center, radius }, other) | (other, P::Sphere { center, radius }) => {
            (primitive_distance(&P::Point(*center), other) - radius).max(0.0)
        }
        (P::Point(p), P::Point(q)) => point_point(*p, *q),
        (P::Point(p), P::Segment(s)) | (P::Segment(s), P::Point(p)) => {
            point_point(*p, closest_on_segment(*p, *s))
        }
        (P::Point(p), P::Triangle(t)) | (P::Triangle(t), P::Point(p)) => point_triangle(*p, *t),
        (P::Point(p), P::Box(b)) | (P::Box(b), P::Point(p)) => point_box(*p, b),
        (P::Segment(s), P::Segment(r)) => segment_segment(*s, *r),
        (P::Segment(s), P::Triangle(t)) | (P::Triangle(t), P::Segment(s)) => {
            segment_triangle(*s, *t)
        }
        (P::Segment(s), P::Box(b)) | (P::Box(b), P::Segment(s)) => segment_box(*s, b),
        (P::Triangle(t), P::Triangle(u)) => triangle_triangle(*t, *u),
        (P::Triangle(t), P::Box(b)) | (P::Box(b), P::Triangle(t)) => triangle_box(*t, b),
        (P::Box(x), P::Box(y)) => x.distance(y),
    }
}

/// The exact distance between two geometries: the minimum over the parts of `a` of
/// `primitive_to_geometry`. The spatial index computes each part's distance with that same
/// function, so an indexed answer and a full scan agree to the last bit.
pub fn distance(a: &Geometry, b: &Geometry) -> f64 {
    let mut best = f64::INFINITY;
    for pa in parts(a) {
        best = best.min(primitive_to_geometry(&pa, b));
        if best == 0.0 {
            return 0.0;
        }
    }
    best
}

/// The exact distance from a primitive to a geometry: the minimum over the geometry's parts,
/// skipping parts whose bounding box is already no closer than the best found.
pub fn primitive_to_geometry(p: &Primitive, g: &Geometry) -> f64 {
    if !matches!(g, Geometry::Mesh(_)) {
        // One part: the loop below would measure it without a box test, so this is the
        // same figure, without computing two boxes.
        return part(g, 0).map_or(f64::INFINITY, |q| primitive_distance(p, &q));
    }
    let bp = p.bbox();
    let mut best = f64::INFINITY;
    for i in 0..part_count(g) {
        let Some(q) = part(g, i) else { break };
        if bp.distance(&q.bbox()) >= best {
            continue;
        }
        best = best.min(primitive_distance(p, &q));
        if best == 0.0 {
            break;
        }
    }
    best
}

/// The point of `g` closest to `p` (for a solid, `p` itself when inside).
pub fn closest_point(g: &Geometry, p: Point3) -> Point3 {
    let mut best = p;
    let mut best_d = f64::INFINITY;
    for q in parts(g) {
        let c = match q {
            Primitive::Point(x) => x,
            Primitive::Segment(s) => closest_on_segment(p, s),
            Primitive::Triangle(t) => closest_on_triangle(p, t),
            Primitive::Box(b) => closest_on_box(p, &b),
            Primitive::Sphere { center, radius } => {
                let d = point_point(p, center);
                if d <= radius {
                    p
                } else {
                    lerp(center, p, radius / d)
                }
            }
        };
        let d = point_point(p, c);
        if d < best_d {
            best = c;
            best_d = d;
        }
    }
    best
}

/// Whether two geometries share a point (distance exactly 0).
pub fn intersects(a: &Geometry, b: &Geometry) -> bool {
    distance(a, b) == 0.0
}
