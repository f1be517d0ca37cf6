//! A three-node (or larger) cluster of real `cairn serve` processes on loopback ports, a client
//! that finds the leader (following 307 redirects), and fault injection: SIGKILL and restart,
//! SIGSTOP/SIGCONT.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

use crate::server_support::Server;

/// A TOML comment that, in [`Cluster::start_with`]'s `extra`, leaves the nodes unstarted (the
/// caller adjusts them, then calls [`Node::start`] on each).
pub const DEFERRED_START: &str = "# deferred start\n";

/// The cluster secret the tests configure.
pub const SECRET: &str = "test-cluster-secret-0123456789";

/// Longest wait for the cluster to elect a leader (bounds a hang; not a timing assertion).
pub const LEADER_WAIT: Duration = Duration::from_secs(60);

/// Time limit of one client request: short, so a request to a killed or paused node fails
/// fast and the client moves on (its outcome is then unknown).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// A free loopback port (released before the node binds it; a collision is unlikely).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    listener.local_addr().expect("local address").port()
}

/// One node: its folder, configuration and process (when running).
pub struct Node {
    /// Node id (1-based).
    pub id: u64,
    /// Its HTTP API base URL.
    pub url: String,
    /// Its node-to-node address.
    pub cluster_addr: String,
    dir: PathBuf,
    config: PathBuf,
    /// The process, when running.
    pub server: Option<Server>,
    /// The user id the process runs as (`None`: this process's).
    pub uid: Option<u32>,
}

impl Node {
    /// Starts (or restarts) the process.
    pub fn start(&mut self) {
        let config = self.config.to_string_lossy().to_string();
        // openraft logs every failed heartbeat to a killed peer as a warning.
        let args = [
            "--config",
            &config,
            "--insecure-no-auth",
            "--log",
            "error,openraft=off",
        ];
        self.server = Some(Server::start_raw_as(&self.dir, &args, None, self.uid));
    }

    /// Its folder.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// SIGKILL.
    pub fn crash(&mut self) {
        if let Some(server) = self.server.take() {
            server.crash();
        }
    }
}

/// A running cluster.
pub struct Cluster {
    /// Its nodes, index = id - 1.
    pub nodes: Vec<Node>,
    /// Lines added to every node's `[cluster]` section.
    extra: String,
    _root: tempfile::TempDir,
}

impl Cluster {
    /// Starts `size` nodes; node 1 initialises the cluster with all of them as voters.
    pub fn start(size: u64) -> Cluster {
        Cluster::start_with(size, "")
    }

    /// Like [`Cluster::start`], with `extra` lines in every node's `[cluster]` section (nodes
    /// added later get them too).
    pub fn start_with(size: u64, extra: &str) -> Cluster {
        let root = tempfile::Builder::new()
            .prefix("raft-cluster-")
            .tempdir()
            .expect("temporary folder");
        let ports: Vec<(u16, u16)> = (0..size).map(|_| (free_port(), free_port())).collect();
        let mut nodes = Vec::new();
        for id in 1..=size {
            let (api, raft) = ports[(id - 1) as usize];
            let mut text = format!(
                "listen = \"127.0.0.1:{api}\"\n[cluster]\nnode_id = {id}\nlisten = \"127.0.0.1:{raft}\"\n\
                 api_url = \"http://127.0.0.1:{api}\"\nsecret = \"{SECRET}\"\nbootstrap = {}\n{extra}",
                id == 1
            );
            for peer in (1..=size).filter(|&p| p != id) {
                let (papi, praft) = ports[(peer - 1) as usize];
                text.push_str(&format!(
                    "[[cluster.peers]]\nnode_id = {peer}\ncluster_addr = \"127.0.0.1:{praft}\"\napi_url = \"http://127.0.0.1:{papi}\"\n"
                ));
            }
            let dir = root.path().join(format!("node{id}"));
            std::fs::create_dir_all(&dir).expect("node folder");
            let config = root.path().join(format!("node{id}.toml"));
            std::fs::write(&config, text).expect("node configuration");
            nodes.push(Node {
                id,
                url: format!("http://127.0.0.1:{api}"),
                cluster_addr: format!("127.0.0.1:{raft}"),
                dir,
                config,
                server: None,
                uid: None,
            });
        }
        if !extra.contains(DEFERRED_START) {
            for node in &mut nodes {
                node.start();
            }
        }
        Cluster {
            nodes,
            extra: extra.to_string(),
            _root: root,
        }
    }

