//! Removing a node and repairing its neighbours (the choice is explained in `hnsw/mod.rs`).

use crate::error::Result;
use crate::hnsw::insert::reselect;
use crate::hnsw::nodes::Nodes;
use crate::layout::Entry;
use crate::spec::HnswParams;

/// Deletes the node `key` if it exists.
pub(crate) fn delete(nodes: &mut Nodes<'_>, params: &HnswParams, key: &[u8]) -> Result<()> {
    let Some(links) = nodes.links(key)? else {
        return Ok(());
    };
    for (layer, neighbours) in links.layers.iter().enumerate() {
        for neighbour in neighbours {
            repair(nodes, params, neighbour, key, layer, neighbours)?;
        }
    }
    nodes.delete_node(key)?;
    let entry = nodes.entry()?;
    if entry.as_ref().is_some_and(|e| e.key == key) {
        let replacement = match highest_neighbour(nodes, &links.layers)? {
            Some(found) => Some(found),
            None => nodes.first_node()?,
        };
        nodes.set_entry(replacement.as_ref())?;
    }
    Ok(())
}

/// Replaces the link from `node` to the deleted node on `layer` by the best of `node`'s other
/// links and the deleted node's links (`bridge`).
fn repair(
    nodes: &mut Nodes<'_>,
    params: &HnswParams,
    node: &[u8],
    deleted: &[u8],
    layer: usize,
    bridge: &[Vec<u8>],
) -> Result<()> {
    if node == deleted {
        return Ok(());
    }
    let Some(links) = nodes.links(node)? else {
        return Ok(());
    };
    let Some(list) = links.layers.get(layer) else {
        return Ok(());
    };
    if !list.iter().any(|k| k == deleted) {
        return Ok(());
    }
    let mut candidates: Vec<Vec<u8>> = list.iter().filter(|k| *k != deleted).cloned().collect();
    candidates.extend(
        bridge
            .iter()
            .filter(|k| *k != deleted && *k != node)
            .cloned(),
    );
    let chosen = reselect(nodes, node, candidates, params.max_neighbours(layer))?;
    let mut updated = (*links).clone();
    updated.layers[layer] = chosen;
    nodes.put_links(node, updated)
}

/// The remaining neighbour on the highest layer that has one, preferring the highest level.
fn highest_neighbour(nodes: &mut Nodes<'_>, layers: &[Vec<Vec<u8>>]) -> Result<Option<Entry>> {
    for neighbours in layers.iter().rev() {
        let mut best: Option<Entry> = None;
        for key in neighbours {
            if let Some(links) = nodes.links(key)? {
                if best.as_ref().is_none_or(|b| links.level() > b.level) {
                    best = Some(Entry {
                        key: key.clone(),
                        level: links.level(),
                    });
                }
            }
        }
        if best.is_some() {
            return Ok(best);
        }
    }
    Ok(None)
}
