//! A vector index created online between a full and an incremental backup comes back whole
//! from a restore: the restored database holds the index, ready, equal to its documents
//! (`cairn::vector::verify`), and answering searches.

use cairn::backup::{restore, RestoreTarget};
use cairn::vector::{create_vector_index, search, verify, Metric, VectorSpec};
use cairn::{Config, DocId, StorageMode, Value};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn embedded(i: i64) -> Result<Value, cairn::DocError> {
    let (x, y) = ((i % 17) as f32 + 1.0, (i % 5) as f32);
    Value::from_json_str(&format!(
        r#"{{"_id": {i}, "emb": {{"$vector": [{x}, {y}, 1.0]}}}}"#
    ))
}

#[test]
fn a_vector_index_built_online_is_restored_ready_and_equal_to_its_documents() -> TestResult {
    let dir = tempfile::tempdir()?;
    let backups = dir.path().join("backups");
    let db = cairn::open(Config::new(dir.path().join("db"), StorageMode::Persistent))?;
    db.create_collection("p")?;
    for i in 0..300 {
        db.insert("p", embedded(i)?)?;
    }
    db.backup(&backups, false, &mut |_, _| {})?;
    let spec = VectorSpec::new("by_emb", "emb", 3, Metric::Cosine)?;
    create_vector_index(&db, "p", &spec, &mut |_| {})?;
    for i in 300..350 {
        db.insert("p", embedded(i)?)?;
    }
    for i in 0..20 {
        db.delete("p", &DocId::Int(i))?;
    }
    db.backup(&backups, true, &mut |_, _| {})?;
    drop(db);

    let to = dir.path().join("restored");
    restore(&backups, &to, RestoreTarget::Latest, None, &mut |_, _| {})?;
    let restored = cairn::open(Config::new(&to, StorageMode::Persistent))?;
    let mut txn = restored.read()?;
    let report = verify(&mut txn, "p", "by_emb")?;
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert_eq!(report.nodes, 330);
    // Documents i ≡ 2 (mod 85) hold [3, 2, 1]; document 2 itself was deleted.
    let found = search(&mut txn, "p", "by_emb", &[3.0, 2.0, 1.0], 4, None, None)?;
    let mut ids: Vec<DocId> = found.hits.iter().map(|h| h.id.clone()).collect();
    ids.sort();
    assert_eq!(ids, [87, 172, 257, 342].map(DocId::Int));
    assert!(
        found.hits.iter().all(|h| h.distance < 1e-6),
        "{:?}",
        found.hits
    );
    Ok(())
}
