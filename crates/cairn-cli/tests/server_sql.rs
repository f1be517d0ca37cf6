//! `cairn serve --pg-listen`: real `psql` (meta-commands, scripts, wrong passwords) and a
//! PostgreSQL driver (`postgres`: SCRAM-SHA-256, the extended protocol with parameters,
//! transactions, SQLSTATEs, grants) against the real binary.

mod server_support;

use std::process::Command;

use serde_json::json;
use server_support::{Server, ROOT_PASSWORD};

/// The psql binary (CI installs `postgresql-client`).
const PSQL: &str = "psql";

/// The SQL port from the server's banner.
fn pg_port(server: &Server) -> u16 {
    server
        .banner
        .iter()
        .find_map(|line| {
            let rest = line.strip_prefix("sql:")?;
            let words: Vec<&str> = rest.split_whitespace().collect();
            let at = words.iter().position(|w| *w == "-p")?;
            words.get(at + 1)?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no sql line in the banner: {:?}", server.banner))
}

/// Runs psql with `args` as `user`; returns (success, stdout, stderr).
fn psql(port: u16, user: &str, password: &str, args: &[&str]) -> (bool, String, String) {
    psql_with(port, user, password, &[], args)
}

/// [`psql`] with extra environment (`PGSSLMODE`...).
fn psql_with(
    port: u16,
    user: &str,
    password: &str,
    env: &[(&str, &str)],
    args: &[&str],
) -> (bool, String, String) {
    let output = Command::new(PSQL)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            user,
            "-X",
            "cairn",
        ])
        .args(["-v", "ON_ERROR_STOP=1"])
        .args(args)
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "30")
        .envs(env.iter().copied())
        .output()
        .expect("psql runs (install postgresql-client)");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn client(port: u16, user: &str, password: &str) -> Result<postgres::Client, postgres::Error> {
    postgres::Config::new()
        .host("127.0.0.1")
        .port(port)
        .user(user)
        .password(password)
        .dbname("cairn")
        .connect(postgres::NoTls)
}

#[test]
fn psql_runs_statements_and_meta_commands() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--pg-listen", "127.0.0.1:0"]);
    let port = pg_port(&server);
    let (ok, out, err) = psql(
        port,
        "root",
        ROOT_PASSWORD,
        &[
            "-c",
            "CREATE TABLE people (name TEXT NOT NULL, age INT)",
            "-c",
            "CREATE INDEX people_age ON people (age)",
            "-c",
            "INSERT INTO people (_id, name, age) VALUES (1, 'Ada', 36), (2, 'Bob', NULL)",
            "-c",
            "SELECT name, age FROM people ORDER BY name",
            "-c",
            "\\dt",
            "-c",
            "\\d people",
            "-c",
            "\\di",
            "-c",
            "\\l",
        ],
    );
    assert!(ok, "psql failed: {err}\n{out}");
    for expected in [
        "CREATE TABLE",
        "INSERT 0 2",
        " Ada  |  36",
        " public | people | table | root",
        "Table \"public.people\"",
        " name   | text   |           | not null |",
        " age    | bigint |",
        "people_age",
        " cairn | root",
    ] {
        assert!(
            out.contains(expected),
            "psql output lacks {expected:?}:\n{out}"
        );
    }
    // A script with a transaction block, and an error with its SQLSTATE.
    let (ok, out, err) = psql(
        port,
        "root",
        ROOT_PASSWORD,
        &[
            "-c",
            "BEGIN; INSERT INTO people (_id, name) VALUES (3, 'Cy'); ROLLBACK;",
            "-c",
            "SELECT count(*) FROM people",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("     2"),
        "the rolled-back insert is gone:\n{out}"
    );
    let (ok, _out, err) = psql(
        port,
        "root",
        ROOT_PASSWORD,
        &[
            "-c",
            "\\set VERBOSITY verbose",
            "-c",
            "INSERT INTO people (_id, name) VALUES (1, 'dup')",
        ],
    );
    assert!(!ok);
    assert!(err.contains("23505"), "{err}");
    server.terminate();
}

