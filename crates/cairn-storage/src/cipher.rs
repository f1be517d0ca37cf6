//! Authenticated encryption (AES-256-GCM) and the keys it uses.
//!
//! Two keys exist for an encrypted database:
//! * the **data key** (random, 256 bits) encrypts every block of the data file and every backup
//!   chunk; it never leaves memory unwrapped;
//! * the **key-encryption key** comes from the user (a passphrase through argon2id, or a raw
//!   256-bit key file) and only wraps the data key in the keyring file.
//!
//! Changing the passphrase therefore rewraps 32 bytes instead of rewriting the database.

use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, AES_256_GCM};
use zeroize::Zeroizing;

use crate::{Result, StorageError};

/// Bytes of a key: 256 bits.
pub const KEY_BYTES: usize = 32;
/// Bytes of a GCM nonce. Nonces are random; with 96 bits the chance of a repeat stays below
/// 2^-32 for the first 2^32 encryptions under one key (16 TiB of 4 KiB blocks).
pub const NONCE_BYTES: usize = 12;
/// Bytes of a GCM authentication tag.
pub const TAG_BYTES: usize = 16;
/// Bytes a sealed message adds to its plaintext: nonce and tag.
pub const SEAL_OVERHEAD_BYTES: usize = NONCE_BYTES + TAG_BYTES;

/// Where the user's key comes from.
#[derive(Clone)]
pub enum KeySource {
    /// A passphrase, stretched with argon2id and a per-database salt.
    Passphrase(Zeroizing<String>),
    /// A raw 256-bit key (e.g. read from a key file).
    RawKey(Zeroizing<[u8; KEY_BYTES]>),
}

impl KeySource {
    /// A passphrase key source.
    pub fn passphrase(text: impl Into<String>) -> KeySource {
        KeySource::Passphrase(Zeroizing::new(text.into()))
    }

    /// A raw key source.
    pub fn raw(key: [u8; KEY_BYTES]) -> KeySource {
        KeySource::RawKey(Zeroizing::new(key))
    }
}

impl std::fmt::Debug for KeySource {
    // Never print key material, even in debug output or panics.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Passphrase(_) => f.write_str("KeySource::Passphrase(<redacted>)"),
            KeySource::RawKey(_) => f.write_str("KeySource::RawKey(<redacted>)"),
        }
    }
}

/// An AES-256-GCM cipher under one key (ring's implementation, which uses AES-NI and
/// carry-less multiplication when the CPU has them). Cheap to clone (the key schedule is
/// shared). The raw key bytes are never kept; the expanded schedule is dropped with the last
/// clone (ring does not zero it).
#[derive(Clone)]
pub struct Cipher {
    aead: std::sync::Arc<LessSafeKey>,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(<redacted>)")
    }
}

impl Cipher {
    /// A cipher under `key`.
    pub fn new(key: &[u8; KEY_BYTES]) -> Cipher {
        // ring refuses only keys of the wrong length, and `key` is 32 bytes by its type.
        let key = UnboundKey::new(&AES_256_GCM, key).expect("a 32-byte key suits AES-256-GCM");
        Cipher {
            aead: std::sync::Arc::new(LessSafeKey::new(key)),
        }
    }

    /// Encrypts `buf` in place under a fresh random nonce; returns (nonce, tag). `aad` is
    /// authenticated but not encrypted: it binds the ciphertext to where it belongs.
    pub fn seal_in_place(
        &self,
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<([u8; NONCE_BYTES], [u8; TAG_BYTES])> {
        let nonce = random_bytes::<NONCE_BYTES>()?;
        let tag = self.seal_in_place_with(aad, &nonce, buf)?;
        Ok((nonce, tag))
    }

    /// Encrypts `buf` in place under `nonce`, which the caller guarantees is new under this
    /// key (see [`NonceSequence`]); returns the tag.
    pub(crate) fn seal_in_place_with(
        &self,
        aad: &[u8],
        nonce: &[u8; NONCE_BYTES],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_BYTES]> {
        let failed = || StorageError::Crypto {
            detail: "encryption failed".to_string(),
        };
        let tag = self
            .aead
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), buf)
            .map_err(|_| failed())?;
        tag.as_ref().try_into().map_err(|_| failed())
    }

    /// Decrypts `buf` in place; `false` when the tag does not match (tampered data, data from
    /// another place, or the wrong key), in which case `buf` holds garbage.
    #[must_use]
    pub fn open_in_place(
        &self,
        aad: &[u8],
        nonce: &[u8; NONCE_BYTES],
        tag: &[u8; TAG_BYTES],
        buf: &mut [u8],
    ) -> bool {
        self.aead
            .open_in_place_separate_tag(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad),
                Tag::from(*tag),
                buf,
                0..,
            )
            .is_ok()
    }

    /// Seals `plaintext` as `nonce ‖ ciphertext ‖ tag`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(plaintext.len() + SEAL_OVERHEAD_BYTES);
        out.extend_from_slice(&[0u8; NONCE_BYTES]);
        out.extend_from_slice(plaintext);
        let (nonce, tag) = self.seal_in_place(aad, &mut out[NONCE_BYTES..])?;
        out[..NONCE_BYTES].copy_from_slice(&nonce);
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Opens what [`Cipher::seal`] produced; `None` when it fails authentication.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < SEAL_OVERHEAD_BYTES {
            return None;
        }
        let (nonce, rest) = sealed.split_at(NONCE_BYTES);
        let (body, tag) = rest.split_at(rest.len() - TAG_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().ok()?;
        let tag: [u8; TAG_BYTES] = tag.try_into().ok()?;
        let mut out = body.to_vec();
        self.open_in_place(aad, &nonce, &tag, &mut out)
            .then_some(out)
    }
}

