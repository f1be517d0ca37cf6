//! Invariant definitions: the rule language and how a rule is stored in the catalog.
//!
//! Grammar (whitespace between tokens is free):
//! ```text
//! rule   := "conserve" "sum(" path ")"
//!         | path op number
//!         | "sum(" path ")" "by" path op number
//! op     := ">=" | ">" | "<=" | "<"
//! path   := a field path, `a.b.c` (see cairn_doc::FieldPath)
//! number := an integer (`-5`) or a finite float (`2.5`, `1e6`)
//! ```

use std::fmt;

use cairn_doc::{FieldPath, Object, Value};

use crate::amount::Amount;
use crate::error::{InvariantError, Result};
use crate::limits::MAX_RULE_BYTES;

/// A comparison against a bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundOp {
    /// `>=`
    Ge,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `<`
    Lt,
}

impl BoundOp {
    /// The operator's text.
    pub fn as_str(self) -> &'static str {
        match self {
            BoundOp::Ge => ">=",
            BoundOp::Gt => ">",
            BoundOp::Le => "<=",
            BoundOp::Lt => "<",
        }
    }

    /// Whether `value OP bound` holds, given `value.cmp(bound)`.
    pub fn holds(self, value_vs_bound: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            BoundOp::Ge => value_vs_bound != Less,
            BoundOp::Gt => value_vs_bound == Greater,
            BoundOp::Le => value_vs_bound != Greater,
            BoundOp::Lt => value_vs_bound == Less,
        }
    }
}

/// What an invariant requires.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// `conserve sum(field)`: every transaction leaves the collection's sum of `field`
    /// unchanged (inserting or deleting a document with a non-zero amount changes it).
    Conserve {
        /// The summed field.
        field: FieldPath,
    },
    /// `field OP bound`: every document's `field` (when present) satisfies the bound.
    FieldBound {
        /// The bounded field.
        field: FieldPath,
        /// The comparison.
        op: BoundOp,
        /// The bound.
        bound: Amount,
    },
    /// `sum(field) by group OP bound`: for every value of `group` held by at least one
    /// document, the sum of `field` over those documents satisfies the bound.
    GroupBound {
        /// The summed field.
        field: FieldPath,
        /// The grouping field (missing counts as `null`).
        group: FieldPath,
        /// The comparison.
        op: BoundOp,
        /// The bound.
        bound: Amount,
    },
}

/// A named invariant.
#[derive(Debug, Clone, PartialEq)]
pub struct InvariantSpec {
    /// The name (unique among the collection's extensions).
    pub name: String,
    /// The rule.
    pub rule: Rule,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Conserve { field } => write!(f, "conserve sum({field})"),
            Rule::FieldBound { field, op, bound } => {
                write!(f, "{field} {} {bound}", op.as_str())
            }
            Rule::GroupBound {
                field,
                group,
                op,
                bound,
            } => write!(f, "sum({field}) by {group} {} {bound}", op.as_str()),
        }
    }
}

impl Rule {
    /// Parses a rule (see the module documentation for the grammar).
    pub fn parse(text: &str) -> Result<Rule> {
        let invalid = |reason: &str| InvariantError::InvalidRule {
            rule: text.to_string(),
            reason: reason.to_string(),
        };
        if text.len() > MAX_RULE_BYTES {
            return Err(invalid("the rule is longer than MAX_RULE_BYTES (1024)"));
        }
        let mut cursor = Cursor { rest: text.trim() };
        if cursor.keyword("conserve") {
            let field = cursor.sum_call().map_err(|r| invalid(&r))?;
            cursor.end().map_err(|r| invalid(&r))?;
            return Ok(Rule::Conserve { field });
        }
        if cursor.rest.starts_with("sum(") || cursor.rest.starts_with("sum (") {
            let field = cursor.sum_call().map_err(|r| invalid(&r))?;
            if !cursor.keyword("by") {
                return Err(invalid("expected `by FIELD` after `sum(FIELD)`"));
            }
            let group = cursor.path().map_err(|r| invalid(&r))?;
            let (op, bound) = cursor.bound().map_err(|r| invalid(&r))?;
            return Ok(Rule::GroupBound {
                field,
                group,
                op,
                bound,
            });
        }
        let field = cursor.path().map_err(|r| invalid(&r))?;
        let (op, bound) = cursor.bound().map_err(|r| invalid(&r))?;
        Ok(Rule::FieldBound { field, op, bound })
    }

    /// A name derived from the rule, for when the user gives none: `conserve_energy`,
    /// `energy_ge_0`, `amount_by_account_ge_0`.
    pub fn default_name(&self) -> String {
        let op_word = |op: BoundOp| match op {
            BoundOp::Ge => "ge",
            BoundOp::Gt => "gt",
            BoundOp::Le => "le",
            BoundOp::Lt => "lt",
        };
        let raw = match self {
            Rule::Conserve { field } => format!("conserve_{field}"),
            Rule::FieldBound { field, op, bound } => {
                format!("{field}_{}_{bound}", op_word(*op))
            }
            Rule::GroupBound {
                field,
                group,
                op,
                bound,
            } => format!("{field}_by_{group}_{}_{bound}", op_word(*op)),
        };
        let mut name: String = raw
            .chars()
            .map(|c| match c {
                'a'..='z' | 'A'..='Z' | '0'..='9' | '_' => c,
                '-' => 'm',
                _ => '_',
            })
            .take(100)
            .collect();
        if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            name.insert(0, '_');
        }
        name
    }
}

