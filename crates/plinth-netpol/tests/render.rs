//! The connectivity map for people: workload grouping, pod pair counts, and the table,
//! JSON, DOT and SVG outputs, on a small shop with a database in another namespace.

use layout::gv::DotParser;
use layout::gv::parser::ast;
use plinth_core::manifest;
use plinth_netpol::map::Connection;
use plinth_netpol::render::{self, WorkloadEdge, WorkloadMap};
use plinth_netpol::{IpBlockMode, Pod, PortSet, Protocol, manifests};
use proptest::prelude::*;

const FILE: &str = "shop.yaml";

fn pod(namespace: &str, name: &str, labels: &[(&str, &str)]) -> String {
    let mut doc =
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {namespace}\n");
    if !labels.is_empty() {
        doc.push_str("  labels:\n");
        for (k, v) in labels {
            doc.push_str(&format!("    {k}: '{v}'\n"));
        }
    }
    doc.push_str("spec:\n  containers:\n  - name: main\n    image: example\n");
    doc
}

/// The documents of the shop:
/// - `shop`: `web-0`, `web-1` (`app.kubernetes.io/name: web`, also `app: frontend`),
///   `api-0` (a writer), `api-1` (`app: api`) and `debug` (no labels);
/// - `data`: `db-0`, `db-1` (`app: db`).
///
/// The api pods accept only the web pods, on TCP 8080, 9000-9100 and UDP 53; the db
/// pods accept only writers from `shop`, on TCP 5432. Everything else is open.
fn documents() -> Vec<String> {
    let web = [("app.kubernetes.io/name", "web"), ("app", "frontend")];
    vec![
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n".to_owned(),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: data\n".to_owned(),
        pod("shop", "web-0", &web),
        pod("shop", "web-1", &web),
        pod("shop", "api-0", &[("app", "api"), ("role", "writer")]),
        pod("shop", "api-1", &[("app", "api")]),
        pod("shop", "debug", &[]),
        pod("data", "db-0", &[("app", "db")]),
        pod("data", "db-1", &[("app", "db")]),
        "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: api
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: api
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector:
        matchLabels:
          app.kubernetes.io/name: web
    ports:
    - port: 8080
    - port: 9000
      endPort: 9100
    - port: 53
      protocol: UDP
"
        .to_owned(),
        "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: db
  namespace: data
spec:
  podSelector:
    matchLabels:
      app: db
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: shop
      podSelector:
        matchLabels:
          role: writer
    ports:
    - port: 5432
"
        .to_owned(),
    ]
}

fn map_of(docs: &[String]) -> WorkloadMap {
    let text: String = docs.iter().map(|d| format!("---\n{d}")).collect();
    let docs = manifest::parse_str(FILE, &text).expect("the shop parses");
    let index = manifests::index(&docs, IpBlockMode::PodIps).expect("the shop is valid");
    WorkloadMap::from_index(&index)
}

fn shop() -> WorkloadMap {
    map_of(&documents())
}

fn edge<'a>(map: &'a WorkloadMap, from: &str, to: &str) -> &'a WorkloadEdge {
    map.edge(from, to)
        .unwrap_or_else(|| panic!("an edge {from} -> {to}"))
}

#[test]
fn pods_group_by_name_label_then_app_label_then_pod_name() {
    let map = shop();
    let ids: Vec<String> = map.workloads.iter().map(|w| w.id()).collect();
    assert_eq!(ids, ["data/db", "shop/api", "shop/debug", "shop/web"]);
    let pods = |id: &str| map.workload(id).expect("the workload").pods.clone();
    assert_eq!(pods("shop/web"), ["web-0", "web-1"]);
    assert_eq!(pods("shop/api"), ["api-0", "api-1"]);
    assert_eq!(pods("shop/debug"), ["debug"]);
    assert_eq!(pods("data/db"), ["db-0", "db-1"]);
    assert!(map.workload("shop/frontend").is_none());
}

#[test]
fn workload_names() {
    let mut p = Pod {
        namespace: "n".into(),
        name: "p-1".into(),
        labels: Default::default(),
        ip: None,
        host_network: false,
        ports: Vec::new(),
    };
    assert_eq!(render::workload_name(&p), "p-1");
    p.labels.insert("app".into(), "".into());
    assert_eq!(render::workload_name(&p), "p-1", "empty values do not name");
    p.labels.insert("app".into(), "a".into());
    assert_eq!(render::workload_name(&p), "a");
    p.labels
        .insert("app.kubernetes.io/name".into(), "recommended".into());
    assert_eq!(render::workload_name(&p), "recommended");
}

