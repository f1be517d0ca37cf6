//! `cairn shell`: the commands of the command line, typed at a prompt against one open
//! database.

use std::io::{BufRead, IsTerminal};

use cairn::Database;
use clap::{CommandFactory, FromArgMatches, Parser};

use super::shell_editor;

use crate::cli::Command;

/// One line typed at the prompt.
#[derive(Debug, Parser)]
#[command(
    no_binary_name = true,
    name = "",
    disable_version_flag = true,
    about = "The commands of `cairn`, typed at the prompt against the open database"
)]
struct ShellLine {
    #[command(subcommand)]
    command: Command,
}

/// Commands that cannot run inside the shell: hidden from its help and refused with a reason.
const NOT_IN_SHELL: &[(&str, &str)] = &[
    (
        "serve",
        "run `cairn serve` from your terminal (it needs the data folder to itself)",
    ),
    ("shell", "you are in the shell already"),
    ("bench", "run `cairn bench` from your terminal"),
    (
        "sql",
        "run `cairn sql` from your terminal (it has its own prompt)",
    ),
];

/// The clap command the shell parses lines with: the command line's, less [`NOT_IN_SHELL`].
fn shell_command() -> clap::Command {
    let mut command = ShellLine::command();
    for (name, _) in NOT_IN_SHELL {
        command = command.mut_subcommand(*name, |sub| sub.hide(true));
    }
    command.subcommand(clap::Command::new("exit").about("Leave the shell (also `quit`, Ctrl-D)"))
}

/// The names a user can type first (for completion).
fn command_names() -> Vec<String> {
    shell_command()
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .map(|sub| sub.get_name().to_string())
        .chain(["quit".to_string()])
        .collect()
}

/// Reads commands until end of input or `exit`. At a terminal the line editor gives editing,
/// history, Ctrl-R search and Tab completion; from a script, lines are read as they come and
/// the shell exits non-zero if any command failed, so scripts can tell.
pub fn run(db: &Database) -> anyhow::Result<()> {
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        return run_interactive(db);
    }
    let mut failures = 0usize;
    for line in std::io::stdin().lock().lines() {
        match run_line(db, &line?) {
            Outcome::Exit => break,
            Outcome::Failed => failures += 1,
            Outcome::Done => {}
        }
    }
    if failures > 0 {
        anyhow::bail!("{failures} shell command(s) failed");
    }
    Ok(())
}

fn run_interactive(db: &Database) -> anyhow::Result<()> {
    println!(
        "cairn shell ({} mode). Type `help` for commands, Tab to complete, `exit` to leave.",
        db.mode()
    );
    let helper = shell_editor::ShellHelper::new(command_names(), db.clone());
    let mut editor = shell_editor::LineEditor::new(helper)?;
    loop {
        match editor.read("cairn> ")? {
            shell_editor::Read::Line(line) => {
                if matches!(run_line(db, &line), Outcome::Exit) {
                    return Ok(());
                }
            }
            shell_editor::Read::Interrupted => continue,
            shell_editor::Read::End => return Ok(()),
        }
    }
}

/// What running one line did.
enum Outcome {
    Done,
    Failed,
    Exit,
}

/// Runs one line.
fn run_line(db: &Database, line: &str) -> Outcome {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Outcome::Done;
    }
    if line == "exit" || line == "quit" {
        return Outcome::Exit;
    }
    let Some(words) = split_words(line) else {
        eprintln!("error: unbalanced quotes or brackets");
        return Outcome::Failed;
    };
    if let Some((name, reason)) = NOT_IN_SHELL.iter().find(|(name, _)| words[0] == *name) {
        eprintln!("error: `{name}` does not run inside the shell: {reason}");
        return Outcome::Failed;
    }
    let parsed = shell_command()
        .try_get_matches_from(&words)
        .and_then(|matches| ShellLine::from_arg_matches(&matches));
    let command = match parsed {
        Ok(parsed) => parsed.command,
        Err(err) => {
            let _ = err.print();
            return match err.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => Outcome::Done,
                _ => Outcome::Failed,
            };
        }
    };
    // Standard input is the shell's own: a document must be on the line.
    if let Command::Insert { json: None, .. } = &command {
        eprintln!(
            "error: in the shell, give the document on the line: insert COLLECTION {{\"field\": 1}} \
             (to load many, use `import COLLECTION FILE`)"
        );
        return Outcome::Failed;
    }
    match super::execute(db, &command) {
        Ok(()) => Outcome::Done,
        Err(err) => {
            eprintln!("error: {err:#}");
            Outcome::Failed
        }
    }
}

/// Splits a line into words like a shell, except that a word starting with `{` or `[` runs to
/// its matching bracket and keeps its quotes, so JSON can be typed without extra quoting:
/// `insert people {"name": "Ada"}`.
fn split_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        let (word, tail) = if rest.starts_with(['{', '[']) {
            let end = json_end(rest)?;
            (rest[..end].to_string(), &rest[end..])
        } else {
            let raw = &rest[..shell_word_end(rest)?];
            (shlex::split(raw)?.concat(), &rest[raw.len()..])
        };
        words.push(word);
        rest = tail.trim_start();
    }
    Some(words)
}

/// Byte length of the JSON value (object or array) at the start of `text`.
fn json_end(text: &str) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, c) in text.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => depth += 1,
            '}' | ']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// Byte length of the shell word at the start of `text`: up to unquoted whitespace. `None`
/// when a quote is left open.
fn shell_word_end(text: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in text.char_indices() {
        match quote {
            None if c.is_whitespace() => return Some(i),
            None if c == '"' || c == '\'' => quote = Some(c),
            Some(open) if c == open => quote = None,
            _ => {}
        }
    }
    quote.is_none().then_some(text.len())
}

#[cfg(test)]
mod tests {
    use super::split_words;

    #[test]
    fn json_words_keep_their_quotes_and_spaces() {
        let words = split_words(r#"insert people {"name": "A } da", "n": [1, {"x": "]"}]}"#);
        assert_eq!(
            words,
            Some(vec![
                "insert".to_string(),
                "people".to_string(),
                r#"{"name": "A } da", "n": [1, {"x": "]"}]}"#.to_string()
            ])
        );
    }

    #[test]
    fn quoted_words_are_unquoted_like_a_shell() {
        let words = split_words(r#"get people '"123"' "two words""#);
        assert_eq!(
            words,
            Some(vec![
                "get".into(),
                "people".into(),
                "\"123\"".into(),
                "two words".into()
            ])
        );
    }

    #[test]
    fn unbalanced_input_is_refused() {
        assert_eq!(split_words(r#"insert c {"a": 1"#), None);
        assert_eq!(split_words("get c 'open"), None);
    }
}
