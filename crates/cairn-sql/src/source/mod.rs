//! External sources: PostgreSQL databases, SQLite files and CSV/JSON files queried in the
//! same SQL statement as Cairn's collections (Parquet is a known kind, refused for now: see
//! [`files`]).
//!
//! * [`SourceDef`]: a source's name, kind and URL, checked when defined; stored as a document
//!   of the reserved collection [`SOURCES`], so an encrypted database keeps its credentials
//!   encrypted. [`redact_url`] is the one way a URL is shown: a password never is.
//! * [`SourceRegistry`]: the definitions a process uses, each source's health
//!   ([`health`]) and how many rows it sent ([`SourceRegistry::rows_transferred`]).
//! * [`catalog`]: each source one DataFusion catalog, its tables `source.schema.table`;
//!   [`remote`]: the table provider of PostgreSQL and SQLite tables, which renders the filters,
//!   projection and limit it is given back to SQL (datafusion-sql's `Unparser`) and sends that
//!   statement, shown in `EXPLAIN`; [`files`]: DataFusion's listing tables for files;
//!   [`listing`]: the sources' tables with their columns in Cairn's catalog.

pub mod catalog;
mod error;
pub mod files;
pub mod health;
pub mod listing;
pub mod postgres;
pub mod remote;
pub mod sqlite;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cairn::{Database, DocId, EngineError, Value};
use parking_lot::Mutex;

pub use error::SourceError;
pub use health::Health;

use crate::limits::{MAX_SOURCES, MAX_SOURCE_NAME_BYTES, MAX_SOURCE_URL_BYTES};

/// The reserved collection holding source definitions (`{"_id": name, "kind", "url"}`).
pub const SOURCES: &str = "_sys_sources";

/// Names a source may not take: they are catalogs already.
const RESERVED_NAMES: &[&str] = &[crate::catalog::CATALOG, "datafusion", "information_schema"];

/// What a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKind {
    /// A PostgreSQL database (`postgres://user:password@host:port/db`).
    Postgres,
    /// A SQLite database file.
    Sqlite,
    /// A CSV file, or a folder of them read as one table.
    Csv,
    /// A Parquet file, or a folder of them read as one table (refused for now: see [`files`]).
    Parquet,
    /// A newline-delimited JSON file, or a folder of them read as one table.
    Json,
}

impl SourceKind {
    /// Every kind, in the order help texts list them.
    pub const ALL: [SourceKind; 5] = [
        SourceKind::Postgres,
        SourceKind::Sqlite,
        SourceKind::Csv,
        SourceKind::Parquet,
        SourceKind::Json,
    ];

    /// The kind's name (`--kind`).
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Postgres => "postgres",
            SourceKind::Sqlite => "sqlite",
            SourceKind::Csv => "csv",
            SourceKind::Parquet => "parquet",
            SourceKind::Json => "json",
        }
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Result<SourceKind, SourceError> {
        SourceKind::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| SourceError::UnknownKind {
                kind: name.to_string(),
            })
    }

    /// Whether the source is files on this machine.
    pub fn is_file(self) -> bool {
        matches!(
            self,
            SourceKind::Csv | SourceKind::Parquet | SourceKind::Json
        )
    }
}

/// A source's definition.
#[derive(Clone, PartialEq, Eq)]
pub struct SourceDef {
    /// The name: its catalog in SQL.
    pub name: String,
    /// What it is.
    pub kind: SourceKind,
    /// Where it is (may hold a password: print [`SourceDef::redacted_url`] only).
    pub url: String,
}

impl std::fmt::Debug for SourceDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceDef")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &self.redacted_url())
            .finish()
    }
}

impl SourceDef {
    /// A checked definition: a valid name, and a URL that fits the kind.
    pub fn new(name: &str, kind: SourceKind, url: &str) -> Result<SourceDef, SourceError> {
        check_name(name)?;
        if kind == SourceKind::Parquet {
            return Err(SourceError::UnsupportedKind {
                kind: kind.name().to_string(),
                reason: files::PARQUET_UNSUPPORTED,
            });
        }
        let def = SourceDef {
            name: name.to_string(),
            kind,
            url: url.to_string(),
        };
        def.check_url()?;
        Ok(def)
    }

