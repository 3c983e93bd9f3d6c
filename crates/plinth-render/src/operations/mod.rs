//! Cluster operations add-ons: the cluster-autoscaler, Falco's custom rules and the
//! trivy-operator's settings, rendered as plain Kubernetes objects.
//!
//! The seed (section 2.2) wrote a `cluster-autoscaler-status` ConfigMap with the autoscaler's
//! flags in it. That ConfigMap is the *status* the autoscaler itself writes; nothing reads
//! configuration from it. Here the settings become what the autoscaler really reads: its
//! command-line flags and the `cluster-autoscaler-priority-expander` ConfigMap, next to the
//! Deployment, RBAC and disruption budget that run it.
//!
//! Section 4.1's Falco rules become a rules file in Falco's rule language (lists, macros and
//! rules), and its trivy scan policy (a `VulnerabilityReport` used as a policy, with an
//! unpinned `aquasec/trivy:latest`) becomes the two ConfigMaps the trivy-operator reads.
//!
//! Everything here is pure and deterministic: the same settings give the same objects.
//!
//! ```
//! use plinth_render::operations::{AutoscalerSettings, cluster_autoscaler};
//!
//! let objects = cluster_autoscaler(&AutoscalerSettings::default()).unwrap();
//! assert!(objects.iter().any(|o| o["kind"] == "Deployment"));
//! ```

mod autoscaler;
mod falco;
mod trivy;

pub use autoscaler::*;
pub use falco::*;
pub use trivy::*;

pub use plinth_core::names::is_dns_label;
use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Deserialize;
use serde_json::{Value, json};

/// The upstream cluster-autoscaler image (without tag).
pub const AUTOSCALER_IMAGE: &str = "registry.k8s.io/autoscaling/cluster-autoscaler";
/// The default cluster-autoscaler tag. Keep it within one minor version of the cluster's
/// Kubernetes version: the autoscaler embeds the scheduler of its minor version.
pub const AUTOSCALER_DEFAULT_TAG: &str = "v1.32.1";
/// Name of the autoscaler's objects (Deployment, ServiceAccount, RBAC, PDB, lease).
pub const AUTOSCALER_NAME: &str = "cluster-autoscaler";
/// Namespace the autoscaler runs in; its status ConfigMap, priority ConfigMap and
/// leader-election lease live here.
pub const AUTOSCALER_NAMESPACE: &str = "kube-system";
/// The ConfigMap the priority expander reads (name fixed by the autoscaler).
pub const PRIORITY_EXPANDER_CONFIGMAP: &str = "cluster-autoscaler-priority-expander";
/// The ConfigMap the autoscaler writes its status to (name fixed by the autoscaler). Never
/// rendered: it is output, not configuration.
pub const AUTOSCALER_STATUS_CONFIGMAP: &str = "cluster-autoscaler-status";

/// Falco's rule priorities, most severe first (`INFO` is also accepted by Falco as an alias
/// of `INFORMATIONAL`).
pub const FALCO_PRIORITIES: &[&str] = &[
    "EMERGENCY",
    "ALERT",
    "CRITICAL",
    "ERROR",
    "WARNING",
    "NOTICE",
    "INFORMATIONAL",
    "DEBUG",
];

/// Macros of Falco's default rules file (`falco_rules.yaml` of falcosecurity/rules, stable
/// since Falco 0.2x) that the plinth rules use without defining them. Everything else they
/// use is defined in the plinth rules file itself.
pub const FALCO_DEFAULT_MACROS: &[&str] = &[
    "spawned_process",
    "container",
    "open_write",
    "open_read",
    "outbound",
];

/// Why operations objects could not be rendered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OperationsError {
    /// A name is not a DNS label (RFC 1123: 1–63 lower-case letters, digits and `-`,
    /// starting and ending with a letter or digit).
    #[error("`{field}`: {value:?} is not a DNS label")]
    NotDnsLabel {
        /// The setting, as a path (`nodePools[1].name`).
        field: String,
        /// The rejected value.
        value: String,
    },
    /// A node pool's minimum exceeds its maximum.
    #[error("`{field}`: minNodes {min} exceeds maxNodes {max}")]
    MinAboveMax {
        /// The pool, as a path (`nodePools[1]`).
        field: String,
        /// Its minimum.
        min: u32,
        /// Its maximum.
        max: u32,
    },
    /// Two entries share a value that must be unique (pool names, ASG names, priorities).
    #[error("`{field}`: {value:?} is already used by `{first}`")]
    Duplicate {
        /// The second entry's setting.
        field: String,
        /// The shared value.
        value: String,
        /// The first entry's setting.
        first: String,
    },
    /// A setting is empty, out of range or malformed.
    #[error("`{field}`: {reason}")]
    Invalid {
        /// The setting, as a path.
        field: String,
        /// Why it is rejected.
        reason: String,
    },
    /// Serialising generated text (YAML or JSON) failed.
    #[error("serialising {what}: {message}")]
    Serialise {
        /// What was being serialised.
        what: &'static str,
        /// The serialiser's message.
        message: String,
    },
}

pub(super) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> OperationsError {
    OperationsError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

pub(super) fn dns_label(field: impl Into<String>, value: &str) -> Result<(), OperationsError> {
    if is_dns_label(value) {
        Ok(())
    } else {
        Err(OperationsError::NotDnsLabel {
            field: field.into(),
            value: value.to_owned(),
        })
    }
}

/// Whether `s` is a Go `time.Duration` as the autoscaler's flags parse it (`10m`, `1h30m`,
/// `90s`, `0`).
pub fn is_go_duration(s: &str) -> bool {
    if s == "0" {
        return true;
    }
    let mut rest = s;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..digits];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return false;
        }
        rest = &rest[digits..];
        let unit = ["ns", "us", "µs", "ms", "s", "m", "h"]
            .iter()
            .filter(|u| rest.starts_with(**u))
            .max_by_key(|u| u.len());
        match unit {
            Some(u) => rest = &rest[u.len()..],
            None => return false,
        }
    }
    true
}

pub(super) fn duration(field: &str, value: &str) -> Result<(), OperationsError> {
    if is_go_duration(value) {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("{value:?} is not a duration such as 10m, 1h30m or 90s"),
        ))
    }
}

pub(super) fn image_tag(field: &str, tag: &str) -> Result<(), OperationsError> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag != "latest"
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && tag
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("{tag:?} is not a pinned image tag (no `latest`, [A-Za-z0-9_.-])"),
        ))
    }
}

pub(super) fn quantity(field: &str, value: &str) -> Result<(), OperationsError> {
    let digits = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, suffix) = value.split_at(digits);
    let suffixes = [
        "", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
    ];
    if !number.is_empty()
        && number != "."
        && number.matches('.').count() <= 1
        && suffixes.contains(&suffix)
    {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("{value:?} is not a resource quantity such as 100m or 600Mi"),
        ))
    }
}

pub(super) fn yaml_text<T: serde::Serialize>(
    what: &'static str,
    v: &T,
) -> Result<String, OperationsError> {
    serde_saphyr::to_string(v).map_err(|e| OperationsError::Serialise {
        what,
        message: e.to_string(),
    })
}

pub(super) fn json_text(what: &'static str, v: &Value) -> Result<String, OperationsError> {
    serde_json::to_string(v).map_err(|e| OperationsError::Serialise {
        what,
        message: e.to_string(),
    })
}
