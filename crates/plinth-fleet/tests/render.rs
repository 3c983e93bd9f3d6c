//! The fleet engine without a cluster: validation errors point at the offending line,
//! and the rendered objects carry the fields that matter (spot price, tenancy, bastion per
//! tier, TLS floor, autoscaler bounds, subnets per zone inside the VPC), deterministically.

use ipnet::Ipv4Net;
use plinth_fleet::{ManagedCluster, RenderSettings, clusters, render};
use serde_json::Value;

const BASE: &str = r#"apiVersion: plinth.io/v1alpha1
kind: ManagedCluster
metadata:
  name: demo
spec:
  tier: production
  region: us-east-1
  kubernetesVersion: v1.31.4
  controlPlane:
    replicas: 3
    instanceType: c5.xlarge
  nodePools:
    - name: general
      machineType: c5.large
      minNodes: 2
      maxNodes: 6
    - name: batch
      machineType: c5.2xlarge
      minNodes: 0
      maxNodes: 10
      spot: true
      spotMaxPrice: "0.40"
    - name: secure
      machineType: m5.large
      minNodes: 1
      maxNodes: 3
      dedicated: true
      labels:
        node.kubernetes.io/pool: secure
      taints:
        - key: dedicated
          value: secure
          effect: NoSchedule
  networking:
    vpcCidr: 10.0.0.0/16
    podCidr: 192.168.0.0/16
    serviceCidr: 10.128.0.0/12
  addons: [calico, metrics-server, cluster-autoscaler]
"#;

fn load(text: &str) -> Result<Vec<ManagedCluster>, Vec<String>> {
    let docs =
        plinth_core::manifest::parse_str("spec.yaml", text).map_err(|e| vec![e.to_string()])?;
    clusters(&docs).map_err(|es| es.iter().map(ToString::to_string).collect())
}

fn one(text: &str) -> ManagedCluster {
    let mut c = load(text).expect("valid spec");
    assert_eq!(c.len(), 1);
    c.remove(0)
}

fn objects(text: &str) -> Vec<Value> {
    render(&one(text), &RenderSettings::default()).expect("renders")
}

fn find<'a>(objs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objs.iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// The template of `kind` named `BASE-` and eight hex digits (its content hash).
fn template<'a>(objs: &'a [Value], kind: &str, base: &str) -> &'a Value {
    objs.iter()
        .find(|o| {
            o["kind"] == kind
                && o["metadata"]["name"].as_str().is_some_and(|n| {
                    n.strip_prefix(base)
                        .and_then(|rest| rest.strip_prefix('-'))
                        .is_some_and(|h| h.len() == 8 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                })
        })
        .unwrap_or_else(|| panic!("no {kind} {base}-HASH"))
}

/// Replaces `from` by `to` once and expects an error at the line of `to` that says `what`.
fn refused(from: &str, to: &str, what: &str) {
    let text = BASE.replacen(from, to, 1);
    assert_ne!(text, BASE, "{from:?} not in the base spec");
    // The line of the replacement's last non-empty line.
    let offset = BASE.find(from).expect("present");
    let inside = to.trim_end_matches('\n').matches('\n').count();
    let line = BASE[..offset].matches('\n').count() + 1 + inside;
    let errors = load(&text).expect_err("refused");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with(&format!("spec.yaml:{line}:")) && e.contains(what)),
        "expected {what:?} at line {line}, got {errors:#?}"
    );
}

#[test]
fn the_base_spec_and_the_example_are_valid() {
    one(BASE);
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/fleet/prod-us-east.yaml"
    ))
    .expect("example");
    let c = one(&example);
    assert_eq!(c.metadata.name, "prod-us-east");
    let pools: Vec<&str> = c.spec.node_pools.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(pools, ["system", "application", "ml-workload"]);
}

#[test]
fn bad_cidrs_and_overlaps_are_refused_at_their_line() {
    refused(
        "vpcCidr: 10.0.0.0/16",
        "vpcCidr: 10.0.0.0/33",
        "not an IPv4 CIDR",
    );
    refused("vpcCidr: 10.0.0.0/16", "vpcCidr: 10.0.1.0/16", "host bits");
    refused(
        "serviceCidr: 10.128.0.0/12",
        "serviceCidr: 192.168.128.0/20",
        "overlaps the pod range",
    );
    refused(
        "podCidr: 192.168.0.0/16",
        "podCidr: 10.0.128.0/17",
        "overlaps the VPC range",
    );
    refused(
        "serviceCidr: 10.128.0.0/12",
        "serviceCidr: 10.0.0.0/8",
        "overlaps the VPC range",
    );
    refused("vpcCidr: 10.0.0.0/16", "vpcCidr: 10.0.0.0/12", "/16 to /24");
    refused(
        "    serviceCidr: 10.128.0.0/12\n",
        "    serviceCidr: 10.128.0.0/12\n    availabilityZones: [us-west-2a]\n",
        "not a zone of region",
    );
}

