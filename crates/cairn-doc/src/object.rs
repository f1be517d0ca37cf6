//! [`Object`]: the ordered key/value map inside documents.
//!
//! Keys keep insertion order because people read documents: a user who writes `{"name": .., "age":
//! ..}` expects it back in that order, and the encoding, JSON output and equality all follow it. A
//! vector of pairs is used rather than a hash map because documents typically have a handful to a
//! few dozen fields, where a linear scan beats hashing and costs no extra memory.

use crate::Value;

/// An insertion-ordered map from field names to values, with unique keys.
///
/// `Object` itself does not check field-name rules; they are checked when a document is encoded
/// or parsed from JSON (see [`crate::check_field_name`]). Equality (`==`) is structural and
/// order-sensitive; [`crate::values_equal`] ignores key order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Object {
    entries: Vec<(String, Value)>,
}

impl Object {
    /// An empty object.
    pub fn new() -> Object {
        Object::default()
    }

    /// An empty object with room for `capacity` fields.
    pub fn with_capacity(capacity: usize) -> Object {
        Object {
            entries: Vec::with_capacity(capacity),
        }
    }

    /// The value of field `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The position and value of field `key`, looking from position `hint` on first (then
    /// wrapping around). Callers that look up many fields in the order documents usually
    /// store them (a schema's declared order) pass the last position found plus one, so each
    /// lookup usually compares one name instead of half the object's.
    pub fn find_from(&self, key: &str, hint: usize) -> Option<(usize, &Value)> {
        let hint = hint.min(self.entries.len());
        let (before, after) = self.entries.split_at(hint);
        after
            .iter()
            .position(|(k, _)| k == key)
            .map(|i| i + hint)
            .or_else(|| before.iter().position(|(k, _)| k == key))
            .map(|i| (i, &self.entries[i].1))
    }

    /// The value of field `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Whether field `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets field `key`. Replacing an existing field keeps its position and returns the old value;
    /// a new field goes last.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) -> Option<Value> {
        let key = key.into();
        let value = value.into();
        match self.get_mut(&key) {
            Some(slot) => Some(std::mem::replace(slot, value)),
            None => {
                self.entries.push((key, value));
                None
            }
        }
    }

    /// Makes room for `additional` more fields without reallocating.
    pub fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
    }

    /// Puts field `key`, which the object must not hold yet (checked in debug builds), before
    /// the others — without the scan [`Object::insert`] makes for an existing one.
    pub fn prepend_new(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        let key = key.into();
        debug_assert!(self.get(&key).is_none(), "`{key}` is already present");
        self.entries.insert(0, (key, value.into()));
    }

    /// Removes field `key`, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let index = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(index).1)
    }

    /// The fields in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Value)> + '_ {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The fields in order, with mutable values.
    pub fn iter_mut(&mut self) -> impl ExactSizeIterator<Item = (&str, &mut Value)> + '_ {
        self.entries.iter_mut().map(|(k, v)| (k.as_str(), v))
    }

    /// The field names in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// The values in field order.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &Value> + '_ {
        self.entries.iter().map(|(_, v)| v)
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the object has no fields.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends a field without looking for an existing one.
    ///
    /// Parsers use this to build large objects in linear time and then call
    /// [`Object::first_duplicate_key`] once, instead of paying a scan per insert.
    pub(crate) fn push_unchecked(&mut self, key: String, value: Value) {
        self.entries.push((key, value));
    }

    /// Some key that occurs more than once, if any.
    pub(crate) fn first_duplicate_key(&self) -> Option<&str> {
        // Small objects: a quadratic scan allocates nothing and wins.
        const LINEAR_SCAN_MAX_FIELDS: usize = 16;
        if self.entries.len() <= LINEAR_SCAN_MAX_FIELDS {
            // Every decoded object is checked, so the usual answer (no duplicate) is made
            // cheap: a key is compared with the earlier ones only when its fingerprint was
            // seen before.
            let mut seen = 0u64;
            for (i, (key, _)) in self.entries.iter().enumerate() {
                let bit = 1u64 << key_fingerprint(key);
                if seen & bit != 0 && self.entries[..i].iter().any(|(other, _)| other == key) {
                    return Some(key);
                }
                seen |= bit;
            }
            return None;
        }
        let mut keys: Vec<&str> = self.keys().collect();
        keys.sort_unstable();
        keys.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
    }
}

/// A number in `0..64` that equal keys share (from the length and the first and last bytes).
fn key_fingerprint(key: &str) -> u32 {
    let bytes = key.as_bytes();
    let first = u32::from(bytes.first().copied().unwrap_or(0));
    let last = u32::from(bytes.last().copied().unwrap_or(0));
    ((bytes.len() as u32).wrapping_mul(31) ^ first.wrapping_mul(7) ^ last.wrapping_mul(13)) & 63
}

impl FromIterator<(String, Value)> for Object {
    /// Collects fields in order; a repeated key replaces the earlier value in its position.
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Object {
        let mut object = Object::new();
        for (key, value) in iter {
            object.insert(key, value);
        }
        object
    }
}

impl IntoIterator for Object {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacing_keeps_position_and_removing_keeps_order() {
        let mut o = Object::new();
        o.insert("a", 1);
        o.insert("b", 2);
        o.insert("c", 3);
        assert_eq!(o.insert("a", 10), Some(Value::Int(1)));
        assert_eq!(o.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(o.remove("b"), Some(Value::Int(2)));
        assert_eq!(o.keys().collect::<Vec<_>>(), ["a", "c"]);
        assert_eq!(o.get("a"), Some(&Value::Int(10)));
        assert_eq!(o.remove("zz"), None);
    }

    #[test]
    fn duplicate_detection_works_for_small_and_large_objects() {
        for size in [3usize, 40] {
            let mut o = Object::new();
            for i in 0..size {
                o.push_unchecked(format!("k{i}"), Value::Null);
            }
            assert_eq!(o.first_duplicate_key(), None);
            o.push_unchecked("k1".to_owned(), Value::Null);
            assert_eq!(o.first_duplicate_key(), Some("k1"));
        }
    }

    #[test]
    fn find_from_finds_what_get_finds_from_any_hint() {
        let mut o = Object::new();
        for k in ["a", "b", "c", "d"] {
            o.insert(k, k.len() as i64);
        }
        for hint in 0..7 {
            for key in ["a", "b", "c", "d", "zz", ""] {
                let found = o.find_from(key, hint);
                assert_eq!(found.map(|(_, v)| v), o.get(key), "{key} from {hint}");
                if let Some((i, _)) = found {
                    assert_eq!(o.keys().nth(i), Some(key));
                }
            }
        }
    }

    #[test]
    fn prepend_new_puts_the_field_first() {
        let mut o = Object::new();
        o.insert("a", 1);
        o.insert("b", 2);
        o.reserve(2);
        o.prepend_new("_id", 7);
        assert_eq!(o.keys().collect::<Vec<_>>(), ["_id", "a", "b"]);
        assert_eq!(o.get("_id"), Some(&Value::Int(7)));
    }
}
