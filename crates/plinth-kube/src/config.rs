//! Client configuration in kubectl's order, with errors that say which file, context or
//! server is at fault.
//!
//! Order (as `kubectl`): `--kubeconfig FILE` (must exist), else the files listed in
//! `$KUBECONFIG` (merged, first value wins, missing files skipped), else
//! `~/.kube/config`, else the in-cluster service account. `--context` picks a context
//! from the kubeconfig instead of its `current-context`.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::version::Info;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// How long to wait for an API server to answer `/version` before calling it unreachable.
const REACH_TIMEOUT: Duration = Duration::from_secs(15);

/// What the user asked for on the command line.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// `--kubeconfig`: this file only.
    pub kubeconfig: Option<PathBuf>,
    /// `--context`: this context instead of the kubeconfig's current one.
    pub context: Option<String>,
}

impl ClientOptions {
    /// Whether the user named a kubeconfig or context explicitly (then failing to use it
    /// is an error, not something to report and carry on from).
    pub fn is_explicit(&self) -> bool {
        self.kubeconfig.is_some() || self.context.is_some()
    }
}

/// Where a configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A context of one or more kubeconfig files.
    Kubeconfig {
        /// The files read, in merge order.
        files: Vec<PathBuf>,
        /// The context used.
        context: String,
    },
    /// The pod's service account.
    InCluster,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Kubeconfig { files, context } => {
                write!(f, "context {context:?} of {}", show_files(files))
            }
            Origin::InCluster => f.write_str("in-cluster service account"),
        }
    }
}

fn show_files(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

/// Why no usable client configuration was found.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--kubeconfig` names a file that does not exist.
    #[error("kubeconfig {} does not exist; check the --kubeconfig path", path.display())]
    MissingFile {
        /// The path given.
        path: PathBuf,
    },
    /// A kubeconfig file exists but cannot be read or parsed.
    #[error("kubeconfig {} is not valid: {message}", path.display())]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The requested context is not defined.
    #[error(
        "context {context:?} is not defined in kubeconfig {}; defined contexts: {}",
        show_files(files),
        list(available)
    )]
    UnknownContext {
        /// The context asked for.
        context: String,
        /// The files searched.
        files: Vec<PathBuf>,
        /// The contexts that do exist.
        available: Vec<String>,
    },
    /// No context was asked for and the kubeconfig has no `current-context`.
    #[error(
        "kubeconfig {} has no current-context; choose one with --context (defined contexts: {})",
        show_files(files),
        list(available)
    )]
    NoCurrentContext {
        /// The files searched.
        files: Vec<PathBuf>,
        /// The contexts that do exist.
        available: Vec<String>,
    },
    /// The context exists but cannot be turned into a client (missing cluster, bad URL,
    /// unreadable certificate, ...).
    #[error("{origin} cannot be used: {message}")]
    BadContext {
        /// Which context.
        origin: Origin,
        /// What is wrong.
        message: String,
    },
    /// Nothing to go on at all.
    #[error(
        "no cluster configured: no --kubeconfig, no existing file in $KUBECONFIG or ~/.kube/config, and not running in a pod; start a local control plane with `plinth dev up`"
    )]
    NotFound,
    /// The configuration is fine but the server does not answer.
    #[error("cannot reach the API server at {server} ({origin}): {message}")]
    Unreachable {
        /// The server URL.
        server: String,
        /// Which context pointed there.
        origin: Origin,
        /// The innermost cause (connection refused, TLS failure, timeout, ...).
        message: String,
    },
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// A resolved configuration: a kube [`Config`] plus where it came from.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The client configuration.
    pub config: Config,
    /// Where it came from, for messages.
    pub origin: Origin,
}

impl Connection {
    /// The API server URL.
    pub fn server(&self) -> String {
        self.config.cluster_url.to_string()
    }

    /// A client for this configuration.
    pub fn client(&self) -> Result<Client, ConfigError> {
        Client::try_from(self.config.clone()).map_err(|e| ConfigError::BadContext {
            origin: self.origin.clone(),
            message: root_cause(&e),
        })
    }

