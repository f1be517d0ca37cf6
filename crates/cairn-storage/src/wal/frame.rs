//! Segment and record framing, and the scan that tells a torn tail from damage.
//!
//! A segment file starts with a header, then holds records back to back:
//! ```text
//! segment header (24 bytes):
//!   [0..8)   magic "CAIRNWAL"
//!   [8..12)  format version (u32 LE, 1)
//!   [12..16) reserved (0)
//!   [16..24) log sequence number (LSN) of the segment's first record (u64 LE); the file name
//!            says the same
//! record:
//!   [0..4)   body length (u32 LE)
//!   [4..12)  LSN (u64 LE): the previous record's plus one
//!   [12..14) data-key id that sealed the body (u16 LE; 0 when not sealed)
//!   [14..16) flags (u16 LE): bit 0 = the body is sealed
//!   body     the redo payload (`redo.rs`), or when sealed nonce ‖ AES-256-GCM(payload) ‖ tag
//!            with the LSN as authenticated data
//!   [8 bytes] XXH3-64 of the header and body (u64 LE)
//! ```
//! The checksum covers the sealed bytes, so torn tails are found without the key; sealing
//! authenticates the payload on top of it.

use std::path::Path;

use xxhash_rust::xxh3::xxh3_64;

use crate::cipher::{Cipher, SEAL_OVERHEAD_BYTES};
use crate::limits::MAX_WAL_RECORD_BYTES;
use crate::{Result, StorageError};

/// First bytes of every segment file.
const SEGMENT_MAGIC: &[u8; 8] = b"CAIRNWAL";
/// The framing described above.
const SEGMENT_VERSION: u32 = 1;
/// Bytes of a segment header.
pub(crate) const SEGMENT_HEADER_BYTES: usize = 24;
/// Bytes of a record header (before the body).
pub(crate) const FRAME_HEADER_BYTES: usize = 16;
/// Bytes of a record trailer (the checksum).
const FRAME_TRAILER_BYTES: usize = 8;
/// Flag bit: the body is sealed.
const FLAG_SEALED: u16 = 1;

/// The header of a segment whose first record has `first_lsn`.
pub(crate) fn segment_header(first_lsn: u64) -> [u8; SEGMENT_HEADER_BYTES] {
    let mut header = [0u8; SEGMENT_HEADER_BYTES];
    header[..8].copy_from_slice(SEGMENT_MAGIC);
    header[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    header[16..24].copy_from_slice(&first_lsn.to_le_bytes());
    header
}

/// Turns `buf` — [`FRAME_HEADER_BYTES`] reserved bytes, then a redo payload — into a whole
/// record with `lsn`, sealed under `key` (id, cipher) when given.
pub(crate) fn finish_frame(buf: &mut Vec<u8>, lsn: u64, key: Option<(u32, &Cipher)>) -> Result<()> {
    let mut flags = 0u16;
    let mut key_id = 0u16;
    if let Some((id, cipher)) = key {
        let payload = buf.split_off(FRAME_HEADER_BYTES);
        let sealed = cipher.seal(&lsn.to_le_bytes(), &payload)?;
        buf.extend_from_slice(&sealed);
        flags |= FLAG_SEALED;
        // Data-key ids are at most MAX_DATA_KEY_ID = u16::MAX.
        key_id = u16::try_from(id).map_err(|_| StorageError::Crypto {
            detail: format!("data key id {id} does not fit a log record"),
        })?;
    }
    let body_len = buf.len() - FRAME_HEADER_BYTES;
    if body_len as u64 > MAX_WAL_RECORD_BYTES {
        return Err(StorageError::EntryTooLarge {
            table: "<write-ahead log>".to_string(),
            size_bytes: body_len as u64,
            limit_bytes: MAX_WAL_RECORD_BYTES,
        });
    }
    buf[0..4].copy_from_slice(&(body_len as u32).to_le_bytes());
    buf[4..12].copy_from_slice(&lsn.to_le_bytes());
    buf[12..14].copy_from_slice(&key_id.to_le_bytes());
    buf[14..16].copy_from_slice(&flags.to_le_bytes());
    let checksum = xxh3_64(buf);
    buf.extend_from_slice(&checksum.to_le_bytes());
    Ok(())
}

/// One whole record found in a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame {
    /// Its log sequence number.
    pub(crate) lsn: u64,
    /// Byte offset of the record in the segment file.
    pub(crate) offset: usize,
    /// Range of the body within the segment.
    pub(crate) body: (usize, usize),
    /// The data key that sealed the body, if sealed.
    pub(crate) sealed_by: Option<u32>,
}

