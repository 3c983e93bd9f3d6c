//! Every semantic check of a model, each problem with the field path it is about (so a
//! file-backed model reports `file:line`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use ipnet::IpNet;
pub use plinth_core::names::{is_dns_label, is_dns_subdomain};

use super::decide::{ZoneCheck, zone_rules_allow};
use super::{Identity, MatrixEntry, TrustLevel, ZeroTrustModelSpec, ZoneRule, duration};
use crate::model::Protocol;

/// One problem in a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The field path below `spec`, e.g. `["zones", "1", "cidrs", "0"]`.
    pub path: Vec<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spec.{}: {}", self.path.join("."), self.message)
    }
}

struct Problems(Vec<Problem>);

impl Problems {
    fn push(&mut self, path: &[&dyn fmt::Display], message: impl Into<String>) {
        self.0.push(Problem {
            path: path.iter().map(|p| p.to_string()).collect(),
            message: message.into(),
        });
    }
}

/// All problems of `spec`; empty when it is valid.
pub fn validate(spec: &ZeroTrustModelSpec) -> Vec<Problem> {
    let mut p = Problems(Vec::new());
    if !is_dns_subdomain(&spec.trust_domain) {
        p.push(
            &[&"trustDomain"],
            format!("{:?} is not a DNS name", spec.trust_domain),
        );
    }
    if !is_dns_subdomain(&spec.cluster_domain) {
        p.push(
            &[&"clusterDomain"],
            format!("{:?} is not a DNS name", spec.cluster_domain),
        );
    }
    if !is_dns_label(&spec.dns.namespace) {
        p.push(
            &[&"dns", &"namespace"],
            format!("{:?} is not a namespace name", spec.dns.namespace),
        );
    }
    labels(&mut p, &[&"dns", &"podLabels"], &spec.dns.pod_labels, true);
    if let Some(c) = &spec.certificates {
        certificates(&mut p, c);
    }
    zones(&mut p, spec);
    let identities = identities(&mut p, spec);
    matrix(&mut p, spec, &identities);
    p.0
}

fn labels(
    p: &mut Problems,
    at: &[&dyn fmt::Display],
    map: &BTreeMap<String, String>,
    required: bool,
) {
    if required && map.is_empty() {
        p.push(at, "must name at least one label");
    }
    for (k, v) in map {
        let mut path: Vec<&dyn fmt::Display> = at.to_vec();
        path.push(k);
        if let Err(e) = plinth_core::selector::validate_label_key(k) {
            p.push(&path, format!("label key: {e}"));
        }
        if let Err(e) = plinth_core::selector::validate_label_value(v) {
            p.push(&path, format!("label value: {e}"));
        }
    }
}

fn certificates(p: &mut Problems, c: &super::CertificateSettings) {
    for (field, value) in [
        ("name", &c.issuer_ref.name),
        ("kind", &c.issuer_ref.kind),
        ("group", &c.issuer_ref.group),
    ] {
        if value.is_empty() {
            p.push(
                &[&"certificates", &"issuerRef", &field],
                "is required (plinth never relies on cert-manager's defaults for the issuer)",
            );
        }
    }
    if c.issuer_ref.group == "cert-manager.io"
        && !matches!(c.issuer_ref.kind.as_str(), "Issuer" | "ClusterIssuer")
    {
        p.push(
            &[&"certificates", &"issuerRef", &"kind"],
            format!(
                "{:?} is not a cert-manager.io issuer kind (Issuer or ClusterIssuer)",
                c.issuer_ref.kind
            ),
        );
    }
    let hour = 3_600_000_000_000u128;
    let duration = match duration::parse_nanos(&c.duration) {
        Ok(d) if d < hour => {
            p.push(
                &[&"certificates", &"duration"],
                "must be at least 1h (cert-manager's minimum)",
            );
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            p.push(&[&"certificates", &"duration"], e);
            None
        }
    };
    match duration::parse_nanos(&c.renew_before) {
        Ok(r) => {
            if r < 5 * 60_000_000_000 {
                p.push(
                    &[&"certificates", &"renewBefore"],
                    "must be at least 5m (cert-manager's minimum)",
                );
            }
            if duration.is_some_and(|d| r >= d) {
                p.push(
                    &[&"certificates", &"renewBefore"],
                    format!(
                        "{} is not shorter than duration {}",
                        c.renew_before, c.duration
                    ),
                );
            }
        }
        Err(e) => p.push(&[&"certificates", &"renewBefore"], e),
    }
}

