//! Monthly cost from the shipped (or a caller's) price sheet, recomputed by hand, and
//! recommendations that appear and disappear with the spec.

use plinth_fleet::cost::{self, PriceSheet};
use plinth_fleet::recommend::{Severity, recommendations};
use plinth_fleet::version::KubeVersion;
use plinth_fleet::{ManagedCluster, clusters};

const PROD: &str = include_str!("../../../examples/fleet/prod-us-east.yaml");

fn one(text: &str) -> ManagedCluster {
    let docs = plinth_core::manifest::parse_str("spec.yaml", text).expect("parses");
    let mut c = clusters(&docs).expect("valid spec");
    assert_eq!(c.len(), 1);
    c.remove(0)
}

fn prod() -> ManagedCluster {
    one(PROD)
}

fn edited(from: &str, to: &str) -> ManagedCluster {
    let text = PROD.replacen(from, to, 1);
    assert_ne!(text, PROD, "{from:?} not in the example");
    one(&text)
}

fn sheet() -> PriceSheet {
    PriceSheet::builtin().expect("shipped sheet is valid")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

fn item<'a>(c: &'a cost::Cost, name: &str) -> &'a cost::LineItem {
    c.items
        .iter()
        .find(|i| i.name == name)
        .unwrap_or_else(|| panic!("no item {name}"))
}

#[test]
fn shipped_sheet_prices_the_example() {
    let p = sheet();
    assert_eq!(p.region, "us-east-1");
    assert!(!p.date.is_empty());
    let c = cost::monthly(&prod(), &p);
    assert!(c.unpriced.is_empty(), "{:?}", c.unpriced);
    assert_eq!(c.currency, "USD");
}

#[test]
fn one_pool_recomputed_by_hand() {
    let c = cost::monthly(&prod(), &sheet());
    // system: c5.large at $0.085/h, 3..5 nodes -> 3 + 0.25 * 2 = 3.5 nodes on average,
    // 730 h/month; 80 GiB gp3 at $0.08/GB-month each.
    let system = item(&c, "pool/system");
    assert!(close(system.count, 3.5));
    assert!(close(system.compute_monthly, 0.085 * 3.5 * 730.0));
    assert!(close(system.storage_monthly, 80.0 * 3.5 * 0.08));
    assert!(close(system.monthly, 217.175 + 22.4));
    // Control plane: 3 x c5.xlarge ($0.17/h) with 120 GiB each.
    let cp = item(&c, "control-plane");
    assert!(close(cp.monthly, 3.0 * 0.17 * 730.0 + 3.0 * 120.0 * 0.08));
    // Spot pool priced on-demand (no discount in the sheet): p3.2xlarge $3.06/h, 0..20
    // nodes -> 5, default 80 GiB volumes.
    let ml = item(&c, "pool/ml-workload");
    assert!(close(ml.monthly, 5.0 * 3.06 * 730.0 + 5.0 * 80.0 * 0.08));
    assert!(c.assumptions.iter().any(|a| a.contains("priced on-demand")));
    // NAT: 3 default zones at $0.045/h; bastion (production) t3.micro.
    assert!(close(item(&c, "nat-gateways").monthly, 3.0 * 0.045 * 730.0));
    assert!(close(item(&c, "bastion").monthly, 0.0104 * 730.0));
    // The total is the sum of the items.
    let sum: f64 = c.items.iter().map(|i| i.monthly).sum();
    assert!(close(c.total_monthly, sum));
    assert!(c.assumptions.iter().any(|a| a.contains("no EKS fee")));
}

