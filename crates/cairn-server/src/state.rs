//! What every handler shares, and the ways handlers reach the database: [`AppState::run`]
//! (work that writes, on Tokio's blocking pool), [`AppState::read`] (short reads) and
//! [`AppState::scan`] (queries), on the two lanes of reader threads of [`crate::read_pool`]. Each authenticates, authorizes and does the work
//! in a single trip off the async runtime: the engine's API blocks; the runtime never waits.

use cairn::query::QueryStats;
use std::path::PathBuf;
use std::sync::Arc;

use cairn::Database;
use tokio::sync::{watch, Semaphore};

use crate::api_error::ApiError;
use crate::auth::cache::TokenCache;
use crate::auth::credentials::Credentials;
use crate::auth::login::{self, Login, LoginGuard};
use crate::auth::{store, Need, Principal};
use crate::config::LimitsConfig;
use crate::metrics::Metrics;
use crate::read_pool::{Lane, ReadPool};

/// State shared by all handlers.
pub struct AppState {
    /// The database.
    pub db: Database,
    /// Whether requests must authenticate.
    pub auth_enabled: bool,
    /// The configured limits.
    pub limits: LimitsConfig,
    /// Request metrics.
    pub metrics: Metrics,
    /// The latest committed sequence number, published by the commit notifier; change streams
    /// wait on it instead of each holding a blocking thread.
    pub commits: watch::Receiver<u64>,
    /// Becomes `true` when shutdown begins: readiness fails and change streams end.
    pub shutdown: watch::Receiver<bool>,
    /// Permits for requests in progress ([`LimitsConfig::max_concurrent_requests`]).
    pub requests: Arc<Semaphore>,
    /// Permits for open change streams ([`LimitsConfig::max_change_streams`]).
    pub streams: Arc<Semaphore>,
    /// Threads for short reads.
    pub reads: ReadPool,
    /// Resolved bearer tokens and verified passwords; routes that change users or tokens
    /// invalidate it.
    pub tokens: Arc<TokenCache>,
    /// Where online backups may be written (`[backup] root`); `None` turns the route off.
    pub backup_root: Option<PathBuf>,
    /// One permit: one online backup at a time (two into one folder would interleave).
    pub backups: Arc<Semaphore>,
    /// Bounds and throttles password verification.
    pub logins: Arc<LoginGuard>,
    /// Writes that store documents create a missing collection first (the
    /// `auto_create_collections` setting; off by default).
    pub auto_create_collections: bool,
    /// Query statistics per shape and the slow-query log, fed by the query routes.
    pub query_stats: QueryStats,
    /// Index builds run by this server and how far each got (`.../indexes/{name}/build`).
    pub index_builds: crate::index_builds::IndexBuilds,
    /// The replication layer on a cluster; `None` on a single node.
    pub cluster: Option<Arc<dyn crate::replication::Replication>>,
    /// External sources (`/v1/sources`), from the SQL layer through `cairn serve`; `None`
    /// when the server runs without it.
    pub sources: Option<Arc<dyn crate::routes::sources::Sources>>,
}

/// The state as handlers receive it.
pub type SharedState = Arc<AppState>;

impl AppState {
    /// Authenticates `credentials`, checks `need`, then runs `op`, all on the blocking pool:
    /// for work that writes (and so waits for a commit).
    pub async fn run<T, F>(
        &self,
        credentials: Credentials,
        need: Need,
        op: F,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Database, &Principal) -> Result<T, ApiError> + Send + 'static,
    {
        let login = self.login(credentials).await?;
        blocking(self.authorized(login, need, op)).await
    }

    /// Like [`AppState::run`], on the read pool: for work that only reads (point gets,
    /// listings, change-log pages, statistics). A password not verified before still goes to
    /// the blocking pool: checking it takes milliseconds by design, and must not hold up reads.
    pub async fn read<T, F>(
        &self,
        credentials: Credentials,
        need: Need,
        op: F,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Database, &Principal) -> Result<T, ApiError> + Send + 'static,
    {
        self.read_in(Lane::Point, credentials, need, op).await
    }

    /// Like [`AppState::read`], on the scan lane: for reads whose cost grows with the data
    /// (queries, counts, aggregations), so they never hold up point reads.
    pub async fn scan<T, F>(
        &self,
        credentials: Credentials,
        need: Need,
        op: F,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Database, &Principal) -> Result<T, ApiError> + Send + 'static,
    {
        self.read_in(Lane::Scan, credentials, need, op).await
    }

    async fn read_in<T, F>(
        &self,
        lane: Lane,
        credentials: Credentials,
        need: Need,
        op: F,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Database, &Principal) -> Result<T, ApiError> + Send + 'static,
    {
        let login = self.login(credentials).await?;
        let checks_password = login.checks_password();
        let work = self.authorized(login, need, op);
        if checks_password {
            blocking(work).await
        } else {
            self.reads.run(lane, work).await
        }
    }

    /// The async part of authentication ([`login::prepare`]).
    pub async fn login(&self, credentials: Credentials) -> Result<Login, ApiError> {
        login::prepare(self.auth_enabled, &self.tokens, &self.logins, credentials).await
    }

    /// The work with authentication and authorization in front of it.
    fn authorized<T, F>(
        &self,
        login: Login,
        need: Need,
        op: F,
    ) -> impl FnOnce() -> Result<T, ApiError> + Send + 'static
    where
        T: Send + 'static,
        F: FnOnce(&Database, &Principal) -> Result<T, ApiError> + Send + 'static,
    {
        let db = self.db.clone();
        let tokens = self.tokens.clone();
        let logins = self.logins.clone();
        move || {
            let principal: Arc<Principal> = store::authenticate(&db, &tokens, &logins, login)?;
            principal.authorize(&need)?;
            op(&db, &principal)
        }
    }

    /// Whether shutdown has begun.
    pub fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}

/// Runs blocking work on the blocking pool.
pub async fn blocking<T, F>(work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| ApiError::internal(format!("blocking task failed: {err}")))?
}
