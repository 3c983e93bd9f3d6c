//! The webhook on a real kube-apiserver: registered with a ValidatingWebhookConfiguration
//! (caBundle from a CA made for this test), following ConstraintTemplates and constraints
//! from the cluster under the shipped least-privilege RBAC, deciding real requests — and
//! its certificate rotated on disk while requests keep flowing.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use kube::api::{DynamicObject, ListParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Api, Client};
use plinth_admission::Guard;
use plinth_admission::audit::{self, AuditOptions};
use plinth_admission::cluster::ClusterSource;
use plinth_admission::server::{self, ServeOptions, Shared};
use plinth_admission::source::{self, ClusterOptions};
use plinth_admission::tls::CertFiles;
use plinth_guard::pss;
use plinth_kube::ApplyOptions;
use plinth_testenv::crds::{GATEKEEPER_TEMPLATES, POLICY_REPORTS};
use serde_json::{Value, json};

const TEST_LABEL: &str = "plinth-guard-live";

struct Pki {
    ca_pem: String,
    ca: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl Pki {
    fn new() -> Pki {
        let key = rcgen::KeyPair::generate().expect("CA key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "plinth-guard test CA");
        let cert = params.self_signed(&key).expect("CA cert");
        Pki {
            ca_pem: cert.pem(),
            ca: rcgen::Issuer::new(params, key),
        }
    }

    /// A fresh serving certificate for 127.0.0.1, written to `files` by rename (as a
    /// Secret volume update swaps its files).
    fn issue(&self, files: &CertFiles, serial: u64) {
        let key = rcgen::KeyPair::generate().expect("leaf key");
        let mut params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("leaf params");
        params.serial_number = Some(rcgen::SerialNumber::from(serial));
        let cert = params.signed_by(&key, &self.ca).expect("leaf cert");
        for (path, pem) in [(&files.key, key.serialize_pem()), (&files.cert, cert.pem())] {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, pem).expect("write pem");
            std::fs::rename(&tmp, path).expect("rename pem");
        }
    }
}

async fn apply_file(client: &Client, file: &Path) {
    let docs = plinth_core::manifest::read_paths(&[file]).expect("manifest");
    plinth_kube::Applier::new(client.clone(), "plinth-test")
        .apply_all(
            &docs,
            &ApplyOptions {
                force: true,
                ..Default::default()
            },
        )
        .await
        .expect("apply");
}

async fn namespace(client: &Client, name: &str, labels: &[(&str, &str)]) {
    let mut l: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    l.insert(TEST_LABEL.into(), "true".into());
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": name, "labels": l}})).expect("ns");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
    let sa: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "default"}})).expect("sa");
    Api::<ServiceAccount>::namespaced(client.clone(), name)
        .create(&PostParams::default(), &sa)
        .await
        .expect("default service account");
}

fn pod(name: &str, image: &str, privileged: bool) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": image,
            "securityContext": {"privileged": privileged}}]}})
}

/// Creates a pod with a raw request, so the API server's `Warning` headers are visible.
/// Returns (HTTP status, body, warnings).
async fn create_raw(
    client: &Client,
    namespace: &str,
    object: &Value,
    dry_run: bool,
) -> (u16, Value, Vec<String>) {
    let mut url = format!("/api/v1/namespaces/{namespace}/pods");
    if dry_run {
        url.push_str("?dryRun=All");
    }
    let request = http::Request::post(url)
        .header("content-type", "application/json")
        .body(kube::client::Body::from(object.to_string().into_bytes()))
        .expect("request");
    let response = client.send(request).await.expect("send");
    let status = response.status().as_u16();
    let warnings = response
        .headers()
        .get_all("warning")
        .iter()
        .filter_map(|h| h.to_str().ok().map(str::to_owned))
        .collect();
    let body = response
        .into_body()
        .collect_bytes()
        .await
        .expect("response body");
    (
        status,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
        warnings,
    )
}