impl InvariantSpec {
    /// The catalog configuration: `{"rule": "<rule text>"}`.
    pub fn to_config(&self) -> Value {
        let mut obj = Object::new();
        obj.insert("rule", Value::String(self.rule.to_string()));
        Value::Object(obj)
    }

    /// Rebuilds a spec from its catalog configuration.
    pub fn from_config(name: &str, config: &Value) -> Result<InvariantSpec> {
        let text = config
            .as_object()
            .and_then(|obj| obj.get("rule"))
            .and_then(Value::as_str)
            .ok_or_else(|| InvariantError::InvalidRule {
                rule: config.to_json_string(),
                reason: "the stored configuration has no `rule` string".to_string(),
            })?;
        Ok(InvariantSpec {
            name: name.to_string(),
            rule: Rule::parse(text)?,
        })
    }
}

/// A tiny left-to-right reader over a rule's text.
struct Cursor<'t> {
    rest: &'t str,
}

impl Cursor<'_> {
    fn skip_space(&mut self) {
        self.rest = self.rest.trim_start();
    }

    /// Consumes `word` when it is next and followed by a non-identifier character.
    fn keyword(&mut self, word: &str) -> bool {
        self.skip_space();
        match self.rest.strip_prefix(word) {
            Some(after) if !after.starts_with(is_path_char) => {
                self.rest = after;
                true
            }
            _ => false,
        }
    }

    fn expect(&mut self, token: &str) -> std::result::Result<(), String> {
        self.skip_space();
        match self.rest.strip_prefix(token) {
            Some(after) => {
                self.rest = after;
                Ok(())
            }
            None => Err(format!("expected `{token}` at `{}`", self.rest)),
        }
    }

    fn path(&mut self) -> std::result::Result<FieldPath, String> {
        self.skip_space();
        let end = self
            .rest
            .find(|c: char| !is_path_char(c))
            .unwrap_or(self.rest.len());
        let (text, after) = self.rest.split_at(end);
        if text.is_empty() {
            return Err(format!("expected a field path at `{}`", self.rest));
        }
        let path = FieldPath::parse(text).map_err(|err| err.to_string())?;
        self.rest = after;
        Ok(path)
    }

    /// `sum ( path )`
    fn sum_call(&mut self) -> std::result::Result<FieldPath, String> {
        self.expect("sum")?;
        self.expect("(")?;
        let path = self.path()?;
        self.expect(")")?;
        Ok(path)
    }

    /// `op number`, then the end of the rule.
    fn bound(&mut self) -> std::result::Result<(BoundOp, Amount), String> {
        self.skip_space();
        let op = [
            (">=", BoundOp::Ge),
            ("<=", BoundOp::Le),
            (">", BoundOp::Gt),
            ("<", BoundOp::Lt),
        ]
        .into_iter()
        .find(|(text, _)| self.rest.starts_with(text));
        let Some((text, op)) = op else {
            return Err(format!(
                "expected a comparison (>=, >, <=, <) at `{}`",
                self.rest
            ));
        };
        self.rest = self.rest[text.len()..].trim();
        let bound = Amount::parse(self.rest)
            .ok_or_else(|| format!("expected a finite number, found `{}`", self.rest))?;
        self.rest = "";
        Ok((op, bound))
    }

    fn end(&mut self) -> std::result::Result<(), String> {
        self.skip_space();
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(format!("unexpected `{}` after the rule", self.rest))
        }
    }
}

fn is_path_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '.' || c == '-'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_kind_parses_and_prints_back() {
        for text in [
            "conserve sum(energy)",
            "energy >= 0",
            "temperature.celsius < 100.5",
            "sum(amount) by account >= 0",
            "sum(amount) by owner.id <= -3",
        ] {
            let rule = Rule::parse(text).unwrap();
            assert_eq!(rule.to_string(), text);
            assert_eq!(Rule::parse(&rule.to_string()).unwrap(), rule);
        }
        let loose = Rule::parse("  conserve   sum( energy )  ").unwrap();
        assert_eq!(loose.to_string(), "conserve sum(energy)");
        assert_eq!(
            Rule::parse("sum(a) by b >= -1").unwrap().default_name(),
            "a_by_b_ge_m1"
        );
    }

    #[test]
    fn malformed_rules_say_what_is_wrong() {
        for (text, expected) in [
            ("conserve energy", "expected `sum`"),
            ("energy => 0", "expected a comparison"),
            ("energy >= abc", "finite number"),
            ("sum(amount) >= 0", "expected `by FIELD`"),
            ("conserve sum(energy) extra", "unexpected"),
            (">= 0", "expected a field path"),
            ("sum(a..b) by c >= 0", "empty segments"),
        ] {
            let err = Rule::parse(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
