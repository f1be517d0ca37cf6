//! Cairn in the SQL benchmark: a persistent database with declared tables and B-tree
//! indexes, served by the PostgreSQL wire server (`cairn_sql::pg`) on a loopback port, driven
//! by the `postgres` client like PostgreSQL.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use cairn::{Config, Object, StorageMode, Value};
use cairn_sql::pg::{PgConfig, PgServer, PgUsers};
use cairn_sql::Authorizer;
use cairn_sql::SqlSession;
use postgres::{Client, NoTls, Statement};

use super::{rounded, Answer, Data, Probe, SqlSystem, LOAD_BATCH, PRICE_RANGE};

/// The benchmark's one SQL user and its password.
const USER: &str = "bench";

/// The one user, allowed everything.
#[derive(Debug)]
struct BenchUsers {
    verifier: String,
}

#[derive(Debug)]
struct AllowAll;

impl Authorizer for AllowAll {
    fn allowed(&self, _collection: &str, _write: bool) -> bool {
        true
    }
}

impl PgUsers for BenchUsers {
    fn scram_verifier(&self, user: &str) -> Result<Option<String>, String> {
        Ok((user == USER).then(|| self.verifier.clone()))
    }

    fn authorizer(&self, _user: &str) -> Result<Arc<dyn Authorizer>, String> {
        Ok(Arc::new(AllowAll))
    }
}

pub struct CairnSide {
    // Dropped first: the client closes its connection before the server stops.
    client: Client,
    statements: Vec<Statement>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    // Never read: held so the server task keeps running until the side is dropped.
    _runtime: tokio::runtime::Runtime,
}

const DDL: [&str; 6] = [
    "CREATE TABLE docs (account BIGINT NOT NULL, price DOUBLE NOT NULL, category TEXT NOT NULL, score DOUBLE NOT NULL)",
    "CREATE TABLE accounts (account BIGINT NOT NULL, region TEXT NOT NULL)",
    "CREATE INDEX docs_account ON docs (account)",
    "CREATE INDEX docs_price ON docs (price)",
    "CREATE INDEX docs_score ON docs (score)",
    "CREATE INDEX accounts_account ON accounts (account)",
];

/// The queries, shared with PostgreSQL's side (which has the same column names).
pub(crate) const QUERIES: [&str; 5] = [
    "SELECT _id, account, price, category, score FROM docs WHERE _id = $1",
    "SELECT _id, price FROM docs WHERE account = $1",
    "SELECT category, count(*), avg(price) FROM docs WHERE price >= $1 AND price < $2 GROUP BY category",
    "SELECT a.region, count(*), sum(d.price) FROM docs d JOIN accounts a ON d.account = a.account \
     WHERE d.price >= $1 AND d.price < $2 GROUP BY a.region",
    "SELECT score FROM docs ORDER BY score LIMIT 10",
];

impl CairnSide {
    pub fn create(dir: &Path, data: &Data) -> anyhow::Result<CairnSide> {
        let db = cairn::open(Config::new(dir, StorageMode::Persistent))
            .with_context(|| format!("opening {}", dir.display()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let mut session = SqlSession::new(db.clone());
        runtime.block_on(async {
            session.execute_all(DDL[0]).await?;
            session.execute_all(DDL[1]).await
        })?;
        load(&db, data)?;
        for ddl in &DDL[2..] {
            runtime.block_on(session.execute_all(ddl))?;
        }
        let password = USER;
        let verifier = cairn_server::auth::password::scram_verifier(password)
            .map_err(|e| anyhow!("SCRAM verifier: {e:?}"))?;
        let users = Arc::new(BenchUsers { verifier });
        let server = runtime.block_on(PgServer::bind(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            db,
            users,
            PgConfig::default(),
        ))?;
        let port = server.local_addr()?.port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        runtime.spawn(server.run(async move {
            let _ = stopped.await;
        }));
        let mut client = postgres::Config::new()
            .host("127.0.0.1")
            .port(port)
            .user(USER)
            .password(password)
            .dbname("cairn")
            .connect(NoTls)
            .context("connecting to Cairn's SQL port")?;
        let statements = QUERIES
            .iter()
            .map(|q| client.prepare(q))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CairnSide {
            client,
            statements,
            stop: Some(stop),
            _runtime: runtime,
        })
    }
}

fn load(db: &cairn::Database, data: &Data) -> anyhow::Result<()> {
    for chunk in data.docs.chunks(LOAD_BATCH) {
        db.transaction(|txn| {
            for d in chunk {
                let mut doc = Object::new();
                doc.insert("_id", Value::Int(d.id));
                doc.insert("account", Value::Int(d.account));
                doc.insert("price", Value::Float(d.price));
                doc.insert("category", Value::String(d.category.clone()));
                doc.insert("score", Value::Float(d.score));
                txn.insert("docs", Value::Object(doc))?;
            }
            Ok(())
        })?;
    }
    for chunk in data.accounts.chunks(LOAD_BATCH) {
        db.transaction(|txn| {
            for (account, region) in chunk {
                let mut doc = Object::new();
                doc.insert("_id", Value::Int(*account));
                doc.insert("account", Value::Int(*account));
                doc.insert("region", Value::String(region.clone()));
                txn.insert("accounts", Value::Object(doc))?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

impl Drop for CairnSide {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl SqlSystem for CairnSide {
    fn name(&self) -> &'static str {
        "Cairn"
    }

    fn run(&mut self, probe: Probe) -> anyhow::Result<Answer> {
        let s = &self.statements;
        Ok(match probe {
            Probe::Point(id) => self
                .client
                .query(&s[0], &[&id.to_string()])?
                .iter()
                .map(|r| {
                    format!(
                        "{}|{}|{}|{}|{}",
                        r.get::<_, String>(0),
                        r.get::<_, i64>(1),
                        rounded(r.get(2)),
                        r.get::<_, String>(3),
                        rounded(r.get(4))
                    )
                })
                .collect(),
            Probe::Equality(account) => sorted(
                self.client
                    .query(&s[1], &[&account])?
                    .iter()
                    .map(|r| format!("{}|{}", r.get::<_, String>(0), rounded(r.get(1)))),
            ),
            Probe::RangeGroup(low) => {
                grouped(&self.client.query(&s[2], &[&low, &(low + PRICE_RANGE)])?)
            }
            Probe::Join(low) => grouped(&self.client.query(&s[3], &[&low, &(low + PRICE_RANGE)])?),
            Probe::TopK => self
                .client
                .query(&s[4], &[])?
                .iter()
                .map(|r| rounded(r.get(0)))
                .collect(),
        })
    }
}

/// `(text, count, float)` rows as sorted text (shared with PostgreSQL's side).
pub(crate) fn grouped(rows: &[postgres::Row]) -> Answer {
    sorted(rows.iter().map(|r| {
        format!(
            "{}|{}|{}",
            r.get::<_, String>(0),
            r.get::<_, i64>(1),
            rounded(r.get(2))
        )
    }))
}

pub(crate) fn sorted(rows: impl Iterator<Item = String>) -> Answer {
    let mut rows: Vec<String> = rows.collect();
    rows.sort();
    rows
}
