//! `plinth dev up|down|status|env|build`: the embedded local control plane.
//!
//! The state directory holds everything of one control plane (certificates, etcd data,
//! logs, the kubeconfig and `state.json` with the pids). `up` is idempotent and leaves
//! nothing behind when it fails; `down` stops every process that uses the directory —
//! found through `/proc`, so even processes of an interrupted `up` — and removes it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use plinth_testenv::control_plane::{ControlPlane, StartOptions, client_from_kubeconfig};
use plinth_testenv::crds::DEFAULT_SOURCES;
use plinth_testenv::process::{Lifetime, is_alive, stop_pid};
use plinth_testenv::upstream::Progress;
use plinth_testenv::{Binaries, cache_root};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Outcome;
use crate::cli::{DevCommand, Format, StateArgs};
use crate::output::{self, Step};

/// Marks a directory as a plinth dev state directory (so `down` never deletes anything
/// else).
const MARKER: &str = ".plinth-dev";
const STATE_FILE: &str = "state.json";

/// What `up` records about a running control plane.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct State {
    server: String,
    port: u16,
    kubeconfig: PathBuf,
    etcd_pid: u32,
    apiserver_pid: u32,
    kubernetes_version: String,
    etcd_version: String,
    crds: Vec<String>,
}

/// Runs a `plinth dev` subcommand.
pub async fn run(command: DevCommand) -> anyhow::Result<Outcome> {
    match command {
        DevCommand::Up {
            port,
            no_crds,
            state,
        } => up(&state.dir(), port, !no_crds).await,
        DevCommand::Down { state } => down(&state.dir()),
        DevCommand::Status { output, state } => status(&state.dir(), output).await,
        DevCommand::Env { state } => env(&state),
        DevCommand::Build => build(),
    }
}

fn ensure_binaries() -> anyhow::Result<Binaries> {
    let binaries = Binaries::in_cache(&cache_root());
    let mut step: Option<Step> = None;
    let result = binaries.ensure(&mut |p| match p {
        Progress::Building { binary } => {
            step = Some(Step::start(format!(
                "building {binary} from the Go module proxy (first time only; kube-apiserver takes several minutes)"
            )));
        }
        Progress::Built { binary, elapsed } => {
            if let Some(s) = step.take() {
                s.finish(format!("built {binary} in {}s", elapsed.as_secs()));
            }
        }
    });
    if let Some(s) = step.take() {
        s.abandon();
    }
    result?;
    Ok(binaries)
}

fn build() -> anyhow::Result<Outcome> {
    let binaries = ensure_binaries()?;
    let cache = cache_root();
    for source in DEFAULT_SOURCES {
        let files = source.fetch(&cache)?;
        output::line(format!(
            "crds      {}@v{}: {} files",
            source.module,
            source.version(),
            files.len()
        ));
    }
    output::line(format!("binaries  {}", binaries.dir.join("bin").display()));
    Ok(Outcome::Ok)
}

/// The kubeconfig of the dev control plane recorded in `dir`, if one was started there.
pub(super) fn kubeconfig(dir: &Path) -> Option<PathBuf> {
    read_state(dir).map(|s| s.kubeconfig)
}

