//! Building and locating the upstream binaries (kube-apiserver, kube-scheduler, etcd, and
//! the reference tools plinth is compared with: opa, np-guard's k8snetpolicy, helm).
//!
//! The binaries are built with the Go toolchain from the pinned wrapper modules (embedded
//! in this crate, so an installed `plinth` can build them without the source tree) into a
//! cache outside the repository, keyed by the pinned versions:
//!
//! ```text
//! $PLINTH_CACHE_DIR | $XDG_CACHE_HOME/plinth | ~/.cache/plinth
//!   k8s/kubernetes-v1.37.2_etcd-v3.6.16/
//!     src/{kube,etcd,opa,npguard,helm}/{go.mod,go.sum}
//!     bin/{kube-apiserver,kube-scheduler,etcd,opa-v1.22.4,k8snetpolicy-v1.4.2,helm-v4.3.1}
//!     build.lock   build-<name>.log
//! ```
//!
//! Building is idempotent and serialised by a file lock; a cached binary is checked by
//! running it (`--version`, `opa version`, `k8snetpolicy --help`) and comparing with the
//! pin — for k8snetpolicy, which prints no version, the Go build information embedded in
//! the executable is compared — so a damaged cache is reported rather than used.

use std::io::{Read, Seek, SeekFrom};
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
    /// `github.com/np-guard/netpol-analyzer/cmd/netpolicy`, the `k8snetpolicy` CLI (the
    /// reference NetworkPolicy analyzer for plinth-netpol).
    NpGuard,
    /// `helm.sh/helm/v4/cmd/helm` (the reference linter and renderer of plinth's chart).
    Helm,
}

/// The Go module np-guard's `k8snetpolicy` comes from.
const NPGUARD_MODULE: &str = "github.com/np-guard/netpol-analyzer";

impl Binary {
    /// All binaries, in build order.
    pub const ALL: [Binary; 6] = [
        Binary::Etcd,
        Binary::KubeApiserver,
        Binary::KubeScheduler,
        Binary::Opa,
        Binary::NpGuard,
        Binary::Helm,
    ];

