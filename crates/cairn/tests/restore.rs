//! Point-in-time restore across extension changes: a backup chain whose incremental pieces
//! hold index creations (online builds, secondary and spatial), schema versions and invariants
//! restores to every
//! commit with the same documents, the same extensions — ready, and answering queries — and
//! the same schema version and invariant figures as the source had at that commit.

use std::collections::BTreeMap;
use std::path::Path;

use cairn::backup::{replay, restore, RestoreTarget};
use cairn::index::BuildProgress;
use cairn::{Config, Database, Filter, Query, StorageMode, Value};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// What must match between the source at a commit and its restore.
#[derive(Debug, PartialEq)]
struct Snapshot {
    documents: BTreeMap<String, String>,
    /// (name, ready) of every secondary and spatial index.
    indexes: Vec<(String, bool)>,
    schema_version: Option<u64>,
    invariants: Vec<String>,
    /// Ids found through the query `{"age": {"$gte": 40}}` (an index, once there is one).
    older: Vec<String>,
    /// Ids whose `at` lies within 20 of the origin (the spatial index, once there is one).
    near: Vec<String>,
}

fn snapshot(db: &Database) -> Result<Snapshot, Box<dyn std::error::Error>> {
    let mut documents = BTreeMap::new();
    db.for_each("p", |id, doc| {
        documents.insert(id.to_string(), doc.to_json_string());
        true
    })?;
    let mut indexes: Vec<(String, bool)> = cairn::list_indexes(db, "p")?
        .into_iter()
        .map(|info| (info.spec.name.clone(), info.ready))
        .collect();
    indexes.extend(
        cairn::geo::index::list_spatial_indexes(db, "p")?
            .into_iter()
            .map(|info| (info.spec.name.clone(), info.ready)),
    );
    let schema_version = cairn::schema::schema_of(db, "p")?.map(|info| info.version);
    let invariants = cairn::invariant::list_invariants(db, "p")?
        .into_iter()
        .map(|info| format!("{:?}", info.state))
        .collect();
    let ids = |filter: &str| -> Result<Vec<String>, Box<dyn std::error::Error>> {
        let filter = Filter::parse(&Value::from_json_expression(filter)?)?;
        let mut ids: Vec<String> = cairn::find(db, "p", &Query::new(filter))?
            .documents
            .iter()
            .filter_map(|doc| doc.as_object()?.get("_id").map(Value::to_json_string))
            .collect();
        ids.sort();
        Ok(ids)
    };
    let older = ids(r#"{"age": {"$gte": 40}}"#)?;
    let near = ids(
        r#"{"at": {"$withinDistance": {"shape": {"$geometry": {"type": "point", "coordinates": [0, 0, 0]}}, "distance": 20}}}"#,
    )?;
    Ok(Snapshot {
        documents,
        indexes,
        schema_version,
        invariants,
        older,
        near,
    })
}

fn person(i: i64) -> Result<Value, cairn::DocError> {
    Value::from_json_str(&format!(
        r#"{{"_id": {i}, "name": "p{i}", "age": {}, "energy": {},
             "at": {{"$geometry": {{"type": "point", "coordinates": [{}, {}, 0]}}}}}}"#,
        20 + i * 7 % 50,
        i % 5,
        i * 3 % 40,
        i * 11 % 30
    ))
}

fn open(dir: &Path) -> cairn::Result<Database> {
    cairn::open(Config::new(dir, StorageMode::Persistent))
}

#[test]
fn point_in_time_restore_replays_index_builds_schema_versions_and_invariants() -> TestResult {
    let dir = tempfile::tempdir()?;
    let backups = dir.path().join("backups");
    let db = open(&dir.path().join("db"))?;
    let mut expected: BTreeMap<u64, Snapshot> = BTreeMap::new();
    let note = |db: &Database, expected: &mut BTreeMap<u64, Snapshot>| -> TestResult {
        expected.insert(db.last_seq(), snapshot(db)?);
        Ok(())
    };
    db.create_collection("p")?;
    for i in 0..10 {
        db.insert("p", person(i)?)?;
    }
    db.backup(&backups, false, &mut |_, _| {})?;
    note(&db, &mut expected)?;

    // Everything below lives only in the incremental piece's change log.
    let schema_v1 = r#"{"fields": {"name": "string", "age": {"type": "int", "min": 0}}}"#;
    cairn::schema::set_schema(&db, "p", &Value::from_json_str(schema_v1)?, "test")?;
    note(&db, &mut expected)?;
    for i in 10..20 {
        db.insert("p", person(i)?)?;
    }
    cairn::create_index(
        &db,
        "p",
        &cairn::IndexSpec::btree("by_age", &["age"])?,
        &mut |_: BuildProgress| {},
    )?;
    note(&db, &mut expected)?;
    cairn::invariant::add_invariant(&db, "p", None, "energy >= 0")?;
    cairn::geo::index::create_spatial_index(
        &db,
        "p",
        &cairn::geo::index::SpatialSpec::new("where", "at")?,
    )?;
    note(&db, &mut expected)?;
    let schema_v2 = r#"{"fields": {"name": "string", "age": {"type": "int", "min": 0},
                        "nick": {"type": "string"}}}"#;
    cairn::schema::set_schema(&db, "p", &Value::from_json_str(schema_v2)?, "test")?;
    note(&db, &mut expected)?;
    for i in 20..30 {
        db.insert("p", person(i)?)?;
        if i % 4 == 0 {
            db.delete("p", &cairn::DocId::Int(i - 15))?;
        }
    }
    note(&db, &mut expected)?;
    db.backup(&backups, true, &mut |_, _| {})?;

    for (n, (seq, want)) in expected.iter().enumerate() {
        let to = dir.path().join(format!("restored-{n}"));
        let report = restore(
            &backups,
            &to,
            RestoreTarget::Seq(*seq),
            None,
            &mut |_, _| {},
        )?;
        assert_eq!(report.seq, *seq);
        let restored = open(&to)?;
        assert_eq!(&snapshot(&restored)?, want, "restored to commit {seq}");
        // The restored database enforces what the source did at that commit.
        if want.schema_version.is_some() {
            let bad = Value::from_json_str(r#"{"_id": 999, "name": "x", "age": -1}"#)?;
            assert!(
                restored.insert("p", bad).is_err(),
                "schema enforced at {seq}"
            );
        }
    }
    Ok(())
}

