//! `plinth bench live` and `plinth bench differential`: plinth's scheduler and the
//! upstream kube-scheduler, each as its own process, on the same real control plane and
//! the same pods, one after the other.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod};
use kube::api::{DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, ResourceExt};
use plinth_sched::config::{SchedulerConfig, ScoreWeights};
use plinth_sched::cycle::prefilter;
use plinth_sched::framework::Filter;
use plinth_sched::model;
use plinth_sched::plugins;
use plinth_sched::preemption::node_without;
use plinth_sched::priority::PriorityClasses;
use plinth_sched::snapshot::Snapshot;
use plinth_testenv::control_plane::{ControlPlane, StartOptions};
use plinth_testenv::process::Lifetime;
use plinth_testenv::{Binaries, Binary, cache_root};
use serde::Serialize;
use serde_json::json;

use crate::output::{self, Step};

/// Which scheduler a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Peer {
    /// The upstream kube-scheduler built by tools/k8s.
    KubeScheduler,
    /// `plinth scheduler run`.
    Plinth,
}

impl Peer {
    fn scheduler_name(self) -> &'static str {
        match self {
            Peer::KubeScheduler => "default-scheduler",
            Peer::Plinth => "enterprise-scheduler",
        }
    }
}

/// A control plane of its own, with an admin client.
pub struct Plane {
    plane: ControlPlane,
    _dir: tempfile::TempDir,
    /// Admin client.
    pub client: Client,
    binaries: Binaries,
    /// Extra arguments for `plinth scheduler run` (e.g. a policies ConfigMap).
    plinth_args: Vec<String>,
}

impl Plane {
    /// Starts one (building nothing: `plinth dev build` or the first test did that).
    pub async fn start() -> anyhow::Result<Plane> {
        let binaries = Binaries::in_cache(&cache_root());
        binaries.ensure(&mut |_| {})?;
        let dir = tempfile::tempdir().context("temporary directory")?;
        let plane = ControlPlane::start(StartOptions {
            dir: dir.path().to_owned(),
            apiserver_port: None,
            lifetime: Lifetime::Tied,
            binaries: binaries.clone(),
            timeout: Duration::from_secs(120),
            port_hint: "",
            extra_apiserver_args: Vec::new(),
        })
        .await?;
        let client = plane.admin_client().await?;
        Ok(Plane {
            plane,
            _dir: dir,
            client,
            binaries,
            plinth_args: Vec::new(),
        })
    }

    /// Runs plinth's scheduler with `weights` instead of the seed's, through a policies
    /// ConfigMap (`score-weights`) as a platform team would configure it.
    pub async fn use_score_weights(&mut self, weights: &ScoreWeights) -> anyhow::Result<()> {
        let name = "plinth-bench-policies";
        let cm: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "kube-system"},
            "data": {plinth_sched::load::WEIGHTS_KEY: format!(
                "{{resource: {}, affinity: {}, sla: {}, load_balance: {}}}\n",
                weights.resource, weights.affinity, weights.sla, weights.load_balance
            )},
        }))?;
        Api::<ConfigMap>::namespaced(self.client.clone(), "kube-system")
            .create(&PostParams::default(), &cm)
            .await
            .context("creating the policies ConfigMap")?;
        self.plinth_args = vec!["--profiles-configmap".into(), format!("kube-system/{name}")];
        Ok(())
    }

    fn kubeconfig(&self) -> &Path {
        self.plane.kubeconfig_path()
    }

    fn dir(&self) -> &Path {
        self.plane.dir()
    }
}

/// Creates objects with bounded concurrency, retrying throttled or failed requests.
pub async fn create_all<K>(api: Api<K>, objects: Vec<K>) -> anyhow::Result<()>
where
    K: kube::Resource
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    futures::stream::iter(objects)
        .map(|obj| {
            let api = api.clone();
            async move {
                let mut delay = Duration::from_millis(50);
                let mut last = String::new();
                for _ in 0..8 {
                    match api.create(&PostParams::default(), &obj).await {
                        Ok(_) => return Ok(()),
                        Err(kube::Error::Api(s)) if s.code == 409 => return Ok(()),
                        Err(kube::Error::Api(s)) if s.code != 429 && s.code < 500 => {
                            bail!("could not create {}: {}", obj.name_any(), s.message)
                        }
                        Err(e) => {
                            last = plinth_kube::config::root_cause(&e);
                            tokio::time::sleep(delay).await;
                            delay *= 2;
                        }
                    }
                }
                bail!("could not create {}: {last}", obj.name_any())
            }
        })
        .buffer_unordered(48)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Peak RSS (KiB) and CPU seconds of a running process.