    /// The URL with its password replaced by `***`.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    /// `text` with this source's password (if any) replaced by `***`: for messages that
    /// came from a driver, which might quote what it was given.
    pub fn redact(&self, text: &str) -> String {
        let mut secrets: Vec<String> = password_of(&self.url)
            .into_iter()
            .map(String::from)
            .collect();
        if let Some((_, query)) = self.url.split_once('?') {
            secrets.extend(
                query
                    .split('&')
                    .filter_map(|pair| match pair.split_once('=') {
                        Some((key, value)) if key.eq_ignore_ascii_case("password") => {
                            Some(value.to_string())
                        }
                        _ => None,
                    }),
            );
        }
        let decoded: Vec<String> = secrets.iter().map(|s| percent_decode(s)).collect();
        secrets.extend(decoded);
        let mut out = text.to_string();
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            out = out.replace(secret.as_str(), "***");
        }
        out
    }

    /// The error "this source is unavailable because `err`" (with the errors it wraps:
    /// a driver's "error connecting to server" says little without "connection refused"),
    /// redacted.
    pub fn unavailable(&self, err: impl std::fmt::Display) -> SourceError {
        SourceError::Unavailable {
            name: self.name.clone(),
            reason: self.redact(&err.to_string()),
        }
    }

    /// [`SourceDef::unavailable`] for an error with a chain of causes.
    pub fn unavailable_chain(&self, err: &dyn std::error::Error) -> SourceError {
        let mut reason = err.to_string();
        let mut cause = err.source();
        while let Some(inner) = cause {
            let text = inner.to_string();
            if !reason.contains(&text) {
                reason.push_str(": ");
                reason.push_str(&text);
            }
            cause = inner.source();
        }
        self.unavailable(reason)
    }

    /// The OpenLineage identity (namespace, name) of the source's table `schema.table`,
    /// following OpenLineage's naming: PostgreSQL `postgres://host:port` and
    /// `database.schema.table`; a SQLite table `sqlite://path` and the table; a file or
    /// folder `file` and its path. Never a user name or password.
    pub fn openlineage_dataset(&self, schema: &str, table: &str) -> (String, String) {
        match self.kind {
            SourceKind::Postgres => {
                let config = self.url.parse::<tokio_postgres::Config>().ok();
                let host = config
                    .as_ref()
                    .and_then(|c| c.get_hosts().first().cloned())
                    .map(|host| match host {
                        tokio_postgres::config::Host::Tcp(name) => name,
                        #[cfg(unix)]
                        tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
                    })
                    .unwrap_or_else(|| "localhost".to_string());
                let port = config
                    .as_ref()
                    .and_then(|c| c.get_ports().first().copied())
                    .unwrap_or(5432);
                let database = config
                    .as_ref()
                    .and_then(|c| c.get_dbname().map(str::to_string))
                    .unwrap_or_else(|| "postgres".to_string());
                (
                    format!("postgres://{host}:{port}"),
                    format!("{database}.{schema}.{table}"),
                )
            }
            SourceKind::Sqlite => (format!("sqlite://{}", self.path()), table.to_string()),
            SourceKind::Csv | SourceKind::Parquet | SourceKind::Json => {
                ("file".to_string(), self.path().to_string())
            }
        }
    }

    fn invalid_url(&self, reason: impl Into<String>) -> SourceError {
        SourceError::InvalidUrl {
            name: self.name.clone(),
            kind: self.kind.name().to_string(),
            url: self.redacted_url(),
            reason: reason.into(),
        }
    }

    fn check_url(&self) -> Result<(), SourceError> {
        if self.url.len() > MAX_SOURCE_URL_BYTES {
            return Err(self.invalid_url(format!("longer than {MAX_SOURCE_URL_BYTES} bytes")));
        }
        if self.url.chars().any(char::is_control) {
            return Err(self.invalid_url("contains control characters"));
        }
        match self.kind {
            SourceKind::Postgres => {
                let rest = self
                    .url
                    .strip_prefix("postgres://")
                    .or_else(|| self.url.strip_prefix("postgresql://"))
                    .ok_or_else(|| {
                        self.invalid_url("expected postgres://user:password@host:port/database")
                    })?;
                let authority = rest.split(['/', '?']).next().unwrap_or_default();
                let host = authority.rsplit('@').next().unwrap_or_default();
                if host.is_empty() {
                    return Err(self.invalid_url("no host"));
                }
                self.url
                    .parse::<tokio_postgres::Config>()
                    .map_err(|err| self.invalid_url(self.redact(&err.to_string())))?;
                Ok(())
            }
            SourceKind::Sqlite | SourceKind::Csv | SourceKind::Parquet | SourceKind::Json => {
                let path = self.path();
                if path.is_empty() {
                    return Err(self.invalid_url("expected a file path (or file:///path)"));
                }
                if self.url.contains("://")
                    && !self.url.starts_with("file://")
                    && !self.url.starts_with("sqlite://")
                {
                    return Err(self
                        .invalid_url("only local files are supported (a path, or file:///path)"));
                }
                if !std::path::Path::new(path).is_absolute() {
                    return Err(self.invalid_url(
                        "the path must be absolute (a server resolves it, not the client)",
                    ));
                }
                Ok(())
            }
        }
    }

    /// The local path of a file or SQLite source (its URL without `file://`/`sqlite://`).
    pub fn path(&self) -> &str {
        self.url
            .strip_prefix("file://")
            .or_else(|| self.url.strip_prefix("sqlite://"))
            .or_else(|| self.url.strip_prefix("sqlite:"))
            .unwrap_or(&self.url)
    }

    fn to_value(&self) -> Value {
        let mut object = cairn::Object::new();
        object.insert("_id", Value::String(self.name.clone()));
        object.insert("kind", Value::String(self.kind.name().to_string()));
        object.insert("url", Value::String(self.url.clone()));
        Value::Object(object)
    }

    fn from_value(value: &Value) -> Option<SourceDef> {
        let object = value.as_object()?;
        let text = |key: &str| match object.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        Some(SourceDef {
            name: text("_id")?,
            kind: SourceKind::parse(&text("kind")?).ok()?,
            url: text("url")?,
        })
    }
}

