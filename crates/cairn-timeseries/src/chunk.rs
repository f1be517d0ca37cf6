//! The chunk format: up to [`MAX_POINTS_PER_CHUNK`] points of one series in one time span,
//! stored column by column.
//!
//! ```text
//! u8      FORMAT_VERSION
//! varint  count
//! varint  zigzag(min_time), varint zigzag(max_time)
//! varint  column count
//! per column:  name (varint length + bytes), kind u8 [vector: varint dim],
//!              presence u8 (0 all present, 1 bitmap in data), bounds (int: two zigzag
//!              varints; float: flag u8 + two f64 LE of the non-NaN values), varint data length
//! varint  timestamps length, timestamps bytes (delta-of-delta)
//! per column:  [presence bitmap, ceil(count / 8) bytes] values (see `codec`)
//! u64 LE  XXH3-64 of every byte before it
//! ```
//!
//! The header (everything before the timestamps) is read without decoding any column, so a
//! reader skips a chunk by its bounds at the cost of a few varints. A column is keyed by name
//! *and* type, so a field that changes type within a chunk is two columns, each with presence
//! bits: nothing is coerced, every value reads back as written.

use std::collections::BTreeMap;

use xxhash_rust::xxh3::xxh3_64;

use crate::codec::bits::{put_varint, unzigzag, zigzag, ByteReader};
use crate::codec::{bools, floats, ints, strings, timestamps};
use crate::error::{Result, TsError};
use crate::limits::{
    MAX_COLUMNS, MAX_COLUMN_BYTES, MAX_FIELD_NAME_BYTES, MAX_POINTS_PER_CHUNK, MAX_VECTOR_DIM,
};
use crate::sample::{Point, Sample};

/// Version byte of the chunk format.
const FORMAT_VERSION: u8 = 1;

/// The type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ColumnKind {
    /// Floats.
    Float,
    /// Integers.
    Int,
    /// Booleans.
    Bool,
    /// Strings.
    Str,
    /// Vectors of this dimension.
    Vector(u32),
}

impl ColumnKind {
    fn of(sample: &Sample) -> ColumnKind {
        match sample {
            Sample::Float(_) => ColumnKind::Float,
            Sample::Int(_) => ColumnKind::Int,
            Sample::Bool(_) => ColumnKind::Bool,
            Sample::Str(_) => ColumnKind::Str,
            Sample::Vector(v) => ColumnKind::Vector(v.len() as u32),
        }
    }

    fn tag(self) -> u8 {
        match self {
            ColumnKind::Float => 0,
            ColumnKind::Int => 1,
            ColumnKind::Bool => 2,
            ColumnKind::Str => 3,
            ColumnKind::Vector(_) => 4,
        }
    }
}

/// Value bounds of a numeric column, for skipping chunks by value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bounds {
    /// Smallest and largest integer.
    Int(i64, i64),
    /// Smallest and largest non-NaN float (`None` when all are NaN).
    Float(Option<(f64, f64)>),
}

/// What the header says about one column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnHeader {
    /// The field name.
    pub name: String,
    /// The column type.
    pub kind: ColumnKind,
    /// Bounds of numeric columns.
    pub bounds: Option<Bounds>,
    /// Whether some points lack this column (a presence bitmap is stored).
    pub sparse: bool,
    data_len: usize,
}

/// The header of a chunk: readable without decoding any column.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkHeader {
    /// Points in the chunk.
    pub count: usize,
    /// Time of the first point.
    pub min_time: i64,
    /// Time of the last point.
    pub max_time: i64,
    /// The columns.
    pub columns: Vec<ColumnHeader>,
}

