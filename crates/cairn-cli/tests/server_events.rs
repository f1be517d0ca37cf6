//! `cairn serve`: the event log's pull API. A consumer's position lives in the database, so a
//! consumer pulling and acknowledging across a clean restart and a crash of the server sees
//! every event of its collection exactly once; unacknowledged events come again.

mod server_support;

use serde_json::{json, Value as Json};
use server_support::{basic, Http, Server};

/// Pulls one page of `etl`'s events: their `_id`s and the position to acknowledge.
fn pull(http: &Http, max: usize) -> (Vec<i64>, Json) {
    let reply = http.get(&format!("/v1/consumers/etl/events?max={max}"));
    assert_eq!(reply.status, 200, "{}", reply.text);
    let page = reply.json();
    assert_eq!(page["format"], 1);
    let ids = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            assert_eq!(event["format"], 1);
            assert_eq!(event["collection"], "t");
            event["_id"].as_i64().unwrap()
        })
        .collect();
    (ids, page["next"].clone())
}

fn ack(http: &Http, next: &Json) -> Json {
    let reply = http.post("/v1/consumers/etl/ack", &next.to_string());
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

fn insert(http: &Http, collection: &str, id: i64) {
    let reply = http.post(
        &format!("/v1/collections/{collection}/documents"),
        &json!({"_id": id, "v": id}).to_string(),
    );
    assert_eq!(reply.status, 201, "{}", reply.text);
}

#[test]
fn a_consumer_resumes_across_restart_and_crash_and_sees_each_acknowledged_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    for name in ["t", "other"] {
        let reply = http.post("/v1/collections", &json!({ "name": name }).to_string());
        assert_eq!(reply.status, 201, "{}", reply.text);
    }
    insert(&http, "t", -1); // before the consumer: never delivered
    let created = http.post("/v1/consumers", r#"{"name": "etl", "collection": "t"}"#);
    assert_eq!(created.status, 201, "{}", created.text);
    for id in 0..5 {
        insert(&http, "t", id);
        insert(&http, "other", id);
    }
    let mut consumed = Vec::new();

    let (first, next) = pull(&http, 2);
    assert_eq!(first, [0, 1]);
    // Not acknowledged: delivered again.
    assert_eq!(pull(&http, 2).0, [0, 1]);
    assert_eq!(ack(&http, &next)["moved"], true);
    // A retried acknowledgement is harmless.
    assert_eq!(ack(&http, &next)["moved"], false);
    consumed.extend(first);
    // Pulled but not acknowledged before the restart: delivered again after it.
    assert_eq!(pull(&http, 2).0, [2, 3]);

    let (status, _) = server.terminate();
    assert!(status.success());
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    let (second, next) = pull(&http, 2);
    assert_eq!(second, [2, 3]);
    ack(&http, &next);
    consumed.extend(second);

    // A crash right after the acknowledgement was answered loses nothing.
    server.crash();
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    let (third, next) = pull(&http, 100);
    assert_eq!(third, [4]);
    let acked = ack(&http, &next);
    consumed.extend(third);
    assert_eq!(pull(&http, 100).0, Vec::<i64>::new());
    assert_eq!(consumed, [0, 1, 2, 3, 4]);

    let view = http.get("/v1/consumers/etl").json();
    assert_eq!(view["collection"], "t");
    // The stored position is the last acknowledged one; only the acknowledgement's own commit
    // (Cairn's `_sys_consumers`) lies after it.
    assert_eq!(view["position"], acked["position"], "{view}");
    assert!(view["commits_behind"].as_u64().unwrap() >= 1, "{view}");
    let list = http.get("/v1/consumers").json();
    assert_eq!(list["consumers"][0]["name"], "etl");
}

#[test]
fn consumer_errors_are_typed_and_access_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    assert_eq!(http.post("/v1/collections", r#"{"name": "t"}"#).status, 201);
    assert_eq!(
        http.post("/v1/consumers", r#"{"name": "etl", "collection": "t"}"#)
            .status,
        201
    );
    http.post("/v1/consumers", r#"{"name": "etl", "collection": "t"}"#)
        .assert_error(409, "consumer_exists");
    http.post("/v1/consumers", r#"{"name": "x", "collection": "missing"}"#)
        .assert_error(404, "collection_not_found");
    http.post(
        "/v1/consumers",
        r#"{"name": "x", "collection": "_sys_users"}"#,
    )
    .assert_error(403, "reserved_collection");
    http.post("/v1/consumers", r#"{"name": "x", "from_seq": 999999}"#)
        .assert_error(422, "from_beyond_log");
    http.get("/v1/consumers/nobody/events")
        .assert_error(404, "consumer_not_found");
    http.get("/v1/consumers/etl/events?max=0")
        .assert_error(400, "invalid_query");
    http.post("/v1/consumers/etl/ack", r#"{"seq": 999999}"#)
        .assert_error(422, "ack_beyond_log");

    // A user without access to `t` cannot see, pull or move its consumer, nor follow every
    // collection.
    let reply = http.post(
        "/v1/users",
        r#"{"name": "outsider", "password": "outsider-password", "role": "none"}"#,
    );
    assert_eq!(reply.status, 201, "{}", reply.text);
    let outsider = server.client(Some(basic("outsider", "outsider-password")));
    outsider
        .get("/v1/consumers/etl/events")
        .assert_error(403, "forbidden");
    outsider
        .post("/v1/consumers/etl/ack", r#"{"seq": 1}"#)
        .assert_error(403, "forbidden");
    outsider
        .post("/v1/consumers", r#"{"name": "all"}"#)
        .assert_error(403, "forbidden");
    assert_eq!(outsider.get("/v1/consumers").json()["consumers"], json!([]));

    assert_eq!(http.delete("/v1/consumers/etl").status, 204);
    http.get("/v1/consumers/etl")
        .assert_error(404, "consumer_not_found");
}

/// Runs `cairn consumer --server URL ARGS` as root; returns (success, stdout, stderr).
fn consumer_cli(server: &Server, args: &[&str]) -> (bool, String, String) {
    let output = std::process::Command::new(server_support::CAIRN)
        .args(["consumer", "--server", &server.url])
        .args(args)
        .env_remove("CAIRN_TOKEN")
        .env_remove("CAIRN_USER")
        .env("CAIRN_PASSWORD", server_support::ROOT_PASSWORD)
        .output()
        .expect("running cairn consumer");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_cli_pulls_and_acknowledges_through_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    assert_eq!(http.post("/v1/collections", r#"{"name": "t"}"#).status, 201);
    let (ok, _, err) = consumer_cli(&server, &["create", "etl", "--collection", "t"]);
    assert!(ok, "{err}");
    for id in 0..3 {
        insert(&http, "t", id);
    }
    let ids = |out: &str| -> Vec<i64> {
        out.lines()
            .map(|line| {
                serde_json::from_str::<Json>(line).unwrap()["_id"]
                    .as_i64()
                    .unwrap()
            })
            .collect()
    };
    let (ok, out, err) = consumer_cli(&server, &["pull", "etl", "--max", "2", "--ack"]);
    assert!(ok, "{err}");
    assert_eq!(ids(&out), [0, 1]);
    assert!(err.contains("more events are waiting"), "{err}");
    let (ok, out, _) = consumer_cli(&server, &["pull", "etl", "--ack"]);
    assert!(ok);
    assert_eq!(ids(&out), [2]);
    let (ok, out, _) = consumer_cli(&server, &["pull", "etl"]);
    assert!(ok);
    assert_eq!(ids(&out), Vec::<i64>::new());
    let (ok, out, _) = consumer_cli(&server, &["list"]);
    assert!(ok);
    assert!(out.contains("\"etl\""), "{out}");
    let (ok, _, err) = consumer_cli(&server, &["pull", "nobody"]);
    assert!(!ok);
    assert!(err.contains("consumer_not_found"), "{err}");
}
