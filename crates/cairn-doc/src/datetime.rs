//! [`DateTime`]: an instant in UTC with microsecond precision.
//!
//! Microseconds since the epoch in an `i64` are exact, totally ordered, cheap to compare and encode
//! as a varint; they are also what most databases and clocks offer. Time zones are a presentation
//! concern: text input may carry an offset, and it is folded into the instant on parsing.

use chrono::{SecondsFormat, TimeZone, Utc};

use crate::limits::{DATETIME_MAX_MICROS, DATETIME_MIN_MICROS};
use crate::DocError;

/// Microseconds since 1970-01-01T00:00:00Z (negative before it), UTC.
///
/// Any `i64` can be held in memory, but documents only accept years 0000..=9999 (see
/// [`DATETIME_MIN_MICROS`]) because that is what RFC 3339 text can express.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime(pub i64);

impl DateTime {
    /// The instant `micros` microseconds after the Unix epoch.
    pub const fn from_micros(micros: i64) -> DateTime {
        DateTime(micros)
    }

    /// Microseconds since the Unix epoch.
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// The current time from the system clock, truncated to microseconds.
    pub fn now() -> DateTime {
        DateTime(Utc::now().timestamp_micros())
    }

    /// Whether the instant lies in years 0000..=9999, the range a document may hold.
    pub const fn is_in_document_range(self) -> bool {
        self.0 >= DATETIME_MIN_MICROS && self.0 <= DATETIME_MAX_MICROS
    }

    /// Parses RFC 3339 text such as `2024-05-01T12:30:00.25+02:00`.
    ///
    /// Fractions finer than a microsecond are rejected rather than rounded, so that storing a date
    /// never silently changes it.
    pub fn parse_rfc3339(text: &str) -> Result<DateTime, DocError> {
        let invalid = |reason: String| DocError::InvalidDateTime {
            text: text.to_owned(),
            reason,
        };
        let parsed =
            chrono::DateTime::parse_from_rfc3339(text).map_err(|e| invalid(e.to_string()))?;
        if parsed.timestamp_subsec_nanos() % 1000 != 0 {
            return Err(invalid("precision finer than a microsecond".to_owned()));
        }
        let date = DateTime(parsed.timestamp_micros());
        if !date.is_in_document_range() {
            return Err(invalid("year outside 0000..=9999".to_owned()));
        }
        Ok(date)
    }

    /// RFC 3339 text in UTC with exactly six fraction digits, e.g. `2024-05-01T10:30:00.250000Z`.
    ///
    /// A fixed width keeps the text sortable and makes the microsecond precision visible. Fails with
    /// [`DocError::DateTimeOutOfRange`] outside years 0000..=9999, which RFC 3339 cannot express.
    pub fn to_rfc3339(self) -> Result<String, DocError> {
        let out_of_range = DocError::DateTimeOutOfRange {
            path: String::new(),
            micros: self.0,
        };
        if !self.is_in_document_range() {
            return Err(out_of_range);
        }
        match Utc.timestamp_micros(self.0).single() {
            Some(instant) => Ok(instant.to_rfc3339_opts(SecondsFormat::Micros, true)),
            None => Err(out_of_range),
        }
    }
}

impl std::fmt::Display for DateTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.to_rfc3339() {
            Ok(text) => f.write_str(&text),
            // Only hand-built values get here; show the raw number rather than nothing.
            Err(_) => write!(f, "{}µs", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_with_offsets_folded_to_utc() {
        let d = DateTime::parse_rfc3339("2024-05-01T12:30:00.25+02:00").unwrap();
        assert_eq!(d.to_rfc3339().unwrap(), "2024-05-01T10:30:00.250000Z");
        assert_eq!(
            DateTime::parse_rfc3339(&d.to_rfc3339().unwrap()).unwrap(),
            d
        );
    }

    #[test]
    fn range_ends_are_the_four_digit_years() {
        let min = DateTime(DATETIME_MIN_MICROS);
        let max = DateTime(DATETIME_MAX_MICROS);
        assert_eq!(min.to_rfc3339().unwrap(), "0000-01-01T00:00:00.000000Z");
        assert_eq!(max.to_rfc3339().unwrap(), "9999-12-31T23:59:59.999999Z");
        assert!(DateTime(DATETIME_MIN_MICROS - 1).to_rfc3339().is_err());
        assert!(DateTime(DATETIME_MAX_MICROS + 1).to_rfc3339().is_err());
        assert!(DateTime(i64::MIN).to_rfc3339().is_err());
    }

    #[test]
    fn sub_microsecond_and_garbage_text_is_rejected() {
        assert!(DateTime::parse_rfc3339("2024-05-01T00:00:00.0000001Z").is_err());
        assert!(DateTime::parse_rfc3339("yesterday").is_err());
        assert!(DateTime::parse_rfc3339("2024-05-01T00:00:00.123456789Z").is_err());
        assert!(DateTime::parse_rfc3339("2024-05-01T00:00:00.123456000Z").is_ok());
    }
}
