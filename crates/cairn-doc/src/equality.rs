//! [`values_equal`]: the equality users mean, as opposed to the structural `==`.
//!
//! Compare-and-swap, `$pull` and query equality should not care whether a client sent `1` or
//! `1.0`, nor in which order an object's fields were written; both are accidents of how a value
//! was produced, not part of its meaning. Everything else compares structurally.

use crate::{Object, Value};

/// Semantic equality: `Int` and `Float` compare numerically and exactly (`1 == 1.0`, but
/// `2^53 + 1 != 2^53 as float`), objects compare as sets of fields regardless of order, and all
/// other values compare structurally (arrays element by element in order, vectors by component).
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(i), Value::Float(f)) | (Value::Float(f), Value::Int(i)) => {
            int_equals_float(*i, *f)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => objects_equal(x, y),
        _ => a == b,
    }
}

/// Whether `f` is exactly the integer `i`, without the rounding of `i as f64`.
fn int_equals_float(i: i64, f: f64) -> bool {
    // i64::MIN is -2^63, exactly representable; 2^63 is the first float above i64::MAX.
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    f.fract() == 0.0 && (-TWO_POW_63..TWO_POW_63).contains(&f) && f as i64 == i
}

/// Field-set equality: same keys, equal values, any order.
fn objects_equal(x: &Object, y: &Object) -> bool {
    if x.len() != y.len() {
        return false;
    }
    // Small objects: probing by key is quadratic but allocation-free and fast at this size.
    const LINEAR_PROBE_MAX_FIELDS: usize = 16;
    if x.len() <= LINEAR_PROBE_MAX_FIELDS {
        return x
            .iter()
            .all(|(key, value)| y.get(key).is_some_and(|other| values_equal(value, other)));
    }
    let mut xs: Vec<(&str, &Value)> = x.iter().collect();
    let mut ys: Vec<(&str, &Value)> = y.iter().collect();
    xs.sort_unstable_by_key(|(key, _)| *key);
    ys.sort_unstable_by_key(|(key, _)| *key);
    xs.iter()
        .zip(&ys)
        .all(|((kx, vx), (ky, vy))| kx == ky && values_equal(vx, vy))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Vector;

    fn object(fields: &[(&str, Value)]) -> Value {
        Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn ints_and_floats_compare_numerically_and_exactly() {
        assert!(values_equal(&Value::Int(1), &Value::Float(1.0)));
        assert!(values_equal(&Value::Float(-0.0), &Value::Int(0)));
        assert!(!values_equal(&Value::Int(1), &Value::Float(1.5)));
        let big = (1i64 << 53) + 1;
        assert!(!values_equal(&Value::Int(big), &Value::Float(big as f64)));
        assert!(values_equal(
            &Value::Int(i64::MIN),
            &Value::Float(-(2f64.powi(63)))
        ));
        assert!(!values_equal(
            &Value::Int(i64::MAX),
            &Value::Float(2f64.powi(63))
        ));
    }

    #[test]
    fn objects_ignore_field_order_at_every_size() {
        for size in [2usize, 40] {
            let fields: Vec<(String, Value)> = (0..size)
                .map(|i| (format!("k{i}"), Value::Int(i as i64)))
                .collect();
            let forward = Value::Object(fields.iter().cloned().collect());
            let backward = Value::Object(fields.iter().rev().cloned().collect());
            assert!(values_equal(&forward, &backward));
            assert_ne!(forward, backward, "structural == keeps order");
            let mut changed = fields.clone();
            changed[0].1 = Value::Float(0.5);
            assert!(!values_equal(
                &forward,
                &Value::Object(changed.into_iter().collect())
            ));
        }
    }

    #[test]
    fn nested_values_and_other_types_compare_structurally() {
        let a = object(&[("x", Value::Array(vec![Value::Int(1), Value::Null]))]);
        let b = object(&[("x", Value::Array(vec![Value::Float(1.0), Value::Null]))]);
        assert!(values_equal(&a, &b));
        assert!(!values_equal(&Value::from("1"), &Value::Int(1)));
        assert!(!values_equal(
            &object(&[("x", Value::Null)]),
            &object(&[("y", Value::Null)])
        ));
        let v = Value::Vector(Vector::from_vec(vec![1.0, 2.0]));
        assert!(values_equal(&v, &v.clone()));
        assert!(!values_equal(
            &v,
            &Value::Array(vec![Value::Int(1), Value::Int(2)])
        ));
    }
}