fn proc_stats(pid: u32) -> (Option<u64>, Option<f64>) {
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        });
    let cpu = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(") ")?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of the whole line (11 and 12 here).
            let ticks: f64 =
                fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
            Some(ticks / clock_ticks())
        });
    (rss, cpu)
}

/// Starts a scheduler process.
fn spawn_scheduler(
    plane: &Plane,
    peer: Peer,
    qps: u32,
    burst: u32,
    log: &Path,
) -> anyhow::Result<Child> {
    let log = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let child = match peer {
        Peer::KubeScheduler => {
            let config = plane.dir().join("kube-scheduler.yaml");
            std::fs::write(
                &config,
                format!(
                    "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nclientConnection:\n  kubeconfig: {}\n  qps: {qps}\n  burst: {burst}\nleaderElection:\n  leaderElect: false\nprofiles:\n- schedulerName: default-scheduler\n",
                    plane.kubeconfig().display()
                ),
            )?;
            Command::new(plane.binaries.path(Binary::KubeScheduler))
                .arg(format!("--config={}", config.display()))
                .arg("--secure-port=0")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()?
        }
        Peer::Plinth => Command::new(std::env::current_exe()?)
            .args(["scheduler", "run", "--kubeconfig"])
            .arg(plane.kubeconfig())
            .args([
                "--metrics-addr",
                "none",
                "--kube-api-qps",
                &qps.to_string(),
                "--kube-api-burst",
                &burst.to_string(),
            ])
            .args(&plane.plinth_args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?,
    };
    Ok(child)
}

/// Watches a namespace's pods and records when each is first seen bound.
async fn observe_binds(
    client: Client,
    ns: String,
    total: usize,
    stall: Duration,
) -> HashMap<String, (String, Instant)> {
    let api: Api<Pod> = Api::namespaced(client, &ns);
    let stream = watcher::watcher(api, watcher::Config::default());
    futures::pin_mut!(stream);
    let mut bound: HashMap<String, (String, Instant)> = HashMap::new();
    loop {
        let next = tokio::time::timeout(stall, stream.next()).await;
        let Ok(Some(event)) = next else { break };
        let pod = match event {
            Ok(Event::Apply(p) | Event::InitApply(p)) => p,
            _ => continue,
        };
        if let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) {
            bound
                .entry(pod.name_any())
                .or_insert((node, Instant::now()));
        }
        if bound.len() >= total {
            break;
        }
    }
    bound
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(idx).copied()
}

/// Placement quality of a final state.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Quality {
    /// Bound pods that break a standard Kubernetes constraint on their node.
    pub standard_violations: usize,
    /// Bound pods that break a workload-profile rule (required labels, SLA) — rules only
    /// plinth knows, reported for information.
    pub profile_rule_violations: usize,
    /// Standard deviation of node CPU requested/allocatable, in percent points.
    pub cpu_utilisation_stddev: f64,
    /// Share of pods with profile preferences that landed on a node with at least one
    /// preferred label.
    pub on_preferred_nodes: f64,
}

