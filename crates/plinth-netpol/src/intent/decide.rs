//! "May A reach B on port P?" decided from intent, with the seed's three layers — trust
//! levels, zone rules, the communication matrix — and one correction: a connection
//! between zones needs the source zone's egress rule AND the target zone's ingress rule
//! (the seed checked only the source's egress).

use std::net::IpAddr;

use serde::Serialize;

use super::{Identity, Model, TrustLevel, Zone, ZoneRule};
use crate::model::Protocol;

/// One end of a connection.
#[derive(Debug, Clone, Copy)]
pub enum Party<'a> {
    /// A service identity.
    Identity(&'a Identity),
    /// An address: in a zone when a zone's CIDR contains it, external otherwise.
    Address(IpAddr),
}

/// The answer of one layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layer {
    /// `trust`, `zone` or `matrix`.
    pub layer: &'static str,
    /// Whether this layer allows the connection (`None`: the layer does not apply).
    pub allowed: Option<bool>,
    /// Why.
    pub reasons: Vec<String>,
}

/// The answer from intent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntentVerdict {
    /// Every applicable layer allows it.
    pub allowed: bool,
    /// Each layer's answer.
    pub layers: Vec<Layer>,
}

impl IntentVerdict {
    /// The reasons of all layers, each prefixed with its layer.
    pub fn reasons(&self) -> Vec<String> {
        self.layers
            .iter()
            .flat_map(|l| l.reasons.iter().map(move |r| format!("{}: {r}", l.layer)))
            .collect()
    }
}

/// Why the trust levels forbid `source` → `target`, if they do: an untrusted party never
/// reaches a trusted or privileged one (the seed's rule).
pub fn trust_blocks(source: TrustLevel, target: TrustLevel) -> Option<String> {
    (source == TrustLevel::Untrusted && target >= TrustLevel::Trusted).then(|| {
        format!("a source of trust level {source} may not reach a target of trust level {target}")
    })
}

/// The zone-rule answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneCheck {
    /// Allowed, with the rules that allowed it.
    Allowed(Vec<String>),
    /// Blocked, and why.
    Blocked(String),
}

/// Where an end of a connection sits, zone-wise.
#[derive(Debug, Clone, Copy)]
enum Place<'a> {
    Zone(&'a Zone, Option<IpAddr>),
    External(IpAddr),
}

impl Place<'_> {
    fn describe(&self) -> String {
        match self {
            Place::Zone(z, _) => format!("zone {}", z.name),
            Place::External(ip) => format!("external address {ip}"),
        }
    }
}

fn rule_matches(rule: &ZoneRule, peer: &Place<'_>, port: u16, protocol: Protocol) -> bool {
    if !rule.ports.contains(&port) || !rule.protocols.contains(&protocol) {
        return false;
    }
    let ip = match peer {
        Place::Zone(z, ip) => {
            if rule.zone.as_deref() == Some(z.name.as_str()) {
                return true;
            }
            *ip
        }
        Place::External(ip) => {
            if rule.external {
                return true;
            }
            Some(*ip)
        }
    };
    rule.any
        || ip.is_some_and(|ip| {
            rule.cidrs
                .iter()
                .any(|c| super::validate::parse_cidr(c).is_ok_and(|net| net.contains(&ip)))
        })
}

fn check(from: &Place<'_>, to: &Place<'_>, port: u16, protocol: Protocol) -> ZoneCheck {
    let mut allowed_by = Vec::new();
    if let Place::Zone(z, _) = from {
        match z
            .egress
            .iter()
            .position(|r| rule_matches(r, to, port, protocol))
        {
            Some(i) => allowed_by.push(format!(
                "zone {} egress[{i}] allows {} on {port}/{protocol}",
                z.name,
                to.describe()
            )),
            None => {
                return ZoneCheck::Blocked(format!(
                    "zone {} has no egress rule to {} on {port}/{protocol}",
                    z.name,
                    to.describe()
                ));
            }
        }
    }
    if let Place::Zone(z, _) = to {
        match z
            .ingress
            .iter()
            .position(|r| rule_matches(r, from, port, protocol))
        {
            Some(i) => allowed_by.push(format!(
                "zone {} ingress[{i}] allows {} on {port}/{protocol}",
                z.name,
                from.describe()
            )),
            None => {
                return ZoneCheck::Blocked(format!(
                    "zone {} has no ingress rule from {} on {port}/{protocol}",
                    z.name,
                    from.describe()
                ));
            }
        }
    }
    ZoneCheck::Allowed(allowed_by)
}

