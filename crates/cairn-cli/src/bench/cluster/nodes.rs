//! The two three-node clusters the benchmark drives: `cairn serve` processes with a `[cluster]`
//! section and `etcd` members, each on loopback ports, started as child processes and killed
//! when dropped. Both are spoken to over HTTP/1.1 + JSON with the same raw client.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::Engine as _;
use serde_json::Value as Json;

use crate::bench::http::cpu::process_cpu_time;
use crate::bench::http::load::{get, post, request_once};
use crate::bench::limits::CLUSTER_START_WAIT;

/// Members per cluster.
pub const MEMBERS: usize = 3;

/// The Cairn collection the benchmark writes (the etcd keys carry the same ids).
const COLLECTION: &str = "bench";

/// The value every write stores: 100 bytes.
const VALUE: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyzAB";

/// The Cairn cluster's node-to-node secret (a throwaway cluster on loopback).
const SECRET: &str = "cairn-bench-cluster-secret-0123456789";

/// Pause between polls while waiting for a cluster.
const POLL: Duration = Duration::from_millis(50);

/// Which system a cluster runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `cairn serve` with `[cluster]`.
    Cairn,
    /// `etcd` (v3 API through its JSON gateway).
    Etcd,
}

/// One member: its client address and its process while it runs.
struct Member {
    api: SocketAddr,
    child: Option<Child>,
}

/// A running three-member cluster.
pub struct Cluster {
    /// The system.
    pub kind: Kind,
    members: Vec<Member>,
}

/// A free loopback port (released before the member binds it; a collision is unlikely).
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A child's output goes to a log file in its folder.
fn log_file(dir: &Path, name: &str) -> anyhow::Result<Stdio> {
    Ok(std::fs::File::create(dir.join(name))
        .with_context(|| format!("creating {}", dir.join(name).display()))?
        .into())
}

impl Cluster {
    /// Starts three `cairn serve` processes (this executable) in `dir`; node 1 bootstraps.
    pub fn start_cairn(dir: &Path) -> anyhow::Result<Cluster> {
        let exe = std::env::current_exe().context("finding the cairn executable")?;
        let ports = (0..MEMBERS)
            .map(|_| Ok((free_port()?, free_port()?)))
            .collect::<anyhow::Result<Vec<(u16, u16)>>>()?;
        let mut members = Vec::new();
        for id in 1..=MEMBERS {
            let (api, raft) = ports[id - 1];
            let mut text = format!(
                "listen = \"127.0.0.1:{api}\"\n[cluster]\nnode_id = {id}\nlisten = \"127.0.0.1:{raft}\"\n\
                 api_url = \"http://127.0.0.1:{api}\"\nsecret = \"{SECRET}\"\nbootstrap = {}\n",
                id == 1
            );
            for peer in (1..=MEMBERS).filter(|&p| p != id) {
                let (papi, praft) = ports[peer - 1];
                text.push_str(&format!(
                    "[[cluster.peers]]\nnode_id = {peer}\ncluster_addr = \"127.0.0.1:{praft}\"\napi_url = \"http://127.0.0.1:{papi}\"\n"
                ));
            }
            let node_dir = dir.join(format!("cairn{id}"));
            std::fs::create_dir_all(&node_dir)?;
            let config = dir.join(format!("cairn{id}.toml"));
            std::fs::write(&config, text)?;
            let child = Command::new(&exe)
                .arg("--data")
                .arg(&node_dir)
                .arg("serve")
                .arg("--config")
                .arg(&config)
                .args(["--insecure-no-auth", "--log", "error,openraft=off"])
                .env_remove("CAIRN_DATA")
                .env_remove("CAIRN_MODE")
                .env_remove("CAIRN_ROOT_PASSWORD")
                .stdin(Stdio::null())
                .stdout(log_file(dir, &format!("cairn{id}.log"))?)
                .stderr(log_file(dir, &format!("cairn{id}.err"))?)
                .spawn()
                .context("starting cairn serve")?;
            members.push(Member {
                api: SocketAddr::from(([127, 0, 0, 1], api)),
                child: Some(child),
            });
        }
        Ok(Cluster {
            kind: Kind::Cairn,
            members,
        })
    }

