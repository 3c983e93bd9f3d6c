//! One control plane per test binary, shared by its tests, each test isolated in its own
//! namespace.
//!
//! The control plane is started on first use and lives until the test process ends; its
//! processes are tied to the process (see [`crate::process`]), so they die with it even
//! though a `static` is never dropped. Its directory is under
//! `$TMPDIR/plinth-testenv/PID`; directories of test processes that are gone are removed
//! when the next one starts.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};

use crate::control_plane::{ControlPlane, StartOptions, client_from_kubeconfig};
use crate::crds::{self, CrdSource};
use crate::error::Error;
use crate::process::{Lifetime, is_alive};
use crate::upstream::{Binaries, Progress, cache_root};

/// The label every test namespace carries, so leftovers are easy to find.
pub const TEST_NAMESPACE_LABEL: &str = "plinth.io/test";

/// The shared control plane of this test binary.
pub struct TestEnv {
    plane: ControlPlane,
    cache: PathBuf,
    installed: Mutex<HashSet<&'static str>>,
}

/// The control plane shared by all tests of this binary, started on first call.
///
/// # Panics
///
/// When the control plane cannot start: no test that needs it could run, and the panic
/// message carries the reason (with the tail of the failing process's log).
pub fn shared() -> &'static TestEnv {
    static SHARED: OnceLock<Result<TestEnv, String>> = OnceLock::new();
    match SHARED.get_or_init(|| start_shared().map_err(|e| e.to_string())) {
        Ok(env) => env,
        Err(msg) => panic!("the shared test control plane could not start: {msg}"),
    }
}

fn start_shared() -> Result<TestEnv, Error> {
    let cache = cache_root();
    let binaries = Binaries::in_cache(&cache);
    binaries.ensure(&mut |p| match p {
        Progress::Building { binary } => tracing::info!(binary, "building upstream binary"),
        Progress::Built { binary, elapsed } => {
            tracing::info!(binary, secs = elapsed.as_secs(), "built upstream binary")
        }
    })?;
    let root = std::env::temp_dir().join("plinth-testenv");
    sweep_stale(&root);
    let dir = root.join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&dir);
    let opts = StartOptions {
        dir,
        apiserver_port: None,
        lifetime: Lifetime::Tied,
        binaries,
        timeout: Duration::from_secs(120),
        port_hint: "",
        extra_apiserver_args: Vec::new(),
    };
    // Start on a runtime of our own: each test has its own runtime, and this one must not
    // depend on whichever test happens to come first.
    let plane = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Client(e.to_string()))?
            .block_on(ControlPlane::start(opts))
    })
    .join()
    .map_err(|_| Error::Client("the start-up thread panicked".into()))??;
    Ok(TestEnv {
        plane,
        cache,
        installed: Mutex::new(HashSet::new()),
    })
}

/// Removes directories of earlier test processes that have ended.
fn sweep_stale(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|pid| pid != std::process::id() && !is_alive(pid));
        if stale {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl TestEnv {
    /// The control plane.
    pub fn control_plane(&self) -> &ControlPlane {
        &self.plane
    }

    /// The admin kubeconfig file.
    pub fn kubeconfig_path(&self) -> &Path {
        self.plane.kubeconfig_path()
    }

    /// A new admin client, bound to the calling test's runtime.
    pub async fn client(&self) -> Result<Client, Error> {
        self.plane.admin_client().await
    }

    /// A client for a freshly minted user `name` in `groups` (no permissions unless RBAC
    /// grants them).
    pub async fn user_client(&self, name: &str, groups: &[&str]) -> Result<Client, Error> {
        client_from_kubeconfig(&self.plane.mint_user(name, groups)?).await
    }

    /// Creates a namespace `PREFIX-xxxxx` (a generated name) with its `default` service
    /// account, and returns its name. Tests work inside it and so never collide.
    pub async fn namespace(&self, client: &Client, prefix: &str) -> Result<String, Error> {
        let err = |e: kube::Error| Error::Client(plinth_kube::config::root_cause(&e));
        let ns = Namespace {
            metadata: ObjectMeta {
                generate_name: Some(format!("{prefix}-")),
                labels: Some([(TEST_NAMESPACE_LABEL.to_owned(), "true".to_owned())].into()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        let created = Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .map_err(err)?;
        let name = created.metadata.name.ok_or_else(|| {
            Error::Client("the server returned a namespace without a name".into())
        })?;
        // No controller manager runs, so the service-account controller does not create
        // `default`; pods need it.
        let sa = ServiceAccount {
            metadata: ObjectMeta {
                name: Some("default".into()),
                ..ObjectMeta::default()
            },
            ..ServiceAccount::default()
        };
        Api::<ServiceAccount>::namespaced(client.clone(), &name)
            .create(&PostParams::default(), &sa)
            .await
            .map_err(err)?;
        Ok(name)
    }

    /// Installs upstream CRDs (once per source per test binary).
    pub async fn install_crds(&self, client: &Client, sources: &[CrdSource]) -> Result<(), Error> {
        let missing: Vec<CrdSource> = {
            let done = self
                .installed
                .lock()
                .map_err(|_| Error::Client("CRD bookkeeping lock poisoned".into()))?;
            sources
                .iter()
                .filter(|s| !done.contains(s.name))
                .copied()
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        crds::install(client, &missing, &self.cache).await?;
        if let Ok(mut done) = self.installed.lock() {
            done.extend(missing.iter().map(|s| s.name));
        }
        Ok(())
    }
}
