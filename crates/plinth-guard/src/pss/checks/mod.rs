//! The 19 Pod Security checks, one module each, and the table that says which version
//! of which check runs for a (level, version).
//!
//! A check is a list of versioned implementations; the newest one whose minimum version
//! is at or below the requested version applies. Restricted runs its own checks plus
//! every baseline check that no active restricted check overrides. Both lists run in one
//! fixed order: baseline check IDs sorted, then restricted check IDs sorted, which is
//! the order of upstream's messages. The lists are built once per process.

use std::sync::OnceLock;

use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EphemeralContainer, Lifecycle, PodSecurityContext, PodSpec, Probe,
    SecurityContext,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::level::{Level, MAX_MINOR};

mod allow_privilege_escalation;
mod app_armor_profile;
mod capabilities_baseline;
mod capabilities_restricted;
mod host_namespaces;
mod host_path_volumes;
mod host_ports;
mod host_probes_and_host_lifecycle;
mod privileged;
mod proc_mount;
mod proc_mount_restricted;
mod restricted_volumes;
mod run_as_non_root;
mod run_as_user;
mod se_linux_options;
mod seccomp_profile_baseline;
mod seccomp_profile_restricted;
mod sysctls;
mod windows_host_process;

/// What a failed check reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    pub reason: &'static str,
    pub detail: String,
}

impl Violation {
    pub(crate) fn new(reason: &'static str, detail: String) -> Option<Violation> {
        Some(Violation { reason, detail })
    }
}

/// One implementation of a check: `None` when the pod passes.
pub(crate) type CheckFn = fn(&ObjectMeta, &PodSpec) -> Option<Violation>;

/// An implementation of a check and the first version it applies to.
pub(crate) struct VersionedCheck {
    /// The first minor version (of major 1) this implementation applies to.
    pub min_minor: u64,
    pub run: CheckFn,
    /// Baseline checks this (restricted) implementation replaces while it is active.
    pub overrides: &'static [&'static str],
}

/// A check: its ID, level, and implementations by strictly increasing minimum version.
pub(crate) struct Check {
    pub id: &'static str,
    pub level: Level,
    pub versions: &'static [VersionedCheck],
}

/// Every check upstream registers by default.
pub(crate) const CHECKS: &[Check] = &[
    app_armor_profile::CHECK,
    capabilities_baseline::CHECK,
    host_namespaces::CHECK,
    host_path_volumes::CHECK,
    host_ports::CHECK,
    host_probes_and_host_lifecycle::CHECK,
    privileged::CHECK,
    proc_mount::CHECK,
    se_linux_options::CHECK,
    seccomp_profile_baseline::CHECK,
    sysctls::CHECK,
    windows_host_process::CHECK,
    allow_privilege_escalation::CHECK,
    capabilities_restricted::CHECK,
    proc_mount_restricted::CHECK,
    restricted_volumes::CHECK,
    run_as_non_root::CHECK,
    run_as_user::CHECK,
    seccomp_profile_restricted::CHECK,
];

/// A check implementation selected for a (level, version).
#[derive(Clone, Copy)]
pub(crate) struct ActiveCheck {
    pub id: &'static str,
    pub run: CheckFn,
}

struct Tables {
    /// Indexed by minor version, `0..=MAX_MINOR`.
    baseline: Vec<Vec<ActiveCheck>>,
    restricted: Vec<Vec<ActiveCheck>>,
}

/// The checks to run, in message order, for `level` at `minor` (already clamped to
/// [`MAX_MINOR`]). Privileged runs nothing.
pub(crate) fn active_checks(level: Level, minor: u64) -> &'static [ActiveCheck] {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    let tables = TABLES.get_or_init(build_tables);
    let by_minor = match level {
        Level::Privileged => return &[],
        Level::Baseline => &tables.baseline,
        Level::Restricted => &tables.restricted,
    };
    usize::try_from(minor)
        .ok()
        .and_then(|m| by_minor.get(m))
        .map_or(&[], Vec::as_slice)
}

/// The implementation of `check` active at `minor`, if the check exists there.
fn active_at(check: &Check, minor: u64) -> Option<&VersionedCheck> {
    check.versions.iter().rev().find(|v| v.min_minor <= minor)
}

