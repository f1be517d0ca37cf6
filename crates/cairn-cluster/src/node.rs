//! One cluster node: starts Raft over the log store, the database state machine and the
//! network, and serves the server's [`Replication`] seam (writes, read barriers per
//! consistency level, status, membership, metrics).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cairn::Database;
use cairn_server::replication::{
    BoxFuture, CommandOutcome, Consistency, NewMember, ReadStamp, Replication, ReplicationError,
    WriteCommand,
};
use cairn_server::ClusterConfig;
use openraft::error::{ClientWriteError, RaftError};
use openraft::{ChangeMembers, ServerState, SnapshotPolicy};
use serde_json::{json, Value as Json};
use tokio::sync::watch;

use crate::error::ClusterError;
use crate::limits::{
    CLUSTER_WAIT, ELECTION_TIMEOUT_MAX_MS, ELECTION_TIMEOUT_MIN_MS, HEARTBEAT_MS,
    LEARNER_CATCH_UP_WAIT, LOG_KEPT_AFTER_SNAPSHOT, MAX_PAYLOAD_ENTRIES, QUORUM_ACK_STALE_MS,
    SNAPSHOT_CHUNK_TIMEOUT_MS, SNAPSHOT_EVERY_ENTRIES,
};
use crate::log_store::LogStore;
use crate::network::{listen, Network};
use crate::read_index::{ReadBarrier, ReadBarrierError};
use crate::state_machine::StateMachine;
use crate::tls::LinkTls;
use crate::types::{Member, NodeId, Raft};

/// Folder of the Raft log, vote and snapshot work inside the database folder.
pub const RAFT_DIR: &str = "raft";

/// A running cluster node.
pub struct ClusterNode {
    id: NodeId,
    raft: Raft,
    state_machine: StateMachine,
    network: Network,
    /// Snapshots installed by this node (over its lifetime: the count survives the restart an
    /// install needs).
    installs: u64,
    elections: Arc<AtomicU64>,
    /// `strong` reads' shared leadership checks.
    reads: ReadBarrier,
    _stop: watch::Sender<bool>,
}

/// Starts the node: opens `<data_dir>/raft`, starts Raft and the node-to-node listener (mutual
/// TLS with `tls`), and initialises a new cluster when `config.bootstrap` is set and this node
/// has no state.
pub async fn start(
    db: Database,
    data_dir: &Path,
    config: &ClusterConfig,
    default_api_url: String,
    tls: Option<&LinkTls>,
) -> Result<Arc<ClusterNode>, ClusterError> {
    let tls = tls.map(crate::tls::load).transpose()?;
    let raft_config = openraft::Config {
        cluster_name: "cairn".into(),
        heartbeat_interval: HEARTBEAT_MS,
        election_timeout_min: ELECTION_TIMEOUT_MIN_MS,
        election_timeout_max: ELECTION_TIMEOUT_MAX_MS,
        max_payload_entries: MAX_PAYLOAD_ENTRIES,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(
            config
                .snapshot_every
                .unwrap_or(SNAPSHOT_EVERY_ENTRIES)
                .max(1),
        ),
        max_in_snapshot_log_to_keep: config
            .log_kept_after_snapshot
            .unwrap_or(LOG_KEPT_AFTER_SNAPSHOT),
        install_snapshot_timeout: SNAPSHOT_CHUNK_TIMEOUT_MS,
        ..Default::default()
    }
    .validate()
    .map_err(|err| ClusterError::Raft(err.to_string()))?;
    let raft_dir = data_dir.join(RAFT_DIR);
    let log = LogStore::open(&raft_dir)?;
    let state_machine = StateMachine::open(db, &raft_dir)?;
    let network = Network::new(&config.secret, tls.as_ref().map(|t| t.client.clone()));
    let raft = Raft::new(
        config.node_id,
        Arc::new(raft_config),
        network.clone(),
        log,
        state_machine.clone(),
    )
    .await
    .map_err(|err| ClusterError::Raft(err.to_string()))?;
    let (stop, stop_rx) = watch::channel(false);
    let bound = listen(
        config.listen,
        raft.clone(),
        &config.secret,
        tls.map(|t| t.acceptor),
        stop_rx,
    )
    .await?;
    tracing::info!(node_id = config.node_id, cluster_addr = %bound, "cluster listener up");
    let me = Member {
        cluster_addr: config.listen.to_string(),
        api_url: config.api_url.clone().unwrap_or(default_api_url),
    };
    let initialized = raft
        .is_initialized()
        .await
        .map_err(|err| ClusterError::Raft(err.to_string()))?;
    if config.bootstrap && !initialized {
        let mut members = BTreeMap::new();
        members.insert(config.node_id, me);
        for peer in &config.peers {
            members.insert(
                peer.node_id,
                Member {
                    cluster_addr: peer.cluster_addr.clone(),
                    api_url: peer.api_url.clone(),
                },
            );
        }
        raft.initialize(members)
            .await
            .map_err(|err| ClusterError::Raft(err.to_string()))?;
        tracing::info!("initialised a new cluster");
    }
    let elections = Arc::new(AtomicU64::new(0));
    tokio::spawn(count_elections(raft.clone(), elections.clone()));
    let reads = ReadBarrier::new(raft.clone());
    Ok(Arc::new(ClusterNode {
        id: config.node_id,
        raft,
        state_machine,
        network,
        installs: crate::snapshot::installs(&raft_dir),
        elections,
        reads,
        _stop: stop,
    }))
}

