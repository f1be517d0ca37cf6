//! Differential tests: the index's search against a naive scorer that analyses every
//! document and computes BM25 directly from its definition, on random corpora and queries
//! (after random updates and deletes, so stale score bounds are exercised too). Same
//! matching set, same scores (to 1e-9 relative), same top-k order with ties by `_id`.

mod common;

use std::collections::BTreeMap;

use cairn_doc::DocId;
use cairn_engine::Database;
use cairn_text::query::parse;
use cairn_text::{create_text_index, search};
use proptest::prelude::*;

use common::{document, open_memory, query, spec, to_value, Naive};
fn check(db: &Database, naive: &Naive, text: &str) -> Result<(), TestCaseError> {
    let mut txn = db.read().unwrap();
    let Ok(parsed) = parse(text) else {
        prop_assert!(search(&mut txn, "c", "t", text, None).is_err());
        return Ok(());
    };
    let expected = naive.search(&parsed);
    let all = search(&mut txn, "c", "t", text, None).unwrap();
    prop_assert_eq!(all.hits.len(), expected.len(), "matching set of {}", text);
    for (hit, (key, score)) in all.hits.iter().zip(&expected) {
        prop_assert_eq!(&hit.key, key, "order of {}", text);
        prop_assert!(
            (hit.score - score).abs() <= 1e-9 * score.abs().max(1e-300),
            "score of {}: {} vs {}",
            text,
            hit.score,
            score
        );
    }
    for k in [1usize, 3, 10] {
        let top = search(&mut txn, "c", "t", text, Some(k)).unwrap();
        let want: Vec<&(Vec<u8>, f64)> = expected.iter().take(k).collect();
        prop_assert_eq!(top.hits.len(), want.len(), "top-{} size of {}", k, text);
        for (hit, (key, score)) in top.hits.iter().zip(want) {
            prop_assert_eq!(&hit.key, key, "top-{} order of {}", k, text);
            prop_assert!((hit.score - score).abs() <= 1e-9 * score.abs().max(1e-300));
        }
        prop_assert!(top.explain.documents_scored <= expected.len() as u64 || !top.explain.pruned);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn search_matches_a_naive_bm25_scorer(
        corpus in prop::collection::vec(document(), 1..40),
        rewrites in prop::collection::vec((0usize..40, prop::option::of(document())), 0..10),
        queries in prop::collection::vec(query(), 1..12),
    ) {
        let db = open_memory();
        db.create_collection("c").unwrap();
        create_text_index(&db, "c", &spec(), &mut |_| {}).unwrap();
        let mut docs = BTreeMap::new();
        for (i, d) in corpus.iter().enumerate() {
            let value = to_value(i as i64, d);
            db.insert("c", value.clone()).unwrap();
            docs.insert(i as i64, value);
        }
        for (i, rewrite) in rewrites {
            let id = (i % corpus.len()) as i64;
            match rewrite {
                Some(d) if docs.contains_key(&id) => {
                    let value = to_value(id, &d);
                    db.replace("c", &DocId::Int(id), value.clone()).unwrap();
                    docs.insert(id, value);
                }
                Some(_) => {}
                None => {
                    db.delete("c", &DocId::Int(id)).unwrap();
                    docs.remove(&id);
                }
            }
        }
        let naive = Naive::new(spec(), &docs);
        for text in &queries {
            check(&db, &naive, text)?;
        }
    }
}

#[test]
fn top_k_skips_documents_only_a_common_term_holds() {
    let db = open_memory();
    db.create_collection("c").unwrap();
    create_text_index(&db, "c", &spec(), &mut |_| {}).unwrap();
    for i in 0..300i64 {
        let title = if i % 100 == 10 {
            "rare rare common"
        } else {
            "common words here"
        };
        db.insert("c", to_value(i, &(title.to_string(), vec![], vec![])))
            .unwrap();
    }
    let mut txn = db.read().unwrap();
    let all = search(&mut txn, "c", "t", "title:rare title:common", None).unwrap();
    let top = search(&mut txn, "c", "t", "title:rare title:common", Some(1)).unwrap();
    eprintln!("top-1: {:?}\nall:   {:?}", top.explain, all.explain);
    assert_eq!(all.hits.len(), 300);
    assert_eq!(top.hits, all.hits[..1].to_vec());
    assert!(top.explain.pruned);
    assert!(
        top.explain.documents_scored < 50,
        "scored {} of 300",
        top.explain.documents_scored
    );
    assert!(
        top.explain.postings_read < all.explain.postings_read / 2,
        "read {} postings of {}",
        top.explain.postings_read,
        all.explain.postings_read
    );
}
