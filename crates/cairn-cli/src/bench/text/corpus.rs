//! The text benchmark's corpus (paragraphs of the machine's man pages) and its queries. The
//! preparation is spelled out in `bench/text.rs`'s module documentation; this file is its code.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use cairn::text::{Analyzer, Language};

/// Where Debian keeps the English man pages.
const MAN_ROOT: &str = "/usr/share/man";
/// Sections read, in this order.
const SECTIONS: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
/// Paragraphs shorter than this many words are dropped (headings, option names, blank cells).
const MIN_PARAGRAPH_WORDS: usize = 8;
/// Macros that end a paragraph (man and mdoc), their own text dropped.
const BREAK_MACROS: &[&str] = &[
    "PP", "P", "LP", "TP", "IP", "HP", "SH", "SS", "sp", "Pp", "Sh", "Ss", "It", "Bl", "El", "Bd",
    "Ed", "TS", "TE", "nf", "fi", "EX", "EE", "RS", "RE", "TH", "Dd", "Dt", "Os",
];
/// Font macros whose arguments are text (quotes removed, words kept).
const TEXT_MACROS: &[&str] = &["B", "I", "BR", "RB", "IR", "RI", "BI", "IB", "SM", "SB"];

/// The man page files, sorted by section then path.
fn man_files() -> anyhow::Result<Vec<PathBuf>> {
    let mut all = Vec::new();
    for section in SECTIONS {
        let dir = Path::new(MAN_ROOT).join(format!("man{section}"));
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "gz"))
            .collect();
        files.sort();
        all.extend(files);
    }
    anyhow::ensure!(!all.is_empty(), "no man pages under {MAN_ROOT}/man*/");
    Ok(all)
}

/// Reads man pages in order until `wanted` paragraphs are collected.
pub fn paragraphs(wanted: usize) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::with_capacity(wanted);
    for chunk in man_files()?.chunks(64) {
        // One `gzip -dc` per page, started 64 at a time, so the pages stay apart.
        let children: Vec<_> = chunk
            .iter()
            .map(|path| {
                Command::new("gzip")
                    .arg("-dc")
                    .arg(path)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .context("running gzip -dc")
            })
            .collect::<anyhow::Result<_>>()?;
        for child in children {
            let output = child.wait_with_output()?;
            if !output.status.success() {
                continue;
            }
            let page = String::from_utf8_lossy(&output.stdout);
            for paragraph in strip_roff(&page) {
                if out.len() == wanted {
                    return Ok(out);
                }
                out.push(paragraph);
            }
        }
    }
    anyhow::ensure!(
        out.len() == wanted,
        "the man pages hold only {} paragraphs of {MIN_PARAGRAPH_WORDS}+ words; ask for fewer documents",
        out.len()
    );
    Ok(out)
}

/// The paragraphs of one roff page.
pub fn strip_roff(page: &str) -> Vec<String> {
    if page.starts_with(".so ") {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut current = String::new();
    let mut flush = |current: &mut String| {
        let text = current.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.split(' ').count() >= MIN_PARAGRAPH_WORDS {
            out.push(text);
        }
        current.clear();
    };
    for line in page.lines() {
        if line.trim().is_empty() {
            flush(&mut current);
            continue;
        }
        let text = if let Some(request) = line.strip_prefix('.').or_else(|| line.strip_prefix('\''))
        {
            let request = request.trim_start();
            let (name, rest) = request
                .split_once(char::is_whitespace)
                .unwrap_or((request, ""));
            if BREAK_MACROS.contains(&name) {
                flush(&mut current);
                continue;
            }
            if !TEXT_MACROS.contains(&name) {
                continue;
            }
            rest.replace('"', " ")
        } else {
            line.to_string()
        };
        current.push(' ');
        current.push_str(&unescape(&text));
    }
    flush(&mut current);
    out
}

/// Removes roff escapes from one line of text (fonts, sizes, strings, specials, comments).
fn unescape(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    // Skips a name after an escape: `(xx`, `[name]` or one character; returns the name.
    let name = |i: &mut usize| -> String {
        match chars.get(*i) {
            Some('(') => {
                let n: String = chars.iter().skip(*i + 1).take(2).collect();
                *i += 3;
                n
            }
            Some('[') => {
                let n: String = chars
                    .iter()
                    .skip(*i + 1)
                    .take_while(|c| **c != ']')
                    .collect();
                *i += n.chars().count() + 2;
                n
            }
            Some(c) => {
                *i += 1;
                c.to_string()
            }
            None => String::new(),
        }
    };
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = chars.get(i) else { break };
        i += 1;
        match e {
            '"' | '#' => break,
            'f' | '*' | 'n' | 'F' | 'm' | 'g' | 'k' | 'V' | 'Y' => {
                name(&mut i);
            }
            's' => {
                if matches!(chars.get(i), Some('+' | '-')) {
                    i += 1;
                }
                while chars.get(i).is_some_and(char::is_ascii_digit) {
                    i += 1;
                }
            }
            '(' | '[' => {
                i -= 1;
                out.push_str(match name(&mut i).as_str() {
                    "em" | "en" | "hy" | "mi" => "-",
                    "aq" | "cq" | "oq" => "'",
                    "lq" | "rq" | "dq" => "\"",
                    "bu" => " ",
                    _ => "",
                });
            }
            '-' => out.push('-'),
            'e' | '\\' => out.push('\\'),
            ' ' | '~' | '0' | '|' | '^' => out.push(' '),
            '&' | 'c' | ')' | '%' | ':' | '/' | ',' => {}
            other => out.push(other),
        }
    }
    out
}