fn build_tables() -> Tables {
    let mut ordered: Vec<&Check> = CHECKS.iter().collect();
    ordered.sort_by_key(|c| (c.level == Level::Restricted, c.id));
    let mut tables = Tables {
        baseline: Vec::new(),
        restricted: Vec::new(),
    };
    for minor in 0..=MAX_MINOR {
        let overridden: Vec<&str> = ordered
            .iter()
            .filter(|c| c.level == Level::Restricted)
            .filter_map(|c| active_at(c, minor))
            .flat_map(|v| v.overrides.iter().copied())
            .collect();
        let mut baseline = Vec::new();
        let mut restricted = Vec::new();
        for check in &ordered {
            let Some(versioned) = active_at(check, minor) else {
                continue;
            };
            let active = ActiveCheck {
                id: check.id,
                run: versioned.run,
            };
            if check.level == Level::Baseline {
                baseline.push(active);
                if !overridden.contains(&check.id) {
                    restricted.push(active);
                }
            } else {
                restricted.push(active);
            }
        }
        tables.baseline.push(baseline);
        tables.restricted.push(restricted);
    }
    tables
}

/// The fields every check reads from a container, for init, regular and ephemeral
/// containers alike.
#[derive(Clone, Copy)]
pub(crate) struct ContainerView<'a> {
    pub name: &'a str,
    pub security_context: Option<&'a SecurityContext>,
    pub ports: &'a [ContainerPort],
    pub liveness_probe: Option<&'a Probe>,
    pub readiness_probe: Option<&'a Probe>,
    pub startup_probe: Option<&'a Probe>,
    pub lifecycle: Option<&'a Lifecycle>,
}

impl<'a> From<&'a Container> for ContainerView<'a> {
    fn from(c: &'a Container) -> ContainerView<'a> {
        ContainerView {
            name: &c.name,
            security_context: c.security_context.as_ref(),
            ports: c.ports.as_deref().unwrap_or_default(),
            liveness_probe: c.liveness_probe.as_ref(),
            readiness_probe: c.readiness_probe.as_ref(),
            startup_probe: c.startup_probe.as_ref(),
            lifecycle: c.lifecycle.as_ref(),
        }
    }
}

impl<'a> From<&'a EphemeralContainer> for ContainerView<'a> {
    fn from(c: &'a EphemeralContainer) -> ContainerView<'a> {
        ContainerView {
            name: &c.name,
            security_context: c.security_context.as_ref(),
            ports: c.ports.as_deref().unwrap_or_default(),
            liveness_probe: c.liveness_probe.as_ref(),
            readiness_probe: c.readiness_probe.as_ref(),
            startup_probe: c.startup_probe.as_ref(),
            lifecycle: c.lifecycle.as_ref(),
        }
    }
}

/// Every container in upstream's visiting order: init containers, containers, then
/// ephemeral containers, each in array order.
pub(crate) fn containers(spec: &PodSpec) -> impl Iterator<Item = ContainerView<'_>> {
    let init = spec.init_containers.as_deref().unwrap_or_default();
    let ephemeral = spec.ephemeral_containers.as_deref().unwrap_or_default();
    init.iter()
        .map(ContainerView::from)
        .chain(spec.containers.iter().map(ContainerView::from))
        .chain(ephemeral.iter().map(ContainerView::from))
}

/// The pod-level security context, if set.
pub(crate) fn pod_security_context(spec: &PodSpec) -> Option<&PodSecurityContext> {
    spec.security_context.as_ref()
}

/// `spec.os.name` is exactly `windows`.
pub(crate) fn is_windows(spec: &PodSpec) -> bool {
    spec.os.as_ref().is_some_and(|os| os.name == "windows")
}

/// `spec.hostUsers` is set to `false`: the pod runs in a user namespace.
pub(crate) fn in_user_namespace(spec: &PodSpec) -> bool {
    spec.host_users == Some(false)
}

/// `"a", "b"`: each item in double quotes (not escaped), separated by `, `.
pub(crate) fn join_quote<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for (i, item) in items.into_iter().enumerate() {
        out.push_str(if i == 0 { "\"" } else { "\", \"" });
        out.push_str(item);
    }
    if !out.is_empty() {
        out.push('"');
    }
    out
}

/// `singular` when `count` is 1, else `plural`.
pub(crate) fn pluralize(
    singular: &'static str,
    plural: &'static str,
    count: usize,
) -> &'static str {
    if count == 1 { singular } else { plural }
}

