//! The pinned upstream versions, read at compile time from `tools/k8s/versions.env`
//! (the one place they are written).

/// `tools/k8s/versions.env`, embedded.
pub const VERSIONS_ENV: &str = include_str!("../../../tools/k8s/versions.env");
/// The wrapper module that builds kube-apiserver and kube-scheduler.
pub(crate) const KUBE_GO_MOD: &str = include_str!("../../../tools/k8s/kube/go.mod");
pub(crate) const KUBE_GO_SUM: &str = include_str!("../../../tools/k8s/kube/go.sum");
/// The wrapper module that builds etcd.
pub(crate) const ETCD_GO_MOD: &str = include_str!("../../../tools/k8s/etcd/go.mod");
pub(crate) const ETCD_GO_SUM: &str = include_str!("../../../tools/k8s/etcd/go.sum");
/// The wrapper module that builds OPA.
pub(crate) const OPA_GO_MOD: &str = include_str!("../../../tools/k8s/opa/go.mod");
pub(crate) const OPA_GO_SUM: &str = include_str!("../../../tools/k8s/opa/go.sum");
/// The wrapper module that builds np-guard's `k8snetpolicy`.
pub(crate) const NPGUARD_GO_MOD: &str = include_str!("../../../tools/k8s/npguard/go.mod");
pub(crate) const NPGUARD_GO_SUM: &str = include_str!("../../../tools/k8s/npguard/go.sum");
/// The wrapper module that builds helm.
pub(crate) const HELM_GO_MOD: &str = include_str!("../../../tools/k8s/helm/go.mod");
pub(crate) const HELM_GO_SUM: &str = include_str!("../../../tools/k8s/helm/go.sum");

/// Upstream versions plinth pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versions {
    /// `k8s.io/kubernetes`, e.g. `1.37.2`.
    pub kubernetes: String,
    /// `go.etcd.io/etcd/server/v3`, e.g. `3.6.16`.
    pub etcd: String,
    /// `sigs.k8s.io/cluster-api`.
    pub cluster_api: String,
    /// `sigs.k8s.io/cluster-api-provider-aws/v2`.
    pub cluster_api_provider_aws: String,
    /// `github.com/open-policy-agent/opa`.
    pub opa: String,
    /// `github.com/np-guard/netpol-analyzer` (the `k8snetpolicy` NetworkPolicy analyzer).
    pub npguard: String,
    /// `helm.sh/helm/v4`.
    pub helm: String,
    /// `github.com/open-policy-agent/gatekeeper/v3` (its ConstraintTemplate CRD).
    pub gatekeeper: String,
    /// `github.com/kyverno/kyverno` (the PolicyReport CRDs it ships).
    pub kyverno: String,
    /// `istio.io/api` (the Istio CRDs it ships).
    pub istio: String,
    /// `github.com/cert-manager/cert-manager` (its CRDs).
    pub cert_manager: String,
    /// `github.com/prometheus-operator/prometheus-operator` (its CRDs).
    pub prometheus_operator: String,
    /// `k8s.io/autoscaler/vertical-pod-autoscaler` (its CRDs).
    pub vertical_pod_autoscaler: String,
}

impl Versions {
    /// The pinned versions.
    pub fn pinned() -> Versions {
        Versions::parse(VERSIONS_ENV)
    }

    fn parse(text: &str) -> Versions {
        let get = |key: &str| {
            text.lines()
                .filter_map(|l| l.trim().split_once('='))
                .find(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_default()
        };
        Versions {
            kubernetes: get("KUBERNETES_VERSION"),
            etcd: get("ETCD_VERSION"),
            cluster_api: get("CLUSTER_API_VERSION"),
            cluster_api_provider_aws: get("CLUSTER_API_PROVIDER_AWS_VERSION"),
            opa: get("OPA_VERSION"),
            npguard: get("NPGUARD_VERSION"),
            helm: get("HELM_VERSION"),
            gatekeeper: get("GATEKEEPER_VERSION"),
            kyverno: get("KYVERNO_VERSION"),
            istio: get("ISTIO_VERSION"),
            cert_manager: get("CERT_MANAGER_VERSION"),
            prometheus_operator: get("PROMETHEUS_OPERATOR_VERSION"),
            vertical_pod_autoscaler: get("VERTICAL_POD_AUTOSCALER_VERSION"),
        }
    }

    /// `major.minor` of the pinned Kubernetes.
    pub fn kubernetes_minor(&self) -> &str {
        self.kubernetes
            .rsplit_once('.')
            .map_or(self.kubernetes.as_str(), |(mm, _)| mm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_file_is_complete_and_agrees_with_wrapper_modules() {
        let v = Versions::pinned();
        for (name, value) in [
            ("kubernetes", &v.kubernetes),
            ("etcd", &v.etcd),
            ("cluster-api", &v.cluster_api),
            ("cluster-api-provider-aws", &v.cluster_api_provider_aws),
            ("opa", &v.opa),
            ("np-guard", &v.npguard),
            ("helm", &v.helm),
            ("gatekeeper", &v.gatekeeper),
            ("kyverno", &v.kyverno),
            ("istio", &v.istio),
            ("cert-manager", &v.cert_manager),
            ("prometheus-operator", &v.prometheus_operator),
            ("vertical-pod-autoscaler", &v.vertical_pod_autoscaler),
        ] {
            assert!(
                value.split('.').count() == 3 && value.split('.').all(|p| p.parse::<u32>().is_ok()),
                "{name} version {value:?} in tools/k8s/versions.env is not x.y.z"
            );
        }
        assert!(v.etcd.starts_with("3.6."), "etcd must stay on 3.6.x");
        let needle = format!("k8s.io/kubernetes v{}", v.kubernetes);
        assert!(
            KUBE_GO_MOD.contains(&needle),
            "tools/k8s/kube/go.mod does not pin {needle}; run tools/k8s/pin"
        );
        let staging = format!("k8s.io/api => k8s.io/api v0.{}", &v.kubernetes[2..]);
        assert!(
            KUBE_GO_MOD.contains(&staging),
            "staging replaces stale; run tools/k8s/pin"
        );
        let etcd = format!("go.etcd.io/etcd/server/v3 v{}", v.etcd);
        assert!(
            ETCD_GO_MOD.contains(&etcd),
            "tools/k8s/etcd/go.mod does not pin {etcd}; run tools/k8s/pin"
        );
        let opa = format!("github.com/open-policy-agent/opa v{}", v.opa);
        assert!(
            OPA_GO_MOD.contains(&opa),
            "tools/k8s/opa/go.mod does not pin {opa}; run tools/k8s/pin"
        );
        let npguard = format!("github.com/np-guard/netpol-analyzer v{}", v.npguard);
        assert!(
            NPGUARD_GO_MOD.contains(&npguard),
            "tools/k8s/npguard/go.mod does not pin {npguard}; run tools/k8s/pin"
        );
        assert!(
            NPGUARD_GO_SUM.contains(&format!("{npguard} h1:")),
            "tools/k8s/npguard/go.sum lacks the hash of {npguard}; run tools/k8s/pin"
        );
        let helm = format!("helm.sh/helm/v4 v{}", v.helm);
        assert!(
            HELM_GO_MOD.contains(&helm),
            "tools/k8s/helm/go.mod does not pin {helm}; run tools/k8s/pin"
        );
        assert_eq!(v.kubernetes_minor(), plinth_kube::KUBERNETES_API_VERSION);
        assert!(!KUBE_GO_SUM.is_empty() && !ETCD_GO_SUM.is_empty() && !OPA_GO_SUM.is_empty());
    }
}
