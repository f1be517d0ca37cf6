//! `cairn traverse` and `cairn path`: graph queries over edge collections, on one snapshot.

use std::io::Write;

use anyhow::Context;
use cairn::graph::{
    self, Direction, EdgeRef, Path, Returns, Traversal, Uniqueness, VertexRef, Walk,
};
use cairn::{Database, Filter, Value};
use serde_json::json;

/// Which edges a graph command follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Way {
    /// Edges leaving the vertex (`_from` is the vertex).
    Out,
    /// Edges arriving at the vertex (`_to` is the vertex).
    In,
    /// Both.
    Any,
}

impl From<Way> for Direction {
    fn from(way: Way) -> Direction {
        match way {
            Way::Out => Direction::Out,
            Way::In => Direction::In,
            Way::Any => Direction::Any,
        }
    }
}

/// `cairn traverse START... --edges E[,E2]`.
#[derive(Debug, Clone, clap::Args)]
pub struct TraverseArgs {
    /// Start vertices, as collection/id (e.g. patients/7).
    #[arg(required = true)]
    pub start: Vec<String>,
    /// Edge collections to follow (comma-separated).
    #[arg(long, value_delimiter = ',', required = true)]
    pub edges: Vec<String>,
    /// Which way edges are followed.
    #[arg(long, value_enum, default_value_t = Way::Out)]
    pub direction: Way,
    /// Smallest depth printed (0 prints the start vertices).
    #[arg(long, default_value_t = 1)]
    pub min_depth: u32,
    /// Largest depth reached [maximum: 64].
    #[arg(long, default_value_t = 1)]
    pub max_depth: u32,
    /// Each vertex once per traversal (`global`), or once per path (`path`: every path).
    #[arg(long, value_enum, default_value_t = Unique::Global)]
    pub uniqueness: Unique,
    /// What each line carries besides the vertex and depth.
    #[arg(long, value_enum, default_value_t = Show::Vertices)]
    pub returns: Show,
    /// Stop after this many results.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Follow only edges matching this filter, e.g. '{"active": true}'.
    #[arg(long)]
    pub edge_filter: Option<String>,
    /// Return and expand only vertices matching this filter.
    #[arg(long)]
    pub vertex_filter: Option<String>,
    /// Print how the traversal ran (plan and counters: vertices expanded, adjacency edges,
    /// edge/vertex documents read) as one JSON object instead of the results.
    #[arg(long)]
    pub explain: bool,
}

/// `--uniqueness`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Unique {
    /// Each vertex once per traversal.
    Global,
    /// Each vertex at most once per path.
    Path,
}

/// `--returns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Show {
    /// The vertex and its depth.
    Vertices,
    /// Also the edge it was reached by.
    Edges,
    /// Also the path from its start vertex.
    Paths,
}

/// `cairn path FROM TO --edges E[,E2]`.
#[derive(Debug, Clone, clap::Args)]
pub struct PathArgs {
    /// From this vertex (collection/id).
    pub from: String,
    /// To this vertex (collection/id).
    pub to: String,
    /// Edge collections to follow (comma-separated).
    #[arg(long, value_delimiter = ',', required = true)]
    pub edges: Vec<String>,
    /// Which way edges are followed.
    #[arg(long, value_enum, default_value_t = Way::Out)]
    pub direction: Way,
    /// Minimise the sum of this numeric edge field (Dijkstra; weights must be >= 0) instead of
    /// the number of edges.
    #[arg(long)]
    pub weight: Option<String>,
    /// Follow only edges matching this filter.
    #[arg(long)]
    pub edge_filter: Option<String>,
    /// Print how the search ran (plan and counters) as one JSON object instead of the path.
    #[arg(long)]
    pub explain: bool,
}

fn filter(what: &str, text: Option<&str>) -> anyhow::Result<Option<Filter>> {
    let Some(text) = text else {
        return Ok(None);
    };
    let value =
        Value::from_json_expression(text).with_context(|| format!("{what} is not valid JSON"))?;
    Ok(Some(Filter::parse(&value)?))
}

