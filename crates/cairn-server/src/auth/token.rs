//! Bearer tokens and generated passwords: random bytes from the operating system. A token is
//! stored only as its SHA-256 (a 256-bit random secret needs no slow hash), and compared in
//! constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::api_error::ApiError;
use crate::limits::{GENERATED_PASSWORD_BYTES, INCARNATION_RANDOM_BYTES, TOKEN_RANDOM_BYTES};

/// Prefix of every token, so a leaked one is recognisable (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "cairn_";

/// A new random token.
pub fn generate() -> Result<String, ApiError> {
    Ok(format!(
        "{TOKEN_PREFIX}{}",
        random_text(TOKEN_RANDOM_BYTES)?
    ))
}

/// A new random password for the first `root` user.
pub fn generate_password() -> Result<String, ApiError> {
    random_text(GENERATED_PASSWORD_BYTES)
}

/// A new random user incarnation (128 bits, base64url): distinguishes a user from an
/// earlier one of the same name.
pub fn generate_incarnation() -> Result<String, ApiError> {
    random_text(INCARNATION_RANDOM_BYTES)
}

/// The stored form of a token: lowercase hex SHA-256 of its text.
pub fn digest(token: &str) -> String {
    HexDigest::of(token).as_str().to_string()
}

/// A token's digest (as [`digest`] spells it) held on the stack, so authenticating a request
/// whose token is cached allocates nothing.
pub struct HexDigest([u8; 64]);

impl HexDigest {
    /// The lowercase hex SHA-256 of `token`.
    pub fn of(token: &str) -> HexDigest {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let hash = Sha256::digest(token.as_bytes());
        let mut out = [0u8; 64];
        for (pair, byte) in out.chunks_exact_mut(2).zip(hash) {
            pair[0] = HEX[usize::from(byte >> 4)];
            pair[1] = HEX[usize::from(byte & 0x0f)];
        }
        HexDigest(out)
    }

    /// The digest text.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written into the array.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// Constant-time equality of two stored digests.
pub fn digests_match(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn random_text(bytes: usize) -> Result<String, ApiError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(ApiError::internal)?;
    Ok(URL_SAFE_NO_PAD.encode(&buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_distinct_prefixed_and_digest_to_hex() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        let d = digest(&a);
        assert_eq!(d.len(), 64);
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(digests_match(&d, &digest(&a)));
        assert!(!digests_match(&d, &digest(&b)));
    }
}
