//! CSV in and out of a collection.
//!
//! Import: the first row names the fields; a dotted name (`ward.floor`) builds a nested object
//! (field names cannot contain dots, so the inverse of export is exact). Each cell is typed
//! unless `--no-infer`: empty → the field is left out; `true`/`false` → bool; a decimal integer
//! without a leading zero that fits in 64 bits → int (`007` stays text: zip codes, codes);
//! a finite number with a point or exponent → float; anything else → string. A cell holding a
//! JSON object or array (`{…}`, `[…]`, what export writes for them) is read as that value.
//!
//! Export: one column per scalar path (nested objects flattened to `a.b`), in the order first
//! seen, over one snapshot read twice (columns, then rows), so memory does not grow with the
//! collection. Arrays, vectors and geometry are written as their JSON text, dates as RFC 3339,
//! UUIDs hyphenated, bytes as base64. CSV has no types: a string that looks like a number comes
//! back as a number (use JSON lines or Parquet to keep types exactly).

use std::io::Write;

use anyhow::{bail, Context};
use base64::Engine as _;
use cairn::{Database, Object, Value};

use super::import_source::ImportRecord;
use crate::limits::MAX_CSV_COLUMNS;

/// How to read cells.
#[derive(Debug, Clone, Copy)]
pub struct CsvOptions {
    /// Field separator (`,` by default).
    pub delimiter: u8,
    /// Type the cells (else every cell is a string).
    pub infer: bool,
}

/// Reads documents from CSV.
pub struct CsvSource<R: std::io::Read> {
    reader: csv::Reader<R>,
    headers: Vec<Vec<String>>,
    options: CsvOptions,
    record: csv::StringRecord,
}

impl<R: std::io::Read> CsvSource<R> {
    /// A source over `input`, reading its header row now.
    pub fn new(input: R, options: CsvOptions) -> anyhow::Result<CsvSource<R>> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(options.delimiter)
            .flexible(true)
            .from_reader(input);
        let header = reader.headers().context("reading the header row")?.clone();
        if header.len() > MAX_CSV_COLUMNS {
            bail!("{} columns; at most {MAX_CSV_COLUMNS}", header.len());
        }
        let mut headers = Vec::with_capacity(header.len());
        for (index, name) in header.iter().enumerate() {
            let path: Vec<String> = name.split('.').map(str::to_string).collect();
            if path.iter().any(String::is_empty) || name.starts_with('$') {
                bail!(
                    "header column {}: {name:?} is not a field name or path",
                    index + 1
                );
            }
            headers.push(path);
        }
        Ok(CsvSource {
            reader,
            headers,
            options,
            record: csv::StringRecord::new(),
        })
    }

    /// Bytes read so far.
    pub fn consumed(&self) -> u64 {
        self.reader.position().byte()
    }

    /// The next record, or `None` at the end.
    pub fn next_record(&mut self) -> anyhow::Result<Option<ImportRecord>> {
        let line = usize::try_from(self.reader.position().line()).unwrap_or(usize::MAX);
        if !self
            .reader
            .read_record(&mut self.record)
            .with_context(|| format!("line {line}: not valid CSV"))?
        {
            return Ok(None);
        }
        let line = self
            .record
            .position()
            .map_or(line, |p| usize::try_from(p.line()).unwrap_or(usize::MAX));
        let mut text = Vec::new();
        {
            let mut writer = csv::WriterBuilder::new()
                .delimiter(self.options.delimiter)
                .terminator(csv::Terminator::Any(b' '))
                .from_writer(&mut text);
            writer.write_record(&self.record)?;
            writer.flush()?;
        }
        let text = String::from_utf8_lossy(&text).trim_end().to_string();
        Ok(Some(ImportRecord {
            line,
            text,
            doc: self.document(),
        }))
    }

    fn document(&self) -> Result<Value, String> {
        if self.record.len() != self.headers.len() {
            return Err(format!(
                "{} fields, but the header names {}",
                self.record.len(),
                self.headers.len()
            ));
        }
        let mut doc = Object::new();
        for (path, cell) in self.headers.iter().zip(self.record.iter()) {
            let value = if self.options.infer {
                match infer(cell)? {
                    Some(value) => value,
                    None => continue,
                }
            } else {
                Value::String(cell.to_string())
            };
            put_path(&mut doc, path, value)
                .map_err(|reason| format!("column {path:?}: {reason}"))?;
        }
        Ok(Value::Object(doc))
    }
}

/// The typed value of one cell; `None` for an empty cell.
fn infer(cell: &str) -> Result<Option<Value>, String> {
    if cell.is_empty() {
        return Ok(None);
    }
    if cell == "true" || cell == "false" {
        return Ok(Some(Value::Bool(cell == "true")));
    }
    if cell.starts_with('{') || cell.starts_with('[') {
        if let Ok(value) = Value::from_json_str(cell) {
            return Ok(Some(value));
        }
    }
    let digits = cell.strip_prefix('-').unwrap_or(cell);
    let leading_zero = digits.len() > 1 && digits.starts_with('0');
    if !leading_zero && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(int) = cell.parse::<i64>() {
            return Ok(Some(Value::Int(int)));
        }
    }
    let numeric = cell
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    if numeric && !leading_zero {
        if let Ok(float) = cell.parse::<f64>() {
            if float.is_finite() {
                return Ok(Some(Value::Float(float)));
            }
        }
    }
    Ok(Some(Value::String(cell.to_string())))
}

