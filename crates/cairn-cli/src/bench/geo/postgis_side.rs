//! PostGIS in the geo benchmark: a private PostgreSQL cluster started in the benchmark folder
//! (`bench::pg_cluster`), the shapes as `TIN Z` in a table with
//! a GiST `gist_geometry_ops_nd` index, queries with `ST_3DDWithin` / `ST_3DDistance` /
//! `ST_3DIntersects`. Skipped with a message when PostgreSQL or PostGIS is not installed.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use cairn::geo::{to_wkt, Aabb};
use cairn::Geometry;
use postgres::{Client, Statement};

use crate::bench::pg_cluster::{self, PgCluster};

use super::workload::{GeoQuery, K};

/// Rows per load transaction.
const LOAD_BATCH_ROWS: usize = 1_000;
/// First radius of the exact k-NN search (doubled until `K` rows are found).
const KNN_FIRST_RADIUS: f64 = 16.0;
/// Largest radius of the exact k-NN search: past the cube's diagonal nothing more is found.
const KNN_MAX_RADIUS: f64 = 4_000.0;

pub struct PostgisSide {
    client: Option<Client>,
    cluster: PgCluster,
    statements: Vec<Statement>,
}

/// Why PostGIS cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    if let Some(why) = pg_cluster::unavailable() {
        return Some(why);
    }
    let control = Path::new("/usr/share/postgresql/15/extension/postgis.control");
    if !control.exists() {
        return Some(
            "PostGIS is not installed (apt-get install postgresql-15-postgis-3)".to_string(),
        );
    }
    None
}

impl PostgisSide {
    /// Creates and starts a private cluster under `dir`.
    pub fn create(dir: &Path) -> anyhow::Result<PostgisSide> {
        Ok(PostgisSide {
            client: None,
            cluster: PgCluster::create(dir)?,
            statements: Vec::new(),
        })
    }

    fn connect(&mut self) -> anyhow::Result<()> {
        let mut client = self.cluster.connect()?;
        client.batch_execute("CREATE EXTENSION IF NOT EXISTS postgis")?;
        self.statements = vec![
            client.prepare(
                "SELECT id FROM shapes WHERE ST_3DDWithin(geom, ST_MakePoint($1, $2, $3), $4) \
                 ORDER BY id",
            )?,
            client.prepare(
                "SELECT id FROM shapes WHERE ST_3DDWithin(geom, ST_MakePoint($1, $2, $3), $4) \
                 ORDER BY ST_3DDistance(geom, ST_MakePoint($1, $2, $3)), id LIMIT 10",
            )?,
            client.prepare(
                "SELECT id FROM shapes WHERE geom &&& ST_3DMakeBox(ST_MakePoint($1, $2, $3), \
                 ST_MakePoint($4, $5, $6)) AND (ST_3DIntersects(geom, ST_GeomFromText($7)) OR \
                 (ST_XMin(geom) >= $1 AND ST_XMax(geom) <= $4 AND ST_YMin(geom) >= $2 AND \
                 ST_YMax(geom) <= $5 AND ST_ZMin(geom) >= $3 AND ST_ZMax(geom) <= $6)) \
                 ORDER BY id",
            )?,
        ];
        self.client = Some(client);
        Ok(())
    }

    fn client(&mut self) -> anyhow::Result<&mut Client> {
        self.client.as_mut().context("not connected")
    }

    pub fn load(&mut self, shapes: &[Geometry]) -> anyhow::Result<()> {
        if self.client.is_none() {
            let mut client = self.cluster.connect()?;
            client.batch_execute(
                "CREATE EXTENSION IF NOT EXISTS postgis; \
                 CREATE TABLE shapes (id bigint PRIMARY KEY, geom geometry(TINZ) NOT NULL)",
            )?;
            self.client = Some(client);
        }
        let client = self.client()?;
        let insert = client.prepare("INSERT INTO shapes VALUES ($1, ST_GeomFromText($2))")?;
        for (batch, chunk) in shapes.chunks(LOAD_BATCH_ROWS).enumerate() {
            let mut txn = client.transaction()?;
            for (i, shape) in chunk.iter().enumerate() {
                let id = (batch * LOAD_BATCH_ROWS + i) as i64;
                txn.execute(&insert, &[&id, &to_wkt(shape)?])?;
            }
            txn.commit()?;
        }
        Ok(())
    }

    pub fn build_index(&mut self) -> anyhow::Result<()> {
        self.client()?.batch_execute(
            "CREATE INDEX shapes_geom ON shapes USING gist (geom gist_geometry_ops_nd); \
             ANALYZE shapes",
        )?;
        self.connect()
    }

    pub fn index_bytes(&mut self) -> anyhow::Result<u64> {
        let row = self
            .client()?
            .query_one("SELECT pg_relation_size('shapes_geom')", &[])?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    pub fn query(&mut self, q: &GeoQuery) -> anyhow::Result<Vec<u64>> {
        let statements = self.statements.clone();
        let client = self.client()?;
        let ids =
            |rows: Vec<postgres::Row>| rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect();
        Ok(match *q {
            GeoQuery::Radius(p, r) => {
                ids(client.query(&statements[0], &[&p[0], &p[1], &p[2], &r])?)
            }
            GeoQuery::Nearest(p) => {
                let mut radius = KNN_FIRST_RADIUS;
                loop {
                    let rows = client.query(&statements[1], &[&p[0], &p[1], &p[2], &radius])?;
                    if rows.len() >= K || radius >= KNN_MAX_RADIUS {
                        break ids(rows);
                    }
                    radius *= 2.0;
                }
            }
            GeoQuery::Box(Aabb { min, max }) => {
                let surface = to_wkt(&Geometry::Box { min, max })?;
                ids(client.query(
                    &statements[2],
                    &[
                        &min[0], &min[1], &min[2], &max[0], &max[1], &max[2], &surface,
                    ],
                )?)
            }
        })
    }

    /// Stops the server, then times starting it, connecting and answering `first`.
    pub fn restart_and_query(&mut self, first: &GeoQuery) -> anyhow::Result<Duration> {
        self.client = None;
        self.cluster.stop()?;
        let started = Instant::now();
        self.cluster.start()?;
        self.connect()?;
        self.query(first)?;
        Ok(started.elapsed())
    }
}

impl Drop for PostgisSide {
    fn drop(&mut self) {
        // Close the connection before the cluster (dropped next) stops the server.
        self.client = None;
    }
}
