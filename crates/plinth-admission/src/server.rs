//! `plinth guard serve`: the admission webhook over HTTPS.
//!
//! `POST /validate` takes an `admission.k8s.io/v1` AdmissionReview and answers with the
//! combined Pod Security and constraint decision. Bodies over the limit get 413,
//! malformed ones 400 with the reason; the decision runs on the blocking pool under a
//! deadline taken from the API server's `?timeout=` (minus a margin), so a slow policy
//! turns into a clear error before the API server gives up. `/metrics` and `/healthz`
//! share the listener.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use prometheus_client::registry::Registry;
use serde::Deserialize;

use crate::cluster::ClusterSource;
use crate::decide::Guard;
use crate::metrics::{
    Metrics, PolicyLabel, RejectLabel, RequestLabels, ResultLabel, resource_label,
};
use crate::review::{self, Decision, Operation};
use crate::tls::{self, CertFiles, TlsError};

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Listen address (port 0 picks one).
    pub addr: SocketAddr,
    /// Certificate and key.
    pub tls: CertFiles,
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// Deadline when the API server sends no `timeout`.
    pub default_timeout: Duration,
    /// How often the certificate files are checked for changes.
    pub cert_poll: Duration,
}

impl ServeOptions {
    /// Defaults: 8 MiB bodies (an update carries two objects of up to ~3 MiB each), a 10 s
    /// timeout like the API server's default, certificate checks every second.
    pub fn new(addr: SocketAddr, tls: CertFiles) -> ServeOptions {
        ServeOptions {
            addr,
            tls,
            max_body_bytes: 8 << 20,
            default_timeout: Duration::from_secs(10),
            cert_poll: Duration::from_secs(1),
        }
    }
}

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Certificate problem.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// State shared by requests and the policy source.
pub struct Shared {
    guard: RwLock<Arc<Guard>>,
    cluster: ClusterSource,
    /// The metrics.
    pub metrics: Metrics,
    registry: Registry,
    ready: AtomicBool,
}

impl Shared {
    /// New state with `guard` and `cluster`.
    pub fn new(guard: Guard, cluster: ClusterSource) -> Arc<Shared> {
        let mut registry = Registry::default();
        let metrics = Metrics::register(&mut registry);
        let shared = Shared {
            guard: RwLock::new(Arc::new(Guard::default())),
            cluster,
            metrics,
            registry,
            ready: AtomicBool::new(false),
        };
        shared.set_guard(guard);
        Arc::new(shared)
    }

    /// Swaps in new policies (requests in flight finish with the old ones).
    pub fn set_guard(&self, guard: Guard) {
        self.metrics
            .templates
            .set(guard.policies.templates().count() as i64);
        self.metrics
            .constraints
            .set(guard.policies.constraints().count() as i64);
        if let Ok(mut g) = self.guard.write() {
            *g = Arc::new(guard);
        }
    }

    /// The current policies.
    pub fn guard(&self) -> Arc<Guard> {
        self.guard
            .read()
            .map(|g| Arc::clone(&g))
            .unwrap_or_default()
    }

    /// Marks the policies as loaded (`/healthz` answers 200 from then on).
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }
}

#[derive(Clone)]
struct App {
    shared: Arc<Shared>,
    default_timeout: Duration,
}

#[derive(Deserialize)]
struct ValidateQuery {
    timeout: Option<String>,
}

/// `10s`, `500ms`, `1m` as the API server writes webhook timeouts.
fn parse_timeout(s: &str) -> Option<Duration> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| s.split_at(i));
    let n: u64 = num.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n * 60)),
        _ => None,
    }
}

fn plain(status: StatusCode, message: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message + "\n",
    )
        .into_response()
}