/// Checks a source name: it is an SQL catalog name, so lower-case letters, digits and `_`,
/// starting with a letter (an unquoted identifier means the same name), and none of the
/// catalogs that exist already.
pub fn check_name(name: &str) -> Result<(), SourceError> {
    let invalid = |reason| SourceError::InvalidName {
        name: name.to_string(),
        reason,
    };
    if name.is_empty() || name.len() > MAX_SOURCE_NAME_BYTES {
        return Err(invalid("must be 1 to 63 bytes"));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase())
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(invalid(
            "use lower-case letters, digits and `_`, starting with a letter",
        ));
    }
    if RESERVED_NAMES.contains(&name) {
        return Err(invalid("reserved (an existing catalog)"));
    }
    Ok(())
}

/// Where the password of a URL's `user:password@` part is (a byte range of `url`), if any.
fn password_range(url: &str) -> Option<std::ops::Range<usize>> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let userinfo_len = rest[..authority_len].rfind('@')?;
    let colon = rest[..userinfo_len].find(':')?;
    Some(start + colon + 1..start + userinfo_len)
}

/// `text` with `%XX` escapes decoded (what a driver sees of a password in a URL).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The password of a URL's `user:password@` part, if any.
fn password_of(url: &str) -> Option<&str> {
    password_range(url).map(|range| &url[range])
}

