//! `$lookup`: equality joins on one snapshot, with and without an index on the foreign field.

use super::{check, database, fill, index, json};
use crate::aggregate::aggregate;
use crate::error::QueryError;

const ORDERS: &[&str] = &[
    r#"{"_id": 1, "cust": 1}"#,
    r#"{"_id": 2, "cust": 2}"#,
    r#"{"_id": 3, "cust": [1, 3]}"#,
    r#"{"_id": 4}"#,
    r#"{"_id": 5, "cust": []}"#,
];

const CUSTOMERS: &[&str] = &[
    r#"{"_id": 10, "cid": 1, "name": "ann"}"#,
    r#"{"_id": 11, "cid": 2.0, "name": "bob"}"#,
    r#"{"_id": 12, "cid": 1, "name": "ann2"}"#,
    r#"{"_id": 13, "name": "nobody"}"#,
    r#"{"_id": 14, "cid": [3, 4], "name": "multi"}"#,
];

const JOINED: &str = r#"[{"_id": 1, "who": [10, 12]}, {"_id": 2, "who": [11]}, {"_id": 3, "who": [10, 12, 14]},
    {"_id": 4, "who": [13]}, {"_id": 5, "who": []}]"#;

fn orders_and_customers() -> cairn_engine::Database {
    let db = database();
    fill(&db, "c", ORDERS);
    fill(&db, "customers", CUSTOMERS);
    db
}

#[test]
fn lookup_joins_equal_values_arrays_and_missing_fields_without_an_index() {
    let db = orders_and_customers();
    check(
        &db,
        r#"[{"$sort": {"_id": 1}}, {"$lookup": {"from": "customers", "localField": "cust", "foreignField": "cid", "as": "joined"}},
            {"$project": {"who": "$joined._id"}}]"#,
        JOINED,
    );
}

#[test]
fn lookup_gives_the_same_answer_through_an_index() {
    let db = orders_and_customers();
    index(&db, "customers", "cid");
    let infos = cairn_index::list_indexes(&db, "customers").unwrap();
    assert_eq!(infos.len(), 1);
    check(
        &db,
        r#"[{"$sort": {"_id": 1}}, {"$lookup": {"from": "customers", "localField": "cust", "foreignField": "cid", "as": "joined"}},
            {"$project": {"who": "$joined._id"}}]"#,
        JOINED,
    );
}

#[test]
fn lookup_during_the_source_scan_waits_for_the_snapshot() {
    // No blocking stage before the `$lookup`: documents wait until the scan releases the
    // transaction, then join; a second `$lookup` joins as documents arrive.
    let db = orders_and_customers();
    index(&db, "c", "cust");
    check(
        &db,
        r#"[{"$match": {"cust": {"$gte": 1}}}, {"$lookup": {"from": "customers", "localField": "cust", "foreignField": "cid", "as": "a"}},
            {"$lookup": {"from": "c", "localField": "a.cid", "foreignField": "cust", "as": "again"}},
            {"$sort": {"_id": 1}}, {"$project": {"who": "$a._id", "back": "$again._id"}}]"#,
        r#"[{"_id": 1, "who": [10, 12], "back": [1, 3]}, {"_id": 2, "who": [11], "back": [2]},
            {"_id": 3, "who": [10, 12, 14], "back": [1, 3]}]"#,
    );
}

#[test]
fn lookup_then_limit_stops_joining() {
    let db = orders_and_customers();
    let out = aggregate(
        &db,
        "c",
        &json(r#"[{"$lookup": {"from": "customers", "localField": "cust", "foreignField": "cid", "as": "a"}}, {"$limit": 2}]"#),
    )
    .unwrap();
    assert_eq!(out.len(), 2);
}

#[test]
fn lookup_into_a_nested_output_path() {
    let db = orders_and_customers();
    check(
        &db,
        r#"[{"$match": {"_id": 2}}, {"$lookup": {"from": "customers", "localField": "cust", "foreignField": "cid", "as": "x.y"}},
            {"$project": {"names": "$x.y.name"}}]"#,
        r#"[{"_id": 2, "names": ["bob"]}]"#,
    );
}

#[test]
fn lookup_from_an_unknown_collection_fails() {
    let db = orders_and_customers();
    let result = aggregate(
        &db,
        "c",
        &json(
            r#"[{"$lookup": {"from": "nope", "localField": "cust", "foreignField": "cid", "as": "a"}}]"#,
        ),
    );
    assert!(
        matches!(result, Err(QueryError::Engine(_) | QueryError::Index(_))),
        "{result:?}"
    );
}
