//! What `plinth up` did, read back from the API server: the applied platform, the
//! components, where each example pod was bound (and by which scheduler, with its
//! event), what admission refuses, and the zero-trust model's status.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use plinth_core::manifest::Document;
use plinth_kube::applyset::{self, Change};
use serde::Serialize;
use serde_json::{Value, json};

use super::components::{Component, Started};
use crate::cli::Format;
use crate::output;

/// What the report is made from.
pub struct Inputs<'a> {
    pub server: String,
    pub embedded: bool,
    pub state: PathBuf,
    pub applied: &'a [applyset::Outcome],
    pub started: &'a Started,
    pub model: Option<&'a Value>,
    /// The model file, for the posture's certificate and matrix coverage.
    pub model_file: Option<PathBuf>,
    pub workloads: &'a [Document],
    pub timeout: Duration,
}

/// One example pod.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodLine {
    pub namespace: String,
    pub name: String,
    pub scheduler_name: String,
    /// The workload profile it asked for (`workload.enterprise.io/type`), if any.
    pub profile: Option<String>,
    pub node: Option<String>,
    pub zone: Option<String>,
    /// The last scheduling event's reason and note.
    pub event: Option<String>,
}

/// The zero-trust model's state.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelLine {
    pub name: String,
    pub ready: String,
    pub reason: String,
    pub message: String,
}

/// One pod sent (as a server dry run) that admission must refuse.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    /// What the pod does wrong.
    pub what: String,
    pub namespace: String,
    /// Whether it was refused.
    pub refused: bool,
    /// Who refused it: plinth's webhook, another admission plugin, or nobody.
    pub refused_by: String,
    pub message: String,
}

/// The report.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub server: String,
    pub embedded: bool,
    pub applied: BTreeMap<&'static str, usize>,
    pub components: Vec<Component>,
    pub pods: Vec<PodLine>,
    /// What admission said to pods that must be refused.
    pub admission_probes: Vec<Probe>,
    pub zero_trust: Option<ModelLine>,
    /// What the cluster enforces, measured from its objects (`plinth zt posture`).
    pub zero_trust_posture: Option<plinth_netpol::intent::posture::Posture>,
    /// Cluster API clusters this cluster manages, `NAMESPACE/NAME (phase)`.
    pub fleet: Vec<String>,
    pub next: Vec<String>,
}

impl Report {
    /// Every pod bound, the privileged probe refused, the model ready.
    pub fn complete(&self) -> bool {
        self.pods.iter().all(|p| p.node.is_some())
            && !self.admission_probes.is_empty()
            && self.admission_probes.iter().all(|p| p.refused)
            && self.zero_trust.as_ref().is_none_or(|m| m.ready == "True")
    }
}

/// Gives the example Nodes the status a kubelet would report (capacity, Ready), which a
/// create through the main resource does not set.
pub async fn node_status(client: &kube::Client, docs: &[Document]) -> anyhow::Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    for d in docs.iter().filter(|d| d.kind() == Some("Node")) {
        let v = d.value();
        let (Some(name), Some(status)) = (v["metadata"]["name"].as_str(), v.get("status")) else {
            continue;
        };
        let mut status = status.clone();
        if status.get("conditions").is_none() {
            status["conditions"] = json!([{"type": "Ready", "status": "True", "reason": "KubeletReady",
                "message": "simulated: the embedded control plane has no kubelets"}]);
        }
        nodes
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"status": status})),
            )
            .await
            .with_context(|| format!("setting the status of Node {name}"))?;
    }
    Ok(())
}

