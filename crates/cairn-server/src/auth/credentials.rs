//! Reading credentials from the `Authorization` header. Parsing is cheap and happens on the
//! async side; checking them (an Argon2 verification or a token lookup) runs on the blocking
//! pool together with the request's database work.

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::api_error::ApiError;

/// The peer address of a connection, added to each of its requests by the accept loop.
/// Proxy headers (`X-Forwarded-For`) are not trusted: anyone can send them.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

/// The credentials a request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// No `Authorization` header.
    Missing,
    /// HTTP Basic: a user name and password.
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: String,
        /// The address the connection comes from (failed logins are throttled per address
        /// too); `None` where the server did not record it.
        client: Option<IpAddr>,
    },
    /// A bearer token from `POST /v1/auth/tokens`.
    Bearer(String),
}

impl Credentials {
    /// Parses an `Authorization` header value.
    pub fn parse(value: &[u8]) -> Result<Credentials, ApiError> {
        let malformed =
            || ApiError::unauthorized("malformed Authorization header; use Basic or Bearer");
        let text = std::str::from_utf8(value).map_err(|_| malformed())?;
        let (scheme, rest) = text.trim().split_once(' ').ok_or_else(malformed)?;
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
            return Ok(Credentials::Bearer(rest.to_string()));
        }
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(malformed());
        }
        let decoded = STANDARD.decode(rest).map_err(|_| malformed())?;
        let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
        let (user, password) = decoded.split_once(':').ok_or_else(malformed)?;
        Ok(Credentials::Basic {
            user: user.to_string(),
            password: password.to_string(),
            client: None,
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Credentials {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let mut credentials = match parts.headers.get(header::AUTHORIZATION) {
            None => Credentials::Missing,
            Some(value) => Credentials::parse(value.as_bytes())?,
        };
        if let Credentials::Basic { client, .. } = &mut credentials {
            *client = parts.extensions.get::<ClientAddr>().map(|addr| addr.0);
        }
        Ok(credentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_and_bearer_parse_and_garbage_is_refused() {
        let basic = format!("Basic {}", STANDARD.encode("root:pa:ss"));
        assert_eq!(
            Credentials::parse(basic.as_bytes()).unwrap(),
            Credentials::Basic {
                user: "root".to_string(),
                password: "pa:ss".to_string(),
                client: None,
            }
        );
        assert_eq!(
            Credentials::parse(b"Bearer cairn_x").unwrap(),
            Credentials::Bearer("cairn_x".to_string())
        );
        for bad in [&b"Basic !!!"[..], b"Digest x", b"Bearer", b"\xff"] {
            assert!(Credentials::parse(bad).is_err());
        }
    }
}