async fn patch_namespace_labels(client: &Client, name: &str, labels: Value) -> (u16, Vec<String>) {
    let request = http::Request::patch(format!("/api/v1/namespaces/{name}"))
        .header("content-type", "application/merge-patch+json")
        .body(kube::client::Body::from(
            json!({"metadata": {"labels": labels}})
                .to_string()
                .into_bytes(),
        ))
        .expect("request");
    let response = client.send(request).await.expect("send");
    let warnings = response
        .headers()
        .get_all("warning")
        .iter()
        .filter_map(|h| h.to_str().ok().map(str::to_owned))
        .collect();
    (response.status().as_u16(), warnings)
}

fn webhook_configuration(addr: SocketAddr, ca_pem: &str) -> Value {
    use base64_engine::encode;
    let rule = |groups: &[&str], resources: &[&str]| json!({"apiGroups": groups, "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": resources});
    json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
    "metadata": {"name": "plinth-guard-live"},
    "webhooks": [{
        "name": "pods.guard.plinth.dev",
        "admissionReviewVersions": ["v1"], "sideEffects": "None", "failurePolicy": "Fail",
        "timeoutSeconds": 5,
        "clientConfig": {"url": format!("https://{addr}/validate"), "caBundle": encode(ca_pem.as_bytes())},
        "namespaceSelector": {"matchLabels": {TEST_LABEL: "true"}},
        "rules": [rule(&[""], &["pods", "namespaces"]), rule(&["apps"], &["deployments"])],
    }]})
}