#[test]
fn cost_follows_the_spec_and_the_sheet() {
    let p = sheet();
    let base = cost::monthly(&prod(), &p).total_monthly;

    // Bigger system pool bounds: more expected nodes.
    let grown = cost::monthly(&edited("maxNodes: 5", "maxNodes: 9"), &p);
    assert!(close(item(&grown, "pool/system").count, 4.5));
    assert!(close(
        grown.total_monthly - base,
        0.25 * 4.0 * (0.085 * 730.0 + 80.0 * 0.08)
    ));

    // A cheaper control plane type.
    let smaller = cost::monthly(
        &edited("instanceType: c5.xlarge", "instanceType: c5.large"),
        &p,
    );
    assert!(close(
        base - smaller.total_monthly,
        3.0 * (0.17 - 0.085) * 730.0
    ));

    // Fewer zones, fewer NAT gateways.
    let two_zones = cost::monthly(
        &edited(
            "serviceCidr: 10.128.0.0/12",
            "serviceCidr: 10.128.0.0/12\n    availabilityZones: [us-east-1a, us-east-1b]",
        ),
        &p,
    );
    assert!(close(base - two_zones.total_monthly, 0.045 * 730.0));

    // A development cluster has no bastion.
    let dev = cost::monthly(&edited("tier: production", "tier: development"), &p);
    assert!(dev.items.iter().all(|i| i.name != "bastion"));

    // A sheet stating a spot discount prices the spot pool lower.
    let mut discounted = p.clone();
    discounted.spot_discount = Some(0.6);
    let d = cost::monthly(&prod(), &discounted);
    assert!(close(
        item(&d, "pool/ml-workload").compute_monthly,
        5.0 * 3.06 * 0.4 * 730.0
    ));
    assert!(close(
        item(&d, "pool/system").monthly,
        item(&cost::monthly(&prod(), &p), "pool/system").monthly
    ));

    // Another share of the range.
    let at_min = cost::monthly_with_share(&prod(), &p, 0.0);
    assert!(close(item(&at_min, "pool/ml-workload").monthly, 0.0));
}

#[test]
fn unknown_types_are_reported_not_invented() {
    let c = cost::monthly(
        &edited("machineType: c5.2xlarge", "machineType: x9.huge"),
        &sheet(),
    );
    assert_eq!(c.unpriced, ["x9.huge"]);
    let app = item(&c, "pool/application");
    assert_eq!(app.hourly, None);
    assert!(close(app.compute_monthly, 0.0));
    assert!(c.assumptions.iter().any(|a| a.contains("lower bound")));
}

#[test]
fn a_caller_sheet_replaces_the_shipped_one() {
    let text = r#"apiVersion: plinth.io/v1alpha1
kind: PriceSheet
spec:
  date: "2030-01-01"
  currency: EUR
  region: eu-west-1
  hoursPerMonth: 700
  instances: {c5.large: 0.1, c5.xlarge: 0.2, c5.2xlarge: 0.4, p3.2xlarge: 3.0, t3.micro: 0.01}
  ebsGp3PerGbMonth: 0.1
  natGatewayPerHour: 0.05
"#;
    let p = PriceSheet::from_str_named("mine.yaml", text).expect("valid");
    let c = cost::monthly(&prod(), &p);
    assert_eq!(c.currency, "EUR");
    assert!(close(
        item(&c, "pool/system").monthly,
        3.5 * (0.1 * 700.0 + 80.0 * 0.1)
    ));
    let bad = text.replace("natGatewayPerHour: 0.05", "natGatewayPerHour: -1");
    let err = PriceSheet::from_str_named("mine.yaml", &bad).expect_err("negative");
    assert!(err.to_string().contains("mine.yaml"), "{err}");
    assert!(err.to_string().contains("natGatewayPerHour"), "{err}");
}

// --- recommendations ---------------------------------------------------------------

fn fields(c: &ManagedCluster, latest: Option<&str>) -> Vec<String> {
    let latest: Option<KubeVersion> = latest.map(|s| s.parse().expect("version"));
    recommendations(c, latest.as_ref())
        .into_iter()
        .map(|r| r.field)
        .collect()
}

#[test]
fn example_recommendations_are_computed_from_the_spec() {
    let recs = recommendations(&prod(), None);
    // The example's spot pool has a max price and the other pools have ranges; the
    // production control plane has 3 replicas over 3 zones. Only its version (1.28)
    // is too old to limit anonymous API access.
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0].field, "spec.kubernetesVersion");
    assert!(
        recs[0].message.contains("anonymous requests on every path"),
        "{}",
        recs[0].message
    );
    let mut newer = prod();
    newer.spec.kubernetes_version = "v1.32.1".to_owned();
    assert!(recommendations(&newer, None).is_empty());
}