    /// Asks the server for its version; an error says the server cannot be reached.
    pub async fn server_version(&self, client: &Client) -> Result<Info, ConfigError> {
        let unreachable = |message| ConfigError::Unreachable {
            server: self.server(),
            origin: self.origin.clone(),
            message,
        };
        match tokio::time::timeout(REACH_TIMEOUT, client.apiserver_version()).await {
            Ok(Ok(info)) => Ok(info),
            Ok(Err(e)) => Err(unreachable(root_cause(&e))),
            Err(_) => Err(unreachable(format!(
                "no answer within {}s",
                REACH_TIMEOUT.as_secs()
            ))),
        }
    }
}

/// The innermost cause of an error chain, which is what a person can act on
/// ("Connection refused (os error 111)" rather than "client error (Connect)").
pub fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut last = err;
    while let Some(next) = last.source() {
        last = next;
    }
    let inner = last.to_string();
    let outer = err.to_string();
    if std::ptr::eq(last, err) || outer.contains(&inner) {
        outer
    } else {
        format!("{outer}: {inner}")
    }
}

/// Resolves the configuration from the process environment (`$KUBECONFIG`, `$HOME`).
pub async fn resolve(opts: &ClientOptions) -> Result<Connection, ConfigError> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    resolve_with(opts, std::env::var_os("KUBECONFIG"), home.as_deref()).await
}

/// Resolves the configuration, then checks that the server answers; returns a client,
/// the connection and the server's version.
pub async fn connect(opts: &ClientOptions) -> Result<(Client, Connection, Info), ConfigError> {
    let conn = resolve(opts).await?;
    let client = conn.client()?;
    let info = conn.server_version(&client).await?;
    Ok((client, conn, info))
}

/// [`resolve`] with the environment passed in (testable without touching the process
/// environment).
pub async fn resolve_with(
    opts: &ClientOptions,
    kubeconfig_env: Option<OsString>,
    home: Option<&Path>,
) -> Result<Connection, ConfigError> {
    let files = kubeconfig_files(opts, kubeconfig_env, home)?;
    if files.is_empty() {
        if opts.context.is_some() {
            return Err(ConfigError::NotFound);
        }
        return match Config::incluster() {
            Ok(config) => Ok(Connection {
                config,
                origin: Origin::InCluster,
            }),
            Err(_) => Err(ConfigError::NotFound),
        };
    }
    let mut merged = Kubeconfig::default();
    for file in &files {
        let kc = Kubeconfig::read_from(file).map_err(|e| ConfigError::BadFile {
            path: file.clone(),
            message: root_cause(&e),
        })?;
        merged = merged.merge(kc).map_err(|e| ConfigError::BadFile {
            path: file.clone(),
            message: root_cause(&e),
        })?;
    }
    let available: Vec<String> = merged.contexts.iter().map(|c| c.name.clone()).collect();
    let context = match (&opts.context, &merged.current_context) {
        (Some(c), _) => c.clone(),
        (None, Some(c)) if !c.is_empty() => c.clone(),
        (None, _) => {
            return Err(ConfigError::NoCurrentContext { files, available });
        }
    };
    if !available.contains(&context) {
        return Err(ConfigError::UnknownContext {
            context,
            files,
            available,
        });
    }
    let origin = Origin::Kubeconfig {
        files,
        context: context.clone(),
    };
    let options = KubeConfigOptions {
        context: Some(context),
        ..Default::default()
    };
    let config = Config::from_custom_kubeconfig(merged, &options)
        .await
        .map_err(|e| ConfigError::BadContext {
            origin: origin.clone(),
            message: root_cause(&e),
        })?;
    Ok(Connection { config, origin })
}