/// Counts the terms this node has seen begin (an election each).
async fn count_elections(raft: Raft, elections: Arc<AtomicU64>) {
    let mut metrics = raft.metrics();
    let mut term = metrics.borrow().current_term;
    while metrics.changed().await.is_ok() {
        let now = metrics.borrow().current_term;
        if now > term {
            elections.fetch_add(now - term, Ordering::Relaxed);
            term = now;
        }
    }
}

type Metrics = openraft::RaftMetrics<NodeId, Member>;

impl ClusterNode {
    fn metrics(&self) -> Metrics {
        self.raft.metrics().borrow().clone()
    }

    fn api_url_of(metrics: &Metrics, id: NodeId) -> Option<String> {
        metrics
            .membership_config
            .membership()
            .get_node(&id)
            .map(|member| member.api_url.clone())
    }

    /// A leader that has not heard from a majority lately is probably cut off.
    fn leader_has_quorum(metrics: &Metrics) -> bool {
        metrics
            .millis_since_quorum_ack
            .is_some_and(|ms| ms <= QUORUM_ACK_STALE_MS)
    }

    fn stamp(&self, possibly_stale: bool) -> ReadStamp {
        ReadStamp {
            applied_index: self.state_machine.applied_index(),
            possibly_stale,
        }
    }

    async fn do_write(
        &self,
        command: WriteCommand,
        level: Consistency,
    ) -> Result<CommandOutcome, ReplicationError> {
        let metrics = self.metrics();
        if metrics.state != ServerState::Leader {
            return Err(ReplicationError::NotLeader {
                leader_url: metrics
                    .current_leader
                    .and_then(|id| Self::api_url_of(&metrics, id)),
            });
        }
        if !Self::leader_has_quorum(&metrics) {
            return Err(ReplicationError::NoQuorum(
                "the leader has not heard from a majority recently".into(),
            ));
        }
        if level == Consistency::Eventual {
            self.raft
                .client_write_ff(command)
                .await
                .map_err(|err| ReplicationError::Internal(err.to_string()))?;
            return Ok(CommandOutcome {
                status: 202,
                body: json!({ "accepted": true, "consistency": "eventual" }),
            });
        }
        let write = tokio::time::timeout(CLUSTER_WAIT, self.raft.client_write(command)).await;
        match write {
            Err(_) => Err(ReplicationError::NoQuorum(format!(
                "not committed within {} s; the outcome is unknown",
                CLUSTER_WAIT.as_secs()
            ))),
            Ok(Ok(response)) => response
                .data
                .0
                .ok_or_else(|| ReplicationError::Internal("the entry had no outcome".into())),
            Ok(Err(err)) => Err(self.write_error(err)),
        }
    }