/// Standard base64, written here because the test needs nothing else from a base64
/// crate.
mod base64_engine {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub fn encode(input: &[u8]) -> String {
        let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
        for chunk in input.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

async fn wait_for<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_decides_real_requests_and_survives_certificate_rotation() {
    let env = plinth_testenv::shared();
    let admin = env.client().await.expect("admin client");
    env.install_crds(&admin, &[GATEKEEPER_TEMPLATES, POLICY_REPORTS])
        .await
        .expect("upstream CRDs");

    // The webhook runs as its service account, with exactly the shipped RBAC.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    apply_file(&admin, &root.join("deploy/guard/rbac.yaml")).await;
    let webhook_client = env
        .user_client(
            "system:serviceaccount:plinth-system:plinth-guard",
            &["system:serviceaccounts"],
        )
        .await
        .expect("webhook identity");

    let dir = tempfile::tempdir().expect("tempdir");
    let files = CertFiles {
        cert: dir.path().join("tls.crt"),
        key: dir.path().join("tls.key"),
    };
    let pki = Pki::new();
    pki.issue(&files, 1);

    let namespaces = plinth_kube::watch_cache::WatchCache::start(
        Api::<Namespace>::all(webhook_client.clone()),
        kube::runtime::watcher::Config::default(),
    );
    assert!(
        namespaces.ready(Duration::from_secs(30)).await,
        "namespace cache"
    );
    let shared = Shared::new(
        Guard::default(),
        ClusterSource::Live {
            client: webhook_client.clone(),
            namespaces: namespaces.store().clone(),
        },
    );
    let _policies = source::watch_cluster(
        webhook_client.clone(),
        ClusterOptions {
            manage_crds: None,
            pod_name: "live-test".into(),
            builtin: false,
        },
        pss::Config::default(),
        Arc::clone(&shared),
    );
    let mut options = ServeOptions::new("127.0.0.1:0".parse().expect("addr"), files.clone());
    options.cert_poll = Duration::from_millis(200);
    let running = server::start(&options, Arc::clone(&shared))
        .await
        .expect("webhook starts");

    // Templates from the cluster: the seed's corrected image policy and the library's tag
    // policy. The webhook compiles them, creates their constraint CRDs (Gatekeeper is
    // absent) and reports status.
    let templates_dir = root.join("crates/plinth-guard/policies/templates");
    apply_file(&admin, &templates_dir.join("allowedimageregistries.yaml")).await;
    apply_file(&admin, &templates_dir.join("k8sdisallowedtags.yaml")).await;
    let template_api: Api<DynamicObject> = Api::all_with(
        admin.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("templates.gatekeeper.sh", "v1", "ConstraintTemplate"),
            "constrainttemplates",
        ),
    );
    wait_for("template status created=true", || {
        let api = template_api.clone();
        async move {
            api.get("allowedimageregistries")
                .await
                .ok()
                .and_then(|t| t.data.pointer("/status/created").and_then(Value::as_bool))
                == Some(true)
        }
    })
    .await;
    let applier = plinth_kube::Applier::new(admin.clone(), "plinth-test");
    let force = ApplyOptions {
        force: true,
        ..Default::default()
    };
    wait_for("constraint CRDs", || {
        let admin = admin.clone();
        async move {
            plinth_kube::Applier::new(admin, "plinth-test")
                .resolve("constraints.gatekeeper.sh/v1beta1", "K8sDisallowedTags")
                .await
                .is_some()
        }
    })
    .await;
    applier
        .apply(
            &json!({"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "AllowedImageRegistries",
                "metadata": {"name": "enterprise-image-policy"},
                "spec": {"match": {"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}], "namespaces": ["guard-open"]},
                    "parameters": {"registries": ["registry.k8s.io/"]}}}),
            &force,
        )
        .await
        .expect("image constraint");
    applier
        .apply(
            &json!({"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sDisallowedTags",
                "metadata": {"name": "no-latest"},
                "spec": {"enforcementAction": "dryrun", "match": {"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]},
                    "parameters": {"tags": ["latest"]}}}),
            &force,
        )
        .await
        .expect("dryrun constraint");
    wait_for("both constraints loaded", || {
        let shared = Arc::clone(&shared);
        async move { shared.guard().policies.constraints().count() == 2 }
    })
    .await;

    namespace(
        &admin,
        "guard-restricted",
        &[("pod-security.kubernetes.io/enforce", "restricted")],
    )
    .await;
    namespace(
        &admin,
        "guard-warned",
        &[("pod-security.kubernetes.io/warn", "restricted")],
    )
    .await;
    namespace(&admin, "guard-open", &[]).await;
    applier
        .apply(&webhook_configuration(running.addr, &pki.ca_pem), &force)
        .await
        .expect("register the webhook");
    // Registration takes effect asynchronously in the API server.
    wait_for("the webhook to be called", || {
        let admin = admin.clone();
        async move {
            let (status, _, _) = create_raw(
                &admin,
                "guard-restricted",
                &pod("probe", "registry.k8s.io/pause:3.10", true),
                true,
            )
            .await;
            status == 403
        }
    })
    .await;

    // 1. A privileged pod in a restricted namespace: rejected, upstream's message.
    let (status, body, _) = create_raw(
        &admin,
        "guard-restricted",
        &pod("priv", "registry.k8s.io/pause:3.10", true),
        false,
    )
    .await;
    let message = body["message"].as_str().unwrap_or_default().to_owned();
    assert_eq!(status, 403, "{body}");
    assert!(
        message.contains(
            "pods \"priv\" is forbidden: violates PodSecurity \"restricted:latest\": privileged (container \"app\" must not set securityContext.privileged=true)"
        ),
        "{message}"
    );
    // The webhook's status reaches the client as it is (the API server keeps a status
    // that carries a message), so users see exactly upstream Pod Security's text.
    assert_eq!(body["reason"], "Forbidden", "{body}");

    // 2. The same pod where restricted is only warned about: admitted, with the warning.
    let (status, _, warnings) = create_raw(
        &admin,
        "guard-warned",
        &pod("priv", "registry.k8s.io/pause:3.10", true),
        false,
    )
    .await;
    assert_eq!(status, 201);
    assert!(
        warnings.iter().any(|w| w.contains(
            "would violate PodSecurity \\\"restricted:latest\\\": privileged (container \\\"app\\\" must not set securityContext.privileged=true)"
        ) || w.contains(
            "would violate PodSecurity \"restricted:latest\": privileged (container \"app\" must not set securityContext.privileged=true)"
        )),
        "{warnings:?}"
    );

    // 3. An image from a registry the constraint does not allow: rejected by it.
    let (status, body, _) = create_raw(
        &admin,
        "guard-open",
        &pod("foreign", "docker.io/library/nginx:1.27", false),
        false,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(
            "[enterprise-image-policy] Container image <docker.io/library/nginx:1.27> not from an allowed registry (allowed: [\"registry.k8s.io/\"])"
        ),
        "{message}"
    );

    // 4. A dryrun constraint never rejects...
    let (status, body, _) = create_raw(
        &admin,
        "guard-open",
        &pod("tagged", "registry.k8s.io/pause:latest", false),
        false,
    )
    .await;
    assert_eq!(status, 201, "{body}");

    // ...and relabelling the namespace warns about the pods that would now be rejected.
    let (status, warnings) = patch_namespace_labels(
        &admin,
        "guard-open",
        json!({"pod-security.kubernetes.io/enforce": "restricted"}),
    )
    .await;
    assert_eq!(status, 200);
    let joined = warnings.join("\n");
    assert!(
        joined.contains("existing pods in namespace")
            && joined.contains("guard-open")
            && joined.contains("tagged: allowPrivilegeEscalation != false"),
        "{warnings:?}"
    );

    // ...but the auditor reports the dryrun violation, as a PolicyReport too.
    let guard = shared.guard();
    let report = audit::run_once(&admin, &guard, &AuditOptions { chunk_size: 2 })
        .await
        .expect("audit");
    let dryrun: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.policy == "K8sDisallowedTags/no-latest" && f.action == "dryrun")
        .collect();
    assert_eq!(dryrun.len(), 1, "{:?}", report.findings);
    assert_eq!(dryrun[0].object, "Pod/tagged");
    assert!(report.list_requests > 3, "chunked lists");
    audit::publish(&admin, &report)
        .await
        .expect("publish reports");
    let reports: Api<DynamicObject> = Api::namespaced_with(
        admin.clone(),
        "guard-open",
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("wgpolicyk8s.io", "v1alpha2", "PolicyReport"),
            "policyreports",
        ),
    );
    let published = reports.get(audit::REPORT_NAME).await.expect("PolicyReport");
    let results = published.data["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        results
            .iter()
            .any(|r| r["policy"] == "K8sDisallowedTags/no-latest"
                && r["properties"]["action"] == "dryrun"
                && r["resources"][0]["name"] == "tagged"),
        "{results:?}"
    );
    assert!(published.data["summary"]["fail"].as_u64().unwrap_or(0) >= 1);

