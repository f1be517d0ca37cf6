//! The primary-key access path: `_id` conditions answered from the document table's own keys.
//!
//! Documents are stored under [`DocId::encode_key`]: a type tag (ints, then strings, then
//! UUIDs) and a payload whose byte order is the id order. So `_id` equality is a point read,
//! and an `_id` range is a contiguous key range, because a range operator only matches within
//! its operand's type bracket (ints and floats share one) and each bracket holds at most one
//! id type.
//!
//! Invariants:
//! * The keys found are a *superset* of the matching documents (the executor re-checks the
//!   whole filter on every document it fetches), never a subset: a value that cannot be an
//!   id (a float with a fraction, an empty string, an object, `null`...) equals no document's
//!   `_id`, so it contributes no key, and a float range bound is widened to the integers
//!   around it.
//! * Every document has an `_id` equal to the id its key encodes (the engine assigns or
//!   checks it on every write), so `{"_id": null}` or `{"_id": {"$gte": null}}` (which
//!   match only documents *without* the field) match nothing.
//! * A float equal to an integer (`5.0`, `-0.0`) finds the integer id, exactly as
//!   `values_equal` does in a full scan.

use std::collections::BTreeSet;
use std::ops::Bound;

use cairn_doc::{values_equal, DocId, FieldPath, Value};

use crate::filter::{Filter, Op};
use crate::key_bounds::{is_empty_range, tighter_lower, tighter_upper, within};
use crate::limits::MAX_IN_LIST;

/// Lower and upper bounds on document keys.
type KeyRange = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// How the primary key finds documents.
#[derive(Debug, Clone)]
pub enum KeyAccess {
    /// Point reads of these document keys, sorted and distinct. Empty when no operand can
    /// be an id: then nothing matches and nothing is read.
    Points(Vec<Vec<u8>>),
    /// The documents whose keys lie within the bounds, in key order. Never empty or
    /// inverted (an empty range is planned as `Points(vec![])`), so storage range scans
    /// never see bounds out of order.
    Range {
        /// Lower bound on document keys.
        lower: Bound<Vec<u8>>,
        /// Upper bound on document keys.
        upper: Bound<Vec<u8>>,
    },
}

impl KeyAccess {
    /// A one-line description for `explain`.
    pub fn describe(&self) -> String {
        match self {
            KeyAccess::Points(keys) if keys.is_empty() => {
                "primary key (no operand can be an `_id`: nothing to read)".to_string()
            }
            KeyAccess::Points(keys) if keys.len() == 1 => {
                format!("primary key (_id = {})", render_key(&keys[0]))
            }
            KeyAccess::Points(keys) => format!("primary key (_id in {} ids)", keys.len()),
            KeyAccess::Range { lower, upper } => {
                let mut parts = vec![id_type(lower, upper).name().to_string()];
                match lower {
                    Bound::Included(k) if k.len() > 1 => {
                        parts.push(format!("_id >= {}", render_key(k)))
                    }
                    Bound::Excluded(k) if k.len() > 1 => {
                        parts.push(format!("_id > {}", render_key(k)))
                    }
                    _ => {}
                }
                match upper {
                    Bound::Included(k) if k.len() > 1 => {
                        parts.push(format!("_id <= {}", render_key(k)))
                    }
                    Bound::Excluded(k) if k.len() > 1 => {
                        parts.push(format!("_id < {}", render_key(k)))
                    }
                    _ => {}
                }
                format!("primary key range ({})", parts.join(", "))
            }
        }
    }

    /// Whether the access reads nothing at all.
    pub fn is_empty(&self) -> bool {
        matches!(self, KeyAccess::Points(keys) if keys.is_empty())
    }

    /// The estimated number of documents read, given the collection's size. Points are
    /// exact upper bounds; a range of integer ids holds at most one document per integer;
    /// otherwise a range is assumed to keep `range_selectivity` of the collection.
    pub fn estimated_rows(&self, total: f64, range_selectivity: f64) -> f64 {
        match self {
            KeyAccess::Points(keys) => keys.len() as f64,
            KeyAccess::Range { lower, upper } => {
                let guess = total * range_selectivity;
                match int_width(lower, upper) {
                    Some(width) => guess.min(width),
                    None => guess,
                }
            }
        }
    }
}

