//! TLS with rustls (ring provider: no C toolchain or cmake needed, unlike aws-lc-rs).

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use crate::config::TlsConfig;
use crate::error::ServerError;

/// Builds the acceptor from the configured PEM files; errors name the file and the problem.
pub fn acceptor(config: &TlsConfig) -> Result<TlsAcceptor, ServerError> {
    let mut server = server_config(config)?;
    // The server speaks HTTP/1.1 only.
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(server)))
}

/// The rustls configuration of the configured certificate and key, without ALPN protocols
/// (HTTPS sets `http/1.1`; the SQL port, `cairn_sql::pg::tls`, sets `postgresql`).
pub fn server_config(config: &TlsConfig) -> Result<ServerConfig, ServerError> {
    let certs = load_certs(&config.cert)?;
    let key = PrivateKeyDer::from_pem_file(&config.key).map_err(|err| {
        ServerError::Tls(format!(
            "cannot read a private key from {}: {err}",
            config.key.display()
        ))
    })?;
    ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|err| ServerError::Tls(err.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|err| ServerError::Tls(format!("certificate and key do not fit: {err}")))
}

/// The PEM certificates in `path` (a chain: leaf first); an unreadable file or one holding
/// none is a [`ServerError::Tls`] naming it. The cluster link loads its certificates here too.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ServerError> {
    let unreadable = |err: &dyn std::fmt::Display| {
        ServerError::Tls(format!(
            "cannot read certificates from {}: {err}",
            path.display()
        ))
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|err| unreadable(&err))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| unreadable(&err))?;
    if certs.is_empty() {
        return Err(ServerError::Tls(format!(
            "{} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}
