//! `plinth dev` and `plinth version` as a user runs them: the real binary, a real
//! control plane, exit codes and messages.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

use plinth_testenv::control_plane::free_port;
use plinth_testenv::process::is_alive;

fn plinth(args: &[&str], state: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(args)
        .env("PLINTH_STATE_DIR", state)
        .env_remove("KUBECONFIG")
        .output()
        .expect("run plinth")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn state_pids(state: &Path) -> Vec<u32> {
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(state.join("state.json")).expect("state.json"),
    )
    .expect("state.json is JSON");
    ["etcdPid", "apiserverPid"]
        .iter()
        .map(|k| {
            json[k]
                .as_u64()
                .and_then(|p| u32::try_from(p).ok())
                .expect("pid")
        })
        .collect()
}

/// Processes whose command line mentions the state directory.
fn processes_using(dir: &Path) -> Vec<u32> {
    let needle = format!("{}/", dir.display());
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            (String::from_utf8_lossy(&cmdline).contains(&needle) && is_alive(pid)).then_some(pid)
        })
        .collect()
}

#[test]
fn dev_up_is_idempotent_and_down_leaves_nothing() {
    let root = tempfile::tempdir().expect("tempdir");
    let state = root.path().join("dev");
    let port = free_port().expect("port").to_string();

    let out = plinth(&["dev", "up", "--port", &port], &state);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "dev up failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("status      running"), "{stdout}");
    assert!(
        stdout.contains(&format!("https://127.0.0.1:{port}")),
        "{stdout}"
    );
    assert!(stdout.contains("cluster-api"), "CRDs listed: {stdout}");
    let pids = state_pids(&state);
    assert!(pids.iter().all(|p| is_alive(*p)));

    let out = plinth(&["dev", "up", "--port", &port], &state);
    let (stdout, stderr) = text(&out);
    assert!(
        out.status.success(),
        "second dev up failed:\n{stdout}\n{stderr}"
    );
    assert!(stderr.contains("already running"), "{stderr}");
    assert_eq!(
        state_pids(&state),
        pids,
        "the second up must not start another"
    );
    let mut using = processes_using(&state);
    using.sort();
    let mut expected = pids.clone();
    expected.sort();
    assert_eq!(using, expected, "exactly one etcd and one kube-apiserver");

    let out = plinth(&["dev", "status", "-o", "json"], &state);
    assert!(out.status.success());
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    assert_eq!(status["running"], true);
    assert_eq!(
        status["serverVersion"],
        format!("v{}", plinth_testenv::Versions::pinned().kubernetes)
    );

    let out = plinth(&["dev", "env"], &state);
    let (stdout, _) = text(&out);
    let kubeconfig = state.join("kubeconfig");
    assert_eq!(
        stdout.trim(),
        format!("export KUBECONFIG={}", kubeconfig.display())
    );

    let out = plinth(
        &["version", "--kubeconfig", &kubeconfig.display().to_string()],
        &state,
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("Kubernetes API  1.37"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "server          v{}",
            plinth_testenv::Versions::pinned().kubernetes
        )),
        "{stdout}"
    );

    let out = plinth(&["dev", "down"], &state);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(pids.iter().all(|p| !is_alive(*p)), "processes left behind");
    assert!(processes_using(&state).is_empty());
    assert!(!state.exists(), "state left behind");

    let out = plinth(&["dev", "status"], &state);
    assert_eq!(out.status.code(), Some(1), "status of nothing running");
    let out = plinth(&["dev", "down"], &state);
    assert!(out.status.success(), "down twice is fine");
}

#[test]
fn dev_up_on_a_busy_port_fails_cleanly() {
    let root = tempfile::tempdir().expect("tempdir");
    let state = root.path().join("dev");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port().to_string();
    let out = plinth(&["dev", "up", "--port", &port], &state);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let error: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(error.len(), 1, "{stderr}");
    assert!(
        error[0].contains(&format!("127.0.0.1:{port} is already in use"))
            && error[0].contains("--port"),
        "{stderr}"
    );
    assert!(!state.exists(), "no state left behind");
}

#[test]
fn dev_up_with_a_broken_cache_fails_cleanly() {
    let root = tempfile::tempdir().expect("tempdir");
    let state = root.path().join("dev");
    let cache = root.path().join("cache");
    let bins = plinth_testenv::Binaries::in_cache(&cache);
    std::fs::create_dir_all(bins.dir.join("bin")).expect("mkdir");
    for b in plinth_testenv::Binary::ALL {
        std::fs::write(bins.path(b), "#!/bin/sh\necho v0.0.0-master\n").expect("write");
    }
    let port = free_port().expect("port").to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(["dev", "up", "--port", &port])
        .env("PLINTH_STATE_DIR", &state)
        .env("PLINTH_CACHE_DIR", &cache)
        .output()
        .expect("run plinth");
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: the cached binary"), "{stderr}");
    assert!(
        stderr.contains("is broken") && stderr.contains("delete"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(!state.exists(), "no state left behind");
}

#[test]
fn bad_kubeconfig_input_is_one_clear_line_and_exit_2() {
    let root = tempfile::tempdir().expect("tempdir");
    let state = root.path().join("dev");
    let missing = root.path().join("missing.yaml");
    let unreachable_port = free_port().expect("port");
    let kubeconfig = root.path().join("kc.yaml");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: lab\nclusters:\n- name: lab\n  cluster: {{server: 'https://127.0.0.1:{unreachable_port}', insecure-skip-tls-verify: true}}\ncontexts:\n- name: lab\n  context: {{cluster: lab, user: u}}\nusers:\n- name: u\n  user: {{token: t}}\n"
        ),
    )
    .expect("write kubeconfig");
    let kc = kubeconfig.display().to_string();
    let cases: Vec<(Vec<&str>, Vec<String>)> = vec![
        (
            vec!["version", "--kubeconfig", missing.to_str().expect("utf8")],
            vec![missing.display().to_string(), "does not exist".into()],
        ),
        (
            vec!["version", "--kubeconfig", &kc, "--context", "prod"],
            vec!["\"prod\"".into(), kc.clone(), "lab".into()],
        ),
        (
            vec!["version", "--kubeconfig", &kc],
            vec![
                format!("https://127.0.0.1:{unreachable_port}"),
                "context \"lab\"".into(),
                "cannot reach".into(),
            ],
        ),
    ];
    for (args, needles) in cases {
        let out = plinth(&args, &state);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stdout}{stderr}");
        assert!(
            stdout.is_empty(),
            "no partial output for {args:?}: {stdout}"
        );
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        for n in needles {
            assert!(stderr.contains(&n), "{args:?}: {stderr:?} lacks {n:?}");
        }
    }
}
