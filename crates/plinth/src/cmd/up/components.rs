//! plinth's components as local processes next to the embedded control plane (it has no
//! kubelets to run their Deployments): the enterprise scheduler, the guard webhook —
//! served on loopback with a certificate made for this run and registered with its URL
//! and CA bundle — and the zero-trust controller. Each logs to a file in the state
//! directory; their pids are recorded so `plinth down` stops exactly them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, anyhow};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The ValidatingWebhookConfiguration `up` registers for the local webhook.
pub const WEBHOOK_CONFIGURATION: &str = "plinth-guard-local";
/// Namespaces the local webhook never sees.
pub const EXCLUDED_NAMESPACES: &[&str] = &["kube-system", "kube-public", "kube-node-lease"];

/// One running component.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    /// `scheduler`, `guard` or `zt-controller`.
    pub name: String,
    /// Its process.
    pub pid: u32,
    /// Its log file.
    pub log: PathBuf,
    /// Where it listens, if anywhere.
    pub url: Option<String>,
}

/// What `up` started, as recorded in `up/components.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Started {
    /// The components, in start order.
    pub components: Vec<Component>,
}

/// `DIR/up`, where `up` keeps its files.
pub fn up_dir(state: &Path) -> PathBuf {
    state.join("up")
}

fn record_path(state: &Path) -> PathBuf {
    up_dir(state).join("components.json")
}

/// What a previous `up` recorded.
pub fn read(state: &Path) -> Started {
    std::fs::read_to_string(record_path(state))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn write(state: &Path, started: &Started) -> anyhow::Result<()> {
    let path = record_path(state);
    std::fs::write(&path, serde_json::to_string_pretty(started)?)
        .with_context(|| format!("writing {}", path.display()))
}

/// Whether `pid` is still one of ours: alive and started with `state` in its command
/// line (a recycled pid belongs to someone else).
pub fn is_ours(pid: u32, state: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    String::from_utf8_lossy(&cmdline).contains(&format!("{}/", state.display()))
}

/// Stops every recorded component (SIGTERM, then SIGKILL after the grace period).
pub fn stop_all(state: &Path) -> anyhow::Result<Vec<String>> {
    let started = read(state);
    let mut stopped = Vec::new();
    for c in started.components.iter().rev() {
        if is_ours(c.pid, state) {
            if !plinth_testenv::process::stop_pid(c.pid, "plinth", Duration::from_secs(10)) {
                return Err(anyhow!(
                    "{} (pid {}) did not stop; kill it by hand, then run `plinth down` again",
                    c.name,
                    c.pid
                ));
            }
            stopped.push(format!("{} (pid {})", c.name, c.pid));
        }
    }
    let _ = std::fs::remove_file(record_path(state));
    Ok(stopped)
}

fn spawn(state: &Path, name: &str, args: &[String]) -> anyhow::Result<Component> {
    let logs = up_dir(state).join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let log = logs.join(format!("{name}.log"));
    let file =
        std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let err = file.try_clone()?;
    let exe = std::env::current_exe().context("finding the plinth binary")?;
    use std::os::unix::process::CommandExt as _;
    let child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        // Its own process group: a Ctrl-C at `plinth up` must not take it down.
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting the {name}"))?;
    Ok(Component {
        name: name.to_owned(),
        pid: child.id(),
        log,
        url: None,
    })
}

/// A CA and a serving certificate for 127.0.0.1 (written 0600 under `up/guard/`); the
/// CA's PEM goes into the webhook registration's caBundle.
fn webhook_certificate(state: &Path) -> anyhow::Result<(PathBuf, PathBuf, String)> {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let dir = up_dir(state).join("guard");
    std::fs::create_dir_all(&dir)?;
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "plinth up webhook CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca = ca_params.self_signed(&ca_key)?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &issuer)?;
    let cert_file = dir.join("tls.crt");
    let key_file = dir.join("tls.key");
    write_private(&cert_file, cert.pem().as_bytes())?;
    write_private(&key_file, key.serialize_pem().as_bytes())?;
    Ok((cert_file, key_file, ca.pem()))
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

/// The registration of the local webhook: pods and namespaces fail closed, workload
/// resources fail open (as upstream Pod Security treats them: warnings only).
pub fn webhook_configuration(url: &str, ca_pem: &str) -> Value {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let selector = json!({"matchExpressions": [{
        "key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": EXCLUDED_NAMESPACES}]});
    let hook = |name: &str, policy: &str, rules: Value| {
        json!({
            "name": name,
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "failurePolicy": policy,
            "matchPolicy": "Equivalent",
            "timeoutSeconds": 5,
            "clientConfig": {"url": format!("{url}/validate"), "caBundle": ca},
            "namespaceSelector": selector,
            "rules": rules,
        })
    };
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": WEBHOOK_CONFIGURATION, "labels": {"app.kubernetes.io/part-of": "plinth"}},
        "webhooks": [
            hook("pods.guard.plinth.dev", "Fail", json!([{"apiGroups": [""], "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"], "resources": ["pods", "namespaces"]}])),
            hook("workloads.guard.plinth.dev", "Ignore", json!([{"apiGroups": ["apps"], "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"], "resources": ["deployments", "statefulsets", "daemonsets", "replicasets"]}])),
        ],
    })
}

