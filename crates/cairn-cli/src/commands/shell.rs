//! `cairn shell`: the commands of the command line, typed at a prompt against one open
//! database.

use std::io::{BufRead, IsTerminal, Write};

use cairn::Database;
use clap::Parser;

use crate::cli::Command;

/// One line typed at the prompt.
#[derive(Debug, Parser)]
#[command(no_binary_name = true, name = "", disable_version_flag = true)]
struct ShellLine {
    #[command(subcommand)]
    command: Command,
}

/// Reads commands until end of input or `exit`.
pub fn run(db: &Database) -> anyhow::Result<()> {
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        println!(
            "cairn shell ({} mode). Type `help` for commands, `exit` to leave.",
            db.mode()
        );
    }
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        if interactive {
            print!("cairn> ");
            std::io::stdout().flush()?;
        }
        let Some(line) = lines.next() else {
            return Ok(());
        };
        let line = line?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "exit" || line == "quit" {
            return Ok(());
        }
        let Some(words) = shlex::split(line) else {
            eprintln!("error: unbalanced quotes");
            continue;
        };
        match ShellLine::try_parse_from(words) {
            Ok(parsed) => {
                if let Err(err) = super::execute(db, &parsed.command) {
                    eprintln!("error: {err:#}");
                }
            }
            Err(err) => {
                let _ = err.print();
            }
        }
    }
}
