//! The keyring: a small plaintext file beside an encrypted data file that holds what is needed
//! to turn the user's key into the data key — never the data key itself in the clear.
//!
//! ```text
//! [0..8)    magic "CAIRNKEY"
//! [8]       format version (1)
//! [9]       key derivation: 1 = argon2id over a passphrase, 2 = raw 256-bit key
//! [10..14)  argon2 memory cost, KiB (u32 LE)       ignored for raw keys
//! [14..18)  argon2 iterations (u32 LE)
//! [18..22)  argon2 parallelism (u32 LE)
//! [22..38)  salt (16 random bytes)
//! [38..42)  data-key generation (u32 LE), bumped by every rekey
//! [42..54)  nonce ┐
//! [54..86)  data key, encrypted under the key-encryption key, bytes [0..42) authenticated
//! [86..102) tag   ┘
//! ```
//! Unwrapping the data key is the key check: a wrong passphrase or key fails authentication
//! and is reported as [`StorageError::WrongKey`], never as corruption. Rewriting the file goes
//! through a temporary file and a rename, so a crash leaves the old or the new keyring, whole.

use std::io::Write;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::cipher::{random_bytes, Cipher, KeySource, KEY_BYTES, NONCE_BYTES, TAG_BYTES};
use crate::{Result, StorageError};

/// Name of the keyring file inside an encrypted database (or backup) folder.
pub const KEYRING_FILE_NAME: &str = "keyring";

const MAGIC: &[u8; 8] = b"CAIRNKEY";
const FORMAT_VERSION: u8 = 1;
const KDF_ARGON2ID: u8 = 1;
const KDF_RAW: u8 = 2;
const SALT_BYTES: usize = 16;
const HEADER_BYTES: usize = 42;
const FILE_BYTES: usize = HEADER_BYTES + NONCE_BYTES + KEY_BYTES + TAG_BYTES;

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

/// Decoded keyring contents.
struct Keyring {
    header: [u8; HEADER_BYTES],
    wrapped: [u8; NONCE_BYTES + KEY_BYTES + TAG_BYTES],
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

/// Creates a keyring for a new encrypted database with a fresh random data key; returns the
/// data-key cipher.
pub(crate) fn create(dir: &Path, source: &KeySource) -> Result<Cipher> {
    let data_key = Zeroizing::new(random_bytes::<KEY_BYTES>()?);
    write(dir, source, &data_key, 1)?;
    Ok(Cipher::new(&data_key))
}

/// Unwraps the data key of the keyring at `dir` with the user's key.
pub fn unlock(dir: &Path, source: &KeySource) -> Result<Cipher> {
    let key = unwrap(dir, source)?;
    Ok(Cipher::new(&key))
}

/// Changes the key that opens the database (or backup) at `dir`: the data key is unwrapped
/// with `old` and wrapped again under `new` with a fresh salt. Safe while the database is
/// open (the keyring is read only when opening); the old key stops working at once.
pub fn rekey(dir: &Path, old: &KeySource, new: &KeySource) -> Result<()> {
    let path = keyring_path(dir);
    let generation = read(&path)?.generation();
    let key = unwrap(dir, old)?;
    write(dir, new, &key, generation.wrapping_add(1))
}

fn unwrap(dir: &Path, source: &KeySource) -> Result<Zeroizing<[u8; KEY_BYTES]>> {
    let path = keyring_path(dir);
    let ring = read(&path)?;
    let kek = key_encryption_key(&ring, source, &path)?;
    let mut nonce = [0u8; NONCE_BYTES];
    nonce.copy_from_slice(&ring.wrapped[..NONCE_BYTES]);
    let mut tag = [0u8; TAG_BYTES];
    tag.copy_from_slice(&ring.wrapped[NONCE_BYTES + KEY_BYTES..]);
    let mut key = Zeroizing::new([0u8; KEY_BYTES]);
    key.copy_from_slice(&ring.wrapped[NONCE_BYTES..NONCE_BYTES + KEY_BYTES]);
    if !Cipher::new(&kek).open_in_place(&ring.header, &nonce, &tag, key.as_mut()) {
        return Err(StorageError::WrongKey { path });
    }
    Ok(key)
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

fn write(
    dir: &Path,
    source: &KeySource,
    data_key: &[u8; KEY_BYTES],
    generation: u32,
) -> Result<()> {
    let path = keyring_path(dir);
    let mut header = [0u8; HEADER_BYTES];
    header[..8].copy_from_slice(MAGIC);
    header[8] = FORMAT_VERSION;
    let salt = random_bytes::<SALT_BYTES>()?;
    header[22..22 + SALT_BYTES].copy_from_slice(&salt);
    header[38..42].copy_from_slice(&generation.to_le_bytes());
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
    let mut wrapped = Zeroizing::new(*data_key);
    let (nonce, tag) = Cipher::new(&kek).seal_in_place(&header, wrapped.as_mut())?;
    let mut file = Vec::with_capacity(FILE_BYTES);
    file.extend_from_slice(&header);
    file.extend_from_slice(&nonce);
    file.extend_from_slice(wrapped.as_ref());
    file.extend_from_slice(&tag);
    write_atomically(&path, &file)
}

fn read(path: &Path) -> Result<Keyring> {
    let bytes = std::fs::read(path).map_err(|source| StorageError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if bytes.len() != FILE_BYTES || &bytes[..8] != MAGIC {
        return Err(corrupt(path, "not a Cairn keyring"));
    }
    if bytes[8] != FORMAT_VERSION {
        return Err(corrupt(path, "unsupported keyring version"));
    }
    let mut header = [0u8; HEADER_BYTES];
    header.copy_from_slice(&bytes[..HEADER_BYTES]);
    let mut wrapped = [0u8; NONCE_BYTES + KEY_BYTES + TAG_BYTES];
    wrapped.copy_from_slice(&bytes[HEADER_BYTES..]);
    Ok(Keyring { header, wrapped })
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
        let cipher = create(dir.path(), &a)?;
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
}
