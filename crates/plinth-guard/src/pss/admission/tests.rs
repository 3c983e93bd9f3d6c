//! Admission scenarios; expected outputs were produced by upstream's `admission` package
//! (k8s.io/pod-security-admission v0.37.2) for the same requests.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use super::namespaces::check_existing_pods;
use super::pods::significant_update;
use super::*;
use crate::pss::level::LevelVersion;

/// Namespaces by name, and the pods every namespace lists.
struct FakeCluster {
    namespaces: BTreeMap<String, BTreeMap<String, String>>,
    pods: Result<Vec<Pod>, String>,
}

impl Cluster for FakeCluster {
    fn namespace_labels(&self, name: &str) -> Result<BTreeMap<String, String>, String> {
        self.namespaces
            .get(name)
            .cloned()
            .ok_or_else(|| format!("namespaces {name:?} not found"))
    }

    fn pods(&self, _: &str) -> Result<Vec<Pod>, String> {
        self.pods.clone()
    }
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (format!("pod-security.kubernetes.io/{k}"), (*v).to_owned()))
        .collect()
}

fn config() -> Config {
    let mut config = Config::default();
    config.exemptions.usernames.insert("admin".into());
    config.exemptions.namespaces.insert("exempt".into());
    config.exemptions.runtime_classes.insert("kata".into());
    config
}

fn bad_spec() -> Value {
    json!({
        "hostNetwork": true,
        "containers": [
            {"name": "c1", "image": "x", "securityContext": {"privileged": true}},
            {"name": "c2", "image": "x"},
        ],
    })
}

fn bad_pod(name: &str) -> Value {
    json!({"metadata": {"name": name, "namespace": "ns"}, "spec": bad_spec()})
}

fn pod_value(value: Value) -> Pod {
    serde_json::from_value(value).expect("pod")
}

fn cluster() -> FakeCluster {
    let mut namespaces = BTreeMap::new();
    namespaces.insert("r".to_owned(), labels(&[("enforce", "restricted")]));
    namespaces.insert(
        "bwr".to_owned(),
        labels(&[
            ("enforce", "baseline"),
            ("enforce-version", "v1.30"),
            ("warn", "restricted"),
            ("audit", "restricted"),
            ("audit-version", "v1.20"),
        ]),
    );
    namespaces.insert(
        "bad".to_owned(),
        labels(&[
            ("enforce", "bogus"),
            ("enforce-version", "v2.0"),
            ("warn", "nope"),
        ]),
    );
    namespaces.insert("priv".to_owned(), BTreeMap::new());
    namespaces.insert("exempt".to_owned(), labels(&[("enforce", "restricted")]));
    let owned = |name: &str| {
        json!({"metadata": {"name": name, "ownerReferences": [
            {"apiVersion": "v1", "kind": "ReplicationController", "name": "rc", "uid": "u1", "controller": true},
        ]}, "spec": {"hostPID": true, "containers": [{"name": "c"}]}})
    };
    let pods = vec![
        pod_value(bad_pod("zeta")),
        pod_value(bad_pod("alpha")),
        pod_value(json!({"metadata": {"name": "ok"}, "spec": {"containers": [{"name": "c"}]}})),
        pod_value(owned("rc1")),
        pod_value(owned("rc0")),
    ];
    FakeCluster {
        namespaces,
        pods: Ok(pods),
    }
}

fn request<'a>(namespace: &'a str, object: &'a Value) -> Request<'a> {
    Request {
        operation: Operation::Create,
        group: "",
        resource: "pods",
        subresource: "",
        name: "test",
        namespace,
        username: "",
        object: Some(object),
        old_object: None,
    }
}

fn later() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

fn run(request: &Request<'_>) -> Response {
    validate(&config(), request, &cluster(), later())
}

fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

