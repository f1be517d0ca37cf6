//! Errors cross into Python as instances of `cairn.errors` classes, chosen by Cairn's stable
//! error code; the mapping from engine errors to codes is the server's, so an embedded call
//! raises exactly what the same call over HTTP raises.

use cairn_server::ApiError;
use pyo3::prelude::*;

/// A failed call: what the Python side raises, as the server would have answered it.
pub type CallResult<T> = Result<T, ApiError>;

/// The Python exception for `err`: `cairn.errors.error_from(code, message, details, status)`
/// builds the class registered for the code (or the base `CairnError` for a new code).
pub fn to_py_err(py: Python<'_>, err: ApiError) -> PyErr {
    let details = err.details.as_ref().map(|d| d.to_string());
    let built = py.import("cairn.errors").and_then(|module| {
        module.getattr("error_from")?.call1((
            err.code,
            err.message.as_str(),
            details,
            err.status.as_u16(),
        ))
    });
    match built {
        Ok(exception) => PyErr::from_value(exception),
        // The package's Python half is missing or broken: still say what failed.
        Err(import_failure) => import_failure,
    }
}
