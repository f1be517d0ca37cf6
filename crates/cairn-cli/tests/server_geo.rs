//! `cairn serve`: geometry documents, spatial indexes and the geometry operators over HTTP,
//! against the real binary. The answers are checked against distances computed here (points
//! on a line), not against the server's own full scan.

mod server_support;

use serde_json::{json, Value as Json};
use server_support::{ids, Server};

fn point(x: f64) -> Json {
    json!({"$geometry": {"type": "point", "coordinates": [x, 0.0, 0.0]}})
}

#[test]
fn spatial_indexes_and_geometry_queries_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    assert_eq!(
        http.post("/v1/collections", r#"{"name": "shapes"}"#).status,
        201
    );
    // Points at x = 0..40 on the x axis; document i is at distance |i - x| from (x, 0, 0).
    let documents: Vec<Json> = (0..40)
        .map(|i| json!({"_id": i, "p": point(i as f64), "even": i % 2 == 0}))
        .collect();
    let reply = http.post(
        "/v1/collections/shapes/batch",
        &json!({ "documents": documents }).to_string(),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);

    // Bad definitions are 400s naming the problem; nothing is created.
    http.post(
        "/v1/collections/shapes/indexes",
        r#"{"name": "where", "fields": ["p"], "kind": "spatial", "unique": true}"#,
    )
    .assert_error(400, "invalid_index");
    http.post(
        "/v1/collections/shapes/indexes",
        r#"{"name": "where", "fields": ["p", "even"], "kind": "spatial"}"#,
    )
    .assert_error(400, "invalid_index");
    let created = http.post(
        "/v1/collections/shapes/indexes",
        r#"{"name": "where", "fields": ["p"], "kind": "spatial"}"#,
    );
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json()["kind"], "spatial");
    assert_eq!(created.json()["entries"], 40);
    http.post(
        "/v1/collections/shapes/indexes",
        r#"{"name": "where", "fields": ["even"]}"#,
    )
    .assert_error(409, "index_exists");
    let listed = http.get("/v1/collections/shapes/indexes").json();
    assert_eq!(listed["indexes"][0]["name"], "where", "{listed}");
    assert_eq!(listed["indexes"][0]["fields"], json!(["p"]));

    // Within 2.5 of x = 10, combined with another filter.
    let filter =
        json!({"p": {"$withinDistance": {"shape": point(10.0), "distance": 2.5}}, "even": true});
    let found = http.post(
        "/v1/collections/shapes/query",
        &json!({ "filter": filter, "sort": {"_id": 1} }).to_string(),
    );
    assert_eq!(found.status, 200, "{}", found.text);
    assert_eq!(ids(&found.json()), vec![8, 10, 12]);
    let explained = http.post(
        "/v1/collections/shapes/explain",
        &json!({ "filter": filter }).to_string(),
    );
    assert_eq!(explained.status, 200, "{}", explained.text);
    assert!(
        explained.text.contains("where"),
        "the plan should name the spatial index: {}",
        explained.text
    );

    // The 3 nearest to x = 20.2 (also given as WKT), nearest first, with their distances.
    let near = http.post(
        "/v1/collections/shapes/query",
        r#"{"filter": {"p": {"$near": {"shape": "POINT Z (20.2 0 0)", "k": 3}}}}"#,
    );
    assert_eq!(near.status, 200, "{}", near.text);
    let near = near.json();
    assert_eq!(ids(&near), vec![20, 21, 19]);
    let first = near["documents"][0]["_distance"].as_f64().unwrap();
    assert!((first - 0.2).abs() < 1e-9, "{near}");

    // Malformed shapes are 400s, never 500s.
    http.post(
        "/v1/collections/shapes/query",
        r#"{"filter": {"p": {"$intersects": "POINT Z (1 2"}}}"#,
    )
    .assert_error(400, "invalid_query");
    let bad = http.post(
        "/v1/collections/shapes/documents",
        r#"{"p": {"$geometry": {"type": "triangle", "coordinates": [[0,0,0],[1,1,1],[2,2,2]]}}}"#,
    );
    assert_eq!(
        bad.status / 100,
        4,
        "a degenerate triangle is refused: {}",
        bad.text
    );

    assert_eq!(
        http.delete("/v1/collections/shapes/indexes/where").status,
        204
    );
    http.delete("/v1/collections/shapes/indexes/where")
        .assert_error(404, "index_not_found");
    // Without the index the same query still answers, by a full scan.
    let found = http.post(
        "/v1/collections/shapes/query",
        &json!({ "filter": filter, "sort": {"_id": 1} }).to_string(),
    );
    assert_eq!(ids(&found.json()), vec![8, 10, 12]);
}
