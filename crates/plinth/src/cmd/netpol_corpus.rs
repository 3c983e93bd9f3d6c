//! The cluster the network-policy benchmark maps: namespaces of a multi-team platform,
//! pods of several apps each with named container ports, and policies of the kinds
//! platform teams write — default denies, same-namespace app-to-app allows, cross-namespace
//! allows by namespace label, monitoring scrapes, DNS egress, ipBlocks with exceptions,
//! port ranges and named ports. Deterministic from a seed; written as ordinary YAML so
//! another tool can read the same files.

use plinth_core::rng::SplitMix64;
use serde_json::{Value, json};

const APPS: &[&str] = &[
    "web", "api", "worker", "cache", "db", "queue", "auth", "search",
];
const TIERS: &[&str] = &["frontend", "backend", "data"];

fn tier_of(app: &str) -> &'static str {
    match app {
        "web" | "auth" => "frontend",
        "db" | "cache" | "queue" => "data",
        _ => "backend",
    }
}

fn ports_of(app: &str) -> Value {
    match app {
        "db" => {
            json!([{"name": "sql", "containerPort": 5432}, {"name": "metrics", "containerPort": 9187}])
        }
        "cache" => {
            json!([{"name": "redis", "containerPort": 6379}, {"name": "metrics", "containerPort": 9121}])
        }
        "queue" => {
            json!([{"name": "amqp", "containerPort": 5672}, {"name": "metrics", "containerPort": 15692}])
        }
        "search" => {
            json!([{"name": "http", "containerPort": 9200}, {"name": "transport", "containerPort": 9300}])
        }
        _ => {
            json!([{"name": "http", "containerPort": 8080}, {"name": "grpc", "containerPort": 9090},
                    {"name": "metrics", "containerPort": 9100}, {"name": "dns-probe", "containerPort": 5353, "protocol": "UDP"}])
        }
    }
}

fn selector(app: &str) -> Value {
    json!({"matchLabels": {"app": app}})
}

/// `pods` pods and `policies` NetworkPolicies in `pods / 50` namespaces (at least 2).
pub fn documents(pods: usize, policies: usize, seed: u64) -> Vec<Value> {
    let mut rng = SplitMix64::new(seed);
    let namespaces = (pods / 50).max(2);
    let mut docs = Vec::new();
    for n in 0..namespaces {
        let env = if n % 3 == 0 { "prod" } else { "staging" };
        docs.push(json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": format!("team-{n:03}"), "labels": {"env": env, "team": format!("t{}", n % 7)}}}));
    }
    for i in 0..pods {
        let ns = i % namespaces;
        let app = rng.pick(APPS);
        docs.push(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("{app}-{i:05}"), "namespace": format!("team-{ns:03}"),
                "labels": {"app": app, "tier": tier_of(app), "version": format!("v{}", rng.below(3))}},
            "spec": {"containers": [{"name": app, "image": format!("registry.example.com/{app}:1"), "ports": ports_of(app)}]},
            "status": {"podIP": format!("10.{}.{}.{}", 64 + (i >> 16), (i >> 8) & 255, i & 255)}}));
    }
    for p in 0..policies {
        let ns = format!("team-{:03}", rng.below(namespaces as u64));
        let app = rng.pick(APPS);
        let peer_app = rng.pick(APPS);
        let name = format!("np-{p:05}");
        let spec = match rng.below(10) {
            0 => json!({"podSelector": {}, "policyTypes": ["Ingress"]}),
            1 => json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
                "egress": [{"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                            "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]}),
            2 => json!({"podSelector": selector(app),
                "ingress": [{"from": [{"podSelector": selector(peer_app)}], "ports": [{"port": "http"}, {"port": "grpc"}]}]}),
            3 => json!({"podSelector": selector(app),
                "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"env": "prod"}}, "podSelector": {"matchLabels": {"tier": "frontend"}}}],
                             "ports": [{"port": 8000, "endPort": 9200}]}]}),
            4 => {
                json!({"podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": [TIERS[rng.below(3) as usize]]}]},
                "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": format!("t{}", rng.below(7))}}}]}]})
            }
            5 => {
                json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "team-000"}}}],
                "ports": [{"port": "metrics"}]}]})
            }
            6 => json!({"podSelector": selector(app), "policyTypes": ["Egress"],
                "egress": [{"to": [{"podSelector": selector(peer_app)}]},
                           {"to": [{"ipBlock": {"cidr": "10.64.0.0/16", "except": [format!("10.64.{}.0/24", rng.below(4))]}}], "ports": [{"port": 443}]}]}),
            7 => {
                json!({"podSelector": {"matchExpressions": [{"key": "version", "operator": "NotIn", "values": ["v0"]}]},
                "ingress": [{"from": [{"podSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]}}], "ports": [{"port": 9100}, {"port": 5353, "protocol": "UDP"}]}]})
            }
            8 => json!({"podSelector": selector(app), "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [{"ipBlock": {"cidr": "10.64.0.0/14"}}], "ports": [{"port": "http"}]}],
                "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"env": "prod"}}}], "ports": [{"port": 5432}, {"port": 6379}, {"port": 5672}]}]}),
            _ => json!({"podSelector": selector(app), "ingress": [{}]}),
        };
        docs.push(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}),
        );
    }
    docs
}
