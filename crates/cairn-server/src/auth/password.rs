//! Password hashing with Argon2id (the argon2 crate's defaults: 19 MiB, 2 passes, as OWASP
//! recommends), stored as PHC strings so parameters can be raised later without breaking old
//! hashes.
//!
//! Verification runs in memory the caller lends ([`verify_in`]): the login path keeps one
//! buffer per concurrent check ([`super::login`]) instead of allocating 19 MiB per attempt,
//! which glibc's allocator (its mmap threshold rises after the first large free) keeps in
//! per-thread arenas — a flood of wrong passwords once grew the process by gigabytes.

use std::sync::OnceLock;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

use crate::api_error::ApiError;
use crate::limits::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, SCRAM_ITERATIONS};

/// Hashes a password into a PHC string (`$argon2id$v=19$...`) in fresh memory: for the rare
/// hashes made outside a verification slot (the first `root`, the timing dummy).
pub fn hash(password: &str) -> Result<String, ApiError> {
    hash_in(password, &mut Vec::new())
}

/// Hashes a password into a PHC string (`$argon2id$v=19$...`), computing Argon2 in `memory`
/// (grown when smaller, and kept for the next call).
pub fn hash_in(password: &str, memory: &mut Vec<Block>) -> Result<String, ApiError> {
    // 16 random bytes, the salt length the PHC string format recommends.
    let mut salt_bytes = [0u8; 16];
    getrandom::fill(&mut salt_bytes).map_err(ApiError::internal)?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(ApiError::internal)?;
    let params = Params::default();
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password.as_bytes(), &salt_bytes, &mut out, &mut memory[..])
        .map_err(ApiError::internal)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(ApiError::internal)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(ApiError::internal)?),
    };
    Ok(phc.to_string())
}

/// The SCRAM-SHA-256 verifier of `password`, in PostgreSQL's form
/// (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, base64): what the SQL
/// (PostgreSQL wire) server checks a login against. It is stored beside the Argon2 hash
/// whenever a password is set, because an Argon2 hash cannot answer a SCRAM exchange; like
/// PostgreSQL's, it holds no password-equivalent (only `H(ClientKey)` and `ServerKey`).
/// The password is used as given (no SASLprep): passwords outside ASCII must be typed the same
/// way (same Unicode normalisation) in every client.
pub fn scram_verifier(password: &str) -> Result<String, ApiError> {
    use base64::Engine as _;
    use ring::{digest, hmac, pbkdf2};
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(ApiError::internal)?;
    let mut salted = [0u8; 32];
    let iterations = std::num::NonZeroU32::new(SCRAM_ITERATIONS)
        .ok_or_else(|| ApiError::internal("SCRAM_ITERATIONS is zero"))?;
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        &salt,
        password.as_bytes(),
        &mut salted,
    );
    let key = hmac::Key::new(hmac::HMAC_SHA256, &salted);
    let client_key = hmac::sign(&key, b"Client Key");
    let stored_key = digest::digest(&digest::SHA256, client_key.as_ref());
    let server_key = hmac::sign(&key, b"Server Key");
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(format!(
        "SCRAM-SHA-256${SCRAM_ITERATIONS}:{}${}:{}",
        b64.encode(salt),
        b64.encode(stored_key.as_ref()),
        b64.encode(server_key.as_ref())
    ))
}

/// Whether `password` matches the stored PHC string, computing Argon2 in `memory` (grown to
/// the hash's memory cost when smaller, and kept for the next call). The comparison is
/// constant-time; a malformed stored hash never matches.
pub fn verify_in(password: &str, stored: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    // The argon2 crate's own reading: a hash without a version is the current version.
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let mut out = [0u8; 64];
    let Some(out) = out.get_mut(..expected.len()) else {
        return false;
    };
    let hashed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password.as_bytes(),
        salt,
        out,
        &mut memory[..],
    );
    hashed.is_ok() && bool::from(expected.as_bytes().ct_eq(out))
}

/// Spends the same time (and the same memory) as a real verification when the user does not
/// exist, so response times do not reveal which user names exist.
pub fn verify_against_nothing(password: &str, memory: &mut Vec<Block>) {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("not a real password").ok());
    if let Some(dummy) = dummy {
        let _ = verify_in(password, dummy, memory);
    }
}

/// Checks a new password's length against the limits.
pub fn check_new(password: &str) -> Result<(), ApiError> {
    let len = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&len) {
        return Err(ApiError::bad_request(
            "invalid_password",
            format!(
                "a password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters long; this one has {len}"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let stored = hash("correct horse").unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        let mut memory = Vec::new();
        assert!(verify_in("correct horse", &stored, &mut memory));
        assert_eq!(
            memory.len(),
            Params::DEFAULT_M_COST as usize,
            "19 MiB of 1 KiB blocks"
        );
        assert!(!verify_in("wrong horse", &stored, &mut memory));
        assert!(!verify_in("correct horse", "not a phc string", &mut memory));
        // The same answers as the argon2 crate's own verifier, for other parameters too.
        let parsed = PasswordHash::new(&stored).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok());
        let small = Params::new(64, 1, 1, Some(16)).unwrap();
        let other = Argon2::new(Algorithm::Argon2i, Version::V0x10, small)
            .hash_password(b"pw", &SaltString::encode_b64(&[7u8; 16]).unwrap())
            .unwrap()
            .to_string();
        assert!(verify_in("pw", &other, &mut memory));
        assert!(!verify_in("px", &other, &mut memory));
    }

    #[test]
    fn password_length_is_bounded() {
        assert!(check_new("short").is_err());
        assert!(check_new("ééééééé").is_err(), "7 characters, 14 bytes");
        assert!(check_new("long enough").is_ok());
        assert!(check_new(&"x".repeat(MAX_PASSWORD_CHARS + 1)).is_err());
    }
}
