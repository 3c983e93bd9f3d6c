//! Every Cluster API and AWS provider object the renderer emits fits the typed models
//! generated from the upstream CRDs (plinth-crds): it deserializes into its type and
//! serializes back to exactly the same JSON, so no rendered field is unknown to the
//! schema or has the wrong type. Run over the shipped example and a spec that turns on
//! every optional part (spot, dedicated, taints, every add-on, development tier).

use plinth_crds::capa::v1beta2::{
    aws_cluster::AwsCluster, aws_machine_template::AwsMachineTemplate,
};
use plinth_crds::capi::v1beta2::{
    cluster::Cluster, cluster_resource_set::ClusterResourceSet,
    kubeadm_config_template::KubeadmConfigTemplate, kubeadm_control_plane::KubeadmControlPlane,
    machine_deployment::MachineDeployment,
};
use plinth_fleet::{RenderSettings, addons, clusters, render};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

fn round_trip<T: DeserializeOwned + Serialize>(object: &Value) -> Value {
    let typed: T = serde_json::from_value(object.clone()).unwrap_or_else(|e| {
        panic!(
            "{} {}: does not fit the generated type: {e}",
            object["kind"], object["metadata"]["name"]
        )
    });
    let mut back = serde_json::to_value(&typed).expect("serializes");
    // The derived root type always writes `status`; the renderer never does.
    if let Some(map) = back.as_object_mut()
        && map.get("status") == Some(&Value::Null)
    {
        map.remove("status");
    }
    back
}

/// Checks every Cluster API object of `yaml`'s render; returns how many were checked.
fn check(yaml: &str, settings: &RenderSettings) -> usize {
    let docs = plinth_core::manifest::parse_str("spec.yaml", yaml).expect("parses");
    let specs = clusters(&docs).expect("valid");
    let mut checked = 0;
    for spec in &specs {
        for object in render(spec, settings).expect("renders") {
            let api_version = object["apiVersion"].as_str().unwrap_or_default();
            if !api_version.contains("cluster.x-k8s.io") {
                continue;
            }
            let back = match object["kind"].as_str().unwrap_or_default() {
                "Cluster" => round_trip::<Cluster>(&object),
                "AWSCluster" => round_trip::<AwsCluster>(&object),
                "AWSMachineTemplate" => round_trip::<AwsMachineTemplate>(&object),
                "KubeadmControlPlane" => round_trip::<KubeadmControlPlane>(&object),
                "KubeadmConfigTemplate" => round_trip::<KubeadmConfigTemplate>(&object),
                "MachineDeployment" => round_trip::<MachineDeployment>(&object),
                "ClusterResourceSet" => round_trip::<ClusterResourceSet>(&object),
                other => {
                    panic!("{api_version} {other}: no generated type; add it to tools/gen-crds")
                }
            };
            assert_eq!(
                back, object,
                "{} {} changes through its generated type: a field is unknown or mistyped",
                object["kind"], object["metadata"]["name"]
            );
            checked += 1;
        }
    }
    checked
}

#[test]
fn the_shipped_example_fits_the_generated_types() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/fleet/prod-us-east.yaml"
    );
    let yaml = std::fs::read_to_string(path).expect("example exists");
    // AWSCluster, control plane template + KCP, 3 pools x 3, Cluster (+ CRS if add-ons).
    assert!(check(&yaml, &RenderSettings::default()) >= 13);
}

#[test]
fn every_optional_part_fits_the_generated_types() {
    let all_addons: Vec<String> = addons::KNOWN
        .iter()
        .map(|a| format!("    - {}", a.name))
        .collect();
    let yaml = format!(
        r#"apiVersion: plinth.io/v1alpha1
kind: ManagedCluster
metadata:
  name: everything
spec:
  tier: development
  region: eu-west-1
  kubernetesVersion: v1.33.2
  controlPlane:
    replicas: 1
    instanceType: t3.large
  nodePools:
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
    vpcCidr: 10.20.0.0/16
    podCidr: 192.168.0.0/16
    serviceCidr: 10.128.0.0/12
  addons:
{}
"#,
        all_addons.join("\n")
    );
    // Every workload add-on with a manifest, so the ClusterResourceSet is rendered too.
    let mut settings = RenderSettings::default();
    for a in addons::KNOWN {
        let doc = format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {}\n",
            a.namespace
        );
        let docs = plinth_core::manifest::parse_str("ns.yaml", &doc).expect("parses");
        settings.addon_manifests.insert(a.name.to_owned(), docs);
    }
    assert!(check(&yaml, &settings) >= 11);
}
