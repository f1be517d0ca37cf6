//! The keyring: a small plaintext file beside an encrypted data file that holds what is needed
//! to turn the user's key into the data key — never the data key itself in the clear.
//!
//! ```text
//! [0..8)    magic "CAIRNKEY"
//! [8]       format version (2; version 1 is read too: one key, id 0, no count byte)
//! [9]       key derivation: 1 = argon2id over a passphrase, 2 = raw 256-bit key
//! [10..14)  argon2 memory cost, KiB (u32 LE)       ignored for raw keys
//! [14..18)  argon2 iterations (u32 LE)
//! [18..22)  argon2 parallelism (u32 LE)
//! [22..38)  salt (16 random bytes)
//! [38..42)  wrap generation (u32 LE), bumped by every rewrap
//! [42]      number of data keys n: 1, or 2 while a rotation re-encrypts the data file
//! [43..55)  nonce ┐
//! [55..)    n × (key id u32 LE ‖ data key 32), encrypted under the key-encryption key,
//!           │ bytes [0..43) authenticated; the last entry is the active key
//! [+16)     tag   ┘
//! ```
//! Unwrapping the data key is the key check: a wrong passphrase or key fails authentication
//! and is reported as [`StorageError::WrongKey`], never as corruption. Rewriting the file goes
//! through a temporary file and a rename, so a crash leaves the old or the new keyring, whole.

use std::io::Write;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::cipher::{
    random_bytes, Cipher, KeySource, KEY_BYTES, NONCE_BYTES, SEAL_OVERHEAD_BYTES, TAG_BYTES,
};
use crate::limits::{MAX_DATA_KEYS, MAX_DATA_KEY_ID};
use crate::{Result, StorageError};

/// Name of the keyring file inside an encrypted database (or backup) folder.
pub const KEYRING_FILE_NAME: &str = "keyring";

const MAGIC: &[u8; 8] = b"CAIRNKEY";
const FORMAT_VERSION: u8 = 2;
const FORMAT_VERSION_1: u8 = 1;
const KDF_ARGON2ID: u8 = 1;
const KDF_RAW: u8 = 2;
const SALT_BYTES: usize = 16;
const HEADER_V1_BYTES: usize = 42;
const HEADER_BYTES: usize = 43;
const FILE_V1_BYTES: usize = HEADER_V1_BYTES + NONCE_BYTES + KEY_BYTES + TAG_BYTES;
const ENTRY_BYTES: usize = 4 + KEY_BYTES;

/// argon2id memory cost: 64 MiB. Makes each passphrase guess cost real memory (the
/// RFC 9106 "second recommended" setting) while opening stays well under a second.
pub const ARGON2_MEMORY_KIB: u32 = 64 * 1024;
/// argon2id passes over memory: 3 (RFC 9106 second recommendation).
pub const ARGON2_ITERATIONS: u32 = 3;
/// argon2id lanes: 1, so the cost does not depend on how many cores the attacker has free.
pub const ARGON2_PARALLELISM: u32 = 1;
/// Upper bound accepted from a keyring file for the memory cost (1 GiB): a tampered keyring
/// must not make opening allocate without bound.
const ARGON2_MEMORY_KIB_MAX: u32 = 1024 * 1024;
/// Upper bound accepted for the iteration count, for the same reason.
const ARGON2_ITERATIONS_MAX: u32 = 64;

/// The keyring path inside a folder.
pub fn keyring_path(dir: &Path) -> PathBuf {
    dir.join(KEYRING_FILE_NAME)
}

/// Whether the folder holds an encrypted database (or backup).
pub fn is_encrypted(dir: &Path) -> bool {
    keyring_path(dir).exists()
}

/// Decoded keyring contents (still wrapped).
struct Keyring {
    /// The authenticated header (42 bytes for version 1, 43 for version 2).
    header: Vec<u8>,
    /// Nonce, encrypted entries, tag.
    wrapped: Vec<u8>,
    /// Whether this is a version-1 keyring: one raw key without an id.
    v1: bool,
}

/// The data keys of an encrypted database: the active one seals everything new; a second,
/// older one exists only while a rotation re-encrypts the data file.
#[derive(Clone)]
pub struct DataKeys {
    /// (id, key), oldest first; the last is active.
    keys: Vec<(u32, Zeroizing<[u8; KEY_BYTES]>)>,
}

impl std::fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<u32> = self.keys.iter().map(|(id, _)| *id).collect();
        f.debug_struct("DataKeys").field("ids", &ids).finish()
    }
}

impl DataKeys {
    /// The active key: its id and cipher.
    pub fn active(&self) -> (u32, Cipher) {
        let (id, key) = &self.keys[self.keys.len() - 1];
        (*id, Cipher::new(key))
    }

