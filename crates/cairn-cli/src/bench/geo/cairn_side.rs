//! Cairn in the geo benchmark: documents `{"_id": i, "shape": <mesh>}` in a persistent
//! database, a spatial index on `shape`, queries through `cairn::find`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use cairn::geo::index::{create_spatial_index, list_spatial_indexes, SpatialSpec};
use cairn::geo::GeoOp;
use cairn::query::Projection;
use cairn::{
    Config, Database, DocId, FieldPath, Filter, Geometry, Object, Query, StorageMode, Value,
};

use super::workload::{GeoQuery, K};

/// Documents per load transaction (20 index entries each).
const LOAD_BATCH_DOCS: usize = 500;
const COLLECTION: &str = "shapes";

pub struct CairnSide {
    dir: PathBuf,
    db: Option<Database>,
    projection: Projection,
}

impl CairnSide {
    pub fn create(dir: &Path) -> anyhow::Result<CairnSide> {
        let db = cairn::open(Config::new(dir, StorageMode::Persistent))?;
        db.create_collection(COLLECTION)?;
        let projection = Projection::parse(&Value::from_json_str(r#"{"_id": 1}"#)?)?;
        Ok(CairnSide {
            dir: dir.to_path_buf(),
            db: Some(db),
            projection,
        })
    }

    fn db(&self) -> anyhow::Result<&Database> {
        self.db.as_ref().context("the database is closed")
    }

    pub fn load(&self, shapes: &[Geometry]) -> anyhow::Result<()> {
        let db = self.db()?;
        for (chunk_index, chunk) in shapes.chunks(LOAD_BATCH_DOCS).enumerate() {
            db.transaction(|txn| {
                for (i, shape) in chunk.iter().enumerate() {
                    let mut doc = Object::new();
                    doc.insert(
                        "_id",
                        Value::Int((chunk_index * LOAD_BATCH_DOCS + i) as i64),
                    );
                    doc.insert("shape", Value::from(shape.clone()));
                    txn.insert(COLLECTION, Value::Object(doc))?;
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    /// Builds the spatial index over the loaded documents (online build).
    pub fn build_index(&self) -> anyhow::Result<()> {
        create_spatial_index(self.db()?, COLLECTION, &SpatialSpec::new("where", "shape")?)?;
        Ok(())
    }

    pub fn index_bytes(&self) -> anyhow::Result<u64> {
        Ok(list_spatial_indexes(self.db()?, COLLECTION)?
            .iter()
            .map(|i| i.bytes)
            .sum())
    }

    pub fn query(&self, q: &GeoQuery) -> anyhow::Result<Vec<u64>> {
        let op = match *q {
            GeoQuery::Radius(p, r) => GeoOp::WithinDistance {
                shape: Geometry::Point(p),
                max: r,
            },
            GeoQuery::Nearest(p) => GeoOp::near(Geometry::Point(p), K, None, "_distance"),
            GeoQuery::Box(b) => GeoOp::Intersects {
                shape: Geometry::Box {
                    min: b.min,
                    max: b.max,
                },
            },
        };
        let filter = Filter::Field(
            FieldPath::parse("shape")?,
            vec![cairn::query::Op::Registered(std::sync::Arc::new(op))],
        );
        let mut query = Query::new(filter);
        query.projection = Some(self.projection.clone());
        let found = cairn::find(self.db()?, COLLECTION, &query)?;
        let mut ids = Vec::with_capacity(found.documents.len());
        for doc in &found.documents {
            let id = doc
                .as_object()
                .and_then(|o| o.get("_id"))
                .context("a result without _id")?;
            match DocId::from_value(id)? {
                DocId::Int(i) => ids.push(i as u64),
                other => anyhow::bail!("unexpected id {other:?}"),
            }
        }
        if !matches!(q, GeoQuery::Nearest(_)) {
            ids.sort_unstable();
        }
        Ok(ids)
    }

    /// Closes the database, then times opening it and answering `first`.
    pub fn reopen_and_query(&mut self, first: &GeoQuery) -> anyhow::Result<Duration> {
        self.db = None;
        let started = Instant::now();
        self.db = Some(cairn::open(Config::new(
            &self.dir,
            StorageMode::Persistent,
        ))?);
        self.query(first)?;
        Ok(started.elapsed())
    }
}