/// What a segment holds.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// The LSN its header names.
    pub(crate) first_lsn: u64,
    /// Every whole record, in order.
    pub(crate) frames: Vec<Frame>,
    /// Bytes up to the end of the last whole record (or the header).
    pub(crate) valid_len: usize,
    /// Whether bytes after `valid_len` were cut as a torn tail.
    pub(crate) torn: bool,
}

/// Scans a segment's bytes. `last` says whether it is the newest segment, the only place a
/// torn tail may be: there a record that fails its checksum (or does not fit) is cut when
/// nothing but zeros or that record's own bytes follow it; anywhere else it is
/// [`StorageError::WalCorrupt`] naming the segment and offset.
pub(crate) fn scan(bytes: &[u8], path: &Path, last: bool) -> Result<Scan> {
    let corrupt = |offset: usize, detail: &str| StorageError::WalCorrupt {
        segment: path.to_path_buf(),
        offset: offset as u64,
        detail: detail.to_string(),
    };
    if bytes.len() < SEGMENT_HEADER_BYTES || &bytes[..8] != SEGMENT_MAGIC {
        // A segment created just before a crash may lack (part of) its header.
        let header_prefix = bytes.len() < SEGMENT_HEADER_BYTES
            && SEGMENT_MAGIC.starts_with(&bytes[..bytes.len().min(8)]);
        if last && (header_prefix || bytes.iter().all(|b| *b == 0)) {
            return Ok(Scan {
                torn: !bytes.is_empty(),
                ..Scan::default()
            });
        }
        return Err(corrupt(0, "not a write-ahead log segment (bad header)"));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap_or_default());
    if version != SEGMENT_VERSION {
        return Err(corrupt(
            8,
            &format!("unknown segment format version {version}"),
        ));
    }
    let first_lsn = u64::from_le_bytes(bytes[16..24].try_into().unwrap_or_default());
    let mut scan = Scan {
        first_lsn,
        valid_len: SEGMENT_HEADER_BYTES,
        ..Scan::default()
    };
    let mut at = SEGMENT_HEADER_BYTES;
    let mut expected = first_lsn;
    while at < bytes.len() {
        match frame_at(bytes, at) {
            Some(frame) if frame.lsn == expected => {
                scan.frames.push(frame);
                at = frame.body.1 + FRAME_TRAILER_BYTES;
                scan.valid_len = at;
                expected += 1;
            }
            Some(frame) => {
                return Err(corrupt(
                    at,
                    &format!("record has LSN {} where {expected} belongs", frame.lsn),
                ));
            }
            // Zeros: the preallocated end of the newest segment (no record was cut).
            None if last && bytes[at..].iter().all(|b| *b == 0) => return Ok(scan),
            None if last && is_torn_tail(bytes, at) => {
                scan.torn = true;
                return Ok(scan);
            }
            None => return Err(corrupt(at, "record fails its checksum")),
        }
    }
    Ok(scan)
}