#[test]
fn spot_suggestion_for_batch_pools_appears_and_disappears() {
    let on_demand = edited("      spot: true\n      spotMaxPrice: \"1.50\"\n", "");
    let recs = recommendations(&on_demand, None);
    let spot = recs
        .iter()
        .find(|r| r.field == "spec.nodePools[2].spot")
        .expect("spot suggested");
    assert!(spot.message.contains("ml-workload"), "{}", spot.message);
    assert!(!fields(&prod(), None).contains(&"spec.nodePools[2].spot".to_owned()));
}

#[test]
fn autoscaling_headroom() {
    let fixed = edited("maxNodes: 5", "maxNodes: 3");
    assert!(fields(&fixed, None).contains(&"spec.nodePools[0].maxNodes".to_owned()));
    assert!(!fields(&prod(), None).contains(&"spec.nodePools[0].maxNodes".to_owned()));
}

#[test]
fn control_plane_replicas_and_zones_in_production() {
    let one_cp = edited("replicas: 3", "replicas: 1");
    let recs = recommendations(&one_cp, None);
    let r = recs
        .iter()
        .find(|r| r.field == "spec.controlPlane.replicas")
        .expect("replicas");
    assert_eq!(r.severity, Severity::Warning);
    assert!(r.message.contains("1 replica"), "{}", r.message);
    // Not for development.
    let dev = {
        let mut c = one_cp.clone();
        c.spec.tier = plinth_fleet::spec::Tier::Development;
        c
    };
    assert!(!fields(&dev, None).contains(&"spec.controlPlane.replicas".to_owned()));

    let single_zone = edited(
        "serviceCidr: 10.128.0.0/12",
        "serviceCidr: 10.128.0.0/12\n    availabilityZones: [us-east-1a]",
    );
    let recs = recommendations(&single_zone, None);
    let r = recs
        .iter()
        .find(|r| r.field == "spec.networking.availabilityZones")
        .expect("zones");
    assert!(r.message.contains("us-east-1a"), "{}", r.message);
}

#[test]
fn spot_without_max_price_and_dedicated_notes() {
    let no_cap = edited("      spotMaxPrice: \"1.50\"\n", "");
    assert!(fields(&no_cap, None).contains(&"spec.nodePools[2].spotMaxPrice".to_owned()));
    assert!(!fields(&prod(), None).contains(&"spec.nodePools[2].spotMaxPrice".to_owned()));

    let dedicated = edited(
        "      maxNodes: 50\n",
        "      maxNodes: 50\n      dedicated: true\n",
    );
    let recs = recommendations(&dedicated, None);
    let r = recs
        .iter()
        .find(|r| r.field == "spec.nodePools[1].dedicated")
        .expect("dedicated");
    assert!(r.message.contains("c5.2xlarge"), "{}", r.message);
}

#[test]
fn support_window_is_relative_to_the_callers_latest() {
    // v1.28.5 against latest v1.30: 1.28 is the oldest of three supported minors.
    assert!(
        !recommendations(&prod(), Some(&"v1.30.2".parse().expect("v")))
            .iter()
            .any(|r| r.message.contains("behind"))
    );
    // Against v1.31 it is out of support.
    let recs = recommendations(&prod(), Some(&"v1.31.0".parse().expect("v")));
    let r = recs
        .iter()
        .find(|r| r.field == "spec.kubernetesVersion" && r.message.contains("behind"))
        .expect("old version");
    assert!(
        r.message.contains("3 minor versions behind"),
        "{}",
        r.message
    );
    // A newer spec version makes it disappear.
    let newer = edited("kubernetesVersion: v1.28.5", "kubernetesVersion: v1.30.1");
    assert!(
        !recommendations(&newer, Some(&"v1.31.0".parse().expect("v")))
            .iter()
            .any(|r| r.message.contains("behind"))
    );
}
