//! `cairn sql`: SQL on the embedded database, or with `--server` on the SQL port of a running
//! `cairn serve` (PostgreSQL wire protocol, SCRAM-SHA-256 as `--user` with CAIRN_PASSWORD),
//! one-shot (`-c`), from a script on standard input, or at a prompt with the line editing of
//! `cairn shell` (history in `~/.cairn_sql_history`). A statement ends with `;`; `\q` leaves.

use std::io::{IsTerminal, Read};

use anyhow::Context;
use cairn::Database;
use cairn_sql::SqlSession;
use postgres::SimpleQueryMessage;

use super::shell_editor::{LineEditor, Read as EditorRead, ShellHelper};

/// Words completed at the start of a statement.
const KEYWORDS: &[&str] = &[
    "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "EXPLAIN", "BEGIN", "COMMIT",
    "ROLLBACK", "SHOW",
];

/// Where statements run.
trait Runner {
    /// Runs `sql`, printing each result.
    fn execute(&mut self, sql: &str) -> anyhow::Result<()>;
}

/// The embedded database.
struct Local {
    runtime: tokio::runtime::Runtime,
    session: SqlSession,
}

impl Runner for Local {
    fn execute(&mut self, sql: &str) -> anyhow::Result<()> {
        let mut print = |text: &str| println!("{text}");
        self.runtime
            .block_on(cairn_sql::text::run(&mut self.session, sql, &mut print))
            .map_err(|err| anyhow::anyhow!("{err} (SQLSTATE {})", err.sqlstate()))
    }
}

/// A running server's SQL port.
struct Remote {
    client: postgres::Client,
}

impl Runner for Remote {
    fn execute(&mut self, sql: &str) -> anyhow::Result<()> {
        let messages = self
            .client
            .simple_query(sql)
            .map_err(|err| match err.as_db_error() {
                Some(db) => anyhow::anyhow!("{} (SQLSTATE {})", db.message(), db.code().code()),
                None => anyhow::anyhow!("{err}"),
            })?;
        let mut names: Option<Vec<String>> = None;
        let mut rows: Vec<Vec<String>> = Vec::new();
        for message in messages {
            match message {
                SimpleQueryMessage::RowDescription(columns) => {
                    names = Some(columns.iter().map(|c| c.name().to_string()).collect());
                }
                SimpleQueryMessage::Row(row) => {
                    rows.push(
                        (0..row.len())
                            .map(|i| row.get(i).unwrap_or("").to_string())
                            .collect(),
                    );
                }
                SimpleQueryMessage::CommandComplete(n) => match names.take() {
                    Some(names) => {
                        println!("{}", cairn_sql::text::aligned(&names, &rows));
                        rows.clear();
                    }
                    None => println!("OK {n}"),
                },
                _ => {}
            }
        }
        Ok(())
    }
}

/// Runs `command`, or standard input, or an interactive prompt, on the embedded database.
pub fn run(db: &Database, command: Option<&str>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let session = SqlSession::new(db.clone());
    let banner = format!("cairn sql ({} mode)", db.mode());
    drive(
        &mut Local { runtime, session },
        command,
        db.clone(),
        &banner,
    )
}

/// Runs `command`, or standard input, or an interactive prompt, on the server at `address`.
pub fn run_remote(address: &str, user: &str, command: Option<&str>) -> anyhow::Result<()> {
    let (host, port) = parse_address(address)?;
    let password = match std::env::var(super::backup::PASSWORD_ENV) {
        Ok(password) => password,
        Err(_) if std::io::stdin().is_terminal() => {
            rpassword::prompt_password(format!("password for `{user}`: "))?
        }
        Err(_) => anyhow::bail!(
            "--server needs the password of `{user}` in {}",
            super::backup::PASSWORD_ENV
        ),
    };
    let client = postgres::Config::new()
        .host(&host)
        .port(port)
        .user(user)
        .password(password)
        .dbname("cairn")
        .connect(postgres::NoTls)
        .map_err(|err| match err.as_db_error() {
            Some(db) => anyhow::anyhow!("{} (SQLSTATE {})", db.message(), db.code().code()),
            None => anyhow::anyhow!("connecting to {address}: {err}"),
        })?;
    // Completion offers keywords only: the server's tables are not in a local database.
    let helper_db = cairn::open_in_memory()?;
    let banner = format!("cairn sql (server {host}:{port} as {user})");
    drive(&mut Remote { client }, command, helper_db, &banner)
}

/// `HOST:PORT` or `postgres://HOST:PORT[/…]`.
fn parse_address(address: &str) -> anyhow::Result<(String, u16)> {
    let rest = address
        .strip_prefix("postgres://")
        .or_else(|| address.strip_prefix("postgresql://"))
        .unwrap_or(address);
    let authority = rest.split('/').next().unwrap_or(rest);
    let (host, port) = authority.rsplit_once(':').with_context(|| {
        format!("--server {address}: expected HOST:PORT (the --pg-listen address)")
    })?;
    let port = port
        .parse()
        .with_context(|| format!("--server {address}: `{port}` is not a port"))?;
    Ok((host.trim_matches(['[', ']']).to_string(), port))
}

fn drive(
    runner: &mut dyn Runner,
    command: Option<&str>,
    helper_db: Database,
    banner: &str,
) -> anyhow::Result<()> {
    if let Some(sql) = command {
        return runner.execute(sql);
    }
    if !std::io::stdin().is_terminal() {
        let mut script = String::new();
        std::io::stdin().read_to_string(&mut script)?;
        return runner.execute(&script);
    }
    println!("{banner}. End statements with `;`, `\\q` to leave.");
    let helper = ShellHelper::new(KEYWORDS.iter().map(|k| k.to_string()).collect(), helper_db);
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
        if let Err(err) = runner.execute(&sql) {
            eprintln!("ERROR: {err:#}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_address;

    #[test]
    fn server_addresses_parse_and_bad_ones_say_what_is_expected() {
        assert_eq!(
            parse_address("127.0.0.1:5433").unwrap(),
            ("127.0.0.1".into(), 5433)
        );
        assert_eq!(
            parse_address("postgres://db.example:6000/cairn").unwrap(),
            ("db.example".into(), 6000)
        );
        assert_eq!(parse_address("[::1]:5433").unwrap(), ("::1".into(), 5433));
        assert!(parse_address("localhost")
            .unwrap_err()
            .to_string()
            .contains("HOST:PORT"));
        assert!(parse_address("h:x")
            .unwrap_err()
            .to_string()
            .contains("not a port"));
    }
}