/// The `_id` field path, parsed once: every plan asks for it, and parsing allocates.
pub(crate) fn id_path() -> Option<&'static FieldPath> {
    static ID_PATH: std::sync::LazyLock<Option<FieldPath>> =
        std::sync::LazyLock::new(|| FieldPath::parse("_id").ok());
    ID_PATH.as_ref()
}

/// The primary-key access the top-level conjuncts allow, if any conjunct constrains `_id`
/// with `$eq`, `$in`, `$gt`, `$gte`, `$lt` or `$lte`. Equality wins over ranges (its points
/// are kept only when inside the range).
pub(crate) fn key_access(conjuncts: &[&Filter]) -> Option<KeyAccess> {
    let id_path = id_path()?;
    let mut points: Option<BTreeSet<Vec<u8>>> = None;
    let mut range: Option<KeyRange> = None;
    for conjunct in conjuncts {
        let Filter::Field(path, ops) = conjunct else {
            continue;
        };
        if path != id_path {
            continue;
        }
        for op in ops {
            let found = match op {
                Op::Eq(v) => Some(keys_of(std::slice::from_ref(v))),
                Op::In(vs) if vs.len() <= MAX_IN_LIST => Some(keys_of(vs)),
                _ => None,
            };
            if let Some(found) = found {
                // Each operator must hold, so the matches lie in every operator's key set.
                points = Some(match points.take() {
                    None => found,
                    Some(previous) => previous.intersection(&found).cloned().collect(),
                });
                continue;
            }
            if let Some((lower, upper)) = range_of(op) {
                range = Some(match range.take() {
                    None => (lower, upper),
                    Some((l, u)) => (tighter_lower(l, lower), tighter_upper(u, upper)),
                });
            }
        }
    }
    match (points, range) {
        (Some(points), range) => Some(KeyAccess::Points(
            points
                .into_iter()
                .filter(|k| range.as_ref().is_none_or(|(l, u)| within(k, l, u)))
                .collect(),
        )),
        (None, Some((lower, upper))) => Some(bounded(lower, upper)),
        (None, None) => None,
    }
}

/// A range access, or no reads at all when the bounds admit no key.
pub(crate) fn bounded(lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>>) -> KeyAccess {
    if is_empty_range(&lower, &upper) {
        KeyAccess::Points(Vec::new())
    } else {
        KeyAccess::Range { lower, upper }
    }
}

/// The keys of the ids equal to any of `values` (values no id can equal give none).
fn keys_of(values: &[Value]) -> BTreeSet<Vec<u8>> {
    values
        .iter()
        .filter_map(id_equal_to)
        .filter_map(|id| id.to_key().ok())
        .collect()
}

/// The one id a value equals under query equality, if any: a float equal to an integer
/// finds the integer id (`values_equal` compares numbers exactly).
fn id_equal_to(value: &Value) -> Option<DocId> {
    match value {
        // `as` saturates (NaN becomes 0); the exact comparison then rejects every float that
        // is not exactly that integer.
        Value::Float(f) => {
            let int = *f as i64;
            values_equal(&Value::Int(int), value).then_some(DocId::Int(int))
        }
        // Empty or over-long strings are not valid ids, so no document has them.
        other => DocId::from_value(other).ok(),
    }
}

/// The key tag of one id type, taken from the documented key layout (`tag:u8 payload`).
fn tag_of(id: DocId) -> u8 {
    // Infallible for these representative ids; 0 would only make the range empty.
    id.to_key()
        .ok()
        .and_then(|k| k.first().copied())
        .unwrap_or(0)
}

