//! Graphs: edge collections, the adjacency index, traversals, shortest paths (`cairn-graph`),
//! and the entity API the entity-graph team asked for.
//!
//! ```
//! use cairn::graph::{self, entity, Direction, EdgeOptions, OnVertexDelete};
//! use cairn::Value;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let db = cairn::open_in_memory()?;
//! db.create_collection("patients")?;
//! db.create_collection("admissions")?;
//! graph::create_edge_collection(&db, "admitted", &EdgeOptions {
//!     on_vertex_delete: OnVertexDelete::Cascade,
//!     vertex_collections: vec!["patients".into(), "admissions".into()],
//!     properties: vec!["weight".into(), "active".into()],
//! })?;
//!
//! // Entities, one property at a time.
//! let ada = entity::create_entity(&db, "patients", Value::from_json_str(r#"{"name": "Ada"}"#)?)?;
//! let stay = entity::create_entity(&db, "admissions", Value::from_json_str(r#"{"ward": 3}"#)?)?;
//! entity::set_property(&db, &ada, "age", Value::Int(36))?;
//! assert_eq!(entity::get_property(&db, &ada, "age")?, Some(Value::Int(36)));
//!
//! // An edge with properties; `_from`/`_to` may also be written as "patients/<id>" text.
//! let edge = entity::add_edge(&db, "admitted", &ada, &stay,
//!     Value::from_json_str(r#"{"weight": 1.5, "active": true}"#)?)?;
//! let out = entity::neighbours(&db, &ada, Direction::Out, &["admitted".to_string()])?;
//! assert_eq!(out[0].vertex, stay);
//! assert_eq!(out[0].edge, edge);
//!
//! // Only active edges, with the ordinary filter language, inside one snapshot.
//! let active = cairn::Filter::parse(&Value::from_json_str(r#"{"active": true}"#)?)?;
//! let mut txn = db.read()?;
//! let found = graph::neighbours_matching(&mut txn, &stay, Direction::In,
//!     &["admitted".to_string()], &active)?;
//! assert_eq!(found.len(), 1);
//!
//! // Cascade: deleting the patient deletes its edges in the same transaction.
//! db.delete("patients", &ada.id)?;
//! assert!(entity::neighbours(&db, &stay, Direction::In, &["admitted".to_string()])?.is_empty());
//! # Ok(()) }
//! ```

pub use cairn_graph::*;

use cairn_query::{Filter, Op};

/// A [`DocFilter`] from a filter of the query language (`Filter::matches`), for the edge and
/// vertex filters of [`Walk`] and [`Traversal`]: `walk.edge_filter = Some(&matcher(&f))`.
pub fn matcher(filter: &Filter) -> impl Fn(&cairn_doc::Value) -> bool + '_ {
    move |doc| filter.matches(doc)
}

/// The top-level fields `filter` reads, for [`Walk::edge_filter_fields`]: with them, an edge
/// filter on properties an edge collection stores in its adjacency
/// ([`EdgeOptions::properties`]) runs on the stored values, reading no edge document. `None`
/// when the filter holds an operator of a registered model (it may read more than its field).
pub fn filter_fields(filter: &Filter) -> Option<Vec<String>> {
    fn collect(filter: &Filter, out: &mut Vec<String>) -> bool {
        match filter {
            Filter::All => true,
            Filter::And(parts) | Filter::Or(parts) | Filter::Nor(parts) => {
                parts.iter().all(|part| collect(part, out))
            }
            Filter::Field(path, ops) => {
                if !ops.iter().all(plain) {
                    return false;
                }
                let top = path
                    .segments()
                    .first()
                    .map(|segment| segment.as_str().to_string())
                    .unwrap_or_default();
                if !out.contains(&top) {
                    out.push(top);
                }
                true
            }
        }
    }
    fn plain(op: &Op) -> bool {
        match op {
            Op::Registered(_) => false,
            Op::Not(inner) => inner.iter().all(plain),
            _ => true,
        }
    }
    let mut out = Vec::new();
    collect(filter, &mut out).then_some(out)
}

/// [`neighbours`] narrowed by a filter of the query language applied to the edge documents
/// (or to their stored properties, when the edge collections store every field it reads).
pub fn neighbours_matching(
    txn: &mut cairn_engine::Transaction,
    vertex: &VertexRef,
    direction: Direction,
    edge_collections: &[String],
    edge_filter: &Filter,
) -> Result<Vec<Neighbour>> {
    let matches = matcher(edge_filter);
    let fields = filter_fields(edge_filter);
    let mut walk = Walk::new(edge_collections, direction);
    walk.edge_filter = Some(&matches);
    walk.edge_filter_fields = fields.as_deref();
    cairn_graph::neighbours_walk(txn, vertex, &walk)
}
