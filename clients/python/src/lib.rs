//! `cairn._cairn`: the native half of the Python package. It opens a Cairn database inside the
//! Python process (like `sqlite3`) and runs every call with the GIL released.
//!
//! The Python side (`python/cairn/`) owns the API users see; this module speaks JSON text
//! with it, in the server's request and response shapes, so the embedded and the HTTP
//! backend answer alike: same documents, same error codes (errors go through the server's
//! [`cairn_server::ApiError`] mapping and come out as `cairn.errors` classes).
//!
//! - [`database`]: `Database`, one open database and its single-call operations.
//! - [`transaction`]: `Transaction`, an open engine transaction driven one operation at a time.
//! - [`error`]: turning an `ApiError` into the matching Python exception.

use pyo3::prelude::*;

pub mod database;
pub mod error;
pub mod transaction;

/// The module Python imports as `cairn._cairn`.
#[pymodule]
fn _cairn(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<database::Database>()?;
    m.add_class::<transaction::Transaction>()?;
    Ok(())
}
