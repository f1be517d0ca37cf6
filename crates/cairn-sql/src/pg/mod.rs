//! The PostgreSQL wire-protocol server (`cairn serve --pg-listen`): psql, psycopg and other
//! drivers connect, log in with SCRAM-SHA-256 as a Cairn user, and run SQL in a
//! [`SqlSession`](crate::SqlSession) limited to the user's grants.
//!
//! * [`auth`]: SCRAM against the verifier stored with each user; [`handler`]: the simple and
//!   extended query protocols of one connection; [`encode`]: Arrow results as rows;
//!   [`meta`]: psql's catalog queries; [`driver_queries`] (and [`driver_jdbc`]): those of
//!   SQLAlchemy and JDBC; [`pg_catalog`]: the tables, columns and indexes both describe.
//! * Limits: at most `max_connections` at once (a connection over it is refused with
//!   `53300 too_many_connections`), a statement timeout per session (`SET statement_timeout`
//!   changes it), cancel requests (psql's Ctrl-C) through pgwire's connection manager.
//! * [`tls`]: with a certificate, TLS on `SSLRequest`, and plain text refused (`28000`).

pub mod auth;
pub mod copy;
pub mod driver_jdbc;
pub mod driver_queries;
pub mod encode;
pub mod handler;
pub mod meta;
pub mod pg_catalog;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use pgwire::api::auth::sasl::scram::ScramAuth;
use pgwire::api::auth::sasl::SASLAuthStartupHandler;
use pgwire::api::auth::DefaultServerParameterProvider;
use pgwire::api::cancel::DefaultCancelHandler;
use pgwire::api::{ConnectionManager, PgWireServerHandlers};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use auth::PgUsers;
use handler::{Connection, Handler};

/// How the server runs.
#[derive(Debug, Clone)]
pub struct PgConfig {
    /// Connections served at once.
    pub max_connections: usize,
    /// Default statement timeout.
    pub statement_timeout: Duration,
    /// TLS, when the server has a certificate ([`tls::PgTls`]).
    pub tls: Option<tls::PgTls>,
}

impl Default for PgConfig {
    fn default() -> Self {
        PgConfig {
            max_connections: crate::limits::DEFAULT_MAX_PG_CONNECTIONS,
            statement_timeout: crate::limits::DEFAULT_STATEMENT_TIMEOUT,
            tls: None,
        }
    }
}

/// The handlers pgwire asks for, per connection.
struct Handlers {
    handler: Arc<Handler>,
    startup: Arc<tls::TlsGate<SASLAuthStartupHandler<DefaultServerParameterProvider>>>,
    cancel: Arc<DefaultCancelHandler>,
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl pgwire::api::query::SimpleQueryHandler> {
        self.handler.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl pgwire::api::query::ExtendedQueryHandler> {
        self.handler.clone()
    }

    fn startup_handler(&self) -> Arc<impl pgwire::api::auth::StartupHandler> {
        self.startup.clone()
    }

    fn copy_handler(&self) -> Arc<impl pgwire::api::copy::CopyHandler> {
        self.handler.clone()
    }

    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        self.cancel.clone()
    }
}

/// A bound server, ready to [`PgServer::run`].
pub struct PgServer {
    listener: TcpListener,
    db: cairn::Database,
    users: Arc<dyn PgUsers>,
    config: PgConfig,
}

impl PgServer {
    /// Binds `addr`.
    pub async fn bind(
        addr: SocketAddr,
        db: cairn::Database,
        users: Arc<dyn PgUsers>,
        config: PgConfig,
    ) -> std::io::Result<PgServer> {
        Ok(PgServer {
            listener: TcpListener::bind(addr).await?,
            db,
            users,
            config,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves connections until `shutdown` completes.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let permits = Arc::new(Semaphore::new(self.config.max_connections));
        let manager = Arc::new(ConnectionManager::new());
        let parameters = Arc::new(server_parameters());
        let acceptor = self.config.tls.as_ref().map(|t| t.acceptor.clone());
        let tls_required = self.config.tls.as_ref().is_some_and(|t| t.required);
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                () = &mut shutdown => return,
            };
            let Ok((socket, _peer)) = accepted else {
                continue;
            };
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                tokio::spawn(refuse_over_limit(socket));
                continue;
            };
            let connection = Connection::new(
                self.db.clone(),
                self.users.clone(),
                Some(self.config.statement_timeout),
            );
            let scram = ScramAuth::new(Arc::new(auth::ScramSource::new(self.users.clone())));
            let startup = SASLAuthStartupHandler::new(parameters.clone())
                .with_scram(scram)
                .with_connection_manager(manager.clone());
            let handlers = Handlers {
                handler: Arc::new(Handler::new(connection)),
                startup: Arc::new(tls::TlsGate::new(Arc::new(startup), tls_required)),
                cancel: Arc::new(DefaultCancelHandler::new(manager.clone())),
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _permit = permit;
                if let Err(err) = pgwire::tokio::process_socket(socket, acceptor, handlers).await {
                    tracing::debug!(%err, "pg connection ended with an error");
                }
            });
        }
    }
}

/// The `server_version` the server reports (drivers read PostgreSQL's major version from it;
/// `version()` answers `PostgreSQL ` followed by it).
pub fn server_version() -> String {
    format!("15.0 (Cairn {})", env!("CARGO_PKG_VERSION"))
}

fn server_parameters() -> DefaultServerParameterProvider {
    let mut parameters = DefaultServerParameterProvider::default();
    parameters.server_version = server_version();
    parameters
}

/// Answers a connection over the limit with PostgreSQL's `53300` before the startup
/// exchange, as PostgreSQL does.
async fn refuse_over_limit(mut socket: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Read (and ignore) the startup packet, then send an ErrorResponse.
    let mut buf = [0u8; 1024];
    let _ = tokio::time::timeout(Duration::from_secs(1), socket.read(&mut buf)).await;
    let mut body = Vec::new();
    for (tag, text) in [
        (b'S', "FATAL"),
        (b'C', "53300"),
        (b'M', "sorry, too many clients already"),
    ] {
        body.push(tag);
        body.extend_from_slice(text.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut message = vec![b'E'];
    message.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    message.extend_from_slice(&body);
    let _ = socket.write_all(&message).await;
}

/// A user store with no users (tests of the protocol layer use their own).
#[derive(Debug)]
pub struct NoUsers;

impl PgUsers for NoUsers {
    fn scram_verifier(&self, _user: &str) -> Result<Option<String>, String> {
        Ok(None)
    }

    fn authorizer(&self, _user: &str) -> Result<Arc<dyn crate::txn::Authorizer>, String> {
        Err("no users".into())
    }
}
