//! `CREATE INDEX … USING <method>` for the models' indexes, in PostgreSQL's spelling:
//!
//! | SQL | Cairn index |
//! |---|---|
//! | `USING hnsw (emb vector_l2_ops)` (pgvector) | vector index, metric `l2` |
//! | `USING hnsw (emb vector_cosine_ops)` | vector index, metric `cosine` |
//! | `USING hnsw (emb vector_ip_ops)` | vector index, metric `dot` |
//! | `USING gist (geom)` (PostGIS) | spatial index |
//! | `USING gin (title, body)` | full-text index (English) over the columns |
//!
//! A vector index's dimension is its column's (`vector(N)`); without an operator class it is
//! `l2`, pgvector's first. Each is built online like every Cairn index and then serves
//! `ORDER BY … LIMIT k` (`super::rank`), `st_3ddwithin` (`super::pushdown`) and
//! `text_search` (`super::text`).

use cairn::geo::index::{create_spatial_index, SpatialSpec};
use cairn::text::{create_text_index, Language, TextSpec};
use cairn::vector::{create_vector_index, Metric, VectorSpec};
use cairn::Database;

use crate::catalog::shape_of;
use crate::error::{Result, SqlError};
use crate::types::ColumnType;

/// The work of building one model index.
pub type IndexWork = Box<dyn FnOnce(&Database) -> Result<()> + Send>;

/// The build of `CREATE INDEX name ON table USING method (columns)` when `method` is one of
/// the models' (`columns`: each column with its operator class, if written); `None` for
/// B-tree and hash indexes, which `crate::ddl` builds.
pub fn model_index(
    method: &str,
    table: &str,
    name: &str,
    columns: Vec<(String, Option<String>)>,
) -> Option<Result<IndexWork>> {
    let (table, name) = (table.to_string(), name.to_string());
    let work: IndexWork = match method {
        "hnsw" => {
            let mut columns = columns.into_iter();
            let (Some((field, opclass)), None) = (columns.next(), columns.next()) else {
                return Some(Err(SqlError::Unsupported(
                    "an hnsw index is on exactly one vector column".into(),
                )));
            };
            let metric = match opclass.as_deref() {
                None | Some("vector_l2_ops") => Metric::L2,
                Some("vector_cosine_ops") => Metric::Cosine,
                Some("vector_ip_ops") => Metric::Dot,
                Some(other) => {
                    return Some(Err(SqlError::Unsupported(format!(
                        "operator class {other} (known: vector_l2_ops, vector_cosine_ops, vector_ip_ops)"
                    ))))
                }
            };
            Box::new(move |db| {
                let dims = match shape_of(db, &table)?.column(&field).map(|c| &c.ty) {
                    Some(ColumnType::Vector(n)) => *n,
                    _ => {
                        return Err(SqlError::Unsupported(format!(
                            "an hnsw index needs a vector(N) column; `{field}` is not one"
                        )))
                    }
                };
                let spec = VectorSpec::new(&name, &field, dims, metric)?;
                create_vector_index(db, &table, &spec, &mut |_| {})?;
                Ok(())
            })
        }
        "gist" => {
            let mut columns = columns.into_iter();
            let (Some((field, _)), None) = (columns.next(), columns.next()) else {
                return Some(Err(SqlError::Unsupported(
                    "a gist index is on exactly one geometry column".into(),
                )));
            };
            Box::new(move |db| {
                let spec = SpatialSpec::new(&name, &field)?;
                create_spatial_index(db, &table, &spec)?;
                Ok(())
            })
        }
        "gin" => {
            let fields: Vec<String> = columns.into_iter().map(|(f, _)| f).collect();
            Box::new(move |db| {
                let weighted: Vec<(&str, f64)> = fields.iter().map(|f| (f.as_str(), 1.0)).collect();
                let spec = TextSpec::new(&name, &weighted, Language::English, None)?;
                create_text_index(db, &table, &spec, &mut |_| {})?;
                Ok(())
            })
        }
        _ => return None,
    };
    Some(Ok(work))
}
