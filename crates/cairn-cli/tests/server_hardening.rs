//! `cairn serve` under hostile or unlucky requests (issue 16): errors hyper answers itself
//! carry the JSON error body, responses are capped in bytes, writes take an idempotency key,
//! and backups run through the server while it serves.

mod server_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value as Json};
use server_support::Server;

/// Sends `request` as raw bytes and returns the status and the body of the answer.
fn raw_exchange(server: &Server, request: &[u8]) -> (u16, String) {
    let address = server.url.trim_start_matches("http://").to_string();
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    // The server may answer and close before reading everything; that is what is tested.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).to_string();
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {answer:?}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status: {head}"));
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    (status, body.to_string())
}

fn error_code(body: &str) -> String {
    let body: Json = serde_json::from_str(body).unwrap_or_else(|err| panic!("{err}: {body:?}"));
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not the error shape: {body}"))
        .to_string()
}

#[test]
fn errors_answered_by_the_http_layer_have_the_json_error_body() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--mode", "memory-only"]);
    let long_target = format!("/v1/collections/{}", "a".repeat(70_000));
    let cases = [
        (
            format!("GET {long_target} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes(),
            414,
            "uri_too_long",
        ),
        (
            format!(
                "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                "b".repeat(600_000)
            )
            .into_bytes(),
            431,
            "headers_too_large",
        ),
        (
            b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n".to_vec(),
            400,
            "malformed_request",
        ),
    ];
    for (request, status, code) in cases {
        let (got, body) = raw_exchange(&server, &request);
        assert_eq!((got, error_code(&body).as_str()), (status, code), "{body}");
    }
    // Ordinary answers are untouched.
    let (status, body) = raw_exchange(
        &server,
        b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200, "{body}");
    let _ = json!({});
}

/// Starts a memory-only server with `limits` as its `[limits]` table.
fn start_with_limits(dir: &std::path::Path, limits: &str) -> Server {
    let config = dir.join("cairn.toml");
    std::fs::write(&config, format!("[limits]\n{limits}\n")).unwrap();
    Server::start(
        &dir.join("data"),
        &[
            "--mode",
            "memory-only",
            "--config",
            config.to_str().unwrap(),
        ],
    )
}

