//! Bytes per point of a gauge and a counter, and our float codec against pcodec.
//!
//! Workload (the reference benchmark shape): 2,000 series × 720 points at a 10 s interval
//! (times in milliseconds), one chunk per series (the chunk span is a day).
//! * gauge: a seeded random walk with 2 decimal digits (steps of -0.50..+0.50);
//! * counter: a seeded counter (increments 0..=100, stored as floats like a Prometheus
//!   counter).
//!
//! Stored through transactions of 200 series into a persistent database. Printed: chunk
//! payload bytes per point (header, timestamps, values, checksum), the chunks table's B-tree
//! bytes per point, the value column alone, and pcodec 1.1 (default level) on the same values
//! per series (720 values, our chunk size) and per 14,400 values (20 series concatenated,
//! nearer the ~10k values pcodec wants). No timing is asserted.

mod support;

use std::ops::Bound;

use cairn_doc::Value;
use cairn_timeseries::codec::{floats, timestamps};
use cairn_timeseries::{append, create, read_range, Point, Sample, SeriesOptions};

const SERIES: usize = 2000;
const POINTS: usize = 720;
const INTERVAL_MS: i64 = 10_000;
const BASE_MS: i64 = 1_780_000_000_000 - 1_780_000_000_000 % 86_400_000;

/// xorshift64*: a fixed, dependency-free generator so figures are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> i64 {
        (self.next() % n) as i64
    }
}

fn gauge(rng: &mut Rng) -> Vec<f64> {
    let mut cents = 2000 + rng.below(1000);
    (0..POINTS)
        .map(|_| {
            cents += rng.below(101) - 50;
            cents as f64 / 100.0
        })
        .collect()
}

fn counter(rng: &mut Rng) -> Vec<f64> {
    let mut total = rng.below(1_000_000);
    (0..POINTS)
        .map(|_| {
            total += rng.below(101);
            total as f64
        })
        .collect()
}

struct Figures {
    chunk_bytes: u64,
    btree_bytes: u64,
    value_column: u64,
    pco_720: u64,
    pco_14400: u64,
    timestamps: u64,
    pco_timestamps: u64,
}

