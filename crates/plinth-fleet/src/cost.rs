//! Monthly cost of a [`ManagedCluster`] from a price sheet (`kind: PriceSheet`):
//! control plane machines, each pool at an expected node count, gp3 root volumes, one
//! NAT gateway per availability zone and, for production and staging, the bastion.
//!
//! The control plane is self-managed (kubeadm on EC2), so there is no EKS fee. plinth
//! ships a dated sheet for AWS us-east-1 (`prices/aws-us-east-1.yaml`, embedded at
//! compile time); a document of the same shape replaces it. Every figure is computed
//! from the spec and the sheet; nothing is a hard-coded total.

use std::collections::BTreeMap;

use plinth_core::manifest::{self, Document, ManifestError};
use serde::{Deserialize, Serialize};

use crate::spec::ManagedCluster;

/// `kind` of price sheets.
pub const KIND: &str = "PriceSheet";
/// Where the shipped sheet's errors point (it is embedded, not read from disk).
pub const BUILTIN_NAME: &str = "prices/aws-us-east-1.yaml";
const BUILTIN: &str = include_str!("../prices/aws-us-east-1.yaml");

/// The share of a pool's autoscaling range (`maxNodes - minNodes`) expected to be in
/// use on average, on top of `minNodes`.
pub const EXPECTED_SHARE: f64 = 0.25;
/// The bastion's instance type (Cluster API Provider AWS's default).
pub const BASTION_INSTANCE_TYPE: &str = "t3.micro";

/// The `spec` of a price sheet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PriceSheet {
    /// When the prices were read (free text, ISO date recommended).
    pub date: String,
    /// Currency of every price (e.g. USD).
    pub currency: String,
    /// The region the prices are for.
    pub region: String,
    /// Billed hours in a month (AWS uses 730).
    pub hours_per_month: f64,
    /// On-demand price per instance-hour, by instance type.
    pub instances: BTreeMap<String, f64>,
    /// EBS gp3 per GB-month.
    pub ebs_gp3_per_gb_month: f64,
    /// NAT gateway per gateway-hour.
    pub nat_gateway_per_hour: f64,
    /// Spot discount as a fraction of on-demand; absent means spot pools are priced
    /// on-demand.
    #[serde(default)]
    pub spot_discount: Option<f64>,
}

