//! The routing entry per document is a collection option (`CollectionOptions::routing`): these
//! tests pin what each part of the engine does with a collection created without it —
//! `locate` stays complete (a point get per unrouted collection, and it says which), `check`
//! expects entries exactly for routed collections, and drops, reopening, backups, restores,
//! replays and the change log carry the option.

use std::path::Path;

use cairn_doc::{DocId, Value};
use cairn_engine::backup::{replay, restore, RestoreTarget};
use cairn_engine::{
    check_database, ChangeOp, CollectionOptions, Config, Database, Finding, Located, StorageMode,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn config(dir: &Path) -> Config {
    Config::new(dir, StorageMode::Persistent)
}

fn doc(id: i64) -> Result<Value, Box<dyn std::error::Error>> {
    Ok(Value::from_json_str(&format!(
        r#"{{"_id": {id}, "n": {id}}}"#
    ))?)
}

/// `routed` and `unrouted` with documents 1..=4 in each, 3 deleted from both, and 10 in
/// `unrouted` only.
fn fill(db: &Database) -> TestResult {
    db.create_collection("routed")?;
    let meta = db.create_collection_with("unrouted", &CollectionOptions::with_routing(false))?;
    assert!(!meta.routing);
    for name in ["routed", "unrouted"] {
        for id in 1..=4 {
            db.insert(name, doc(id)?)?;
        }
        db.delete(name, &DocId::Int(3))?;
    }
    db.insert("unrouted", doc(10)?)?;
    Ok(())
}

/// The number of routing entries in the database.
fn routing_entries(dir: &Path) -> Result<usize, Box<dyn std::error::Error>> {
    let store = cairn_storage::Store::open(&cairn_storage::StoreConfig::new(
        dir,
        StorageMode::Persistent,
    ))?;
    let snapshot = store.snapshot()?;
    let Some(table) = snapshot.table(cairn_engine::layout::ROUTING_TABLE)? else {
        return Ok(0);
    };
    Ok(usize::try_from(table.len()?)?)
}

fn located(collections: &[&str]) -> Located {
    Located {
        collections: collections.iter().map(|c| c.to_string()).collect(),
        searched_by_key: vec!["unrouted".to_string()],
    }
}

/// `locate` over `fill`'s collections gives every answer it should.
fn assert_locates(db: &Database) -> TestResult {
    assert_eq!(db.locate(&DocId::Int(1))?, located(&["routed", "unrouted"]));
    assert_eq!(db.locate(&DocId::Int(3))?, located(&[]));
    assert_eq!(db.locate(&DocId::Int(10))?, located(&["unrouted"]));
    assert_eq!(db.locate(&DocId::Int(99))?, located(&[]));
    Ok(())
}

#[test]
fn an_unrouted_collection_writes_no_routing_entries_and_locate_finds_it_by_key() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let db = Database::open(config(dir.path()))?;
        fill(&db)?;
        assert_locates(&db)?;
    }
    // Only `routed`'s three documents have entries.
    assert_eq!(routing_entries(dir.path())?, 3);
    // The option is in the catalog: it survives reopening.
    let db = Database::open(config(dir.path()))?;
    let routing: Vec<(String, bool)> = db
        .list_collections()?
        .into_iter()
        .map(|meta| (meta.name, meta.routing))
        .collect();
    assert_eq!(
        routing,
        [
            ("routed".to_string(), true),
            ("unrouted".to_string(), false)
        ]
    );
    db.insert("unrouted", doc(11)?)?;
    assert_eq!(db.locate(&DocId::Int(11))?, located(&["unrouted"]));
    Ok(())
}

#[test]
fn locate_in_a_database_where_every_collection_is_routed_searches_nothing_by_key() -> TestResult {
    let db = Database::open_in_memory()?;
    db.create_collection("a")?;
    db.insert("a", doc(1)?)?;
    let found = db.locate(&DocId::Int(1))?;
    assert_eq!(found.collections, ["a"]);
    assert!(found.searched_by_key.is_empty());
    Ok(())
}

#[test]
fn system_collections_are_unrouted_by_default_and_user_ones_routed() -> TestResult {
    let db = Database::open_in_memory()?;
    assert!(db.create_collection("people")?.routing);
    assert!(!db.create_collection("_sys_positions")?.routing);
    let forced = CollectionOptions::with_routing(true);
    assert!(db.create_collection_with("_sys_routed", &forced)?.routing);
    db.insert("_sys_positions", doc(5)?)?;
    let found = db.locate(&DocId::Int(5))?;
    assert_eq!(found.collections, ["_sys_positions"]);
    assert_eq!(found.searched_by_key, ["_sys_positions"]);
    Ok(())
}

