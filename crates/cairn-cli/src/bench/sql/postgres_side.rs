//! PostgreSQL 15 in the SQL benchmark: a private cluster started under the benchmark folder
//! (`initdb`, `pg_ctl`; as the `postgres` user when run as root, since PostgreSQL refuses
//! root), listening on a free loopback TCP port like Cairn's SQL port, native columns with the
//! same indexes, `ANALYZE`d, the same queries through the same client.

use std::io::Write;
use std::path::Path;

use postgres::{Client, Statement};

use super::cairn_side::{grouped, sorted, QUERIES};
use super::{rounded, Answer, Data, Probe, SqlSystem, PRICE_RANGE};
use crate::bench::pg_cluster::PgCluster;

pub struct PostgresSide {
    // Dropped first: the client closes its connection before the cluster stops.
    client: Client,
    statements: Vec<Statement>,
    _cluster: PgCluster,
}

impl PostgresSide {
    pub fn create(dir: &Path, data: &Data) -> anyhow::Result<PostgresSide> {
        let cluster = PgCluster::create_on_tcp(dir)?;
        let mut client = cluster.connect()?;
        load(&mut client, data)?;
        let statements = QUERIES
            .iter()
            .map(|q| client.prepare(q))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PostgresSide {
            client,
            statements,
            _cluster: cluster,
        })
    }
}

fn load(client: &mut Client, data: &Data) -> anyhow::Result<()> {
    client.batch_execute(
        "CREATE TABLE docs (_id BIGINT PRIMARY KEY, account BIGINT NOT NULL, \
         price DOUBLE PRECISION NOT NULL, category TEXT NOT NULL, score DOUBLE PRECISION NOT NULL); \
         CREATE TABLE accounts (_id BIGINT PRIMARY KEY, account BIGINT NOT NULL, region TEXT NOT NULL)",
    )?;
    let mut writer = client.copy_in("COPY docs FROM STDIN")?;
    for d in &data.docs {
        writeln!(
            writer,
            "{}\t{}\t{}\t{}\t{}",
            d.id, d.account, d.price, d.category, d.score
        )?;
    }
    writer.finish()?;
    let mut writer = client.copy_in("COPY accounts FROM STDIN")?;
    for (account, region) in &data.accounts {
        writeln!(writer, "{account}\t{account}\t{region}")?;
    }
    writer.finish()?;
    client.batch_execute(
        "CREATE INDEX docs_account ON docs (account); CREATE INDEX docs_price ON docs (price); \
         CREATE INDEX docs_score ON docs (score); CREATE INDEX accounts_account ON accounts (account); \
         ANALYZE",
    )?;
    Ok(())
}

impl SqlSystem for PostgresSide {
    fn name(&self) -> &'static str {
        "PostgreSQL"
    }

    fn run(&mut self, probe: Probe) -> anyhow::Result<Answer> {
        let client = &mut self.client;
        let s = &self.statements;
        Ok(match probe {
            Probe::Point(id) => client
                .query(&s[0], &[&id])?
                .iter()
                .map(|r| {
                    format!(
                        "{}|{}|{}|{}|{}",
                        r.get::<_, i64>(0),
                        r.get::<_, i64>(1),
                        rounded(r.get(2)),
                        r.get::<_, String>(3),
                        rounded(r.get(4))
                    )
                })
                .collect(),
            Probe::Equality(account) => sorted(
                client
                    .query(&s[1], &[&account])?
                    .iter()
                    .map(|r| format!("{}|{}", r.get::<_, i64>(0), rounded(r.get(1)))),
            ),
            Probe::RangeGroup(low) => grouped(&client.query(&s[2], &[&low, &(low + PRICE_RANGE)])?),
            Probe::Join(low) => grouped(&client.query(&s[3], &[&low, &(low + PRICE_RANGE)])?),
            Probe::TopK => client
                .query(&s[4], &[])?
                .iter()
                .map(|r| rounded(r.get(0)))
                .collect(),
        })
    }
}