/// Decodes the record at `at` if it is whole and its checksum matches.
fn frame_at(bytes: &[u8], at: usize) -> Option<Frame> {
    let header = bytes.get(at..at + FRAME_HEADER_BYTES)?;
    let body_len = u32::from_le_bytes(header[0..4].try_into().ok()?) as usize;
    let lsn = u64::from_le_bytes(header[4..12].try_into().ok()?);
    let key_id = u16::from_le_bytes(header[12..14].try_into().ok()?);
    let flags = u16::from_le_bytes(header[14..16].try_into().ok()?);
    let body_start = at + FRAME_HEADER_BYTES;
    let body_end = body_start.checked_add(body_len)?;
    let trailer = bytes.get(body_end..body_end.checked_add(FRAME_TRAILER_BYTES)?)?;
    let checksum = u64::from_le_bytes(trailer.try_into().ok()?);
    if xxh3_64(&bytes[at..body_end]) != checksum || flags & !FLAG_SEALED != 0 {
        return None;
    }
    let sealed = flags & FLAG_SEALED != 0;
    if sealed && body_len < SEAL_OVERHEAD_BYTES {
        return None;
    }
    Some(Frame {
        lsn,
        offset: at,
        body: (body_start, body_end),
        sealed_by: sealed.then_some(u32::from(key_id)),
    })
}

/// Whether a bad record at `at` can be the torn end of the last append: it does not fit the
/// file, or nothing but zeros (the preallocated rest of the segment, or a file system that
/// extended the file before the data reached it) follows where it claims to end. Damage
/// inside the log is followed by more records and is neither.
fn is_torn_tail(bytes: &[u8], at: usize) -> bool {
    let Some(header) = bytes.get(at..at + FRAME_HEADER_BYTES) else {
        return true;
    };
    let body_len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let end = at + FRAME_HEADER_BYTES + body_len + FRAME_TRAILER_BYTES;
    end >= bytes.len() || bytes[end..].iter().all(|b| *b == 0)
}

