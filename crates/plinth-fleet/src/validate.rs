//! Semantic checks of a parsed `ManagedCluster`; every problem carries the JSON path of
//! the offending value so [`crate::load`] can turn it into `file:line`.

use std::collections::BTreeMap;

use ipnet::Ipv4Net;
use plinth_core::names::{is_dns_label, is_dns_subdomain};

use crate::addons;
use crate::network;
use crate::spec::ManagedCluster;
use crate::version::KubeVersion;

/// One problem: where (path segments from the document root) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub path: Vec<String>,
    pub message: String,
}

fn p(path: &[&str], message: impl Into<String>) -> Problem {
    Problem {
        path: path.iter().map(|s| (*s).to_owned()).collect(),
        message: message.into(),
    }
}

/// Longest name of a generated object that is also a label value (63 characters).
const MAX_LABEL: usize = 63;

/// Every problem of `c` (empty when it is valid).
pub(crate) fn check(c: &ManagedCluster) -> Vec<Problem> {
    let mut out = Vec::new();
    let name = &c.metadata.name;
    if !is_dns_label(name) {
        out.push(p(
            &["metadata", "name"],
            format!("{name:?} is not a DNS label (lower-case letters, digits and '-', at most 63)"),
        ));
    }
    let s = &c.spec;
    if !valid_region(&s.region) {
        out.push(p(
            &["spec", "region"],
            format!("{:?} is not an AWS region name (e.g. us-east-1)", s.region),
        ));
    }
    if let Err(e) = s.kubernetes_version.parse::<KubeVersion>() {
        out.push(p(&["spec", "kubernetesVersion"], e.to_string()));
    }
    control_plane(c, &mut out);
    pools(c, &mut out);
    networking(c, &mut out);
    addon_names(c, &mut out);
    machine_images(c, &mut out);
    backup(c, &mut out);
    if let Some(secret) = &s.security.encryption_config_secret
        && !is_dns_subdomain(secret)
    {
        out.push(p(
            &["spec", "security", "encryptionConfigSecret"],
            format!("{secret:?} is not a valid Secret name"),
        ));
    }
    out
}

fn valid_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|x| {
            !x.is_empty()
                && x.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|x| x.bytes().all(|b| b.is_ascii_digit()))
}

fn control_plane(c: &ManagedCluster, out: &mut Vec<Problem>) {
    let cp = &c.spec.control_plane;
    if cp.replicas == 0 || cp.replicas.is_multiple_of(2) {
        out.push(p(
            &["spec", "controlPlane", "replicas"],
            format!(
                "{} control-plane replicas: etcd needs an odd number (1, 3, 5) to keep quorum",
                cp.replicas
            ),
        ));
    }
    if cp.instance_type.trim().is_empty() {
        out.push(p(
            &["spec", "controlPlane", "instanceType"],
            "must not be empty",
        ));
    }
    if cp.root_volume_size < 8 {
        out.push(p(
            &["spec", "controlPlane", "rootVolumeSize"],
            "root volumes are at least 8 GiB",
        ));
    }
}