    /// The key being retired by an unfinished rotation, if any.
    pub fn retiring(&self) -> Option<(u32, Cipher)> {
        (self.keys.len() > 1).then(|| (self.keys[0].0, Cipher::new(&self.keys[0].1)))
    }

    /// The cipher of key `id`, if this keyring holds it.
    pub fn get(&self, id: u32) -> Option<Cipher> {
        self.keys
            .iter()
            .find(|(have, _)| *have == id)
            .map(|(_, key)| Cipher::new(key))
    }

    /// Keys given directly, oldest first (tests of the layers that use them).
    #[cfg(test)]
    pub(crate) fn fixed(keys: &[(u32, [u8; KEY_BYTES])]) -> DataKeys {
        DataKeys {
            keys: keys
                .iter()
                .map(|(id, key)| (*id, Zeroizing::new(*key)))
                .collect(),
        }
    }

    /// The ids held, oldest first.
    pub fn ids(&self) -> Vec<u32> {
        self.keys.iter().map(|(id, _)| *id).collect()
    }
}

impl Keyring {
    fn kdf(&self) -> u8 {
        self.header[9]
    }

    fn param(&self, at: usize) -> u32 {
        let mut bytes = [0u8; 4];
        bytes.copy_from_slice(&self.header[at..at + 4]);
        u32::from_le_bytes(bytes)
    }

    fn generation(&self) -> u32 {
        self.param(38)
    }
}

/// Creates a keyring for a new encrypted database with a fresh random data key (id 1);
/// returns the data keys.
pub(crate) fn create(dir: &Path, source: &KeySource) -> Result<DataKeys> {
    let keys = DataKeys {
        keys: vec![(1, Zeroizing::new(random_bytes::<KEY_BYTES>()?))],
    };
    write(&keyring_path(dir), source, &keys, 1)?;
    Ok(keys)
}

/// Unwraps the active data key of the keyring at `dir` with the user's key.
pub fn unlock(dir: &Path, source: &KeySource) -> Result<Cipher> {
    Ok(unlock_keys(&keyring_path(dir), source)?.active().1)
}

/// Unwraps every data key of the keyring file at `path` with the user's key.
pub fn unlock_keys(path: &Path, source: &KeySource) -> Result<DataKeys> {
    unwrap(path, source)
}

/// Changes the key that opens the database (or backup) at `dir`: the data keys are unwrapped
/// with `old` and wrapped again under `new` with a fresh salt. Safe while the database is
/// open (the keyring is read only when opening); the old key stops working at once. The data
/// itself stays sealed under the same data key — see `Store::rotate_data_key` for that.
pub fn rekey(dir: &Path, old: &KeySource, new: &KeySource) -> Result<()> {
    let path = keyring_path(dir);
    let generation = read(&path)?.generation();
    let keys = unwrap(&path, old)?;
    write(&path, new, &keys, generation.wrapping_add(1))
}

/// Starts (or, when one is unfinished, continues) a data-key rotation: adds a fresh random
/// data key as the active one, keeps the current one as retiring, and wraps both under `new`.
/// Returns the keys now in the keyring. Durable before it returns, so no block is ever sealed
/// under a key the keyring does not hold.
pub(crate) fn begin_rotation(dir: &Path, old: &KeySource, new: &KeySource) -> Result<DataKeys> {
    let path = keyring_path(dir);
    let generation = read(&path)?.generation();
    let mut keys = unwrap(&path, old)?;
    if keys.keys.len() < MAX_DATA_KEYS {
        let (active, _) = keys.active();
        if active >= MAX_DATA_KEY_ID {
            return Err(StorageError::Crypto {
                detail: format!("the data key was rotated {MAX_DATA_KEY_ID} times, the most a data file can record"),
            });
        }
        keys.keys
            .push((active + 1, Zeroizing::new(random_bytes::<KEY_BYTES>()?)));
    }
    write(&path, new, &keys, generation.wrapping_add(1))?;
    Ok(keys)
}

/// Ends a rotation: rewrites the keyring with the active data key only, so the retired key
/// is gone from the file (the rename replaces the file as a whole).
pub(crate) fn finish_rotation(dir: &Path, source: &KeySource) -> Result<DataKeys> {
    let path = keyring_path(dir);
    let generation = read(&path)?.generation();
    let mut keys = unwrap(&path, source)?;
    let last = keys.keys.len() - 1;
    keys.keys.drain(..last);
    write(&path, source, &keys, generation.wrapping_add(1))?;
    Ok(keys)
}

