//! The server's users as the SQL server sees them: the SCRAM verifier stored with each
//! password, and the user's role and grants as an authorizer. Here because it joins
//! `cairn-server` (the user store) and `cairn-sql` (the wire server), which do not know
//! each other.

use std::sync::Arc;

use cairn::Database;
use cairn_server::auth::store;
use cairn_server::auth::{Access, Principal};
use cairn_sql::pg::PgUsers;
use cairn_sql::Authorizer;

/// The users of a served database.
#[derive(Clone)]
pub struct ServerUsers {
    db: Database,
}

impl std::fmt::Debug for ServerUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerUsers")
    }
}

impl ServerUsers {
    /// The users stored in `db`.
    pub fn new(db: Database) -> ServerUsers {
        ServerUsers { db }
    }
}

impl PgUsers for ServerUsers {
    fn scram_verifier(&self, user: &str) -> Result<Option<String>, String> {
        store::load_user(&self.db, user)
            .map(|record| record.and_then(|r| r.scram))
            .map_err(|err| err.message)
    }

    fn authorizer(&self, user: &str) -> Result<Arc<dyn Authorizer>, String> {
        let record = store::load_user(&self.db, user)
            .map_err(|err| err.message)?
            .ok_or_else(|| format!("user `{user}` does not exist"))?;
        Ok(Arc::new(Grants(record.principal())))
    }
}

/// A user's role and grants, as of login.
struct Grants(Principal);

impl std::fmt::Debug for Grants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Grants({})", self.0.name)
    }
}

impl Authorizer for Grants {
    fn allowed(&self, collection: &str, write: bool) -> bool {
        let needed = if write {
            Access::ReadWrite
        } else {
            Access::ReadOnly
        };
        self.0.access(collection) >= needed
    }

    fn user(&self) -> Option<String> {
        Some(self.0.name.clone())
    }
}
