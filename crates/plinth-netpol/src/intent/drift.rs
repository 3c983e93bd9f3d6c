//! Drift between intent and what NetworkPolicies actually allow: for every ordered pair of
//! pods, the ports the cluster allows minus the ports intent allows (over-permissive), and
//! the ports intent requires minus the ports the cluster allows (missing), grouped by
//! identity pair.
//!
//! Intent between pods: the matrix entries between their identities, plus every identity's
//! DNS traffic to the cluster DNS pods (UDP and TCP 53). A pod no identity selects is
//! `unmanaged`: anything the cluster lets it exchange with an identity's pods is
//! over-permissive; traffic between two unmanaged pods is outside the model and only
//! counted.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Model;
use crate::engine::Index;
use crate::model::{Pod, Protocol};
use crate::portset::PortSet;

/// One side of a drift entry: an identity, the cluster DNS, or pods outside the model.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "type", content = "name", rename_all = "camelCase")]
pub enum Party {
    /// An identity, `NAMESPACE/NAME`.
    Identity(String),
    /// The cluster DNS pods.
    Dns,
    /// Pods no identity selects, by namespace.
    Unmanaged(String),
}

impl std::fmt::Display for Party {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Party::Identity(id) => f.write_str(id),
            Party::Dns => f.write_str("cluster DNS"),
            Party::Unmanaged(ns) => write!(f, "unmanaged pods in {ns}"),
        }
    }
}

/// Connections between two parties that differ from intent in one way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Source.
    pub from: Party,
    /// Destination.
    pub to: Party,
    /// The ports in question (union over the pod pairs).
    pub ports: String,
    /// How many pod pairs show it.
    pub pod_pairs: usize,
    /// Up to three of them, `SRC_POD -> DST_POD`.
    pub examples: Vec<String>,
}

/// The drift report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    /// Connections the cluster allows and intent does not.
    pub over_permissive: Vec<Entry>,
    /// Connections intent requires and the cluster blocks.
    pub missing: Vec<Entry>,
    /// Identities with no pod in the cluster (their intent cannot be checked).
    pub identities_without_pods: Vec<String>,
    /// Pod pairs compared.
    pub pod_pairs: usize,
    /// Pod pairs between two unmanaged pods (outside the model, not compared).
    pub unmanaged_pairs: usize,
}

impl Drift {
    /// No drift in either direction.
    pub fn is_clean(&self) -> bool {
        self.over_permissive.is_empty() && self.missing.is_empty()
    }
}

#[derive(Default)]
struct Acc {
    ports: PortSet,
    pairs: usize,
    examples: Vec<String>,
}

fn add(
    acc: &mut BTreeMap<(Party, Party), Acc>,
    key: (Party, Party),
    ports: &PortSet,
    pair: String,
) {
    let a = acc.entry(key).or_default();
    a.ports.union_with(ports);
    a.pairs += 1;
    if a.examples.len() < 3 {
        a.examples.push(pair);
    }
}

fn entries(acc: BTreeMap<(Party, Party), Acc>) -> Vec<Entry> {
    acc.into_iter()
        .map(|((from, to), a)| Entry {
            from,
            to,
            ports: a.ports.to_string(),
            pod_pairs: a.pairs,
            examples: a.examples,
        })
        .collect()
}

/// Compares `index` (what the policies allow) with `model`.
pub fn drift(model: &Model, index: &Index) -> Drift {
    let pods = index.pods();
    let dns = &model.spec.dns;
    let party = |p: &Pod| -> Party {
        if let Some(i) = model.identities_of_pod(&p.namespace, &p.labels).next() {
            Party::Identity(i.id())
        } else if p.namespace == dns.namespace
            && dns
                .pod_labels
                .iter()
                .all(|(k, v)| p.labels.get(k).is_some_and(|x| x == v))
        {
            Party::Dns
        } else {
            Party::Unmanaged(p.namespace.clone())
        }
    };
    let parties: Vec<Party> = pods.iter().map(party).collect();
    let mut intended: BTreeMap<(&str, &str), PortSet> = BTreeMap::new();
    for m in &model.spec.matrix {
        intended
            .entry((m.from.as_str(), m.to.as_str()))
            .or_default()
            .union_with(&PortSet::range(m.protocol, m.port, m.port));
    }
    let mut dns_ports = PortSet::range(Protocol::Udp, 53, 53);
    dns_ports.union_with(&PortSet::range(Protocol::Tcp, 53, 53));
    let name_of = |p: &Party| -> Option<String> {
        match p {
            Party::Identity(id) => id.split_once('/').map(|(_, n)| n.to_owned()),
            _ => None,
        }
    };
    let mut actual: BTreeMap<(usize, usize), PortSet> = BTreeMap::new();
    for c in index.connectivity() {
        actual.insert((c.from, c.to), c.ports);
    }
    let mut over = BTreeMap::new();
    let mut missing = BTreeMap::new();
    let (mut compared, mut unmanaged) = (0, 0);
    let empty = PortSet::empty();
    for (i, pi) in parties.iter().enumerate() {
        for (j, pj) in parties.iter().enumerate() {
            if i == j {
                continue;
            }
            let managed = |p: &Party| !matches!(p, Party::Unmanaged(_));
            if !managed(pi) && !managed(pj) {
                unmanaged += 1;
                continue;
            }
            compared += 1;
            let want = match (pi, pj, name_of(pi), name_of(pj)) {
                (_, _, Some(a), Some(b)) => intended
                    .get(&(a.as_str(), b.as_str()))
                    .cloned()
                    .unwrap_or_default(),
                (Party::Identity(_), Party::Dns, _, _) => dns_ports.clone(),
                _ => PortSet::empty(),
            };
            // Traffic between DNS pods, or from DNS to the outside, is not the model's.
            if matches!((pi, pj), (Party::Dns, Party::Dns | Party::Unmanaged(_)))
                || matches!((pi, pj), (Party::Unmanaged(_), Party::Dns))
            {
                compared -= 1;
                unmanaged += 1;
                continue;
            }
            let have = actual.get(&(i, j)).unwrap_or(&empty);
            let pair = format!("{} -> {}", pods[i].id(), pods[j].id());
            let extra = have.difference(&want);
            if !extra.is_empty() {
                add(&mut over, (pi.clone(), pj.clone()), &extra, pair.clone());
            }
            let lacking = want.difference(have);
            if !lacking.is_empty() {
                add(&mut missing, (pi.clone(), pj.clone()), &lacking, pair);
            }
        }
    }
    let present: std::collections::BTreeSet<&Party> = parties.iter().collect();
    let identities_without_pods = model
        .spec
        .identities
        .iter()
        .map(super::Identity::id)
        .filter(|id| !present.contains(&Party::Identity(id.clone())))
        .collect();
    Drift {
        over_permissive: entries(over),
        missing: entries(missing),
        identities_without_pods,
        pod_pairs: compared,
        unmanaged_pairs: unmanaged,
    }
}
