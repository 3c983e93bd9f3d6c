//! Networking, storage, security, backup and monitoring choices.

use super::*;

pub(super) fn networking(req: &Requirements) -> Networking {
    let big = req.max_nodes > 50;
    let mesh = req.encryption_in_transit || (big && req.has(Workload::Microservice));
    let reason = if req.encryption_in_transit {
        "encryptionInTransit: mutual TLS between workloads".to_owned()
    } else if mesh {
        "more than 50 nodes of microservices: traffic management and telemetry".to_owned()
    } else {
        "not needed: no in-transit encryption requirement".to_owned()
    };
    Networking {
        cni: if req.network_isolation {
            "calico".to_owned()
        } else {
            "aws-vpc-cni".to_owned()
        },
        network_policies: req.network_isolation,
        service_mesh: ServiceMesh {
            required: mesh,
            kind: "istio".to_owned(),
            mtls: req.encryption_in_transit,
            reason,
        },
        ingress: if mesh {
            "istio-gateway".to_owned()
        } else {
            "ingress-nginx".to_owned()
        },
        waf: req
            .compliance_frameworks
            .contains(&ComplianceFramework::PciDss),
        nat_gateways_per_cluster: zones_per_cluster(req),
    }
}

pub(super) fn storage(req: &Requirements) -> Storage {
    let class = |name: &str, volume: &str, reclaim: &str| StorageClass {
        name: name.to_owned(),
        provisioner: "ebs.csi.aws.com".to_owned(),
        volume_type: volume.to_owned(),
        encrypted: req.encryption_at_rest,
        reclaim_policy: reclaim.to_owned(),
    };
    let mut classes = vec![class("fast-ssd", "gp3", "Retain")];
    if req.has(Workload::Database) {
        classes.push(class("database-io", "io2", "Retain"));
    }
    classes.push(class("bulk", "st1", "Delete"));
    Storage {
        storage_classes: classes,
        csi_drivers: vec!["ebs.csi.aws.com".to_owned(), "efs.csi.aws.com".to_owned()],
        node_root_volume_gb: ROOT_VOLUME_GB as u32,
        snapshot_controller: true,
    }
}

pub(super) fn security(req: &Requirements) -> Security {
    let strict = !req.compliance_frameworks.is_empty();
    let sensitive = req
        .compliance_frameworks
        .iter()
        .any(|f| matches!(f, ComplianceFramework::PciDss | ComplianceFramework::Hipaa));
    let mut runtime = vec!["seccomp RuntimeDefault".to_owned()];
    if strict {
        runtime.push("falco".to_owned());
    }
    Security {
        pod_security_standard: if strict { "restricted" } else { "baseline" }.to_owned(),
        admission: vec![
            "PodSecurity".to_owned(),
            "ResourceQuota".to_owned(),
            "LimitRanger".to_owned(),
            "ValidatingAdmissionWebhook (plinth guard)".to_owned(),
            "MutatingAdmissionWebhook".to_owned(),
        ],
        audit_log_level: if sensitive {
            "RequestResponse"
        } else {
            "Metadata"
        }
        .to_owned(),
        secrets_encryption: if req.encryption_at_rest {
            "KMS v2 envelope encryption"
        } else {
            "none (etcd volume only)"
        }
        .to_owned(),
        runtime_security: runtime,
        image_scanning: "trivy-operator".to_owned(),
        compliance_frameworks: req
            .compliance_frameworks
            .iter()
            .map(|f| f.as_str().to_owned())
            .collect(),
    }
}

