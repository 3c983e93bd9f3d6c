//! Truth tables on the upstream Kubernetes network-policy e2e model
//! (`test/e2e/network/netpol` in kubernetes/kubernetes), written from the documented
//! semantics of `networking.k8s.io/v1` NetworkPolicy.
//!
//! The model: namespaces `x`, `y`, `z` (labelled `ns=<name>`; the engine adds
//! `kubernetes.io/metadata.name`), each with pods `a`, `b`, `c` (labelled `pod=<name>`),
//! every pod serving ports 80 and 81 over TCP, UDP and SCTP from container ports named
//! `serve-<port>-<protocol>`. Every case starts, like the upstream `Reachability` tables,
//! from "everything allowed", states what the policies change, and compares the whole
//! matrix (rows: source, columns: destination) with the engine's answers. A pod's traffic
//! to itself is always allowed (the upstream suite ignores loopback).

use std::fmt::Write as _;

use Protocol::{Sctp, Tcp, Udp};
use plinth_core::manifest::{self, ManifestError};
use plinth_netpol::{Endpoint, Index, IpBlockMode, PortQuery, Protocol, Verdict, manifests};

// ---------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------

const FILE: &str = "e2e.yaml";
const NAMESPACES: [&str; 3] = ["x", "y", "z"];
const POD_NAMES: [&str; 3] = ["a", "b", "c"];
const SERVED_PORTS: [u16; 2] = [80, 81];
const PROTOCOLS: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

/// The extra host-network pod of the host-network cases, and its node's IP.
const HOST_POD: &str = "h";
const HOST_IP: &str = "192.168.1.10";

/// Pod IPs: x/a = 10.0.0.1, x/b = 10.0.0.2, ... z/c = 10.0.0.9.
fn pod_ip(namespace: usize, pod: usize) -> String {
    format!("10.0.0.{}", namespace * POD_NAMES.len() + pod + 1)
}

/// The upstream container ports: `serve-80-tcp`, `serve-80-udp`, ... `serve-81-sctp`.
fn upstream_ports() -> Vec<(String, u16, Protocol)> {
    let mut ports = Vec::new();
    for port in SERVED_PORTS {
        for protocol in PROTOCOLS {
            let lower = protocol.as_str().to_lowercase();
            ports.push((format!("serve-{port}-{lower}"), port, protocol));
        }
    }
    ports
}

fn namespace_yaml(name: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels:\n    ns: {name}\n"
    )
}

/// A Pod with one container per port, as the upstream suite deploys them.
fn pod_yaml(
    namespace: &str,
    name: &str,
    ip: &str,
    host_network: bool,
    ports: &[(String, u16, Protocol)],
) -> String {
    let mut containers = String::new();
    for (port_name, port, protocol) in ports {
        let container = port_name.replacen("serve", "cont", 1);
        write!(
            containers,
            "  - name: {container}\n    image: registry.k8s.io/e2e-test-images/agnhost:2.53\n    ports:\n    - name: {port_name}\n      containerPort: {port}\n      protocol: {protocol}\n"
        )
        .expect("write to string");
    }
    format!(
        "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {namespace}\n  labels:\n    pod: {name}\nspec:\n  hostNetwork: {host_network}\n  containers:\n{containers}status:\n  podIP: {ip}\n"
    )
}

/// Namespaces x, y, z and pods a, b, c in each.
fn model_yaml() -> String {
    let mut out = String::new();
    for ns in NAMESPACES {
        out.push_str(&namespace_yaml(ns));
    }
    for (n, ns) in NAMESPACES.iter().enumerate() {
        for (p, pod) in POD_NAMES.iter().enumerate() {
            out.push_str(&pod_yaml(ns, pod, &pod_ip(n, p), false, &upstream_ports()));
        }
    }
    out
}

/// The host-network pod x/h (labelled `pod=h`) on a node with IP 192.168.1.10.
fn host_network_pod_yaml() -> String {
    pod_yaml("x", HOST_POD, HOST_IP, true, &upstream_ports())
}

/// Removes the common indentation of `text` (and a leading newline).
fn dedent(text: &str) -> String {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    text.lines()
        .map(|l| if l.len() >= indent { &l[indent..] } else { "" })
        .map(|l| format!("{}\n", l.trim_end()))
        .collect()
}

/// A NetworkPolicy document; `spec` is YAML (indented freely) for its `spec`.
fn netpol(namespace: &str, name: &str, spec: &str) -> String {
    let spec: String = dedent(spec).lines().map(|l| format!("  {l}\n")).collect();
    format!(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n{spec}"
    )
}

/// The engine's index over the model plus extra documents.
struct Model {
    index: Index,
    /// `NAMESPACE/NAME` of every pod, in index order.
    names: Vec<String>,
}

impl Model {
    /// The 9-pod model with `policies`, ipBlocks matching pod IPs.
    fn new(policies: &[String]) -> Model {
        Model::build(&model_yaml(), policies, IpBlockMode::PodIps)
    }

    /// The 9-pod model plus the host-network pod x/h.
    fn with_host_network(policies: &[String], mode: IpBlockMode) -> Model {
        let pods = model_yaml() + &host_network_pod_yaml();
        Model::build(&pods, policies, mode)
    }

    fn build(pods: &str, policies: &[String], mode: IpBlockMode) -> Model {
        let text = format!("{pods}{}", policies.concat());
        let docs = manifest::parse_str(FILE, &text).expect("the model parses");
        let index = manifests::index(&docs, mode).unwrap_or_else(|errors| {
            let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
            panic!("the model is refused:\n{}", errors.join("\n"))
        });
        let names = index.pods().iter().map(|p| p.id()).collect();
        Model { index, names }
    }

    fn pod(&self, id: &str) -> Endpoint {
        Endpoint::Pod(self.index.pod(id).expect("pod in the model"))
    }

    fn verdict(&self, from: Endpoint, to: Endpoint, port: u16, protocol: Protocol) -> Verdict {
        self.index
            .verify(from, to, &PortQuery::Number(port), protocol)
            .expect("the query is valid")
    }

