//! The geometry row of `cairn bench storage`: bytes on disk (allocated blocks) after loading
//! `--docs` records of the geometry team's workload into Cairn (default settings, the same
//! after `cairn compact`, and `--profile space`), SQLite (JSON text, integer primary key) and
//! PostgreSQL 15 (`jsonb`, default TOAST compression), with the ratios.
//!
//! A record is one simulation facet, ~230 bytes of JSON:
//!
//! ```json
//! {"_id": 17, "shape": {"$geometry": {"type": "triangle", "coordinates":
//!   [[412.031, 77.514, 903.112], [413.8, 78.1, 903.112], [412.031, 79.2, 904.6]]}},
//!  "kind": "boundary", "energy": 4711.042, "step": 1, "tags": ["converged", "mesh-a"]}
//! ```
//!
//! Coordinates and energies have three decimals (integers of thousandths, printed exactly), the
//! triangle lies within a 2.5-unit neighbourhood of a point uniform in a 1000-unit cube, `kind`
//! is one of 8 words, `step` = `_id / 16`, 1–3 tags out of 8. Cairn stores the triangle as its
//! geometry type (`$geometry`); SQLite and PostgreSQL store the JSON text as given.
//!
//! Sizes: Cairn's folder (data file, write-ahead log, everything) after closing; SQLite's file
//! after a `wal_checkpoint(TRUNCATE)`; PostgreSQL's table after a `CHECKPOINT`:
//! `pg_total_relation_size` (heap, TOAST, primary-key index, free-space and visibility maps;
//! PostgreSQL's files are never sparse, so this is what they occupy). The cluster's catalogs
//! and write-ahead log are not counted for PostgreSQL: they exist whatever it holds.

use std::path::{Path, PathBuf};

use anyhow::Context;
use cairn::{Compression, Config, Database, StorageMode, Value};

use super::{folder_bytes, SplitMix64, BATCH_DOCS, MIB, TRAIN_AFTER_DOCS};
use crate::bench::pg_cluster::{self, PgCluster};
use crate::open::SPACE_PROFILE_ZSTD_LEVEL;

/// Seed of the geometry records (distinct from the clinical records' per-index seeds).
const GEOMETRY_SEED: u64 = 0x6E0_F00D_5EED;

/// Values of `kind`.
const KINDS: [&str; 8] = [
    "boundary", "interior", "contact", "crack", "inlet", "outlet", "wall", "symmetry",
];
/// Values of `tags`.
const TAGS: [&str; 8] = [
    "converged",
    "refined",
    "mesh-a",
    "mesh-b",
    "checked",
    "coarse",
    "adaptive",
    "restart",
];
/// Records per simulation step.
const RECORDS_PER_STEP: usize = 16;

/// One subject's size.
struct SubjectSize {
    name: String,
    bytes: Option<u64>,
    /// Why the subject has no figure (PostgreSQL not installed).
    missing: Option<String>,
}

/// Loads `count` geometry records into each subject under `dir` and renders the table.
pub(super) fn run(count: usize, dir: &Path) -> anyhow::Result<String> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let docs: Vec<String> = (0..count).map(record).collect();
    let average = docs.iter().map(String::len).sum::<usize>() / docs.len().max(1);
    let mut sizes = Vec::new();
    let default = dir.join("geo-cairn-default");
    sizes.push(sized(
        "cairn default",
        cairn_bytes(&default, Compression::default(), &docs)?,
    ));
    let report = cairn::compact(&cairn_config(&default, Compression::default()))?;
    sizes.push(sized("cairn default, compacted", folder_bytes(&default)?));
    eprintln!("  compact gave back {} bytes", report.reclaimed_bytes());
    let _ = std::fs::remove_dir_all(&default);
    let space = dir.join("geo-cairn-space");
    let space_compression = Compression::zstd_with_dictionaries(SPACE_PROFILE_ZSTD_LEVEL);
    sizes.push(sized(
        "cairn --profile space",
        cairn_bytes(&space, space_compression, &docs)?,
    ));
    let _ = std::fs::remove_dir_all(&space);
    sizes.push(sized(
        "sqlite",
        sqlite_bytes(&dir.join("geo-sqlite.db"), &docs)?,
    ));
    sizes.push(match pg_cluster::unavailable() {
        Some(reason) => SubjectSize {
            name: "postgresql 15 jsonb".to_string(),
            bytes: None,
            missing: Some(reason),
        },
        // A cluster that does not start (say, the postgres user cannot reach the folder)
        // leaves the row unmeasured with the reason rather than losing the other rows.
        None => match postgres_bytes(&dir.join("geo-postgres"), &docs) {
            Ok(bytes) => sized("postgresql 15 jsonb", bytes),
            Err(err) => SubjectSize {
                name: "postgresql 15 jsonb".to_string(),
                bytes: None,
                missing: Some(format!("{err:#}")),
            },
        },
    });
    Ok(render(count, average, &sizes))
}

