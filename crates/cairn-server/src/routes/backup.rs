//! `POST /v1/admin/backup`: an online backup taken by the server itself, full or incremental,
//! while it keeps serving writes (the engine copies one consistent snapshot, or the change log
//! since the previous piece). `cairn backup --server URL` calls it; the offline `cairn backup`
//! cannot open a database the server holds.
//!
//! Where it writes: only under the configured backup root (`[backup] root`,
//! `--backup-root`). The request names a relative folder inside it; absolute paths, `..` and
//! symbolic links leading out of the root are refused, so an admin's HTTP credentials cannot
//! make the server write anywhere else on its machine. Admins only; one backup at a time.
//!
//! No request timeout applies: a backup takes as long as the data takes to copy, and a 408
//! while it went on writing would only invite a second one into the same folder.

use std::path::{Path, PathBuf};

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::api_error::ApiError;
use crate::auth::credentials::Credentials;
use crate::auth::Need;
use crate::body::JsonBody;
use crate::limits::MAX_BACKUP_DEST_BYTES;
use crate::openapi::ErrorResponses;
use crate::state::SharedState;

/// Body of `POST /v1/admin/backup`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupRequest {
    /// The backup folder, relative to the server's backup root (created if needed), e.g.
    /// `nightly` or `2026/12`. No absolute path, no `..`.
    #[schema(
        min_length = 1,
        max_length = 1024,
        pattern = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$"
    )]
    pub dest: String,
    /// Only the changes since the previous backup in the folder (409 `backup_failed` when it
    /// holds none, or the change log no longer reaches back to it).
    #[serde(default)]
    pub incremental: bool,
}

/// The piece a backup wrote.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupResult {
    /// The backup folder, relative to the backup root, as requested.
    pub dest: String,
    /// `full` or `incremental`.
    pub kind: String,
    /// The piece's file name in the folder.
    pub file: String,
    /// The piece holds the commits after this sequence number (0 for a full piece)...
    pub from_seq: u64,
    /// ...up to and including this one.
    pub to_seq: u64,
    /// Entries (documents and catalog records, or change records) in the piece.
    pub entries: u64,
    /// Size of the piece in bytes.
    pub bytes: u64,
    /// SHA-256 of the piece, hex (also in the folder's `manifest.json`).
    pub sha256: String,
}

/// Takes a backup into a folder under the server's backup root.
#[utoipa::path(post, operation_id = "backup", path = "/v1/admin/backup", tag = "system",
    request_body = BackupRequest,
    responses((status = 200, description = "The piece written", body = BackupResult), ErrorResponses))]
pub async fn backup(
    State(state): State<SharedState>,
    credentials: Credentials,
    JsonBody(request): JsonBody<BackupRequest>,
) -> Result<Json<BackupResult>, ApiError> {
    let root = state.backup_root.clone();
    let permits = state.backups.clone();
    let result = state
        .run(credentials, Need::Admin, move |db, _| {
            let root = root.ok_or_else(not_configured)?;
            let relative = check_dest(&request.dest)?;
            let _permit = permits.try_acquire_owned().map_err(|_| {
                ApiError::new(
                    StatusCode::CONFLICT,
                    "backup_in_progress",
                    "another backup is running; retry when it has finished",
                )
            })?;
            let dest = resolve(&root, &relative)?;
            let piece = db.backup(&dest, request.incremental, &mut |_, _| {})?;
            tracing::info!(dest = %dest.display(), kind = piece.kind.name(), to_seq = piece.to_seq, "backup taken");
            Ok(BackupResult {
                dest: request.dest,
                kind: piece.kind.name().to_string(),
                file: piece.file,
                from_seq: piece.from_seq,
                to_seq: piece.to_seq,
                entries: piece.entries,
                bytes: piece.bytes,
                sha256: piece.sha256,
            })
        })
        .await?;
    Ok(Json(result))
}

fn not_configured() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "backup_not_configured",
        "the server has no backup root; start it with --backup-root DIR (or [backup] root)",
    )
}

fn invalid_dest(dest: &str, reason: &str) -> ApiError {
    ApiError::bad_request(
        "invalid_request",
        format!("`dest` {dest:?}: {reason}; name a folder relative to the backup root"),
    )
    .with_details(json!({ "field": "dest" }))
}

/// `dest` as a relative path of plain names, as the OpenAPI pattern says: parts of ASCII
/// letters, digits, `_`, `.` and `-`, each starting with a letter, digit or `_` (so no `.`,
/// `..` or hidden names), separated by single `/`, nothing absolute.
fn check_dest(dest: &str) -> Result<PathBuf, ApiError> {
    if dest.is_empty() || dest.len() > MAX_BACKUP_DEST_BYTES {
        return Err(invalid_dest(
            dest,
            &format!("must be 1 to {MAX_BACKUP_DEST_BYTES} bytes"),
        ));
    }
    let plain = |part: &str| {
        let mut bytes = part.bytes();
        bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
            && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    };
    let mut relative = PathBuf::new();
    for part in dest.split('/') {
        if !plain(part) {
            return Err(invalid_dest(
                dest,
                "each part must be letters, digits, `_`, `.` or `-`, not starting with `.` or `-`, and nothing absolute",
            ));
        }
        relative.push(part);
    }
    Ok(relative)
}

/// Creates `root/relative` one folder at a time, checking after each that, symbolic links
/// followed, it is still inside the root (so nothing is created outside it either).
fn resolve(root: &Path, relative: &Path) -> Result<PathBuf, ApiError> {
    let io = |what: &str, path: &Path, err: std::io::Error| {
        ApiError::internal(format!("{what} {}: {err}", path.display()))
    };
    let root = root
        .canonicalize()
        .map_err(|err| io("opening the backup root", root, err))?;
    let mut current = root.clone();
    for part in relative.components() {
        current.push(part);
        match std::fs::create_dir(&current) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(err) => return Err(io("creating", &current, err)),
        }
        current = current
            .canonicalize()
            .map_err(|err| io("opening", &current, err))?;
        if !current.starts_with(&root) || !current.is_dir() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "the backup folder leads out of the backup root (a symbolic link) or is a file",
            ));
        }
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_folders_are_accepted() {
        for good in ["nightly", "2026/12", "a.b-c_d"] {
            assert_eq!(check_dest(good).unwrap(), PathBuf::from(good));
        }
        for bad in [
            "",
            "/etc",
            "../up",
            "a/../../b",
            "./a",
            "a//b",
            "a/",
            "a\\b",
            "a/./b",
        ] {
            let err = check_dest(bad).unwrap_err();
            assert_eq!(err.code, "invalid_request", "{bad}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_out_of_the_root_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("escape")).unwrap();
        let err = resolve(root.path(), Path::new("escape/x")).unwrap_err();
        assert_eq!(err.status, StatusCode::FORBIDDEN);
        assert!(
            !outside.path().join("x").exists(),
            "nothing is created outside"
        );
        let inside = resolve(root.path(), Path::new("ok/x")).unwrap();
        assert!(inside.starts_with(root.path().canonicalize().unwrap()));
    }
}
