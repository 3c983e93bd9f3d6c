//! The connectivity map for people: pods grouped into workloads, and the connections
//! between workloads as a table, JSON, Graphviz DOT and SVG.
//!
//! A pod's workload is named by its `app.kubernetes.io/name` label, else its `app` label,
//! else the pod's own name (the model carries no owner references), within its namespace:
//! the workload id is `NAMESPACE/NAME`. A workload edge A → B exists when any pod of A may
//! connect to any pod of B; its ports are the union over those pod pairs, and it counts
//! the connected pod pairs against all pod pairs, so partial connectivity shows ("3/4").
//! Pods of one workload reaching each other make an edge from the workload to itself
//! (a pod's traffic to itself is not a pair).
//!
//! Every output is deterministic: workloads sort by namespace then name, pods by name,
//! edges by source then destination, whatever order the pods came in.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};

use serde_json::{Value, json};

use crate::engine::Index;
use crate::map::Connection;
use crate::model::{Pod, Protocol};
use crate::portset::PortSet;

/// The label naming a workload first (the Kubernetes recommended label).
pub const NAME_LABEL: &str = "app.kubernetes.io/name";
/// The label naming a workload when [`NAME_LABEL`] is absent.
pub const APP_LABEL: &str = "app";

const PROTOCOLS: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

/// The name of the workload `pod` belongs to, within its namespace: its non-empty
/// `app.kubernetes.io/name` label, else its non-empty `app` label, else the pod's name.
pub fn workload_name(pod: &Pod) -> &str {
    [NAME_LABEL, APP_LABEL]
        .iter()
        .filter_map(|key| pod.labels.get(*key))
        .find(|value| !value.is_empty())
        .map_or(pod.name.as_str(), String::as_str)
}

/// Pods of one namespace sharing a workload name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    /// Namespace.
    pub namespace: String,
    /// Name (see [`workload_name`]).
    pub name: String,
    /// The names of its pods, sorted.
    pub pods: Vec<String>,
}

impl Workload {
    /// `NAMESPACE/NAME`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The number of ordered pairs of distinct pods from this workload to `to`.
    fn pod_pairs(&self, to: &Workload, same: bool) -> usize {
        let n = self.pods.len();
        if same {
            n.saturating_mul(n.saturating_sub(1))
        } else {
            n.saturating_mul(to.pods.len())
        }
    }
}

/// The connections from one workload to another (or to itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadEdge {
    /// Source workload (index into [`WorkloadMap::workloads`]).
    pub from: usize,
    /// Destination workload.
    pub to: usize,
    /// The union of the allowed ports over the connected pod pairs (never empty).
    pub ports: PortSet,
    /// The pod pairs (source pod, destination pod) that may connect on some port.
    pub connected_pairs: usize,
    /// All pod pairs between the two workloads (distinct pods when `from == to`).
    pub pod_pairs: usize,
}

impl WorkloadEdge {
    /// Whether only some pod pairs may connect.
    pub fn is_partial(&self) -> bool {
        self.connected_pairs < self.pod_pairs
    }

    /// `connected/total`, e.g. `3/4`.
    pub fn pairs_text(&self) -> String {
        format!("{}/{}", self.connected_pairs, self.pod_pairs)
    }
}

/// Pods grouped into workloads, and the connections between workloads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkloadMap {
    /// Every workload, sorted by namespace then name (also those without connections).
    pub workloads: Vec<Workload>,
    /// The edges, sorted by source then destination workload.
    pub edges: Vec<WorkloadEdge>,
}