/// The payload of a frame: its body, opened with the key that sealed it when sealed.
pub(crate) fn open_body<'a>(
    bytes: &'a [u8],
    frame: &Frame,
    path: &Path,
    key: &dyn Fn(u32) -> Option<Cipher>,
) -> Result<std::borrow::Cow<'a, [u8]>> {
    let body = &bytes[frame.body.0..frame.body.1];
    let Some(key_id) = frame.sealed_by else {
        return Ok(std::borrow::Cow::Borrowed(body));
    };
    let corrupt = |detail: String| StorageError::WalCorrupt {
        segment: path.to_path_buf(),
        offset: frame.offset as u64,
        detail,
    };
    let cipher = key(key_id).ok_or_else(|| {
        corrupt(format!(
            "sealed under data key {key_id}, which the keyring does not hold"
        ))
    })?;
    cipher
        .open(&frame.lsn.to_le_bytes(), body)
        .map(std::borrow::Cow::Owned)
        .ok_or_else(|| corrupt("record fails authentication".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(payloads: &[&[u8]], first_lsn: u64, key: Option<(u32, &Cipher)>) -> Result<Vec<u8>> {
        let mut bytes = segment_header(first_lsn).to_vec();
        for (i, payload) in payloads.iter().enumerate() {
            let mut buf = vec![0u8; FRAME_HEADER_BYTES];
            buf.extend_from_slice(payload);
            finish_frame(&mut buf, first_lsn + i as u64, key)?;
            bytes.extend_from_slice(&buf);
        }
        Ok(bytes)
    }

    fn no_key(_: u32) -> Option<Cipher> {
        None
    }

    #[test]
    fn records_frame_and_scan_back_in_order() -> Result<()> {
        let bytes = segment(&[b"one", b"", b"three"], 7, None)?;
        let path = Path::new("0000000000000007.log");
        let scan = scan(&bytes, path, false)?;
        assert_eq!(scan.first_lsn, 7);
        assert!(!scan.torn);
        assert_eq!(scan.valid_len, bytes.len());
        let lsns: Vec<u64> = scan.frames.iter().map(|f| f.lsn).collect();
        assert_eq!(lsns, vec![7, 8, 9]);
        let body = open_body(&bytes, &scan.frames[2], path, &no_key)?;
        assert_eq!(&*body, b"three");
        Ok(())
    }

    #[test]
    fn a_torn_tail_is_cut_at_the_last_whole_record() -> Result<()> {
        let bytes = segment(&[b"one", b"two", b"three"], 1, None)?;
        let whole_two =
            scan(&segment(&[b"one", b"two"], 1, None)?, Path::new("s"), true)?.valid_len;
        for cut in whole_two + 1..bytes.len() {
            let scan = scan(&bytes[..cut], Path::new("s"), true)?;
            assert_eq!(scan.frames.len(), 2, "cut at {cut}");
            assert!(scan.torn);
            assert_eq!(scan.valid_len, whole_two);
        }
        // Zeros after the last whole record (preallocated) end the log; nothing was cut.
        let mut zeroed = bytes[..whole_two].to_vec();
        zeroed.extend_from_slice(&[0u8; 100]);
        let zero_end = scan(&zeroed, Path::new("s"), true)?;
        assert_eq!(zero_end.frames.len(), 2);
        assert!(!zero_end.torn);
        // A partial record followed by zeros is a torn tail.
        let mut partial = bytes[..whole_two + 20].to_vec();
        partial.extend_from_slice(&[0u8; 4096]);
        let torn = scan(&partial, Path::new("s"), true)?;
        assert_eq!((torn.frames.len(), torn.torn), (2, true));
        // A last record whose checksum fails is cut too.
        let mut flipped = bytes.clone();
        let last = flipped.len() - 3;
        flipped[last] ^= 1;
        assert_eq!(scan(&flipped, Path::new("s"), true)?.frames.len(), 2);
        Ok(())
    }

    #[test]
    fn damage_in_the_middle_is_an_error_naming_segment_and_offset() -> Result<()> {
        let mut bytes = segment(&[b"one", b"two", b"three"], 1, None)?;
        let second = scan(&bytes, Path::new("s"), true)?.frames[1].offset;
        bytes[second + FRAME_HEADER_BYTES] ^= 0x40;
        for last in [true, false] {
            match scan(&bytes, Path::new("seg.log"), last) {
                Err(StorageError::WalCorrupt {
                    segment, offset, ..
                }) => {
                    assert_eq!(segment, Path::new("seg.log"));
                    assert_eq!(offset, second as u64);
                }
                other => panic!("expected WalCorrupt, got {other:?}"),
            }
        }
        // A torn tail is only accepted in the newest segment.
        let cut = bytes.len() - 2;
        let whole = segment(&[b"one"], 1, None)?;
        let mut torn = whole.clone();
        torn.extend_from_slice(&bytes[whole.len()..cut]);
        assert!(scan(&torn, Path::new("s"), false).is_err());
        Ok(())
    }

    #[test]
    fn sealed_records_hold_no_plaintext_and_open_only_with_their_key() -> Result<()> {
        let cipher = Cipher::new(&[3u8; 32]);
        let secret = b"patient record: very secret payload";
        let bytes = segment(&[secret], 1, Some((5, &cipher)))?;
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret),
            "plaintext in a sealed log"
        );
        assert!(!bytes.windows(6).any(|w| w == b"secret"));
        let scan = scan(&bytes, Path::new("s"), true)?;
        assert_eq!(scan.frames[0].sealed_by, Some(5));
        let key = |id: u32| (id == 5).then(|| cipher.clone());
        assert_eq!(
            &*open_body(&bytes, &scan.frames[0], Path::new("s"), &key)?,
            secret
        );
        assert!(open_body(&bytes, &scan.frames[0], Path::new("s"), &no_key).is_err());
        let other = Cipher::new(&[4u8; 32]);
        let wrong = |_: u32| Some(other.clone());
        assert!(matches!(
            open_body(&bytes, &scan.frames[0], Path::new("s"), &wrong),
            Err(StorageError::WalCorrupt { .. })
        ));
        Ok(())
    }

    #[test]
    fn a_segment_torn_inside_its_header_is_empty_only_when_newest() -> Result<()> {
        let header = segment_header(9);
        for cut in 0..SEGMENT_HEADER_BYTES {
            let scan = scan(&header[..cut], Path::new("s"), true)?;
            assert!(scan.frames.is_empty());
        }
        assert!(scan(&header[..5], Path::new("s"), false).is_err());
        assert!(scan(b"NOTAWAL!xxxxxxxxxxxxxxxxxxxx", Path::new("s"), true).is_err());
        Ok(())
    }
}
