//! [`ExactSum`]: a sum of integers and floats with no rounding at all.
//!
//! Why exact: a conserved quantity is checked by asking whether a transaction's delta is
//! *zero*, and a bound by asking on which side of it a total lies. With rounded float
//! arithmetic both answers drift with the order of additions; an invariant that holds or not
//! depending on summation order is not an invariant.
//!
//! How: integers (and floats holding integers below 2^100) accumulate in an `i128`, checked
//! against [`INT_LIMIT`]. Other floats accumulate as a *non-overlapping expansion*: a short
//! list of `f64`s, increasing in magnitude, whose exact mathematical sum is the total
//! (Shewchuk, "Adaptive Precision Floating-Point Arithmetic", 1997; the algorithm behind
//! Python's `math.fsum`). Each addition uses the error-free transformation Fast2Sum
//! (`hi = x + y; lo = y - (hi - x)` with `|x| >= |y|`), which captures the rounding error
//! `lo` exactly, so no information is ever lost. The expansion stays short in practice (one to
//! three components) and never exceeds about 40 (the width of the `f64` exponent range).
//! Comparisons fold the integer part into a copy of the expansion (an `i128` splits exactly
//! into at most three `f64`s) and read the sign of the largest component, which is the sign of
//! the whole exact sum.
//!
//! Why not a fixed-point superaccumulator: it is exact too, but every stored group aggregate
//! would carry ~270 bytes (2,100+ bits); the expansion is 17 bytes for integer data and
//! typically 25–41 for float data.

use std::cmp::Ordering;

use cairn_doc::Value;

use crate::limits::MAX_SUM_COMPONENTS;

/// Largest magnitude of the integer part. Far beyond any sum of `i64` values a database can
/// hold (2^63 × 2^57 documents), and low enough that differences of two integer parts still
/// fit an `i128` and convert exactly through `f64`.
pub const INT_LIMIT: i128 = 1 << 120;

/// Floats with no fraction and a magnitude below this go to the integer part, so integral
/// floats (`5.0`) and integers (`5`) cancel exactly and cheaply.
const INTEGRAL_FLOAT_LIMIT: f64 = (1u128 << 100) as f64;

/// Below this magnitude (for the added float and the expansion's largest component) no
/// intermediate of Grow-Expansion can overflow: each is at most about three times the larger
/// of the two (a non-overlapping expansion sums to less than twice its largest component), so
/// the expansion can be grown in place without allocating, with no failure to undo.
const IN_PLACE_LIMIT: f64 = 1e300;

/// The exact sum left the representable range (an integer part beyond [`INT_LIMIT`], a float
/// component beyond `f64::MAX`, or a non-finite input).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the exact sum is out of range (beyond 2^120 for integers or f64::MAX for floats)")]
pub struct SumOverflow;

/// An exact sum of integers and floats. See the module documentation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExactSum {
    int: i128,
    /// Non-overlapping, non-zero, increasing in magnitude.
    partials: Vec<f64>,
}

impl ExactSum {
    /// Zero.
    pub fn zero() -> ExactSum {
        ExactSum::default()
    }

    /// Adds an integer.
    pub fn add_int(&mut self, value: i128) -> Result<(), SumOverflow> {
        let sum = self.int.checked_add(value).ok_or(SumOverflow)?;
        if sum.unsigned_abs() > INT_LIMIT.unsigned_abs() {
            return Err(SumOverflow);
        }
        self.int = sum;
        Ok(())
    }

    /// Adds a float exactly. Fails on NaN, infinities and overflow (leaving the sum as it was).
    pub fn add_float(&mut self, value: f64) -> Result<(), SumOverflow> {
        if !value.is_finite() {
            return Err(SumOverflow);
        }
        if value.fract() == 0.0 && value.abs() < INTEGRAL_FLOAT_LIMIT {
            // Exact: an integral float below 2^100 converts to i128 without rounding.
            return self.add_int(value as i128);
        }
        let largest = self.partials.last().map_or(0.0, |p| p.abs());
        if value.abs() < IN_PLACE_LIMIT
            && largest < IN_PLACE_LIMIT
            && self.partials.len() < MAX_SUM_COMPONENTS
        {
            grow_in_place(&mut self.partials, value);
        } else {
            self.partials = grow(&self.partials, value)?;
        }
        Ok(())
    }

