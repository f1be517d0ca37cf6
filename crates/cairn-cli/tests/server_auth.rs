//! `cairn serve`: authentication (Basic, tokens), roles, per-collection grants, the first
//! `root` user, TLS.

mod server_support;

use serde_json::json;
use server_support::{agent, basic, bearer, Server, CAIRN, ROOT_PASSWORD};

#[test]
fn requests_without_valid_credentials_are_401() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let anonymous = server.client(None);
    let reply = anonymous.get("/v1/collections");
    reply.assert_error(401, "unauthorized");
    assert!(reply.www_authenticate.unwrap().contains("Basic"));
    server
        .client(Some(basic("root", "wrong-password")))
        .get("/v1/collections")
        .assert_error(401, "unauthorized");
    server
        .client(Some(basic("ghost", "whatever-pass")))
        .get("/v1/collections")
        .assert_error(401, "unauthorized");
    server
        .client(Some("Bearer cairn_forged".to_string()))
        .get("/v1/collections")
        .assert_error(401, "unauthorized");
    server
        .client(Some("Digest abc".to_string()))
        .get("/v1/collections")
        .assert_error(401, "unauthorized");
}

#[test]
fn roles_and_per_collection_grants_decide_what_a_user_may_do() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let root = server.root();
    for name in ["jobs", "secret", "public"] {
        root.post("/v1/collections", &format!(r#"{{"name": "{name}"}}"#));
        root.post(
            &format!("/v1/collections/{name}/documents"),
            r#"{"_id": 1}"#,
        );
    }
    let created = root.post(
        "/v1/users",
        r#"{"name": "reader", "password": "reader-password", "role": "read-only", "grants": {"jobs": "read-write"}}"#,
    );
    assert_eq!(created.status, 201, "{}", created.text);
    root.post(
        "/v1/users",
        r#"{"name": "writer", "password": "writer-password", "role": "read-write", "grants": {"secret": "none"}}"#,
    );
    root.post(
        "/v1/users",
        r#"{"name": "writer", "password": "writer-password", "role": "admin"}"#,
    )
    .assert_error(409, "user_exists");
    root.post(
        "/v1/users",
        r#"{"name": "short", "password": "x", "role": "admin"}"#,
    )
    .assert_error(400, "invalid_password");

    let reader = server.client(Some(basic("reader", "reader-password")));
    assert_eq!(reader.get("/v1/collections/public/documents/1").status, 200);
    reader
        .post("/v1/collections/public/documents", "{}")
        .assert_error(403, "forbidden");
    assert_eq!(
        reader.post("/v1/collections/jobs/documents", "{}").status,
        201
    );
    reader.get("/v1/users").assert_error(403, "forbidden");
    reader
        .post("/v1/collections", r#"{"name": "new"}"#)
        .assert_error(403, "forbidden");

    let writer = server.client(Some(basic("writer", "writer-password")));
    writer
        .get("/v1/collections/secret/documents/1")
        .assert_error(403, "forbidden");
    let listed = writer.get("/v1/collections").json();
    let names: Vec<_> = listed["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].clone())
        .collect();
    assert_eq!(
        names,
        vec![json!("jobs"), json!("public")],
        "hidden: what the user cannot read"
    );
    assert_eq!(
        writer.post("/v1/collections", r#"{"name": "new"}"#).status,
        201
    );
    // A transaction needs every collection it touches.
    writer
        .post(
            "/v1/transactions",
            r#"{"operations": [{"op": "insert", "collection": "jobs", "document": {}}, {"op": "get", "collection": "secret", "id": 1}]}"#,
        )
        .assert_error(403, "forbidden");
    writer
        .get("/v1/collections/secret/changes")
        .assert_error(403, "forbidden");
}

#[test]
fn admins_manage_users_and_changes_apply_to_the_next_request() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let root = server.root();
    root.post("/v1/collections", r#"{"name": "secret"}"#);
    root.post("/v1/collections/secret/documents", r#"{"_id": 1}"#);
    for user in [
        r#"{"name": "reader", "password": "reader-password", "role": "read-only"}"#,
        r#"{"name": "writer", "password": "writer-password", "role": "read-write", "grants": {"secret": "none"}}"#,
    ] {
        assert_eq!(root.post("/v1/users", user).status, 201);
    }
    let reader = server.client(Some(basic("reader", "reader-password")));
    let writer = server.client(Some(basic("writer", "writer-password")));
    writer
        .get("/v1/collections/secret/documents/1")
        .assert_error(403, "forbidden");
    // Admins change grants; the change applies to the next request.
    let updated = root.patch("/v1/users/writer", r#"{"grants": {}}"#);
    assert_eq!(
        updated.json(),
        json!({"name": "writer", "role": "read-write", "grants": {}})
    );
    assert_eq!(writer.get("/v1/collections/secret/documents/1").status, 200);
    assert_eq!(
        root.get("/v1/users").json()["users"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(root.get("/v1/users/reader").json()["role"], "read-only");
    root.get("/v1/users/nobody")
        .assert_error(404, "user_not_found");
    root.delete("/v1/users/root")
        .assert_error(409, "cannot_delete_self");
    assert_eq!(root.delete("/v1/users/reader").status, 204);
    reader
        .get("/v1/collections")
        .assert_error(401, "unauthorized");
}

#[test]
fn bearer_tokens_work_until_revoked_or_the_password_changes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let root = server.root();
    root.post(
        "/v1/users",
        r#"{"name": "svc", "password": "svc-password", "role": "read-only"}"#,
    );
    let svc = server.client(Some(basic("svc", "svc-password")));
    let issued = svc.post("/v1/auth/tokens", "");
    assert_eq!(issued.status, 201, "{}", issued.text);
    let token = issued.json()["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("cairn_"));
    let with_token = server.client(Some(bearer(&token)));
    assert_eq!(with_token.get("/v1/auth/me").json()["name"], "svc");
    assert_eq!(with_token.get("/v1/collections").status, 200);

    root.patch("/v1/users/svc", r#"{"password": "new-svc-password"}"#);
    with_token
        .get("/v1/collections")
        .assert_error(401, "unauthorized");

    let svc = server.client(Some(basic("svc", "new-svc-password")));
    let token = svc.post("/v1/auth/tokens", r#"{"ttl_seconds": 60}"#).json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let with_token = server.client(Some(bearer(&token)));
    assert_eq!(with_token.delete("/v1/auth/tokens/current").status, 204);
    with_token
        .get("/v1/collections")
        .assert_error(401, "unauthorized");
    svc.post("/v1/auth/tokens", r#"{"ttl_seconds": 0}"#)
        .assert_error(400, "invalid_request");
}

#[test]
fn first_start_prints_a_generated_root_password_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &[], None);
    let line = server
        .banner
        .iter()
        .find(|line| line.contains("shown only this once"))
        .unwrap_or_else(|| panic!("no password in {:?}", server.banner));
    let password = line.rsplit(' ').next().unwrap().to_string();
    let root = server.client(Some(basic("root", &password)));
    assert_eq!(root.get("/v1/auth/me").json()["role"], "admin");
    let (status, _) = server.terminate();
    assert!(status.success());

    let again = Server::start_with(dir.path(), &[], Some("ignored-now"));
    assert!(again.banner.iter().all(|line| !line.contains(&password)));
    assert_eq!(
        again
            .client(Some(basic("root", &password)))
            .get("/v1/auth/me")
            .status,
        200
    );
}

#[test]
fn a_root_password_given_to_a_folder_that_has_users_is_reported_as_ignored() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let (status, _) = Server::start(dir.path(), &[]).terminate();
    assert!(status.success());
    // Second start with another password: it must not be taken silently.
    let mut child = Command::new(CAIRN)
        .arg("--data")
        .arg(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--log", "warn"])
        .env("CAIRN_ROOT_PASSWORD", "another-password")
        .env_remove("CAIRN_DATA")
        .env_remove("CAIRN_MODE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (sender, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(30)) {
        let warned = line.contains("CAIRN_ROOT_PASSWORD is ignored")
            && line.contains("cairn user passwd root");
        seen.push(line);
        if warned {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        seen.iter()
            .any(|line| line.contains("CAIRN_ROOT_PASSWORD is ignored")),
        "no warning in {seen:?}"
    );
}

#[test]
fn insecure_no_auth_lets_anyone_in() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--insecure-no-auth"]);
    let anonymous = server.client(None);
    assert_eq!(
        anonymous
            .post("/v1/collections", r#"{"name": "open"}"#)
            .status,
        201
    );
    assert_eq!(anonymous.get("/v1/auth/me").json()["name"], "anonymous");
}

#[test]
fn tls_serves_https_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let cert = format!("{fixtures}/tls-cert.pem");
    let key = format!("{fixtures}/tls-key.pem");
    let server = Server::start(dir.path(), &["--tls-cert", &cert, "--tls-key", &key]);
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let pem = std::fs::read(&cert).unwrap();
    let url = server.url.replace("127.0.0.1", "localhost");
    let response = agent(Some(&pem))
        .get(format!("{url}/v1/auth/me"))
        .header("Authorization", basic("root", ROOT_PASSWORD))
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = agent(None)
        .get(format!(
            "http://{}/health",
            server.url.trim_start_matches("https://")
        ))
        .call();
    assert!(plain.is_err() || plain.is_ok_and(|r| r.status().as_u16() != 200));
}

/// Runs `cairn user ...` on `dir` with `password` in CAIRN_PASSWORD.
fn user_command(
    dir: &std::path::Path,
    args: &[&str],
    password: Option<&str>,
) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"));
    command.arg("--data").arg(dir).arg("user").args(args);
    match password {
        Some(password) => command.env("CAIRN_PASSWORD", password),
        None => command.env_remove("CAIRN_PASSWORD"),
    };
    command.stdin(std::process::Stdio::null()).output().unwrap()
}

#[test]
fn users_are_managed_from_the_command_line_while_the_server_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    // The first start creates `root`; users are added with the server stopped.
    Server::start(dir.path(), &[]).terminate();
    let added = user_command(
        dir.path(),
        &["add", "alice", "--role", "read-only"],
        Some("alice-pass-1"),
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let short = user_command(dir.path(), &["add", "bob"], Some("short"));
    assert!(!short.status.success());
    let server = Server::start(dir.path(), &[]);
    let me = server
        .client(Some(basic("alice", "alice-pass-1")))
        .get("/v1/auth/me");
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["role"], "read-only");
    let token = server
        .client(Some(basic("alice", "alice-pass-1")))
        .post("/v1/auth/tokens", "{}")
        .json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    server.terminate();
    // A lost password is reset offline; the user's tokens stop working.
    let reset = user_command(dir.path(), &["passwd", "alice"], Some("alice-pass-2"));
    assert!(
        reset.status.success(),
        "{}",
        String::from_utf8_lossy(&reset.stderr)
    );
    let listed = user_command(dir.path(), &["list"], None);
    let listed = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(listed.contains("alice\tread-only"), "{listed}");
    assert!(listed.contains("root\tadmin"), "{listed}");
    let server = Server::start(dir.path(), &[]);
    server
        .client(Some(basic("alice", "alice-pass-1")))
        .get("/v1/auth/me")
        .assert_error(401, "unauthorized");
    server
        .client(Some(bearer(&token)))
        .get("/v1/auth/me")
        .assert_error(401, "unauthorized");
    assert_eq!(
        server
            .client(Some(basic("alice", "alice-pass-2")))
            .get("/v1/auth/me")
            .status,
        200
    );
    server.terminate();
    let dropped = user_command(dir.path(), &["drop", "alice"], None);
    assert!(dropped.status.success());
    let again = user_command(dir.path(), &["drop", "alice"], None);
    assert!(String::from_utf8_lossy(&again.stderr).contains("does not exist"));
    let server = Server::start(dir.path(), &[]);
    server
        .client(Some(basic("alice", "alice-pass-2")))
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
fn every_route_in_the_openapi_document_refuses_missing_and_wrong_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let document = server.client(None).get("/openapi.json").json();
    let paths = document["paths"].as_object().unwrap();
    let wrong_token = bearer("cairn_not-a-token-at-all-0000000000000000000000");
    let mut checked = 0;
    let mut failures: Vec<String> = Vec::new();
    for (path, operations) in paths {
        for (method, operation) in operations.as_object().unwrap() {
            // Operations the document declares open (`security: [{}]`): probes and the
            // document itself.
            let open = operation["security"].as_array().is_some_and(|schemes| {
                schemes
                    .iter()
                    .any(|s| s.as_object().is_some_and(|o| o.is_empty()))
            });
            if open {
                continue;
            }
            let concrete = path
                .replace("{collection}", "c")
                .replace("{id}", "1")
                .replace("{name}", "x");
            let body = (method != "get" && method != "delete").then_some("{}");
            for authorization in [None, Some(wrong_token.clone())] {
                let reply = server.client(authorization.clone()).send(
                    &method.to_uppercase(),
                    &concrete,
                    body,
                );
                // A body of the wrong shape is refused before credentials are looked at (the
                // JSON extractor runs first); nothing has run and nothing is revealed.
                let shape_refused = reply.status == 400 && reply.text.contains("invalid_request");
                if reply.status != 401 && !shape_refused {
                    failures.push(format!(
                        "{} {concrete} with {}: {} {}",
                        method.to_uppercase(),
                        authorization.map_or("no credentials", |_| "a wrong token"),
                        reply.status,
                        reply.text
                    ));
                }
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(checked >= 40, "only {checked} operations checked");
}