fn zones(p: &mut Problems, spec: &ZeroTrustModelSpec) {
    let names: BTreeSet<&str> = spec.zones.iter().map(|z| z.name.as_str()).collect();
    let mut seen = BTreeMap::new();
    let mut all_cidrs: Vec<(IpNet, usize, usize)> = Vec::new();
    if spec.zones.is_empty() {
        p.push(&[&"zones"], "must define at least one zone");
    }
    for (zi, zone) in spec.zones.iter().enumerate() {
        if !is_dns_label(&zone.name) {
            p.push(
                &[&"zones", &zi, &"name"],
                format!("{:?} is not a DNS label", zone.name),
            );
        }
        if let Some(first) = seen.insert(zone.name.as_str(), zi) {
            p.push(
                &[&"zones", &zi, &"name"],
                format!(
                    "zone {:?} is defined twice (first as zones[{first}])",
                    zone.name
                ),
            );
        }
        for (ci, cidr) in zone.cidrs.iter().enumerate() {
            match parse_cidr(cidr) {
                Ok(net) => {
                    for (other, ozi, oci) in &all_cidrs {
                        if net.contains(&other.network()) || other.contains(&net.network()) {
                            p.push(
                                &[&"zones", &zi, &"cidrs", &ci],
                                format!(
                                    "{net} overlaps {other} (zones[{ozi}].cidrs[{oci}], zone {:?}); zone ranges must be disjoint",
                                    spec.zones[*ozi].name
                                ),
                            );
                        }
                    }
                    all_cidrs.push((net, zi, ci));
                }
                Err(e) => p.push(&[&"zones", &zi, &"cidrs", &ci], e),
            }
        }
        for (dir, rules) in [("ingress", &zone.ingress), ("egress", &zone.egress)] {
            for (ri, rule) in rules.iter().enumerate() {
                zone_rule(p, &[&"zones", &zi, &dir, &ri], rule, &names);
            }
        }
        // Addresses admitted into a zone must be trusted enough to be there.
        for (ri, rule) in zone.ingress.iter().enumerate() {
            if rule.zone.is_some() {
                continue;
            }
            let peer = rule.trust_level.unwrap_or(TrustLevel::Untrusted);
            if let Some(why) = super::decide::trust_blocks(peer, zone.trust_level) {
                p.push(
                    &[&"zones", &zi, &"ingress", &ri],
                    format!(
                        "contradicts the trust levels: {why}; if these addresses are trusted, list them under cidrs with a trustLevel"
                    ),
                );
            }
        }
    }
}

/// A CIDR in canonical form (host bits zero), as NetworkPolicy `ipBlock` requires.
pub fn parse_cidr(text: &str) -> Result<IpNet, String> {
    let net: IpNet = text
        .parse()
        .map_err(|_| format!("{text:?} is not a CIDR (like 10.0.0.0/24)"))?;
    if net.trunc() != net {
        return Err(format!(
            "{text:?} has host bits set; write {} instead",
            net.trunc()
        ));
    }
    Ok(net)
}

fn zone_rule(p: &mut Problems, at: &[&dyn fmt::Display], rule: &ZoneRule, zones: &BTreeSet<&str>) {
    let kinds = usize::from(rule.zone.is_some())
        + usize::from(rule.external)
        + usize::from(!rule.cidrs.is_empty())
        + usize::from(rule.any);
    if kinds != 1 {
        p.push(
            at,
            "must name exactly one peer: zone, external: true, cidrs or any: true",
        );
    }
    if rule.trust_level.is_some() && rule.cidrs.is_empty() {
        p.push(
            at,
            "trustLevel belongs to cidrs peers only (zones have their own trust level)",
        );
    }
    if let Some(z) = &rule.zone
        && !zones.contains(z.as_str())
    {
        let mut path = at.to_vec();
        path.push(&"zone");
        p.push(
            &path,
            format!("unknown zone {z:?} (zones: {})", join(zones.iter())),
        );
    }
    for (ci, cidr) in rule.cidrs.iter().enumerate() {
        if let Err(e) = parse_cidr(cidr) {
            let mut path = at.to_vec();
            path.push(&"cidrs");
            path.push(&ci);
            p.push(&path, e);
        }
    }
    let mut path = at.to_vec();
    path.push(&"ports");
    if rule.ports.is_empty() {
        p.push(&path, "must list at least one port");
    }
    for (pi, port) in rule.ports.iter().enumerate() {
        if *port == 0 {
            let mut path = path.clone();
            path.push(&pi);
            p.push(&path, "0 is not a port (1-65535)");
        }
    }
    let mut path = at.to_vec();
    path.push(&"protocols");
    if rule.protocols.is_empty() {
        p.push(&path, "must list at least one protocol (TCP, UDP, SCTP)");
    }
    let unique: BTreeSet<Protocol> = rule.protocols.iter().copied().collect();
    if unique.len() != rule.protocols.len() {
        p.push(&path, "lists a protocol twice");
    }
}

fn join<'a>(items: impl Iterator<Item = &'a &'a str>) -> String {
    items.copied().collect::<Vec<_>>().join(", ")
}

