//! The KubeadmControlPlane and its AWSMachineTemplate, with the seed's security settings
//! carried over correctly:
//!
//! - audit log: flags, the policy written to the hosts through `files`, and host-path
//!   mounts for the policy and the log directory (the seed logged inside the container);
//! - encryption at rest: `--encryption-provider-config` pointing at a file whose content
//!   comes from a Secret (`contentFrom.secret`), never inline key material;
//! - a TLS floor (and, at TLS 1.2, AEAD-only cipher suites) for production and staging;
//! - kubelet anonymous auth off, read-only port 0 and webhook authorisation, set in the
//!   KubeletConfiguration through a kubeadm patch (the kubelet flags are deprecated);
//! - API server anonymous access limited to what needs it: from Kubernetes 1.32 (where
//!   anonymous endpoints became configurable, beta; GA in 1.34) an
//!   AuthenticationConfiguration allows anonymous requests only to `/livez`, `/readyz`,
//!   `/healthz` (load balancer and kubelet probes) and the `kube-public/cluster-info`
//!   ConfigMap (`kubeadm join` discovery); everything else needs credentials whatever
//!   RBAC says. Before 1.32 `--anonymous-auth=false` would break both, so anonymous
//!   requests stay on there, with RBAC granting them nothing else;
//! - the in-tree AWS cloud provider was removed in Kubernetes 1.27, so kubelets and the
//!   controller manager run with `cloud-provider=external` (the seed's `aws` no longer
//!   starts); the AWS cloud controller manager is an add-on.

use serde_json::{Value, json};

use super::{CONTROL_PLANE_GROUP, Ctx, INFRA_GROUP, api_version, args, reference};
use crate::spec::TlsVersion;

/// Where kubeadm reads patches from on every machine.
pub(super) const PATCHES_DIR: &str = "/etc/kubernetes/patches";
const AUDIT_POLICY: &str = "/etc/kubernetes/audit-policy.yaml";
const AUDIT_LOG_DIR: &str = "/var/log/kubernetes/audit";
const ENCRYPTION_CONFIG: &str = "/etc/kubernetes/encryption-config.yaml";
const AUTHENTICATION_CONFIG: &str = "/etc/kubernetes/authentication-config.yaml";
/// The paths anonymous requests may reach when [`authentication_config`] applies.
pub const ANONYMOUS_PATHS: &[&str] = &[
    "/api/v1/namespaces/kube-public/configmaps/cluster-info",
    "/healthz",
    "/livez",
    "/readyz",
];

/// The API server's AuthenticationConfiguration for `version`: anonymous requests only
/// to [`ANONYMOUS_PATHS`]. `None` before 1.32, where the setting does not exist.
pub fn authentication_config(version: &crate::version::KubeVersion) -> Option<Value> {
    if (version.major, version.minor) < (1, 32) {
        return None;
    }
    // The API is v1 from 1.34 (GA); 1.32 and 1.33 serve it as v1beta1.
    let api = if version.minor >= 34 { "v1" } else { "v1beta1" };
    Some(json!({
        "apiVersion": format!("apiserver.config.k8s.io/{api}"),
        "kind": "AuthenticationConfiguration",
        "anonymous": {
            "enabled": true,
            "conditions": ANONYMOUS_PATHS.iter().map(|p| json!({"path": p})).collect::<Vec<_>>(),
        },
    }))
}
/// The key of the EncryptionConfiguration in its Secret.
pub const ENCRYPTION_SECRET_KEY: &str = "encryption-config.yaml";