fn sized(name: &str, bytes: u64) -> SubjectSize {
    SubjectSize {
        name: name.to_string(),
        bytes: Some(bytes),
        missing: None,
    }
}

fn cairn_config(dir: &Path, compression: Compression) -> Config {
    let mut config = Config::new(dir, StorageMode::Persistent);
    config.compression = compression;
    config
}

/// Loads the records into a new Cairn database in `dir` in transactions of [`BATCH_DOCS`]
/// (dictionaries trained after the first [`TRAIN_AFTER_DOCS`], as `bench storage` does), closes
/// it and returns its folder's bytes.
fn cairn_bytes(dir: &Path, compression: Compression, docs: &[String]) -> anyhow::Result<u64> {
    let db = Database::open(cairn_config(dir, compression))?;
    db.create_collection("facets")?;
    for (n, chunk) in docs.chunks(BATCH_DOCS).enumerate() {
        let mut txn = db.begin()?;
        for text in chunk {
            txn.insert("facets", Value::from_json_str(text)?)?;
        }
        txn.commit()?;
        if (n + 1) * BATCH_DOCS == TRAIN_AFTER_DOCS && compression.dictionaries {
            db.train_dictionaries()?;
        }
    }
    drop(db);
    folder_bytes(dir)
}

fn sqlite_bytes(path: &Path, docs: &[String]) -> anyhow::Result<u64> {
    let mut conn = rusqlite::Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.execute(
        "CREATE TABLE facets(id INTEGER PRIMARY KEY, doc TEXT NOT NULL)",
        [],
    )?;
    for (n, chunk) in docs.chunks(BATCH_DOCS).enumerate() {
        let txn = conn.transaction()?;
        {
            let mut insert = txn.prepare_cached("INSERT INTO facets(id, doc) VALUES (?1, ?2)")?;
            for (i, doc) in chunk.iter().enumerate() {
                insert.execute(rusqlite::params![(n * BATCH_DOCS + i) as i64, doc])?;
            }
        }
        txn.commit()?;
    }
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    drop(conn);
    let mut bytes = 0;
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        if let Ok(meta) = std::fs::metadata(&file) {
            bytes += cairn::allocated_bytes(&meta);
        }
    }
    Ok(bytes)
}

fn postgres_bytes(dir: &Path, docs: &[String]) -> anyhow::Result<u64> {
    let cluster = PgCluster::create(dir)?;
    let mut client = cluster.connect()?;
    client.batch_execute("CREATE TABLE facets (id bigint PRIMARY KEY, doc jsonb NOT NULL)")?;
    let insert = client.prepare("INSERT INTO facets VALUES ($1, $2::text::jsonb)")?;
    for (n, chunk) in docs.chunks(BATCH_DOCS).enumerate() {
        let mut txn = client.transaction()?;
        for (i, doc) in chunk.iter().enumerate() {
            let id = (n * BATCH_DOCS + i) as i64;
            txn.execute(&insert, &[&id, &doc.as_str()])?;
        }
        txn.commit()?;
    }
    client.batch_execute("CHECKPOINT")?;
    let row = client.query_one("SELECT pg_total_relation_size('facets')", &[])?;
    let bytes = row.get::<_, i64>(0) as u64;
    drop(client);
    drop(cluster);
    std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    Ok(bytes)
}

