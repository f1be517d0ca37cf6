//! `explain` for graph queries: how a traversal, shortest path or k-hop count read the
//! adjacency index, and what it cost.

use cairn_doc::{Object, Value};

use crate::budget::{Counts, Meter};

/// What a graph query did: its plan in words and its counters.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphExplain {
    /// The algorithm and how edges were read, e.g. `breadth-first, depth 1..3, global
    /// uniqueness; adjacency out of follows; edge filter on stored properties`.
    pub plan: String,
    /// What it read.
    pub counts: Counts,
    /// Results returned (vertices, or the path's edges).
    pub returned: u64,
    /// Wall time, microseconds.
    pub elapsed_us: u64,
}

impl GraphExplain {
    /// The explain of a finished query run under `meter`.
    pub(crate) fn of(plan: String, meter: &Meter, returned: u64) -> GraphExplain {
        GraphExplain {
            plan,
            counts: meter.finish(),
            returned,
            elapsed_us: u64::try_from(meter.started().elapsed().as_micros()).unwrap_or(u64::MAX),
        }
    }

    /// The counters by the names `explain` shows them under (every consumer of an explain
    /// uses these names, so they are listed once).
    pub fn counters(&self) -> [(&'static str, u64); 8] {
        let c = &self.counts;
        [
            ("vertices_expanded", c.vertices_expanded),
            ("adjacency_edges", c.adjacency_entries),
            ("stored_property_reads", c.stored_property_reads),
            ("edge_documents_read", c.edge_documents_read),
            ("vertex_documents_read", c.vertex_documents_read),
            ("memory_bytes", c.memory_bytes),
            ("returned", self.returned),
            ("elapsed_us", self.elapsed_us),
        ]
    }

    /// As a document: `{"plan", "executed": {counter: n, ...}}`, the shape of the query
    /// layer's explain.
    pub fn to_value(&self) -> Value {
        let mut executed = Object::new();
        for (name, count) in self.counters() {
            executed.insert(name, Value::Int(i64::try_from(count).unwrap_or(i64::MAX)));
        }
        let mut out = Object::new();
        out.insert("plan", Value::String(self.plan.clone()));
        out.insert("executed", Value::Object(executed));
        Value::Object(out)
    }
}
