//! `plinth fleet list`: every Cluster with its tier, phase, version and replicas.

use super::*;

/// Runs `plinth fleet list`.
pub async fn list(cluster: &ClusterArgs, args: &FleetListArgs) -> anyhow::Result<Outcome> {
    let (client, _conn, _info) = plinth_kube::config::connect(&cluster.options()).await?;
    let applier = Applier::new(client.clone(), FIELD_MANAGER);
    let kinds = kinds(&applier).await?;
    let all = |r: &ApiResource| Api::<DynamicObject>::all_with(client.clone(), r);
    let clusters = all(&kinds.cluster)
        .list(&ListParams::default())
        .await
        .context("listing Clusters")?;
    let kcps: BTreeMap<(String, String), Value> = all(&kinds.control_plane)
        .list(&ListParams::default())
        .await
        .context("listing KubeadmControlPlanes")?
        .items
        .iter()
        .map(|o| {
            (
                (
                    o.metadata.namespace.clone().unwrap_or_default(),
                    object_name(o),
                ),
                to_value(o),
            )
        })
        .collect();
    let mut workers: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for md in all(&kinds.deployment)
        .list(&ListParams::default().labels(CLUSTER_NAME_LABEL))
        .await
        .context("listing MachineDeployments")?
        .items
    {
        let Some(owner) = md
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(CLUSTER_NAME_LABEL))
        else {
            continue;
        };
        let key = (
            md.metadata.namespace.clone().unwrap_or_default(),
            owner.clone(),
        );
        let (ready, desired) = deployment_replicas(&to_value(&md));
        let sum = workers.entry(key).or_default();
        sum.0 += ready;
        sum.1 += desired;
    }

    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    let mut rows = Vec::new();
    for c in &clusters.items {
        let namespace = c.metadata.namespace.clone().unwrap_or_default();
        let name = object_name(c);
        let v = to_value(c);
        let tier = c
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(TIER_LABEL))
            .cloned()
            .unwrap_or_else(|| "-".to_owned());
        let cp_ref = &v["spec"]["controlPlaneRef"];
        let kcp = cp_ref["name"]
            .as_str()
            .filter(|_| cp_ref["kind"].as_str() == Some("KubeadmControlPlane"))
            .and_then(|n| kcps.get(&(namespace.clone(), n.to_owned())));
        let version = kcp
            .and_then(|k| k["spec"]["version"].as_str())
            .map(str::to_owned);
        let control_plane = kcp.map(control_plane_replicas);
        let workers = workers.get(&(namespace.clone(), name.clone())).copied();
        let created = c.metadata.creation_timestamp.as_ref().map(|t| t.0);
        rows.push(json!({
            "name": name,
            "namespace": namespace,
            "tier": tier,
            "phase": v["status"]["phase"].as_str().unwrap_or("-"),
            "version": version,
            "controlPlane": control_plane.map(|(r, d)| json!({"ready": r, "desired": d})),
            "workers": json!({"ready": workers.map_or(0, |w| w.0), "desired": workers.map_or(0, |w| w.1)}),
            "created": created.map(|t| t.to_string()),
            "age": created.map(|t| age(now - t.as_second())),
        }));
    }
    match args.output {
        Format::Json => output::json(&json!({ "clusters": rows })),
        Format::Table => {
            let mut t = comfy_table::Table::new();
            t.load_preset(comfy_table::presets::NOTHING);
            t.set_header(vec![
                "NAMESPACE",
                "NAME",
                "TIER",
                "PHASE",
                "VERSION",
                "CONTROL PLANE",
                "WORKERS",
                "AGE",
            ]);
            let ratio = |v: &Value| match (int(&v["ready"]), int(&v["desired"])) {
                (Some(r), Some(d)) => format!("{r}/{d}"),
                _ => "-".to_owned(),
            };
            let text = |v: &Value| v.as_str().unwrap_or("-").to_owned();
            for r in &rows {
                t.add_row(vec![
                    text(&r["namespace"]),
                    text(&r["name"]),
                    text(&r["tier"]),
                    text(&r["phase"]),
                    text(&r["version"]),
                    ratio(&r["controlPlane"]),
                    ratio(&r["workers"]),
                    text(&r["age"]),
                ]);
            }
            if rows.is_empty() {
                output::notice("no clusters");
            } else {
                output::line(t.to_string());
            }
        }
    }
    Ok(Outcome::Ok)
}

/// An age as kubectl shows it: `45s`, `12m`, `5h`, `3d`.
pub(super) fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..120 => format!("{s}s"),
        120..7200 => format!("{}m", s / 60),
        7200..172_800 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}
