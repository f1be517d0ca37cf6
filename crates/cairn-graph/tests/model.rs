//! Model-based test of the graph layer.
//!
//! Goal: every answer the graph layer gives equals that of a trivially correct in-memory
//! graph — adjacency lists searched by plain BFS, DFS and O(V²) Dijkstra — after random
//! sequences of vertex and edge inserts, property updates, edge moves, deletes under each
//! referential mode, multi-operation transactions (committed or aborted) and reopens.
//! Method: three edge collections (`e_restrict`, `e_cascade`, `e_none`) over vertex
//! collections `a` and `b` (ids 0..6) plus `g`, a collection that never exists (only `none`
//! edges can name it). Each operation is applied to the database and to the model; whether it
//! succeeded must agree. After every step: every vertex's neighbour lists (each collection,
//! each direction, with and without an edge filter), traversals (global and path uniqueness,
//! a vertex filter), shortest-path lengths (hops, weights), k-hop counts, and
//! `verify_edges` (the adjacency equals a rebuild from the edge documents; the dangling edges
//! are exactly the model's).
//! Limits: small graphs (≤ 14 vertices, ≤ 24 edges) so the model's exhaustive path
//! enumeration stays cheap; reopen uses a persistent database in a temporary folder.

mod common;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use cairn_doc::{DocId, Patch, Value};
use cairn_engine::{Database, EngineError, StorageMode, Transaction};
use cairn_graph::{
    create_edge_collection, khop_count, neighbours_walk, shortest_path, traverse, verify_edges,
    Direction, EdgeOptions, OnVertexDelete, Returns, Traversal, Uniqueness, VertexRef, Walk,
};
use proptest::prelude::*;

const EDGE_COLLS: [(&str, OnVertexDelete); 3] = [
    ("e_restrict", OnVertexDelete::Restrict),
    ("e_cascade", OnVertexDelete::Cascade),
    ("e_none", OnVertexDelete::None),
];
const VERTEX_COLLS: [&str; 3] = ["a", "b", "g"];
const IDS: i64 = 6;

type V = (usize, i64);

#[derive(Debug, Clone, PartialEq)]
struct Edge {
    from: V,
    to: V,
    w: i64,
    active: bool,
}

#[derive(Debug, Clone)]
enum Op {
    InsertVertex(V),
    DeleteVertex(V),
    InsertEdge {
        coll: usize,
        id: i64,
        from: V,
        to: V,
        w: i64,
        active: bool,
    },
    SetProps {
        coll: usize,
        id: i64,
        w: i64,
        active: bool,
    },
    MoveEdge {
        coll: usize,
        id: i64,
        to: V,
    },
    DeleteEdge {
        coll: usize,
        id: i64,
    },
}

#[derive(Debug, Clone)]
enum Step {
    One(Op),
    Txn(Vec<Op>, bool),
    Reopen,
}

#[derive(Debug, Clone, Default)]
struct Model {
    vertices: BTreeSet<V>,
    edges: BTreeMap<(usize, i64), Edge>,
}

impl Model {
    /// Applies `op` if the database must accept it; returns whether it did.
    fn apply(&mut self, op: &Op) -> bool {
        match op {
            Op::InsertVertex(v) => v.0 != 2 && self.vertices.insert(*v),
            Op::DeleteVertex(v) => {
                if !self.vertices.contains(v) {
                    return false;
                }
                let names = |e: &Edge| e.from == *v || e.to == *v;
                if self.edges.iter().any(|(k, e)| k.0 == 0 && names(e)) {
                    return false;
                }
                self.vertices.remove(v);
                self.edges.retain(|k, e| !(k.0 == 1 && names(e)));
                true
            }
            Op::InsertEdge {
                coll,
                id,
                from,
                to,
                w,
                active,
            } => {
                if self.edges.contains_key(&(*coll, *id))
                    || !self.endpoint_ok(*coll, *from)
                    || !self.endpoint_ok(*coll, *to)
                {
                    return false;
                }
                self.edges.insert(
                    (*coll, *id),
                    Edge {
                        from: *from,
                        to: *to,
                        w: *w,
                        active: *active,
                    },
                );
                true
            }
            Op::SetProps {
                coll,
                id,
                w,
                active,
            } => match self.edges.get_mut(&(*coll, *id)) {
                Some(edge) => {
                    edge.w = *w;
                    edge.active = *active;
                    true
                }
                None => false,
            },
            Op::MoveEdge { coll, id, to } => {
                let ok = self.edges.contains_key(&(*coll, *id)) && self.endpoint_ok(*coll, *to);
                if let (true, Some(edge)) = (ok, self.edges.get_mut(&(*coll, *id))) {
                    edge.to = *to;
                }
                ok
            }
            Op::DeleteEdge { coll, id } => self.edges.remove(&(*coll, *id)).is_some(),
        }
    }

