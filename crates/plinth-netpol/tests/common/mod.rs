//! Generated clusters and NetworkPolicies for the property and differential tests: three
//! namespaces, pods of three apps with named ports, and policies drawing on every kind of
//! peer, selector operator, port form and policy type.
#![allow(dead_code)]

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::networking::v1 as net;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use proptest::prelude::*;

pub const NAMESPACES: [&str; 3] = ["x", "y", "z"];
const APPS: [&str; 3] = ["a", "b", "c"];

pub fn selector() -> impl Strategy<Value = LabelSelector> {
    prop_oneof![
        Just(LabelSelector::default()),
        prop::sample::select(APPS.to_vec()).prop_map(|a| LabelSelector {
            match_labels: Some(BTreeMap::from([("app".to_owned(), a.to_owned())])),
            ..Default::default()
        }),
        (
            prop::sample::select(vec!["In", "NotIn", "Exists", "DoesNotExist"]),
            prop::sample::subsequence(APPS.to_vec(), 1..=2)
        )
            .prop_map(|(op, values)| LabelSelector {
                match_expressions: Some(vec![LabelSelectorRequirement {
                    key: "app".to_owned(),
                    operator: op.to_owned(),
                    values: matches!(op, "In" | "NotIn")
                        .then(|| values.iter().map(|v| (*v).to_owned()).collect()),
                }]),
                ..Default::default()
            }),
    ]
}

pub fn ns_selector() -> impl Strategy<Value = LabelSelector> {
    prop_oneof![
        Just(LabelSelector::default()),
        prop::sample::select(NAMESPACES.to_vec()).prop_map(|n| LabelSelector {
            match_labels: Some(BTreeMap::from([(
                "kubernetes.io/metadata.name".to_owned(),
                n.to_owned()
            )])),
            ..Default::default()
        }),
        Just(LabelSelector {
            match_labels: Some(BTreeMap::from([("tier".to_owned(), "prod".to_owned())])),
            ..Default::default()
        }),
    ]
}

pub fn peer() -> impl Strategy<Value = net::NetworkPolicyPeer> {
    prop_oneof![
        selector().prop_map(|s| net::NetworkPolicyPeer {
            pod_selector: Some(s),
            ..Default::default()
        }),
        ns_selector().prop_map(|s| net::NetworkPolicyPeer {
            namespace_selector: Some(s),
            ..Default::default()
        }),
        (selector(), ns_selector()).prop_map(|(p, n)| net::NetworkPolicyPeer {
            pod_selector: Some(p),
            namespace_selector: Some(n),
            ..Default::default()
        }),
        (0u8..4, prop::option::of(0u8..8)).prop_map(|(third, except)| net::NetworkPolicyPeer {
            ip_block: Some(net::IPBlock {
                cidr: format!("10.0.{third}.0/24"),
                except: except.map(|e| vec![format!("10.0.{third}.{}/30", e * 4)]),
            }),
            ..Default::default()
        }),
    ]
}

pub fn port() -> impl Strategy<Value = net::NetworkPolicyPort> {
    (
        prop::option::of(prop::sample::select(vec!["TCP", "UDP", "SCTP"])),
        prop_oneof![
            Just((None, None)),
            prop::sample::select(vec![80, 81, 443, 8080])
                .prop_map(|p| (Some(IntOrString::Int(p)), None)),
            Just((Some(IntOrString::Int(80)), Some(443))),
            prop::sample::select(vec!["http", "dns", "metrics"])
                .prop_map(|n| (Some(IntOrString::String(n.to_owned())), None)),
        ],
    )
        .prop_map(|(protocol, (port, end_port))| net::NetworkPolicyPort {
            protocol: protocol.map(str::to_owned),
            port,
            end_port,
        })
}

pub fn rule_parts() -> impl Strategy<
    Value = (
        Option<Vec<net::NetworkPolicyPeer>>,
        Option<Vec<net::NetworkPolicyPort>>,
    ),
> {
    (
        prop::option::of(prop::collection::vec(peer(), 0..3)),
        prop::option::of(prop::collection::vec(port(), 0..3)),
    )
}

pub fn policy() -> impl Strategy<Value = net::NetworkPolicy> {
    (
        prop::sample::select(NAMESPACES.to_vec()),
        selector(),
        prop::collection::vec(rule_parts(), 0..3),
        prop::collection::vec(rule_parts(), 0..3),
        prop::sample::select(vec![
            None,
            Some(vec!["Ingress"]),
            Some(vec!["Egress"]),
            Some(vec!["Ingress", "Egress"]),
        ]),
    )
        .prop_map(
            |(ns, pod_selector, ingress, egress, types)| net::NetworkPolicy {
                metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                    name: Some("p".to_owned()),
                    namespace: Some(ns.to_owned()),
                    ..Default::default()
                },
                spec: Some(net::NetworkPolicySpec {
                    pod_selector: Some(pod_selector),
                    policy_types: types.map(|t| t.into_iter().map(str::to_owned).collect()),
                    ingress: Some(
                        ingress
                            .into_iter()
                            .map(|(from, ports)| net::NetworkPolicyIngressRule { from, ports })
                            .collect(),
                    ),
                    egress: Some(
                        egress
                            .into_iter()
                            .map(|(to, ports)| net::NetworkPolicyEgressRule { to, ports })
                            .collect(),
                    ),
                }),
            },
        )
}

pub fn pod(
    i: usize,
    ns: &str,
    app: &str,
    host_network: bool,
    ports: &[(&str, i32, &str)],
) -> core::Pod {
    core::Pod {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(format!("p{i}")),
            namespace: Some(ns.to_owned()),
            labels: Some(BTreeMap::from([("app".to_owned(), app.to_owned())])),
            ..Default::default()
        },
        spec: Some(core::PodSpec {
            host_network: Some(host_network),
            containers: vec![core::Container {
                name: "c".to_owned(),
                ports: Some(
                    ports
                        .iter()
                        .map(|(name, port, proto)| core::ContainerPort {
                            name: Some((*name).to_owned()),
                            container_port: *port,
                            protocol: Some((*proto).to_owned()),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: Some(core::PodStatus {
            pod_ip: Some(format!("10.0.{}.{}", i % 4, 1 + i)),
            ..Default::default()
        }),
    }
}

/// Pods (one in ten on the host network when `host_network`), policies, and a coin.
pub fn cluster(
    host_network: bool,
) -> impl Strategy<Value = (Vec<core::Pod>, Vec<net::NetworkPolicy>, bool)> {
    (
        prop::collection::vec(
            (
                prop::sample::select(NAMESPACES.to_vec()),
                prop::sample::select(APPS.to_vec()),
                prop::bool::weighted(if host_network { 0.1 } else { 0.0 }),
                0usize..3,
            ),
            2..7,
        ),
        prop::collection::vec(policy(), 0..5),
        any::<bool>(),
    )
        .prop_map(|(pods, policies, external)| {
            let port_sets: [&[(&str, i32, &str)]; 3] = [
                &[("http", 80, "TCP"), ("dns", 53, "UDP")],
                &[("http", 8080, "TCP"), ("metrics", 443, "TCP")],
                &[("dns", 53, "TCP"), ("dns-udp", 53, "UDP")],
            ];
            let pods = pods
                .into_iter()
                .enumerate()
                .map(|(i, (ns, app, host, ports))| pod(i, ns, app, host, port_sets[ports]))
                .collect();
            (pods, policies, external)
        })
}
