//! The serving certificate: read from PEM files, and re-read when they change so a
//! rotated certificate (cert-manager, a Secret update) is picked up without a restart.
//! A half-written pair (new certificate, old key) is refused and the previous pair keeps
//! serving until both files agree.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum_server::tls_rustls::RustlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why the certificate could not be used.
#[derive(Debug, Clone, thiserror::Error)]
#[error("TLS certificate {cert} / key {key}: {problem}")]
pub struct TlsError {
    /// The certificate file.
    pub cert: String,
    /// The key file.
    pub key: String,
    /// What is wrong.
    pub problem: String,
}

/// The certificate and key files.
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

impl CertFiles {
    fn error(&self, problem: impl std::fmt::Display) -> TlsError {
        TlsError {
            cert: self.cert.display().to_string(),
            key: self.key.display().to_string(),
            problem: problem.to_string(),
        }
    }

    /// A rustls server configuration (TLS 1.2 and 1.3 only) from the files.
    pub fn server_config(&self) -> Result<rustls::ServerConfig, TlsError> {
        let certs = CertificateDer::pem_file_iter(&self.cert)
            .map_err(|e| self.error(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.error(e))?;
        if certs.is_empty() {
            return Err(self.error("the certificate file holds no certificate"));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|e| self.error(e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // rustls checks that the key belongs to the leaf certificate.
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| self.error(e))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| self.error(e))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }

    fn stamp(&self) -> Option<(SystemTime, u64, SystemTime, u64)> {
        let meta = |p: &Path| {
            std::fs::metadata(p)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())))
        };
        let (a, b) = meta(&self.cert)?;
        let (c, d) = meta(&self.key)?;
        Some((a, b, c, d))
    }
}

/// Polls the files every `every` and swaps the serving configuration when they change
/// and form a valid pair. `on_reload` is told each attempt's result.
pub fn watch(
    files: CertFiles,
    config: RustlsConfig,
    every: Duration,
    on_reload: impl Fn(Result<(), TlsError>) + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last = files.stamp();
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let now = files.stamp();
            if now.is_none() || now == last {
                continue;
            }
            last = now;
            match files.server_config() {
                Ok(c) => {
                    config.reload_from_config(Arc::new(c));
                    tracing::info!(cert = %files.cert.display(), "serving certificate reloaded");
                    on_reload(Ok(()));
                }
                Err(e) => {
                    // Keep the previous certificate; the next change to either file retries.
                    tracing::warn!(error = %e, "new certificate files are not usable yet");
                    on_reload(Err(e));
                }
            }
        }
    })
}
