//! Node-to-node traffic: Raft's RPCs as JSON over HTTP on each node's cluster address
//! (`POST /raft/append`, `/raft/vote`, `/raft/snapshot`), every request carrying the cluster
//! secret in [`SECRET_HEADER`]. The listener compares it in constant time and answers 401 to
//! strangers without touching Raft. With a node certificate configured ([`crate::tls`]) the
//! same requests travel over mutual TLS (`https://`).
//!
//! Why ours: openraft ships no network layer. The client is blocking `ureq` on Tokio's
//! blocking pool (already in the tree for the CLI); the listener is axum like the API.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::AnyError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use subtle::ConstantTimeEq;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::error::ClusterError;
use crate::limits::{MAX_RPC_BODY_BYTES, RPC_TIMEOUT};
use crate::tls::TlsListener;
use crate::types::{Member, NodeId, Raft, TypeConfig};

/// Header carrying the cluster secret on node-to-node requests.
pub const SECRET_HEADER: &str = "cairn-cluster-secret";

/// Makes a client per peer (all share one connection pool).
#[derive(Clone)]
pub struct Network {
    agent: ureq::Agent,
    secret: Arc<str>,
    /// `https` with TLS on the link, else `http`.
    scheme: &'static str,
    /// Snapshots sent whole to a follower (the last chunk acknowledged).
    snapshots_sent: Arc<AtomicU64>,
}

impl Network {
    /// A network presenting `secret` to every peer, over TLS with `tls` (every node of a
    /// cluster must agree on it).
    pub fn new(secret: &str, tls: Option<ureq::tls::TlsConfig>) -> Network {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(RPC_TIMEOUT));
        if let Some(tls) = tls {
            config = config.tls_config(tls);
        }
        Network {
            agent: ureq::Agent::new_with_config(config.build()),
            secret: secret.into(),
            scheme,
            snapshots_sent: Arc::default(),
        }
    }

    /// Snapshots this node sent whole to followers since it started.
    pub fn snapshots_sent(&self) -> u64 {
        self.snapshots_sent.load(Ordering::Relaxed)
    }
}

/// The client side for one peer.
pub struct Peer {
    network: Network,
    target: NodeId,
    url: String,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: NodeId, node: &Member) -> Peer {
        Peer {
            network: self.clone(),
            target,
            url: format!("{}://{}", self.scheme, node.cluster_addr),
        }
    }
}

/// Why a call failed before an answer from Raft on the other side.
enum CallError {
    /// Could not connect or the connection broke: back off.
    Unreachable(String),
    /// The peer answered, but not with a Raft answer (401, 5xx, bad body).
    Network(String),
}

impl Peer {
    /// POSTs `body` to `path`; the answer is the remote Raft's `Result` as JSON.
    async fn call<Req, Resp>(
        &self,
        path: &str,
        body: &Req,
        option: &RPCOption,
    ) -> Result<Resp, CallError>
    where
        Req: Serialize,
        Resp: DeserializeOwned + Send + 'static,
    {
        let payload = serde_json::to_vec(body).map_err(|e| CallError::Network(e.to_string()))?;
        let agent = self.network.agent.clone();
        let secret = self.network.secret.clone();
        let url = format!("{}{path}", self.url);
        let ttl = option.hard_ttl();
        let call = tokio::task::spawn_blocking(move || {
            let response = agent
                .post(&url)
                .config()
                .timeout_global(Some(ttl))
                .build()
                .header(SECRET_HEADER, &*secret)
                .header("content-type", "application/json")
                .send(&payload[..]);
            let mut response = match response {
                Ok(response) => response,
                Err(err) => return Err(CallError::Unreachable(err.to_string())),
            };
            if response.status() != 200 {
                return Err(CallError::Network(format!(
                    "{url} answered {}",
                    response.status()
                )));
            }
            let bytes = response
                .body_mut()
                .with_config()
                .limit(MAX_RPC_BODY_BYTES as u64)
                .read_to_vec()
                .map_err(|err| CallError::Unreachable(err.to_string()))?;
            serde_json::from_slice(&bytes).map_err(|err| CallError::Network(err.to_string()))
        });
        call.await
            .map_err(|err| CallError::Network(err.to_string()))?
    }

