//! A view of the stored graph for one operation (an insert, a delete, a search): reads go to
//! the transaction once per node and are decoded once; writes go through to the transaction
//! and into the cache, so the operation reads its own writes without asking again.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use crate::error::Result;
use crate::layout::{
    decode_vector, decode_vector_rc, encode_vector, Entry, Links, ENTRY_KEY, LINKS_TABLE,
    META_TABLE, VECTORS_TABLE,
};
use crate::metric::Metric;
use crate::search::SearchStats;
use crate::store::RawStore;

/// Maps and sets keyed by document key, with foldhash (a search hashes every key it meets;
/// SipHash cost several percent of a search). Seeded per process, so chosen keys cannot
/// flood one bucket.
pub(crate) type KeyMap<V> = HashMap<Vec<u8>, V, foldhash::fast::RandomState>;
/// See [`KeyMap`].
pub(crate) type KeySet = HashSet<Vec<u8>, foldhash::fast::RandomState>;

/// A visitor of nodes (key, vector); returning false stops the scan.
pub(crate) type VectorVisitor<'v> = dyn FnMut(&[u8], &[f32]) -> Result<bool> + 'v;

/// The nodes of one index as one transaction sees them.
pub(crate) struct Nodes<'s> {
    store: &'s mut dyn RawStore,
    index: &'s str,
    dims: usize,
    metric: Metric,
    vectors: KeyMap<Option<Rc<[f32]>>>,
    links: KeyMap<Option<Rc<Links>>>,
    /// Whether this operation has written a fresh content stamp (`stamp.rs`) yet.
    stamped: bool,
    /// Work done, reported by searches (`explain`).
    pub(crate) stats: SearchStats,
}

impl<'s> Nodes<'s> {
    pub(crate) fn new(
        store: &'s mut dyn RawStore,
        index: &'s str,
        dims: usize,
        metric: Metric,
    ) -> Nodes<'s> {
        Nodes {
            store,
            index,
            dims,
            metric,
            vectors: KeyMap::default(),
            links: KeyMap::default(),
            stamped: false,
            stats: SearchStats::default(),
        }
    }

    /// The index's name (for errors).
    pub(crate) fn index(&self) -> &str {
        self.index
    }

    /// The metric of the index.
    pub(crate) fn metric(&self) -> Metric {
        self.metric
    }

    /// A node's vector; `None` when the node does not exist (a dangling link).
    pub(crate) fn vector(&mut self, key: &[u8]) -> Result<Option<Rc<[f32]>>> {
        if let Some(cached) = self.vectors.get(key) {
            return Ok(cached.clone());
        }
        let vector = match self.store.get(VECTORS_TABLE, key)? {
            Some(bytes) => Some(decode_vector_rc(self.index, self.dims, &bytes)?),
            None => None,
        };
        self.vectors.insert(key.to_vec(), vector.clone());
        Ok(vector)
    }

    /// A node's neighbour lists; `None` when the node does not exist.
    pub(crate) fn links(&mut self, key: &[u8]) -> Result<Option<Rc<Links>>> {
        if let Some(cached) = self.links.get(key) {
            return Ok(cached.clone());
        }
        self.stats.nodes_visited += 1;
        let links = match self.store.get(LINKS_TABLE, key)? {
            Some(bytes) => Some(Rc::new(Links::decode(self.index, key, &bytes)?)),
            None => None,
        };
        self.links.insert(key.to_vec(), links.clone());
        Ok(links)
    }

    /// The distance from `from` to a node, `None` when the node does not exist.
    pub(crate) fn distance(&mut self, from: &[f32], key: &[u8]) -> Result<Option<f32>> {
        Ok(self.vector(key)?.map(|v| {
            self.stats.distances_computed += 1;
            self.metric.distance(from, &v)
        }))
    }

    /// Writes a fresh content stamp with the first change of this operation: whatever
    /// changes the graph goes through here, so a snapshot's stamp names its graph.
    fn stamp(&mut self) -> Result<()> {
        if !self.stamped {
            self.store
                .put(META_TABLE, crate::stamp::STAMP_KEY, &crate::stamp::fresh())?;
            self.stamped = true;
        }
        Ok(())
    }

    /// Stores a node's vector.
    pub(crate) fn put_vector(&mut self, key: &[u8], vector: &[f32]) -> Result<()> {
        self.stamp()?;
        self.store.put(VECTORS_TABLE, key, &encode_vector(vector))?;
        self.vectors.insert(key.to_vec(), Some(Rc::from(vector)));
        Ok(())
    }

    /// Stores a node's neighbour lists.
    pub(crate) fn put_links(&mut self, key: &[u8], links: Links) -> Result<()> {
        self.stamp()?;
        self.store.put(LINKS_TABLE, key, &links.encode(key))?;
        self.links.insert(key.to_vec(), Some(Rc::new(links)));
        Ok(())
    }

    /// Removes a node's records.
    pub(crate) fn delete_node(&mut self, key: &[u8]) -> Result<()> {
        self.stamp()?;
        self.store.delete(VECTORS_TABLE, key)?;
        self.store.delete(LINKS_TABLE, key)?;
        self.vectors.insert(key.to_vec(), None);
        self.links.insert(key.to_vec(), None);
        Ok(())
    }

    /// The entry point, `None` for an empty graph.
    pub(crate) fn entry(&mut self) -> Result<Option<Entry>> {
        match self.store.get(META_TABLE, ENTRY_KEY)? {
            Some(bytes) => Entry::decode(self.index, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Replaces (or with `None` removes) the entry point.
    pub(crate) fn set_entry(&mut self, entry: Option<&Entry>) -> Result<()> {
        self.stamp()?;
        match entry {
            Some(entry) => self.store.put(META_TABLE, ENTRY_KEY, &entry.encode()),
            None => self.store.delete(META_TABLE, ENTRY_KEY),
        }
    }

    /// The first node in key order with its level (the entry of last resort).
    pub(crate) fn first_node(&mut self) -> Result<Option<Entry>> {
        let mut first = None;
        let index = self.index;
        self.store.scan(LINKS_TABLE, &mut |key, value| {
            let links = Links::decode(index, key, value)?;
            first = Some(Entry {
                key: key.to_vec(),
                level: links.level(),
            });
            Ok(false)
        })?;
        Ok(first)
    }

    /// Visits every node's key and vector in key order until `visit` returns false.
    pub(crate) fn scan_vectors(&mut self, visit: &mut VectorVisitor<'_>) -> Result<()> {
        let (index, dims) = (self.index, self.dims);
        self.store.scan(VECTORS_TABLE, &mut |key, value| {
            let vector = decode_vector(index, dims, value)?;
            visit(key, &vector)
        })
    }
}
