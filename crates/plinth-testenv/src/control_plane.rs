//! One real control plane: upstream etcd and kube-apiserver on loopback, with TLS
//! everywhere, client-certificate authentication and `Node,RBAC` authorization.
//!
//! There are no kubelets and no controller manager: nodes are API objects and pods are
//! bound but never run, exactly as in the upstream scheduler benchmarks.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::error::{Error, io_err, write_file};
use crate::pki::{ADMIN_USER, Credentials, Pki};
use crate::process::{Lifetime, Process, tail};
use crate::upstream::{Binaries, Binary};

/// How to start a control plane.
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// Directory for certificates, etcd data, logs and the kubeconfig (created if needed).
    pub dir: PathBuf,
    /// The API server's port; a free one is chosen when `None`.
    pub apiserver_port: Option<u16>,
    /// Whether the processes die with this process (tests) or run on (`plinth dev`).
    pub lifetime: Lifetime,
    /// The upstream binaries to run.
    pub binaries: Binaries,
    /// How long to wait for `/readyz`.
    pub timeout: Duration,
    /// Text appended to a port-in-use error (how to pick another port in this context).
    pub port_hint: &'static str,
    /// More kube-apiserver flags (`--name=value`), e.g. a configuration file under test.
    /// With `--authentication-config`, the default `--anonymous-auth=false` is left out:
    /// the two may not be combined.
    pub extra_apiserver_args: Vec<String>,
}

/// A running control plane. Dropping it stops the processes (unless detached).
pub struct ControlPlane {
    dir: PathBuf,
    pki: Pki,
    server: String,
    apiserver_port: u16,
    etcd_port: u16,
    etcd: Mutex<Option<Process>>,
    apiserver: Mutex<Option<Process>>,
    kubeconfig: PathBuf,
    binaries: Binaries,
    lifetime: Lifetime,
    extra_apiserver_args: Vec<String>,
}

/// Process ids of a detached control plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetachedPids {
    /// etcd's pid.
    pub etcd: u32,
    /// kube-apiserver's pid.
    pub apiserver: u32,
}

/// A free loopback port (the OS picks one; it is released again before use, as envtest
/// does, so a tiny race with other programs remains).
pub fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| Error::Io {
        path: PathBuf::from("127.0.0.1:0"),
        source: e,
    })?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::Io {
            path: PathBuf::from("127.0.0.1:0"),
            source: e,
        })
}

/// Whether `port` on loopback can be bound right now.
pub fn port_is_free(port: u16) -> bool {
    TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).is_ok()
}

impl ControlPlane {
    /// Generates fresh certificates, starts etcd and kube-apiserver, waits for `/readyz`
    /// and writes an admin kubeconfig to `dir/kubeconfig`.
    pub async fn start(opts: StartOptions) -> Result<ControlPlane, Error> {
        let dir = opts.dir.clone();
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let apiserver_port = match opts.apiserver_port {
            Some(p) if !port_is_free(p) => {
                return Err(Error::PortInUse {
                    port: p,
                    hint: opts.port_hint,
                });
            }
            Some(p) => p,
            None => free_port()?,
        };
        let etcd_port = free_port()?;
        let peer_port = free_port()?;
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs).map_err(io_err(&logs))?;
        let pki = Pki::generate(&dir.join("pki"))?;
        let server = format!("https://127.0.0.1:{apiserver_port}");

