//! The query string language of text search.
//!
//! ```text
//! query   := clause*                         bare clauses are OR'ed (as tantivy and MongoDB)
//! clause  := conj ("OR" conj)*
//! conj    := unary ("AND" unary)*
//! unary   := "NOT" unary | "+" atom | "-" atom | atom
//! atom    := "(" query ")" | [field ":"] ( "\"words\"" | word | word "*" | word "~" [1|2] )
//! ```
//!
//! A sequence of clauses is a boolean group: `+x` clauses must match, `-x` and `NOT x`
//! clauses must not, the rest should (a group with no required clause needs one of them).
//! `a AND b` requires both. `hyd*` is a prefix (normalised, not stemmed), `colour~1` a fuzzy
//! term within that many edits of the analysed word (`~` alone means 2), `"a b"` a phrase,
//! `title:x` restricts a term to one indexed field.

use crate::error::{Result, TextError};
use crate::limits::{MAX_FUZZY_DISTANCE, MAX_QUERY_BYTES, MAX_QUERY_CLAUSES, MAX_QUERY_DEPTH};

/// What one leaf matches.
#[derive(Debug, Clone, PartialEq)]
pub enum LeafKind {
    /// A word (analysed like document text).
    Term(String),
    /// Words that must appear at consecutive positions (after analysis).
    Phrase(String),
    /// Terms starting with this text (lowercased and folded).
    Prefix(String),
    /// Terms within `distance` edits of the analysed word.
    Fuzzy(String, u8),
}

/// A leaf: what it matches, optionally in one field only.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    /// The field it is restricted to, as named in the index definition.
    pub field: Option<String>,
    /// What it matches.
    pub kind: LeafKind,
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// One leaf.
    Leaf(Leaf),
    /// A boolean group.
    Bool {
        /// Clauses that must match (their scores add up).
        must: Vec<Query>,
        /// Clauses that should match; with no `must`, at least one of them.
        should: Vec<Query>,
        /// Clauses that must not match.
        must_not: Vec<Query>,
    },
}

/// Parses a query string.
pub fn parse(text: &str) -> Result<Query> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(TextError::InvalidQuery {
            at: MAX_QUERY_BYTES,
            reason: format!("the query is longer than {MAX_QUERY_BYTES} bytes"),
        });
    }
    let mut parser = Parser {
        text,
        at: 0,
        clauses: 0,
    };
    let query = parser.group(0)?;
    parser.skip_space();
    if parser.at < text.len() {
        return Err(parser.error("unexpected `)`"));
    }
    Ok(query)
}

struct Parser<'q> {
    text: &'q str,
    at: usize,
    clauses: usize,
}

