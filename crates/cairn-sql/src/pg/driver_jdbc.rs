//! PostgreSQL's JDBC driver's `DatabaseMetaData.getTables` and `getColumns` queries,
//! answered from [`PgCatalog`] (recognised in [`super::driver_queries`]).
//!
//! pgjdbc writes its filters inline: `c.relname LIKE 'pattern'`, `n.nspname LIKE …`,
//! `a.attname LIKE …`, and for `getTables` with types one `( c.relkind = 'r' AND … )` clause
//! per type asked for. Tables are `TABLE`s and their indexes `INDEX`es of schema `public`;
//! nothing is a system table (Cairn's system collections are not tables).

use super::driver_queries::{value_after, Cell};
use super::pg_catalog::{pg_type_row, PgCatalog};
use crate::catalog::SCHEMA;

type Rows = Vec<Vec<Cell>>;

/// The clause pgjdbc adds to ask for user tables, and the one for user indexes.
const TABLE_CLAUSE: &str = "c.relkind = 'r' and n.nspname !~ '^pg_'";
const INDEX_CLAUSE: &str = "c.relkind = 'i' and n.nspname !~ '^pg_'";

/// Whether `value` passes the `LIKE` pattern after `marker` (no pattern: everything).
fn like_filter(sql: &str, marker: &str, value: &str) -> bool {
    value_after(sql, marker, &[]).is_none_or(|pattern| like(&pattern, value))
}

/// `getTables`: `TABLE_CAT` … `REF_GENERATION`, ordered by type, schema and name.
pub fn tables(catalog: &PgCatalog, sql: &str) -> Rows {
    let lower = sql.to_ascii_lowercase();
    let typed = lower.contains(" and (false ");
    let want_tables = !typed || lower.contains(TABLE_CLAUSE);
    let want_indexes = !typed || lower.contains(INDEX_CLAUSE);
    if !like_filter(sql, "n.nspname like ", SCHEMA) {
        return Vec::new();
    }
    let mut found: Vec<(&str, &str)> = Vec::new();
    for table in &catalog.tables {
        if want_tables {
            found.push(("TABLE", &table.name));
        }
        if want_indexes {
            found.extend(table.indexes.iter().map(|i| ("INDEX", i.name.as_str())));
        }
    }
    found.retain(|(_, name)| like_filter(sql, "c.relname like ", name));
    found.sort();
    found
        .into_iter()
        .map(|(kind, name)| {
            let mut row = vec![
                Cell::Null,
                Cell::Text(SCHEMA.into()),
                Cell::Text(name.into()),
                Cell::Text(kind.into()),
                Cell::Null,
            ];
            row.extend(std::iter::repeat_n(Cell::Text(String::new()), 5));
            row
        })
        .collect()
}

/// `getColumns`: one row per column, ordered by schema, table and position.
pub fn columns(catalog: &PgCatalog, sql: &str) -> Rows {
    if !like_filter(sql, "n.nspname like ", SCHEMA) {
        return Vec::new();
    }
    let mut rows = Vec::new();
    let mut tables: Vec<_> = catalog
        .tables
        .iter()
        .filter(|t| like_filter(sql, "c.relname like ", &t.name))
        .collect();
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    for table in tables {
        for column in &table.columns {
            if !like_filter(sql, "a.attname like ", &column.name) {
                continue;
            }
            let ty = pg_type_row(&column.ty);
            rows.push(vec![
                Cell::Text(SCHEMA.into()),
                Cell::Text(table.name.clone()),
                Cell::Text(column.name.clone()),
                Cell::Oid(ty.oid),
                Cell::Bool(column.not_null),
                Cell::Int4(-1),
                Cell::Int2(ty.len),
                Cell::Int4(-1),
                Cell::Int8(i64::from(column.attnum)),
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Oid(0),
                Cell::Text("b".into()),
            ]);
        }
    }
    rows
}

/// SQL `LIKE`: `%` any run, `_` one character, `\` escapes the next.
pub fn like(pattern: &str, value: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let value: Vec<char> = value.chars().collect();
    // matched[j]: whether the pattern so far matches value[..j].
    let mut matched = vec![false; value.len() + 1];
    matched[0] = true;
    let mut i = 0;
    while i < pattern.len() {
        let (token, width) = match (pattern[i], pattern.get(i + 1)) {
            ('\\', Some(next)) => (Some(*next), 2),
            ('%', _) => (None, 1),
            ('_', _) => (Some('\0'), 1),
            (c, _) => (Some(c), 1),
        };
        let escaped = width == 2;
        let mut next = vec![false; value.len() + 1];
        match token {
            None => {
                let mut any = false;
                for j in 0..=value.len() {
                    any |= matched[j];
                    next[j] = any;
                }
            }
            Some(c) => {
                for j in 1..=value.len() {
                    let one = c == '\0' && !escaped;
                    next[j] = matched[j - 1] && (one || value[j - 1] == c);
                }
            }
        }
        matched = next;
        i += width;
    }
    matched[value.len()]
}

#[cfg(test)]
mod tests {
    use super::like;

    #[test]
    fn like_matches_as_sql_does() {
        assert!(like("jdbc_%", "jdbc_items"));
        assert!(like("jdbc\\_items", "jdbc_items"));
        assert!(!like("jdbc\\_items", "jdbcxitems"));
        assert!(like("j_bc%", "jdbc"));
        assert!(like("%", ""));
        assert!(!like("items", "items2"));
        assert!(like("%s", "items"));
    }
}