/// `container "a"` or `containers "a", "b"`.
pub(crate) fn containers_phrase(names: &[&str]) -> String {
    format!(
        "{} {}",
        pluralize("container", "containers", names.len()),
        join_quote(names.iter().copied())
    )
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn registry_is_valid() {
        let mut ids = BTreeSet::new();
        for check in CHECKS {
            assert!(ids.insert(check.id), "duplicate check {}", check.id);
            assert_ne!(check.level, Level::Privileged, "{}", check.id);
            assert!(!check.versions.is_empty(), "{}", check.id);
            for w in check.versions.windows(2) {
                assert!(w[0].min_minor < w[1].min_minor, "{}", check.id);
            }
        }
        for check in CHECKS {
            for v in check.versions {
                if !v.overrides.is_empty() {
                    assert_eq!(check.level, Level::Restricted, "{}", check.id);
                }
                for o in v.overrides {
                    let target = CHECKS
                        .iter()
                        .find(|c| c.id == *o)
                        .expect("overrides a check");
                    assert_eq!(target.level, Level::Baseline, "{} overrides {o}", check.id);
                }
            }
        }
        let newest = CHECKS
            .iter()
            .filter_map(|c| c.versions.last())
            .map(|v| v.min_minor)
            .max();
        assert_eq!(newest, Some(MAX_MINOR));
    }

    fn ids(level: Level, minor: u64) -> Vec<&'static str> {
        active_checks(level, minor).iter().map(|c| c.id).collect()
    }

    #[test]
    fn check_selection_by_version() {
        let baseline_v0 = [
            "appArmorProfile",
            "capabilities_baseline",
            "hostNamespaces",
            "hostPathVolumes",
            "hostPorts",
            "privileged",
            "procMount",
            "seLinuxOptions",
            "seccompProfile_baseline",
            "sysctls",
            "windowsHostProcess",
        ];
        assert_eq!(ids(Level::Baseline, 0), baseline_v0);
        assert_eq!(ids(Level::Baseline, 33), baseline_v0);
        let mut baseline_v34 = baseline_v0.to_vec();
        baseline_v34.insert(5, "hostProbesAndHostLifecycle");
        assert_eq!(ids(Level::Baseline, 34), baseline_v34);
        assert_eq!(ids(Level::Baseline, 37), baseline_v34);

        let restricted = |minor| ids(Level::Restricted, minor).join(" ");
        let base = "appArmorProfile capabilities_baseline hostNamespaces hostPorts privileged procMount seLinuxOptions seccompProfile_baseline sysctls windowsHostProcess";
        assert_eq!(
            restricted(0),
            format!("{base} restrictedVolumes runAsNonRoot")
        );
        assert_eq!(restricted(7), restricted(0));
        assert_eq!(
            restricted(8),
            format!("{base} allowPrivilegeEscalation restrictedVolumes runAsNonRoot")
        );
        assert_eq!(restricted(18), restricted(8));
        assert_eq!(
            restricted(19),
            "appArmorProfile capabilities_baseline hostNamespaces hostPorts privileged procMount seLinuxOptions sysctls windowsHostProcess allowPrivilegeEscalation restrictedVolumes runAsNonRoot seccompProfile_restricted"
        );
        assert_eq!(
            restricted(22),
            "appArmorProfile hostNamespaces hostPorts privileged procMount seLinuxOptions sysctls windowsHostProcess allowPrivilegeEscalation capabilities_restricted restrictedVolumes runAsNonRoot seccompProfile_restricted"
        );
        assert_eq!(
            restricted(23),
            "appArmorProfile hostNamespaces hostPorts privileged procMount seLinuxOptions sysctls windowsHostProcess allowPrivilegeEscalation capabilities_restricted restrictedVolumes runAsNonRoot runAsUser seccompProfile_restricted"
        );
        assert_eq!(restricted(33), restricted(23));
        assert_eq!(
            restricted(34),
            "appArmorProfile hostNamespaces hostPorts hostProbesAndHostLifecycle privileged procMount seLinuxOptions sysctls windowsHostProcess allowPrivilegeEscalation capabilities_restricted restrictedVolumes runAsNonRoot runAsUser seccompProfile_restricted"
        );
        assert_eq!(
            restricted(35),
            "appArmorProfile hostNamespaces hostPorts hostProbesAndHostLifecycle privileged seLinuxOptions sysctls windowsHostProcess allowPrivilegeEscalation capabilities_restricted procMount_restricted restrictedVolumes runAsNonRoot runAsUser seccompProfile_restricted"
        );
        assert_eq!(restricted(37), restricted(35));
        assert!(ids(Level::Privileged, 37).is_empty());
        assert!(ids(Level::Restricted, MAX_MINOR + 1).is_empty());
    }

    #[test]
    fn helpers() {
        assert_eq!(join_quote([]), "");
        assert_eq!(join_quote(["a"]), "\"a\"");
        assert_eq!(join_quote(["a", "b\""]), "\"a\", \"b\"\"");
        assert_eq!(containers_phrase(&["x"]), "container \"x\"");
        assert_eq!(containers_phrase(&["x", "y"]), "containers \"x\", \"y\"");
    }
}