/// Checks every bound pod against the constraints, with the engine's filters.
pub fn quality(
    nodes: &[Node],
    pods: &[Pod],
    bound: &HashMap<String, (String, Instant)>,
) -> Quality {
    let config = SchedulerConfig::default();
    let classes = PriorityClasses::seed();
    let mut snapshot = Snapshot::new(classes.clone());
    for n in nodes {
        if let Ok(node) = model::Node::from_k8s(n) {
            snapshot.upsert_node(node);
        }
    }
    let mut placed = Vec::new();
    for p in pods {
        let Some((node, _)) = bound.get(&p.name_any()) else {
            continue;
        };
        let (Ok(pod), Some(id)) = (
            model::Pod::from_k8s(p, &classes, &config.profiles),
            snapshot.node_id(node),
        ) else {
            continue;
        };
        let pod = Arc::new(pod);
        let pid = snapshot.place(pod.clone(), id);
        placed.push((pid, pod, id));
    }
    let standard: Vec<Box<dyn Filter>> = vec![
        Box::new(plugins::NodeUnschedulable),
        Box::new(plugins::NodeName),
        Box::new(plugins::TaintToleration),
        Box::new(plugins::NodeAffinity),
        Box::new(plugins::NodePorts),
        Box::new(plugins::NodeResourcesFit),
        Box::new(plugins::PodTopologySpread),
        Box::new(plugins::InterPodAffinity),
    ];
    let enterprise: Vec<Box<dyn Filter>> = vec![
        Box::new(plugins::WorkloadLabels),
        Box::new(plugins::SlaRequirements),
    ];
    let mut q = Quality::default();
    let (mut with_prefs, mut on_pref) = (0usize, 0usize);
    for (pid, pod, node) in &placed {
        let profile = pod.profile.as_ref().ok().and_then(|p| p.as_deref());
        let cycle = prefilter(&snapshot, pod, profile, &config, BTreeSet::from([*pid]));
        let view = node_without(&snapshot, *node, &BTreeSet::from([*pid]));
        if standard.iter().any(|f| f.filter(&cycle, &view).is_err()) {
            q.standard_violations += 1;
        }
        if enterprise.iter().any(|f| f.filter(&cycle, &view).is_err()) {
            q.profile_rule_violations += 1;
        }
        if let Some(on) = profile.and_then(|p| on_preferred(p, &view.node.labels)) {
            with_prefs += 1;
            on_pref += usize::from(on);
        }
    }
    q.cpu_utilisation_stddev = cpu_utilisation_stddev(&snapshot);
    q.on_preferred_nodes = on_pref as f64 / with_prefs.max(1) as f64;
    q
}

/// Whether `labels` carry one of the profile's preferred labels (`None` when the profile
/// prefers none).
pub fn on_preferred(
    profile: &plinth_sched::profile::WorkloadProfile,
    labels: &std::collections::BTreeMap<String, String>,
) -> Option<bool> {
    let preferred = &profile.affinity.preferred_labels;
    (!preferred.is_empty()).then(|| {
        preferred.iter().any(|l| match &l.value {
            Some(v) => labels.get(&l.key) == Some(v),
            None => labels.contains_key(&l.key),
        })
    })
}

/// Standard deviation of node CPU requested/allocatable over every node, in percent
/// points.
pub fn cpu_utilisation_stddev(snapshot: &Snapshot) -> f64 {
    let utils: Vec<f64> = snapshot
        .nodes()
        .iter()
        .filter(|n| n.node.allocatable.cpu > 0)
        .map(|n| 100.0 * n.requested.cpu as f64 / n.node.allocatable.cpu as f64)
        .collect();
    let mean = utils.iter().sum::<f64>() / utils.len().max(1) as f64;
    (utils.iter().map(|u| (u - mean).powi(2)).sum::<f64>() / utils.len().max(1) as f64).sqrt()
}

/// What one scheduler did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    /// The scheduler.
    pub peer: Peer,
    /// Client QPS.
    pub qps: u32,
    /// Client burst.
    pub burst: u32,
    /// Pods created.
    pub pods: usize,
    /// Pods bound.
    pub bound: usize,
    /// Pods per second from the first to the last binding.
    pub pods_per_second: Option<f64>,
    /// Seconds from the scheduler's start to the first binding (start-up, cache sync).
    pub startup_seconds: Option<f64>,
    /// Median per-pod latency (scheduler start, all pods pending, to binding), seconds.
    pub latency_p50: Option<f64>,
    /// 99th percentile of the same.
    pub latency_p99: Option<f64>,
    /// Peak resident memory of the scheduler process, KiB.
    pub peak_rss_kib: Option<u64>,
    /// CPU seconds used by the scheduler process.
    pub cpu_seconds: Option<f64>,
    /// CPU seconds the API server and etcd spent during the run (the rest of the
    /// machine's work for the same pods).
    pub control_plane_cpu_seconds: Option<f64>,
    /// Placement quality.
    pub quality: Quality,
}

