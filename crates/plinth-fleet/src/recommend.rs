//! Recommendations computed from a [`ManagedCluster`] spec (never canned text): each
//! names the field it is about and says why, from the values found there.

use std::fmt;

use crate::spec::{ManagedCluster, NodePool, Tier};
use crate::version::KubeVersion;

/// How many minor versions upstream Kubernetes supports at once (the latest three).
pub const SUPPORTED_MINORS: u32 = 3;

/// Words in a pool's name (split at `-`, `_` and `.`) that mark batch or ML work.
const BATCH_WORDS: &[&str] = &[
    "batch", "ml", "gpu", "training", "train", "jobs", "job", "spark", "etl",
];

/// How much a recommendation matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing (cost notes).
    Info,
    /// Worth changing.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
        })
    }
}

/// One recommendation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Recommendation {
    /// Dotted path of the field it is about, e.g. `spec.nodePools[2].spot`.
    pub field: String,
    /// How much it matters.
    pub severity: Severity,
    /// What was found and what to do.
    pub message: String,
}

impl fmt::Display for Recommendation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.severity, self.field, self.message)
    }
}

fn is_gpu_type(machine_type: &str) -> bool {
    // EC2 accelerated families: p (NVIDIA training), g (NVIDIA graphics/inference),
    // trn and inf (AWS Trainium/Inferentia).
    let family = machine_type.split('.').next().unwrap_or("");
    let letters: String = family
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    matches!(letters.as_str(), "p" | "g" | "trn" | "inf")
}

/// Why a pool looks like batch or ML work, if it does.
fn batch_reason(pool: &NodePool) -> Option<String> {
    if let Some(word) = pool
        .name
        .split(['-', '_', '.'])
        .find(|w| BATCH_WORDS.contains(&w.to_ascii_lowercase().as_str()))
    {
        return Some(format!("its name contains {word:?}"));
    }
    if is_gpu_type(&pool.machine_type) {
        return Some(format!(
            "{} is an accelerated instance type",
            pool.machine_type
        ));
    }
    if let Some(t) = pool.taints.iter().find(|t| t.key.contains("gpu")) {
        return Some(format!("it is tainted {}", t.key));
    }
    None
}

/// Recommendations for `cluster`. `latest_supported` is the newest Kubernetes release
/// the caller knows of (there is no clock here); with it, a `kubernetesVersion` more
/// than [`SUPPORTED_MINORS`]` - 1` minors older is reported as out of upstream support.
pub fn recommendations(
    cluster: &ManagedCluster,
    latest_supported: Option<&KubeVersion>,
) -> Vec<Recommendation> {
    let spec = &cluster.spec;
    let production = spec.tier == Tier::Production;
    let mut out = Vec::new();
    let mut add = |field: String, severity: Severity, message: String| {
        out.push(Recommendation {
            field,
            severity,
            message,
        });
    };

    if let Some(latest) = latest_supported
        && let Ok(v) = spec.kubernetes_version.parse::<KubeVersion>()
    {
        let oldest_supported = latest.minor.saturating_sub(SUPPORTED_MINORS - 1);
        if v.major < latest.major || (v.major == latest.major && v.minor < oldest_supported) {
            let behind = if v.major == latest.major {
                latest.minor - v.minor
            } else {
                latest.minor
            };
            add(
                "spec.kubernetesVersion".to_owned(),
                Severity::Warning,
                format!(
                    "{v} is {behind} minor versions behind {latest}; upstream supports the \
                     latest {SUPPORTED_MINORS} minors (v{}.{} and newer): upgrade one minor \
                     at a time",
                    latest.major, oldest_supported
                ),
            );
        } else if v > *latest {
            add(
                "spec.kubernetesVersion".to_owned(),
                Severity::Warning,
                format!("{v} is newer than the latest supported release {latest}"),
            );
        }
    }

    if let Ok(v) = spec.kubernetes_version.parse::<KubeVersion>()
        && crate::render::authentication_config(&v).is_none()
    {
        add(
            "spec.kubernetesVersion".to_owned(),
            Severity::Warning,
            format!(
                "at {v} the API server accepts anonymous requests on every path (RBAC is all \
                 that stops them); from v1.32 plinth limits them to health checks and \
                 kubeadm's cluster-info"
            ),
        );
    }

    if production && spec.control_plane.replicas < 3 {
        add(
            "spec.controlPlane.replicas".to_owned(),
            Severity::Warning,
            format!(
                "a production control plane with {} replica(s) loses etcd quorum with one \
                 machine down; use 3 (or 5)",
                spec.control_plane.replicas
            ),
        );
    }

    let zones = cluster.availability_zones();
    if production && zones.len() < 2 {
        add(
            "spec.networking.availabilityZones".to_owned(),
            Severity::Warning,
            format!(
                "a production cluster in one availability zone ({}) goes down with it; \
                 spread it over at least 2 (3 for the control plane)",
                zones.join(", ")
            ),
        );
    } else if production && spec.control_plane.replicas >= 3 && zones.len() == 2 {
        add(
            "spec.networking.availabilityZones".to_owned(),
            Severity::Info,
            format!(
                "{} control plane machines over 2 zones: losing the zone holding the \
                 majority loses etcd quorum; 3 zones avoid that",
                spec.control_plane.replicas
            ),
        );
    }

    for (i, pool) in spec.node_pools.iter().enumerate() {
        let at = format!("spec.nodePools[{i}]");
        if !pool.spot
            && !pool.dedicated
            && let Some(why) = batch_reason(pool)
        {
            add(
                format!("{at}.spot"),
                Severity::Info,
                format!(
                    "pool {:?} looks like batch/ML work ({why}) but runs on-demand; \
                     interruptible work usually fits spot at a fraction of the price",
                    pool.name
                ),
            );
        }
        if pool.min_nodes == pool.max_nodes {
            add(
                format!("{at}.maxNodes"),
                Severity::Info,
                format!(
                    "pool {:?} has minNodes == maxNodes == {}: the autoscaler cannot add or \
                     remove nodes; widen the range if its load varies",
                    pool.name, pool.max_nodes
                ),
            );
        }
        if pool.spot && pool.spot_max_price.is_none() {
            add(
                format!("{at}.spotMaxPrice"),
                Severity::Info,
                format!(
                    "spot pool {:?} has no spotMaxPrice: bids are capped at the on-demand \
                     price of {}; set a ceiling to bound its cost",
                    pool.name, pool.machine_type
                ),
            );
        }
        if pool.dedicated {
            add(
                format!("{at}.dedicated"),
                Severity::Info,
                format!(
                    "pool {:?} uses dedicated tenancy: {} instances cost more per hour than \
                     shared ones and AWS adds a per-region dedicated fee; keep it only for \
                     compliance or licensing needs",
                    pool.name, pool.machine_type
                ),
            );
        }
        if production && pool.spot && pool.min_nodes > 0 && batch_reason(pool).is_none() {
            add(
                format!("{at}.spot"),
                Severity::Info,
                format!(
                    "pool {:?} keeps {} spot node(s) as its floor in production: spot \
                     capacity can be reclaimed at two minutes' notice",
                    pool.name, pool.min_nodes
                ),
            );
        }
    }
    out
}
