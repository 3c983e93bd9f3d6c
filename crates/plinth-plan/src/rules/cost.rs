//! The cost estimate: price sheet × expected node counts, every assumption stated.

use super::*;

pub(super) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Expected nodes per cluster of a pool: its minimum plus [`EXPECTED_SHARE_OF_RANGE`]
/// of its autoscaling range, or its maximum when pools do not autoscale.
pub fn expected_nodes(pool: &NodePool, automated_scaling: bool) -> f64 {
    if automated_scaling {
        f64::from(pool.min_nodes)
            + EXPECTED_SHARE_OF_RANGE * f64::from(pool.max_nodes - pool.min_nodes)
    } else {
        f64::from(pool.max_nodes)
    }
}

pub(super) fn cost(
    req: &Requirements,
    topo: &Topology,
    pools: &[NodePool],
    net: &Networking,
    mon: &Monitoring,
    prices: &PriceSheet,
) -> Cost {
    let hours = prices.hours_per_month;
    let clusters_of = |role: ClusterRole| {
        u32::try_from(topo.clusters.iter().filter(|c| c.role == role).count()).unwrap_or(0)
    };
    let cluster_count = u32::try_from(topo.clusters.len()).unwrap_or(0);
    let workload_clusters = clusters_of(ClusterRole::Workload);
    let mut assumptions = vec![format!(
        "Prices: {} on-demand list prices for {} dated {}, {} hours a month.",
        prices.currency, prices.region, prices.date, prices.hours_per_month
    )];
    if req.automated_scaling {
        assumptions.push(format!(
            "Expected nodes per pool = minNodes + {}% of (maxNodes − minNodes), per cluster.",
            EXPECTED_SHARE_OF_RANGE * 100.0
        ));
    } else {
        assumptions.push(
            "automatedScaling is false: every pool runs at its maxNodes all month.".to_owned(),
        );
    }
    let mut pool_costs = Vec::new();
    let mut nodes_total = 0.0;
    let mut compute = 0.0;
    for p in pools {
        let on_demand = prices.hourly(&p.instance_type).unwrap_or(0.0);
        let hourly = match (p.spot, prices.spot_discount) {
            (true, Some(d)) => on_demand * (1.0 - d),
            _ => on_demand,
        };
        let expected = expected_nodes(p, req.automated_scaling);
        let clusters = clusters_of(p.cluster_role);
        let monthly = hourly * expected * f64::from(clusters) * hours;
        nodes_total += expected * f64::from(clusters);
        compute += monthly;
        pool_costs.push(PoolCost {
            pool: p.name.clone(),
            instance_type: p.instance_type.clone(),
            hourly,
            expected_nodes: expected,
            clusters,
            monthly: round2(monthly),
        });
    }
    if pools.iter().any(|p| p.spot) {
        assumptions.push(match prices.spot_discount {
            Some(d) => format!(
                "Spot pools priced at the sheet's spotDiscount of {}% off on-demand.",
                d * 100.0
            ),
            None => "Spot pools priced on-demand: the price sheet gives no spotDiscount, \
                     and spot prices vary by hour and zone."
                .to_owned(),
        });
    }
    let control_plane = f64::from(cluster_count) * prices.eks_control_plane_per_hour * hours;
    compute += control_plane;
    assumptions.push(format!(
        "Compute includes {cluster_count} managed control plane(s) at {}/hour each.",
        prices.eks_control_plane_per_hour
    ));
    let storage = nodes_total * ROOT_VOLUME_GB * prices.ebs_gp3_per_gb_month;
    assumptions.push(format!(
        "Storage: a {ROOT_VOLUME_GB} GB gp3 root volume per expected node; application \
         persistent volumes and backup object storage are not priced (no input gives \
         their size)."
    ));
    let nat = f64::from(net.nat_gateways_per_cluster * cluster_count);
    let networking = nat * prices.nat_gateway_per_hour * hours;
    assumptions.push(format!(
        "Networking: {} NAT gateway(s) per cluster (one per zone) by the hour; data \
         transfer, NAT data processing and load balancers are not priced (no input gives \
         traffic volumes).",
        net.nat_gateways_per_cluster
    ));
    let mon_gb = f64::from(
        mon.metrics.storage_gb * mon.metrics.replicas
            + mon.logging.storage_gb * mon.logging.replicas,
    ) * f64::from(workload_clusters);
    let monitoring = mon_gb * prices.ebs_gp3_per_gb_month;
    assumptions.push(
        "Monitoring: Prometheus and log-store gp3 volumes per workload cluster; their \
         compute runs on the system pool, already in compute."
            .to_owned(),
    );
    let keys = if req.encryption_at_rest {
        cluster_count
    } else {
        0
    };
    let security = f64::from(keys) * prices.kms_key_per_month;
    assumptions.push(format!(
        "Security: {keys} KMS key(s) (one per cluster when encryptionAtRest); KMS request \
         charges and commercial security tools are not priced; the open-source tools \
         (Falco, trivy-operator, plinth guard) run on the system pool."
    ));
    if req.regions.iter().any(|r| r != &prices.region) {
        assumptions.push(format!(
            "Regions other than {} are priced with {} prices.",
            prices.region, prices.region
        ));
    }
    assumptions.push(format!(
        "Annual = 12 × monthly; expectedGrowthRate ({}) is not applied.",
        req.expected_growth_rate
    ));
    let monthly = Monthly {
        compute: round2(compute),
        storage: round2(storage),
        networking: round2(networking),
        monitoring: round2(monitoring),
        security: round2(security),
        total: 0.0,
    };
    let total = round2(
        monthly.compute
            + monthly.storage
            + monthly.networking
            + monthly.monitoring
            + monthly.security,
    );
    Cost {
        currency: prices.currency.clone(),
        price_date: prices.date.clone(),
        price_region: prices.region.clone(),
        monthly: Monthly { total, ..monthly },
        annual: round2(total * 12.0),
        pools: pool_costs,
        assumptions,
    }
}