async fn pod_line(client: &kube::Client, pod: &Pod) -> PodLine {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let node = spec.node_name.clone();
    let zone = match &node {
        Some(n) => Api::<Node>::all(client.clone())
            .get_opt(n)
            .await
            .ok()
            .flatten()
            .and_then(|n| n.metadata.labels)
            .and_then(|l| l.get("topology.kubernetes.io/zone").cloned()),
        None => None,
    };
    let events: Api<Event> = Api::namespaced(client.clone(), &ns);
    let event = events
        .list(&ListParams::default().fields(&format!("regarding.name={name}")))
        .await
        .ok()
        .and_then(|l| {
            l.items
                .into_iter()
                .filter(|e| e.action.as_deref() == Some("Scheduling"))
                .max_by_key(|e| e.metadata.resource_version.clone())
        })
        .map(|e| {
            format!(
                "{}: {}",
                e.reason.unwrap_or_default(),
                e.note.unwrap_or_default()
            )
        });
    PodLine {
        namespace: ns,
        name,
        scheduler_name: spec
            .scheduler_name
            .unwrap_or_else(|| "default-scheduler".into()),
        profile: pod
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(plinth_sched::profile::WORKLOAD_TYPE_LABEL).cloned()),
        node,
        zone,
        event,
    }
}

/// A Pod among the example documents.
struct ExamplePod {
    namespace: String,
    name: String,
    service_account: Option<String>,
}

fn example_pods(workloads: &[Document]) -> Vec<ExamplePod> {
    workloads
        .iter()
        .filter(|d| d.kind() == Some("Pod"))
        .map(|d| {
            let v = d.value();
            let s = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_owned);
            ExamplePod {
                namespace: s("/metadata/namespace").unwrap_or_else(|| "default".to_owned()),
                name: s("/metadata/name").unwrap_or_default(),
                service_account: s("/spec/serviceAccountName"),
            }
        })
        .collect()
}

/// Pods admission must refuse, sent as server dry runs into a namespace that enforces the
/// restricted level — the first example pod's, running as its ServiceAccount (the
/// ServiceAccount admission plugin runs before webhooks and refuses unknown accounts),
/// else the first such namespace: a privileged pod (Pod Security) and a compliant pod
/// from a registry the platform does not allow (its Gatekeeper-style constraint).
async fn admission_probes(client: &kube::Client, workloads: &[Document]) -> Vec<Probe> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let Ok(list) = namespaces
        .list(&ListParams::default().labels("pod-security.kubernetes.io/enforce=restricted"))
        .await
    else {
        return Vec::new();
    };
    let mut restricted: Vec<String> = list
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    restricted.sort();
    let from_example = example_pods(workloads)
        .into_iter()
        .map(|p| (p.namespace, p.service_account))
        .find(|(ns, _)| restricted.contains(ns));
    let Some((ns, account)) =
        from_example.or_else(|| restricted.first().map(|n| (n.clone(), None)))
    else {
        return Vec::new();
    };
    let restricted_container = json!({"allowPrivilegeEscalation": false,
        "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": true});
    let cases = [
        (
            "a privileged container",
            "company-registry.example.com/probe:1",
            json!({"privileged": true}),
        ),
        (
            "an image from a registry the platform does not allow",
            "docker.io/library/busybox:1.36",
            restricted_container,
        ),
    ];
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let mut out = Vec::new();
    for (what, image, container_security) in cases {
        let mut spec = json!({
            "automountServiceAccountToken": false,
            "securityContext": {"runAsNonRoot": true, "runAsUser": 10001, "fsGroup": 10001,
                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "probe", "image": image, "securityContext": container_security,
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "10m", "memory": "16Mi"}}}],
        });
        if let Some(a) = &account {
            spec["serviceAccountName"] = json!(a);
        }
        let Ok(pod) = serde_json::from_value::<Pod>(json!({
            "metadata": {"name": "plinth-up-probe"}, "spec": spec}))
        else {
            continue;
        };
        let (refused, message) = match pods
            .create(
                &PostParams {
                    dry_run: true,
                    ..Default::default()
                },
                &pod,
            )
            .await
        {
            Ok(_) => (false, "accepted".to_owned()),
            Err(kube::Error::Api(e)) => (true, e.message),
            Err(e) => (true, e.to_string()),
        };
        let refused_by = if !refused {
            "nobody".to_owned()
        } else if message.contains("admission webhook \"pods.guard.plinth.dev\"") {
            "plinth's guard webhook".to_owned()
        } else {
            "another admission plugin".to_owned()
        };
        out.push(Probe {
            what: what.to_owned(),
            namespace: ns.clone(),
            refused,
            refused_by,
            message,
        });
    }
    out
}

