//! Starting and stopping the server: open the database, create the first user, bind, accept
//! connections (plain or TLS) and, on shutdown, stop accepting, let requests in flight finish
//! within the deadline, and flush the database so everything acknowledged is durable in every
//! storage mode.

use cairn::query::QueryStats;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use cairn::{Config, Database, StorageMode};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::auth::cache::TokenCache;
use crate::auth::credentials::ClientAddr;
use crate::auth::store::{self, RootBootstrap};
use crate::config::ServerConfig;
use crate::error::ServerError;
use crate::limits::{
    COMMIT_POLL_INTERVAL, HEADER_READ_TIMEOUT, IDEMPOTENCY_PRUNE_INTERVAL, TLS_HANDSHAKE_TIMEOUT,
};
use crate::metrics::Metrics;
use crate::parse_errors::JsonParseErrors;
use crate::read_pool::ReadPool;
use crate::routes;
use crate::state::AppState;
use crate::tls;

/// Pause after a failed `accept` (typically out of file descriptors) before trying again, so
/// the loop does not spin while the condition lasts.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// What the server started with, for the operator.
#[derive(Debug, Clone)]
pub struct StartupInfo {
    /// The address actually bound (the port is filled in when 0 was asked for).
    pub local_addr: SocketAddr,
    /// The metrics listener's bound address, when one was configured.
    pub metrics_addr: Option<SocketAddr>,
    /// Whether it serves HTTPS.
    pub tls: bool,
    /// What happened to the `root` user; `None` when authentication is off.
    pub root: Option<RootBootstrap>,
    /// The storage mode.
    pub mode: StorageMode,
    /// The database folder.
    pub data_dir: PathBuf,
}

impl StartupInfo {
    /// The base URL clients use.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr)
    }
}

/// A server accepting connections. Stop it with [`RunningServer::shutdown`].
pub struct RunningServer {
    info: StartupInfo,
    db: Database,
    shutdown: watch::Sender<bool>,
    accept_task: JoinHandle<()>,
}

/// Opens the database, creates `root` on first start, binds and starts accepting. Returns
/// once the server is ready to serve.
pub async fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
    config.validate()?;
    let tls = config.tls.as_ref().map(tls::acceptor).transpose()?;
    let mode = config.storage_mode()?;
    let (db, root) = open_database(&config, mode).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Bind {
            address: config.listen,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
        address: config.listen,
        source,
    })?;
    let metrics_listener = match config.metrics_listen {
        Some(address) => Some(
            TcpListener::bind(address)
                .await
                .map_err(|source| ServerError::Bind { address, source })?,
        ),
        None => None,
    };
    let metrics_addr = metrics_listener
        .as_ref()
        .and_then(|listener| listener.local_addr().ok());
    let (shutdown, shutdown_rx) = watch::channel(false);
    let (commits, commits_rx) = watch::channel(db.last_seq());
    let notifier_db = db.clone();
    let notifier_shutdown = shutdown_rx.clone();
    // Ends within one poll interval of shutdown; it only reads, so it is not awaited.
    tokio::task::spawn_blocking(move || notify_commits(&notifier_db, &commits, &notifier_shutdown));
    let cluster = match &config.replication {
        Some(starter) => Some(
            (starter.0)(db.clone())
                .await
                .map_err(ServerError::Cluster)?,
        ),
        None => None,
    };
    let sources = match &config.sources {
        Some(starter) => {
            Some((starter.0)(db.clone(), shutdown_rx.clone()).map_err(ServerError::Sources)?)
        }
        None => None,
    };
    let limits = config.limits.clone();
    tokio::spawn(prune_idempotency(
        db.clone(),
        limits.idempotency_retention(),
        shutdown_rx.clone(),
    ));
    let state = Arc::new(AppState {
        db: db.clone(),
        auth_enabled: config.auth.enabled,
        requests: Arc::new(Semaphore::new(limits.max_concurrent_requests)),
        streams: Arc::new(Semaphore::new(limits.max_change_streams)),
        reads: ReadPool::new(crate::read_pool::default_threads())?,
        tokens: Arc::new(TokenCache::new().map_err(|err| ServerError::AuthStore(err.message))?),
        logins: Arc::default(),
        backup_root: config.backup.root.clone(),
        auto_create_collections: config.auto_create_collections,
        backups: Arc::new(Semaphore::new(1)),
        metrics: Metrics::new()?,
        commits: commits_rx,
        shutdown: shutdown_rx.clone(),
        limits: limits.clone(),
        query_stats: QueryStats::new(limits.slow_query()),
        index_builds: Default::default(),
        cluster,
        sources,
    });
    if let Some(listener) = metrics_listener {
        let metrics_app = routes::system::metrics_router(state.clone());
        let mut stop = shutdown_rx.clone();
        // Ends with shutdown; scrapes are short, so it is not awaited.
        tokio::spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|&stopping| stopping).await;
            };
            let serving = axum::serve(listener, metrics_app).with_graceful_shutdown(stopped);
            if let Err(err) = serving.await {
                tracing::warn!(%err, "the metrics listener stopped");
            }
        });
    }
    let app = routes::router(state);
    let acceptor = Acceptor {
        listener,
        tls: tls.clone(),
        app,
        connections: Arc::new(Semaphore::new(limits.max_connections)),
    };
    let accept_task = tokio::spawn(acceptor.run(shutdown_rx, limits.shutdown_deadline()));
    let info = StartupInfo {
        local_addr,
        metrics_addr,
        tls: tls.is_some(),
        root,
        mode,
        data_dir: config.data_dir.clone(),
    };
    tracing::info!(url = %info.url(), mode = mode.name(), "listening");
    Ok(RunningServer {
        info,
        db,
        shutdown,
        accept_task,
    })
}

