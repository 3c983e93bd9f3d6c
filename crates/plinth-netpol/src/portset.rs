//! Sets of (protocol, port) as sorted, disjoint, non-adjacent ranges per protocol — the
//! value of one cell of a connectivity map. Written here because the operations needed
//! (union, intersection, canonical printing over three protocols of 16-bit ranges) are a
//! few dozen lines, smaller than adapting a general interval-set crate.

use std::fmt;

use crate::model::Protocol;

const PROTOCOLS: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

fn slot(p: Protocol) -> usize {
    match p {
        Protocol::Tcp => 0,
        Protocol::Udp => 1,
        Protocol::Sctp => 2,
    }
}

/// A set of ports per protocol.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PortSet {
    ranges: [Vec<(u16, u16)>; 3],
}

impl PortSet {
    /// No ports.
    pub fn empty() -> PortSet {
        PortSet::default()
    }

    /// Every port of every protocol.
    pub fn all() -> PortSet {
        PortSet {
            ranges: [
                vec![(1, u16::MAX)],
                vec![(1, u16::MAX)],
                vec![(1, u16::MAX)],
            ],
        }
    }

    /// Every port of `protocol`.
    pub fn all_of(protocol: Protocol) -> PortSet {
        PortSet::range(protocol, 1, u16::MAX)
    }

    /// `start..=end` of `protocol` (empty when `start > end`).
    pub fn range(protocol: Protocol, start: u16, end: u16) -> PortSet {
        let mut s = PortSet::empty();
        if start <= end {
            s.ranges[slot(protocol)].push((start, end));
        }
        s
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.iter().all(Vec::is_empty)
    }

    /// Whether the set holds every port of every protocol.
    pub fn is_all(&self) -> bool {
        self.ranges.iter().all(|r| r == &[(1, u16::MAX)])
    }

    /// Whether `port` of `protocol` is in the set.
    pub fn contains(&self, protocol: Protocol, port: u16) -> bool {
        self.ranges[slot(protocol)]
            .iter()
            .any(|&(a, b)| a <= port && port <= b)
    }

    /// Adds every port of `other`.
    pub fn union_with(&mut self, other: &PortSet) {
        for (mine, theirs) in self.ranges.iter_mut().zip(&other.ranges) {
            if theirs.is_empty() {
                continue;
            }
            mine.extend_from_slice(theirs);
            normalise(mine);
        }
    }

    /// The ports in both sets.
    pub fn intersection(&self, other: &PortSet) -> PortSet {
        let mut out = PortSet::empty();
        for (i, (a, b)) in self.ranges.iter().zip(&other.ranges).enumerate() {
            let (mut x, mut y) = (0, 0);
            while x < a.len() && y < b.len() {
                let lo = a[x].0.max(b[y].0);
                let hi = a[x].1.min(b[y].1);
                if lo <= hi {
                    out.ranges[i].push((lo, hi));
                }
                if a[x].1 < b[y].1 {
                    x += 1;
                } else {
                    y += 1;
                }
            }
        }
        out
    }

    /// The ports in `self` and not in `other`.
    pub fn difference(&self, other: &PortSet) -> PortSet {
        let mut complement = PortSet::empty();
        for (i, theirs) in other.ranges.iter().enumerate() {
            // The gaps of a sorted, disjoint range list; `next` is the first port not yet
            // covered (None once 65535 is).
            let mut next: Option<u16> = Some(1);
            for &(a, b) in theirs {
                if let Some(n) = next
                    && a > n
                {
                    complement.ranges[i].push((n, a - 1));
                }
                next = b.checked_add(1);
            }
            if let Some(n) = next {
                complement.ranges[i].push((n, u16::MAX));
            }
        }
        self.intersection(&complement)
    }

    /// Reads a connection as np-guard's `k8snetpolicy list` prints it: `All Connections`,
    /// or protocol groups joined by commas, each group running until the next protocol
    /// name (`SCTP 9,TCP 80-82,90-95,UDP 53`). For comparing with that reference tool.
    pub fn from_np_guard(conn: &str) -> Result<PortSet, String> {
        if conn == "All Connections" {
            return Ok(PortSet::all());
        }
        let mut set = PortSet::empty();
        let mut protocol = None;
        for token in conn.split(',').map(str::trim) {
            let ports = match token.split_once(' ') {
                Some((p, rest)) if ["TCP", "UDP", "SCTP"].contains(&p) => {
                    protocol = p.parse::<Protocol>().ok();
                    rest
                }
                _ => token,
            };
            let protocol =
                protocol.ok_or_else(|| format!("connection {conn:?}: ports before a protocol"))?;
            let (a, b) = ports.split_once('-').unwrap_or((ports, ports));
            let number = |s: &str| {
                s.parse::<u16>()
                    .map_err(|_| format!("connection {conn:?}: bad port {s:?}"))
            };
            set.union_with(&PortSet::range(protocol, number(a)?, number(b)?));
        }
        Ok(set)
    }

