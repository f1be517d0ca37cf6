//! `cairn check`'s extension layer: every index kind verifies itself against the documents
//! through the engine's hook (`Extension::verify`), secondary and spatial indexes alike.

use std::ops::Bound;

use cairn::geo::index::{create_spatial_index, SpatialSpec};
use cairn::{create_index, CheckReport, Finding, IndexSpec, Value};

/// The first key of an extension's table.
fn first_key(db: &cairn::Database, extension: &str, table: &str) -> Vec<u8> {
    let mut txn = db.read().expect("read");
    let mut first = None;
    txn.extension_range(
        "c",
        extension,
        table,
        Bound::Unbounded,
        Bound::Unbounded,
        |k, _| {
            first = Some(k.to_vec());
            Ok::<_, cairn_engine::EngineError>(false)
        },
    )
    .expect("range");
    first.expect("a stored entry")
}

fn findings_of(report: &CheckReport, extension: &str) -> Vec<String> {
    report
        .findings
        .iter()
        .filter_map(|finding| match finding {
            Finding::Extension {
                extension: e,
                detail,
                ..
            } if e == extension => Some(detail.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn check_verifies_secondary_and_spatial_indexes_against_the_documents() {
    let db = cairn::open_in_memory().expect("open");
    db.create_collection("c").expect("create");
    for i in 0..20 {
        let doc = format!(
            r#"{{"_id": {i}, "n": {i}, "p": {{"$geometry": {{"type": "point", "coordinates": [{i}, 0, 0]}}}}}}"#
        );
        db.insert("c", Value::from_json_expression(&doc).expect("doc"))
            .expect("insert");
    }
    create_index(
        &db,
        "c",
        &IndexSpec::btree("by_n", &["n"]).expect("spec"),
        &mut |_| {},
    )
    .expect("index");
    create_spatial_index(&db, "c", &SpatialSpec::new("where", "p").expect("spec"))
        .expect("spatial");
    let mut report = CheckReport::default();
    assert_eq!(
        cairn::verify_extensions(&db, &mut report).expect("verify"),
        2
    );
    assert!(report.is_clean(), "{:?}", report.findings);

    // Damage both: drop one secondary entry and one page of spatial entries.
    let entry = first_key(&db, "by_n", "entries");
    let page = first_key(&db, "where", "pages");
    let mut txn = db.begin().expect("begin");
    txn.extension_delete("c", "by_n", "entries", &entry)
        .expect("delete entry");
    txn.extension_delete("c", "where", "pages", &page)
        .expect("delete page");
    txn.commit().expect("commit");

    let mut report = CheckReport::default();
    assert_eq!(
        cairn::verify_extensions(&db, &mut report).expect("verify"),
        2
    );
    let secondary = findings_of(&report, "by_n");
    assert_eq!(secondary.len(), 1, "{secondary:?}");
    assert!(
        secondary[0].contains("is missing for its document"),
        "{secondary:?}"
    );
    let spatial = findings_of(&report, "where");
    assert!(!spatial.is_empty(), "{:?}", report.findings);
    assert!(
        spatial
            .iter()
            .all(|d| d.contains("is missing for its document")),
        "{spatial:?}"
    );
}