const BAD_POD_RESTRICTED: &str = r#"host namespaces (hostNetwork=true), privileged (container "c1" must not set securityContext.privileged=true), allowPrivilegeEscalation != false (containers "c1", "c2" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (containers "c1", "c2" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or containers "c1", "c2" must set securityContext.runAsNonRoot=true), seccompProfile (pod or containers "c1", "c2" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#;

const BAD_LABELS_ERROR: &str = r#"Failed to parse policy: [metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "bogus": must be one of privileged, baseline, restricted, metadata.labels[pod-security.kubernetes.io/enforce-version]: Invalid value: "v2.0": must be "latest" or "v1.x", metadata.labels[pod-security.kubernetes.io/warn]: Invalid value: "nope": must be one of privileged, baseline, restricted]"#;

#[test]
fn pod_denied_by_enforce() {
    let pod = bad_pod("test");
    let r = run(&request("r", &pod));
    assert!(!r.allowed);
    assert_eq!(
        r.status,
        Some(Status {
            code: 403,
            reason: "Forbidden".into(),
            message: format!(
                r#"pods "test" is forbidden: violates PodSecurity "restricted:latest": {BAD_POD_RESTRICTED}"#
            ),
        })
    );
    assert_eq!(
        r.audit_annotations,
        annotations(&[("enforce-policy", "restricted:latest")])
    );
    assert!(r.warnings.is_empty());

    let mut quoted = request("r", &pod);
    quoted.name = "we\"ird";
    assert!(
        run(&quoted).status.expect("status").message.starts_with(
            r#"pods "we\"ird" is forbidden: violates PodSecurity "restricted:latest": "#
        )
    );

    let mut unnamed = request("r", &pod);
    unnamed.name = "";
    let r = run(&unnamed);
    assert!(
        r.status
            .expect("status")
            .message
            .starts_with("pods is forbidden: violates PodSecurity")
    );
}

#[test]
fn pod_enforce_audit_and_warn() {
    let pod = bad_pod("test");
    let r = run(&request("bwr", &pod));
    assert_eq!(
        r.status.expect("denied").message,
        r#"pods "test" is forbidden: violates PodSecurity "baseline:v1.30": host namespaces (hostNetwork=true), privileged (container "c1" must not set securityContext.privileged=true)"#
    );
    assert_eq!(
        r.audit_annotations,
        annotations(&[
            (
                "audit-violations",
                r#"would violate PodSecurity "restricted:v1.20": host namespaces (hostNetwork=true), privileged (container "c1" must not set securityContext.privileged=true), allowPrivilegeEscalation != false (containers "c1", "c2" must set securityContext.allowPrivilegeEscalation=false), runAsNonRoot != true (pod or containers "c1", "c2" must set securityContext.runAsNonRoot=true), seccompProfile (pod or containers "c1", "c2" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#
            ),
            ("enforce-policy", "baseline:v1.30"),
        ])
    );
    // Denied: no warnings.
    assert!(r.warnings.is_empty());

    let ok = json!({"spec": {"containers": [{"name": "c"}]}});
    let r = run(&request("bwr", &ok));
    assert!(r.allowed && r.status.is_none());
    assert_eq!(
        r.audit_annotations,
        annotations(&[
            (
                "audit-violations",
                r#"would violate PodSecurity "restricted:v1.20": allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#
            ),
            ("enforce-policy", "baseline:v1.30"),
        ])
    );
    assert_eq!(
        r.warnings,
        [
            r#"would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#
        ]
    );
}

#[test]
fn pod_in_namespace_with_invalid_labels() {
    let ok = json!({"spec": {"containers": [{"name": "c"}]}});
    let r = run(&request("bad", &ok));
    assert_eq!(
        r.status.expect("denied").message,
        r#"pods "test" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#
    );
    assert_eq!(
        r.audit_annotations,
        annotations(&[
            ("enforce-policy", "restricted:latest"),
            ("error", BAD_LABELS_ERROR)
        ])
    );
}

