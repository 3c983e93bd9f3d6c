//! `plinth fleet describe`: a condition tree like `clusterctl describe cluster`, the
//! monthly cost and recommendations — computed from the objects in the management
//! cluster and the spec recorded on the Cluster, never canned.

use super::*;

fn conditions_line(o: &Value) -> String {
    let not_true: Vec<String> = o["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["status"].as_str() != Some("True"))
        .map(|c| {
            let reason = c["reason"].as_str().unwrap_or("");
            format!(
                "{}={} {reason}",
                c["type"].as_str().unwrap_or("?"),
                c["status"].as_str().unwrap_or("?")
            )
        })
        .collect();
    let total = o["status"]["conditions"].as_array().map_or(0, Vec::len);
    if total == 0 {
        "no conditions reported".to_owned()
    } else if not_true.is_empty() {
        format!("all {total} conditions True")
    } else {
        not_true.join(", ")
    }
}

/// Runs `plinth fleet describe`.
pub async fn describe(cluster: &ClusterArgs, args: &FleetDescribeArgs) -> anyhow::Result<Outcome> {
    let latest = args
        .latest_supported
        .as_deref()
        .map(|v| v.parse::<plinth_fleet::version::KubeVersion>())
        .transpose()
        .map_err(|e| anyhow!("--latest-supported: {e}"))?;
    let prices = match &args.prices {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            plinth_fleet::cost::PriceSheet::from_str_named(&path.display().to_string(), &text)
                .map_err(|e| anyhow!("{e}"))?
        }
        None => plinth_fleet::cost::PriceSheet::builtin().map_err(|e| anyhow!("{e}"))?,
    };
    let (client, _conn, _info) = plinth_kube::config::connect(&cluster.options()).await?;
    let applier = Applier::new(client.clone(), FIELD_MANAGER);
    let k = kinds(&applier).await?;
    let (ns, name) = (&args.namespace, &args.name);
    let api = |r: &ApiResource| Api::<DynamicObject>::namespaced_with(client.clone(), ns, r);
    let object = api(&k.cluster)
        .get_opt(name)
        .await
        .with_context(|| format!("reading Cluster {ns}/{name}"))?
        .ok_or_else(|| anyhow!("cluster {ns}/{name} does not exist"))?;
    let c = to_value(&object);
    let by_cluster = ListParams::default().labels(&format!("{CLUSTER_NAME_LABEL}={name}"));
    let cp_name = c["spec"]["controlPlaneRef"]["name"].as_str().unwrap_or("");
    let cp = match api(&k.control_plane).get_opt(cp_name).await {
        Ok(found) => found.map(|o| to_value(&o)),
        Err(e) => {
            return Err(e).with_context(|| format!("reading KubeadmControlPlane {ns}/{cp_name}"));
        }
    };
    let mut mds: Vec<Value> = api(&k.deployment)
        .list(&by_cluster)
        .await
        .context("listing MachineDeployments")?
        .items
        .iter()
        .map(to_value)
        .collect();
    mds.sort_by(|a, b| {
        a["metadata"]["name"]
            .as_str()
            .cmp(&b["metadata"]["name"].as_str())
    });
    let machines: Vec<Value> = match resolve(&applier, CLUSTER_GROUP, "Machine").await {
        Ok(r) => api(&r)
            .list(&by_cluster)
            .await
            .context("listing Machines")?
            .items
            .iter()
            .map(to_value)
            .collect(),
        Err(_) => Vec::new(),
    };
    let spec: Option<plinth_fleet::ManagedCluster> = c["metadata"]["annotations"]
        [plinth_fleet::render::SPEC_ANNOTATION]
        .as_str()
        .and_then(|t| serde_json::from_str(t).ok());
    let cost = spec
        .as_ref()
        .map(|s| plinth_fleet::cost::monthly(s, &prices));
    let recommendations = spec
        .as_ref()
        .map(|s| plinth_fleet::recommend::recommendations(s, latest.as_ref()))
        .unwrap_or_default();

    let phase = c["status"]["phase"].as_str().unwrap_or("-");
    let mut tree = vec![format!(
        "Cluster {ns}/{name}  phase {phase}  {}",
        conditions_line(&c)
    )];
    if let Some(cp) = &cp {
        let (ready, desired) = control_plane_replicas(cp);
        tree.push(format!(
            "├─ ControlPlane {}  {}  {ready}/{desired} ready  {}",
            cp["metadata"]["name"].as_str().unwrap_or(""),
            cp["spec"]["version"].as_str().unwrap_or("-"),
            conditions_line(cp)
        ));
    }
    for (i, md) in mds.iter().enumerate() {
        let (ready, desired) = deployment_replicas(md);
        let branch = if i + 1 == mds.len() {
            "└─"
        } else {
            "├─"
        };
        let md_name = md["metadata"]["name"].as_str().unwrap_or("");
        tree.push(format!(
            "{branch} Workers {md_name}  {}  {ready}/{desired} ready  {}",
            md["spec"]["template"]["spec"]["version"]
                .as_str()
                .unwrap_or("-"),
            conditions_line(md)
        ));
        for m in machines.iter().filter(|m| {
            m["metadata"]["labels"]["cluster.x-k8s.io/deployment-name"].as_str() == Some(md_name)
        }) {
            tree.push(format!(
                "     └─ Machine {}  {}  {}",
                m["metadata"]["name"].as_str().unwrap_or(""),
                m["status"]["phase"].as_str().unwrap_or("-"),
                conditions_line(m)
            ));
        }
    }
    match args.output {
        Format::Json => output::json(&json!({
            "cluster": name, "namespace": ns, "phase": phase, "tree": tree,
            "cost": cost, "recommendations": recommendations,
            "specRecorded": spec.is_some(),
        })),
        Format::Table => {
            for line in &tree {
                output::line(line);
            }
            match &cost {
                Some(cost) => {
                    output::line(format!(
                        "\nmonthly cost: {:.2} {} (prices of {}){}",
                        cost.total_monthly,
                        cost.currency,
                        cost.prices_date,
                        if cost.unpriced.is_empty() {
                            String::new()
                        } else {
                            format!(", a lower bound: unpriced {}", cost.unpriced.join(", "))
                        }
                    ));
                    for item in &cost.items {
                        output::line(format!(
                            "  {:<20} {:<12} ×{:>6.2}  {:>10.2}",
                            item.name,
                            item.instance_type,
                            item.count,
                            item.compute_monthly + item.storage_monthly
                        ));
                    }
                    for a in &cost.assumptions {
                        output::line(format!("  assumption: {a}"));
                    }
                }
                None => output::line(
                    "\nmonthly cost: not computed — the Cluster carries no plinth spec (it was not created by plinth fleet create)",
                ),
            }
            if !recommendations.is_empty() {
                output::line("\nrecommendations:");
                for r in &recommendations {
                    output::line(format!("  [{:?}] {}: {}", r.severity, r.field, r.message));
                }
            }
        }
    }
    Ok(Outcome::Ok)
}
