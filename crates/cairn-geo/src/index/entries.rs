//! The entries a document contributes to a spatial index, and their byte layout.
//!
//! ```text
//! key   = level:u8 ‖ morton-cell:u128 BE ‖ document key ‖ part:u32 BE
//! value = kind:u8 ‖ coordinates as f64 LE   (the part itself: 0 point, 1 segment,
//!                                            2 triangle, 4 box, 5 sphere, as in cairn-doc)
//! ```
//!
//! Parts are numbered across every geometry the indexed path reaches in the document (a mesh
//! contributes one part per triangle), so a document's entries are a pure function of the
//! document: maintenance diffs the old and new lists, and a rebuild yields the same bytes.
//! Storing the part itself lets a query test it exactly without fetching the document.

use cairn_doc::{FieldPath, Point3, Value};
use cairn_index::path_values;

use crate::error::{GeoError, Result};
use crate::index::grid;
use crate::index::limits::MAX_PARTS_PER_DOCUMENT;
use crate::primitive::{part, part_count, Aabb, Primitive};

/// Bytes before the document key: level and cell.
pub const CELL_PREFIX_BYTES: usize = 17;

/// The stored key of one part.
pub fn entry_key(level: u8, cell: u128, doc_key: &[u8], part: u32) -> Vec<u8> {
    let mut key = Vec::with_capacity(CELL_PREFIX_BYTES + doc_key.len() + 4);
    key.push(level);
    key.extend_from_slice(&cell.to_be_bytes());
    key.extend_from_slice(doc_key);
    key.extend_from_slice(&part.to_be_bytes());
    key
}

/// The document key inside a stored key.
pub fn doc_key_of(key: &[u8]) -> Result<&[u8]> {
    key.get(CELL_PREFIX_BYTES..key.len().saturating_sub(4))
        .filter(|k| !k.is_empty())
        .ok_or(GeoError::CorruptEntry {
            reason: "key too short",
        })
}

/// Encodes a part as an entry value.
pub fn encode_primitive(p: &Primitive) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + 9 * 8);
    let put = |points: &[Point3], out: &mut Vec<u8>| {
        for c in points.iter().flatten() {
            out.extend_from_slice(&c.to_le_bytes());
        }
    };
    match p {
        Primitive::Point(x) => {
            out.push(0);
            put(&[*x], &mut out);
        }
        Primitive::Segment(s) => {
            out.push(1);
            put(s, &mut out);
        }
        Primitive::Triangle(t) => {
            out.push(2);
            put(t, &mut out);
        }
        Primitive::Box(b) => {
            out.push(4);
            put(&[b.min, b.max], &mut out);
        }
        Primitive::Sphere { center, radius } => {
            out.push(5);
            put(&[*center], &mut out);
            out.extend_from_slice(&radius.to_le_bytes());
        }
    }
    out
}

/// Decodes an entry value (no allocation: it runs once per entry a search reads).
pub fn decode_primitive(bytes: &[u8]) -> Result<Primitive> {
    let (&kind, rest) = bytes.split_first().ok_or(GeoError::CorruptEntry {
        reason: "empty part",
    })?;
    let expected = match kind {
        0 => 3,
        1 | 4 => 6,
        2 => 9,
        5 => 4,
        _ => 0,
    };
    if expected == 0 || rest.len() != expected * 8 {
        return Err(GeoError::CorruptEntry {
            reason: "bad part encoding",
        });
    }
    let mut floats = [0.0f64; 9];
    for (f, c) in floats.iter_mut().zip(rest.chunks_exact(8)) {
        *f = f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
    }
    let p = |i: usize| [floats[i], floats[i + 1], floats[i + 2]];
    Ok(match kind {
        0 => Primitive::Point(p(0)),
        1 => Primitive::Segment([p(0), p(3)]),
        2 => Primitive::Triangle([p(0), p(3), p(6)]),
        4 => Primitive::Box(Aabb {
            min: p(0),
            max: p(3),
        }),
        _ => Primitive::Sphere {
            center: p(0),
            radius: floats[3],
        },
    })
}

/// The `(key, value)` entries of a document, sorted by key. Values at the path that are not
/// geometries contribute nothing (they can never match a geometric operator).
pub fn doc_entries(
    path: &FieldPath,
    doc_key: &[u8],
    doc: &Value,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut reached = Vec::new();
    path_values::collect(path, doc, &mut reached);
    let mut geometries = Vec::new();
    for value in reached {
        match value {
            Value::Geometry(g) => geometries.push(&**g),
            Value::Array(items) => {
                geometries.extend(items.iter().filter_map(Value::as_geometry));
            }
            _ => {}
        }
    }
    let total: usize = geometries.iter().map(|g| part_count(g)).sum();
    if total > MAX_PARTS_PER_DOCUMENT {
        return Err(GeoError::InvalidArgument {
            reason: format!(
                "the document has {total} indexed geometry parts at `{path}`; the limit is \
                 {MAX_PARTS_PER_DOCUMENT}"
            ),
        });
    }
    let mut out = Vec::with_capacity(total);
    let mut number = 0u32;
    for g in geometries {
        for i in 0..part_count(g) {
            let Some(p) = part(g, i) else { break };
            let (level, cell) = grid::place(&p.bbox());
            out.push((
                entry_key(level, cell, doc_key, number),
                encode_primitive(&p),
            ));
            number += 1;
        }
    }
    out.sort_unstable();
    Ok(out)
}
