//! Tokenizer and recursive-descent parser of the expression language.

use cairn_doc::Value;

use super::{BinOp, Func, Node};
use crate::error::{Result, SchemaError};
use crate::limits::{MAX_EXPR_DEPTH, MAX_EXPR_NODES, MAX_EXPR_SOURCE_BYTES};

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Int(i64),
    Float(f64),
    Str(String),
    Name(String),
    Op(&'static str),
}

const OPERATORS: &[&str] = &[
    "||", "&&", "==", "!=", "<=", ">=", "<", ">", "!", "+", "-", "*", "/", "%", "(", ")", "[", "]",
    ".", ",",
];

struct Parser<'s> {
    source: &'s str,
    tokens: Vec<(usize, Token)>,
    pos: usize,
    nodes: usize,
    depth: usize,
    refs: Vec<(String, Node)>,
}

/// Parses `source` into its tree and the field accesses it makes.
pub(super) fn parse(source: &str) -> Result<(Node, Vec<(String, Node)>)> {
    if source.len() > MAX_EXPR_SOURCE_BYTES {
        return Err(error(
            source,
            0,
            format!(
                "{} bytes; the limit is {MAX_EXPR_SOURCE_BYTES}",
                source.len()
            ),
        ));
    }
    let tokens = tokenize(source)?;
    let mut parser = Parser {
        source,
        tokens,
        pos: 0,
        nodes: 0,
        depth: 0,
        refs: Vec::new(),
    };
    let root = parser.expr()?;
    if let Some((offset, token)) = parser.tokens.get(parser.pos) {
        return Err(error(
            source,
            *offset,
            format!("unexpected {token:?} after the expression"),
        ));
    }
    Ok((root, parser.refs))
}

fn error(source: &str, offset: usize, reason: impl Into<String>) -> SchemaError {
    SchemaError::InvalidExpression {
        source_text: source.to_string(),
        offset,
        reason: reason.into(),
    }
}

fn tokenize(source: &str) -> Result<Vec<(usize, Token)>> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let start = i;
            let mut float = false;
            while i < bytes.len()
                && (bytes[i].is_ascii_digit()
                    || bytes[i] == b'.'
                    || bytes[i] == b'e'
                    || bytes[i] == b'E'
                    || ((bytes[i] == b'+' || bytes[i] == b'-')
                        && matches!(bytes[i - 1], b'e' | b'E')))
            {
                // `a[0].b`: a `.` followed by a letter ends the number.
                if bytes[i] == b'.' && !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    break;
                }
                float |= !bytes[i].is_ascii_digit();
                i += 1;
            }
            let text = &source[start..i];
            let token = if float {
                text.parse()
                    .ok()
                    .filter(|f: &f64| f.is_finite())
                    .map(Token::Float)
            } else {
                text.parse().ok().map(Token::Int)
            };
            tokens.push((
                start,
                token.ok_or_else(|| error(source, start, format!("bad number `{text}`")))?,
            ));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            tokens.push((start, Token::Name(source[start..i].to_string())));
        } else if c == b'"' || c == b'\'' {
            let start = i;
            let (text, end) = string(source, i)?;
            tokens.push((start, Token::Str(text)));
            i = end;
        } else if let Some(op) = OPERATORS.iter().find(|op| source[i..].starts_with(**op)) {
            tokens.push((i, Token::Op(op)));
            i += op.len();
        } else {
            let shown = source[i..].chars().next().unwrap_or('?');
            return Err(error(source, i, format!("unexpected character `{shown}`")));
        }
    }
    Ok(tokens)
}

/// Reads a quoted string starting at `start`; returns it and the offset after the quote.
fn string(source: &str, start: usize) -> Result<(String, usize)> {
    let quote = source.as_bytes()[start] as char;
    let mut out = String::new();
    let mut chars = source[start + 1..].char_indices();
    while let Some((offset, c)) = chars.next() {
        match c {
            c if c == quote => return Ok((out, start + 1 + offset + 1)),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, c @ ('\\' | '"' | '\''))) => out.push(c),
                _ => {
                    return Err(error(
                        source,
                        start + 1 + offset,
                        "unknown escape (\\n \\t \\\\ \\\" \\')",
                    ))
                }
            },
            c => out.push(c),
        }
    }
    Err(error(source, start, "unterminated string"))
}

