//! The connectivity map: for every ordered pair of distinct pods, the ports on which the
//! source may open a connection to the destination — egress of the source intersected
//! with ingress of the destination, each a union over the rules that match.
//!
//! Work is organised so that nothing is evaluated per pair that does not depend on the
//! pair: each rule's peers are matched against every pod once (a row of booleans), each
//! rule's ports are resolved once (or per destination when they name ports), and an
//! unisolated pod's direction costs nothing.

use crate::engine::{Endpoint, Index};
use crate::policy::{Direction, Policy, Port, PortMatch, Rule};
use crate::portset::PortSet;

/// One allowed connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// Source pod (index into [`Index::pods`]).
    pub from: usize,
    /// Destination pod.
    pub to: usize,
    /// The allowed ports (never empty).
    pub ports: PortSet,
}

/// A rule prepared for the map.
struct Prepared<'a> {
    /// Which pods its peers match (by pod index).
    peers: Vec<bool>,
    /// Its ports when they name no container port (the same for every destination).
    fixed: Option<PortSet>,
    rule: &'a Rule,
}

fn port_set(
    ports: Option<&[Port]>,
    named: impl Fn(&str, crate::Protocol) -> Option<u16>,
) -> PortSet {
    let Some(ports) = ports else {
        return PortSet::all();
    };
    let mut set = PortSet::empty();
    for p in ports {
        let part = match &p.port {
            PortMatch::Any => PortSet::all_of(p.protocol),
            PortMatch::Range(a, b) => PortSet::range(p.protocol, *a, *b),
            PortMatch::Named(name) => match named(name, p.protocol) {
                Some(n) => PortSet::range(p.protocol, n, n),
                None => PortSet::empty(),
            },
        };
        set.union_with(&part);
    }
    set
}

impl Index {
    fn prepare<'a>(&self, policy: &'a Policy, direction: Direction) -> Vec<Prepared<'a>> {
        policy
            .rules(direction)
            .iter()
            .map(|rule| {
                let peers = (0..self.pods().len())
                    .map(|t| match &rule.peers {
                        None => true,
                        Some(peers) => peers
                            .iter()
                            .any(|p| self.peer_matches(policy, p, Endpoint::Pod(t))),
                    })
                    .collect();
                let named = rule
                    .ports
                    .iter()
                    .flatten()
                    .any(|p| matches!(p.port, PortMatch::Named(_)));
                Prepared {
                    peers,
                    fixed: (!named).then(|| port_set(rule.ports.as_deref(), |_, _| None)),
                    rule,
                }
            })
            .collect()
    }

    /// Per pod of one direction: `None` when unrestricted, else the allowed ports towards
    /// (egress) or from (ingress) every other pod.
    fn direction_matrix(
        &self,
        direction: Direction,
        prepared: &[Vec<Vec<Prepared<'_>>>; 2],
    ) -> Vec<Option<Vec<PortSet>>> {
        let n = self.pods().len();
        let d = match direction {
            Direction::Ingress => 0,
            Direction::Egress => 1,
        };
        (0..n)
            .map(|subject| {
                let isolating = self.isolating_policies(subject, direction);
                if isolating.is_empty() {
                    return None;
                }
                let mut row = vec![PortSet::empty(); n];
                for &policy in isolating {
                    for rule in prepared[d][policy].iter() {
                        // Ports naming container ports resolve on the destination: for
                        // ingress that is the subject, the same for the whole row.
                        let row_ports = match (&rule.fixed, direction) {
                            (Some(ports), _) => Some(ports.clone()),
                            (None, Direction::Ingress) => {
                                let dest = &self.pods()[subject];
                                Some(port_set(rule.rule.ports.as_deref(), |name, proto| {
                                    dest.named_port(name, proto)
                                }))
                            }
                            (None, Direction::Egress) => None,
                        };
                        for (peer, allowed) in row.iter_mut().enumerate() {
                            if !rule.peers[peer] {
                                continue;
                            }
                            match &row_ports {
                                Some(ports) => allowed.union_with(ports),
                                None => {
                                    let dest = &self.pods()[peer];
                                    allowed.union_with(&port_set(
                                        rule.rule.ports.as_deref(),
                                        |name, proto| dest.named_port(name, proto),
                                    ));
                                }
                            }
                        }
                    }
                }
                Some(row)
            })
            .collect()
    }

    /// Every allowed connection between two distinct pods, ordered by source then
    /// destination. (A pod's traffic to itself is always allowed and not listed.)
    pub fn connectivity(&self) -> Vec<Connection> {
        let prepared: [Vec<Vec<Prepared<'_>>>; 2] = [
            self.policies()
                .iter()
                .map(|p| self.prepare(p, Direction::Ingress))
                .collect(),
            self.policies()
                .iter()
                .map(|p| self.prepare(p, Direction::Egress))
                .collect(),
        ];
        let egress = self.direction_matrix(Direction::Egress, &prepared);
        let ingress = self.direction_matrix(Direction::Ingress, &prepared);
        let n = self.pods().len();
        let all = PortSet::all();
        let mut out = Vec::new();
        for from in 0..n {
            for to in 0..n {
                if from == to {
                    continue;
                }
                let e = egress[from].as_ref().map_or(&all, |row| &row[to]);
                let i = ingress[to].as_ref().map_or(&all, |row| &row[from]);
                let ports = if e.is_all() {
                    i.clone()
                } else if i.is_all() {
                    e.clone()
                } else {
                    e.intersection(i)
                };
                if !ports.is_empty() {
                    out.push(Connection { from, to, ports });
                }
            }
        }
        out
    }
}