/// Why a price sheet was refused.
#[derive(Debug, thiserror::Error)]
pub enum PriceSheetError {
    /// The text does not parse or a value is invalid.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<ManifestError>),
    /// No `PriceSheet` document, or more than one.
    #[error("{file}: expected exactly one {KIND} document, found {found}")]
    Count {
        /// The file.
        file: String,
        /// How many there were.
        found: usize,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PriceSheetDocument {
    #[allow(dead_code)]
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    #[serde(default)]
    #[allow(dead_code)]
    metadata: Option<serde_json::Value>,
    spec: PriceSheet,
}

impl PriceSheet {
    /// The sheet shipped with plinth (AWS us-east-1 on-demand).
    pub fn builtin() -> Result<PriceSheet, PriceSheetError> {
        PriceSheet::from_str_named(BUILTIN_NAME, BUILTIN)
    }

    /// Reads a sheet from YAML or JSON text; `name` is used in error locations.
    pub fn from_str_named(name: &str, text: &str) -> Result<PriceSheet, PriceSheetError> {
        let docs =
            manifest::parse_str(name, text).map_err(|e| PriceSheetError::Invalid(vec![e]))?;
        let sheets: Vec<&Document> = docs.iter().filter(|d| d.kind() == Some(KIND)).collect();
        match sheets.as_slice() {
            [doc] => from_document(doc),
            other => Err(PriceSheetError::Count {
                file: name.to_owned(),
                found: other.len(),
            }),
        }
    }

    /// On-demand hourly price of `instance_type`, if the sheet has it.
    pub fn hourly(&self, instance_type: &str) -> Option<f64> {
        self.instances.get(instance_type).copied()
    }
}

fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

/// Reads and validates one price sheet document.
pub fn from_document(doc: &Document) -> Result<PriceSheet, PriceSheetError> {
    let parsed: PriceSheetDocument = doc.parse().map_err(|e| PriceSheetError::Invalid(vec![e]))?;
    let sheet = parsed.spec;
    let mut errors = Vec::new();
    for (field, value) in [
        ("hoursPerMonth", sheet.hours_per_month),
        ("ebsGp3PerGbMonth", sheet.ebs_gp3_per_gb_month),
        ("natGatewayPerHour", sheet.nat_gateway_per_hour),
    ] {
        if !positive(value) {
            errors.push(doc.error_at(
                &["spec", field],
                format!("{value} must be a positive number"),
            ));
        }
    }
    for (name, price) in &sheet.instances {
        if !positive(*price) {
            errors.push(doc.error_at(
                &["spec", "instances", name.as_str()],
                format!("{price} must be a positive price per hour"),
            ));
        }
    }
    if let Some(d) = sheet.spot_discount
        && !(0.0..1.0).contains(&d)
    {
        errors.push(doc.error_at(
            &["spec", "spotDiscount"],
            format!("{d} is not a fraction in [0, 1)"),
        ));
    }
    if errors.is_empty() {
        Ok(sheet)
    } else {
        Err(PriceSheetError::Invalid(errors))
    }
}

/// One line of the breakdown: the control plane, a pool, NAT gateways or the bastion.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LineItem {
    /// `control-plane`, `pool/NAME`, `nat-gateways` or `bastion`.
    pub name: String,
    /// Instance type (empty for NAT gateways).
    pub instance_type: String,
    /// Machines (or gateways) counted; fractional for pools (an average).
    pub count: f64,
    /// Price per instance-hour applied (after any spot discount); `None` when the sheet
    /// has no price for the type (compute is then left out of the figures).
    pub hourly: Option<f64>,
    /// Compute (or gateway) cost per month.
    pub compute_monthly: f64,
    /// Root volume cost per month (gp3).
    pub storage_monthly: f64,
    /// `compute_monthly + storage_monthly`.
    pub monthly: f64,
}

/// A cluster's monthly cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cost {
    /// Currency of every figure.
    pub currency: String,
    /// The price sheet's date.
    pub prices_date: String,
    /// Line items: control plane, pools in spec order, NAT gateways, bastion.
    pub items: Vec<LineItem>,
    /// Sum of the items.
    pub total_monthly: f64,
    /// Instance types the sheet has no price for (their compute is not counted, so the
    /// total is a lower bound).
    pub unpriced: Vec<String>,
    /// How the figures were computed and what they leave out.
    pub assumptions: Vec<String>,
}

/// The cost per month of `spec` at `prices`, with [`EXPECTED_SHARE`] of each pool's
/// autoscaling range in use.
pub fn monthly(spec: &ManagedCluster, prices: &PriceSheet) -> Cost {
    monthly_with_share(spec, prices, EXPECTED_SHARE)
}

