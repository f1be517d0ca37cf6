//! Authentication and authorization: who is calling ([`Principal`]), what they may do
//! ([`Role`], [`Access`], [`Need`]), and where users and tokens live ([`store`]).
//!
//! Users and tokens are documents in two reserved collections (`_sys_users`, `_sys_tokens`;
//! see [`cairn::SYSTEM_COLLECTION_PREFIX`]), so they are transactional, logged and backed up
//! with the data, and no client route can name them.

pub mod cache;
pub mod credentials;
pub mod login;
pub mod password;
pub mod store;
pub mod throttle;
pub mod token;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::api_error::ApiError;

/// What a user may do by default, in every collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Everything: every collection, collection DDL, user management.
    Admin,
    /// Read and write documents, create and drop collections.
    ReadWrite,
    /// Read documents and change streams.
    ReadOnly,
    /// Nothing, except what per-collection grants allow.
    None,
}

/// Access to one collection; a grant overrides the role for its collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// No access.
    None,
    /// Read documents and change streams.
    ReadOnly,
    /// Read and write documents; create and drop the collection.
    ReadWrite,
}

impl Access {
    /// The access as written in JSON (`read-only`...).
    pub fn name(self) -> &'static str {
        match self {
            Access::None => "none",
            Access::ReadOnly => "read-only",
            Access::ReadWrite => "read-write",
        }
    }
}

impl Role {
    /// The role as written in JSON (`read-write`...).
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::ReadWrite => "read-write",
            Role::ReadOnly => "read-only",
            Role::None => "none",
        }
    }

    /// The access this role gives to a collection without a grant.
    fn default_access(self) -> Access {
        match self {
            Role::Admin | Role::ReadWrite => Access::ReadWrite,
            Role::ReadOnly => Access::ReadOnly,
            Role::None => Access::None,
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// The user name (`anonymous` when auth is off).
    pub name: String,
    /// The user's role.
    pub role: Role,
    /// Per-collection overrides of the role.
    pub grants: BTreeMap<String, Access>,
    /// When the credential this principal authenticated with stops working (µs since the
    /// Unix epoch): a bearer token's expiry; `None` for a password, or with authentication off.
    pub expires_at_us: Option<i64>,
    /// The user record as it was at authentication; `None` with authentication off.
    pub stamp: Option<UserStamp>,
}

/// What identifies one user record's life: the incarnation (new when a user is created) and
/// the password epoch (new with each password change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserStamp {
    /// Random per created user.
    pub incarnation: String,
    /// Bumped on every password change.
    pub epoch: i64,
}

/// What a request needs from its caller.
#[derive(Debug, Clone)]
pub enum Need {
    /// Any authenticated user.
    Authenticated,
    /// An admin.
    Admin,
    /// At least the given access to each collection.
    Collections(Vec<(String, Access)>),
}

impl Need {
    /// Read access to one collection.
    pub fn read(collection: &str) -> Need {
        Need::Collections(vec![(collection.to_string(), Access::ReadOnly)])
    }

    /// Write access to one collection.
    pub fn write(collection: &str) -> Need {
        Need::Collections(vec![(collection.to_string(), Access::ReadWrite)])
    }
}

impl Principal {
    /// The caller when authentication is switched off: full access.
    pub fn anonymous_admin() -> Principal {
        Principal {
            name: "anonymous".to_string(),
            role: Role::Admin,
            grants: BTreeMap::new(),
            expires_at_us: None,
            stamp: None,
        }
    }

    /// The caller's access to a collection.
    pub fn access(&self, collection: &str) -> Access {
        if self.role == Role::Admin {
            return Access::ReadWrite;
        }
        self.grants
            .get(collection)
            .copied()
            .unwrap_or(self.role.default_access())
    }

    /// Checks the caller may do what `need` asks; 403 naming the missing permission otherwise.
    pub fn authorize(&self, need: &Need) -> Result<(), ApiError> {
        match need {
            Need::Authenticated => Ok(()),
            Need::Admin if self.role == Role::Admin => Ok(()),
            Need::Admin => Err(ApiError::forbidden(format!(
                "user `{}` is not an admin",
                self.name
            ))
            .with_details(json!({ "needed": "admin" }))),
            Need::Collections(needs) => {
                for (collection, needed) in needs {
                    if self.access(collection) < *needed {
                        return Err(ApiError::forbidden(format!(
                            "user `{}` lacks {} access to collection `{collection}`",
                            self.name,
                            needed.name()
                        ))
                        .with_details(json!({
                            "collection": collection, "needed": needed.name(),
                        })));
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role, grants: &[(&str, Access)]) -> Principal {
        Principal {
            name: "u".to_string(),
            role,
            grants: grants.iter().map(|(c, a)| (c.to_string(), *a)).collect(),
            expires_at_us: None,
            stamp: None,
        }
    }

    #[test]
    fn grants_override_the_role_for_their_collection_only() {
        let reader = user(Role::ReadOnly, &[("jobs", Access::ReadWrite)]);
        assert!(reader.authorize(&Need::write("jobs")).is_ok());
        assert!(reader.authorize(&Need::write("other")).is_err());
        assert!(reader.authorize(&Need::read("other")).is_ok());
        let writer = user(Role::ReadWrite, &[("secret", Access::None)]);
        assert!(writer.authorize(&Need::read("secret")).is_err());
        assert!(writer.authorize(&Need::write("jobs")).is_ok());
    }

    #[test]
    fn only_admins_pass_admin_needs_and_admins_ignore_grants() {
        let admin = user(Role::Admin, &[("x", Access::None)]);
        assert!(admin.authorize(&Need::Admin).is_ok());
        assert!(admin.authorize(&Need::write("x")).is_ok());
        let writer = user(Role::ReadWrite, &[]);
        let err = writer.authorize(&Need::Admin).unwrap_err();
        assert_eq!(err.status, axum::http::StatusCode::FORBIDDEN);
        assert!(user(Role::None, &[])
            .authorize(&Need::Authenticated)
            .is_ok());
    }
}