fn identities<'a>(
    p: &mut Problems,
    spec: &'a ZeroTrustModelSpec,
) -> BTreeMap<&'a str, &'a Identity> {
    let zones: BTreeMap<&str, TrustLevel> = spec
        .zones
        .iter()
        .map(|z| (z.name.as_str(), z.trust_level))
        .collect();
    let mut by_name: BTreeMap<&str, &Identity> = BTreeMap::new();
    let mut first_at: BTreeMap<&str, usize> = BTreeMap::new();
    for (ii, id) in spec.identities.iter().enumerate() {
        if !is_dns_label(&id.name) {
            p.push(
                &[&"identities", &ii, &"name"],
                format!("{:?} is not a DNS label", id.name),
            );
        }
        if !is_dns_label(&id.namespace) {
            p.push(
                &[&"identities", &ii, &"namespace"],
                format!("{:?} is not a namespace name", id.namespace),
            );
        }
        if let Some(sa) = &id.service_account
            && !is_dns_subdomain(sa)
        {
            p.push(
                &[&"identities", &ii, &"serviceAccount"],
                format!("{sa:?} is not a service account name"),
            );
        }
        labels(p, &[&"identities", &ii, &"labels"], &id.labels, false);
        if !zones.contains_key(id.zone.as_str()) {
            let known: Vec<&str> = zones.keys().copied().collect();
            p.push(
                &[&"identities", &ii, &"zone"],
                format!("unknown zone {:?} (zones: {})", id.zone, known.join(", ")),
            );
        }
        if let Some(first) = first_at.insert(id.name.as_str(), ii) {
            p.push(
                &[&"identities", &ii, &"name"],
                format!(
                    "identity {:?} is defined twice (first as identities[{first}])",
                    id.name
                ),
            );
        } else {
            by_name.insert(id.name.as_str(), id);
        }
    }
    // Two identities whose selectors match one pod would give that pod both identities'
    // policies (NetworkPolicies add up): refuse, as no single intent describes the pod.
    for (ai, a) in spec.identities.iter().enumerate() {
        for (bi, b) in spec.identities.iter().enumerate().skip(ai + 1) {
            if a.namespace != b.namespace {
                continue;
            }
            let (la, lb) = (a.pod_labels(), b.pod_labels());
            let compatible = la.iter().all(|(k, v)| lb.get(k).is_none_or(|w| w == v));
            if compatible {
                p.push(
                    &[&"identities", &bi, &"labels"],
                    format!(
                        "a pod labelled {} would be both {:?} and {:?} (identities[{ai}]) in namespace {}; give each identity a label value of its own",
                        render_labels(&la.into_iter().chain(lb).collect()),
                        b.name,
                        a.name,
                        a.namespace
                    ),
                );
            }
        }
    }
    by_name
}

fn render_labels(l: &BTreeMap<String, String>) -> String {
    l.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn matrix(p: &mut Problems, spec: &ZeroTrustModelSpec, ids: &BTreeMap<&str, &Identity>) {
    let zones: BTreeMap<&str, &super::Zone> =
        spec.zones.iter().map(|z| (z.name.as_str(), z)).collect();
    let mut seen: BTreeMap<(&str, &str, u16, Protocol), usize> = BTreeMap::new();
    for (mi, entry) in spec.matrix.iter().enumerate() {
        let MatrixEntry {
            from,
            to,
            port,
            protocol,
            ..
        } = entry;
        let src = ids.get(from.as_str());
        let dst = ids.get(to.as_str());
        for (field, name, found) in [("from", from, src.is_some()), ("to", to, dst.is_some())] {
            if !found {
                p.push(
                    &[&"matrix", &mi, &field],
                    format!("unknown identity {name:?}; define it under identities"),
                );
            }
        }
        if *port == 0 {
            p.push(&[&"matrix", &mi, &"port"], "0 is not a port (1-65535)");
        }
        if let Some(first) = seen.insert((from, to, *port, *protocol), mi) {
            p.push(
                &[&"matrix", &mi],
                format!("repeats matrix[{first}] ({from} -> {to} {port}/{protocol})"),
            );
        }
        let (Some(src), Some(dst)) = (src, dst) else {
            continue;
        };
        let trust = |i: &Identity| {
            i.trust_level
                .or_else(|| zones.get(i.zone.as_str()).map(|z| z.trust_level))
                .unwrap_or(TrustLevel::Untrusted)
        };
        if let Some(why) = super::decide::trust_blocks(trust(src), trust(dst)) {
            p.push(
                &[&"matrix", &mi],
                format!("{from} -> {to} contradicts the trust levels: {why}"),
            );
        }
        if let (Some(sz), Some(dz)) = (zones.get(src.zone.as_str()), zones.get(dst.zone.as_str()))
            && let ZoneCheck::Blocked(why) = zone_rules_allow(sz, dz, *port, *protocol)
        {
            p.push(
                &[&"matrix", &mi],
                format!("{from} -> {to} {port}/{protocol} contradicts the zone rules: {why}"),
            );
        }
    }
}
