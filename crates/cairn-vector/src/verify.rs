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
use crate::layout::{
    decode_vector, Entry, Links, ENTRY_KEY, LINKS_TABLE, META_TABLE, VECTORS_TABLE,
};
use crate::maintain::document_vector;
use crate::search::vector_index;
use crate::spec::VectorSpec;

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
    let doc_keys = check_documents(txn, collection, &spec, &mut report)?;
    let node_keys = check_nodes(txn, collection, &spec, &doc_keys, &mut report)?;
    check_entry(txn, collection, &spec, &node_keys, &mut report)?;
    Ok(report)
}

fn finding(report: &mut VerifyReport, key: &[u8], problem: &'static str) {
    report.findings.push(VerifyFinding {
        subject: subject(key),
        problem,
    });
}

/// Every document holding a vector has a node with that vector. Returns their keys.
fn check_documents(
    txn: &mut Transaction,
    collection: &str,
    spec: &VectorSpec,
    report: &mut VerifyReport,
) -> Result<HashSet<Vec<u8>>> {
    let mut expected: Vec<(Vec<u8>, Vec<f32>)> = Vec::new();
    txn.scan_documents(
        collection,
        Bound::Unbounded,
        Bound::Unbounded,
        |key, doc| {
            match document_vector(spec, &doc) {
                Ok(Some(vector)) => expected.push((key.to_vec(), vector.to_vec())),
                Ok(None) => {}
                Err(_) => finding(report, key, "the document holds an invalid vector"),
            }
            Ok::<_, cairn_engine::EngineError>(true)
        },
    )?;
    report.documents_with_vectors = expected.len() as u64;
    let name = spec.name.as_str();
    let mut doc_keys = HashSet::with_capacity(expected.len());
    for (key, vector) in expected {
        let stored = txn.extension_get(collection, name, VECTORS_TABLE, &key)?;
        match stored.map(|bytes| decode_vector(name, spec.dims, &bytes)) {
            None => finding(report, &key, "the document's vector is not in the index"),
            Some(Ok(v)) if v == vector => {}
            Some(Ok(_)) => finding(
                report,
                &key,
                "the index holds another vector than the document",
            ),
            Some(Err(_)) => finding(report, &key, "the index's vector record is corrupt"),
        }
        if txn
            .extension_get(collection, name, LINKS_TABLE, &key)?
            .is_none()
        {
            finding(report, &key, "the node has no neighbour lists");
        }
        doc_keys.insert(key);
    }
    Ok(doc_keys)
}

/// Every vector and every node belongs to a document; neighbour lists are well formed, within
/// capacity, on the layers the key places the node. Returns the node keys.
fn check_nodes(
    txn: &mut Transaction,
    collection: &str,
    spec: &VectorSpec,
    doc_keys: &HashSet<Vec<u8>>,
    report: &mut VerifyReport,
) -> Result<HashSet<Vec<u8>>> {
    let name = spec.name.as_str();
    let all = (Bound::Unbounded, Bound::Unbounded);
    txn.extension_range(collection, name, VECTORS_TABLE, all.0, all.1, |key, _| {
        if !doc_keys.contains(key) {
            finding(report, key, "the index holds a vector for no document");
        }
        Ok::<_, cairn_engine::EngineError>(true)
    })?;
    let mut links: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    txn.extension_range(collection, name, LINKS_TABLE, all.0, all.1, |key, value| {
        links.push((key.to_vec(), value.to_vec()));
        Ok::<_, cairn_engine::EngineError>(true)
    })?;
    report.nodes = links.len() as u64;
    let node_keys: HashSet<Vec<u8>> = links.iter().map(|(k, _)| k.clone()).collect();
    for (key, value) in &links {
        if !doc_keys.contains(key) {
            finding(report, key, "the index holds a node for no document");
        }
        let Ok(decoded) = Links::decode(name, key, value) else {
            finding(report, key, "the node's neighbour lists are corrupt");
            continue;
        };
        if decoded.level() != level_for(key, spec.params.m) {
            finding(
                report,
                key,
                "the node is on other layers than its key places it",
            );
        }
        for (layer, list) in decoded.layers.iter().enumerate() {
            if list.len() > spec.params.max_neighbours(layer) {
                finding(report, key, "a neighbour list is over its capacity");
            }
            if list.iter().any(|k| k == key) {
                finding(report, key, "the node links to itself");
            }
            report.dangling_links += list.iter().filter(|k| !node_keys.contains(*k)).count() as u64;
        }
    }
    Ok(node_keys)
}

/// The entry point exists exactly when nodes do, and is a node on the level it claims.
fn check_entry(
    txn: &mut Transaction,
    collection: &str,
    spec: &VectorSpec,
    node_keys: &HashSet<Vec<u8>>,
    report: &mut VerifyReport,
) -> Result<()> {
    let entry = txn.extension_get(collection, &spec.name, META_TABLE, ENTRY_KEY)?;
    let problem = match (entry, node_keys.is_empty()) {
        (None, true) => None,
        (None, false) => Some("the graph has nodes but no entry point"),
        (Some(_), true) => Some("the graph has an entry point but no nodes"),
        (Some(bytes), false) => match Entry::decode(&spec.name, &bytes) {
            Err(_) => Some("the entry point record is corrupt"),
            Ok(entry) if !node_keys.contains(&entry.key) => Some("the entry point is not a node"),
            Ok(entry) if entry.level != level_for(&entry.key, spec.params.m) => {
                Some("the entry point's level is not its node's")
            }
            Ok(_) => None,
        },
    };
    if let Some(problem) = problem {
        report.findings.push(VerifyFinding {
            subject: "entry point".to_string(),
            problem,
        });
    }
    Ok(())
}