/// `url` with the password of its `user:password@` part, and any `password=` query
/// parameter, replaced by `***`: the only form in which a source's URL is ever shown.
pub fn redact_url(url: &str) -> String {
    let mut out = match password_range(url) {
        Some(range) => format!("{}***{}", &url[..range.start], &url[range.end..]),
        None => url.to_string(),
    };
    if let Some(query_start) = out.find('?') {
        let (head, query) = out.split_at(query_start + 1);
        let redacted: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out = format!("{head}{}", redacted.join("&"));
    }
    out
}

/// The definitions stored in `db`, in name order.
pub fn list(db: &Database) -> Result<Vec<SourceDef>, SourceError> {
    let mut defs = Vec::new();
    match db.for_each(SOURCES, |_, value| {
        if let Some(def) = SourceDef::from_value(value) {
            defs.push(def);
        }
        true
    }) {
        Ok(()) => {}
        Err(EngineError::UnknownCollection { .. }) => return Ok(Vec::new()),
        Err(err) => return Err(err.into()),
    }
    defs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(defs)
}

/// Stores a new definition; refuses a name in use.
pub fn add(db: &Database, def: &SourceDef) -> Result<(), SourceError> {
    match db.create_collection(SOURCES) {
        Ok(_) | Err(EngineError::CollectionExists { .. }) => {}
        Err(err) => return Err(err.into()),
    }
    if list(db)?.len() >= MAX_SOURCES {
        return Err(SourceError::TooMany { limit: MAX_SOURCES });
    }
    match db.insert(SOURCES, def.to_value()) {
        Ok(_) => {}
        Err(EngineError::DuplicateId { .. }) => {
            return Err(SourceError::Exists {
                name: def.name.clone(),
            })
        }
        Err(err) => return Err(err.into()),
    }
    // A definition is acknowledged only once durable, whatever the storage mode.
    Ok(db.flush()?)
}

/// Removes a definition; an unknown name is an error.
pub fn remove(db: &Database, name: &str) -> Result<(), SourceError> {
    let unknown = || SourceError::Unknown {
        name: name.to_string(),
    };
    match db.delete(SOURCES, &DocId::String(name.to_string())) {
        Ok(true) => Ok(db.flush()?),
        Ok(false) | Err(EngineError::UnknownCollection { .. }) => Err(unknown()),
        Err(err) => Err(err.into()),
    }
}

/// What a process knows of its database's sources: their definitions (re-read from the
/// database on [`SourceRegistry::refresh`]), each one's last health check, and the rows each
/// has sent. One registry is shared by every SQL session of a server, so health checks
/// run once per source, not once per session.
pub struct SourceRegistry {
    db: Database,
    state: Mutex<BTreeMap<String, Arc<SourceHandle>>>,
}

impl std::fmt::Debug for SourceRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceRegistry")
            .field("sources", &self.state.lock().keys().collect::<Vec<_>>())
            .finish()
    }
}

/// One source as a registry holds it.
pub struct SourceHandle {
    /// Its definition.
    pub def: SourceDef,
    /// Its last health check (`None` before the first).
    pub health: Mutex<Option<Health>>,
    /// Rows received from it since the process started (or the counter was reset).
    pub rows: AtomicU64,
    /// Its open PostgreSQL connection, reused across statements.
    pub(crate) client: tokio::sync::Mutex<Option<Arc<tokio_postgres::Client>>>,
}

impl std::fmt::Debug for SourceHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceHandle")
            .field("def", &self.def)
            .finish()
    }
}

impl SourceHandle {
    fn new(def: SourceDef) -> SourceHandle {
        SourceHandle {
            def,
            health: Mutex::new(None),
            rows: AtomicU64::new(0),
            client: tokio::sync::Mutex::new(None),
        }
    }

    /// Counts rows received from the source.
    pub(crate) fn count_rows(&self, rows: usize) {
        self.rows.fetch_add(rows as u64, Ordering::Relaxed);
    }
}