#[test]
fn check_expects_routing_entries_only_for_routed_collections() -> TestResult {
    let dir = tempfile::tempdir()?;
    let ids: Vec<u32> = {
        let db = Database::open(config(dir.path()))?;
        fill(&db)?;
        let ids = db.list_collections()?.into_iter().map(|meta| meta.id);
        ids.collect()
    };
    let (routed_id, unrouted_id) = (ids[0], ids[1]);
    let report = check_database(&config(dir.path()))?;
    assert!(report.is_clean(), "{:?}", report.findings);
    // A routed collection's missing entry is still caught, and an unrouted collection's
    // stray one too.
    {
        let store = cairn_storage::Store::open(&cairn_storage::StoreConfig::new(
            dir.path(),
            StorageMode::Persistent,
        ))?;
        let key = |id: i64| -> Result<Vec<u8>, Box<dyn std::error::Error>> {
            let mut key = Vec::new();
            DocId::Int(id).encode_key(&mut key)?;
            Ok(key)
        };
        let txn = store.begin_write()?;
        {
            let mut routing = txn.table(cairn_engine::layout::ROUTING_TABLE)?;
            routing.delete(&cairn_engine::layout::routing_key(&key(2)?, routed_id))?;
            routing.put(
                &cairn_engine::layout::routing_key(&key(4)?, unrouted_id),
                &[],
            )?;
        }
        txn.commit()?;
    }
    let report = check_database(&config(dir.path()))?;
    assert_eq!(
        report.findings,
        vec![
            Finding::MissingRouting {
                collection: "routed".to_string(),
                id: "2".to_string(),
            },
            Finding::UnexpectedRouting {
                collection: "unrouted".to_string(),
                id: "4".to_string(),
            },
        ]
    );
    Ok(())
}

#[test]
fn dropping_an_unrouted_collection_reclaims_it_and_checks_clean() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let db = Database::open(config(dir.path()))?;
        fill(&db)?;
        db.transaction(|txn| {
            for id in 100..3_000 {
                txn.insert(
                    "unrouted",
                    doc(id).map_err(|_| cairn_engine::EngineError::Closed)?,
                )?;
            }
            Ok(())
        })?;
        db.drop_collection("unrouted")?;
        let found = db.locate(&DocId::Int(1))?;
        assert_eq!(found.collections, ["routed"]);
        assert!(found.searched_by_key.is_empty());
        assert!(db.locate(&DocId::Int(200))?.collections.is_empty());
        // A new collection of the same name starts empty, and routed.
        assert!(db.create_collection("unrouted")?.routing);
        assert!(db.get("unrouted", &DocId::Int(200))?.is_none());
    }
    assert_eq!(routing_entries(dir.path())?, 3);
    let report = check_database(&config(dir.path()))?;
    assert!(report.is_clean(), "{:?}", report.findings);
    Ok(())
}

#[test]
fn the_change_log_records_the_option_and_backups_restores_and_replays_keep_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let backups = dir.path().join("backups");
    let db = Database::open(config(&dir.path().join("db")))?;
    db.create_collection("before")?;
    db.backup(&backups, false, &mut |_, _| {})?;
    // Created after the full backup: only the incremental piece's change log knows it.
    fill(&db)?;
    db.backup(&backups, true, &mut |_, _| {})?;
    let creates: Vec<(String, Option<Value>)> = db
        .changes_after(0, 1_000)?
        .into_iter()
        .filter(|change| change.op == ChangeOp::CreateCollection)
        .map(|change| (change.collection, change.new))
        .collect();
    let options = Value::from_json_str(r#"{"routing": false}"#)?;
    assert_eq!(
        creates,
        [
            ("before".to_string(), None),
            ("routed".to_string(), None),
            ("unrouted".to_string(), Some(options)),
        ]
    );
    let restored = dir.path().join("restored");
    restore(
        &backups,
        &restored,
        RestoreTarget::Latest,
        None,
        &[],
        &mut |_, _| {},
    )?;
    let replayed = dir.path().join("replayed");
    replay(&db, &replayed, RestoreTarget::Latest, None, None, &[])?;
    for copy in [&restored, &replayed] {
        {
            let copy_db = Database::open(config(copy))?;
            let unrouted = copy_db
                .list_collections()?
                .into_iter()
                .find(|meta| meta.name == "unrouted")
                .map(|meta| meta.routing);
            assert_eq!(unrouted, Some(false), "{}", copy.display());
            assert_locates(&copy_db)?;
        }
        assert_eq!(routing_entries(copy)?, 3, "{}", copy.display());
        let report = check_database(&config(copy))?;
        assert!(
            report.is_clean(),
            "{}: {:?}",
            copy.display(),
            report.findings
        );
    }
    Ok(())
}