#[test]
fn edges_union_ports_and_count_pod_pairs() {
    let map = shop();
    let all = PortSet::all();
    let expected: [(&str, &str, &str, usize, usize); 9] = [
        ("data/db", "shop/debug", "All connections", 2, 2),
        ("data/db", "shop/web", "All connections", 4, 4),
        ("shop/api", "data/db", "TCP 5432", 2, 4),
        ("shop/api", "shop/debug", "All connections", 2, 2),
        ("shop/api", "shop/web", "All connections", 4, 4),
        ("shop/debug", "shop/web", "All connections", 2, 2),
        ("shop/web", "shop/api", "TCP 8080,9000-9100; UDP 53", 4, 4),
        ("shop/web", "shop/debug", "All connections", 2, 2),
        ("shop/web", "shop/web", "All connections", 2, 2),
    ];
    let got: Vec<(String, String, String, usize, usize)> = map
        .edges
        .iter()
        .map(|e| {
            (
                map.workloads[e.from].id(),
                map.workloads[e.to].id(),
                e.ports.to_string(),
                e.connected_pairs,
                e.pod_pairs,
            )
        })
        .collect();
    let expected: Vec<(String, String, String, usize, usize)> = expected
        .iter()
        .map(|(f, t, p, c, n)| (f.to_string(), t.to_string(), p.to_string(), *c, *n))
        .collect();
    assert_eq!(got, expected);

    // Only api-0 is a writer: 2 of the 4 api → db pairs.
    let partial = edge(&map, "shop/api", "data/db");
    assert!(partial.is_partial());
    assert_eq!(partial.pairs_text(), "2/4");
    assert!(partial.ports.contains(Protocol::Tcp, 5432));
    // Pods of one workload reaching each other: an edge to itself, over distinct pods.
    assert_eq!(edge(&map, "shop/web", "shop/web").ports, all);
    // The api pods do not accept each other, nor do the db pods.
    assert!(map.edge("shop/api", "shop/api").is_none());
    assert!(map.edge("data/db", "data/db").is_none());
    assert!(map.edge("shop/debug", "shop/api").is_none());
}

#[test]
fn ports_union_over_pod_pairs() {
    let pods: Vec<Pod> = ["a-0", "a-1", "b-0"]
        .iter()
        .map(|name| Pod {
            namespace: "n".into(),
            name: (*name).into(),
            labels: [("app".to_owned(), name[..1].to_owned())].into(),
            ip: None,
            host_network: false,
            ports: Vec::new(),
        })
        .collect();
    let mut udp = PortSet::range(Protocol::Udp, 53, 53);
    let connections = vec![
        Connection {
            from: 0,
            to: 2,
            ports: PortSet::range(Protocol::Tcp, 80, 80),
        },
        Connection {
            from: 1,
            to: 2,
            ports: udp.clone(),
        },
        // Not pairs: a pod and itself, and pods that are not in the input.
        Connection {
            from: 1,
            to: 1,
            ports: PortSet::all(),
        },
        Connection {
            from: 0,
            to: 7,
            ports: PortSet::all(),
        },
    ];
    let map = WorkloadMap::new(&pods, &connections);
    assert_eq!(map.edges.len(), 1);
    let e = edge(&map, "n/a", "n/b");
    udp.union_with(&PortSet::range(Protocol::Tcp, 80, 80));
    assert_eq!(e.ports, udp);
    assert_eq!((e.connected_pairs, e.pod_pairs), (2, 2));
    assert_eq!(
        render::table(&map).lines().nth(1),
        Some("n/a   n/b  TCP 80; UDP 53  2/2")
    );
}

#[test]
fn table_is_aligned() {
    let expected = "\
FROM        TO          PORTS                       PAIRS
data/db     shop/debug  All connections             2/2
data/db     shop/web    All connections             4/4
shop/api    data/db     TCP 5432                    2/4
shop/api    shop/debug  All connections             2/2
shop/api    shop/web    All connections             4/4
shop/debug  shop/web    All connections             2/2
shop/web    shop/api    TCP 8080,9000-9100; UDP 53  4/4
shop/web    shop/debug  All connections             2/2
shop/web    shop/web    All connections             2/2
";
    assert_eq!(render::table(&shop()), expected);
    assert_eq!(
        render::table(&WorkloadMap::default()),
        "FROM  TO  PORTS  PAIRS\n"
    );
}

