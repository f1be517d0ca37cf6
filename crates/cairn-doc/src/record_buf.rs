//! [`RecordBuf`]: the immutable, shared, 8-byte-aligned bytes a document is decoded from.
//!
//! Decoding copies scalars and strings out, but vectors can be large (an embedding is kilobytes of
//! floats) and are read far more often than written, so a decoded [`crate::Vector`] instead keeps a
//! handle to this buffer and reads its floats in place. That needs two guarantees this type
//! provides: the bytes never move or change while any handle exists (reference counting over an
//! immutable allocation), and the start of the buffer is aligned for `f32` (the backing store is
//! `u64` words, so it is 8-aligned, which also leaves room for 8-byte types later).

use std::sync::Arc;

/// An immutable, reference-counted byte buffer whose first byte is 8-byte aligned.
///
/// Cloning is cheap (a reference-count increment). Build one with [`RecordBuf::copy_from`].
#[derive(Clone)]
pub struct RecordBuf {
    /// Backing storage; only the first `len_bytes` bytes are meaningful, the rest of the last word
    /// is zero.
    words: Arc<[u64]>,
    /// Number of meaningful bytes.
    len_bytes: usize,
}

impl RecordBuf {
    /// Copies `bytes` into a new aligned buffer.
    pub fn copy_from(bytes: &[u8]) -> RecordBuf {
        let word_count = bytes.len().div_ceil(8);
        let mut words = vec![0u64; word_count];
        let target: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
        target[..bytes.len()].copy_from_slice(bytes);
        RecordBuf {
            words: words.into(),
            len_bytes: bytes.len(),
        }
    }

    /// The buffer's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        let all: &[u8] = bytemuck::cast_slice(&self.words);
        &all[..self.len_bytes]
    }

    /// Number of bytes in the buffer.
    pub fn len(&self) -> usize {
        self.len_bytes
    }

    /// Whether the buffer holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len_bytes == 0
    }

    /// Whether `self` and `other` are handles to the same allocation.
    pub fn ptr_eq(&self, other: &RecordBuf) -> bool {
        Arc::ptr_eq(&self.words, &other.words)
    }
}

impl std::fmt::Debug for RecordBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The contents are an opaque encoding; their size is what is useful when debugging.
        f.debug_struct("RecordBuf")
            .field("len_bytes", &self.len_bytes)
            .finish_non_exhaustive()
    }
}

impl From<&[u8]> for RecordBuf {
    fn from(bytes: &[u8]) -> RecordBuf {
        RecordBuf::copy_from(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_keeps_bytes_and_aligns_start() {
        for len in 0..20 {
            let bytes: Vec<u8> = (0..len as u8).collect();
            let buf = RecordBuf::copy_from(&bytes);
            assert_eq!(buf.as_bytes(), &bytes[..]);
            assert_eq!(buf.len(), len);
            assert_eq!(buf.as_bytes().as_ptr() as usize % 8, 0);
        }
    }

    #[test]
    fn clones_share_the_allocation() {
        let buf = RecordBuf::copy_from(b"abc");
        let other = buf.clone();
        assert!(buf.ptr_eq(&other));
        assert_eq!(buf.as_bytes().as_ptr(), other.as_bytes().as_ptr());
        assert!(!buf.ptr_eq(&RecordBuf::copy_from(b"abc")));
    }
}
