//! `charts/plinth` with the real tools: the pinned Helm (built by plinth-testenv from its
//! Go module) lints it strictly and renders it; the rendered objects pass server-side
//! dry-run on the real API server (with the upstream cert-manager and Prometheus
//! Operator CRDs); values reach the objects; the ZeroTrustModel CRD in the chart is
//! `plinth zt crd`'s; and each component's RBAC, applied for real, allows exactly what
//! its loop needs, checked with SubjectAccessReviews.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};
use plinth_testenv::Binary;
use plinth_testenv::crds::{CERT_MANAGER, PROMETHEUS_OPERATOR};
use serde_json::Value;

fn chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../charts/plinth")
}

fn helm() -> PathBuf {
    let binaries = plinth_testenv::Binaries::in_cache(&plinth_testenv::cache_root());
    binaries
        .ensure(&mut |_| {})
        .expect("upstream binaries (helm)");
    binaries.path(Binary::Helm)
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `helm template` with `args`, as parsed objects (and the YAML).
fn template(release: &str, namespace: &str, args: &[&str]) -> (Vec<Value>, String) {
    let o = run(Command::new(helm())
        .args(["template", release])
        .arg(chart())
        .args(["--namespace", namespace])
        .args(args));
    assert!(o.status.success(), "helm template: {}", text(&o));
    let yaml = String::from_utf8(o.stdout).expect("UTF-8");
    let objects = plinth_core::manifest::parse_str("helm template", &yaml)
        .expect("helm's output parses")
        .into_iter()
        .map(plinth_core::manifest::Document::into_value)
        .collect();
    (objects, yaml)
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

#[test]
fn the_chart_lints_and_its_values_reach_the_objects() {
    let o = run(Command::new(helm()).args(["lint", "--strict"]).arg(chart()));
    assert!(o.status.success(), "helm lint: {}", text(&o));

    let (objects, _) = template("plinth", "plinth-system", &[]);
    for kind in [
        "Deployment",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ServiceMonitor",
        "ValidatingWebhookConfiguration",
        "Certificate",
        "CustomResourceDefinition",
    ] {
        assert!(objects.iter().any(|o| o["kind"] == kind), "no {kind}");
    }
    // Every workload runs restricted, with requests and limits.
    for d in objects.iter().filter(|o| o["kind"] == "Deployment") {
        let pod = &d["spec"]["template"]["spec"];
        assert_eq!(
            pod["securityContext"]["runAsNonRoot"], true,
            "{}",
            d["metadata"]["name"]
        );
        for c in pod["containers"].as_array().expect("containers") {
            assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
            assert!(c["resources"]["limits"]["memory"].is_string());
        }
    }
    // The webhook never sees kube-system or its own namespace.
    let hook = find(&objects, "ValidatingWebhookConfiguration", "plinth-guard");
    let excluded = &hook["webhooks"][0]["namespaceSelector"]["matchExpressions"][1]["values"];
    assert_eq!(
        *excluded,
        serde_json::json!(["kube-system", "plinth-system"])
    );
    assert_eq!(hook["webhooks"][0]["failurePolicy"], "Fail");
    assert_eq!(hook["webhooks"][1]["failurePolicy"], "Ignore");

    // The chart's CRD is plinth's own, with a keep policy.
    let crd = find(
        &objects,
        "CustomResourceDefinition",
        "zerotrustmodels.plinth.dev",
    );
    assert_eq!(
        crd["metadata"]["annotations"]["helm.sh/resource-policy"],
        "keep"
    );
    let o = run(Command::new(env!("CARGO_BIN_EXE_plinth")).args(["zt", "crd"]));
    assert!(o.status.success());
    let ours: Value = serde_saphyr::from_str(&String::from_utf8_lossy(&o.stdout)).expect("CRD");
    assert_eq!(
        crd["spec"], ours["spec"],
        "charts/plinth/templates/crds.yaml is stale: regenerate it from `plinth zt crd`"
    );

    // Values.
    let (objects, _) = template(
        "plinth",
        "ops",
        &[
            "--set",
            "guard.failurePolicy=Ignore",
            "--set",
            "excludedNamespaces={kube-system,team-legacy}",
            "--set",
            "scheduler.replicas=3",
            "--set",
            "scheduler.kubeApiQps=200",
            "--set",
            "image.tag=9.9.9",
            "--set",
            "networkPolicies.enabled=false",
            "--set",
            "serviceMonitors.enabled=false",
            "--set",
            "podDisruptionBudgets.enabled=false",
        ],
    );
    let hook = find(&objects, "ValidatingWebhookConfiguration", "plinth-guard");
    assert_eq!(hook["webhooks"][0]["failurePolicy"], "Ignore");
    assert_eq!(
        hook["webhooks"][0]["namespaceSelector"]["matchExpressions"][1]["values"],
        serde_json::json!(["kube-system", "ops", "team-legacy"])
    );
    let scheduler = find(&objects, "Deployment", "enterprise-scheduler");
    assert_eq!(scheduler["spec"]["replicas"], 3);
    let container = &scheduler["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "ghcr.io/plinth-dev/plinth:9.9.9");
    assert!(
        container["args"]
            .as_array()
            .expect("args")
            .iter()
            .any(|a| a == "--kube-api-qps=200")
    );
    for kind in ["NetworkPolicy", "ServiceMonitor", "PodDisruptionBudget"] {
        assert!(
            !objects.iter().any(|o| o["kind"] == kind),
            "{kind} still rendered"
        );
    }
    // A malformed value is refused with a message.
    let o = run(Command::new(helm())
        .args(["template", "plinth"])
        .arg(chart())
        .args(["--set", "scheduler.profilesConfigMap=no-slash"]));
    assert!(!o.status.success());
    assert!(text(&o).contains("NAMESPACE/NAME"), "{}", text(&o));
}

#[test]
fn plinth_install_renders_exactly_the_chart_with_default_values() {
    let (from_helm, _) = template("plinth", "plinth-system", &[]);
    let o = run(Command::new(env!("CARGO_BIN_EXE_plinth")).args(["install", "--render"]));
    assert!(o.status.success(), "{}", text(&o));
    let ours: Vec<Value> =
        plinth_core::manifest::parse_str("install", &String::from_utf8_lossy(&o.stdout))
            .expect("parses")
            .into_iter()
            .map(plinth_core::manifest::Document::into_value)
            .collect();
    let (namespace, rest): (Vec<Value>, Vec<Value>) =
        ours.into_iter().partition(|o| o["kind"] == "Namespace");
    assert_eq!(namespace.len(), 1);
    assert_eq!(namespace[0]["metadata"]["name"], "plinth-system");
    assert_eq!(
        namespace[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );
    assert!(
        rest == from_helm,
        "plinth install differs from helm template of charts/plinth: run tools/gen-install"
    );
}

/// Asks the API server whether `sa` may do `verb` on `resource` (`group/resource` or
/// `resource`, `resource/subresource` allowed) in `namespace`, optionally by name.
async fn may(
    client: &kube::Client,
    sa: &str,
    verb: &str,
    resource: &str,
    namespace: Option<&str>,
    name: Option<&str>,
) -> bool {
    let (group, rest) = match resource.split_once(':') {
        Some((g, r)) => (g, r),
        None => ("", resource),
    };
    let (resource, subresource) = match rest.split_once('/') {
        Some((r, s)) => (r, Some(s.to_owned())),
        None => (rest, None),
    };
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(sa.to_owned()),
            groups: Some(vec!["system:serviceaccounts".to_owned()]),
            resource_attributes: Some(ResourceAttributes {
                group: Some(group.to_owned()),
                resource: Some(resource.to_owned()),
                subresource,
                verb: Some(verb.to_owned()),
                namespace: namespace.map(str::to_owned),
                name: name.map(str::to_owned),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let api: Api<SubjectAccessReview> = Api::all(client.clone());
    api.create(&PostParams::default(), &review)
        .await
        .expect("SubjectAccessReview")
        .status
        .is_some_and(|s| s.allowed)
}

/// (identity, verb, resource, namespace, name, allowed).
type Case<'a> = (
    String,
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    bool,
);

#[tokio::test(flavor = "multi_thread")]
async fn the_rendered_chart_passes_server_dry_run_and_its_rbac_is_minimal() {
    let env = plinth_testenv::shared();
    let client = env.client().await.expect("client");
    env.install_crds(&client, &[CERT_MANAGER, PROMETHEUS_OPERATOR])
        .await
        .expect("CRDs");
    let ns = env.namespace(&client, "chart").await.expect("namespace");
    let release = format!("rel-{}", ns.rsplit('-').next().unwrap_or("x"));
    let (objects, yaml) = template(&release, &ns, &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("chart.yaml"), &yaml).expect("write");
    let kubeconfig = env.kubeconfig_path().display().to_string();
    let o = run(Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(["apply", "--dry-run=server", "--kubeconfig", &kubeconfig])
        .args(["--set", &format!("chart-{release}")])
        .arg(dir.path()));
    assert!(
        o.status.success(),
        "server dry-run of the chart: {}",
        text(&o)
    );

    // The RBAC for real (only the identities and their grants), then ask the server.
    let rbac: Vec<&Value> = objects
        .iter()
        .filter(|o| {
            o["kind"] == "ServiceAccount"
                || o["apiVersion"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("rbac.authorization.k8s.io/"))
        })
        .collect();
    let rbac_dir = tempfile::tempdir().expect("tempdir");
    let text_rbac = rbac
        .iter()
        .map(|o| serde_json::to_string(o).expect("json"))
        .collect::<Vec<_>>()
        .join("\n---\n");
    std::fs::write(rbac_dir.path().join("rbac.yaml"), text_rbac).expect("write");
    let o = run(Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(["apply", "--kubeconfig", &kubeconfig])
        .args(["--set", &format!("rbac-{release}")])
        .arg(rbac_dir.path()));
    assert!(
        o.status.success(),
        "applying the chart's RBAC: {}",
        text(&o)
    );

    let sa = |name: &str| format!("system:serviceaccount:{ns}:{name}");
    let n = Some(ns.as_str());
    // (identity, verb, resource, namespace, name, allowed)
    let cases: Vec<Case> = vec![
        // The scheduler: its loop, and nothing else.
        (
            sa("enterprise-scheduler"),
            "list",
            "nodes",
            None,
            None,
            true,
        ),
        (
            sa("enterprise-scheduler"),
            "watch",
            "pods",
            None,
            None,
            true,
        ),
        (
            sa("enterprise-scheduler"),
            "create",
            "pods/binding",
            Some("default"),
            Some("p"),
            true,
        ),
        (
            sa("enterprise-scheduler"),
            "patch",
            "pods/status",
            Some("default"),
            Some("p"),
            true,
        ),
        (
            sa("enterprise-scheduler"),
            "delete",
            "pods",
            Some("default"),
            Some("victim"),
            true,
        ),
        (
            sa("enterprise-scheduler"),
            "create",
            "events.k8s.io:events",
            Some("default"),
            None,
            true,
        ),
        (
            sa("enterprise-scheduler"),
            "update",
            "coordination.k8s.io:leases",
            n,
            Some("enterprise-scheduler"),
            true,
        ),
        (
            sa("enterprise-scheduler"),
            "update",
            "coordination.k8s.io:leases",
            n,
            Some("someone-else"),
            false,
        ),
        (
            sa("enterprise-scheduler"),
            "get",
            "configmaps",
            Some("kube-system"),
            Some("advanced-scheduling-policies"),
            true,
        ),
        (
            sa("enterprise-scheduler"),
            "get",
            "configmaps",
            Some("kube-system"),
            Some("kubeadm-config"),
            false,
        ),
        (
            sa("enterprise-scheduler"),
            "get",
            "secrets",
            Some("default"),
            None,
            false,
        ),
        (
            sa("enterprise-scheduler"),
            "delete",
            "nodes",
            None,
            Some("n1"),
            false,
        ),
        (
            sa("enterprise-scheduler"),
            "create",
            "pods",
            Some("default"),
            None,
            false,
        ),
        (
            sa("enterprise-scheduler"),
            "update",
            "nodes",
            None,
            Some("n1"),
            false,
        ),
        // The webhook.
        (sa("plinth-guard"), "watch", "namespaces", None, None, true),
        (sa("plinth-guard"), "list", "pods", None, None, true),
        (
            sa("plinth-guard"),
            "patch",
            "templates.gatekeeper.sh:constrainttemplates/status",
            None,
            Some("t"),
            true,
        ),
        (
            sa("plinth-guard"),
            "create",
            "apiextensions.k8s.io:customresourcedefinitions",
            None,
            None,
            true,
        ),
        (
            sa("plinth-guard"),
            "delete",
            "apiextensions.k8s.io:customresourcedefinitions",
            None,
            Some("x"),
            false,
        ),
        (sa("plinth-guard"), "get", "secrets", n, None, false),
        (
            sa("plinth-guard"),
            "get",
            "pods",
            Some("default"),
            Some("p"),
            false,
        ),
        // The auditor.
        (
            sa("plinth-guard-audit"),
            "list",
            "apps:deployments",
            None,
            None,
            true,
        ),
        (
            sa("plinth-guard-audit"),
            "create",
            "wgpolicyk8s.io:policyreports",
            Some("default"),
            None,
            true,
        ),
        (
            sa("plinth-guard-audit"),
            "delete",
            "pods",
            Some("default"),
            Some("p"),
            false,
        ),
        (
            sa("plinth-guard-audit"),
            "list",
            "secrets",
            None,
            None,
            false,
        ),
        // The zero-trust controller.
        (
            sa("plinth-zt-controller"),
            "patch",
            "networking.k8s.io:networkpolicies",
            Some("default"),
            Some("np"),
            true,
        ),
        (
            sa("plinth-zt-controller"),
            "delete",
            "security.istio.io:authorizationpolicies",
            Some("default"),
            Some("ap"),
            true,
        ),
        (
            sa("plinth-zt-controller"),
            "patch",
            "plinth.dev:zerotrustmodels/status",
            None,
            Some("m"),
            true,
        ),
        (
            sa("plinth-zt-controller"),
            "patch",
            "plinth.dev:zerotrustmodels",
            None,
            Some("m"),
            false,
        ),
        (
            sa("plinth-zt-controller"),
            "get",
            "secrets",
            Some("default"),
            None,
            false,
        ),
        (
            sa("plinth-zt-controller"),
            "delete",
            "namespaces",
            None,
            Some("default"),
            false,
        ),
        (
            sa("plinth-zt-controller"),
            "list",
            "pods",
            None,
            None,
            false,
        ),
    ];
    let mut wrong = Vec::new();
    for (who, verb, resource, namespace, name, expected) in &cases {
        let got = may(&client, who, verb, resource, *namespace, *name).await;
        if got != *expected {
            wrong.push(format!(
                "{who} {verb} {resource} ns={namespace:?} name={name:?}: allowed={got}, expected {expected}"
            ));
        }
    }
    // Clean up the cluster-scoped grants this test created.
    for o in &rbac {
        if o["kind"] == "ClusterRole" || o["kind"] == "ClusterRoleBinding" {
            let name = o["metadata"]["name"].as_str().expect("name");
            let resource = if o["kind"] == "ClusterRole" {
                "clusterroles"
            } else {
                "clusterrolebindings"
            };
            let r = kube::core::ApiResource {
                group: "rbac.authorization.k8s.io".into(),
                version: "v1".into(),
                api_version: "rbac.authorization.k8s.io/v1".into(),
                kind: o["kind"].as_str().expect("kind").into(),
                plural: resource.into(),
            };
            let api: Api<kube::api::DynamicObject> = Api::all_with(client.clone(), &r);
            let _ = api.delete(name, &Default::default()).await;
        }
    }
    assert!(
        wrong.is_empty(),
        "RBAC is not what the components need:\n{}",
        wrong.join("\n")
    );
}
