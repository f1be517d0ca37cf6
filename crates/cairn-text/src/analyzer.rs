//! Analysis: how a field's text becomes the terms a text index stores and a query looks up.
//!
//! The pipeline follows tantivy's default English analyzer, built from maintained crates
//! rather than written here:
//!
//! 1. split into words at Unicode word boundaries (UAX #29, `unicode-segmentation`); every
//!    word takes the next position, so phrases and gaps left by removed words keep their
//!    distance;
//! 2. drop words longer than [`MAX_TOKEN_BYTES`] (tantivy's `RemoveLongFilter`);
//! 3. lowercase;
//! 4. drop the language's stop words (NLTK's lists, `stop-words`), compared before folding
//!    because the lists are accented (`été`);
//! 5. stem with the language's Snowball stemmer (`frostem`, the stemmers tantivy 0.27 uses);
//! 6. fold Latin letters to ASCII (`deunicode`'s tables, only for Latin blocks so Cyrillic
//!    stems stay as they are): `café` and `cafe` become one term. Folding runs after stemming
//!    because the Snowball rules read accents.
//!
//! With edge n-grams on, each word also yields its leading `min..=max` characters (folded,
//! unstemmed, at the word's position) for search-as-you-type; they are extra terms, not
//! extra length: a field's length counts its words only.

use std::borrow::Cow;

use unicode_segmentation::UnicodeSegmentation;

use crate::limits::{MAX_TOKENS_PER_FIELD, MAX_TOKEN_BYTES};

/// The languages an index can analyze: stop words and stemming for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    /// English (Snowball "english", Porter 2).
    English,
    /// French.
    French,
    /// German.
    German,
    /// Spanish.
    Spanish,
    /// Italian.
    Italian,
    /// Portuguese.
    Portuguese,
    /// Dutch.
    Dutch,
    /// Russian.
    Russian,
    /// Swedish.
    Swedish,
    /// No stop words and no stemming: tokenize, lowercase and fold only.
    None,
}

impl Language {
    /// Every language, in definition order.
    pub const ALL: [Language; 10] = [
        Language::English,
        Language::French,
        Language::German,
        Language::Spanish,
        Language::Italian,
        Language::Portuguese,
        Language::Dutch,
        Language::Russian,
        Language::Swedish,
        Language::None,
    ];

    /// The name used in index definitions (`english`, `french`, ..., `none`).
    pub fn name(self) -> &'static str {
        match self {
            Language::English => "english",
            Language::French => "french",
            Language::German => "german",
            Language::Spanish => "spanish",
            Language::Italian => "italian",
            Language::Portuguese => "portuguese",
            Language::Dutch => "dutch",
            Language::Russian => "russian",
            Language::Swedish => "swedish",
            Language::None => "none",
        }
    }

    /// Parses a name as written by [`Language::name`].
    pub fn parse(name: &str) -> Option<Language> {
        Language::ALL.into_iter().find(|l| l.name() == name)
    }

    fn iso_code(self) -> Option<&'static str> {
        Some(match self {
            Language::English => "en",
            Language::French => "fr",
            Language::German => "de",
            Language::Spanish => "es",
            Language::Italian => "it",
            Language::Portuguese => "pt",
            Language::Dutch => "nl",
            Language::Russian => "ru",
            Language::Swedish => "sv",
            Language::None => return None,
        })
    }

    fn algorithm(self) -> Option<frostem::Algorithm> {
        use frostem::Algorithm as A;
        Some(match self {
            Language::English => A::English,
            Language::French => A::French,
            Language::German => A::German,
            Language::Spanish => A::Spanish,
            Language::Italian => A::Italian,
            Language::Portuguese => A::Portuguese,
            Language::Dutch => A::Dutch,
            Language::Russian => A::Russian,
            Language::Swedish => A::Swedish,
            Language::None => return None,
        })
    }
}

/// One analyzed term and the position of the word it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The term as stored in the index.
    pub term: String,
    /// Word position in the field (gaps where stop words or long words were removed).
    pub position: u32,
}

/// An analyzer for one language, with optional edge n-grams.
#[derive(Clone)]
pub struct Analyzer {
    language: Language,
    stemmer: Option<frostem::Stemmer>,
    stop_words: &'static [&'static str],
    edge_ngrams: Option<(usize, usize)>,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer")
            .field("language", &self.language)
            .field("edge_ngrams", &self.edge_ngrams)
            .finish_non_exhaustive()
    }
}

/// What analyzing one field value produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analyzed {
    /// Terms with positions, words first in position order, n-grams after their word.
    pub tokens: Vec<Token>,
    /// Words kept (the field length BM25 normalises by; n-grams not counted).
    pub words: u32,
    /// Positions consumed, so the next value of a multi-valued field continues after a gap.
    pub next_position: u32,
}

impl Analyzer {
    /// An analyzer for `language`; `edge_ngrams` = `(min, max)` characters when on.
    pub fn new(language: Language, edge_ngrams: Option<(usize, usize)>) -> Analyzer {
        let stop_words = language
            .iso_code()
            .and_then(stop_words::lookup)
            .unwrap_or(&[]);
        Analyzer {
            language,
            stemmer: language.algorithm().map(frostem::Stemmer::new),
            stop_words,
            edge_ngrams,
        }
    }

    /// The language.
    pub fn language(&self) -> Language {
        self.language
    }

    /// Whether `word` (lowercased) is a stop word of the language.
    pub fn is_stop_word(&self, word: &str) -> bool {
        self.stop_words.contains(&word)
    }