    // 5. Rotate the certificate on disk while requests keep flowing: none may fail.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let mut load = Vec::new();
    for worker in 0..2 {
        let admin = admin.clone();
        let stop = Arc::clone(&stop);
        let sent = Arc::clone(&sent);
        load.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let name = format!("rot-{worker}-{i}");
                let (status, body, _) = create_raw(
                    &admin,
                    "guard-restricted",
                    &pod(&name, "registry.k8s.io/pause:3.10", true),
                    true,
                )
                .await;
                let msg = body["message"].as_str().unwrap_or_default().to_owned();
                if status != 403 || !msg.contains("violates PodSecurity") {
                    failures.push(format!("{status}: {msg}"));
                }
                sent.fetch_add(1, Ordering::Relaxed);
            }
            failures
        }));
    }
    wait_for("requests before rotation", || {
        let sent = Arc::clone(&sent);
        async move { sent.load(Ordering::Relaxed) >= 20 }
    })
    .await;
    let reloads = |result: &'static str| {
        shared
            .metrics
            .certificate_reloads
            .get_or_create(&plinth_admission::metrics::ResultLabel { result })
            .get()
    };
    let before = reloads("ok");
    pki.issue(&files, 2);
    wait_for("the rotated certificate to be loaded", || {
        let n = reloads("ok");
        async move { n > before }
    })
    .await;
    let at_rotation = sent.load(Ordering::Relaxed);
    wait_for("requests after rotation", || {
        let sent = Arc::clone(&sent);
        async move { sent.load(Ordering::Relaxed) >= at_rotation + 20 }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for l in load {
        failures.extend(l.await.expect("load task"));
    }
    assert!(
        failures.is_empty(),
        "{} of {} requests failed around the rotation: {:?}",
        failures.len(),
        sent.load(Ordering::Relaxed),
        &failures[..failures.len().min(5)]
    );

    let pods = Api::<Pod>::namespaced(admin.clone(), "guard-warned")
        .list(&ListParams::default())
        .await
        .expect("pods");
    assert_eq!(pods.items.len(), 1, "only the warned pod was created there");
    running.shutdown();
}
