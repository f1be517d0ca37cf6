//! Filters: the query language's predicate, as a typed tree.
//!
//! Build one from JSON with [`Filter::parse`] (MongoDB-style: `{"age": {"$gt": 30}}`) or in Rust
//! with the builder ([`Filter::field`], [`Filter::and`], ...). [`Filter::matches`] evaluates it
//! against a document. How comparisons treat types, missing fields, nulls and arrays is
//! documented in one place, included here:
//!
#![doc = include_str!("semantics.md")]

mod eval;
mod parse;

use std::sync::Arc;

use cairn_doc::{FieldPath, Value};
use regex::Regex;

use crate::access::FieldOperator;

pub use parse::{parse_filter, DOCUMENT_LEVEL_PATH};

/// A predicate over documents.
#[derive(Debug, Clone)]
pub enum Filter {
    /// Matches every document.
    All,
    /// All of the sub-filters.
    And(Vec<Filter>),
    /// Any of the sub-filters.
    Or(Vec<Filter>),
    /// None of the sub-filters.
    Nor(Vec<Filter>),
    /// A condition on the values a field path reaches.
    Field(FieldPath, Vec<Op>),
}

/// A type name as used by `$type`.
pub type TypeName = &'static str;

/// One operator of a field condition.
#[derive(Debug, Clone)]
pub enum Op {
    /// Equal (numbers numerically, objects regardless of field order); `null` also matches a
    /// missing field; an array field matches if it or any element is equal.
    Eq(Value),
    /// Not [`Op::Eq`].
    Ne(Value),
    /// Greater than, within the operand's type bracket.
    Gt(Value),
    /// Greater than or equal, within the operand's type bracket.
    Gte(Value),
    /// Less than, within the operand's type bracket.
    Lt(Value),
    /// Less than or equal, within the operand's type bracket.
    Lte(Value),
    /// Equal to any of the values.
    In(Vec<Value>),
    /// Equal to none of the values.
    Nin(Vec<Value>),
    /// The field is present (`true`) or absent (`false`).
    Exists(bool),
    /// The value (or an element) has one of these types.
    Type(Vec<TypeName>),
    /// A string value (or element) matches the pattern.
    Regex(Box<Regex>),
    /// The array holds every one of the values.
    All(Vec<Value>),
    /// Some element of the array satisfies the condition.
    ElemMatch(Box<ElemCondition>),
    /// The array has exactly this many elements.
    Size(usize),
    /// The operators do not all hold.
    Not(Vec<Op>),
    /// An operator a registered model defines (the geometry model's `$withinDistance`,
    /// `$intersects`, `$within`, `$near`...; see [`crate::access`]).
    Registered(Arc<dyn FieldOperator>),
}

/// The condition inside `$elemMatch`.
#[derive(Debug, Clone)]
pub enum ElemCondition {
    /// Operators applied to the element itself (`{"$gt": 5}`).
    Ops(Vec<Op>),
    /// A filter applied to the element as a document (`{"name": "x"}`).
    Filter(Filter),
}

impl Filter {
    /// Parses a JSON filter document (see [`parse_filter`]).
    pub fn parse(json: &Value) -> crate::Result<Filter> {
        parse_filter(json)
    }

    /// Whether `doc` satisfies the filter.
    pub fn matches(&self, doc: &Value) -> bool {
        eval::matches(self, doc)
    }

    /// Builder: a condition on `path` (e.g. `Filter::field("a.b")?.gt(5)`).
    pub fn field(path: &str) -> crate::Result<FieldBuilder> {
        let path = FieldPath::parse(path)
            .map_err(|err| crate::QueryError::invalid(path, err.to_string()))?;
        Ok(FieldBuilder { path })
    }

    /// Builder: all of `filters`.
    pub fn and(filters: impl IntoIterator<Item = Filter>) -> Filter {
        Filter::And(filters.into_iter().collect())
    }

    /// Builder: any of `filters`.
    pub fn or(filters: impl IntoIterator<Item = Filter>) -> Filter {
        Filter::Or(filters.into_iter().collect())
    }
}

/// Builds a field condition; each method finishes it with one operator.
#[derive(Debug, Clone)]
pub struct FieldBuilder {
    path: FieldPath,
}

impl FieldBuilder {
    fn op(self, op: Op) -> Filter {
        Filter::Field(self.path, vec![op])
    }
    /// `$eq`.
    pub fn eq(self, value: impl Into<Value>) -> Filter {
        self.op(Op::Eq(value.into()))
    }
    /// `$ne`.
    pub fn ne(self, value: impl Into<Value>) -> Filter {
        self.op(Op::Ne(value.into()))
    }
    /// `$gt`.
    pub fn gt(self, value: impl Into<Value>) -> Filter {
        self.op(Op::Gt(value.into()))
    }
    /// `$gte`.
    pub fn gte(self, value: impl Into<Value>) -> Filter {
        self.op(Op::Gte(value.into()))
    }
    /// `$lt`.
    pub fn lt(self, value: impl Into<Value>) -> Filter {
        self.op(Op::Lt(value.into()))
    }
    /// `$lte`.
    pub fn lte(self, value: impl Into<Value>) -> Filter {
        self.op(Op::Lte(value.into()))
    }
    /// `$in`.
    pub fn is_in(self, values: impl IntoIterator<Item = Value>) -> Filter {
        self.op(Op::In(values.into_iter().collect()))
    }
    /// `$exists`.
    pub fn exists(self, present: bool) -> Filter {
        self.op(Op::Exists(present))
    }
    /// Several operators at once (e.g. a range: `[Op::Gte(a), Op::Lt(b)]`).
    pub fn ops(self, ops: Vec<Op>) -> Filter {
        Filter::Field(self.path, ops)
    }
}
