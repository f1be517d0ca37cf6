//! What the vector index's integration tests share: databases that know the `vector` kind,
//! documents holding a vector, and a seeded data set.
#![allow(dead_code)]

use std::sync::Arc;

use cairn_doc::{Object, Value, Vector};
use cairn_engine::{Config, Database, StorageMode};
use cairn_vector::{HnswParams, Metric, VectorExtensionKind};

/// Opens (or creates) a persistent database in `dir` that knows vector indexes.
pub fn open(dir: &std::path::Path) -> Database {
    let mut config = Config::new(dir, StorageMode::Persistent);
    config.extension_kinds.push(Arc::new(VectorExtensionKind));
    Database::open(config).expect("open")
}

/// A memory-only database that knows vector indexes.
pub fn open_memory() -> Database {
    let mut config = Config::new(std::path::PathBuf::new(), StorageMode::MemoryOnly);
    config.extension_kinds.push(Arc::new(VectorExtensionKind));
    Database::open(config).expect("open")
}

/// Small graph parameters, so debug-mode tests stay quick.
pub const SMALL: HnswParams = HnswParams {
    m: 8,
    ef_construction: 48,
    ef_search: 48,
};

/// The document `{"_id": id, "emb": vector, "tag": id % 10}`.
pub fn doc(id: i64, vector: &[f32]) -> Value {
    let mut o = Object::new();
    o.insert("_id", Value::Int(id));
    o.insert("emb", Value::Vector(Vector::from(vector)));
    o.insert("tag", Value::Int(id % 10));
    Value::Object(o)
}

/// A splitmix64 generator: seeded, so every run sees the same data.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = self.unit().max(f64::MIN_POSITIVE);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// Standard deviation of each Gaussian of [`dataset`]: the clusters overlap (centres are
/// about 4.6 apart at 32 dimensions, points 1.0 · √32 ≈ 5.7 from theirs), so neighbours are
/// not trivially one cluster.
pub const SPREAD: f64 = 1.0;

/// `n` vectors of `dims` from a mixture of 16 Gaussians (centres uniform in [-1, 1]^dims,
/// spread [`SPREAD`]), made valid for `metric`: under `poincare` scaled into the ball (norm < 0.95
/// after dividing by the largest norm and shrinking).
pub fn dataset(seed: u64, n: usize, dims: usize, metric: Metric) -> Vec<Vec<f32>> {
    let mut rng = Rng(seed);
    let centres: Vec<Vec<f64>> = (0..16)
        .map(|_| (0..dims).map(|_| rng.unit() * 2.0 - 1.0).collect())
        .collect();
    let mut points: Vec<Vec<f64>> = (0..n)
        .map(|_| {
            let centre = &centres[(rng.next_u64() % 16) as usize];
            centre.iter().map(|c| c + SPREAD * rng.normal()).collect()
        })
        .collect();
    if metric == Metric::Poincare {
        let norm = |p: &Vec<f64>| p.iter().map(|x| x * x).sum::<f64>().sqrt();
        let max = points.iter().map(norm).fold(0.0, f64::max);
        for p in &mut points {
            for x in p.iter_mut() {
                *x *= 0.95 / max;
            }
        }
    }
    points
        .into_iter()
        .map(|p| p.into_iter().map(|x| x as f32).collect())
        .collect()
}