fn read_state(dir: &Path) -> Option<State> {
    let text = std::fs::read_to_string(dir.join(STATE_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Whether both recorded processes are alive.
fn processes_alive(state: &State) -> bool {
    is_alive(state.etcd_pid) && is_alive(state.apiserver_pid)
}

/// Asks the API server for its version through the recorded kubeconfig.
async fn server_version(state: &State) -> anyhow::Result<String> {
    let yaml = std::fs::read_to_string(&state.kubeconfig)
        .with_context(|| format!("reading {}", state.kubeconfig.display()))?;
    let client = client_from_kubeconfig(&yaml).await?;
    let info = tokio::time::timeout(Duration::from_secs(10), client.apiserver_version())
        .await
        .context("no answer from the API server within 10s")??;
    Ok(info.git_version)
}

/// Refuses to touch a directory that is neither absent, empty, nor ours.
fn check_ours(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() || dir.join(MARKER).is_file() {
        return Ok(());
    }
    let empty = std::fs::read_dir(dir)
        .with_context(|| format!("reading state directory {}", dir.display()))?
        .next()
        .is_none();
    if !empty {
        bail!(
            "state directory {} exists and was not made by plinth dev; choose another with --state-dir or PLINTH_STATE_DIR",
            dir.display()
        );
    }
    Ok(())
}

pub(super) async fn up(dir: &Path, port: u16, install_crds: bool) -> anyhow::Result<Outcome> {
    up_with(dir, port, install_crds, Vec::new(), true).await
}

/// [`up`] with more kube-apiserver flags for a newly started control plane (a running
/// one is reused as it is); without `print_report` only a line on stderr says where it
/// runs (`plinth up` prints a report of its own).
pub(super) async fn up_with(
    dir: &Path,
    port: u16,
    install_crds: bool,
    extra_apiserver_args: Vec<String>,
    print_report: bool,
) -> anyhow::Result<Outcome> {
    check_ours(dir)?;
    if let Some(state) = read_state(dir) {
        if processes_alive(&state) && server_version(&state).await.is_ok() {
            output::notice(format!(
                "a dev control plane is already running at {} (state in {})",
                state.server,
                dir.display()
            ));
            if !print_report {
                return Ok(Outcome::Ok);
            }
            return report(dir, &state, Format::Table).await;
        }
        output::notice(format!(
            "found a stopped or unhealthy dev control plane in {}; replacing it",
            dir.display()
        ));
    }
    stop_and_remove(dir)?;

    let binaries = ensure_binaries()?;
    let versions = binaries.versions.clone();
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join(MARKER), "plinth dev control plane\n")
        .with_context(|| format!("writing {}", dir.join(MARKER).display()))?;

    let step = Step::start(format!(
        "starting etcd and kube-apiserver on 127.0.0.1:{port}"
    ));
    let opts = StartOptions {
        dir: dir.to_owned(),
        apiserver_port: Some(port),
        lifetime: Lifetime::Detached,
        binaries,
        timeout: Duration::from_secs(120),
        port_hint: " with `plinth dev up --port N`",
        extra_apiserver_args,
    };
    // On Ctrl-C the partly started control plane is dropped, which stops its processes.
    let started = tokio::select! {
        r = ControlPlane::start(opts) => r,
        _ = tokio::signal::ctrl_c() => {
            step.abandon();
            let _ = stop_and_remove(dir);
            bail!("interrupted; nothing was left running");
        }
    };
    let plane = match started {
        Ok(p) => {
            step.finish(format!("control plane ready at {}", p.server()));
            p
        }
        Err(e) => {
            step.abandon();
            let _ = std::fs::remove_dir_all(dir);
            return Err(e.into());
        }
    };

    let mut crds = Vec::new();
    if install_crds {
        let step = Step::start(
            "installing CRDs (Cluster API, AWS provider, Gatekeeper templates, Policy Reports, Istio, cert-manager, Prometheus Operator, VPA, plinth's ZeroTrustModel)",
        );
        let installed = async {
            let client = plane.admin_client().await?;
            plinth_testenv::crds::install(&client, DEFAULT_SOURCES, &cache_root()).await?;
            // plinth's own: the ZeroTrustModel CRD, generated from its Rust types.
            let own = serde_json::to_value(
                <plinth_netpol::intent::ZeroTrustModel as kube::CustomResourceExt>::crd(),
            )
            .map_err(anyhow::Error::from)?;
            plinth_kube::crd::install(
                &client,
                &[own],
                "plinth",
                std::time::Duration::from_secs(60),
            )
            .await
            .map_err(anyhow::Error::from)
        }
        .await;
        if let Err(e) = installed {
            step.abandon();
            drop(plane);
            let _ = std::fs::remove_dir_all(dir);
            return Err(e);
        }
        step.finish("CRDs established");
        crds = DEFAULT_SOURCES
            .iter()
            .map(|s| format!("{}@v{}", s.module, s.version()))
            .chain([format!(
                "zerotrustmodels.plinth.dev (plinth {})",
                env!("CARGO_PKG_VERSION")
            )])
            .collect();
    }

    let state = State {
        server: plane.server().to_owned(),
        port,
        kubeconfig: plane.kubeconfig_path().to_owned(),
        etcd_pid: 0,
        apiserver_pid: 0,
        kubernetes_version: format!("v{}", versions.kubernetes),
        etcd_version: format!("v{}", versions.etcd),
        crds,
    };
    let pids = plane.detach();
    let state = State {
        etcd_pid: pids.etcd,
        apiserver_pid: pids.apiserver,
        ..state
    };
    let text = serde_json::to_string_pretty(&state)?;
    if let Err(e) = std::fs::write(dir.join(STATE_FILE), text) {
        let _ = stop_and_remove(dir);
        return Err(e).context(format!("writing {}", dir.join(STATE_FILE).display()));
    }
    if !print_report {
        output::notice(format!(
            "embedded control plane running at {} (state in {})",
            state.server,
            dir.display()
        ));
        return Ok(Outcome::Ok);
    }
    report(dir, &state, Format::Table).await
}

/// Prints the status of a recorded control plane; `Findings` when it is not healthy.
async fn report(dir: &Path, state: &State, format: Format) -> anyhow::Result<Outcome> {
    let alive = processes_alive(state);
    let server_version = if alive {
        server_version(state).await.map_err(|e| format!("{e:#}"))
    } else {
        Err("not running".to_owned())
    };
    let healthy = server_version.is_ok();
    match format {
        Format::Json => output::json(&json!({
            "running": healthy,
            "server": state.server,
            "serverVersion": server_version.as_ref().ok(),
            "problem": server_version.as_ref().err(),
            "kubeconfig": state.kubeconfig,
            "stateDir": dir,
            "pids": {"etcd": state.etcd_pid, "kubeApiserver": state.apiserver_pid},
            "versions": {"kubernetes": state.kubernetes_version, "etcd": state.etcd_version},
            "crds": state.crds,
        })),
        Format::Table => {
            output::line(format!(
                "status      {}",
                match &server_version {
                    Ok(_) => "running".to_owned(),
                    Err(e) => format!("unhealthy: {e}"),
                }
            ));
            output::line(format!("server      {}", state.server));
            if let Ok(v) = &server_version {
                output::line(format!(
                    "version     kube-apiserver {v}, etcd {}",
                    state.etcd_version
                ));
            }
            output::line(format!(
                "processes   etcd pid {}, kube-apiserver pid {}",
                state.etcd_pid, state.apiserver_pid
            ));
            if !state.crds.is_empty() {
                output::line(format!("crds        {}", state.crds.join(", ")));
            }
            output::line(format!("state       {}", dir.display()));
            output::line(format!("kubeconfig  {}", state.kubeconfig.display()));
            output::line("");
            output::line(format!(
                "use it:     export KUBECONFIG={}",
                state.kubeconfig.display()
            ));
            output::line("stop it:    plinth dev down");
        }
    }
    Ok(if healthy {
        Outcome::Ok
    } else {
        Outcome::Findings
    })
}

async fn status(dir: &Path, format: Format) -> anyhow::Result<Outcome> {
    match read_state(dir) {
        Some(state) => report(dir, &state, format).await,
        None => {
            match format {
                Format::Json => output::json(&json!({"running": false, "stateDir": dir})),
                Format::Table => output::line(format!(
                    "status      not running (no state in {}); start it with `plinth dev up`",
                    dir.display()
                )),
            }
            Ok(Outcome::Findings)
        }
    }
}

fn env(state: &StateArgs) -> anyhow::Result<Outcome> {
    let dir = state.dir();
    let Some(state) = read_state(&dir) else {
        bail!(
            "no dev control plane in {}; start one with `plinth dev up`",
            dir.display()
        );
    };
    output::line(format!("export KUBECONFIG={}", state.kubeconfig.display()));
    Ok(Outcome::Ok)
}

pub(super) fn down(dir: &Path) -> anyhow::Result<Outcome> {
    check_ours(dir)?;
    if !dir.exists() {
        output::notice(format!("no dev control plane in {}", dir.display()));
        return Ok(Outcome::Ok);
    }
    stop_and_remove(dir)?;
    output::line(format!("stopped; removed {}", dir.display()));
    Ok(Outcome::Ok)
}

/// Stops every process of the control plane in `dir` (API server first) and removes the
/// directory. Processes are found both through `state.json` and by scanning `/proc` for
/// command lines that mention the directory.
fn stop_and_remove(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let mut targets: Vec<(u32, &str)> = Vec::new();
    if let Some(state) = read_state(dir) {
        targets.push((state.apiserver_pid, "kube-apiserver"));
        targets.push((state.etcd_pid, "etcd"));
    }
    for (pid, name) in processes_using(dir) {
        if !targets.iter().any(|(p, _)| *p == pid) {
            targets.push((pid, name));
        }
    }
    targets.sort_by_key(|(_, name)| *name != "kube-apiserver");
    for (pid, name) in targets {
        if pid != 0 && !stop_pid(pid, name, Duration::from_secs(15)) {
            bail!(
                "{name} (pid {pid}) did not stop; kill it by hand, then run `plinth dev down` again"
            );
        }
    }
    std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    Ok(())
}

/// etcd and kube-apiserver processes whose command line mentions `dir`.
fn processes_using(dir: &Path) -> Vec<(u32, &'static str)> {
    // With the trailing separator, `/x/dev` does not match `/x/dev2`.
    let needle = format!("{}/", dir.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline);
        if !cmdline.contains(&needle) {
            continue;
        }
        let program = cmdline.split('\0').next().unwrap_or_default();
        let name = if program.ends_with("/kube-apiserver") {
            "kube-apiserver"
        } else if program.ends_with("/etcd") {
            "etcd"
        } else {
            continue;
        };
        found.push((pid, name));
    }
    found
}
