//! Password hashing with Argon2id (the argon2 crate's defaults: 19 MiB, 2 passes, as OWASP
//! recommends), stored as PHC strings so parameters can be raised later without breaking old
//! hashes.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::api_error::ApiError;
use crate::limits::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};

/// Hashes a password into a PHC string (`$argon2id$v=19$...`).
pub fn hash(password: &str) -> Result<String, ApiError> {
    // 16 random bytes, the salt length the PHC string format recommends.
    let mut salt_bytes = [0u8; 16];
    getrandom::fill(&mut salt_bytes).map_err(ApiError::internal)?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(ApiError::internal)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(ApiError::internal)
}

/// Whether `password` matches the stored PHC string. The comparison inside argon2 is
/// constant-time; a malformed stored hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the same time as a real verification when the user does not exist, so response
/// times do not reveal which user names exist.
pub fn verify_against_nothing(password: &str) {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("not a real password").ok());
    if let Some(dummy) = dummy {
        let _ = verify(password, dummy);
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
        let stored = hash("correct horse").unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("correct horse", &stored));
        assert!(!verify("wrong horse", &stored));
        assert!(!verify("correct horse", "not a phc string"));
    }

    #[test]
    fn password_length_is_bounded() {
        assert!(check_new("short").is_err());
        assert!(check_new("ééééééé").is_err(), "7 characters, 14 bytes");
        assert!(check_new("long enough").is_ok());
        assert!(check_new(&"x".repeat(MAX_PASSWORD_CHARS + 1)).is_err());
    }
}
