//! Writing a [`Value`] as compact JSON text, infallibly.
//!
//! Writing to a `String` cannot fail, so [`Value::to_json_string`] returns text rather than a
//! `Result`; going through serde would force an error path that can never be taken. The output
//! follows the same mapping as the `Serialize` implementation.

use std::fmt::Write as _;

use base64::Engine as _;

use crate::Value;

/// Which JSON dialect to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flavor {
    /// Cairn's own mapping (the module docs of `json.rs`): reads back as the same value.
    Cairn,
    /// MongoDB's relaxed Extended JSON v2, for `mongoimport`: bytes and UUIDs as `$binary`,
    /// dates as ISO text with milliseconds, vectors as arrays of numbers, geometry as its plain
    /// object.
    MongoRelaxed,
}

/// Appends `value` as JSON to `out`.
pub(super) fn write_value(value: &Value, out: &mut String) {
    write_flavored(value, Flavor::Cairn, out);
}

/// Appends `value` as JSON of the given flavor to `out`.
pub(super) fn write_flavored(value: &Value, flavor: Flavor, out: &mut String) {
    if flavor == Flavor::MongoRelaxed && write_mongo_special(value, out) {
        return;
    }
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => push_display(out, i),
        Value::Float(f) => write_float(*f, out),
        Value::String(s) => write_string(s, out),
        Value::Bytes(b) => {
            out.push_str("{\"$bytes\":\"");
            base64::engine::general_purpose::STANDARD.encode_string(b, out);
            out.push_str("\"}");
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_flavored(item, flavor, out);
            }
            out.push(']');
        }
        Value::Object(object) => {
            out.push('{');
            for (index, (key, item)) in object.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_flavored(item, flavor, out);
            }
            out.push('}');
        }
        Value::DateTime(d) => {
            out.push_str("{\"$date\":");
            match d.to_rfc3339() {
                Ok(text) => write_string(&text, out),
                // Out of the RFC 3339 range (hand-built values only): integer milliseconds,
                // the unit integer dates are read in.
                Err(_) => push_display(out, &d.micros().div_euclid(1_000)),
            }
            out.push('}');
        }
        Value::Uuid(u) => {
            out.push_str("{\"$uuid\":\"");
            push_display(out, &u.hyphenated());
            out.push_str("\"}");
        }
        Value::Geometry(g) => {
            out.push_str("{\"$geometry\":");
            write_value(&Value::Object(g.to_json_object()), out);
            out.push('}');
        }
        Value::Vector(v) => {
            out.push_str("{\"$vector\":[");
            for (index, component) in v.as_slice().iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_f32(*component, out);
            }
            out.push_str("]}");
        }
    }
}

/// Writes the values MongoDB spells differently from Cairn; `false` for the others.
fn write_mongo_special(value: &Value, out: &mut String) -> bool {
    match value {
        Value::Bytes(bytes) => write_mongo_binary(bytes, "00", out),
        Value::Uuid(u) => write_mongo_binary(u.as_bytes(), "04", out),
        Value::DateTime(d) => {
            let millis = d.micros().div_euclid(1_000);
            let whole_millis = crate::DateTime::from_micros(millis.saturating_mul(1_000));
            match chrono::DateTime::from_timestamp_micros(whole_millis.micros()) {
                // Relaxed form: ISO text for years 1970..=9999, as mongoexport writes.
                Some(date) if millis >= 0 => {
                    out.push_str("{\"$date\":\"");
                    push_display(
                        out,
                        &date.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    );
                    out.push_str("\"}");
                }
                _ => {
                    out.push_str("{\"$date\":{\"$numberLong\":\"");
                    push_display(out, &millis);
                    out.push_str("\"}}");
                }
            }
        }
        Value::Vector(v) => {
            out.push('[');
            for (index, component) in v.as_slice().iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_f32(*component, out);
            }
            out.push(']');
        }
        Value::Geometry(g) => write_flavored(
            &Value::Object(g.to_json_object()),
            Flavor::MongoRelaxed,
            out,
        ),
        _ => return false,
    }
    true
}

fn write_mongo_binary(bytes: &[u8], sub_type: &str, out: &mut String) {
    out.push_str("{\"$binary\":{\"base64\":\"");
    base64::engine::general_purpose::STANDARD.encode_string(bytes, out);
    out.push_str("\",\"subType\":\"");
    out.push_str(sub_type);
    out.push_str("\"}}");
}

fn push_display(out: &mut String, value: &dyn std::fmt::Display) {
    // Writing into a String never fails; `fmt::Error` would only come from the target.
    let _ = write!(out, "{value}");
}

/// Writes a float so that it reads back as the same float, and as a float: Rust's `Debug` format
/// is the shortest text that round-trips and always has a `.` or an exponent (`1.0`, `1e300`).
/// JSON has no NaN or infinity; those become `null`.
fn write_float(f: f64, out: &mut String) {
    if f.is_finite() {
        let _ = write!(out, "{f:?}");
    } else {
        out.push_str("null");
    }
}

/// Like [`write_float`], with the shortest text that round-trips through `f32`.
fn write_f32(f: f32, out: &mut String) {
    if f.is_finite() {
        let _ = write!(out, "{f:?}");
    } else {
        out.push_str("null");
    }
}

/// Writes `s` as a JSON string literal, escaping quotes, backslashes and control characters.
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    // Copies runs of bytes that need no escape in one go. Every byte that needs one is ASCII,
    // and UTF-8 never uses ASCII bytes inside a multi-byte character, so `i` is always a
    // character boundary.
    let mut run_start = 0;
    for (i, byte) in s.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[run_start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{:04x}", byte);
        } else {
            out.push_str(escape);
        }
        run_start = i + 1;
    }
    out.push_str(&s[run_start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The escaping rules one character at a time: the reference the run-copying writer
    /// must match byte for byte.
    fn reference(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c < ' ' => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    #[test]
    fn strings_escape_exactly_like_the_per_character_rules() {
        let controls: String = (0u8..0x20).map(char::from).collect();
        let cases = [
            "",
            "plain",
            "quote \" backslash \\ end\\",
            "\"",
            "é ü 日本語 🦀 \u{7f} \u{80} \u{2028}",
            "line\nbreak\r\ttab\u{8}\u{c}\u{0}",
            controls.as_str(),
            "mixed 🦀\"\\\u{1}x",
        ];
        for case in cases {
            let mut out = String::new();
            write_string(case, &mut out);
            assert_eq!(out, reference(case), "{case:?}");
            let parsed: String = serde_json::from_str(&out).unwrap();
            assert_eq!(parsed, case);
        }
    }
}