impl WorkloadMap {
    /// Groups `pods` into workloads and `connections` (pod indices into `pods`, each
    /// ordered pair at most once, as [`Index::connectivity`] yields them) into workload
    /// edges. Connections naming a pod outside `pods`, or a pod and itself, are ignored.
    pub fn new(pods: &[Pod], connections: &[Connection]) -> WorkloadMap {
        let mut groups: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
        for (i, pod) in pods.iter().enumerate() {
            groups
                .entry((pod.namespace.as_str(), workload_name(pod)))
                .or_default()
                .push(i);
        }
        let mut of_pod = vec![0; pods.len()];
        let mut workloads = Vec::with_capacity(groups.len());
        for (w, ((namespace, name), members)) in groups.into_iter().enumerate() {
            let mut names: Vec<String> = members
                .iter()
                .filter_map(|&i| pods.get(i).map(|p| p.name.clone()))
                .collect();
            names.sort();
            for i in members {
                if let Some(slot) = of_pod.get_mut(i) {
                    *slot = w;
                }
            }
            workloads.push(Workload {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                pods: names,
            });
        }
        let mut cells: BTreeMap<(usize, usize), (PortSet, usize)> = BTreeMap::new();
        for c in connections {
            if c.from == c.to || c.ports.is_empty() {
                continue;
            }
            let (Some(&from), Some(&to)) = (of_pod.get(c.from), of_pod.get(c.to)) else {
                continue;
            };
            let cell = cells
                .entry((from, to))
                .or_insert_with(|| (PortSet::empty(), 0));
            cell.0.union_with(&c.ports);
            cell.1 += 1;
        }
        let edges = cells
            .into_iter()
            .filter_map(|((from, to), (ports, connected_pairs))| {
                let pod_pairs = workloads
                    .get(from)?
                    .pod_pairs(workloads.get(to)?, from == to);
                Some(WorkloadEdge {
                    from,
                    to,
                    ports,
                    connected_pairs,
                    pod_pairs,
                })
            })
            .collect();
        WorkloadMap { workloads, edges }
    }

    /// The workload map of every allowed connection between the pods of `index`.
    pub fn from_index(index: &Index) -> WorkloadMap {
        WorkloadMap::new(index.pods(), &index.connectivity())
    }

    /// The workload with id `NAMESPACE/NAME`.
    pub fn workload(&self, id: &str) -> Option<&Workload> {
        let (namespace, name) = id.split_once('/')?;
        self.workloads
            .binary_search_by(|w| (w.namespace.as_str(), w.name.as_str()).cmp(&(namespace, name)))
            .ok()
            .and_then(|i| self.workloads.get(i))
    }

    /// The edge from workload `from` to workload `to` (ids `NAMESPACE/NAME`).
    pub fn edge(&self, from: &str, to: &str) -> Option<&WorkloadEdge> {
        self.edges
            .iter()
            .find(|e| self.id_of(e.from) == from && self.id_of(e.to) == to)
    }

    fn id_of(&self, workload: usize) -> String {
        self.workloads
            .get(workload)
            .map(Workload::id)
            .unwrap_or_default()
    }
}

