//! The webhook's HTTP surface with bad input, in process over loopback TLS (no API server
//! needed): truncated, oversized and wrong-kind bodies get 400/413 with a message, a
//! good review still gets its answer afterwards, and the rejections are counted.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use plinth_admission::Guard;
use plinth_admission::cluster::ClusterSource;
use plinth_admission::server::{self, ServeOptions, Shared};
use plinth_admission::tls::CertFiles;
use plinth_guard::pss::{self, Level, LevelVersion, Policy, Version};
use serde_json::{Value, json};

const LIMIT: usize = 64 << 10;

struct Running {
    server: server::Server,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.server.addr.port())
    }

    async fn post(&self, body: impl Into<reqwest::Body>) -> (u16, String) {
        let resp = self
            .client
            .post(self.url("/validate?timeout=10s"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("body"))
    }
}

async fn start() -> Running {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("params");
    let cert = params.self_signed(&key).expect("cert");
    let files = CertFiles {
        cert: dir.path().join("tls.crt"),
        key: dir.path().join("tls.key"),
    };
    std::fs::write(&files.cert, cert.pem()).expect("write cert");
    std::fs::write(&files.key, key.serialize_pem()).expect("write key");

    let restricted = LevelVersion::new(Level::Restricted, Version::Latest);
    let guard = Guard {
        pss: pss::Config {
            defaults: Policy {
                enforce: restricted,
                audit: restricted,
                warn: restricted,
            },
            ..Default::default()
        },
        policies: Arc::new(plinth_guard::library::defaults().expect("shipped policies")),
    };
    let mut labels = BTreeMap::new();
    labels.insert("apps".to_owned(), BTreeMap::new());
    let shared = Shared::new(guard, ClusterSource::Fixed(labels));
    shared.set_ready();
    let mut options = ServeOptions::new(SocketAddr::from(([127, 0, 0, 1], 0)), files);
    options.max_body_bytes = LIMIT;
    let server = server::start(&options, shared).await.expect("server");
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.pem().as_bytes()).expect("ca"))
        .build()
        .expect("client");
    Running {
        server,
        client,
        _dir: dir,
    }
}

fn review(pod: Value) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "7a0e3c1f-0000-4000-8000-000000000001",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "operation": "CREATE",
            "namespace": "apps",
            "name": "web",
            "userInfo": {"username": "alice"},
            "object": pod,
        }
    })
}

fn privileged_pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "apps"},
        "spec": {"containers": [{
            "name": "app", "image": "registry.k8s.io/pause:3.10",
            "securityContext": {"privileged": true}
        }]}
    })
}

#[tokio::test]
async fn bad_bodies_get_400_or_413_with_a_message_and_good_ones_still_work() {
    let running = start().await;
    let good = serde_json::to_vec(&review(privileged_pod())).expect("json");

    // Truncated in the middle of the object.
    let (status, body) = running.post(good[..good.len() / 2].to_vec()).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not valid JSON"), "{body}");
    assert!(
        body.contains("AdmissionReview"),
        "says what to send: {body}"
    );

    // Empty body.
    let (status, body) = running.post(Vec::new()).await;
    assert_eq!(status, 400, "{body}");

    // Over the limit: refused before it is parsed.
    let mut huge = review(privileged_pod());
    huge["request"]["object"]["metadata"]["annotations"] = json!({"pad": "x".repeat(LIMIT)});
    let (status, body) = running.post(serde_json::to_vec(&huge).expect("json")).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("AdmissionReview"), "{body}");

    // Wrong kind: a bare Pod, and a v1beta1 review.
    let (status, body) = running
        .post(serde_json::to_vec(&privileged_pod()).expect("json"))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("expected apiVersion admission.k8s.io/v1 and kind AdmissionReview"),
        "{body}"
    );
    assert!(body.contains("\"Pod\""), "names what it got: {body}");
    let mut beta = review(privileged_pod());
    beta["apiVersion"] = json!("admission.k8s.io/v1beta1");
    let (status, body) = running.post(serde_json::to_vec(&beta).expect("json")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("admission.k8s.io/v1beta1"), "{body}");

    // Right kind, broken request: the field is named.
    let mut no_uid = review(privileged_pod());
    no_uid["request"]
        .as_object_mut()
        .expect("request")
        .remove("uid");
    let (status, body) = running
        .post(serde_json::to_vec(&no_uid).expect("json"))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("request.uid"), "{body}");
    let mut bad_op = review(privileged_pod());
    bad_op["request"]["operation"] = json!("PATCH");
    let (status, body) = running
        .post(serde_json::to_vec(&bad_op).expect("json"))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("request.operation"), "{body}");

    // The server is still answering, and decides the good review.
    let (status, body) = running.post(good).await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).expect("review json");
    assert_eq!(answer["kind"], "AdmissionReview");
    assert_eq!(
        answer["response"]["uid"],
        "7a0e3c1f-0000-4000-8000-000000000001"
    );
    assert_eq!(answer["response"]["allowed"], false);
    let message = answer["response"]["status"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains(
            "violates PodSecurity \"restricted:latest\": privileged (container \"app\" must not set securityContext.privileged=true)"
        ),
        "{message}"
    );

    // GET is not a review.
    let resp = running
        .client
        .get(running.url("/validate"))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status().as_u16(), 405);

    // Every rejection is counted by reason.
    let metrics = running
        .client
        .get(running.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics body");
    let count = |reason: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.contains("rejected") && l.contains(&format!("reason=\"{reason}\"")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    assert_eq!(count("bad_request"), 6.0, "{metrics}");
    assert_eq!(count("too_large"), 1.0, "{metrics}");

    let health = running
        .client
        .get(running.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
    running.server.shutdown();
}
