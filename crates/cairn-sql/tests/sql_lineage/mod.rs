//! Lineage of SQL derivations: `CREATE TABLE … AS SELECT` creates and fills a collection in one
//! transaction with its lineage record; `INSERT … SELECT` records its inputs in the statement's
//! transaction (rolled back with it); literal rows record nothing; the records read back
//! upstream and downstream and export as OpenLineage events.

use cairn::lineage::{lineage, openlineage_event, LineageInput};
use cairn::{DocId, Value};
use cairn_sql::SqlSession;

use super::rows;

fn runs(db: &cairn::Database) {
    db.create_collection("runs").expect("create");
    for (id, loss) in [(1, 0.2), (2, 0.7), (3, 0.4), (4, 0.9)] {
        let doc = Value::from_json_str(&format!(r#"{{"_id": {id}, "loss": {loss}}}"#)).unwrap();
        db.insert("runs", doc).expect("insert");
    }
}

fn ids(db: &cairn::Database, collection: &str) -> Vec<String> {
    let mut out = Vec::new();
    db.for_each(collection, |id, _| {
        out.push(id.to_string());
        true
    })
    .expect("scan");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_table_as_select_fills_a_collection_and_records_its_inputs_in_one_transaction() {
    let db = cairn::open_in_memory().expect("open");
    runs(&db);
    let mut session = SqlSession::new(db.clone());
    let statement = "CREATE TABLE best AS SELECT _id, loss FROM runs WHERE loss < 0.5";
    let tags = session.execute_all(statement).await.expect("ctas");
    assert_eq!(tags[0].2, "SELECT 2");
    assert_eq!(ids(&db, "best"), ["1", "3"], "ids and rows kept");
    let doc = db.get("best", &DocId::Int(3)).expect("get").expect("row 3");
    assert_eq!(
        doc.as_object().and_then(|o| o.get("loss")),
        Some(&Value::Float(0.4))
    );
    assert_eq!(
        rows(&mut session, "SELECT count(*) FROM best").await,
        Ok(vec!["2".to_string()])
    );

    let best = lineage(&db, "best").expect("lineage");
    assert_eq!(best.upstream.len(), 1, "{best:?}");
    let record = &best.upstream[0];
    assert_eq!(record.operation, "create_table_as");
    assert_eq!(
        record.inputs,
        [LineageInput::Collection {
            name: "runs".to_string()
        }]
    );
    assert_eq!(record.documents, Some(2));
    assert!(
        record
            .statement
            .as_deref()
            .is_some_and(|s| s.contains("CREATE TABLE best AS SELECT")),
        "{record:?}"
    );
    let downstream = lineage(&db, "runs").expect("lineage").downstream;
    assert_eq!(downstream.len(), 1);
    assert_eq!(downstream[0].output, "best");
    let event = openlineage_event(record).to_json_string();
    assert!(
        event.contains(r#""name":"create_table_as:best""#),
        "{event}"
    );
    assert!(
        event.contains(r#""namespace":"cairn","name":"runs""#),
        "{event}"
    );
    assert!(
        event.contains(r#""query":"CREATE TABLE best AS SELECT"#),
        "{event}"
    );

    // INSERT … SELECT records its input and how many rows it wrote; VALUES records nothing.
    let tags = session
        .execute_all("INSERT INTO best (loss) SELECT loss FROM runs WHERE loss > 0.8")
        .await
        .expect("insert select");
    assert_eq!(tags[0].2, "INSERT 0 1");
    session
        .execute_all("INSERT INTO best (loss) VALUES (0.01)")
        .await
        .expect("insert values");
    let best = lineage(&db, "best").expect("lineage");
    assert_eq!(best.upstream.len(), 2, "{best:?}");
    assert_eq!(best.upstream[1].operation, "insert_select");
    assert_eq!(best.upstream[1].documents, Some(1));
    assert_eq!(best.upstream[1].inputs, best.upstream[0].inputs);

    // Inside a block, the record commits with the block: a rollback leaves no record.
    session
        .execute_all(
            "BEGIN; INSERT INTO best (loss) SELECT loss FROM runs WHERE loss > 0.8; ROLLBACK",
        )
        .await
        .expect("rolled back");
    assert_eq!(lineage(&db, "best").expect("lineage").upstream.len(), 2);
    session
        .execute_all(
            "BEGIN; INSERT INTO best (loss) SELECT loss FROM runs WHERE loss > 0.8; COMMIT",
        )
        .await
        .expect("committed");
    assert_eq!(lineage(&db, "best").expect("lineage").upstream.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_create_table_as_leaves_neither_collection_nor_lineage() {
    let db = cairn::open_in_memory().expect("open");
    runs(&db);
    let mut session = SqlSession::new(db.clone());
    // The second copy of each id fails the insert: the whole statement is undone.
    let failed = rows(
        &mut session,
        "CREATE TABLE twice AS SELECT _id FROM runs UNION ALL SELECT _id FROM runs",
    )
    .await;
    assert_eq!(
        failed.as_ref().map_err(|e| e.0.as_str()),
        Err("23505"),
        "{failed:?}"
    );
    assert!(!db
        .list_collections()
        .expect("list")
        .iter()
        .any(|meta| meta.name == "twice"));
    assert!(lineage(&db, "runs").expect("lineage").downstream.is_empty());
    // Existing names: an error, or nothing with IF NOT EXISTS.
    let exists = rows(&mut session, "CREATE TABLE runs AS SELECT 1 AS x").await;
    assert_eq!(exists.map_err(|e| e.0), Err("42P07".to_string()));
    let skipped = session
        .execute_all("CREATE TABLE IF NOT EXISTS runs AS SELECT 1 AS x")
        .await
        .expect("if not exists");
    assert_eq!(skipped[0].2, "SELECT 0");
    assert_eq!(ids(&db, "runs").len(), 4);
    // DDL does not run inside a block.
    let in_block = rows(&mut session, "BEGIN; CREATE TABLE b AS SELECT 1 AS x").await;
    assert_eq!(in_block.map_err(|e| e.0), Err("25001".to_string()));
}