/// Encodes `points` (sorted by strictly increasing time, 1 to [`MAX_POINTS_PER_CHUNK`]).
pub fn encode(points: &[Point]) -> Vec<u8> {
    debug_assert!(!points.is_empty() && points.len() <= MAX_POINTS_PER_CHUNK);
    debug_assert!(points.windows(2).all(|w| w[0].time < w[1].time));
    let times: Vec<i64> = points.iter().map(|p| p.time).collect();
    let mut columns: BTreeMap<(&str, ColumnKind), Vec<Option<&Sample>>> = BTreeMap::new();
    for (i, point) in points.iter().enumerate() {
        for (name, sample) in &point.fields {
            let column = columns
                .entry((name.as_str(), ColumnKind::of(sample)))
                .or_insert_with(|| vec![None; points.len()]);
            column[i] = Some(sample);
        }
    }
    let mut out = vec![FORMAT_VERSION];
    put_varint(&mut out, points.len() as u64);
    put_varint(&mut out, zigzag(times[0]));
    put_varint(&mut out, zigzag(times[times.len() - 1]));
    put_varint(&mut out, columns.len() as u64);
    let mut data_blocks = Vec::with_capacity(columns.len());
    for ((name, kind), cells) in &columns {
        let sparse = cells.iter().any(Option::is_none);
        let present: Vec<&Sample> = cells.iter().flatten().copied().collect();
        let mut data = Vec::new();
        if sparse {
            let bits: Vec<bool> = cells.iter().map(Option::is_some).collect();
            bools::encode(&bits, &mut data);
        }
        encode_values(&present, *kind, &mut data);
        put_varint(&mut out, name.len() as u64);
        out.extend_from_slice(name.as_bytes());
        out.push(kind.tag());
        if let ColumnKind::Vector(dim) = kind {
            put_varint(&mut out, u64::from(*dim));
        }
        out.push(u8::from(sparse));
        write_bounds(&present, *kind, &mut out);
        put_varint(&mut out, data.len() as u64);
        data_blocks.push(data);
    }
    let mut time_bytes = Vec::new();
    timestamps::encode(&times, &mut time_bytes);
    put_varint(&mut out, time_bytes.len() as u64);
    out.extend_from_slice(&time_bytes);
    for data in data_blocks {
        out.extend_from_slice(&data);
    }
    let sum = xxh3_64(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

fn encode_values(present: &[&Sample], kind: ColumnKind, out: &mut Vec<u8>) {
    match kind {
        ColumnKind::Float => {
            let v: Vec<f64> = present.iter().map(|s| as_float(s)).collect();
            floats::encode(&v, out);
        }
        ColumnKind::Int => {
            let v: Vec<i64> = present
                .iter()
                .map(|s| if let Sample::Int(x) = s { *x } else { 0 })
                .collect();
            ints::encode(&v, out);
        }
        ColumnKind::Bool => {
            let v: Vec<bool> = present
                .iter()
                .map(|s| matches!(s, Sample::Bool(true)))
                .collect();
            bools::encode(&v, out);
        }
        ColumnKind::Str => {
            let v: Vec<String> = present
                .iter()
                .map(|s| {
                    if let Sample::Str(x) = s {
                        x.clone()
                    } else {
                        String::new()
                    }
                })
                .collect();
            strings::encode(&v, out);
        }
        ColumnKind::Vector(dim) => {
            for c in 0..dim as usize {
                let v: Vec<f64> = present
                    .iter()
                    .map(|s| match s {
                        Sample::Vector(x) => x.get(c).copied().unwrap_or(0.0),
                        _ => 0.0,
                    })
                    .collect();
                let mut component = Vec::new();
                floats::encode(&v, &mut component);
                put_varint(out, component.len() as u64);
                out.extend_from_slice(&component);
            }
        }
    }
}

fn as_float(sample: &Sample) -> f64 {
    if let Sample::Float(x) = sample {
        *x
    } else {
        0.0
    }
}

fn write_bounds(present: &[&Sample], kind: ColumnKind, out: &mut Vec<u8>) {
    match kind {
        ColumnKind::Int => {
            let values = present.iter().filter_map(|s| match s {
                Sample::Int(x) => Some(*x),
                _ => None,
            });
            let (lo, hi) = values.fold((i64::MAX, i64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)));
            put_varint(out, zigzag(lo));
            put_varint(out, zigzag(hi));
        }
        ColumnKind::Float => match float_bounds(present.iter().map(|s| as_float(s))) {
            Some((lo, hi)) => {
                out.push(1);
                out.extend_from_slice(&lo.to_le_bytes());
                out.extend_from_slice(&hi.to_le_bytes());
            }
            None => out.push(0),
        },
        _ => {}
    }
}

/// Smallest and largest non-NaN value.
pub(crate) fn float_bounds(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|x| !x.is_nan())
        .fold(None, |acc, x| match acc {
            None => Some((x, x)),
            Some((lo, hi)) => Some((if x < lo { x } else { lo }, if x > hi { x } else { hi })),
        })
}

/// Checks the checksum and reads the header.
pub fn header(bytes: &[u8]) -> Result<ChunkHeader> {
    Ok(parse_header(checked_body(bytes)?)?.0)
}

fn checked_body(bytes: &[u8]) -> Result<&[u8]> {
    if bytes.len() < 9 {
        return Err(TsError::corrupt("chunk shorter than its checksum"));
    }
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    let mut stored = [0u8; 8];
    stored.copy_from_slice(sum);
    if xxh3_64(body) != u64::from_le_bytes(stored) {
        return Err(TsError::corrupt("chunk checksum mismatch"));
    }
    Ok(body)
}

