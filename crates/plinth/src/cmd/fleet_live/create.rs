//! `plinth fleet create`: apply the rendered set, then watch until the cluster is ready.

use super::*;

/// Runs `plinth fleet create`.
pub async fn create(cluster: &ClusterArgs, args: &FleetCreateArgs) -> anyhow::Result<Outcome> {
    let docs =
        plinth_core::manifest::read_file(&args.spec).map_err(|e| manifest_errors(vec![e]))?;
    let clusters = plinth_fleet::clusters(&docs).map_err(manifest_errors)?;
    if clusters.is_empty() {
        anyhow::bail!("{}: no ManagedCluster found", args.spec.display());
    }
    let settings = RenderSettings {
        namespace: args.namespace.clone(),
        autoscaler_image: args.autoscaler_image.clone(),
        addon_manifests: super::super::fleet::addon_manifests(
            args.addons_dir.as_deref(),
            &clusters,
        )?,
    };
    super::super::fleet::warn_uninstalled_addons(&clusters, &settings);
    let (client, _conn, _info) = plinth_kube::config::connect(&cluster.options()).await?;

    // Everything is rendered and checked before the first write, so a bad cluster in a
    // multi-cluster file leaves nothing half-applied.
    let mut prepared = Vec::new();
    for c in &clusters {
        let name = c.metadata.name.clone();
        let objects = plinth_fleet::render(c, &settings)
            .with_context(|| format!("rendering cluster {name:?}"))?;
        let deployments: Vec<String> = objects
            .iter()
            .filter(|o| o["kind"].as_str() == Some("MachineDeployment"))
            .filter_map(|o| o["metadata"]["name"].as_str().map(str::to_owned))
            .collect();
        let text = objects
            .iter()
            .map(serde_saphyr::to_string)
            .collect::<Result<Vec<_>, _>>()?
            .join("\n---\n");
        let source = format!("{} (rendered {name})", args.spec.display());
        let rendered = plinth_core::manifest::parse_str(&source, &text)
            .map_err(|e| manifest_errors(vec![e]))?;
        prepared.push((
            name,
            c.spec.kubernetes_version.clone(),
            rendered,
            deployments,
        ));
    }
    let applier = Applier::new(client.clone(), FIELD_MANAGER);
    let kinds = kinds(&applier).await?;
    for (name, version, _, _) in &prepared {
        keeps_version(&client, &kinds, &args.namespace, name, version).await?;
    }

    let mut summaries = Vec::new();
    let mut targets = Vec::new();
    for (name, _, rendered, deployments) in prepared {
        let opts = SetOptions {
            name: set_name(&name),
            field_manager: FIELD_MANAGER.to_owned(),
            dry_run: false,
            prune: false,
            record_namespace: RECORD_NAMESPACE.to_owned(),
        };
        let outcomes = applyset::apply_set(&client, &rendered, &opts)
            .await
            .with_context(|| format!("applying cluster {}/{name}", args.namespace))?;
        summaries.push((name.clone(), opts.name, outcomes));
        targets.push((name, deployments));
    }
    report_apply(&args.namespace, args.output, &summaries);
    if args.no_wait {
        return Ok(Outcome::Ok);
    }

    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout);
    for (name, deployments) in &targets {
        output::notice(format!(
            "waiting for cluster {}/{name} to be provisioned (timeout {}s)",
            args.namespace, args.timeout
        ));
        match track(
            &client,
            &kinds,
            &args.namespace,
            name,
            deployments,
            deadline,
        )
        .await?
        {
            None => output::notice(format!("cluster {}/{name} is ready", args.namespace)),
            Some(pending) => {
                output::notice(format!(
                    "timed out after {}s waiting for cluster {}/{name}; still pending:\n  {}",
                    args.timeout,
                    args.namespace,
                    pending.join("\n  ")
                ));
                return Ok(Outcome::Findings);
            }
        }
    }
    Ok(Outcome::Ok)
}

pub(super) fn report_apply(
    namespace: &str,
    format: Format,
    summaries: &[(String, String, Vec<applyset::Outcome>)],
) {
    let count = |o: &[applyset::Outcome], c: Change| o.iter().filter(|x| x.change == c).count();
    match format {
        Format::Json => {
            let clusters: Vec<Value> = summaries
                .iter()
                .map(|(name, set, o)| {
                    json!({
                        "name": name, "namespace": namespace, "set": set,
                        "created": count(o, Change::Created),
                        "changed": count(o, Change::Changed),
                        "unchanged": count(o, Change::Unchanged),
                        "objects": o,
                    })
                })
                .collect();
            output::json(&json!({ "clusters": clusters }));
        }
        Format::Table => {
            for (name, set, o) in summaries {
                for x in o {
                    let verb = match x.change {
                        Change::Created => "created",
                        Change::Changed => "changed",
                        Change::Unchanged => "unchanged",
                        Change::Pruned => "pruned",
                    };
                    output::line(format!("{verb:<9} {}", x.object));
                }
                output::line(format!(
                    "cluster {namespace}/{name} (set {set}): {} created, {} changed, {} unchanged",
                    count(o, Change::Created),
                    count(o, Change::Changed),
                    count(o, Change::Unchanged)
                ));
            }
        }
    }
}

