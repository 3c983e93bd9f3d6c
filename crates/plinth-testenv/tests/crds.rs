//! Upstream CRDs from pinned Go modules, installed into the real control plane.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{DynamicObject, ListParams, Patch, PatchParams, ValidationDirective};
use plinth_kube::{Applier, ApplyError, ApplyOptions};
use plinth_testenv::crds::{
    CERT_MANAGER, CLUSTER_API, CLUSTER_API_PROVIDER_AWS, DEFAULT_SOURCES, ISTIO,
    PROMETHEUS_OPERATOR, VERTICAL_POD_AUTOSCALER,
};
use serde_json::json;

/// The installed CRD called `name`, which must be `Established`.
async fn established_crd(client: &kube::Client, name: &str) -> CustomResourceDefinition {
    let crd = Api::<CustomResourceDefinition>::all(client.clone())
        .get(name)
        .await
        .unwrap_or_else(|e| panic!("{name} is not installed: {e}"));
    assert!(established(&crd), "{name} is not Established");
    crd
}

fn served_versions(crd: &CustomResourceDefinition) -> Vec<&str> {
    crd.spec
        .versions
        .iter()
        .filter(|v| v.served)
        .map(|v| v.name.as_str())
        .collect()
}

/// Applies `bad` and expects strict field validation to refuse it, naming `field`
/// (upstream answers 500 "field not declared in schema" under server-side apply).
async fn assert_unknown_field_refused(applier: &Applier, bad: &serde_json::Value, field: &str) {
    match applier.apply(bad, &ApplyOptions::default()).await {
        Err(ApplyError::Rejected { code, message, .. }) => {
            assert!(code >= 400, "{message}");
            assert!(message.contains(field), "{message}");
        }
        other => panic!("strict field validation must reject {field}, got {other:?}"),
    }
}

fn established(crd: &CustomResourceDefinition) -> bool {
    crd.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        })
}

#[tokio::test]
async fn cluster_api_crds_are_installed_and_validate_objects() {
    let env = plinth_testenv::shared();
    let client = env.client().await.expect("client");
    env.install_crds(&client, &[CLUSTER_API, CLUSTER_API_PROVIDER_AWS])
        .await
        .expect("install CRDs");

    let crds = Api::<CustomResourceDefinition>::all(client.clone())
        .list(&ListParams::default())
        .await
        .expect("list CRDs");
    for name in [
        "clusters.cluster.x-k8s.io",
        "machinedeployments.cluster.x-k8s.io",
        "kubeadmcontrolplanes.controlplane.cluster.x-k8s.io",
        "kubeadmconfigtemplates.bootstrap.cluster.x-k8s.io",
        "awsclusters.infrastructure.cluster.x-k8s.io",
        "awsmachinetemplates.infrastructure.cluster.x-k8s.io",
    ] {
        let crd = crds
            .items
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{name} is not installed"));
        assert!(established(crd), "{name} is not Established");
    }
    let cluster_crd = crds
        .items
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some("clusters.cluster.x-k8s.io"))
        .expect("clusters CRD");
    assert!(
        cluster_crd
            .spec
            .versions
            .iter()
            .any(|v| v.name == "v1beta2" && v.served),
        "Cluster API v1beta2 must be served"
    );

    let ns = env.namespace(&client, "capi").await.expect("namespace");
    let applier = Applier::new(client.clone(), "plinth-test").with_default_namespace(&ns);
    let cluster = json!({
        "apiVersion": "cluster.x-k8s.io/v1beta2",
        "kind": "Cluster",
        "metadata": {"name": "prod-eu"},
        "spec": {
            "clusterNetwork": {
                "pods": {"cidrBlocks": ["192.168.0.0/16"]},
                "services": {"cidrBlocks": ["10.128.0.0/12"]}
            },
            "controlPlaneRef": {"apiGroup": "controlplane.cluster.x-k8s.io", "kind": "KubeadmControlPlane", "name": "prod-eu"},
            "infrastructureRef": {"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "AWSCluster", "name": "prod-eu"}
        }
    });
    let stored = applier
        .apply(&cluster, &ApplyOptions::default())
        .await
        .expect("a valid v1beta2 Cluster is accepted");
    assert_eq!(
        stored.types.map(|t| t.api_version).as_deref(),
        Some("cluster.x-k8s.io/v1beta2")
    );

    let mut bad = cluster.clone();
    bad["metadata"]["name"] = json!("typo");
    bad["spec"]["controlPlaneEndpint"] = json!({"host": "x", "port": 6443});
    match applier.apply(&bad, &ApplyOptions::default()).await {
        Err(ApplyError::Rejected { code, message, .. }) => {
            // Upstream answers 500 ("field not declared in schema") for this under
            // server-side apply; what matters is the rejection naming the field.
            assert!(code >= 400, "{message}");
            assert!(message.contains("controlPlaneEndpint"), "{message}");
        }
        other => panic!("strict field validation must reject an unknown field, got {other:?}"),
    }
    // A strict update (merge patch with fieldValidation=Strict) of the stored Cluster is
    // refused with the field named, while the same patch with Ignore passes (the field is
    // dropped): the directive is what rejects.
    let (resource, _) = applier
        .resolve("cluster.x-k8s.io/v1beta2", "Cluster")
        .await
        .expect("discovery knows Cluster");
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &resource);
    let patch = Patch::Merge(json!({"spec": {"controlPlaneEndpint": {"host": "x", "port": 6443}}}));
    let strict = PatchParams {
        field_validation: Some(ValidationDirective::Strict),
        ..PatchParams::default()
    };
    match api.patch("prod-eu", &strict, &patch).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "{}", status.message);
            assert!(
                status
                    .message
                    .contains("unknown field \"spec.controlPlaneEndpint\""),
                "{}",
                status.message
            );
        }
        other => panic!("a strict patch with an unknown field must be rejected, got {other:?}"),
    }
    let ignore = PatchParams {
        field_validation: Some(ValidationDirective::Ignore),
        dry_run: true,
        ..PatchParams::default()
    };
    api.patch("prod-eu", &ignore, &patch)
        .await
        .expect("the same patch passes when unknown fields are ignored");
}