#[test]
fn json_has_workloads_and_structured_connections() {
    let value = render::json(&shop());
    let workloads = value["workloads"].as_array().expect("workloads");
    assert_eq!(workloads.len(), 4);
    assert_eq!(
        workloads[3],
        serde_json::json!({
            "id": "shop/web", "namespace": "shop", "name": "web", "pods": ["web-0", "web-1"]
        })
    );
    let connections = value["connections"].as_array().expect("connections");
    assert_eq!(connections.len(), 9);
    assert_eq!(
        connections[2],
        serde_json::json!({
            "from": "shop/api", "to": "data/db",
            "ports": [{"protocol": "TCP", "ranges": [{"start": 5432, "end": 5432}]}],
            "portsText": "TCP 5432",
            "pairs": 2, "podPairs": 4,
        })
    );
    assert_eq!(
        connections[6]["ports"],
        serde_json::json!([
            {"protocol": "TCP", "ranges": [{"start": 8080, "end": 8080}, {"start": 9000, "end": 9100}]},
            {"protocol": "UDP", "ranges": [{"start": 53, "end": 53}]},
        ])
    );
    // Every port: every protocol, 1 to 65535.
    let all = &connections[0]["ports"];
    assert_eq!(all.as_array().map(Vec::len), Some(3));
    for p in all.as_array().expect("ports") {
        assert_eq!(p["ranges"], serde_json::json!([{"start": 1, "end": 65535}]));
    }
    assert_eq!(
        render::json(&WorkloadMap::default()),
        serde_json::json!({"workloads": [], "connections": []})
    );
}

/// A statement's attributes, `(name, value)`.
type Attrs = Vec<(String, String)>;

/// The node statements, edges and subgraph names of a parsed DOT graph, flattened.
#[derive(Default)]
struct Parsed {
    subgraphs: Vec<String>,
    nodes: Vec<(String, Attrs)>,
    edges: Vec<(String, String, Attrs)>,
}

fn collect(graph: &ast::Graph, out: &mut Parsed) {
    for stmt in &graph.list.list {
        match stmt {
            ast::Stmt::Node(n) => out.nodes.push((n.id.name.clone(), n.list.list.clone())),
            ast::Stmt::Edge(e) => {
                for (to, _) in &e.to {
                    out.edges
                        .push((e.from.name.clone(), to.name.clone(), e.list.list.clone()));
                }
            }
            ast::Stmt::SubGraph(g) => {
                out.subgraphs.push(g.name.clone());
                collect(g, out);
            }
            ast::Stmt::Attribute(_) => {}
        }
    }
}

fn parse_dot(dot: &str) -> Parsed {
    let graph = DotParser::new(dot).process().expect("the DOT parses");
    let mut parsed = Parsed::default();
    collect(&graph, &mut parsed);
    parsed
}

fn attr<'a>(list: &'a [(String, String)], key: &str) -> Option<&'a str> {
    list.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[test]
fn dot_has_a_cluster_per_namespace_and_labelled_edges() {
    let dot = render::dot(&shop());
    assert!(dot.starts_with("digraph "), "{dot}");
    let parsed = parse_dot(&dot);
    assert_eq!(parsed.subgraphs, ["cluster_data", "cluster_shop"]);
    let nodes: Vec<&str> = parsed.nodes.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(nodes, ["data/db", "shop/api", "shop/debug", "shop/web"]);
    assert_eq!(attr(&parsed.nodes[3].1, "label"), Some("web\n2 pods"));
    assert_eq!(attr(&parsed.nodes[2].1, "label"), Some("debug\n1 pod"));
    assert_eq!(parsed.edges.len(), 9);
    let (from, to, attrs) = &parsed.edges[2];
    assert_eq!((from.as_str(), to.as_str()), ("shop/api", "data/db"));
    assert_eq!(attr(attrs, "label"), Some("TCP 5432\n2/4 pod pairs"));
    assert_eq!(attr(attrs, "style"), Some("dashed"));
    let (_, _, attrs) = &parsed.edges[6];
    assert_eq!(attr(attrs, "label"), Some("TCP 8080,9000-9100; UDP 53"));
    assert_eq!(attr(attrs, "style"), None);
    let (from, to, _) = &parsed.edges[8];
    assert_eq!((from.as_str(), to.as_str()), ("shop/web", "shop/web"));
}

