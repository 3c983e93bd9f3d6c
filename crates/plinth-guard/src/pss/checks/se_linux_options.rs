//! `seLinuxOptions` (baseline, v1.0): SELinux `type` must be one of the container types,
//! and `user` and `role` must not be set. v1.31 adds `container_engine_t`.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{PodSpec, SELinuxOptions};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{
    Check, VersionedCheck, Violation, containers, containers_phrase, join_quote, pluralize,
    pod_security_context,
};
use crate::pss::level::Level;

pub(super) const CHECK: Check = Check {
    id: "seLinuxOptions",
    level: Level::Baseline,
    versions: &[
        VersionedCheck {
            min_minor: 0,
            run: v1_0,
            overrides: &[],
        },
        VersionedCheck {
            min_minor: 31,
            run: v1_31,
            overrides: &[],
        },
    ],
};

const TYPES_1_0: &[&str] = &["", "container_t", "container_init_t", "container_kvm_t"];
const TYPES_1_31: &[&str] = &[
    "",
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

fn v1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    check(spec, TYPES_1_0)
}

fn v1_31(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    check(spec, TYPES_1_31)
}

/// What is wrong across all the options checked so far.
#[derive(Default)]
struct Findings<'a> {
    bad_types: BTreeSet<&'a str>,
    set_user: bool,
    set_role: bool,
}

impl<'a> Findings<'a> {
    /// Records what is wrong with `opts`; true if anything is. All three rules are
    /// evaluated.
    fn record(&mut self, opts: &'a SELinuxOptions, allowed_types: &[&str]) -> bool {
        let mut valid = true;
        let selinux_type = opts.type_.as_deref().unwrap_or_default();
        if !allowed_types.contains(&selinux_type) {
            valid = false;
            self.bad_types.insert(selinux_type);
        }
        if opts.user.as_deref().is_some_and(|u| !u.is_empty()) {
            valid = false;
            self.set_user = true;
        }
        if opts.role.as_deref().is_some_and(|r| !r.is_empty()) {
            valid = false;
            self.set_role = true;
        }
        !valid
    }
}

fn check(spec: &PodSpec, allowed_types: &[&str]) -> Option<Violation> {
    let mut findings = Findings::default();
    let mut setters = Vec::new();
    if let Some(opts) = pod_security_context(spec).and_then(|sc| sc.se_linux_options.as_ref())
        && findings.record(opts, allowed_types)
    {
        setters.push("pod".to_owned());
    }
    let mut bad_containers = Vec::new();
    for c in containers(spec) {
        if let Some(opts) = c
            .security_context
            .and_then(|sc| sc.se_linux_options.as_ref())
            && findings.record(opts, allowed_types)
        {
            bad_containers.push(c.name);
        }
    }
    if !bad_containers.is_empty() {
        setters.push(containers_phrase(&bad_containers));
    }
    if setters.is_empty() {
        return None;
    }
    let mut data = Vec::new();
    if !findings.bad_types.is_empty() {
        data.push(format!(
            "{} {}",
            pluralize("type", "types", findings.bad_types.len()),
            join_quote(findings.bad_types.iter().copied())
        ));
    }
    if findings.set_user {
        data.push("user may not be set".to_owned());
    }
    if findings.set_role {
        data.push("role may not be set".to_owned());
    }
    Violation::new(
        "seLinuxOptions",
        format!(
            "{} set forbidden securityContext.seLinuxOptions: {}",
            setters.join(" and "),
            data.join("; ")
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
        let pod = json!({"spec": {
            "securityContext": {"seLinuxOptions": {"type": "foo", "level": "s0"}},
            "containers": [
                {"name": "ok", "securityContext": {"seLinuxOptions": {"type": "container_t", "level": "anything"}}},
                {"name": "e", "securityContext": {"seLinuxOptions": {"type": "bar"}}},
                {"name": "f", "securityContext": {"seLinuxOptions": {"user": "u"}}},
                {"name": "g", "securityContext": {"seLinuxOptions": {"role": "r", "type": "foo"}}},
            ],
        }});
        assert_eq!(
            outcome(v1_0, pod).as_deref(),
            Some(
                r#"seLinuxOptions (pod and containers "e", "f", "g" set forbidden securityContext.seLinuxOptions: types "bar", "foo"; user may not be set; role may not be set)"#
            )
        );
        let pod = json!({"spec": {
            "securityContext": {"seLinuxOptions": {"type": "container_engine_t"}},
            "containers": [{"name": "c", "securityContext": {"seLinuxOptions": {"type": "foo", "role": "r"}}}],
        }});
        assert_eq!(
            outcome(v1_0, pod.clone()).as_deref(),
            Some(
                r#"seLinuxOptions (pod and container "c" set forbidden securityContext.seLinuxOptions: types "container_engine_t", "foo"; role may not be set)"#
            )
        );
        assert_eq!(
            outcome(v1_31, pod).as_deref(),
            Some(
                r#"seLinuxOptions (container "c" set forbidden securityContext.seLinuxOptions: type "foo"; role may not be set)"#
            )
        );
        assert_eq!(
            outcome(v1_0, json!({"spec": {"securityContext": {"seLinuxOptions": {"user": "u"}}, "containers": []}})).as_deref(),
            Some("seLinuxOptions (pod set forbidden securityContext.seLinuxOptions: user may not be set)")
        );
    }
}