#[test]
fn pod_shortcuts_and_exemptions() {
    let pod = bad_pod("test");
    let r = run(&request("priv", &pod));
    assert!(r.allowed);
    assert_eq!(
        r.audit_annotations,
        annotations(&[("enforce-policy", "privileged:latest")])
    );

    let r = run(&request("exempt", &pod));
    assert_eq!(r, Response::exempt("namespace"));
    assert_eq!(r.audit_annotations, annotations(&[("exempt", "namespace")]));

    let mut by_admin = request("r", &pod);
    by_admin.username = "admin";
    assert_eq!(
        run(&by_admin).audit_annotations,
        annotations(&[("exempt", "user")])
    );

    let mut kata = bad_pod("test");
    kata["spec"]["runtimeClassName"] = json!("kata");
    let r = run(&request("r", &kata));
    assert!(r.allowed);
    assert_eq!(
        r.audit_annotations,
        annotations(&[("exempt", "runtimeClass")])
    );

    for sub in [
        "status",
        "exec",
        "attach",
        "binding",
        "eviction",
        "log",
        "portforward",
        "proxy",
    ] {
        let mut status = request("r", &pod);
        status.subresource = sub;
        assert_eq!(run(&status), Response::allow(), "{sub}");
    }
    let mut ephemeral = request("r", &pod);
    ephemeral.subresource = "ephemeralcontainers";
    ephemeral.operation = Operation::Update;
    ephemeral.old_object = Some(&pod);
    let mut with_debug = bad_pod("test");
    with_debug["spec"]["ephemeralContainers"] = json!([{"name": "debug", "image": "busybox"}]);
    ephemeral.object = Some(&with_debug);
    assert!(!run(&ephemeral).allowed);

    for op in [Operation::Delete, Operation::Connect] {
        let mut other = request("r", &pod);
        other.operation = op;
        assert_eq!(run(&other), Response::allow());
    }
}

#[test]
fn pod_errors() {
    let ok = json!({"spec": {"containers": [{"name": "c"}]}});
    let r = run(&request("missing", &ok));
    assert_eq!(
        r.status,
        Some(Status {
            code: 500,
            reason: "InternalError".into(),
            message: r#"Internal error occurred: failed to lookup namespace "missing""#.into(),
        })
    );
    assert_eq!(
        r.audit_annotations,
        annotations(&[(
            "error",
            r#"Internal error occurred: failed to lookup namespace "missing": namespaces "missing" not found"#
        )])
    );

    let garbage = json!({"spec": {"containers": "nope"}});
    let r = run(&request("r", &garbage));
    let status = r.status.expect("denied");
    assert_eq!((status.code, status.reason.as_str()), (400, "BadRequest"));
    assert_eq!(status.message, "failed to decode object");
    assert!(r.audit_annotations["error"].starts_with("failed to decode object: "));

    let mut update = request("r", &ok);
    update.operation = Operation::Update;
    let r = run(&update);
    assert_eq!(
        r.audit_annotations["error"],
        "failed to decode old object: the request has no object"
    );
}

#[test]
fn pod_updates_only_count_when_significant() {
    let pod = bad_pod("test");
    let mut relabelled = bad_pod("test");
    relabelled["metadata"]["labels"] = json!({"x": "y"});
    let mut update = request("r", &pod);
    update.operation = Operation::Update;
    update.old_object = Some(&relabelled);
    assert_eq!(run(&update), Response::allow());

    let mut new_image = bad_pod("test");
    new_image["spec"]["containers"][0]["image"] = json!("y");
    update.old_object = Some(&new_image);
    let r = run(&update);
    assert_eq!(
        r.status.expect("denied").message,
        format!(
            r#"pods "test" is forbidden: violates PodSecurity "restricted:latest": {BAD_POD_RESTRICTED}"#
        )
    );
}

