//! Command implementations, one module per group.

mod backup;
mod bulk;
mod catalog;
mod cluster;
mod collection;
mod consumer;
mod csv_format;
mod document;
pub mod graph;
mod import_source;
mod index;
mod infer;
mod info;
mod invariant;
mod parquet_format;
mod query;
mod rekey;
mod schema;
pub mod series;
pub mod serve;
mod serve_pg;
mod shell;
mod shell_editor;
mod source;
mod sql;
pub mod transfer;
pub mod user;

use anyhow::Context;
use cairn::{Database, DocId};

use crate::cli::{
    BackupAction, BackupArgs, BenchCommand, Cli, CollectionAction, Command, IndexAction,
    InvariantAction, SchemaAction, StatsArgs, UserAction,
};
use crate::open::{config, key_from, key_source, open, Create, NEW_PASSPHRASE_ENV};

/// Runs one invocation of `cairn`.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Check => info::check(&config(&cli)?),
        Command::Serve(args) => serve::run(&cli, args),
        Command::Cluster(args) => cluster::run(args),
        Command::Consumer(args) => consumer::run(args),
        Command::Compact => info::compact(&config(&cli)?),
        Command::Rekey {
            new_key_file,
            reencrypt: false,
            ..
        } => rekey::rekey(
            &cli.data_dir(),
            key_source(&cli)?,
            key_from(new_key_file.as_deref(), NEW_PASSPHRASE_ENV)?,
        ),
        Command::Rekey {
            new_key_file,
            reencrypt: true,
            chunk_blocks,
        } => rekey::reencrypt(
            &cli,
            key_from(new_key_file.as_deref(), NEW_PASSPHRASE_ENV)?,
            *chunk_blocks,
        ),
        Command::Backup(BackupArgs {
            action: Some(BackupAction::Verify { src }),
            ..
        }) => backup::verify(src, key_source(&cli)?.as_ref()),
        Command::Backup(BackupArgs {
            action: None,
            dest: Some(dest),
            incremental,
            server: Some(url),
            user,
        }) => backup::backup_through_server(url, user, dest, *incremental),
        Command::Stats(StatsArgs {
            queries: true,
            server: Some(url),
            user,
        }) => info::query_stats_through_server(url, user),
        Command::Restore { src, to, at } => {
            backup::restore(src, to, at.as_deref(), key_source(&cli)?.as_ref())
        }
        Command::Replay { to, at, collection } => backup::replay(
            &open(&cli, Create::Refused)?,
            to,
            at.as_deref(),
            collection.as_deref(),
            key_source(&cli)?.as_ref(),
        ),
        Command::Bench { which } => match which {
            BenchCommand::Core(args) => crate::bench::core::run(args),
            BenchCommand::Query(args) => crate::bench::query::run(args),
            BenchCommand::Storage(args) => crate::bench::storage::run(args),
            BenchCommand::Http(args) => crate::bench::http::run(args),
            BenchCommand::Invariant(args) => crate::bench::invariant::run(args),
            BenchCommand::Schema(args) => crate::bench::schema::run(args),
            BenchCommand::Geo(args) => crate::bench::geo::run(args),
            BenchCommand::Vector(args) => crate::bench::vector::run(args),
            BenchCommand::Timeseries(args) => crate::bench::timeseries::run(args),
            BenchCommand::Graph(args) => crate::bench::graph::run(args),
            BenchCommand::Text(args) => crate::bench::text::run(args),
            BenchCommand::Federation(args) => crate::bench::federation::run(args),
            BenchCommand::Sql(args) => crate::bench::sql::run(args),
            BenchCommand::Cluster(args) => crate::bench::cluster::run(args),
        },
        Command::Shell => shell::run(&open(&cli, Create::Allowed)?),
        Command::Sql {
            command,
            server: Some(server),
            user,
        } => sql::run_remote(server, user, command.as_deref()),
        Command::Sql { command, .. } => sql::run(&open(&cli, Create::Allowed)?, command.as_deref()),
        command => {
            let creates = matches!(
                command,
                Command::Insert { .. }
                    | Command::Import(_)
                    | Command::Collection {
                        action: CollectionAction::Create { .. }
                    }
                    | Command::User {
                        action: UserAction::Add { .. }
                    }
                    | Command::Source {
                        action: crate::cli::SourceAction::Add { .. }
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
        Command::User { action } => user::run(db, action),
        Command::Insert {
            collection,
            json,
            batch,
            create,
        } => {
            if *create {
                document::create_if_missing(db, collection)?;
            }
            let inserted = match json {
                Some(json) => document::insert_one(db, collection, json),
                None => document::insert_stream(db, collection, *batch),
            };
            inserted.map_err(|err| {
                let missing = matches!(
                    err.downcast_ref::<cairn::EngineError>(),
                    Some(cairn::EngineError::UnknownCollection { .. })
                );
                if missing {
                    anyhow::anyhow!(
                        "{err}: create it with `cairn collection create {collection}`, or add --create"
                    )
                } else {
                    err
                }
            })
        }
        Command::Get {
            collection,
            id,
            as_of,
        } => document::get(db, collection, &parse_id(id), as_of.as_deref()),
        Command::Update {
            collection,
            id,
            patch,
        } => document::update(db, collection, &parse_id(id), patch),
        Command::Delete { collection, id } => document::delete(db, collection, &parse_id(id)),
        Command::Import(args) => transfer::import(db, args),
        Command::Export {
            collection,
            file,
            format,
            delimiter,
        } => transfer::export(db, collection, file.as_deref(), *format, *delimiter),
        Command::Stats(StatsArgs { queries: false, .. }) => info::stats(db),
        Command::Stats(_) => {
            anyhow::bail!("`stats --queries` asks a running server; run it as `cairn stats --queries --server URL`")
        }
        Command::Changes { after, limit } => info::changes(db, *after, *limit),
        Command::Locate { id } => info::locate(db, &parse_id(id)),
        Command::Catalog { tags } => catalog::list(db, tags),
        Command::Tag { action } => catalog::tag(db, action),
        Command::Lineage {
            collection,
            openlineage,
        } => catalog::lineage(db, collection, *openlineage),
        Command::Query {
            collection,
            filter,
            sort,
            limit,
            skip,
            project,
            after,
            as_of,
        } => query::find(
            db,
            collection,
            &query::QueryArgs {
                filter,
                sort: sort.as_deref(),
                limit: *limit,
                skip: *skip,
                project: project.as_deref(),
                after: after.as_deref(),
                as_of: as_of.as_deref(),
            },
        ),
        Command::Series { action } => series::run(db, action),
        Command::Traverse(args) => graph::traverse(db, args),
        Command::Path(args) => graph::path(db, args),
        Command::Count {
            collection,
            filter,
            as_of,
        } => query::count(db, collection, filter, as_of.as_deref()),
        Command::Explain {
            collection,
            filter,
            sort,
            limit,
        } => query::explain(db, collection, filter, sort.as_deref(), *limit),
        Command::Aggregate {
            collection,
            pipeline,
            explain,
        } => query::aggregate(db, collection, pipeline, *explain),
        Command::UpdateMany {
            collection,
            filter,
            patch,
            dry_run,
            max_documents,
        } => bulk::update_many(
            db,
            collection,
            filter,
            patch,
            &bulk::options(*dry_run, *max_documents)?,
        ),
        Command::DeleteMany {
            collection,
            filter,
            dry_run,
            max_documents,
        } => bulk::delete_many(
            db,
            collection,
            filter,
            &bulk::options(*dry_run, *max_documents)?,
        ),
        Command::Index { action } => match action {
            IndexAction::Create {
                collection,
                name,
                fields,
                kind,
                unique,
                vector,
                text,
            } => index::create(db, collection, name, fields, *kind, *unique, vector, text),
            IndexAction::Drop { collection, name } => index::drop(db, collection, name),
            IndexAction::List { collection } => index::list(db, collection),
        },
        Command::Source { action } => source::run(db, action),
        Command::Invariant { action } => match action {
            InvariantAction::Add {
                collection,
                rule,
                name,
            } => invariant::add(db, collection, rule, name.as_deref()),
            InvariantAction::Drop { collection, name } => invariant::drop(db, collection, name),
            InvariantAction::List { collection } => invariant::list(db, collection),
        },
        Command::Schema { action } => match action {
            SchemaAction::Set { collection, file } => schema::set(db, collection, file),
            SchemaAction::Show {
                collection,
                history,
            } => schema::show(db, collection, *history),
            SchemaAction::Migrate {
                collection,
                file,
                dry_run,
                resume,
                chunk_size,
                pause_ms,
            } => schema::migrate(
                db,
                collection,
                file.as_deref(),
                *dry_run,
                *resume,
                (*chunk_size, *pause_ms),
            ),
            SchemaAction::Infer { collection, emit } => infer::infer(db, collection, *emit),
        },
        Command::Backup(BackupArgs {
            action: None,
            dest: Some(dest),
            incremental,
            ..
        }) => backup::backup(db, dest, *incremental),
        Command::Backup(_) => {
            anyhow::bail!("give a backup folder: `cairn backup DEST` or `cairn backup verify SRC`")
        }
        Command::Check
        | Command::Compact
        | Command::Rekey { .. }
        | Command::Restore { .. }
        | Command::Replay { .. }
        | Command::Shell
        | Command::Sql { .. }
        | Command::Serve(_)
        | Command::Cluster(_)
        | Command::Consumer(_)
        | Command::Bench { .. } => {
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
