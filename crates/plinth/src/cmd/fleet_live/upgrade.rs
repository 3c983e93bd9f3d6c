//! `plinth fleet upgrade`: plinth-fleet's plan (made from the live objects, refused before
//! any change when unsafe), then each step patched and its rollout watched to the end.

use super::*;

/// Runs `plinth fleet upgrade`.
pub async fn upgrade(cluster: &ClusterArgs, args: &FleetUpgradeArgs) -> anyhow::Result<Outcome> {
    let target: plinth_fleet::version::KubeVersion = args
        .to
        .parse()
        .map_err(|e| anyhow!("--to {:?}: {e}", args.to))?;
    let (client, _conn, _info) = plinth_kube::config::connect(&cluster.options()).await?;
    let applier = Applier::new(client.clone(), FIELD_MANAGER);
    let k = kinds(&applier).await?;
    let (ns, name) = (&args.namespace, &args.name);
    let clusters: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &k.cluster);
    let object = clusters
        .get_opt(name)
        .await
        .with_context(|| format!("reading Cluster {ns}/{name}"))?
        .ok_or_else(|| anyhow!("cluster {ns}/{name} does not exist"))?;
    let cp_name = to_value(&object)["spec"]["controlPlaneRef"]["name"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("Cluster {ns}/{name} has no spec.controlPlaneRef.name"))?;
    let cps: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &k.control_plane);
    let mds: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &k.deployment);
    let read_state = || async {
        let cp = cps
            .get(&cp_name)
            .await
            .with_context(|| format!("reading KubeadmControlPlane {ns}/{cp_name}"))?;
        let list = mds
            .list(&ListParams::default().labels(&format!("{CLUSTER_NAME_LABEL}={name}")))
            .await
            .with_context(|| format!("listing the MachineDeployments of {ns}/{name}"))?;
        let md_values: Vec<Value> = list.items.iter().map(to_value).collect();
        plinth_fleet::upgrade::ClusterState::from_objects(&to_value(&cp), &md_values)
            .map_err(|e| anyhow!("{e}"))
    };
    let state = read_state().await?;
    // Every refusal happens here, before the first patch.
    let plan = plinth_fleet::upgrade::plan(&state, &target).map_err(|e| anyhow!("refused: {e}"))?;
    // The recorded spec rendered at the target decides the machine templates.
    let plan = match recorded_spec(&object) {
        Some(mut spec) => {
            spec.spec.kubernetes_version = target.to_string();
            let settings = RenderSettings {
                namespace: ns.clone(),
                ..RenderSettings::default()
            };
            let rendered = plinth_fleet::render(&spec, &settings).with_context(|| {
                format!("rendering the recorded spec of {ns}/{name} at {target}")
            })?;
            plinth_fleet::upgrade::with_templates(plan, &rendered)
        }
        None => {
            output::notice(format!(
                "Cluster {ns}/{name} has no recorded spec ({}): machine templates stay as they are",
                plinth_fleet::render::SPEC_ANNOTATION
            ));
            plan
        }
    };
    if plan.is_empty() {
        record_version(&clusters, &object, &target).await?;
        output::line(format!(
            "cluster {ns}/{name} already runs {target}; nothing to do"
        ));
        return Ok(Outcome::Ok);
    }
    output::line(format!("upgrade plan for {ns}/{name} to {target}:"));
    for (i, step) in plan.steps.iter().enumerate() {
        output::line(format!("  {}. {}", i + 1, step.describe()));
    }
    if args.dry_run {
        return Ok(Outcome::Ok);
    }
    for step in &plan.steps {
        let api = if step.object.kind == "KubeadmControlPlane" {
            &cps
        } else {
            &mds
        };
        if let Some(patch) = &step.patch {
            for template in &step.templates {
                let mut template = template.clone();
                template["metadata"]["labels"][SET_LABEL] = json!(set_name(name));
                let applied = applier
                    .apply(&template, &plinth_kube::apply::ApplyOptions::default())
                    .await
                    .with_context(|| {
                        format!("creating template {}", template["metadata"]["name"])
                    })?;
                tracing::debug!(template = ?applied.metadata.name, "template applied");
            }
            let params = kube::api::PatchParams {
                field_manager: Some(FIELD_MANAGER.to_owned()),
                ..Default::default()
            };
            api.patch(&step.object.name, &params, &kube::api::Patch::Merge(patch))
                .await
                .with_context(|| format!("patching {}", step.object))?;
            output::notice(format!("{}: asked for {}", step.object, step.to));
        }
        let wait = async {
            let mut stream = watcher(
                api.clone(),
                watcher::Config::default().fields(&format!("metadata.name={}", step.object.name)),
            )
            .applied_objects()
            .boxed();
            while let Some(event) = stream.next().await {
                let obj = event.with_context(|| format!("watching {}", step.object))?;
                if step.is_done(&to_value(&obj)).map_err(|e| anyhow!("{e}"))? {
                    return Ok::<(), anyhow::Error>(());
                }
            }
            Err(anyhow!("the watch on {} ended", step.object))
        };
        match tokio::time::timeout(Duration::from_secs(args.timeout), wait).await {
            Ok(done) => {
                done?;
                output::notice(format!("{}: rolled out at {}", step.object, step.to));
            }
            Err(_) => {
                // Name the machines too: which are behind, in which phase, and why.
                let machine_kind = resolve(&applier, CLUSTER_GROUP, "Machine").await?;
                let machines: Api<DynamicObject> =
                    Api::namespaced_with(client.clone(), ns, &machine_kind);
                let listed = machines
                    .list(&ListParams::default().labels(&format!("{CLUSTER_NAME_LABEL}={name}")))
                    .await
                    .with_context(|| format!("listing the Machines of {ns}/{name}"))?;
                let machine_values: Vec<Value> = listed.items.iter().map(to_value).collect();
                let now = read_state().await?.with_machines(&machine_values);
                output::notice(format!(
                    "timed out after {}s waiting for {}; run the same command again to continue",
                    args.timeout, step.object
                ));
                for line in plinth_fleet::upgrade::blocking(&now) {
                    output::notice(format!("  {line}"));
                }
                return Ok(Outcome::Findings);
            }
        }
    }
    record_version(&clusters, &object, &target).await?;
    output::line(format!("cluster {ns}/{name} upgraded to {target}"));
    Ok(Outcome::Ok)
}