#[tokio::test]
async fn istio_and_cert_manager_crds_are_installed_and_validate_objects() {
    let env = plinth_testenv::shared();
    let client = env.client().await.expect("client");
    env.install_crds(&client, &[ISTIO, CERT_MANAGER])
        .await
        .expect("install CRDs");

    for name in [
        "peerauthentications.security.istio.io",
        "authorizationpolicies.security.istio.io",
    ] {
        let crd = established_crd(&client, name).await;
        let served = served_versions(&crd);
        assert!(
            served.contains(&"v1") && served.contains(&"v1beta1"),
            "{name} serves {served:?}, not v1 and v1beta1"
        );
    }
    for name in [
        "requestauthentications.security.istio.io",
        "virtualservices.networking.istio.io",
        "certificaterequests.cert-manager.io",
        "issuers.cert-manager.io",
        "clusterissuers.cert-manager.io",
    ] {
        established_crd(&client, name).await;
    }
    let certificates = established_crd(&client, "certificates.cert-manager.io").await;
    assert!(
        served_versions(&certificates).contains(&"v1"),
        "cert-manager.io/v1 Certificate must be served"
    );

    let ns = env.namespace(&client, "mesh").await.expect("namespace");
    let applier = Applier::new(client.clone(), "plinth-test").with_default_namespace(&ns);
    let strict = ApplyOptions::default();
    assert!(
        strict.strict,
        "the default apply must use fieldValidation=Strict"
    );

    let peer_auth = json!({
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "default"},
        "spec": {"mtls": {"mode": "STRICT"}}
    });
    let deny_all = json!({
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "deny-all"},
        "spec": {"action": "ALLOW"}
    });
    let certificate = json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "api-tls"},
        "spec": {
            "secretName": "api-tls",
            "dnsNames": ["api.example.internal"],
            "duration": "8760h",
            "renewBefore": "720h",
            "issuerRef": {"name": "internal-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"},
            "privateKey": {"rotationPolicy": "Always"}
        }
    });
    for object in [&peer_auth, &deny_all, &certificate] {
        let stored = applier
            .apply(object, &strict)
            .await
            .unwrap_or_else(|e| panic!("a valid object is accepted: {e}"));
        assert_eq!(
            stored.data.get("spec"),
            object.get("spec"),
            "{} is stored as applied",
            object["kind"]
        );
    }
    // The same PeerAuthentication through the older served version.
    let mut v1beta1 = peer_auth.clone();
    v1beta1["apiVersion"] = json!("security.istio.io/v1beta1");
    v1beta1["metadata"]["name"] = json!("default-v1beta1");
    applier
        .apply(&v1beta1, &strict)
        .await
        .expect("a v1beta1 PeerAuthentication is accepted");

    let mut bad = peer_auth.clone();
    bad["metadata"]["name"] = json!("typo");
    bad["spec"]["mtls"]["mod"] = json!("STRICT");
    assert_unknown_field_refused(&applier, &bad, ".spec.mtls.mod").await;
    let mut bad = certificate.clone();
    bad["metadata"]["name"] = json!("typo");
    bad["spec"]["renewBeforePercentag"] = json!(10);
    assert_unknown_field_refused(&applier, &bad, ".spec.renewBeforePercentag").await;
}

