//! Time-series routes over HTTP: creating a collection, appending points in batches, range
//! reads with the chunks they skipped and decoded, downsampling, latest points, trajectories,
//! deletes, retention, and typed errors.

mod server_support;

use serde_json::json;
use server_support::Server;

#[test]
fn time_series_over_http() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    let created = http.post(
        "/v1/series",
        r#"{"name": "m", "time_field": "t", "meta_field": "sensor", "chunk_span": 100, "expire_after": 250}"#,
    );
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(
        created.json(),
        json!({"name": "m", "time_field": "t", "meta_field": "sensor", "chunk_span": 100, "expire_after": 250})
    );
    let points: Vec<_> = (0..40)
        .flat_map(|i| {
            [1, 2].map(|s| json!({"t": i * 10, "sensor": {"id": s}, "v": i, "pos": [i, -i]}))
        })
        .collect();
    let appended = http.post(
        "/v1/series/m/points",
        &json!({ "points": points }).to_string(),
    );
    assert_eq!(appended.status, 200, "{}", appended.text);
    assert_eq!(appended.json()["count"], json!(80));

    let range = http.post(
        "/v1/series/m/range",
        r#"{"series": {"id": 1}, "from": 295, "to": 320}"#,
    );
    assert_eq!(range.status, 200, "{}", range.text);
    let body = range.json();
    assert_eq!(
        body["points"],
        json!([
            {"t": 300, "sensor": {"id": 1}, "v": 30, "pos": [30.0, -30.0]},
            {"t": 310, "sensor": {"id": 1}, "v": 31, "pos": [31.0, -31.0]}
        ])
    );
    // The chunk of [200, 300) is visited (295 is in its span) but its bounds end at 290.
    assert_eq!(
        (
            &body["chunks_skipped"],
            &body["chunks_decoded"],
            &body["truncated"]
        ),
        (&json!(1), &json!(1), &json!(false))
    );

    let down = http.post(
        "/v1/series/m/downsample",
        r#"{"from": 0, "to": 40, "every": 20, "field": "v", "aggregates": ["sum", "last"], "fill": "null"}"#,
    );
    assert_eq!(down.status, 200, "{}", down.text);
    assert_eq!(
        down.json()["series"][1],
        json!({"series": {"id": 2}, "buckets": [
            {"start": 0, "sum": 1, "last": 1}, {"start": 20, "sum": 5, "last": 3}]})
    );
    let latest = http.get("/v1/series/m/latest");
    assert_eq!(
        latest.json()["points"][0]["t"],
        json!(390),
        "{}",
        latest.text
    );
    let path = http.post(
        "/v1/series/m/trajectory",
        r#"{"series": {"id": 2}, "field": "pos", "from": 0, "to": 20, "at": 5}"#,
    );
    assert_eq!(
        path.json(),
        json!({"points": [{"t": 0, "v": [0.0, -0.0]}, {"t": 10, "v": [1.0, -1.0]}], "truncated": false, "at": [0.5, -0.5]})
    );
    let deleted = http.post(
        "/v1/series/m/delete",
        r#"{"series": {"id": 2}, "from": 0, "to": 100}"#,
    );
    assert_eq!(deleted.json()["count"], json!(10), "{}", deleted.text);
    let expired = http.post("/v1/series/m/expire", r#"{"now": 400}"#);
    // Series 1's chunk [0, 100) ends before the cutoff 150; series 2's was emptied by the delete.
    assert_eq!(expired.json()["count"], json!(1), "{}", expired.text);

    http.post("/v1/series/m/points", r#"{"points": [{"sensor": 1}]}"#)
        .assert_error(400, "invalid_point");
    http.post(
        "/v1/series/m/points",
        r#"{"points": [{"t": 1, "sensor": 1, "v": {"a": 1}}]}"#,
    )
    .assert_error(400, "invalid_point");
    http.post("/v1/series/m/range", r#"{"series": 1, "from": 5, "to": 5}"#)
        .assert_error(400, "invalid_query");
    http.post(
        "/v1/series/m/downsample",
        r#"{"from": 0, "to": 9000000, "every": 1, "field": "v", "aggregates": ["avg"]}"#,
    )
    .assert_error(413, "limit_exceeded");
    let note = http.post(
        "/v1/series/m/points",
        r#"{"points": [{"t": 1000, "sensor": "log", "note": "started"}]}"#,
    );
    assert_eq!(note.status, 200, "{}", note.text);
    http.post(
        "/v1/series/m/downsample",
        r#"{"series": "log", "from": 0, "to": 2000, "every": 100, "field": "note", "aggregates": ["avg"]}"#,
    )
    .assert_error(422, "invalid_aggregate");
    assert_eq!(
        http.post("/v1/collections", r#"{"name": "plain"}"#).status,
        201
    );
    http.get("/v1/series/plain/latest")
        .assert_error(400, "not_timeseries_collection");
    http.get("/v1/series/nothing/latest")
        .assert_error(404, "collection_not_found");
    http.post("/v1/collections/m/documents", r#"{"t": 1, "sensor": 1}"#)
        .assert_error(422, "extension_rejected");
}
