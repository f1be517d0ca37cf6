//! Command implementations, one module per group.

mod collection;
mod document;
mod info;
pub mod serve;
mod shell;
mod transfer;

use anyhow::Context;
use cairn::{Database, DocId};

use crate::cli::{BenchCommand, Cli, CollectionAction, Command};
use crate::open::{open, Create};

/// Runs one invocation of `cairn`.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Check => info::check(&cli.data_dir()),
        Command::Serve(args) => serve::run(&cli, args),
        Command::Bench { which } => match which {
            BenchCommand::Core(args) => crate::bench::core::run(args),
            BenchCommand::Http(args) => crate::bench::http::run(args),
        },
        Command::Shell => shell::run(&open(&cli, Create::Allowed)?),
        command => {
            let creates = matches!(
                command,
                Command::Insert { .. }
                    | Command::Import { .. }
                    | Command::Collection {
                        action: CollectionAction::Create { .. }
                    }
            );
            let create = if creates {
                Create::Allowed
            } else {
                Create::Refused
            };
            execute(&open(&cli, create)?, command)
        }
    }
}

/// Runs a command against an open database (shared by the command line and the shell).
pub fn execute(db: &Database, command: &Command) -> anyhow::Result<()> {
    match command {
        Command::Collection { action } => collection::run(db, action),
        Command::Insert {
            collection,
            json,
            batch,
        } => match json {
            Some(json) => document::insert_one(db, collection, json),
            None => document::insert_stream(db, collection, *batch),
        },
        Command::Get { collection, id } => document::get(db, collection, &parse_id(id)),
        Command::Update {
            collection,
            id,
            patch,
        } => document::update(db, collection, &parse_id(id), patch),
        Command::Delete { collection, id } => document::delete(db, collection, &parse_id(id)),
        Command::Import {
            collection,
            file,
            batch,
        } => transfer::import(db, collection, file, *batch),
        Command::Export { collection, file } => transfer::export(db, collection, file.as_deref()),
        Command::Stats => info::stats(db),
        Command::Changes { after, limit } => info::changes(db, *after, *limit),
        Command::Locate { id } => info::locate(db, &parse_id(id)),
        Command::Check | Command::Shell | Command::Bench { .. } | Command::Serve(_) => {
            anyhow::bail!("this command cannot run inside the shell; run it as `cairn ...`")
        }
    }
}

fn parse_id(text: &str) -> DocId {
    DocId::parse_cli(text)
}

/// Parses a JSON argument, naming which argument was wrong.
fn parse_json(what: &str, text: &str) -> anyhow::Result<cairn::Value> {
    cairn::Value::from_json_str(text).with_context(|| format!("{what} is not valid JSON"))
}