/// The zone rules between two zones.
pub fn zone_rules_allow(from: &Zone, to: &Zone, port: u16, protocol: Protocol) -> ZoneCheck {
    check(
        &Place::Zone(from, None),
        &Place::Zone(to, None),
        port,
        protocol,
    )
}

impl Model {
    fn place<'a>(&'a self, party: &Party<'a>) -> Place<'a> {
        match party {
            Party::Identity(i) => match self.zone(&i.zone) {
                Some(z) => Place::Zone(z, None),
                // Unreachable for a validated model; an unknown zone is nowhere.
                None => Place::External(IpAddr::from([0, 0, 0, 0])),
            },
            Party::Address(ip) => self
                .spec
                .zones
                .iter()
                .find(|z| {
                    z.cidrs
                        .iter()
                        .any(|c| super::validate::parse_cidr(c).is_ok_and(|net| net.contains(ip)))
                })
                .map_or(Place::External(*ip), |z| Place::Zone(z, Some(*ip))),
        }
    }

    fn party_trust(&self, party: &Party<'_>) -> TrustLevel {
        match (party, self.place(party)) {
            (Party::Identity(i), _) => self.trust_of(i),
            (_, Place::Zone(z, _)) => z.trust_level,
            (_, Place::External(ip)) => self.address_trust(ip),
        }
    }

    /// An address outside the zones is untrusted unless zone rules naming its range say
    /// otherwise (the least of what they say, when several do).
    pub fn address_trust(&self, ip: IpAddr) -> TrustLevel {
        self.spec
            .zones
            .iter()
            .flat_map(|z| z.ingress.iter().chain(&z.egress))
            .filter(|r| {
                r.cidrs
                    .iter()
                    .any(|c| super::validate::parse_cidr(c).is_ok_and(|net| net.contains(&ip)))
            })
            .filter_map(|r| r.trust_level)
            .min()
            .unwrap_or(TrustLevel::Untrusted)
    }

    /// Decides `from` → `to` on `port`/`protocol` from intent.
    pub fn decide(
        &self,
        from: Party<'_>,
        to: Party<'_>,
        port: u16,
        protocol: Protocol,
    ) -> IntentVerdict {
        let (st, tt) = (self.party_trust(&from), self.party_trust(&to));
        let trust = match trust_blocks(st, tt) {
            Some(why) => Layer {
                layer: "trust",
                allowed: Some(false),
                reasons: vec![why],
            },
            None => Layer {
                layer: "trust",
                allowed: Some(true),
                reasons: vec![format!(
                    "a source of trust level {st} may reach a target of trust level {tt}"
                )],
            },
        };
        let zone = match check(&self.place(&from), &self.place(&to), port, protocol) {
            ZoneCheck::Allowed(reasons) => Layer {
                layer: "zone",
                allowed: Some(true),
                reasons,
            },
            ZoneCheck::Blocked(why) => Layer {
                layer: "zone",
                allowed: Some(false),
                reasons: vec![why],
            },
        };
        let matrix = match (from, to) {
            (Party::Identity(a), Party::Identity(b)) => {
                match self.spec.matrix.iter().position(|m| {
                    m.from == a.name && m.to == b.name && m.port == port && m.protocol == protocol
                }) {
                    Some(i) => {
                        let purpose = self.spec.matrix[i]
                            .purpose
                            .as_deref()
                            .map(|p| format!(" ({p})"))
                            .unwrap_or_default();
                        Layer {
                            layer: "matrix",
                            allowed: Some(true),
                            reasons: vec![format!(
                                "matrix[{i}] allows {} -> {} on {port}/{protocol}{purpose}",
                                a.name, b.name
                            )],
                        }
                    }
                    None => Layer {
                        layer: "matrix",
                        allowed: Some(false),
                        reasons: vec![format!(
                            "no matrix entry allows {} -> {} on {port}/{protocol}",
                            a.name, b.name
                        )],
                    },
                }
            }
            _ => Layer {
                layer: "matrix",
                allowed: None,
                reasons: vec![
                    "the matrix is between identities; an address is governed by zone rules only"
                        .to_owned(),
                ],
            },
        };
        let layers = vec![trust, zone, matrix];
        IntentVerdict {
            allowed: layers.iter().all(|l| l.allowed != Some(false)),
            layers,
        }
    }
}