    /// Adds a node that knows no peers and does not bootstrap (it waits to be added as a
    /// learner), and starts it.
    pub fn start_blank_node(&mut self) -> usize {
        let id = self.nodes.len() as u64 + 1;
        let (api, raft) = (free_port(), free_port());
        let text = format!(
            "listen = \"127.0.0.1:{api}\"\n[cluster]\nnode_id = {id}\nlisten = \"127.0.0.1:{raft}\"\n\
             api_url = \"http://127.0.0.1:{api}\"\nsecret = \"{SECRET}\"\n{}",
            self.extra
        );
        let dir = self._root.path().join(format!("node{id}"));
        std::fs::create_dir_all(&dir).expect("node folder");
        let config = self._root.path().join(format!("node{id}.toml"));
        std::fs::write(&config, text).expect("node configuration");
        let mut node = Node {
            id,
            url: format!("http://127.0.0.1:{api}"),
            cluster_addr: format!("127.0.0.1:{raft}"),
            dir,
            config,
            server: None,
            uid: None,
        };
        node.start();
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// The node that says it is the leader (among running ones), waiting for one.
    pub fn leader(&self) -> usize {
        let deadline = Instant::now() + LEADER_WAIT;
        loop {
            for (i, node) in self.nodes.iter().enumerate() {
                if node.server.is_none() {
                    continue;
                }
                if let Ok((200, body, _)) = call("GET", &format!("{}/v1/cluster", node.url), None) {
                    if body["state"] == "leader" {
                        return i;
                    }
                }
            }
            assert!(Instant::now() < deadline, "no leader elected");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A client that starts at node `start`.
    pub fn client(&self, start: usize) -> Client {
        Client {
            urls: self.nodes.iter().map(|n| n.url.clone()).collect(),
            current: start,
        }
    }
}

/// One HTTP exchange without following redirects: status, JSON body (or `null`), `Location`.
pub fn call(
    method: &str,
    url: &str,
    body: Option<&Json>,
) -> Result<(u16, Json, Option<String>), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(REQUEST_TIMEOUT))
        .build()
        .into();
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("Content-Type", "application/json")
        .body(body.map(Json::to_string).unwrap_or_default())
        .map_err(|e| e.to_string())?;
    let response = agent.run(request).map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = response
        .into_body()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    let json = serde_json::from_str(&text).unwrap_or(Json::Null);
    Ok((status, json, location))
}

/// What a request came to.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// An answer (not a redirect).
    Answer(u16, Json),
    /// No answer: the node died, paused or timed out; the request may or may not have
    /// taken effect.
    Unknown,
    /// The connection was refused: the request never left this process.
    NotSent,
}

/// A client that follows the leader: redirects are followed; after a failure it tries the
/// next node.
pub struct Client {
    urls: Vec<String>,
    current: usize,
}

impl Client {
    /// Sends once to the node it believes is the leader, following up to a few redirects;
    /// `Unknown` when no answer came (the request may have been applied).
    pub fn send(&mut self, method: &str, path: &str, body: Option<&Json>) -> Outcome {
        let mut url = format!("{}{path}", self.urls[self.current]);
        for _ in 0..4 {
            match call(method, &url, body) {
                Err(err) => {
                    self.current = (self.current + 1) % self.urls.len();
                    if err.contains("Connection refused") {
                        return Outcome::NotSent;
                    }
                    return Outcome::Unknown;
                }
                Ok((307, _, Some(location))) => {
                    if let Some(i) = self
                        .urls
                        .iter()
                        .position(|u| location.starts_with(u.as_str()))
                    {
                        self.current = i;
                    }
                    url = location;
                }
                Ok((status, json, _)) => return Outcome::Answer(status, json),
            }
        }
        Outcome::Unknown
    }

    /// Sends until a definite answer other than a retryable 503 (for setup and checks).
    pub fn send_until_answered(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&Json>,
    ) -> (u16, Json) {
        let deadline = Instant::now() + LEADER_WAIT;
        loop {
            if let Outcome::Answer(status, json) = self.send(method, path, body) {
                if status != 503 {
                    return (status, json);
                }
                self.current = (self.current + 1) % self.urls.len();
            }
            assert!(Instant::now() < deadline, "{method} {path}: no answer");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A document body for a job.
pub fn job(id: u64) -> Json {
    json!({ "_id": id, "state": "waiting" })
}
