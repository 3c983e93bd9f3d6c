//! `plinth up PLATFORM` and `plinth down`: the main job end to end.
//!
//! `up`, in order, each step visible and failing with what to do:
//!
//! 1. the cluster: the one `--kubeconfig`/`--context`/`$KUBECONFIG` names, or else the
//!    embedded control plane (`plinth dev up`, reused when it runs; started with the
//!    built-in PodSecurity admission plugin off, since plinth's guard takes that role);
//! 2. the constraint CRDs of plinth's Gatekeeper-compatible templates (what Gatekeeper's
//!    controller would create), so the platform's constraints can be applied;
//! 3. the platform rendered (`plinth render`) into the state directory and applied as the
//!    set `plinth-platform` (server-side, pruned);
//! 4. on the embedded control plane, plinth's components as local processes
//!    (`components`): scheduler, guard webhook (registered by URL), zero-trust controller;
//!    on a named cluster they are installed as Deployments (`plinth install`: the
//!    chart's objects);
//! 5. the platform's zero-trust model as a `ZeroTrustModel` (the controller enforces it);
//! 6. `nodes.yaml` (embedded control plane only: no kubelets, so nodes are API objects)
//!    and the example workloads of `workloads.yaml`;
//! 7. a report (`report`): what was applied, where each workload pod was bound and by
//!    whom, what admission refuses (a privileged pod, sent as a server dry run), the
//!    model's status, and the commands to look further.
//!
//! `down` stops the recorded components, removes the webhook registration and stops the
//! embedded control plane.

mod components;
mod report;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use plinth_kube::applyset::{self, SetOptions};
use plinth_kube::{Applier, ApplyOptions};
use serde_json::Value;

use super::Outcome;
use crate::cli::{ClusterArgs, DownArgs, RenderArgs, UpArgs};
use crate::output::{self, Step};

/// The apply set of the rendered platform.
pub const PLATFORM_SET: &str = "plinth-platform";
/// The apply set of the example nodes and workloads.
pub const WORKLOAD_SET: &str = "plinth-examples";
/// Field manager of everything `up` writes.
const FIELD_MANAGER: &str = "plinth-up";

/// Where the platform's files are.
struct PlatformFiles {
    platform: PathBuf,
    nodes: Option<PathBuf>,
    workloads: Option<PathBuf>,
}

fn platform_files(path: &Path) -> anyhow::Result<PlatformFiles> {
    let (dir, platform) = if path.is_dir() {
        (path.to_owned(), path.join("platform.yaml"))
    } else {
        (
            path.parent().unwrap_or(Path::new(".")).to_owned(),
            path.to_owned(),
        )
    };
    if !platform.is_file() {
        bail!(
            "{}: no platform description; give a directory with platform.yaml or a Platform file",
            platform.display()
        );
    }
    let optional = |name: &str| Some(dir.join(name)).filter(|p| p.is_file());
    Ok(PlatformFiles {
        platform,
        nodes: optional("nodes.yaml"),
        workloads: optional("workloads.yaml"),
    })
}

/// Whether the user named a cluster (then `up` uses it and starts nothing locally).
fn named_cluster(cluster: &ClusterArgs) -> bool {
    cluster.kubeconfig.is_some()
        || cluster.context.is_some()
        || std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty())
}

async fn apply_set(
    client: &kube::Client,
    name: &str,
    docs: &[plinth_core::manifest::Document],
) -> anyhow::Result<Vec<applyset::Outcome>> {
    let opts = SetOptions {
        name: name.to_owned(),
        field_manager: FIELD_MANAGER.to_owned(),
        dry_run: false,
        prune: true,
        record_namespace: "kube-system".to_owned(),
    };
    applyset::apply_set(client, docs, &opts)
        .await
        .with_context(|| format!("applying the set {name}"))
}

