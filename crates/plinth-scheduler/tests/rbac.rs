//! The shipped RBAC is enough to schedule (with leader election and profile reloads)
//! and not one verb more: the scheduler's service account cannot read secrets, write
//! nodes or create pods.

mod common;

use std::path::Path;
use std::time::Duration;

use common::Slice;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod, Secret, ServiceAccount};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use plinth_kube::ApplyOptions;
use plinth_scheduler::leader::ElectionConfig;
use serde_json::json;

fn forbidden<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> bool {
    matches!(r, Err(kube::Error::Api(s)) if s.code == 403)
}

async fn service_account_client(admin: &Client) -> Client {
    let sa: Api<ServiceAccount> = Api::namespaced(admin.clone(), "plinth-system");
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(3600),
            ..Default::default()
        }),
        ..Default::default()
    };
    let token: TokenRequest = sa
        .create_subresource(
            "token",
            "enterprise-scheduler",
            &PostParams::default(),
            &request,
        )
        .await
        .expect("token request");
    let token = token.status.and_then(|s| s.token).expect("token");
    let env = plinth_testenv::shared();
    let mut kc =
        Kubeconfig::from_yaml(&env.control_plane().admin_kubeconfig()).expect("kubeconfig");
    for auth in &mut kc.auth_infos {
        if let Some(a) = auth.auth_info.as_mut() {
            a.client_certificate_data = None;
            a.client_key_data = None;
            a.token = Some(token.clone().into());
        }
    }
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

/// Applies the shipped RBAC and the default service account the token is requested
/// for; returns the applier.
async fn apply_shipped_rbac(s: &Slice) -> plinth_kube::Applier {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/scheduler/rbac.yaml");
    let applier = plinth_kube::Applier::new(s.client.clone(), "plinth-test");
    let docs = plinth_core::manifest::read_paths(&[manifest]).expect("rbac.yaml");
    applier
        .apply_all(
            &docs,
            &ApplyOptions {
                force: true,
                ..Default::default()
            },
        )
        .await
        .expect("apply rbac");
    // The default service account is created by a controller we do not run.
    let _ = Api::<ServiceAccount>::namespaced(s.client.clone(), "plinth-system")
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "default"}})).expect("sa"),
        )
        .await;
    applier
}

