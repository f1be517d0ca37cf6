//! `cairn sql`: SQL on the embedded database, one-shot (`-c`), from a script on standard
//! input, or at a prompt with the line editing of `cairn shell` (history in
//! `~/.cairn_sql_history`). A statement ends with `;`; `\q` leaves.

use std::io::{IsTerminal, Read};

use anyhow::Context;
use cairn::Database;
use cairn_sql::SqlSession;

use super::shell_editor::{LineEditor, Read as EditorRead, ShellHelper};

/// Words completed at the start of a statement.
const KEYWORDS: &[&str] = &[
    "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "EXPLAIN", "BEGIN", "COMMIT",
    "ROLLBACK", "SHOW",
];

/// Runs `command`, or standard input, or an interactive prompt.
pub fn run(db: &Database, command: Option<&str>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut session = SqlSession::new(db.clone());
    if let Some(sql) = command {
        return runtime.block_on(execute(&mut session, sql));
    }
    if !std::io::stdin().is_terminal() {
        let mut script = String::new();
        std::io::stdin().read_to_string(&mut script)?;
        return runtime.block_on(execute(&mut session, &script));
    }
    interactive(db, &runtime, &mut session)
}

/// Runs `sql`, printing each result.
async fn execute(session: &mut SqlSession, sql: &str) -> anyhow::Result<()> {
    let mut print = |text: &str| println!("{text}");
    cairn_sql::text::run(session, sql, &mut print)
        .await
        .map_err(|err| anyhow::anyhow!("{err} (SQLSTATE {})", err.sqlstate()))
}

fn interactive(
    db: &Database,
    runtime: &tokio::runtime::Runtime,
    session: &mut SqlSession,
) -> anyhow::Result<()> {
    println!(
        "cairn sql ({} mode). End statements with `;`, `\\q` to leave.",
        db.mode()
    );
    let helper = ShellHelper::new(KEYWORDS.iter().map(|k| k.to_string()).collect(), db.clone());
    let mut editor = LineEditor::with_history(helper, ".cairn_sql_history")?;
    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() {
            "cairn=> "
        } else {
            "cairn-> "
        };
        let line = match editor.read(prompt)? {
            EditorRead::Line(line) => line,
            EditorRead::Interrupted => {
                pending.clear();
                continue;
            }
            EditorRead::End => return Ok(()),
        };
        if pending.is_empty() && matches!(line.trim(), "\\q" | "exit" | "quit") {
            return Ok(());
        }
        pending.push_str(&line);
        pending.push('\n');
        if !line.trim_end().ends_with(';') {
            continue;
        }
        let sql = std::mem::take(&mut pending);
        if let Err(err) = runtime.block_on(execute(session, &sql)) {
            eprintln!("ERROR: {err:#}");
        }
    }
}