/// Which watch an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Source {
    Cluster,
    ControlPlane,
    Deployments,
}

/// What the watches have seen of one cluster.
#[derive(Default)]
pub(super) struct Tracker {
    objects: BTreeMap<Source, BTreeMap<String, Value>>,
    /// Objects being re-listed after a (re)start of a watch.
    relisting: BTreeMap<Source, BTreeMap<String, Value>>,
    synced: BTreeSet<Source>,
    last: BTreeMap<String, String>,
}

impl Tracker {
    fn apply(&mut self, source: Source, event: watcher::Event<DynamicObject>) {
        match event {
            watcher::Event::Init => {
                self.relisting.insert(source, BTreeMap::new());
            }
            watcher::Event::InitApply(o) => {
                self.relisting
                    .entry(source)
                    .or_default()
                    .insert(object_name(&o), to_value(&o));
            }
            watcher::Event::InitDone => {
                let listed = self.relisting.remove(&source).unwrap_or_default();
                self.objects.insert(source, listed);
                self.synced.insert(source);
            }
            watcher::Event::Apply(o) => {
                self.objects
                    .entry(source)
                    .or_default()
                    .insert(object_name(&o), to_value(&o));
            }
            watcher::Event::Delete(o) => {
                self.objects
                    .entry(source)
                    .or_default()
                    .remove(&object_name(&o));
            }
        }
    }

    fn synced(&self) -> bool {
        self.synced.len() == 3
    }

    fn get(&self, source: Source) -> impl Iterator<Item = (&String, &Value)> {
        self.objects.get(&source).into_iter().flatten()
    }

    /// One line per object describing its progress, keyed by object.
    fn lines(&self, namespace: &str, name: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let cluster = self.get(Source::Cluster).find(|(n, _)| *n == name);
        out.insert(
            format!("0 Cluster {name}"),
            match cluster {
                None => format!("Cluster {namespace}/{name}: not found"),
                Some((_, c)) => format!(
                    "Cluster {namespace}/{name}: phase {}, Available={}, ControlPlaneInitialized={}",
                    c["status"]["phase"].as_str().unwrap_or("-"),
                    condition_status(c, "Available"),
                    condition_status(c, "ControlPlaneInitialized"),
                ),
            },
        );
        for (n, kcp) in self.get(Source::ControlPlane) {
            let (ready, desired) = control_plane_replicas(kcp);
            out.insert(
                format!("1 KubeadmControlPlane {n}"),
                format!(
                    "KubeadmControlPlane {namespace}/{n}: initialized={}, Available={}, ready {ready}/{desired}",
                    initialized(kcp),
                    condition_status(kcp, "Available"),
                ),
            );
        }
        for (n, md) in self.get(Source::Deployments) {
            let (ready, desired) = deployment_replicas(md);
            out.insert(
                format!("2 MachineDeployment {n}"),
                format!("MachineDeployment {namespace}/{n}: ready {ready}/{desired}"),
            );
        }
        out
    }

    /// Prints the lines that changed since the last call.
    fn report(&mut self, namespace: &str, name: &str) {
        for (key, line) in self.lines(namespace, name) {
            if self.last.get(&key) != Some(&line) {
                output::notice(&line);
                self.last.insert(key, line);
            }
        }
    }

    /// What keeps the cluster from being ready (empty when it is).
    fn pending(&self, namespace: &str, name: &str, deployments: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        match self.get(Source::Cluster).find(|(n, _)| *n == name) {
            None => out.push(format!("Cluster {namespace}/{name}: not found")),
            Some((_, c)) => {
                let phase = c["status"]["phase"].as_str().unwrap_or("(none)");
                if phase != "Provisioned" {
                    out.push(format!(
                        "Cluster {namespace}/{name}: status.phase is {phase}, want Provisioned"
                    ));
                }
            }
        }
        let kcps: Vec<(&String, &Value)> = self.get(Source::ControlPlane).collect();
        if kcps.is_empty() {
            out.push(format!(
                "KubeadmControlPlane of {namespace}/{name}: not found"
            ));
        }
        for (n, kcp) in kcps {
            if !initialized(kcp) {
                out.push(format!(
                    "KubeadmControlPlane {namespace}/{n}: status.initialization.controlPlaneInitialized is not true"
                ));
            }
            if condition_status(kcp, "Available") != "True" {
                out.push(format!(
                    "KubeadmControlPlane {namespace}/{n}: {}",
                    condition_detail(kcp, "Available")
                ));
            }
            let (ready, desired) = control_plane_replicas(kcp);
            if ready != desired {
                out.push(format!(
                    "KubeadmControlPlane {namespace}/{n}: {ready}/{desired} replicas ready"
                ));
            }
        }
        let seen: BTreeMap<&String, &Value> = self.get(Source::Deployments).collect();
        for d in deployments {
            if !seen.contains_key(d) {
                out.push(format!("MachineDeployment {namespace}/{d}: not found"));
            }
        }
        for (n, md) in seen {
            let (ready, desired) = deployment_replicas(md);
            if ready != desired {
                out.push(format!(
                    "MachineDeployment {namespace}/{n}: {ready}/{desired} replicas ready"
                ));
            }
        }
        out
    }
}

