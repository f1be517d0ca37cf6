//! The database as PostgreSQL's system catalogs see it: `pg_class`, `pg_attribute`,
//! `pg_index` and `pg_type` rows derived from Cairn's catalog, read-only, for the catalog
//! queries of psql ([`super::meta`]) and of drivers ([`super::driver_queries`]).
//!
//! Oids: a table's is `FIRST_TABLE_OID` + its position among the tables in name order (what
//! psql's `\d` uses too); index oids follow the last table's, table by table, each table's
//! primary key (`{table}_pkey` on `_id`: the document id is every collection's key) first,
//! then its Cairn indexes in the order Cairn lists them. So an oid is stable while no table
//! is created or dropped, as a driver needs between its introspection queries.

use cairn::Database;
use pgwire::api::Type;

use crate::catalog::{shape_of, table_names};
use crate::error::Result;
use crate::types::{Column, ID_COLUMN};

/// The oid of the first table (PostgreSQL's first user oid).
pub const FIRST_TABLE_OID: u32 = 16384;
/// The oid of the `public` namespace (PostgreSQL's).
pub const PUBLIC_NAMESPACE_OID: u32 = 2200;
/// `pg_am` rows: the access methods Cairn's indexes are (PostgreSQL's oids).
pub const ACCESS_METHODS: [(u32, &str); 2] = [(403, "btree"), (405, "hash")];

/// One table (`pg_class` row of kind `r`) with its columns and indexes.
#[derive(Debug, Clone)]
pub struct PgTable {
    /// `pg_class.oid`.
    pub oid: u32,
    /// The collection's name.
    pub name: String,
    /// `pg_attribute` rows, `attnum` from 1 in column order.
    pub columns: Vec<PgColumn>,
    /// `pg_index` rows: the primary key first.
    pub indexes: Vec<PgIndex>,
}

/// One column (`pg_attribute` row).
#[derive(Debug, Clone)]
pub struct PgColumn {
    /// `attnum`.
    pub attnum: i16,
    /// `attname`.
    pub name: String,
    /// The column's type as result rows carry it.
    pub ty: Type,
    /// `attnotnull`.
    pub not_null: bool,
}

/// One index (`pg_index` joined with its `pg_class` row).
#[derive(Debug, Clone)]
pub struct PgIndex {
    /// `indexrelid`.
    pub oid: u32,
    /// The index's name.
    pub name: String,
    /// `indisunique`.
    pub unique: bool,
    /// `indisprimary` (the `_id` key).
    pub primary: bool,
    /// `relam`: an oid of [`ACCESS_METHODS`].
    pub access_method: u32,
    /// Per key: the column's `attnum`, or 0 for a nested path (an expression to PostgreSQL).
    pub attnums: Vec<i16>,
    /// Per key: the column name, or the path as text.
    pub keys: Vec<String>,
}

/// The catalog of every table a session may see.
#[derive(Debug, Clone, Default)]
pub struct PgCatalog {
    /// Tables in name order.
    pub tables: Vec<PgTable>,
}

impl PgCatalog {
    /// Tables only (no columns or indexes): enough for listing names and oids.
    pub fn names(db: &Database) -> Result<PgCatalog> {
        let mut names = table_names(db)?;
        names.sort();
        Ok(PgCatalog {
            tables: names
                .into_iter()
                .enumerate()
                .map(|(i, name)| PgTable {
                    oid: table_oid(i),
                    name,
                    columns: Vec::new(),
                    indexes: Vec::new(),
                })
                .collect(),
        })
    }

    /// Tables with their columns and indexes.
    pub fn load(db: &Database) -> Result<PgCatalog> {
        let mut catalog = PgCatalog::names(db)?;
        let mut next_index_oid = table_oid(catalog.tables.len());
        for table in &mut catalog.tables {
            let shape = shape_of(db, &table.name)?;
            table.columns = shape
                .columns
                .iter()
                .enumerate()
                .map(|(i, column)| PgColumn::of(i, column))
                .collect();
            let mut indexes = vec![PgIndex {
                oid: next_index_oid,
                name: format!("{}_pkey", table.name),
                unique: true,
                primary: true,
                access_method: ACCESS_METHODS[0].0,
                attnums: vec![1],
                keys: vec![ID_COLUMN.to_string()],
            }];
            next_index_oid += 1;
            for info in cairn::list_indexes(db, &table.name)? {
                let keys: Vec<String> = info.spec.fields.iter().map(|f| f.to_string()).collect();
                let attnums = keys
                    .iter()
                    .map(|k| table.column(k).map_or(0, |c| c.attnum))
                    .collect();
                let access_method = match info.spec.kind {
                    cairn::IndexKind::Hash => ACCESS_METHODS[1].0,
                    _ => ACCESS_METHODS[0].0,
                };
                indexes.push(PgIndex {
                    oid: next_index_oid,
                    name: info.spec.name.clone(),
                    unique: info.spec.unique,
                    primary: false,
                    access_method,
                    attnums,
                    keys,
                });
                next_index_oid += 1;
            }
            table.indexes = indexes;
        }
        Ok(catalog)
    }

