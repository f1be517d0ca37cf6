//! Group aggregates of `sum(FIELD) by GROUP` invariants: their keys and stored records.
//!
//! Table `groups` of the invariant's extension maps a group key to
//! `documents (u64 LE) ‖ ExactSum encoding`. A group with no documents left is deleted (its
//! sum is then exactly zero), so the table holds one entry per live group value.
//!
//! A group key is the canonical document encoding of `{"g": value}` (missing counts as
//! `null`), after turning a float holding an integer into that integer, so `1` and `1.0` — equal
//! values to every Cairn comparison — are one group.

pub(crate) use crate::layout::GROUPS_TABLE;
use cairn_doc::{FieldPath, Object, Value};

use crate::exact_sum::ExactSum;
use crate::limits::MAX_GROUP_KEY_BYTES;

/// A group's stored aggregate.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Aggregate {
    /// Documents in the group.
    pub(crate) documents: u64,
    /// Exact sum of the field over them.
    pub(crate) sum: ExactSum,
}

impl Aggregate {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 17);
        out.extend_from_slice(&self.documents.to_le_bytes());
        self.sum.encode(&mut out);
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Aggregate> {
        let documents = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
        let (sum, used) = ExactSum::decode(bytes.get(8..)?)?;
        (8 + used == bytes.len()).then_some(Aggregate { documents, sum })
    }
}

/// The group value of `doc` (normalized), or an error naming the size when its key would be
/// longer than [`MAX_GROUP_KEY_BYTES`].
pub(crate) fn group_key(doc: &Value, group: &FieldPath) -> Result<Vec<u8>, String> {
    let value = match group.get(doc) {
        None => Value::Null,
        Some(Value::Float(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::Int(*f as i64),
        Some(other) => other.clone(),
    };
    let mut wrapper = Object::with_capacity(1);
    wrapper.insert("g", value);
    let mut key = Vec::new();
    cairn_doc::encode_document(&Value::Object(wrapper), &mut key)
        .map_err(|err| format!("the group value cannot be encoded: {err}"))?;
    if key.len() > MAX_GROUP_KEY_BYTES {
        return Err(format!(
            "the group value takes {} bytes; the limit is {MAX_GROUP_KEY_BYTES}",
            key.len()
        ));
    }
    Ok(key)
}

/// The group value a key stands for (for messages and listings).
pub(crate) fn group_value(key: &[u8]) -> Option<Value> {
    let doc = cairn_doc::decode_document(key).ok()?;
    doc.as_object()?.get("g").cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_floats_and_integers_share_a_group() {
        let path = FieldPath::parse("g").unwrap();
        let doc = |v: &str| Value::from_json_str(&format!(r#"{{"g": {v}}}"#)).unwrap();
        assert_eq!(
            group_key(&doc("1"), &path).unwrap(),
            group_key(&doc("1.0"), &path).unwrap()
        );
        assert_ne!(
            group_key(&doc("1"), &path).unwrap(),
            group_key(&doc("\"1\""), &path).unwrap()
        );
        let missing = group_key(&Value::from_json_str("{}").unwrap(), &path).unwrap();
        assert_eq!(group_value(&missing), Some(Value::Null));
        let long = doc(&format!("\"{}\"", "x".repeat(2000)));
        assert!(group_key(&long, &path).unwrap_err().contains("limit"));
    }

    #[test]
    fn aggregates_round_trip() {
        let mut sum = ExactSum::zero();
        sum.add_float(0.1).unwrap();
        sum.add_int(-7).unwrap();
        let agg = Aggregate { documents: 3, sum };
        assert_eq!(Aggregate::decode(&agg.encode()), Some(agg.clone()));
        let mut bytes = agg.encode();
        bytes.push(0);
        assert_eq!(Aggregate::decode(&bytes), None);
    }
}
