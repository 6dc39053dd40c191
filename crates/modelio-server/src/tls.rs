//! HTTPS (optional): `--tls-cert FILE --tls-key FILE`, PEM files read once at start, served with
//! rustls (TLS 1.2 and 1.3, the `ring` provider, ALPN `http/1.1`). Without them the server speaks
//! plain HTTP; put it behind a reverse proxy that terminates TLS instead if you prefer (README).

use std::path::PathBuf;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;

/// The certificate chain and private key files (PEM).
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

fn bad(what: &str, reason: String) -> io_core::Error {
    io_core::Error::InvalidUrl { url: what.to_string(), reason }
}

/// The TLS acceptor for `files`, or why they cannot be used (naming the option, not the path).
pub(crate) fn acceptor(files: &TlsFiles) -> io_core::Result<tokio_rustls::TlsAcceptor> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| bad("--tls-cert", format!("cannot read the certificate chain: {e}")))?;
    if certs.is_empty() {
        return Err(bad("--tls-cert", "the file holds no PEM certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| bad("--tls-key", format!("cannot read the private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("--tls-cert", format!("TLS setup: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad("--tls-key", format!("the key does not fit the certificate: {e}")))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}
