//! SQLite as a benchmark subject: the bundled SQLite in WAL mode with `synchronous=FULL` (every
//! commit fsyncs the WAL before it returns), documents as JSON text in
//! `docs(id BLOB PRIMARY KEY, doc TEXT) WITHOUT ROWID`.

use std::hint::black_box;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{ensure, Context};
use rusqlite::{params, Connection};

use super::subject::{run_lanes, timed, Subject};
use super::workload::Workload;
use super::MIB;

/// Page cache per connection, in KiB (negative `cache_size` means KiB): 1 GiB, the same as
/// Cairn's default page cache, so neither side is starved of memory.
const CACHE_SIZE_KIB: i64 = 1024 * 1024;

/// How long a writer waits for the write lock before giving up: long enough that 16 threads
/// queueing on one lock never time out.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// The table. `WITHOUT ROWID` stores rows in the primary-key B-tree itself, the layout SQLite
/// recommends for non-integer keys (no second index for the id).
pub(crate) const CREATE_TABLE: &str =
    "CREATE TABLE docs (id BLOB PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID";

/// The insert, a prepared statement on every connection.
pub(crate) const INSERT: &str = "INSERT INTO docs (id, doc) VALUES (?1, ?2)";

/// The point read.
const SELECT_BY_ID: &str = "SELECT doc FROM docs WHERE id = ?1";

/// The full scan.
const SELECT_ALL: &str = "SELECT doc FROM docs";

/// The SQLite side of the benchmark.
pub struct SqliteSubject {
    conn: Connection,
    path: PathBuf,
}

impl SqliteSubject {
    /// Creates the database file at `path` (which must not exist) with the benchmark's table.
    pub fn create(path: &Path) -> anyhow::Result<SqliteSubject> {
        ensure!(
            !path.exists(),
            "{} already exists; pass an empty --dir",
            path.display()
        );
        let conn = open(path)?;
        conn.execute_batch(CREATE_TABLE)?;
        Ok(SqliteSubject {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The database file and its WAL and shared-memory companions.
    fn files(&self) -> [PathBuf; 3] {
        let with_suffix = |suffix: &str| {
            let mut name = self.path.clone().into_os_string();
            name.push(suffix);
            PathBuf::from(name)
        };
        [self.path.clone(), with_suffix("-wal"), with_suffix("-shm")]
    }
}

/// Opens a connection with the benchmark's settings, checking that WAL mode took effect.
pub(crate) fn open(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    ensure!(
        mode.eq_ignore_ascii_case("wal"),
        "SQLite refused WAL mode (got {mode})"
    );
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "cache_size", -CACHE_SIZE_KIB)?;
    Ok(conn)
}

/// Inserts each of `docs` (key, JSON) in its own autocommit transaction.
fn insert_each_on(conn: &Connection, docs: &[([u8; 16], String)]) -> anyhow::Result<()> {
    let mut insert = conn.prepare_cached(INSERT)?;
    for (key, json) in docs {
        insert.execute(params![&key[..], json])?;
    }
    Ok(())
}

/// The documents of `indices` in SQLite's form.
fn json_docs(workload: &Workload, indices: &[usize]) -> Vec<([u8; 16], String)> {
    indices
        .iter()
        .map(|&index| (workload.key(index), workload.json_doc(index)))
        .collect()
}

impl Subject for SqliteSubject {
    fn name(&self) -> &'static str {
        "SQLite"
    }

    fn insert_batch(
        &mut self,
        workload: &Workload,
        chunk: Range<usize>,
    ) -> anyhow::Result<Duration> {
        let docs = json_docs(workload, &chunk.collect::<Vec<_>>());
        insert_in_one_transaction(&mut self.conn, &docs)
    }

    fn insert_each(&mut self, workload: &Workload, indices: &[usize]) -> anyhow::Result<Duration> {
        let docs = json_docs(workload, indices);
        let ((), elapsed) = timed(|| insert_each_on(&self.conn, &docs))?;
        Ok(elapsed)
    }

    fn insert_each_concurrently(
        &mut self,
        workload: &Workload,
        lanes: &[Vec<usize>],
    ) -> anyhow::Result<Duration> {
        let path = &self.path;
        run_lanes(
            lanes,
            |lane| Ok((open(path)?, json_docs(workload, lane))),
            |(conn, docs)| insert_each_on(&conn, &docs),
        )
    }

    fn get_each(&mut self, workload: &Workload, picks: &[usize]) -> anyhow::Result<Duration> {
        let keys: Vec<[u8; 16]> = picks.iter().map(|&index| workload.key(index)).collect();
        let ((), elapsed) = timed(|| {
            let mut select = self.conn.prepare_cached(SELECT_BY_ID)?;
            for key in &keys {
                let mut rows = select.query(params![&key[..]])?;
                let row = rows.next()?.context("SQLite lost a document")?;
                // Parse the JSON so SQLite, like Cairn, hands back a usable document.
                let doc: serde_json::Value = serde_json::from_str(row.get_ref(0)?.as_str()?)?;
                black_box(doc);
            }
            Ok(())
        })?;
        Ok(elapsed)
    }

    fn scan(&mut self) -> anyhow::Result<(u64, Duration)> {
        timed(|| {
            let mut select = self.conn.prepare_cached(SELECT_ALL)?;
            let mut rows = select.query([])?;
            let mut count = 0u64;
            while let Some(row) = rows.next()? {
                let doc: serde_json::Value = serde_json::from_str(row.get_ref(0)?.as_str()?)?;
                black_box(doc);
                count += 1;
            }
            Ok(count)
        })
    }

    fn disk_bytes(&mut self) -> anyhow::Result<u64> {
        // Move every WAL frame into the database file and truncate the WAL, so the figure is
        // the table itself rather than how far the last automatic checkpoint got.
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        let mut total = 0;
        for file in self.files() {
            match std::fs::metadata(&file) {
                // Allocated blocks, as for Cairn (see `directory_bytes`).
                Ok(meta) => total += cairn::allocated_bytes(&meta),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(err).with_context(|| format!("reading {}", file.display())),
            }
        }
        Ok(total)
    }

    fn notes(&mut self) -> anyhow::Result<Vec<String>> {
        let page_size: i64 = self
            .conn
            .query_row("PRAGMA page_size", [], |row| row.get(0))?;
        let pages: i64 = self
            .conn
            .query_row("PRAGMA page_count", [], |row| row.get(0))?;
        Ok(vec![format!(
            "SQLite {}: page size {page_size} bytes, {pages} pages ({:.1} MiB)",
            rusqlite::version(),
            (page_size * pages) as f64 / MIB,
        )])
    }
}

/// Inserts `(key, JSON)` rows in one transaction; returns the time it took.
pub(crate) fn insert_in_one_transaction(
    conn: &mut Connection,
    rows: &[([u8; 16], String)],
) -> anyhow::Result<Duration> {
    let ((), elapsed) = timed(|| {
        let txn = conn.transaction()?;
        {
            let mut insert = txn.prepare_cached(INSERT)?;
            for (key, json) in rows {
                insert.execute(params![&key[..], json])?;
            }
        }
        txn.commit()?;
        Ok(())
    })?;
    Ok(elapsed)
}