    /// The table named `name`.
    pub fn table(&self, name: &str) -> Option<&PgTable> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// The table whose oid is `oid`.
    pub fn table_by_oid(&self, oid: u32) -> Option<&PgTable> {
        self.tables.iter().find(|t| t.oid == oid)
    }
}

impl PgTable {
    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&PgColumn> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// The oid of the table at `position` in name order.
pub fn table_oid(position: usize) -> u32 {
    FIRST_TABLE_OID.saturating_add(u32::try_from(position).unwrap_or(u32::MAX))
}

impl PgColumn {
    /// The column at `position` (from 0) of a table's shape.
    pub fn of(position: usize, column: &Column) -> PgColumn {
        PgColumn {
            attnum: i16::try_from(position + 1).unwrap_or(i16::MAX),
            name: column.name.clone(),
            ty: super::encode::pg_type(&column.ty.arrow_type()),
            // `_id` is every table's primary key.
            not_null: column.required || column.name == ID_COLUMN,
        }
    }
}

/// A `pg_type` row: name, oid, array type oid, the SQL name `format_type` gives, `typlen`.
#[derive(Debug, Clone, Copy)]
pub struct PgType {
    /// `typname`.
    pub name: &'static str,
    /// `oid`.
    pub oid: u32,
    /// `typarray`.
    pub array_oid: u32,
    /// `format_type(oid, -1)`, also the `regtype` text.
    pub sql_name: &'static str,
    /// `typlen` (-1: variable).
    pub len: i16,
}

/// The types Cairn's columns have (the ones `encode::pg_type` gives).
pub const TYPES: [PgType; 10] = [
    PgType {
        name: "bool",
        oid: 16,
        array_oid: 1000,
        sql_name: "boolean",
        len: 1,
    },
    PgType {
        name: "bytea",
        oid: 17,
        array_oid: 1001,
        sql_name: "bytea",
        len: -1,
    },
    PgType {
        name: "int8",
        oid: 20,
        array_oid: 1016,
        sql_name: "bigint",
        len: 8,
    },
    PgType {
        name: "int2",
        oid: 21,
        array_oid: 1005,
        sql_name: "smallint",
        len: 2,
    },
    PgType {
        name: "int4",
        oid: 23,
        array_oid: 1007,
        sql_name: "integer",
        len: 4,
    },
    PgType {
        name: "text",
        oid: 25,
        array_oid: 1009,
        sql_name: "text",
        len: -1,
    },
    PgType {
        name: "json",
        oid: 114,
        array_oid: 199,
        sql_name: "json",
        len: -1,
    },
    PgType {
        name: "float4",
        oid: 700,
        array_oid: 1021,
        sql_name: "real",
        len: 4,
    },
    PgType {
        name: "float8",
        oid: 701,
        array_oid: 1022,
        sql_name: "double precision",
        len: 8,
    },
    PgType {
        name: "timestamptz",
        oid: 1184,
        array_oid: 1185,
        sql_name: "timestamp with time zone",
        len: 8,
    },
];

/// The `pg_type` row of `ty` (text's for a type Cairn's columns never have).
pub fn pg_type_row(ty: &Type) -> PgType {
    TYPES
        .iter()
        .find(|t| t.oid == ty.oid())
        .copied()
        .unwrap_or(TYPES[5])
}

/// The `pg_type` row named `name` (its `typname` or its SQL name).
pub fn pg_type_named(name: &str) -> Option<PgType> {
    let name = name.trim().to_ascii_lowercase();
    TYPES
        .iter()
        .find(|t| t.name == name || t.sql_name == name)
        .copied()
}
