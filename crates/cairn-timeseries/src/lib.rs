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

pub mod chunk;
pub mod codec;
mod error;
pub mod limits;
mod sample;

pub use error::{Result, TsError};
pub use sample::{Point, Sample};
