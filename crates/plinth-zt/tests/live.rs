//! The zero-trust controller on the real control plane, with the upstream Istio and
//! cert-manager CRDs installed: it runs as the shipped least-privilege service account,
//! creates, updates, prunes and repairs the compiled objects (all applied with strict
//! field validation), reports status; and `verify --cluster` agrees with `verify
//! --manifests` over the same objects.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Client, CustomResourceExt};
use plinth_kube::{Applier, ApplyOptions};
use plinth_netpol::intent::{ZeroTrustModel, ZeroTrustModelSpec};
use plinth_netpol::{Endpoint, IpBlockMode, PortQuery, Protocol};
use plinth_testenv::crds::{CERT_MANAGER, ISTIO};
use serde_json::{Value, json};

const SA_USER: &str = "system:serviceaccount:plinth-system:plinth-zt-controller";

async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn spec(ns: &str, with_c: bool) -> ZeroTrustModelSpec {
    let mut identities = vec![
        json!({"name": "a", "namespace": ns, "zone": "front"}),
        json!({"name": "b", "namespace": ns, "zone": "back"}),
    ];
    let mut matrix = vec![json!({"from": "a", "to": "b", "port": 8080, "purpose": "API"})];
    if with_c {
        identities.push(json!({"name": "c", "namespace": ns, "zone": "back"}));
        matrix.push(json!({"from": "b", "to": "c", "port": 5432}));
    }
    serde_json::from_value(json!({
        "certificates": {
            "issuerRef": {"name": "internal-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"},
            "duration": "2160h", "renewBefore": "360h"
        },
        "zones": [
            {"name": "front", "cidrs": ["10.1.0.0/24"], "trustLevel": "limited",
             "ingress": [{"external": true, "ports": [443]}],
             "egress": [{"zone": "back", "ports": [8080]}]},
            {"name": "back", "cidrs": ["10.2.0.0/24"], "trustLevel": "trusted",
             "ingress": [{"zone": "front", "ports": [8080]}, {"zone": "back", "ports": [5432]}],
             "egress": [{"zone": "back", "ports": [5432]}]}
        ],
        "identities": identities,
        "matrix": matrix,
    }))
    .expect("a valid spec")
}

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

fn kinds() -> Vec<ApiResource> {
    vec![
        resource(
            "networking.k8s.io",
            "v1",
            "NetworkPolicy",
            "networkpolicies",
        ),
        resource(
            "security.istio.io",
            "v1",
            "PeerAuthentication",
            "peerauthentications",
        ),
        resource(
            "security.istio.io",
            "v1",
            "AuthorizationPolicy",
            "authorizationpolicies",
        ),
        resource("cert-manager.io", "v1", "Certificate", "certificates"),
    ]
}

/// `KIND/NAME` of the model's objects in `ns`.
async fn objects(client: &Client, ns: &str, model: &str) -> Vec<String> {
    let mut out = Vec::new();
    for r in kinds() {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &r);
        let list = api
            .list(&kube::api::ListParams::default().labels(&format!("plinth.dev/zt-model={model}")))
            .await
            .expect("list");
        for o in list.items {
            out.push(format!(
                "{}/{}",
                r.kind,
                o.metadata.name.unwrap_or_default()
            ));
        }
    }
    out.sort();
    out
}

fn expected(ids: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for id in ids {
        out.push(format!("AuthorizationPolicy/{id}-authz"));
        out.push(format!("Certificate/{id}-tls"));
        out.push(format!("NetworkPolicy/{id}-allow"));
        out.push(format!("NetworkPolicy/{id}-default-deny"));
        out.push(format!("PeerAuthentication/{id}-mtls"));
    }
    out.sort();
    out
}

fn ready(cr: &ZeroTrustModel) -> Option<(String, String, String)> {
    let c = cr
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")?;
    if c.observed_generation != cr.metadata.generation {
        return None;
    }
    Some((c.status.clone(), c.reason.clone(), c.message.clone()))
}