#[tokio::test]
async fn prometheus_operator_and_vpa_crds_are_installed_and_validate_objects() {
    let env = plinth_testenv::shared();
    let client = env.client().await.expect("client");
    env.install_crds(&client, &[PROMETHEUS_OPERATOR, VERTICAL_POD_AUTOSCALER])
        .await
        .expect("install CRDs");

    for name in [
        "prometheuses.monitoring.coreos.com",
        "prometheusagents.monitoring.coreos.com",
        "alertmanagers.monitoring.coreos.com",
        "alertmanagerconfigs.monitoring.coreos.com",
        "podmonitors.monitoring.coreos.com",
        "probes.monitoring.coreos.com",
        "scrapeconfigs.monitoring.coreos.com",
        "thanosrulers.monitoring.coreos.com",
        "verticalpodautoscalercheckpoints.autoscaling.k8s.io",
    ] {
        established_crd(&client, name).await;
    }
    for name in [
        "prometheusrules.monitoring.coreos.com",
        "servicemonitors.monitoring.coreos.com",
        "verticalpodautoscalers.autoscaling.k8s.io",
    ] {
        let crd = established_crd(&client, name).await;
        assert!(
            served_versions(&crd).contains(&"v1"),
            "{name} must serve v1"
        );
    }

    let ns = env.namespace(&client, "observe").await.expect("namespace");
    let applier = Applier::new(client.clone(), "plinth-test").with_default_namespace(&ns);
    let strict = ApplyOptions::default();
    assert!(
        strict.strict,
        "the default apply must use fieldValidation=Strict"
    );

    let rule = json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "api-alerts"},
        "spec": {
            "groups": [{
                "name": "api",
                "rules": [{
                    "alert": "ApiDown",
                    "expr": "up{job=\"api\"} == 0",
                    "for": "5m",
                    "labels": {"severity": "critical"}
                }]
            }]
        }
    });
    let monitor = json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "api"},
        "spec": {
            "selector": {"matchLabels": {"app": "api"}},
            "endpoints": [{"port": "metrics", "interval": "30s"}]
        }
    });
    let vpa = json!({
        "apiVersion": "autoscaling.k8s.io/v1",
        "kind": "VerticalPodAutoscaler",
        "metadata": {"name": "api"},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
            "updatePolicy": {"updateMode": "Off"}
        }
    });
    for object in [&rule, &monitor, &vpa] {
        let stored = applier
            .apply(object, &strict)
            .await
            .unwrap_or_else(|e| panic!("a valid {} is accepted: {e}", object["kind"]));
        assert_eq!(
            stored.data.get("spec"),
            object.get("spec"),
            "{} is stored as applied",
            object["kind"]
        );
    }

    let mut bad = rule.clone();
    bad["metadata"]["name"] = json!("typo");
    bad["spec"]["groups"][0]["rules"][0]["expresion"] = json!("up == 0");
    assert_unknown_field_refused(&applier, &bad, "expresion").await;
    let mut bad = vpa.clone();
    bad["metadata"]["name"] = json!("typo");
    bad["spec"]["updatePolicy"]["updateMod"] = json!("Auto");
    assert_unknown_field_refused(&applier, &bad, ".spec.updatePolicy.updateMod").await;
    // The schema's enum still holds under server-side apply.
    let mut bad = vpa.clone();
    bad["metadata"]["name"] = json!("bad-mode");
    bad["spec"]["updatePolicy"]["updateMode"] = json!("Sometimes");
    match applier.apply(&bad, &strict).await {
        Err(ApplyError::Rejected { code, message, .. }) => {
            assert_eq!(code, 422, "{message}");
            assert!(message.contains("updateMode"), "{message}");
        }
        other => panic!("an updateMode outside the enum must be rejected, got {other:?}"),
    }
}

/// What `plinth dev up` installs, in one go: every default source, all `Established`.
#[tokio::test]
async fn default_sources_install_together() {
    let env = plinth_testenv::shared();
    let client = env.client().await.expect("client");
    env.install_crds(&client, DEFAULT_SOURCES)
        .await
        .expect("install every default source");
    for name in [
        "clusters.cluster.x-k8s.io",
        "constrainttemplates.templates.gatekeeper.sh",
        "policyreports.wgpolicyk8s.io",
        "authorizationpolicies.security.istio.io",
        "certificates.cert-manager.io",
        "prometheusrules.monitoring.coreos.com",
        "verticalpodautoscalers.autoscaling.k8s.io",
    ] {
        established_crd(&client, name).await;
    }
}
