//! The zero-trust model: validation with `file:line`, the three-layer decision, and the
//! compiler — including the property that matters most: the compiled NetworkPolicies,
//! evaluated with exact Kubernetes semantics, allow between identities' pods exactly what
//! intent allows.

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::api::networking::v1 as net;
use plinth_core::manifest;
use plinth_netpol::intent::decide::Party;
use plinth_netpol::intent::{Model, compile, load};
use plinth_netpol::model::{ContainerPort, Pod};
use plinth_netpol::policy::Policy;
use plinth_netpol::{Endpoint, Index, IpBlockMode, PortQuery, Protocol};
use serde_json::Value;

fn example_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/zero-trust/model.yaml")
}

fn example() -> Model {
    let docs = manifest::read_paths(&[example_path()]).expect("example reads");
    let mut models = load::models(&docs).expect("example is valid");
    assert_eq!(models.len(), 1);
    models.remove(0)
}

/// The errors of a model given as text, as `line: message`.
fn errors(text: &str) -> Vec<String> {
    let docs = manifest::parse_str("m.yaml", text).expect("YAML parses");
    match load::models(&docs) {
        Ok(_) => Vec::new(),
        Err(errs) => errs
            .iter()
            .map(|e| {
                let line = e.location().map_or(0, manifest::Location::line);
                format!("{line}: {e}")
            })
            .collect(),
    }
}

const BASE: &str = "apiVersion: plinth.dev/v1alpha1
kind: ZeroTrustModel
metadata: {name: m}
spec:
  zones:
    - name: app
      cidrs: [10.0.1.0/24]
      trustLevel: limited
      ingress: [{zone: app, ports: [8080]}]
      egress: [{zone: app, ports: [8080]}]
  identities:
    - {name: a, namespace: ns, zone: app}
    - {name: b, namespace: ns, zone: app}
  matrix:
    - {from: a, to: b, port: 8080}
";

#[test]
fn the_example_and_the_base_model_are_valid() {
    assert_eq!(errors(BASE), Vec::<String>::new());
    let m = example();
    assert_eq!(m.spec.identities.len(), 9);
}

#[test]
fn semantic_errors_name_file_line_and_field() {
    let cases: &[(&str, &str, &str)] = &[
        // (replace, with, expected fragment)
        (
            "zone: app}\n    - {name: b",
            "zone: nowhere}\n    - {name: b",
            "m.yaml:12",
        ),
        (
            "ports: [8080]}]\n      egress",
            "ports: [0]}]\n      egress",
            "0 is not a port",
        ),
        (
            "{from: a, to: b, port: 8080}",
            "{from: a, to: c, port: 8080}",
            "unknown identity \"c\"",
        ),
        (
            "{from: a, to: b, port: 8080}",
            "{from: a, to: b, port: 9999}",
            "contradicts the zone rules",
        ),
        (
            "cidrs: [10.0.1.0/24]",
            "cidrs: [10.0.1.0/24, 10.0.1.128/25]",
            "overlaps 10.0.1.0/24",
        ),
        (
            "cidrs: [10.0.1.0/24]",
            "cidrs: [10.0.1.1/24]",
            "host bits set",
        ),
        (
            "{name: b, namespace: ns, zone: app}",
            "{name: a, namespace: ns, zone: app}",
            "defined twice",
        ),
        (
            "{zone: app, ports: [8080]}]\n      egress",
            "{zone: app, any: true, ports: [8080]}]\n      egress",
            "exactly one peer",
        ),
    ];
    for (from, to, want) in cases {
        assert!(
            BASE.contains(from),
            "case text {from:?} not in the base model"
        );
        let text = BASE.replacen(from, to, 1);
        let errs = errors(&text);
        assert!(
            errs.iter()
                .any(|e| e.contains(want) && e.contains("m.yaml:")),
            "{to:?}: expected an error containing {want:?}, got {errs:#?}"
        );
    }
    // Every error has a real line.
    let errs = errors(&BASE.replacen(
        "zone: app}\n    - {name: b",
        "zone: nowhere}\n    - {name: b",
        1,
    ));
    assert!(errs.iter().all(|e| !e.starts_with("0:")), "{errs:?}");
}