    /// Starts three `etcd` members (binary `etcd`) in `dir` with their default timing
    /// (heartbeat 100 ms, election timeout 1 s) and durability (fsync per commit).
    pub fn start_etcd(etcd: &Path, dir: &Path) -> anyhow::Result<Cluster> {
        let ports = (0..MEMBERS)
            .map(|_| Ok((free_port()?, free_port()?)))
            .collect::<anyhow::Result<Vec<(u16, u16)>>>()?;
        let initial = (1..=MEMBERS)
            .map(|id| format!("e{id}=http://127.0.0.1:{}", ports[id - 1].1))
            .collect::<Vec<_>>()
            .join(",");
        let mut members = Vec::new();
        for id in 1..=MEMBERS {
            let (client, peer) = ports[id - 1];
            let data = dir.join(format!("etcd{id}"));
            let child = Command::new(etcd)
                .arg(format!("--name=e{id}"))
                .arg(format!("--data-dir={}", data.display()))
                .arg(format!("--listen-client-urls=http://127.0.0.1:{client}"))
                .arg(format!("--advertise-client-urls=http://127.0.0.1:{client}"))
                .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer}"))
                .arg(format!(
                    "--initial-advertise-peer-urls=http://127.0.0.1:{peer}"
                ))
                .arg(format!("--initial-cluster={initial}"))
                .args([
                    "--initial-cluster-state=new",
                    "--initial-cluster-token=cairn-bench",
                    "--logger=zap",
                    "--log-level=error",
                ])
                .stdin(Stdio::null())
                .stdout(log_file(dir, &format!("etcd{id}.log"))?)
                .stderr(log_file(dir, &format!("etcd{id}.err"))?)
                .spawn()
                .with_context(|| format!("starting {}", etcd.display()))?;
            members.push(Member {
                api: SocketAddr::from(([127, 0, 0, 1], client)),
                child: Some(child),
            });
        }
        Ok(Cluster {
            kind: Kind::Etcd,
            members,
        })
    }

    /// The system's name in the table.
    pub fn name(&self) -> &'static str {
        match self.kind {
            Kind::Cairn => "Cairn",
            Kind::Etcd => "etcd",
        }
    }

    /// Client addresses of the members still running.
    pub fn live(&self) -> Vec<SocketAddr> {
        self.members
            .iter()
            .filter(|m| m.child.is_some())
            .map(|m| m.api)
            .collect()
    }

    /// Process ids of the members still running.
    fn pids(&self) -> Vec<u32> {
        self.members
            .iter()
            .filter_map(|m| m.child.as_ref().map(Child::id))
            .collect()
    }

    /// CPU time used so far by the running members together.
    pub fn cpu(&self) -> Option<Duration> {
        self.pids().into_iter().map(process_cpu_time).sum()
    }

    /// The member that says it leads, waiting up to [`CLUSTER_START_WAIT`] for one.
    pub async fn leader(&self) -> anyhow::Result<SocketAddr> {
        let deadline = Instant::now() + CLUSTER_START_WAIT;
        loop {
            for addr in self.live() {
                if self.is_leader(addr).await {
                    return Ok(addr);
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "{}: no leader elected within {CLUSTER_START_WAIT:?}",
                    self.name()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn is_leader(&self, addr: SocketAddr) -> bool {
        let request = match self.kind {
            Kind::Cairn => get("/v1/cluster", None),
            Kind::Etcd => post("/v3/maintenance/status", None, "{}"),
        };
        let Ok(Ok((200, body))) =
            tokio::time::timeout(Duration::from_secs(1), request_once(addr, &request)).await
        else {
            return false;
        };
        let Ok(json) = serde_json::from_str::<Json>(&body) else {
            return false;
        };
        match self.kind {
            Kind::Cairn => json["state"] == "leader",
            // uint64 fields travel as strings in the gateway's JSON.
            Kind::Etcd => {
                json["leader"].is_string() && json["leader"] == json["header"]["member_id"]
            }
        }
    }

    /// Prepares the keyspace: the collection on Cairn (etcd needs nothing).
    pub async fn prepare(&self) -> anyhow::Result<()> {
        let leader = self.leader().await?;
        if self.kind == Kind::Cairn {
            let body = format!(r#"{{"name":"{COLLECTION}"}}"#);
            let (status, answer) =
                request_once(leader, &post("/v1/collections", None, &body)).await?;
            if status != 201 {
                bail!("Cairn: creating the collection answered {status}: {answer}");
            }
        }
        Ok(())
    }

    /// A write of key `id` (see [`write_request`]).
    pub fn write(&self, id: u64) -> Vec<u8> {
        write_request(self.kind, id)
    }

    /// The status a successful write answers.
    pub fn write_status(&self) -> u16 {
        match self.kind {
            Kind::Cairn => 201,
            Kind::Etcd => 200,
        }
    }

    /// A read of key `id` (see [`read_request`]).
    pub fn read(&self, id: u64, linearizable: bool) -> Vec<u8> {
        read_request(self.kind, id, linearizable)
    }

    /// Waits until the member at `addr` holds key `id` in its local state (so a `local` read
    /// phase reads present keys on every member).
    pub async fn wait_for_key(&self, addr: SocketAddr, id: u64) -> anyhow::Result<()> {
        let deadline = Instant::now() + CLUSTER_START_WAIT;
        let request = self.read(id, false);
        loop {
            if let Ok((200, body)) = request_once(addr, &request).await {
                // etcd answers 200 without `kvs` for a missing key.
                if self.kind == Kind::Cairn || body.contains("\"kvs\"") {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                bail!("{}: {addr} does not hold key {id}", self.name());
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// SIGKILLs the member at `addr` and reaps it.
    pub fn kill(&mut self, addr: SocketAddr) -> anyhow::Result<()> {
        let member = self
            .members
            .iter_mut()
            .find(|m| m.api == addr)
            .context("no member at that address")?;
        if let Some(mut child) = member.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for member in &mut self.members {
            if let Some(mut child) = member.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// A `strong` (Cairn) / default linearizable (etcd) write of key `id`.
pub fn write_request(kind: Kind, id: u64) -> Vec<u8> {
    match kind {
        Kind::Cairn => post(
            &format!("/v1/collections/{COLLECTION}/documents?consistency=strong"),
            None,
            &format!(r#"{{"_id":{id},"v":"{VALUE}"}}"#),
        ),
        Kind::Etcd => post(
            "/v3/kv/put",
            None,
            &format!(
                r#"{{"key":"{}","value":"{}"}}"#,
                etcd_key(id),
                base64::engine::general_purpose::STANDARD.encode(VALUE)
            ),
        ),
    }
}

/// A read of key `id`: linearizable (`strong` / etcd's default) or this member's state
/// (`local` / etcd's `serializable`).
pub fn read_request(kind: Kind, id: u64, linearizable: bool) -> Vec<u8> {
    match kind {
        Kind::Cairn => get(
            &format!(
                "/v1/collections/{COLLECTION}/documents/{id}?consistency={}",
                if linearizable { "strong" } else { "local" }
            ),
            None,
        ),
        Kind::Etcd => post(
            "/v3/kv/range",
            None,
            &format!(
                r#"{{"key":"{}","serializable":{}}}"#,
                etcd_key(id),
                !linearizable
            ),
        ),
    }
}

/// etcd's key for id `id`, base64 as its JSON gateway wants bytes.
fn etcd_key(id: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("k{id}"))
}

/// Where the `etcd` binary is: `program` as given if it names a path, else the first match
/// on `PATH`; `None` when there is none.
pub fn find_program(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    })
}