fn put_path(doc: &mut Object, path: &[String], value: Value) -> Result<(), String> {
    match path {
        [] => Ok(()),
        [last] => {
            if doc.contains_key(last) {
                return Err(format!("`{last}` is given twice"));
            }
            doc.insert(last.as_str(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            if !doc.contains_key(first) {
                doc.insert(first.as_str(), Object::new());
            }
            match doc.get_mut(first) {
                Some(Value::Object(inner)) => put_path(inner, rest, value),
                _ => Err(format!("`{first}` is both a value and an object")),
            }
        }
    }
}

/// Writes the collection as CSV with a header row.
pub fn export(
    db: &Database,
    collection: &str,
    out: &mut dyn Write,
    delimiter: u8,
) -> anyhow::Result<u64> {
    let mut txn = db.read()?;
    let mut columns: Vec<String> = Vec::new();
    let mut known = std::collections::HashSet::new();
    let mut too_wide = false;
    txn.for_each(collection, |_, doc| {
        let mut paths = Vec::new();
        if let Value::Object(object) = doc {
            scalar_paths(object, "", &mut paths);
        }
        for path in paths {
            if known.insert(path.clone()) {
                columns.push(path);
            }
        }
        too_wide = columns.len() > MAX_CSV_COLUMNS;
        !too_wide
    })?;
    if too_wide {
        bail!("the documents have over {MAX_CSV_COLUMNS} distinct fields: too wide for CSV (use JSON lines or Parquet)");
    }
    let mut writer = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .from_writer(out);
    writer.write_record(&columns)?;
    let mut count = 0u64;
    let mut row: Vec<String> = Vec::with_capacity(columns.len());
    txn.try_for_each(collection, |_, doc| -> anyhow::Result<bool> {
        row.clear();
        for column in &columns {
            row.push(cell_text(lookup(doc, column)));
        }
        count += 1;
        writer.write_record(&row).context("writing the export")?;
        Ok(true)
    })?;
    writer.flush().context("writing the export")?;
    Ok(count)
}

/// The dotted paths of `object`'s values that are not objects (objects are flattened).
fn scalar_paths(object: &Object, prefix: &str, out: &mut Vec<String>) {
    for (key, value) in object.iter() {
        let path = if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Value::Object(inner) if !inner.is_empty() => scalar_paths(inner, &path, out),
            _ => out.push(path),
        }
    }
}

fn lookup<'v>(doc: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(doc, |value, key| match value {
        Value::Object(object) => object.get(key),
        _ => None,
    })
}

fn cell_text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Int(i)) => i.to_string(),
        Some(Value::Float(f)) => format!("{f:?}"),
        Some(Value::DateTime(d)) => d.to_rfc3339().unwrap_or_else(|_| d.micros().to_string()),
        Some(Value::Uuid(u)) => u.hyphenated().to_string(),
        Some(Value::Bytes(b)) => base64::engine::general_purpose::STANDARD.encode(b),
        Some(other) => other.to_json_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, infer: bool) -> Vec<Result<Value, String>> {
        let options = CsvOptions {
            delimiter: b',',
            infer,
        };
        let mut source = CsvSource::new(text.as_bytes(), options).unwrap();
        let mut out = Vec::new();
        while let Some(record) = source.next_record().unwrap() {
            out.push(record.doc);
        }
        out
    }

    #[test]
    fn cells_are_typed_and_dotted_headers_nest() {
        let docs = read(
            "_id,name,zip,age,score,ok,ward.floor,tags\n1,\"Ada, L.\",007,36,2.5,true,3,\"[1,2]\"\n2,,12,-4,1e3,false,,\n",
            true,
        );
        assert_eq!(
            docs[0].as_ref().unwrap(),
            &Value::from_json_str(
                r#"{"_id":1,"name":"Ada, L.","zip":"007","age":36,"score":2.5,"ok":true,"ward":{"floor":3},"tags":[1,2]}"#
            )
            .unwrap()
        );
        assert_eq!(
            docs[1].as_ref().unwrap(),
            &Value::from_json_str(r#"{"_id":2,"zip":12,"age":-4,"score":1000.0,"ok":false}"#)
                .unwrap()
        );
        let strings = read("a,b\n1,x\n", false);
        assert_eq!(
            strings[0].as_ref().unwrap(),
            &Value::from_json_str(r#"{"a":"1","b":"x"}"#).unwrap()
        );
    }

    #[test]
    fn ragged_rows_and_clashing_headers_are_refused_per_record() {
        let docs = read("a,b\n1\n2,3\n", true);
        assert!(docs[0].as_ref().unwrap_err().contains("header names 2"));
        assert!(docs[1].is_ok());
        let docs = read("a,a.b\n1,2\n", true);
        assert!(docs[0].is_err());
        assert!(CsvSource::new(
            "a,,b\n".as_bytes(),
            CsvOptions {
                delimiter: b',',
                infer: true
            }
        )
        .is_err());
    }

    #[test]
    fn export_flattens_objects_and_reads_back() {
        let db = cairn::open_in_memory().unwrap();
        db.create_collection("c").unwrap();
        for text in [
            r#"{"_id":1,"name":"Ada","ward":{"floor":3},"tags":["a","b"]}"#,
            r#"{"_id":2,"extra":true}"#,
        ] {
            db.insert("c", Value::from_json_str(text).unwrap()).unwrap();
        }
        let mut out = Vec::new();
        assert_eq!(export(&db, "c", &mut out, b',').unwrap(), 2);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "_id,name,ward.floor,tags,extra\n1,Ada,3,\"[\"\"a\"\",\"\"b\"\"]\",\n2,,,,true\n"
        );
        let back = read(&text, true);
        assert_eq!(
            back[0].as_ref().unwrap(),
            &Value::from_json_str(r#"{"_id":1,"name":"Ada","ward":{"floor":3},"tags":["a","b"]}"#)
                .unwrap()
        );
    }
}