#[test]
fn unknown_fields_and_bad_types_are_refused_with_a_line() {
    let errs = errors(&BASE.replace(
        "trustLevel: limited",
        "trustLevel: limited\n      colour: red",
    ));
    assert!(errs.iter().any(|e| e.contains("colour")), "{errs:?}");
    let errs = errors(&BASE.replace("trustLevel: limited", "trustLevel: sort-of"));
    assert!(errs.iter().any(|e| e.contains("m.yaml:8")), "{errs:?}");
    let errs = errors(&BASE.replace("port: 8080}", "port: 70000}"));
    assert!(!errs.is_empty());
}

#[test]
fn overlapping_identities_are_refused() {
    let text = BASE.replace(
        "- {name: b, namespace: ns, zone: app}",
        "- {name: b, namespace: ns, zone: app, labels: {app: a}}",
    );
    let errs = errors(&text);
    assert!(errs.iter().any(|e| e.contains("would be both")), "{errs:?}");
}

#[test]
fn the_three_layers_with_the_target_zones_ingress() {
    let m = example();
    let id = |n: &str| Party::Identity(m.identity(n).expect("identity"));
    // Allowed by all three.
    assert!(
        m.decide(id("web-frontend"), id("api-backend"), 8080, Protocol::Tcp)
            .allowed
    );
    // The matrix does not list it.
    let v = m.decide(id("web-frontend"), id("api-backend"), 8443, Protocol::Tcp);
    assert!(!v.allowed);
    assert_eq!(v.layers[2].allowed, Some(false));
    // Wrong protocol.
    assert!(
        !m.decide(id("web-frontend"), id("api-backend"), 8080, Protocol::Udp)
            .allowed
    );
    // An external address may reach the DMZ on 443, not the database zone.
    let outside = Party::Address("203.0.113.7".parse().expect("ip"));
    assert!(
        m.decide(outside, id("web-frontend"), 443, Protocol::Tcp)
            .allowed
    );
    let v = m.decide(outside, id("database"), 5432, Protocol::Tcp);
    assert!(!v.allowed);
    // The admin network reaches management on 22; other addresses do not.
    let admin = Party::Address("10.0.200.9".parse().expect("ip"));
    assert!(m.decide(admin, id("prometheus"), 22, Protocol::Tcp).allowed);
    assert!(
        !m.decide(outside, id("prometheus"), 22, Protocol::Tcp)
            .allowed
    );
    // The target zone's ingress is checked: management's egress allows "any" on 443, but
    // the application zone admits nothing from management on 443.
    let v = m.decide(id("prometheus"), id("api-backend"), 443, Protocol::Tcp);
    assert!(!v.allowed);
    assert!(
        v.reasons()
            .iter()
            .any(|r| r.contains("zone application has no ingress rule")),
        "{:?}",
        v.reasons()
    );
}

#[test]
fn untrusted_sources_never_reach_trusted_targets() {
    let text = BASE
        .replace("trustLevel: limited", "trustLevel: untrusted")
        .replace(
            "{name: b, namespace: ns, zone: app}",
            "{name: b, namespace: ns, zone: app, trustLevel: trusted}",
        );
    let errs = errors(&text);
    assert!(
        errs.iter()
            .any(|e| e.contains("contradicts the trust levels")),
        "{errs:?}"
    );
}

#[test]
fn compile_is_deterministic_and_writes_a_kustomization() {
    let m = example();
    let a = compile::compile(&m).files().expect("serializes");
    let b = compile::compile(&example()).files().expect("serializes");
    assert_eq!(a, b);
    let kustomization = &a["kustomization.yaml"];
    let files: Vec<&String> = a.keys().filter(|k| *k != "kustomization.yaml").collect();
    for f in &files {
        assert!(
            kustomization.contains(f.as_str()),
            "{f} missing from kustomization"
        );
    }
    assert_eq!(files.len(), 9);
}

fn objects_of(m: &Model, kind: &str) -> Vec<Value> {
    compile::compile(m)
        .objects
        .into_iter()
        .filter(|o| o.kind() == kind)
        .map(|o| o.value)
        .collect()
}