/// Runs `plinth up`.
pub async fn up(cluster: &ClusterArgs, args: &UpArgs) -> anyhow::Result<Outcome> {
    let files = platform_files(&args.platform)?;
    let state = args.state.dir();
    let embedded = !named_cluster(cluster);

    // 1. The cluster.
    let options = if embedded {
        // plinth's guard is this plane's Pod Security admission: the built-in plugin
        // (which would answer first, before any webhook) is turned off.
        let extra = vec!["--disable-admission-plugins=PodSecurity".to_owned()];
        if super::dev::up_with(&state, args.port, true, extra, false).await? != Outcome::Ok {
            bail!("the embedded control plane is not healthy; see `plinth dev status`");
        }
        let kubeconfig = super::dev::kubeconfig(&state)
            .ok_or_else(|| anyhow!("the embedded control plane recorded no kubeconfig"))?;
        plinth_kube::ClientOptions {
            kubeconfig: Some(kubeconfig),
            context: None,
        }
    } else {
        cluster.options()
    };
    let (client, conn, _) = plinth_kube::config::connect(&options).await?;
    let applier = Applier::new(client.clone(), FIELD_MANAGER);
    std::fs::create_dir_all(components::up_dir(&state))
        .with_context(|| format!("creating {}", components::up_dir(&state).display()))?;

    // 2. Constraint CRDs.
    let step = Step::start("installing the constraint CRDs of plinth's policy templates");
    let set = plinth_guard::library::policy_set(&[]).map_err(|e| anyhow!("{e}"))?;
    let crds: Vec<Value> = set
        .templates()
        .map(|t| plinth_guard::gatekeeper::crd::constraint_crd(t))
        .collect();
    plinth_kube::crd::install(&client, &crds, FIELD_MANAGER, Duration::from_secs(60)).await?;
    step.finish(format!("{} constraint CRDs established", crds.len()));

    // 3. The platform.
    let out = components::up_dir(&state).join("platform");
    super::render::run_to(
        &RenderArgs {
            platform: files.platform.clone(),
            out: out.clone(),
            secrets_dir: Some(components::up_dir(&state).join("platform.secrets")),
        },
        output::notice,
    )?;
    let step = Step::start(format!("applying the platform (set {PLATFORM_SET})"));
    let docs = plinth_core::manifest::read_paths(&[&out]).map_err(|e| anyhow!("{e}"))?;
    let applied = apply_set(&client, PLATFORM_SET, &docs).await?;
    step.finish(format!("{} platform objects applied", applied.len()));

    // 4. Components.
    let started = if embedded {
        let kubeconfig = options.kubeconfig.clone().unwrap_or_default();
        let step =
            Step::start("starting the scheduler, the guard webhook and the zero-trust controller");
        let started = components::start(&state, &kubeconfig, &applier)
            .await
            .context("starting the components (their logs are in STATE/up/logs; `plinth down` stops whatever did start)")?;
        step.finish(format!(
            "{} components running (logs in {})",
            started.components.len(),
            components::up_dir(&state).join("logs").display()
        ));
        started
    } else {
        // A real cluster runs the components as Deployments: the chart's objects.
        let step = Step::start(format!(
            "installing plinth's components into {} (charts/plinth, default values)",
            super::install::NAMESPACE
        ));
        let applied = super::install::apply(&client, false).await.context(
            "installing the components (they need cert-manager and the Prometheus Operator's CRDs; or install charts/plinth with your own values first)",
        )?;
        step.finish(format!("{} component objects applied", applied.len()));
        components::Started::default()
    };

    // 5. The zero-trust model, for the controller.
    let model = zero_trust_model(&files.platform)?;
    if let Some(model) = &model {
        applier
            .apply(
                model,
                &ApplyOptions {
                    force: true,
                    ..Default::default()
                },
            )
            .await
            .context("applying the ZeroTrustModel")?;
    }

    // 6. Nodes and workloads.
    let mut example_docs = Vec::new();
    if embedded && let Some(nodes) = &files.nodes {
        example_docs
            .extend(plinth_core::manifest::read_paths(&[nodes]).map_err(|e| anyhow!("{e}"))?);
    }
    if let Some(workloads) = &files.workloads {
        example_docs
            .extend(plinth_core::manifest::read_paths(&[workloads]).map_err(|e| anyhow!("{e}"))?);
    }
    if !example_docs.is_empty() {
        let step = Step::start(format!(
            "creating the example nodes and workloads (set {WORKLOAD_SET})"
        ));
        // ServiceAccounts first: the set's validating dry run of a pod needs its account
        // to exist (no controller manager creates `default` here either).
        for d in example_docs
            .iter()
            .filter(|d| d.kind() == Some("ServiceAccount"))
        {
            applier
                .apply(
                    d.value(),
                    &ApplyOptions {
                        force: true,
                        ..Default::default()
                    },
                )
                .await
                .with_context(|| format!("applying {}", d.object_ref()))?;
        }
        let applied = apply_set(&client, WORKLOAD_SET, &example_docs).await?;
        report::node_status(&client, &example_docs).await?;
        step.finish(format!("{} example objects applied", applied.len()));
    }

    // 7. The report.
    let report = report::gather(
        &client,
        &report::Inputs {
            server: conn.server().to_owned(),
            embedded,
            state: state.clone(),
            applied: &applied,
            started: &started,
            model: model.as_ref(),
            model_file: model_file(&files.platform)?,
            workloads: &example_docs,
            timeout: Duration::from_secs(args.timeout),
        },
    )
    .await?;
    report::print(&report, args.output);
    Ok(if report.complete() {
        Outcome::Ok
    } else {
        Outcome::Findings
    })
}

