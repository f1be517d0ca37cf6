//! MongoDB Extended JSON v2 on input: the wrappers `mongoexport` writes (canonical and relaxed),
//! read as Cairn values so an export from MongoDB imports without a conversion step.
//!
//! | Extended JSON                                  | Value                                         |
//! |------------------------------------------------|-----------------------------------------------|
//! | `{"$numberLong": "42"}`, `{"$numberInt": "7"}` | `Int`                                         |
//! | `{"$numberDouble": "2.5"}`                     | `Float`; `"Infinity"`, `"-Infinity"`, `"NaN"` are refused (documents hold finite numbers only) |
//! | `{"$numberDecimal": "19.99"}`                  | `Float`, when at most 15 significant digits (a double keeps them exactly); more are refused |
//! | `{"$oid": "5f1d…"}` (24 hex digits)            | `String`, the 24 lowercase hex digits          |
//! | `{"$binary": {"base64": …, "subType": "04"}}`  | `Uuid` for subtype 04 of 16 bytes, else `Bytes` |
//! | `{"$timestamp": {"t": 1, "i": 2}}`             | `Int`, `t << 32 | i` (MongoDB's own 64-bit form) |
//! | `{"$regularExpression": {"pattern", "options"}}` | `String` `/pattern/options`                 |
//! | `{"$symbol": "x"}`, `{"$code": "f()"}`         | `String`                                      |
//! | `{"$minKey": 1}`, `{"$maxKey": 1}`, `{"$undefined": true}`, `{"$dbPointer": …}`, `{"$code": …, "$scope": …}` | refused with a reason |
//!
//! `$date` (text, integer milliseconds, or `{"$numberLong": "…"}` milliseconds) and `$uuid` are
//! Cairn's own wrappers too and are read in `deserialize.rs`. Why `$oid` becomes a string: ids
//! are what ObjectIds are used for, and a 24-digit hex string is a valid Cairn id that sorts in
//! creation order exactly like the ObjectId (its first 4 bytes are the creation time), so
//! queries, ranges and exports keep working; a distinct value type would buy nothing a user
//! could see.

use base64::Engine as _;

use crate::Value;

/// Significant decimal digits a double always keeps exactly: 15 (`f64::DIGITS`).
const DECIMAL_DIGITS_EXACT_IN_DOUBLE: usize = f64::DIGITS as usize;

/// The MongoDB wrappers that are not also Cairn's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MongoWrapper {
    NumberLong,
    NumberInt,
    NumberDouble,
    NumberDecimal,
    Oid,
    Binary,
    Timestamp,
    RegularExpression,
    Symbol,
    Code,
    MinKey,
    MaxKey,
    Undefined,
    DbPointer,
}

impl MongoWrapper {
    /// The wrapper a `$` key names, if it is one of MongoDB's.
    pub(super) fn from_key(key: &str) -> Option<MongoWrapper> {
        Some(match key {
            "$numberLong" => MongoWrapper::NumberLong,
            "$numberInt" => MongoWrapper::NumberInt,
            "$numberDouble" => MongoWrapper::NumberDouble,
            "$numberDecimal" => MongoWrapper::NumberDecimal,
            "$oid" => MongoWrapper::Oid,
            "$binary" => MongoWrapper::Binary,
            "$timestamp" => MongoWrapper::Timestamp,
            "$regularExpression" => MongoWrapper::RegularExpression,
            "$symbol" => MongoWrapper::Symbol,
            "$code" => MongoWrapper::Code,
            "$minKey" => MongoWrapper::MinKey,
            "$maxKey" => MongoWrapper::MaxKey,
            "$undefined" => MongoWrapper::Undefined,
            "$dbPointer" => MongoWrapper::DbPointer,
            _ => return None,
        })
    }

    /// The key, for error messages.
    pub(super) fn key(self) -> &'static str {
        match self {
            MongoWrapper::NumberLong => "$numberLong",
            MongoWrapper::NumberInt => "$numberInt",
            MongoWrapper::NumberDouble => "$numberDouble",
            MongoWrapper::NumberDecimal => "$numberDecimal",
            MongoWrapper::Oid => "$oid",
            MongoWrapper::Binary => "$binary",
            MongoWrapper::Timestamp => "$timestamp",
            MongoWrapper::RegularExpression => "$regularExpression",
            MongoWrapper::Symbol => "$symbol",
            MongoWrapper::Code => "$code",
            MongoWrapper::MinKey => "$minKey",
            MongoWrapper::MaxKey => "$maxKey",
            MongoWrapper::Undefined => "$undefined",
            MongoWrapper::DbPointer => "$dbPointer",
        }
    }

    /// Converts the wrapper's content (already read as a value) to the value it stands for, or
    /// says why it cannot be stored.
    pub(super) fn convert(self, inner: Value) -> Result<Value, String> {
        match self {
            MongoWrapper::NumberLong | MongoWrapper::NumberInt => number_int(self, &inner),
            MongoWrapper::NumberDouble => number_double(&inner),
            MongoWrapper::NumberDecimal => number_decimal(&inner),
            MongoWrapper::Oid => object_id(&inner),
            MongoWrapper::Binary => binary(&inner),
            MongoWrapper::Timestamp => timestamp(&inner),
            MongoWrapper::RegularExpression => regular_expression(&inner),
            MongoWrapper::Symbol | MongoWrapper::Code => match inner {
                Value::String(text) => Ok(Value::String(text)),
                _ => Err("expected a string".to_owned()),
            },
            MongoWrapper::MinKey | MongoWrapper::MaxKey => Err(
                "MongoDB's internal sort bounds have no stored equivalent; remove the field"
                    .to_owned(),
            ),
            MongoWrapper::Undefined => {
                Err("the deprecated undefined type is not stored; use null".to_owned())
            }
            MongoWrapper::DbPointer => {
                Err("the deprecated DBPointer type is not stored; use a reference".to_owned())
            }
        }
    }
}

