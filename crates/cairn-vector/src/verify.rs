//! Comparing a vector index with its documents (for `cairn check`): every document holding a
//! vector has a node with the same vector, every node has such a document, every neighbour
//! list is well formed and within its capacity, and the entry point is a node on the top
//! layer it claims.

use std::collections::HashSet;
use std::ops::Bound;

use cairn_doc::DocId;
use cairn_engine::Transaction;

use crate::error::Result;
use crate::hnsw::level::level_for;
use crate::maintain::document_vector;
use crate::search::vector_index;
use crate::store::{
    decode_vector, Entry, Links, ENTRY_KEY, LINKS_TABLE, META_TABLE, VECTORS_TABLE,
};

/// One disagreement between the index and the documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyFinding {
    /// The document (or node) concerned, as its id when the key decodes, else as bytes.
    pub subject: String,
    /// What is wrong.
    pub problem: &'static str,
}

/// What [`verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Documents holding a vector in the indexed field.
    pub documents_with_vectors: u64,
    /// Nodes in the graph.
    pub nodes: u64,
    /// Links to nodes that no longer exist (allowed: see `hnsw/mod.rs`; reported for
    /// insight into the graph's state, not as a problem).
    pub dangling_links: u64,
    /// Everything that is wrong; empty when the index matches its documents.
    pub findings: Vec<VerifyFinding>,
}

fn subject(key: &[u8]) -> String {
    match DocId::decode_key(key) {
        Ok(id) => format!("{id:?}"),
        Err(_) => format!("key {key:?}"),
    }
}

/// Checks the vector index `name` of `collection` against the documents of `txn`'s snapshot.
pub fn verify(txn: &mut Transaction, collection: &str, name: &str) -> Result<VerifyReport> {
    let spec = vector_index(txn, collection, name)?;
    let mut report = VerifyReport::default();
    let mut doc_keys: HashSet<Vec<u8>> = HashSet::new();
    let mut expected: Vec<(Vec<u8>, Vec<f32>)> = Vec::new();
    txn.scan_documents(
        collection,
        Bound::Unbounded,
        Bound::Unbounded,
        |key, doc| {
            match document_vector(&spec, &doc) {
                Ok(Some(vector)) => expected.push((key.to_vec(), vector.to_vec())),
                Ok(None) => {}
                Err(_) => report.findings.push(VerifyFinding {
                    subject: subject(key),
                    problem: "the document holds an invalid vector",
                }),
            }
            Ok(true)
        },
    )?;
    report.documents_with_vectors = expected.len() as u64;
    for (key, vector) in &expected {
        doc_keys.insert(key.clone());
        let stored = txn.extension_get(collection, name, VECTORS_TABLE, key)?;
        let problem = match stored {
            None => Some("the document's vector is not in the index"),
            Some(bytes) => match decode_vector(name, spec.dims, &bytes) {
                Ok(v) if v == *vector => None,
                Ok(_) => Some("the index holds another vector than the document"),
                Err(_) => Some("the index's vector record is corrupt"),
            },
        };
        if txn
            .extension_get(collection, name, LINKS_TABLE, key)?
            .is_none()
        {
            report.findings.push(VerifyFinding {
                subject: subject(key),
                problem: "the node has no neighbour lists",
            });
        }
        if let Some(problem) = problem {
            report.findings.push(VerifyFinding {
                subject: subject(key),
                problem,
            });
        }
    }
    let mut vector_keys: Vec<Vec<u8>> = Vec::new();
    txn.extension_range(
        collection,
        name,
        VECTORS_TABLE,
        Bound::Unbounded,
        Bound::Unbounded,
        |key, _| {
            vector_keys.push(key.to_vec());
            Ok(true)
        },
    )?;
    for key in &vector_keys {
        if !doc_keys.contains(key) {
            report.findings.push(VerifyFinding {
                subject: subject(key),
                problem: "the index holds a vector for no document",
            });
        }
    }
    let mut links: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    txn.extension_range(
        collection,
        name,
        LINKS_TABLE,
        Bound::Unbounded,
        Bound::Unbounded,
        |key, value| {
            links.push((key.to_vec(), value.to_vec()));
            Ok(true)
        },
    )?;
    report.nodes = links.len() as u64;
    let node_keys: HashSet<&[u8]> = links.iter().map(|(k, _)| k.as_slice()).collect();
    let mut top: Option<u8> = None;
    for (key, value) in &links {
        let mut finding = |problem| {
            report.findings.push(VerifyFinding {
                subject: subject(key),
                problem,
            })
        };
        if !doc_keys.contains(key) {
            finding("the index holds a node for no document");
        }
        let Ok(decoded) = Links::decode(name, value) else {
            finding("the node's neighbour lists are corrupt");
            continue;
        };
        if decoded.level() != level_for(key, spec.params.m) {
            finding("the node is on other layers than its key places it");
        }
        top = top.max(Some(decoded.level()));
        for (layer, list) in decoded.layers.iter().enumerate() {
            if list.len() > spec.params.max_neighbours(layer) {
                finding("a neighbour list is over its capacity");
            }
            if list.iter().any(|k| k == key) {
                finding("the node links to itself");
            }
            report.dangling_links += list
                .iter()
                .filter(|k| !node_keys.contains(k.as_slice()))
                .count() as u64;
        }
    }
    let entry = txn.extension_get(collection, name, META_TABLE, ENTRY_KEY)?;
    let entry_problem = match (entry, top) {
        (None, None) => None,
        (None, Some(_)) => Some("the graph has nodes but no entry point"),
        (Some(_), None) => Some("the graph has an entry point but no nodes"),
        (Some(bytes), Some(_)) => match Entry::decode(name, &bytes) {
            Err(_) => Some("the entry point record is corrupt"),
            Ok(entry) if !node_keys.contains(entry.key.as_slice()) => {
                Some("the entry point is not a node")
            }
            Ok(entry) if entry.level != level_for(&entry.key, spec.params.m) => {
                Some("the entry point's level is not its node's")
            }
            Ok(_) => None,
        },
    };
    if let Some(problem) = entry_problem {
        report.findings.push(VerifyFinding {
            subject: "entry point".to_string(),
            problem,
        });
    }
    Ok(report)
}
