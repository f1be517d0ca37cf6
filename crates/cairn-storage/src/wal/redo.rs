//! The redo payload of one log record: the table writes of one storage commit, in the order
//! they were made, as absolute operations (this key now holds these bytes; this key is gone;
//! this table is gone).
//!
//! Layout (lengths are LEB128 varints):
//! ```text
//! 0x01 TABLE  len name      following PUT/DEL ops write this table
//! 0x02 PUT    len key len value
//! 0x03 DEL    len key
//! 0x04 DROP   len name      the table and all its entries are deleted
//! ```
//! Why absolute operations: replaying them needs no extension, no document decoding and no
//! reads, so it reproduces the committed bytes exactly. They are also idempotent from any
//! earlier prefix: replaying records `j+1..n` onto the state after any record `k >= j` gives
//! the state after `n` (the last operation on each key, or the last drop of each table,
//! decides), so a checkpoint position that lags the data file's true state is safe.

use crate::{Result, StorageError};

const OP_TABLE: u8 = 1;
const OP_PUT: u8 = 2;
const OP_DEL: u8 = 3;
const OP_DROP: u8 = 4;

/// The redo operations of one write transaction, encoded as they are made.
///
/// The buffer starts with [`Redo::reserved`] bytes the log fills with the record's frame
/// header, so the record is written without copying the payload again.
#[derive(Debug)]
pub(crate) struct Redo {
    buf: Vec<u8>,
    reserved: usize,
    /// The table the last TABLE op selected.
    current: Option<Box<str>>,
    ops: u64,
}

impl Redo {
    /// An empty redo buffer with `reserved` bytes in front for the frame header.
    pub(crate) fn new(reserved: usize) -> Redo {
        Redo {
            buf: vec![0; reserved],
            reserved,
            current: None,
            ops: 0,
        }
    }

    /// Whether no operation was recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.ops == 0
    }

    /// Records `table[key] = value`.
    pub(crate) fn put(&mut self, table: &str, key: &[u8], value: &[u8]) {
        self.select(table);
        self.buf.push(OP_PUT);
        push_bytes(&mut self.buf, key);
        push_bytes(&mut self.buf, value);
        self.ops += 1;
    }

    /// Records the removal of `table[key]`.
    pub(crate) fn delete(&mut self, table: &str, key: &[u8]) {
        self.select(table);
        self.buf.push(OP_DEL);
        push_bytes(&mut self.buf, key);
        self.ops += 1;
    }

    /// Records the deletion of a whole table.
    pub(crate) fn drop_table(&mut self, table: &str) {
        self.buf.push(OP_DROP);
        push_bytes(&mut self.buf, table.as_bytes());
        // A later write to the same name must name it again (the table is recreated).
        self.current = None;
        self.ops += 1;
    }

    /// The whole buffer, reserved header bytes first.
    pub(crate) fn into_buf(self) -> Vec<u8> {
        self.buf
    }

    /// Bytes of payload (after the reserved header).
    pub(crate) fn payload_len(&self) -> usize {
        self.buf.len() - self.reserved
    }

    fn select(&mut self, table: &str) {
        if self.current.as_deref() != Some(table) {
            self.buf.push(OP_TABLE);
            push_bytes(&mut self.buf, table.as_bytes());
            self.current = Some(table.into());
        }
    }
}

/// One decoded redo operation, borrowing from the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RedoOp<'a> {
    /// `table[key] = value`.
    Put {
        /// The table.
        table: &'a str,
        /// The key.
        key: &'a [u8],
        /// The value.
        value: &'a [u8],
    },
    /// `table[key]` removed.
    Delete {
        /// The table.
        table: &'a str,
        /// The key.
        key: &'a [u8],
    },
    /// The whole table deleted.
    DropTable {
        /// The table.
        table: &'a str,
    },
}

/// Decodes a payload into its operations; an error names what was malformed (a record whose
/// checksum matched but whose payload does not parse was written by a bug, or by a different
/// program).
pub(crate) fn decode(payload: &[u8]) -> Result<Vec<RedoOp<'_>>> {
    let mut ops = Vec::new();
    let mut at = 0;
    let mut table: Option<&str> = None;
    let malformed = |detail: &str| StorageError::Corrupted {
        detail: format!("write-ahead log record payload: {detail}"),
    };
    while at < payload.len() {
        let op = payload[at];
        at += 1;
        match op {
            OP_TABLE | OP_DROP => {
                let name = take_bytes(payload, &mut at).ok_or_else(|| malformed("table name"))?;
                let name = std::str::from_utf8(name).map_err(|_| malformed("table name"))?;
                if op == OP_TABLE {
                    table = Some(name);
                } else {
                    ops.push(RedoOp::DropTable { table: name });
                    table = None;
                }
            }
            OP_PUT => {
                let table = table.ok_or_else(|| malformed("put before a table"))?;
                let key = take_bytes(payload, &mut at).ok_or_else(|| malformed("key"))?;
                let value = take_bytes(payload, &mut at).ok_or_else(|| malformed("value"))?;
                ops.push(RedoOp::Put { table, key, value });
            }
            OP_DEL => {
                let table = table.ok_or_else(|| malformed("delete before a table"))?;
                let key = take_bytes(payload, &mut at).ok_or_else(|| malformed("key"))?;
                ops.push(RedoOp::Delete { table, key });
            }
            other => return Err(malformed(&format!("unknown operation {other:#04x}"))),
        }
    }
    Ok(ops)
}

fn push_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    let mut len = bytes.len() as u64;
    loop {
        let low = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            buf.push(low);
            break;
        }
        buf.push(low | 0x80);
    }
    buf.extend_from_slice(bytes);
}

fn take_bytes<'a>(payload: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
    let mut len: u64 = 0;
    let mut shift = 0;
    loop {
        let byte = *payload.get(*at)?;
        *at += 1;
        if shift > 56 {
            return None;
        }
        len |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let len = usize::try_from(len).ok()?;
    let end = at.checked_add(len)?;
    let bytes = payload.get(*at..end)?;
    *at = end;
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_round_trip_in_order_with_table_switches() -> Result<()> {
        let mut redo = Redo::new(4);
        redo.put("a", b"k1", b"v1");
        redo.put("a", b"k2", &[7u8; 300]);
        redo.delete("b", b"k3");
        redo.drop_table("a");
        redo.put("a", b"k1", b"");
        assert!(!redo.is_empty());
        let buf = redo.into_buf();
        let ops = decode(&buf[4..])?;
        assert_eq!(
            ops,
            vec![
                RedoOp::Put {
                    table: "a",
                    key: b"k1",
                    value: b"v1"
                },
                RedoOp::Put {
                    table: "a",
                    key: b"k2",
                    value: &[7u8; 300]
                },
                RedoOp::Delete {
                    table: "b",
                    key: b"k3"
                },
                RedoOp::DropTable { table: "a" },
                RedoOp::Put {
                    table: "a",
                    key: b"k1",
                    value: b""
                },
            ]
        );
        Ok(())
    }

    #[test]
    fn a_truncated_or_unknown_payload_is_an_error_not_a_panic() {
        let mut redo = Redo::new(0);
        redo.put("t", b"key", b"value");
        let buf = redo.into_buf();
        for cut in 0..buf.len() {
            // Every strict prefix either decodes to fewer ops or fails; none panics.
            let _ = decode(&buf[..cut]);
        }
        assert!(decode(&[9]).is_err());
        assert!(
            decode(&[OP_PUT, 1, b'k', 0]).is_err(),
            "put without a table"
        );
    }
}
