//! The planner's rules: requirements in, [`Plan`] out. Every number below is either
//! computed from the inputs and the price sheet or a named policy constant; the cost's
//! `assumptions` list says which.

mod cost;
mod model;
mod platform;
mod pools;
mod roadmap;

pub use cost::expected_nodes;
pub use model::*;
pub use pools::check_capacity;

use std::collections::BTreeMap;

use crate::prices::PriceSheet;
use crate::requirements::{ComplianceFramework, Requirements, Workload};
use cost::*;
use platform::*;
use pools::*;
use roadmap::*;

/// Share of each pool's autoscaling range assumed in use on average, on top of its
/// minimum, when estimating cost (policy choice, stated in the assumptions).
pub const EXPECTED_SHARE_OF_RANGE: f64 = 0.25;
/// Root volume per node in GB (gp3), a policy choice.
pub const ROOT_VOLUME_GB: f64 = 100.0;
/// Default backup retention in days when nothing longer is required (policy choice).
pub const DEFAULT_RETENTION_DAYS: u32 = 30;

/// Applies the rules to validated requirements (see
/// [`crate::requirements::from_documents`]) with the given price sheet.
pub fn plan(req: &Requirements, prices: &PriceSheet) -> Plan {
    let topology = topology(req, &prices.region);
    let node_pools = node_pools(req);
    let networking = networking(req);
    let storage = storage(req);
    let security = security(req);
    let backup = backup(req, &topology);
    let monitoring = monitoring(req, &topology, &backup.retention);
    let cost = cost(
        req,
        &topology,
        &node_pools,
        &networking,
        &monitoring,
        prices,
    );
    let timeline = timeline(req, &topology);
    let total_weeks = timeline.iter().map(|p| p.weeks).sum();
    let risks = risks(req, &topology, &node_pools);
    Plan {
        topology,
        node_pools,
        networking,
        storage,
        security,
        monitoring,
        backup,
        cost,
        timeline,
        total_weeks,
        risks,
    }
}
