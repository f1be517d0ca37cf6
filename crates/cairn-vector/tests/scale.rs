//! A larger run for figures, not a pass/fail bound on time (ignored by default; run it in
//! release: `cargo test --release -p cairn-vector --test scale -- --ignored --nocapture`).
//!
//! Workload: `CAIRN_VECTOR_SCALE_N` (default 50,000) vectors of 128 dimensions from the seeded
//! mixture of Gaussians in `support` (16 centres, spread 1.0), L2, default HNSW parameters,
//! inserted 1,000 documents per transaction into a persistent database; 200 queries from the
//! same distribution, k = 10. Prints build time, graph and exact queries per second,
//! recall@10, the time to reopen the database and answer one query, and the filtered recall
//! at 1% selectivity. Graph searches run twice: on the tables (a transaction that records
//! reads), then on the resident image (`make_resident`), and once more through `find`. Only recall is asserted (≥ 0.9), as in `recall.rs`.

mod support;

use std::time::Instant;

use cairn_doc::DocId;
use cairn_vector::{create_vector_index, search, search_exact, Metric, VectorSpec};
use support::{dataset, doc, open};

#[test]
#[ignore = "a figure-producing run; use --release"]
fn figures_at_scale() {
    let n: usize = std::env::var("CAIRN_VECTOR_SCALE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let (dims, queries, k) = (128, 200, 10);
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(1, n + queries, dims, Metric::L2);
    let started = Instant::now();
    {
        let db = open(dir.path());
        db.create_collection("c").unwrap();
        let spec = VectorSpec::new("v", "emb", dims, Metric::L2).unwrap();
        create_vector_index(&db, "c", &spec, &mut |_| {}).unwrap();
        for (c, chunk) in data[..n].chunks(1_000).enumerate() {
            let mut txn = db.begin().unwrap();
            for (i, v) in chunk.iter().enumerate() {
                txn.insert("c", doc((c * 1_000 + i) as i64, v)).unwrap();
            }
            txn.commit().unwrap();
        }
    }
    let build_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let db = open(dir.path());
    let mut txn = db.read().unwrap();
    search(&mut txn, "c", "v", &data[n], k, None, None).unwrap();
    let cold_ms = started.elapsed().as_secs_f64() * 1e3;
    // The tables: a transaction that records reads never uses a resident image.
    let mut tables_txn = db.begin().unwrap();
    let started = Instant::now();
    let tables: Vec<_> = data[n..]
        .iter()
        .map(|q| search(&mut tables_txn, "c", "v", q, k, None, None).unwrap())
        .collect();
    let tables_qps = queries as f64 / started.elapsed().as_secs_f64();
    drop(tables_txn);
    let started = Instant::now();
    assert!(cairn_vector::make_resident(&db, "c", "v").unwrap());
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    let mut txn = db.read().unwrap();
    let started = Instant::now();
    let graph: Vec<_> = data[n..]
        .iter()
        .map(|q| search(&mut txn, "c", "v", q, k, None, None).unwrap())
        .collect();
    let graph_qps = queries as f64 / started.elapsed().as_secs_f64();
    assert!(graph.iter().all(|g| g.stats.resident));
    assert!(graph.iter().zip(&tables).all(|(g, t)| g.hits == t.hits));
    // Through the query layer (`find` with `$nearVector`, documents fetched and returned).
    cairn_vector::register_query_model();
    let started = Instant::now();
    for q in &data[n..] {
        let v: Vec<String> = q.iter().map(|x| format!("{x}")).collect();
        let filter = cairn_doc::Value::from_json_expression(&format!(
            r#"{{"emb": {{"$nearVector": {{"vector": [{}], "k": {k}}}}}}}"#,
            v.join(",")
        ))
        .unwrap();
        let query = cairn_query::Query::new(cairn_query::Filter::parse(&filter).unwrap());
        let found = cairn_query::find(&db, "c", &query).unwrap();
        assert_eq!(found.documents.len(), k);
    }
    let find_qps = queries as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    let exact: Vec<_> = data[n..]
        .iter()
        .map(|q| search_exact(&mut txn, "c", "v", q, k, None, None).unwrap())
        .collect();
    let exact_qps = queries as f64 / started.elapsed().as_secs_f64();
    let recall = |graph: &[cairn_vector::SearchOutcome], exact: &[cairn_vector::SearchOutcome]| {
        let found: usize = graph
            .iter()
            .zip(exact)
            .map(|(g, e)| {
                g.hits
                    .iter()
                    .filter(|h| e.hits.iter().any(|x| x.key == h.key))
                    .count()
            })
            .sum();
        found as f64 / exact.iter().map(|e| e.hits.len()).sum::<usize>() as f64
    };
    let graph_recall = recall(&graph, &exact);
    let one_percent =
        |key: &[u8]| matches!(DocId::decode_key(key), Ok(DocId::Int(i)) if i % 100 == 0);
    let filtered: Vec<_> = data[n..n + 50]
        .iter()
        .map(|q| search(&mut txn, "c", "v", q, k, None, Some(&one_percent)).unwrap())
        .collect();
    let filtered_exact: Vec<_> = data[n..n + 50]
        .iter()
        .map(|q| search_exact(&mut txn, "c", "v", q, k, None, Some(&one_percent)).unwrap())
        .collect();
    let filtered_recall = recall(&filtered, &filtered_exact);
    let returned = filtered.iter().map(|f| f.hits.len()).min().unwrap_or(0);
    let visited = graph
        .iter()
        .map(|g| g.stats.distances_computed)
        .sum::<u64>()
        / queries as u64;
    println!("| figure | value |\n|---|---|");
    println!("| vectors × dims | {n} × {dims} |");
    println!(
        "| build (1,000 docs/txn, durable) | {build_s:.1} s ({:.0} docs/s) |",
        n as f64 / build_s
    );
    println!("| reopen + first query | {cold_ms:.1} ms |");
    println!("| graph search, ef 64, tables | {tables_qps:.0} q/s |");
    println!("| make_resident (load the image) | {load_ms:.0} ms |");
    println!("| graph search, ef 64, resident | {graph_qps:.0} q/s, recall@10 {graph_recall:.3}, {visited} distances/query |");
    println!("| `find` with `$nearVector` k=10, resident | {find_qps:.0} q/s |");
    println!("| exact search | {exact_qps:.1} q/s |");
    println!(
        "| filtered 1% (graph) | recall@10 {filtered_recall:.3}, min results {returned} of {k} |"
    );
    assert!(graph_recall >= 0.9 && filtered_recall >= 0.9 && returned == k);
}