#[test]
fn istio_policies_have_correct_empty_semantics() {
    let m = example();
    for ap in objects_of(&m, "AuthorizationPolicy") {
        let spec = &ap["spec"];
        assert_eq!(spec["action"], "ALLOW");
        match spec.get("rules") {
            // Allow-nothing: no rules at all.
            None => {}
            Some(Value::Array(rules)) => {
                assert!(!rules.is_empty());
                for r in rules {
                    assert!(r["from"][0]["source"]["principals"][0].is_string(), "{r}");
                    assert!(r["to"][0]["operation"]["ports"][0].is_string(), "{r}");
                }
            }
            Some(other) => panic!("rules is {other}"),
        }
    }
    // The database is reached by api-backend only (5432) — prometheus on 9187.
    let db = objects_of(&m, "AuthorizationPolicy")
        .into_iter()
        .find(|o| o["metadata"]["name"] == "database-authz")
        .expect("database-authz");
    let principals: Vec<&str> = db["spec"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["from"][0]["source"]["principals"][0].as_str())
        .collect();
    assert_eq!(
        principals,
        [
            "cluster.local/ns/monitoring/sa/prometheus",
            "cluster.local/ns/production-workloads/sa/api-backend"
        ]
    );
    // web-frontend's only source is prometheus; nothing reaches prometheus: allow-nothing.
    let prom = objects_of(&m, "AuthorizationPolicy")
        .into_iter()
        .find(|o| o["metadata"]["name"] == "prometheus-authz")
        .expect("prometheus-authz");
    assert!(prom["spec"].get("rules").is_none(), "{prom}");
    for pa in objects_of(&m, "PeerAuthentication") {
        assert_eq!(pa["spec"]["mtls"]["mode"], "STRICT");
    }
}

#[test]
fn certificates_are_explicit() {
    let m = example();
    let certs = objects_of(&m, "Certificate");
    assert_eq!(certs.len(), 9);
    for c in certs {
        let s = &c["spec"];
        assert_eq!(s["issuerRef"]["kind"], "ClusterIssuer");
        assert_eq!(s["issuerRef"]["group"], "cert-manager.io");
        assert_eq!(s["duration"], "8760h");
        assert_eq!(s["renewBefore"], "720h");
        assert_eq!(s["privateKey"]["rotationPolicy"], "Always");
        assert!(
            s["uris"][0]
                .as_str()
                .is_some_and(|u| u.starts_with("spiffe://cluster.local/ns/"))
        );
        assert_eq!(s["dnsNames"].as_array().map(Vec::len), Some(4));
    }
}

/// One pod per identity (with every port any rule names), plus the cluster DNS pod.
fn pods_for(m: &Model) -> Vec<Pod> {
    let mut pods: Vec<Pod> = m
        .spec
        .identities
        .iter()
        .map(|i| Pod {
            namespace: i.namespace.clone(),
            name: format!("{}-0", i.name),
            labels: i.pod_labels(),
            ip: None,
            host_network: false,
            ports: Vec::<ContainerPort>::new(),
        })
        .collect();
    pods.push(Pod {
        namespace: m.spec.dns.namespace.clone(),
        name: "coredns-0".into(),
        labels: m.spec.dns.pod_labels.clone(),
        ip: None,
        host_network: false,
        ports: Vec::new(),
    });
    pods
}

fn index_of(m: &Model) -> Index {
    let policies: Vec<Policy> = objects_of(m, "NetworkPolicy")
        .into_iter()
        .map(|v| {
            let np: net::NetworkPolicy = serde_json::from_value(v).expect("a NetworkPolicy");
            Policy::compile(&np, "default").expect("compiled policies are valid")
        })
        .collect();
    Index::new(
        BTreeMap::new(),
        pods_for(m),
        policies,
        IpBlockMode::ExternalOnly,
    )
}

