//! Collection metadata as stored in `sys.catalog`.
//!
//! Metadata is encoded as a Cairn document (the same codec as user data), so it is versioned
//! and validated by the same decoder that guards documents.

use cairn_doc::{DateTime, Object, Value};

use crate::error::{EngineError, Result};
use crate::layout::CATALOG_TABLE;
use crate::limits::MAX_COLLECTION_NAME_BYTES;

/// What the engine knows about one collection.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionMeta {
    /// Internal id, never reused; names the collection's tables.
    pub id: u32,
    /// The user-facing name.
    pub name: String,
    /// When the collection was created.
    pub created_at: DateTime,
    /// Extensions attached to the collection, in the order they run.
    pub extensions: Vec<ExtensionSpec>,
    /// Whether each document has a routing entry (`sys.routing`: document key ‖ collection
    /// id), so [`crate::Database::locate`] finds it by id alone. Chosen at creation
    /// ([`CollectionOptions::routing`]); stored only when off, so catalog entries written
    /// before the option existed (none stored) keep routing on.
    pub routing: bool,
}

/// What can be chosen when a collection is created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CollectionOptions {
    /// Keep a routing entry per document (document key ‖ collection id in `sys.routing`), so
    /// [`crate::Database::locate`] (and the entity API's "which collection holds this id")
    /// answers from one range read. Each insert and delete then costs one more B-tree write.
    /// Off, `locate` searches the collection by primary key instead (one point get), so its
    /// answer stays complete.
    ///
    /// `None` takes the default for the name ([`CollectionOptions::routing_for`]): on for
    /// user collections — any of them may be an entity type whose ids are looked up without
    /// their type — and off for Cairn's own `_sys_*` collections (users, tokens, consumer
    /// positions, idempotency keys), which nobody locates and some of which are written on
    /// every request.
    pub routing: Option<bool>,
}

impl CollectionOptions {
    /// Options with routing set explicitly.
    pub fn with_routing(routing: bool) -> CollectionOptions {
        CollectionOptions {
            routing: Some(routing),
        }
    }

    /// Whether a collection named `name` created with these options keeps routing entries.
    pub fn routing_for(&self, name: &str) -> bool {
        self.routing.unwrap_or(!is_system_collection(name))
    }

    /// The options a collection was created with, as its change-log `create_collection`
    /// record carries them: `{"routing": false}`, or nothing when routing is on (records
    /// written before the option existed carry nothing either, and meant routing on).
    pub(crate) fn logged(routing: bool) -> Option<Value> {
        (!routing).then(|| {
            let mut obj = Object::new();
            obj.insert("routing".to_string(), Value::Bool(false));
            Value::Object(obj)
        })
    }

    /// Reads [`CollectionOptions::logged`]'s form: routing explicit, on when absent.
    pub(crate) fn from_logged(logged: Option<&Value>) -> CollectionOptions {
        let routing = logged
            .and_then(Value::as_object)
            .and_then(|obj| obj.get("routing"));
        CollectionOptions::with_routing(!matches!(routing, Some(Value::Bool(false))))
    }
}

/// One extension instance attached to a collection.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtensionSpec {
    /// The registered kind that implements it (e.g. `index`).
    pub kind: String,
    /// The instance name, unique within the collection.
    pub name: String,
    /// Kind-specific configuration.
    pub config: Value,
    /// Which attachment this is: a number no earlier attachment of the same name to the same
    /// collection had (0 for attachments made before incarnations were recorded). Instances
    /// keep per-attachment state (an index's cached ready flag), so an instance built for a
    /// dropped extension must never serve one re-created under the same name and config.
    pub incarnation: u64,
}

