//! Table tests for the planner's rules: the seed's example and its variants, cost
//! arithmetic recomputed by hand, every kind of bad input with `file:line`, determinism.

use plinth_core::manifest::parse_str;
use plinth_plan::{Plan, PlanError, PriceSheet, TopologyType, plan, prices, requirements};

const EXAMPLE: &str = include_str!("../../../examples/plan/requirements.yaml");

fn load(text: &str) -> Result<plinth_plan::Requirements, PlanError> {
    let docs = parse_str("req.yaml", text).expect("YAML");
    requirements::from_documents(&docs, "req.yaml")
}

fn sheet() -> PriceSheet {
    PriceSheet::builtin().expect("shipped price sheet")
}

fn plan_of(text: &str) -> Plan {
    plan(&load(text).expect("valid requirements"), &sheet())
}

/// The example with `edits` applied as (spec line prefix, replacement line or "" to drop).
fn variant(edits: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for line in EXAMPLE.lines() {
        let mut line = line.to_owned();
        for (prefix, repl) in edits {
            if line.trim_start().starts_with(prefix) {
                line = if repl.is_empty() {
                    String::new()
                } else {
                    format!("  {repl}")
                };
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn pool_names(p: &Plan) -> Vec<&str> {
    p.node_pools.iter().map(|n| n.name.as_str()).collect()
}

#[test]
fn seed_example() {
    let p = plan_of(EXAMPLE);
    assert_eq!(p.topology.kind, TopologyType::MultiRegionHa);
    assert_eq!(p.topology.clusters.len(), 3);
    assert_eq!(
        pool_names(&p),
        ["system", "general", "memory-optimized", "management"]
    );
    assert!(
        p.node_pools
            .iter()
            .all(|n| !n.instance_type.starts_with('g'))
    );
    // RPO 30 minutes → a backup at least every 30 minutes.
    assert_eq!(p.backup.frequency, "30m");
    // SOC2 + HIPAA → HIPAA's six years.
    assert_eq!(p.backup.retention, "2190d");
    assert!(p.backup.cross_region);
    assert_eq!(p.backup.target_region.as_deref(), Some("us-west-2"));
    assert!(p.timeline.iter().any(|t| t.phase == "disaster recovery"));
    assert!(p.timeline.iter().any(|t| t.phase == "compliance"));
    assert!(p.cost.monthly.total > 0.0);
    assert!((p.cost.annual - p.cost.monthly.total * 12.0).abs() < 0.01);
    let json = serde_json::to_value(&p).expect("JSON");
    for key in [
        "/topology/type",
        "/topology/clusters/0/zones",
        "/nodePools/0/instanceType",
        "/nodePools/0/minNodes",
        "/nodePools/0/maxNodes",
        "/nodePools/0/taints",
        "/nodePools/0/spot",
        "/nodePools/0/labels",
        "/networking",
        "/storage",
        "/security",
        "/monitoring",
        "/backup/frequency",
        "/backup/retention",
        "/backup/crossRegion",
        "/cost/monthly/compute",
        "/cost/monthly/storage",
        "/cost/monthly/networking",
        "/cost/monthly/monitoring",
        "/cost/monthly/security",
        "/cost/monthly/total",
        "/cost/annual",
        "/cost/assumptions",
        "/timeline/0/phase",
        "/timeline/0/weeks",
        "/risks/0/risk",
        "/risks/0/impact",
        "/risks/0/probability",
        "/risks/0/mitigation",
    ] {
        assert!(json.pointer(key).is_some(), "missing {key}");
    }
    assert_eq!(json["topology"]["type"], "multi_region_ha");
}

#[test]
fn gpu_pools_only_with_ml() {
    let none = plan_of(EXAMPLE);
    assert!(!pool_names(&none).iter().any(|n| n.starts_with("gpu")));
    assert!(!none.risks.iter().any(|r| r.risk.contains("GPU")));
    let training = plan_of(&variant(&[(
        "workloads:",
        "workloads: [web-application, ml-training]",
    )]));
    assert!(pool_names(&training).contains(&"gpu-training"));
    assert!(!pool_names(&training).contains(&"gpu-inference"));
    let gpu = training
        .node_pools
        .iter()
        .find(|n| n.name == "gpu-training")
        .expect("pool");
    assert!(gpu.spot && gpu.instance_type == "g5.2xlarge" && gpu.min_nodes == 0);
    assert!(training.risks.iter().any(|r| r.risk.contains("GPU")));
    assert!(training.risks.iter().any(|r| r.risk.contains("Spot")));
    assert!(training.timeline.iter().any(|t| t.phase.contains("ml")));
    // Spot priced on-demand without a spotDiscount, and said so.
    assert!(
        training
            .cost
            .assumptions
            .iter()
            .any(|a| a.contains("Spot pools priced on-demand"))
    );
    let inference = plan_of(&variant(&[("workloads:", "workloads: [ml-inference]")]));
    assert!(pool_names(&inference).contains(&"gpu-inference"));
}

#[test]
fn memory_pool_only_with_databases_or_caches() {
    let without = plan_of(&variant(&[("workloads:", "workloads: [web-application]")]));
    assert!(!pool_names(&without).contains(&"memory-optimized"));
    let cache = plan_of(&variant(&[("workloads:", "workloads: [cache]")]));
    let pool = cache
        .node_pools
        .iter()
        .find(|n| n.name == "memory-optimized")
        .expect("pool");
    assert_eq!(
        (pool.instance_type.as_str(), pool.min_nodes),
        ("r6i.xlarge", 2)
    );
    let db = plan_of(&variant(&[("workloads:", "workloads: [database]")]));
    let pool = db
        .node_pools
        .iter()
        .find(|n| n.name == "memory-optimized")
        .expect("pool");
    assert_eq!(
        (pool.instance_type.as_str(), pool.min_nodes),
        ("r6i.2xlarge", 3)
    );
}

#[test]
fn retention_and_frequency_table() {
    // (rpoMinutes, frameworks, frequency, retention)
    let cases = [
        (30, "[]", "30m", "30d"),
        (30, "[GDPR]", "30m", "30d"),
        (60, "[SOC2]", "1h", "365d"),
        (45, "[PCI-DSS]", "30m", "365d"),
        (240, "[ISO27001, HIPAA]", "4h", "2190d"),
        (1440, "[SOX, HIPAA]", "24h", "2555d"),
        (10080, "[]", "24h", "49d"),
        (2, "[]", "5m", "30d"),
        (0, "[]", "5m", "30d"),
    ];
    for (rpo, fw, freq, ret) in cases {
        let p = plan_of(&variant(&[
            ("rpoMinutes:", &format!("rpoMinutes: {rpo}")),
            (
                "complianceFrameworks:",
                &format!("complianceFrameworks: {fw}"),
            ),
        ]));
        assert_eq!(
            (p.backup.frequency.as_str(), p.backup.retention.as_str()),
            (freq, ret),
            "rpo {rpo} {fw}"
        );
        assert_ne!(p.backup.retention, "0d");
    }
    let none = plan_of(&variant(&[(
        "complianceFrameworks:",
        "complianceFrameworks: []",
    )]));
    assert!(!none.timeline.iter().any(|t| t.phase == "compliance"));
    assert_eq!(none.security.pod_security_standard, "baseline");
    let tiny = plan_of(&variant(&[("rpoMinutes:", "rpoMinutes: 1")]));
    assert!(tiny.risks.iter().any(|r| r.risk.contains("RPO")));
}

#[test]
fn more_frameworks_longer_compliance_phase() {
    let weeks = |fw: &str| {
        plan_of(&variant(&[(
            "complianceFrameworks:",
            &format!("complianceFrameworks: {fw}"),
        )]))
        .timeline
        .iter()
        .find(|t| t.phase == "compliance")
        .map(|t| t.weeks)
    };
    assert!(weeks("[SOC2, HIPAA, PCI-DSS]") > weeks("[SOC2]"));
}

#[test]
fn single_region_topology_by_availability() {
    let cases = [
        (0.9999, TopologyType::SingleRegionHa, 3),
        (0.999, TopologyType::SingleRegionHa, 3),
        (0.99, TopologyType::Basic, 2),
    ];
    for (a, kind, zones) in cases {
        let p = plan_of(&variant(&[
            ("multiRegion:", "multiRegion: false"),
            ("regions:", "regions: [eu-west-1]"),
            ("availability:", &format!("availability: {a}")),
        ]));
        assert_eq!(p.topology.kind, kind, "availability {a}");
        assert_eq!(p.topology.clusters.len(), 1);
        assert_eq!(p.topology.clusters[0].region, "eu-west-1");
        assert_eq!(p.topology.clusters[0].zones.len(), zones);
        assert!(!p.backup.cross_region);
        assert!(!pool_names(&p).contains(&"management"));
        assert_eq!(
            p.risks.iter().any(|r| r.risk.contains("single region")),
            a >= 0.9999
        );
    }
}

#[test]
fn cost_recomputed_by_hand() {
    let p = plan_of(EXAMPLE);
    let s = sheet();
    // general pool: m6i.2xlarge, min 3, max 1000 − 13 (system) − 100 (memory) = 887,
    // expected 3 + 25% × 884 = 224 per cluster, in 2 workload clusters.
    let general = p
        .node_pools
        .iter()
        .find(|n| n.name == "general")
        .expect("pool");
    assert_eq!((general.min_nodes, general.max_nodes), (3, 887));
    let by_hand = 0.384 * (3.0 + 0.25 * 884.0) * 2.0 * 730.0;
    let cost = p
        .cost
        .pools
        .iter()
        .find(|c| c.pool == "general")
        .expect("cost");
    assert!(
        (cost.monthly - by_hand).abs() < 0.01,
        "{} vs {by_hand}",
        cost.monthly
    );
    assert_eq!(s.hourly("m6i.2xlarge"), Some(0.384));
    // Compute = Σ pools + 3 control planes.
    let pools: f64 = p.cost.pools.iter().map(|c| c.monthly).sum();
    let cp = 3.0 * 0.10 * 730.0;
    assert!((p.cost.monthly.compute - (pools + cp)).abs() < 0.05);
    // Networking: 3 NAT gateways × 3 clusters.
    assert!((p.cost.monthly.networking - 9.0 * 0.045 * 730.0).abs() < 0.01);
    // Security: one KMS key per cluster.
    assert!((p.cost.monthly.security - 3.0).abs() < 1e-9);
    let m = &p.cost.monthly;
    let sum = m.compute + m.storage + m.networking + m.monitoring + m.security;
    assert!((m.total - sum).abs() < 0.01);
    assert!(p.cost.assumptions.iter().any(|a| a.contains("25%")));
    assert!(
        p.cost
            .assumptions
            .iter()
            .any(|a| a.contains("data transfer"))
    );
}

#[test]
fn spot_discount_from_the_sheet() {
    let text = include_str!("../prices/aws-us-east-1.yaml")
        .replace("  # spotDiscount: 0.6", "  spotDiscount: 0.6");
    let docs = parse_str("p.yaml", &text).expect("YAML");
    let s = prices::from_documents(&docs, "p.yaml").expect("sheet");
    let req = load(&variant(&[("workloads:", "workloads: [ml-training]")])).expect("req");
    let p = plan(&req, &s);
    let c = p
        .cost
        .pools
        .iter()
        .find(|c| c.pool == "gpu-training")
        .expect("cost");
    assert!((c.hourly - 1.212 * 0.4).abs() < 1e-9);
    assert!(p.cost.assumptions.iter().any(|a| a.contains("60%")));
}

#[test]
fn bad_requirements_name_file_and_line() {
    // (edit, line of the error in the edited example, words in the message)
    let line_of = |prefix: &str| {
        EXAMPLE
            .lines()
            .position(|l| l.trim_start().starts_with(prefix))
            .expect("line")
            + 1
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "availability:",
            "availability: 1.5".into(),
            "between 0 and 1",
        ),
        ("availability:", "availability: 0".into(), "between 0 and 1"),
        ("rpoMinutes:", "rpoMinutes: -5".into(), "negative"),
        ("rtoMinutes:", "rtoMinutes: -1".into(), "negative"),
        ("maxNodes:", "maxNodes: 0".into(), "at least 1"),
        ("maxNodes:", "maxNodes: 8".into(), "raise maxNodes"),
        (
            "regions:",
            "regions: [us-east-1]".into(),
            "at least 2 regions",
        ),
        (
            "workloads:",
            "workloads: [web-application, quantum]".into(),
            "unknown variant",
        ),
        (
            "complianceFrameworks:",
            "complianceFrameworks: [SOC2, FEDRAMP]".into(),
            "unknown variant",
        ),
        (
            "zeroDowntimeUpdates:",
            "zeroDowntimeUpdate: true".into(),
            "unknown field",
        ),
        (
            "expectedGrowthRate:",
            "expectedGrowthRate: -0.5".into(),
            "at least 0",
        ),
    ];
    for (prefix, repl, words) in cases {
        let text = variant(&[(prefix, &repl)]);
        let err = load(&text).expect_err(&repl).to_string();
        let line = line_of(prefix);
        assert!(err.contains(&format!("req.yaml:{line}")), "{repl}: {err}");
        assert!(err.contains(words), "{repl}: {err}");
    }
    let wrong_kind = EXAMPLE.replace("kind: Requirements", "kind: Requirement");
    assert!(matches!(load(&wrong_kind), Err(PlanError::Missing { .. })));
    let wrong_version = EXAMPLE.replace("plinth.io/v1alpha1", "plinth.io/v1");
    let err = load(&wrong_version).expect_err("version").to_string();
    assert!(err.contains("req.yaml:7"), "{err}");
}

#[test]
fn bad_price_sheet_names_file_and_line() {
    let base = include_str!("../prices/aws-us-east-1.yaml");
    let cases = [
        ("    g5.2xlarge: 1.212\n", "", "no price for g5.2xlarge"),
        (
            "  ebsGp3PerGbMonth: 0.08",
            "  ebsGp3PerGbMonth: -1",
            "positive",
        ),
        (
            "  natGatewayPerHour: 0.045",
            "  natGatewayPerHour: 0.045\n  egress: 1",
            "unknown field",
        ),
        ("  # spotDiscount: 0.6", "  spotDiscount: 1.5", "fraction"),
    ];
    for (from, to, words) in cases {
        let text = base.replace(from, to);
        assert_ne!(text, base);
        let docs = parse_str("p.yaml", &text).expect("YAML");
        let err = prices::from_documents(&docs, "p.yaml")
            .expect_err(to)
            .to_string();
        assert!(err.contains("p.yaml:"), "{err}");
        assert!(err.contains(words), "{err}");
    }
}

#[test]
fn deterministic() {
    let a = serde_json::to_string(&plan_of(EXAMPLE)).expect("JSON");
    let b = serde_json::to_string(&plan_of(EXAMPLE)).expect("JSON");
    assert_eq!(a, b);
}

#[test]
fn without_autoscaling_pools_priced_at_max() {
    let p = plan_of(&variant(&[(
        "automatedScaling:",
        "automatedScaling: false",
    )]));
    let c = p
        .cost
        .pools
        .iter()
        .find(|c| c.pool == "general")
        .expect("cost");
    assert!((c.expected_nodes - 887.0).abs() < 1e-9);
}