    /// The engine's reachability matrix, `[from][to]`.
    fn actual(&self, port: u16, protocol: Protocol) -> Vec<Vec<bool>> {
        (0..self.names.len())
            .map(|i| {
                (0..self.names.len())
                    .map(|j| {
                        self.verdict(Endpoint::Pod(i), Endpoint::Pod(j), port, protocol)
                            .allowed
                    })
                    .collect()
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------
// Expected truth tables
// ---------------------------------------------------------------------------------------

/// An expected reachability matrix, built like the upstream `Reachability`: start from a
/// default and apply expectations in order (later ones override earlier ones).
///
/// Pod patterns: `*` (every pod), `NS/POD`, `NS/*`, `*/POD`, or a comma-separated list
/// of those.
#[derive(Debug, Clone)]
struct Reachability {
    names: Vec<String>,
    cells: Vec<Vec<bool>>,
}

fn pattern_matches(pattern: &str, name: &str) -> bool {
    pattern.split(',').map(str::trim).any(|p| {
        if p == "*" {
            return true;
        }
        let (pns, ppod) = p
            .split_once('/')
            .unwrap_or_else(|| panic!("pattern {p:?} is not *, NS/POD, NS/* or */POD"));
        let (ns, pod) = name.split_once('/').expect("pod names are NS/NAME");
        (pns == "*" || pns == ns) && (ppod == "*" || ppod == pod)
    })
}

impl Reachability {
    /// Everything allowed: the state with no policies.
    fn all_allowed(model: &Model) -> Reachability {
        let n = model.names.len();
        Reachability {
            names: model.names.clone(),
            cells: vec![vec![true; n]; n],
        }
    }

    fn select(&self, pattern: &str) -> Vec<usize> {
        let selected: Vec<usize> = (0..self.names.len())
            .filter(|&i| pattern_matches(pattern, &self.names[i]))
            .collect();
        assert!(
            !selected.is_empty(),
            "pattern {pattern:?} selects no pod of {:?}",
            self.names
        );
        selected
    }

    fn expect(mut self, from: &str, to: &str, allowed: bool) -> Reachability {
        for i in self.select(from) {
            for j in self.select(to) {
                self.cells[i][j] = allowed;
            }
        }
        self
    }

    fn allow(self, from: &str, to: &str) -> Reachability {
        self.expect(from, to, true)
    }

    fn deny(self, from: &str, to: &str) -> Reachability {
        self.expect(from, to, false)
    }

    /// A pod's traffic to itself is allowed (the upstream AllowLoopback).
    fn with_loopback(mut self) -> Reachability {
        for i in 0..self.names.len() {
            self.cells[i][i] = true;
        }
        self
    }
}

/// A grid: rows are sources, columns destinations; `.` allowed, `X` denied, and `!`
/// where `marks` says the cell differs.
fn grid(names: &[String], cells: &[Vec<bool>], marks: Option<&[Vec<bool>]>) -> String {
    const CORNER: &str = "from\\to";
    let cell = names.iter().map(String::len).max().unwrap_or(1);
    let label = cell.max(CORNER.len());
    let mut out = format!("{CORNER:>label$} |");
    for name in names {
        write!(out, " {name:>cell$}").expect("write to string");
    }
    out.push('\n');
    for (i, from) in names.iter().enumerate() {
        write!(out, "{from:>label$} |").expect("write to string");
        for j in 0..names.len() {
            let mark = match marks {
                Some(m) if m[i][j] != cells[i][j] => "!",
                _ if cells[i][j] => ".",
                _ => "X",
            };
            write!(out, " {mark:>cell$}").expect("write to string");
        }
        out.push('\n');
    }
    out
}

/// Compares the engine's matrix for `port`/`protocol` with `expected` (plus loopback);
/// on a mismatch, panics with both grids, the differing cells and the engine's reasons.
fn check(model: &Model, port: u16, protocol: Protocol, expected: &Reachability) {
    assert_eq!(
        model.names, expected.names,
        "the table is for another model"
    );
    let expected = expected.clone().with_loopback();
    let actual = model.actual(port, protocol);
    if actual == expected.cells {
        return;
    }
    let names = &expected.names;
    let mut msg = format!(
        "reachability on port {port}/{protocol} differs (rows: from, columns: to; . allowed, X denied)\n\nexpected:\n{}\nactual:\n{}\ndiffering cells (!):\n{}\n",
        grid(names, &expected.cells, None),
        grid(names, &actual, None),
        grid(names, &expected.cells, Some(&actual)),
    );
    for (i, row) in actual.iter().enumerate() {
        for (j, &got) in row.iter().enumerate() {
            if got != expected.cells[i][j] {
                let verdict = model.verdict(Endpoint::Pod(i), Endpoint::Pod(j), port, protocol);
                writeln!(
                    msg,
                    "  {} -> {}: expected {}, engine says {} ({})",
                    names[i],
                    names[j],
                    if expected.cells[i][j] {
                        "allowed"
                    } else {
                        "denied"
                    },
                    if got { "allowed" } else { "denied" },
                    verdict.reasons().join("; ")
                )
                .expect("write to string");
            }
        }
    }
    panic!("{msg}");
}

/// Checks `expected` on every served port and protocol.
fn check_all(model: &Model, expected: &Reachability) {
    for port in SERVED_PORTS {
        for protocol in PROTOCOLS {
            check(model, port, protocol, expected);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Baseline and default-deny policies
// ---------------------------------------------------------------------------------------

#[test]
fn no_policies_everything_is_allowed() {
    let m = Model::new(&[]);
    check_all(&m, &Reachability::all_allowed(&m));
}

#[test]
fn default_deny_ingress() {
    let m = Model::new(&[netpol(
        "x",
        "deny-ingress",
        "
        podSelector: {}
        policyTypes: [Ingress]
        ",
    )]);
    let expected = Reachability::all_allowed(&m).deny("*", "x/*");
    check_all(&m, &expected);
}

#[test]
fn default_deny_ingress_with_defaulted_policy_types() {
    // No policyTypes and no rules: the API server defaults policyTypes to [Ingress].
    let m = Model::new(&[netpol("x", "deny-ingress", "podSelector: {}")]);
    let expected = Reachability::all_allowed(&m).deny("*", "x/*");
    check_all(&m, &expected);
}

#[test]
fn default_deny_egress() {
    let m = Model::new(&[netpol(
        "x",
        "deny-egress",
        "
        podSelector: {}
        policyTypes: [Egress]
        ",
    )]);
    let expected = Reachability::all_allowed(&m).deny("x/*", "*");
    check_all(&m, &expected);
}

#[test]
fn default_deny_all_both_directions() {
    let m = Model::new(&[netpol(
        "x",
        "deny-all",
        "
        podSelector: {}
        policyTypes: [Ingress, Egress]
        ",
    )]);
    let expected = Reachability::all_allowed(&m)
        .deny("x/*", "*")
        .deny("*", "x/*");
    check_all(&m, &expected);
}

#[test]
fn allow_all_ingress_overrides_default_deny() {
    // `ingress: [{}]`: one rule with no from and no ports matches all traffic.
    let m = Model::new(&[
        netpol("x", "deny-ingress", "podSelector: {}"),
        netpol(
            "x",
            "allow-all-ingress",
            "
            podSelector: {}
            ingress:
            - {}
            ",
        ),
    ]);
    check_all(&m, &Reachability::all_allowed(&m));
}

#[test]
fn allow_all_egress_overrides_default_deny() {
    let m = Model::new(&[
        netpol(
            "x",
            "deny-egress",
            "
            podSelector: {}
            policyTypes: [Egress]
            ",
        ),
        netpol(
            "x",
            "allow-all-egress",
            "
            podSelector: {}
            policyTypes: [Egress]
            egress:
            - {}
            ",
        ),
    ]);
    check_all(&m, &Reachability::all_allowed(&m));
}

// ---------------------------------------------------------------------------------------
// Peers: podSelector, namespaceSelector, both
// ---------------------------------------------------------------------------------------

#[test]
fn pod_selector_peer_is_the_policys_namespace() {
    let m = Model::new(&[netpol(
        "x",
        "allow-b",
        "
        podSelector: {matchLabels: {pod: a}}
        ingress:
        - from:
          - podSelector: {matchLabels: {pod: b}}
        ",
    )]);
    // y/b and z/b carry pod=b too, but a podSelector alone selects in x only.
    let expected = Reachability::all_allowed(&m)
        .deny("*", "x/a")
        .allow("x/b", "x/a");
    check(&m, 80, Tcp, &expected);
    check(&m, 81, Udp, &expected);
}

#[test]
fn namespace_selector_peer() {
    let m = Model::new(&[netpol(
        "x",
        "allow-ns-y",
        "
        podSelector: {matchLabels: {pod: a}}
        ingress:
        - from:
          - namespaceSelector: {matchLabels: {ns: y}}
        ",
    )]);
    let expected = Reachability::all_allowed(&m)
        .deny("*", "x/a")
        .allow("y/*", "x/a");
    check(&m, 80, Tcp, &expected);
    check(&m, 81, Sctp, &expected);
}

#[test]
fn pod_and_namespace_selector_in_one_peer_is_and() {
    let m = Model::new(&[netpol(
        "x",
        "allow-y-b",
        "
        podSelector: {matchLabels: {pod: a}}
        ingress:
        - from:
          - namespaceSelector: {matchLabels: {ns: y}}
            podSelector: {matchLabels: {pod: b}}
        ",
    )]);
    let expected = Reachability::all_allowed(&m)
        .deny("*", "x/a")
        .allow("y/b", "x/a");
    check(&m, 80, Tcp, &expected);
}

#[test]
fn pod_and_namespace_selector_in_two_peers_is_or() {
    let m = Model::new(&[netpol(
        "x",
        "allow-y-or-b",
        "
        podSelector: {matchLabels: {pod: a}}
        ingress:
        - from:
          - namespaceSelector: {matchLabels: {ns: y}}
          - podSelector: {matchLabels: {pod: b}}
        ",
    )]);
    let expected = Reachability::all_allowed(&m)
        .deny("*", "x/a")
        .allow("y/*", "x/a")
        .allow("x/b", "x/a");
    check(&m, 80, Tcp, &expected);
}

#[test]
fn match_expressions_in() {
    let m = Model::new(&[netpol(
        "x",
        "allow-b-c",
        "
        podSelector:
          matchExpressions:
          - {key: pod, operator: In, values: [a]}
        ingress:
        - from:
          - podSelector:
              matchExpressions:
              - {key: pod, operator: In, values: [b, c]}
        ",
    )]);
    let expected = Reachability::all_allowed(&m)
        .deny("*", "x/a")
        .allow("x/b,x/c", "x/a");
    check(&m, 80, Tcp, &expected);
}

#[test]
fn match_expressions_not_in() {
    let m = Model::new(&[netpol(
        "x",
        "allow-not-x-not-a",
        "
        podSelector: {matchLabels: {pod: a}}
        ingress:
        - from:
          - namespaceSelector:
              matchExpressions:
              - {key: ns, operator: NotIn, values: [x]}
            podSelector:
              matchExpressions:
              - {key: pod, operator: NotIn, values: [a]}
        ",
    )]);
    let expected = Reachability::all_allowed(&m)
        .deny("*", "x/a")
        .allow("y/b,y/c,z/b,z/c", "x/a");
    check(&m, 80, Tcp, &expected);
}

#[test]
fn match_expressions_exists() {
    // `pod Exists` selects every pod of x; `tier Exists` matches no pod.
    let m = Model::new(&[netpol(
        "x",
        "allow-c-everywhere",
        "
        podSelector:
          matchExpressions:
          - {key: pod, operator: Exists}
        ingress:
        - from:
          - namespaceSelector:
              matchExpressions:
              - {key: ns, operator: Exists}
            podSelector: {matchLabels: {pod: c}}
          - podSelector:
              matchExpressions:
              - {key: tier, operator: Exists}
        ",
    )]);
    let expected = Reachability::all_allowed(&m)
        .deny("*", "x/*")
        .allow("*/c", "x/*");
    check(&m, 80, Tcp, &expected);
}

#[test]
fn match_expressions_does_not_exist() {
    // `tier DoesNotExist` selects every pod of x (none has tier); `pod DoesNotExist`
    // matches no pod; a namespaceSelector `tier DoesNotExist` matches every namespace.
    let m = Model::new(&[netpol(
        "x",
        "allow-b-everywhere",
        "
        podSelector:
          matchExpressions:
          - {key: tier, operator: DoesNotExist}
        ingress:
        - from:
          - podSelector:
              matchExpressions:
              - {key: pod, operator: DoesNotExist}
        - from:
          - namespaceSelector:
              matchExpressions:
              - {key: tier, operator: DoesNotExist}
            podSelector: {matchLabels: {pod: b}}
        ",
    )]);
    let expected = Reachability::all_allowed(&m)
        .deny("*", "x/*")
        .allow("*/b", "x/*");
    check(&m, 80, Tcp, &expected);
}

#[test]
fn namespace_selector_on_metadata_name_label() {
    // Our namespaces only declare `ns`; kubernetes.io/metadata.name is automatic.
    let m = Model::new(&[netpol(
        "x",
        "allow-z",
        "
        podSelector: {matchLabels: {pod: a}}
        ingress:
        - from:
          - namespaceSelector:
              matchLabels: {kubernetes.io/metadata.name: z}
        ",
    )]);
    let expected = Reachability::all_allowed(&m)
        .deny("*", "x/a")
        .allow("z/*", "x/a");
    check(&m, 80, Tcp, &expected);
}

#[test]
fn empty_pod_selector_peer_is_own_namespace_only() {
    let m = Model::new(&[netpol(
        "x",
        "allow-x",
        "
        podSelector: {matchLabels: {pod: a}}
        ingress:
        - from:
          - podSelector: {}
        ",
    )]);
    let expected = Reachability::all_allowed(&m)
        .deny("*", "x/a")
        .allow("x/*", "x/a");
    check(&m, 80, Tcp, &expected);
}

#[test]
fn empty_namespace_selector_peer_is_all_namespaces() {
    // The rule allows every pod of every namespace on 80; x/a is still isolated on 81.
    let m = Model::new(&[netpol(
        "x",
        "allow-all-namespaces-80",
        "
        podSelector: {matchLabels: {pod: a}}
        ingress:
        - from:
          - namespaceSelector: {}
          ports:
          - port: 80
        ",
    )]);
    check(&m, 80, Tcp, &Reachability::all_allowed(&m));
    check(&m, 81, Tcp, &Reachability::all_allowed(&m).deny("*", "x/a"));
}

#[test]
fn empty_pod_selector_with_namespace_selector_is_all_pods_of_those_namespaces() {
    let m = Model::new(&[netpol(
        "x",
        "allow-all-of-y",
        "
        podSelector: {matchLabels: {pod: a}}
        ingress:
        - from:
          - namespaceSelector: {matchLabels: {ns: y}}
            podSelector: {}
        ",
    )]);
    let expected = Reachability::all_allowed(&m)
        .deny("*", "x/a")
        .allow("y/*", "x/a");
    check(&m, 80, Tcp, &expected);
}

// ---------------------------------------------------------------------------------------
// Ports and protocols
// ---------------------------------------------------------------------------------------

#[test]
fn numeric_port_defaults_to_tcp() {
    let m = Model::new(&[netpol(
        "x",
        "allow-81",
        "
        podSelector: {matchLabels: {pod: a}}
        ingress:
        - ports:
          - port: 81
        ",
    )]);
    let closed = Reachability::all_allowed(&m).deny("*", "x/a");
    check(&m, 81, Tcp, &Reachability::all_allowed(&m));
    check(&m, 80, Tcp, &closed);
    // A rule without protocol is TCP: UDP and SCTP on 81 stay denied.
    check(&m, 81, Udp, &closed);
    check(&m, 81, Sctp, &closed);
}

#[test]
fn named_port_ingress() {
    let m = Model::new(&[netpol(
        "x",
        "allow-serve-81-tcp",
        "
        podSelector: {}
        ingress:
        - ports:
          - port: serve-81-tcp
        ",
    )]);
    let closed = Reachability::all_allowed(&m).deny("*", "x/*");
    check(&m, 81, Tcp, &Reachability::all_allowed(&m));
    check(&m, 80, Tcp, &closed);
    check(&m, 81, Udp, &closed);
}

#[test]
fn named_port_is_looked_up_for_the_rules_protocol() {
    // x/a: `serve-80-udp` with protocol UDP opens UDP 80.
    // x/b: `serve-80-udp` without protocol means a TCP port of that name: there is none,
    // so the rule matches nothing.
    let m = Model::new(&[
        netpol(
            "x",
            "allow-udp-80-named",
            "
            podSelector: {matchLabels: {pod: a}}
            ingress:
            - ports:
              - {protocol: UDP, port: serve-80-udp}
            ",
        ),
        netpol(
            "x",
            "tcp-rule-naming-a-udp-port",
            "
            podSelector: {matchLabels: {pod: b}}
            ingress:
            - ports:
              - port: serve-80-udp
            ",
        ),
    ]);
    check(&m, 80, Udp, &Reachability::all_allowed(&m).deny("*", "x/b"));
    check(
        &m,
        80,
        Tcp,
        &Reachability::all_allowed(&m).deny("*", "x/a,x/b"),
    );
    check(
        &m,
        81,
        Udp,
        &Reachability::all_allowed(&m).deny("*", "x/a,x/b"),
    );
}

#[test]
fn named_port_egress() {
    let m = Model::new(&[netpol(
        "x",
        "allow-egress-serve-80-tcp",
        "
        podSelector: {}
        policyTypes: [Egress]
        egress:
        - ports:
          - port: serve-80-tcp
        ",
    )]);
    check(&m, 80, Tcp, &Reachability::all_allowed(&m));
    check(&m, 81, Tcp, &Reachability::all_allowed(&m).deny("x/*", "*"));
}

#[test]
fn named_port_egress_is_resolved_on_the_destination() {
    // z/d names its TCP port 8080 `serve-80-tcp`; the source x/a names port 80 so. An
    // egress rule on the name must follow the destination's declaration.
    let d_ports = vec![("serve-80-tcp".to_owned(), 8080, Tcp)];
    let pods = model_yaml() + &pod_yaml("z", "d", "10.0.0.10", false, &d_ports);
    let m = Model::build(
        &pods,
        &[netpol(
            "x",
            "allow-egress-serve-80-tcp",
            "
            podSelector: {matchLabels: {pod: a}}
            policyTypes: [Egress]
            egress:
            - ports:
              - port: serve-80-tcp
            ",
        )],
        IpBlockMode::PodIps,
    );
    check(
        &m,
        80,
        Tcp,
        &Reachability::all_allowed(&m).deny("x/a", "z/d"),
    );
    check(
        &m,
        8080,
        Tcp,
        &Reachability::all_allowed(&m)
            .deny("x/a", "*")
            .allow("x/a", "z/d"),
    );
    check(&m, 81, Tcp, &Reachability::all_allowed(&m).deny("x/a", "*"));
}

#[test]
fn named_port_ingress_is_resolved_on_the_destination() {
    let d_ports = vec![("serve-80-tcp".to_owned(), 8080, Tcp)];
    let pods = model_yaml() + &pod_yaml("z", "d", "10.0.0.10", false, &d_ports);
    let m = Model::build(
        &pods,
        &[netpol(
            "z",
            "allow-serve-80-tcp",
            "
            podSelector: {}
            ingress:
            - ports:
              - port: serve-80-tcp
            ",
        )],
        IpBlockMode::PodIps,
    );
    // Pods a, b, c of z serve serve-80-tcp on 80; z/d serves it on 8080.
    check(&m, 80, Tcp, &Reachability::all_allowed(&m).deny("*", "z/d"));
    check(
        &m,
        8080,
        Tcp,
        &Reachability::all_allowed(&m)
            .deny("*", "z/*")
            .allow("*", "z/d"),
    );
}

#[test]
fn port_range_with_end_port() {
    let m = Model::new(&[netpol(
        "x",
        "allow-81-to-90",
        "
        podSelector: {matchLabels: {pod: a}}
        ingress:
        - ports:
          - {protocol: TCP, port: 81, endPort: 90}
        ",
    )]);
    let open = Reachability::all_allowed(&m);
    let closed = Reachability::all_allowed(&m).deny("*", "x/a");
    check(&m, 80, Tcp, &closed);
    check(&m, 81, Tcp, &open);
    check(&m, 85, Tcp, &open);
    check(&m, 90, Tcp, &open);
    check(&m, 91, Tcp, &closed);
    check(&m, 81, Udp, &closed);
}

#[test]
fn port_range_on_udp_egress() {
    let m = Model::new(&[netpol(
        "x",
        "allow-udp-80-81-egress",
        "
        podSelector: {matchLabels: {pod: a}}
        policyTypes: [Egress]
        egress:
        - ports:
          - {protocol: UDP, port: 80, endPort: 81}
        ",
    )]);
    let closed = Reachability::all_allowed(&m).deny("x/a", "*");
    check(&m, 80, Udp, &Reachability::all_allowed(&m));
    check(&m, 81, Udp, &Reachability::all_allowed(&m));
    check(&m, 82, Udp, &closed);
    check(&m, 80, Tcp, &closed);
    check(&m, 81, Sctp, &closed);
}

#[test]
fn udp_rule_does_not_allow_tcp_or_sctp() {
    let m = Model::new(&[netpol(
        "x",
        "allow-udp-80",
        "
        podSelector: {matchLabels: {pod: a}}
        ingress:
        - ports:
          - {protocol: UDP, port: 80}
        ",
    )]);
    let closed = Reachability::all_allowed(&m).deny("*", "x/a");
    check(&m, 80, Udp, &Reachability::all_allowed(&m));
    check(&m, 80, Tcp, &closed);
    check(&m, 80, Sctp, &closed);
    check(&m, 81, Udp, &closed);
}

#[test]
fn sctp_rule_is_not_tcp() {
    // Upstream: default-deny ingress in x plus SCTP 81 allowed into x/a; TCP 81 stays
    // blocked everywhere in x.
    let m = Model::new(&[
        netpol("x", "deny-ingress", "podSelector: {}"),
        netpol(
            "x",
            "allow-only-sctp-ingress-on-port-81",
            "
            podSelector: {matchLabels: {pod: a}}
            ingress:
            - ports:
              - {protocol: SCTP, port: 81}
            ",
        ),
    ]);
    let closed = Reachability::all_allowed(&m).deny("*", "x/*");
    check(&m, 81, Tcp, &closed);
    check(&m, 80, Sctp, &closed);
    check(&m, 81, Sctp, &closed.clone().allow("*", "x/a"));
}

#[test]
fn protocol_without_port_matches_every_port_of_that_protocol() {
    let m = Model::new(&[netpol(
        "x",
        "allow-any-sctp",
        "
        podSelector: {matchLabels: {pod: a}}
        ingress:
        - ports:
          - protocol: SCTP
        ",
    )]);
    let closed = Reachability::all_allowed(&m).deny("*", "x/a");
    check(&m, 80, Sctp, &Reachability::all_allowed(&m));
    check(&m, 81, Sctp, &Reachability::all_allowed(&m));
    check(&m, 80, Tcp, &closed);
    check(&m, 81, Udp, &closed);
}

// ---------------------------------------------------------------------------------------
// ipBlock
// ---------------------------------------------------------------------------------------

fn ip_block_except_x_b() -> String {
    netpol(
        "x",
        "allow-cidr-except-b",
        "
        podSelector: {matchLabels: {pod: a}}
        ingress:
        - from:
          - ipBlock:
              cidr: 10.0.0.0/24
              except: [10.0.0.2/32]
        ",
    )
}

#[test]
fn ip_block_with_except_matches_pod_ips() {
    let m = Model::new(&[ip_block_except_x_b()]);
    let expected = Reachability::all_allowed(&m).deny("x/b", "x/a");
    check(&m, 80, Tcp, &expected);
}

#[test]
fn ip_block_with_except_under_external_only() {
    // Pod IPs are not matched by ipBlocks in this mode: nothing may reach x/a.
    let m = Model::build(
        &model_yaml(),
        &[ip_block_except_x_b()],
        IpBlockMode::ExternalOnly,
    );
    let expected = Reachability::all_allowed(&m).deny("*", "x/a");
    check(&m, 80, Tcp, &expected);
}

#[test]
fn ip_block_egress_with_except() {
    // 10.0.0.0/29 is .0-.7; except 10.0.0.4/30 (.4-.7) leaves .1-.3: x/a, x/b, x/c.
    let policy = netpol(
        "x",
        "allow-egress-cidr",
        "
        podSelector: {matchLabels: {pod: a}}
        policyTypes: [Egress]
        egress:
        - to:
          - ipBlock:
              cidr: 10.0.0.0/29
              except:
              - 10.0.0.4/30
        ",
    );
    let m = Model::new(std::slice::from_ref(&policy));
    let expected = Reachability::all_allowed(&m)
        .deny("x/a", "*")
        .allow("x/a", "x/b,x/c");
    check(&m, 80, Tcp, &expected);

    let m = Model::build(&model_yaml(), &[policy], IpBlockMode::ExternalOnly);
    check(&m, 80, Tcp, &Reachability::all_allowed(&m).deny("x/a", "*"));
}

#[test]
fn ip_block_egress_to_internet_excludes_pod_network() {
    let m = Model::new(&[netpol(
        "x",
        "allow-internet",
        "
        podSelector: {matchLabels: {pod: a}}
        policyTypes: [Egress]
        egress:
        - to:
          - ipBlock:
              cidr: 0.0.0.0/0
              except: [10.0.0.0/8]
        ",
    )]);
    check(&m, 80, Tcp, &Reachability::all_allowed(&m).deny("x/a", "*"));
    let internet = "8.8.8.8".parse().expect("IP");
    assert!(
        m.verdict(m.pod("x/a"), Endpoint::Ip(internet), 443, Tcp)
            .allowed
    );
    let private = "10.1.2.3".parse().expect("IP");
    assert!(
        !m.verdict(m.pod("x/a"), Endpoint::Ip(private), 443, Tcp)
            .allowed
    );
}

// ---------------------------------------------------------------------------------------
// Egress and policyTypes
// ---------------------------------------------------------------------------------------

#[test]
fn egress_only_to_one_namespace() {
    let m = Model::new(&[netpol(
        "x",
        "allow-egress-to-y",
        "
        podSelector: {}
        policyTypes: [Egress]
        egress:
        - to:
          - namespaceSelector: {matchLabels: {ns: y}}
        ",
    )]);
    let expected = Reachability::all_allowed(&m)
        .deny("x/*", "*")
        .allow("x/*", "y/*");
    check(&m, 80, Tcp, &expected);
    check(&m, 81, Udp, &expected);
}

#[test]
fn egress_rules_without_policy_types_isolate_both_directions() {
    // Defaulting: policyTypes = [Ingress] + [Egress] because egress rules exist; with no
    // ingress rules, all ingress into x/a is denied.
    let m = Model::new(&[netpol(
        "x",
        "egress-to-y",
        "
        podSelector: {matchLabels: {pod: a}}
        egress:
        - to:
          - namespaceSelector: {matchLabels: {ns: y}}
        ",
    )]);
    let expected = Reachability::all_allowed(&m)
        .deny("*", "x/a")
        .deny("x/a", "*")
        .allow("x/a", "y/*");
    check(&m, 80, Tcp, &expected);
}

#[test]
fn policy_types_egress_without_rules_denies_egress_only() {
    let m = Model::new(&[netpol(
        "x",
        "deny-egress-a",
        "
        podSelector: {matchLabels: {pod: a}}
        policyTypes: [Egress]
        ",
    )]);
    let expected = Reachability::all_allowed(&m).deny("x/a", "*");
    check(&m, 80, Tcp, &expected);
}

#[test]
fn policy_types_ingress_ignores_egress_rules() {
    // Explicit policyTypes [Ingress]: the egress rules neither isolate nor restrict.
    let m = Model::new(&[netpol(
        "x",
        "ingress-only",
        "
        podSelector: {matchLabels: {pod: a}}
        policyTypes: [Ingress]
        egress:
        - to:
          - namespaceSelector: {matchLabels: {ns: y}}
        ",
    )]);
    let expected = Reachability::all_allowed(&m).deny("*", "x/a");
    check(&m, 80, Tcp, &expected);
}

#[test]
fn both_ends_must_allow() {
    // x/a may send only to y; y/b accepts nothing. x/a -> y/b is denied by y/b's ingress
    // although x/a's egress allows it.
    let m = Model::new(&[
        netpol(
            "x",
            "egress-to-y",
            "
            podSelector: {matchLabels: {pod: a}}
            policyTypes: [Egress]
            egress:
            - to:
              - namespaceSelector: {matchLabels: {ns: y}}
            ",
        ),
        netpol(
            "y",
            "deny-ingress-b",
            "podSelector: {matchLabels: {pod: b}}",
        ),
    ]);
    let expected = Reachability::all_allowed(&m)
        .deny("x/a", "*")
        .allow("x/a", "y/*")
        .deny("*", "y/b");
    check(&m, 80, Tcp, &expected);
}

// ---------------------------------------------------------------------------------------
// Several policies, selection and namespaces
// ---------------------------------------------------------------------------------------

#[test]
fn policies_form_a_union() {
    let m = Model::new(&[
        netpol(
            "x",
            "allow-b",
            "
            podSelector: {matchLabels: {pod: a}}
            ingress:
            - from:
              - podSelector: {matchLabels: {pod: b}}
            ",
        ),
        netpol(
            "x",
            "allow-y",
            "
            podSelector: {matchLabels: {pod: a}}
            ingress:
            - from:
              - namespaceSelector: {matchLabels: {ns: y}}
            ",
        ),
    ]);
    let expected = Reachability::all_allowed(&m)
        .deny("*", "x/a")
        .allow("x/b", "x/a")
        .allow("y/*", "x/a");
    check(&m, 80, Tcp, &expected);
}

#[test]
fn union_is_of_whole_rules_not_of_peers_and_ports() {
    // y may reach x/a on 81, z on 80; neither gains the other's port.
    let m = Model::new(&[
        netpol(
            "x",
            "allow-y-81",
            "
            podSelector: {matchLabels: {pod: a}}
            ingress:
            - from:
              - namespaceSelector: {matchLabels: {ns: y}}
              ports:
              - port: 81
            ",
        ),
        netpol(
            "x",
            "allow-z-80",
            "
            podSelector: {matchLabels: {pod: a}}
            ingress:
            - from:
              - namespaceSelector: {matchLabels: {ns: z}}
              ports:
              - port: 80
            ",
        ),
    ]);
    let base = Reachability::all_allowed(&m).deny("*", "x/a");
    check(&m, 80, Tcp, &base.clone().allow("z/*", "x/a"));
    check(&m, 81, Tcp, &base.allow("y/*", "x/a"));
}

#[test]
fn default_deny_plus_allow_is_a_union() {
    let m = Model::new(&[
        netpol(
            "x",
            "deny-all",
            "
            podSelector: {}
            policyTypes: [Ingress, Egress]
            ",
        ),
        netpol(
            "x",
            "allow-b",
            "
            podSelector: {matchLabels: {pod: a}}
            ingress:
            - from:
              - podSelector: {matchLabels: {pod: b}}
            ",
        ),
        netpol(
            "x",
            "allow-b-egress-to-a",
            "
            podSelector: {matchLabels: {pod: b}}
            policyTypes: [Egress]
            egress:
            - to:
              - podSelector: {matchLabels: {pod: a}}
            ",
        ),
    ]);
    let expected = Reachability::all_allowed(&m)
        .deny("x/*", "*")
        .deny("*", "x/*")
        .allow("x/b", "x/a");
    check(&m, 80, Tcp, &expected);
}

#[test]
fn policy_selecting_no_pod_has_no_effect() {
    let m = Model::new(&[netpol(
        "x",
        "selects-nothing",
        "
        podSelector: {matchLabels: {pod: nope}}
        policyTypes: [Ingress, Egress]
        ",
    )]);
    check_all(&m, &Reachability::all_allowed(&m));
}

#[test]
fn policy_in_another_namespace_does_not_apply_to_x() {
    // y's policy selects pod=a in y only; x/a and z/a are untouched.
    let m = Model::new(&[netpol(
        "y",
        "deny-all-a",
        "
        podSelector: {matchLabels: {pod: a}}
        policyTypes: [Ingress, Egress]
        ",
    )]);
    let expected = Reachability::all_allowed(&m)
        .deny("y/a", "*")
        .deny("*", "y/a");
    check(&m, 80, Tcp, &expected);
}

#[test]
fn pod_selector_peer_of_a_policy_in_y_selects_in_y() {
    let m = Model::new(&[netpol(
        "y",
        "allow-a",
        "
        podSelector: {}
        ingress:
        - from:
          - podSelector: {matchLabels: {pod: a}}
        ",
    )]);
    let expected = Reachability::all_allowed(&m)
        .deny("*", "y/*")
        .allow("y/a", "y/*");
    check(&m, 80, Tcp, &expected);
}

#[test]
fn ingress_from_empty_list_allows_all_sources() {
    // `from: []` matches every source; the rule is limited by its ports.
    let m = Model::new(&[netpol(
        "x",
        "allow-81-from-anyone",
        "
        podSelector: {matchLabels: {pod: a}}
        ingress:
        - from: []
          ports:
          - port: 81
        ",
    )]);
    check(&m, 81, Tcp, &Reachability::all_allowed(&m));
    check(&m, 80, Tcp, &Reachability::all_allowed(&m).deny("*", "x/a"));
}

#[test]
fn ingress_without_ports_allows_all_ports_and_protocols() {
    // Missing `ports` and `ports: []` both match every port of every protocol.
    let m = Model::new(&[netpol(
        "x",
        "allow-b-c-any-port",
        "
        podSelector: {matchLabels: {pod: a}}
        ingress:
        - from:
          - podSelector: {matchLabels: {pod: b}}
        - from:
          - podSelector: {matchLabels: {pod: c}}
          ports: []
        ",
    )]);
    let expected = Reachability::all_allowed(&m)
        .deny("*", "x/a")
        .allow("x/b,x/c", "x/a");
    check_all(&m, &expected);
}

// ---------------------------------------------------------------------------------------
// Host-network pods
// ---------------------------------------------------------------------------------------

#[test]
fn host_network_pod_is_not_isolated() {
    let m = Model::with_host_network(
        &[netpol(
            "x",
            "deny-all",
            "
            podSelector: {}
            policyTypes: [Ingress, Egress]
            ",
        )],
        IpBlockMode::PodIps,
    );
    // x/h is in x but podSelector {} does not isolate it; it still cannot reach x/a..c
    // (their ingress is isolated) nor be reached from them (their egress is).
    let expected = Reachability::all_allowed(&m)
        .deny("x/a,x/b,x/c", "*")
        .deny("*", "x/a,x/b,x/c");
    check(&m, 80, Tcp, &expected);
}

#[test]
fn host_network_pod_is_not_matched_by_selectors() {
    let m = Model::with_host_network(
        &[netpol(
            "x",
            "allow-all-pods",
            "
            podSelector: {matchLabels: {pod: a}}
            policyTypes: [Ingress, Egress]
            ingress:
            - from:
              - podSelector: {}
              - namespaceSelector: {}
            egress:
            - to:
              - namespaceSelector: {}
            ",
        )],
        IpBlockMode::PodIps,
    );
    let expected = Reachability::all_allowed(&m)
        .deny("x/h", "x/a")
        .deny("x/a", "x/h");
    check(&m, 80, Tcp, &expected);
}

#[test]
fn host_network_pod_is_matched_by_ip_block() {
    let policy = netpol(
        "x",
        "allow-node-network",
        "
        podSelector: {matchLabels: {pod: a}}
        policyTypes: [Ingress, Egress]
        ingress:
        - from:
          - ipBlock: {cidr: 192.168.1.0/24}
        egress:
        - to:
          - ipBlock: {cidr: 192.168.1.10/32}
        ",
    );
    // The node IP is not a pod IP, so ExternalOnly matches it too.
    for mode in [IpBlockMode::PodIps, IpBlockMode::ExternalOnly] {
        let m = Model::with_host_network(std::slice::from_ref(&policy), mode);
        let expected = Reachability::all_allowed(&m)
            .deny("*", "x/a")
            .deny("x/a", "*")
            .allow("x/h", "x/a")
            .allow("x/a", "x/h");
        check(&m, 80, Tcp, &expected);
    }
}

// ---------------------------------------------------------------------------------------
// Verdicts: reasons, external addresses, named port queries
// ---------------------------------------------------------------------------------------

#[test]
fn reasons_name_the_allowing_rule_and_the_isolating_policies() {
    let m = Model::new(&[
        netpol(
            "x",
            "allow-b",
            "
            podSelector: {matchLabels: {pod: a}}
            ingress:
            - from:
              - podSelector: {matchLabels: {pod: b}}
            ",
        ),
        netpol("x", "deny-ingress", "podSelector: {}"),
    ]);

    let allowed = m.verdict(m.pod("x/b"), m.pod("x/a"), 80, Tcp);
    assert!(allowed.allowed);
    assert_eq!(allowed.ingress.allowed_by, ["x/allow-b ingress[0]"]);
    assert_eq!(allowed.ingress.isolated_by, ["x/allow-b", "x/deny-ingress"]);
    let reasons = allowed.reasons().join("\n");
    assert!(reasons.contains("x/allow-b ingress[0]"), "{reasons}");
    assert!(reasons.contains("egress: not isolated"), "{reasons}");

    let denied = m.verdict(m.pod("x/c"), m.pod("x/a"), 80, Tcp);
    assert!(!denied.allowed);
    assert!(denied.ingress.allowed_by.is_empty());
    let reasons = denied.reasons().join("\n");
    assert!(reasons.contains("x/allow-b"), "{reasons}");
    assert!(reasons.contains("x/deny-ingress"), "{reasons}");
    assert!(reasons.contains("no rule allows it"), "{reasons}");

    // x/c is isolated only by deny-ingress.
    let denied = m.verdict(m.pod("x/a"), m.pod("x/c"), 80, Tcp);
    assert!(!denied.allowed);
    assert_eq!(denied.ingress.isolated_by, ["x/deny-ingress"]);

    let loopback = m.verdict(m.pod("x/a"), m.pod("x/a"), 80, Tcp);
    assert!(loopback.allowed);
    assert!(loopback.reasons().join("\n").contains("loopback"));
    for v in [&allowed, &denied, &loopback] {
        assert!(v.reasons().iter().any(|r| r.starts_with("assumption:")));
    }
}

#[test]
fn named_port_query_resolves_on_the_destination() {
    let m = Model::new(&[netpol(
        "x",
        "allow-81",
        "
        podSelector: {matchLabels: {pod: a}}
        ingress:
        - ports:
          - port: 81
        ",
    )]);
    let query = |name: &str, protocol| {
        m.index
            .verify(
                m.pod("y/c"),
                m.pod("x/a"),
                &PortQuery::Name(name.to_owned()),
                protocol,
            )
            .expect("the name is declared")
    };
    let v = query("serve-81-tcp", Tcp);
    assert_eq!(v.port, 81);
    assert!(v.allowed);
    let v = query("serve-80-tcp", Tcp);
    assert_eq!(v.port, 80);
    assert!(!v.allowed);
    assert!(
        m.index
            .verify(
                m.pod("y/c"),
                m.pod("x/a"),
                &PortQuery::Name("serve-81-tcp".into()),
                Udp
            )
            .is_err(),
        "x/a declares no UDP port named serve-81-tcp"
    );
}

#[test]
fn external_sources_match_ingress_ip_blocks() {
    let policy = netpol(
        "x",
        "allow-documentation-net",
        "
        podSelector: {matchLabels: {pod: a}}
        ingress:
        - from:
          - ipBlock:
              cidr: 203.0.113.0/24
              except: [203.0.113.128/25]
          ports:
          - port: 80
        ",
    );
    for mode in [IpBlockMode::PodIps, IpBlockMode::ExternalOnly] {
        let m = Model::build(&model_yaml(), std::slice::from_ref(&policy), mode);
        let from = |ip: &str| Endpoint::Ip(ip.parse().expect("IP"));
        let inside = m.verdict(from("203.0.113.7"), m.pod("x/a"), 80, Tcp);
        assert!(inside.allowed, "{mode:?}: {:?}", inside.reasons());
        assert_eq!(
            inside.ingress.allowed_by,
            ["x/allow-documentation-net ingress[0]"]
        );
        assert!(
            inside.egress.note.is_some(),
            "an address has no egress policies"
        );
        assert!(
            !m.verdict(from("203.0.113.7"), m.pod("x/a"), 81, Tcp)
                .allowed,
            "{mode:?}: port 81 is not in the rule"
        );
        assert!(
            !m.verdict(from("203.0.113.200"), m.pod("x/a"), 80, Tcp)
                .allowed,
            "{mode:?}: 203.0.113.200 is excepted"
        );
        assert!(
            !m.verdict(from("198.51.100.1"), m.pod("x/a"), 80, Tcp)
                .allowed,
            "{mode:?}: 198.51.100.1 is outside the cidr"
        );
        assert!(
            m.verdict(from("198.51.100.1"), m.pod("x/b"), 80, Tcp)
                .allowed,
            "{mode:?}: x/b is not isolated"
        );
        // An external address is never matched by pod or namespace selectors.
        let selector_only = Model::build(
            &model_yaml(),
            &[netpol(
                "x",
                "allow-everything-in-cluster",
                "
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector: {}
                ",
            )],
            mode,
        );
        assert!(
            !selector_only
                .verdict(from("203.0.113.7"), selector_only.pod("x/a"), 80, Tcp)
                .allowed
        );
    }
}

// ---------------------------------------------------------------------------------------
// Invalid policies
// ---------------------------------------------------------------------------------------

/// The 1-based line of the last occurrence of `marker` in `text`.
fn line_of(text: &str, marker: &str) -> u64 {
    let at = text
        .rfind(marker)
        .unwrap_or_else(|| panic!("{marker:?} is not in the text"));
    u64::try_from(text[..at].matches('\n').count() + 1).expect("line fits")
}

/// Indexes the model plus `policy`, expecting exactly one error at the line of `marker`
/// that names `field`.
fn assert_refused(policy: &str, marker: &str, field: &str) {
    let text = model_yaml() + policy;
    let docs = manifest::parse_str(FILE, &text).expect("the YAML parses");
    let errors: Vec<ManifestError> = match manifests::index(&docs, IpBlockMode::PodIps) {
        Ok(_) => panic!("accepted an invalid policy:\n{policy}"),
        Err(errors) => errors,
    };
    assert_eq!(errors.len(), 1, "{errors:?}");
    let line = line_of(&text, marker);
    let message = errors[0].to_string();
    assert!(
        message.starts_with(&format!("{FILE}:{line}:")),
        "expected line {line} for {marker:?}: {message}"
    );
    assert_eq!(
        errors[0].location().map(|l| l.line()),
        Some(line),
        "{message}"
    );
    assert!(message.contains(field), "expected {field}: {message}");
}

#[test]
fn refuses_ip_block_combined_with_pod_selector() {
    let policy = netpol(
        "x",
        "bad-peer",
        "
        podSelector: {}
        ingress:
        - from:
          - podSelector: {matchLabels: {pod: b}}
          - ipBlock: {cidr: 10.0.0.0/24}
            podSelector: {matchLabels: {pod: c}}
        ",
    );
    assert_refused(&policy, "- ipBlock", "spec.ingress[0].from[1]");
    let text = model_yaml() + &policy;
    let docs = manifest::parse_str(FILE, &text).expect("parses");
    let message = manifests::index(&docs, IpBlockMode::PodIps).expect_err("refused")[0].to_string();
    assert!(message.contains("ipBlock"), "{message}");
}

#[test]
fn refuses_end_port_with_named_port() {
    let policy = netpol(
        "x",
        "bad-end-port",
        "
        podSelector: {}
        egress:
        - ports:
          - port: serve-80-tcp
            endPort: 81
        ",
    );
    assert_refused(&policy, "endPort: 81", "spec.egress[0].ports[0].endPort");
}

#[test]
fn refuses_end_port_below_port() {
    let policy = netpol(
        "x",
        "bad-range",
        "
        podSelector: {}
        ingress:
        - ports:
          - port: 80
          - port: 81
            endPort: 80
        ",
    );
    assert_refused(&policy, "endPort: 80", "spec.ingress[0].ports[1].endPort");
}

#[test]
fn refuses_except_outside_cidr() {
    let policy = netpol(
        "x",
        "bad-except",
        "
        podSelector: {}
        ingress:
        - from:
          - ipBlock:
              cidr: 10.0.0.0/24
              except:
              - 10.0.0.0/25
              - 10.1.0.0/24
        ",
    );
    assert_refused(
        &policy,
        "- 10.1.0.0/24",
        "spec.ingress[0].from[0].ipBlock.except[1]",
    );
}

#[test]
fn refuses_lowercase_protocol() {
    let policy = netpol(
        "x",
        "bad-protocol",
        "
        podSelector: {}
        ingress:
        - ports:
          - port: 80
            protocol: tcp
        ",
    );
    assert_refused(
        &policy,
        "protocol: tcp",
        "spec.ingress[0].ports[0].protocol",
    );
}

#[test]
fn refuses_empty_peer() {
    let policy = netpol(
        "x",
        "bad-empty-peer",
        "
        podSelector: {}
        ingress:
        - from:
          - {}
        ",
    );
    assert_refused(&policy, "- {}", "spec.ingress[0].from[0]");
}

#[test]
fn refuses_quoted_numeric_port() {
    // A string port is a port name to the API server, and a name needs a letter.
    let policy = netpol(
        "x",
        "bad-quoted-port",
        "
        podSelector: {}
        ingress:
        - ports:
          - port: \"80\"
        ",
    );
    assert_refused(&policy, "port: \"80\"", "spec.ingress[0].ports[0].port");
}

#[test]
fn refuses_more_than_two_policy_types() {
    let policy = netpol(
        "x",
        "bad-policy-types",
        "
        podSelector: {}
        policyTypes: [Ingress, Egress, Ingress]
        ",
    );
    assert_refused(&policy, "policyTypes:", "spec.policyTypes");
}

#[test]
fn every_invalid_policy_is_reported() {
    let policies = [
        netpol(
            "x",
            "bad-protocol",
            "
            podSelector: {}
            ingress:
            - ports:
              - protocol: tcp
            ",
        ),
        netpol(
            "y",
            "bad-range",
            "
            podSelector: {}
            ingress:
            - ports:
              - {port: 90, endPort: 89}
            ",
        ),
        netpol("z", "fine", "podSelector: {}"),
    ];
    let text = model_yaml() + &policies.concat();
    let docs = manifest::parse_str(FILE, &text).expect("parses");
    let errors = manifests::index(&docs, IpBlockMode::PodIps).expect_err("refused");
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{messages:#?}");
    assert!(
        messages[0].contains("spec.ingress[0].ports[0].protocol"),
        "{messages:#?}"
    );
    assert!(
        messages[1].contains("spec.ingress[0].ports[0].endPort"),
        "{messages:#?}"
    );
}
