//! Logging in over the PostgreSQL protocol: SCRAM-SHA-256 against a stored verifier, and the
//! user's grants as an [`Authorizer`].
//!
//! The server's users live in `cairn-server` (Argon2id password hashes). An Argon2 hash
//! cannot answer a SCRAM exchange, and accepting a cleartext password over the wire would
//! expose it to anyone on the path without TLS, so a user's record also carries a SCRAM
//! verifier (PostgreSQL's form, `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`)
//! computed whenever its password is set or changed. A user whose password was set before
//! verifiers existed has none and cannot log in over SQL until the password is set again;
//! nothing ever logs in without a password check.

use std::sync::Arc;

use async_trait::async_trait;
use pgwire::api::auth::sasl::scram::ScramSecret;
use pgwire::api::auth::{AuthSource, LoginInfo, Password};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};

use crate::txn::Authorizer;

/// What the server knows about its users (implemented by `cairn-server`'s user store).
pub trait PgUsers: Send + Sync + std::fmt::Debug + 'static {
    /// The SCRAM verifier of `user`: `Ok(None)` when the user does not exist or has no
    /// verifier yet. Blocking (reads the database).
    fn scram_verifier(&self, user: &str) -> Result<Option<String>, String>;

    /// The access rules of a logged-in `user`.
    fn authorizer(&self, user: &str) -> Result<Arc<dyn Authorizer>, String>;
}

/// Parses a PostgreSQL SCRAM-SHA-256 verifier.
pub fn parse_verifier(text: &str) -> Option<ScramSecret> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let rest = text.strip_prefix("SCRAM-SHA-256$")?;
    let (params, keys) = rest.split_once('$')?;
    let (iterations, salt) = params.split_once(':')?;
    let (stored_key, server_key) = keys.split_once(':')?;
    Some(ScramSecret::Verifier {
        salt: b64.decode(salt).ok()?,
        iterations: iterations.parse().ok()?,
        stored_key: b64.decode(stored_key).ok()?,
        server_key: b64.decode(server_key).ok()?,
    })
}

/// The pgwire authentication source over [`PgUsers`].
#[derive(Debug)]
pub struct ScramSource {
    users: Arc<dyn PgUsers>,
}

impl ScramSource {
    /// A source over `users`.
    pub fn new(users: Arc<dyn PgUsers>) -> ScramSource {
        ScramSource { users }
    }
}

fn refused(user: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".to_owned(),
        "28P01".to_owned(),
        format!("password authentication failed for user \"{user}\": {message}"),
    )))
}

#[async_trait]
impl AuthSource for ScramSource {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        // Only SCRAM is offered, which asks `get_scram_secret`; never a stored password.
        Err(refused(
            login.user().unwrap_or_default(),
            "only SCRAM-SHA-256 is accepted".into(),
        ))
    }

    async fn get_scram_secret(&self, login: &LoginInfo) -> PgWireResult<(ScramSecret, Option<()>)> {
        let user = login.user().unwrap_or_default().to_string();
        let users = self.users.clone();
        let lookup = user.clone();
        let verifier = tokio::task::spawn_blocking(move || users.scram_verifier(&lookup))
            .await
            .map_err(|e| refused(&user, e.to_string()))?
            .map_err(|e| refused(&user, e))?;
        let Some(text) = verifier else {
            return Err(refused(
                &user,
                "no such user, or its password was set before SQL access existed (set it again)"
                    .into(),
            ));
        };
        let secret = parse_verifier(&text)
            .ok_or_else(|| refused(&user, "the stored SCRAM verifier is malformed".into()))?;
        Ok((secret, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct OneUser(Option<String>);

    impl PgUsers for OneUser {
        fn scram_verifier(&self, _user: &str) -> Result<Option<String>, String> {
            Ok(self.0.clone())
        }

        fn authorizer(&self, _user: &str) -> Result<Arc<dyn crate::txn::Authorizer>, String> {
            Err("unused".into())
        }
    }

    #[tokio::test]
    async fn a_user_without_a_verifier_cannot_log_in() {
        let source = ScramSource::new(Arc::new(OneUser(None)));
        let login = LoginInfo::new(Some("old"), Some("cairn"), "127.0.0.1".into());
        let err = source
            .get_scram_secret(&login)
            .await
            .expect_err("no verifier, no login");
        assert!(err.to_string().contains("set it again"), "{err}");
        // Nor with a password in the clear.
        assert!(source.get_password(&login).await.is_err());
    }

    #[tokio::test]
    async fn a_stored_verifier_is_parsed() {
        // PostgreSQL's own verifier of the password "pencil" with this salt.
        let text = "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:kqIgQTPQVtn4ibwZOdHKLJNCjTiejDnXdHWVUWJhJRs=";
        let source = ScramSource::new(Arc::new(OneUser(Some(text.into()))));
        let login = LoginInfo::new(Some("u"), Some("cairn"), "127.0.0.1".into());
        let (secret, _) = source.get_scram_secret(&login).await.expect("parsed");
        assert!(matches!(
            secret,
            ScramSecret::Verifier {
                iterations: 4096,
                ..
            }
        ));
        assert!(parse_verifier("SCRAM-SHA-256$x").is_none());
    }
}
