//! The implementation timeline and the risks, derived from the inputs.

use super::*;

pub(super) fn timeline(req: &Requirements, topo: &Topology) -> Vec<Phase> {
    let phase = |name: &str, weeks: u32| Phase {
        phase: name.to_owned(),
        weeks,
    };
    let mut infra = 4;
    if topo.kind != TopologyType::Basic {
        infra += 2;
    }
    if topo.kind == TopologyType::MultiRegionHa {
        infra += 2;
    }
    if req.max_nodes > 500 {
        infra += 2;
    }
    let mut out = vec![phase("infrastructure", infra)];
    let mut sec = 2;
    if req.network_isolation {
        sec += 1;
    }
    if req.encryption_at_rest || req.encryption_in_transit {
        sec += 1;
    }
    out.push(phase("security", sec));
    let n = u32::try_from(req.compliance_frameworks.len()).unwrap_or(u32::MAX);
    if n > 0 {
        // Two weeks of shared controls plus two per framework's evidence mapping.
        out.push(phase("compliance", 2 + 2 * n));
    }
    out.push(phase(
        "observability",
        if topo.kind == TopologyType::MultiRegionHa {
            3
        } else {
            2
        },
    ));
    if req.has(Workload::Database) || req.has(Workload::Cache) {
        out.push(phase("data services", 3));
    }
    if req.has_ml() {
        out.push(phase("ml platform (GPU)", 3));
    }
    if topo.kind == TopologyType::MultiRegionHa || req.disaster_recovery_automation {
        out.push(phase(
            "disaster recovery",
            if req.rto_minutes <= 60 { 4 } else { 3 },
        ));
    }
    out.push(phase(
        "migration",
        if req.max_nodes > 100 { 4 } else { 3 }
            + u32::try_from(req.workloads.len() / 3).unwrap_or(0),
    ));
    out.push(phase("optimisation", 2));
    out
}

pub(super) fn risks(req: &Requirements, topo: &Topology, pools: &[NodePool]) -> Vec<Risk> {
    use Level::*;
    let mut out = Vec::new();
    let mut risk = |risk: String, impact, probability, mitigation: &str| {
        out.push(Risk {
            risk,
            impact,
            probability,
            mitigation: mitigation.to_owned(),
        });
    };
    if topo.kind == TopologyType::MultiRegionHa {
        risk(
            format!(
                "Multi-region operation across {} regions",
                req.regions.len()
            ),
            High,
            Medium,
            "Phased rollout; regular failover drills; one GitOps source for all clusters",
        );
    }
    if req.availability >= 0.9999 && topo.kind != TopologyType::MultiRegionHa {
        risk(
            format!(
                "Availability {} in a single region: a regional outage breaks the SLA",
                req.availability
            ),
            High,
            Medium,
            "Set multiRegion with a second region, or relax the target to 0.999",
        );
    }
    if !req.compliance_frameworks.is_empty() {
        let names: Vec<&str> = req
            .compliance_frameworks
            .iter()
            .map(|f| f.as_str())
            .collect();
        risk(
            format!("Audit findings against {}", names.join(", ")),
            Critical,
            if names.len() > 2 { Medium } else { Low },
            "Continuous policy checks (plinth check / guard audit), evidence collection from day one",
        );
    }
    if req.max_nodes > 500 {
        risk(
            format!(
                "Control-plane and add-on performance at {} nodes",
                req.max_nodes
            ),
            High,
            Medium,
            "Load tests at target scale before migration; scale add-ons with the system pool",
        );
    }
    if req.has_ml() {
        risk(
            "GPU capacity shortage (g5 availability varies by zone)".to_owned(),
            High,
            Medium,
            "Capacity reservations for inference; allow several GPU instance types",
        );
    }
    let spot: Vec<&str> = pools
        .iter()
        .filter(|p| p.spot)
        .map(|p| p.name.as_str())
        .collect();
    if !spot.is_empty() {
        risk(
            format!("Spot interruptions in pools {}", spot.join(", ")),
            Medium,
            High,
            "Checkpointing, retries and disruption budgets; on-demand fallback pool",
        );
    }
    if req.rpo_minutes < 5 {
        risk(
            format!(
                "RPO of {} minutes is below what periodic backups give (5 minutes)",
                req.rpo_minutes
            ),
            High,
            High,
            "Synchronous or continuous replication for stateful services",
        );
    }
    if req.rto_minutes <= 60 && !req.disaster_recovery_automation {
        risk(
            format!("RTO of {} minutes with manual recovery", req.rto_minutes),
            High,
            High,
            "Automate restore and failover (disasterRecoveryAutomation), rehearse monthly",
        );
    }
    if req.has(Workload::Database) {
        risk(
            "Stateful data on Kubernetes: volume and failover mistakes lose data".to_owned(),
            High,
            Medium,
            "Operators with tested failover; volume snapshots; restore drills",
        );
    }
    if let Some(pods) = req.max_pods_per_cluster
        && pods > req.max_nodes.saturating_mul(110)
    {
        risk(
            format!(
                "{pods} pods on at most {} nodes exceeds 110 pods per node",
                req.max_nodes
            ),
            Medium,
            High,
            "Raise maxNodes or plan the CNI's IP and max-pods settings for higher density",
        );
    }
    if req.expected_growth_rate >= 0.5 {
        risk(
            format!(
                "Growth of {}% a year outgrows maxNodes",
                req.expected_growth_rate * 100.0
            ),
            Medium,
            Medium,
            "Review capacity quarterly; plan more clusters rather than larger ones",
        );
    }
    if let Some(s) = req.max_pod_startup_seconds
        && s <= 10
    {
        risk(
            format!("Pod start within {s} s needs warm nodes and cached images"),
            Medium,
            Medium,
            "Image pre-pulling, over-provisioning placeholders, small images",
        );
    }
    risk(
        "Skills gap in the team".to_owned(),
        Medium,
        High,
        "Training and pairing with experienced operators",
    );
    out
}