#[test]
fn significant_update_rules() {
    let spec = |v: Value| -> k8s_openapi::api::core::v1::PodSpec {
        serde_json::from_value(v).expect("spec")
    };
    let base = json!({
        "initContainers": [{"name": "i", "image": "a"}],
        "containers": [{"name": "c", "image": "a"}],
        "ephemeralContainers": [{"name": "e", "image": "a"}],
    });
    let changed = |f: &dyn Fn(&mut Value)| {
        let mut v = base.clone();
        f(&mut v);
        significant_update(Some(&spec(v)), Some(&spec(base.clone())))
    };
    assert!(!changed(&|_| {}));
    assert!(!changed(
        &|v| v["containers"][0]["securityContext"] = json!({"privileged": true})
    ));
    assert!(!changed(&|v| v["containers"][0]["name"] = json!("renamed")));
    assert!(!changed(&|v| v["ephemeralContainers"] = json!([])));
    assert!(!changed(&|v| v["containers"][0]["image"] = json!("a")));
    assert!(changed(&|v| v["containers"][0]["image"] = json!("b")));
    assert!(changed(&|v| v["initContainers"][0]["image"] = json!("b")));
    assert!(changed(&|v| v["initContainers"] = json!([])));
    assert!(changed(
        &|v| v["containers"] = json!([{"name": "c", "image": "a"}, {"name": "d", "image": "a"}])
    ));
    assert!(changed(
        &|v| v["ephemeralContainers"][0]["image"] = json!("b")
    ));
    assert!(changed(
        &|v| v["ephemeralContainers"] =
            json!([{"name": "e", "image": "a"}, {"name": "f", "image": "a"}])
    ));
    assert!(changed(
        &|v| v["ephemeralContainers"][0]["name"] = json!("g")
    ));
    assert!(!significant_update(None, None));
}

fn deployment(spec: Value) -> Value {
    json!({"metadata": {"name": "test"}, "spec": {"selector": {}, "template": {"spec": spec}}})
}

fn controller_request<'a>(namespace: &'a str, object: &'a Value) -> Request<'a> {
    Request {
        group: "apps",
        resource: "deployments",
        ..request(namespace, object)
    }
}

#[test]
fn controllers_are_never_enforced() {
    let dep = deployment(bad_spec());
    let r = run(&controller_request("r", &dep));
    assert!(r.allowed && r.status.is_none());
    assert_eq!(
        r.warnings,
        [format!(
            r#"would violate PodSecurity "restricted:latest": {BAD_POD_RESTRICTED}"#
        )]
    );
    assert!(r.audit_annotations.is_empty());

    let r = run(&controller_request("bad", &dep));
    assert!(r.allowed && r.warnings.is_empty());
    assert_eq!(
        r.audit_annotations,
        annotations(&[("error", BAD_LABELS_ERROR)])
    );

    let r = run(&controller_request("missing", &dep));
    assert!(r.allowed);
    assert_eq!(
        r.audit_annotations,
        annotations(&[(
            "error",
            r#"failed to lookup namespace "missing": namespaces "missing" not found"#
        )])
    );

    // Audit and warn both privileged: not even evaluated.
    assert_eq!(run(&controller_request("priv", &dep)), Response::allow());
    assert_eq!(
        run(&controller_request("exempt", &dep)).audit_annotations,
        annotations(&[("exempt", "namespace")])
    );
    let mut scale = controller_request("r", &dep);
    scale.subresource = "scale";
    assert_eq!(run(&scale), Response::allow());

    let mut update = controller_request("r", &dep);
    update.operation = Operation::Update;
    update.old_object = Some(&dep);
    assert_eq!(run(&update).warnings.len(), 1, "updates are evaluated too");

    let garbage = json!({"spec": {"template": {"spec": {"containers": 3}}}});
    let r = run(&controller_request("r", &garbage));
    assert!(r.allowed);
    assert!(r.audit_annotations["error"].starts_with("failed to decode object: "));

    let rc = json!({"spec": {"replicas": 1}});
    let rc_request = Request {
        group: "",
        resource: "replicationcontrollers",
        ..request("r", &rc)
    };
    assert_eq!(run(&rc_request), Response::allow());

    let mut kata = bad_spec();
    kata["runtimeClassName"] = json!("kata");
    let kata = deployment(kata);
    assert_eq!(
        run(&controller_request("r", &kata)).audit_annotations,
        annotations(&[("exempt", "runtimeClass")])
    );

    let svc = json!({"spec": {}});
    let svc_request = Request {
        resource: "services",
        ..request("r", &svc)
    };
    assert_eq!(run(&svc_request), Response::allow());
}

