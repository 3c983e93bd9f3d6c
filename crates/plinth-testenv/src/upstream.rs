//! Building and locating the upstream binaries (kube-apiserver, kube-scheduler, etcd).
//!
//! The binaries are built with the Go toolchain from the pinned wrapper modules (embedded
//! in this crate, so an installed `plinth` can build them without the source tree) into a
//! cache outside the repository, keyed by the pinned versions:
//!
//! ```text
//! $PLINTH_CACHE_DIR | $XDG_CACHE_HOME/plinth | ~/.cache/plinth
//!   k8s/kubernetes-v1.37.2_etcd-v3.6.16/
//!     src/kube/{go.mod,go.sum}   src/etcd/{go.mod,go.sum}
//!     bin/{kube-apiserver,kube-scheduler,etcd}
//!     build.lock   build-<name>.log
//! ```
//!
//! Building is idempotent and serialised by a file lock; a cached binary is checked by
//! running `--version` and comparing with the pin, so a damaged cache is reported rather
//! than used.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, io_err};
use crate::versions::{self, Versions};

/// One upstream binary plinth builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    /// `k8s.io/kubernetes/cmd/kube-apiserver`.
    KubeApiserver,
    /// `k8s.io/kubernetes/cmd/kube-scheduler` (the peer of plinth's scheduler).
    KubeScheduler,
    /// `go.etcd.io/etcd/server/v3`.
    Etcd,
    /// `github.com/open-policy-agent/opa` (the reference Rego evaluator).
    Opa,
}

impl Binary {
    /// All binaries, in build order.
    pub const ALL: [Binary; 4] = [
        Binary::Etcd,
        Binary::KubeApiserver,
        Binary::KubeScheduler,
        Binary::Opa,
    ];

    /// File name.
    pub fn name(self) -> &'static str {
        match self {
            Binary::KubeApiserver => "kube-apiserver",
            Binary::KubeScheduler => "kube-scheduler",
            Binary::Etcd => "etcd",
            Binary::Opa => "opa",
        }
    }

    fn package(self) -> &'static str {
        match self {
            Binary::KubeApiserver => "k8s.io/kubernetes/cmd/kube-apiserver",
            Binary::KubeScheduler => "k8s.io/kubernetes/cmd/kube-scheduler",
            Binary::Etcd => "go.etcd.io/etcd/server/v3",
            Binary::Opa => "github.com/open-policy-agent/opa",
        }
    }

    fn module_dir(self) -> &'static str {
        match self {
            Binary::Etcd => "etcd",
            Binary::Opa => "opa",
            _ => "kube",
        }
    }

    /// Linker flags; Kubernetes binaries get the version variables its own build sets, so
    /// `--version` prints the pin instead of `v0.0.0-master`.
    fn ldflags(self, v: &Versions) -> String {
        let mut flags = vec!["-s".to_owned(), "-w".to_owned()];
        if matches!(self, Binary::KubeApiserver | Binary::KubeScheduler) {
            let minor = v.kubernetes.split('.').nth(1).unwrap_or_default();
            for pkg in [
                "k8s.io/component-base/version",
                "k8s.io/client-go/pkg/version",
            ] {
                flags.push(format!("-X {pkg}.gitVersion=v{}", v.kubernetes));
                flags.push(format!("-X {pkg}.gitMajor=1"));
                flags.push(format!("-X {pkg}.gitMinor={minor}"));
                flags.push(format!("-X {pkg}.gitTreeState=clean"));
            }
        }
        flags.join(" ")
    }

    /// What `--version` must print for the pinned version.
    fn expected_version(self, v: &Versions) -> String {
        match self {
            Binary::Etcd => format!("etcd Version: {}", v.etcd),
            Binary::Opa => format!("Version: {}", v.opa),
            _ => format!("Kubernetes v{}", v.kubernetes),
        }
    }
}