fn vertex(what: &str, text: &str) -> anyhow::Result<VertexRef> {
    Ok(VertexRef::parse(what, text)?)
}

fn edge_text(edge: &EdgeRef) -> String {
    VertexRef::new(edge.collection.clone(), edge.id.clone()).to_text()
}

fn path_json(path: &Path) -> serde_json::Value {
    json!({
        "vertices": path.vertices.iter().map(VertexRef::to_text).collect::<Vec<_>>(),
        "edges": path.edges.iter().map(edge_text).collect::<Vec<_>>(),
        "weight": path.weight,
    })
}

/// Prints one JSON line per vertex reached.
pub fn traverse(db: &Database, args: &TraverseArgs) -> anyhow::Result<()> {
    let starts = args
        .start
        .iter()
        .map(|text| vertex("start", text))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let edge_filter = filter("--edge-filter", args.edge_filter.as_deref())?;
    let vertex_filter = filter("--vertex-filter", args.vertex_filter.as_deref())?;
    let edge_matcher = edge_filter.as_ref().map(graph::matcher);
    let edge_fields = edge_filter.as_ref().and_then(graph::filter_fields);
    let vertex_matcher = vertex_filter.as_ref().map(graph::matcher);
    let mut walk = Walk::new(&args.edges, args.direction.into());
    walk.edge_filter = edge_matcher.as_ref().map(|m| m as graph::DocFilter<'_>);
    walk.edge_filter_fields = edge_fields.as_deref();
    let mut spec = Traversal::new(walk, args.max_depth);
    spec.min_depth = args.min_depth;
    spec.uniqueness = match args.uniqueness {
        Unique::Global => Uniqueness::Global,
        Unique::Path => Uniqueness::Path,
    };
    spec.returns = match args.returns {
        Show::Vertices => Returns::Vertices,
        Show::Edges => Returns::Edges,
        Show::Paths => Returns::Paths,
    };
    spec.limit = args.limit;
    spec.vertex_filter = vertex_matcher.as_ref().map(|m| m as graph::DocFilter<'_>);
    let (visits, explain) = graph::traverse_explained(&mut db.read()?, &starts, &spec)?;
    if args.explain {
        println!("{}", explain.to_value().to_json_string());
        return Ok(());
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for visit in visits {
        let mut line = json!({"vertex": visit.vertex.to_text(), "depth": visit.depth});
        if let Some(edge) = &visit.edge {
            line["edge"] = json!(edge_text(edge));
        }
        if let Some(path) = &visit.path {
            line["path"] = path_json(path);
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// Prints the shortest path as JSON, or says there is none (exit status 1).
pub fn path(db: &Database, args: &PathArgs) -> anyhow::Result<()> {
    let from = vertex("from", &args.from)?;
    let to = vertex("to", &args.to)?;
    let edge_filter = filter("--edge-filter", args.edge_filter.as_deref())?;
    let edge_matcher = edge_filter.as_ref().map(graph::matcher);
    let edge_fields = edge_filter.as_ref().and_then(graph::filter_fields);
    let mut walk = Walk::new(&args.edges, args.direction.into());
    walk.edge_filter = edge_matcher.as_ref().map(|m| m as graph::DocFilter<'_>);
    walk.edge_filter_fields = edge_fields.as_deref();
    let weight = args.weight.as_deref();
    let (found, explain) =
        graph::shortest_path_explained(&mut db.read()?, &from, &to, &walk, weight)?;
    if args.explain {
        println!("{}", explain.to_value().to_json_string());
        return Ok(());
    }
    match found {
        Some(path) => {
            println!("{}", path_json(&path));
            Ok(())
        }
        None => anyhow::bail!("no path from `{}` to `{}`", args.from, args.to),
    }
}
