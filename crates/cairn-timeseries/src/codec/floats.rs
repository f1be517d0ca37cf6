//! Floats, chosen per column chunk by a tag byte, whichever is smaller:
//!
//! * [`TAG_GORILLA`]: Gorilla XOR (section 4.1.2 of the paper): each value's bits XORed with
//!   the previous value's, the meaningful bits written inside a reused leading/trailing-zero
//!   window. Bit-exact for any `f64`, NaN payloads and `-0.0` included.
//! * [`TAG_DECIMAL`]: values that are all exactly `m / 10^k` for integers `m` (a sensor with
//!   two decimals) are written as `k` and the integers through the integer codec. The encoder
//!   checks that dividing each `m` by `10^k` gives back the very same bits, so this path is
//!   lossless by construction; a chunk with one value failing the check (`-0.0`, NaN, a value
//!   with more digits) falls back to Gorilla.

use super::bits::{BitReader, BitWriter, ByteReader};
use super::ints;
use crate::error::{Result, TsError};
use crate::limits::{MAX_DECIMALS, MAX_EXACT};

/// Tag of a Gorilla XOR column.
pub const TAG_GORILLA: u8 = 0;
/// Tag of a scaled-decimal column.
pub const TAG_DECIMAL: u8 = 1;

/// Encodes `values`, choosing the smaller of the two representations.
pub fn encode(values: &[f64], out: &mut Vec<u8>) {
    let mut gorilla = vec![TAG_GORILLA];
    encode_gorilla(values, &mut gorilla);
    if let Some(decimal) = encode_decimal(values) {
        if decimal.len() < gorilla.len() {
            out.extend_from_slice(&decimal);
            return;
        }
    }
    out.extend_from_slice(&gorilla);
}

/// Decodes `count` floats written by [`encode`].
pub fn decode(bytes: &[u8], count: usize) -> Result<Vec<f64>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let mut reader = ByteReader::new(bytes);
    match reader.u8()? {
        TAG_GORILLA => decode_gorilla(&bytes[1..], count),
        TAG_DECIMAL => {
            let k = reader.u8()?;
            if k > MAX_DECIMALS {
                return Err(TsError::corrupt(format!("{k} decimals")));
            }
            let scale = 10f64.powi(i32::from(k));
            let ms = ints::decode(&bytes[2..], count)?;
            Ok(ms.into_iter().map(|m| m as f64 / scale).collect())
        }
        tag => Err(TsError::corrupt(format!("unknown float codec tag {tag}"))),
    }
}

/// The decimal representation, when every value has one with the same `k`.
fn encode_decimal(values: &[f64]) -> Option<Vec<u8>> {
    let first_k = values.iter().map(|v| decimals_of(*v)).max()??;
    for k in first_k..=MAX_DECIMALS {
        let scale = 10f64.powi(i32::from(k));
        let ms: Option<Vec<i64>> = values.iter().map(|v| scaled(*v, scale)).collect();
        if let Some(ms) = ms {
            let mut out = vec![TAG_DECIMAL, k];
            ints::encode(&ms, &mut out);
            return Some(out);
        }
    }
    None
}

/// The fewest decimals that represent `v` exactly, if any up to [`MAX_DECIMALS`] do.
fn decimals_of(v: f64) -> Option<u8> {
    (0..=MAX_DECIMALS).find(|k| scaled(v, 10f64.powi(i32::from(*k))).is_some())
}

/// `m` with `m / scale` bit-identical to `v`.
fn scaled(v: f64, scale: f64) -> Option<i64> {
    let m = (v * scale).round();
    if m.is_nan() || m.abs() > MAX_EXACT {
        return None;
    }
    // Decode exactly as `decode` will: from the integer (so `-0.0`, whose integer is 0,
    // fails the check and goes to Gorilla).
    let m = m as i64;
    let back = m as f64 / scale;
    (back.to_bits() == v.to_bits()).then_some(m)
}

fn encode_gorilla(values: &[f64], out: &mut Vec<u8>) {
    let Some((first, rest)) = values.split_first() else {
        return;
    };
    let mut bits = BitWriter::new();
    let mut prev = first.to_bits();
    bits.write(prev, 64);
    // The current window (leading zeros, trailing zeros); none before the first change.
    let mut window: Option<(u32, u32)> = None;
    for v in rest {
        let cur = v.to_bits();
        let x = cur ^ prev;
        prev = cur;
        if x == 0 {
            bits.bit(false);
            continue;
        }
        bits.bit(true);
        let lead = x.leading_zeros();
        let trail = x.trailing_zeros();
        match window {
            Some((wl, wt)) if lead >= wl && trail >= wt => {
                bits.bit(false);
                bits.write(x >> wt, 64 - wl - wt);
            }
            _ => {
                bits.bit(true);
                let len = 64 - lead - trail;
                bits.write(u64::from(lead), 6);
                bits.write(u64::from(len - 1), 6);
                bits.write(x >> trail, len);
                window = Some((lead, trail));
            }
        }
    }
    out.extend_from_slice(&bits.finish());
}

fn decode_gorilla(bytes: &[u8], count: usize) -> Result<Vec<f64>> {
    let mut bits = BitReader::new(bytes);
    let mut prev = bits.read(64)?;
    let mut values = Vec::with_capacity(count);
    values.push(f64::from_bits(prev));
    let mut window: Option<(u32, u32)> = None;
    for _ in 1..count {
        if bits.bit()? {
            let (lead, trail) = if bits.bit()? {
                let lead = bits.read(6)? as u32;
                let len = bits.read(6)? as u32 + 1;
                if lead + len > 64 {
                    return Err(TsError::corrupt("Gorilla window exceeds 64 bits"));
                }
                window = Some((lead, 64 - lead - len));
                (lead, 64 - lead - len)
            } else {
                window.ok_or_else(|| TsError::corrupt("Gorilla window reused before set"))?
            };
            let x = bits.read(64 - lead - trail)? << trail;
            prev ^= x;
        }
        values.push(f64::from_bits(prev));
    }
    Ok(values)
}
