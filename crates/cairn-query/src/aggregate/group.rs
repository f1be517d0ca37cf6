//! `$group`: documents bucketed by a key expression, each bucket folded by accumulators.
//!
//! Keys are compared by their index-key encoding (`cairn_index::keys`), so `1` and `1.0` fall
//! into one group and objects group regardless of field order; groups come out in key order.

use std::cmp::Ordering;
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::mem::size_of;

use cairn_doc::{Object, Value};
use cairn_index::keys;

use super::expr::Expr;
use super::memory::{value_bytes, Memory};
use super::stage::check_output_name;
use crate::error::{QueryError, Result};
use crate::limits::MAX_GROUP_BYTES;

/// A `$group` stage: the key (`_id`) expression and the named accumulators.
#[derive(Debug, Clone)]
pub struct Group {
    id: Expr,
    fields: Vec<(String, Accumulator)>,
}

/// One accumulator: an operation over the values an expression takes in a group.
#[derive(Debug, Clone)]
pub struct Accumulator {
    op: AccumulatorOp,
    expr: Expr,
}

/// The accumulator operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccumulatorOp {
    /// Sum of the numeric values (others are ignored); integers stay integers unless the sum
    /// overflows or a float joins in. `0` for no numbers.
    Sum,
    /// Mean of the numeric values as a float; null for no numbers.
    Avg,
    /// Smallest value in the total value order, ignoring null and missing; null for none.
    Min,
    /// Largest value in the total value order, ignoring null and missing; null for none.
    Max,
    /// Number of documents (`{"$count": {}}`).
    Count,
    /// The value in the first document of the group (null when missing there).
    First,
    /// The value in the last document of the group (null when missing there).
    Last,
    /// Every value, in input order (missing values are skipped).
    Push,
    /// The distinct values, in the total value order (missing values are skipped).
    AddToSet,
}

const ACCUMULATORS: [(&str, AccumulatorOp); 9] = [
    ("$sum", AccumulatorOp::Sum),
    ("$avg", AccumulatorOp::Avg),
    ("$min", AccumulatorOp::Min),
    ("$max", AccumulatorOp::Max),
    ("$count", AccumulatorOp::Count),
    ("$first", AccumulatorOp::First),
    ("$last", AccumulatorOp::Last),
    ("$push", AccumulatorOp::Push),
    ("$addToSet", AccumulatorOp::AddToSet),
];

impl AccumulatorOp {
    /// The operator's name in the pipeline language (`$sum`...).
    pub fn name(self) -> &'static str {
        ACCUMULATORS
            .iter()
            .find(|(_, op)| *op == self)
            .map_or("?", |(name, _)| name)
    }
}

impl Accumulator {
    /// `op` over the values of `expr`.
    pub fn new(op: AccumulatorOp, expr: Expr) -> Accumulator {
        Accumulator { op, expr }
    }

    /// The number of documents in the group.
    pub fn count() -> Accumulator {
        Accumulator::new(AccumulatorOp::Count, Expr::Literal(Value::Null))
    }

    /// Parses `{"$sum": "$amount"}`; `at` names its place for errors.
    pub fn parse(json: &Value, at: &str) -> Result<Accumulator> {
        let object = json.as_object().filter(|o| o.len() == 1).ok_or_else(|| {
            QueryError::invalid(
                at,
                "expects one accumulator such as {\"$sum\": \"$amount\"}",
            )
        })?;
        let (name, argument) = object
            .iter()
            .next()
            .ok_or_else(|| QueryError::invalid(at, "expects one accumulator"))?;
        let here = format!("{at}.{name}");
        let op = ACCUMULATORS
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, op)| *op)
            .ok_or_else(|| {
                QueryError::invalid(
                    &here,
                    "unknown accumulator; supported: $sum, $avg, $min, $max, $count, $first, $last, $push, $addToSet",
                )
            })?;
        if op == AccumulatorOp::Count {
            if argument.as_object().is_none_or(|o| !o.is_empty()) {
                return Err(QueryError::invalid(
                    here,
                    "takes no argument: write {\"$count\": {}}",
                ));
            }
            return Ok(Accumulator::count());
        }
        if argument.as_array().is_some() {
            return Err(QueryError::invalid(
                here,
                "takes one expression, not a list",
            ));
        }
        Ok(Accumulator::new(op, Expr::parse(argument, &here)?))
    }
}

