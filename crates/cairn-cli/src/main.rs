//! The `cairn` command. A thin layer: argument parsing here, behaviour in `commands/`, storage
//! and semantics in the `cairn` crate.

mod bench;
mod cli;
mod commands;
mod open;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