#[test]
fn control_plane_versions_addons_and_pools_are_checked() {
    refused("replicas: 3", "replicas: 2", "odd number");
    refused("replicas: 3", "replicas: 0", "odd number");
    refused(
        "addons: [calico, metrics-server, cluster-autoscaler]",
        "addons: [calico, flannel-magic]",
        "unknown add-on \"flannel-magic\"",
    );
    refused(
        "addons: [calico, metrics-server, cluster-autoscaler]",
        "addons: [calico, calico]",
        "listed twice",
    );
    refused(
        "kubernetesVersion: v1.31.4",
        "kubernetesVersion: 1.31.4",
        "vMAJOR.MINOR.PATCH",
    );
    refused(
        "kubernetesVersion: v1.31.4",
        "kubernetesVersion: v1.31",
        "vMAJOR.MINOR.PATCH",
    );
    refused(
        "kubernetesVersion: v1.31.4",
        "kubernetesVersion: v1.31.4-rc.0",
        "vMAJOR.MINOR.PATCH",
    );
    refused("minNodes: 2", "minNodes: 7", "greater than maxNodes 6");
    refused(
        "      dedicated: true\n",
        "      dedicated: true\n      spotMaxPrice: \"0.10\"\n",
        "only meaningful with spot",
    );
    refused(
        "spotMaxPrice: \"0.40\"",
        "spotMaxPrice: \"cheap\"",
        "positive decimal",
    );
    refused("- name: batch", "- name: general", "defined twice");
    refused(
        "node.kubernetes.io/pool: secure",
        "node-role.kubernetes.io/secure: \"\"",
        "kubelet may not set",
    );
    refused("tier: production", "tier: prod", "unknown variant");
    refused(
        "instanceType: c5.xlarge",
        "instanceTyp: c5.xlarge",
        "unknown field",
    );
}

#[test]
fn machines_carry_spot_price_tenancy_and_autoscaler_bounds() {
    let objs = objects(BASE);
    let batch = template(&objs, "AWSMachineTemplate", "demo-batch");
    assert_eq!(
        batch["spec"]["template"]["spec"]["spotMarketOptions"]["maxPrice"],
        "0.40"
    );
    assert!(batch["spec"]["template"]["spec"].get("tenancy").is_none());
    let secure = template(&objs, "AWSMachineTemplate", "demo-secure");
    assert_eq!(secure["spec"]["template"]["spec"]["tenancy"], "dedicated");
    assert!(
        secure["spec"]["template"]["spec"]
            .get("spotMarketOptions")
            .is_none()
    );
    let general = template(&objs, "AWSMachineTemplate", "demo-general");
    assert_eq!(
        general["spec"]["template"]["spec"]["rootVolume"]["size"],
        80
    );

    let md = find(&objs, "MachineDeployment", "demo-general");
    assert_eq!(md["apiVersion"], "cluster.x-k8s.io/v1beta2");
    // Autoscaled (2..6): replicas left to Cluster API and the autoscaler.
    assert!(md["spec"].get("replicas").is_none());
    assert_eq!(md["spec"]["template"]["spec"]["version"], "v1.31.4");
    let ann = &md["metadata"]["annotations"];
    assert_eq!(
        ann["cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size"],
        "2"
    );
    assert_eq!(
        ann["cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size"],
        "6"
    );
    assert_eq!(
        md["spec"]["template"]["spec"]["infrastructureRef"],
        serde_json::json!({"apiGroup": "infrastructure.cluster.x-k8s.io",
            "kind": "AWSMachineTemplate", "name": general["metadata"]["name"]})
    );

    let kct = template(&objs, "KubeadmConfigTemplate", "demo-secure");
    let reg = &kct["spec"]["template"]["spec"]["joinConfiguration"]["nodeRegistration"];
    assert_eq!(reg["taints"][0]["key"], "dedicated");
    assert_eq!(reg["taints"][0]["effect"], "NoSchedule");
    assert!(
        reg["kubeletExtraArgs"]
            .as_array()
            .expect("args")
            .iter()
            .any(|a| a["name"] == "node-labels" && a["value"] == "node.kubernetes.io/pool=secure")
    );
}