fn measure(name: &str, make: fn(&mut Rng) -> Vec<f64>) -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let db = support::open(Some(dir.path()));
    let options = SeriesOptions::new("t", "sensor", 86_400_000);
    db.transaction(|txn| create(txn, name, &options).map_err(Into::into))
        .unwrap();
    let mut rng = Rng(0x5eed_0000_0000_0001);
    let times: Vec<i64> = (0..POINTS as i64)
        .map(|i| BASE_MS + i * INTERVAL_MS)
        .collect();
    let mut all_values: Vec<Vec<f64>> = Vec::with_capacity(SERIES);
    let mut txn = db.begin().unwrap();
    for s in 0..SERIES {
        let values = make(&mut rng);
        let points: Vec<Point> = times
            .iter()
            .zip(&values)
            .map(|(t, v)| Point::single(*t, "v", Sample::Float(*v)))
            .collect();
        append(&mut txn, name, &Value::Int(s as i64), points).unwrap();
        all_values.push(values);
        if s % 200 == 199 {
            txn.commit().unwrap();
            txn = db.begin().unwrap();
        }
    }
    txn.commit().unwrap();
    let mut txn = db.read().unwrap();
    // Lossless: spot-check series read back bit for bit.
    for s in [0, SERIES / 2, SERIES - 1] {
        let (points, _) =
            read_range(&mut txn, name, &Value::Int(s as i64), i64::MIN, i64::MAX).unwrap();
        let back: Vec<u64> = points
            .iter()
            .map(|p| match &p.fields["v"] {
                Sample::Float(v) => v.to_bits(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            back,
            all_values[s]
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>()
        );
    }
    let mut chunk_bytes = 0u64;
    txn.extension_range(
        name,
        "timeseries",
        "chunks",
        Bound::Unbounded,
        Bound::Unbounded,
        |_, v| {
            chunk_bytes += v.len() as u64;
            Ok::<_, cairn_engine::EngineError>(true)
        },
    )
    .unwrap();
    let btree_bytes = txn
        .extension_table_stats(name, "timeseries", "chunks")
        .unwrap()
        .bytes;
    let level = pco::ChunkConfig::default();
    let mut figures = Figures {
        chunk_bytes,
        btree_bytes,
        value_column: 0,
        pco_720: 0,
        pco_14400: 0,
        timestamps: 0,
        pco_timestamps: 0,
    };
    for values in &all_values {
        let mut out = Vec::new();
        floats::encode(values, &mut out);
        figures.value_column += out.len() as u64;
        figures.pco_720 += pco::standalone::simple_compress(values, &level)
            .unwrap()
            .len() as u64;
        let mut t = Vec::new();
        timestamps::encode(&times, &mut t);
        figures.timestamps += t.len() as u64;
        figures.pco_timestamps += pco::standalone::simple_compress(&times, &level)
            .unwrap()
            .len() as u64;
    }
    for group in all_values.chunks(20) {
        let joined: Vec<f64> = group.concat();
        figures.pco_14400 += pco::standalone::simple_compress(&joined, &level)
            .unwrap()
            .len() as u64;
    }
    figures
}

#[test]
fn bytes_per_point_of_a_gauge_and_a_counter() {
    let points = (SERIES * POINTS) as f64;
    println!("workload: {SERIES} series x {POINTS} points, 10 s interval; bytes per point");
    println!("| series | chunk payload | chunks table (B-tree) | value column (ours) | pco, 720/series | pco, 14,400/block | timestamps (ours) | timestamps (pco) |");
    println!("|---|---|---|---|---|---|---|---|");
    for (name, make) in [
        ("gauge", gauge as fn(&mut Rng) -> Vec<f64>),
        ("counter", counter),
    ] {
        let f = measure(name, make);
        println!(
            "| {name} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.4} | {:.4} |",
            f.chunk_bytes as f64 / points,
            f.btree_bytes as f64 / points,
            f.value_column as f64 / points,
            f.pco_720 as f64 / points,
            f.pco_14400 as f64 / points,
            f.timestamps as f64 / points,
            f.pco_timestamps as f64 / points,
        );
        assert!(f.chunk_bytes > 0);
    }
}

/// Trajectories: 100 entities (scaled down from the reference 1,000 to keep the debug test
/// short) × 720 points × 51 components (17 joints × 3), each component a seeded random walk
/// in millimetres stored as metres with 3 decimals. Encoded as chunks directly (one per
/// entity); printed per vector point and per component.
#[test]
fn bytes_per_point_of_trajectories() {
    const ENTITIES: usize = 100;
    const DIM: usize = 51;
    let mut rng = Rng(0x5eed_0000_0000_0002);
    let mut total = 0u64;
    for _ in 0..ENTITIES {
        let mut mm: Vec<i64> = (0..DIM).map(|_| rng.below(2000) - 1000).collect();
        let points: Vec<Point> = (0..POINTS as i64)
            .map(|i| {
                for c in mm.iter_mut() {
                    *c += rng.below(21) - 10;
                }
                let v = mm.iter().map(|c| *c as f64 / 1000.0).collect();
                Point::single(BASE_MS + i * INTERVAL_MS, "pos", Sample::Vector(v))
            })
            .collect();
        let bytes = cairn_timeseries::chunk::encode(&points);
        let (_, back) = cairn_timeseries::chunk::decode(&bytes).unwrap();
        assert_eq!(back, points);
        total += bytes.len() as u64;
    }
    let points = (ENTITIES * POINTS) as f64;
    println!(
        "trajectory: {ENTITIES} x {POINTS} x {DIM}: {:.2} bytes per vector point, {:.3} per component",
        total as f64 / points,
        total as f64 / points / DIM as f64
    );
}
