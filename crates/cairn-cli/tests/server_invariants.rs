//! Invariant routes over HTTP: add (checked against the data), list, drop, enforcement, and
//! the 4xx classes of invariant failures.

mod server_support;

use serde_json::json;
use server_support::{basic, Http, Server};

fn ledger(http: &Http) {
    assert_eq!(
        http.post("/v1/collections", r#"{"name": "ledger"}"#).status,
        201
    );
    let documents = json!({"documents": [
        {"_id": 1, "account": "a", "amount": 5},
        {"_id": 2, "account": "b", "amount": 2},
    ]});
    let reply = http.post("/v1/collections/ledger/batch", &documents.to_string());
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[test]
fn invariants_are_added_listed_enforced_and_dropped_over_http() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    ledger(&http);
    let path = "/v1/collections/ledger/invariants";
    assert_eq!(http.get(path).json(), json!({"invariants": []}));

    let added = http.post(path, r#"{"rule": "sum(amount) by account >= 0"}"#);
    assert_eq!(added.status, 201, "{}", added.text);
    let added = added.json();
    assert_eq!(added["name"], "amount_by_account_ge_0");
    assert_eq!(added["kind"], "group_bound");
    assert_eq!(added["groups"], 2);
    assert_eq!(added["lowest"], json!({"group": "b", "sum": 2}));
    assert_eq!(added["highest"], json!({"group": "a", "sum": 5}));

    // Existing data already breaks the rule: nothing is added.
    let broken = http.post(path, r#"{"rule": "amount >= 3", "name": "min3"}"#);
    broken.assert_error(409, "invariant_violation");
    assert_eq!(broken.json()["error"]["details"]["invariant"], "min3");
    http.post(path, r#"{"rule": "sum(amount) by account >= 0"}"#)
        .assert_error(409, "invariant_exists");
    http.post(path, r#"{"rule": "amount is big"}"#)
        .assert_error(400, "invalid_invariant");
    let long = format!("{} >= 0", "a".repeat(1100));
    http.post(path, &json!({ "rule": long }).to_string())
        .assert_error(400, "invalid_invariant");
    http.post(path, r#"{"rule": "amount >= 0", "name": "no spaces"}"#)
        .assert_error(400, "invalid_invariant");
    http.post(path, r#"{"rule": "amount >= 0", "extra": 1}"#)
        .assert_error(400, "invalid_request");

    let conserved = http.post(path, r#"{"rule": "conserve sum(amount)", "name": "total"}"#);
    assert_eq!(conserved.status, 201, "{}", conserved.text);
    assert_eq!(conserved.json()["total"], 7);
    assert_eq!(conserved.json()["kind"], "conserve");
    let listed = http.get(path).json();
    let names: Vec<&str> = listed["invariants"]
        .as_array()
        .expect("invariants")
        .iter()
        .filter_map(|i| i["name"].as_str())
        .collect();
    assert_eq!(names.len(), 2, "{listed}");
    assert!(names.contains(&"total") && names.contains(&"amount_by_account_ge_0"));

    // Enforced on writes.
    let write = http.post(
        "/v1/collections/ledger/documents",
        r#"{"_id": 3, "account": "b", "amount": -3}"#,
    );
    write.assert_error(409, "invariant_violation");

    http.delete("/v1/collections/ledger/invariants/nope")
        .assert_error(404, "invariant_not_found");
    assert_eq!(http.delete(&format!("{path}/total")).status, 204);
    assert_eq!(
        http.delete(&format!("{path}/amount_by_account_ge_0"))
            .status,
        204
    );
    let write = http.post(
        "/v1/collections/ledger/documents",
        r#"{"_id": 3, "account": "b", "amount": -3}"#,
    );
    assert_eq!(write.status, 201, "{}", write.text);
    assert_eq!(http.get(path).json(), json!({"invariants": []}));

    // At most 16 invariants per collection.
    for i in 0..16 {
        let rule = json!({"rule": format!("amount >= -{}", i + 10), "name": format!("n{i}")});
        let added = http.post(path, &rule.to_string());
        assert_eq!(added.status, 201, "{}", added.text);
    }
    let refused = http.post(path, r#"{"rule": "amount >= -100", "name": "n16"}"#);
    refused.assert_error(409, "too_many_invariants");
    assert_eq!(refused.json()["error"]["details"]["limit"], 16);

    http.get("/v1/collections/nope/invariants")
        .assert_error(404, "collection_not_found");
    http.post(
        "/v1/collections/nope/invariants",
        r#"{"rule": "amount >= 0"}"#,
    )
    .assert_error(404, "collection_not_found");
    http.get("/v1/collections/_sys_users/invariants")
        .assert_error(403, "reserved_collection");
    http.delete("/v1/collections/_sys_users/invariants/x")
        .assert_error(403, "reserved_collection");
}

#[test]
fn invariant_routes_follow_roles_and_grants() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = Server::start(dir.path(), &[]);
    let root = server.root();
    ledger(&root);
    assert_eq!(
        root.post("/v1/collections", r#"{"name": "secret"}"#).status,
        201
    );
    let created = root.post(
        "/v1/users",
        r#"{"name": "reader", "password": "reader-password", "role": "read-only", "grants": {"secret": "none"}}"#,
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let reader = root.with_auth(Some(basic("reader", "reader-password")));
    let anonymous = root.with_auth(None);
    let path = "/v1/collections/ledger/invariants";
    assert_eq!(
        root.post(path, r#"{"rule": "amount >= 0", "name": "positive"}"#)
            .status,
        201
    );

    anonymous.get(path).assert_error(401, "unauthorized");
    anonymous
        .post(path, r#"{"rule": "amount >= 0"}"#)
        .assert_error(401, "unauthorized");
    anonymous
        .delete(&format!("{path}/positive"))
        .assert_error(401, "unauthorized");
    assert_eq!(reader.get(path).status, 200);
    reader
        .post(path, r#"{"rule": "amount >= 0", "name": "other"}"#)
        .assert_error(403, "forbidden");
    reader
        .delete(&format!("{path}/positive"))
        .assert_error(403, "forbidden");
    reader
        .get("/v1/collections/secret/invariants")
        .assert_error(403, "forbidden");
    assert_eq!(root.get(path).json()["invariants"][0]["name"], "positive");
}