        let plane = ControlPlane {
            kubeconfig: dir.join("kubeconfig"),
            dir,
            pki,
            server,
            apiserver_port,
            etcd_port,
            etcd: Mutex::new(None),
            apiserver: Mutex::new(None),
            binaries: opts.binaries.clone(),
            extra_apiserver_args: opts.extra_apiserver_args.clone(),
            lifetime: opts.lifetime,
        };
        write_file(&plane.dir.join("audit-policy.yaml"), AUDIT_POLICY, false)?;
        let etcd_cmd = plane.etcd_command(&opts.binaries, peer_port);
        *lock(&plane.etcd) = Some(Process::spawn(
            "etcd",
            etcd_cmd,
            &logs.join("etcd.log"),
            opts.lifetime,
        )?);
        plane.spawn_apiserver()?;
        let yaml = plane.admin_kubeconfig();
        write_file(&plane.kubeconfig, &yaml, true)?;
        plane.wait_ready(opts.timeout).await?;
        Ok(plane)
    }

    fn spawn_apiserver(&self) -> Result<(), Error> {
        let cmd = self.apiserver_command(&self.binaries);
        let log = self.dir.join("logs").join("kube-apiserver.log");
        *lock(&self.apiserver) = Some(Process::spawn("kube-apiserver", cmd, &log, self.lifetime)?);
        Ok(())
    }

    /// Stops kube-apiserver only (etcd keeps the data): clients see the server vanish.
    pub fn stop_apiserver(&self) {
        if let Some(mut p) = lock(&self.apiserver).take() {
            p.stop(Duration::from_secs(10));
        }
    }

    /// Starts kube-apiserver again on the same port with the same certificates and waits
    /// for `/readyz`.
    pub async fn start_apiserver(&self, timeout: Duration) -> Result<(), Error> {
        self.spawn_apiserver()?;
        self.wait_ready(timeout).await
    }

    /// The API server's audit log: one JSON event per line for every `pods/binding`
    /// create (metadata level), so tests can count bindings per pod.
    pub fn audit_log_path(&self) -> PathBuf {
        self.dir.join("logs").join("audit.log")
    }

    fn etcd_command(&self, binaries: &Binaries, peer_port: u16) -> Command {
        let pki = self.pki.files();
        let client_url = format!("https://127.0.0.1:{}", self.etcd_port);
        let peer_url = format!("https://127.0.0.1:{peer_port}");
        let mut cmd = Command::new(binaries.path(Binary::Etcd));
        cmd.arg("--name=plinth")
            .arg(format!("--data-dir={}", self.dir.join("etcd").display()))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=plinth={peer_url}"))
            .arg(format!(
                "--cert-file={}",
                pki.path("etcd-server.crt").display()
            ))
            .arg(format!(
                "--key-file={}",
                pki.path("etcd-server.key").display()
            ))
            .arg(format!(
                "--trusted-ca-file={}",
                pki.path("etcd-ca.crt").display()
            ))
            .arg("--client-cert-auth=true")
            .arg(format!(
                "--peer-cert-file={}",
                pki.path("etcd-server.crt").display()
            ))
            .arg(format!(
                "--peer-key-file={}",
                pki.path("etcd-server.key").display()
            ))
            .arg(format!(
                "--peer-trusted-ca-file={}",
                pki.path("etcd-ca.crt").display()
            ))
            .arg("--peer-client-cert-auth=true")
            // A throwaway data directory: durability is not worth the fsync latency.
            .arg("--unsafe-no-fsync=true")
            .arg("--log-level=warn");
        cmd
    }

    fn apiserver_command(&self, binaries: &Binaries) -> Command {
        let pki = self.pki.files();
        let p = |name: &str| pki.path(name).display().to_string();
        let mut cmd = Command::new(binaries.path(Binary::KubeApiserver));
        cmd.arg(format!(
            "--etcd-servers=https://127.0.0.1:{}",
            self.etcd_port
        ))
        .arg(format!("--etcd-cafile={}", p("etcd-ca.crt")))
        .arg(format!(
            "--etcd-certfile={}",
            p("apiserver-etcd-client.crt")
        ))
        .arg(format!("--etcd-keyfile={}", p("apiserver-etcd-client.key")))
        .arg(format!("--secure-port={}", self.apiserver_port))
        .arg("--bind-address=127.0.0.1")
        .arg("--advertise-address=127.0.0.1")
        // The `kubernetes` Endpoints may not point at loopback; nothing here routes to it.
        .arg("--endpoint-reconciler-type=none")
        .arg(format!("--tls-cert-file={}", p("apiserver.crt")))
        .arg(format!("--tls-private-key-file={}", p("apiserver.key")))
        .arg("--tls-min-version=VersionTLS12")
        .arg(format!("--client-ca-file={}", p("client-ca.crt")))
        .arg("--service-account-issuer=https://kubernetes.default.svc.cluster.local")
        .arg(format!(
            "--service-account-key-file={}",
            p("service-account.pub")
        ))
        .arg(format!(
            "--service-account-signing-key-file={}",
            p("service-account.key")
        ))
        .arg("--service-cluster-ip-range=10.0.0.0/24")
        .arg("--authorization-mode=Node,RBAC")
        .args(
            (!self
                .extra_apiserver_args
                .iter()
                .any(|a| a.starts_with("--authentication-config")))
            .then_some("--anonymous-auth=false"),
        )
        .arg("--allow-privileged=true")
        // Nodes here are API objects without kubelets, and no node-lifecycle controller
        // would ever lift the not-ready taint this plugin adds on create.
        .arg("--disable-admission-plugins=TaintNodesByCondition")
        .arg("--profiling=false")
        .arg(format!(
            "--audit-policy-file={}",
            self.dir.join("audit-policy.yaml").display()
        ))
        .arg(format!(
            "--audit-log-path={}",
            self.audit_log_path().display()
        ))
        .arg("--audit-log-maxbackup=1")
        .args(&self.extra_apiserver_args);
        cmd
    }

    async fn wait_ready(&self, timeout: Duration) -> Result<(), Error> {
        let client = self.admin_client().await?;
        let started = Instant::now();
        loop {
            for slot in [&self.etcd, &self.apiserver] {
                let mut guard = lock(slot);
                if let Some(process) = guard.as_mut()
                    && let Some(status) = process.exited()
                {
                    return Err(Error::Startup {
                        component: process.name(),
                        problem: format!("it exited ({status})"),
                        log: process.log().to_owned(),
                        tail: tail(process.log(), 25),
                    });
                }
            }
            let request = http::Request::get("/readyz")
                .body(Vec::new())
                .map_err(|e| Error::Client(e.to_string()))?;
            let last_problem = match client.request_text(request).await {
                Ok(text) if text.trim() == "ok" => return Ok(()),
                Ok(text) => format!("/readyz answered {text:?}"),
                Err(e) => plinth_kube::config::root_cause(&e),
            };
            if started.elapsed() > timeout {
                let log = self.dir.join("logs").join("kube-apiserver.log");
                return Err(Error::Startup {
                    component: "kube-apiserver",
                    problem: format!(
                        "/readyz not ok within {}s ({last_problem})",
                        timeout.as_secs()
                    ),
                    tail: tail(&log, 25),
                    log,
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The API server URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The API server's port.
    pub fn apiserver_port(&self) -> u16 {
        self.apiserver_port
    }

    /// The directory holding everything of this control plane.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The admin kubeconfig file.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The certificates.
    pub fn pki(&self) -> &Pki {
        &self.pki
    }

    /// Process ids of etcd and kube-apiserver (while running).
    pub fn pids(&self) -> Vec<u32> {
        [&self.etcd, &self.apiserver]
            .into_iter()
            .filter_map(|slot| lock(slot).as_ref().map(Process::pid))
            .collect()
    }

    /// The admin kubeconfig as YAML (user `plinth-admin` in `system:masters`).
    pub fn admin_kubeconfig(&self) -> String {
        self.kubeconfig_for(ADMIN_USER, self.pki.admin())
    }

    /// A kubeconfig (YAML) for `user` with a client certificate naming `groups` (at most
    /// two) — an ordinary, non-admin identity unless RBAC grants it more.
    pub fn mint_user(&self, user: &str, groups: &[&str]) -> Result<String, Error> {
        let creds = self.pki.mint_client(user, groups)?;
        Ok(self.kubeconfig_for(user, &creds))
    }

    fn kubeconfig_for(&self, user: &str, creds: &Credentials) -> String {
        kubeconfig_yaml(&self.server, self.pki.serving_ca_pem(), user, creds)
    }

    /// An admin client.
    pub async fn admin_client(&self) -> Result<Client, Error> {
        client_from_kubeconfig(&self.admin_kubeconfig()).await
    }

    /// Stops kube-apiserver, then etcd.
    pub fn stop(&mut self) {
        self.stop_apiserver();
        if let Some(mut p) = lock(&self.etcd).take() {
            p.stop(Duration::from_secs(10));
        }
    }

    /// Lets the processes run on after this handle is gone (`plinth dev up`).
    pub fn detach(self) -> DetachedPids {
        DetachedPids {
            etcd: lock(&self.etcd).take().map_or(0, Process::detach),
            apiserver: lock(&self.apiserver).take().map_or(0, Process::detach),
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What the API server audits: creates of `pods/binding`, at metadata level.
const AUDIT_POLICY: &str = "apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  verbs: [create]
  resources:
  - group: \"\"
    resources: [pods/binding]
- level: None
";

/// Locks a process slot; a poisoned lock still holds a valid `Option<Process>`.
fn lock(slot: &Mutex<Option<Process>>) -> std::sync::MutexGuard<'_, Option<Process>> {
    slot.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A kubeconfig with one cluster, user and context (`plinth`), certificates embedded.
pub fn kubeconfig_yaml(server: &str, ca_pem: &str, user: &str, creds: &Credentials) -> String {
    let doc = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "plinth",
        "clusters": [{"name": "plinth", "cluster": {
            "server": server,
            "certificate-authority-data": B64.encode(ca_pem),
        }}],
        "users": [{"name": user, "user": {
            "client-certificate-data": B64.encode(&creds.cert_pem),
            "client-key-data": B64.encode(&creds.key_pem),
        }}],
        "contexts": [{"name": "plinth", "context": {"cluster": "plinth", "user": user}}],
    });
    // Serialising a JSON value cannot fail; JSON is also valid YAML should it ever.
    serde_saphyr::to_string(&doc).unwrap_or_else(|_| doc.to_string())
}

/// A client for a kubeconfig given as YAML text.
pub async fn client_from_kubeconfig(yaml: &str) -> Result<Client, Error> {
    let kc = Kubeconfig::from_yaml(yaml).map_err(|e| Error::Client(e.to_string()))?;
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| Error::Client(e.to_string()))?;
    Client::try_from(config).map_err(|e| Error::Client(e.to_string()))
}