    /// Calls and converts the outcome into openraft's error shape.
    async fn rpc<Req, Resp, E>(
        &self,
        path: &str,
        body: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, Member, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned + Send + 'static,
        E: std::error::Error + DeserializeOwned + Send + 'static,
    {
        match self
            .call::<Req, Result<Resp, RaftError<NodeId, E>>>(path, body, option)
            .await
        {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(err)) => Err(RPCError::RemoteError(RemoteError::new(self.target, err))),
            Err(CallError::Unreachable(why)) => Err(RPCError::Unreachable(Unreachable::new(
                &AnyError::error(why),
            ))),
            Err(CallError::Network(why)) => {
                Err(RPCError::Network(NetworkError::new(&AnyError::error(why))))
            }
        }
    }
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, Member, RaftError<NodeId>>> {
        self.rpc("/raft/append", &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, Member, RaftError<NodeId, InstallSnapshotError>>,
    > {
        let last = rpc.done;
        let answer = self.rpc("/raft/snapshot", &rpc, &option).await;
        if last && answer.is_ok() {
            self.network.snapshots_sent.fetch_add(1, Ordering::Relaxed);
        }
        answer
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, Member, RaftError<NodeId>>> {
        self.rpc("/raft/vote", &rpc, &option).await
    }
}

/// What the listener's handlers share.
#[derive(Clone)]
struct Listener {
    raft: Raft,
    secret: Arc<str>,
}

impl Listener {
    /// Whether the request carries the cluster secret (compared in constant time).
    fn admits(&self, headers: &HeaderMap) -> bool {
        let given = headers
            .get(SECRET_HEADER)
            .map(|value| value.as_bytes())
            .unwrap_or_default();
        bool::from(given.ct_eq(self.secret.as_bytes()))
    }
}

/// Refuses strangers, decodes the body, runs `handle`, answers its `Result` as JSON.
async fn serve<Req, Resp, Fut>(
    listener: &Listener,
    headers: &HeaderMap,
    body: &Bytes,
    handle: impl FnOnce(Raft, Req) -> Fut,
) -> Response
where
    Req: DeserializeOwned,
    Resp: Serialize,
    Fut: std::future::Future<Output = Resp>,
{
    if !listener.admits(headers) {
        tracing::warn!("refused a node-to-node request without the cluster secret");
        return (StatusCode::UNAUTHORIZED, "cluster secret required").into_response();
    }
    let request: Req = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(err) => return (StatusCode::BAD_REQUEST, err.to_string()).into_response(),
    };
    let answer = handle(listener.raft.clone(), request).await;
    match serde_json::to_vec(&answer) {
        Ok(bytes) => ([("content-type", "application/json")], bytes).into_response(),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    }
}

async fn append(State(l): State<Listener>, headers: HeaderMap, body: Bytes) -> Response {
    serve(
        &l,
        &headers,
        &body,
        |raft, rpc: AppendEntriesRequest<TypeConfig>| async move { raft.append_entries(rpc).await },
    )
    .await
}

async fn vote(State(l): State<Listener>, headers: HeaderMap, body: Bytes) -> Response {
    serve(
        &l,
        &headers,
        &body,
        |raft, rpc: VoteRequest<NodeId>| async move { raft.vote(rpc).await },
    )
    .await
}

async fn snapshot(State(l): State<Listener>, headers: HeaderMap, body: Bytes) -> Response {
    serve(&l, &headers, &body, |raft, rpc: InstallSnapshotRequest<TypeConfig>| async move {
        raft.install_snapshot(rpc).await
    })
    .await
}

/// Binds the node-to-node listener (TLS only, with `tls`) and serves it until `stop` turns
/// true.
pub async fn listen(
    address: SocketAddr,
    raft: Raft,
    secret: &str,
    tls: Option<TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
) -> Result<SocketAddr, ClusterError> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| ClusterError::Bind { address, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ClusterError::Bind { address, source })?;
    let app = Router::new()
        .route("/raft/append", post(append))
        .route("/raft/vote", post(vote))
        .route("/raft/snapshot", post(snapshot))
        .layer(DefaultBodyLimit::max(MAX_RPC_BODY_BYTES))
        .with_state(Listener {
            raft,
            secret: secret.into(),
        });
    let stopped = async move {
        let _ = stop.wait_for(|&s| s).await;
    };
    match tls {
        None => {
            tokio::spawn(async move {
                if let Err(err) = axum::serve(listener, app)
                    .with_graceful_shutdown(stopped)
                    .await
                {
                    tracing::error!(%err, "the cluster listener stopped");
                }
            });
        }
        Some(acceptor) => {
            let listener = TlsListener::new(listener, bound, acceptor);
            tokio::spawn(async move {
                if let Err(err) = axum::serve(listener, app)
                    .with_graceful_shutdown(stopped)
                    .await
                {
                    tracing::error!(%err, "the cluster listener stopped");
                }
            });
        }
    }
    Ok(bound)
}
