//! `/metrics`, `/healthz` and `/readyz` over HTTPS.
//!
//! The certificate comes from `--tls-cert-file`/`--tls-private-key-file` (in a cluster:
//! a cert-manager or service-CA certificate). Without them the server makes a
//! self-signed certificate for this process only, kept in memory and never written —
//! scrapers then verify with the serving CA they trust or skip verification explicitly.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use prometheus_client::registry::Registry;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Liveness and readiness flags.
#[derive(Debug, Default)]
pub struct Health {
    /// Caches have been listed at least once.
    pub ready: AtomicBool,
    /// The scheduling loop has not failed.
    pub broken: AtomicBool,
    /// While not ready: what readiness waits for, as `/readyz` reports it.
    pub waiting_for: std::sync::Mutex<String>,
}

/// Where the serving certificate comes from.
#[derive(Debug, Clone, Default)]
pub struct Tls {
    /// PEM certificate chain file.
    pub cert_file: Option<PathBuf>,
    /// PEM private key file.
    pub key_file: Option<PathBuf>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Certificate files missing, unreadable or invalid.
    #[error("TLS for the metrics server: {0}")]
    Tls(String),
    /// The address could not be bound.
    #[error("metrics server on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

#[derive(Clone)]
struct AppState {
    registry: Arc<Registry>,
    health: Arc<Health>,
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &s.registry) {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn healthz(State(s): State<AppState>) -> impl IntoResponse {
    if s.health.broken.load(Ordering::Relaxed) {
        (StatusCode::SERVICE_UNAVAILABLE, "scheduling loop failed\n")
    } else {
        (StatusCode::OK, "ok\n")
    }
}

async fn readyz(State(s): State<AppState>) -> impl IntoResponse {
    if s.health.broken.load(Ordering::Relaxed) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "scheduling loop failed\n".to_owned(),
        );
    }
    if s.health.ready.load(Ordering::Relaxed) {
        return (StatusCode::OK, "ok\n".to_owned());
    }
    let why = s
        .health
        .waiting_for
        .lock()
        .map(|w| w.clone())
        .unwrap_or_default();
    let why = if why.is_empty() {
        "starting".to_owned()
    } else {
        why
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("not ready: {why}\n"),
    )
}

fn server_config(tls: &Tls) -> Result<rustls::ServerConfig, ServerError> {
    let err = |e: &dyn std::fmt::Display| ServerError::Tls(e.to_string());
    let (certs, key): (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) =
        match (&tls.cert_file, &tls.key_file) {
            (Some(c), Some(k)) => {
                let certs = CertificateDer::pem_file_iter(c)
                    .map_err(|e| ServerError::Tls(format!("{}: {e}", c.display())))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| ServerError::Tls(format!("{}: {e}", c.display())))?;
                let key = PrivateKeyDer::from_pem_file(k)
                    .map_err(|e| ServerError::Tls(format!("{}: {e}", k.display())))?;
                (certs, key)
            }
            (None, None) => {
                let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
                let key = rcgen::KeyPair::generate().map_err(|e| err(&e))?;
                let params = rcgen::CertificateParams::new(names).map_err(|e| err(&e))?;
                let cert = params.self_signed(&key).map_err(|e| err(&e))?;
                let key = PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes())
                    .map_err(|e| err(&e))?;
                (vec![cert.der().clone()], key)
            }
            _ => {
                return Err(ServerError::Tls(
                    "give both --tls-cert-file and --tls-private-key-file, or neither".into(),
                ));
            }
        };
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| err(&e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| err(&e))
}

/// A running server.
pub struct Server {
    handle: Handle<SocketAddr>,
    /// The address it listens on.
    pub addr: SocketAddr,
}

impl Server {
    /// Stops accepting and lets open requests finish (at most 5 s).
    pub fn shutdown(&self) {
        self.handle
            .graceful_shutdown(Some(std::time::Duration::from_secs(5)));
    }
}

/// Starts serving on `addr` (port 0 picks a free port).
pub async fn start(
    addr: SocketAddr,
    tls: &Tls,
    registry: Arc<Registry>,
    health: Arc<Health>,
) -> Result<Server, ServerError> {
    let config = RustlsConfig::from_config(Arc::new(server_config(tls)?));
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(AppState { registry, health });
    let handle: Handle<SocketAddr> = Handle::new();
    let server = axum_server::bind_rustls(addr, config).handle(handle.clone());
    let task = tokio::spawn(async move { server.serve(app.into_make_service()).await });
    match handle.listening().await {
        Some(bound) => Ok(Server {
            handle,
            addr: bound,
        }),
        None => {
            let source = match task.await {
                Ok(Err(e)) => e,
                _ => std::io::Error::other("the server stopped before listening"),
            };
            Err(ServerError::Bind { addr, source })
        }
    }
}
