//! Commit-time checks: handing each extension that asks for it the transaction's **net**
//! document changes once, just before the transaction goes to the writer.
//!
//! The net change of a document is computed from what the transaction buffered, not from the
//! sequence of operations: `old` is the document in the transaction's snapshot, `new` is the
//! final buffered state. So intermediate states are never checked, and an operation rolled
//! back inside the transaction (its buffered writes undone) leaves nothing to check. Every
//! write path read the document before writing it, with the read recorded, so `old` is
//! already conflict-checked: if another commit changes it first, this transaction conflicts.
//!
//! Cost: only for collections with an extension that [checks at
//! commit](crate::Extension::checks_at_commit). Each write there remembers the document it
//! wrote (and, on a key's first write, the snapshot's version) in a [`CommitCache`], moved
//! there once the write has succeeded (copied only for a caller that gets the document
//! back, an update); at commit
//! an entry is used only if its record is byte-for-byte the one finally buffered — a rolled
//! back operation may have restored an earlier one — otherwise the document is read from the
//! snapshot and decoded (one read and two decodes).

use std::borrow::{Borrow, Cow};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use cairn_doc::{DocId, Object, Value};

use crate::collection::{CollectionHandle, CommitNeeds};
use crate::error::{EngineError, Result};
use crate::extension::{DocChange, ExtensionTxn};
use crate::record::decode_record;
use crate::txn::Transaction;
use crate::writeset::Pending;

/// One document's net change within a transaction, owned.
struct NetChange {
    id: DocId,
    old: Option<Value>,
    new: Option<Value>,
}

/// What writes remembered for the commit-time checks: by collection id, then document key
/// (two levels, so the commit looks entries up by borrowed key bytes without building a key).
/// Hashed with foldhash (per-process random seed) rather than SipHash: every written document
/// is hashed twice, and SipHash was most of this cache's cost in insert profiles.
pub(crate) type CommitCache =
    HashMap<u32, HashMap<CacheKey, Remembered, foldhash::fast::RandomState>>;

/// Longest document key held inside the cache's own slots: 30 bytes, enough for the encoded
/// ids of UUIDs (17 bytes) and integers (9) and for short string ids.
const INLINE_KEY_BYTES: usize = 30;

/// A document key as the cache holds it: inline when short, so that growing the map (which
/// re-hashes every key) reads bytes it already holds instead of following a pointer per key
/// into memory that has long gone cold. Hashes and compares exactly like the `[u8]` it holds,
/// so the map is searched by borrowed key bytes.
#[derive(Clone)]
pub(crate) enum CacheKey {
    Inline {
        len: u8,
        bytes: [u8; INLINE_KEY_BYTES],
    },
    Heap(Vec<u8>),
}

impl CacheKey {
    fn new(key: &[u8]) -> CacheKey {
        match u8::try_from(key.len()) {
            Ok(len) if key.len() <= INLINE_KEY_BYTES => {
                let mut bytes = [0; INLINE_KEY_BYTES];
                bytes[..key.len()].copy_from_slice(key);
                CacheKey::Inline { len, bytes }
            }
            _ => CacheKey::Heap(key.to_vec()),
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            CacheKey::Inline { len, bytes } => &bytes[..usize::from(*len)],
            CacheKey::Heap(key) => key,
        }
    }
}

impl Borrow<[u8]> for CacheKey {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Hash for CacheKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl PartialEq for CacheKey {
    fn eq(&self, other: &CacheKey) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for CacheKey {}

/// One document's remembered states.
#[derive(Default)]
pub(crate) struct Remembered {
    /// The snapshot's version, when known: recorded by the key's first write in the
    /// transaction (later writes see the transaction's own version, not the snapshot's).
    snapshot: Option<Option<Value>>,
    /// The last write: its record (`None` for a delete) and document.
    last: Option<(Option<Vec<u8>>, Option<Value>)>,
}

impl CommitNeeds {
    /// What to remember of `doc`: the named top-level fields (whole values) in a new object,
    /// or the document itself (moved when owned).
    ///
    /// Why cut an owned document down rather than move it whole, which costs nothing here:
    /// measured on 1,000-document transactions, holding every written document until commit
    /// made the allocator slower (~2k instructions per document more in malloc) than the
    /// subset's allocations cost, and a big transaction would hold each document twice.
    fn keep(&self, doc: Cow<'_, Value>) -> Value {
        let CommitNeeds::Fields(names) = self else {
            return doc.into_owned();
        };
        let Some(source) = doc.as_object() else {
            return doc.into_owned();
        };
        let mut kept = Object::with_capacity(names.len());
        for name in names {
            if let Some(value) = source.get(name) {
                kept.insert(name.as_str(), value.clone());
            }
        }
        Value::Object(kept)
    }
}

/// A write about to be remembered: started before the write is buffered (a copy of the
/// record, which is small next to the document), told once buffered whether it was the key's
/// first write in the transaction, and handed to [`Transaction::remember_for_commit`] with the
/// documents once the write has succeeded, so they are moved into the cache rather than copied.
pub(crate) struct ToRemember {
    key: CacheKey,
    first_write: bool,
    record: Option<Vec<u8>>,
}

impl ToRemember {
    /// Starts remembering a write of `key` (`record` is `None` for a delete); call before the
    /// write is buffered, which takes the record.
    pub(crate) fn new(key: &[u8], record: Option<&Vec<u8>>) -> ToRemember {
        ToRemember {
            key: CacheKey::new(key),
            first_write: false,
            record: record.cloned(),
        }
    }

