//! `hostPathVolumes` (baseline, v1.0): no `hostPath` volumes. Replaced at restricted by
//! `restrictedVolumes`.

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{Check, VersionedCheck, Violation, join_quote, pluralize};
use crate::pss::level::Level;

pub(super) const ID: &str = "hostPathVolumes";

pub(super) const CHECK: Check = Check {
    id: ID,
    level: Level::Baseline,
    versions: &[VersionedCheck {
        min_minor: 0,
        run: v1_0,
        overrides: &[],
    }],
};

fn v1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let names: Vec<&str> = spec
        .volumes
        .iter()
        .flatten()
        .filter(|v| v.host_path.is_some())
        .map(|v| v.name.as_str())
        .collect();
    if names.is_empty() {
        return None;
    }
    Violation::new(
        "hostPath volumes",
        format!(
            "{} {}",
            pluralize("volume", "volumes", names.len()),
            join_quote(names.iter().copied())
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
        assert_eq!(
            outcome(
                v1_0,
                json!({"spec": {"containers": [], "volumes": [
                    {"name": "a", "hostPath": {"path": "/a"}},
                    {"name": "ok", "emptyDir": {}},
                    {"name": "b", "hostPath": {"path": "/b"}, "configMap": {"name": "x"}},
                ]}})
            )
            .as_deref(),
            Some(r#"hostPath volumes (volumes "a", "b")"#)
        );
        assert_eq!(
            outcome(v1_0, json!({"spec": {"containers": [], "volumes": [{"name": "v1", "hostPath": {"path": "/"}, "configMap": {}}]}})).as_deref(),
            Some(r#"hostPath volumes (volume "v1")"#)
        );
    }
}
