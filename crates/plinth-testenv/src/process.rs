//! Child processes that never outlive what they serve.
//!
//! Test control planes are *tied* to the test process: they are spawned from one
//! dedicated thread that lives as long as the process, with `PR_SET_PDEATHSIG` set to
//! `SIGKILL`, so the kernel kills them when the test process ends for any reason (normal
//! exit, panic, abort, `SIGKILL`) even though a shared control plane held in a `static`
//! is never dropped. (The death signal fires when the *thread* that forked the child
//! exits, which is why spawning happens on that long-lived thread and not on a test's.)
//!
//! `plinth dev` control planes are *detached*: their own process group, no death signal,
//! found again through a state file and stopped by pid.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

use crate::error::{Error, io_err};

/// Whether a child dies with this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// Killed by the kernel when this process ends (tests).
    Tied,
    /// Runs on after this process ends, in its own process group (`plinth dev up`).
    Detached,
}

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// The long-lived thread that forks tied children.
fn spawner() -> &'static mpsc::Sender<SpawnRequest> {
    static SPAWNER: OnceLock<mpsc::Sender<SpawnRequest>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("plinth-testenv-spawner".into())
            .spawn(move || {
                // The sender lives in a static, so this loop ends only with the process.
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .map(|_| ())
            .unwrap_or_else(|e| tracing::error!(error = %e, "cannot start the spawner thread"));
        tx
    })
}

/// Asks the kernel to kill the child when the spawning thread (the spawner) exits.
#[allow(unsafe_code)]
fn die_with_parent(cmd: &mut Command) {
    let parent = nix::unistd::getpid();
    // SAFETY: `pre_exec` runs the closure in the forked child before `exec`, where only
    // async-signal-safe operations are allowed. The closure calls prctl(2) and getppid(2)
    // (both async-signal-safe system calls, through nix's thin wrappers) and builds an
    // `io::Error` from a raw errno, which does not allocate. It takes no locks, touches
    // no memory shared with the parent and never unwinds.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Some(Signal::SIGKILL))
                .map_err(|errno| io::Error::from_raw_os_error(errno as i32))?;
            // The parent may have died between fork and prctl; then nobody would kill us.
            if nix::unistd::getppid() != parent {
                return Err(io::Error::from_raw_os_error(nix::libc::ESRCH));
            }
            Ok(())
        });
    }
}

/// A running child process with its log file.
#[derive(Debug)]
pub struct Process {
    name: &'static str,
    pid: u32,
    child: Option<Child>,
    log: PathBuf,
}

impl Process {
    /// Starts `cmd` with stdout and stderr appended to `log`.
    pub(crate) fn spawn(
        name: &'static str,
        mut cmd: Command,
        log: &Path,
        lifetime: Lifetime,
    ) -> Result<Process, Error> {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .map_err(io_err(log))?;
        let err = out.try_clone().map_err(io_err(log))?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let spawn_failed = |e: io::Error| Error::Startup {
            component: name,
            problem: format!("could not start {}: {e}", cmd_program(name)),
            log: log.to_owned(),
            tail: String::new(),
        };
        let child = match lifetime {
            Lifetime::Detached => {
                cmd.process_group(0);
                cmd.spawn().map_err(spawn_failed)?
            }
            Lifetime::Tied => {
                die_with_parent(&mut cmd);
                let (tx, rx) = mpsc::channel();
                spawner()
                    .send((cmd, tx))
                    .map_err(|_| spawn_failed(io::Error::other("spawner thread is gone")))?;
                rx.recv()
                    .map_err(|_| spawn_failed(io::Error::other("spawner thread is gone")))?
                    .map_err(spawn_failed)?
            }
        };
        Ok(Process {
            name,
            pid: child.id(),
            child: Some(child),
            log: log.to_owned(),
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The component name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// The exit status, if the process has ended.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Stops the process: `SIGTERM`, up to `grace` to exit, then `SIGKILL`; reaps it.
    pub fn stop(&mut self, grace: Duration) {
        if let Some(mut child) = self.child.take() {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = signal::kill(pid_of(self.pid), Signal::SIGTERM);
                let deadline = Instant::now() + grace;
                while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                    std::thread::sleep(Duration::from_millis(50));
                }
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }

    /// Lets the process run on after this handle is gone; returns its pid.
    pub fn detach(mut self) -> u32 {
        self.child = None;
        self.pid
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(5));
    }
}

fn cmd_program(name: &str) -> String {
    format!("the {name} binary")
}

fn pid_of(pid: u32) -> Pid {
    Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX))
}

/// Whether a process with this pid exists and is not a zombie.
pub fn is_alive(pid: u32) -> bool {
    if signal::kill(pid_of(pid), None).is_err() {
        return false;
    }
    // A zombie still answers signal 0; its state in /proc/PID/stat is 'Z'.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next())
            .is_none_or(|state| state != 'Z'),
        Err(_) => true,
    }
}

/// The executable name of a running process (`/proc/PID/comm`).
pub fn process_name(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Stops a process we are not the parent of (a detached control plane), but only if it
/// is still the program we started (`expected` prefix of its name), so a recycled pid is
/// never signalled. Returns whether the process is gone.
pub fn stop_pid(pid: u32, expected: &str, grace: Duration) -> bool {
    if !is_alive(pid) {
        return true;
    }
    // /proc/PID/comm is truncated to 15 characters.
    let expected = &expected[..expected.len().min(15)];
    if process_name(pid).is_none_or(|n| !n.starts_with(expected)) {
        return true;
    }
    let _ = signal::kill(pid_of(pid), Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !is_alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = signal::kill(pid_of(pid), Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if !is_alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// The last `lines` lines of a log file (at most the last 64 KiB are read).
pub fn tail(path: &Path, lines: usize) -> String {
    let Ok(mut file) = File::open(path) else {
        return format!("(no log at {})", path.display());
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(64 * 1024);
    if file.seek(SeekFrom::Start(start)).is_err() {
        return String::new();
    }
    let mut buf = Vec::new();
    if file.read_to_end(&mut buf).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tied_child_is_stopped_and_reaped() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sleep");
        cmd.arg("60");
        let mut p = Process::spawn("sleep", cmd, &dir.path().join("log"), Lifetime::Tied).unwrap();
        let pid = p.pid();
        assert!(is_alive(pid));
        assert_eq!(process_name(pid).as_deref(), Some("sleep"));
        p.stop(Duration::from_secs(2));
        assert!(!is_alive(pid));
    }

    #[test]
    fn stop_pid_refuses_other_programs() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sleep");
        cmd.arg("60");
        let p = Process::spawn("sleep", cmd, &dir.path().join("log"), Lifetime::Tied).unwrap();
        let pid = p.pid();
        // Not the program we were told about: left alone.
        assert!(stop_pid(pid, "etcd", Duration::from_secs(1)));
        assert!(is_alive(pid));
        assert!(stop_pid(pid, "sleep", Duration::from_secs(2)));
        drop(p);
        assert!(!is_alive(pid));
    }

    #[test]
    fn tail_returns_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        std::fs::write(&log, "a\nb\nc\nd\n").unwrap();
        assert_eq!(tail(&log, 2), "c\nd");
        assert!(tail(&dir.path().join("none"), 2).contains("no log"));
    }
}
