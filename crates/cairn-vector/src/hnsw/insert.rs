//! Adding a node (Algorithm 1 of the paper).

use crate::error::{Result, VectorError};
use crate::hnsw::layer::{search_layer, select_neighbours, Scored};
use crate::hnsw::level::level_for;
use crate::hnsw::nodes::Nodes;
use crate::layout::{Entry, Links};
use crate::spec::HnswParams;

/// Inserts the node `key` with `vector` (validated by the caller). A node already stored
/// under `key` is deleted first, so inserting is also how a changed vector is written.
pub(crate) fn insert(
    nodes: &mut Nodes<'_>,
    params: &HnswParams,
    key: &[u8],
    vector: &[f32],
) -> Result<()> {
    if nodes.links(key)?.is_some() {
        crate::hnsw::delete::delete(nodes, params, key)?;
    }
    let level = level_for(key, params.m);
    let Some(entry) = nodes.entry()? else {
        nodes.put_vector(key, vector)?;
        nodes.put_links(key, Links::empty(level))?;
        return nodes.set_entry(Some(&Entry {
            key: key.to_vec(),
            level,
        }));
    };
    let Some(distance) = nodes.distance(vector, &entry.key)? else {
        return Err(VectorError::Corrupt {
            index: nodes.index().to_string(),
            reason: "the entry point has no vector",
        });
    };
    let mut nearest = vec![Scored {
        distance,
        key: entry.key.clone(),
    }];
    // Greedy descent through the layers above the new node's own.
    for layer in (level as usize + 1..=entry.level as usize).rev() {
        nearest = search_layer(nodes, vector, &nearest, 1, layer, None)?.nearest;
    }
    let mut links = Links::empty(level);
    let top = level.min(entry.level) as usize;
    for layer in (0..=top).rev() {
        let mut found = search_layer(nodes, vector, &nearest, params.ef_construction, layer, None)?;
        // Cannot hold the node itself: its vector is stored only after the walk, so a
        // dangling link to its key (`hnsw/mod.rs`) is skipped like any other.
        debug_assert!(found.nearest.iter().all(|s| s.key != key));
        found.nearest.retain(|s| s.key != key);
        links.layers[layer] = select_neighbours(nodes, found.nearest.clone(), params.m)?;
        nearest = found.nearest;
    }
    // Stored before the neighbours link back, so their pruning can measure the new node;
    // not before the walk, which must not meet the node itself (a node deleted and inserted
    // again can still be the target of dangling links).
    nodes.put_vector(key, vector)?;
    nodes.put_links(key, links.clone())?;
    for (layer, neighbours) in links.layers.iter().enumerate() {
        for neighbour in neighbours {
            link_back(nodes, params, neighbour, key, layer)?;
        }
    }
    if level > entry.level {
        nodes.set_entry(Some(&Entry {
            key: key.to_vec(),
            level,
        }))?;
    }
    Ok(())
}

/// Adds `new` to `node`'s list on `layer`, pruning the list with the heuristic when it grows
/// past its capacity.
fn link_back(
    nodes: &mut Nodes<'_>,
    params: &HnswParams,
    node: &[u8],
    new: &[u8],
    layer: usize,
) -> Result<()> {
    let Some(links) = nodes.links(node)? else {
        return Ok(());
    };
    let Some(list) = links.layers.get(layer) else {
        return Ok(());
    };
    if list.iter().any(|k| k == new) {
        return Ok(());
    }
    let mut list = list.clone();
    list.push(new.to_vec());
    let capacity = params.max_neighbours(layer);
    if list.len() > capacity {
        list = reselect(nodes, node, list, capacity)?;
    }
    let mut updated = (*links).clone();
    updated.layers[layer] = list;
    nodes.put_links(node, updated)
}

/// Chooses `node`'s best `capacity` neighbours among `keys` (dropping dangling ones).
pub(crate) fn reselect(
    nodes: &mut Nodes<'_>,
    node: &[u8],
    keys: Vec<Vec<u8>>,
    capacity: usize,
) -> Result<Vec<Vec<u8>>> {
    let Some(base) = nodes.vector(node)? else {
        return Ok(keys);
    };
    let mut scored = Vec::with_capacity(keys.len());
    for key in keys {
        if key == node {
            continue;
        }
        if let Some(distance) = nodes.distance(&base, &key)? {
            scored.push(Scored { distance, key });
        }
    }
    select_neighbours(nodes, scored, capacity)
}