async fn model_line(client: &kube::Client, model: &Value) -> Option<ModelLine> {
    let name = model["metadata"]["name"].as_str()?.to_owned();
    let api: Api<plinth_netpol::intent::ZeroTrustModel> = Api::all(client.clone());
    let m = api.get_opt(&name).await.ok()??;
    let ready = m
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready").cloned());
    Some(match ready {
        Some(c) => ModelLine {
            name,
            ready: c.status,
            reason: c.reason,
            message: c.message,
        },
        None => ModelLine {
            name,
            ready: "Unknown".into(),
            reason: "NotReconciled".into(),
            message: "the controller has not reported yet".into(),
        },
    })
}

/// The Cluster API clusters of this (management) cluster, when Cluster API is served.
async fn fleet(client: &kube::Client) -> Vec<String> {
    let applier = plinth_kube::Applier::new(client.clone(), "plinth-up");
    let Some((resource, _)) = applier.resolve("cluster.x-k8s.io/v1beta2", "Cluster").await else {
        return Vec::new();
    };
    let api: Api<kube::api::DynamicObject> = Api::all_with(client.clone(), &resource);
    let Ok(list) = api.list(&ListParams::default()).await else {
        return Vec::new();
    };
    let mut out: Vec<String> = list
        .items
        .iter()
        .map(|c| {
            format!(
                "{}/{} ({})",
                c.metadata.namespace.as_deref().unwrap_or_default(),
                c.metadata.name.as_deref().unwrap_or_default(),
                c.data["status"]["phase"].as_str().unwrap_or("no phase yet")
            )
        })
        .collect();
    out.sort();
    out
}

