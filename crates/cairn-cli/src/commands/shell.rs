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

/// Reads commands until end of input or `exit`. When input is not a terminal (a script), the
/// shell exits non-zero if any command failed, so scripts can tell.
pub fn run(db: &Database) -> anyhow::Result<()> {
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        println!(
            "cairn shell ({} mode). Type `help` for commands, `exit` to leave.",
            db.mode()
        );
    }
    let mut failures = 0usize;
    let mut lines = std::io::stdin().lock().lines();
    loop {
        if interactive {
            print!("cairn> ");
            std::io::stdout().flush()?;
        }
        let Some(line) = lines.next() else { break };
        let line = line?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line == "exit" || line == "quit" {
            break;
        }
        if !run_line(db, line) {
            failures += 1;
        }
    }
    if failures > 0 && !interactive {
        anyhow::bail!("{failures} shell command(s) failed");
    }
    Ok(())
}

/// Runs one line; returns whether it succeeded.
fn run_line(db: &Database, line: &str) -> bool {
    let Some(words) = split_words(line) else {
        eprintln!("error: unbalanced quotes or brackets");
        return false;
    };
    match ShellLine::try_parse_from(words) {
        Ok(parsed) => match super::execute(db, &parsed.command) {
            Ok(()) => true,
            Err(err) => {
                eprintln!("error: {err:#}");
                false
            }
        },
        Err(err) => {
            let _ = err.print();
            false
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
