//! `cairn query | count | explain | aggregate`

use std::io::Write;

use anyhow::Context;
use cairn::query::{parse_sort, Projection};
use cairn::{Database, Filter, Query, Value};

/// Arguments of `cairn query`.
pub struct QueryArgs<'a> {
    /// Filter JSON.
    pub filter: &'a str,
    /// Sort JSON.
    pub sort: Option<&'a str>,
    /// Limit.
    pub limit: Option<usize>,
    /// Skip.
    pub skip: usize,
    /// Projection JSON.
    pub project: Option<&'a str>,
    /// Cursor to continue after.
    pub after: Option<&'a str>,
    /// Time travel: a commit sequence number or an RFC 3339 time.
    pub as_of: Option<&'a str>,
}

/// Parses JSON that may use query operators (`$gt`...), naming the argument on failure.
fn parse_expression(what: &str, text: &str) -> anyhow::Result<Value> {
    Value::from_json_expression(text).with_context(|| format!("{what} is not valid JSON"))
}

fn parse_filter(text: &str) -> anyhow::Result<Filter> {
    Ok(Filter::parse(&parse_expression("the filter", text)?)?)
}

fn build_query(args: &QueryArgs<'_>) -> anyhow::Result<Query> {
    let mut query = Query::new(parse_filter(args.filter)?);
    if let Some(sort) = args.sort {
        query.sort = parse_sort(&parse_expression("--sort", sort)?)?;
    }
    if let Some(project) = args.project {
        query.projection = Some(Projection::parse(&parse_expression("--project", project)?)?);
    }
    query.limit = args.limit;
    query.skip = args.skip;
    query.after = args.after.map(str::to_string);
    Ok(query)
}

/// Prints matching documents as JSON lines; with no `--limit`, pages through every match.
pub fn find(db: &Database, collection: &str, args: &QueryArgs<'_>) -> anyhow::Result<()> {
    let mut query = build_query(args)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if let Some(point) = args.as_of {
        // One answer, no cursor: the reconstruction is a scan of that moment.
        let page = cairn::find_as_of(db, collection, &query, cairn::AsOf::parse(point)?)?;
        for doc in &page.documents {
            writeln!(out, "{}", doc.to_json_string())?;
        }
        return Ok(());
    }
    loop {
        let page = cairn::find(db, collection, &query)?;
        for doc in &page.documents {
            writeln!(out, "{}", doc.to_json_string())?;
        }
        match (page.cursor, args.limit) {
            (Some(cursor), None) => {
                query.after = Some(cursor);
                query.skip = 0;
            }
            (Some(cursor), Some(_)) => {
                out.flush()?;
                eprintln!("more results: continue with --after {cursor}");
                break;
            }
            (None, _) => break,
        }
    }
    Ok(())
}

/// Prints the number of matching documents.
pub fn count(
    db: &Database,
    collection: &str,
    filter: &str,
    as_of: Option<&str>,
) -> anyhow::Result<()> {
    let filter = parse_filter(filter)?;
    let n = match as_of {
        Some(point) => cairn::count_as_of(db, collection, &filter, cairn::AsOf::parse(point)?)?,
        None => cairn::count(db, collection, &filter)?,
    };
    println!("{n}");
    Ok(())
}

/// Prints the plan choice as JSON.
pub fn explain(
    db: &Database,
    collection: &str,
    filter: &str,
    sort: Option<&str>,
    limit: Option<usize>,
) -> anyhow::Result<()> {
    let query = build_query(&QueryArgs {
        filter,
        sort,
        limit,
        skip: 0,
        project: None,
        after: None,
        as_of: None,
    })?;
    let explained = cairn::explain(db, collection, &query)?;
    println!("{}", explained.to_value().to_json_string());
    Ok(())
}

/// Runs a pipeline and prints its output documents as JSON lines.
pub fn aggregate(
    db: &Database,
    collection: &str,
    pipeline: &str,
    explain: bool,
) -> anyhow::Result<()> {
    let pipeline = parse_expression("the pipeline", pipeline)?;
    if explain {
        let explained = cairn::query::Pipeline::parse(&pipeline)?.explain(db, collection)?;
        println!("{}", explained.to_value().to_json_string());
        return Ok(());
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for doc in cairn::aggregate(db, collection, &pipeline)? {
        writeln!(out, "{}", doc.to_json_string())?;
    }
    Ok(())
}