    /// Notes whether the buffered write was the key's first in the transaction (what
    /// [`Transaction::write_raw`] returned).
    pub(crate) fn buffered(mut self, first_write: bool) -> ToRemember {
        self.first_write = first_write;
        self
    }
}

impl Transaction {
    /// Remembers a buffered write for the commit-time checks: `old` is the version the write
    /// replaced (kept only when it is the snapshot's, i.e. on the key's first write), `new`
    /// the document written (`None` for a delete). Only what the checks need is kept
    /// ([`CommitNeeds`]); an owned document they need whole is moved, not copied.
    pub(crate) fn remember_for_commit(
        &mut self,
        coll: &CollectionHandle,
        write: ToRemember,
        old: Option<Cow<'_, Value>>,
        new: Option<Cow<'_, Value>>,
    ) {
        let needs = &coll.commit_needs;
        let by_key = self.commit_cache.entry(coll.meta.id).or_default();
        let entry = match by_key.get_mut(write.key.as_slice()) {
            Some(entry) => entry,
            None => by_key.entry(write.key).or_default(),
        };
        if write.first_write && entry.snapshot.is_none() {
            entry.snapshot = Some(old.map(|doc| needs.keep(doc)));
        }
        entry.last = Some((write.record, new.map(|doc| needs.keep(doc))));
    }

    /// Runs [`crate::Extension::before_commit`] of every extension that checks at commit, on
    /// every collection this transaction wrote documents in. An error rejects the commit.
    pub(crate) fn run_commit_checks(&mut self) -> Result<()> {
        let written = std::mem::take(&mut self.written_collections);
        for (id, name) in written {
            let Some(coll) = self.resolve_written(id, &name)? else {
                continue;
            };
            if !coll
                .extensions
                .iter()
                .any(|(_, ext)| ext.checks_at_commit())
            {
                continue;
            }
            let net = self.net_changes(&coll)?;
            if net.is_empty() {
                continue;
            }
            let changes: Vec<DocChange<'_>> = net
                .iter()
                .map(|change| DocChange {
                    id: &change.id,
                    old: change.old.as_ref(),
                    new: change.new.as_ref(),
                })
                .collect();
            for (ext_name, ext) in coll.extensions.iter().filter(|(_, e)| e.checks_at_commit()) {
                let mut ctx = ExtensionTxn::new(self, coll.meta.id, &coll.meta.name, ext_name);
                ext.before_commit(&mut ctx, &changes)?;
            }
        }
        Ok(())
    }

    /// The collection with id `id` as this transaction finally sees it (it may have been
    /// renamed after the write), or `None` when it was dropped.
    fn resolve_written(
        &mut self,
        id: u32,
        name: &str,
    ) -> Result<Option<std::sync::Arc<CollectionHandle>>> {
        match self.collection(name) {
            Ok(handle) if handle.meta.id == id => return Ok(Some(handle)),
            Ok(_) | Err(EngineError::UnknownCollection { .. }) => {}
            Err(other) => return Err(other),
        }
        let renamed = self
            .list_collections()?
            .into_iter()
            .find(|meta| meta.id == id);
        match renamed {
            Some(meta) => self.collection(&meta.name).map(Some),
            None => Ok(None),
        }
    }

    /// Every document of `coll` whose final buffered state differs from "untouched", as
    /// (snapshot document, final document).
    fn net_changes(&mut self, coll: &CollectionHandle) -> Result<Vec<NetChange>> {
        if self.writes.is_dropped(&coll.docs) {
            return Ok(Vec::new());
        }
        let Some(writes) = self.writes.tables.get(&coll.docs) else {
            return Ok(Vec::new());
        };
        let db = self.db.clone();
        let codecs = &db.shared.codecs;
        // First the final states, from the writes' remembered documents where they still
        // match the buffered record (no copy of the record), decoding the others.
        let mut cache = self.commit_cache.remove(&coll.meta.id).unwrap_or_default();
        let mut net = Vec::with_capacity(writes.len());
        // Keys whose snapshot state no write remembered, with their place in `net`.
        let mut unknown_old = Vec::new();
        for (key, pending) in writes {
            let record = match pending {
                Pending::Put { value, .. } => Some(value.as_slice()),
                Pending::Delete => None,
            };
            let remembered = cache.remove(key.as_slice()).unwrap_or_default();
            let new = match remembered.last {
                Some((last, doc)) if last.as_deref() == record => doc,
                _ => record
                    .map(|bytes| decode_record(codecs, coll.record_at(key), bytes))
                    .transpose()?,
            };
            let id = DocId::decode_key(key).map_err(|err| EngineError::corrupt(&coll.docs, err))?;
            let old = match remembered.snapshot {
                Some(old) => old,
                None => {
                    unknown_old.push((net.len(), key.clone()));
                    None
                }
            };
            net.push(NetChange { id, old, new });
        }
        // Then the snapshot states the writes did not remember (already recorded as read by
        // the write that buffered each key).
        for (at, key) in unknown_old {
            let record = self.stored_get(&coll.docs, &key)?;
            net[at].old = record
                .map(|bytes| decode_record(codecs, coll.record_at(&key), &bytes))
                .transpose()?;
        }
        net.retain(|change| change.old.is_some() || change.new.is_some());
        Ok(net)
    }
}