fn kubeconfig_files(
    opts: &ClientOptions,
    kubeconfig_env: Option<OsString>,
    home: Option<&Path>,
) -> Result<Vec<PathBuf>, ConfigError> {
    if let Some(path) = &opts.kubeconfig {
        if !path.is_file() {
            return Err(ConfigError::MissingFile { path: path.clone() });
        }
        return Ok(vec![path.clone()]);
    }
    if let Some(value) = kubeconfig_env.filter(|v| !v.is_empty()) {
        // kubectl skips files in $KUBECONFIG that do not exist.
        return Ok(std::env::split_paths(&value)
            .filter(|p| !p.as_os_str().is_empty() && p.is_file())
            .collect());
    }
    Ok(home
        .map(|h| h.join(".kube").join("config"))
        .filter(|p| p.is_file())
        .into_iter()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECONFIG: &str = r#"
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev
  cluster:
    server: https://127.0.0.1:1
- name: prod
  cluster:
    server: https://prod.example:6443
contexts:
- name: dev
  context: {cluster: dev, user: u}
- name: prod
  context: {cluster: prod, user: u, namespace: shop}
- name: dangling
  context: {cluster: nowhere, user: u}
users:
- name: u
  user: {token: abc}
"#;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[tokio::test]
    async fn explicit_file_and_context() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "kc", KUBECONFIG);
        let opts = ClientOptions {
            kubeconfig: Some(file.clone()),
            context: Some("prod".into()),
        };
        let conn = resolve_with(&opts, None, None).await.unwrap();
        assert_eq!(conn.server(), "https://prod.example:6443/");
        assert_eq!(conn.config.default_namespace, "shop");
        assert_eq!(
            conn.origin,
            Origin::Kubeconfig {
                files: vec![file],
                context: "prod".into()
            }
        );
    }

    #[tokio::test]
    async fn order_is_flag_then_env_then_home() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join(".kube")).unwrap();
        write(&home.join(".kube"), "config", KUBECONFIG);
        let other = write(
            dir.path(),
            "other",
            &KUBECONFIG.replace("current-context: dev", "current-context: prod"),
        );
        let missing = dir.path().join("missing");
        let env = std::env::join_paths([&missing, &other]).unwrap();

        let from_home = resolve_with(&ClientOptions::default(), None, Some(&home))
            .await
            .unwrap();
        assert_eq!(from_home.server(), "https://127.0.0.1:1/");
        let from_env = resolve_with(&ClientOptions::default(), Some(env), Some(&home))
            .await
            .unwrap();
        assert_eq!(from_env.server(), "https://prod.example:6443/");
    }

    #[tokio::test]
    async fn errors_name_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "kc", KUBECONFIG);
        let missing = ClientOptions {
            kubeconfig: Some(dir.path().join("nope")),
            context: None,
        };
        let err = resolve_with(&missing, None, None).await.unwrap_err();
        assert!(matches!(err, ConfigError::MissingFile { .. }));
        assert!(err.to_string().contains("nope"), "{err}");

        let unknown = ClientOptions {
            kubeconfig: Some(file.clone()),
            context: Some("staging".into()),
        };
        let msg = resolve_with(&unknown, None, None)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("\"staging\"") && msg.contains("dev, prod, dangling"),
            "{msg}"
        );
        assert!(!msg.contains('\n'));

        let dangling = ClientOptions {
            kubeconfig: Some(file.clone()),
            context: Some("dangling".into()),
        };
        let msg = resolve_with(&dangling, None, None)
            .await
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("context \"dangling\" of"), "{msg}");

        let garbage = write(dir.path(), "garbage", "clusters: [oops");
        let msg = resolve_with(
            &ClientOptions {
                kubeconfig: Some(garbage),
                context: None,
            },
            None,
            None,
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(
            msg.contains("garbage") && msg.contains("not valid"),
            "{msg}"
        );

        let nothing = resolve_with(&ClientOptions::default(), None, Some(dir.path())).await;
        assert!(matches!(nothing, Err(ConfigError::NotFound)));
    }

    #[tokio::test]
    async fn unreachable_server_is_named() {
        let dir = tempfile::tempdir().unwrap();
        // Port 1 on loopback: nothing listens there.
        let file = write(dir.path(), "kc", KUBECONFIG);
        let opts = ClientOptions {
            kubeconfig: Some(file),
            context: None,
        };
        let conn = resolve_with(&opts, None, None).await.unwrap();
        let client = conn.client().unwrap();
        let err = conn.server_version(&client).await.unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("https://127.0.0.1:1/"), "{msg}");
        assert!(msg.contains("context \"dev\""), "{msg}");
        assert!(!msg.contains('\n'));
    }
}
