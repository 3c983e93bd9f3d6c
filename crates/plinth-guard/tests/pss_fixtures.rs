//! Upstream's Pod Security conformance fixtures, evaluated by plinth's engine.
//!
//! `k8s.io/pod-security-admission` ships `test/testdata/{level}/v1.{N}/{pass,fail}/*.yaml`:
//! pods that must be allowed (`pass`) or denied (`fail`) at exactly that level and
//! version. The module is taken from the Go module proxy at the version matching the
//! pinned Kubernetes (1.X.Y → v0.X.Y), so no fixture is committed here.
//!
//! Each fixture is checked the way upstream's integration harness (`test/run.go`) checks
//! it against a real API server, minus the server:
//! - the pod is evaluated at its directory's level and version;
//! - a pod create in a namespace labelled `enforce` and `warn` at that level and version
//!   is allowed for `pass` fixtures and denied for `fail` fixtures, with a message that
//!   contains the check's expected text and never `unknown forbidden reason`;
//! - a Deployment create with the pod as template is always allowed, without warnings
//!   for `pass` fixtures and with a warning containing the expected text for `fail`.
//!
//! Every disagreement is collected before the test fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{EmptyDirVolumeSource, Pod, Volume};
use plinth_guard::pss::{
    Cluster, Config, Level, LevelVersion, MAX_MINOR, Operation, Request, Version, evaluate,
    validate,
};
use serde_json::json;

const MODULE: &str = "k8s.io/pod-security-admission";

/// The Go module version of the pinned Kubernetes: `1.37.2` → `v0.37.2`.
fn module_version() -> String {
    let kubernetes = plinth_testenv::Versions::pinned().kubernetes;
    let rest = kubernetes
        .strip_prefix("1.")
        .unwrap_or_else(|| panic!("Kubernetes version {kubernetes} is not 1.x.y"));
    format!("v0.{rest}")
}

/// The text a failing fixture's message must contain, by file prefix (upstream's
/// `expectErrorSubstring`, which defaults to the check ID).
fn expected_substring(prefix: &str) -> Option<&'static str> {
    Some(match prefix {
        "allowprivilegeescalation" => "allowPrivilegeEscalation",
        "apparmorprofile" => "forbidden AppArmor profile",
        "capabilities_baseline" => "capabilities",
        "capabilities_restricted" => "unrestricted capabilities",
        "hostnamespaces" => "host namespaces",
        "hostpathvolumes" => "hostPath",
        "hostports" => "hostPort",
        "hostprobesandhostlifecycle" => "probe or lifecycle host",
        "privileged" => "privileged",
        "procmount" | "procmount_restricted" => "procMount",
        "restrictedvolumes" => "restricted volume types",
        "runasnonroot" => "runAsNonRoot",
        "runasuser" => "runAsUser",
        "selinuxoptions" => "seLinuxOptions",
        "seccompprofile_baseline" | "seccompprofile_restricted" => "seccompProfile",
        "sysctls" => "forbidden sysctl",
        "windowshostprocess" => "hostProcess",
        _ => return None,
    })
}

/// The one piece of API-server defaulting the fixtures rely on: a volume without any
/// source is stored as `emptyDir: {}` (core/v1 `SetDefaults_Volume`), so upstream's
/// harness never shows Pod Security a source-less volume. Nothing else is defaulted.
fn apply_api_server_defaults(pod: &mut Pod) {
    let volumes = pod
        .spec
        .iter_mut()
        .flat_map(|s| s.volumes.iter_mut().flatten());
    for volume in volumes {
        let name_only = Volume {
            name: volume.name.clone(),
            ..Volume::default()
        };
        if *volume == name_only {
            volume.empty_dir = Some(EmptyDirVolumeSource::default());
        }
    }
}

/// Namespace labels for every `podsecurity-{level}-1-{minor}` namespace, as upstream's
/// harness creates them.
struct Namespaces;

