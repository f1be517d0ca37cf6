//! Online backups (full and incremental), verification, and restore to a point in time.
//!
//! * `piece.rs`: one backup file — chunks compressed with zstd, sealed with the database's
//!   data key when it is encrypted, checksummed with SHA-256.
//! * `manifest.rs`: the chain of pieces in a backup folder and their sequence ranges.
//! * `take.rs`: [`crate::Database::backup`], from one snapshot while writers continue.
//! * `restore.rs`: [`verify_backup`] and [`restore`].
//! * `replay.rs`: [`replay`], rebuilding a database or one collection from a live database's
//!   change log into a new folder, up to a point (the same commit replay as `restore.rs`).
//! * `keys.rs`: which keyring in the folder opens which piece (pieces name their data key, so
//!   a folder can hold chains from before and after a data-key rotation).

mod keys;
mod manifest;
mod piece;
mod replay;
mod restore;
mod take;

pub use crate::limits::MAX_FRAME_BYTES;
pub use manifest::{Manifest, PieceInfo, MANIFEST_FILE_NAME};
pub use piece::{PieceKind, CHUNK_BYTES};
pub use replay::{replay, ReplayReport};
pub use restore::{restore, verify_backup, RestoreReport, RestoreTarget};
pub use take::Progress;