fn unwrap(path: &Path, source: &KeySource) -> Result<DataKeys> {
    let ring = read(path)?;
    let kek = key_encryption_key(&ring, source, path)?;
    let mut nonce = [0u8; NONCE_BYTES];
    nonce.copy_from_slice(&ring.wrapped[..NONCE_BYTES]);
    let body_end = ring.wrapped.len() - TAG_BYTES;
    let mut tag = [0u8; TAG_BYTES];
    tag.copy_from_slice(&ring.wrapped[body_end..]);
    let mut body = Zeroizing::new(ring.wrapped[NONCE_BYTES..body_end].to_vec());
    if !Cipher::new(&kek).open_in_place(&ring.header, &nonce, &tag, body.as_mut()) {
        return Err(StorageError::WrongKey {
            path: path.to_path_buf(),
        });
    }
    let mut keys = Vec::new();
    if ring.v1 {
        let mut key = Zeroizing::new([0u8; KEY_BYTES]);
        key.copy_from_slice(&body);
        // Version-1 blocks carry key id 0 (their slot heads were a plain generation).
        keys.push((0, key));
    } else {
        for entry in body.chunks_exact(ENTRY_BYTES) {
            let mut id = [0u8; 4];
            id.copy_from_slice(&entry[..4]);
            let mut key = Zeroizing::new([0u8; KEY_BYTES]);
            key.copy_from_slice(&entry[4..]);
            keys.push((u32::from_le_bytes(id), key));
        }
    }
    if keys.is_empty() || keys.iter().any(|(id, _)| *id > MAX_DATA_KEY_ID) {
        return Err(corrupt(path, "data-key list out of range"));
    }
    Ok(DataKeys { keys })
}

fn key_encryption_key(
    ring: &Keyring,
    source: &KeySource,
    path: &Path,
) -> Result<Zeroizing<[u8; KEY_BYTES]>> {
    let mismatch = |needed: &'static str| StorageError::KeyKindMismatch {
        path: path.to_path_buf(),
        needed,
    };
    match (ring.kdf(), source) {
        (KDF_RAW, KeySource::RawKey(key)) => Ok(key.clone()),
        (KDF_ARGON2ID, KeySource::Passphrase(text)) => {
            let memory = ring.param(10);
            let iterations = ring.param(14);
            let lanes = ring.param(18);
            if memory > ARGON2_MEMORY_KIB_MAX || iterations > ARGON2_ITERATIONS_MAX || lanes > 16 {
                return Err(corrupt(path, "key-derivation parameters out of range"));
            }
            derive(
                text.as_bytes(),
                &ring.header[22..22 + SALT_BYTES],
                [memory, iterations, lanes],
            )
            .map_err(|detail| corrupt(path, &detail))
        }
        // The wrong kind of key is reported like a wrong key, naming what is needed.
        (KDF_RAW, KeySource::Passphrase(_)) => Err(mismatch("a raw key file (--key-file)")),
        (KDF_ARGON2ID, KeySource::RawKey(_)) => Err(mismatch("a passphrase (CAIRN_PASSPHRASE)")),
        _ => Err(corrupt(path, "unknown key-derivation method")),
    }
}

fn derive(
    passphrase: &[u8],
    salt: &[u8],
    [memory, iterations, lanes]: [u32; 3],
) -> std::result::Result<Zeroizing<[u8; KEY_BYTES]>, String> {
    let params = argon2::Params::new(memory, iterations, lanes, Some(KEY_BYTES))
        .map_err(|err| err.to_string())?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; KEY_BYTES]);
    argon
        .hash_password_into(passphrase, salt, out.as_mut())
        .map_err(|err| err.to_string())?;
    Ok(out)
}

fn write(path: &Path, source: &KeySource, keys: &DataKeys, generation: u32) -> Result<()> {
    let mut header = [0u8; HEADER_BYTES];
    header[..8].copy_from_slice(MAGIC);
    header[8] = FORMAT_VERSION;
    let salt = random_bytes::<SALT_BYTES>()?;
    header[22..22 + SALT_BYTES].copy_from_slice(&salt);
    header[38..42].copy_from_slice(&generation.to_le_bytes());
    header[42] = keys.keys.len() as u8;
    let kek = match source {
        KeySource::RawKey(key) => {
            header[9] = KDF_RAW;
            key.clone()
        }
        KeySource::Passphrase(text) => {
            header[9] = KDF_ARGON2ID;
            let params = [ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_PARALLELISM];
            for (i, value) in params.iter().enumerate() {
                header[10 + 4 * i..14 + 4 * i].copy_from_slice(&value.to_le_bytes());
            }
            derive(text.as_bytes(), &salt, params).map_err(|detail| StorageError::Crypto {
                detail: format!("key derivation failed: {detail}"),
            })?
        }
    };
    let mut wrapped = Zeroizing::new(Vec::with_capacity(keys.keys.len() * ENTRY_BYTES));
    for (id, key) in &keys.keys {
        wrapped.extend_from_slice(&id.to_le_bytes());
        wrapped.extend_from_slice(key.as_ref());
    }
    let (nonce, tag) = Cipher::new(&kek).seal_in_place(&header, wrapped.as_mut())?;
    let mut file = Vec::with_capacity(HEADER_BYTES + SEAL_OVERHEAD_BYTES + wrapped.len());
    file.extend_from_slice(&header);
    file.extend_from_slice(&nonce);
    file.extend_from_slice(wrapped.as_ref());
    file.extend_from_slice(&tag);
    write_atomically(path, &file)
}

