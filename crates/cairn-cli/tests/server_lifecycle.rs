//! `cairn serve`: change streams (resume without gaps or duplicates), limits that refuse work
//! while the server keeps serving, and graceful shutdown.

mod server_support;

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::json;
use server_support::{basic, next_event, Server, ROOT_PASSWORD};

#[test]
fn change_stream_resumes_after_disconnect_without_gap_or_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    http.post("/v1/collections", r#"{"name": "feed"}"#);
    http.post("/v1/collections", r#"{"name": "other"}"#);
    let start = http
        .post("/v1/collections/feed/documents", r#"{"_id": 0}"#)
        .json()["seq"]
        .as_u64()
        .unwrap();
    for id in 1..4 {
        http.post(
            "/v1/collections/feed/documents",
            &format!(r#"{{"_id": {id}}}"#),
        );
        http.post(
            "/v1/collections/other/documents",
            &format!(r#"{{"_id": {id}}}"#),
        );
    }
    // One commit with three changes, to resume in the middle of it.
    http.post(
        "/v1/collections/feed/batch",
        r#"{"documents": [{"_id": 4}, {"_id": 5}, {"_id": 6}]}"#,
    );

    let path = format!("/v1/collections/feed/changes?since={}", start - 1);
    let (status, events) = http.changes(&path, None);
    assert_eq!(status, 200);
    let mut seen = Vec::new();
    let mut last_id = String::new();
    for _ in 0..6 {
        let event = next_event(&events);
        assert_eq!(event.event, "change");
        let change = event.json();
        assert_eq!(
            change["collection"], "feed",
            "other collections are filtered out"
        );
        assert_eq!(change["op"], "insert");
        seen.push(change["_id"].as_i64().unwrap());
        last_id = event.id.clone();
    }
    assert!(
        last_id.ends_with(".1"),
        "stopped inside the batch commit: {last_id}"
    );
    drop(events);

    for id in 7..9 {
        http.post(
            "/v1/collections/feed/documents",
            &format!(r#"{{"_id": {id}}}"#),
        );
    }
    let (status, events) = http.changes("/v1/collections/feed/changes", Some(&last_id));
    assert_eq!(status, 200);
    for _ in 0..3 {
        seen.push(next_event(&events).json()["_id"].as_i64().unwrap());
    }
    assert_eq!(
        seen,
        (0..9).collect::<Vec<_>>(),
        "every change exactly once, in order"
    );

    // Live: a write after subscribing arrives too.
    http.put("/v1/collections/feed/documents/3", r#"{"v": 1}"#);
    let update = next_event(&events).json();
    assert_eq!(
        (update["op"].clone(), update["new"]["v"].clone()),
        (json!("update"), json!(1))
    );
    assert_eq!(update["old"], json!({"_id": 3}));
}

#[test]
fn a_trimmed_change_log_is_a_clear_410() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--changelog-retention", "3"]);
    let http = server.root();
    http.post("/v1/collections", r#"{"name": "t"}"#);
    for id in 0..10 {
        http.post(
            "/v1/collections/t/documents",
            &format!(r#"{{"_id": {id}}}"#),
        );
    }
    http.get("/v1/collections/t/changes?since=0")
        .assert_error(410, "change_log_trimmed");
    http.get("/v1/collections/nope/changes")
        .assert_error(404, "collection_not_found");
}

#[test]
fn requests_over_the_concurrency_or_time_limit_are_refused_and_others_still_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &[
            "--max-concurrent-requests",
            "1",
            "--request-timeout-ms",
            // Long enough that, on a loaded machine, the probes below start before the slow
            // request times out (the test waits for events, it never asserts a duration): 4 s
            // was once not enough with a full test run and a CI build sharing the 2 cores. The
            // probe loop below lasts at least 20 s, so the timeout still ends within it.
            "10000",
        ],
    );
    let http = server.root();
    http.post("/v1/collections", r#"{"name": "c"}"#);
    // A request that sends its headers but only part of its body holds the one permit.
    let address = server.url.trim_start_matches("http://").to_string();
    let head = format!(
        "POST /v1/collections/c/documents HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Length: 100\r\n\r\n{{",
        basic("root", ROOT_PASSWORD)
    );
    // The server frees the previous request's permit just after that request's answer, so
    // the slow request may itself be refused: then it is sent again until it holds the permit
    // (no answer within 300 ms).
    let mut slow = TcpStream::connect(&address).unwrap();
    for _ in 0..50 {
        slow.write_all(head.as_bytes()).unwrap();
        slow.set_read_timeout(Some(std::time::Duration::from_millis(300)))
            .unwrap();
        let mut first = [0u8; 12];
        match slow.read(&mut first) {
            Ok(n) if n > 0 && first[..n].starts_with(b"HTTP/1.1 503") => {
                slow = TcpStream::connect(&address).unwrap();
            }
            _ => break,
        }
    }
    slow.set_read_timeout(None).unwrap();
    // Until the slow request times out, others are refused with 503; after it, served again.
    let mut refused = false;
    let mut served_after = false;
    for _ in 0..1000 {
        let reply = http.get("/v1/collections");
        match reply.status {
            503 => {
                reply.assert_error(503, "overloaded");
                refused = true;
            }
            200 if refused => {
                served_after = true;
                break;
            }
            _ => {}
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut answer = String::new();
    if !(refused && served_after) {
        // Say what the slow request got: it should have held the permit until its timeout.
        slow.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let _ = slow.read_to_string(&mut answer);
    }
    assert!(
        refused && served_after,
        "refused: {refused}, served after: {served_after}; the slow request got: {answer:?}"
    );
    slow.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
}

#[test]
fn sigterm_stops_cleanly_and_every_acknowledged_write_survives() {
    for mode in ["persistent", "memory-first"] {
        let dir = tempfile::tempdir().unwrap();
        // A long flush interval: only the shutdown flush can make memory-first writes durable.
        let server = Server::start(
            dir.path(),
            &["--mode", mode, "--flush-interval-ms", "3600000"],
        );
        let http = server.root();
        http.post("/v1/collections", r#"{"name": "d"}"#);
        for id in 0..20 {
            assert_eq!(
                http.post(
                    "/v1/collections/d/documents",
                    &format!(r#"{{"_id": {id}}}"#)
                )
                .status,
                201
            );
        }
        // An open change stream must not hold the shutdown up: the server ends it.
        let (stream_status, events) = http.changes("/v1/collections/d/changes?since=0", None);
        assert_eq!(stream_status, 200);
        assert_eq!(next_event(&events).json()["op"], "create_collection");
        let (status, output) = server.terminate();
        assert_eq!(status.code(), Some(0), "{mode}: {output:?}");
        // Drain what the stream delivered before it ended: it must end, not hang.
        while events.recv().is_ok() {}
        assert!(
            output.iter().any(|line| line.contains("stopped cleanly")),
            "{output:?}"
        );

        let again = Server::start(dir.path(), &[]);
        let http = again.root();
        for id in 0..20 {
            assert_eq!(
                http.get(&format!("/v1/collections/d/documents/{id}"))
                    .status,
                200,
                "{mode}: {id}"
            );
        }
    }
}

#[test]
fn a_command_on_a_folder_the_server_holds_names_the_server_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("--data")
        .arg(dir.path())
        .arg("stats")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("in use by `cairn serve`"), "{stderr}");
    assert!(
        stderr.contains(&format!("pid {}", server.pid())),
        "{stderr}"
    );
    assert!(stderr.contains("HTTP API"), "{stderr}");
    let (status, _) = server.terminate();
    assert_eq!(status.code(), Some(0));
    // A clean stop removes the note: the folder is free and says nothing stale.
    assert!(!dir.path().join("cairn-serve.json").exists());
}