    /// Analyzes `text` for indexing, numbering words from `start`.
    pub fn analyze(&self, text: &str, start: u32) -> Analyzed {
        self.run(text, start, true)
    }

    /// Analyzes query text: the same pipeline without n-grams (a query word matches the
    /// n-grams documents were indexed with, as Elasticsearch's `search_analyzer` does).
    pub fn analyze_query(&self, text: &str) -> Vec<Token> {
        self.run(text, 0, false).tokens
    }

    /// Normalises a prefix or a word for matching without stemming: lowercase and fold.
    pub fn normalize(&self, text: &str) -> String {
        fold(&text.to_lowercase()).into_owned()
    }

    fn run(&self, text: &str, start: u32, ngrams: bool) -> Analyzed {
        let mut out = Analyzed {
            next_position: start,
            ..Analyzed::default()
        };
        for word in text.unicode_words() {
            let position = out.next_position;
            out.next_position = out.next_position.saturating_add(1);
            if out.words as usize >= MAX_TOKENS_PER_FIELD {
                break;
            }
            if word.len() > MAX_TOKEN_BYTES {
                continue;
            }
            let lower = word.to_lowercase();
            if self.is_stop_word(&lower) {
                continue;
            }
            let stemmed = match &self.stemmer {
                Some(stemmer) => stemmer.stem(&lower),
                None => Cow::Borrowed(lower.as_str()),
            };
            let term = fold(&stemmed).into_owned();
            out.words += 1;
            if ngrams {
                if let Some((min, max)) = self.edge_ngrams {
                    let folded = fold(&lower);
                    let mut ends: Vec<usize> = folded
                        .char_indices()
                        .map(|(i, c)| i + c.len_utf8())
                        .collect();
                    ends.retain(|&end| {
                        let chars = folded[..end].chars().count();
                        chars >= min && chars <= max
                    });
                    for end in ends {
                        let gram = &folded[..end];
                        if gram != term {
                            out.tokens.push(Token {
                                term: gram.to_string(),
                                position,
                            });
                        }
                    }
                }
            }
            out.tokens.push(Token { term, position });
        }
        out
    }
}

/// Whether `c` is in a Latin block that folding turns into ASCII.
fn is_foldable(c: char) -> bool {
    matches!(c as u32, 0x00C0..=0x024F | 0x1E00..=0x1EFF)
}

/// Folds Latin letters with diacritics (and ligatures such as `ß`, `æ`) to ASCII.
pub fn fold(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_foldable) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_foldable(c) {
            match deunicode::deunicode_char(c) {
                Some(ascii) => out.push_str(&ascii.to_lowercase()),
                None => out.push(c),
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(language: Language, text: &str) -> Vec<String> {
        Analyzer::new(language, None)
            .analyze(text, 0)
            .tokens
            .into_iter()
            .map(|t| t.term)
            .collect()
    }

    #[test]
    fn english_stems_drops_stop_words_and_folds() {
        assert_eq!(
            terms(Language::English, "The Runners were running to the Café"),
            ["runner", "run", "cafe"]
        );
        let analyzed = Analyzer::new(Language::English, None).analyze("state of the art", 0);
        let positions: Vec<u32> = analyzed.tokens.iter().map(|t| t.position).collect();
        assert_eq!(positions, [0, 3], "stop words leave position gaps");
        assert_eq!(analyzed.words, 2);
    }

    #[test]
    fn french() {
        assert_eq!(
            terms(Language::French, "Les élèves continuaient leurs études"),
            ["elev", "continu", "leur", "etud"]
        );
    }

    #[test]
    fn german() {
        assert_eq!(
            terms(Language::German, "Die Häuser und der Straßenbahnen"),
            ["haus", "strassenbahn"]
        );
    }

    #[test]
    fn spanish() {
        assert_eq!(
            terms(Language::Spanish, "Los niños corrían por las calles"),
            ["nin", "corr", "call"]
        );
    }

    #[test]
    fn italian_portuguese_dutch_swedish() {
        assert_eq!(terms(Language::Italian, "le biblioteche"), ["bibliotec"]);
        assert_eq!(terms(Language::Portuguese, "as bibliotecas"), ["bibliotec"]);
        assert_eq!(terms(Language::Dutch, "de fietsen"), ["fiets"]);
        assert_eq!(terms(Language::Swedish, "och bilarna"), ["bil"]);
    }

    #[test]
    fn russian_keeps_cyrillic() {
        assert_eq!(terms(Language::Russian, "и книги"), ["книг"]);
    }

    #[test]
    fn none_only_lowercases_and_folds() {
        assert_eq!(
            terms(Language::None, "The Running Crème"),
            ["the", "running", "creme"]
        );
    }

    #[test]
    fn long_words_are_dropped() {
        let long = "x".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(terms(Language::None, &format!("a {long} b")), ["a", "b"]);
    }

    #[test]
    fn edge_ngrams_add_prefixes_at_the_word_position() {
        let analyzer = Analyzer::new(Language::English, Some((2, 4)));
        let analyzed = analyzer.analyze("Hydrogen", 0);
        let got: Vec<(&str, u32)> = analyzed
            .tokens
            .iter()
            .map(|t| (t.term.as_str(), t.position))
            .collect();
        assert_eq!(got, [("hy", 0), ("hyd", 0), ("hydr", 0), ("hydrogen", 0)]);
        assert_eq!(analyzed.words, 1);
        assert!(analyzer
            .analyze_query("hydr")
            .iter()
            .all(|t| t.term == "hydr"));
    }
}
