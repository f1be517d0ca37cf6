//! `cairn serve`: the query, index and bulk routes and every error class they answer, over
//! HTTP, against the real binary.

mod server_support;

use serde_json::{json, Value as Json};
use server_support::{basic, ids, Http, Server};

/// `people`: `_id` 0..n, `age` = i % 50, `city` = c0..c3, `tags` = [i % 3].
fn people(http: &Http, n: i64) {
    assert_eq!(
        http.post("/v1/collections", r#"{"name": "people"}"#).status,
        201
    );
    let documents: Vec<Json> = (0..n)
        .map(|i| json!({"_id": i, "age": i % 50, "city": format!("c{}", i % 4), "tags": [i % 3]}))
        .collect();
    let body = json!({ "documents": documents }).to_string();
    let reply = http.post("/v1/collections/people/batch", &body);
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[test]
fn queries_count_distinct_explain_and_aggregate() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    people(&http, 300);

    let reply = http.post(
        "/v1/collections/people/query",
        r#"{"filter": {"age": {"$gte": 48}}, "sort": {"age": -1, "_id": 1}, "projection": {"age": 1}, "limit": 4}"#,
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    let page = reply.json();
    assert_eq!(ids(&page), vec![49, 99, 149, 199]);
    assert_eq!(page["documents"][0], json!({"_id": 49, "age": 49}));
    // The cursor continues exactly where the page ended.
    let cursor = page["cursor"].as_str().unwrap();
    let next = http
        .post(
            "/v1/collections/people/query",
            // Spelled out: `json!` would sort the sort's keys, making it another sort.
            &format!(
                r#"{{"filter": {{"age": {{"$gte": 48}}}}, "sort": {{"age": -1, "_id": 1}}, "limit": 10, "cursor": "{cursor}"}}"#
            ),
        )
        .json();
    assert_eq!(ids(&next), vec![249, 299, 48, 98, 148, 198, 248, 298]);
    assert!(next["cursor"].is_null(), "last page: {next}");
    // No body: every document, in `_id` order, the default page of 1,000.
    let all = http
        .send("POST", "/v1/collections/people/query", None)
        .json();
    assert_eq!(ids(&all), (0..300).collect::<Vec<_>>());
    let skipped = http
        .post("/v1/collections/people/query", r#"{"skip": 298}"#)
        .json();
    assert_eq!(ids(&skipped), vec![298, 299]);

    let count = http.post(
        "/v1/collections/people/count",
        r#"{"filter": {"city": "c1"}}"#,
    );
    assert_eq!(count.json(), json!({"count": 75}));
    assert_eq!(
        http.send("POST", "/v1/collections/people/count", None)
            .json()["count"],
        300
    );
    let distinct = http.post(
        "/v1/collections/people/distinct",
        r#"{"field": "tags", "filter": {"age": {"$lt": 3}}}"#,
    );
    assert_eq!(distinct.json(), json!({"values": [0, 1, 2]}));

    // Explain names the index once there is one.
    let index = http.post(
        "/v1/collections/people/indexes",
        r#"{"name": "by_age", "fields": ["age"]}"#,
    );
    assert_eq!(index.status, 201, "{}", index.text);
    let explained = http
        .post(
            "/v1/collections/people/explain",
            r#"{"filter": {"age": 7}}"#,
        )
        .json();
    assert!(
        explained["chosen"]["plan"]
            .as_str()
            .unwrap()
            .contains("by_age"),
        "{explained}"
    );
    assert_eq!(explained["executed"]["returned"], 6);
    assert!(explained["considered"].as_array().unwrap().len() >= 2);

    let grouped = http.post(
        "/v1/collections/people/aggregate",
        r#"{"pipeline": [{"$match": {"age": {"$lt": 2}}}, {"$group": {"_id": "$city", "n": {"$count": {}}}}, {"$sort": {"_id": 1}}]}"#,
    );
    assert_eq!(grouped.status, 200, "{}", grouped.text);
    assert_eq!(
        grouped.json()["documents"],
        json!([{"_id": "c0", "n": 3}, {"_id": "c1", "n": 3}, {"_id": "c2", "n": 3}, {"_id": "c3", "n": 3}])
    );
    // `$lookup` joins another collection.
    http.post("/v1/collections", r#"{"name": "cities"}"#);
    http.post(
        "/v1/collections/cities/documents",
        r#"{"_id": "c1", "country": "NO"}"#,
    );
    let joined = http
        .post(
            "/v1/collections/people/aggregate",
            r#"{"pipeline": [{"$match": {"_id": 1}}, {"$lookup": {"from": "cities", "localField": "city", "foreignField": "_id", "as": "in"}}]}"#,
        )
        .json();
    assert_eq!(joined["documents"][0]["in"][0]["country"], "NO");
}

#[test]
fn query_errors_are_4xx_in_the_common_format() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    people(&http, 300);

    let bad = http.post(
        "/v1/collections/people/query",
        r#"{"filter": {"$and": [{"age": 1}, {"age": {"$bogus": 2}}]}}"#,
    );
    bad.assert_error(400, "invalid_query");
    assert_eq!(bad.json()["error"]["details"]["at"], "$and[1].age.$bogus");
    http.post("/v1/collections/people/query", r#"{"sort": {"age": 2}}"#)
        .assert_error(400, "invalid_query");
    http.post(
        "/v1/collections/people/query",
        r#"{"projection": {"age": 1, "city": 0}}"#,
    )
    .assert_error(400, "invalid_query");
    http.post("/v1/collections/people/query", r#"{"cursor": "!!"}"#)
        .assert_error(400, "invalid_cursor");
    http.post("/v1/collections/people/query", r#"{"limit": 100001}"#)
        .assert_error(400, "invalid_request");
    http.post("/v1/collections/people/query", r#"{"skip": -1}"#)
        .assert_error(400, "invalid_request");
    http.post("/v1/collections/people/query", r#"{"filter": {}, "x": 1}"#)
        .assert_error(400, "invalid_request");
    http.post("/v1/collections/people/query", r#"{"filter": "#)
        .assert_error(400, "invalid_json");
    http.post("/v1/collections/people/query", r#"{"filter": [1]}"#)
        .assert_error(400, "invalid_query");
    http.post("/v1/collections/nobody/query", "{}")
        .assert_error(404, "collection_not_found");
    http.post("/v1/collections/nobody/count", "{}")
        .assert_error(404, "collection_not_found");
    http.post("/v1/collections/_sys_users/query", "{}")
        .assert_error(403, "reserved_collection");
    http.post("/v1/collections/people/distinct", r#"{"field": "$x"}"#)
        .assert_error(400, "invalid_query");
    http.post(
        "/v1/collections/people/aggregate",
        r#"{"pipeline": [{"$bogus": {}}]}"#,
    )
    .assert_error(400, "invalid_query");
    // A `$lookup` cannot reach Cairn's own collections.
    http.post(
        "/v1/collections/people/aggregate",
        r#"{"pipeline": [{"$lookup": {"from": "_sys_users", "localField": "a", "foreignField": "_id", "as": "u"}}]}"#,
    )
    .assert_error(403, "reserved_collection");
    http.post(
        "/v1/collections/people/aggregate",
        r#"{"pipeline": [{"$facet": {"u": [{"$lookup": {"from": "_sys_users", "localField": "a", "foreignField": "_id", "as": "u"}}]}}]}"#,
    )
    .assert_error(403, "reserved_collection");

    // A query stops itself at its time budget (checked every 256 documents): 408.
    let slow = http.post(
        "/v1/collections/people/query",
        r#"{"filter": {"city": "c9"}, "max_time_ms": 0}"#,
    );
    slow.assert_error(408, "query_timeout");
    assert!(
        slow.json()["error"]["details"]["examined"]
            .as_u64()
            .unwrap()
            > 0
    );
    http.post(
        "/v1/collections/people/aggregate",
        r#"{"pipeline": [{"$match": {"city": "c9"}}], "max_time_ms": 0}"#,
    )
    .assert_error(408, "query_timeout");
}

#[test]
fn indexes_are_created_listed_and_dropped_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    people(&http, 40);

    let created = http.post(
        "/v1/collections/people/indexes",
        r#"{"name": "city_age", "fields": ["city", "age"], "kind": "btree"}"#,
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let info = created.json();
    assert_eq!(
        (
            &info["name"],
            &info["ready"],
            &info["entries"],
            &info["kind"]
        ),
        (
            &json!("city_age"),
            &json!(true),
            &json!(40),
            &json!("btree")
        )
    );
    http.post(
        "/v1/collections/people/indexes",
        r#"{"name": "city_age", "fields": ["age"]}"#,
    )
    .assert_error(409, "index_exists");
    let hashed = http.post(
        "/v1/collections/people/indexes",
        r#"{"name": "by_tag", "fields": ["tags"], "kind": "hash"}"#,
    );
    assert_eq!(hashed.json()["multikey"], true);
    let listed = http.get("/v1/collections/people/indexes").json();
    let names: Vec<&str> = listed["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["city_age", "by_tag"]);

    // A unique index over duplicates fails and leaves nothing behind.
    let dup = http.post(
        "/v1/collections/people/indexes",
        r#"{"name": "u_city", "fields": ["city"], "unique": true}"#,
    );
    dup.assert_error(409, "unique_violation");
    assert_eq!(
        http.get("/v1/collections/people/indexes").json()["indexes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    for body in [
        r#"{"name": "bad name", "fields": ["a"]}"#,
        r#"{"name": "x", "fields": []}"#,
        r#"{"name": "x", "fields": ["a", "a"]}"#,
        r#"{"name": "x", "fields": ["$a"]}"#,
    ] {
        http.post("/v1/collections/people/indexes", body)
            .assert_error(400, "invalid_index");
    }
    http.post(
        "/v1/collections/people/indexes",
        r#"{"name": "x", "fields": ["a"], "kind": "rtree"}"#,
    )
    .assert_error(400, "invalid_request");

    assert_eq!(
        http.delete("/v1/collections/people/indexes/city_age")
            .status,
        204
    );
    http.delete("/v1/collections/people/indexes/city_age")
        .assert_error(404, "index_not_found");
    http.get("/v1/collections/nobody/indexes")
        .assert_error(404, "collection_not_found");
}

#[test]
fn bulk_updates_and_deletes_over_http_are_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    people(&http, 20);
    http.post(
        "/v1/collections/people/indexes",
        r#"{"name": "slot", "fields": ["slot"], "unique": true}"#,
    );
    let everything = || http.send("POST", "/v1/collections/people/query", None).text;
    let before = everything();

    let update =
        r#"{"filter": {"city": "c1"}, "patch": {"$set": {"seen": true}}, "dry_run": true}"#;
    let dry = http.post("/v1/collections/people/update-many", update);
    assert_eq!(dry.status, 200, "{}", dry.text);
    assert_eq!(
        dry.json(),
        json!({"matched": 5, "changed": 5, "dry_run": true})
    );
    assert_eq!(everything(), before);

    let real = http
        .post(
            "/v1/collections/people/update-many",
            r#"{"filter": {"city": "c1"}, "patch": {"$set": {"seen": true}}}"#,
        )
        .json();
    assert_eq!((&real["matched"], &real["changed"]), (&json!(5), &json!(5)));
    assert!(real["seq"].as_u64().is_some());
    assert_eq!(
        http.post(
            "/v1/collections/people/count",
            r#"{"filter": {"seen": true}}"#
        )
        .json()["count"],
        5
    );
    let before = everything();

    // All or nothing: the second match collides with the first on the unique index.
    http.post(
        "/v1/collections/people/update-many",
        r#"{"filter": {}, "patch": {"$set": {"slot": 1}}}"#,
    )
    .assert_error(409, "unique_violation");
    http.post(
        "/v1/collections/people/update-many",
        r#"{"filter": {}, "patch": {"$inc": {"city": 1}}}"#,
    )
    .assert_error(400, "invalid_patch");
    http.post(
        "/v1/collections/people/update-many",
        r#"{"filter": {}, "patch": {"$setOnInsert": {"a": "b"}}}"#,
    )
    .assert_error(400, "invalid_patch");
    let guarded = http.post(
        "/v1/collections/people/delete-many",
        r#"{"filter": {"age": {"$lt": 10}}, "max_documents": 3}"#,
    );
    guarded.assert_error(413, "limit_exceeded");
    assert_eq!(guarded.json()["error"]["details"]["limit"], 3);
    http.post(
        "/v1/collections/people/delete-many",
        r#"{"filter": {}, "max_documents": 0}"#,
    )
    .assert_error(400, "invalid_request");
    http.post("/v1/collections/people/delete-many", r#"{"dry_run": true}"#)
        .assert_error(400, "invalid_request");
    http.post("/v1/collections/nobody/delete-many", r#"{"filter": {}}"#)
        .assert_error(404, "collection_not_found");
    assert_eq!(everything(), before);

    let deleted = http
        .post(
            "/v1/collections/people/delete-many",
            r#"{"filter": {"age": {"$gte": 10}}}"#,
        )
        .json();
    assert_eq!(
        (&deleted["matched"], &deleted["changed"]),
        (&json!(10), &json!(10))
    );
    assert_eq!(
        http.send("POST", "/v1/collections/people/count", None)
            .json()["count"],
        10
    );
}

#[test]
fn query_and_index_routes_follow_roles_and_grants() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let root = server.root();
    people(&root, 10);
    root.post("/v1/collections", r#"{"name": "secret"}"#);
    let created = root.post(
        "/v1/users",
        r#"{"name": "reader", "password": "reader-password", "role": "read-only", "grants": {"secret": "none"}}"#,
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let reader = root.with_auth(Some(basic("reader", "reader-password")));
    let anonymous = root.with_auth(None);

    anonymous
        .post("/v1/collections/people/query", "{}")
        .assert_error(401, "unauthorized");
    assert_eq!(
        reader.post("/v1/collections/people/query", "{}").status,
        200
    );
    assert_eq!(
        reader.post("/v1/collections/people/count", "{}").status,
        200
    );
    assert_eq!(reader.get("/v1/collections/people/indexes").status, 200);
    reader
        .post("/v1/collections/secret/query", "{}")
        .assert_error(403, "forbidden");
    // A `$lookup` into a collection the caller may not read is refused as a whole.
    reader
        .post(
            "/v1/collections/people/aggregate",
            r#"{"pipeline": [{"$lookup": {"from": "secret", "localField": "a", "foreignField": "_id", "as": "s"}}]}"#,
        )
        .assert_error(403, "forbidden");
    // ... also from inside a `$facet` sub-pipeline.
    reader
        .post(
            "/v1/collections/people/aggregate",
            r#"{"pipeline": [{"$facet": {"x": [{"$lookup": {"from": "secret", "localField": "a", "foreignField": "_id", "as": "s"}}]}}]}"#,
        )
        .assert_error(403, "forbidden");
    reader
        .post(
            "/v1/collections/people/indexes",
            r#"{"name": "i", "fields": ["age"]}"#,
        )
        .assert_error(403, "forbidden");
    reader
        .delete("/v1/collections/people/indexes/i")
        .assert_error(403, "forbidden");
    reader
        .post(
            "/v1/collections/people/update-many",
            r#"{"filter": {}, "patch": {"$set": {"x": 1}}}"#,
        )
        .assert_error(403, "forbidden");
    reader
        .post("/v1/collections/people/delete-many", r#"{"filter": {}}"#)
        .assert_error(403, "forbidden");
}