impl CollectionMeta {
    /// Encodes the metadata for `sys.catalog`.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let extensions = self
            .extensions
            .iter()
            .map(ExtensionSpec::to_value)
            .collect();
        let mut obj = Object::new();
        obj.insert("id".to_string(), Value::Int(i64::from(self.id)));
        obj.insert("name".to_string(), Value::String(self.name.clone()));
        obj.insert("created_at".to_string(), Value::DateTime(self.created_at));
        obj.insert("extensions".to_string(), Value::Array(extensions));
        if !self.routing {
            // Absent means on (entries from before the option), so routed entries keep
            // exactly their old bytes.
            obj.insert("routing".to_string(), Value::Bool(false));
        }
        let mut out = Vec::new();
        cairn_doc::encode_document(&Value::Object(obj), &mut out)?;
        Ok(out)
    }

    /// Decodes metadata read from `sys.catalog`.
    pub fn decode(bytes: &[u8]) -> Result<CollectionMeta> {
        let corrupt = |detail: &str| EngineError::corrupt(CATALOG_TABLE, detail);
        let value = cairn_doc::decode_document(bytes)
            .map_err(|err| EngineError::corrupt(CATALOG_TABLE, err))?;
        let obj = value.as_object().ok_or_else(|| corrupt("not an object"))?;
        let id = match obj.get("id") {
            Some(Value::Int(id)) => u32::try_from(*id).map_err(|_| corrupt("id out of range"))?,
            _ => return Err(corrupt("missing id")),
        };
        let name = match obj.get("name") {
            Some(Value::String(name)) => name.clone(),
            _ => return Err(corrupt("missing name")),
        };
        let created_at = match obj.get("created_at") {
            Some(Value::DateTime(at)) => *at,
            _ => return Err(corrupt("missing created_at")),
        };
        let mut extensions = Vec::new();
        if let Some(Value::Array(items)) = obj.get("extensions") {
            for item in items {
                extensions
                    .push(ExtensionSpec::from_value(item).ok_or_else(|| corrupt("bad extension"))?);
            }
        }
        let routing = match obj.get("routing") {
            None => true,
            Some(Value::Bool(routing)) => *routing,
            Some(_) => return Err(corrupt("routing is not a boolean")),
        };
        Ok(CollectionMeta {
            id,
            name,
            created_at,
            extensions,
            routing,
        })
    }
}

impl ExtensionSpec {
    /// The spec as a document `{kind, name, config[, incarnation]}`: its form in the catalog
    /// and in the change log's attach records.
    pub(crate) fn to_value(&self) -> Value {
        let mut obj = Object::new();
        obj.insert("kind".to_string(), Value::String(self.kind.clone()));
        obj.insert("name".to_string(), Value::String(self.name.clone()));
        obj.insert("config".to_string(), self.config.clone());
        if self.incarnation != 0 {
            // Stored as the same 64 bits, reinterpreted: Int is signed.
            obj.insert(
                "incarnation".to_string(),
                Value::Int(self.incarnation as i64),
            );
        }
        Value::Object(obj)
    }

    /// Reads [`ExtensionSpec::to_value`]'s form; `None` when it is not one.
    pub(crate) fn from_value(item: &Value) -> Option<ExtensionSpec> {
        let obj = item.as_object()?;
        let text = |key: &str| match obj.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        Some(ExtensionSpec {
            kind: text("kind")?,
            name: text("name")?,
            config: obj.get("config")?.clone(),
            incarnation: match obj.get("incarnation") {
                Some(Value::Int(n)) => *n as u64,
                None => 0,
                Some(_) => return None,
            },
        })
    }
}

/// Prefix of the collections Cairn's own components keep their data in (for example the
/// server's users and tokens in `_sys_users`). The engine stores them like any other collection,
/// so they are transactional, logged and backed up with the data; interfaces that serve
/// untrusted clients (the HTTP server, later pgwire) must refuse client access to every name
/// with this prefix. The embedded API and the local CLI are trusted and may read them.
pub const SYSTEM_COLLECTION_PREFIX: &str = "_sys_";

/// Whether `name` is reserved for Cairn's own components; see [`SYSTEM_COLLECTION_PREFIX`].
pub fn is_system_collection(name: &str) -> bool {
    name.starts_with(SYSTEM_COLLECTION_PREFIX)
}

