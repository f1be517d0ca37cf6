//! What an invariant reads from a document: the number at a field path.
//!
//! A missing field or `null` has no amount: it contributes nothing to a sum and is not
//! subject to a bound (like SQL's `CHECK`, where NULL passes). Any other non-number (a string,
//! an array...) in a field an invariant sums or bounds is refused, because the invariant
//! declares the field numeric.

use std::cmp::Ordering;
use std::fmt;

use cairn_doc::{FieldPath, Value};

use crate::exact_sum::{ExactSum, SumOverflow};

/// A number read from a document or written in a rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Amount {
    /// An integer.
    Int(i64),
    /// A finite float.
    Float(f64),
}

impl Amount {
    /// The amount as an exact sum of one term.
    pub fn to_sum(self) -> Result<ExactSum, SumOverflow> {
        let mut sum = ExactSum::zero();
        match self {
            Amount::Int(int) => sum.add_int(i128::from(int))?,
            Amount::Float(float) => sum.add_float(float)?,
        }
        Ok(sum)
    }

    /// Adds the amount (or, with `subtract`, its negation) to `sum` exactly, without building
    /// a one-term sum first; on overflow `sum` is left as it was.
    pub fn add_to(self, sum: &mut ExactSum, subtract: bool) -> Result<(), SumOverflow> {
        match (self, subtract) {
            (Amount::Int(int), false) => sum.add_int(i128::from(int)),
            (Amount::Int(int), true) => sum.add_int(-i128::from(int)),
            (Amount::Float(float), false) => sum.add_float(float),
            (Amount::Float(float), true) => sum.add_float(-float),
        }
    }

    /// Exact comparison with a sum.
    pub fn cmp_sum(self, sum: &ExactSum) -> Result<Ordering, SumOverflow> {
        self.to_sum()?.cmp_exact(sum)
    }

    /// The amount as a document value.
    pub fn to_value(self) -> Value {
        match self {
            Amount::Int(int) => Value::Int(int),
            Amount::Float(float) => Value::Float(float),
        }
    }

    /// Parses a number written in a rule (`0`, `-5`, `2.5`, `1e6`); `None` if it is not a
    /// finite number.
    pub fn parse(text: &str) -> Option<Amount> {
        if let Ok(int) = text.parse::<i64>() {
            return Some(Amount::Int(int));
        }
        let starts_like_number = text
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'-' || b == b'+' || b == b'.');
        match text.parse::<f64>() {
            Ok(float) if float.is_finite() && starts_like_number => Some(Amount::Float(float)),
            _ => None,
        }
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Amount::Int(int) => write!(f, "{int}"),
            // Debug prints the shortest text that parses back to the same float.
            Amount::Float(float) => write!(f, "{float:?}"),
        }
    }
}

/// The amount at `path` in `doc`: `Ok(None)` when missing or null, `Err(value)` when the field
/// holds something that is not a number.
pub fn amount_at<'d>(doc: &'d Value, path: &FieldPath) -> Result<Option<Amount>, &'d Value> {
    match path.get(doc) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Int(int)) => Ok(Some(Amount::Int(*int))),
        Some(Value::Float(float)) if float.is_finite() => Ok(Some(Amount::Float(*float))),
        Some(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_numbers_parse_and_print_back() {
        for text in ["0", "-5", "2.5", "1e100", "-0.125"] {
            let amount = Amount::parse(text).unwrap();
            assert_eq!(Amount::parse(&amount.to_string()), Some(amount));
        }
        for text in ["", "x", "inf", "NaN", "1.2.3"] {
            assert_eq!(Amount::parse(text), None, "{text}");
        }
    }
}