/// Runs one scheduler over `pods` (created pending in a fresh namespace), then removes them.
pub async fn run_one(
    plane: &Plane,
    peer: Peer,
    nodes: &[Node],
    mut pods: Vec<Pod>,
    qps: u32,
    burst: u32,
    tag: &str,
) -> anyhow::Result<(RunReport, HashMap<String, (String, Instant)>)> {
    let ns = format!("bench-{tag}");
    let namespaces: Api<Namespace> = Api::all(plane.client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: ObjectMeta {
                    name: Some(ns.clone()),
                    ..ObjectMeta::default()
                },
                ..Namespace::default()
            },
        )
        .await?;
    // No controller manager runs: the namespace's default service account is ours to make.
    Api::<k8s_openapi::api::core::v1::ServiceAccount>::namespaced(plane.client.clone(), &ns)
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "default"}}))?,
        )
        .await?;
    for p in &mut pods {
        p.metadata.namespace = Some(ns.clone());
        if let Some(spec) = p.spec.as_mut() {
            spec.scheduler_name = Some(peer.scheduler_name().to_owned());
            spec.termination_grace_period_seconds = Some(0);
        }
    }
    let step = Step::start(format!("{tag}: creating {} pods", pods.len()));
    let api: Api<Pod> = Api::namespaced(plane.client.clone(), &ns);
    create_all(api.clone(), pods.clone()).await?;
    step.finish(format!("{tag}: {} pods pending", pods.len()));

    let observer = tokio::spawn(observe_binds(
        plane.client.clone(),
        ns.clone(),
        pods.len(),
        Duration::from_secs(10),
    ));
    // Let the watch list first, so no binding is missed.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let step = Step::start(format!("{tag}: {peer:?} scheduling"));
    let log = plane.dir().join(format!("{tag}.log"));
    let control_plane_cpu = || {
        plane
            .plane
            .pids()
            .iter()
            .map(|p| proc_stats(*p).1)
            .sum::<Option<f64>>()
    };
    let cp_before = control_plane_cpu();
    let started = Instant::now();
    let mut child = spawn_scheduler(plane, peer, qps, burst, &log)?;
    let pid = child.id();
    let bound = observer.await.context("observer")?;
    let (peak_rss_kib, cpu_seconds) = proc_stats(pid);
    let control_plane_cpu_seconds = match (cp_before, control_plane_cpu()) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX)),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
    step.finish(format!("{tag}: {} of {} bound", bound.len(), pods.len()));

    let mut times: Vec<Instant> = bound.values().map(|(_, t)| *t).collect();
    times.sort();
    let pods_per_second = match (times.first(), times.last()) {
        (Some(a), Some(b)) if b > a => Some((times.len() - 1) as f64 / (*b - *a).as_secs_f64()),
        _ => None,
    };
    let mut latencies: Vec<f64> = times.iter().map(|t| (*t - started).as_secs_f64()).collect();
    latencies.sort_by(f64::total_cmp);
    let report = RunReport {
        peer,
        qps,
        burst,
        pods: pods.len(),
        bound: bound.len(),
        pods_per_second,
        startup_seconds: times.first().map(|t| (*t - started).as_secs_f64()),
        latency_p50: percentile(&latencies, 0.5),
        latency_p99: percentile(&latencies, 0.99),
        peak_rss_kib,
        cpu_seconds,
        control_plane_cpu_seconds,
        quality: quality(nodes, &pods, &bound),
    };
    // Free the nodes for the next run.
    let step = Step::start(format!("{tag}: removing the pods"));
    api.delete_collection(
        &DeleteParams::default().grace_period(0),
        &ListParams::default(),
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while !api
        .list(&ListParams::default().limit(1))
        .await?
        .items
        .is_empty()
    {
        if Instant::now() > deadline {
            bail!("pods of {ns} were not deleted within 120s");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    step.finish(format!("{tag}: pods removed"));
    Ok((report, bound))
}

/// Creates nodes and the seed's PriorityClasses.
pub async fn prepare(plane: &Plane, nodes: &[Node]) -> anyhow::Result<()> {
    let step = Step::start(format!("creating {} nodes", nodes.len()));
    create_all(Api::<Node>::all(plane.client.clone()), nodes.to_vec()).await?;
    create_all(
        Api::<k8s_openapi::api::scheduling::v1::PriorityClass>::all(plane.client.clone()),
        PriorityClasses::seed().to_k8s(),
    )
    .await?;
    step.finish(format!("{} nodes created", nodes.len()));
    Ok(())
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.digits$}"))
}

/// Prints reports side by side.
pub fn print_reports(reports: &[RunReport]) {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING);
    t.set_header(vec![
        "SCHEDULER",
        "QPS/BURST",
        "BOUND",
        "PODS/S",
        "P50 S",
        "P99 S",
        "PEAK RSS MIB",
        "CPU S",
        "VIOLATIONS",
        "CPU STDDEV",
        "ON PREFERRED",
    ]);
    for r in reports {
        t.add_row(vec![
            format!("{:?}", r.peer),
            format!("{}/{}", r.qps, r.burst),
            format!("{}/{}", r.bound, r.pods),
            fmt_opt(r.pods_per_second, 0),
            fmt_opt(r.latency_p50, 2),
            fmt_opt(r.latency_p99, 2),
            r.peak_rss_kib
                .map_or_else(|| "-".into(), |k| (k / 1024).to_string()),
            fmt_opt(r.cpu_seconds, 1),
            r.quality.standard_violations.to_string(),
            format!("{:.1}", r.quality.cpu_utilisation_stddev),
            format!("{:.0}%", 100.0 * r.quality.on_preferred_nodes),
        ]);
    }
    output::line(t.to_string());
}

