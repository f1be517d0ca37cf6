//! The interactive shell's line editor: editing, history (kept in `~/.cairn_history`), Ctrl-R
//! search and Tab completion of command names and collection names, on `rustyline`.

use std::path::PathBuf;

use crate::limits::MAX_HISTORY_LINES;
use cairn::Database;
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};

/// Commands whose first argument is a collection name (completed from the database).
const TAKES_COLLECTION: &[&str] = &[
    "insert",
    "get",
    "update",
    "delete",
    "export",
    "import",
    "query",
    "count",
    "explain",
    "aggregate",
    "update-many",
    "delete-many",
    "index",
    "schema",
    "invariant",
    // `cairn sql`: a table name follows these keywords.
    "from",
    "FROM",
    "into",
    "INTO",
    "join",
    "JOIN",
    "table",
    "TABLE",
];

/// Completes the first word from the shell's commands and a collection name after the
/// commands in [`TAKES_COLLECTION`].
pub struct ShellHelper {
    commands: Vec<String>,
    db: Database,
}

impl ShellHelper {
    /// A helper completing `commands` and `db`'s collection names.
    pub fn new(commands: Vec<String>, db: Database) -> ShellHelper {
        ShellHelper { commands, db }
    }

    /// Candidates for the word that ends at `pos`, and where that word starts.
    pub fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let before = &line[..pos];
        let start = before.rfind(char::is_whitespace).map_or(0, |i| i + 1);
        let word = &before[start..];
        let previous: Vec<&str> = before[..start].split_whitespace().collect();
        let options: Vec<String> = match previous.as_slice() {
            [] => self.commands.clone(),
            [command] if TAKES_COLLECTION.contains(command) => self
                .db
                .list_collections()
                .map(|metas| metas.into_iter().map(|meta| meta.name).collect())
                .unwrap_or_default(),
            ["collection"] => ["create", "list", "rename", "drop", "register-vertices"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            _ => Vec::new(),
        };
        let matching = options
            .into_iter()
            .filter(|option| option.starts_with(word))
            .collect();
        (start, matching)
    }
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, options) = self.candidates(line, pos);
        let pairs = options
            .into_iter()
            .map(|option| Pair {
                display: option.clone(),
                replacement: format!("{option} "),
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}
impl Highlighter for ShellHelper {}
impl Validator for ShellHelper {}
impl Helper for ShellHelper {}

/// What reading a line gave.
pub enum Read {
    /// A line.
    Line(String),
    /// Ctrl-C: drop the line, prompt again.
    Interrupted,
    /// Ctrl-D or end of input.
    End,
}

/// The editor with history loaded.
pub struct LineEditor {
    editor: Editor<ShellHelper, DefaultHistory>,
    history: Option<PathBuf>,
}

impl LineEditor {
    /// An editor completing with `helper`, its history read from `~/.cairn_history`.
    pub fn new(helper: ShellHelper) -> anyhow::Result<LineEditor> {
        LineEditor::with_history(helper, ".cairn_history")
    }

    /// An editor completing with `helper`, its history in `~/<file>`.
    pub fn with_history(helper: ShellHelper, file: &str) -> anyhow::Result<LineEditor> {
        let config = rustyline::Config::builder()
            .max_history_size(MAX_HISTORY_LINES)?
            .auto_add_history(true)
            .build();
        let mut editor = Editor::with_config(config)?;
        editor.set_helper(Some(helper));
        let history = std::env::var_os("HOME").map(|home| PathBuf::from(home).join(file));
        if let Some(path) = &history {
            // A first session has no history file yet.
            let _ = editor.load_history(path);
        }
        Ok(LineEditor { editor, history })
    }

    /// Reads one line at `prompt`.
    pub fn read(&mut self, prompt: &str) -> anyhow::Result<Read> {
        match self.editor.readline(prompt) {
            Ok(line) => Ok(Read::Line(line)),
            Err(ReadlineError::Interrupted) => Ok(Read::Interrupted),
            Err(ReadlineError::Eof) => Ok(Read::End),
            Err(err) => Err(err.into()),
        }
    }
}

impl Drop for LineEditor {
    fn drop(&mut self) {
        if let Some(path) = &self.history {
            // History is a convenience: failing to save it must not fail the session.
            let _ = self.editor.save_history(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_commands_then_collection_names() {
        let db = cairn::open_in_memory().unwrap();
        db.create_collection("patients").unwrap();
        db.create_collection("people").unwrap();
        db.create_collection("jobs").unwrap();
        let helper = ShellHelper::new(vec!["query".into(), "quit".into(), "insert".into()], db);
        assert_eq!(
            helper.candidates("qu", 2),
            (0, vec!["query".into(), "quit".into()])
        );
        assert_eq!(helper.candidates("query pe", 8), (6, vec!["people".into()]));
        assert_eq!(
            helper.candidates("insert p", 8).1,
            vec!["patients".to_string(), "people".to_string()]
        );
        assert!(helper.candidates("query people {", 14).1.is_empty());
    }
}