/// Waits (up to the timeout) for the pods to be bound and the model to be reconciled,
/// then reads everything back.
pub async fn gather(client: &kube::Client, inputs: &Inputs<'_>) -> anyhow::Result<Report> {
    let wanted: Vec<(String, String)> = example_pods(inputs.workloads)
        .into_iter()
        .map(|p| (p.namespace, p.name))
        .collect();
    let deadline = tokio::time::Instant::now() + inputs.timeout;
    let step = output::Step::start(format!(
        "waiting for {} example pods to be scheduled and the zero-trust model to be reconciled",
        wanted.len()
    ));
    let (pods, zero_trust) = loop {
        let mut pods = Vec::new();
        for (ns, name) in &wanted {
            if let Some(p) = Api::<Pod>::namespaced(client.clone(), ns)
                .get_opt(name)
                .await?
            {
                pods.push(p);
            }
        }
        let model = match inputs.model {
            Some(m) => model_line(client, m).await,
            None => None,
        };
        let bound = pods
            .iter()
            .all(|p| p.spec.as_ref().is_some_and(|s| s.node_name.is_some()));
        let ready = model.as_ref().is_none_or(|m| m.ready == "True");
        if (bound && ready && pods.len() == wanted.len()) || tokio::time::Instant::now() > deadline
        {
            break (pods, model);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    step.finish("done waiting");
    let mut lines = Vec::new();
    for p in &pods {
        lines.push(pod_line(client, p).await);
    }
    let count = |c: Change| inputs.applied.iter().filter(|o| o.change == c).count();
    let applied = BTreeMap::from([
        ("created", count(Change::Created)),
        ("changed", count(Change::Changed)),
        ("unchanged", count(Change::Unchanged)),
        ("pruned", count(Change::Pruned)),
    ]);
    let state = inputs.state.display();
    let mut next = vec![
        "plinth zt map --cluster                       # who may talk to whom, as enforced"
            .to_owned(),
        "plinth explain pod NAMESPACE/NAME            # every node's verdict for one pod"
            .to_owned(),
        "plinth guard audit                           # what already runs against the policies"
            .to_owned(),
    ];
    if inputs.embedded {
        next.insert(
            0,
            format!("export KUBECONFIG={state}/kubeconfig          # point kubectl at the embedded control plane"),
        );
        next.push(
            "plinth down                                  # stop everything up started".to_owned(),
        );
    }
    let zero_trust_posture = match &inputs.model_file {
        Some(path) => {
            let model = super::super::zt_model::read_model(path)?;
            let index =
                plinth_zt::cluster::index(client, plinth_netpol::IpBlockMode::default()).await?;
            let mesh = super::super::zt_state::live_mesh(client).await?;
            Some(plinth_netpol::intent::posture::posture(
                &index,
                Some(&model),
                &mesh.peer_authentications,
                &mesh.certificates,
                plinth_netpol::intent::posture::DEFAULT_ROOT_NAMESPACE,
            ))
        }
        None => None,
    };
    Ok(Report {
        zero_trust_posture,
        fleet: fleet(client).await,
        server: inputs.server.clone(),
        embedded: inputs.embedded,
        applied,
        components: inputs.started.components.clone(),
        pods: lines,
        admission_probes: admission_probes(client, inputs.workloads).await,
        zero_trust,
        next,
    })
}

/// Prints the report.
pub fn print(r: &Report, format: Format) {
    if format == Format::Json {
        output::json(&serde_json::to_value(r).unwrap_or(Value::Null));
        return;
    }
    let where_ = if r.embedded {
        "embedded control plane"
    } else {
        "cluster"
    };
    output::line(format!("plinth is up on the {where_} at {}", r.server));
    output::line(format!(
        "platform (set {}): {} created, {} changed, {} unchanged, {} pruned",
        super::PLATFORM_SET,
        r.applied["created"],
        r.applied["changed"],
        r.applied["unchanged"],
        r.applied["pruned"]
    ));
    if !r.components.is_empty() {
        output::line("components (local processes):");
        for c in &r.components {
            let at = c
                .url
                .as_deref()
                .map(|u| format!(" at {u}"))
                .unwrap_or_default();
            output::line(format!(
                "  {:<14} pid {:<8}{at}  log {}",
                c.name,
                c.pid,
                c.log.display()
            ));
        }
    }
    if !r.pods.is_empty() {
        output::line("example workloads:");
        for p in &r.pods {
            let place = match (&p.node, &p.zone) {
                (Some(n), Some(z)) => format!("on {n} ({z})"),
                (Some(n), None) => format!("on {n}"),
                _ => "PENDING".to_owned(),
            };
            output::line(format!(
                "  {}/{} {place} by {}{}",
                p.namespace,
                p.name,
                p.scheduler_name,
                p.event
                    .as_deref()
                    .map(|e| format!(" — {e}"))
                    .unwrap_or_default()
            ));
        }
    }
    if r.admission_probes.is_empty() {
        output::line("admission: no namespace enforces the restricted level; nothing probed");
    }
    for p in &r.admission_probes {
        if p.refused {
            output::line(format!(
                "admission: a pod with {} in {} is refused by {}: {}",
                p.what, p.namespace, p.refused_by, p.message
            ));
        } else {
            output::line(format!(
                "admission: a pod with {} in {} was ACCEPTED — no admission policy refuses it",
                p.what, p.namespace
            ));
        }
    }
    if let Some(m) = &r.zero_trust {
        output::line(format!(
            "zero trust: model {} Ready={} ({}): {}",
            m.name, m.ready, m.reason, m.message
        ));
    }
    if let Some(p) = &r.zero_trust_posture {
        output::line(format!(
            "zero-trust posture: ingress isolated {}, egress isolated {}, STRICT mTLS pods {}{}{}",
            p.ingress_isolated,
            p.egress_isolated,
            p.strict_mtls_pods,
            p.identities_with_certificate
                .as_ref()
                .map(|r| format!(", identities with a Certificate {r}"))
                .unwrap_or_default(),
            p.matrix_enforced
                .as_ref()
                .map(|r| format!(", matrix entries enforced {r}"))
                .unwrap_or_default(),
        ));
    }
    if r.fleet.is_empty() {
        output::line("fleet: no Cluster API clusters here (plinth fleet create SPEC to add one)");
    } else {
        output::line(format!("fleet: {}", r.fleet.join(", ")));
    }
    output::line("look further:");
    for n in &r.next {
        output::line(format!("  {n}"));
    }
}