fn read(path: &Path) -> Result<Keyring> {
    let bytes = std::fs::read(path).map_err(|source| StorageError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if bytes.len() < HEADER_V1_BYTES || &bytes[..8] != MAGIC {
        return Err(corrupt(path, "not a Cairn keyring"));
    }
    let (header_bytes, v1) = match bytes[8] {
        FORMAT_VERSION_1 if bytes.len() == FILE_V1_BYTES => (HEADER_V1_BYTES, true),
        FORMAT_VERSION => {
            let count = bytes[42] as usize;
            let expected = HEADER_BYTES + SEAL_OVERHEAD_BYTES + count * ENTRY_BYTES;
            if !(1..=MAX_DATA_KEYS).contains(&count) || bytes.len() != expected {
                return Err(corrupt(path, "wrong length for its number of data keys"));
            }
            (HEADER_BYTES, false)
        }
        FORMAT_VERSION_1 => return Err(corrupt(path, "wrong length")),
        _ => return Err(corrupt(path, "unsupported keyring version")),
    };
    Ok(Keyring {
        header: bytes[..header_bytes].to_vec(),
        wrapped: bytes[header_bytes..].to_vec(),
        v1,
    })
}

/// Writes `bytes` to `path` so that a crash leaves either the old file or the new one.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| StorageError::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Some(parent) = path.parent() {
        // The rename is durable only once the folder entry is.
        std::fs::File::open(parent)
            .and_then(|dir| dir.sync_all())
            .map_err(io)?;
    }
    Ok(())
}

fn corrupt(path: &Path, detail: &str) -> StorageError {
    StorageError::KeyringCorrupt {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rekey_changes_which_key_opens_but_keeps_the_data_key() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|source| StorageError::Io {
            path: PathBuf::new(),
            source,
        })?;
        let a = KeySource::raw([1; KEY_BYTES]);
        let b = KeySource::raw([2; KEY_BYTES]);
        let cipher = create(dir.path(), &a)?.active().1;
        let sealed = cipher.seal(b"x", b"secret")?;
        rekey(dir.path(), &a, &b)?;
        assert!(matches!(
            unlock(dir.path(), &a),
            Err(StorageError::WrongKey { .. })
        ));
        let reopened = unlock(dir.path(), &b)?;
        assert_eq!(
            reopened.open(b"x", &sealed).as_deref(),
            Some(&b"secret"[..])
        );
        assert!(matches!(
            unlock(dir.path(), &KeySource::passphrase("p")),
            Err(StorageError::KeyKindMismatch { .. })
        ));
        Ok(())
    }

    #[test]
    fn a_rotation_holds_two_keys_until_it_finishes_with_the_new_one_only() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|source| StorageError::Io {
            path: PathBuf::new(),
            source,
        })?;
        let a = KeySource::raw([1; KEY_BYTES]);
        let b = KeySource::raw([2; KEY_BYTES]);
        let first = create(dir.path(), &a)?;
        let sealed = first.active().1.seal(b"x", b"old")?;
        let rotating = begin_rotation(dir.path(), &a, &b)?;
        assert_eq!(rotating.ids(), vec![1, 2]);
        // Beginning again (a resumed rotation) keeps the same new key.
        let again = begin_rotation(dir.path(), &b, &b)?;
        assert_eq!(again.ids(), vec![1, 2]);
        let fresh = again.active().1.seal(b"x", b"new")?;
        let keys = unlock_keys(&keyring_path(dir.path()), &b)?;
        assert_eq!(
            keys.get(1).and_then(|c| c.open(b"x", &sealed)).as_deref(),
            Some(&b"old"[..])
        );
        let done = finish_rotation(dir.path(), &b)?;
        assert_eq!(done.ids(), vec![2]);
        let keys = unlock_keys(&keyring_path(dir.path()), &b)?;
        assert!(keys.get(1).is_none());
        assert_eq!(
            keys.active().1.open(b"x", &fresh).as_deref(),
            Some(&b"new"[..])
        );
        Ok(())
    }
}