fn parse_header(body: &[u8]) -> Result<(ChunkHeader, ByteReader<'_>)> {
    let mut r = ByteReader::new(body);
    let version = r.u8()?;
    if version != FORMAT_VERSION {
        return Err(TsError::corrupt(format!("unknown chunk format {version}")));
    }
    let count = r.length(MAX_POINTS_PER_CHUNK)?;
    if count == 0 {
        return Err(TsError::corrupt("empty chunk"));
    }
    let min_time = unzigzag(r.varint()?);
    let max_time = unzigzag(r.varint()?);
    let ncols = r.length(MAX_COLUMNS)?;
    let mut columns = Vec::with_capacity(ncols);
    for _ in 0..ncols {
        let name = std::str::from_utf8(r.sized(MAX_FIELD_NAME_BYTES)?)
            .map_err(|_| TsError::corrupt("column name is not UTF-8"))?
            .to_string();
        let kind = match r.u8()? {
            0 => ColumnKind::Float,
            1 => ColumnKind::Int,
            2 => ColumnKind::Bool,
            3 => ColumnKind::Str,
            4 => ColumnKind::Vector(r.length(MAX_VECTOR_DIM)? as u32),
            tag => return Err(TsError::corrupt(format!("unknown column kind {tag}"))),
        };
        let sparse = r.u8()? != 0;
        let bounds = match kind {
            ColumnKind::Int => Some(Bounds::Int(unzigzag(r.varint()?), unzigzag(r.varint()?))),
            ColumnKind::Float => Some(Bounds::Float(if r.u8()? == 1 {
                let lo = f64::from_bits(r.u64_le()?);
                Some((lo, f64::from_bits(r.u64_le()?)))
            } else {
                None
            })),
            _ => None,
        };
        let data_len = r.length(MAX_COLUMN_BYTES)?;
        columns.push(ColumnHeader {
            name,
            kind,
            bounds,
            sparse,
            data_len,
        });
    }
    let header = ChunkHeader {
        count,
        min_time,
        max_time,
        columns,
    };
    Ok((header, r))
}

/// Decodes a whole chunk into its points (checksum, header and column data checked).
pub fn decode(bytes: &[u8]) -> Result<(ChunkHeader, Vec<Point>)> {
    let (header, mut r) = parse_header(checked_body(bytes)?)?;
    let times = timestamps::decode(r.sized(MAX_COLUMN_BYTES)?, header.count)?;
    let mut points: Vec<Point> = times
        .iter()
        .map(|t| Point {
            time: *t,
            fields: BTreeMap::new(),
        })
        .collect();
    for column in &header.columns {
        let data = r.take(column.data_len)?;
        decode_column(column, data, &mut points)?;
    }
    if !r.is_at_end() {
        return Err(TsError::corrupt("trailing bytes in chunk"));
    }
    Ok((header, points))
}

fn decode_column(column: &ColumnHeader, data: &[u8], points: &mut [Point]) -> Result<()> {
    let count = points.len();
    let mut r = ByteReader::new(data);
    let present: Vec<bool> = if column.sparse {
        bools::decode(r.take(count.div_ceil(8))?, count)?
    } else {
        vec![true; count]
    };
    let n = present.iter().filter(|p| **p).count();
    let rest = r.take(data.len() - r.position())?;
    let samples: Vec<Sample> = match column.kind {
        ColumnKind::Float => floats::decode(rest, n)?
            .into_iter()
            .map(Sample::Float)
            .collect(),
        ColumnKind::Int => ints::decode(rest, n)?
            .into_iter()
            .map(Sample::Int)
            .collect(),
        ColumnKind::Bool => bools::decode(rest, n)?
            .into_iter()
            .map(Sample::Bool)
            .collect(),
        ColumnKind::Str => strings::decode(rest, n)?
            .into_iter()
            .map(Sample::Str)
            .collect(),
        ColumnKind::Vector(dim) => decode_vectors(rest, n, dim as usize)?,
    };
    let mut samples = samples.into_iter();
    for (point, here) in points.iter_mut().zip(present) {
        if here {
            let sample = samples
                .next()
                .ok_or_else(|| TsError::corrupt("column shorter than its presence bits"))?;
            if point.fields.insert(column.name.clone(), sample).is_some() {
                return Err(TsError::corrupt("two values of one field in one point"));
            }
        }
    }
    Ok(())
}

fn decode_vectors(bytes: &[u8], n: usize, dim: usize) -> Result<Vec<Sample>> {
    let mut r = ByteReader::new(bytes);
    let mut vectors = vec![Vec::with_capacity(dim); n];
    for _ in 0..dim {
        let component = floats::decode(r.sized(MAX_COLUMN_BYTES)?, n)?;
        for (vector, x) in vectors.iter_mut().zip(component) {
            vector.push(x);
        }
    }
    Ok(vectors.into_iter().map(Sample::Vector).collect())
}
