//! Verifying an index against its collection: every entry has its document and every
//! document has its entries (what `cairn check` runs for each index).

use std::cmp::Ordering;
use std::ops::Bound;

use cairn_engine::Transaction;

use crate::build::expected_keys;
use crate::error::{IndexError, Result};
pub use crate::limits::MAX_INDEX_FINDINGS;
use crate::read::IndexHandle;

/// What verifying one index found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexVerification {
    /// Stored entries with no matching document state (hex of the stored key).
    pub extra_entries: Vec<String>,
    /// Entries a document should have but the index lacks (hex of the expected key).
    pub missing_entries: Vec<String>,
    /// Total mismatches, including those beyond [`MAX_INDEX_FINDINGS`].
    pub mismatches: u64,
}

impl IndexVerification {
    /// Whether the index matched its collection exactly.
    pub fn is_clean(&self) -> bool {
        self.mismatches == 0
    }

    /// One sentence per listed mismatch, and one for those past the listing limit (what
    /// `cairn check` reports).
    pub fn details(&self) -> Vec<String> {
        let listed = self.extra_entries.len() + self.missing_entries.len();
        let mut details: Vec<String> = self
            .extra_entries
            .iter()
            .map(|key| format!("entry {key} has no matching document"))
            .chain(
                self.missing_entries
                    .iter()
                    .map(|key| format!("entry {key} is missing for its document")),
            )
            .collect();
        if self.mismatches > listed as u64 {
            details.push(format!(
                "{} more mismatched entries not listed",
                self.mismatches - listed as u64
            ));
        }
        details
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares an index with a rebuild from its collection's documents in `txn`'s snapshot.
/// Memory: the expected entries of the whole collection (keys only).
pub fn verify_index(
    txn: &mut Transaction,
    collection: &str,
    index: &IndexHandle,
) -> Result<IndexVerification> {
    let mut docs = Vec::new();
    let mut expected = Vec::new();
    txn.scan_documents(
        collection,
        Bound::Unbounded,
        Bound::Unbounded,
        |key, doc| {
            docs.push((key.to_vec(), doc));
            if docs.len() >= 4096 {
                // Convert in batches so documents are not all held at once.
                expected.extend(expected_keys(&index.spec, &docs)?);
                docs.clear();
            }
            Ok::<_, IndexError>(true)
        },
    )?;
    expected.extend(expected_keys(&index.spec, &docs)?);
    expected.sort();
    let stored = index.raw_entries(txn, collection)?;
    let mut report = IndexVerification::default();
    let (mut i, mut j) = (0, 0);
    while i < stored.len() || j < expected.len() {
        let order = match (stored.get(i), expected.get(j)) {
            (Some(s), Some(e)) => s.cmp(e),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match order {
            Ordering::Equal => {
                i += 1;
                j += 1;
            }
            Ordering::Less => {
                report.mismatches += 1;
                if report.extra_entries.len() < MAX_INDEX_FINDINGS {
                    report.extra_entries.push(hex(&stored[i].0));
                }
                i += 1;
            }
            Ordering::Greater => {
                report.mismatches += 1;
                if report.missing_entries.len() < MAX_INDEX_FINDINGS {
                    report.missing_entries.push(hex(&expected[j].0));
                }
                j += 1;
            }
        }
    }
    Ok(report)
}