/// [`monthly`] with another expected share of the autoscaling range (clamped to
/// `0.0..=1.0`; 0 prices every pool at `minNodes`, 1 at `maxNodes`).
pub fn monthly_with_share(spec: &ManagedCluster, prices: &PriceSheet, share: f64) -> Cost {
    let share = if share.is_finite() {
        share.clamp(0.0, 1.0)
    } else {
        EXPECTED_SHARE
    };
    let hours = prices.hours_per_month;
    let gb = prices.ebs_gp3_per_gb_month;
    let mut items = Vec::new();
    let mut unpriced: Vec<String> = Vec::new();
    let mut note_unpriced = |t: &str| {
        if !unpriced.iter().any(|u| u == t) {
            unpriced.push(t.to_owned());
        }
    };
    let item =
        |name: String, instance_type: &str, count: f64, hourly: Option<f64>, volume_gb: f64| {
            let compute_monthly = hourly.map_or(0.0, |h| h * count * hours);
            let storage_monthly = volume_gb * count * gb;
            LineItem {
                name,
                instance_type: instance_type.to_owned(),
                count,
                hourly,
                compute_monthly,
                storage_monthly,
                monthly: compute_monthly + storage_monthly,
            }
        };

    let cp = &spec.spec.control_plane;
    let cp_hourly = prices.hourly(&cp.instance_type);
    if cp_hourly.is_none() {
        note_unpriced(&cp.instance_type);
    }
    items.push(item(
        "control-plane".to_owned(),
        &cp.instance_type,
        f64::from(cp.replicas),
        cp_hourly,
        f64::from(cp.root_volume_size),
    ));

    let mut spot_pools = Vec::new();
    let mut dedicated_pools = Vec::new();
    for pool in &spec.spec.node_pools {
        let range = f64::from(pool.max_nodes.saturating_sub(pool.min_nodes));
        let count = f64::from(pool.min_nodes) + share * range;
        let on_demand = prices.hourly(&pool.machine_type);
        if on_demand.is_none() {
            note_unpriced(&pool.machine_type);
        }
        let hourly = match (pool.spot, prices.spot_discount) {
            (true, Some(d)) => on_demand.map(|h| h * (1.0 - d)),
            _ => on_demand,
        };
        if pool.spot {
            spot_pools.push(pool.name.clone());
        }
        if pool.dedicated {
            dedicated_pools.push(pool.name.clone());
        }
        items.push(item(
            format!("pool/{}", pool.name),
            &pool.machine_type,
            count,
            hourly,
            f64::from(pool.root_volume_size),
        ));
    }

    let zones = spec.availability_zones().len();
    let nat_count = zones as f64;
    items.push(item(
        "nat-gateways".to_owned(),
        "",
        nat_count,
        Some(prices.nat_gateway_per_hour),
        0.0,
    ));

    let bastion = spec.spec.tier.hardened();
    if bastion {
        let h = prices.hourly(BASTION_INSTANCE_TYPE);
        if h.is_none() {
            note_unpriced(BASTION_INSTANCE_TYPE);
        }
        items.push(item(
            "bastion".to_owned(),
            BASTION_INSTANCE_TYPE,
            1.0,
            h,
            0.0,
        ));
    }

    let total_monthly = items.iter().map(|i| i.monthly).sum();

    let mut assumptions = vec![
        format!(
            "prices: {} {} on-demand list prices dated {}, {} hours per month",
            prices.region, prices.currency, prices.date, prices.hours_per_month
        ),
        "control plane: self-managed kubeadm machines (no EKS fee)".to_owned(),
        format!(
            "pools: minNodes + {}% of (maxNodes - minNodes) nodes on average",
            share * 100.0
        ),
        format!(
            "root volumes: gp3 at {} per GB-month, baseline IOPS and throughput",
            prices.ebs_gp3_per_gb_month
        ),
        format!(
            "NAT: one gateway per availability zone ({zones}), gateway-hours only; data \
             processing and transfer are not included"
        ),
        "not included: the API server load balancer, data transfer, snapshots and \
         backups, CloudWatch, add-on resources (load balancers, volumes)"
            .to_owned(),
    ];
    if bastion {
        assumptions.push(format!(
            "bastion: one {BASTION_INSTANCE_TYPE} (the AWS provider's default), root \
             volume not counted"
        ));
    }
    if !spot_pools.is_empty() {
        assumptions.push(match prices.spot_discount {
            Some(d) => format!(
                "spot pools ({}): on-demand less the sheet's spot discount of {}%",
                spot_pools.join(", "),
                d * 100.0
            ),
            None => format!(
                "spot pools ({}): priced on-demand (the sheet states no spot discount; \
                 actual spot prices are usually lower and move hourly)",
                spot_pools.join(", ")
            ),
        });
    }
    if !dedicated_pools.is_empty() {
        assumptions.push(format!(
            "dedicated pools ({}): priced at shared-tenancy rates; dedicated instances \
             cost more per hour and add a per-region dedicated fee",
            dedicated_pools.join(", ")
        ));
    }
    if !unpriced.is_empty() {
        assumptions.push(format!(
            "no price in the sheet for {}: their compute is left out, the total is a \
             lower bound",
            unpriced.join(", ")
        ));
    }
    Cost {
        currency: prices.currency.clone(),
        prices_date: prices.date.clone(),
        items,
        total_monthly,
        unpriced,
        assumptions,
    }
}
