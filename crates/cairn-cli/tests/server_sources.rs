//! External sources through the real binary: `cairn source add|list|remove`, `cairn sql` on a
//! source, and `cairn serve`'s `/v1/sources` and `/metrics` — with a password in a URL that
//! must never appear in any output, error, listing or log line.

mod server_support;
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use server_support::ROOT_PASSWORD;
use support::{cairn, run_err, run_ok};

/// The password in the test's PostgreSQL URL.
const SECRET: &str = "Pa55-never-shown";

/// A PostgreSQL URL nothing listens on (port 1): the source is down.
fn down_url() -> String {
    format!("postgres://alice:{SECRET}@127.0.0.1:1/lab")
}

#[test]
fn sources_from_the_command_line_never_print_a_password() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("db");
    let csv = dir.path().join("stations.csv");
    std::fs::write(&csv, "station,city\ns1,Oslo\ns2,Lima\n").unwrap();

    let out = run_ok(cairn(&data).args([
        "source",
        "add",
        "pgdown",
        "--kind",
        "postgres",
        "--url",
        &down_url(),
    ]));
    assert!(out.contains("alice:***@127.0.0.1:1"), "{out}");
    run_ok(
        cairn(&data)
            .args(["source", "add", "lab", "--kind", "csv", "--url"])
            .arg(&csv),
    );

    let (_, err) =
        run_err(cairn(&data).args(["source", "add", "x", "--kind", "mysql", "--url", "/x"]));
    assert!(err.contains("unknown source kind `mysql`"), "{err}");
    let (_, err) = run_err(cairn(&data).args([
        "source",
        "add",
        "pgdown",
        "--kind",
        "postgres",
        "--url",
        &down_url(),
    ]));
    assert!(err.contains("source `pgdown` already exists"), "{err}");
    let (_, err) =
        run_err(cairn(&data).args(["source", "add", "rel", "--kind", "csv", "--url", "data.csv"]));
    assert!(
        err.contains("invalid URL for source `rel`") && err.contains("absolute"),
        "{err}"
    );
    let (_, err) = run_err(cairn(&data).args([
        "source",
        "add",
        "bad",
        "--kind",
        "postgres",
        "--url",
        &format!("mysql://a:{SECRET}@h/d"),
    ]));
    assert!(
        err.contains("invalid URL") && !err.contains(SECRET),
        "{err}"
    );

    let list = run_ok(cairn(&data).args(["source", "list"]));
    assert!(!list.contains(SECRET), "{list}");
    let down = list
        .lines()
        .find(|l| l.starts_with("pgdown"))
        .expect("pgdown listed");
    assert!(down.contains("down") && down.contains("***"), "{down}");
    let up = list
        .lines()
        .find(|l| l.starts_with("lab"))
        .expect("lab listed");
    assert!(up.contains(" up "), "{up}");

    let out = run_ok(cairn(&data).args([
        "sql",
        "-c",
        "SELECT city FROM lab.public.stations WHERE station = 's2'",
    ]));
    assert!(out.contains("Lima") && !out.contains("Oslo"), "{out}");
    // A statement on the down source fails naming it; one that does not touch it runs.
    let (_, err) = run_err(cairn(&data).args(["sql", "-c", "SELECT * FROM pgdown.public.t"]));
    assert!(err.contains("source `pgdown` is unavailable"), "{err}");
    assert!(!err.contains(SECRET), "{err}");
    run_ok(cairn(&data).args(["sql", "-c", "SELECT count(*) FROM lab.public.stations"]));

    run_ok(cairn(&data).args(["source", "remove", "lab"]));
    let (_, err) = run_err(cairn(&data).args(["source", "remove", "lab"]));
    assert!(err.contains("unknown source `lab`"), "{err}");
}

#[test]
fn v1_sources_lists_adds_removes_and_shows_health_in_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("db");
    let csv = dir.path().join("stations.csv");
    std::fs::write(&csv, "station,city\ns1,Oslo\n").unwrap();
    run_ok(cairn(&data).args([
        "source",
        "add",
        "pgdown",
        "--kind",
        "postgres",
        "--url",
        &down_url(),
    ]));

    // The server's log (debug level) goes to a file the test reads at the end.
    let log = dir.path().join("serve.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("--data")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0", "--log", "debug"])
        .env_remove("CAIRN_DATA")
        .env_remove("CAIRN_MODE")
        .env("CAIRN_ROOT_PASSWORD", ROOT_PASSWORD)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut url = None;
    for line in stdout.lines().map_while(Result::ok) {
        if let Some(rest) = line.strip_prefix("cairn serve: listening on ") {
            url = rest.split_whitespace().next().map(str::to_string);
            break;
        }
    }
    let url = url.expect("the server's address");
    let http = server_support::Http::new(&url, Some(server_support::basic("root", ROOT_PASSWORD)));
    let call = |method: &str, path: &str, body: Option<serde_json::Value>| {
        let body = body.map(|b| b.to_string());
        let reply = http.send(method, path, body.as_deref());
        assert!(
            !reply.text.contains(SECRET),
            "{method} {path}: {}",
            reply.text
        );
        (reply.status, reply.text)
    };

    let (status, text) = call(
        "POST",
        "/v1/sources",
        Some(serde_json::json!({"name": "lab", "kind": "csv", "url": csv.display().to_string()})),
    );
    assert_eq!(status, 201, "{text}");
    let created: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(created["status"], "up", "{text}");
    assert_eq!(created["tables"], serde_json::json!(["public.stations"]));

    // The schedule checks every source at start: pgdown is down, its error shown redacted.
    let deadline = Instant::now() + Duration::from_secs(60);
    let listed = loop {
        let (status, text) = call("GET", "/v1/sources", None);
        assert_eq!(status, 200, "{text}");
        let listed: serde_json::Value = serde_json::from_str(&text).unwrap();
        let pgdown = listed["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "pgdown")
            .cloned()
            .unwrap();
        if pgdown["status"] != "unknown" || Instant::now() > deadline {
            break pgdown;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(listed["status"], "down", "{listed}");
    assert_eq!(listed["url"], "postgres://alice:***@127.0.0.1:1/lab");
    assert!(listed["error"]
        .as_str()
        .unwrap()
        .contains("source `pgdown` is unavailable"));

    let (status, metrics) = call("GET", "/metrics", None);
    assert_eq!(status, 200);
    assert!(
        metrics.contains("cairn_source_up{source=\"pgdown\",kind=\"postgres\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("cairn_source_up{source=\"lab\",kind=\"csv\"} 1"),
        "{metrics}"
    );

    let (status, text) = call(
        "POST",
        "/v1/sources",
        Some(serde_json::json!({"name": "pgdown", "kind": "postgres", "url": down_url()})),
    );
    assert_eq!(status, 409, "{text}");
    assert!(text.contains("source_exists"));
    let (status, text) = call(
        "POST",
        "/v1/sources",
        Some(serde_json::json!({"name": "x", "kind": "mysql", "url": "/x"})),
    );
    assert_eq!(status, 400, "{text}");
    assert!(
        text.contains("invalid_source") && text.contains("mysql"),
        "{text}"
    );
    let (status, text) = call("DELETE", "/v1/sources/nosuch", None);
    assert_eq!(status, 404, "{text}");
    assert!(text.contains("source_not_found"));
    assert_eq!(call("DELETE", "/v1/sources/lab", None).0, 204);

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("pgdown"),
        "the health check logged nothing: {logged}"
    );
    assert!(!logged.contains(SECRET), "a password in the log:\n{logged}");
}
