//! The four metrics: what "nearer" means, and which vectors each accepts.
//!
//! Every metric is a *distance*: smaller is nearer, and it is what searches report.
//! * `cosine`: `1 − a·b / (‖a‖‖b‖)`, in `[0, 2]`; a zero vector has no direction and is refused.
//! * `dot`: `−a·b` (the negated inner product, so that the largest product is nearest); may
//!   be negative.
//! * `l2`: the Euclidean distance `‖a − b‖`.
//! * `poincare`: the hyperbolic distance in the Poincaré ball,
//!   `arcosh(1 + 2‖u−v‖² / ((1−‖u‖²)(1−‖v‖²)))`; every vector must lie strictly inside the
//!   unit ball (`‖v‖ < 1`).

use crate::error::{Result, VectorError};
use crate::kernels;

/// A distance function between vectors of one index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Cosine distance, `1 − cos θ`.
    Cosine,
    /// Negated inner product.
    Dot,
    /// Euclidean distance.
    L2,
    /// Hyperbolic distance in the Poincaré ball.
    Poincare,
}

impl Metric {
    /// Every metric, in the order they are documented.
    pub const ALL: [Metric; 4] = [Metric::Cosine, Metric::Dot, Metric::L2, Metric::Poincare];

    /// The name as written in definitions: `cosine`, `dot`, `l2`, `poincare`.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::Dot => "dot",
            Metric::L2 => "l2",
            Metric::Poincare => "poincare",
        }
    }

    /// Parses a metric name (see [`Metric::name`]).
    pub fn parse(text: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == text)
    }

    /// The distance between two vectors of the same dimension (validated by
    /// [`Metric::validate`]; for invalid inputs the result is meaningless but never a panic).
    pub fn distance(self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            Metric::Cosine => {
                let s = kernels::dot_norms(a, b);
                let denominator = (s.aa as f64 * s.bb as f64).sqrt();
                if denominator == 0.0 {
                    return 1.0;
                }
                // Rounding can take the cosine a hair outside [-1, 1].
                (1.0 - (s.cross as f64 / denominator).clamp(-1.0, 1.0)) as f32
            }
            Metric::Dot => -kernels::dot(a, b),
            Metric::L2 => kernels::l2sq(a, b).sqrt(),
            Metric::Poincare => {
                let s = kernels::l2sq_norms(a, b);
                poincare_from_sums(s.cross as f64, s.aa as f64, s.bb as f64) as f32
            }
        }
    }

    /// Checks a vector for this metric: its dimension, finite components, and the metric's
    /// own domain. `field` names where the vector came from in the error.
    pub fn validate(self, field: &str, dims: usize, vector: &[f32]) -> Result<()> {
        if vector.len() != dims {
            return Err(VectorError::WrongDimension {
                field: field.to_string(),
                expected: dims,
                actual: vector.len(),
            });
        }
        if let Some(index) = vector.iter().position(|x| !x.is_finite()) {
            return Err(VectorError::NonFinite {
                field: field.to_string(),
                index,
                value: vector[index].to_string(),
            });
        }
        match self {
            Metric::Cosine if vector.iter().all(|x| *x == 0.0) => Err(VectorError::ZeroVector {
                field: field.to_string(),
            }),
            Metric::Poincare => {
                let norm = (kernels::norm_sq(vector) as f64).sqrt();
                // Compared in f64 from the f32 sum: a vector whose norm rounds to 1 is refused,
                // as its distance to anything would be infinite.
                if norm >= 1.0 {
                    Err(VectorError::OutsideBall {
                        field: field.to_string(),
                        norm,
                    })
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }
}

/// The Poincaré distance from `‖u−v‖²`, `‖u‖²` and `‖v‖²`, computed in f64 because
/// `1 − ‖u‖²` loses most of its digits near the boundary.
fn poincare_from_sums(diff_sq: f64, u_sq: f64, v_sq: f64) -> f64 {
    let denominator = ((1.0 - u_sq) * (1.0 - v_sq)).max(f64::MIN_POSITIVE);
    let x = 1.0 + 2.0 * diff_sq / denominator;
    // arcosh(x) = ln(x + √(x²−1)), x ≥ 1.
    let x = x.max(1.0);
    (x + (x * x - 1.0).sqrt()).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poincare_distance_from_the_origin_matches_the_closed_form() {
        // From the origin, d(0, v) = 2 artanh(‖v‖) = ln((1+r)/(1−r)).
        for r in [0.0f32, 0.1, 0.5, 0.9, 0.99] {
            let v = [r, 0.0, 0.0];
            let expected = ((1.0 + r as f64) / (1.0 - r as f64)).ln();
            let got = Metric::Poincare.distance(&[0.0; 3], &v) as f64;
            assert!(
                (got - expected).abs() < 1e-4,
                "r = {r}: {got} vs {expected}"
            );
        }
    }

    #[test]
    fn poincare_distance_between_two_points_matches_the_definition_and_is_symmetric() {
        let (u, v) = ([0.3f32, -0.2, 0.1], [-0.4f32, 0.5, 0.2]);
        let sq = |a: &[f32]| a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>();
        let diff: Vec<f32> = u.iter().zip(&v).map(|(a, b)| a - b).collect();
        let expected = (1.0 + 2.0 * sq(&diff) / ((1.0 - sq(&u)) * (1.0 - sq(&v)))).acosh();
        let (uv, vu) = (
            Metric::Poincare.distance(&u, &v),
            Metric::Poincare.distance(&v, &u),
        );
        assert!((uv as f64 - expected).abs() < 1e-5);
        assert_eq!(uv, vu);
        assert_eq!(Metric::Poincare.distance(&u, &u), 0.0);
    }

    #[test]
    fn cosine_dot_and_l2_match_their_definitions() {
        let (a, b) = ([1.0f32, 0.0], [0.0f32, 2.0]);
        assert!((Metric::Cosine.distance(&a, &b) - 1.0).abs() < 1e-6);
        assert!((Metric::Cosine.distance(&a, &[3.0, 0.0])).abs() < 1e-6);
        assert!((Metric::Cosine.distance(&a, &[-3.0, 0.0]) - 2.0).abs() < 1e-6);
        assert_eq!(Metric::Dot.distance(&[1.0, 2.0], &[3.0, 4.0]), -11.0);
        assert_eq!(Metric::L2.distance(&[0.0, 0.0], &[3.0, 4.0]), 5.0);
    }

    #[test]
    fn validation_names_the_field_and_the_reason() {
        let err = |m: Metric, v: &[f32]| m.validate("emb", 3, v).unwrap_err().to_string();
        assert!(err(Metric::L2, &[1.0, 2.0]).contains("`emb` has 2 dimensions"));
        assert!(err(Metric::L2, &[1.0, f32::NAN, 0.0]).contains("component 1"));
        assert!(err(Metric::Dot, &[f32::INFINITY, 0.0, 0.0]).contains("not finite"));
        assert!(err(Metric::Cosine, &[0.0; 3]).contains("zero vector"));
        assert!(err(Metric::Poincare, &[0.6, 0.8, 0.0]).contains("unit ball"));
        assert!(Metric::Poincare
            .validate("emb", 3, &[0.6, 0.7, 0.0])
            .is_ok());
        assert!(Metric::L2.validate("emb", 3, &[0.0; 3]).is_ok());
    }
}