/// The key range (a superset) of the ids a range operator can match; an empty range when
/// its operand's type bracket holds no ids (booleans, dates, `null`...). `None` for other
/// operators and NaN operands (left to the filter).
fn range_of(op: &Op) -> Option<KeyRange> {
    let (v, is_lower, inclusive) = match op {
        Op::Gt(v) => (v, true, false),
        Op::Gte(v) => (v, true, true),
        Op::Lt(v) => (v, false, false),
        Op::Lte(v) => (v, false, true),
        _ => return None,
    };
    let (tag, key) = match v {
        Value::Float(f) if f.is_nan() => return None,
        // Widened to the integers around the float: a superset, re-checked by the filter.
        // `as` saturates, which keeps infinities and huge values a superset too.
        Value::Float(f) => {
            let int = (if is_lower { f.floor() } else { f.ceil() }) as i64;
            let key = DocId::Int(int).to_key().ok()?;
            // Excluding the integer is only right when it is exactly the operand (not when
            // the cast saturated, as for 2^63).
            let exact = values_equal(&Value::Int(int), v);
            (tag_of(DocId::Int(0)), edge(key, inclusive || !exact))
        }
        Value::Int(i) => (
            tag_of(DocId::Int(0)),
            edge(DocId::Int(*i).to_key().ok()?, inclusive),
        ),
        Value::String(s) => {
            let tag = tag_of(DocId::String("s".into()));
            // Built by hand: bounds need not be valid ids (`""` or an over-long string).
            (tag, edge([&[tag], s.as_bytes()].concat(), inclusive))
        }
        Value::Uuid(u) => (
            tag_of(DocId::Uuid(*u)),
            edge(DocId::Uuid(*u).to_key().ok()?, inclusive),
        ),
        // No id lies in this type bracket.
        _ => return Some((Bound::Excluded(Vec::new()), Bound::Excluded(Vec::new()))),
    };
    let type_start = Bound::Included(vec![tag]);
    let type_end = Bound::Excluded(vec![tag.saturating_add(1)]);
    Some(if is_lower {
        (key, type_end)
    } else {
        (type_start, key)
    })
}

fn edge(key: Vec<u8>, inclusive: bool) -> Bound<Vec<u8>> {
    if inclusive {
        Bound::Included(key)
    } else {
        Bound::Excluded(key)
    }
}

/// At most how many integer ids lie within the bounds, when both are integer keys.
fn int_width(lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> Option<f64> {
    let int = |b: &Bound<Vec<u8>>| match b {
        Bound::Included(k) | Bound::Excluded(k) => match DocId::decode_key(k) {
            Ok(DocId::Int(i)) => Some(i as f64),
            _ => None,
        },
        Bound::Unbounded => None,
    };
    Some((int(upper)? - int(lower)? + 1.0).max(0.0))
}

/// A key as the `_id` value it encodes, in JSON, for `explain`.
fn render_key(key: &[u8]) -> String {
    match DocId::decode_key(key) {
        Ok(id) => id.to_value().to_json_string(),
        // A string bound that is not a valid id (say `""`): show its bytes as text.
        Err(_) => format!("{:?}", String::from_utf8_lossy(key.get(1..).unwrap_or(&[]))),
    }
}

/// The id type a range covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdType {
    Int,
    String,
    Uuid,
}

impl IdType {
    fn name(self) -> &'static str {
        match self {
            IdType::Int => "int ids",
            IdType::String => "string ids",
            IdType::Uuid => "uuid ids",
        }
    }
}