/// `plinth bench live`.
pub async fn live(
    nodes: usize,
    pods: usize,
    seed: u64,
    settings: &[(u32, u32)],
    weights: Option<ScoreWeights>,
    json_out: bool,
) -> anyhow::Result<()> {
    let mut plane = Plane::start().await?;
    if let Some(w) = &weights {
        plane.use_score_weights(w).await?;
    }
    let node_objs = plinth_sched::synthetic::node_objects(nodes, seed);
    prepare(&plane, &node_objs).await?;
    let pod_objs =
        plinth_sched::synthetic::pod_objects(pods, seed, "bench", "enterprise-scheduler");
    let mut reports = Vec::new();
    for (i, &(qps, burst)) in settings.iter().enumerate() {
        for peer in [Peer::KubeScheduler, Peer::Plinth] {
            let tag = format!(
                "{}-{qps}-{i}",
                match peer {
                    Peer::KubeScheduler => "kube",
                    Peer::Plinth => "plinth",
                }
            );
            let (report, _) =
                run_one(&plane, peer, &node_objs, pod_objs.clone(), qps, burst, &tag).await?;
            reports.push(report);
        }
    }
    if json_out {
        output::json(&json!({"nodes": nodes, "pods": pods, "seed": seed,
            "plinthScoreWeights": weights.map(|w| json!({"resource": w.resource, "affinity": w.affinity, "sla": w.sla, "loadBalance": w.load_balance})),
            "runs": reports}));
    } else {
        if let Some(w) = &weights {
            output::line(format!(
                "plinth's score weights: resource {:.2}, affinity {:.2}, sla {:.2}, load balance {:.2} (not the seed's)",
                w.resource, w.affinity, w.sla, w.load_balance
            ));
        }
        print_reports(&reports);
        for pair in reports.chunks(2) {
            if let [k, p] = pair
                && let (Some(a), Some(b)) = (k.pods_per_second, p.pods_per_second)
            {
                output::line(format!(
                    "QPS {}/{}: plinth {:.2}× kube-scheduler's pods/s; peak RSS {:.2}×",
                    k.qps,
                    k.burst,
                    b / a,
                    p.peak_rss_kib.unwrap_or(0) as f64 / k.peak_rss_kib.unwrap_or(1).max(1) as f64
                ));
            }
        }
    }
    Ok(())
}