fn api_arg(objs: &[Value], name: &str) -> Option<String> {
    let kcp = objs
        .iter()
        .find(|o| o["kind"] == "KubeadmControlPlane")
        .expect("kcp");
    kcp["spec"]["kubeadmConfigSpec"]["clusterConfiguration"]["apiServer"]["extraArgs"]
        .as_array()
        .expect("extraArgs")
        .iter()
        .find(|a| a["name"] == name)
        .and_then(|a| a["value"].as_str().map(str::to_owned))
}

#[test]
fn bastion_and_tls_floor_follow_the_tier() {
    let prod = objects(BASE);
    assert_eq!(
        find(&prod, "AWSCluster", "demo")["spec"]["bastion"]["enabled"],
        true
    );
    assert_eq!(
        api_arg(&prod, "tls-min-version").as_deref(),
        Some("VersionTLS12")
    );
    assert!(api_arg(&prod, "tls-cipher-suites").is_some());

    let staging = objects(&BASE.replacen("tier: production", "tier: staging", 1));
    assert_eq!(
        find(&staging, "AWSCluster", "demo")["spec"]["bastion"]["enabled"],
        true
    );
    assert_eq!(
        api_arg(&staging, "tls-min-version").as_deref(),
        Some("VersionTLS12")
    );

    let dev = objects(&BASE.replacen("tier: production", "tier: development", 1));
    assert_eq!(
        find(&dev, "AWSCluster", "demo")["spec"]["bastion"]["enabled"],
        false
    );
    assert_eq!(api_arg(&dev, "tls-min-version"), None);

    let tls13 = objects(&format!(
        "{BASE}  security:\n    tlsMinVersion: VersionTLS13\n"
    ));
    assert_eq!(
        api_arg(&tls13, "tls-min-version").as_deref(),
        Some("VersionTLS13")
    );
    assert_eq!(api_arg(&tls13, "tls-cipher-suites"), None);
}

#[test]
fn security_settings_are_carried_over_without_key_material() {
    let objs = objects(BASE);
    assert_eq!(
        api_arg(&objs, "audit-policy-file").as_deref(),
        Some("/etc/kubernetes/audit-policy.yaml")
    );
    assert!(api_arg(&objs, "audit-log-path").is_some());
    assert_eq!(
        api_arg(&objs, "encryption-provider-config").as_deref(),
        Some("/etc/kubernetes/encryption-config.yaml")
    );
    let kcp = objs
        .iter()
        .find(|o| o["kind"] == "KubeadmControlPlane")
        .expect("kcp");
    let files = kcp["spec"]["kubeadmConfigSpec"]["files"]
        .as_array()
        .expect("files");
    let enc = files
        .iter()
        .find(|f| f["path"] == "/etc/kubernetes/encryption-config.yaml")
        .expect("encryption file");
    assert!(enc.get("content").is_none(), "inline key material: {enc}");
    assert_eq!(
        enc["contentFrom"]["secret"]["name"],
        "demo-encryption-config"
    );
    let audit = files
        .iter()
        .find(|f| f["path"] == "/etc/kubernetes/audit-policy.yaml")
        .expect("audit policy file");
    assert!(
        audit["content"]
            .as_str()
            .expect("content")
            .contains("audit.k8s.io/v1")
    );
    let kubelet = files
        .iter()
        .find(|f| {
            f["path"]
                .as_str()
                .is_some_and(|p| p.contains("kubeletconfiguration"))
        })
        .expect("kubelet patch");
    let patch: Value =
        serde_json::from_str(kubelet["content"].as_str().expect("content")).expect("json");
    assert_eq!(patch["readOnlyPort"], 0);
    assert_eq!(patch["authentication"]["anonymous"]["enabled"], false);
    // The seed's in-tree `cloud-provider: aws` is gone since Kubernetes 1.27.
    let text = serde_json::to_string(&objs).expect("json");
    assert!(!text.contains("\"value\":\"aws\""));

    let off = objects(&format!(
        "{BASE}  security:\n    auditLogging: false\n    encryptionAtRest: false\n"
    ));
    assert_eq!(api_arg(&off, "audit-policy-file"), None);
    assert_eq!(api_arg(&off, "encryption-provider-config"), None);
}