/// Brings the spec recorded on the Cluster (`plinth.io/managed-cluster`) to the version the
/// cluster now runs, so `describe` prices and reviews what is there. Untouched when the
/// annotation is absent or already says so.
async fn record_version(
    clusters: &Api<DynamicObject>,
    cluster: &DynamicObject,
    target: &plinth_fleet::version::KubeVersion,
) -> anyhow::Result<()> {
    let annotation = plinth_fleet::render::SPEC_ANNOTATION;
    let Some(text) = cluster
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(annotation))
    else {
        return Ok(());
    };
    let Ok(mut spec) = serde_json::from_str::<Value>(text) else {
        return Ok(());
    };
    let version = target.to_string();
    if spec["spec"]["kubernetesVersion"].as_str() == Some(version.as_str()) {
        return Ok(());
    }
    spec["spec"]["kubernetesVersion"] = json!(version);
    let name = object_name(cluster);
    let params = kube::api::PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..Default::default()
    };
    let patch = json!({"metadata": {"annotations": {annotation: spec.to_string()}}});
    clusters
        .patch(&name, &params, &kube::api::Patch::Merge(&patch))
        .await
        .with_context(|| format!("recording {version} in the spec annotation of Cluster {name}"))?;
    Ok(())
}

/// The ManagedCluster `render` recorded on the Cluster, when present and readable.
fn recorded_spec(cluster: &DynamicObject) -> Option<plinth_fleet::ManagedCluster> {
    let text = cluster
        .metadata
        .annotations
        .as_ref()?
        .get(plinth_fleet::render::SPEC_ANNOTATION)?;
    serde_json::from_str(text).ok()
}
