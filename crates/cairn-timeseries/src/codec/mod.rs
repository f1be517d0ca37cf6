//! Lossless column codecs: every value reads back bit for bit.
//!
//! Each codec encodes a slice into bytes and decodes given the count (stored once, in the
//! chunk header). Decoders treat their input as untrusted and fail with
//! [`crate::TsError::Corrupt`] rather than panic.

pub mod bits;
pub mod bools;
pub mod floats;
pub mod ints;
pub mod strings;
pub mod timestamps;