impl RunningServer {
    /// What the server started with.
    pub fn info(&self) -> &StartupInfo {
        &self.info
    }

    /// The open database (for servers started beside this one, such as the SQL server).
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Serves until `signal` completes, then shuts down gracefully.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> Result<(), ServerError> {
        signal.await;
        self.shutdown().await
    }

    /// Stops accepting, waits for requests in flight up to the shutdown deadline (then aborts
    /// them), ends change streams, and flushes the database.
    pub async fn shutdown(self) -> Result<(), ServerError> {
        tracing::info!("shutting down");
        let _ = self.shutdown.send(true);
        self.accept_task
            .await
            .map_err(|err| ServerError::Task(err.to_string()))?;
        let db = self.db;
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|err| ServerError::Task(err.to_string()))??;
        tracing::info!("stopped; every acknowledged write is durable");
        Ok(())
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

/// Opens the database and, with authentication on, makes sure a first user exists.
async fn open_database(
    config: &ServerConfig,
    mode: StorageMode,
) -> Result<(Database, Option<RootBootstrap>), ServerError> {
    let mut db_config = Config::new(&config.data_dir, mode);
    db_config.encryption = config.database.encryption.clone();
    if let Some(compression) = config.database.compression {
        db_config.compression = compression;
    }
    if let Some(retention) = config.storage.changelog_retention {
        db_config.changelog_retention = retention;
    }
    if let Some(mb) = config.storage.wal_checkpoint_mb {
        db_config.wal.checkpoint_bytes = mb.saturating_mul(1024 * 1024);
    }
    let auth = config.auth.enabled;
    let root_password = config.root_password.clone();
    tokio::task::spawn_blocking(move || {
        let db = cairn::open(db_config)?;
        let root = if auth {
            Some(store::bootstrap(&db, root_password.as_deref())?)
        } else {
            // The user collections exist either way, so admins can prepare users before
            // switching authentication on.
            store::create_collections(&db)?;
            store::upgrade_legacy_records(&db)
                .map_err(|err| ServerError::AuthStore(err.message))?;
            None
        };
        crate::idempotency::create_collection(&db)?;
        crate::consumers::create_collection(&db)?;
        Ok((db, root))
    })
    .await
    .map_err(|err| ServerError::Task(err.to_string()))?
}

/// Publishes every new commit's sequence number for change streams, until shutdown — or until
/// the server is dropped without one (its shutdown sender or every commit receiver gone), so a
/// runtime being dropped never waits on this thread.
fn notify_commits(db: &Database, commits: &watch::Sender<u64>, shutdown: &watch::Receiver<bool>) {
    let mut seen = db.last_seq();
    while !*shutdown.borrow() && shutdown.has_changed().is_ok() && !commits.is_closed() {
        let latest = db.wait_for_commit_after(seen, COMMIT_POLL_INTERVAL);
        if latest > seen {
            seen = latest;
            commits.send_replace(latest);
        }
    }
}

/// Prunes expired idempotency records every [`IDEMPOTENCY_PRUNE_INTERVAL`] until shutdown.
async fn prune_idempotency(db: Database, retention: Duration, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(IDEMPOTENCY_PRUNE_INTERVAL) => {}
            _ = shutdown.changed() => return,
        }
        let db = db.clone();
        match tokio::task::spawn_blocking(move || crate::idempotency::prune(&db, retention)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(pruned)) => tracing::debug!(pruned, "pruned expired idempotency records"),
            Ok(Err(err)) => {
                tracing::warn!(code = err.code, message = %err.message, "pruning idempotency records")
            }
            Err(err) => tracing::warn!(%err, "pruning idempotency records"),
        }
    }
}