#[test]
fn controller_audit_annotation() {
    let dep = deployment(bad_spec());
    let r = run(&controller_request("bwr", &dep));
    assert!(r.allowed);
    assert_eq!(r.warnings.len(), 1);
    assert!(
        r.warnings[0]
            .starts_with(r#"would violate PodSecurity "restricted:latest": host namespaces"#)
    );
    assert!(
        r.audit_annotations["audit-violations"]
            .starts_with(r#"would violate PodSecurity "restricted:v1.20": host namespaces"#)
    );
    assert!(!r.audit_annotations.contains_key("enforce-policy"));
}

fn namespace_request<'a>(
    name: &'a str,
    operation: Operation,
    object: &'a Value,
    old: Option<&'a Value>,
) -> Request<'a> {
    Request {
        operation,
        group: "",
        resource: "namespaces",
        subresource: "",
        name,
        namespace: name,
        username: "",
        object: Some(object),
        old_object: old,
    }
}

fn namespace(name: &str, pairs: &[(&str, &str)]) -> Value {
    json!({"metadata": {"name": name, "labels": labels(pairs)}})
}

#[test]
fn namespace_create() {
    let ns = namespace(
        "test",
        &[
            ("enforce", "bogus"),
            ("audit-version", "v1.05"),
            ("warn", "x"),
        ],
    );
    let r = run(&namespace_request("test", Operation::Create, &ns, None));
    assert_eq!(
        r.status,
        Some(Status {
            code: 422,
            reason: "Invalid".into(),
            message: r#"Namespace "test" is invalid: [metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "bogus": must be one of privileged, baseline, restricted, metadata.labels[pod-security.kubernetes.io/audit-version]: Invalid value: "v1.05": must be "latest" or "v1.x", metadata.labels[pod-security.kubernetes.io/warn]: Invalid value: "x": must be one of privileged, baseline, restricted]"#.into(),
        })
    );
    assert!(r.audit_annotations.is_empty());

    let ns = namespace("test", &[("enforce-version", "1.20")]);
    let r = run(&namespace_request("test", Operation::Create, &ns, None));
    assert_eq!(
        r.status.expect("invalid").message,
        r#"Namespace "test" is invalid: metadata.labels[pod-security.kubernetes.io/enforce-version]: Invalid value: "1.20": must be "latest" or "v1.x""#
    );

    let ns = namespace(
        "exempt",
        &[
            ("enforce", "restricted"),
            ("warn-version", "v1.20"),
            ("audit", "privileged"),
        ],
    );
    let r = run(&namespace_request("exempt", Operation::Create, &ns, None));
    assert!(r.allowed);
    assert_eq!(
        r.warnings,
        [
            r#"namespace "exempt" is exempt from Pod Security, and the policy (enforce=restricted:latest, warn=restricted:v1.20) will be ignored"#
        ]
    );

    // Valid, not exempt: allowed, existing pods are not looked at.
    let ns = namespace("test", &[("enforce", "restricted")]);
    assert_eq!(
        run(&namespace_request("test", Operation::Create, &ns, None)),
        Response::allow()
    );
    // An exempt namespace whose labels say nothing stricter than the defaults.
    let ns = namespace("exempt", &[("enforce", "privileged")]);
    assert_eq!(
        run(&namespace_request("exempt", Operation::Create, &ns, None)),
        Response::allow()
    );
    let mut status = namespace_request("test", Operation::Update, &ns, None);
    status.subresource = "status";
    assert_eq!(run(&status), Response::allow());
}