/// The query classes, in the table's order.
pub const CLASSES: [&str; 6] = ["term", "and", "or", "phrase", "prefix", "fuzzy"];

/// One query in its two parts: the words (for every system's own syntax) and its class.
#[derive(Debug, Clone)]
pub struct TextQuery {
    /// Index into [`CLASSES`].
    pub class: usize,
    /// The words: one (term, fuzzy: already misspelt; prefix: the prefix) or two.
    pub words: Vec<String>,
}

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The lowercased words of a paragraph in order, `None` where a token is not a query word
/// (not 3–20 ASCII letters, or an English stop word).
fn query_words(analyzer: &Analyzer, paragraph: &str) -> Vec<Option<String>> {
    paragraph
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(|t| {
            let w = t.to_ascii_lowercase();
            let ok = (3..=20).contains(&w.len())
                && w.bytes().all(|b| b.is_ascii_lowercase())
                && !analyzer.is_stop_word(&w);
            ok.then_some(w)
        })
        .collect()
}

/// `per_class` queries of each class drawn from `docs` (seed 7): see the module documentation
/// of `bench/text.rs`.
pub fn queries(docs: &[String], per_class: usize) -> Vec<TextQuery> {
    let analyzer = Analyzer::new(Language::English, None);
    let mut rng = Rng(7);
    let mut out = Vec::new();
    for (class, name) in CLASSES.iter().enumerate() {
        let mut made = 0;
        let mut tries = 0usize;
        while made < per_class && tries < per_class * 1_000 {
            tries += 1;
            let words = query_words(&analyzer, &docs[rng.below(docs.len())]);
            let eligible: Vec<&String> = words.iter().flatten().collect();
            if eligible.is_empty() {
                continue;
            }
            let pick = |rng: &mut Rng| eligible[rng.below(eligible.len())].clone();
            let chosen = match *name {
                "term" => vec![pick(&mut rng)],
                "and" => {
                    let (a, b) = (pick(&mut rng), pick(&mut rng));
                    if a == b {
                        continue;
                    }
                    vec![a, b]
                }
                "or" => {
                    let other = query_words(&analyzer, &docs[rng.below(docs.len())]);
                    let Some(b) = other.into_iter().flatten().next() else {
                        continue;
                    };
                    let a = pick(&mut rng);
                    if a == b {
                        continue;
                    }
                    vec![a, b]
                }
                "phrase" => {
                    let pairs: Vec<(String, String)> = words
                        .windows(2)
                        .filter_map(|w| Some((w[0].clone()?, w[1].clone()?)))
                        .filter(|(a, b)| a != b)
                        .collect();
                    if pairs.is_empty() {
                        continue;
                    }
                    let (a, b) = pairs[rng.below(pairs.len())].clone();
                    vec![a, b]
                }
                "prefix" => {
                    let w = pick(&mut rng);
                    if w.len() < 7 {
                        continue;
                    }
                    vec![w[..5].to_string()]
                }
                _ => {
                    let w = pick(&mut rng);
                    if w.len() < 6 {
                        continue;
                    }
                    // One letter after the first replaced by a different one: one edit.
                    let mut bytes = w.into_bytes();
                    let at = 1 + rng.below(bytes.len() - 1);
                    let old = bytes[at];
                    bytes[at] = b'a' + ((old - b'a' + 1 + rng.below(25) as u8) % 26);
                    vec![String::from_utf8_lossy(&bytes).into_owned()]
                }
            };
            out.push(TextQuery {
                class,
                words: chosen,
            });
            made += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roff_is_stripped_into_paragraphs() {
        let page = ".TH LS 1\n.SH NAME\nls \\- list directory contents\n.SH DESCRIPTION\n\
                    List information about the \\fBFILEs\\fR (the current directory by default).\n\
                    Sort entries alphabetically if none of \\fB\\-cftuvSUX\\fP nor\n.B \\-\\-sort\n\
                    is specified.\\\" a comment\n.PP\nshort one\n.TP\n\\(bu Mandatory \\(lqarguments\\(rq too.\n";
        let got = strip_roff(page);
        assert_eq!(
            got,
            vec![
                "List information about the FILEs (the current directory by default). Sort \
                 entries alphabetically if none of -cftuvSUX nor --sort is specified."
                    .to_string()
            ]
        );
        assert!(strip_roff(".so man1/other.1\n").is_empty());
    }

    #[test]
    fn queries_have_their_shapes() {
        let docs: Vec<String> = (0..50)
            .map(|i| format!("the hydrogen engine{i} burns oxygen quickly while rockets climb"))
            .collect();
        let qs = queries(&docs, 5);
        assert_eq!(qs.len(), 30);
        for q in &qs {
            let n = if matches!(CLASSES[q.class], "and" | "or" | "phrase") {
                2
            } else {
                1
            };
            assert_eq!(q.words.len(), n, "{q:?}");
            assert!(q.words.iter().all(|w| w != "the"));
        }
        let prefix = qs.iter().find(|q| CLASSES[q.class] == "prefix").unwrap();
        assert_eq!(prefix.words[0].len(), 5);
    }
}