/// Record `index` as JSON text.
fn record(index: usize) -> String {
    let mut rng = SplitMix64(GEOMETRY_SEED ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    // Thousandths: the center in the cube, positive legs (0.5–2.5) so the triangle is never
    // degenerate: (a, b, 0) × (0, e, d) has the component -a·d ≠ 0.
    let center: [u64; 3] = [0, 1, 2].map(|_| rng.next() % 1_000_000);
    let leg = |rng: &mut SplitMix64| 500 + rng.next() % 2_001;
    let (a, b, d, e) = (leg(&mut rng), leg(&mut rng), leg(&mut rng), leg(&mut rng));
    let vertices = [
        center,
        [center[0] + a, center[1] + b, center[2]],
        [center[0], center[1] + e, center[2] + d],
    ];
    let point = |p: [u64; 3]| {
        let coords: Vec<String> = p.iter().map(|&c| thousandths(c)).collect();
        format!("[{}]", coords.join(", "))
    };
    let coordinates: Vec<String> = vertices.into_iter().map(point).collect();
    let kind = rng.pick(&KINDS);
    let energy = thousandths(rng.next() % 10_000_000);
    let tags: Vec<String> = (0..1 + rng.next() % 3)
        .map(|_| format!("\"{}\"", rng.pick(&TAGS)))
        .collect();
    format!(
        r#"{{"_id": {index}, "shape": {{"$geometry": {{"type": "triangle", "coordinates": [{}]}}}}, "kind": "{kind}", "energy": {energy}, "step": {}, "tags": [{}]}}"#,
        coordinates.join(", "),
        index / RECORDS_PER_STEP,
        tags.join(", "),
    )
}

/// An integer of thousandths as exact decimal text.
fn thousandths(value: u64) -> String {
    format!("{}.{:03}", value / 1000, value % 1000)
}

fn render(count: usize, average: usize, sizes: &[SubjectSize]) -> String {
    let bytes_of = |name: &str| sizes.iter().find(|s| s.name == name).and_then(|s| s.bytes);
    let (sqlite, postgres) = (bytes_of("sqlite"), bytes_of("postgresql 15 jsonb"));
    let ratio = |bytes: u64, of: Option<u64>| {
        of.map_or("-".to_string(), |o| {
            format!("{:.2}×", bytes as f64 / o.max(1) as f64)
        })
    };
    let mut out = format!(
        "\ngeometry records: {count} (average {average} bytes of JSON)\n{:<26} {:>10} {:>10} {:>12}\n",
        "subject", "disk MiB", "vs sqlite", "vs postgres"
    );
    for size in sizes {
        match (size.bytes, &size.missing) {
            (Some(bytes), _) => out.push_str(&format!(
                "{:<26} {:>10.1} {:>10} {:>12}\n",
                size.name,
                bytes as f64 / MIB,
                ratio(bytes, sqlite),
                ratio(bytes, postgres)
            )),
            (None, reason) => out.push_str(&format!(
                "{:<26} not measured: {}\n",
                size.name,
                reason.as_deref().unwrap_or("unknown")
            )),
        }
    }
    if let (Some(default), Some(sqlite)) = (bytes_of("cairn default"), sqlite) {
        let r = default as f64 / sqlite.max(1) as f64;
        let met = if r <= 0.5 { "met" } else { "not met" };
        out.push_str(&format!(
            "\ngoal: cairn default ≤ 0.50× SQLite: {r:.2}× ({met})\n"
        ));
    }
    if let (Some(default), Some(postgres)) = (bytes_of("cairn default"), postgres) {
        let met = if default < postgres { "met" } else { "not met" };
        out.push_str(&format!("goal: cairn default < PostgreSQL: {met}\n"));
    }
    if let (Some(default), Some(space)) =
        (bytes_of("cairn default"), bytes_of("cairn --profile space"))
    {
        let met = if space <= default { "met" } else { "not met" };
        out.push_str(&format!(
            "goal: --profile space ≤ default: {:.3}× ({met})\n",
            space as f64 / default.max(1) as f64
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_valid_deterministic_documents() {
        assert_eq!(record(3), record(3));
        for index in 0..200 {
            let text = record(index);
            let value = Value::from_json_str(&text).unwrap();
            let shape = value.as_object().and_then(|o| o.get("shape"));
            assert!(
                matches!(shape, Some(Value::Geometry(_))),
                "{text} has no geometry"
            );
            let _: serde_json::Value = serde_json::from_str(&text).unwrap();
        }
    }

    #[test]
    fn small_load_reports_every_subject() {
        let dir = tempfile::tempdir().unwrap();
        // Under root PostgreSQL runs as the postgres user, who must reach the folder.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let table = run(1_500, dir.path()).unwrap();
        for name in [
            "cairn default",
            "cairn default, compacted",
            "cairn --profile space",
            "sqlite",
            "postgresql 15 jsonb",
        ] {
            assert!(table.contains(name), "{name} missing from\n{table}");
        }
        assert!(
            table.contains("goal: cairn default ≤ 0.50× SQLite"),
            "{table}"
        );
        if pg_cluster::unavailable().is_none() {
            assert!(!table.contains("not measured"), "{table}");
        }
    }
}
