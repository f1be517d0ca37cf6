//! Cairn's time-series model: collections of points stored as compressed column chunks.
//!
//! A time-series collection holds *series*; a series is named by the value of the
//! collection's meta field (a sensor id, or `{"entity": 7, "measure": "pressure"}`), and its
//! points (a time and named values) are stored in chunks of at most
//! [`limits::MAX_POINTS_PER_CHUNK`] points covering one time span each, column by column,
//! with lossless codecs (see [`codec`] and [`chunk`]).
//!
//! Start at [`create`] and [`append`]; read with [`read_range`], [`downsample`], [`latest`]
//! and [`trajectory`].

mod change;
pub mod chunk;
pub mod codec;
mod collection;
mod downsample;
mod error;
mod layout;
pub mod limits;
mod read;
mod sample;
mod verify;
mod write;

pub use change::describe_write;
pub use collection::{
    create, options, SeriesOptions, TimeSeriesExtensionKind, DEFAULT_CHUNK_SPAN, EXTENSION_NAME,
    KIND,
};
pub use downsample::{
    aggregate, bucket_start, downsample, downsample_all, downsample_points, Aggregate, Bucket,
    Downsample, Fill,
};
pub use error::{Result, TsError};
pub use limits::MAX_REPORTED_PROBLEMS;
pub use read::{
    interpolate, interpolate_path, latest, latest_of, read_range, scan_points, trajectory,
    PointVisitor, ReadStats, ScanStats,
};
pub use sample::{Point, Sample};
pub use verify::{verify, VerifyReport};
pub use write::{append, delete_points, delete_range, expire, insert_documents};
