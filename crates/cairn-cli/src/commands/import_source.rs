//! The documents of an import file, one at a time with the line each starts on: JSON lines, or
//! one JSON array of documents (what `mongoexport --jsonArray` writes), told apart by the first
//! non-blank byte.
//!
//! An array is split element by element without parsing it whole, so a file of any size is
//! read in memory bounded by its largest element ([`MAX_IMPORT_ELEMENT_BYTES`]).

use std::io::BufRead;

use crate::limits::MAX_IMPORT_ELEMENT_BYTES;
use anyhow::{bail, Context};

/// One record of an import file in any format, ready to commit or reject.
pub struct ImportRecord {
    /// The line it starts on (1-based).
    pub line: usize,
    /// Its text, for a rejects file.
    pub text: String,
    /// The document, or why the record is not one.
    pub doc: Result<cairn::Value, String>,
}

/// One document's text and where it starts.
#[derive(Debug, PartialEq, Eq)]
pub struct Item {
    /// 1-based line the text starts on.
    pub line: usize,
    /// The JSON text.
    pub text: String,
}

/// Reads documents from JSON lines or a JSON array.
pub struct ImportSource<R> {
    reader: R,
    /// The line the reader is at (1-based).
    line: usize,
    /// `None` until the first byte is seen; then whether the input is an array.
    array: Option<bool>,
    /// An array's closing bracket was read.
    finished: bool,
    /// Bytes consumed so far (for the progress bar).
    consumed: u64,
}

impl<R: BufRead> ImportSource<R> {
    /// A source over `reader`.
    pub fn new(reader: R) -> ImportSource<R> {
        ImportSource {
            reader,
            line: 1,
            array: None,
            finished: false,
            consumed: 0,
        }
    }

    /// Bytes read so far.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// The next document, or `None` at the end of the input.
    pub fn next_item(&mut self) -> anyhow::Result<Option<Item>> {
        if self.array.is_none() {
            self.skip_blanks()?;
            let first = self.peek()?;
            self.array = Some(first == Some(b'['));
            if first == Some(b'[') {
                self.advance(1);
            }
        }
        if self.array == Some(true) {
            self.next_element()
        } else {
            self.next_line()
        }
    }

    fn next_line(&mut self) -> anyhow::Result<Option<Item>> {
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let line = self.line;
            let read = std::io::Read::take(&mut self.reader, MAX_IMPORT_ELEMENT_BYTES as u64 + 1)
                .read_until(b'\n', &mut buf)
                .with_context(|| format!("reading line {line}"))?;
            if read == 0 {
                return Ok(None);
            }
            if buf.len() > MAX_IMPORT_ELEMENT_BYTES {
                bail!("line {line} is longer than {MAX_IMPORT_ELEMENT_BYTES} bytes");
            }
            self.consumed += read as u64;
            self.line += 1;
            let text = String::from_utf8(std::mem::take(&mut buf))
                .map_err(|_| anyhow::anyhow!("line {line} is not UTF-8"))?;
            if !text.trim().is_empty() {
                return Ok(Some(Item {
                    line,
                    text: text.trim_end().to_string(),
                }));
            }
        }
    }

    fn next_element(&mut self) -> anyhow::Result<Option<Item>> {
        if self.finished {
            self.skip_blanks()?;
            if self.peek()?.is_some() {
                bail!(
                    "line {}: text after the closing `]` of the array",
                    self.line
                );
            }
            return Ok(None);
        }
        self.skip_blanks()?;
        let start_line = self.line;
        let mut text = Vec::new();
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        loop {
            let Some(byte) = self.peek()? else {
                bail!("line {}: the array is not closed (end of file)", self.line);
            };
            self.advance(1);
            if in_string {
                match (escaped, byte) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => in_string = false,
                    _ => {}
                }
            } else {
                match byte {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' if depth > 0 => depth -= 1,
                    b']' => {
                        self.finished = true;
                        return self.element(start_line, text, true);
                    }
                    b',' if depth == 0 => return self.element(start_line, text, false),
                    _ => {}
                }
            }
            if text.len() == MAX_IMPORT_ELEMENT_BYTES {
                bail!("line {start_line}: an element longer than {MAX_IMPORT_ELEMENT_BYTES} bytes");
            }
            text.push(byte);
        }
    }

    /// Finishes an element; an empty one is only allowed as the whole of `[]`.
    fn element(
        &mut self,
        line: usize,
        text: Vec<u8>,
        closing: bool,
    ) -> anyhow::Result<Option<Item>> {
        let text = String::from_utf8(text)
            .map_err(|_| anyhow::anyhow!("line {line}: the element is not UTF-8"))?;
        let text = text.trim().to_string();
        if text.is_empty() {
            if closing {
                return self.next_element();
            }
            bail!("line {line}: an empty array element");
        }
        Ok(Some(Item { line, text }))
    }

    fn peek(&mut self) -> anyhow::Result<Option<u8>> {
        let line = self.line;
        let buf = self
            .reader
            .fill_buf()
            .with_context(|| format!("reading line {line}"))?;
        Ok(buf.first().copied())
    }

    fn advance(&mut self, bytes: usize) {
        if let Ok(buf) = self.reader.fill_buf() {
            self.line += buf[..bytes.min(buf.len())]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
        }
        self.reader.consume(bytes);
        self.consumed += bytes as u64;
    }

    fn skip_blanks(&mut self) -> anyhow::Result<()> {
        while let Some(byte) = self.peek()? {
            if !byte.is_ascii_whitespace() {
                break;
            }
            self.advance(1);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(input: &str) -> anyhow::Result<Vec<(usize, String)>> {
        let mut source = ImportSource::new(std::io::BufReader::with_capacity(3, input.as_bytes()));
        let mut out = Vec::new();
        while let Some(item) = source.next_item()? {
            out.push((item.line, item.text));
        }
        Ok(out)
    }

    #[test]
    fn json_lines_skip_blank_lines_and_keep_line_numbers() {
        let got = items("{\"a\":1}\n\n  \n{\"b\":\"x\"}\r\n").unwrap();
        assert_eq!(
            got,
            vec![
                (1, "{\"a\":1}".to_string()),
                (4, "{\"b\":\"x\"}".to_string())
            ]
        );
    }

    #[test]
    fn arrays_split_into_elements_with_brackets_and_commas_inside_strings() {
        let input = "\n[ {\"a\": [1, {\"b\": \"],}\\\"\"}]},\n  {\"c\": 2}\n,{}]\n";
        let got = items(input).unwrap();
        assert_eq!(
            got,
            vec![
                (2, "{\"a\": [1, {\"b\": \"],}\\\"\"}]}".to_string()),
                (3, "{\"c\": 2}".to_string()),
                (4, "{}".to_string()),
            ]
        );
        assert_eq!(items("[]").unwrap(), vec![]);
        assert_eq!(items("  [ \n ] ").unwrap(), vec![]);
    }

    #[test]
    fn broken_arrays_say_where() {
        let err = items("[{\"a\":1},\n{\"b\":").unwrap_err().to_string();
        assert!(err.contains("not closed"), "{err}");
        let err = items("[{\"a\":1},,{}]").unwrap_err().to_string();
        assert!(err.contains("empty array element"), "{err}");
        let err = items("[{}] {}").unwrap_err().to_string();
        assert!(err.contains("after the closing"), "{err}");
    }
}