/// Checks a collection (or extension) name: 1 to [`MAX_COLLECTION_NAME_BYTES`] bytes of ASCII
/// letters, digits, `_` and `-`, starting with a letter or `_`. Names appear in URLs, SQL and
/// file listings, where anything else needs quoting.
pub fn validate_name(name: &str) -> Result<()> {
    let invalid = |reason| EngineError::InvalidCollectionName {
        name: name.to_string(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid("name is empty"));
    }
    if name.len() > MAX_COLLECTION_NAME_BYTES {
        return Err(invalid("name is longer than 128 bytes"));
    }
    let first = name.as_bytes()[0];
    if !(first.is_ascii_alphabetic() || first == b'_') {
        return Err(invalid("name must start with a letter or `_`"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(invalid(
            "name may only contain ASCII letters, digits, `_` and `-`",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips() {
        let meta = CollectionMeta {
            id: 7,
            name: "patients".to_string(),
            created_at: DateTime::from_micros(1_700_000_000_000_000),
            extensions: vec![ExtensionSpec {
                kind: "index".to_string(),
                name: "by_age".to_string(),
                config: Value::Int(3),
                incarnation: u64::MAX - 1,
            }],
            routing: true,
        };
        let bytes = meta.encode().ok();
        let decoded = bytes.and_then(|b| CollectionMeta::decode(&b).ok());
        assert_eq!(decoded, Some(meta.clone()));
        let unrouted = CollectionMeta {
            routing: false,
            ..meta
        };
        let bytes = unrouted.encode().ok();
        let decoded = bytes.and_then(|b| CollectionMeta::decode(&b).ok());
        assert_eq!(decoded, Some(unrouted));
    }

    #[test]
    fn a_catalog_entry_without_the_routing_flag_is_routed() {
        // The form every catalog entry had before the option existed.
        let mut obj = Object::new();
        obj.insert("id".to_string(), Value::Int(3));
        obj.insert("name".to_string(), Value::String("old".to_string()));
        obj.insert(
            "created_at".to_string(),
            Value::DateTime(DateTime::from_micros(1)),
        );
        obj.insert("extensions".to_string(), Value::Array(Vec::new()));
        let mut bytes = Vec::new();
        assert!(cairn_doc::encode_document(&Value::Object(obj), &mut bytes).is_ok());
        let meta = CollectionMeta::decode(&bytes).ok();
        assert_eq!(meta.map(|m| m.routing), Some(true));
        let routed = CollectionMeta {
            id: 3,
            name: "old".to_string(),
            created_at: DateTime::from_micros(1),
            extensions: Vec::new(),
            routing: true,
        };
        // A routed entry keeps exactly the old bytes.
        assert_eq!(routed.encode().ok(), Some(bytes));
    }

    #[test]
    fn routing_defaults_to_on_for_user_collections_and_off_for_system_ones() {
        let default = CollectionOptions::default();
        assert!(default.routing_for("patients"));
        assert!(!default.routing_for("_sys_users"));
        assert!(CollectionOptions::with_routing(true).routing_for("_sys_users"));
        assert!(!CollectionOptions::with_routing(false).routing_for("patients"));
    }

    #[test]
    fn logged_options_read_back_and_absent_ones_mean_routing_on() {
        for routing in [true, false] {
            let logged = CollectionOptions::logged(routing);
            let options = CollectionOptions::from_logged(logged.as_ref());
            assert_eq!(options.routing, Some(routing));
        }
        assert_eq!(CollectionOptions::from_logged(None).routing, Some(true));
    }

    #[test]
    fn names_are_validated() {
        assert!(validate_name("patients").is_ok());
        assert!(validate_name("_x-1").is_ok());
        for bad in ["", "1abc", "a b", "a.b", "é", &"x".repeat(129)] {
            assert!(validate_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn system_names_are_recognised_by_prefix() {
        assert!(is_system_collection("_sys_users"));
        assert!(!is_system_collection("_sysusers"));
        assert!(!is_system_collection("users"));
    }
}