    fn endpoint_ok(&self, coll: usize, v: V) -> bool {
        EDGE_COLLS[coll].1 == OnVertexDelete::None || self.vertices.contains(&v)
    }

    /// (edge coll, edge id, other vertex, found as out?) of `v`, in the engine's order.
    fn adjacent(
        &self,
        colls: &[usize],
        v: V,
        dir: Direction,
        filter: bool,
    ) -> Vec<(usize, i64, V, bool)> {
        let mut out = Vec::new();
        for &c in colls {
            let mut add = |outgoing: bool| {
                for ((ec, id), e) in &self.edges {
                    if *ec != c || (filter && !e.active) {
                        continue;
                    }
                    let (here, there) = if outgoing {
                        (e.from, e.to)
                    } else {
                        (e.to, e.from)
                    };
                    if here != v || (!outgoing && dir == Direction::Any && e.from == e.to) {
                        continue;
                    }
                    out.push((c, *id, there, outgoing));
                }
            };
            if dir != Direction::In {
                add(true);
            }
            if dir != Direction::Out {
                add(false);
            }
        }
        out
    }

    fn vertex_passes(&self, v: V) -> bool {
        self.vertices.contains(&v) && v.1 % 2 == 0
    }

    /// Global uniqueness BFS: (vertex, depth) reached in depths min..=max.
    fn bfs(
        &self,
        starts: &[V],
        dir: Direction,
        (min, max): (u32, u32),
        (vfilter, efilter): (bool, bool),
    ) -> BTreeSet<(V, u32)> {
        let all = [0, 1, 2];
        let mut seen = BTreeSet::new();
        let mut out = BTreeSet::new();
        let mut queue = VecDeque::new();
        for &s in starts {
            if seen.insert(s) {
                if min == 0 && (!vfilter || self.vertex_passes(s)) {
                    out.insert((s, 0));
                }
                queue.push_back((s, 0));
            }
        }
        while let Some((v, d)) = queue.pop_front() {
            if d == max {
                continue;
            }
            for (_, _, w, _) in self.adjacent(&all, v, dir, efilter) {
                if !seen.insert(w) {
                    continue;
                }
                if vfilter && !self.vertex_passes(w) {
                    continue;
                }
                if d + 1 >= min {
                    out.insert((w, d + 1));
                }
                queue.push_back((w, d + 1));
            }
        }
        out
    }

    /// Path uniqueness: the multiset of (vertex, depth) over all simple paths.
    fn paths(&self, start: V, dir: Direction, max: u32) -> BTreeMap<(V, u32), usize> {
        fn walk(
            m: &Model,
            path: &mut Vec<V>,
            dir: Direction,
            max: u32,
            out: &mut BTreeMap<(V, u32), usize>,
        ) {
            let depth = path.len() as u32 - 1;
            if depth > 0 {
                *out.entry((*path.last().unwrap(), depth)).or_default() += 1;
            }
            if depth == max {
                return;
            }
            for (_, _, w, _) in m.adjacent(&[0, 1, 2], *path.last().unwrap(), dir, false) {
                if path.contains(&w) {
                    continue;
                }
                path.push(w);
                walk(m, path, dir, max, out);
                path.pop();
            }
        }
        let mut out = BTreeMap::new();
        walk(self, &mut vec![start], dir, max, &mut out);
        out
    }

    /// Shortest distance by hops (`weighted = false`) or by `w`.
    fn distance(&self, from: V, to: V, dir: Direction, weighted: bool) -> Option<i64> {
        let mut dist: BTreeMap<V, i64> = BTreeMap::new();
        let mut done = BTreeSet::new();
        dist.insert(from, 0);
        loop {
            let next = dist
                .iter()
                .filter(|(v, _)| !done.contains(*v))
                .min_by_key(|(_, d)| **d)
                .map(|(v, d)| (*v, *d));
            let (v, d) = next?;
            if v == to {
                return Some(d);
            }
            done.insert(v);
            for (c, id, w, _) in self.adjacent(&[0, 1, 2], v, dir, false) {
                let step = if weighted { self.edges[&(c, id)].w } else { 1 };
                let cand = d + step;
                if dist.get(&w).is_none_or(|&known| cand < known) {
                    dist.insert(w, cand);
                }
            }
        }
    }