/// The control plane's machines (named by [`super::content_named`]).
pub(super) fn machine_template(ctx: &Ctx<'_>) -> Value {
    let cp = &ctx.c.spec.control_plane;
    let mut t = json!({
        "apiVersion": api_version(INFRA_GROUP),
        "kind": "AWSMachineTemplate",
        "metadata": ctx.metadata(&format!("{}-control-plane", ctx.name), &[]),
        "spec": {"template": {"spec": {
            "instanceType": cp.instance_type,
            "iamInstanceProfile": "control-plane.cluster-api-provider-aws.sigs.k8s.io",
            "rootVolume": {"size": cp.root_volume_size, "type": "gp3", "encrypted": true},
            "instanceMetadataOptions": {"httpEndpoint": "enabled", "httpTokens": "required"},
        }}},
    });
    if let Some(ami) = ctx.ami() {
        t["spec"]["template"]["spec"]["ami"] = json!({"id": ami});
    }
    t
}

/// The kubelet settings every machine gets (a JSON merge patch of KubeletConfiguration).
pub(super) fn kubelet_patch_file() -> Value {
    let patch = json!({
        "authentication": {"anonymous": {"enabled": false}, "webhook": {"enabled": true}},
        "authorization": {"mode": "Webhook"},
        "readOnlyPort": 0,
    });
    json!({
        "path": format!("{PATCHES_DIR}/kubeletconfiguration+merge.json"),
        "owner": "root:root",
        "permissions": "0644",
        "content": patch.to_string(),
    })
}

/// `nodeRegistration` shared by every machine: the EC2 host name as node name (what
/// the AWS cloud controller manager expects) and the external cloud provider.
pub(super) fn node_registration(extra: &[(&str, String)]) -> Value {
    let mut pairs = vec![("cloud-provider", "external".to_owned())];
    pairs.extend(extra.iter().cloned());
    json!({
        "name": "{{ ds.meta_data.local_hostname }}",
        "kubeletExtraArgs": args(&pairs),
    })
}

/// The API server's audit policy: no bodies for Secrets, ConfigMaps and token reviews,
/// nothing for health checks and the noisiest system reads, metadata for the rest.
fn audit_policy() -> Value {
    json!({
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "omitStages": ["RequestReceived"],
        "rules": [
            {"level": "None", "nonResourceURLs": ["/healthz*", "/livez*", "/readyz*", "/version", "/metrics"]},
            {"level": "None", "users": ["system:kube-proxy"], "verbs": ["watch"],
             "resources": [{"group": "", "resources": ["endpoints", "services", "services/status"]}]},
            {"level": "None", "userGroups": ["system:nodes"], "verbs": ["get"],
             "resources": [{"group": "", "resources": ["nodes", "nodes/status"]}]},
            {"level": "Metadata", "resources": [
                {"group": "", "resources": ["secrets", "configmaps", "serviceaccounts/token"]},
                {"group": "authentication.k8s.io", "resources": ["tokenreviews"]}]},
            {"level": "RequestResponse", "verbs": ["create", "update", "patch", "delete", "deletecollection"],
             "resources": [{"group": "rbac.authorization.k8s.io"}]},
            {"level": "Metadata"},
        ],
    })
}

/// AEAD cipher suites with forward secrecy (the seed's two plus their ECDSA and
/// ChaCha20 siblings); TLS 1.3 suites are not configurable.
const TLS12_CIPHER_SUITES: &str = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256";

