//! `cairn user add|passwd|list|drop`: manage the server's users from the command line, against
//! the data folder while the server is stopped (as `psql`-less PostgreSQL admins and Redis
//! users expect), e.g. to reset a lost root password.
//!
//! The records are the same ones the server's `/v1/users` routes write (through
//! `cairn_server::auth::store`), so every rule holds here too: a new password bumps the user's
//! epoch (its tokens stop working), dropping a user deletes its tokens in the same transaction,
//! and each change is flushed before the command reports it.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use anyhow::{bail, Context};
use cairn::Database;
use cairn_server::auth::store::{self, UserRecord};
use cairn_server::auth::{password, Role};

use crate::cli::UserAction;

/// Environment variable a password is read from, for scripts (else it is asked for).
pub const PASSWORD_ENV: &str = "CAIRN_PASSWORD";

/// Runs one user action.
pub fn run(db: &Database, action: &UserAction) -> anyhow::Result<()> {
    store::create_collections(db).map_err(|err| anyhow::anyhow!("{err}"))?;
    match action {
        UserAction::List => list(db),
        UserAction::Add { name, role } => add(db, name, *role),
        UserAction::Passwd { name } => passwd(db, name),
        UserAction::Drop { name } => drop_user(db, name),
    }
}

fn api(err: cairn_server::ApiError) -> anyhow::Error {
    anyhow::anyhow!("{}", err.message)
}

fn list(db: &Database) -> anyhow::Result<()> {
    for user in store::list_users(db).map_err(api)? {
        let grants: Vec<String> = user
            .grants
            .iter()
            .map(|(collection, access)| format!("{collection}={}", access.name()))
            .collect();
        println!("{}\t{}\t{}", user.name, user.role.name(), grants.join(","));
    }
    Ok(())
}

fn add(db: &Database, name: &str, role: RoleArg) -> anyhow::Result<()> {
    store::check_user_name(name).map_err(api)?;
    let password = new_password(name)?;
    let hash = password::hash(&password).map_err(api)?;
    let mut record = UserRecord::new(name.to_string(), hash.clone(), role.into(), BTreeMap::new())
        .map_err(api)?;
    record.set_password(hash, &password).map_err(api)?;
    store::create_user(db, &record).map_err(api)?;
    println!("created user `{name}` ({})", record.role.name());
    Ok(())
}

fn passwd(db: &Database, name: &str) -> anyhow::Result<()> {
    let mut record = store::load_user(db, name)
        .map_err(api)?
        .with_context(|| format!("user `{name}` does not exist (`cairn user list` shows them)"))?;
    let password = new_password(name)?;
    let hash = password::hash(&password).map_err(api)?;
    record.set_password(hash, &password).map_err(api)?;
    // Its tokens carry the old epoch: they stop working.
    record.epoch += 1;
    store::store_user(db, &record).map_err(api)?;
    println!("changed the password of `{name}`; its tokens no longer work");
    Ok(())
}

fn drop_user(db: &Database, name: &str) -> anyhow::Result<()> {
    if !store::delete_user(db, name).map_err(api)? {
        bail!("user `{name}` does not exist (`cairn user list` shows them)");
    }
    println!("dropped user `{name}` and its tokens");
    Ok(())
}

/// The new password: from [`PASSWORD_ENV`], else asked twice at a terminal (not echoed), else
/// one line of standard input.
fn new_password(name: &str) -> anyhow::Result<String> {
    let password = match std::env::var(PASSWORD_ENV) {
        Ok(password) if !password.is_empty() => password,
        _ if std::io::stdin().is_terminal() => {
            let first = rpassword::prompt_password(format!("new password for `{name}`: "))?;
            let again = rpassword::prompt_password("again: ")?;
            if first != again {
                bail!("the two passwords differ; nothing changed");
            }
            first
        }
        _ => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the password from standard input")?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    password::check_new(&password).map_err(api)?;
    Ok(password)
}

/// A role as the command line spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    /// Everything, including users and collection DDL.
    Admin,
    /// Read and write documents; create and drop collections.
    ReadWrite,
    /// Read documents and change streams.
    ReadOnly,
    /// Nothing but per-collection grants (set them over HTTP).
    None,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Role {
        match role {
            RoleArg::Admin => Role::Admin,
            RoleArg::ReadWrite => Role::ReadWrite,
            RoleArg::ReadOnly => Role::ReadOnly,
            RoleArg::None => Role::None,
        }
    }
}