/// The edges as a table with aligned columns `FROM`, `TO`, `PORTS` (as
/// [`PortSet`]'s `Display`) and `PAIRS` (`connected/total` pod pairs), one line each,
/// with a trailing newline. Only the header when there are no edges.
pub fn table(map: &WorkloadMap) -> String {
    let mut rows = vec![[
        "FROM".to_owned(),
        "TO".to_owned(),
        "PORTS".to_owned(),
        "PAIRS".to_owned(),
    ]];
    for e in &map.edges {
        rows.push([
            map.id_of(e.from),
            map.id_of(e.to),
            e.ports.to_string(),
            e.pairs_text(),
        ]);
    }
    let mut widths = [0usize; 4];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Ports as structured JSON: one entry per protocol that has ports, in the order TCP,
/// UDP, SCTP, each with its sorted, disjoint ranges:
/// `[{"protocol": "TCP", "ranges": [{"start": 80, "end": 80}]}]`. Every port is
/// `start` 1 to `end` 65535 for each protocol.
pub fn ports_json(ports: &PortSet) -> Value {
    Value::Array(
        PROTOCOLS
            .iter()
            .filter(|p| !ports.ranges(**p).is_empty())
            .map(|p| {
                let ranges: Vec<Value> = ports
                    .ranges(*p)
                    .iter()
                    .map(|(start, end)| json!({"start": start, "end": end}))
                    .collect();
                json!({"protocol": p.as_str(), "ranges": ranges})
            })
            .collect(),
    )
}

/// The map as JSON:
/// `{"workloads": [{"id", "namespace", "name", "pods": [names]}], "connections": [{"from",
/// "to", "ports": [see ports_json], "portsText", "pairs", "podPairs"}]}`, where `pairs` counts
/// the connected pod pairs and `podPairs` all of them.
pub fn json(map: &WorkloadMap) -> Value {
    let workloads: Vec<Value> = map
        .workloads
        .iter()
        .map(|w| {
            json!({
                "id": w.id(),
                "namespace": w.namespace,
                "name": w.name,
                "pods": w.pods,
            })
        })
        .collect();
    let connections: Vec<Value> = map
        .edges
        .iter()
        .map(|e| {
            json!({
                "from": map.id_of(e.from),
                "to": map.id_of(e.to),
                "ports": ports_json(&e.ports),
                "portsText": e.ports.to_string(),
                "pairs": e.connected_pairs,
                "podPairs": e.pod_pairs,
            })
        })
        .collect();
    json!({"workloads": workloads, "connections": connections})
}

/// `s` as a double-quoted DOT string: `"` and `\` escaped, line breaks as `\n` (a line
/// break in a label), other control characters as spaces.
pub fn dot_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn pods_text(n: usize) -> String {
    if n == 1 {
        "1 pod".to_owned()
    } else {
        format!("{n} pods")
    }
}

/// The DOT text; with `clusters`, one `cluster_` subgraph per namespace and nodes
/// labelled by workload name, else flat with nodes labelled by workload id.
fn dot_text(map: &WorkloadMap, clusters: bool) -> String {
    let mut out = String::from("digraph \"connectivity\" {\n");
    out.push_str("  rankdir=\"LR\";\n");
    out.push_str("  node [shape=\"box\"];\n");
    let node = |w: &Workload, label: String| {
        format!(
            "{} [label={}];\n",
            dot_quote(&w.id()),
            dot_quote(&format!("{label}\n{}", pods_text(w.pods.len())))
        )
    };
    if clusters {
        let mut by_namespace: BTreeMap<&str, Vec<&Workload>> = BTreeMap::new();
        for w in &map.workloads {
            by_namespace
                .entry(w.namespace.as_str())
                .or_default()
                .push(w);
        }
        for (namespace, workloads) in by_namespace {
            let _ = writeln!(
                out,
                "  subgraph {} {{",
                dot_quote(&format!("cluster_{namespace}"))
            );
            let _ = writeln!(
                out,
                "    label={};",
                dot_quote(&format!("namespace {namespace}"))
            );
            for w in workloads {
                out.push_str("    ");
                out.push_str(&node(w, w.name.clone()));
            }
            out.push_str("  }\n");
        }
    } else {
        for w in &map.workloads {
            out.push_str("  ");
            out.push_str(&node(w, w.id()));
        }
    }
    for e in &map.edges {
        let mut label = e.ports.to_string();
        if e.is_partial() {
            let _ = write!(label, "\n{} pod pairs", e.pairs_text());
        }
        let _ = write!(
            out,
            "  {} -> {} [label={}",
            dot_quote(&map.id_of(e.from)),
            dot_quote(&map.id_of(e.to)),
            dot_quote(&label)
        );
        if e.is_partial() {
            out.push_str(", style=\"dashed\"");
        }
        out.push_str("];\n");
    }
    out.push_str("}\n");
    out
}

/// The map as a Graphviz `digraph`: one `cluster_NAMESPACE` subgraph per namespace,
/// a box per workload (node id `NAMESPACE/NAME`, labelled with its name and pod count),
/// an edge per workload edge labelled with its ports; edges where only some pod pairs
/// connect are dashed and also labelled `connected/total pod pairs`.
pub fn dot(map: &WorkloadMap) -> String {
    dot_text(map, true)
}

/// Rendering the SVG failed (a defect of the layout engine or of the DOT written for it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SvgError {
    /// The layout engine did not accept the DOT text.
    #[error("the layout engine cannot read the graph: {0}")]
    Parse(String),
    /// The layout engine failed while placing or drawing the graph.
    #[error("the layout engine failed: {0}")]
    Layout(String),
}