#[test]
fn compiled_network_policies_allow_exactly_what_intent_allows() {
    let m = example();
    let index = index_of(&m);
    let mut ports: Vec<u16> = m.spec.matrix.iter().map(|e| e.port).collect();
    for z in &m.spec.zones {
        for r in z.ingress.iter().chain(&z.egress) {
            ports.extend(&r.ports);
        }
    }
    ports.extend([1, 53, 65535]);
    ports.sort_unstable();
    ports.dedup();
    let mut checked = 0;
    let mut allowed = 0;
    for (ai, a) in m.spec.identities.iter().enumerate() {
        for (bi, b) in m.spec.identities.iter().enumerate() {
            if ai == bi {
                continue;
            }
            for &port in &ports {
                for protocol in [Protocol::Tcp, Protocol::Udp, Protocol::Sctp] {
                    let intent = m
                        .decide(Party::Identity(a), Party::Identity(b), port, protocol)
                        .allowed;
                    let verdict = index
                        .verify(
                            Endpoint::Pod(ai),
                            Endpoint::Pod(bi),
                            &PortQuery::Number(port),
                            protocol,
                        )
                        .expect("verifies");
                    assert_eq!(
                        verdict.allowed,
                        intent,
                        "{} -> {} {port}/{protocol}: intent {intent}, policies {}\n{:#?}",
                        a.name,
                        b.name,
                        verdict.allowed,
                        verdict.reasons()
                    );
                    checked += 1;
                    allowed += usize::from(intent);
                }
            }
        }
    }
    assert_eq!(
        allowed,
        m.spec.matrix.len(),
        "every matrix entry, nothing else"
    );
    assert!(checked > 3000, "{checked}");
    // DNS: every identity reaches the cluster DNS on UDP and TCP 53, and nothing else.
    let dns = m.spec.identities.len();
    for ai in 0..m.spec.identities.len() {
        for (port, protocol, want) in [
            (53, Protocol::Udp, true),
            (53, Protocol::Tcp, true),
            (80, Protocol::Tcp, false),
        ] {
            let v = index
                .verify(
                    Endpoint::Pod(ai),
                    Endpoint::Pod(dns),
                    &PortQuery::Number(port),
                    protocol,
                )
                .expect("verifies");
            assert_eq!(
                v.allowed, want,
                "{} -> dns {port}/{protocol}",
                m.spec.identities[ai].name
            );
        }
    }
}

#[test]
fn compiled_address_rules_match_intent() {
    let m = example();
    let index = index_of(&m);
    let web = m
        .spec
        .identities
        .iter()
        .position(|i| i.name == "web-frontend")
        .expect("web");
    let prom = m
        .spec
        .identities
        .iter()
        .position(|i| i.name == "prometheus")
        .expect("prom");
    let db = m
        .spec
        .identities
        .iter()
        .position(|i| i.name == "database")
        .expect("db");
    let cases: &[(&str, usize, u16)] = &[
        ("203.0.113.7", web, 443),
        ("203.0.113.7", web, 8080),
        ("10.0.1.5", web, 443),
        ("10.0.200.9", prom, 22),
        ("203.0.113.7", prom, 22),
        ("203.0.113.7", db, 5432),
    ];
    for &(ip, to, port) in cases {
        let addr = ip.parse().expect("ip");
        let intent = m
            .decide(
                Party::Address(addr),
                Party::Identity(&m.spec.identities[to]),
                port,
                Protocol::Tcp,
            )
            .allowed;
        let v = index
            .verify(
                Endpoint::Ip(addr),
                Endpoint::Pod(to),
                &PortQuery::Number(port),
                Protocol::Tcp,
            )
            .expect("verifies");
        assert_eq!(
            v.allowed, intent,
            "{ip} -> {} {port}",
            m.spec.identities[to].name
        );
    }
}

mod generated {
    //! Random models: zones with random rules, identities in random zones and namespaces,
    //! and matrix entries drawn from what the zone and trust layers allow. The compiled
    //! NetworkPolicies must allow exactly the matrix, nothing else.

    use super::*;
    use plinth_netpol::intent::ZeroTrustModelSpec;
    use proptest::prelude::*;

    const PORTS: [u16; 4] = [80, 443, 5432, 8080];
    const LEVELS: [&str; 4] = ["untrusted", "limited", "trusted", "privileged"];

    #[derive(Debug, Clone)]
    struct Shape {
        zone_levels: Vec<usize>,
        rules: Vec<(usize, usize, usize, bool)>,
        identities: Vec<(usize, usize)>,
        picks: Vec<(usize, usize, usize, bool)>,
    }