/// The differential scenario: standard constraints only (taints, node affinity,
/// resources), with some pods that no node can take whatever the packing.
fn differential_scenario() -> (Vec<Node>, Vec<Pod>) {
    let mut nodes = Vec::new();
    for i in 0..60 {
        let pool = ["general", "gpu", "highmem"][i % 3];
        let zone = ["a", "b", "c"][(i / 3) % 3];
        let mut labels =
            json!({"kubernetes.io/hostname": format!("d-{i}"), "pool": pool, "zone": zone});
        let mut spec = json!({});
        let (cpu, mem) = match pool {
            "gpu" => {
                labels["accelerator"] = json!("gpu");
                spec["taints"] =
                    json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]);
                ("8", "32Gi")
            }
            "highmem" => ("8", "128Gi"),
            _ => ("16", "32Gi"),
        };
        if i % 10 == 9 {
            spec["taints"] = json!([{"key": "maintenance", "value": "", "effect": "NoExecute"}]);
        }
        nodes.push(
            serde_json::from_value(
                json!({"metadata": {"name": format!("d-{i}"), "labels": labels}, "spec": spec,
                "status": {"allocatable": {"cpu": cpu, "memory": mem, "pods": "110"}}}),
            )
            .expect("node"),
        );
    }
    let mut pods = Vec::new();
    for i in 0..600usize {
        let mut spec = json!({"containers": [{"name": "c", "image": "registry.example.com/bench:1", "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}}}]});
        match i % 12 {
            0 => spec["nodeSelector"] = json!({"pool": "highmem"}),
            1 => {
                spec["tolerations"] = json!([{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]);
                spec["nodeSelector"] = json!({"accelerator": "gpu"});
            }
            2 => {
                spec["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}, {"key": "pool", "operator": "NotIn", "values": ["gpu"]}]}]}}})
            }
            // Large, but with room for all of them whatever the packing.
            3 => spec["containers"][0]["resources"]["requests"]["memory"] = json!("16Gi"),
            // Intrinsically unschedulable: too big for any node, a label no node has, or
            // only on nodes whose taint it does not tolerate.
            4 if i % 48 == 4 => spec["containers"][0]["resources"]["requests"]["cpu"] = json!("32"),
            5 if i % 48 == 5 => spec["nodeSelector"] = json!({"pool": "quantum"}),
            6 if i % 48 == 6 => spec["nodeSelector"] = json!({"accelerator": "gpu"}),
            _ => {}
        }
        pods.push(
            serde_json::from_value(json!({"metadata": {"name": format!("d{i:03}"), "labels": {"app": format!("d{}", i % 7)}}, "spec": spec}))
                .expect("pod"),
        );
    }
    (nodes, pods)
}

/// `plinth bench differential`.
pub async fn differential(json_out: bool) -> anyhow::Result<bool> {
    let plane = Plane::start().await?;
    let (nodes, pods) = differential_scenario();
    prepare(&plane, &nodes).await?;
    let (_, kube_bound) = run_one(
        &plane,
        Peer::KubeScheduler,
        &nodes,
        pods.clone(),
        5000,
        5000,
        "diff-kube",
    )
    .await?;
    let (_, plinth_bound) = run_one(
        &plane,
        Peer::Plinth,
        &nodes,
        pods.clone(),
        5000,
        5000,
        "diff-plinth",
    )
    .await?;
    let names: BTreeSet<String> = pods.iter().map(|p| p.name_any()).collect();
    let kube_pending: BTreeSet<&String> = names
        .iter()
        .filter(|n| !kube_bound.contains_key(*n))
        .collect();
    let plinth_pending: BTreeSet<&String> = names
        .iter()
        .filter(|n| !plinth_bound.contains_key(*n))
        .collect();
    // Replay plinth's placements with kube-scheduler, each pod pinned to plinth's node by
    // a hostname selector: kube-scheduler must find every one feasible.
    // (Order does not matter: plinth's final state is within every node's allocatable.)
    let replay: Vec<Pod> = pods
        .iter()
        .filter_map(|p| {
            let (node, _) = plinth_bound.get(&p.name_any())?;
            let mut p = p.clone();
            if let Some(spec) = p.spec.as_mut() {
                spec.node_selector
                    .get_or_insert_with(Default::default)
                    .insert("kubernetes.io/hostname".into(), node.clone());
            }
            Some(p)
        })
        .collect();
    let (_, replay_bound) = run_one(
        &plane,
        Peer::KubeScheduler,
        &nodes,
        replay.clone(),
        5000,
        5000,
        "diff-replay",
    )
    .await?;
    let infeasible: Vec<String> = replay
        .iter()
        .map(|p| p.name_any())
        .filter(|n| {
            replay_bound.get(n).map(|(node, _)| node) != plinth_bound.get(n).map(|(node, _)| node)
        })
        .collect();
    let only_plinth_placed: Vec<&&String> = kube_pending.difference(&plinth_pending).collect();
    let ok = infeasible.is_empty() && only_plinth_placed.is_empty();
    let summary = json!({
        "pods": names.len(),
        "kubeSchedulerPending": kube_pending,
        "plinthPending": plinth_pending,
        "pendingForKubeButPlacedByPlinth": only_plinth_placed,
        "plinthPlacementsKubeSchedulerRejects": infeasible,
        "agree": ok,
    });
    if json_out {
        output::json(&summary);
    } else {
        output::line(format!(
            "{} pods: kube-scheduler left {} pending, plinth {}; plinth placements kube-scheduler rejects when pinned: {}; pods only plinth placed: {}",
            names.len(),
            kube_pending.len(),
            plinth_pending.len(),
            infeasible.len(),
            only_plinth_placed.len()
        ));
        output::line(if ok { "agree: yes" } else { "agree: NO" });
        if !ok {
            output::line(format!(
                "  pending for kube-scheduler, placed by plinth: {only_plinth_placed:?}"
            ));
            output::line(format!(
                "  plinth placements rejected when pinned: {infeasible:?}"
            ));
        }
    }
    Ok(ok)
}
