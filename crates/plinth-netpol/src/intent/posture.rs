//! Zero-trust posture computed from the real objects — replacing the seed's simulated
//! traffic and invented score with counts anyone can check:
//!
//! - pods isolated by some NetworkPolicy for ingress, and for egress;
//! - pods (and workloads) whose effective Istio mTLS mode is STRICT, with Istio's
//!   precedence: a workload-selecting PeerAuthentication over the namespace's over the
//!   mesh's (in the root namespace), `UNSET` inheriting, PERMISSIVE when none applies,
//!   and any port-level exception making the pod not fully STRICT;
//! - with a model: identities with a cert-manager Certificate for their service (SPIFFE
//!   URI or service DNS name), and matrix entries *enforced* — every pod pair of the
//!   entry allowed while both ends are isolated, so the connection is allowed by a rule
//!   rather than by the absence of policy.
//!
//! Ratios are `null` when there is nothing to count; no number is made up.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::Model;
use crate::engine::{Endpoint, Index, PortQuery};
use crate::model::Pod;
use crate::policy::Direction;

/// `covered` of `total`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ratio {
    /// How many are covered.
    pub covered: usize,
    /// Of how many.
    pub total: usize,
    /// `covered / total`, `None` when `total` is 0.
    pub ratio: Option<f64>,
}

impl Ratio {
    fn new(covered: usize, total: usize) -> Ratio {
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        let ratio = (total > 0).then(|| covered as f64 / total as f64);
        Ratio {
            covered,
            total,
            ratio,
        }
    }
}

impl std::fmt::Display for Ratio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ratio {
            Some(r) => write!(f, "{}/{} ({:.1}%)", self.covered, self.total, r * 100.0),
            None => write!(f, "0/0 (nothing to count)"),
        }
    }
}

/// The posture report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Posture {
    /// Pods isolated for ingress (host-network pods count as not isolated).
    pub ingress_isolated: Ratio,
    /// Pods isolated for egress.
    pub egress_isolated: Ratio,
    /// Pods whose effective mTLS mode is STRICT on every port.
    pub strict_mtls_pods: Ratio,
    /// Workloads all of whose pods are STRICT.
    pub strict_mtls_workloads: Ratio,
    /// Identities with a Certificate (with a model).
    pub identities_with_certificate: Option<Ratio>,
    /// Matrix entries enforced (with a model).
    pub matrix_enforced: Option<Ratio>,
    /// Pods not isolated in some direction, `NS/POD (ingress|egress|both)`.
    pub not_isolated: Vec<String>,
    /// Pods not under STRICT mTLS, with their effective mode and where it comes from.
    pub not_strict: Vec<String>,
    /// Identities without a Certificate.
    pub identities_without_certificate: Vec<String>,
    /// Matrix entries not enforced, and why.
    pub matrix_not_enforced: Vec<String>,
}

/// The Istio root namespace, where mesh-wide policies live.
pub const DEFAULT_ROOT_NAMESPACE: &str = "istio-system";

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

fn match_labels(v: &Value) -> BTreeMap<String, String> {
    v.pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector
        .iter()
        .all(|(k, v)| labels.get(k).is_some_and(|x| x == v))
}

/// The effective mTLS mode of a pod and where it comes from.
pub fn effective_mtls(
    pod: &Pod,
    peer_authentications: &[Value],
    root_namespace: &str,
) -> (String, String) {
    // Oldest first, then by name, as Istio resolves conflicts.
    let mut pas: Vec<&Value> = peer_authentications.iter().collect();
    pas.sort_by(|a, b| {
        let key = |v: &Value| {
            (
                str_at(v, &["metadata", "creationTimestamp"])
                    .unwrap_or("")
                    .to_owned(),
                str_at(v, &["metadata", "name"]).unwrap_or("").to_owned(),
            )
        };
        key(a).cmp(&key(b))
    });
    let in_ns = |ns: &str| -> Vec<&Value> {
        pas.iter()
            .copied()
            .filter(|v| str_at(v, &["metadata", "namespace"]) == Some(ns))
            .collect()
    };
    let mode = |v: &Value| {
        str_at(v, &["spec", "mtls", "mode"])
            .unwrap_or("UNSET")
            .to_owned()
    };
    let name = |v: &Value| {
        format!(
            "PeerAuthentication {}/{}",
            str_at(v, &["metadata", "namespace"]).unwrap_or(""),
            str_at(v, &["metadata", "name"]).unwrap_or("")
        )
    };
    let mut port_exception = None;
    if let Some(pa) = in_ns(&pod.namespace).into_iter().find(|v| {
        let sel = match_labels(v);
        !sel.is_empty() && selects(&sel, &pod.labels)
    }) {
        if let Some(ports) = pa.pointer("/spec/portLevelMtls").and_then(Value::as_object)
            && let Some((port, _)) = ports
                .iter()
                .find(|(_, m)| m.get("mode").and_then(Value::as_str) != Some("STRICT"))
        {
            port_exception = Some(format!("{} (port {port} is not STRICT)", name(pa)));
        }
        let m = mode(pa);
        if m != "UNSET" {
            return match port_exception {
                Some(why) if m == "STRICT" => ("STRICT except a port".into(), why),
                _ => (m, name(pa)),
            };
        }
    }
    let scoped = |ns: &str| in_ns(ns).into_iter().find(|v| match_labels(v).is_empty());
    for ns in [pod.namespace.as_str(), root_namespace] {
        if let Some(pa) = scoped(ns) {
            let m = mode(pa);
            if m != "UNSET" {
                return match port_exception {
                    Some(why) if m == "STRICT" => ("STRICT except a port".into(), why),
                    _ => (m, name(pa)),
                };
            }
        }
    }
    (
        "PERMISSIVE".into(),
        "no PeerAuthentication applies (Istio's default)".into(),
    )
}