    /// The ranges of `protocol`.
    pub fn ranges(&self, protocol: Protocol) -> &[(u16, u16)] {
        &self.ranges[slot(protocol)]
    }
}

fn normalise(r: &mut Vec<(u16, u16)>) {
    r.sort_unstable();
    let mut out: Vec<(u16, u16)> = Vec::with_capacity(r.len());
    for &(a, b) in r.iter() {
        match out.last_mut() {
            Some(last) if u32::from(a) <= u32::from(last.1) + 1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    *r = out;
}

impl fmt::Display for PortSet {
    /// `All connections`, `No connections`, or `TCP 80,8000-8080; UDP 53`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("All connections");
        }
        if self.is_empty() {
            return f.write_str("No connections");
        }
        let mut first = true;
        for p in PROTOCOLS {
            let r = self.ranges(p);
            if r.is_empty() {
                continue;
            }
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{p} ")?;
            if r == [(1, u16::MAX)] {
                f.write_str("all ports")?;
                continue;
            }
            for (i, (a, b)) in r.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                if a == b {
                    write!(f, "{a}")?;
                } else {
                    write!(f, "{a}-{b}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(items: &[(u8, u16, u16)]) -> PortSet {
        let mut s = PortSet::empty();
        for &(p, a, b) in items {
            s.union_with(&PortSet::range(PROTOCOLS[usize::from(p % 3)], a, b));
        }
        s
    }

    #[test]
    fn merges_and_prints() {
        let mut s = PortSet::range(Protocol::Tcp, 80, 80);
        s.union_with(&PortSet::range(Protocol::Tcp, 81, 90));
        s.union_with(&PortSet::range(Protocol::Udp, 53, 53));
        assert_eq!(s.ranges(Protocol::Tcp), &[(80, 90)]);
        assert_eq!(s.to_string(), "TCP 80-90; UDP 53");
        assert_eq!(PortSet::all().to_string(), "All connections");
        assert_eq!(PortSet::all_of(Protocol::Udp).to_string(), "UDP all ports");
        assert_eq!(PortSet::empty().to_string(), "No connections");
        let d = PortSet::all_of(Protocol::Tcp).difference(&s);
        assert_eq!(d.ranges(Protocol::Tcp), &[(1, 79), (91, u16::MAX)]);
        assert!(PortSet::all().difference(&PortSet::all()).is_empty());
    }

    #[test]
    fn reads_np_guard_connections() {
        let s = PortSet::from_np_guard("SCTP 9,TCP 80-82,90-95,UDP 53").unwrap();
        assert!(s.contains(Protocol::Sctp, 9));
        assert!(s.contains(Protocol::Tcp, 91) && !s.contains(Protocol::Tcp, 89));
        assert!(s.contains(Protocol::Udp, 53) && !s.contains(Protocol::Tcp, 53));
        assert!(PortSet::from_np_guard("All Connections").unwrap().is_all());
        assert!(PortSet::from_np_guard("80").is_err());
        assert!(PortSet::from_np_guard("TCP x").is_err());
    }

    proptest! {
        #[test]
        fn set_operations_agree_with_membership(
            a in prop::collection::vec((0u8..3, 1u16..200, 1u16..200), 0..6),
            b in prop::collection::vec((0u8..3, 1u16..200, 1u16..200), 0..6),
            probe in (0u8..3, 1u16..210),
        ) {
            let (x, y) = (set(&a), set(&b));
            let p = PROTOCOLS[usize::from(probe.0)];
            let mut u = x.clone();
            u.union_with(&y);
            prop_assert_eq!(u.contains(p, probe.1), x.contains(p, probe.1) || y.contains(p, probe.1));
            prop_assert_eq!(x.intersection(&y).contains(p, probe.1), x.contains(p, probe.1) && y.contains(p, probe.1));
            prop_assert_eq!(x.difference(&y).contains(p, probe.1), x.contains(p, probe.1) && !y.contains(p, probe.1));
            prop_assert!(PortSet::all().difference(&x).intersection(&x).is_empty());
            // Canonical: disjoint, sorted, not adjacent.
            for r in &u.ranges {
                for w in r.windows(2) {
                    prop_assert!(u32::from(w[0].1) + 1 < u32::from(w[1].0));
                }
            }
        }
    }
}
