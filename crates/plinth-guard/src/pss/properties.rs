//! Property tests over generated pods, labels and strings: invariants that hold for
//! every input, on top of the exact examples in each module and the upstream fixtures.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::checks::testing::pod;
use super::*;

fn one_of(values: &'static [&'static str]) -> impl Strategy<Value = Value> {
    proptest::sample::select(values).prop_map(|s| json!(s))
}

/// Sets `key` in `object` when `value` is `Some`.
fn put(object: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        object.insert(key.to_owned(), v);
    }
}

fn security_context() -> impl Strategy<Value = Value> {
    (
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(prop_oneof![Just(json!(0)), Just(json!(1000))]),
        proptest::option::of(one_of(&["Default", "Unmasked", ""])),
        proptest::option::of(proptest::collection::vec(
            one_of(&["ALL", "all", "NET_RAW", "CHOWN", "NET_BIND_SERVICE"]),
            0..3,
        )),
        proptest::option::of(one_of(&["RuntimeDefault", "Localhost", "Unconfined", ""])),
        proptest::option::of(one_of(&["container_t", "spc_t", ""])),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(
            |(
                privileged,
                ape,
                user,
                proc_mount,
                caps,
                seccomp,
                selinux,
                non_root,
                host_process,
            )| {
                let mut sc = Map::new();
                put(&mut sc, "privileged", privileged.map(Value::from));
                put(&mut sc, "allowPrivilegeEscalation", ape.map(Value::from));
                put(&mut sc, "runAsUser", user);
                put(&mut sc, "runAsNonRoot", non_root.map(Value::from));
                put(&mut sc, "procMount", proc_mount);
                put(
                    &mut sc,
                    "capabilities",
                    caps.map(|c| json!({"add": c.clone(), "drop": c})),
                );
                put(
                    &mut sc,
                    "seccompProfile",
                    seccomp.map(|t| json!({"type": t})),
                );
                put(
                    &mut sc,
                    "seLinuxOptions",
                    selinux.map(|t| json!({"type": t})),
                );
                put(
                    &mut sc,
                    "windowsOptions",
                    host_process.map(|h| json!({"hostProcess": h})),
                );
                Value::Object(sc)
            },
        )
}

fn container() -> impl Strategy<Value = Value> {
    (
        one_of(&["a", "b", "c"]),
        proptest::option::of(security_context()),
        proptest::option::of(prop_oneof![Just(0), Just(80), Just(8080)]),
        proptest::option::of(one_of(&["", "localhost", "8.8.8.8"])),
    )
        .prop_map(|(name, sc, host_port, probe_host)| {
            let mut c = Map::new();
            c.insert("name".into(), name);
            put(&mut c, "securityContext", sc);
            put(
                &mut c,
                "ports",
                host_port.map(|p| json!([{"containerPort": 80, "hostPort": p}])),
            );
            put(
                &mut c,
                "livenessProbe",
                probe_host.map(|h| json!({"httpGet": {"host": h, "port": 80}})),
            );
            Value::Object(c)
        })
}

fn volume() -> impl Strategy<Value = Value> {
    proptest::sample::subsequence(
        vec![
            ("hostPath", json!({"path": "/"})),
            ("nfs", json!({"server": "s", "path": "/"})),
            ("configMap", json!({"name": "c"})),
            ("emptyDir", json!({})),
        ],
        0..3,
    )
    .prop_map(|sources| {
        let mut v = Map::new();
        v.insert("name".into(), json!("v"));
        for (key, source) in sources {
            v.insert(key.into(), source);
        }
        Value::Object(v)
    })
}

prop_compose! {
    fn pod_value()(
        host in proptest::option::of(any::<bool>()),
        host_users in proptest::option::of(any::<bool>()),
        os in proptest::option::of(one_of(&["linux", "windows", "Windows"])),
        pod_sc in proptest::option::of(security_context()),
        sysctl in proptest::option::of(one_of(&["kernel.shm_rmid_forced", "net.ipv4.tcp_rmem", "kernel.msgmax"])),
        init in proptest::collection::vec(container(), 0..2),
        containers in proptest::collection::vec(container(), 0..3),
        ephemeral in proptest::collection::vec(container(), 0..2),
        volumes in proptest::collection::vec(volume(), 0..3),
        annotation in proptest::option::of(one_of(&["runtime/default", "unconfined", "localhost/x", ""])),
    ) -> Value {
        let mut spec = Map::new();
        put(&mut spec, "hostNetwork", host.map(Value::from));
        put(&mut spec, "hostUsers", host_users.map(Value::from));
        put(&mut spec, "os", os.map(|name| json!({"name": name})));
        let mut pod_sc = pod_sc.unwrap_or_else(|| json!({}));
        if let (Some(name), Some(sc)) = (sysctl, pod_sc.as_object_mut()) {
            sc.insert("sysctls".into(), json!([{"name": name, "value": "1"}]));
        }
        // Containers only: the pod-level context has no such fields.
        if let Some(sc) = pod_sc.as_object_mut() {
            for key in ["privileged", "allowPrivilegeEscalation", "procMount", "capabilities"] {
                sc.remove(key);
            }
        }
        spec.insert("securityContext".into(), pod_sc);
        spec.insert("initContainers".into(), Value::from(init));
        spec.insert("containers".into(), Value::from(containers));
        spec.insert("ephemeralContainers".into(), Value::from(ephemeral));
        spec.insert("volumes".into(), Value::from(volumes));
        let mut annotations = Map::new();
        if let Some(a) = annotation {
            annotations.insert("container.apparmor.security.beta.kubernetes.io/a".into(), a.clone());
            annotations.insert("seccomp.security.alpha.kubernetes.io/pod".into(), a);
        }
        json!({"metadata": {"annotations": annotations}, "spec": spec})
    }
}

fn lv(level: Level, minor: u64) -> LevelVersion {
    LevelVersion::new(level, Version::Minor(minor))
}

proptest! {
    #[test]
    fn evaluations_are_consistent(value in pod_value(), minor in 0..=MAX_MINOR) {
        let (meta, spec) = pod(value);
        for level in [Level::Baseline, Level::Restricted] {
            let at = lv(level, minor);
            let result = evaluate(&at, &meta, &spec);
            // Failures come from the selected checks, in their order, with messages.
            let ids = check_ids(&at);
            let mut positions = result.failures().iter().map(|f| ids.iter().position(|id| *id == f.id));
            prop_assert!(positions.all(|p| p.is_some()));
            let order: Vec<usize> = result.failures().iter().filter_map(|f| ids.iter().position(|id| *id == f.id)).collect();
            prop_assert!(order.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(result.failures().iter().all(|f| !f.reason.is_empty() && !f.detail.is_empty()));
            let reasons: Vec<&str> = result.failures().iter().map(|f| f.reason.as_str()).collect();
            prop_assert_eq!(result.forbidden_reason(), reasons.join(", "));
            prop_assert_eq!(result.allowed(), result.forbidden_detail().is_empty());
            // Deterministic.
            prop_assert_eq!(&result, &evaluate(&at, &meta, &spec));
        }
        prop_assert!(evaluate(&lv(Level::Privileged, minor), &meta, &spec).allowed());
    }

    #[test]
    fn newer_than_known_versions_mean_the_newest(value in pod_value(), beyond in (MAX_MINOR + 1)..10_000) {
        let (meta, spec) = pod(value);
        for level in [Level::Baseline, Level::Restricted] {
            let newest = evaluate(&lv(level, MAX_MINOR), &meta, &spec);
            prop_assert_eq!(&newest, &evaluate(&LevelVersion::new(level, Version::Latest), &meta, &spec));
            prop_assert_eq!(&newest, &evaluate(&lv(level, beyond), &meta, &spec));
        }
    }

    #[test]
    fn version_exemptions_hold(value in pod_value(), minor in 0..=MAX_MINOR) {
        let (meta, spec) = pod(value);
        let failed = |level, id: &str| {
            evaluate(&lv(level, minor), &meta, &spec).failures().iter().any(|f| f.id == id)
        };
        let windows = spec.os.as_ref().is_some_and(|os| os.name == "windows");
        if windows && minor >= 25 {
            for id in ["allowPrivilegeEscalation", "capabilities_restricted", "seccompProfile_restricted"] {
                prop_assert!(!failed(Level::Restricted, id), "{} failed for a Windows pod", id);
            }
        }
        if spec.host_users == Some(false) && minor >= 35 {
            prop_assert!(!failed(Level::Baseline, "procMount"));
            prop_assert!(!failed(Level::Restricted, "runAsNonRoot"));
            prop_assert!(!failed(Level::Restricted, "runAsUser"));
        }
        if minor < 34 {
            prop_assert!(!failed(Level::Baseline, "hostProbesAndHostLifecycle"));
        }
    }

    #[test]
    fn versions_round_trip(n in 0..=i64::MAX as u64, level in proptest::sample::select(vec![Level::Privileged, Level::Baseline, Level::Restricted])) {
        let v = Version::Minor(n);
        prop_assert_eq!(v.to_string().parse::<Version>(), Ok(v));
        let lv = LevelVersion::new(level, v);
        prop_assert_eq!(lv.to_string().parse::<LevelVersion>(), Ok(lv));
        prop_assert_eq!(format!("v1.0{n}").parse::<Version>(), Err(ParseVersionError));
    }

    #[test]
    fn quoting_keeps_plain_text_and_escapes_the_rest(s in any::<String>()) {
        let quoted = go_quote(&s);
        prop_assert!(quoted.len() >= 2 && quoted.starts_with('"') && quoted.ends_with('"'));
        let inner = &quoted[1..quoted.len() - 1];
        prop_assert!(!inner.chars().any(|c| c.is_control()));
        if s.chars().all(|c| (' '..='~').contains(&c) && c != '"' && c != '\\') {
            prop_assert_eq!(inner, s.as_str());
        }
    }

    #[test]
    fn any_labels_give_a_usable_policy(
        values in proptest::collection::vec(proptest::option::of("[a-z0-9.]{0,12}"), 6),
    ) {
        let keys = [
            ENFORCE_LEVEL_LABEL, ENFORCE_VERSION_LABEL, AUDIT_LEVEL_LABEL,
            AUDIT_VERSION_LABEL, WARN_LEVEL_LABEL, WARN_VERSION_LABEL,
        ];
        let labels: BTreeMap<String, String> = keys
            .iter()
            .zip(&values)
            .filter_map(|(k, v)| v.as_ref().map(|v| ((*k).to_owned(), v.clone())))
            .collect();
        let (policy, errors) = policy_to_evaluate(&labels, &Policy::default());
        let invalid = labels
            .iter()
            .filter(|(k, v)| if k.ends_with("-version") { v.parse::<Version>().is_err() } else { v.parse::<Level>().is_err() })
            .count();
        prop_assert_eq!(errors.len(), invalid);
        // A warn level never ends up less strict than a valid enforce label asks for,
        // unless warn has its own label.
        if errors.is_empty() && !labels.contains_key(WARN_LEVEL_LABEL) {
            prop_assert!(policy.warn.level >= policy.enforce.level);
        }
    }
}