#[test]
fn responses_are_capped_in_bytes_and_transactions_in_operations() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with_limits(
        dir.path(),
        "max_document_bytes = 100000\nmax_response_bytes = 300000\nmax_transaction_operations = 50",
    );
    let http = server.root();
    http.post("/v1/collections", r#"{"name": "big"}"#);
    let filler = "x".repeat(90_000);
    for id in 0..10 {
        let doc = json!({"_id": id, "filler": filler}).to_string();
        assert_eq!(http.post("/v1/collections/big/documents", &doc).status, 201);
    }
    // Amplification: a small transaction re-reading one large document.
    let gets: Vec<Json> = (0..20)
        .map(|_| json!({"op": "get", "collection": "big", "id": 1}))
        .collect();
    let reply = http.post(
        "/v1/transactions",
        &json!({ "operations": gets }).to_string(),
    );
    reply.assert_error(413, "limit_exceeded");
    assert_eq!(reply.json()["error"]["details"]["what"], "response_bytes");
    assert_eq!(reply.json()["error"]["details"]["limit"], 300000);
    // Within the limit it still answers.
    let reply = http.post(
        "/v1/transactions",
        &json!({ "operations": [{"op": "get", "collection": "big", "id": 1}] }).to_string(),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    let many: Vec<Json> = (0..51)
        .map(|i| json!({"op": "get", "collection": "big", "id": i}))
        .collect();
    let reply = http.post(
        "/v1/transactions",
        &json!({ "operations": many }).to_string(),
    );
    reply.assert_error(413, "limit_exceeded");
    assert_eq!(
        reply.json()["error"]["details"]["what"],
        "transaction_operations"
    );
    // A query page stops early at the byte budget and its cursor continues it.
    let mut seen = Vec::new();
    let mut body = json!({});
    for _ in 0..20 {
        let reply = http.post("/v1/collections/big/query", &body.to_string());
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert!(reply.text.len() <= 300_000, "{} bytes", reply.text.len());
        let page = reply.json();
        seen.extend(server_support::ids(&page));
        match page["cursor"].as_str() {
            Some(cursor) => body = json!({ "cursor": cursor }),
            None => break,
        }
    }
    assert_eq!(seen, (0..10).collect::<Vec<i64>>());
    // Answers without a cursor are refused whole.
    let reply = http.post(
        "/v1/collections/big/aggregate",
        r#"{"pipeline": [{"$match": {}}]}"#,
    );
    reply.assert_error(413, "limit_exceeded");
}

/// Runs `cairn` with `args` and the root password in the environment; returns stdout, failing
/// the test with stderr when it fails.
fn cairn(args: &[&str]) -> String {
    let output = std::process::Command::new(server_support::CAIRN)
        .args(args)
        .env("CAIRN_PASSWORD", server_support::ROOT_PASSWORD)
        .env_remove("CAIRN_TOKEN")
        .env_remove("CAIRN_DATA")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "cairn {args:?}: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Every `_id` of collection `c`, in order.
fn all_ids(http: &server_support::Http) -> Vec<i64> {
    let reply = http.post("/v1/collections/c/query", r#"{"limit": 100000}"#);
    assert_eq!(reply.status, 200, "{}", reply.text);
    server_support::ids(&reply.json())
}

#[test]
fn backups_through_the_server_while_writers_continue_restore_to_the_same_data() {
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("backups");
    std::fs::create_dir(&root).unwrap();
    let server = Server::start(
        &dir.path().join("data"),
        &["--backup-root", root.to_str().unwrap()],
    );
    let http = server.root();
    http.post("/v1/collections", r#"{"name": "c"}"#);
    let token = http.post("/v1/auth/tokens", "{}").json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let writer = server.client(Some(server_support::bearer(&token)));
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicI64::new(0));
    let writing = {
        let (stop, written) = (stop.clone(), written.clone());
        std::thread::spawn(move || {
            let mut id = 0;
            while !stop.load(Ordering::SeqCst) {
                let doc = json!({"_id": id, "v": "x".repeat(100)}).to_string();
                assert_eq!(writer.post("/v1/collections/c/documents", &doc).status, 201);
                id += 1;
                written.store(id, Ordering::SeqCst);
            }
        })
    };
    let wait_for = |count: i64| {
        while written.load(Ordering::SeqCst) < count {
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait_for(20);
    let out = cairn(&["backup", "--server", &server.url, "nightly"]);
    assert!(out.starts_with("full backup"), "{out}");
    let after_full = written.load(Ordering::SeqCst);
    wait_for(after_full + 20);
    let out = cairn(&[
        "backup",
        "--server",
        &server.url,
        "nightly",
        "--incremental",
    ]);
    assert!(out.starts_with("incremental backup"), "{out}");
    stop.store(true, Ordering::SeqCst);
    writing.join().unwrap();
    cairn(&[
        "backup",
        "--server",
        &server.url,
        "nightly",
        "--incremental",
    ]);
    let expected = all_ids(&http);
    assert_eq!(expected.len() as i64, written.load(Ordering::SeqCst));

    let restored = dir.path().join("restored");
    cairn(&[
        "restore",
        root.join("nightly").to_str().unwrap(),
        "--to",
        restored.to_str().unwrap(),
    ]);
    let copy = Server::start(&restored, &[]);
    assert_eq!(all_ids(&copy.root()), expected);

    // Only plain folders under the root; only admins.
    let reply = http.post("/v1/admin/backup", r#"{"dest": "../outside"}"#);
    reply.assert_error(400, "invalid_request");
    let reply = http.post("/v1/admin/backup", r#"{"dest": "/tmp/x"}"#);
    reply.assert_error(400, "invalid_request");
    http.post(
        "/v1/users",
        r#"{"name": "reader", "password": "reader-password", "role": "read-only"}"#,
    );
    let reader = server.client(Some(server_support::basic("reader", "reader-password")));
    reader
        .post("/v1/admin/backup", r#"{"dest": "mine"}"#)
        .assert_error(403, "forbidden");
    // A server without a backup root takes none.
    copy.root()
        .post("/v1/admin/backup", r#"{"dest": "x"}"#)
        .assert_error(409, "backup_not_configured");
}

#[test]
fn a_write_retried_with_its_idempotency_key_is_applied_once() {
    let dir = tempfile::tempdir().unwrap();
    // A short request timeout, so the large batch below answers 408 while it goes on to
    // commit: exactly the case where a retry without a key would write everything twice.
    let server = start_with_limits(dir.path(), "request_timeout_ms = 300");
    let http = server.root();
    let token = http.post("/v1/auth/tokens", "{}").json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let http = server.client(Some(server_support::bearer(&token)));
    http.post("/v1/collections", r#"{"name": "c"}"#);
    let docs: Vec<Json> = (0..30_000).map(|i| json!({"n": i})).collect();
    let body = json!({ "documents": docs }).to_string();
    let key = [("Idempotency-Key", "load-2026-12-07-a")];
    let mut statuses = Vec::new();
    let mut answer = None;
    for _ in 0..200 {
        let reply = http.send_with("POST", "/v1/collections/c/batch", Some(&body), &key);
        statuses.push(reply.status);
        if reply.status != 408 {
            answer = Some(reply);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let answer = answer.unwrap_or_else(|| panic!("every attempt timed out: {statuses:?}"));
    eprintln!("attempts answered {statuses:?}");
    assert_eq!(answer.status, 200, "{statuses:?}: {}", answer.text);
    let count = loop {
        let reply = http.post("/v1/collections/c/count", "{}");
        if reply.status == 200 {
            break reply.json()["count"].as_u64().unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(count, 30_000, "attempts answered {statuses:?}");
    // Once more: the recorded answer, without writing.
    let again = http.send_with("POST", "/v1/collections/c/batch", Some(&body), &key);
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.replayed.as_deref(), Some("true"));
    assert_eq!(again.json()["ids"], answer.json()["ids"]);
    assert_eq!(again.json()["seq"], answer.json()["seq"]);
    // The same key with another request is refused.
    let other = http.send_with(
        "POST",
        "/v1/collections/c/documents",
        Some(r#"{"n": -1}"#),
        &key,
    );
    other.assert_error(422, "idempotency_key_reused");
    let bad = http.send_with(
        "POST",
        "/v1/collections/c/documents",
        Some(r#"{"n": -1}"#),
        &[("Idempotency-Key", "")],
    );
    bad.assert_error(400, "invalid_idempotency_key");
    // Transactions, CAS and bulk calls take keys too.
    let txn = r#"{"operations": [{"op": "insert", "collection": "c", "document": {"_id": "t"}}]}"#;
    let tkey = [("Idempotency-Key", "txn-1")];
    let first = http.send_with("POST", "/v1/transactions", Some(txn), &tkey);
    assert_eq!(first.status, 200, "{}", first.text);
    let second = http.send_with("POST", "/v1/transactions", Some(txn), &tkey);
    assert_eq!((second.status, second.json()), (200, first.json()));
    let bulk = r#"{"filter": {"_id": "t"}, "patch": {"$inc": {"hits": 1}}}"#;
    let bkey = [("Idempotency-Key", "bulk-1")];
    for _ in 0..3 {
        let reply = http.send_with("POST", "/v1/collections/c/update-many", Some(bulk), &bkey);
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let doc = http.get("/v1/collections/c/documents/t").json();
    assert_eq!(doc["hits"], 1, "{doc}");
}
