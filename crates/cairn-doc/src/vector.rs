//! [`Vector`]: a dense `f32` vector that reads in place from the record it was decoded from.
//!
//! A vector either owns its floats (built from Rust with [`Vector::from_vec`]) or borrows them from a
//! shared [`RecordBuf`] (decoded by [`crate::decode_record`]). Either way [`Vector::as_slice`] is a
//! plain `&[f32]`; in the shared case it points straight into the record's bytes, so reading an
//! embedding out of storage copies no floats.

use std::sync::Arc;

use crate::RecordBuf;

// The encoding stores vector components as little-endian f32 and `as_slice` reinterprets those
// bytes in place. On a big-endian machine that reinterpretation would read byte-swapped floats, and
// swapping on read would defeat the zero-copy design, so refuse to build there rather than return
// wrong numbers.
#[cfg(target_endian = "big")]
compile_error!(
    "cairn-doc reads little-endian f32 vector data in place and does not support big-endian targets"
);

/// A dense vector of `f32`, compared by its components.
#[derive(Clone)]
pub struct Vector {
    storage: Storage,
}

#[derive(Clone)]
enum Storage {
    /// Floats built in memory.
    Owned(Arc<[f32]>),
    /// Floats living inside a decoded record. Invariant (checked by [`Vector::from_record`]):
    /// `offset_bytes + 4 * dim <= buf.len()` and `offset_bytes % 4 == 0`, so the range is an
    /// aligned `[f32]` because the buffer itself starts 8-aligned.
    Shared {
        buf: RecordBuf,
        offset_bytes: usize,
        dim: usize,
    },
}

impl Vector {
    /// A vector owning `values`.
    ///
    /// Components are not checked here; encoding a document rejects non-finite components and
    /// vectors over [`crate::limits::MAX_VECTOR_DIM`].
    pub fn from_vec(values: Vec<f32>) -> Vector {
        Vector {
            storage: Storage::Owned(values.into()),
        }
    }

    /// A vector reading `dim` floats at `offset_bytes` inside `buf`, without copying them.
    ///
    /// Returns `None` if the range is out of bounds or not 4-byte aligned, which a caller decoding
    /// untrusted bytes reports as corruption.
    pub(crate) fn from_record(buf: &RecordBuf, offset_bytes: usize, dim: usize) -> Option<Vector> {
        let end = dim.checked_mul(4)?.checked_add(offset_bytes)?;
        let bytes = buf.as_bytes().get(offset_bytes..end)?;
        // Verify the cast once here so `as_slice` can rely on it.
        bytemuck::try_cast_slice::<u8, f32>(bytes).ok()?;
        Some(Vector {
            storage: Storage::Shared {
                buf: buf.clone(),
                offset_bytes,
                dim,
            },
        })
    }

    /// The components.
    pub fn as_slice(&self) -> &[f32] {
        match &self.storage {
            Storage::Owned(values) => values,
            Storage::Shared {
                buf,
                offset_bytes,
                dim,
            } => {
                // In bounds and aligned: established by `from_record` and the buffer is immutable.
                let bytes = &buf.as_bytes()[*offset_bytes..*offset_bytes + *dim * 4];
                bytemuck::cast_slice(bytes)
            }
        }
    }

    /// Number of components.
    pub fn len(&self) -> usize {
        match &self.storage {
            Storage::Owned(values) => values.len(),
            Storage::Shared { dim, .. } => *dim,
        }
    }

    /// Number of components (the vector's dimensionality); the same as [`Vector::len`].
    pub fn dim(&self) -> usize {
        self.len()
    }

    /// Whether the vector has no components.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The record this vector reads from, if it was decoded rather than built in memory.
    pub fn record(&self) -> Option<&RecordBuf> {
        match &self.storage {
            Storage::Owned(_) => None,
            Storage::Shared { buf, .. } => Some(buf),
        }
    }

    /// The components as an owned `Vec`.
    pub fn to_vec(&self) -> Vec<f32> {
        self.as_slice().to_vec()
    }
}

impl PartialEq for Vector {
    fn eq(&self, other: &Vector) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl std::fmt::Debug for Vector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Vector").field(&self.as_slice()).finish()
    }
}

impl From<Vec<f32>> for Vector {
    fn from(values: Vec<f32>) -> Vector {
        Vector::from_vec(values)
    }
}

impl From<&[f32]> for Vector {
    fn from(values: &[f32]) -> Vector {
        Vector {
            storage: Storage::Owned(values.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_and_shared_vectors_compare_by_components() {
        let floats = [1.5f32, -2.0, 0.25];
        let bytes: Vec<u8> = floats.iter().flat_map(|f| f.to_le_bytes()).collect();
        let mut padded = vec![0u8; 4];
        padded.extend_from_slice(&bytes);
        let buf = RecordBuf::copy_from(&padded);
        let shared = Vector::from_record(&buf, 4, 3).expect("in bounds");
        assert_eq!(shared, Vector::from_vec(floats.to_vec()));
        assert_eq!(
            shared.as_slice().as_ptr() as usize,
            buf.as_bytes().as_ptr() as usize + 4
        );
        assert!(shared.record().is_some_and(|r| r.ptr_eq(&buf)));
    }

    #[test]
    fn record_ranges_out_of_bounds_or_misaligned_are_refused() {
        let buf = RecordBuf::copy_from(&[0u8; 16]);
        assert!(Vector::from_record(&buf, 2, 1).is_none());
        assert!(Vector::from_record(&buf, 12, 2).is_none());
        assert!(Vector::from_record(&buf, 0, usize::MAX).is_none());
        assert!(Vector::from_record(&buf, 16, 0).is_some());
    }
}