#[test]
fn exempt_namespace_warning_lists_labelled_modes() {
    let ns = namespace(
        "exempt",
        &[
            ("enforce", "restricted"),
            ("enforce-version", "v1.0"),
            ("audit", "restricted"),
            ("warn", "baseline"),
        ],
    );
    let r = run(&namespace_request("exempt", Operation::Create, &ns, None));
    assert_eq!(
        r.warnings,
        [
            r#"namespace "exempt" is exempt from Pod Security, and the policy (enforce=restricted:v1.0, audit=restricted:latest, warn=baseline:latest) will be ignored"#
        ]
    );
    // Equivalent to the configured defaults: no warning.
    let mut config = config();
    config.defaults.enforce = "restricted:v1.0".parse().expect("lv");
    config.defaults.audit = "restricted".parse().expect("lv");
    config.defaults.warn = "baseline".parse().expect("lv");
    let r = validate(
        &config,
        &namespace_request("exempt", Operation::Create, &ns, None),
        &cluster(),
        later(),
    );
    assert_eq!(r, Response::allow());
}

#[test]
fn namespace_update_checks_existing_pods() {
    let new = namespace("test", &[("enforce", "restricted")]);
    let old = namespace("test", &[("enforce", "baseline")]);
    let r = run(&namespace_request(
        "test",
        Operation::Update,
        &new,
        Some(&old),
    ));
    assert!(r.allowed);
    assert_eq!(
        r.warnings,
        [
            r#"existing pods in namespace "test" violate the new PodSecurity enforce level "restricted:latest""#,
            "alpha (and 1 other pod): host namespaces, privileged, allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile",
            "ok: allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile",
            "rc0 (and 1 other pod): host namespaces, allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile",
        ]
    );

    let new = namespace(
        "test",
        &[("enforce", "baseline"), ("enforce-version", "v1.0")],
    );
    let old = namespace("test", &[]);
    let r = run(&namespace_request(
        "test",
        Operation::Update,
        &new,
        Some(&old),
    ));
    assert_eq!(
        r.warnings,
        [
            r#"existing pods in namespace "test" violate the new PodSecurity enforce level "baseline:v1.0""#,
            "alpha (and 1 other pod): host namespaces, privileged",
            "rc0 (and 1 other pod): host namespaces",
        ]
    );

    let new = namespace("exempt", &[("enforce", "restricted")]);
    let old = namespace("exempt", &[]);
    let r = run(&namespace_request(
        "exempt",
        Operation::Update,
        &new,
        Some(&old),
    ));
    assert_eq!(
        r.warnings,
        [
            r#"namespace "exempt" is exempt from Pod Security, and the policy (enforce=restricted:latest) will be ignored"#
        ]
    );
}

#[test]
fn namespace_updates_that_loosen_or_keep_enforce_are_not_checked() {
    let check = |new: &[(&str, &str)], old: &[(&str, &str)]| {
        let new = namespace("test", new);
        let old = namespace("test", old);
        run(&namespace_request(
            "test",
            Operation::Update,
            &new,
            Some(&old),
        ))
    };
    // Same enforce, even with other changes.
    assert_eq!(
        check(
            &[("enforce", "restricted"), ("warn", "restricted")],
            &[("enforce", "restricted")]
        ),
        Response::allow()
    );
    // To privileged.
    assert_eq!(
        check(&[("enforce", "privileged")], &[("enforce", "baseline")]),
        Response::allow()
    );
    // Less strict at the same version.
    assert_eq!(
        check(&[("enforce", "baseline")], &[("enforce", "restricted")]),
        Response::allow()
    );
    // A version change is checked even when the level loosens.
    assert!(
        !check(
            &[("enforce", "baseline"), ("enforce-version", "v1.0")],
            &[("enforce", "restricted")]
        )
        .warnings
        .is_empty()
    );
    // Invalid labels: rejected unless they were already invalid in the same way.
    let r = check(&[("enforce", "bogus")], &[("enforce", "baseline")]);
    assert_eq!(r.status.expect("invalid").code, 422);
    let r = check(&[("enforce", "bogus")], &[("enforce", "bogus")]);
    assert_eq!(r, Response::allow());
    let r = check(
        &[("enforce", "bogus"), ("warn", "x")],
        &[("enforce", "bogus")],
    );
    assert_eq!(r.status.expect("invalid").code, 422);
    // Still invalid in the same way, with a tighter valid version: pods are checked.
    let r = check(
        &[("enforce", "bogus"), ("enforce-version", "v1.0")],
        &[("enforce", "bogus")],
    );
    assert!(r.allowed);
    assert!(
        r.warnings[0].contains(r#"enforce level "restricted:v1.0""#),
        "{r:?}"
    );
}

fn owned_pod(name: &str, uid: &str) -> Pod {
    pod_value(json!({"metadata": {"name": name, "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": uid, "controller": true},
    ]}, "spec": {"hostIPC": true, "containers": [{"name": "c"}]}}))
}