    fn dangling(&self) -> u64 {
        self.edges
            .values()
            .map(|e| {
                u64::from(!self.vertices.contains(&e.from))
                    + u64::from(!self.vertices.contains(&e.to))
            })
            .sum()
    }
}

fn vref(v: V) -> VertexRef {
    VertexRef::new(VERTEX_COLLS[v.0], v.1)
}

fn from_ref(r: &VertexRef) -> V {
    let c = VERTEX_COLLS
        .iter()
        .position(|c| *c == r.collection)
        .unwrap();
    match r.id {
        DocId::Int(i) => (c, i),
        _ => panic!("unexpected id {r}"),
    }
}

fn coll_names() -> Vec<String> {
    EDGE_COLLS.iter().map(|(c, _)| c.to_string()).collect()
}

fn run_op(txn: &mut Transaction, op: &Op) -> Result<(), EngineError> {
    let edge_doc = |id: i64, from: V, to: V, w: i64, active: bool| {
        Value::from_json_str(&format!(
            r#"{{"_id": {id}, "_from": "{}", "_to": {{"collection": "{}", "id": {}}}, "w": {w}, "active": {active}}}"#,
            vref(from).to_text(),
            VERTEX_COLLS[to.0],
            to.1
        ))
        .unwrap()
    };
    match op {
        Op::InsertVertex(v) => txn
            .insert(
                VERTEX_COLLS[v.0],
                Value::from_json_str(&format!(r#"{{"_id": {}, "n": {}}}"#, v.1, v.1)).unwrap(),
            )
            .map(drop),
        Op::DeleteVertex(v) => match txn.delete(VERTEX_COLLS[v.0], &DocId::Int(v.1))? {
            true => Ok(()),
            false => Err(EngineError::Closed),
        },
        Op::InsertEdge {
            coll,
            id,
            from,
            to,
            w,
            active,
        } => txn
            .insert(EDGE_COLLS[*coll].0, edge_doc(*id, *from, *to, *w, *active))
            .map(drop),
        Op::SetProps {
            coll,
            id,
            w,
            active,
        } => {
            let patch =
                Patch::from_json_str(&format!(r#"{{"$set": {{"w": {w}, "active": {active}}}}}"#))
                    .unwrap();
            txn.update(EDGE_COLLS[*coll].0, &DocId::Int(*id), &patch)
                .map(drop)
        }
        Op::MoveEdge { coll, id, to } => {
            let patch = Patch::from_json_str(&format!(
                r#"{{"$set": {{"_to": "{}"}}}}"#,
                vref(*to).to_text()
            ))
            .unwrap();
            txn.update(EDGE_COLLS[*coll].0, &DocId::Int(*id), &patch)
                .map(drop)
        }
        Op::DeleteEdge { coll, id } => match txn.delete(EDGE_COLLS[*coll].0, &DocId::Int(*id))? {
            true => Ok(()),
            false => Err(EngineError::Closed),
        },
    }
}

/// Runs `op` in `txn` and checks that it succeeded exactly when the model accepted it.
fn check_op(txn: &mut Transaction, model: &mut Model, op: &Op) -> Result<(), TestCaseError> {
    let expected = model.apply(op);
    let got = run_op(txn, op);
    if let Err(err) = &got {
        prop_assert!(
            !matches!(
                err,
                EngineError::ExtensionFailed { .. } | EngineError::Corrupt { .. }
            ),
            "{op:?}: {err:?}"
        );
    }
    prop_assert_eq!(got.is_ok(), expected, "{:?}: {:?}", op, got);
    Ok(())
}

fn all_vertices() -> Vec<V> {
    (0..3).flat_map(|c| (0..IDS).map(move |i| (c, i))).collect()
}

fn compare(db: &Database, model: &Model) -> Result<(), TestCaseError> {
    let names = coll_names();
    let mut txn = db.read().unwrap();
    let active =
        |doc: &Value| doc.as_object().and_then(|o| o.get("active")) == Some(&Value::Bool(true));
    let active_fields = vec!["active".to_string()];
    for v in all_vertices() {
        for dir in [Direction::Out, Direction::In, Direction::Any] {
            // (collection, edge filter, filter fields known: answered from stored values
            // where the collection stores them)
            for (c, filter, known) in [
                (0, false, false),
                (1, false, false),
                (2, false, false),
                (2, true, false),
                (2, true, true),
                (0, true, true),
            ] {
                let mut walk = Walk::new(&names[c..=c], dir);
                if filter {
                    walk.edge_filter = Some(&active);
                }
                if known {
                    walk.edge_filter_fields = Some(&active_fields);
                }
                let got: Vec<_> = neighbours_walk(&mut txn, &vref(v), &walk)
                    .unwrap()
                    .into_iter()
                    .map(|n| {
                        (
                            c,
                            match n.edge.id {
                                DocId::Int(i) => i,
                                _ => -1,
                            },
                            from_ref(&n.vertex),
                            n.direction == Direction::Out,
                        )
                    })
                    .collect();
                prop_assert_eq!(
                    got,
                    model.adjacent(&[c], v, dir, filter),
                    "{:?} {:?} coll {}",
                    v,
                    dir,
                    c
                );
            }
        }
    }
    let vfilter = |doc: &Value| {
        doc.as_object()
            .and_then(|o| o.get("n"))
            .and_then(Value::as_i64)
            .is_some_and(|n| n % 2 == 0)
    };
    for (starts, dir) in [
        (vec![(0, 0)], Direction::Out),
        (vec![(1, 1), (0, 2)], Direction::Any),
        (vec![(0, 3)], Direction::In),
    ] {
        let refs: Vec<_> = starts.iter().map(|v| vref(*v)).collect();
        for (min, max, vf, ef) in [
            (0, 3, false, false),
            (1, 2, false, true),
            (0, 4, true, false),
            (1, 3, true, true),
        ] {
            let mut walk = Walk::new(&names, dir);
            if ef {
                walk.edge_filter = Some(&active);
                walk.edge_filter_fields = Some(&active_fields);
            }
            let mut spec = Traversal::new(walk, max);
            spec.min_depth = min;
            spec.returns = Returns::Paths;
            if vf {
                spec.vertex_filter = Some(&vfilter);
            }
            let visits = traverse(&mut txn, &refs, &spec).unwrap();
            for visit in &visits {
                let path = visit.path.as_ref().unwrap();
                prop_assert_eq!(path.edges.len() as u32, visit.depth);
                prop_assert_eq!(path.vertices.last(), Some(&visit.vertex));
            }
            let got: BTreeSet<_> = visits
                .iter()
                .map(|v| (from_ref(&v.vertex), v.depth))
                .collect();
            prop_assert_eq!(
                got.len(),
                visits.len(),
                "a vertex twice under global uniqueness"
            );
            prop_assert_eq!(
                got,
                model.bfs(&starts, dir, (min, max), (vf, ef)),
                "{:?} {:?} {}..={} vertex filter {} edge filter {}",
                starts,
                dir,
                min,
                max,
                vf,
                ef
            );
        }
        let mut spec = Traversal::new(Walk::new(&names, dir), 3);
        spec.uniqueness = Uniqueness::Path;
        let mut got: BTreeMap<(V, u32), usize> = BTreeMap::new();
        for visit in traverse(&mut txn, &refs[..1], &spec).unwrap() {
            *got.entry((from_ref(&visit.vertex), visit.depth))
                .or_default() += 1;
        }
        prop_assert_eq!(
            got,
            model.paths(starts[0], dir, 3),
            "paths from {:?} {:?}",
            starts[0],
            dir
        );
        for k in 1..=3u32 {
            let count = khop_count(&mut txn, &refs[0], &Walk::new(&names, dir), k).unwrap();
            let want = model.bfs(&starts[..1], dir, (1, k), (false, false)).len() as u64;
            prop_assert_eq!(count, want, "{}-hop from {:?}", k, starts[0]);
        }
    }
    for (from, to, dir) in [
        ((0, 0), (1, 5), Direction::Out),
        ((0, 1), (0, 4), Direction::Any),
        ((1, 2), (0, 0), Direction::In),
    ] {
        let walk = Walk::new(&names, dir);
        for weighted in [false, true] {
            let path = shortest_path(
                &mut txn,
                &vref(from),
                &vref(to),
                &walk,
                weighted.then_some("w"),
            )
            .unwrap();
            let want = model.distance(from, to, dir, weighted);
            prop_assert_eq!(
                path.as_ref().map(|p| p.weight as i64),
                want,
                "{:?}->{:?} {:?} weighted {}",
                from,
                to,
                dir,
                weighted
            );
            if let Some(path) = path {
                // The path is made of real edges joining its vertices in order.
                let mut total = 0;
                for (i, edge) in path.edges.iter().enumerate() {
                    let c = names.iter().position(|n| *n == edge.collection).unwrap();
                    let DocId::Int(id) = edge.id else { panic!() };
                    let e = &model.edges[&(c, id)];
                    let (x, y) = (from_ref(&path.vertices[i]), from_ref(&path.vertices[i + 1]));
                    let joined = match dir {
                        Direction::Out => (e.from, e.to) == (x, y),
                        Direction::In => (e.to, e.from) == (x, y),
                        Direction::Any => (e.from, e.to) == (x, y) || (e.to, e.from) == (x, y),
                    };
                    prop_assert!(joined, "{:?}", path);
                    total += if weighted { e.w } else { 1 };
                }
                prop_assert_eq!(Some(total), want);
            }
        }
    }
    let mut dangling = 0;
    for (name, mode) in EDGE_COLLS {
        let report = verify_edges(&mut txn, name).unwrap();
        prop_assert_eq!(report.problem_count, 0, "{}: {:?}", name, report.problems);
        prop_assert!(report.is_clean(mode), "{}: {:?}", name, report.dangling);
        dangling += report.dangling_count;
    }
    prop_assert_eq!(dangling, model.dangling());
    Ok(())
}

fn vertex() -> impl Strategy<Value = V> {
    prop_oneof![8 => (0..2usize, 0..IDS), 1 => (Just(2usize), 0..2i64)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => vertex().prop_map(Op::InsertVertex),
        3 => vertex().prop_map(Op::DeleteVertex),
        8 => (0..3usize, 0..8i64, vertex(), vertex(), 0..10i64, any::<bool>())
            .prop_map(|(coll, id, from, to, w, active)| Op::InsertEdge { coll, id, from, to, w, active }),
        2 => (0..3usize, 0..8i64, 0..10i64, any::<bool>()).prop_map(|(coll, id, w, active)| Op::SetProps { coll, id, w, active }),
        2 => (0..3usize, 0..8i64, vertex()).prop_map(|(coll, id, to)| Op::MoveEdge { coll, id, to }),
        2 => (0..3usize, 0..8i64).prop_map(|(coll, id)| Op::DeleteEdge { coll, id }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        10 => op().prop_map(Step::One),
        3 => (prop::collection::vec(op(), 1..6), any::<bool>()).prop_map(|(ops, commit)| Step::Txn(ops, commit)),
        1 => Just(Step::Reopen),
    ]
}

/// `e_cascade` and `e_none` store `w` and `active` in their adjacency (traversals and
/// Dijkstra answer from stored values there), `e_restrict` stores none (they read the edge
/// documents): the model checks both ways give the same answers.
fn stored_properties(name: &str) -> Vec<String> {
    match name {
        "e_restrict" => vec![],
        _ => vec!["w".into(), "active".into()],
    }
}

fn open(dir: &std::path::Path) -> Database {
    Database::open(common::config(dir, StorageMode::Persistent)).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn graph_answers_equal_the_model(steps in prop::collection::vec(step(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let mut db = open(dir.path());
        db.create_collection("a").unwrap();
        db.create_collection("b").unwrap();
        for (name, mode) in EDGE_COLLS {
            let options = EdgeOptions { on_vertex_delete: mode, vertex_collections: vec!["a".into(), "b".into()], properties: stored_properties(name) };
            create_edge_collection(&db, name, &options).unwrap();
        }
        let mut model = Model::default();
        for v in [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (1, 5)] {
            let mut txn = db.begin().unwrap();
            check_op(&mut txn, &mut model, &Op::InsertVertex(v))?;
            txn.commit().unwrap();
        }
        for step in &steps {
            match step {
                Step::One(op) => {
                    let mut txn = db.begin().unwrap();
                    check_op(&mut txn, &mut model, op)?;
                    txn.commit().unwrap();
                }
                Step::Txn(ops, commit) => {
                    let mut inner = model.clone();
                    let mut txn = db.begin().unwrap();
                    for op in ops {
                        check_op(&mut txn, &mut inner, op)?;
                    }
                    if *commit {
                        txn.commit().unwrap();
                        model = inner;
                    } else {
                        txn.rollback();
                    }
                }
                Step::Reopen => {
                    let seq = db.last_seq();
                    drop(db);
                    db = open(dir.path());
                    prop_assert_eq!(db.last_seq(), seq, "reopen wrote nothing (no rebuild)");
                }
            }
            compare(&db, &model)?;
        }
    }
}
