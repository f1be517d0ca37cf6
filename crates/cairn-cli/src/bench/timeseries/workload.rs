//! The generated points (regenerated per series from its seed, never all held at once) and the
//! checks every system's answers pass.

/// Points per series.
pub const POINTS: usize = 720;
/// Time between points, milliseconds.
pub const INTERVAL_MS: i64 = 10_000;
/// One hour, milliseconds.
pub const HOUR_MS: i64 = 3_600_000;
/// The first point's time (2023-11-14T22:15:00Z, a multiple of the 5-minute bucket), milliseconds.
pub const BASE_MS: i64 = 1_700_000_100_000;
/// Components of a trajectory point (17 joints × 3).
pub const DIMS: usize = 51;
/// Range reads per run.
const RANGE_QUERIES: usize = 1_000;
/// Downsample bucket, milliseconds.
const BUCKET_MS: i64 = 300_000;

/// SplitMix64.
pub struct Rng(u64);

impl Rng {
    /// A generator for stream `kind`, item `index`.
    pub fn new(kind: u64, index: u64) -> Rng {
        Rng(kind.wrapping_mul(0x1000_0000_01B3) ^ index.wrapping_mul(0x9E37_79B9))
    }

    /// Uniform in `0..below`.
    pub fn below(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % below
    }
}

/// The benchmark's data and queries.
pub struct Workload {
    /// Gauge series (and counter series).
    pub series: usize,
    /// Trajectories.
    pub trajectories: usize,
    /// (series, from) of each range read, one hour long.
    pub range_queries: Vec<(usize, i64)>,
}

impl Workload {
    /// The workload at `scale`.
    pub fn generate(scale: f64) -> Workload {
        let series = ((2_000.0 * scale) as usize).max(1);
        let trajectories = ((1_000.0 * scale) as usize).max(1);
        let mut rng = Rng::new(9, 9);
        let last_start = (POINTS as i64 - HOUR_MS / INTERVAL_MS) as u64;
        let range_queries = (0..RANGE_QUERIES)
            .map(|_| {
                let s = rng.below(series as u64) as usize;
                let from = BASE_MS + rng.below(last_start + 1) as i64 * INTERVAL_MS;
                (s, from)
            })
            .collect();
        Workload {
            series,
            trajectories,
            range_queries,
        }
    }

    /// Gauge series `s`: (time, value), a two-decimal random walk.
    pub fn gauge_points(&self, s: usize) -> impl Iterator<Item = (i64, f64)> {
        let mut rng = Rng::new(1, s as u64);
        let mut cents: i64 = 5_000;
        (0..POINTS).map(move |i| {
            cents += rng.below(101) as i64 - 50;
            (BASE_MS + i as i64 * INTERVAL_MS, cents as f64 / 100.0)
        })
    }

    /// Counter series `s`: (time, value), growing by 0..99.
    pub fn counter_points(&self, s: usize) -> impl Iterator<Item = (i64, i64)> {
        let mut rng = Rng::new(2, s as u64);
        let mut total: i64 = 0;
        (0..POINTS).map(move |i| {
            total += rng.below(100) as i64;
            (BASE_MS + i as i64 * INTERVAL_MS, total)
        })
    }

    /// Trajectory `s`: (time, vector), each component a two-decimal random walk.
    pub fn trajectory_points(&self, s: usize) -> impl Iterator<Item = (i64, Vec<f64>)> {
        let mut rng = Rng::new(3, s as u64);
        let mut cents = vec![0i64; DIMS];
        (0..POINTS).map(move |i| {
            for c in cents.iter_mut() {
                *c += rng.below(21) as i64 - 10;
            }
            let vector = cents.iter().map(|c| *c as f64 / 100.0).collect();
            (BASE_MS + i as i64 * INTERVAL_MS, vector)
        })
    }

    /// Checks a range read's count and sum against the generated gauge.
    pub fn check_range(
        &self,
        problems: &mut Vec<String>,
        system: &str,
        s: usize,
        from: i64,
        count: usize,
        sum: f64,
    ) {
        let (n, total) = self
            .gauge_points(s)
            .filter(|(t, _)| *t >= from && *t < from + HOUR_MS)
            .fold((0, 0.0), |(n, sum), (_, v)| (n + 1, sum + v));
        if n != count || (total - sum).abs() > 1e-6 * total.abs().max(1.0) {
            problems.push(format!(
                "{system}: range of series {s} from {from}: {count} points summing {sum}, expected {n} summing {total}"
            ));
        }
    }

    /// Buckets a whole-collection 5-minute downsample must produce.
    pub fn expected_buckets(&self) -> usize {
        let span = POINTS as i64 * INTERVAL_MS;
        // BASE_MS is a multiple of the bucket, so buckets tile the span.
        self.series * ((span + BUCKET_MS - 1) / BUCKET_MS) as usize
    }

    /// Checks a downsample's bucket count.
    pub fn check_buckets(&self, problems: &mut Vec<String>, system: &str, buckets: usize) {
        let expected = self.expected_buckets();
        if buckets != expected {
            problems.push(format!(
                "{system}: downsample gave {buckets} buckets, expected {expected}"
            ));
        }
    }

    /// Checks the number of latest points.
    pub fn check_latest(&self, problems: &mut Vec<String>, system: &str, found: usize) {
        if found != self.series {
            problems.push(format!(
                "{system}: latest gave {found} series, expected {}",
                self.series
            ));
        }
    }
}