impl Group {
    /// Parses the accumulators of an object such as `$bucket`'s `output` (every field is an
    /// accumulator; no `_id`); the key expression is the caller's.
    pub(super) fn parse_accumulators(json: &Value, at: &str) -> Result<Group> {
        let object = json.as_object().ok_or_else(|| {
            QueryError::invalid(
                at,
                "expects an object of accumulators such as {\"n\": {\"$count\": {}}}",
            )
        })?;
        let mut group = Group::by(Expr::Literal(Value::Null));
        for (name, spec) in object.iter() {
            let here = format!("{at}.{name}");
            check_output_name(name, &here)?;
            if name == "_id" {
                return Err(QueryError::invalid(
                    here,
                    "`_id` is the bucket's key; name the output otherwise",
                ));
            }
            group
                .fields
                .push((name.to_owned(), Accumulator::parse(spec, &here)?));
        }
        Ok(group)
    }

    /// Groups by `id` (`Expr::literal(Value::Null)` puts every document in one group).
    pub fn by(id: Expr) -> Group {
        Group {
            id,
            fields: Vec::new(),
        }
    }

    /// Adds an output field computed by `accumulator`.
    pub fn with(mut self, name: &str, accumulator: Accumulator) -> Result<Group> {
        check_output_name(name, name)?;
        if name == "_id" || self.fields.iter().any(|(existing, _)| existing == name) {
            return Err(QueryError::invalid(
                name,
                "is already an output field of this group",
            ));
        }
        self.fields.push((name.to_owned(), accumulator));
        Ok(self)
    }

    /// Parses `{"_id": <key>, "<name>": {<accumulator>}, ...}`; `at` names its place.
    pub fn parse(json: &Value, at: &str) -> Result<Group> {
        let object = json.as_object().ok_or_else(|| {
            QueryError::invalid(
                at,
                "expects an object such as {\"_id\": \"$city\", \"n\": {\"$count\": {}}}",
            )
        })?;
        let id_at = format!("{at}._id");
        let id = object.get("_id").ok_or_else(|| {
            QueryError::invalid(&id_at, "is required (null groups all documents together)")
        })?;
        let mut group = Group::by(Expr::parse(id, &id_at)?);
        for (name, spec) in object.iter().filter(|(name, _)| *name != "_id") {
            let here = format!("{at}.{name}");
            check_output_name(name, &here)?;
            group
                .fields
                .push((name.to_owned(), Accumulator::parse(spec, &here)?));
        }
        Ok(group)
    }
}

/// Fixed cost of one group beyond its key and values: map node, vectors, states.
const GROUP_OVERHEAD_BYTES: usize = 96;

/// The groups of one running `$group` stage.
#[derive(Debug)]
pub(super) struct GroupTable {
    groups: BTreeMap<Vec<u8>, Bucket>,
    memory: Memory,
}

#[derive(Debug)]
struct Bucket {
    id: Value,
    states: Vec<State>,
}

impl GroupTable {
    /// No groups yet.
    pub(super) fn new() -> GroupTable {
        GroupTable {
            groups: BTreeMap::new(),
            memory: Memory::new(
                "$group memory",
                MAX_GROUP_BYTES,
                "group on fewer distinct keys, $match fewer documents first, or avoid large $push/$addToSet",
            ),
        }
    }

    /// Folds one document into its group.
    pub(super) fn add(&mut self, group: &Group, doc: &Value) -> Result<()> {
        let id = group.id.eval(doc).unwrap_or(Value::Null);
        self.add_keyed(group, id, doc)
    }

    /// Folds one document into the group `id` (computed by the caller: `$bucket` keys are
    /// boundaries, not the group's own expression).
    pub(super) fn add_keyed(&mut self, group: &Group, id: Value, doc: &Value) -> Result<()> {
        let bucket = match self.groups.entry(keys::encode_to_vec(&id)) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let states = group.fields.len() * size_of::<State>();
                self.memory
                    .grow(entry.key().len() + value_bytes(&id) + states + GROUP_OVERHEAD_BYTES)?;
                let states = group
                    .fields
                    .iter()
                    .map(|(_, acc)| State::new(acc.op))
                    .collect();
                entry.insert(Bucket { id, states })
            }
        };
        for (state, (_, accumulator)) in bucket.states.iter_mut().zip(&group.fields) {
            let value = match accumulator.op {
                AccumulatorOp::Count => None,
                _ => accumulator.expr.eval(doc),
            };
            state.update(value, &mut self.memory)?;
        }
        Ok(())
    }

    /// The output documents, `{"_id": key, <name>: result, ...}`, in key order.
    pub(super) fn into_docs(self, group: &Group) -> impl Iterator<Item = Value> + '_ {
        self.groups.into_values().map(move |bucket| {
            let mut out = Object::with_capacity(group.fields.len() + 1);
            out.insert("_id", bucket.id);
            for (state, (name, _)) in bucket.states.into_iter().zip(&group.fields) {
                out.insert(name.clone(), state.finish());
            }
            Value::Object(out)
        })
    }
}

