//! Distances against closed-form cases and against an independent high-precision reference:
//! the distance between two convex pieces is the minimum of a convex function over their
//! parameter domains, found here by nested golden-section search (no shared code with the
//! feature-based implementation).

use cairn_doc::{Geometry, Point3};
use cairn_geo::primitive_distance;
use cairn_geo::{distance, Aabb, Primitive};
use proptest::prelude::*;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn point_to_triangle_closed_forms() {
    let t = Geometry::Triangle([[0.0, 0.0, 0.0], [4.0, 0.0, 0.0], [0.0, 4.0, 0.0]]);
    // Above the interior: the height.
    assert_eq!(distance(&Geometry::Point([1.0, 1.0, 3.0]), &t), 3.0);
    // Beyond a vertex: distance to that vertex (3-4-5 triangle).
    assert_eq!(distance(&Geometry::Point([-3.0, -4.0, 0.0]), &t), 5.0);
    // Beyond the hypotenuse, in plane: (3,3) is at distance sqrt(2) from x+y=4.
    let d = distance(&Geometry::Point([3.0, 3.0, 0.0]), &t);
    assert!(close(d, 2f64.sqrt(), 1e-15), "{d}");
    // On the surface: 0.
    assert_eq!(distance(&Geometry::Point([1.0, 1.0, 0.0]), &t), 0.0);
}