impl Parser<'_> {
    fn offset(&self) -> usize {
        self.tokens
            .get(self.pos)
            .map_or(self.source.len(), |(offset, _)| *offset)
    }

    fn fail<T>(&self, reason: impl Into<String>) -> Result<T> {
        Err(error(self.source, self.offset(), reason))
    }

    fn peek_op(&self, op: &str) -> bool {
        matches!(self.tokens.get(self.pos), Some((_, Token::Op(o))) if *o == op)
    }

    fn eat_op(&mut self, op: &str) -> bool {
        let found = self.peek_op(op);
        if found {
            self.pos += 1;
        }
        found
    }

    fn expect_op(&mut self, op: &str) -> Result<()> {
        if self.eat_op(op) {
            Ok(())
        } else {
            self.fail(format!("expected `{op}`"))
        }
    }

    fn node(&mut self, node: Node) -> Result<Node> {
        self.nodes += 1;
        if self.nodes > MAX_EXPR_NODES {
            return self.fail(format!("more than {MAX_EXPR_NODES} syntax nodes"));
        }
        Ok(node)
    }

    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.depth += 1;
        if self.depth > MAX_EXPR_DEPTH {
            return self.fail(format!("nested deeper than {MAX_EXPR_DEPTH}"));
        }
        let out = f(self);
        self.depth -= 1;
        out
    }

    fn expr(&mut self) -> Result<Node> {
        self.nested(|p| p.binary_level(0))
    }

    /// Left-associative binary levels, loosest first; the comparison level is non-associative.
    fn binary_level(&mut self, level: usize) -> Result<Node> {
        const LEVELS: &[&[(&str, BinOp)]] = &[
            &[("||", BinOp::Or)],
            &[("&&", BinOp::And)],
            &[],
            &[
                ("==", BinOp::Eq),
                ("!=", BinOp::Ne),
                ("<=", BinOp::Le),
                (">=", BinOp::Ge),
                ("<", BinOp::Lt),
                (">", BinOp::Gt),
            ],
            &[("+", BinOp::Add), ("-", BinOp::Sub)],
            &[("*", BinOp::Mul), ("/", BinOp::Div), ("%", BinOp::Rem)],
        ];
        if level == 2 {
            if self.eat_op("!") {
                let inner = self.nested(|p| p.binary_level(2))?;
                return self.node(Node::Not(Box::new(inner)));
            }
            return self.binary_level(3);
        }
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut left = self.binary_level(level + 1)?;
        loop {
            let Some(op) = LEVELS[level]
                .iter()
                .find(|(text, _)| self.peek_op(text))
                .map(|(_, op)| *op)
            else {
                return Ok(left);
            };
            self.pos += 1;
            let right = self.nested(|p| p.binary_level(level + 1))?;
            left = self.node(Node::Binary(op, Box::new(left), Box::new(right)))?;
            if level == 3 && LEVELS[3].iter().any(|(text, _)| self.peek_op(text)) {
                return self.fail("comparisons do not chain; use `&&`");
            }
        }
    }

    fn unary(&mut self) -> Result<Node> {
        if self.eat_op("-") {
            let inner = self.nested(Self::unary)?;
            return self.node(Node::Neg(Box::new(inner)));
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Node> {
        let start = self.offset();
        let starts_with_field = matches!(self.tokens.get(self.pos), Some((_, Token::Name(_))))
            && !matches!(self.tokens.get(self.pos + 1), Some((_, Token::Op("("))));
        let mut node = self.primary()?;
        loop {
            if self.eat_op(".") {
                let Some((_, Token::Name(name))) = self.tokens.get(self.pos).cloned() else {
                    return self.fail("expected a field name after `.`");
                };
                self.pos += 1;
                node = self.node(Node::Member(Box::new(node), name))?;
            } else if self.eat_op("[") {
                let index = self.expr()?;
                self.expect_op("]")?;
                node = self.node(Node::Index(Box::new(node), Box::new(index)))?;
            } else {
                break;
            }
        }
        if starts_with_field && matches!(node, Node::Field(_) | Node::Member(..) | Node::Index(..))
        {
            let end = self.offset();
            let text = self.source[start..end].trim().to_string();
            self.refs.push((text, node.clone()));
        }
        Ok(node)
    }

    fn primary(&mut self) -> Result<Node> {
        let Some((_, token)) = self.tokens.get(self.pos).cloned() else {
            return self.fail("unexpected end of expression");
        };
        self.pos += 1;
        match token {
            Token::Int(i) => self.node(Node::Literal(Value::Int(i))),
            Token::Float(f) => self.node(Node::Literal(Value::Float(f))),
            Token::Str(s) => self.node(Node::Literal(Value::String(s))),
            Token::Op("(") => {
                let inner = self.expr()?;
                self.expect_op(")")?;
                Ok(inner)
            }
            Token::Name(name) => match name.as_str() {
                "true" => self.node(Node::Literal(Value::Bool(true))),
                "false" => self.node(Node::Literal(Value::Bool(false))),
                "null" => self.node(Node::Literal(Value::Null)),
                _ if self.peek_op("(") => self.call(&name),
                _ => self.node(Node::Field(name)),
            },
            Token::Op(op) => {
                self.pos -= 1;
                self.fail(format!("unexpected `{op}`"))
            }
        }
    }

    fn call(&mut self, name: &str) -> Result<Node> {
        let (func, arity) = match name {
            "len" => (Func::Len, 1),
            "exists" => (Func::Exists, 1),
            "abs" => (Func::Abs, 1),
            "lower" => (Func::Lower, 1),
            "upper" => (Func::Upper, 1),
            "min" => (Func::Min, 2),
            "max" => (Func::Max, 2),
            _ => {
                return self.fail(format!(
                    "unknown function `{name}` (len, exists, abs, lower, upper, min, max)"
                ))
            }
        };
        self.expect_op("(")?;
        let mut args = Vec::new();
        if !self.eat_op(")") {
            loop {
                args.push(self.expr()?);
                if self.eat_op(")") {
                    break;
                }
                self.expect_op(",")?;
            }
        }
        if args.len() != arity {
            return self.fail(format!(
                "`{name}` takes {arity} argument(s), got {}",
                args.len()
            ));
        }
        self.node(Node::Call(func, args))
    }
}