impl Parser<'_> {
    fn error(&self, reason: &str) -> TextError {
        TextError::InvalidQuery {
            at: self.at,
            reason: reason.to_string(),
        }
    }

    fn rest(&self) -> &str {
        &self.text[self.at..]
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest().trim_start();
        self.at = self.text.len() - trimmed.len();
    }

    /// Consumes the keyword `word` if it comes next as a whole word.
    fn keyword(&mut self, word: &str) -> bool {
        self.skip_space();
        let rest = self.rest();
        if rest.starts_with(word)
            && rest[word.len()..]
                .chars()
                .next()
                .is_none_or(|c| c.is_whitespace() || c == '(' || c == '"')
        {
            self.at += word.len();
            return true;
        }
        false
    }

    /// A sequence of clauses up to the end or a `)`.
    fn group(&mut self, depth: usize) -> Result<Query> {
        if depth > MAX_QUERY_DEPTH {
            return Err(self.error("groups are nested too deeply"));
        }
        let (mut must, mut should, mut must_not) = (Vec::new(), Vec::new(), Vec::new());
        loop {
            self.skip_space();
            if self.at >= self.text.len() || self.rest().starts_with(')') {
                break;
            }
            let (occur, clause) = self.disjunction(depth)?;
            match occur {
                Occur::Must => must.push(clause),
                Occur::Should => should.push(clause),
                Occur::MustNot => must_not.push(clause),
            }
        }
        if must.is_empty() && should.is_empty() {
            return Err(self.error("a query needs at least one term that is not negated"));
        }
        if must.is_empty() && must_not.is_empty() && should.len() == 1 {
            return Ok(should.remove(0));
        }
        Ok(Query::Bool {
            must,
            should,
            must_not,
        })
    }

    fn disjunction(&mut self, depth: usize) -> Result<(Occur, Query)> {
        let (occur, first) = self.conjunction(depth)?;
        let mut alternatives = vec![first];
        while self.keyword("OR") {
            let (inner, next) = self.conjunction(depth)?;
            if inner != Occur::Should {
                return Err(self.error("`OR` cannot combine a required or negated clause"));
            }
            alternatives.push(next);
        }
        if alternatives.len() == 1 {
            return Ok((occur, alternatives.remove(0)));
        }
        if occur != Occur::Should {
            return Err(self.error("`OR` cannot combine a required or negated clause"));
        }
        Ok((
            Occur::Should,
            Query::Bool {
                must: Vec::new(),
                should: alternatives,
                must_not: Vec::new(),
            },
        ))
    }

    fn conjunction(&mut self, depth: usize) -> Result<(Occur, Query)> {
        let (occur, first) = self.unary(depth)?;
        if !self.keyword_ahead("AND") {
            return Ok((occur, first));
        }
        let mut group = (Vec::new(), Vec::new());
        push_required(&mut group, occur, first);
        while self.keyword("AND") {
            let (occur, next) = self.unary(depth)?;
            push_required(&mut group, occur, next);
        }
        if group.0.is_empty() {
            return Err(self.error("`AND` needs at least one clause that is not negated"));
        }
        Ok((
            Occur::Should,
            Query::Bool {
                must: group.0,
                should: Vec::new(),
                must_not: group.1,
            },
        ))
    }

    fn keyword_ahead(&mut self, word: &str) -> bool {
        let at = self.at;
        let found = self.keyword(word);
        self.at = at;
        found
    }

    fn unary(&mut self, depth: usize) -> Result<(Occur, Query)> {
        self.clauses += 1;
        if self.clauses > MAX_QUERY_CLAUSES {
            return Err(self.error(&format!(
                "more than {MAX_QUERY_CLAUSES} clauses in one query"
            )));
        }
        if self.keyword("NOT") {
            let (_, inner) = self.unary(depth)?;
            return Ok((Occur::MustNot, inner));
        }
        self.skip_space();
        let occur = if self.rest().starts_with('+') {
            self.at += 1;
            Occur::Must
        } else if self.rest().starts_with('-') {
            self.at += 1;
            Occur::MustNot
        } else {
            Occur::Should
        };
        Ok((occur, self.atom(depth)?))
    }

    fn atom(&mut self, depth: usize) -> Result<Query> {
        if self.rest().starts_with('(') {
            self.at += 1;
            let inner = self.group(depth + 1)?;
            self.skip_space();
            if !self.rest().starts_with(')') {
                return Err(self.error("missing `)`"));
            }
            self.at += 1;
            return Ok(inner);
        }
        let field = self.field_prefix();
        if self.rest().starts_with('"') {
            self.at += 1;
            let end = self
                .rest()
                .find('"')
                .ok_or_else(|| self.error("unterminated phrase (missing `\"`)"))?;
            let phrase = self.rest()[..end].to_string();
            self.at += end + 1;
            return Ok(Query::Leaf(Leaf {
                field,
                kind: LeafKind::Phrase(phrase),
            }));
        }
        let word_len = self
            .rest()
            .find(|c: char| c.is_whitespace() || "()\"*~".contains(c))
            .unwrap_or(self.rest().len());
        if word_len == 0 {
            return Err(self.error("expected a word, a phrase or a group"));
        }
        let word = self.rest()[..word_len].to_string();
        self.at += word_len;
        let kind = if self.rest().starts_with('*') {
            self.at += 1;
            LeafKind::Prefix(word)
        } else if self.rest().starts_with('~') {
            self.at += 1;
            let distance = match self.rest().chars().next() {
                Some(d @ '0'..='9') => {
                    self.at += 1;
                    d as u8 - b'0'
                }
                _ => MAX_FUZZY_DISTANCE,
            };
            if distance == 0 || distance > MAX_FUZZY_DISTANCE {
                return Err(self.error(&format!(
                    "a fuzzy term allows 1 to {MAX_FUZZY_DISTANCE} edits"
                )));
            }
            LeafKind::Fuzzy(word, distance)
        } else {
            LeafKind::Term(word)
        };
        Ok(Query::Leaf(Leaf { field, kind }))
    }

    /// `name:` before a word or phrase (a field path has no spaces or quotes).
    fn field_prefix(&mut self) -> Option<String> {
        let rest = self.rest();
        let end = rest
            .find(|c: char| c.is_whitespace() || "()\"*~".contains(c))
            .unwrap_or(rest.len());
        let colon = rest[..end].find(':')?;
        if colon == 0 {
            return None;
        }
        let field = rest[..colon].to_string();
        self.at += colon + 1;
        Some(field)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Occur {
    Must,
    Should,
    MustNot,
}

fn push_required(group: &mut (Vec<Query>, Vec<Query>), occur: Occur, clause: Query) {
    match occur {
        Occur::MustNot => group.1.push(clause),
        _ => group.0.push(clause),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(word: &str) -> Query {
        Query::Leaf(Leaf {
            field: None,
            kind: LeafKind::Term(word.to_string()),
        })
    }

    #[test]
    fn bare_terms_or_signs_and_keywords() {
        assert_eq!(
            parse("a b").unwrap(),
            Query::Bool {
                must: vec![],
                should: vec![term("a"), term("b")],
                must_not: vec![]
            }
        );
        assert_eq!(
            parse("+a -b c").unwrap(),
            Query::Bool {
                must: vec![term("a")],
                should: vec![term("c")],
                must_not: vec![term("b")]
            }
        );
        assert_eq!(
            parse("a AND NOT b").unwrap(),
            Query::Bool {
                must: vec![term("a")],
                should: vec![],
                must_not: vec![term("b")]
            }
        );
        assert_eq!(parse("a OR b").unwrap(), parse("a b").unwrap());
    }

    #[test]
    fn leaves() {
        let Query::Bool { should, .. } =
            parse(r#"title:"red fox" hyd* colour~1 body:x~ (y)"#).unwrap()
        else {
            panic!("expected a group");
        };
        let kinds: Vec<(Option<String>, LeafKind)> = should
            .into_iter()
            .map(|q| match q {
                Query::Leaf(leaf) => (leaf.field, leaf.kind),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                (Some("title".into()), LeafKind::Phrase("red fox".into())),
                (None, LeafKind::Prefix("hyd".into())),
                (None, LeafKind::Fuzzy("colour".into(), 1)),
                (Some("body".into()), LeafKind::Fuzzy("x".into(), 2)),
                (None, LeafKind::Term("y".into())),
            ]
        );
        assert_eq!(
            parse("title:x").unwrap(),
            Query::Leaf(Leaf {
                field: Some("title".into()),
                kind: LeafKind::Term("x".into())
            })
        );
    }

    #[test]
    fn errors_name_the_problem() {
        for (query, what) in [
            ("-a", "not negated"),
            ("\"open", "unterminated"),
            ("(a", "missing `)`"),
            ("a)", "unexpected"),
            ("a~3", "edits"),
            ("+a OR b", "OR"),
        ] {
            let err = parse(query).unwrap_err().to_string();
            assert!(err.contains(what), "{query}: {err}");
        }
        assert!(parse(&"(".repeat(40)).is_err());
        assert!(parse(&"a ".repeat(MAX_QUERY_CLAUSES + 1)).is_err());
    }
}
