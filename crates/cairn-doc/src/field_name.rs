//! The rules a field name must follow.
//!
//! Field names share a namespace with the languages built on documents: dotted field paths
//! (`address.city`) and `$`-prefixed operators and extended-JSON wrappers (`$set`, `$date`). A name
//! containing `.` could not be addressed by a path, and a name starting with `$` would be
//! indistinguishable from an operator, so both are refused at the door.

use crate::limits::MAX_FIELD_NAME_BYTES;
use crate::DocError;

/// Checks that `name` may be used as a field name: non-empty, at most
/// [`MAX_FIELD_NAME_BYTES`] bytes, no `.`, and not starting with `$`.
pub fn check_field_name(name: &str) -> Result<(), DocError> {
    let reason = if name.is_empty() {
        "field names must not be empty"
    } else if name.len() > MAX_FIELD_NAME_BYTES {
        "field names must not be longer than MAX_FIELD_NAME_BYTES"
    } else if name.starts_with('$') {
        "field names must not start with `$`, which marks operators"
    } else if name.contains('.') {
        "field names must not contain `.`, which separates path segments"
    } else {
        return Ok(());
    };
    Err(DocError::InvalidFieldName {
        name: name.to_owned(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_pass_and_reserved_shapes_fail() {
        for ok in [
            "a",
            "_id",
            "naïve",
            "a$b",
            "0",
            &"x".repeat(MAX_FIELD_NAME_BYTES),
        ] {
            assert!(check_field_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "$set",
            "a.b",
            ".",
            &"x".repeat(MAX_FIELD_NAME_BYTES + 1),
        ] {
            assert!(
                matches!(
                    check_field_name(bad),
                    Err(DocError::InvalidFieldName { .. })
                ),
                "{bad}"
            );
        }
    }
}
