//! The few vector operations the geometry code is written in.

use cairn_doc::Point3;

/// `a - b`.
pub(crate) fn sub(a: Point3, b: Point3) -> Point3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

/// `a + b`.
pub(crate) fn add(a: Point3, b: Point3) -> Point3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

/// `a * s`.
pub(crate) fn scale(a: Point3, s: f64) -> Point3 {
    [a[0] * s, a[1] * s, a[2] * s]
}

/// `a + (b - a) * t`, the point at parameter `t` from `a` towards `b`.
pub(crate) fn lerp(a: Point3, b: Point3, t: f64) -> Point3 {
    add(a, scale(sub(b, a), t))
}

/// Dot product.
pub(crate) fn dot(a: Point3, b: Point3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Cross product.
pub(crate) fn cross(a: Point3, b: Point3) -> Point3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// Euclidean length, without overflow or underflow for extreme components.
///
/// The plain square root of the sum of squares is used whenever that sum is a finite normal
/// number (then it is accurate to about an ulp, and several times cheaper than `hypot`, which
/// dominated query profiles); only extreme components take the careful `hypot` path. Either
/// way the result is a pure function of `a`, so index and scan answers stay identical.
pub(crate) fn norm(a: Point3) -> f64 {
    let squares = a[0] * a[0] + a[1] * a[1] + a[2] * a[2];
    if squares.is_finite() && squares >= f64::MIN_POSITIVE {
        squares.sqrt()
    } else {
        a[0].hypot(a[1]).hypot(a[2])
    }
}

/// Six times the signed volume of the tetrahedron `a b c d`: positive when `d` lies on the side
/// of the plane `a b c` that its counter-clockwise normal points to.
pub(crate) fn orient(a: Point3, b: Point3, c: Point3, d: Point3) -> f64 {
    dot(cross(sub(b, a), sub(c, a)), sub(d, a))
}