/// Waits until the webhook answers `/healthz` over TLS with the CA it was given.
async fn wait_healthy(url: &str, ca_pem: &str, timeout: Duration) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes())?)
        .timeout(Duration::from_secs(2))
        .build()?;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Ok(r) = client.get(format!("{url}/healthz")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(anyhow!(
                "the webhook at {url} did not become healthy within {}s",
                timeout.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Starts the three components against `kubeconfig` and registers the webhook; returns
/// what runs. Already running components of a previous `up` are stopped first.
pub async fn start(
    state: &Path,
    kubeconfig: &Path,
    applier: &plinth_kube::Applier,
) -> anyhow::Result<Started> {
    stop_all(state)?;
    let k = format!("--kubeconfig={}", kubeconfig.display());
    let mut started = Started::default();
    let scheduler = spawn(
        state,
        "scheduler",
        &[
            "scheduler".into(),
            "run".into(),
            k.clone(),
            "--metrics-addr=none".into(),
            "--kube-api-qps=200".into(),
            "--kube-api-burst=400".into(),
        ],
    )?;
    started.components.push(scheduler);
    write(state, &started)?;

    let (cert, key, ca) = webhook_certificate(state)?;
    let port = plinth_testenv::control_plane::free_port()?;
    let url = format!("https://127.0.0.1:{port}");
    let mut guard_args = vec![
        "guard".to_owned(),
        "serve".to_owned(),
        k.clone(),
        format!("--addr=127.0.0.1:{port}"),
        format!("--tls-cert-file={}", cert.display()),
        format!("--tls-private-key-file={}", key.display()),
    ];
    guard_args.extend(
        EXCLUDED_NAMESPACES
            .iter()
            .map(|n| format!("--exempt-namespace={n}")),
    );
    let mut guard = spawn(state, "guard", &guard_args)?;
    guard.url = Some(url.clone());
    started.components.push(guard);
    write(state, &started)?;
    wait_healthy(&url, &ca, Duration::from_secs(60)).await?;
    let opts = plinth_kube::ApplyOptions {
        force: true,
        ..Default::default()
    };
    applier
        .apply(&webhook_configuration(&url, &ca), &opts)
        .await
        .context("registering the webhook")?;

    let zt = spawn(
        state,
        "zt-controller",
        &[
            "zt".into(),
            "controller".into(),
            k,
            "--metrics-addr=none".into(),
        ],
    )?;
    started.components.push(zt);
    write(state, &started)?;
    Ok(started)
}