    fn shape() -> impl Strategy<Value = Shape> {
        (
            prop::collection::vec(0usize..4, 1..4),
            prop::collection::vec((0usize..3, 0usize..3, 0usize..4, any::<bool>()), 0..24),
            prop::collection::vec((0usize..3, 0usize..2), 2..6),
            prop::collection::vec((0usize..6, 0usize..6, 0usize..4, any::<bool>()), 0..24),
        )
            .prop_map(|(zone_levels, rules, identities, picks)| Shape {
                zone_levels,
                rules,
                identities,
                picks,
            })
    }

    fn model(shape: &Shape) -> Option<Model> {
        let zones = shape.zone_levels.len();
        let mut zone_json: Vec<Value> = (0..zones)
            .map(|z| {
                serde_json::json!({
                    "name": format!("z{z}"), "cidrs": [format!("10.{z}.0.0/16")],
                    "trustLevel": LEVELS[shape.zone_levels[z]], "ingress": [], "egress": []
                })
            })
            .collect();
        for &(from, to, port, udp) in &shape.rules {
            let (from, to) = (from % zones, to % zones);
            let proto = if udp { "UDP" } else { "TCP" };
            let rule = |peer: usize| serde_json::json!({"zone": format!("z{peer}"), "ports": [PORTS[port]], "protocols": [proto]});
            if let Some(e) = zone_json[from]["egress"].as_array_mut() {
                e.push(rule(to));
            }
            if let Some(i) = zone_json[to]["ingress"].as_array_mut() {
                i.push(rule(from));
            }
        }
        let identities: Vec<Value> = shape
            .identities
            .iter()
            .enumerate()
            .map(|(i, &(zone, ns))| {
                serde_json::json!({"name": format!("s{i}"), "namespace": format!("ns{ns}"), "zone": format!("z{}", zone % zones)})
            })
            .collect();
        let base: ZeroTrustModelSpec = serde_json::from_value(serde_json::json!({
            "zones": zone_json, "identities": identities, "matrix": []
        }))
        .ok()?;
        let without_matrix = Model::new("g", base.clone()).ok()?;
        let n = shape.identities.len();
        let mut matrix = Vec::new();
        for &(a, b, port, udp) in &shape.picks {
            let (a, b) = (a % n, b % n);
            if a == b {
                continue;
            }
            let protocol = if udp { Protocol::Udp } else { Protocol::Tcp };
            let (ia, ib) = (
                &without_matrix.spec.identities[a],
                &without_matrix.spec.identities[b],
            );
            let v = without_matrix.decide(
                Party::Identity(ia),
                Party::Identity(ib),
                PORTS[port],
                protocol,
            );
            // Allowed by trust and zones (the matrix layer is what we are adding).
            if v.layers[..2].iter().all(|l| l.allowed != Some(false)) {
                let entry = serde_json::json!({"from": ia.name, "to": ib.name, "port": PORTS[port], "protocol": protocol.as_str()});
                if !matrix.contains(&entry) {
                    matrix.push(entry);
                }
            }
        }
        let mut spec = base;
        spec.matrix = serde_json::from_value(Value::Array(matrix)).ok()?;
        Some(Model::new("g", spec).expect("a matrix drawn from allowed pairs is valid"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn compiled_policies_allow_exactly_the_generated_intent(shape in shape()) {
            let Some(m) = model(&shape) else { return Ok(()) };
            let index = index_of(&m);
            let ids = &m.spec.identities;
            let mut allowed = 0;
            for (ai, a) in ids.iter().enumerate() {
                for (bi, b) in ids.iter().enumerate() {
                    if ai == bi {
                        continue;
                    }
                    for port in PORTS.into_iter().chain([1, 53]) {
                        for protocol in [Protocol::Tcp, Protocol::Udp] {
                            let intent = m.decide(Party::Identity(a), Party::Identity(b), port, protocol).allowed;
                            let v = index
                                .verify(Endpoint::Pod(ai), Endpoint::Pod(bi), &PortQuery::Number(port), protocol)
                                .expect("verifies");
                            prop_assert_eq!(v.allowed, intent, "{} -> {} {}/{}", a.name, b.name, port, protocol);
                            allowed += usize::from(intent);
                        }
                    }
                }
            }
            prop_assert_eq!(allowed, m.spec.matrix.len());
        }
    }
}
