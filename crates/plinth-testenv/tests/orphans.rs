//! A test process that dies — by panic or abort — takes its control plane with it.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use plinth_testenv::process::is_alive;

/// Set in the child test process: where to write the control plane's pids, and how to die.
const PIDS: &str = "PLINTH_ORPHAN_TEST_PIDS";
const HOW: &str = "PLINTH_ORPHAN_TEST_HOW";

#[test]
fn child_starts_a_control_plane_and_dies() {
    let Some(pid_file) = std::env::var_os(PIDS) else {
        return; // only meaningful inside the child started below
    };
    let env = plinth_testenv::shared();
    let pids: Vec<String> = env
        .control_plane()
        .pids()
        .iter()
        .map(ToString::to_string)
        .collect();
    std::fs::write(&pid_file, pids.join(" ")).expect("write pids");
    if std::env::var(HOW).as_deref() == Ok("abort") {
        std::process::abort();
    }
    panic!("deliberate panic while the shared control plane runs");
}

fn run_child(how: &str, dir: &Path) -> Vec<u32> {
    let pid_file = dir.join(format!("{how}.pids"));
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "child_starts_a_control_plane_and_dies"])
        .env(PIDS, &pid_file)
        .env(HOW, how)
        .output()
        .expect("run child test process");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "the child was meant to fail:\n{log}");
    let text = std::fs::read_to_string(&pid_file)
        .unwrap_or_else(|e| panic!("the child wrote no pids ({e}):\n{log}"));
    let pids: Vec<u32> = text
        .split_whitespace()
        .map(|p| p.parse().expect("pid"))
        .collect();
    assert_eq!(pids.len(), 2, "etcd and kube-apiserver: {text}");
    pids
}

fn assert_all_gone(pids: &[u32]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|p| is_alive(*p)) {
        assert!(
            Instant::now() < deadline,
            "orphaned control-plane processes: {pids:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn control_plane_dies_with_a_panicking_test_process() {
    if std::env::var_os(PIDS).is_some() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    assert_all_gone(&run_child("panic", dir.path()));
}

#[test]
fn control_plane_dies_with_an_aborting_test_process() {
    if std::env::var_os(PIDS).is_some() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    assert_all_gone(&run_child("abort", dir.path()));
}