#[test]
fn dot_escapes_ids_and_labels() {
    assert_eq!(render::dot_quote("plain"), "\"plain\"");
    assert_eq!(render::dot_quote("a\"b\\c\nd\te"), "\"a\\\"b\\\\c\\nd e\"");
    // Label values are not checked here, so a workload name can hold anything.
    let name = r#"we"b\} -> x [label=1]; {"#;
    let mut docs = documents();
    docs.push(pod("odd", "p", &[("app", name)]));
    docs.push(pod("odd", "q", &[("app", name)]));
    let map = map_of(&docs);
    let id = format!("odd/{name}");
    assert!(map.workload(&id).is_some());
    let dot = render::dot(&map);
    let parsed = parse_dot(&dot);
    assert!(parsed.subgraphs.contains(&"cluster_odd".to_owned()));
    assert!(
        parsed
            .nodes
            .iter()
            .any(|(n, attrs)| n == &id && attr(attrs, "label") == Some(&format!("{name}\n2 pods"))),
        "{dot}"
    );
    assert!(
        parsed.edges.iter().any(|(f, t, _)| f == &id && t == &id),
        "{dot}"
    );
    let svg = render::svg(&map).expect("the SVG renders");
    assert!(svg.contains("we&quot;b\\}"), "{svg}");
}

#[test]
fn svg_draws_every_workload() {
    let svg = render::svg(&shop()).expect("the SVG renders");
    assert!(svg.starts_with("<svg "), "{svg}");
    assert!(svg.trim_end().ends_with("</svg>"), "{svg}");
    for id in ["data/db", "shop/api", "shop/debug", "shop/web"] {
        assert!(svg.contains(&format!(">{id}</tspan>")), "{id} in {svg}");
    }
    assert!(svg.contains("TCP 5432"));
    assert!(svg.contains("2/4 pod pairs"));
    let empty = render::svg(&WorkloadMap::default()).expect("an empty drawing");
    assert!(empty.starts_with("<svg ") && empty.trim_end().ends_with("</svg>"));
}

#[test]
fn outputs_are_deterministic_and_independent_of_document_order() {
    let outputs = |map: &WorkloadMap| {
        (
            render::table(map),
            render::json(map).to_string(),
            render::dot(map),
            render::svg(map).expect("the SVG renders"),
        )
    };
    let first = outputs(&shop());
    assert_eq!(first, outputs(&shop()));
    let mut docs = documents();
    docs.reverse();
    let reversed = map_of(&docs);
    assert_eq!(reversed, shop());
    assert_eq!(outputs(&reversed), first);
    docs.rotate_left(4);
    assert_eq!(outputs(&map_of(&docs)), first);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The layout engine draws any map: cycles, self edges, both directions, isolated
    /// workloads, several namespaces.
    #[test]
    fn svg_renders_any_map(
        sizes in prop::collection::vec(1usize..4, 1..9),
        links in prop::collection::vec((0usize..9, 0usize..9, 0usize..3), 0..20),
    ) {
        let pods: Vec<Pod> = sizes
            .iter()
            .enumerate()
            .flat_map(|(w, &n)| {
                (0..n).map(move |i| Pod {
                    namespace: format!("ns{}", w % 3),
                    name: format!("w{w}-{i}"),
                    labels: [("app".to_owned(), format!("w{w}"))].into(),
                    ip: None,
                    host_network: false,
                    ports: Vec::new(),
                })
            })
            .collect();
        let first_pod = |w: usize| sizes[..w].iter().sum::<usize>();
        let connections: Vec<Connection> = links
            .iter()
            .filter(|(a, b, _)| *a < sizes.len() && *b < sizes.len())
            .filter_map(|&(a, b, k)| {
                let from = first_pod(a);
                let to = first_pod(b) + if a == b { 1 } else { 0 };
                (a != b || sizes[a] > 1).then(|| {
                    let ports = PortSet::range(Protocol::Tcp, 80, 80 + k as u16);
                    ((from, to), Connection { from, to, ports })
                })
            })
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_values()
            .collect();
        let map = WorkloadMap::new(&pods, &connections);
        let svg = render::svg(&map);
        prop_assert!(svg.is_ok(), "{:?}", svg);
        let svg = svg.unwrap_or_default();
        prop_assert!(svg.starts_with("<svg "));
        for w in &map.workloads {
            let id = w.id();
            prop_assert!(svg.contains(&id));
        }
        prop_assert!(parse_dot(&render::dot(&map)).nodes.len() == map.workloads.len());
    }
}