    /// Adds another exact sum.
    pub fn add_sum(&mut self, other: &ExactSum) -> Result<(), SumOverflow> {
        let mut out = self.clone();
        out.add_int(other.int)?;
        for &part in &other.partials {
            out.partials = grow(&out.partials, part)?;
        }
        *self = out;
        Ok(())
    }

    /// The sum with the opposite sign.
    pub fn negated(&self) -> ExactSum {
        ExactSum {
            int: -self.int,
            partials: self.partials.iter().map(|p| -p).collect(),
        }
    }

    /// Compares two sums exactly.
    pub fn cmp_exact(&self, other: &ExactSum) -> Result<Ordering, SumOverflow> {
        let mut expansion = self.partials.clone();
        for &part in &other.partials {
            expansion = grow(&expansion, -part)?;
        }
        // Both integer parts are within ±2^120, so the difference fits.
        let mut rest = self.int - other.int;
        while rest != 0 {
            // Rounds to nearest; the remainder is exact and ~2^53 times smaller, so at most
            // three rounds.
            let part = rest as f64;
            expansion = grow(&expansion, part)?;
            rest -= part as i128;
        }
        Ok(match expansion.last() {
            Some(top) if *top > 0.0 => Ordering::Greater,
            Some(top) if *top < 0.0 => Ordering::Less,
            _ => Ordering::Equal,
        })
    }

    /// Whether the sum is exactly zero.
    pub fn is_zero(&self) -> bool {
        matches!(self.cmp_exact(&ExactSum::zero()), Ok(Ordering::Equal))
    }

    /// Whether the sum is an integer held exactly in the integer part (no float components).
    pub fn is_integer(&self) -> bool {
        self.partials.is_empty()
    }

    /// The nearest `f64` (within an ulp or so), for display.
    pub fn approx(&self) -> f64 {
        let floats: f64 = self.partials.iter().sum();
        self.int as f64 + floats
    }

    /// The sum as a document value: an `Int` when it is an integer that fits, else the nearest
    /// `Float` (for display and error details; the stored sum stays exact).
    pub fn to_value(&self) -> Value {
        match i64::try_from(self.int) {
            Ok(int) if self.partials.is_empty() => Value::Int(int),
            _ => Value::Float(self.approx()),
        }
    }

    /// Appends the encoding: the integer part (16 bytes, little endian), the number of float
    /// components (1 byte), then each component (8 bytes, little endian).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.int.to_le_bytes());
        // At most MAX_SUM_COMPONENTS (< 256), kept by `grow`.
        out.push(self.partials.len() as u8);
        for part in &self.partials {
            out.extend_from_slice(&part.to_le_bytes());
        }
    }

    /// Decodes what [`ExactSum::encode`] wrote at the start of `bytes`; returns it and the
    /// bytes it used, or `None` when the bytes are not a valid encoding.
    pub fn decode(bytes: &[u8]) -> Option<(ExactSum, usize)> {
        let int = i128::from_le_bytes(bytes.get(..16)?.try_into().ok()?);
        let count = usize::from(*bytes.get(16)?);
        if count > MAX_SUM_COMPONENTS || int.unsigned_abs() > INT_LIMIT.unsigned_abs() {
            return None;
        }
        let mut partials = Vec::with_capacity(count);
        for index in 0..count {
            let start = 17 + index * 8;
            let part = f64::from_le_bytes(bytes.get(start..start + 8)?.try_into().ok()?);
            if !part.is_finite() || part == 0.0 {
                return None;
            }
            partials.push(part);
        }
        Some((ExactSum { int, partials }, 17 + count * 8))
    }
}

/// Adds `x` to a non-overlapping expansion exactly (Shewchuk's Grow-Expansion with zero
/// elimination), returning the new expansion; the input is untouched on error.
fn grow(partials: &[f64], x: f64) -> Result<Vec<f64>, SumOverflow> {
    let mut out = Vec::with_capacity(partials.len() + 1);
    let mut x = x;
    for &part in partials {
        let (mut big, mut small) = (x, part);
        if big.abs() < small.abs() {
            std::mem::swap(&mut big, &mut small);
        }
        let hi = big + small;
        if !hi.is_finite() {
            return Err(SumOverflow);
        }
        // Fast2Sum: exact because |big| >= |small|.
        let lo = small - (hi - big);
        if lo != 0.0 {
            out.push(lo);
        }
        x = hi;
    }
    if x != 0.0 {
        out.push(x);
    }
    if out.len() > MAX_SUM_COMPONENTS {
        // Cannot happen for a valid expansion (see MAX_SUM_COMPONENTS); refuse, never panic.
        return Err(SumOverflow);
    }
    Ok(out)
}