fn text(inner: &Value) -> Result<&str, String> {
    match inner {
        Value::String(text) => Ok(text),
        _ => Err("expected a string".to_owned()),
    }
}

fn number_int(wrapper: MongoWrapper, inner: &Value) -> Result<Value, String> {
    let text = text(inner)?;
    let parsed: i64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a 64-bit integer"))?;
    if wrapper == MongoWrapper::NumberInt && i32::try_from(parsed).is_err() {
        return Err(format!("{text:?} is not a 32-bit integer"));
    }
    Ok(Value::Int(parsed))
}

fn number_double(inner: &Value) -> Result<Value, String> {
    let text = text(inner)?;
    if matches!(text, "Infinity" | "-Infinity" | "NaN") {
        return Err(format!(
            "{text} is not stored: documents hold finite numbers only (use null or a flag field)"
        ));
    }
    let parsed: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if !parsed.is_finite() {
        return Err(format!("{text:?} is outside the range of a double"));
    }
    Ok(Value::Float(parsed))
}

fn number_decimal(inner: &Value) -> Result<Value, String> {
    let text = text(inner)?;
    let digits = significant_digits(text).ok_or_else(|| format!("{text:?} is not a decimal"))?;
    if digits > DECIMAL_DIGITS_EXACT_IN_DOUBLE {
        return Err(format!(
            "{text:?} has {digits} significant digits; a stored number keeps {DECIMAL_DIGITS_EXACT_IN_DOUBLE} \
             exactly (store it as a string to keep every digit)"
        ));
    }
    number_double(inner)
}

/// The count of significant digits in decimal text (`"-0012.3400"` has 4), or `None` when the
/// text is not a plain decimal number (an optional sign, digits with at most one point, an
/// optional exponent).
fn significant_digits(text: &str) -> Option<usize> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let mantissa = match unsigned.find(['e', 'E']) {
        Some(at) => {
            let exponent = &unsigned[at + 1..];
            let exponent = exponent.strip_prefix(['-', '+']).unwrap_or(exponent);
            if exponent.is_empty() || !exponent.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            &unsigned[..at]
        }
        None => unsigned,
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if !whole
        .bytes()
        .chain(fraction.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let all: String = whole.chars().chain(fraction.chars()).collect();
    let trimmed = all.trim_start_matches('0').trim_end_matches('0');
    Some(trimmed.len().max(1))
}

fn object_id(inner: &Value) -> Result<Value, String> {
    let text = text(inner)?;
    if text.len() != 24 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{text:?} is not 24 hexadecimal digits"));
    }
    Ok(Value::String(text.to_ascii_lowercase()))
}

fn field<'v>(inner: &'v Value, name: &str) -> Result<&'v Value, String> {
    match inner {
        Value::Object(object) => object
            .get(name)
            .ok_or_else(|| format!("expected an object with `{name}`")),
        _ => Err(format!("expected an object with `{name}`")),
    }
}

fn binary(inner: &Value) -> Result<Value, String> {
    let encoded = text(field(inner, "base64")?)?;
    let sub_type = text(field(inner, "subType")?)?;
    let sub_type = u8::from_str_radix(sub_type, 16)
        .map_err(|_| format!("subType {sub_type:?} is not a hexadecimal byte"))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| format!("not standard padded base64: {e}"))?;
    // Subtype 4 is a UUID (3 is the legacy byte order, kept as bytes since its order varies
    // by driver).
    if sub_type == 4 {
        return uuid::Uuid::from_slice(&bytes)
            .map(Value::Uuid)
            .map_err(|_| format!("a UUID (subtype 04) has 16 bytes, not {}", bytes.len()));
    }
    Ok(Value::Bytes(bytes))
}

fn timestamp(inner: &Value) -> Result<Value, String> {
    let part = |name: &str| -> Result<u32, String> {
        match field(inner, name)? {
            Value::Int(i) => {
                u32::try_from(*i).map_err(|_| format!("`{name}` must fit in 32 bits unsigned"))
            }
            _ => Err(format!("`{name}` must be an integer")),
        }
    };
    let seconds = part("t")?;
    let increment = part("i")?;
    let combined = (u64::from(seconds) << 32) | u64::from(increment);
    i64::try_from(combined)
        .map(Value::Int)
        .map_err(|_| "the timestamp's seconds are past 2038-01-19 (the sign bit)".to_owned())
}

fn regular_expression(inner: &Value) -> Result<Value, String> {
    let pattern = text(field(inner, "pattern")?)?;
    let options = text(field(inner, "options")?)?;
    Ok(Value::String(format!("/{pattern}/{options}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_digits_ignore_signs_points_exponents_and_outer_zeros() {
        assert_eq!(significant_digits("-0012.3400"), Some(4));
        assert_eq!(significant_digits("0"), Some(1));
        assert_eq!(significant_digits("1.5E+10"), Some(2));
        assert_eq!(significant_digits(".5"), Some(1));
        assert_eq!(significant_digits("1234567890.123456"), Some(16));
        assert_eq!(significant_digits("1e"), None);
        assert_eq!(significant_digits("."), None);
        assert_eq!(significant_digits("NaN"), None);
        assert_eq!(significant_digits("1.2.3"), None);
    }
}
