//! Cairn in the text benchmark: the paragraphs loaded into a persistent database, a text index
//! built online over them, and every query asked twice — through the query layer
//! (`cairn::find` with `$text`, the user's path) and through the index alone
//! (`cairn::text::search`, comparable with a raw search library).

use std::path::Path;
use std::time::{Duration, Instant};

use cairn::query::{Filter, Projection, Query};
use cairn::text::{create_text_index, search, Language, TextSpec};
use cairn::{Config, Database, DocId, Object, StorageMode, Value};

use super::corpus::{TextQuery, CLASSES};
use super::{folder_bytes, Answers, System, K, LOAD_BATCH, VISIBILITY_ROUNDS};

const COLLECTION: &str = "docs";
const INDEX: &str = "t";

/// The query in Cairn's query-string syntax.
pub fn query_string(q: &TextQuery) -> String {
    let w = &q.words;
    match CLASSES[q.class] {
        "term" => w[0].clone(),
        "and" => format!("+{} +{}", w[0], w[1]),
        "or" => format!("{} {}", w[0], w[1]),
        "phrase" => format!("\"{} {}\"", w[0], w[1]),
        "prefix" => format!("{}*", w[0]),
        _ => format!("{}~1", w[0]),
    }
}

fn find_query(text: &str) -> anyhow::Result<Query> {
    let mut operand = Object::new();
    operand.insert("query", Value::String(text.to_string()));
    operand.insert("k", Value::Int(K as i64));
    let mut filter = Object::new();
    filter.insert("$text", Value::Object(operand));
    let mut query = Query::new(Filter::parse(&Value::Object(filter))?);
    query.limit = Some(K);
    query.projection = Some(Projection::parse(&Value::from_json_str(r#"{"_id": 1}"#)?)?);
    Ok(query)
}

fn int_id(id: &DocId) -> Option<u64> {
    match id {
        DocId::Int(i) => u64::try_from(*i).ok(),
        _ => None,
    }
}

/// Loads, builds and queries; returns the system through the query layer and through the index.
pub fn run(dir: &Path, docs: &[String], queries: &[TextQuery]) -> anyhow::Result<(System, System)> {
    let path = dir.join("cairn");
    let db = cairn::open(Config::new(&path, StorageMode::Persistent))?;
    db.create_collection(COLLECTION)?;
    eprintln!("cairn: loading {} paragraphs…", docs.len());
    for (c, chunk) in docs.chunks(LOAD_BATCH).enumerate() {
        let mut txn = db.begin()?;
        for (j, body) in chunk.iter().enumerate() {
            let mut o = Object::new();
            o.insert("_id", Value::Int((c * LOAD_BATCH + j) as i64));
            o.insert("body", Value::String(body.clone()));
            txn.insert(COLLECTION, Value::Object(o))?;
        }
        txn.commit()?;
    }
    drop(db);
    let before = folder_bytes(&path);
    let db = cairn::open(Config::new(&path, StorageMode::Persistent))?;
    eprintln!("cairn: building the text index…");
    let spec = TextSpec::new(INDEX, &[("body", 1.0)], Language::English, None)?;
    let started = Instant::now();
    create_text_index(&db, COLLECTION, &spec, &mut |_| {})?;
    let build_s = started.elapsed().as_secs_f64();
    drop(db);
    let index_bytes = folder_bytes(&path).saturating_sub(before);
    let db = cairn::open(Config::new(&path, StorageMode::Persistent))?;

    eprintln!("cairn: queries…");
    let mut through_find = Answers::new();
    let mut through_index = Answers::new();
    // The first pass warms the caches; the second is measured.
    for pass in 0..2 {
        through_find = Answers::new();
        through_index = Answers::new();
        for q in queries {
            let text = query_string(q);
            let query = find_query(&text)?;
            let started = Instant::now();
            let found = cairn::find(&db, COLLECTION, &query);
            let elapsed = started.elapsed();
            through_find.push(found.ok().map(|f| {
                let ids = f
                    .documents
                    .iter()
                    .filter_map(|d| d.as_object()?.get("_id")?.as_i64())
                    .map(|i| i as u64)
                    .collect();
                (ids, elapsed)
            }));
            let started = Instant::now();
            let found = db
                .read()
                .map_err(anyhow::Error::from)
                .and_then(|mut txn| Ok(search(&mut txn, COLLECTION, INDEX, &text, Some(K))?));
            let elapsed = started.elapsed();
            through_index.push(found.ok().map(|r| {
                let ids = r.hits.iter().filter_map(|h| int_id(&h.id)).collect();
                (ids, elapsed)
            }));
        }
        if pass == 0 {
            eprintln!("cairn: measured pass…");
        }
    }
    let visible_ms = commit_to_searchable(&db, docs.len())?;
    let system = |name: &str, answers| System {
        name: name.to_string(),
        build_s,
        index_bytes,
        visible_ms,
        answers,
        note: String::new(),
    };
    Ok((
        system("Cairn find", through_find),
        system("Cairn index", through_index),
    ))
}

/// Mean time from calling commit on a one-document transaction to a search that finds it.
fn commit_to_searchable(db: &Database, first_id: usize) -> anyhow::Result<f64> {
    let mut total = Duration::ZERO;
    for round in 0..VISIBILITY_ROUNDS {
        let word = super::fresh_word(round);
        let mut txn = db.begin()?;
        let mut o = Object::new();
        o.insert("_id", Value::Int((first_id + round) as i64));
        o.insert(
            "body",
            Value::String(format!("a fresh paragraph about {word}")),
        );
        txn.insert(COLLECTION, Value::Object(o))?;
        let started = Instant::now();
        txn.commit()?;
        let mut reader = db.read()?;
        let found = search(&mut reader, COLLECTION, INDEX, &word, Some(K))?;
        total += started.elapsed();
        anyhow::ensure!(
            found.hits.len() == 1,
            "cairn: a committed paragraph was not found"
        );
    }
    Ok(total.as_secs_f64() * 1e3 / VISIBILITY_ROUNDS as f64)
}