fn subnets(objs: &[Value]) -> (Ipv4Net, Vec<(String, Ipv4Net, bool)>) {
    let aws = objs
        .iter()
        .find(|o| o["kind"] == "AWSCluster")
        .expect("AWSCluster");
    let vpc: Ipv4Net = aws["spec"]["network"]["vpc"]["cidrBlock"]
        .as_str()
        .expect("vpc")
        .parse()
        .expect("cidr");
    let subnets = aws["spec"]["network"]["subnets"]
        .as_array()
        .expect("subnets")
        .iter()
        .map(|s| {
            (
                s["availabilityZone"].as_str().expect("zone").to_owned(),
                s["cidrBlock"]
                    .as_str()
                    .expect("cidr")
                    .parse()
                    .expect("cidr"),
                s["isPublic"].as_bool().expect("isPublic"),
            )
        })
        .collect();
    (vpc, subnets)
}

fn assert_layout(objs: &[Value], zones: &[&str]) {
    let (vpc, subnets) = subnets(objs);
    for zone in zones {
        for public in [false, true] {
            assert_eq!(
                subnets
                    .iter()
                    .filter(|(z, _, p)| z == zone && *p == public)
                    .count(),
                1,
                "{zone} public={public}: {subnets:?}"
            );
        }
    }
    assert_eq!(subnets.len(), zones.len() * 2);
    for (i, (_, a, _)) in subnets.iter().enumerate() {
        assert!(vpc.contains(a), "{a} outside {vpc}");
        for (_, b, _) in &subnets[i + 1..] {
            assert!(
                !a.contains(&b.network()) && !b.contains(&a.network()),
                "{a} overlaps {b}"
            );
        }
    }
}

#[test]
fn subnets_per_zone_stay_inside_the_vpc_without_overlap() {
    let objs = objects(BASE);
    assert_layout(&objs, &["us-east-1a", "us-east-1b", "us-east-1c"]);
    // The seed's layout for three zones in a /16.
    let (_, s) = subnets(&objs);
    let cidrs: Vec<String> = s.iter().map(|(_, c, _)| c.to_string()).collect();
    assert_eq!(
        cidrs,
        [
            "10.0.0.0/18",
            "10.0.64.0/18",
            "10.0.128.0/18",
            "10.0.192.0/20",
            "10.0.208.0/20",
            "10.0.224.0/20"
        ]
    );

    let four = BASE.replacen(
        "    vpcCidr: 10.0.0.0/16\n",
        "    vpcCidr: 10.20.0.0/20\n    availabilityZones: [us-east-1a, us-east-1b, us-east-1c, us-east-1d]\n",
        1,
    );
    assert_layout(
        &objects(&four),
        &["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"],
    );
    let one_zone = BASE.replacen(
        "    vpcCidr: 10.0.0.0/16\n",
        "    vpcCidr: 10.0.0.0/24\n    availabilityZones: [us-east-1a]\n",
        1,
    );
    assert_layout(&objects(&one_zone), &["us-east-1a"]);
}