#[test]
fn logins_need_the_right_password() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--pg-listen", "127.0.0.1:0"]);
    let port = pg_port(&server);
    let (ok, _, err) = psql(port, "root", "wrong-password", &["-c", "SELECT 1"]);
    assert!(!ok);
    assert!(
        err.to_lowercase()
            .contains("password authentication failed"),
        "{err}"
    );
    let (ok, _, err) = psql(port, "nobody", ROOT_PASSWORD, &["-c", "SELECT 1"]);
    assert!(!ok);
    assert!(
        err.to_lowercase()
            .contains("password authentication failed"),
        "{err}"
    );
    assert!(client(port, "root", "wrong-password").is_err());
    server.terminate();
}

#[test]
fn a_driver_prepares_binds_and_sees_sqlstates_and_grants() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--pg-listen", "127.0.0.1:0"]);
    let port = pg_port(&server);
    let mut root = client(port, "root", ROOT_PASSWORD).expect("root connects with SCRAM");
    root.batch_execute("CREATE TABLE acct (owner TEXT NOT NULL, balance INT)")
        .unwrap();
    let insert = root
        .prepare("INSERT INTO acct (_id, owner, balance) VALUES ($1, $2, $3)")
        .unwrap();
    for (id, owner, balance) in [("1", "ann", 10i64), ("2", "ben", 20), ("3", "cy", 30)] {
        assert_eq!(root.execute(&insert, &[&id, &owner, &balance]).unwrap(), 1);
    }
    let rows = root
        .query(
            "SELECT owner, balance FROM acct WHERE balance >= $1 ORDER BY owner",
            &[&20i64],
        )
        .unwrap();
    let got: Vec<(String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(got, vec![("ben".to_string(), 20), ("cy".to_string(), 30)]);

    // A transaction through the driver: rolled back, then committed.
    let mut txn = root.transaction().unwrap();
    txn.execute("UPDATE acct SET balance = 0 WHERE owner = 'ann'", &[])
        .unwrap();
    txn.rollback().unwrap();
    let mut txn = root.transaction().unwrap();
    txn.execute("DELETE FROM acct WHERE owner = 'cy'", &[])
        .unwrap();
    txn.commit().unwrap();
    let count: i64 = root
        .query_one("SELECT count(*) FROM acct", &[])
        .unwrap()
        .get(0);
    assert_eq!(count, 2);

    // A duplicate id is a unique violation.
    let err = root.execute(&insert, &[&"1", &"again", &1i64]).unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("23505"), "{err}");

    // A read-only user made over HTTP reads but cannot write.
    let reply = server.root().post(
        "/v1/users",
        &json!({"name": "reader", "password": "reader-password-1", "role": "read-only"})
            .to_string(),
    );
    assert_eq!(reply.status, 201, "{}", reply.text);
    let mut reader = client(port, "reader", "reader-password-1").expect("reader connects");
    let count: i64 = reader
        .query_one("SELECT count(*) FROM acct", &[])
        .unwrap()
        .get(0);
    assert_eq!(count, 2);
    let err = reader
        .batch_execute("INSERT INTO acct (owner) VALUES ('x')")
        .unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("42501"), "{err}");
    server.terminate();
}

#[test]
fn with_tls_configured_the_sql_port_takes_tls_only() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let cert = format!("{fixtures}/tls-cert.pem");
    let key = format!("{fixtures}/tls-key.pem");
    let server = Server::start(
        dir.path(),
        &[
            "--pg-listen",
            "127.0.0.1:0",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ],
    );
    let port = pg_port(&server);
    // sslmode=require: encrypted, and SQL runs.
    let (ok, out, err) = psql_with(
        port,
        "root",
        ROOT_PASSWORD,
        &[("PGSSLMODE", "require")],
        &["-c", "\\conninfo", "-c", "SELECT 40 + 2 AS answer"],
    );
    assert!(ok, "psql over TLS failed: {err}\n{out}");
    assert!(out.contains("SSL connection"), "{out}");
    assert!(out.contains("42"), "{out}");
    // verify-full: the server presents the configured certificate (its name is 127.0.0.1).
    let (ok, out, err) = psql_with(
        port,
        "root",
        ROOT_PASSWORD,
        &[("PGSSLMODE", "verify-full"), ("PGSSLROOTCERT", &cert)],
        &["-c", "SELECT 1"],
    );
    assert!(ok, "psql verify-full failed: {err}\n{out}");
    // Plain text is refused before any password is sent.
    let (ok, out, err) = psql_with(
        port,
        "root",
        ROOT_PASSWORD,
        &[("PGSSLMODE", "disable")],
        &["-c", "SELECT 1"],
    );
    assert!(!ok, "a plain-text login must be refused: {out}");
    assert!(err.contains("accepts only TLS connections"), "{err}");
}