#[test]
fn existing_pods_are_prioritized_counted_and_truncated() {
    let restricted = LevelVersion::new(crate::pss::Level::Baseline, crate::pss::Version::Latest);
    let mut pods = vec![
        owned_pod("d", "u1"),
        owned_pod("c", "u1"),
        owned_pod("b", "u1"),
    ];
    pods.push(owned_pod("x", "u2"));
    pods.push(owned_pod("a", "u1"));
    let mut kata = bad_pod("kata");
    kata["spec"]["runtimeClassName"] = json!("kata");
    pods.push(pod_value(kata));
    pods.push(pod_value(bad_pod("free")));
    let cluster = FakeCluster {
        namespaces: BTreeMap::new(),
        pods: Ok(pods),
    };
    let warnings = check_existing_pods(&config(), &cluster, "ns", &restricted, later(), 3000);
    assert_eq!(
        warnings,
        [
            r#"existing pods in namespace "ns" violate the new PodSecurity enforce level "baseline:latest""#,
            "a (and 4 other pods): host namespaces",
            "free: host namespaces, privileged",
        ]
    );
    // Order: d (u1), x (u2), free, then c, b, a (u1 again); the runtime-class pod is
    // neither checked nor counted.
    let warnings = check_existing_pods(&config(), &cluster, "ns", &restricted, later(), 3);
    assert_eq!(
        warnings,
        [
            "new PodSecurity enforce level only checked against the first 3 of 6 existing pods",
            r#"existing pods in namespace "ns" violate the new PodSecurity enforce level "baseline:latest""#,
            "d (and 1 other pod): host namespaces",
            "free: host namespaces, privileged",
        ]
    );
    // Out of time: stops after the first pod.
    let warnings =
        check_existing_pods(&config(), &cluster, "ns", &restricted, Instant::now(), 3000);
    assert_eq!(
        warnings,
        [
            "new PodSecurity enforce level only checked against the first 1 of 6 existing pods",
            r#"existing pods in namespace "ns" violate the new PodSecurity enforce level "baseline:latest""#,
            "d: host namespaces",
        ]
    );
    let failing = FakeCluster {
        namespaces: BTreeMap::new(),
        pods: Err("boom".into()),
    };
    assert_eq!(
        check_existing_pods(&config(), &failing, "ns", &restricted, later(), 3000),
        ["failed to list pods while checking new PodSecurity enforce level"]
    );
}

#[test]
fn request_deadline_bounds_the_pod_check() {
    // A request already out of time still checks one pod.
    let new = namespace("test", &[("enforce", "restricted")]);
    let old = namespace("test", &[("enforce", "baseline")]);
    let r = validate(
        &config(),
        &namespace_request("test", Operation::Update, &new, Some(&old)),
        &cluster(),
        Instant::now(),
    );
    assert_eq!(
        r.warnings[0],
        "new PodSecurity enforce level only checked against the first 1 of 5 existing pods"
    );
}