#[test]
fn objects_are_v1beta2_with_references_and_addons_wired() {
    let objs = objects(BASE);
    let cluster = find(&objs, "Cluster", "demo");
    assert_eq!(
        cluster["spec"]["clusterNetwork"]["pods"]["cidrBlocks"][0],
        "192.168.0.0/16"
    );
    assert_eq!(cluster["spec"]["infrastructureRef"]["kind"], "AWSCluster");
    assert_eq!(
        cluster["spec"]["controlPlaneRef"]["name"],
        "demo-control-plane"
    );
    for o in &objs {
        let api = o["apiVersion"].as_str().expect("apiVersion");
        if api.contains("cluster.x-k8s.io") {
            assert!(api.ends_with("/v1beta2"), "{api}");
        }
        assert_eq!(o["metadata"]["namespace"], "default");
    }
    // No manifests given: the workload add-ons render nothing (and say so).
    assert!(!objs.iter().any(|o| o["kind"] == "ClusterResourceSet"));
    assert_eq!(
        plinth_fleet::addons_without_manifests(&one(BASE), &RenderSettings::default()),
        ["calico", "metrics-server"]
    );
    assert_eq!(
        cluster["metadata"]["labels"]["cluster.x-k8s.io/cluster-name"],
        "demo"
    );
    let ca = find(&objs, "Deployment", "demo-cluster-autoscaler");
    assert_eq!(
        ca["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.k8s.io/autoscaling/cluster-autoscaler:v1.31.0"
    );

    let ns = render(
        &one(BASE),
        &RenderSettings {
            namespace: "fleet".to_owned(),
            autoscaler_image: Some("example.com/ca:v1".to_owned()),
            ..RenderSettings::default()
        },
    )
    .expect("renders");
    assert!(ns.iter().all(|o| o["metadata"]["namespace"] == "fleet"));
}

#[test]
fn rendering_is_deterministic() {
    let a = serde_json::to_string(&objects(BASE)).expect("json");
    let b = serde_json::to_string(&objects(BASE)).expect("json");
    assert_eq!(a, b);
}

fn manifests(name: &str, text: &str) -> Vec<plinth_core::manifest::Document> {
    plinth_core::manifest::parse_str(name, text).expect("parses")
}

fn with_addons(pairs: &[(&str, Vec<plinth_core::manifest::Document>)]) -> RenderSettings {
    RenderSettings {
        addon_manifests: pairs
            .iter()
            .map(|(n, d)| ((*n).to_owned(), d.clone()))
            .collect(),
        ..RenderSettings::default()
    }
}

#[test]
fn addon_manifests_go_through_a_cluster_resource_set() {
    let calico = manifests(
        "calico.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: calico-system\n---\n\
         apiVersion: v1\nkind: Secret\nmetadata:\n  name: token\n  namespace: calico-system\n\
         stringData:\n  k: v\n---\n\
         apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: calico-node\n  namespace: calico-system\n",
    );
    let settings = with_addons(&[("calico", calico)]);
    let objs = render(&one(BASE), &settings).expect("renders");
    assert_eq!(
        plinth_fleet::addons_without_manifests(&one(BASE), &settings),
        ["metrics-server"]
    );
    let crs = find(&objs, "ClusterResourceSet", "demo-addons");
    assert_eq!(
        crs["spec"]["clusterSelector"]["matchLabels"]["cluster.x-k8s.io/cluster-name"],
        "demo"
    );
    assert_eq!(
        crs["spec"]["resources"],
        serde_json::json!([
            {"kind": "ConfigMap", "name": "demo-addon-calico"},
            {"kind": "Secret", "name": "demo-addon-calico-secrets"}
        ])
    );
    let cm = find(&objs, "ConfigMap", "demo-addon-calico");
    let text = cm["data"]["calico.yaml"].as_str().expect("data");
    let back = plinth_core::manifest::parse_str("cm", text).expect("the ConfigMap holds YAML");
    let kinds: Vec<&str> = back
        .iter()
        .map(|d| d.value()["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(
        kinds,
        ["Namespace", "DaemonSet"],
        "the Secret stays out of the ConfigMap"
    );
    let secret = find(&objs, "Secret", "demo-addon-calico-secrets");
    assert_eq!(
        secret["type"],
        plinth_fleet::render::RESOURCE_SET_SECRET_TYPE
    );
    assert!(secret["data"]["calico.yaml"].is_string());
    assert!(!text.contains("stringData"));
}

#[test]
fn large_addons_are_split_and_bad_documents_refused() {
    let blob = "x".repeat(300 * 1024);
    let mut text = String::new();
    for i in 0..7 {
        text.push_str(&format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: part-{i}\ndata:\n  blob: {blob}\n---\n"
        ));
    }
    let settings = with_addons(&[("calico", manifests("big.yaml", &text))]);
    let objs = render(&one(BASE), &settings).expect("renders");
    let cms: Vec<&Value> = objs
        .iter()
        .filter(|o| {
            o["kind"] == "ConfigMap" && o["metadata"]["labels"]["plinth.io/addon"] == "calico"
        })
        .collect();
    // 7 documents of ~300 KiB: two per ConfigMap.
    assert_eq!(cms.len(), 4);
    for cm in &cms {
        let size = cm["data"]["calico.yaml"].as_str().expect("data").len();
        assert!(size <= plinth_fleet::render::CONFIGMAP_BUDGET, "{size}");
    }
    assert_eq!(cms[1]["metadata"]["name"], "demo-addon-calico-2");

    let nameless = manifests(
        "bad.yaml",
        "apiVersion: v1\nkind: Namespace\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {}\n",
    );
    let err = render(&one(BASE), &with_addons(&[("calico", nameless)])).expect_err("refused");
    let msg = err.to_string();
    assert!(msg.starts_with("add-on calico: bad.yaml:1"), "{msg}");
    assert!(msg.contains("metadata.name"), "{msg}");

    let huge = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: huge\ndata:\n  blob: {}\n",
        "y".repeat(1024 * 1024)
    );
    let err = render(
        &one(BASE),
        &with_addons(&[("calico", manifests("huge.yaml", &huge))]),
    )
    .expect_err("refused");
    assert!(
        err.to_string().contains("larger than one ConfigMap"),
        "{err}"
    );
}