/// [`grow`] without allocating, for inputs that cannot overflow (see [`IN_PLACE_LIMIT`]):
/// the output never runs ahead of the input, as each component read yields at most one.
fn grow_in_place(partials: &mut Vec<f64>, x: f64) {
    let mut x = x;
    let mut kept = 0;
    for i in 0..partials.len() {
        let (mut big, mut small) = (x, partials[i]);
        if big.abs() < small.abs() {
            std::mem::swap(&mut big, &mut small);
        }
        let hi = big + small;
        let lo = small - (hi - big);
        if lo != 0.0 {
            partials[kept] = lo;
            kept += 1;
        }
        x = hi;
    }
    partials.truncate(kept);
    if x != 0.0 {
        partials.push(x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sum_floats(values: &[f64]) -> ExactSum {
        let mut sum = ExactSum::zero();
        for &v in values {
            sum.add_float(v).unwrap();
        }
        sum
    }

    #[test]
    fn cancellation_that_naive_float_sums_lose_is_exact() {
        let sum = sum_floats(&[1e100, 1.0, -1e100]);
        assert_eq!(sum.to_value(), Value::Int(1));
        let sum = sum_floats(&[0.1, 0.2, -0.3]);
        // 0.1 + 0.2 - 0.3 is not zero in binary; the exact sum says so (naively 5.55e-17).
        assert!(!sum.is_zero());
        let sum = sum_floats(&[0.1, 0.2, -0.1, -0.2]);
        assert!(sum.is_zero());
    }

    #[test]
    fn integers_and_integral_floats_cancel() {
        let mut sum = ExactSum::zero();
        sum.add_int(5).unwrap();
        sum.add_float(-5.0).unwrap();
        assert!(sum.is_zero());
        sum.add_int(i128::from(i64::MAX)).unwrap();
        sum.add_int(i128::from(i64::MAX)).unwrap();
        assert_eq!(sum.cmp_exact(&ExactSum::zero()).unwrap(), Ordering::Greater);
    }

    #[test]
    fn non_finite_and_overflow_are_refused_without_change() {
        let mut sum = sum_floats(&[f64::MAX]);
        let before = sum.clone();
        assert_eq!(sum.add_float(f64::MAX), Err(SumOverflow));
        assert_eq!(sum, before);
        assert_eq!(sum.add_float(f64::NAN), Err(SumOverflow));
        let mut ints = ExactSum::zero();
        assert_eq!(ints.add_int(INT_LIMIT + 1), Err(SumOverflow));
    }

    /// Reference: every finite f64 is k·2^-1074 for an integer k below 2^2098; summing the k as
    /// big integers (here as i128 over a narrow exponent window) is exact.
    fn scaled(value: f64) -> i128 {
        (value * (1u64 << 40) as f64) as i128
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn comparisons_match_an_exact_fixed_point_model(
            raw in proptest::collection::vec((-1_000_000i64..1_000_000, 0u32..30), 0..40),
            other in proptest::collection::vec((-1_000_000i64..1_000_000, 0u32..30), 0..40),
        ) {
            // Values m / 2^e with e < 40 are exact binary fractions, so the fixed-point model
            // (scaled by 2^40) is exact as well.
            let to_f = |(m, e): &(i64, u32)| *m as f64 / (1u64 << e) as f64;
            let a: Vec<f64> = raw.iter().map(to_f).collect();
            let b: Vec<f64> = other.iter().map(to_f).collect();
            let model_a: i128 = a.iter().map(|v| scaled(*v)).sum();
            let model_b: i128 = b.iter().map(|v| scaled(*v)).sum();
            let sa = sum_floats(&a);
            let sb = sum_floats(&b);
            prop_assert_eq!(sa.cmp_exact(&sb).unwrap(), model_a.cmp(&model_b));
            let mut bytes = Vec::new();
            sa.encode(&mut bytes);
            let (decoded, used) = ExactSum::decode(&bytes).unwrap();
            prop_assert_eq!(used, bytes.len());
            prop_assert_eq!(decoded, sa.clone());
            let mut diff = sa.clone();
            diff.add_sum(&sb.negated()).unwrap();
            prop_assert_eq!(diff.is_zero(), model_a == model_b);
        }
    }
}
