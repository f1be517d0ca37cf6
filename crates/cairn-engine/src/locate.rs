//! Which collections hold a document id: the routing index (`sys.routing`), plus a point get
//! in each collection that keeps no routing entries, so the answer is complete whatever each
//! collection chose at creation ([`crate::CollectionOptions::routing`]).
//!
//! Cost: one range read of the routing index, and one primary-key lookup per unrouted
//! collection. [`Located::searched_by_key`] names those collections, so a caller can say
//! where the answer came from (and why it costs what it does).

use std::ops::Bound;

use cairn_doc::DocId;

use crate::database::Database;
use crate::error::Result;
use crate::layout::routing_key;

/// Where a document id was found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Located {
    /// The collections holding a document with the id, in name order.
    pub collections: Vec<String>,
    /// The collections that keep no routing entries, searched by primary key instead (one
    /// point get each), in name order. Empty when every collection is routed.
    pub searched_by_key: Vec<String>,
}

impl Database {
    /// The collections holding a document with this id, from one snapshot: the routed ones
    /// from the routing index, the others by a point get each (see [`Located`]).
    pub fn locate(&self, id: &DocId) -> Result<Located> {
        let mut txn = self.begin()?;
        let mut key = Vec::new();
        id.encode_key(&mut key)?;
        let mut routed_ids = Vec::new();
        let routing = self.inner.tables.routing.clone();
        let prefix_end = routing_key(&key, u32::MAX);
        txn.scan(
            &routing,
            Bound::Included(&key),
            Bound::Included(&prefix_end),
            |entry, _| {
                let id = entry
                    .get(key.len()..)
                    .and_then(|b| <[u8; 4]>::try_from(b).ok());
                routed_ids.extend(id.map(u32::from_be_bytes));
                Ok::<_, crate::EngineError>(true)
            },
        )?;
        let mut located = Located::default();
        for meta in txn.list_collections()? {
            let holds = if meta.routing {
                routed_ids.contains(&meta.id)
            } else {
                located.searched_by_key.push(meta.name.clone());
                txn.get(&meta.name, id)?.is_some()
            };
            if holds {
                located.collections.push(meta.name);
            }
        }
        Ok(located)
    }
}