#[test]
fn templates_are_named_by_content_and_carry_the_pinned_image() {
    let objs = objects(BASE);
    let general = template(&objs, "AWSMachineTemplate", "demo-general")["metadata"]["name"].clone();
    let cp =
        template(&objs, "AWSMachineTemplate", "demo-control-plane")["metadata"]["name"].clone();
    // Same spec, same names.
    let again = objects(BASE);
    assert_eq!(
        template(&again, "AWSMachineTemplate", "demo-general")["metadata"]["name"],
        general
    );

    // A changed instance type is a new template, and the pool points at it; the other
    // pools keep theirs.
    let bigger = objects(&BASE.replacen("machineType: c5.large", "machineType: c5.xlarge", 1));
    let new_general = &template(&bigger, "AWSMachineTemplate", "demo-general")["metadata"]["name"];
    assert_ne!(*new_general, general);
    assert_eq!(
        find(&bigger, "MachineDeployment", "demo-general")["spec"]["template"]["spec"]["infrastructureRef"]
            ["name"],
        *new_general
    );
    assert_eq!(
        template(&bigger, "AWSMachineTemplate", "demo-control-plane")["metadata"]["name"],
        cp
    );

    // An image pinned for the cluster's version goes into every machine template; one
    // pinned only for another version changes nothing.
    let pinned = |text: &str| {
        text.replacen(
            "  networking:",
            "  machineImages:\n    v1.31.4: ami-0123456789abcdef0\n    v1.32.0: ami-0fedcba9876543210\n  networking:",
            1,
        )
    };
    let with_image = objects(&pinned(BASE));
    for o in with_image
        .iter()
        .filter(|o| o["kind"] == "AWSMachineTemplate")
    {
        assert_eq!(
            o["spec"]["template"]["spec"]["ami"]["id"], "ami-0123456789abcdef0",
            "{}",
            o["metadata"]["name"]
        );
    }
    assert_ne!(
        template(&with_image, "AWSMachineTemplate", "demo-control-plane")["metadata"]["name"],
        cp
    );
    let kcp = find(&with_image, "KubeadmControlPlane", "demo-control-plane");
    assert_eq!(
        kcp["spec"]["machineTemplate"]["spec"]["infrastructureRef"]["name"],
        template(&with_image, "AWSMachineTemplate", "demo-control-plane")["metadata"]["name"]
    );
    let other_version = BASE.replacen(
        "  networking:",
        "  machineImages:\n    v1.32.0: ami-0fedcba9876543210\n  networking:",
        1,
    );
    assert_eq!(
        template(
            &objects(&other_version),
            "AWSMachineTemplate",
            "demo-control-plane"
        )["metadata"]["name"],
        cp
    );

    // A fixed-size pool (min == max) states its replicas.
    let fixed = objects(&BASE.replacen("maxNodes: 6", "maxNodes: 2", 1));
    assert_eq!(
        find(&fixed, "MachineDeployment", "demo-general")["spec"]["replicas"],
        2
    );

    refused_images();
}

fn refused_images() {
    for (entry, what) in [
        ("v1.31: ami-0123456789abcdef0", "vMAJOR.MINOR.PATCH"),
        ("v1.31.4: ubuntu-22.04", "not an AMI ID"),
    ] {
        let text = BASE.replacen(
            "  networking:",
            &format!("  machineImages:\n    {entry}\n  networking:"),
            1,
        );
        let errors = load(&text).expect_err("refused");
        assert!(
            errors
                .iter()
                .any(|e| e.contains("spec.machineImages") && e.contains(what)),
            "{entry}: {errors:?}"
        );
    }
}