    fn write_error(
        &self,
        err: RaftError<NodeId, ClientWriteError<NodeId, Member>>,
    ) -> ReplicationError {
        match err {
            RaftError::APIError(ClientWriteError::ForwardToLeader(forward)) => {
                ReplicationError::NotLeader {
                    leader_url: forward.leader_node.map(|node| node.api_url),
                }
            }
            RaftError::APIError(ClientWriteError::ChangeMembershipError(err)) => {
                ReplicationError::Refused(err.to_string())
            }
            RaftError::Fatal(fatal) => ReplicationError::Internal(fatal.to_string()),
        }
    }

    async fn barrier(&self, level: Consistency) -> Result<ReadStamp, ReplicationError> {
        let metrics = self.metrics();
        let leader_url = || {
            metrics
                .current_leader
                .and_then(|id| Self::api_url_of(&metrics, id))
        };
        match level {
            Consistency::Local => Ok(self.stamp(true)),
            Consistency::Eventual => match metrics.current_leader {
                Some(_) => Ok(self.stamp(true)),
                None => Err(ReplicationError::NoQuorum(
                    "this node follows no leader; only `local` reads are served".into(),
                )),
            },
            Consistency::Quorum | Consistency::Strong if metrics.state != ServerState::Leader => {
                Err(ReplicationError::NotLeader {
                    leader_url: leader_url(),
                })
            }
            Consistency::Quorum => {
                if Self::leader_has_quorum(&metrics) {
                    Ok(self.stamp(false))
                } else {
                    Err(ReplicationError::NoQuorum(
                        "the leader has not heard from a majority recently".into(),
                    ))
                }
            }
            Consistency::Strong => {
                // One leadership check serves every read that arrived before it started.
                match tokio::time::timeout(CLUSTER_WAIT, self.reads.confirm()).await {
                    Err(_) => Err(ReplicationError::NoQuorum(
                        "leadership was not confirmed in time".into(),
                    )),
                    Ok(Ok(())) => Ok(self.stamp(false)),
                    Ok(Err(ReadBarrierError::NotLeader(leader_url))) => {
                        Err(ReplicationError::NotLeader { leader_url })
                    }
                    Ok(Err(ReadBarrierError::NoQuorum(why))) => {
                        Err(ReplicationError::NoQuorum(why))
                    }
                }
            }
        }
    }

    /// On the leader, the highest log index a majority of voters holds (the commit index);
    /// `None` elsewhere (followers do not report it in openraft 0.9).
    fn commit_index(metrics: &Metrics) -> Option<u64> {
        let replication = metrics.replication.as_ref()?;
        let mut held: Vec<u64> = metrics
            .membership_config
            .membership()
            .voter_ids()
            .map(|id| {
                if id == metrics.id {
                    metrics.last_log_index.unwrap_or(0)
                } else {
                    replication
                        .get(&id)
                        .and_then(|matched| matched.map(|l| l.index))
                        .unwrap_or(0)
                }
            })
            .collect();
        // Highest first: the value at position ⌊n/2⌋ is held by ⌊n/2⌋ + 1 voters, a majority.
        held.sort_unstable_by(|a, b| b.cmp(a));
        held.get(held.len() / 2).copied()
    }