const XML_PROLOG: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="no"?>"#;
/// Room added right and below: the layout engine measures text loosely and can clip the
/// label of an edge at the border.
const SVG_MARGIN: f64 = 40.0;

/// The map drawn as an SVG document (starting `<svg`), laid out in pure Rust by
/// `layout-rs`. That engine reads `subgraph` blocks but does not draw clusters, so the
/// SVG is rendered from the DOT of [`dot`] without the namespace subgraphs, each node
/// labelled with its full `NAMESPACE/NAME` instead. An empty map is an empty drawing.
pub fn svg(map: &WorkloadMap) -> Result<String, SvgError> {
    if map.workloads.is_empty() {
        return Ok(svg_document(10.0, 10.0, ""));
    }
    let text = dot_text(map, false);
    // The engine asserts its invariants with panics; one is a defect there, reported
    // as an error rather than taking the caller down.
    let drawn = panic::catch_unwind(AssertUnwindSafe(|| {
        use layout::backends::svg::SVGWriter;
        use layout::gv::{DotParser, GraphBuilder};
        let graph = DotParser::new(&text).process().map_err(SvgError::Parse)?;
        let mut builder = GraphBuilder::new();
        builder.visit_graph(&graph);
        let mut visual = builder.get();
        let mut writer = SVGWriter::new();
        visual.do_it(false, false, false, &mut writer);
        Ok(writer.finalize())
    }))
    .map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panicked".to_owned());
        SvgError::Layout(message)
    })??;
    Ok(reframe(&drawn))
}

fn svg_document(width: f64, height: f64, body: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\">\n<rect width=\"100%\" height=\"100%\" \
         fill=\"white\"/>\n{body}</svg>\n"
    )
}

/// `svg` with the rules of its `<style>` element sorted: the engine writes one rule per
/// font size from a `HashMap`, in an order that changes from run to run.
fn sort_style_rules(svg: &str) -> String {
    const OPEN: &str = "<style>\n";
    const CLOSE: &str = "</style>";
    let Some((before, rest)) = svg.split_once(OPEN) else {
        return svg.to_owned();
    };
    let Some((rules, after)) = rest.split_once(CLOSE) else {
        return svg.to_owned();
    };
    let mut rules: Vec<&str> = rules.lines().collect();
    rules.sort_unstable();
    let mut out = String::with_capacity(svg.len());
    out.push_str(before);
    out.push_str(OPEN);
    for rule in rules {
        out.push_str(rule);
        out.push('\n');
    }
    out.push_str(CLOSE);
    out.push_str(after);
    out
}

/// The engine's SVG made deterministic, without the XML prolog, with a margin, on a
/// white background.
fn reframe(drawn: &str) -> String {
    let drawn = sort_style_rules(drawn);
    let body = drawn.strip_prefix(XML_PROLOG).unwrap_or(&drawn);
    let size = body.split_once('\n').and_then(|(head, rest)| {
        let (_, view_box) = head.split_once("viewBox=\"0 0 ")?;
        let (w, h) = view_box.split_once('"')?.0.split_once(' ')?;
        let inner = rest.strip_suffix("</svg>")?;
        Some((w.parse::<f64>().ok()?, h.parse::<f64>().ok()?, inner))
    });
    match size {
        Some((w, h, inner)) => svg_document(
            (w + SVG_MARGIN).ceil(),
            (h + SVG_MARGIN).ceil(),
            &format!("{inner}\n"),
        ),
        None => body.to_owned(),
    }
}