/// Which id type a range covers, from its bounds' tag (a range never spans two types; see
/// `range_of`, and `bounded` for the empty ones).
fn id_type(lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> IdType {
    let tag = match (lower, upper) {
        (Bound::Included(k) | Bound::Excluded(k), _) if !k.is_empty() => k[0],
        (_, Bound::Included(k) | Bound::Excluded(k)) if !k.is_empty() => k[0],
        _ => 0,
    };
    if tag == tag_of(DocId::Int(0)) {
        IdType::Int
    } else if tag == tag_of(DocId::String("s".into())) {
        IdType::String
    } else {
        IdType::Uuid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id_filter(ops: Vec<Op>) -> Filter {
        Filter::Field(FieldPath::parse("_id").unwrap(), ops)
    }

    fn plan_of(filter: &Filter) -> Option<KeyAccess> {
        key_access(&[filter])
    }

    fn key(id: DocId) -> Vec<u8> {
        id.to_key().unwrap()
    }

    #[test]
    fn float_equal_to_an_integer_finds_the_integer_id() {
        let f = id_filter(vec![Op::In(vec![
            Value::Float(5.0),
            Value::Int(5),
            Value::Float(-0.0),
            Value::Float(5.5),
            Value::Float(f64::NAN),
            Value::Float(1e300),
        ])]);
        let Some(KeyAccess::Points(keys)) = plan_of(&f) else {
            panic!("expected points");
        };
        assert_eq!(keys, vec![key(DocId::Int(0)), key(DocId::Int(5))]);
    }

    #[test]
    fn values_no_id_can_equal_read_nothing() {
        for v in [
            Value::Null,
            Value::Bool(true),
            Value::String(String::new()),
            Value::Array(vec![Value::Int(1)]),
        ] {
            let access = plan_of(&id_filter(vec![Op::Eq(v.clone())])).unwrap();
            assert!(access.is_empty(), "{v:?}");
        }
    }

    #[test]
    fn ranges_of_other_brackets_or_crossing_types_are_empty() {
        let other = id_filter(vec![Op::Gte(Value::Null)]);
        assert!(plan_of(&other).unwrap().is_empty());
        let crossing = id_filter(vec![Op::Gt(Value::Int(5)), Op::Lt(Value::from("x"))]);
        assert!(plan_of(&crossing).unwrap().is_empty());
        let inverted = id_filter(vec![Op::Gt(Value::Int(5)), Op::Lt(Value::Int(5))]);
        assert!(plan_of(&inverted).unwrap().is_empty());
    }

    #[test]
    fn float_bounds_widen_to_the_surrounding_integers() {
        let f = id_filter(vec![Op::Gt(Value::Float(2.5)), Op::Lte(Value::Float(7.0))]);
        let Some(KeyAccess::Range { lower, upper }) = plan_of(&f) else {
            panic!("expected a range");
        };
        assert_eq!(lower, Bound::Included(key(DocId::Int(2))));
        assert_eq!(upper, Bound::Included(key(DocId::Int(7))));
        let exact = id_filter(vec![Op::Lt(Value::Float(7.0))]);
        let Some(KeyAccess::Range { upper, .. }) = plan_of(&exact) else {
            panic!("expected a range");
        };
        assert_eq!(upper, Bound::Excluded(key(DocId::Int(7))));
        // 2^63 is above every integer: `_id < 2^63` must keep i64::MAX.
        let top = id_filter(vec![Op::Lt(Value::Float(2f64.powi(63)))]);
        let Some(KeyAccess::Range { upper, .. }) = plan_of(&top) else {
            panic!("expected a range");
        };
        assert_eq!(upper, Bound::Included(key(DocId::Int(i64::MAX))));
    }

    #[test]
    fn equality_points_are_kept_only_inside_the_range() {
        let f = id_filter(vec![
            Op::In(vec![Value::Int(1), Value::Int(9), Value::from("a")]),
            Op::Gt(Value::Int(3)),
        ]);
        let Some(KeyAccess::Points(keys)) = plan_of(&f) else {
            panic!("expected points");
        };
        assert_eq!(keys, vec![key(DocId::Int(9))]);
    }

    #[test]
    fn other_fields_and_operators_give_no_primary_key_access() {
        let other = Filter::Field(FieldPath::parse("a").unwrap(), vec![Op::Eq(Value::Int(1))]);
        assert!(plan_of(&other).is_none());
        assert!(plan_of(&id_filter(vec![Op::Ne(Value::Int(1))])).is_none());
        assert!(plan_of(&id_filter(vec![Op::Gt(Value::Float(f64::NAN))])).is_none());
    }
}