#[test]
fn cairn_sql_with_server_runs_on_the_servers_sql_port_as_a_user() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--pg-listen", "127.0.0.1:0"]);
    let address = format!("127.0.0.1:{}", pg_port(&server));
    let sql = |password: &str, statements: &str| {
        Command::new(server_support::CAIRN)
            .current_dir(dir.path())
            .args([
                "sql", "--server", &address, "--user", "root", "-c", statements,
            ])
            .env("CAIRN_PASSWORD", password)
            .output()
            .expect("cairn sql runs")
    };
    let out = sql(
        ROOT_PASSWORD,
        "CREATE TABLE remote_t (name TEXT NOT NULL, n INT); \
         INSERT INTO remote_t (_id, name, n) VALUES (1, 'one', 1), (2, 'two', 2); \
         SELECT name, n FROM remote_t WHERE n = 2",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" two  | 2"), "{stdout}");
    assert!(stdout.contains("(1 row)"), "{stdout}");
    // The server's rows, seen over HTTP too: the shell wrote into the running server.
    let reply = server.root().get("/v1/collections/remote_t/documents/1");
    assert_eq!(reply.json()["name"], json!("one"));
    // A wrong password is refused with the server's SQLSTATE.
    let out = sql("wrong-password", "SELECT 1");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("28P01"),
        "{:?}",
        out
    );
}

#[test]
fn copy_loads_and_unloads_csv_and_text_through_psql() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--pg-listen", "127.0.0.1:0"]);
    let port = pg_port(&server);
    let (ok, out, err) = psql(
        port,
        "root",
        ROOT_PASSWORD,
        &[
            "-c",
            "CREATE TABLE items (name TEXT NOT NULL, qty BIGINT, emb vector(2))",
        ],
    );
    assert!(ok, "{err}\n{out}");

    // CSV with a header, a quoted delimiter, a quoted empty text, NULLs and a vector.
    let csv = dir.path().join("items.csv");
    std::fs::write(
        &csv,
        "_id,name,qty,emb\n1,\"a, b\",3,\"[1, 0]\"\n2,\"\",,\n3,\"say \"\"hi\"\"\",7,\"[0.5, 0.5]\"\n",
    )
    .unwrap();
    let load = format!(
        "\\copy items FROM '{}' WITH (FORMAT csv, HEADER true)",
        csv.display()
    );
    let (ok, out, err) = psql(port, "root", ROOT_PASSWORD, &["-c", &load]);
    assert!(ok, "{err}\n{out}");
    assert!(out.contains("COPY 3"), "{out}");

    // The text format, into named columns.
    let text = dir.path().join("items.txt");
    std::fs::write(&text, "4\ttab\\there\t\\N\n5\tplain\t9\n").unwrap();
    let load = format!("\\copy items (_id, name, qty) FROM '{}'", text.display());
    let (ok, out, err) = psql(port, "root", ROOT_PASSWORD, &["-c", &load]);
    assert!(ok, "{err}\n{out}");
    assert!(out.contains("COPY 2"), "{out}");

    // Out again as CSV: NULL is an empty field, an empty text is quoted.
    let (ok, out, err) = psql(
        port,
        "root",
        ROOT_PASSWORD,
        &[
            "-c",
            "COPY (SELECT _id, name, qty, emb FROM items ORDER BY _id) TO STDOUT WITH (FORMAT csv, HEADER)",
        ],
    );
    assert!(ok, "{err}\n{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        vec![
            "_id,name,qty,emb",
            "1,\"a, b\",3,\"[1.0,0.0]\"",
            "2,\"\",,",
            "3,\"say \"\"hi\"\"\",7,\"[0.5,0.5]\"",
            "4,tab\there,,",
            "5,plain,9,",
        ],
        "{out}"
    );

    // A bad value or a malformed line stores nothing of its COPY, with the line named.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "6,fine,1,\n7,broken,not-a-number,\n").unwrap();
    let load = format!("\\copy items FROM '{}' WITH (FORMAT csv)", bad.display());
    let (ok, _, err) = psql(port, "root", ROOT_PASSWORD, &["-c", &load]);
    assert!(!ok, "a bad number must fail the COPY");
    assert!(err.contains("not-a-number"), "{err}");
    std::fs::write(&bad, "6,fine,1,\n7,\"open,1,\n").unwrap();
    let (ok, _, err) = psql(port, "root", ROOT_PASSWORD, &["-c", &load]);
    assert!(!ok);
    assert!(
        err.contains("line 2: a quoted field is not closed"),
        "{err}"
    );
    let (ok, out, err) = psql(
        port,
        "root",
        ROOT_PASSWORD,
        &["-A", "-t", "-c", "SELECT count(*) FROM items"],
    );
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "5");

    // Files on the server are not COPY's business.
    let (ok, _, err) = psql(
        port,
        "root",
        ROOT_PASSWORD,
        &["-c", "COPY items FROM '/etc/passwd'"],
    );
    assert!(!ok && err.contains("STDIN"), "{err}");
    server.terminate();
}

