//! The validation-rule expression language: small, side-effect free, bounded.
//!
//! ```text
//! expr    := or
//! or      := and ("||" and)*          and := not ("&&" not)*        not := "!" not | cmp
//! cmp     := sum (("=="|"!="|"<"|"<="|">"|">=") sum)?
//! sum     := product (("+"|"-") product)*        product := unary (("*"|"/"|"%") unary)*
//! unary   := "-" unary | postfix                  postfix := primary ("." name | "[" expr "]")*
//! primary := number | "string" | 'string' | true | false | null | name | name "(" args ")"
//!          | "(" expr ")"
//! ```
//!
//! * A bare `name` is a top-level field of the document; `a.b`, `a[0]`, `a["k"]` reach into
//!   objects and arrays. A missing field, index or key is `null`.
//! * `==`/`!=` compare any values (integers and floats numerically; `null == missing`).
//!   `< <= > >=` compare two numbers, two strings or two datetimes and are **false** for any
//!   other pair (so a rule over a missing field fails unless it says `!exists(x) || …`).
//! * `&& || !` take booleans (short-circuit); anything else is an evaluation error.
//! * `+ - * %` on two ints stay ints (overflow is an error), with a float they are floats;
//!   `/` always gives a float; `+` also joins strings (up to `MAX_EXPR_STRING_BYTES`).
//! * Functions: `len(x)` (characters of a string, elements of an array, entries of an
//!   object, bytes, vector dimensions), `exists(x)` (present and not null), `abs(n)`,
//!   `lower(s)`, `upper(s)`, `min(a, b)`, `max(a, b)`.
//!
//! Cost: there are no loops, recursion or user functions, so evaluation visits each syntax
//! node at most once; expressions are capped at `MAX_EXPR_NODES` nodes and
//! `MAX_EXPR_DEPTH` nesting (see `limits.rs`). A rule passes only when it evaluates to `true`.

mod eval;
mod parse;

use std::borrow::Cow;

use cairn_doc::Value;

use crate::error::{Result, SchemaError};

use eval::EvalError;

/// A parsed expression.
#[derive(Debug, Clone)]
pub struct Expr {
    source: String,
    root: Node,
    /// The field accesses the expression makes (source text and node), reported with their
    /// values when a rule fails.
    refs: Vec<(String, Node)>,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Literal(Value),
    Field(String),
    Member(Box<Node>, String),
    Index(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Neg(Box<Node>),
    Binary(BinOp, Box<Node>, Box<Node>),
    Call(Func, Vec<Node>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Len,
    Exists,
    Abs,
    Lower,
    Upper,
    Min,
    Max,
}

impl Expr {
    /// Parses an expression, enforcing the size limits.
    pub fn parse(source: &str) -> Result<Expr> {
        let (root, refs) = parse::parse(source)?;
        Ok(Expr {
            source: source.to_string(),
            root,
            refs,
        })
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates against a document.
    pub fn eval<'d>(&'d self, doc: &'d Value) -> Result<Cow<'d, Value>> {
        eval::eval(&self.root, doc).map_err(|failure| self.failed(failure))
    }

    /// Whether the expression holds for `doc` (evaluates to `true`).
    pub fn holds(&self, doc: &Value) -> Result<bool> {
        Ok(matches!(self.eval(doc)?.as_ref(), Value::Bool(true)))
    }

    fn failed(&self, failure: EvalError) -> SchemaError {
        SchemaError::Evaluation {
            expression: self.source.clone(),
            reason: failure.to_string(),
        }
    }

    /// The fields the expression reads with their values in `doc`: `a = 1, b = null`.
    pub fn describe_values(&self, doc: &Value) -> String {
        let mut out = Vec::new();
        for (text, node) in &self.refs {
            let value = match eval::eval(node, doc) {
                Ok(value) => value.to_json_string(),
                Err(err) => format!("<{err}>"),
            };
            let item = format!("{text} = {value}");
            if !out.contains(&item) {
                out.push(item);
            }
        }
        out.join(", ")
    }
}