#[tokio::test]
async fn controller_creates_updates_prunes_repairs_and_cluster_verify_agrees() {
    let env = plinth_testenv::shared();
    let admin = env.client().await.expect("admin client");
    env.install_crds(&admin, &[ISTIO, CERT_MANAGER])
        .await
        .expect("Istio and cert-manager CRDs");
    let crd = serde_json::to_value(ZeroTrustModel::crd()).expect("CRD JSON");
    plinth_kube::crd::install(&admin, &[crd], "plinth-test", Duration::from_secs(60))
        .await
        .expect("the generated ZeroTrustModel CRD installs");
    let applier = Applier::new(admin.clone(), "plinth-test");
    let force = ApplyOptions {
        force: true,
        ..Default::default()
    };
    let rbac = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/zero-trust/rbac.yaml");
    let docs = plinth_core::manifest::read_paths(&[rbac]).expect("rbac.yaml");
    applier.apply_all(&docs, &force).await.expect("apply rbac");

    // The controller runs with exactly the shipped permissions.
    let sa = env
        .user_client(SA_USER, &["system:serviceaccounts"])
        .await
        .expect("service-account client");
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::all(sa.clone());
    fn forbidden<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> bool {
        matches!(r, Err(kube::Error::Api(s)) if s.code == 403)
    }
    assert!(
        forbidden(secrets.list(&Default::default()).await),
        "must not read secrets"
    );
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::all(sa.clone());
    assert!(
        forbidden(pods.list(&Default::default()).await),
        "must not read pods"
    );
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(sa.clone());
    assert!(
        forbidden(
            namespaces
                .delete("no-such-namespace", &DeleteParams::default())
                .await
        ),
        "must not delete namespaces"
    );
    let sa_models: Api<ZeroTrustModel> = Api::all(sa.clone());
    assert!(
        forbidden(
            sa_models
                .delete("no-such-model", &DeleteParams::default())
                .await
        ),
        "must not delete models"
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = std::sync::Arc::new(plinth_zt::metrics::Metrics::new(&mut registry));
    let controller = tokio::spawn(plinth_zt::controller::run(
        sa,
        plinth_zt::controller::Options {
            resync: Duration::from_secs(30),
        },
        metrics.clone(),
        async move {
            let _ = stop_rx.await;
        },
    ));

    let ns = env.namespace(&admin, "zt").await.expect("namespace");
    let name = format!("m-{ns}");
    let models: Api<ZeroTrustModel> = Api::all(admin.clone());
    let mut cr = ZeroTrustModel::new(&name, spec(&ns, true));
    cr.metadata.labels = Some(BTreeMap::from([("test".into(), "live".into())]));
    models
        .create(&PostParams::default(), &cr)
        .await
        .expect("create model");

    // Create: every object, and Ready=True.
    let want = expected(&["a", "b", "c"]);
    eventually("the compiled objects", || async {
        (objects(&admin, &ns, &name).await == want).then_some(())
    })
    .await;
    let (status, reason, message) =
        eventually("Ready", || async { ready(&models.get(&name).await.ok()?) }).await;
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "Reconciled"),
        "{message}"
    );
    let nps: Api<NetworkPolicy> = Api::namespaced(admin.clone(), &ns);
    let allow_a = nps.get("a-allow").await.expect("a-allow");
    let owner = &allow_a
        .metadata
        .owner_references
        .as_ref()
        .expect("owner refs")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.controller),
        ("ZeroTrustModel", name.as_str(), Some(true))
    );
    let uid = models.get(&name).await.expect("model").metadata.uid;
    assert_eq!(Some(owner.uid.clone()), uid);

    // verify --cluster agrees with verify --manifests over the same objects.
    for (pod, app) in [("a-0", "a"), ("b-0", "b"), ("c-0", "c"), ("x-0", "x")] {
        applier
            .apply(
                &json!({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": pod, "namespace": ns, "labels": {"app": app}},
                    "spec": {"containers": [{"name": "main", "image": "registry.k8s.io/pause:3.10",
                        "ports": [{"name": "http", "containerPort": 8080}, {"name": "pg", "containerPort": 5432}]}]}}),
                &force,
            )
            .await
            .expect("pod");
    }
    let live = plinth_zt::cluster::index(&admin, IpBlockMode::PodIps)
        .await
        .expect("cluster index");
    let mut text = String::new();
    let ns_obj = Api::<k8s_openapi::api::core::v1::Namespace>::all(admin.clone())
        .get(&ns)
        .await
        .expect("namespace");
    let pods = Api::<k8s_openapi::api::core::v1::Pod>::namespaced(admin.clone(), &ns)
        .list(&Default::default())
        .await
        .expect("pods");
    let policies = nps.list(&Default::default()).await.expect("policies");
    let with_kind = |mut v: Value, api: &str, kind: &str| {
        v["apiVersion"] = json!(api);
        v["kind"] = json!(kind);
        v
    };
    let mut docs_json = vec![with_kind(
        serde_json::to_value(&ns_obj).expect("json"),
        "v1",
        "Namespace",
    )];
    docs_json.extend(
        pods.items
            .iter()
            .map(|p| with_kind(serde_json::to_value(p).expect("json"), "v1", "Pod")),
    );
    docs_json.extend(policies.items.iter().map(|p| {
        with_kind(
            serde_json::to_value(p).expect("json"),
            "networking.k8s.io/v1",
            "NetworkPolicy",
        )
    }));
    for d in &docs_json {
        text.push_str("---\n");
        text.push_str(&serde_json::to_string(d).expect("json"));
        text.push('\n');
    }
    let docs = plinth_core::manifest::parse_str("state.yaml", &text).expect("parses");
    let offline = plinth_netpol::manifests::index(&docs, IpBlockMode::PodIps).expect("index");
    let mut compared = 0;
    let mut allowed = Vec::new();
    for from in ["a-0", "b-0", "c-0", "x-0"] {
        for to in ["a-0", "b-0", "c-0", "x-0"] {
            if from == to {
                continue;
            }
            for port in [443, 5432, 8080, 9090] {
                let (f, t) = (format!("{ns}/{from}"), format!("{ns}/{to}"));
                let q = PortQuery::Number(port);
                let l = live
                    .verify(
                        Endpoint::Pod(live.pod(&f).expect("pod")),
                        Endpoint::Pod(live.pod(&t).expect("pod")),
                        &q,
                        Protocol::Tcp,
                    )
                    .expect("live verdict");
                let o = offline
                    .verify(
                        Endpoint::Pod(offline.pod(&f).expect("pod")),
                        Endpoint::Pod(offline.pod(&t).expect("pod")),
                        &q,
                        Protocol::Tcp,
                    )
                    .expect("offline verdict");
                assert_eq!(l.allowed, o.allowed, "{from} -> {to} {port}");
                assert_eq!(l.reasons(), o.reasons(), "{from} -> {to} {port}");
                compared += 1;
                if l.allowed {
                    allowed.push(format!("{from}->{to}:{port}"));
                }
            }
        }
    }
    assert_eq!(compared, 48);
    assert_eq!(allowed, ["a-0->b-0:8080", "b-0->c-0:5432"]);

    // Drift repair: a hand edit that opens b to everything is undone.
    let opened = json!({"spec": {"ingress": [{}]}});
    nps.patch("b-allow", &PatchParams::default(), &Patch::Merge(&opened))
        .await
        .expect("hand edit");
    eventually("the hand edit to be repaired", || async {
        let np = nps.get("b-allow").await.ok()?;
        let ingress = np.spec?.ingress?;
        (ingress.len() == 1 && ingress[0].from.is_some()).then_some(())
    })
    .await;
    // A deleted object comes back.
    nps.delete("b-default-deny", &DeleteParams::default())
        .await
        .expect("delete by hand");
    eventually("the deleted policy to come back", || async {
        nps.get("b-default-deny").await.ok().map(|_| ())
    })
    .await;

    // Update and prune: without c, c's objects go and b no longer reaches anyone.
    // Merge patches, not get-then-replace: the controller writes the status meanwhile,
    // and a replace with a stale resourceVersion would meet 409 Conflict.
    let spec_patch =
        |spec: &ZeroTrustModelSpec| json!({"spec": serde_json::to_value(spec).expect("spec JSON")});
    models
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&spec_patch(&spec(&ns, false))),
        )
        .await
        .expect("update model");
    let want = expected(&["a", "b"]);
    eventually("c's objects to be pruned", || async {
        (objects(&admin, &ns, &name).await == want).then_some(())
    })
    .await;
    let b_allow = nps.get("b-allow").await.expect("b-allow");
    let egress = b_allow.spec.and_then(|s| s.egress).unwrap_or_default();
    assert_eq!(egress.len(), 1, "only DNS egress remains: {egress:?}");

    // An invalid model touches nothing and says why.
    let mut invalid = spec(&ns, false);
    invalid.matrix.push(
        serde_json::from_value(json!({"from": "a", "to": "ghost", "port": 80})).expect("entry"),
    );
    models
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&spec_patch(&invalid)),
        )
        .await
        .expect("the API server accepts it; the controller refuses it");
    let (status, _reason, message) = eventually("InvalidModel", || async {
        let r = ready(&models.get(&name).await.ok()?)?;
        (r.1 == "InvalidModel").then_some(r)
    })
    .await;
    assert_eq!(status, "False");
    assert!(message.contains("unknown identity \"ghost\""), "{message}");
    assert_eq!(objects(&admin, &ns, &name).await, want);

    // The metrics saw it all: successful reconciliations, both outcomes, the objects.
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
    let value = |series: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(series))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{series} missing from:\n{text}"))
    };
    assert!(
        value(r#"plinth_zt_reconciles_total{result="success"}"#) >= 2.0,
        "{text}"
    );
    assert!(
        value(r#"plinth_zt_model_outcomes_total{reason="Reconciled"}"#) >= 1.0,
        "{text}"
    );
    assert!(
        value(r#"plinth_zt_model_outcomes_total{reason="InvalidModel"}"#) >= 1.0,
        "{text}"
    );
    assert!(
        value("plinth_zt_reconcile_duration_seconds_count") >= 2.0,
        "{text}"
    );

    let _ = stop_tx.send(());
    tokio::time::timeout(Duration::from_secs(30), controller)
        .await
        .expect("controller stops")
        .expect("joins")
        .expect("ran");
    models
        .delete(&name, &DeleteParams::default())
        .await
        .expect("delete model");
}
