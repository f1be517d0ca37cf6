//! Which keyring opens which piece of an encrypted backup.
//!
//! Every piece records the id of the data key that sealed it. The folder's `keyring` holds the
//! database's current keys; when the database's data key was rotated and a new full backup
//! started a new chain in the same folder, the previous keyring was kept as `keyring.{id}`,
//! so the older pieces stay restorable (with the user key that wrapped them then).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cairn_storage::{unlock_keys, Cipher, KeySource, KEYRING_FILE_NAME};

use crate::backup::manifest::{Manifest, PieceInfo};
use crate::backup::take::archived_keyring_name;
use crate::error::{EngineError, Result};

/// The data keys of a backup folder, unwrapped on first use.
pub(crate) struct BackupKeys<'a> {
    dir: &'a Path,
    key: Option<&'a KeySource>,
    opened: BTreeMap<u32, Cipher>,
}

impl<'a> BackupKeys<'a> {
    /// Checks that a key is given exactly when the backup is encrypted.
    pub(crate) fn new(
        dir: &'a Path,
        manifest: &Manifest,
        key: Option<&'a KeySource>,
    ) -> Result<BackupKeys<'a>> {
        if manifest.encrypted != key.is_some() {
            return Err(EngineError::BackupKey {
                path: dir.to_path_buf(),
                encrypted: manifest.encrypted,
            });
        }
        Ok(BackupKeys {
            dir,
            key,
            opened: BTreeMap::new(),
        })
    }

    /// The cipher that opens `piece`; `None` for an unencrypted backup.
    pub(crate) fn for_piece(&mut self, piece: &PieceInfo) -> Result<Option<Cipher>> {
        let Some(key) = self.key else {
            return Ok(None);
        };
        if let Some(cipher) = self.opened.get(&piece.key_id) {
            return Ok(Some(cipher.clone()));
        }
        let (_, cipher) = self.keyring_for(piece.key_id, key)?;
        self.opened.insert(piece.key_id, cipher.clone());
        Ok(Some(cipher))
    }

    /// The keyring file that holds data key `id` (to give a restored database).
    pub(crate) fn keyring_file(&self, id: u32) -> Result<PathBuf> {
        match self.key {
            Some(key) => Ok(self.keyring_for(id, key)?.0),
            None => Ok(self.dir.join(KEYRING_FILE_NAME)),
        }
    }

    fn keyring_for(&self, id: u32, key: &KeySource) -> Result<(PathBuf, Cipher)> {
        let current = self.dir.join(KEYRING_FILE_NAME);
        let archived = self.dir.join(archived_keyring_name(id));
        let first = unlock_keys(&current, key);
        if let Ok(Some(cipher)) = first.as_ref().map(|keys| keys.get(id)) {
            return Ok((current, cipher));
        }
        if archived.exists() {
            if let Some(cipher) = unlock_keys(&archived, key)?.get(id) {
                return Ok((archived, cipher));
            }
        }
        first?;
        Err(EngineError::BackupCorrupt {
            path: self.dir.to_path_buf(),
            detail: format!("no keyring in the folder holds data key {id}, which sealed a piece"),
        })
    }
}