impl SourceRegistry {
    /// The registry of `db`'s sources, definitions read now.
    pub fn open(db: Database) -> Result<Arc<SourceRegistry>, SourceError> {
        let registry = Arc::new(SourceRegistry {
            db,
            state: Mutex::new(BTreeMap::new()),
        });
        registry.refresh()?;
        Ok(registry)
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Re-reads the definitions (after another process or route changed them): new sources
    /// appear, removed ones go; a source whose definition is unchanged keeps its health,
    /// counters and connection.
    pub fn refresh(&self) -> Result<(), SourceError> {
        let defs = list(&self.db)?;
        let mut state = self.state.lock();
        state.retain(|name, handle| defs.iter().any(|d| &d.name == name && *d == handle.def));
        for def in defs {
            state
                .entry(def.name.clone())
                .or_insert_with(|| Arc::new(SourceHandle::new(def)));
        }
        Ok(())
    }

    /// Defines a source (stored in the database) and registers it.
    pub fn add(&self, def: SourceDef) -> Result<(), SourceError> {
        add(&self.db, &def)?;
        self.refresh()
    }

    /// Removes a source.
    pub fn remove(&self, name: &str) -> Result<(), SourceError> {
        remove(&self.db, name)?;
        self.refresh()
    }

    /// Every source, in name order.
    pub fn handles(&self) -> Vec<Arc<SourceHandle>> {
        self.state.lock().values().cloned().collect()
    }

    /// The source named `name`.
    pub fn handle(&self, name: &str) -> Option<Arc<SourceHandle>> {
        self.state.lock().get(name).cloned()
    }

    /// Rows the source `name` has sent (0 for an unknown one): a test compares it with the
    /// rows a filter matches, to see that the filter ran at the source.
    pub fn rows_transferred(&self, name: &str) -> u64 {
        self.handle(name)
            .map_or(0, |handle| handle.rows.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_survive_redaction() {
        assert_eq!(
            redact_url("postgres://alice:s3cr%40t@db:5432/x"),
            "postgres://alice:***@db:5432/x"
        );
        assert_eq!(
            redact_url("postgres://u@h/x?password=hunter2&sslmode=off"),
            "postgres://u@h/x?password=***&sslmode=off"
        );
        assert_eq!(redact_url("/data/file.csv"), "/data/file.csv");
        assert_eq!(redact_url("postgres://ana:a@h/d"), "postgres://ana:***@h/d");
        assert_eq!(redact_url("postgres://p:w@d@h/d"), "postgres://p:***@h/d");
        let def = SourceDef::new("pg", SourceKind::Postgres, "postgres://a:pw@h/d").unwrap();
        assert!(!format!("{def:?}").contains("pw@"));
        assert_eq!(def.redact("failed for a:pw"), "failed for a:***");
        let def = SourceDef::new(
            "pg",
            SourceKind::Postgres,
            "postgres://a:s%40t@h/d?password=q1",
        )
        .unwrap();
        assert_eq!(def.redact("s%40t s@t q1"), "*** *** ***");
    }

    #[test]
    fn definitions_are_checked() {
        let err = SourceKind::parse("mysql").unwrap_err();
        assert!(err.to_string().contains("mysql"));
        let err = SourceDef::new("pg", SourceKind::Postgres, "mysql://a:pw@h/d").unwrap_err();
        assert!(matches!(err, SourceError::InvalidUrl { .. }));
        assert!(!err.to_string().contains("pw"));
        assert!(SourceDef::new("Pg", SourceKind::Postgres, "postgres://h/d").is_err());
        assert!(SourceDef::new("cairn", SourceKind::Postgres, "postgres://h/d").is_err());
        assert!(SourceDef::new("f", SourceKind::Csv, "relative.csv").is_err());
        assert!(SourceDef::new("f", SourceKind::Csv, "/abs/x.csv").is_ok());
        let err = SourceDef::new("f", SourceKind::Parquet, "/abs/x.parquet").unwrap_err();
        assert!(matches!(err, SourceError::UnsupportedKind { .. }), "{err}");
    }
}