#[test]
fn concurrent_sessions_increment_one_row_without_losing_an_update() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--pg-listen", "127.0.0.1:0"]);
    let port = pg_port(&server);
    let mut root = client(port, "root", ROOT_PASSWORD).expect("root connects");
    root.batch_execute(
        "CREATE TABLE counter (n BIGINT NOT NULL); INSERT INTO counter (_id, n) VALUES ('1', 0)",
    )
    .unwrap();
    const SESSIONS: usize = 4;
    const INCREMENTS: usize = 15;
    let retries: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..SESSIONS)
            .map(|_| {
                scope.spawn(move || {
                    let mut session = client(port, "root", ROOT_PASSWORD).expect("connects");
                    let mut retries = 0;
                    for _ in 0..INCREMENTS {
                        // Serializable: a conflicting commit is refused with 40001 and retried,
                        // as an application would.
                        loop {
                            let attempt = session.batch_execute(
                                "BEGIN; UPDATE counter SET n = n + 1 WHERE _id = '1'; COMMIT",
                            );
                            match attempt {
                                Ok(()) => break,
                                Err(e) if e.code().map(|c| c.code()) == Some("40001") => {
                                    retries += 1;
                                    let _ = session.batch_execute("ROLLBACK");
                                }
                                Err(e) => panic!("unexpected error: {e}"),
                            }
                        }
                    }
                    retries
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    let n: i64 = root
        .query_one("SELECT n FROM counter WHERE _id = '1'", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, (SESSIONS * INCREMENTS) as i64, "after {retries} retries");
    server.terminate();
}

#[test]
fn sql_derivations_are_owned_traced_and_listed_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--pg-listen", "127.0.0.1:0"]);
    let port = pg_port(&server);
    let http = server.root();
    // Created over HTTP by root: owned by root.
    let reply = http.post("/v1/collections", r#"{"name": "runs"}"#);
    assert_eq!(reply.status, 201, "{}", reply.text);
    for (id, loss) in [(1, 0.2), (2, 0.9)] {
        let doc = json!({"_id": id, "loss": loss}).to_string();
        assert_eq!(
            http.post("/v1/collections/runs/documents", &doc).status,
            201
        );
    }
    let (ok, out, err) = psql(
        port,
        "root",
        ROOT_PASSWORD,
        &[
            "-c",
            "CREATE TABLE best AS SELECT _id, loss FROM runs WHERE loss < 0.5",
            "-c",
            "INSERT INTO best (loss) SELECT loss FROM runs WHERE loss > 0.5",
        ],
    );
    assert!(ok, "psql failed: {err}\n{out}");
    assert!(out.contains("SELECT 1"), "{out}");

    // The lineage route shows the derivations with their statements, both ways.
    let lineage = http.get("/v1/collections/best/lineage?format=openlineage");
    assert_eq!(lineage.status, 200, "{}", lineage.text);
    let lineage = lineage.json();
    assert_eq!(lineage["upstream"][0]["operation"], "create_table_as");
    assert_eq!(lineage["upstream"][0]["inputs"][0]["name"], "runs");
    assert_eq!(lineage["upstream"][1]["operation"], "insert_select");
    assert!(lineage["openlineage"][0]["job"]["facets"]["sql"]["query"]
        .as_str()
        .is_some_and(|q| q.starts_with("CREATE TABLE best AS SELECT")));
    let fed = http.get("/v1/lineage/runs").json();
    assert_eq!(fed["downstream"].as_array().unwrap().len(), 2, "{fed}");
    http.get("/v1/lineage/a.b")
        .assert_error(400, "invalid_path");
    assert_eq!(
        http.get("/v1/lineage/pg.public.people").json()["downstream"],
        json!([])
    );

    // The catalog: owners (root, over HTTP and SQL), origins, creation time.
    let entries = http.get("/v1/catalog").json()["entries"].clone();
    let best = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "best")
        .unwrap_or_else(|| panic!("{entries}"));
    assert_eq!(best["owner"], "root");
    assert_eq!(best["origins"][0]["inputs"], json!(["runs"]));
    assert!(best["created_at"].as_str().is_some(), "{best}");
    assert_eq!(entries[1]["name"], "runs");
    assert_eq!(entries[1]["owner"], "root");

    // A collection's own retention: a setting read and written over HTTP.
    let unset = http.get("/v1/collections/runs/retention");
    assert_eq!(unset.json(), json!({"changes": null}));
    let set = http.put("/v1/collections/runs/retention", r#"{"changes": 5000000}"#);
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(set.json(), json!({"changes": 5000000}));
    assert_eq!(
        http.get("/v1/collections/runs/retention").json(),
        json!({"changes": 5000000})
    );
    http.put("/v1/collections/nope/retention", r#"{"changes": 3}"#)
        .assert_error(404, "collection_not_found");
    for out_of_range in [r#"{"changes": 0}"#, r#"{"changes": 9223372036854775808}"#] {
        http.put("/v1/collections/runs/retention", out_of_range)
            .assert_error(400, "invalid_retention");
    }
    let reset = http.put("/v1/collections/runs/retention", r#"{"changes": null}"#);
    assert_eq!(reset.json(), json!({"changes": null}));
}

/// The JDBC driver's jar: `$CAIRN_PG_JDBC_JAR`, else Debian's `libpostgresql-jdbc-java`.
fn jdbc_jar() -> std::path::PathBuf {
    std::env::var_os("CAIRN_PG_JDBC_JAR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/usr/share/java/postgresql.jar".into())
}

/// Whether `program --version` runs.
fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// PostgreSQL's JDBC driver (pgjdbc 42.5 from Debian) on a JVM: a small Java program
/// (`tests/fixtures/jdbc/CairnJdbc.java`), compiled with javac into a temporary folder, uses
/// `DatabaseMetaData.getTables/getColumns`, PreparedStatements with parameters, and a
/// transaction rolled back and one committed. Without a JDK or the jar it is skipped, except
/// under CI (which installs them: .ci/run), where it fails.
#[test]
fn the_jdbc_driver_reads_metadata_binds_parameters_and_rolls_back() {
    let jar = jdbc_jar();
    if !runs("javac") || !runs("java") || !jar.exists() {
        let reason = format!(
            "needs javac, java and {} (apt-get install default-jdk-headless libpostgresql-jdbc-java)",
            jar.display()
        );
        assert!(
            std::env::var_os("CI").is_none(),
            "{reason} — CI must install them"
        );
        eprintln!("skipping: {reason}");
        return;
    }
    let classes = tempfile::tempdir().unwrap();
    let source =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jdbc/CairnJdbc.java");
    let compiled = Command::new("javac")
        .arg("-d")
        .arg(classes.path())
        .arg(&source)
        .output()
        .expect("javac runs");
    assert!(
        compiled.status.success(),
        "javac: {}",
        String::from_utf8_lossy(&compiled.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--pg-listen", "127.0.0.1:0"]);
    let port = pg_port(&server);
    let classpath = format!("{}:{}", classes.path().display(), jar.display());
    let output = Command::new("java")
        .args(["-cp", &classpath, "CairnJdbc"])
        .arg(format!("jdbc:postgresql://127.0.0.1:{port}/cairn"))
        .args(["root", ROOT_PASSWORD])
        .output()
        .expect("java runs");
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the JDBC program failed:\n{out}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "product PostgreSQL 15",
            "table public.jdbc_items TABLE",
            // java.sql.Types: VARCHAR 12, BIGINT -5, DOUBLE 8.
            "column 1 _id text 12 nullable=NO",
            "column 2 name text 12 nullable=NO",
            "column 3 n int8 -5 nullable=YES",
            "column 4 x float8 8 nullable=YES",
            "inserted 1",
            "inserted 1",
            "inserted 1",
            "row k1 name1 10 0.25",
            "row k2 name2 20 0.5",
            "row kept committed 50 1.5",
            "rolled back rows 0",
        ],
        "{out}"
    );
}