/// The path of the platform's zero-trust model, when it names one.
fn model_file(platform: &Path) -> anyhow::Result<Option<PathBuf>> {
    let docs = plinth_core::manifest::read_paths(&[platform]).map_err(|e| anyhow!("{e}"))?;
    let parsed = plinth_render::platform::from_documents(&docs)
        .map_err(super::manifest_errors)?
        .ok_or_else(|| anyhow!("{}: no Platform document", platform.display()))?;
    Ok(parsed
        .spec
        .zero_trust_model
        .map(|rel| platform.parent().unwrap_or(Path::new(".")).join(rel)))
}

/// The platform's ZeroTrustModel as an object to apply, when it names one.
fn zero_trust_model(platform: &Path) -> anyhow::Result<Option<Value>> {
    let Some(path) = model_file(platform)? else {
        return Ok(None);
    };
    let docs = plinth_core::manifest::read_paths(&[&path]).map_err(|e| anyhow!("{e}"))?;
    Ok(docs
        .into_iter()
        .map(plinth_core::manifest::Document::into_value)
        .find(|v| v["kind"] == "ZeroTrustModel"))
}

/// Runs `plinth down`.
pub async fn down(cluster: &ClusterArgs, args: &DownArgs) -> anyhow::Result<Outcome> {
    let state = args.state.dir();
    let stopped = components::stop_all(&state)?;
    for s in &stopped {
        output::notice(format!("stopped {s}"));
    }
    // The webhook registration points at a process that no longer runs: remove it while
    // the API server is still there (on a named cluster it would block every pod).
    // Only the embedded plane's API server: without it (or on a named cluster, where up
    // registered no local webhook) there is nothing of ours to remove.
    let options = match super::dev::kubeconfig(&state) {
        Some(k) if !named_cluster(cluster) => Some(plinth_kube::ClientOptions {
            kubeconfig: Some(k),
            context: None,
        }),
        _ => None,
    };
    let connected = match &options {
        Some(o) => plinth_kube::config::connect(o).await.ok(),
        None => None,
    };
    if let Some((client, _, _)) = connected {
        let api: kube::Api<
            k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration,
        > = kube::Api::all(client);
        match api
            .delete(components::WEBHOOK_CONFIGURATION, &Default::default())
            .await
        {
            Ok(_) => output::notice(format!(
                "removed the webhook registration {}",
                components::WEBHOOK_CONFIGURATION
            )),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => output::notice(format!(
                "could not remove the webhook registration {}: {e}",
                components::WEBHOOK_CONFIGURATION
            )),
        }
    }
    if named_cluster(cluster) {
        return Ok(Outcome::Ok);
    }
    super::dev::down(&state)
}