impl Cluster for Namespaces {
    fn namespace_labels(&self, name: &str) -> Result<BTreeMap<String, String>, String> {
        let rest = name
            .strip_prefix("podsecurity-")
            .ok_or_else(|| format!("namespaces {name:?} not found"))?;
        let (level, minor) = rest
            .split_once("-1-")
            .ok_or_else(|| format!("namespaces {name:?} not found"))?;
        let version = format!("v1.{minor}");
        Ok([
            ("enforce", level),
            ("enforce-version", version.as_str()),
            ("warn", level),
            ("warn-version", version.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (format!("pod-security.kubernetes.io/{k}"), v.to_owned()))
        .collect())
    }

    fn pods(&self, _: &str) -> Result<Vec<Pod>, String> {
        Ok(Vec::new())
    }
}

struct Fixture {
    /// Relative to `test/testdata`, e.g. `restricted/v1.37/fail/hostports2.yaml`.
    rel: String,
    path: PathBuf,
    lv: LevelVersion,
    pass: bool,
    /// The file name without its index, e.g. `hostports`.
    prefix: String,
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .collect();
    entries.sort();
    entries
}

fn fixtures(testdata: &Path) -> Vec<Fixture> {
    let mut found = Vec::new();
    for (level, level_name) in [
        (Level::Baseline, "baseline"),
        (Level::Restricted, "restricted"),
    ] {
        for minor in 0..=MAX_MINOR {
            let version = format!("v1.{minor}");
            for (pass, outcome) in [(true, "pass"), (false, "fail")] {
                let dir = testdata.join(level_name).join(&version).join(outcome);
                let files: Vec<PathBuf> = sorted_entries(&dir)
                    .into_iter()
                    .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
                    .collect();
                assert!(!files.is_empty(), "no fixtures in {}", dir.display());
                for path in files {
                    let stem = path
                        .file_stem()
                        .and_then(|s| s.to_str())
                        .unwrap_or_default()
                        .to_owned();
                    found.push(Fixture {
                        rel: format!("{level_name}/{version}/{outcome}/{stem}.yaml"),
                        prefix: stem
                            .trim_end_matches(|c: char| c.is_ascii_digit())
                            .to_owned(),
                        path,
                        lv: LevelVersion::new(level, Version::Minor(minor)),
                        pass,
                    });
                }
            }
        }
    }
    // Nothing outside the walked directories.
    for level in sorted_entries(testdata).into_iter().filter(|p| p.is_dir()) {
        for version in sorted_entries(&level) {
            let name = version
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let minor: Option<u64> = name.strip_prefix("v1.").and_then(|m| m.parse().ok());
            assert!(
                minor.is_some_and(|m| m <= MAX_MINOR),
                "unexpected fixture directory {}",
                version.display()
            );
        }
    }
    found
}

/// What is wrong with plinth's verdict on one fixture, if anything.
fn disagreement(fixture: &Fixture) -> Option<String> {
    let text = std::fs::read_to_string(&fixture.path).map_err(|e| e.to_string());
    let mut pod: Pod =
        match text.and_then(|t| serde_saphyr::from_str(&t).map_err(|e| e.to_string())) {
            Ok(pod) => pod,
            Err(e) => return Some(format!("could not read the pod: {e}")),
        };
    if pod.metadata.name.as_deref() != fixture.path.file_stem().and_then(|s| s.to_str()) {
        return Some(format!("metadata.name is {:?}", pod.metadata.name));
    }
    apply_api_server_defaults(&mut pod);
    let expected = if fixture.pass {
        None
    } else {
        match expected_substring(&fixture.prefix) {
            Some(s) => Some(s),
            None => {
                return Some(format!(
                    "no expected message for fail fixture {}",
                    fixture.prefix
                ));
            }
        }
    };

    let spec = pod.spec.clone().unwrap_or_default();
    let result = evaluate(&fixture.lv, &pod.metadata, &spec);
    let detail = result.forbidden_detail();
    if result.allowed() != fixture.pass {
        return Some(format!(
            "evaluated at {}: expected {}, got {}",
            fixture.lv,
            if fixture.pass { "allowed" } else { "denied" },
            if result.allowed() {
                "allowed".to_owned()
            } else {
                format!("denied: {detail}")
            }
        ));
    }

    // Through admission, as upstream's harness does with dry-run creates.
    let Version::Minor(minor) = fixture.lv.version else {
        return Some("fixture version is not v1.N".to_owned());
    };
    let namespace = format!("podsecurity-{}-1-{minor}", fixture.lv.level);
    let mut pod_value = match serde_json::to_value(&pod) {
        Ok(v) => v,
        Err(e) => return Some(format!("could not serialize the pod: {e}")),
    };
    pod_value["metadata"]["name"] = json!("test");
    let deadline = Instant::now() + Duration::from_secs(10);
    let config = Config::default();
    let pod_request = Request {
        operation: Operation::Create,
        group: "",
        resource: "pods",
        subresource: "",
        name: "test",
        namespace: &namespace,
        username: "",
        object: Some(&pod_value),
        old_object: None,
    };
    let response = validate(&config, &pod_request, &Namespaces, deadline);
    let message = response
        .status
        .as_ref()
        .map(|s| s.message.clone())
        .unwrap_or_default();
    match expected {
        None if !response.allowed => return Some(format!("pod create denied: {message}")),
        None if !response.warnings.is_empty() => {
            return Some(format!("pod create warned: {:?}", response.warnings));
        }
        Some(want) if response.allowed || !message.contains(want) => {
            return Some(format!(
                "pod create: expected a denial mentioning {want:?}, got allowed={} {message:?}",
                response.allowed
            ));
        }
        _ => {}
    }
    if message.contains("unknown forbidden reason") {
        return Some(format!("pod create: {message}"));
    }

    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "test"},
        "spec": {
            "selector": {"matchLabels": {"app": "test"}},
            "template": {"metadata": pod_value["metadata"].clone(), "spec": pod_value["spec"].clone()},
        },
    });
    let deployment_request = Request {
        group: "apps",
        resource: "deployments",
        object: Some(&deployment),
        ..pod_request
    };
    let response = validate(&config, &deployment_request, &Namespaces, deadline);
    let warnings = response.warnings.join("; ");
    if !response.allowed {
        return Some(format!("deployment create denied: {:?}", response.status));
    }
    match expected {
        None if !warnings.is_empty() => Some(format!("deployment create warned: {warnings}")),
        Some(want) if !warnings.contains(want) => Some(format!(
            "deployment create: expected a warning mentioning {want:?}, got {warnings:?}"
        )),
        _ if warnings.contains("unknown forbidden reason") => {
            Some(format!("deployment create: {warnings}"))
        }
        _ => None,
    }
}

#[test]
fn upstream_fixtures_agree() {
    let version = module_version();
    let module = plinth_testenv::gomod::module_dir(MODULE, &version)
        .unwrap_or_else(|e| panic!("the fixtures come from {MODULE}@{version}: {e}"));
    let testdata = module.join("test").join("testdata");
    let fixtures = fixtures(&testdata);

    let mut disagreements = Vec::new();
    let mut agree: BTreeMap<Level, usize> = BTreeMap::new();
    for fixture in &fixtures {
        match disagreement(fixture) {
            Some(problem) => disagreements.push(format!("{}: {problem}", fixture.rel)),
            None => *agree.entry(fixture.lv.level).or_default() += 1,
        }
    }
    let agreed: usize = agree.values().sum();
    eprintln!(
        "pod security fixtures ({MODULE}@{version}): {agreed} agree (baseline {}, restricted {}), {} disagree",
        agree.get(&Level::Baseline).copied().unwrap_or_default(),
        agree.get(&Level::Restricted).copied().unwrap_or_default(),
        disagreements.len()
    );
    assert!(
        disagreements.is_empty(),
        "{} of {} fixtures disagree:\n{}",
        disagreements.len(),
        fixtures.len(),
        disagreements.join("\n")
    );
}