/// The accept loop's parts.
struct Acceptor {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    connections: Arc<Semaphore>,
}

impl Acceptor {
    /// Accepts until shutdown, then waits up to `deadline` for open connections to finish
    /// their requests (idle keep-alive connections close at once).
    async fn run(self, mut shutdown: watch::Receiver<bool>, deadline: Duration) {
        let graceful = GracefulShutdown::new();
        loop {
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        tracing::warn!(%err, "accept failed");
                        tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                        continue;
                    }
                },
                // The sender only ever sends `true` (or is dropped): either way, stop.
                _ = shutdown.changed() => break,
            };
            let Ok(permit) = self.connections.clone().try_acquire_owned() else {
                tracing::warn!(%peer, "connection limit reached; closing the new connection");
                continue;
            };
            let _ = stream.set_nodelay(true);
            let watcher = graceful.watcher();
            let app = self.app.clone();
            let tls = self.tls.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let client = ClientAddr(peer.ip());
                match tls {
                    None => serve_connection(stream, app, client, watcher).await,
                    Some(acceptor) => serve_tls(stream, acceptor, app, client, watcher).await,
                }
            });
        }
        drop(self.listener);
        if tokio::time::timeout(deadline, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("shutdown deadline passed; aborting requests still in flight");
        }
    }
}

async fn serve_tls(
    stream: TcpStream,
    acceptor: TlsAcceptor,
    app: Router,
    client: ClientAddr,
    watcher: hyper_util::server::graceful::Watcher,
) {
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => serve_connection(stream, app, client, watcher).await,
        Ok(Err(err)) => tracing::debug!(%err, "TLS handshake failed"),
        Err(_) => tracing::debug!("TLS handshake timed out"),
    }
}

/// Serves one connection; each request carries the peer's address ([`ClientAddr`]).
async fn serve_connection<S>(
    stream: S,
    app: Router,
    client: ClientAddr,
    watcher: hyper_util::server::graceful::Watcher,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let app = tower::util::MapRequest::new(
        app,
        move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(client);
            request
        },
    );
    let connection = builder.serve_connection(
        TokioIo::new(JsonParseErrors::new(stream)),
        TowerToHyperService::new(app),
    );
    if let Err(err) = watcher.watch(connection).await {
        tracing::debug!(%err, "connection ended with an error");
    }
}