    fn status_json(&self) -> Json {
        let m = self.metrics();
        let membership = m.membership_config.membership();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let members: Vec<Json> = membership
            .nodes()
            .map(|(id, node)| {
                json!({
                    "node_id": id,
                    "cluster_addr": node.cluster_addr,
                    "api_url": node.api_url,
                    "role": if voters.contains(id) { "voter" } else { "learner" },
                })
            })
            .collect();
        let last_log = m.last_log_index.unwrap_or(0);
        let lag: Json = m
            .replication
            .as_ref()
            .map(|r| {
                r.iter()
                    .map(|(id, matched)| {
                        let at = matched.map_or(0, |l| l.index);
                        (id.to_string(), json!(last_log.saturating_sub(at)))
                    })
                    .collect::<serde_json::Map<_, _>>()
                    .into()
            })
            .unwrap_or(Json::Null);
        json!({
            "mode": "cluster",
            "node_id": self.id,
            "state": format!("{:?}", m.state).to_lowercase(),
            "term": m.current_term,
            "leader": m.current_leader,
            "leader_api_url": m.current_leader.and_then(|id| Self::api_url_of(&m, id)),
            "last_log_index": last_log,
            "applied_index": self.state_machine.applied_index(),
            "commit_index": Self::commit_index(&m),
            "snapshot_index": m.snapshot.map(|l| l.index),
            "purged_index": m.purged.map(|l| l.index),
            "snapshots": {
                "built": self.state_machine.snapshots_built(),
                "sent": self.network.snapshots_sent(),
                "installed": self.installs,
            },
            "millis_since_quorum_ack": m.millis_since_quorum_ack,
            "elections": self.elections.load(Ordering::Relaxed),
            "members": members,
            "replication_lag": lag,
        })
    }

    async fn membership(
        &self,
        change: ChangeMembers<NodeId, Member>,
    ) -> Result<Json, ReplicationError> {
        match tokio::time::timeout(CLUSTER_WAIT, self.raft.change_membership(change, false)).await {
            Err(_) => Err(ReplicationError::NoQuorum(
                "membership change timed out".into(),
            )),
            Ok(Ok(_)) => Ok(self.status_json()),
            Ok(Err(err)) => Err(self.write_error(err)),
        }
    }
}

