//! The add-ons a spec may name, and where each one's objects live.
//!
//! Add-ons installed into the workload cluster go through a ClusterResourceSet with the
//! manifests the platform team supplies (`render::addons`, private; plinth ships none
//! and never invents them). `cluster-autoscaler` is different: with the `clusterapi`
//! provider it runs next to the Cluster API objects in the management cluster and is
//! rendered there, complete.

/// Where an add-on runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// In the workload cluster, through the ClusterResourceSet.
    Workload,
    /// In the management cluster, next to the Cluster API objects.
    Management,
}

/// A known add-on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addon {
    /// The name a spec uses.
    pub name: &'static str,
    /// The namespace its workload-cluster objects go into.
    pub namespace: &'static str,
    /// Where it runs.
    pub placement: Placement,
}

const fn workload(name: &'static str, namespace: &'static str) -> Addon {
    Addon {
        name,
        namespace,
        placement: Placement::Workload,
    }
}

/// Every add-on a spec may name, sorted by name.
pub const KNOWN: &[Addon] = &[
    workload("aws-cloud-controller-manager", "kube-system"),
    workload("aws-ebs-csi-driver", "kube-system"),
    workload(
        "aws-load-balancer-controller",
        "aws-load-balancer-controller",
    ),
    workload("calico", "calico-system"),
    workload("cert-manager", "cert-manager"),
    Addon {
        name: "cluster-autoscaler",
        namespace: "kube-system",
        placement: Placement::Management,
    },
    workload("external-dns", "external-dns"),
    workload("istio-base", "istio-system"),
    workload("istio-istiod", "istio-system"),
    workload("metrics-server", "kube-system"),
    workload("prometheus-operator", "monitoring"),
];

/// The known add-on called `name`.
pub fn find(name: &str) -> Option<&'static Addon> {
    KNOWN.iter().find(|a| a.name == name)
}

/// The known names, comma-separated (for messages).
pub fn known_names() -> String {
    KNOWN.iter().map(|a| a.name).collect::<Vec<_>>().join(", ")
}
