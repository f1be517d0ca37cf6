//! `cairn serve`: the authentication and authorization defects of the hardening probe (issue
//! 16), each reproduced exactly: tokens of a deleted user, wrong-password floods, references
//! inside arrays in a migration dry run, change streams after revocation, revocations undone
//! by a crash in memory-first mode, `/metrics` for everyone, and token renewal.

mod server_support;

use std::process::Command;

use server_support::{basic, bearer, next_event, Server, ROOT_PASSWORD};

/// A token issued to `client`'s user (`ttl_seconds` when given).
fn token(client: &server_support::Http, ttl_seconds: Option<u64>) -> (String, String) {
    let body = ttl_seconds.map_or(String::new(), |s| format!(r#"{{"ttl_seconds": {s}}}"#));
    let issued = client.post("/v1/auth/tokens", &body);
    assert_eq!(issued.status, 201, "{}", issued.text);
    let json = issued.json();
    (
        json["token"].as_str().unwrap().to_string(),
        json["expires_at"].as_str().unwrap().to_string(),
    )
}

#[test]
fn a_deleted_users_token_never_works_for_a_new_user_of_that_name() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let root = server.root();
    let created = root.post(
        "/v1/users",
        r#"{"name":"alice","password":"alice-old-pw","role":"read-write"}"#,
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let (old_token, _) = token(&server.client(Some(basic("alice", "alice-old-pw"))), None);
    assert_eq!(root.delete("/v1/users/alice").status, 204);
    let created = root.post(
        "/v1/users",
        r#"{"name":"alice","password":"new-owner-pw-1","role":"admin"}"#,
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let with_old_token = server.client(Some(bearer(&old_token)));
    with_old_token
        .get("/v1/auth/me")
        .assert_error(401, "unauthorized");
    with_old_token
        .post(
            "/v1/users",
            r#"{"name":"mallory","password":"mallory-pw-1","role":"admin"}"#,
        )
        .assert_error(401, "unauthorized");
}

#[test]
fn wrong_password_floods_get_429_while_known_credentials_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let root = server.root();
    // Verified once: remembered, so the flood below does not lock root out.
    assert_eq!(root.get("/v1/auth/me").status, 200);
    let (root_token, _) = token(&root, None);
    let guesser = server.client(Some(basic("root", "not-the-password")));
    let mut statuses = Vec::new();
    let mut throttled = None;
    for _ in 0..100 {
        let reply = guesser.get("/v1/collections");
        statuses.push(reply.status);
        if reply.status == 429 {
            throttled = Some(reply);
            break;
        }
        reply.assert_error(401, "unauthorized");
    }
    let throttled = throttled.unwrap_or_else(|| panic!("no 429 after {statuses:?}"));
    throttled.assert_error(429, "too_many_login_failures");
    let wait: u64 = throttled
        .retry_after
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After: {throttled:?}"));
    assert!(wait >= 1);
    assert!(statuses.len() <= 11, "{statuses:?}");
    // Other user names from the same address are throttled too (the address is), ...
    server
        .client(Some(basic("ghost", "whatever-pass")))
        .get("/v1/collections")
        .assert_error(429, "too_many_login_failures");
    // ... but a password verified before and a bearer token still work.
    assert_eq!(root.get("/v1/collections").status, 200);
    assert_eq!(
        server
            .client(Some(bearer(&root_token)))
            .get("/v1/collections")
            .status,
        200
    );
}

#[test]
fn a_migration_dry_run_needs_read_access_to_collections_referenced_inside_arrays() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let root = server.root();
    for name in ["pub", "secret"] {
        root.post("/v1/collections", &format!(r#"{{"name": "{name}"}}"#));
    }
    root.post("/v1/collections/secret/documents", r#"{"_id": 1}"#);
    root.post(
        "/v1/collections/pub/documents",
        r#"{"_id": 1, "refs": [1, 2]}"#,
    );
    root.post(
        "/v1/users",
        r#"{"name":"scoped","password":"scoped-password","role":"none","grants":{"pub":"read-write"}}"#,
    );
    let scoped = server.client(Some(basic("scoped", "scoped-password")));
    let body = r#"{"migration":{"schema":{"fields":{"refs":{"type":"array","items":{"type":"int","references":{"collection":"secret"}}}}}},"dry_run":true}"#;
    scoped
        .post("/v1/collections/pub/schema/migrations", body)
        .assert_error(403, "forbidden");
    // Deeper too: a map of arrays.
    let deep = r#"{"migration":{"schema":{"fields":{"m":{"type":"map","values":{"type":"array","items":{"type":"int","references":{"collection":"secret"}}}}}}},"dry_run":true}"#;
    scoped
        .post("/v1/collections/pub/schema/migrations", deep)
        .assert_error(403, "forbidden");
    // And setting such a schema directly.
    let schema = r#"{"fields":{"refs":{"type":"array","items":{"type":"int","references":{"collection":"secret"}}}}}"#;
    scoped
        .put("/v1/collections/pub/schema", schema)
        .assert_error(403, "forbidden");
}

#[test]
fn change_streams_end_when_their_token_is_revoked_or_their_user_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let root = server.root();
    root.post("/v1/collections", r#"{"name": "feed"}"#);
    root.post(
        "/v1/users",
        r#"{"name":"watcher","password":"watcher-password","role":"read-only"}"#,
    );
    let watcher = server.client(Some(basic("watcher", "watcher-password")));
    let (watch_token, _) = token(&watcher, None);
    let with_token = server.client(Some(bearer(&watch_token)));

    let (status, by_token) = with_token.changes("/v1/collections/feed/changes", None);
    assert_eq!(status, 200);
    let (status, by_password) = watcher.changes("/v1/collections/feed/changes", None);
    assert_eq!(status, 200);
    root.post("/v1/collections/feed/documents", r#"{"_id": 1}"#);
    assert_eq!(next_event(&by_token).event, "change");
    assert_eq!(next_event(&by_password).event, "change");

    // Revoked while idle: the stream ends at once with a 401 body, before any later change.
    assert_eq!(with_token.delete("/v1/auth/tokens/current").status, 204);
    let ended = next_event(&by_token);
    assert_eq!(ended.event, "error", "{ended:?}");
    assert_eq!(ended.json()["error"]["code"], "unauthorized");
    root.post("/v1/collections/feed/documents", r#"{"_id": 2}"#);
    assert_eq!(next_event(&by_password).json()["_id"], 2);
    assert!(by_token
        .recv_timeout(std::time::Duration::from_secs(2))
        .is_err());

    // The password user's stream ends when the user is deleted.
    assert_eq!(root.delete("/v1/users/watcher").status, 204);
    root.post("/v1/collections/feed/documents", r#"{"_id": 3}"#);
    let ended = next_event(&by_password);
    assert_eq!(ended.event, "error", "{ended:?}");
    assert_eq!(ended.json()["error"]["code"], "unauthorized");
}

#[test]
fn a_lost_grant_ends_a_change_stream_with_403() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let root = server.root();
    root.post("/v1/collections", r#"{"name": "feed"}"#);
    root.post(
        "/v1/users",
        r#"{"name":"watcher","password":"watcher-password","role":"read-only"}"#,
    );
    let watcher = server.client(Some(basic("watcher", "watcher-password")));
    let (status, events) = watcher.changes("/v1/collections/feed/changes", None);
    assert_eq!(status, 200);
    let changed = root.patch("/v1/users/watcher", r#"{"grants": {"feed": "none"}}"#);
    assert_eq!(changed.status, 200, "{}", changed.text);
    root.post("/v1/collections/feed/documents", r#"{"_id": 1}"#);
    let ended = next_event(&events);
    assert_eq!(ended.event, "error", "{ended:?}");
    assert_eq!(ended.json()["error"]["code"], "forbidden");
}

#[test]
fn revocations_and_user_deletions_survive_a_crash_in_memory_first_mode() {
    let dir = tempfile::tempdir().unwrap();
    // An hour: only an explicit flush can make a commit durable before the kill.
    let memory_first = ["--mode", "memory-first", "--flush-interval-ms", "3600000"];
    let server = Server::start(dir.path(), &memory_first);
    let root = server.root();
    root.post(
        "/v1/users",
        r#"{"name":"bob","password":"bob-password","role":"admin"}"#,
    );
    let (root_token, _) = token(&root, None);
    let (bob_token, _) = token(&server.client(Some(basic("bob", "bob-password"))), None);
    // A clean stop flushes: both tokens are durable from here on.
    let (status, _) = server.terminate();
    assert!(status.success());

    let server = Server::start(dir.path(), &memory_first);
    let with_root_token = server.client(Some(bearer(&root_token)));
    assert_eq!(with_root_token.get("/v1/auth/me").status, 200);
    assert_eq!(
        with_root_token.delete("/v1/auth/tokens/current").status,
        204
    );
    assert_eq!(server.root().delete("/v1/users/bob").status, 204);
    let status = Command::new("kill")
        .args(["-KILL", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    drop(server);

    let server = Server::start(dir.path(), &memory_first);
    server
        .client(Some(bearer(&root_token)))
        .get("/v1/auth/me")
        .assert_error(401, "unauthorized");
    server
        .client(Some(bearer(&bob_token)))
        .get("/v1/auth/me")
        .assert_error(401, "unauthorized");
    server
        .client(Some(basic("bob", "bob-password")))
        .get("/v1/auth/me")
        .assert_error(401, "unauthorized");
    assert_eq!(
        server
            .client(Some(basic("root", ROOT_PASSWORD)))
            .get("/v1/auth/me")
            .status,
        200
    );
}

#[test]
fn metrics_need_an_admin_or_the_loopback_metrics_listener() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--metrics-listen", "127.0.0.1:0"]);
    let root = server.root();
    root.post("/v1/collections", r#"{"name": "private_plans"}"#);
    for (name, role) in [("nobody", "none"), ("reader", "read-only")] {
        root.post(
            "/v1/users",
            &format!(r#"{{"name":"{name}","password":"{name}-password","role":"{role}"}}"#),
        );
        server
            .client(Some(basic(name, &format!("{name}-password"))))
            .get("/metrics")
            .assert_error(403, "forbidden");
    }
    assert_eq!(root.get("/metrics").status, 200);

    let address = server
        .banner
        .iter()
        .find_map(|line| line.strip_prefix("metrics:      http://"))
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no metrics address in {:?}", server.banner))
        .to_string();
    let scrape = server_support::agent(None)
        .get(&format!("http://{address}/metrics"))
        .call()
        .unwrap();
    assert_eq!(scrape.status().as_u16(), 200);
    let text = scrape.into_body().read_to_string().unwrap();
    assert!(
        text.contains("cairn_collection_documents{collection=\"private_plans\"} 0"),
        "{text}"
    );
    let other = server_support::agent(None)
        .get(&format!("http://{address}/v1/collections"))
        .call()
        .unwrap();
    assert_eq!(
        other.status().as_u16(),
        404,
        "only /metrics is served there"
    );
}

#[test]
fn a_token_minted_with_a_token_expires_no_later_than_its_parent() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let (parent, parent_expires) = token(&server.root(), Some(60));
    let with_parent = server.client(Some(bearer(&parent)));
    let (child, child_expires) = token(&with_parent, Some(2_592_000));
    assert_eq!(child_expires, parent_expires);
    let (_, grandchild_expires) = token(&server.client(Some(bearer(&child))), None);
    assert_eq!(grandchild_expires, parent_expires);
    // With a password, a fresh lifetime as asked.
    let (_, fresh) = token(&server.root(), Some(2_592_000));
    assert!(fresh > parent_expires, "{fresh} vs {parent_expires}");
}