fn pools(c: &ManagedCluster, out: &mut Vec<Problem>) {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, pool) in c.spec.node_pools.iter().enumerate() {
        let idx = i.to_string();
        let at_owned = |field: &str, message: String| Problem {
            path: vec![
                "spec".to_owned(),
                "nodePools".to_owned(),
                idx.clone(),
                field.to_owned(),
            ],
            message,
        };
        if !is_dns_label(&pool.name) {
            out.push(at_owned(
                "name",
                format!("{:?} is not a DNS label", pool.name),
            ));
        } else if c.metadata.name.len() + 1 + pool.name.len() > MAX_LABEL {
            out.push(at_owned(
                "name",
                format!(
                    "\"{}-{}\" (the MachineDeployment's name, also a label value) is longer than {MAX_LABEL} characters",
                    c.metadata.name, pool.name
                ),
            ));
        }
        if let Some(first) = seen.insert(&pool.name, i) {
            out.push(at_owned(
                "name",
                format!(
                    "pool {:?} is defined twice (also nodePools[{first}])",
                    pool.name
                ),
            ));
        }
        if pool.machine_type.trim().is_empty() {
            out.push(at_owned("machineType", "must not be empty".to_owned()));
        }
        if pool.max_nodes == 0 {
            out.push(at_owned("maxNodes", "must be at least 1".to_owned()));
        }
        if pool.min_nodes > pool.max_nodes {
            out.push(at_owned(
                "minNodes",
                format!(
                    "minNodes {} is greater than maxNodes {}",
                    pool.min_nodes, pool.max_nodes
                ),
            ));
        }
        if pool.root_volume_size < 8 {
            out.push(at_owned(
                "rootVolumeSize",
                "root volumes are at least 8 GiB".to_owned(),
            ));
        }
        if let Some(price) = &pool.spot_max_price {
            if !pool.spot {
                out.push(at_owned(
                    "spotMaxPrice",
                    "spotMaxPrice is only meaningful with spot: true".to_owned(),
                ));
            }
            if !valid_price(price) {
                out.push(at_owned(
                    "spotMaxPrice",
                    format!(
                        "{price:?} is not a positive decimal price in USD per hour (e.g. \"1.50\")"
                    ),
                ));
            }
        }
        for (j, t) in pool.taints.iter().enumerate() {
            if !valid_qualified_name(&t.key) {
                out.push(Problem {
                    path: ["spec", "nodePools", &idx, "taints", &j.to_string(), "key"]
                        .iter()
                        .map(|s| (*s).to_owned())
                        .collect(),
                    message: format!("{:?} is not a valid taint key", t.key),
                });
            }
        }
        for (k, v) in &pool.labels {
            if !valid_qualified_name(k) || !valid_label_value(v) {
                out.push(Problem {
                    path: ["spec", "nodePools", &idx, "labels", k]
                        .iter()
                        .map(|s| (*s).to_owned())
                        .collect(),
                    message: format!("{k}={v} is not a valid node label"),
                });
            } else if !kubelet_may_set(k) {
                out.push(Problem {
                    path: ["spec", "nodePools", &idx, "labels", k]
                        .iter()
                        .map(|s| (*s).to_owned())
                        .collect(),
                    message: format!(
                        "the kubelet may not set {k} (labels under kubernetes.io and k8s.io are refused by NodeRestriction, except node.kubernetes.io/ and kubelet.kubernetes.io/)"
                    ),
                });
            }
        }
    }
}

/// Whether the NodeRestriction admission plugin lets a kubelet set label `key` on itself.
fn kubelet_may_set(key: &str) -> bool {
    let Some((prefix, _)) = key.rsplit_once('/') else {
        return true;
    };
    let restricted = ["kubernetes.io", "k8s.io"]
        .iter()
        .any(|d| prefix == *d || prefix.ends_with(&format!(".{d}")));
    !restricted
        || ["node.kubernetes.io", "kubelet.kubernetes.io"]
            .iter()
            .any(|d| prefix == *d || prefix.ends_with(&format!(".{d}")))
}

fn valid_price(s: &str) -> bool {
    let mut parts = s.splitn(2, '.');
    let whole = parts.next().unwrap_or_default();
    let frac = parts.next().unwrap_or("0");
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && !frac.is_empty()
        && frac.bytes().all(|b| b.is_ascii_digit())
        && s.bytes().any(|b| (b'1'..=b'9').contains(&b))
}

/// `[prefix/]name` as label keys and taint keys are written.
fn valid_qualified_name(s: &str) -> bool {
    let (prefix, name) = match s.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    prefix.is_none_or(is_dns_subdomain) && !name.is_empty() && valid_label_value(name)
}

fn valid_label_value(v: &str) -> bool {
    v.len() <= 63
        && (v.is_empty()
            || (v
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                && v.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                && v.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())))
}

fn cidr(value: &str, field: &str, out: &mut Vec<Problem>) -> Option<Ipv4Net> {
    let path = ["spec", "networking", field];
    match value.parse::<Ipv4Net>() {
        Ok(net) if net.trunc() == net => Some(net),
        Ok(net) => {
            out.push(p(
                &path,
                format!("{value} has host bits set; the range is {}", net.trunc()),
            ));
            None
        }
        Err(_) => {
            out.push(p(
                &path,
                format!("{value:?} is not an IPv4 CIDR (e.g. 10.0.0.0/16)"),
            ));
            None
        }
    }
}

