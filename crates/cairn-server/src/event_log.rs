//! The change log as an event log: the one JSON form of a committed change that every
//! subscriber sees (the SSE change stream and the pull API of [`crate::consumers`]), and the
//! position type both resume from.
//!
//! The format is versioned: every event carries `"format": 1` ([`EVENT_FORMAT_VERSION`]). A
//! later version may add fields (readers must ignore fields they do not know); removing or
//! changing the meaning of one bumps the version. The format is specified in
//! `docs/design/server.md` ("The event log").

use cairn::{Change, ChangeOp};
use serde::Serialize;
use utoipa::ToSchema;

use crate::openapi::AnyValueSchema;

/// The version of the event format written by this server.
pub const EVENT_FORMAT_VERSION: u32 = 1;

/// One committed change as JSON (format version 1).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangeEvent {
    /// The format version: 1.
    pub format: u32,
    /// The commit's sequence number.
    pub seq: u64,
    /// The change's position within its commit (from 0).
    pub index: u32,
    /// `SEQ.INDEX`: the event's id (SSE `id`, `Last-Event-ID`).
    pub id: String,
    /// The commit time, RFC 3339 UTC with microseconds.
    pub at: String,
    /// The collection's name at the time of the change (the old name for a rename).
    pub collection: String,
    /// `insert`, `update`, `delete`, `create_collection`, `drop_collection`,
    /// `rename_collection`, `attach_extension` or `detach_extension`.
    pub op: String,
    /// The document's id (null for collection changes).
    #[serde(rename = "_id")]
    #[schema(value_type = AnyValueSchema)]
    pub id_value: serde_json::Value,
    /// The document after the change (inserts and updates); for `create_collection`, the
    /// options that differ from the defaults (`{"routing": false}`); else null.
    #[schema(value_type = AnyValueSchema)]
    pub new: serde_json::Value,
    /// The document before the change (updates and deletes; else null).
    #[schema(value_type = AnyValueSchema)]
    pub old: serde_json::Value,
    /// `rename_collection`: the new name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// `attach_extension` / `detach_extension`: the extension's instance name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
}

impl ChangeEvent {
    /// The event of a committed change.
    pub fn of(change: &Change) -> ChangeEvent {
        let value = |doc: Option<&cairn::Value>| {
            doc.map_or(serde_json::Value::Null, |v| {
                serde_json::to_value(v).unwrap_or_default()
            })
        };
        let (to, extension) = match &change.op {
            ChangeOp::RenameCollection { to } => (Some(to.clone()), None),
            ChangeOp::AttachExtension { name } | ChangeOp::DetachExtension { name } => {
                (None, Some(name.clone()))
            }
            _ => (None, None),
        };
        ChangeEvent {
            format: EVENT_FORMAT_VERSION,
            seq: change.seq,
            index: change.index,
            id: format!("{}.{}", change.seq, change.index),
            at: change.at.to_string(),
            collection: change.collection.clone(),
            op: change.op.name().to_string(),
            id_value: value(change.id.as_ref().map(cairn::DocId::to_value).as_ref()),
            new: value(change.new.as_ref()),
            old: value(change.old.as_ref()),
            to,
            extension,
        }
    }
}

/// Whether subscribers see this change: document and collection changes of user collections.
/// Index-build steps and reclaim steps change nothing visible, and Cairn's own collections
/// (users, tokens, consumer positions) are nobody's business but the server's.
pub fn is_public(change: &Change) -> bool {
    let internal = matches!(
        change.op,
        ChangeOp::ExtensionData { .. } | ChangeOp::ReclaimDropped
    );
    !internal && !cairn::is_system_collection(&change.collection)
}

/// A position in the change log: everything up to and including `(seq, index)` was
/// delivered; `index == u32::MAX` means the whole commit `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// The commit's sequence number.
    pub seq: u64,
    /// The change within it; `u32::MAX`: all of it.
    pub index: u32,
}

impl Position {
    /// Everything up to and including commit `seq`.
    pub fn after_commit(seq: u64) -> Position {
        Position {
            seq,
            index: u32::MAX,
        }
    }

    /// The position of one change.
    pub fn of(change: &Change) -> Position {
        Position {
            seq: change.seq,
            index: change.index,
        }
    }

    /// Parses an event id: `SEQ.INDEX` as sent, or a bare `SEQ` (the whole commit).
    pub fn parse_event_id(text: &str) -> Option<Position> {
        match text.trim().split_once('.') {
            Some((seq, index)) => Some(Position {
                seq: seq.parse().ok()?,
                index: index.parse().ok()?,
            }),
            None => text.trim().parse().ok().map(Position::after_commit),
        }
    }

    /// Whether the position covers whole commits only.
    pub fn is_whole_commit(self) -> bool {
        self.index == u32::MAX
    }

    /// The sequence number to read the log after so that nothing past this position is
    /// skipped.
    pub fn read_after(self) -> u64 {
        if self.is_whole_commit() {
            self.seq
        } else {
            self.seq.saturating_sub(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_parse_and_order_within_a_commit() {
        let mid = Position::parse_event_id("7.2").unwrap();
        assert_eq!(mid.read_after(), 6);
        let whole = Position::parse_event_id("7").unwrap();
        assert_eq!(whole.read_after(), 7);
        assert!(mid < whole);
        assert!(Position::parse_event_id("x").is_none());
        assert!(Position::parse_event_id("1.x").is_none());
    }

    #[test]
    fn events_carry_the_format_version_and_the_rename_target() {
        let change = Change {
            seq: 4,
            index: 1,
            at: cairn::DateTime::from_micros(0),
            collection_id: 1,
            collection: "a".to_string(),
            op: ChangeOp::RenameCollection {
                to: "b".to_string(),
            },
            id: None,
            new: None,
            old: None,
        };
        let json = serde_json::to_value(ChangeEvent::of(&change)).unwrap();
        assert_eq!(json["format"], 1);
        assert_eq!(json["id"], "4.1");
        assert_eq!(json["op"], "rename_collection");
        assert_eq!(json["to"], "b");
        assert!(json["_id"].is_null());
        assert!(json.get("extension").is_none());
        assert!(is_public(&change));
        let own = Change {
            collection: "_sys_consumers".to_string(),
            op: ChangeOp::Insert,
            ..change
        };
        assert!(!is_public(&own));
    }
}