/// The merged watch events of one cluster, tagged with their watch.
type Events = BoxStream<
    'static,
    (
        Source,
        Result<watcher::Event<DynamicObject>, watcher::Error>,
    ),
>;

/// Watches cluster `name` until it is ready (`None`) or `deadline` passes (what is still
/// pending).
pub(super) async fn track(
    client: &Client,
    kinds: &Kinds,
    namespace: &str,
    name: &str,
    deployments: &[String],
    deadline: tokio::time::Instant,
) -> anyhow::Result<Option<Vec<String>>> {
    let by_label = format!("{CLUSTER_NAME_LABEL}={name}");
    let watch = |resource: &ApiResource, config: watcher::Config, source: Source| {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, resource);
        watcher(api, config)
            .default_backoff()
            .map(move |e| (source, e))
            .boxed()
    };
    let streams: Vec<Events> = vec![
        watch(
            &kinds.cluster,
            watcher::Config::default().fields(&format!("metadata.name={name}")),
            Source::Cluster,
        ),
        watch(
            &kinds.control_plane,
            watcher::Config::default().labels(&by_label),
            Source::ControlPlane,
        ),
        watch(
            &kinds.deployment,
            watcher::Config::default().labels(&by_label),
            Source::Deployments,
        ),
    ];
    let mut events = futures::stream::select_all(streams);
    let mut tracker = Tracker::default();
    let mut last_error = String::new();
    loop {
        tokio::select! {
            event = events.next() => match event {
                None => anyhow::bail!("the watches of cluster {namespace}/{name} ended"),
                Some((source, Ok(event))) => tracker.apply(source, event),
                Some((source, Err(e))) => {
                    let message = format!("watching {source:?} of {namespace}/{name}: {e}");
                    if message != last_error {
                        output::notice(format!("warning: {message} (retrying)"));
                        last_error = message;
                    }
                }
            },
            () = tokio::time::sleep_until(deadline) => {
                return Ok(Some(tracker.pending(namespace, name, deployments)));
            }
        }
        if tracker.synced() {
            tracker.report(namespace, name);
            if tracker.pending(namespace, name, deployments).is_empty() {
                return Ok(None);
            }
        }
    }
}

/// Refuses to apply a spec whose Kubernetes version differs from what the existing
/// cluster's control plane asks for: applying it would downgrade an upgraded cluster, or
/// change every machine's version at once, bypassing `fleet upgrade`'s order and checks.
async fn keeps_version(
    client: &kube::Client,
    kinds: &Kinds,
    ns: &str,
    name: &str,
    spec_version: &str,
) -> anyhow::Result<()> {
    let clusters: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &kinds.cluster);
    let Some(existing) = clusters
        .get_opt(name)
        .await
        .with_context(|| format!("reading Cluster {ns}/{name}"))?
    else {
        return Ok(());
    };
    let Some(cp_name) = to_value(&existing)["spec"]["controlPlaneRef"]["name"]
        .as_str()
        .map(str::to_owned)
    else {
        return Ok(());
    };
    let cps: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &kinds.control_plane);
    let Some(cp) = cps
        .get_opt(&cp_name)
        .await
        .with_context(|| format!("reading KubeadmControlPlane {ns}/{cp_name}"))?
    else {
        return Ok(());
    };
    let live = to_value(&cp)["spec"]["version"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if live.is_empty() || live == spec_version {
        return Ok(());
    }
    let (Ok(live_v), Ok(spec_v)) = (
        live.parse::<plinth_fleet::version::KubeVersion>(),
        spec_version.parse::<plinth_fleet::version::KubeVersion>(),
    ) else {
        anyhow::bail!(
            "cluster {ns}/{name}: the control plane asks for {live:?} and the spec for {spec_version:?}; make them agree before applying"
        );
    };
    if spec_v < live_v {
        anyhow::bail!(
            "refused: cluster {ns}/{name} runs {live_v} and the spec says {spec_v}; applying it would downgrade the cluster. Set kubernetesVersion: {live_v} in the spec (the cluster was upgraded since it was created)"
        );
    }
    anyhow::bail!(
        "refused: cluster {ns}/{name} runs {live_v} and the spec says {spec_v}; change versions with `plinth fleet upgrade {name} --to {spec_v}` (control plane first, then each pool), then apply the spec"
    );
}