/// Retention in days and the rule that set it.
///
/// Policy choices (not legal advice; each is the framework's commonly cited minimum):
/// - default: 30 days of restore points;
/// - RPO: at least seven recovery windows (7 × RPO), so a corruption noticed late can
///   still be rolled back;
/// - SOC2 and ISO27001: 365 days, one audit period of evidence;
/// - PCI-DSS: 365 days (requirement 10.5.1 keeps audit history a year);
/// - HIPAA: 2,190 days, six years (45 CFR 164.316(b)(2));
/// - SOX: 2,555 days, seven years (SEC rule 2-06 of Regulation S-X);
/// - GDPR: no minimum (it limits retention instead), so it adds nothing.
pub(super) fn retention(req: &Requirements) -> (u32, String) {
    let mut best = (
        DEFAULT_RETENTION_DAYS,
        "default policy (30 days)".to_owned(),
    );
    let rpo_days = u32::try_from(
        (req.rpo_minutes
            .max(0)
            .saturating_mul(7)
            .saturating_add(1439))
            / 1440,
    )
    .unwrap_or(u32::MAX);
    if rpo_days > best.0 {
        best = (rpo_days, format!("7 × RPO of {} minutes", req.rpo_minutes));
    }
    for f in &req.compliance_frameworks {
        let days = match f {
            ComplianceFramework::Soc2 | ComplianceFramework::Iso27001 => 365,
            ComplianceFramework::PciDss => 365,
            ComplianceFramework::Hipaa => 2190,
            ComplianceFramework::Sox => 2555,
            ComplianceFramework::Gdpr => 0,
        };
        if days > best.0 {
            best = (days, format!("{} ({} years)", f.as_str(), days / 365));
        }
    }
    best
}

/// Backup interval: the longest of the standard intervals that is not longer than the
/// RPO (5 minutes at the shortest; a smaller RPO needs replication, named as a risk).
pub(super) fn interval(rpo_minutes: i64) -> (i64, &'static str, &'static str) {
    const LADDER: &[(i64, &str, &str)] = &[
        (5, "5m", "*/5 * * * *"),
        (15, "15m", "*/15 * * * *"),
        (30, "30m", "*/30 * * * *"),
        (60, "1h", "0 * * * *"),
        (240, "4h", "0 */4 * * *"),
        (720, "12h", "0 */12 * * *"),
        (1440, "24h", "0 0 * * *"),
    ];
    let mut chosen = LADDER[0];
    for step in LADDER {
        if step.0 <= rpo_minutes {
            chosen = *step;
        }
    }
    chosen
}

pub(super) fn backup(req: &Requirements, topo: &Topology) -> Backup {
    let (_, frequency, schedule) = interval(req.rpo_minutes);
    let (days, reason) = retention(req);
    let regions: Vec<&str> = topo.clusters.iter().map(|c| c.region.as_str()).collect();
    let target = req.regions.get(1).cloned().or_else(|| {
        regions
            .iter()
            .find(|r| Some(**r) != regions.first().copied())
            .map(|r| (*r).to_owned())
    });
    Backup {
        tool: "velero".to_owned(),
        frequency: frequency.to_owned(),
        schedule: schedule.to_owned(),
        retention: format!("{days}d"),
        retention_reason: reason,
        cross_region: target.is_some(),
        target_region: target,
        automated_restore: req.disaster_recovery_automation,
        rto_target: format!("{}m", req.rto_minutes),
    }
}

pub(super) fn monitoring(
    req: &Requirements,
    topo: &Topology,
    backup_retention: &str,
) -> Monitoring {
    let ha = topo.kind != TopologyType::Basic;
    let big = req.max_nodes > 100;
    let mut receivers = vec!["slack".to_owned(), "email".to_owned()];
    if ha {
        receivers.insert(0, "pagerduty".to_owned());
    }
    Monitoring {
        metrics: Metrics {
            replicas: if ha { 2 } else { 1 },
            retention: "30d".to_owned(),
            storage_gb: if big { 500 } else { 100 },
            federation: topo.kind == TopologyType::MultiRegionHa,
        },
        logging: Logging {
            replicas: if ha { 3 } else { 1 },
            retention: "90d".to_owned(),
            storage_gb: if big { 1000 } else { 200 },
            audit_archive_retention: if req.compliance_frameworks.is_empty() {
                "90d".to_owned()
            } else {
                backup_retention.to_owned()
            },
        },
        tracing: Tracing {
            enabled: req.max_nodes > 50 || req.has(Workload::Microservice),
            sampling_rate: 0.1,
        },
        alert_receivers: receivers,
    }
}
