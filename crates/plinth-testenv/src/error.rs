//! The errors of the test environment, each saying what failed and what to do about it.

use std::path::{Path, PathBuf};

/// Why the control plane or its artefacts could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Go toolchain is needed and missing.
    #[error(
        "the Go toolchain is needed to build the upstream binaries and fetch CRDs, but {problem}; install Go 1.26 or newer with access to the Go module proxy"
    )]
    GoMissing {
        /// What went wrong when running `go`.
        problem: String,
    },
    /// `go build` failed.
    #[error("building {binary} failed; command: {command}; log: {}\n{tail}", log.display())]
    BuildFailed {
        /// Which binary.
        binary: &'static str,
        /// The command that failed.
        command: String,
        /// Its full log.
        log: PathBuf,
        /// The last lines of the log.
        tail: String,
    },
    /// A cached binary exists but does not work or has the wrong version.
    #[error("the cached binary {} is broken: {problem}; delete {} to have it rebuilt", path.display(), dir.display())]
    BrokenBinary {
        /// The binary.
        path: PathBuf,
        /// What is wrong.
        problem: String,
        /// The cache directory to delete.
        dir: PathBuf,
    },
    /// A port the control plane needs is taken.
    #[error(
        "port 127.0.0.1:{port} is already in use; stop what listens there or choose another port{hint}"
    )]
    PortInUse {
        /// The port.
        port: u16,
        /// How to choose another one, for the command at hand.
        hint: &'static str,
    },
    /// A component did not start or did not become ready.
    #[error("{component} did not become ready: {problem}; last lines of {}:\n{tail}", log.display())]
    Startup {
        /// `etcd` or `kube-apiserver`.
        component: &'static str,
        /// What happened.
        problem: String,
        /// Its log file.
        log: PathBuf,
        /// The last lines of that log.
        tail: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Certificate generation failed.
    #[error("generating certificates: {0}")]
    Pki(#[from] rcgen::Error),
    /// A client for the control plane could not be made or used.
    #[error("talking to the control plane: {0}")]
    Client(String),
    /// Upstream CRDs could not be fetched.
    #[error("fetching CRDs from {module}: {problem}")]
    CrdFetch {
        /// The Go module.
        module: String,
        /// What went wrong.
        problem: String,
    },
    /// A Go module could not be downloaded or located.
    #[error(
        "fetching Go module {module}: {problem}; check the network access to the Go module proxy (GOPROXY) or the module cache (GOMODCACHE)"
    )]
    GoModule {
        /// `module@version`.
        module: String,
        /// What went wrong.
        problem: String,
    },
    /// Upstream CRDs could not be installed.
    #[error("installing CRDs: {0}")]
    CrdInstall(Box<plinth_kube::crd::CrdError>),
}

impl From<plinth_kube::crd::CrdError> for Error {
    fn from(e: plinth_kube::crd::CrdError) -> Error {
        Error::CrdInstall(Box::new(e))
    }
}

/// Wraps an I/O error with the path it concerns.
pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `text` to `path`, readable only by the owner when `private` (keys, kubeconfigs).
pub(crate) fn write_file(path: &Path, text: &str, private: bool) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(if private { 0o600 } else { 0o644 })
        .open(path)
        .map_err(io_err(path))?;
    f.write_all(text.as_bytes()).map_err(io_err(path))
}
