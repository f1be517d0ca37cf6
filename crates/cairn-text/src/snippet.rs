//! Highlighted snippets: the part of a field's text around the first word a query matched,
//! with matched words marked.
//!
//! Words are matched as search matches them — analysed to terms (so `running` is marked for
//! the query `run`), prefixes against the normalised word, fuzzy terms within their edit
//! distance. Negated clauses mark nothing.

use unicode_segmentation::UnicodeSegmentation;

use crate::analyzer::Analyzer;
use crate::error::Result;
use crate::query::{parse, LeafKind, Query};
use crate::search::within_distance;

/// Marker put before a matched word.
pub const HIGHLIGHT_START: &str = "<b>";
/// Marker put after a matched word.
pub const HIGHLIGHT_END: &str = "</b>";

/// What marks a word.
enum Matcher {
    Term(String),
    Prefix(String),
    Fuzzy(Vec<char>, usize),
}

/// A snippet of `text` of at most `max_words` words around the first word `query` matches,
/// matched words wrapped in [`HIGHLIGHT_START`] / [`HIGHLIGHT_END`]; `None` when no word
/// matches. `field` restricts to the query's clauses for that field (and unrestricted ones).
pub fn snippet(
    analyzer: &Analyzer,
    query: &str,
    field: &str,
    text: &str,
    max_words: usize,
) -> Result<Option<String>> {
    let mut matchers = Vec::new();
    collect(analyzer, &parse(query)?, field, &mut matchers);
    let words: Vec<(usize, &str)> = text.unicode_word_indices().collect();
    let matched: Vec<bool> = words
        .iter()
        .map(|(_, word)| {
            let term = analyzer
                .analyze_query(word)
                .into_iter()
                .next()
                .map(|t| t.term);
            let plain = analyzer.normalize(word);
            matchers.iter().any(|m| match m {
                Matcher::Term(t) => term.as_deref() == Some(t.as_str()),
                Matcher::Prefix(p) => plain.starts_with(p.as_str()),
                Matcher::Fuzzy(target, d) => term
                    .as_deref()
                    .is_some_and(|t| within_distance(target, t, *d)),
            })
        })
        .collect();
    let Some(first) = matched.iter().position(|&m| m) else {
        return Ok(None);
    };
    // A third of the window before the first match, the rest after it.
    let start = first.saturating_sub(max_words / 3);
    let end = (start + max_words.max(1)).min(words.len());
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    // Punctuation touching the window's first and last words belongs to them: an opening
    // quote or parenthesis before, a full stop or comma after (up to the nearest space).
    let before_from = if start > 0 {
        let (offset, word) = words[start - 1];
        offset + word.len()
    } else {
        0
    };
    let before = &text[before_from..words[start].0];
    out.push_str(before.rsplit(char::is_whitespace).next().unwrap_or(""));
    let mut at = words[start].0;
    for (i, &(offset, word)) in words.iter().enumerate().take(end).skip(start) {
        out.push_str(&text[at..offset]);
        if matched[i] {
            out.push_str(HIGHLIGHT_START);
            out.push_str(word);
            out.push_str(HIGHLIGHT_END);
        } else {
            out.push_str(word);
        }
        at = offset + word.len();
    }
    let after_to = words.get(end).map_or(text.len(), |&(offset, _)| offset);
    let after = &text[at..after_to];
    out.push_str(after.split(char::is_whitespace).next().unwrap_or(""));
    if end < words.len() {
        out.push('…');
    }
    Ok(Some(out))
}

fn collect(analyzer: &Analyzer, query: &Query, field: &str, out: &mut Vec<Matcher>) {
    match query {
        Query::Leaf(leaf) => {
            if leaf.field.as_deref().is_some_and(|f| f != field) {
                return;
            }
            match &leaf.kind {
                LeafKind::Term(text) | LeafKind::Phrase(text) => out.extend(
                    analyzer
                        .analyze_query(text)
                        .into_iter()
                        .map(|t| Matcher::Term(t.term)),
                ),
                LeafKind::Prefix(prefix) => out.push(Matcher::Prefix(analyzer.normalize(prefix))),
                LeafKind::Fuzzy(word, distance) => {
                    if let Some(token) = analyzer.analyze_query(word).into_iter().next() {
                        out.push(Matcher::Fuzzy(
                            token.term.chars().collect(),
                            usize::from(*distance),
                        ));
                    }
                }
            }
        }
        Query::Bool { must, should, .. } => {
            for clause in must.iter().chain(should) {
                collect(analyzer, clause, field, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Language;

    #[test]
    fn marks_analysed_prefix_and_fuzzy_matches_but_not_negated_ones() {
        let analyzer = Analyzer::new(Language::English, None);
        let text = "The runners were running past hydrants, not the colour of foxes.";
        let got = snippet(&analyzer, "run hyd* color~1 -foxes", "body", text, 50).unwrap();
        assert_eq!(
            got.as_deref(),
            Some(
                "The runners were <b>running</b> past <b>hydrants</b>, not the <b>colour</b> of foxes."
            )
        );
        let window = snippet(&analyzer, "foxes", "body", text, 3)
            .unwrap()
            .unwrap();
        assert_eq!(window, "…of <b>foxes</b>.");
        assert_eq!(
            snippet(&analyzer, "title:run", "body", text, 5).unwrap(),
            None
        );
    }

    #[test]
    fn punctuation_touching_the_window_edges_is_kept() {
        let analyzer = Analyzer::new(Language::English, None);
        let text = "He said: \"(Hydrogen) burns, oxygen helps!\" Then silence.";
        let whole = snippet(&analyzer, "hydrogen", "body", text, 50).unwrap();
        assert_eq!(
            whole.as_deref(),
            Some("He said: \"(<b>Hydrogen</b>) burns, oxygen helps!\" Then silence.")
        );
        let inner = snippet(&analyzer, "hydrogen", "body", text, 2).unwrap();
        assert_eq!(inner.as_deref(), Some("…\"(<b>Hydrogen</b>) burns,…"));
        let middle = snippet(&analyzer, "helps", "body", text, 1).unwrap();
        assert_eq!(middle.as_deref(), Some("…<b>helps</b>!\"…"));
    }
}
