//! `windowsHostProcess` (baseline, v1.0): no Windows HostProcess pods or containers.

use k8s_openapi::api::core::v1::{PodSpec, WindowsSecurityContextOptions};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{
    Check, VersionedCheck, Violation, containers, containers_phrase, pod_security_context,
};
use crate::pss::level::Level;

pub(super) const CHECK: Check = Check {
    id: "windowsHostProcess",
    level: Level::Baseline,
    versions: &[VersionedCheck {
        min_minor: 0,
        run: v1_0,
        overrides: &[],
    }],
};

fn host_process(options: Option<&WindowsSecurityContextOptions>) -> bool {
    options.and_then(|o| o.host_process) == Some(true)
}

fn v1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let bad: Vec<&str> = containers(spec)
        .filter(|c| {
            host_process(
                c.security_context
                    .and_then(|sc| sc.windows_options.as_ref()),
            )
        })
        .map(|c| c.name)
        .collect();
    let pod_bad =
        host_process(pod_security_context(spec).and_then(|sc| sc.windows_options.as_ref()));
    if !pod_bad && bad.is_empty() {
        return None;
    }
    let mut setters = Vec::new();
    if pod_bad {
        setters.push("pod".to_owned());
    }
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    Violation::new(
        "hostProcess",
        format!(
            "{} must not set securityContext.windowsOptions.hostProcess=true",
            setters.join(" and ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pss::checks::testing::outcome;
    use serde_json::json;

    #[test]
    fn messages() {
        let hp = json!({"windowsOptions": {"hostProcess": true}});
        assert_eq!(
            outcome(
                v1_0,
                json!({"spec": {"securityContext": hp, "containers": [
                    {"name": "d", "securityContext": {"windowsOptions": {"hostProcess": false}}},
                    {"name": "e", "securityContext": hp}, {"name": "f", "securityContext": hp},
                ]}})
            )
            .as_deref(),
            Some(
                r#"hostProcess (pod and containers "e", "f" must not set securityContext.windowsOptions.hostProcess=true)"#
            )
        );
        assert_eq!(
            outcome(
                v1_0,
                json!({"spec": {"securityContext": hp, "containers": []}})
            )
            .as_deref(),
            Some("hostProcess (pod must not set securityContext.windowsOptions.hostProcess=true)")
        );
    }
}