#[test]
fn skew_segments_closed_form() {
    // Lines x-axis at z=0 and y-axis at z=2: distance 2 between interiors.
    let a = Geometry::Segment([[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]);
    let b = Geometry::Segment([[0.0, -1.0, 2.0], [0.0, 1.0, 2.0]]);
    assert_eq!(distance(&a, &b), 2.0);
    // Shift b so the closest interior point is outside a: endpoint distance sqrt(4 + 4).
    let c = Geometry::Segment([[3.0, -1.0, 2.0], [3.0, 1.0, 2.0]]);
    assert!(close(distance(&a, &c), 8f64.sqrt(), 1e-15));
}

#[test]
fn crossing_shapes_are_at_distance_zero() {
    let t = Geometry::Triangle([[0.0, 0.0, 0.0], [4.0, 0.0, 0.0], [0.0, 4.0, 0.0]]);
    let through = Geometry::Segment([[1.0, 1.0, -1.0], [1.0, 1.0, 1.0]]);
    assert_eq!(distance(&t, &through), 0.0);
    let other = Geometry::Triangle([[1.0, 1.0, -1.0], [1.0, 1.0, 1.0], [1.0, -3.0, 0.0]]);
    assert_eq!(distance(&t, &other), 0.0);
    let b = Geometry::Box {
        min: [0.5, 0.5, -0.1],
        max: [0.6, 0.6, 0.1],
    };
    assert_eq!(distance(&t, &b), 0.0);
    assert!(cairn_geo::intersects(&b, &t));
}

#[test]
fn solids_are_solid_and_meshes_are_surfaces() {
    let ball = Geometry::Sphere {
        center: [0.0; 3],
        radius: 2.0,
    };
    assert_eq!(distance(&Geometry::Point([1.0, 0.0, 0.0]), &ball), 0.0);
    assert_eq!(distance(&Geometry::Point([5.0, 0.0, 0.0]), &ball), 3.0);
    let ico = cairn_geo::icosahedron([0.0; 3], 2.0).unwrap();
    // The center is inside the closed mesh but away from its surface.
    let inradius = distance(&Geometry::Point([0.0; 3]), &ico);
    // Inradius of a regular icosahedron with circumradius R: R * 0.7946544722917661.
    assert!(
        close(inradius, 2.0 * 0.794_654_472_291_766_1, 1e-14),
        "{inradius}"
    );
    let Geometry::Mesh(mesh) = &ico else {
        unreachable!()
    };
    assert!(cairn_geo::point_in_mesh(mesh, [0.1, 0.2, -0.3]).unwrap());
    assert!(!cairn_geo::point_in_mesh(mesh, [2.1, 0.0, 0.0]).unwrap());
}

#[test]
fn icosahedron_and_geodesic_measures_match_closed_forms() {
    let r = 3.0;
    let ico = cairn_geo::icosahedron([1.0, 2.0, 3.0], r).unwrap();
    // Edge a = R / sin(2π/5); area 5√3 a²; volume 5(3+√5)/12 a³.
    let a = r / (2.0 * std::f64::consts::PI / 5.0).sin();
    assert!(close(
        cairn_geo::area(&ico),
        5.0 * 3f64.sqrt() * a * a,
        1e-13
    ));
    let v = cairn_geo::volume(&ico).unwrap();
    assert!(close(
        v,
        5.0 * (3.0 + 5f64.sqrt()) / 12.0 * a.powi(3),
        1e-13
    ));
    let c = cairn_geo::centroid(&ico);
    for (got, want) in c.iter().zip([1.0, 2.0, 3.0]) {
        assert!(close(*got, want, 1e-13));
    }
    let fine = cairn_geo::geodesic_sphere([0.0; 3], 1.0, 4).unwrap();
    let Geometry::Mesh(mesh) = &fine else {
        unreachable!()
    };
    assert_eq!(mesh.triangles.len(), 20 * 256);
    assert_eq!(mesh.vertices.len(), 10 * 256 + 2);
    assert!(cairn_geo::is_closed(mesh));
    // Converges to the sphere from inside.
    let vol = cairn_geo::volume(&fine).unwrap();
    assert!(
        vol < 4.0 / 3.0 * std::f64::consts::PI && vol > 0.99 * 4.0 / 3.0 * std::f64::consts::PI
    );
    assert!(cairn_geo::geodesic_sphere([0.0; 3], 1.0, 8).is_err());
}

#[test]
fn open_meshes_have_no_volume() {
    let t = Geometry::Mesh(cairn_doc::Mesh {
        vertices: vec![[0.0; 3], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
        triangles: vec![[0, 1, 2]],
    });
    assert!(matches!(
        cairn_geo::volume(&t),
        Err(cairn_geo::GeoError::NotClosed { .. })
    ));
}

// ---- the high-precision reference ---------------------------------------------------------

const PHI: f64 = 0.618_033_988_749_894_8;

/// Golden-section steps per level: the bracket shrinks to 0.618^40 ≈ 4e-9 of its width, so a
/// nested search stays accurate to about 1e-7 at these coordinate scales (near a positive
/// minimum the error is quadratic, far smaller) while three nested levels stay fast.
const GOLDEN_STEPS: usize = 40;

/// Minimises a convex function on [lo, hi] by golden-section search.
fn golden(lo: f64, hi: f64, f: &dyn Fn(f64) -> f64) -> f64 {
    let (mut a, mut b) = (lo, hi);
    for _ in 0..GOLDEN_STEPS {
        let c = b - PHI * (b - a);
        let d = a + PHI * (b - a);
        if f(c) <= f(d) {
            b = d;
        } else {
            a = c;
        }
    }
    f((a + b) / 2.0).min(f(lo)).min(f(hi))
}

fn lerp(a: Point3, b: Point3, t: f64) -> Point3 {
    [0, 1, 2].map(|i| a[i] + (b[i] - a[i]) * t)
}

fn len(a: Point3, b: Point3) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// The point of a triangle at parameters (u, v) of the unit triangle, parameterised as
/// u ∈ [0,1], v ∈ [0, 1-u].
fn tri_at(t: &[Point3; 3], u: f64, v: f64) -> Point3 {
    [0, 1, 2].map(|i| t[0][i] + (t[1][i] - t[0][i]) * u + (t[2][i] - t[0][i]) * v)
}

/// Reference distance from a point to a triangle: nested golden sections (the inner minimum
/// of a jointly convex function is convex in the outer variable).
fn ref_point_triangle(p: Point3, t: &[Point3; 3]) -> f64 {
    golden(0.0, 1.0, &|u| {
        golden(0.0, 1.0 - u, &|v| len(p, tri_at(t, u, v)))
    })
}

fn ref_segment_segment(s: &[Point3; 2], r: &[Point3; 2]) -> f64 {
    golden(0.0, 1.0, &|a| {
        let p = lerp(s[0], s[1], a);
        golden(0.0, 1.0, &|b| len(p, lerp(r[0], r[1], b)))
    })
}

fn ref_segment_triangle(s: &[Point3; 2], t: &[Point3; 3]) -> f64 {
    golden(0.0, 1.0, &|a| ref_point_triangle(lerp(s[0], s[1], a), t))
}

fn coord() -> impl Strategy<Value = f64> {
    -10.0..10.0f64
}

fn point() -> impl Strategy<Value = Point3> {
    [coord(), coord(), coord()]
}

fn triangle() -> impl Strategy<Value = [Point3; 3]> {
    [point(), point(), point()].prop_filter("non-degenerate", |t| {
        Geometry::Triangle(*t).validate().is_ok() && cairn_geo::area(&Geometry::Triangle(*t)) > 1e-3
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn point_triangle_matches_reference(p in point(), t in triangle()) {
        let got = primitive_distance(&Primitive::Point(p), &Primitive::Triangle(t));
        let want = ref_point_triangle(p, &t);
        prop_assert!(close(got, want, 1e-7), "got {got}, reference {want}");
        prop_assert!(got <= want + 1e-9);
    }

    #[test]
    fn segment_segment_matches_reference(a in point(), b in point(), c in point(), d in point()) {
        let got = primitive_distance(&Primitive::Segment([a, b]), &Primitive::Segment([c, d]));
        let want = ref_segment_segment(&[a, b], &[c, d]);
        prop_assert!(close(got, want, 1e-7), "got {got}, reference {want}");
    }

}

proptest! {
    // Three nested searches per reference value: fewer cases keep this test to seconds.
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn segment_triangle_matches_reference(a in point(), b in point(), t in triangle()) {
        let got = primitive_distance(&Primitive::Segment([a, b]), &Primitive::Triangle(t));
        let want = ref_segment_triangle(&[a, b], &t);
        prop_assert!(close(got, want, 1e-6) || (got == 0.0 && want < 1e-7), "got {got}, reference {want}");
    }

    #[test]
    fn box_distances_match_the_clamp_reference(p in point(), a in point(), b in point(), t in triangle()) {
        let bx = Aabb::of_point(a).with(b);
        let got = primitive_distance(&Primitive::Point(p), &Primitive::Box(bx));
        let clamped = [0, 1, 2].map(|i| p[i].clamp(bx.min[i], bx.max[i]));
        prop_assert_eq!(got, len(p, clamped));
        // Triangle to box: the box is convex, so the reference minimises over the triangle the
        // (convex) distance to the box.
        let tb = primitive_distance(&Primitive::Triangle(t), &Primitive::Box(bx));
        let to_box = |q: Point3| len(q, [0, 1, 2].map(|i| q[i].clamp(bx.min[i], bx.max[i])));
        let want = golden(0.0, 1.0, &|u| golden(0.0, 1.0 - u, &|v| to_box(tri_at(&t, u, v))));
        prop_assert!(close(tb, want, 1e-6) || (tb == 0.0 && want < 1e-7), "got {tb}, reference {want}");
    }

    #[test]
    fn triangle_triangle_is_symmetric_and_bounded_by_vertices(t in triangle(), u in triangle()) {
        let d1 = primitive_distance(&Primitive::Triangle(t), &Primitive::Triangle(u));
        let d2 = primitive_distance(&Primitive::Triangle(u), &Primitive::Triangle(t));
        prop_assert_eq!(d1, d2);
        for v in t {
            prop_assert!(d1 <= ref_point_triangle(v, &u) + 1e-9);
        }
        // Against the reference: min over the edges of each of the segment-triangle reference.
        let edges = |x: [Point3; 3]| [[x[0], x[1]], [x[1], x[2]], [x[2], x[0]]];
        let mut want = f64::INFINITY;
        for e in edges(t) { want = want.min(ref_segment_triangle(&e, &u)); }
        for e in edges(u) { want = want.min(ref_segment_triangle(&e, &t)); }
        prop_assert!(close(d1, want, 1e-6) || (d1 == 0.0 && want < 1e-7), "got {d1}, reference {want}");
    }
}