/// Nonces drawn from one run of `2^32` counter values under a 64-bit random prefix.
///
/// Why a nonce cannot repeat under a key: a nonce is `prefix (64 bits) ‖ counter (32 bits)`.
/// Within one sequence the counter only increases and the sequence takes a fresh prefix before
/// it would wrap, so two nonces of one prefix always differ in the counter. Every prefix comes
/// from the operating system's random source (one `getrandom` per 2^32 blocks, not one per
/// block), so two *different* sequences under the same key — another opening of the database,
/// or an exhausted counter — share a nonce only if they drew the same 64-bit prefix: after a
/// million sequences under one key the chance is below 2^-25, far below the 2^-32 NIST SP
/// 800-38D allows, and independent of how many blocks each sequence seals. Rotation starts a
/// new key, which resets the count.
#[derive(Debug)]
pub(crate) struct NonceSequence {
    state: parking_lot::Mutex<(u64, u32)>,
}

impl NonceSequence {
    /// A sequence with a fresh random prefix.
    pub(crate) fn new() -> Result<NonceSequence> {
        Ok(NonceSequence {
            state: parking_lot::Mutex::new((u64::from_le_bytes(random_bytes::<8>()?), 0)),
        })
    }

    /// The next nonce; never the same twice from one sequence.
    pub(crate) fn next(&self) -> Result<[u8; NONCE_BYTES]> {
        let mut state = self.state.lock();
        if state.1 == u32::MAX {
            // The counter would wrap: a new prefix starts a new run.
            *state = (u64::from_le_bytes(random_bytes::<8>()?), 0);
        }
        let (prefix, counter) = *state;
        state.1 += 1;
        let mut nonce = [0u8; NONCE_BYTES];
        nonce[..8].copy_from_slice(&prefix.to_le_bytes());
        nonce[8..].copy_from_slice(&counter.to_le_bytes());
        Ok(nonce)
    }
}

/// `N` bytes from the operating system's random source.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|err| StorageError::Crypto {
        detail: format!("the operating system's random source failed: {err}"),
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_messages_open_only_with_the_same_key_and_context() {
        let cipher = Cipher::new(&[7u8; KEY_BYTES]);
        let sealed = cipher.seal(b"ctx", b"hello").unwrap_or_default();
        assert_eq!(cipher.open(b"ctx", &sealed).as_deref(), Some(&b"hello"[..]));
        assert!(cipher.open(b"other", &sealed).is_none());
        assert!(Cipher::new(&[8u8; KEY_BYTES])
            .open(b"ctx", &sealed)
            .is_none());
        let mut flipped = sealed.clone();
        flipped[NONCE_BYTES] ^= 1;
        assert!(cipher.open(b"ctx", &flipped).is_none());
        assert!(cipher.open(b"ctx", &sealed[..10]).is_none());
    }

    #[test]
    fn a_nonce_sequence_never_repeats_and_renews_its_prefix_before_wrapping() -> Result<()> {
        let sequence = NonceSequence::new()?;
        let first = sequence.next()?;
        let second = sequence.next()?;
        assert_ne!(first, second);
        assert_eq!(first[..8], second[..8]);
        *sequence.state.lock() = (7, u32::MAX);
        let renewed = sequence.next()?;
        assert_ne!(renewed[..8], 7u64.to_le_bytes());
        assert_eq!(renewed[8..], [0, 0, 0, 0]);
        Ok(())
    }
}
