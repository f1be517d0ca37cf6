//! The `cairn` command. A thin layer: argument parsing here, behaviour in `commands/`, storage
//! and semantics in the `cairn` crate.

mod bench;
mod cli;
mod commands;
mod holder;
mod limits;
mod open;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if !matches!(
        cli.command,
        cli::Command::Serve(_)
            | cli::Command::Shell
            | cli::Command::Sql { command: None, .. }
            | cli::Command::Bench { .. }
    ) {
        end_quietly_on_closed_pipe();
    }
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Lets a command whose output pipe closes (`cairn query … | head -2`) end quietly, as `grep`
/// and `psql` do, instead of panicking in `println!` with exit 101.
///
/// Rust ignores SIGPIPE at start-up, so writes to a closed pipe return an error that `println!`
/// turns into a panic. One-shot commands restore the default action (the process ends,
/// silently, like any Unix filter). The server, the shell and the benchmarks keep ignoring it:
/// they hold sockets and child pipes whose closing must be an error to handle, never an exit.
fn end_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called at start-up before any thread exists; setting a signal's disposition to
    // its default is async-signal-safe and touches no Rust state.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