/// A running sum: exact while it fits an `i64` and only integers were added.
#[derive(Debug, Clone, Copy)]
enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    /// Adds `value` if it is a number; other values leave the sum unchanged.
    fn add(self, value: &Value) -> Number {
        match (self, value) {
            (Number::Int(a), Value::Int(b)) => a
                .checked_add(*b)
                .map_or(Number::Float(a as f64 + *b as f64), Number::Int),
            (Number::Int(a), Value::Float(b)) => Number::Float(a as f64 + b),
            (Number::Float(a), Value::Int(b)) => Number::Float(a + *b as f64),
            (Number::Float(a), Value::Float(b)) => Number::Float(a + b),
            _ => self,
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }

    fn into_value(self) -> Value {
        match self {
            Number::Int(i) => Value::Int(i),
            Number::Float(f) => Value::Float(f),
        }
    }
}

/// The running state of one accumulator in one group.
#[derive(Debug)]
enum State {
    Sum(Number),
    Avg(Number, u64),
    Min(Option<Value>),
    Max(Option<Value>),
    Count(i64),
    First(Option<Value>),
    Last(Value),
    Push(Vec<Value>),
    AddToSet(BTreeMap<Vec<u8>, Value>),
}

impl State {
    fn new(op: AccumulatorOp) -> State {
        match op {
            AccumulatorOp::Sum => State::Sum(Number::Int(0)),
            AccumulatorOp::Avg => State::Avg(Number::Int(0), 0),
            AccumulatorOp::Min => State::Min(None),
            AccumulatorOp::Max => State::Max(None),
            AccumulatorOp::Count => State::Count(0),
            AccumulatorOp::First => State::First(None),
            AccumulatorOp::Last => State::Last(Value::Null),
            AccumulatorOp::Push => State::Push(Vec::new()),
            AccumulatorOp::AddToSet => State::AddToSet(BTreeMap::new()),
        }
    }

    /// Folds one document's value (`None` when missing) in, accounting what it keeps.
    fn update(&mut self, value: Option<Value>, memory: &mut Memory) -> Result<()> {
        match self {
            State::Sum(total) => *total = value.map_or(*total, |v| total.add(&v)),
            State::Avg(total, n) => {
                if let Some(number @ (Value::Int(_) | Value::Float(_))) = value {
                    *total = total.add(&number);
                    *n += 1;
                }
            }
            State::Min(best) => keep_extreme(best, value, Ordering::Less, memory)?,
            State::Max(best) => keep_extreme(best, value, Ordering::Greater, memory)?,
            State::Count(n) => *n = n.saturating_add(1),
            State::First(first) => {
                if first.is_none() {
                    let value = value.unwrap_or(Value::Null);
                    memory.grow(value_bytes(&value))?;
                    *first = Some(value);
                }
            }
            State::Last(last) => {
                let value = value.unwrap_or(Value::Null);
                memory.grow(value_bytes(&value))?;
                memory.shrink(value_bytes(last));
                *last = value;
            }
            State::Push(items) => {
                if let Some(value) = value {
                    memory.grow(value_bytes(&value))?;
                    items.push(value);
                }
            }
            State::AddToSet(set) => {
                if let Some(value) = value {
                    if let Entry::Vacant(entry) = set.entry(keys::encode_to_vec(&value)) {
                        memory.grow(entry.key().len() + value_bytes(&value))?;
                        entry.insert(value);
                    }
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> Value {
        match self {
            State::Sum(total) => total.into_value(),
            State::Avg(_, 0) => Value::Null,
            State::Avg(total, n) => Value::Float(total.as_f64() / n as f64),
            State::Min(best) | State::Max(best) | State::First(best) => best.unwrap_or(Value::Null),
            State::Count(n) => Value::Int(n),
            State::Last(value) => value,
            State::Push(items) => Value::Array(items),
            State::AddToSet(set) => Value::Array(set.into_values().collect()),
        }
    }
}

/// Keeps in `best` whichever of it and `value` compares `wanted` (null and missing never win).
fn keep_extreme(
    best: &mut Option<Value>,
    value: Option<Value>,
    wanted: Ordering,
    memory: &mut Memory,
) -> Result<()> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(());
    };
    if best
        .as_ref()
        .is_none_or(|current| keys::compare(&value, current) == wanted)
    {
        memory.grow(value_bytes(&value))?;
        if let Some(old) = best.replace(value) {
            memory.shrink(value_bytes(&old));
        }
    }
    Ok(())
}