async fn validate(
    State(app): State<App>,
    Query(query): Query<ValidateQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let metrics = &app.shared.metrics;
    let body = match body {
        Ok(b) => b,
        Err(rejection) => {
            let status = rejection.status();
            let reason = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "too_large"
            } else {
                "bad_request"
            };
            metrics
                .rejected
                .get_or_create(&RejectLabel { reason })
                .inc();
            return plain(
                status,
                format!("cannot read the AdmissionReview: {}", rejection.body_text()),
            );
        }
    };
    let request = match review::parse(&body) {
        Ok(r) => r,
        Err(e) => {
            metrics
                .rejected
                .get_or_create(&RejectLabel {
                    reason: "bad_request",
                })
                .inc();
            return plain(StatusCode::BAD_REQUEST, e.to_string());
        }
    };
    // Answer a little before the API server stops waiting, so the caller sees our
    // reason rather than a timeout.
    let budget = query
        .timeout
        .as_deref()
        .and_then(parse_timeout)
        .unwrap_or(app.default_timeout);
    let budget = budget
        .saturating_sub(budget / 5)
        .max(Duration::from_millis(100));
    let deadline = started + budget;

    let namespace_update = request.resource == "namespaces"
        && request.resource_group.is_empty()
        && request.operation == Operation::Update
        && request.sub_resource.is_empty();
    let lookup_ns = if request.resource == "namespaces" && request.resource_group.is_empty() {
        request.name.clone()
    } else {
        request.namespace.clone()
    };
    let prefetched = app
        .shared
        .cluster
        .prefetch(&lookup_ns, namespace_update, budget / 2)
        .await;
    let guard = app.shared.guard();
    let uid = request.uid.clone();
    let resource = resource_label(&request.resource);
    let work = tokio::task::spawn_blocking(move || guard.decide(&request, &prefetched, deadline));
    let outcome = match tokio::time::timeout_at(deadline.into(), work).await {
        Ok(Ok(o)) => o,
        Ok(Err(join)) => {
            tracing::error!(error = %join, "admission decision panicked");
            return error_response(
                &app,
                &uid,
                resource,
                started,
                "the decision failed internally".into(),
            );
        }
        Err(_) => {
            metrics
                .rejected
                .get_or_create(&RejectLabel { reason: "deadline" })
                .inc();
            return error_response(
                &app,
                &uid,
                resource,
                started,
                format!("plinth guard could not decide within {budget:?}"),
            );
        }
    };
    let d = &outcome.decision;
    let decision = if !d.allowed {
        "denied"
    } else if d.warnings.is_empty() {
        "allowed"
    } else {
        "warned"
    };
    if outcome.pss_denied {
        metrics
            .denials
            .get_or_create(&PolicyLabel {
                policy: "PodSecurity".into(),
            })
            .inc();
    }
    for v in outcome.violations.iter().filter(|v| v.denies()) {
        metrics
            .denials
            .get_or_create(&PolicyLabel {
                policy: format!("{}/{}", v.constraint_kind, v.constraint_name),
            })
            .inc();
    }
    metrics
        .request_duration
        .get_or_create(&RequestLabels { resource, decision })
        .observe(started.elapsed().as_secs_f64());
    json_response(review::response(&uid, d))
}

fn error_response(
    app: &App,
    uid: &str,
    resource: &'static str,
    started: Instant,
    message: String,
) -> Response {
    app.shared
        .metrics
        .request_duration
        .get_or_create(&RequestLabels {
            resource,
            decision: "error",
        })
        .observe(started.elapsed().as_secs_f64());
    let d = Decision {
        allowed: false,
        code: 500,
        reason: "InternalError".into(),
        message,
        ..Decision::default()
    };
    json_response(review::response(uid, &d))
}

fn json_response(value: serde_json::Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

async fn metrics(State(app): State<App>) -> Response {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &app.shared.registry) {
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

async fn healthz(State(app): State<App>) -> Response {
    if app.shared.ready.load(Ordering::Relaxed) {
        plain(StatusCode::OK, "ok".into())
    } else {
        plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "policies not loaded yet".into(),
        )
    }
}

/// A running webhook server.
pub struct Server {
    handle: Handle<SocketAddr>,
    reload: tokio::task::JoinHandle<()>,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Server {
    /// Stops accepting and lets open requests finish (at most 5 s).
    pub fn shutdown(&self) {
        self.reload.abort();
        self.handle.graceful_shutdown(Some(Duration::from_secs(5)));
    }
}

/// Starts the server.
pub async fn start(options: &ServeOptions, shared: Arc<Shared>) -> Result<Server, ServeError> {
    let config = RustlsConfig::from_config(Arc::new(options.tls.server_config()?));
    let app = App {
        shared: Arc::clone(&shared),
        default_timeout: options.default_timeout,
    };
    let router = Router::new()
        .route("/validate", post(validate))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .layer(DefaultBodyLimit::max(options.max_body_bytes))
        .with_state(app);
    let reload_shared = Arc::clone(&shared);
    let reload = tls::watch(
        options.tls.clone(),
        config.clone(),
        options.cert_poll,
        move |r| {
            let result = if r.is_ok() { "ok" } else { "error" };
            reload_shared
                .metrics
                .certificate_reloads
                .get_or_create(&ResultLabel { result })
                .inc();
        },
    );
    let handle: Handle<SocketAddr> = Handle::new();
    // TCP_NODELAY: an answer is written in pieces (HTTP/2 HEADERS then DATA), and
    // Nagle's algorithm would hold the second piece until the first is acknowledged.
    let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(config.clone())
        .acceptor(axum_server::accept::NoDelayAcceptor::new());
    let server = axum_server::bind(options.addr)
        .acceptor(acceptor)
        .handle(handle.clone());
    let task = tokio::spawn(async move { server.serve(router.into_make_service()).await });
    match handle.listening().await {
        Some(addr) => Ok(Server {
            handle,
            reload,
            addr,
        }),
        None => {
            reload.abort();
            let source = match task.await {
                Ok(Err(e)) => e,
                _ => std::io::Error::other("the server stopped before listening"),
            };
            Err(ServeError::Bind {
                addr: options.addr,
                source,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_as_the_api_server_writes_them() {
        assert_eq!(parse_timeout("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_timeout("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_timeout("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_timeout("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_timeout("x"), None);
        assert_eq!(parse_timeout("10h"), None);
    }
}
