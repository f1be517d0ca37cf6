//! TLS on the SQL port: the server's certificate (the `[tls]` of `cairn serve`, the same one
//! HTTPS uses), offered to every client that sends PostgreSQL's `SSLRequest` (and to libpq
//! 17's direct TLS, ALPN `postgresql`); pgwire does the handshake.
//!
//! With TLS configured it is also required: a client that starts in plain text (`psql
//! "sslmode=disable"`, or a driver that does not ask) is refused before authentication with
//! PostgreSQL's own answer to a `hostssl`-only server, `28000 invalid_authorization_specification`,
//! so that no password exchange and no query ever travels unencrypted. HTTPS does the same: a
//! server with `[tls]` speaks no plain HTTP.

use std::fmt::Debug;
use std::sync::Arc;

use futures::Sink;
use pgwire::api::auth::StartupHandler;
use pgwire::api::ClientInfo;
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

/// The server's TLS: the acceptor (certificate and key) and whether plain text is refused.
#[derive(Clone)]
pub struct PgTls {
    /// The TLS acceptor; its rustls configuration should offer ALPN `postgresql`.
    pub acceptor: pgwire::tokio::TlsAcceptor,
    /// Refuse clients that do not negotiate TLS.
    pub required: bool,
}

impl Debug for PgTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTls")
            .field("required", &self.required)
            .finish_non_exhaustive()
    }
}

impl PgTls {
    /// TLS with `config` (a rustls server configuration), required of every client. The
    /// ALPN protocol list is set to `postgresql` (libpq 17's direct TLS checks it).
    pub fn required(mut config: pgwire::tokio::tokio_rustls::rustls::ServerConfig) -> PgTls {
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        PgTls {
            acceptor: pgwire::tokio::TlsAcceptor::from(Arc::new(config)),
            required: true,
        }
    }
}

/// A startup handler that refuses a plain-text connection when TLS is required, then hands
/// every message to `inner` (the SCRAM authentication).
pub struct TlsGate<S> {
    inner: Arc<S>,
    required: bool,
}

impl<S> TlsGate<S> {
    /// Wraps `inner`; `required` refuses clients without TLS.
    pub fn new(inner: Arc<S>, required: bool) -> TlsGate<S> {
        TlsGate { inner, required }
    }
}

/// The message PostgreSQL sends for a plain-text connection to a `hostssl`-only server.
pub const TLS_REQUIRED_MESSAGE: &str =
    "this server accepts only TLS connections (connect with sslmode=require or stronger)";

#[async_trait::async_trait]
impl<S: StartupHandler> StartupHandler for TlsGate<S> {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if self.required && !client.is_secure() {
            return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                "FATAL".to_string(),
                "28000".to_string(),
                TLS_REQUIRED_MESSAGE.to_string(),
            ))));
        }
        self.inner.on_startup(client, message).await
    }
}
