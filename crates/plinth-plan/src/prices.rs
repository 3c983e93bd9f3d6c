//! Price sheets (`kind: PriceSheet`): dated on-demand prices per instance type, EBS gp3
//! per GB-month, EKS control plane, NAT gateway and KMS key prices. plinth ships one
//! for AWS us-east-1 (`prices/aws-us-east-1.yaml`, embedded at compile time); a file of
//! the same shape replaces it.

use std::collections::BTreeMap;

use plinth_core::manifest::{self, Document};
use serde::{Deserialize, Serialize};

use crate::{PlanError, single};

/// `kind` of price sheets.
pub const KIND: &str = "PriceSheet";

/// Where the shipped sheet's errors point (it is embedded, not read from disk).
pub const BUILTIN_NAME: &str = "prices/aws-us-east-1.yaml";

const BUILTIN: &str = include_str!("../prices/aws-us-east-1.yaml");

/// Every instance type the planner may choose; a sheet must price them all.
pub const INSTANCE_TYPES: &[&str] = &[
    "m6i.large",
    "m6i.xlarge",
    "m6i.2xlarge",
    "c6i.xlarge",
    "c6i.2xlarge",
    "r6i.xlarge",
    "r6i.2xlarge",
    "g5.xlarge",
    "g5.2xlarge",
];

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
    /// Managed control plane per cluster-hour.
    pub eks_control_plane_per_hour: f64,
    /// NAT gateway per gateway-hour.
    pub nat_gateway_per_hour: f64,
    /// Customer-managed KMS key per key-month.
    pub kms_key_per_month: f64,
    /// Spot discount as a fraction of on-demand; absent means spot pools are priced
    /// on-demand.
    #[serde(default)]
    pub spot_discount: Option<f64>,
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
    pub fn builtin() -> Result<PriceSheet, PlanError> {
        let docs =
            manifest::parse_str(BUILTIN_NAME, BUILTIN).map_err(|e| PlanError::Invalid(vec![e]))?;
        from_documents(&docs, BUILTIN_NAME)
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
pub fn from_document(doc: &Document) -> Result<PriceSheet, PlanError> {
    let parsed: PriceSheetDocument = doc.parse().map_err(|e| PlanError::Invalid(vec![e]))?;
    let sheet = parsed.spec;
    let mut errors = Vec::new();
    let mut check = |field: &str, value: f64| {
        if !positive(value) {
            errors.push(doc.error_at(
                &["spec", field],
                format!("{value} must be a positive number"),
            ));
        }
    };
    check("hoursPerMonth", sheet.hours_per_month);
    check("ebsGp3PerGbMonth", sheet.ebs_gp3_per_gb_month);
    check("eksControlPlanePerHour", sheet.eks_control_plane_per_hour);
    check("natGatewayPerHour", sheet.nat_gateway_per_hour);
    check("kmsKeyPerMonth", sheet.kms_key_per_month);
    for (name, price) in &sheet.instances {
        if !positive(*price) {
            errors.push(doc.error_at(
                &["spec", "instances", name.as_str()],
                format!("{price} must be a positive price per hour"),
            ));
        }
    }
    let missing: Vec<&str> = INSTANCE_TYPES
        .iter()
        .copied()
        .filter(|t| !sheet.instances.contains_key(*t))
        .collect();
    if !missing.is_empty() {
        errors.push(doc.error_at(
            &["spec", "instances"],
            format!(
                "no price for {} (the planner may choose any of {})",
                missing.join(", "),
                INSTANCE_TYPES.join(", ")
            ),
        ));
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
        Err(PlanError::Invalid(errors))
    }
}

/// Finds the one `PriceSheet` document in `docs` (read from `file`) and validates it.
pub fn from_documents(docs: &[Document], file: &str) -> Result<PriceSheet, PlanError> {
    from_document(single(docs, KIND, file)?)
}