/// Where plinth keeps downloaded and built artefacts.
pub fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("PLINTH_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("plinth");
    }
    let home = std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from);
    home.join(".cache").join("plinth")
}

/// Paths of the three built binaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binaries {
    /// The directory holding them.
    pub dir: PathBuf,
    /// The versions they were built from.
    pub versions: Versions,
}

impl Binaries {
    /// Where the binaries for the pinned versions live under `cache`.
    pub fn in_cache(cache: &Path) -> Binaries {
        let versions = Versions::pinned();
        let key = format!(
            "kubernetes-v{}_etcd-v{}",
            versions.kubernetes, versions.etcd
        );
        Binaries {
            dir: cache.join("k8s").join(key),
            versions,
        }
    }

    /// Path of one binary. OPA's name carries its version, so pinning another OPA does
    /// not invalidate the (slow to build) Kubernetes binaries next to it.
    pub fn path(&self, binary: Binary) -> PathBuf {
        match binary {
            Binary::Opa => self
                .dir
                .join("bin")
                .join(format!("opa-v{}", self.versions.opa)),
            _ => self.dir.join("bin").join(binary.name()),
        }
    }

    /// Whether every binary file is present (not whether it works).
    pub fn all_present(&self) -> bool {
        Binary::ALL.iter().all(|b| self.path(*b).is_file())
    }

    /// Checks every present binary with `--version`; a binary that does not run or prints
    /// another version is reported as broken.
    pub fn verify(&self) -> Result<(), Error> {
        for binary in Binary::ALL {
            let path = self.path(binary);
            if path.is_file() {
                self.verify_one(binary, &path)?;
            }
        }
        Ok(())
    }

    fn verify_one(&self, binary: Binary, path: &Path) -> Result<(), Error> {
        let broken = |problem: String| Error::BrokenBinary {
            path: path.to_owned(),
            problem,
            dir: self.dir.clone(),
        };
        let output = Command::new(path)
            .arg(if binary == Binary::Opa {
                "version"
            } else {
                "--version"
            })
            .stdin(Stdio::null())
            .output()
            .map_err(|e| broken(format!("it does not run: {e}")))?;
        let text = String::from_utf8_lossy(&output.stdout);
        let expected = binary.expected_version(&self.versions);
        if !output.status.success() {
            return Err(broken(format!("`--version` exited with {}", output.status)));
        }
        if !text.contains(&expected) {
            let first = text.lines().next().unwrap_or("nothing");
            return Err(broken(format!(
                "`--version` printed {first:?}, expected {expected:?}"
            )));
        }
        Ok(())
    }

