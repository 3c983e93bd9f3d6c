//! Subnets per availability zone, computed from the VPC range.
//!
//! The VPC is cut into `2^m` equal blocks, `m` the fewest bits that give one block per
//! zone plus one spare: the first blocks are the zones' private subnets (where the
//! machines run), the last block is cut again into one public subnet per zone (load
//! balancers, NAT gateways, the bastion). For three zones in a /16 this is the seed's
//! layout: private /18s at .0, .64, .128 and public /20s at .192, .208, .224 — but
//! computed, so it stays inside any VPC and never overlaps.

use ipnet::Ipv4Net;

/// One subnet of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    /// Availability zone.
    pub zone: String,
    /// Address range.
    pub cidr: Ipv4Net,
    /// Public (internet gateway route) or private (NAT).
    pub public: bool,
}

/// Why the subnets cannot be laid out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    /// A range is not an IPv4 CIDR.
    #[error("{0:?} is not an IPv4 CIDR")]
    BadCidr(String),
    /// No zone to put subnets in.
    #[error("at least one availability zone is needed")]
    NoZones,
    /// The VPC is too small for a /28 (the smallest AWS subnet) per subnet.
    #[error("{vpc} is too small for {zones} private and {zones} public subnets of at least /28")]
    TooSmall {
        /// The VPC.
        vpc: Ipv4Net,
        /// Number of zones.
        zones: usize,
    },
}

/// The smallest subnet AWS allows.
const SMALLEST_PREFIX: u8 = 28;

/// Fewest bits that number `n` things.
fn bits_for(n: usize) -> u8 {
    let mut bits = 0u8;
    while (1usize << bits) < n {
        bits += 1;
    }
    bits
}

/// Private then public subnets, one each per zone, in zone order.
pub fn subnets(vpc: Ipv4Net, zones: &[String]) -> Result<Vec<Subnet>, NetworkError> {
    if zones.is_empty() {
        return Err(NetworkError::NoZones);
    }
    let vpc = vpc.trunc();
    let too_small = || NetworkError::TooSmall {
        vpc,
        zones: zones.len(),
    };
    let private_prefix = vpc.prefix_len() + bits_for(zones.len() + 1);
    let public_prefix = private_prefix + bits_for(zones.len());
    if public_prefix > SMALLEST_PREFIX {
        return Err(too_small());
    }
    let blocks: Vec<Ipv4Net> = vpc
        .subnets(private_prefix)
        .map_err(|_| too_small())?
        .collect();
    let spare = *blocks.last().ok_or_else(too_small)?;
    let mut out: Vec<Subnet> = zones
        .iter()
        .zip(&blocks)
        .map(|(zone, cidr)| Subnet {
            zone: zone.clone(),
            cidr: *cidr,
            public: false,
        })
        .collect();
    let public = spare.subnets(public_prefix).map_err(|_| too_small())?;
    out.extend(zones.iter().zip(public).map(|(zone, cidr)| Subnet {
        zone: zone.clone(),
        cidr,
        public: true,
    }));
    Ok(out)
}

/// Whether two ranges share an address.
pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}
