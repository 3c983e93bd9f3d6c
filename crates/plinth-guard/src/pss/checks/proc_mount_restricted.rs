//! `procMount_restricted` (restricted, v1.35; replaces `procMount`): the unconditional
//! `procMount` rule, without baseline's user-namespace exemption.

use super::{Check, VersionedCheck, proc_mount};
use crate::pss::level::Level;

pub(super) const CHECK: Check = Check {
    id: "procMount_restricted",
    level: Level::Restricted,
    versions: &[VersionedCheck {
        min_minor: 35,
        run: proc_mount::v1_0,
        overrides: &[proc_mount::ID],
    }],
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pss::checks::testing::outcome;
    use serde_json::json;

    #[test]
    fn user_namespaces_are_not_exempt() {
        let pod = json!({"spec": {"hostUsers": false, "containers": [{"name": "c", "securityContext": {"procMount": "Unmasked"}}]}});
        assert_eq!(
            outcome(CHECK.versions[0].run, pod).as_deref(),
            Some(
                r#"procMount (container "c" must not set securityContext.procMount to "Unmasked")"#
            )
        );
    }
}