/// The documents of every user collection, by collection and id.
fn all_documents(db: &Database) -> Result<BTreeMap<String, String>, Box<dyn std::error::Error>> {
    let mut out = BTreeMap::new();
    for meta in db.list_collections()? {
        db.for_each(&meta.name, |id, doc| {
            out.insert(format!("{}/{id}", meta.name), doc.to_json_string());
            true
        })?;
    }
    Ok(out)
}

#[test]
fn replay_from_the_change_log_rebuilds_every_recorded_state() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = open(&dir.path().join("db"))?;
    let mut expected: BTreeMap<u64, (Snapshot, BTreeMap<String, String>)> = BTreeMap::new();
    let note = |db: &Database, expected: &mut BTreeMap<u64, _>| -> TestResult {
        expected.insert(db.last_seq(), (snapshot(db)?, all_documents(db)?));
        Ok(())
    };
    db.create_collection("p")?;
    db.create_collection("other")?;
    for i in 0..10 {
        db.insert("p", person(i)?)?;
        db.insert(
            "other",
            Value::from_json_str(&format!(r#"{{"_id": {i}}}"#))?,
        )?;
    }
    note(&db, &mut expected)?;
    let schema = r#"{"fields": {"name": "string", "age": {"type": "int", "min": 0}}}"#;
    cairn::schema::set_schema(&db, "p", &Value::from_json_str(schema)?, "test")?;
    cairn::create_index(
        &db,
        "p",
        &cairn::IndexSpec::btree("by_age", &["age"])?,
        &mut |_: BuildProgress| {},
    )?;
    note(&db, &mut expected)?;
    for i in 10..20 {
        db.insert("p", person(i)?)?;
        db.replace("p", &cairn::DocId::Int(i - 10), person(i - 10)?)?;
        if i % 3 == 0 {
            db.delete("p", &cairn::DocId::Int(i - 1))?;
            db.delete("other", &cairn::DocId::Int(i - 10))?;
        }
    }
    note(&db, &mut expected)?;
    db.rename_collection("other", "renamed")?;
    note(&db, &mut expected)?;

    // The whole database, to every recorded commit: same sequence numbers, same documents,
    // indexes and schema.
    for (n, (seq, (want, want_all))) in expected.iter().enumerate() {
        let to = dir.path().join(format!("replayed-{n}"));
        let report = replay(&db, &to, RestoreTarget::Seq(*seq), None, None)?;
        assert_eq!(report.seq, *seq);
        assert_eq!(report.source_seq, *seq);
        let replayed = open(&to)?;
        assert_eq!(&snapshot(&replayed)?, want, "replayed to commit {seq}");
        assert_eq!(
            &all_documents(&replayed)?,
            want_all,
            "replayed to commit {seq}"
        );
    }

    // One collection, to the end: only its documents, its indexes, nothing of the others.
    let to = dir.path().join("only-p");
    let report = replay(&db, &to, RestoreTarget::Latest, Some("p"), None)?;
    assert!(report.seq < db.last_seq(), "{report:?}");
    let replayed = open(&to)?;
    let names: Vec<String> = replayed
        .list_collections()?
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["p"]);
    let (want, _) = expected.values().next_back().ok_or("recorded states")?;
    assert_eq!(&snapshot(&replayed)?, want);

    // Errors: an existing destination, an unknown collection.
    assert!(matches!(
        replay(&db, &to, RestoreTarget::Latest, None, None),
        Err(cairn::EngineError::RestoreDestinationExists { .. })
    ));
    let missing = dir.path().join("missing");
    assert!(matches!(
        replay(&db, &missing, RestoreTarget::Latest, Some("nope"), None),
        Err(cairn::EngineError::UnknownCollection { .. })
    ));
    assert!(!missing.exists());
    Ok(())
}

#[test]
fn replay_of_a_trimmed_log_is_a_typed_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut config = Config::new(dir.path().join("db"), StorageMode::Persistent);
    config.changelog_retention = 5;
    let db = cairn::open(config)?;
    db.create_collection("p")?;
    for i in 0..20 {
        db.insert("p", person(i)?)?;
    }
    let to = dir.path().join("replayed");
    assert!(matches!(
        replay(&db, &to, RestoreTarget::Latest, None, None),
        Err(cairn::EngineError::ChangeLogTrimmed { .. })
    ));
    assert!(!to.exists());
    Ok(())
}