#[tokio::test]
async fn shipped_rbac_is_sufficient_and_minimal() {
    let s = Slice::new("rbac").await;
    let applier = apply_shipped_rbac(&s).await;
    applier
        .apply(
            &json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "advanced-scheduling-policies", "namespace": "kube-system"},
                "data": {"workload-profiles": plinth_sched::profile::BUILTIN}}),
            &ApplyOptions {
                force: true,
                ..Default::default()
            },
        )
        .await
        .expect("policies");
    let sa = service_account_client(&s.client).await;

    let mut options = s.options();
    options.profiles_configmap =
        Some(("kube-system".into(), "advanced-scheduling-policies".into()));
    options.election = Some(ElectionConfig {
        namespace: "plinth-system".into(),
        name: "enterprise-scheduler".into(),
        identity: "rbac-test".into(),
        lease_duration: Duration::from_secs(4),
        renew_deadline: Duration::from_secs(3),
        retry_period: Duration::from_millis(500),
    });
    let running = plinth_scheduler::start(sa.clone(), options)
        .await
        .expect("start");
    s.create_node(s.node("n")).await;
    s.create_pod(s.pod("p")).await;
    assert_eq!(
        s.bound("p", Duration::from_secs(30)).await,
        s.node_name("n")
    );
    s.event(
        "p",
        "Scheduled",
        "Successfully assigned",
        Duration::from_secs(10),
    )
    .await;

    assert!(
        forbidden(
            Api::<Secret>::all(sa.clone())
                .list(&ListParams::default())
                .await
        ),
        "secrets"
    );
    assert!(forbidden(
        Api::<Secret>::namespaced(sa.clone(), "kube-system")
            .get("anything")
            .await
    ));
    assert!(
        forbidden(
            Api::<Node>::all(sa.clone())
                .delete(&s.node_name("n"), &DeleteParams::default())
                .await
        ),
        "delete nodes"
    );
    assert!(
        forbidden(
            Api::<Node>::all(sa.clone())
                .patch(
                    &s.node_name("n"),
                    &PatchParams::default(),
                    &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}}))
                )
                .await
        ),
        "patch nodes"
    );
    let pod: Pod = serde_json::from_value(s.pod("sneaky")).expect("pod");
    assert!(
        forbidden(
            Api::<Pod>::namespaced(sa.clone(), &s.ns)
                .create(&PostParams::default(), &pod)
                .await
        ),
        "create pods"
    );
    running.stop();
    running.join().await.expect("clean stop");

    // The Deployment and its PDB are valid for the API server (strict, server dry-run).
    let deployment =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/scheduler/deployment.yaml");
    for doc in plinth_core::manifest::read_paths(&[deployment]).expect("deployment.yaml") {
        applier
            .apply(
                doc.value(),
                &ApplyOptions {
                    dry_run: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", doc.location()));
    }
}

/// A replica whose identity may not read its profiles ConfigMap schedules nothing, says
/// why on `/readyz` (the ConfigMap and the API server's refusal), counts the failures,
/// and does not campaign for the Lease — so it cannot keep a working replica idle. Once
/// granted the read, it becomes ready, leads and schedules.
#[tokio::test]
async fn unreadable_profiles_keep_the_replica_unready_and_out_of_the_election() {
    let s = Slice::new("rbac-profiles").await;
    let applier = apply_shipped_rbac(&s).await;
    let sa = service_account_client(&s.client).await;
    let subject = json!([{"kind": "ServiceAccount", "name": "enterprise-scheduler",
        "namespace": "plinth-system"}]);
    // Its Lease lives in this test's namespace (the shipped Lease is another test's).
    grant(
        &applier,
        &s.ns,
        "lease",
        json!([{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
            "verbs": ["create", "get", "update"]}]),
        &subject,
    )
    .await;
    let mut options = s.options();
    options.metrics_addr = Some("127.0.0.1:0".parse().expect("addr"));
    options.profiles_configmap = Some((s.ns.clone(), "policies".into()));
    options.election = Some(ElectionConfig {
        namespace: s.ns.clone(),
        name: "scheduler".into(),
        identity: "unready".into(),
        lease_duration: Duration::from_secs(4),
        renew_deadline: Duration::from_secs(3),
        retry_period: Duration::from_millis(500),
    });
    let running = plinth_scheduler::start(sa, options).await.expect("start");
    let addr = running.metrics_addr.expect("serving");
    let get = |path: &'static str| common::get_https(addr, path);
    s.create_node(s.node("n")).await;
    s.create_pod(s.pod("p")).await;

    let expected = format!(
        "profiles ConfigMap {}/policies not read yet (last error:",
        s.ns
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let body = loop {
        let (code, body) = get("/readyz").await;
        assert_eq!(code, 503, "ready without its profiles: {body}");
        if body.contains(&expected) {
            break body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz never named the profiles: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(body.contains("list: HTTP 403 Forbidden"), "{body}");
    assert!(
        !body.contains("serviceaccount"),
        "the API server's message (naming the identity) stays in the log: {body}"
    );
    assert_eq!(get("/healthz").await.0, 200, "alive, only not ready");
    let (_, metrics) = get("/metrics").await;
    let errors: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("plinth_scheduler_profile_watch_errors_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("profile_watch_errors_total exported");
    assert!(errors >= 1.0, "{metrics}");
    assert!(metrics.contains("plinth_scheduler_leader 0"), "{metrics}");
    let leases: Api<Lease> = Api::namespaced(s.client.clone(), &s.ns);
    assert!(
        leases
            .get_opt("scheduler")
            .await
            .expect("get lease")
            .is_none(),
        "a replica that cannot schedule campaigned for the Lease"
    );
    let pod = s.get_pod("p").await.expect("pod");
    assert!(
        pod.spec.and_then(|sp| sp.node_name).is_none(),
        "bound with profiles it never read"
    );

    grant(
        &applier,
        &s.ns,
        "profiles",
        json!([{"apiGroups": [""], "resources": ["configmaps"],
            "verbs": ["get", "list", "watch"]}]),
        &subject,
    )
    .await;
    // The watch retries with backoff (up to ~30 s between attempts).
    assert_eq!(
        s.bound("p", Duration::from_secs(90)).await,
        s.node_name("n")
    );
    assert_eq!(get("/readyz").await, (200, "ok\n".to_owned()));
    let lease = leases
        .get("scheduler")
        .await
        .expect("the Lease, once ready");
    assert_eq!(
        lease.spec.and_then(|sp| sp.holder_identity).as_deref(),
        Some("unready")
    );
    running.stop();
    running.join().await.expect("clean stop");
}

async fn grant(
    applier: &plinth_kube::Applier,
    ns: &str,
    name: &str,
    rules: serde_json::Value,
    subjects: &serde_json::Value,
) {
    let options = ApplyOptions {
        force: true,
        ..Default::default()
    };
    applier
        .apply(
            &json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": name, "namespace": ns}, "rules": rules}),
            &options,
        )
        .await
        .expect("role");
    applier
        .apply(
            &json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": name, "namespace": ns},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                "subjects": subjects}),
            &options,
        )
        .await
        .expect("role binding");
}
