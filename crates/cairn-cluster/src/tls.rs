//! Node-to-node mutual TLS: with a node certificate configured, the cluster listener speaks
//! only TLS and asks every caller for a client certificate that chains to the cluster's CA,
//! and every node dials its peers over TLS presenting its own certificate and checking
//! theirs against the same CA. A stranger without such a certificate fails the handshake
//! before any HTTP is read; plaintext gets no HTTP answer at all. The cluster secret is still
//! checked on every request inside the tunnel.
//!
//! rustls with the ring provider, as the server's client-facing TLS (`cairn_server::tls`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::error::ClusterError;
use crate::limits::{MAX_PENDING_TLS_CONNECTIONS, TLS_HANDSHAKE_TIMEOUT};

/// The PEM files of a node's TLS identity on the cluster link.
#[derive(Debug, Clone)]
pub struct LinkTls {
    /// This node's certificate chain, leaf first (its server and its client certificate).
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// The certificates trusted for peers (the CA that signs every node's certificate, or a
    /// certificate all nodes share).
    pub ca: PathBuf,
}

/// Both sides of the link, built once at start.
#[derive(Clone)]
pub(crate) struct Loaded {
    /// What the listener accepts with.
    pub acceptor: TlsAcceptor,
    /// What the client dials with.
    pub client: ureq::tls::TlsConfig,
}

/// Reads the files and builds both sides; errors name the file and the problem.
pub(crate) fn load(tls: &LinkTls) -> Result<Loaded, ClusterError> {
    let chain = certs(&tls.cert)?;
    let key = PrivateKeyDer::from_pem_file(&tls.key).map_err(|err| {
        ClusterError::Tls(format!(
            "cannot read a private key from {}: {err}",
            tls.key.display()
        ))
    })?;
    let trusted = certs(&tls.ca)?;
    let mut roots = RootCertStore::empty();
    for cert in &trusted {
        roots.add(cert.clone()).map_err(|err| {
            ClusterError::Tls(format!(
                "{} holds a certificate that cannot be trusted: {err}",
                tls.ca.display()
            ))
        })?;
    }
    let provider = Arc::new(ring::default_provider());
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|err| ClusterError::Tls(err.to_string()))?;
    let client_key = std::fs::read(&tls.key)
        .map_err(|err| err.to_string())
        .and_then(|pem| ureq::tls::PrivateKey::from_pem(&pem).map_err(|err| err.to_string()))
        .map_err(|err| {
            ClusterError::Tls(format!(
                "cannot read a private key from {}: {err}",
                tls.key.display()
            ))
        })?;
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| ClusterError::Tls(err.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain.clone(), key)
        .map_err(|err| ClusterError::Tls(format!("certificate and key do not fit: {err}")))?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    let as_ureq = |certs: &[CertificateDer<'static>]| -> Vec<ureq::tls::Certificate<'static>> {
        certs
            .iter()
            .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
            .collect()
    };
    let client = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .root_certs(ureq::tls::RootCerts::new_with_certs(&as_ureq(&trusted)))
        .client_cert(Some(ureq::tls::ClientCert::new_with_certs(
            &as_ureq(&chain),
            client_key,
        )))
        .build();
    Ok(Loaded {
        acceptor: TlsAcceptor::from(Arc::new(server)),
        client,
    })
}

/// The PEM certificates in `path`, read as the HTTP server reads its own.
fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ClusterError> {
    cairn_server::tls::load_certs(path).map_err(|err| match err {
        cairn_server::ServerError::Tls(message) => ClusterError::Tls(message),
        other => ClusterError::Tls(other.to_string()),
    })
}

/// A listener that hands axum only connections whose TLS handshake (client certificate
/// included) succeeded. Handshakes run in their own tasks, so a slow or silent caller delays
/// no one else.
pub(crate) struct TlsListener {
    accepted: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `listener` (bound to `local`).
    pub fn new(listener: TcpListener, local: SocketAddr, acceptor: TlsAcceptor) -> TlsListener {
        let (sender, accepted) = mpsc::channel(MAX_PENDING_TLS_CONNECTIONS);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(err) => {
                            tracing::warn!(%err, "cluster listener: accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                    // axum dropped the listener (shutdown): stop accepting.
                    () = sender.closed() => return,
                };
                let _ = stream.set_nodelay(true);
                let acceptor = acceptor.clone();
                let sender = sender.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                    {
                        Ok(Ok(tls)) => {
                            let _ = sender.send((tls, peer)).await;
                        }
                        Ok(Err(err)) => {
                            tracing::warn!(%peer, %err, "refused a node-to-node connection: TLS handshake failed");
                        }
                        Err(_) => {
                            tracing::warn!(%peer, "refused a node-to-node connection: TLS handshake timed out")
                        }
                    }
                });
            }
        });
        TlsListener { accepted, local }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(accepted) => accepted,
            // The accept task only ends once this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}