    /// Makes sure all binaries exist and work, building the missing ones. `progress` is
    /// told about each step (a build of kube-apiserver takes minutes on a cold cache).
    pub fn ensure(&self, progress: &mut dyn FnMut(Progress<'_>)) -> Result<(), Error> {
        if self.all_present() {
            return self.verify();
        }
        std::fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let lock_path = self.dir.join("build.lock");
        let lock = std::fs::File::create(&lock_path).map_err(io_err(&lock_path))?;
        lock.lock().map_err(io_err(&lock_path))?;
        // The lock is released when `lock` is closed at the end of this function.
        self.build_missing(progress)
    }

    fn build_missing(&self, progress: &mut dyn FnMut(Progress<'_>)) -> Result<(), Error> {
        let go = find_go()?;
        for binary in Binary::ALL {
            let target = self.path(binary);
            if target.is_file() {
                self.verify_one(binary, &target)?;
                continue;
            }
            let src = self.write_module(binary)?;
            progress(Progress::Building {
                binary: binary.name(),
            });
            let started = Instant::now();
            let bin_dir = self.dir.join("bin");
            std::fs::create_dir_all(&bin_dir).map_err(io_err(&bin_dir))?;
            let partial = bin_dir.join(format!(".{}.partial", binary.name()));
            let log_path = self.dir.join(format!("build-{}.log", binary.name()));
            let log = std::fs::File::create(&log_path).map_err(io_err(&log_path))?;
            let log_err = log.try_clone().map_err(io_err(&log_path))?;
            let mut cmd = Command::new(&go);
            cmd.current_dir(&src)
                .args(["build", "-trimpath", "-ldflags"])
                .arg(binary.ldflags(&self.versions))
                .arg("-o")
                .arg(&partial)
                .arg(binary.package())
                .env("GOWORK", "off")
                .env("CGO_ENABLED", "0")
                .env("GOFLAGS", "-mod=readonly -buildvcs=false")
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(log_err);
            let command = format!("(cd {} && {:?})", src.display(), cmd);
            let status = cmd.status().map_err(|e| Error::BuildFailed {
                binary: binary.name(),
                command: command.clone(),
                log: log_path.clone(),
                tail: e.to_string(),
            })?;
            if !status.success() {
                return Err(Error::BuildFailed {
                    binary: binary.name(),
                    command,
                    tail: crate::process::tail(&log_path, 30),
                    log: log_path,
                });
            }
            std::fs::rename(&partial, &target).map_err(io_err(&target))?;
            self.verify_one(binary, &target)?;
            progress(Progress::Built {
                binary: binary.name(),
                elapsed: started.elapsed(),
            });
        }
        Ok(())
    }

    fn write_module(&self, binary: Binary) -> Result<PathBuf, Error> {
        let src = self.dir.join("src").join(binary.module_dir());
        std::fs::create_dir_all(&src).map_err(io_err(&src))?;
        let (go_mod, go_sum) = match binary {
            Binary::Etcd => (versions::ETCD_GO_MOD, versions::ETCD_GO_SUM),
            Binary::Opa => (versions::OPA_GO_MOD, versions::OPA_GO_SUM),
            _ => (versions::KUBE_GO_MOD, versions::KUBE_GO_SUM),
        };
        for (name, text) in [("go.mod", go_mod), ("go.sum", go_sum)] {
            let p = src.join(name);
            std::fs::write(&p, text).map_err(io_err(&p))?;
        }
        Ok(src)
    }
}

/// Progress of [`Binaries::ensure`].
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// A build has started.
    Building {
        /// Which binary.
        binary: &'a str,
    },
    /// A build has finished.
    Built {
        /// Which binary.
        binary: &'a str,
        /// How long it took.
        elapsed: Duration,
    },
}

/// The `go` command, or an error saying how to get it.
pub fn find_go() -> Result<PathBuf, Error> {
    let go = std::env::var_os("GO").map_or_else(|| PathBuf::from("go"), PathBuf::from);
    match Command::new(&go)
        .arg("version")
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => Ok(go),
        Ok(out) => Err(Error::GoMissing {
            problem: format!(
                "`{} version` failed: {}",
                go.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        }),
        Err(e) => Err(Error::GoMissing {
            problem: format!("`{}` could not be run: {e}", go.display()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldflags_set_the_pinned_version() {
        let v = Versions::pinned();
        let flags = Binary::KubeApiserver.ldflags(&v);
        assert!(flags.contains(&format!(
            "-X k8s.io/component-base/version.gitVersion=v{}",
            v.kubernetes
        )));
        assert!(!Binary::Etcd.ldflags(&v).contains("gitVersion"));
    }

    #[test]
    fn broken_binary_is_reported_with_the_way_out() {
        let dir = tempfile::tempdir().unwrap();
        let bins = Binaries::in_cache(dir.path());
        std::fs::create_dir_all(bins.dir.join("bin")).unwrap();
        for b in Binary::ALL {
            std::fs::write(bins.path(b), "not a program").unwrap();
        }
        let err = bins.ensure(&mut |_| {}).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::BrokenBinary { .. }), "{msg}");
        assert!(msg.contains("etcd") && msg.contains("delete"), "{msg}");
    }
}