    /// File name.
    pub fn name(self) -> &'static str {
        match self {
            Binary::KubeApiserver => "kube-apiserver",
            Binary::KubeScheduler => "kube-scheduler",
            Binary::Etcd => "etcd",
            Binary::Opa => "opa",
            Binary::NpGuard => "k8snetpolicy",
            Binary::Helm => "helm",
        }
    }

    fn package(self) -> &'static str {
        match self {
            Binary::KubeApiserver => "k8s.io/kubernetes/cmd/kube-apiserver",
            Binary::KubeScheduler => "k8s.io/kubernetes/cmd/kube-scheduler",
            Binary::Etcd => "go.etcd.io/etcd/server/v3",
            Binary::Opa => "github.com/open-policy-agent/opa",
            Binary::NpGuard => "github.com/np-guard/netpol-analyzer/cmd/netpolicy",
            Binary::Helm => "helm.sh/helm/v4/cmd/helm",
        }
    }

    fn module_dir(self) -> &'static str {
        match self {
            Binary::Etcd => "etcd",
            Binary::Opa => "opa",
            Binary::NpGuard => "npguard",
            Binary::Helm => "helm",
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
        if self == Binary::Helm {
            // Helm's own release build sets this; without it `helm version` says "v4.3".
            flags.push(format!(
                "-X helm.sh/helm/v4/internal/version.version=v{}",
                v.helm
            ));
        }
        flags.join(" ")
    }

    /// Environment for `go build`, on top of the common settings. np-guard's modules are
    /// served by the module proxy but absent from the checksum database, so the database
    /// is not asked about them (their hashes are pinned in the committed go.sum); this is
    /// set for that build only, keeping any `GONOSUMDB` the caller has.
    fn go_env(self) -> Vec<(&'static str, String)> {
        match self {
            Binary::NpGuard => {
                let mut patterns = "github.com/np-guard/*".to_owned();
                if let Some(existing) = std::env::var_os("GONOSUMDB")
                    && let Some(existing) = existing.to_str().filter(|e| !e.is_empty())
                {
                    patterns = format!("{existing},{patterns}");
                }
                vec![("GONOSUMDB", patterns)]
            }
            _ => Vec::new(),
        }
    }

    /// The argument that makes the binary print its version (or, for k8snetpolicy, which
    /// has no version command, its usage).
    fn version_arg(self) -> &'static str {
        match self {
            Binary::Opa | Binary::Helm => "version",
            Binary::NpGuard => "--help",
            _ => "--version",
        }
    }

    /// What the binary must print when run with [`Binary::version_arg`].
    fn expected_version(self, v: &Versions) -> String {
        match self {
            Binary::Etcd => format!("etcd Version: {}", v.etcd),
            Binary::Opa => format!("Version: {}", v.opa),
            Binary::Helm => format!("Version:\"v{}\"", v.helm),
            Binary::NpGuard => "k8snetpolicy [command]".to_owned(),
            _ => format!("Kubernetes v{}", v.kubernetes),
        }
    }

    /// The module line the Go build information must carry, for binaries whose output
    /// does not name their version.
    fn expected_build_info(self, v: &Versions) -> Option<String> {
        match self {
            Binary::NpGuard => Some(format!("\t{NPGUARD_MODULE}\tv{}\t", v.npguard)),
            _ => None,
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

    /// Path of one binary. The names of OPA and k8snetpolicy carry their versions, so
    /// pinning another one does not invalidate the (slow to build) Kubernetes binaries
    /// next to it.
    pub fn path(&self, binary: Binary) -> PathBuf {
        let bin = self.dir.join("bin");
        match binary {
            Binary::Opa => bin.join(format!("opa-v{}", self.versions.opa)),
            Binary::NpGuard => bin.join(format!("{}-v{}", binary.name(), self.versions.npguard)),
            Binary::Helm => bin.join(format!("helm-v{}", self.versions.helm)),
            _ => bin.join(binary.name()),
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
        let arg = binary.version_arg();
        let output = Command::new(path)
            .arg(arg)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| broken(format!("it does not run: {e}")))?;
        let text = String::from_utf8_lossy(&output.stdout);
        let expected = binary.expected_version(&self.versions);
        if !output.status.success() {
            return Err(broken(format!("`{arg}` exited with {}", output.status)));
        }
        if !text.contains(&expected) {
            let first = text.lines().next().unwrap_or("nothing");
            return Err(broken(format!(
                "`{arg}` printed {first:?}, expected {expected:?}"
            )));
        }
        if let Some(line) = binary.expected_build_info(&self.versions) {
            let info = go_build_info(path)
                .map_err(|e| broken(format!("its Go build information is unreadable: {e}")))?
                .ok_or_else(|| broken("it carries no Go build information".to_owned()))?;
            if !contains(&info, line.as_bytes()) {
                return Err(broken(format!(
                    "its Go build information does not name `{}`",
                    line.trim().replace('\t', " ")
                )));
            }
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
                .envs(binary.go_env())
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
            Binary::NpGuard => (versions::NPGUARD_GO_MOD, versions::NPGUARD_GO_SUM),
            Binary::Helm => (versions::HELM_GO_MOD, versions::HELM_GO_SUM),
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

/// The Go build information (`path`, `mod`, `dep`, `build` lines, as `go version -m`
/// prints them) of a Go executable: the `.go.buildinfo` section of an ELF file, or, for
/// any other format, the whole file (the lines are plain text in it). `None` when the
/// ELF file has no such section.
fn go_build_info(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    const SECTION: &[u8] = b".go.buildinfo";
    let mut file = std::fs::File::open(path)?;
    let mut header = [0u8; 64];
    let elf64_le = file.read_exact(&mut header).is_ok()
        && header[..4] == *b"\x7fELF"
        && header[4] == 2
        && header[5] == 1;
    if !elf64_le {
        return std::fs::read(path).map(Some);
    }
    let u16_at = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]) as usize;
    let u32_at = |b: &[u8], at: usize| {
        u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes")) as usize
    };
    let u64_at =
        |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"));
    let (shoff, shentsize, shnum, shstrndx) = (
        u64_at(&header, 0x28),
        u16_at(&header, 0x3a),
        u16_at(&header, 0x3c),
        u16_at(&header, 0x3e),
    );
    if shentsize < 0x28 || shstrndx >= shnum {
        return Ok(None);
    }
    let mut table = vec![0u8; shentsize * shnum];
    file.seek(SeekFrom::Start(shoff))?;
    file.read_exact(&mut table)?;
    let section = |i: usize| &table[i * shentsize..(i + 1) * shentsize];
    // Section contents, capped: the build information is a few kilobytes.
    let mut read = |sh: &[u8]| -> std::io::Result<Vec<u8>> {
        let len = u64_at(sh, 0x20).min(1 << 20);
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(u64_at(sh, 0x18)))?;
        (&mut file).take(len).read_to_end(&mut bytes)?;
        Ok(bytes)
    };
    let names = read(section(shstrndx))?;
    for i in 0..shnum {
        let sh = section(i);
        let name = names.get(u32_at(sh, 0)..).unwrap_or_default();
        if name.starts_with(SECTION) && name.get(SECTION.len()) == Some(&0) {
            return read(sh).map(Some);
        }
    }
    Ok(None)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
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
    fn npguard_is_keyed_by_its_version_and_alone_skips_the_checksum_database() {
        let v = Versions::pinned();
        let bins = Binaries::in_cache(Path::new("/cache"));
        assert_eq!(
            bins.path(Binary::NpGuard),
            bins.dir
                .join("bin")
                .join(format!("k8snetpolicy-v{}", v.npguard))
        );
        let env = Binary::NpGuard.go_env();
        assert!(
            env.iter()
                .any(|(k, val)| *k == "GONOSUMDB" && val.ends_with("github.com/np-guard/*")),
            "{env:?}"
        );
        for b in Binary::ALL.into_iter().filter(|b| *b != Binary::NpGuard) {
            assert!(b.go_env().is_empty(), "{b:?}");
        }
        assert_eq!(
            Binary::NpGuard.expected_build_info(&v).as_deref(),
            Some(format!("\tgithub.com/np-guard/netpol-analyzer\tv{}\t", v.npguard).as_str())
        );
    }

    #[test]
    fn go_build_info_is_read_from_the_executable() {
        // This test binary is ELF without Go build information.
        let me = std::env::current_exe().unwrap();
        assert_eq!(go_build_info(&me).unwrap(), None);
        // The go command itself is a Go executable with build information.
        let Ok(go) = find_go() else { return };
        let out = Command::new(go).args(["env", "GOROOT"]).output().unwrap();
        let goroot = String::from_utf8(out.stdout).unwrap();
        let info = go_build_info(&Path::new(goroot.trim()).join("bin").join("go"))
            .unwrap()
            .expect("go has build information");
        assert!(
            contains(&info, b"path\tcmd/go\n"),
            "{}",
            String::from_utf8_lossy(&info)
        );
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