fn networking(c: &ManagedCluster, out: &mut Vec<Problem>) {
    let n = &c.spec.networking;
    let vpc = cidr(&n.vpc_cidr, "vpcCidr", out);
    let pods = cidr(&n.pod_cidr, "podCidr", out);
    let services = cidr(&n.service_cidr, "serviceCidr", out);
    if let Some(v) = vpc
        && !(16..=24).contains(&v.prefix_len())
    {
        out.push(p(
            &["spec", "networking", "vpcCidr"],
            format!(
                "a VPC is /16 to /24 here (AWS allows /16 to /28; subnets need room), not /{}",
                v.prefix_len()
            ),
        ));
    }
    let named = [
        ("vpcCidr", "VPC", vpc),
        ("podCidr", "pod", pods),
        ("serviceCidr", "service", services),
    ];
    for (i, (_, what_a, a)) in named.iter().enumerate() {
        for (field_b, what_b, b) in &named[i + 1..] {
            if let (Some(a), Some(b)) = (a, b)
                && network::overlaps(a, b)
            {
                out.push(p(
                    &["spec", "networking", field_b],
                    format!("the {what_b} range {b} overlaps the {what_a} range {a}"),
                ));
            }
        }
    }
    let zones = c.availability_zones();
    for (i, z) in n.availability_zones.iter().enumerate() {
        let idx = i.to_string();
        let path = ["spec", "networking", "availabilityZones", idx.as_str()];
        let suffix = z.strip_prefix(c.spec.region.as_str());
        if !suffix.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase())) {
            out.push(p(
                &path,
                format!(
                    "{z:?} is not a zone of region {:?} (e.g. {}a)",
                    c.spec.region, c.spec.region
                ),
            ));
        }
        if n.availability_zones[..i].contains(z) {
            out.push(p(&path, format!("zone {z:?} is listed twice")));
        }
    }
    if let Some(v) = vpc
        && let Err(e) = network::subnets(v, &zones)
    {
        out.push(p(&["spec", "networking", "vpcCidr"], e.to_string()));
    }
}

fn addon_names(c: &ManagedCluster, out: &mut Vec<Problem>) {
    for (i, a) in c.spec.addons.iter().enumerate() {
        let idx = i.to_string();
        let path = ["spec", "addons", idx.as_str()];
        if addons::find(a).is_none() {
            out.push(p(
                &path,
                format!("unknown add-on {a:?}; known: {}", addons::known_names()),
            ));
        }
        if c.spec.addons[..i].contains(a) {
            out.push(p(&path, format!("add-on {a:?} is listed twice")));
        }
    }
}

/// `ami-` and 8 or 17 lower-case hexadecimal digits, as EC2 issues image IDs.
fn valid_ami(s: &str) -> bool {
    s.strip_prefix("ami-").is_some_and(|h| {
        (h.len() == 8 || h.len() == 17)
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn machine_images(c: &ManagedCluster, out: &mut Vec<Problem>) {
    for (version, ami) in &c.spec.machine_images {
        let path = ["spec", "machineImages", version.as_str()];
        if let Err(e) = version.parse::<KubeVersion>() {
            out.push(p(&path, format!("key {version:?}: {e}")));
        }
        if !valid_ami(ami) {
            out.push(p(
                &path,
                format!("{ami:?} is not an AMI ID (ami- and 8 or 17 hexadecimal digits)"),
            ));
        }
    }
}

fn backup(c: &ManagedCluster, out: &mut Vec<Problem>) {
    let b = &c.spec.backup;
    if let Some(s) = &b.schedule
        && !["hourly", "daily", "weekly"].contains(&s.as_str())
    {
        out.push(p(
            &["spec", "backup", "schedule"],
            format!("{s:?} is not one of hourly, daily, weekly"),
        ));
    }
    if let Some(r) = &b.retention {
        let ok = r
            .strip_suffix('d')
            .or_else(|| r.strip_suffix('h'))
            .is_some_and(|n| {
                !n.is_empty()
                    && n.bytes().all(|b| b.is_ascii_digit())
                    && n.parse::<u32>().is_ok_and(|n| n > 0)
            });
        if !ok {
            out.push(p(
                &["spec", "backup", "retention"],
                format!("{r:?} is not a duration in days or hours (e.g. 30d, 12h)"),
            ));
        }
    }
}