/// The KubeadmControlPlane, its machines from `machine_template`.
pub(super) fn kubeadm_control_plane(ctx: &Ctx<'_>, machine_template: &str) -> Value {
    let sec = &ctx.c.spec.security;
    let mut api_args: Vec<(&str, String)> = vec![
        (
            "enable-admission-plugins",
            "NodeRestriction,PodSecurity,ResourceQuota".to_owned(),
        ),
        ("profiling", "false".to_owned()),
    ];
    let mut volumes = Vec::new();
    let mut files = vec![kubelet_patch_file()];
    if sec.audit_logging {
        api_args.extend([
            ("audit-log-path", format!("{AUDIT_LOG_DIR}/audit.log")),
            ("audit-log-maxage", "30".to_owned()),
            ("audit-log-maxbackup", "10".to_owned()),
            ("audit-log-maxsize", "100".to_owned()),
            ("audit-policy-file", AUDIT_POLICY.to_owned()),
        ]);
        volumes.push(json!({"name": "audit-policy", "hostPath": AUDIT_POLICY,
            "mountPath": AUDIT_POLICY, "readOnly": true, "pathType": "File"}));
        volumes.push(json!({"name": "audit-logs", "hostPath": AUDIT_LOG_DIR,
            "mountPath": AUDIT_LOG_DIR, "pathType": "DirectoryOrCreate"}));
        files.push(
            json!({"path": AUDIT_POLICY, "owner": "root:root", "permissions": "0600",
            "content": format!("{:#}\n", audit_policy())}),
        );
    }
    if sec.encryption_at_rest {
        api_args.push(("encryption-provider-config", ENCRYPTION_CONFIG.to_owned()));
        volumes.push(
            json!({"name": "encryption-config", "hostPath": ENCRYPTION_CONFIG,
            "mountPath": ENCRYPTION_CONFIG, "readOnly": true, "pathType": "File"}),
        );
        files.push(json!({"path": ENCRYPTION_CONFIG, "owner": "root:root", "permissions": "0600",
            "contentFrom": {"secret": {"name": ctx.c.encryption_secret(), "key": ENCRYPTION_SECRET_KEY}}}));
    }
    if let Some(config) = authentication_config(&ctx.version) {
        api_args.push(("authentication-config", AUTHENTICATION_CONFIG.to_owned()));
        volumes.push(
            json!({"name": "authentication-config", "hostPath": AUTHENTICATION_CONFIG,
            "mountPath": AUTHENTICATION_CONFIG, "readOnly": true, "pathType": "File"}),
        );
        files.push(json!({"path": AUTHENTICATION_CONFIG, "owner": "root:root",
            "permissions": "0600", "content": format!("{config:#}\n")}));
    }
    if let Some(tls) = ctx.c.tls_min_version() {
        api_args.push(("tls-min-version", tls.as_str().to_owned()));
        if tls == TlsVersion::VersionTLS12 {
            api_args.push(("tls-cipher-suites", TLS12_CIPHER_SUITES.to_owned()));
        }
    }
    let mut api_server = json!({"extraArgs": args(&api_args)});
    if !volumes.is_empty() {
        api_server["extraVolumes"] = Value::Array(volumes);
    }
    files.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    let cp = &ctx.c.spec.control_plane;
    json!({
        "apiVersion": api_version(CONTROL_PLANE_GROUP),
        "kind": "KubeadmControlPlane",
        "metadata": ctx.metadata(&format!("{}-control-plane", ctx.name), &[]),
        "spec": {
            "replicas": cp.replicas,
            "version": ctx.c.spec.kubernetes_version,
            "machineTemplate": {"spec": {"infrastructureRef": reference(
                INFRA_GROUP, "AWSMachineTemplate", machine_template)}},
            "kubeadmConfigSpec": {
                "clusterConfiguration": {
                    "apiServer": api_server,
                    "controllerManager": {"extraArgs": args(&[
                        ("cloud-provider", "external".to_owned()),
                        ("profiling", "false".to_owned()),
                        ("terminated-pod-gc-threshold", "1000".to_owned()),
                    ])},
                    "scheduler": {"extraArgs": args(&[("profiling", "false".to_owned())])},
                    "etcd": {"local": {"extraArgs": args(&[
                        ("auto-compaction-mode", "periodic".to_owned()),
                        ("auto-compaction-retention", "1h".to_owned()),
                    ])}},
                },
                "initConfiguration": {
                    "nodeRegistration": node_registration(&[]),
                    "patches": {"directory": PATCHES_DIR},
                },
                "joinConfiguration": {
                    "nodeRegistration": node_registration(&[]),
                    "patches": {"directory": PATCHES_DIR},
                },
                "files": files,
            },
        },
    })
}
