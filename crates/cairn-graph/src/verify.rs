//! Verifying an edge collection's adjacency index against its edge documents (what
//! `cairn check` runs), and listing dangling edges.

use std::collections::BTreeMap;
use std::ops::Bound;

use cairn_doc::DocId;
use cairn_engine::{EngineError, Transaction};
use foldhash::{HashMap, HashMapExt};

use crate::edges::{endpoints, EdgeExtension, OnVertexDelete, FROM_FIELD, TO_FIELD};
use crate::error::{GraphError, Result};
use crate::layout::{IN_TABLE, OUT_TABLE};
use crate::limits::MAX_VERIFY_FINDINGS;
use crate::vertex::{split_key, VertexRef};
use crate::EDGE_EXTENSION;

/// What verifying one edge collection found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EdgeVerification {
    /// Index problems: entries without their edge, entries an edge lacks, edge documents
    /// without a valid `_from`/`_to` (at most [`MAX_VERIFY_FINDINGS`]).
    pub problems: Vec<String>,
    /// Total index problems, including those not listed.
    pub problem_count: u64,
    /// Edges naming a vertex that does not exist (at most [`MAX_VERIFY_FINDINGS`]):
    /// allowed under `none`, a broken invariant under `restrict`/`cascade`.
    pub dangling: Vec<String>,
    /// Total dangling endpoints, including those not listed.
    pub dangling_count: u64,
    /// Edges checked.
    pub edges: u64,
}

impl EdgeVerification {
    fn problem(&mut self, text: String) {
        self.problem_count += 1;
        if self.problems.len() < MAX_VERIFY_FINDINGS {
            self.problems.push(text);
        }
    }

    /// Whether the collection is sound for its mode: the index matches its documents, and
    /// no edge dangles unless the mode allows it.
    pub fn is_clean(&self, mode: OnVertexDelete) -> bool {
        self.problem_count == 0 && (mode == OnVertexDelete::None || self.dangling_count == 0)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares the adjacency of edge collection `edges` with a rebuild from its documents in
/// `txn`'s snapshot, and looks up every endpoint vertex. Memory: the whole adjacency (keys
/// and values) of the collection, and one flag per distinct vertex.
pub fn verify_edges(txn: &mut Transaction, edges: &str) -> Result<EdgeVerification> {
    let not_edges = || GraphError::NotEdgeCollection {
        collection: edges.to_string(),
    };
    let instance = txn
        .extension_instance(edges, EDGE_EXTENSION)
        .map_err(|err| match err {
            EngineError::ExtensionState { .. } => not_edges(),
            other => other.into(),
        })?
        .ok_or_else(not_edges)?;
    let extension = instance
        .as_any()
        .downcast_ref::<EdgeExtension>()
        .ok_or_else(not_edges)?;
    let mut report = EdgeVerification::default();
    let mut expected: [BTreeMap<Vec<u8>, Vec<u8>>; 2] = Default::default();
    let mut named: Vec<(DocId, &'static str, VertexRef)> = Vec::new();
    let mut bad = Vec::new();
    txn.scan_documents(edges, Bound::Unbounded, Bound::Unbounded, |key, doc| {
        let (Some((from, to)), Some(entries)) = (endpoints(&doc), extension.entries_of(key, &doc)?)
        else {
            bad.push(key.to_vec());
            return Ok::<_, GraphError>(true);
        };
        expected[0].insert(entries.out_key, entries.out_value);
        expected[1].insert(entries.in_key, entries.in_value);
        let id = DocId::decode_key(key).map_err(|err| EngineError::ExtensionFailed {
            message: format!("`{edges}` holds a bad document key: {err}"),
        })?;
        named.push((id.clone(), FROM_FIELD, from));
        named.push((id, TO_FIELD, to));
        Ok(true)
    })?;
    report.edges = (named.len() / 2 + bad.len()) as u64;
    for key in bad {
        report.problem(format!("edge {} has no valid `_from`/`_to`", hex(&key)));
    }
    for (table, expected) in [OUT_TABLE, IN_TABLE].into_iter().zip(expected) {
        let mut stored = BTreeMap::new();
        txn.extension_range(
            edges,
            EDGE_EXTENSION,
            table,
            Bound::Unbounded,
            Bound::Unbounded,
            |key, value| {
                stored.insert(key.to_vec(), value.to_vec());
                Ok(true)
            },
        )
        .map_err(|err| match err {
            EngineError::ExtensionState { .. } => GraphError::NotEdgeCollection {
                collection: edges.to_string(),
            },
            other => other.into(),
        })?;
        compare(&mut report, table, &stored, &expected);
    }
    dangling(txn, &mut report, named)?;
    Ok(report)
}

/// Adds a problem per entry present on one side only or different on both.
fn compare(
    report: &mut EdgeVerification,
    table: &str,
    stored: &BTreeMap<Vec<u8>, Vec<u8>>,
    expected: &BTreeMap<Vec<u8>, Vec<u8>>,
) {
    for (key, value) in stored {
        match expected.get(key) {
            None => report.problem(format!("`{table}` entry {} has no edge", hex(key))),
            Some(want) if want != value && !without_stored(want, value) => report.problem(format!(
                "`{table}` entry {} names the wrong vertex or holds stale stored properties",
                hex(key)
            )),
            Some(_) => {}
        }
    }
    for key in expected.keys() {
        if !stored.contains_key(key) {
            report.problem(format!("`{table}` entry {} is missing", hex(key)));
        }
    }
}

/// Whether `value` is `want` without its stored properties: an entry written before its
/// collection declared them (kept by a restore or follower replaying the declaration, see
/// [`crate::declare_edge_properties`]). Queries read such an edge's document, so it is sound.
fn without_stored(want: &[u8], value: &[u8]) -> bool {
    split_key(want).is_some_and(|(len, _)| value == &want[..len])
}

/// Looks up every endpoint vertex once and records the edges naming a missing one.
fn dangling(
    txn: &mut Transaction,
    report: &mut EdgeVerification,
    named: Vec<(DocId, &'static str, VertexRef)>,
) -> Result<()> {
    let mut exists: HashMap<VertexRef, bool> = HashMap::new();
    for (edge, field, vertex) in named {
        let present = match exists.get(&vertex) {
            Some(&present) => present,
            None => {
                let present = match txn.get(&vertex.collection, &vertex.id) {
                    Ok(doc) => doc.is_some(),
                    Err(EngineError::UnknownCollection { .. }) => false,
                    Err(other) => return Err(other.into()),
                };
                exists.insert(vertex.clone(), present);
                present
            }
        };
        if !present {
            report.dangling_count += 1;
            if report.dangling.len() < MAX_VERIFY_FINDINGS {
                report.dangling.push(format!(
                    "edge `{edge}`: `{field}` names `{vertex}`, which does not exist"
                ));
            }
        }
    }
    Ok(())
}