impl Replication for ClusterNode {
    fn write(
        &self,
        command: WriteCommand,
        level: Consistency,
    ) -> BoxFuture<'_, Result<CommandOutcome, ReplicationError>> {
        Box::pin(self.do_write(command, level))
    }

    fn read_barrier(
        &self,
        level: Consistency,
    ) -> BoxFuture<'_, Result<ReadStamp, ReplicationError>> {
        Box::pin(self.barrier(level))
    }

    fn is_leader(&self) -> bool {
        self.metrics().state == ServerState::Leader
    }

    fn leader_url(&self) -> Option<String> {
        let m = self.metrics();
        m.current_leader.and_then(|id| Self::api_url_of(&m, id))
    }

    fn status(&self) -> BoxFuture<'_, Json> {
        Box::pin(async move { self.status_json() })
    }

    fn add_learner(&self, member: NewMember) -> BoxFuture<'_, Result<Json, ReplicationError>> {
        Box::pin(async move {
            let node = Member {
                cluster_addr: member.cluster_addr,
                api_url: member.api_url,
            };
            let added = tokio::time::timeout(
                LEARNER_CATCH_UP_WAIT,
                self.raft.add_learner(member.node_id, node, true),
            )
            .await;
            match added {
                Err(_) => Err(ReplicationError::NoQuorum(
                    "the learner did not catch up in time (it stays a learner)".into(),
                )),
                Ok(Ok(_)) => Ok(self.status_json()),
                Ok(Err(err)) => Err(self.write_error(err)),
            }
        })
    }

    fn promote(&self, node_id: NodeId) -> BoxFuture<'_, Result<Json, ReplicationError>> {
        Box::pin(async move {
            let m = self.metrics();
            if m.membership_config
                .membership()
                .get_node(&node_id)
                .is_none()
            {
                return Err(ReplicationError::Refused(format!(
                    "node {node_id} is not a member; add it as a learner first"
                )));
            }
            self.membership(ChangeMembers::AddVoterIds(BTreeSet::from([node_id])))
                .await
        })
    }

    fn remove(&self, node_id: NodeId) -> BoxFuture<'_, Result<Json, ReplicationError>> {
        Box::pin(async move {
            let m = self.metrics();
            let membership = m.membership_config.membership();
            if membership.get_node(&node_id).is_none() {
                return Err(ReplicationError::Refused(format!(
                    "node {node_id} is not a member"
                )));
            }
            let is_voter = membership.voter_ids().any(|id| id == node_id);
            if is_voter {
                self.membership(ChangeMembers::RemoveVoters(BTreeSet::from([node_id])))
                    .await?;
            }
            self.membership(ChangeMembers::RemoveNodes(BTreeSet::from([node_id])))
                .await
        })
    }

    fn metrics_text(&self) -> String {
        let m = self.metrics();
        let mut out = String::new();
        let leader = u64::from(m.state == ServerState::Leader);
        let _ = writeln!(out, "# HELP cairn_raft_term Current Raft term.\n# TYPE cairn_raft_term gauge\ncairn_raft_term {}", m.current_term);
        let _ = writeln!(out, "# HELP cairn_raft_is_leader 1 on the leader.\n# TYPE cairn_raft_is_leader gauge\ncairn_raft_is_leader {leader}");
        let _ = writeln!(out, "# HELP cairn_raft_leader_id The leader's node id (0: none known).\n# TYPE cairn_raft_leader_id gauge\ncairn_raft_leader_id {}", m.current_leader.unwrap_or(0));
        let _ = writeln!(out, "# HELP cairn_raft_last_log_index Last index in this node's log.\n# TYPE cairn_raft_last_log_index gauge\ncairn_raft_last_log_index {}", m.last_log_index.unwrap_or(0));
        let _ = writeln!(out, "# HELP cairn_raft_applied_index Last index applied to the database.\n# TYPE cairn_raft_applied_index gauge\ncairn_raft_applied_index {}", self.state_machine.applied_index());
        let _ = writeln!(out, "# HELP cairn_raft_elections_total Terms begun since start.\n# TYPE cairn_raft_elections_total counter\ncairn_raft_elections_total {}", self.elections.load(Ordering::Relaxed));
        if let Some(commit) = Self::commit_index(&m) {
            let _ = writeln!(out, "# HELP cairn_raft_commit_index Highest index a majority holds (leader only).\n# TYPE cairn_raft_commit_index gauge\ncairn_raft_commit_index {commit}");
        }
        let _ = writeln!(out, "# HELP cairn_raft_snapshot_index Last index in this node's latest snapshot (0: none).\n# TYPE cairn_raft_snapshot_index gauge\ncairn_raft_snapshot_index {}", m.snapshot.map_or(0, |l| l.index));
        let _ = writeln!(out, "# HELP cairn_raft_purged_index Last index purged from this node's log (0: none).\n# TYPE cairn_raft_purged_index gauge\ncairn_raft_purged_index {}", m.purged.map_or(0, |l| l.index));
        let _ = writeln!(out, "# HELP cairn_raft_snapshots_built_total Snapshots built since start.\n# TYPE cairn_raft_snapshots_built_total counter\ncairn_raft_snapshots_built_total {}", self.state_machine.snapshots_built());
        let _ = writeln!(out, "# HELP cairn_raft_snapshots_sent_total Snapshots sent whole to followers since start.\n# TYPE cairn_raft_snapshots_sent_total counter\ncairn_raft_snapshots_sent_total {}", self.network.snapshots_sent());
        let _ = writeln!(out, "# HELP cairn_raft_snapshots_installed_total Snapshots this node installed from a leader.\n# TYPE cairn_raft_snapshots_installed_total counter\ncairn_raft_snapshots_installed_total {}", self.installs);
        if let Some(replication) = &m.replication {
            let _ = writeln!(out, "# HELP cairn_raft_follower_lag Entries a follower is behind the leader's log.\n# TYPE cairn_raft_follower_lag gauge");
            let last = m.last_log_index.unwrap_or(0);
            for (id, matched) in replication {
                let at = matched.map_or(0, |l| l.index);
                let _ = writeln!(
                    out,
                    "cairn_raft_follower_lag{{node=\"{id}\"}} {}",
                    last.saturating_sub(at)
                );
            }
        }
        out
    }
}