/// Computes the posture.
pub fn posture(
    index: &Index,
    model: Option<&Model>,
    peer_authentications: &[Value],
    certificates: &[Value],
    root_namespace: &str,
) -> Posture {
    let pods = index.pods();
    let mut not_isolated = Vec::new();
    let (mut ing, mut eg) = (0, 0);
    let mut not_strict = Vec::new();
    let mut strict_pods = 0;
    let mut workloads: BTreeMap<String, bool> = BTreeMap::new();
    for (i, p) in pods.iter().enumerate() {
        let (a, b) = (
            index.is_isolated(i, Direction::Ingress),
            index.is_isolated(i, Direction::Egress),
        );
        ing += usize::from(a);
        eg += usize::from(b);
        match (a, b) {
            (true, true) => {}
            (false, true) => not_isolated.push(format!("{} (ingress)", p.id())),
            (true, false) => not_isolated.push(format!("{} (egress)", p.id())),
            (false, false) => not_isolated.push(format!("{} (both)", p.id())),
        }
        let (mode, why) = effective_mtls(p, peer_authentications, root_namespace);
        let strict = mode == "STRICT" && !p.host_network;
        strict_pods += usize::from(strict);
        if !strict {
            let why = if p.host_network {
                "host network: outside the mesh".to_owned()
            } else {
                why
            };
            not_strict.push(format!("{}: {mode} — {why}", p.id()));
        }
        *workloads
            .entry(format!(
                "{}/{}",
                p.namespace,
                crate::render::workload_name(p)
            ))
            .or_insert(true) &= strict;
    }
    let strict_workloads = workloads.values().filter(|s| **s).count();
    let mut identities_with_certificate = None;
    let mut identities_without_certificate = Vec::new();
    let mut matrix_enforced = None;
    let mut matrix_not_enforced = Vec::new();
    if let Some(model) = model {
        let mut with = 0;
        for id in &model.spec.identities {
            let uri = format!("spiffe://{}", super::compile::principal(model, id));
            let dns = format!("{}.{}.svc", id.name, id.namespace);
            let has = certificates.iter().any(|c| {
                str_at(c, &["metadata", "namespace"]) == Some(id.namespace.as_str())
                    && ["uris", "dnsNames"].iter().any(|field| {
                        c.pointer(&format!("/spec/{field}"))
                            .and_then(Value::as_array)
                            .is_some_and(|v| {
                                v.iter().any(|x| {
                                    x.as_str() == Some(uri.as_str())
                                        || x.as_str() == Some(dns.as_str())
                                })
                            })
                    })
            });
            if has {
                with += 1;
            } else {
                identities_without_certificate.push(id.id());
            }
        }
        identities_with_certificate = Some(Ratio::new(with, model.spec.identities.len()));
        let pods_of = |name: &str| -> Vec<usize> {
            model.identity(name).map_or_else(Vec::new, |id| {
                pods.iter()
                    .enumerate()
                    .filter(|(_, p)| {
                        p.namespace == id.namespace && selects(&id.pod_labels(), &p.labels)
                    })
                    .map(|(i, _)| i)
                    .collect()
            })
        };
        let mut enforced = 0;
        for (mi, m) in model.spec.matrix.iter().enumerate() {
            let label = format!(
                "matrix[{mi}] {} -> {} {}/{}",
                m.from, m.to, m.port, m.protocol
            );
            let (src, dst) = (pods_of(&m.from), pods_of(&m.to));
            if src.is_empty() || dst.is_empty() {
                let who = if src.is_empty() { &m.from } else { &m.to };
                matrix_not_enforced.push(format!("{label}: no pods of {who}"));
                continue;
            }
            let mut problem = None;
            'pairs: for &s in &src {
                for &d in &dst {
                    if s == d {
                        continue;
                    }
                    let allowed = index
                        .verify(
                            Endpoint::Pod(s),
                            Endpoint::Pod(d),
                            &PortQuery::Number(m.port),
                            m.protocol,
                        )
                        .is_ok_and(|v| v.allowed);
                    if !allowed {
                        problem =
                            Some(format!("blocked from {} to {}", pods[s].id(), pods[d].id()));
                        break 'pairs;
                    }
                    if !index.is_isolated(d, Direction::Ingress)
                        || !index.is_isolated(s, Direction::Egress)
                    {
                        problem = Some(format!(
                            "allowed only because {} -> {} is not isolated",
                            pods[s].id(),
                            pods[d].id()
                        ));
                        break 'pairs;
                    }
                }
            }
            match problem {
                None => enforced += 1,
                Some(why) => matrix_not_enforced.push(format!("{label}: {why}")),
            }
        }
        matrix_enforced = Some(Ratio::new(enforced, model.spec.matrix.len()));
    }
    Posture {
        ingress_isolated: Ratio::new(ing, pods.len()),
        egress_isolated: Ratio::new(eg, pods.len()),
        strict_mtls_pods: Ratio::new(strict_pods, pods.len()),
        strict_mtls_workloads: Ratio::new(strict_workloads, workloads.len()),
        identities_with_certificate,
        matrix_enforced,
        not_isolated,
        not_strict,
        identities_without_certificate,
        matrix_not_enforced,
    }
}
