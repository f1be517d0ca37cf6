//! Time-series collections: their options, the extension kind that marks a collection as
//! one, and creation.
//!
//! A time-series collection is an ordinary collection with an extension of kind [`KIND`]
//! attached under the name [`EXTENSION_NAME`]; its configuration holds the
//! [`SeriesOptions`]. Points are not documents: they live in the extension's private tables
//! (see `layout.rs`), so they commit atomically with whatever else the transaction writes and
//! are dropped with the collection. The extension refuses ordinary document writes into the
//! collection, so no point can exist outside the chunks.

use std::sync::Arc;

use cairn_doc::{Object, Value};
use cairn_engine::{DocChange, EngineError, Extension, ExtensionKind, ExtensionTxn, Transaction};

use crate::error::{Result, TsError};
use crate::layout::{CHUNKS_TABLE, LAST_TABLE, SERIES_TABLE};

/// The extension kind's registered name.
pub const KIND: &str = "timeseries";
/// The name the time-series extension is attached under on its collection.
pub const EXTENSION_NAME: &str = "timeseries";

/// The chunk span used when a caller names none: one day in microseconds (the unit of a
/// `DateTime` time field). Chunks also stop at `MAX_POINTS_PER_CHUNK` points, so a span far
/// wider than the data's unit only makes retention coarser, never chunks larger.
pub const DEFAULT_CHUNK_SPAN: i64 = 86_400_000_000;

/// How a time-series collection is laid out. Times and durations share one unit: an `Int`
/// time field is taken as is; a `DateTime` time field is taken in microseconds since the Unix
/// epoch (its own resolution), so durations are then microseconds too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesOptions {
    /// The field holding a point's time.
    pub time_field: String,
    /// The field whose value names the series (the series key).
    pub meta_field: String,
    /// The time span one chunk covers at most: chunks never cross a multiple of it, so
    /// retention drops whole chunks and a range read visits only the spans it overlaps.
    pub chunk_span: i64,
    /// Points older than this (relative to the `now` given to [`crate::expire`]) are dropped,
    /// whole chunks at a time; `None` keeps everything.
    pub expire_after: Option<i64>,
}

impl SeriesOptions {
    /// Options with the given fields, a chunk span and no expiry.
    pub fn new(time_field: &str, meta_field: &str, chunk_span: i64) -> SeriesOptions {
        SeriesOptions {
            time_field: time_field.to_string(),
            meta_field: meta_field.to_string(),
            chunk_span,
            expire_after: None,
        }
    }

    fn validate(&self) -> Result<()> {
        let invalid = |reason: &str| {
            Err(TsError::InvalidOptions {
                reason: reason.to_string(),
            })
        };
        if self.time_field.is_empty() || self.meta_field.is_empty() {
            return invalid("time_field and meta_field must be named");
        }
        if self.time_field == self.meta_field {
            return invalid("time_field and meta_field must differ");
        }
        if self.chunk_span <= 0 {
            return invalid("chunk_span must be positive");
        }
        if self.expire_after.is_some_and(|e| e <= 0) {
            return invalid("expire_after must be positive");
        }
        Ok(())
    }

    /// The stored configuration.
    pub fn to_config(&self) -> Value {
        let mut object = Object::new();
        object.insert("time_field", Value::String(self.time_field.clone()));
        object.insert("meta_field", Value::String(self.meta_field.clone()));
        object.insert("chunk_span", Value::Int(self.chunk_span));
        if let Some(expire) = self.expire_after {
            object.insert("expire_after", Value::Int(expire));
        }
        Value::Object(object)
    }

    /// Reads a stored configuration.
    pub fn from_config(config: &Value) -> Result<SeriesOptions> {
        let invalid = |reason: &str| TsError::InvalidOptions {
            reason: reason.to_string(),
        };
        let Value::Object(object) = config else {
            return Err(invalid("configuration is not an object"));
        };
        let text = |name: &str| match object.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => Err(invalid("a field name is missing")),
        };
        let options = SeriesOptions {
            time_field: text("time_field")?,
            meta_field: text("meta_field")?,
            chunk_span: match object.get("chunk_span") {
                Some(Value::Int(v)) => *v,
                _ => return Err(invalid("chunk_span is missing")),
            },
            expire_after: match object.get("expire_after") {
                Some(Value::Int(v)) => Some(*v),
                None | Some(Value::Null) => None,
                _ => return Err(invalid("expire_after is not an integer")),
            },
        };
        options.validate()?;
        Ok(options)
    }
}

/// Creates a time-series collection `name` in `txn`.
pub fn create(txn: &mut Transaction, name: &str, options: &SeriesOptions) -> Result<()> {
    options.validate()?;
    txn.create_collection(name)?;
    txn.attach_extension(name, KIND, EXTENSION_NAME, options.to_config())?;
    Ok(())
}

/// The options of time-series collection `collection`, or [`TsError::NotTimeSeries`].
pub fn options(txn: &mut Transaction, collection: &str) -> Result<SeriesOptions> {
    let meta = txn.collection_meta(collection)?;
    let spec = meta
        .extensions
        .iter()
        .find(|spec| spec.kind == KIND && spec.name == EXTENSION_NAME)
        .ok_or_else(|| TsError::NotTimeSeries {
            collection: collection.to_string(),
        })?;
    SeriesOptions::from_config(&spec.config)
}

/// The extension kind to register when opening a database (the facade does).
pub struct TimeSeriesExtensionKind;

impl ExtensionKind for TimeSeriesExtensionKind {
    fn kind(&self) -> &str {
        KIND
    }

    fn instantiate(
        &self,
        _collection: &str,
        _name: &str,
        config: &Value,
    ) -> cairn_engine::Result<Arc<dyn Extension>> {
        SeriesOptions::from_config(config)?;
        Ok(Arc::new(TimeSeriesExtension))
    }
}

/// Marks a collection as time series and keeps documents out of it.
struct TimeSeriesExtension;

impl Extension for TimeSeriesExtension {
    /// Every table: points (and the series ids and latest points kept with them) are written
    /// only through the time-series API, never derived from documents, so the change log must
    /// carry them for incremental backups, point-in-time restores and change streams.
    fn primary_tables(&self) -> &[&'static str] {
        &[SERIES_TABLE, CHUNKS_TABLE, LAST_TABLE]
    }

    fn on_write(
        &self,
        txn: &mut ExtensionTxn<'_>,
        change: &DocChange<'_>,
    ) -> cairn_engine::Result<()> {
        if change.new.is_none() {
            return Ok(());
        }
        Err(EngineError::ExtensionRejected {
            collection: txn.collection().to_string(),
            extension: EXTENSION_NAME.to_string(),
            message: "a time-series collection stores points, not documents: write them \
                      through the time-series API (cairn_timeseries::append)"
                .to_string(),
        })
    }
}
