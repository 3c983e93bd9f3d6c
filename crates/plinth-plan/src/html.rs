//! The plan as a single self-contained HTML report: inline CSS and inline SVG only (no
//! scripts, no fonts, nothing fetched), printable (a print stylesheet puts each section
//! on its own page), and deterministic (the same plan gives the same bytes).
//!
//! The report holds a topology diagram (`<svg id="topology">`: one box per cluster with
//! its zones and node pools, the management cluster, arrows for disaster recovery and
//! cross-region backup), the node-pool table, a monthly cost chart (`<svg
//! id="cost-chart">`, one `rect.bar` per non-zero category) with the assumptions, a
//! timeline chart (`<svg id="timeline-chart">`, one `rect.phase` per phase), the backup,
//! security and networking summaries, and the risk table. Every text value is escaped
//! with [`escape`].

use std::fmt::Write as _;

use crate::{Cluster, ClusterRole, Level, Plan, TopologyType};

/// Fill colour of the cost bars (`rect.bar`).
pub const COST_BAR_COLOUR: &str = "#2563eb";
/// Fill colour of the timeline phases (`rect.phase`).
pub const PHASE_COLOUR: &str = "#059669";

const STYLE: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  margin: 0 auto; max-width: 1100px; padding: 24px; color: #1f2937; background: #ffffff;
  line-height: 1.45; }
h1 { font-size: 1.7em; margin: 0 0 4px; }
h2 { font-size: 1.3em; border-bottom: 2px solid #e5e7eb; padding-bottom: 4px; margin-top: 32px; }
h3 { font-size: 1.05em; margin: 16px 0 6px; }
.subtitle { color: #4b5563; margin: 0 0 16px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; font-size: 0.92em; }
th, td { border: 1px solid #d1d5db; padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: #f3f4f6; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tfoot td { font-weight: 600; background: #f9fafb; }
svg { width: 100%; height: auto; display: block; margin: 8px 0; }
svg text { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 8px 0; }
dt { font-weight: 600; color: #374151; }
dd { margin: 0; }
.level { font-weight: 600; padding: 1px 6px; border-radius: 4px; }
.level-low { background: #dcfce7; color: #166534; }
.level-medium { background: #fef9c3; color: #854d0e; }
.level-high { background: #fee2e2; color: #991b1b; }
.level-critical { background: #7f1d1d; color: #ffffff; }
ul { margin: 4px 0 12px; padding-left: 22px; }
@page { size: A4; margin: 14mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  section { break-before: page; page-break-before: always; }
  section:first-of-type { break-before: auto; page-break-before: auto; }
  table, svg, dl, tr { break-inside: avoid; page-break-inside: avoid; }
  h2 { break-after: avoid; page-break-after: avoid; }
  .level, th, tfoot td { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"#;

/// Escapes `&`, `<`, `>`, `"` and `'` so that `text` is safe in element content and in
/// quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `1234567.891` as `1,234,567.89`.
pub fn money(x: f64) -> String {
    let cents = (x * 100.0).round() as i64;
    let (whole, frac) = (cents / 100, (cents % 100).abs());
    let digits = whole.abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{grouped}.{frac:02}")
}

/// A number with up to two decimals and no trailing zeros (`5.5`, `224`).
fn short(x: f64) -> String {
    let s = format!("{x:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

fn topology_name(kind: TopologyType) -> &'static str {
    match kind {
        TopologyType::MultiRegionHa => "multi_region_ha",
        TopologyType::SingleRegionHa => "single_region_ha",
        TopologyType::Basic => "basic",
    }
}

fn role_name(role: ClusterRole) -> &'static str {
    match role {
        ClusterRole::Workload => "workload",
        ClusterRole::Management => "management",
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Low => "Low",
        Level::Medium => "Medium",
        Level::High => "High",
        Level::Critical => "Critical",
    }
}

fn level_cell(level: Level) -> String {
    let name = level_name(level);
    format!(
        "<span class=\"level level-{}\">{name}</span>",
        name.to_ascii_lowercase()
    )
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// Renders the plan as a complete HTML document.
pub fn render(plan: &Plan) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let topo = topology_name(plan.topology.kind);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n",
    );
    let _ = writeln!(out, "<title>plinth plan: {}</title>", escape(topo));
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");
    let _ = writeln!(
        out,
        "<header>\n<h1>Platform plan: {}</h1>\n<p class=\"subtitle\">{} cluster(s), {} node pool(s), {} {}/month, {} weeks.</p>\n</header>",
        escape(topo),
        plan.topology.clusters.len(),
        plan.node_pools.len(),
        escape(&money(plan.cost.monthly.total)),
        escape(&plan.cost.currency),
        plan.total_weeks,
    );
    topology_section(&mut out, plan);
    pools_section(&mut out, plan);
    cost_section(&mut out, plan);
    timeline_section(&mut out, plan);
    summaries_section(&mut out, plan);
    risks_section(&mut out, plan);
    out.push_str("</body>\n</html>\n");
    out
}

/// A box in the topology diagram.
#[derive(Clone, Copy)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl Rect {
    fn cx(&self) -> f64 {
        self.x + self.w / 2.0
    }
    fn cy(&self) -> f64 {
        self.y + self.h / 2.0
    }
}

const TOPO_W: f64 = 1000.0;
const TOPO_PAD: f64 = 20.0;
const TOPO_GAP: f64 = 110.0;
const TOPO_ROW_GAP: f64 = 90.0;

fn topology_section(out: &mut String, plan: &Plan) {
    out.push_str("<section id=\"topology-section\">\n<h2>Topology</h2>\n");
    let _ = writeln!(
        out,
        "<p><strong>{}</strong>: {}</p>",
        escape(topology_name(plan.topology.kind)),
        escape(&plan.topology.reason)
    );
    let workload: Vec<&Cluster> = plan
        .topology
        .clusters
        .iter()
        .filter(|c| c.role == ClusterRole::Workload)
        .collect();
    let management: Vec<&Cluster> = plan
        .topology
        .clusters
        .iter()
        .filter(|c| c.role == ClusterRole::Management)
        .collect();
    let pools_of = |role: ClusterRole| -> Vec<String> {
        plan.node_pools
            .iter()
            .filter(|p| p.cluster_role == role)
            .map(|p| {
                format!(
                    "{} · {} · {}–{}{}",
                    p.name,
                    p.instance_type,
                    p.min_nodes,
                    p.max_nodes,
                    if p.spot { " · spot" } else { "" }
                )
            })
            .collect()
    };
    let workload_pools = pools_of(ClusterRole::Workload);
    let management_pools = pools_of(ClusterRole::Management);
    let cols = workload.len().clamp(1, 3);
    let box_w = (TOPO_W - 2.0 * TOPO_PAD - (cols as f64 - 1.0) * TOPO_GAP) / cols as f64;
    let box_h = |pools: usize| 122.0 + 18.0 * pools.max(1) as f64;
    let wh = box_h(workload_pools.len());
    let mh = box_h(management_pools.len());
    let mut rects: Vec<(Rect, &Cluster)> = Vec::new();
    let top = 40.0;
    let workload_rows = workload.len().div_ceil(cols).max(1);
    for (i, c) in workload.iter().enumerate() {
        let (row, col) = (i / cols, i % cols);
        let r = Rect {
            x: TOPO_PAD + col as f64 * (box_w + TOPO_GAP),
            y: top + row as f64 * (wh + TOPO_ROW_GAP),
            w: box_w,
            h: wh,
        };
        rects.push((r, c));
    }
    let mgmt_top = if workload.is_empty() {
        top
    } else {
        top + workload_rows as f64 * (wh + TOPO_ROW_GAP)
    };
    let mgmt_cols = management.len().clamp(1, 3);
    let mgmt_w = box_w
        .min((TOPO_W - 2.0 * TOPO_PAD - (mgmt_cols as f64 - 1.0) * TOPO_GAP) / mgmt_cols as f64);
    let mgmt_total = mgmt_cols as f64 * mgmt_w + (mgmt_cols as f64 - 1.0) * TOPO_GAP;
    let mgmt_x0 = (TOPO_W - mgmt_total) / 2.0;
    for (i, c) in management.iter().enumerate() {
        let (row, col) = (i / mgmt_cols, i % mgmt_cols);
        let r = Rect {
            x: mgmt_x0 + col as f64 * (mgmt_w + TOPO_GAP),
            y: mgmt_top + row as f64 * (mh + TOPO_ROW_GAP),
            w: mgmt_w,
            h: mh,
        };
        rects.push((r, c));
    }
    let height = rects
        .iter()
        .map(|(r, _)| r.y + r.h)
        .fold(top + 60.0, f64::max)
        + 24.0;
    let _ = writeln!(
        out,
        "<svg id=\"topology\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {TOPO_W} {height}\" role=\"img\" aria-label=\"Topology diagram\">"
    );
    out.push_str(
        "<defs>\
<marker id=\"arrow-dr\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#dc2626\"/></marker>\
<marker id=\"arrow-backup\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#7c3aed\"/></marker>\
<marker id=\"arrow-mgmt\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#6b7280\"/></marker>\
</defs>\n",
    );
    // Legend.
    out.push_str(
        "<g class=\"legend\" font-size=\"12\">\
<line x1=\"20\" y1=\"16\" x2=\"60\" y2=\"16\" stroke=\"#dc2626\" stroke-width=\"2.5\" marker-end=\"url(#arrow-dr)\" marker-start=\"url(#arrow-dr)\"/><text x=\"68\" y=\"20\">disaster recovery (failover)</text>\
<line x1=\"270\" y1=\"16\" x2=\"310\" y2=\"16\" stroke=\"#7c3aed\" stroke-width=\"2.5\" stroke-dasharray=\"6 3\" marker-end=\"url(#arrow-backup)\"/><text x=\"318\" y=\"20\">cross-region backup copy</text>\
<line x1=\"510\" y1=\"16\" x2=\"550\" y2=\"16\" stroke=\"#6b7280\" stroke-width=\"1.5\" stroke-dasharray=\"2 3\" marker-end=\"url(#arrow-mgmt)\"/><text x=\"558\" y=\"20\">manages</text>\
</g>\n",
    );
    for (r, c) in &rects {
        let pools = match c.role {
            ClusterRole::Workload => &workload_pools,
            ClusterRole::Management => &management_pools,
        };
        cluster_box(out, r, c, pools);
    }
    // Management arrows: from each management cluster to each workload cluster.
    let workload_rects: Vec<&(Rect, &Cluster)> = rects
        .iter()
        .filter(|(_, c)| c.role == ClusterRole::Workload)
        .collect();
    for (m, _) in rects
        .iter()
        .filter(|(_, c)| c.role == ClusterRole::Management)
    {
        for (w, _) in &workload_rects {
            let (x1, y1) = (m.cx(), m.y);
            let (x2, y2) = (w.cx(), w.y + w.h);
            let _ = writeln!(
                out,
                "<line class=\"arrow manages\" x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{:.1}\" stroke=\"#6b7280\" stroke-width=\"1.5\" stroke-dasharray=\"2 3\" marker-end=\"url(#arrow-mgmt)\"/>",
                y2 + 2.0
            );
        }
    }
    // Disaster recovery: between consecutive workload clusters in different regions.
    for pair in workload_rects.windows(2) {
        let [(a, ca), (b, cb)] = pair else { continue };
        if ca.region == cb.region {
            continue;
        }
        let (p1, p2) = edge_points(a, b, -14.0);
        let _ = writeln!(
            out,
            "<line class=\"arrow dr\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#dc2626\" stroke-width=\"2.5\" marker-start=\"url(#arrow-dr)\" marker-end=\"url(#arrow-dr)\"/>",
            p1.0, p1.1, p2.0, p2.1
        );
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\" fill=\"#991b1b\">DR</text>",
            (p1.0 + p2.0) / 2.0,
            (p1.1 + p2.1) / 2.0 - 6.0
        );
    }
    // Cross-region backup copies: from each workload cluster outside the target region to
    // the workload cluster in it.
    if plan.backup.cross_region
        && let Some(target) = &plan.backup.target_region
    {
        let dest = workload_rects.iter().find(|(_, c)| &c.region == target);
        if let Some((d, _)) = dest {
            for (s, c) in workload_rects.iter().filter(|(_, c)| &c.region != target) {
                let (p1, p2) = edge_points(s, d, 22.0);
                let _ = writeln!(
                    out,
                    "<line class=\"arrow backup\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#7c3aed\" stroke-width=\"2.5\" stroke-dasharray=\"6 3\" marker-end=\"url(#arrow-backup)\"><title>backup copies from {} to {}</title></line>",
                    p1.0,
                    p1.1,
                    p2.0,
                    p2.1,
                    escape(&c.region),
                    escape(target)
                );
                let _ = writeln!(
                    out,
                    "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\" fill=\"#5b21b6\">backup</text>",
                    (p1.0 + p2.0) / 2.0,
                    (p1.1 + p2.1) / 2.0 + 16.0
                );
            }
        } else {
            let _ = writeln!(
                out,
                "<text x=\"{TOPO_PAD}\" y=\"{:.1}\" font-size=\"13\" fill=\"#5b21b6\">Backups copied to {} (no cluster there).</text>",
                height - 18.0,
                escape(target)
            );
        }
    }
    out.push_str("</svg>\n</section>\n");
}

/// Where an arrow from box `a` to box `b` starts and ends: the facing edges, shifted
/// by `offset` across the arrow's direction.
fn edge_points(a: &Rect, b: &Rect, offset: f64) -> ((f64, f64), (f64, f64)) {
    if (a.cy() - b.cy()).abs() < 1.0 {
        let y = a.cy() + offset;
        if a.x < b.x {
            ((a.x + a.w + 4.0, y), (b.x - 4.0, y))
        } else {
            ((a.x - 4.0, y), (b.x + b.w + 4.0, y))
        }
    } else if a.y < b.y {
        (
            (a.cx() + offset, a.y + a.h + 4.0),
            (b.cx() + offset, b.y - 4.0),
        )
    } else {
        (
            (a.cx() + offset, a.y - 4.0),
            (b.cx() + offset, b.y + b.h + 4.0),
        )
    }
}

fn cluster_box(out: &mut String, r: &Rect, c: &Cluster, pools: &[String]) {
    let (fill, stroke) = match c.role {
        ClusterRole::Workload => ("#eff6ff", "#1d4ed8"),
        ClusterRole::Management => ("#f5f3ff", "#6d28d9"),
    };
    let _ = writeln!(
        out,
        "<g class=\"cluster cluster-{}\" data-name=\"{}\" data-region=\"{}\">",
        role_name(c.role),
        escape(&c.name),
        escape(&c.region)
    );
    let _ = writeln!(
        out,
        "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"10\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"2\"/>",
        r.x, r.y, r.w, r.h
    );
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"16\" font-weight=\"700\" fill=\"#111827\">{}</text>",
        r.x + 12.0,
        r.y + 24.0,
        escape(&c.name)
    );
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"#374151\">region {} · {} cluster</text>",
        r.x + 12.0,
        r.y + 42.0,
        escape(&c.region),
        role_name(c.role)
    );
    // Zones.
    let n = c.zones.len().max(1) as f64;
    let zone_gap = 8.0;
    let zone_w = ((r.w - 24.0 - (n - 1.0) * zone_gap) / n).min(150.0);
    for (i, z) in c.zones.iter().enumerate() {
        let zx = r.x + 12.0 + i as f64 * (zone_w + zone_gap);
        let zy = r.y + 54.0;
        let _ = writeln!(
            out,
            "<rect class=\"zone\" x=\"{zx:.1}\" y=\"{zy:.1}\" width=\"{zone_w:.1}\" height=\"26\" rx=\"5\" fill=\"#ffffff\" stroke=\"{stroke}\" stroke-dasharray=\"4 2\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\" fill=\"#1f2937\">{}</text>",
            zx + zone_w / 2.0,
            zy + 17.0,
            escape(z)
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" font-weight=\"600\" fill=\"#374151\">node pools</text>",
        r.x + 12.0,
        r.y + 100.0
    );
    if pools.is_empty() {
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"#6b7280\">none</text>",
            r.x + 20.0,
            r.y + 118.0
        );
    }
    for (i, p) in pools.iter().enumerate() {
        let _ = writeln!(
            out,
            "<text class=\"pool\" x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"#1f2937\">• {}</text>",
            r.x + 20.0,
            r.y + 118.0 + 18.0 * i as f64,
            escape(p)
        );
    }
    out.push_str("</g>\n");
}

fn pools_section(out: &mut String, plan: &Plan) {
    let cur = escape(&plan.cost.currency);
    out.push_str("<section id=\"pools-section\">\n<h2>Node pools</h2>\n");
    let _ = writeln!(
        out,
        "<table id=\"node-pools\">\n<thead><tr><th>Pool</th><th>Clusters</th><th>Instance type</th><th class=\"num\">Min</th><th class=\"num\">Max</th><th>Spot</th><th>Taints</th><th class=\"num\">Expected nodes / cluster</th><th class=\"num\">Monthly ({cur})</th></tr></thead>\n<tbody>"
    );
    let mut total = 0.0;
    for pool in &plan.node_pools {
        let cost = plan.cost.pools.iter().find(|c| c.pool == pool.name);
        let taints: Vec<String> = pool
            .taints
            .iter()
            .map(|t| escape(&format!("{}={}:{}", t.key, t.value, t.effect)))
            .collect();
        let (expected, monthly) = match cost {
            Some(c) => {
                total += c.monthly;
                (short(c.expected_nodes), money(c.monthly))
            }
            None => ("–".to_owned(), "–".to_owned()),
        };
        let _ = writeln!(
            out,
            "<tr class=\"pool-row\"><td>{}<br><small>{}</small></td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&pool.name),
            escape(&pool.purpose),
            role_name(pool.cluster_role),
            escape(&pool.instance_type),
            pool.min_nodes,
            pool.max_nodes,
            yes_no(pool.spot),
            if taints.is_empty() {
                "–".to_owned()
            } else {
                taints.join("<br>")
            },
            escape(&expected),
            escape(&monthly),
        );
    }
    let _ = writeln!(
        out,
        "</tbody>\n<tfoot><tr><td colspan=\"8\">Compute, node pools</td><td class=\"num\">{}</td></tr></tfoot>\n</table>",
        escape(&money(total))
    );
    out.push_str("</section>\n");
}

fn cost_section(out: &mut String, plan: &Plan) {
    let m = &plan.cost.monthly;
    let cur = escape(&plan.cost.currency);
    out.push_str("<section id=\"cost-section\">\n<h2>Monthly cost</h2>\n");
    let _ = writeln!(
        out,
        "<p>Prices: {}, {}, dated {}. Total {} {cur} a month, {} {cur} a year.</p>",
        cur,
        escape(&plan.cost.price_region),
        escape(&plan.cost.price_date),
        escape(&money(m.total)),
        escape(&money(plan.cost.annual)),
    );
    let categories: Vec<(&str, f64)> = [
        ("compute", m.compute),
        ("storage", m.storage),
        ("networking", m.networking),
        ("monitoring", m.monitoring),
        ("security", m.security),
    ]
    .into_iter()
    .filter(|(_, v)| *v != 0.0)
    .collect();
    let max = categories.iter().map(|(_, v)| v.abs()).fold(0.0, f64::max);
    let (label_w, value_w, bar_h, gap, top) = (130.0, 170.0, 28.0, 12.0, 10.0);
    let plot_w = TOPO_W - label_w - value_w - 20.0;
    let height = top + categories.len() as f64 * (bar_h + gap) + 44.0;
    let _ = writeln!(
        out,
        "<svg id=\"cost-chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {TOPO_W} {height}\" role=\"img\" aria-label=\"Monthly cost by category\">"
    );
    for (i, (name, value)) in categories.iter().enumerate() {
        let y = top + i as f64 * (bar_h + gap);
        let w = if max > 0.0 {
            (value.abs() / max * plot_w).max(2.0)
        } else {
            2.0
        };
        let share = if m.total != 0.0 {
            value / m.total * 100.0
        } else {
            0.0
        };
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"14\" text-anchor=\"end\" fill=\"#1f2937\">{name}</text>\
<rect class=\"bar\" data-category=\"{name}\" x=\"{label_w:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{bar_h:.1}\" fill=\"{COST_BAR_COLOUR}\"><title>{name}: {} {cur}</title></rect>\
<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" fill=\"#1f2937\">{} ({share:.1}%)</text>",
            label_w - 10.0,
            y + bar_h / 2.0 + 5.0,
            escape(&money(*value)),
            label_w + w + 8.0,
            y + bar_h / 2.0 + 5.0,
            escape(&money(*value)),
        );
    }
    let ty = top + categories.len() as f64 * (bar_h + gap) + 20.0;
    let _ = writeln!(
        out,
        "<line x1=\"{label_w:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#9ca3af\"/>\
<text class=\"total\" x=\"{:.1}\" y=\"{ty:.1}\" font-size=\"15\" font-weight=\"700\" text-anchor=\"end\" fill=\"#111827\">total</text>\
<text class=\"total\" x=\"{label_w:.1}\" y=\"{ty:.1}\" font-size=\"15\" font-weight=\"700\" fill=\"#111827\">{} {cur} / month</text>",
        ty - 18.0,
        label_w + plot_w,
        ty - 18.0,
        label_w - 10.0,
        escape(&money(m.total)),
    );
    out.push_str("</svg>\n");
    out.push_str("<h3>Assumptions</h3>\n<ul id=\"assumptions\">\n");
    for a in &plan.cost.assumptions {
        let _ = writeln!(out, "<li>{}</li>", escape(a));
    }
    out.push_str("</ul>\n</section>\n");
}

fn timeline_section(out: &mut String, plan: &Plan) {
    out.push_str("<section id=\"timeline-section\">\n<h2>Timeline</h2>\n");
    let total: u32 = plan.timeline.iter().map(|p| p.weeks).sum();
    let _ = writeln!(
        out,
        "<p>{} phase(s), {} weeks in all, one after the other.</p>",
        plan.timeline.len(),
        plan.total_weeks
    );
    let (label_w, row_h, gap, top) = (170.0, 26.0, 8.0, 30.0);
    let plot_w = TOPO_W - label_w - 60.0;
    let scale = if total > 0 {
        plot_w / f64::from(total)
    } else {
        0.0
    };
    let height = top + plan.timeline.len() as f64 * (row_h + gap) + 20.0;
    let _ = writeln!(
        out,
        "<svg id=\"timeline-chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {TOPO_W} {height}\" role=\"img\" aria-label=\"Implementation timeline in weeks\">"
    );
    // Week grid, every week a faint line, every fourth labelled.
    let grid_bottom = height - 14.0;
    for w in 0..=total {
        let x = label_w + f64::from(w) * scale;
        let (stroke, label) = if (w % 4 == 0 && total - w >= 2) || w == total {
            ("#d1d5db", true)
        } else {
            ("#f3f4f6", false)
        };
        let _ = write!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{grid_bottom:.1}\" stroke=\"{stroke}\"/>",
            top - 6.0
        );
        if label {
            let _ = write!(
                out,
                "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#6b7280\">w{w}</text>",
                top - 12.0
            );
        }
    }
    out.push('\n');
    let mut start = 0u32;
    for (i, p) in plan.timeline.iter().enumerate() {
        let y = top + i as f64 * (row_h + gap);
        let x = label_w + f64::from(start) * scale;
        let w = (f64::from(p.weeks) * scale).max(2.0);
        let end = start + p.weeks;
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" text-anchor=\"end\" fill=\"#1f2937\">{}</text>\
<rect class=\"phase\" data-phase=\"{}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{row_h:.1}\" rx=\"4\" fill=\"{PHASE_COLOUR}\"><title>{}: weeks {}–{}</title></rect>\
<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"#064e3b\">{} wk</text>",
            label_w - 10.0,
            y + row_h / 2.0 + 5.0,
            escape(&p.phase),
            escape(&p.phase),
            escape(&p.phase),
            start + 1,
            end,
            x + w + 6.0,
            y + row_h / 2.0 + 4.0,
            p.weeks,
        );
        start = end;
    }
    out.push_str("</svg>\n<table id=\"timeline-table\">\n<thead><tr><th>Phase</th><th class=\"num\">Weeks</th><th class=\"num\">From week</th><th class=\"num\">To week</th></tr></thead>\n<tbody>\n");
    let mut start = 0u32;
    for p in &plan.timeline {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&p.phase),
            p.weeks,
            start + 1,
            start + p.weeks
        );
        start += p.weeks;
    }
    let _ = writeln!(
        out,
        "</tbody>\n<tfoot><tr><td>total</td><td class=\"num\">{}</td><td></td><td></td></tr></tfoot>\n</table>\n</section>",
        plan.total_weeks
    );
}

fn dl(out: &mut String, id: &str, rows: &[(&str, String)]) {
    let _ = writeln!(out, "<dl id=\"{id}\">");
    for (k, v) in rows {
        let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(v));
    }
    out.push_str("</dl>\n");
}

fn summaries_section(out: &mut String, plan: &Plan) {
    out.push_str("<section id=\"summaries-section\">\n<h2>Backup, security and networking</h2>\n");
    let b = &plan.backup;
    out.push_str("<h3>Backup</h3>\n");
    dl(
        out,
        "backup",
        &[
            ("tool", b.tool.clone()),
            (
                "frequency",
                format!("every {} ({})", b.frequency, b.schedule),
            ),
            (
                "retention",
                format!("{} ({})", b.retention, b.retention_reason),
            ),
            (
                "cross-region copy",
                match (&b.cross_region, &b.target_region) {
                    (true, Some(r)) => format!("yes, to {r}"),
                    (true, None) => "yes".to_owned(),
                    (false, _) => "no".to_owned(),
                },
            ),
            ("automated restore", yes_no(b.automated_restore).to_owned()),
            ("RTO target", b.rto_target.clone()),
        ],
    );
    let s = &plan.security;
    out.push_str("<h3>Security</h3>\n");
    dl(
        out,
        "security",
        &[
            ("Pod Security Standard", s.pod_security_standard.clone()),
            ("admission", s.admission.join(", ")),
            ("audit log level", s.audit_log_level.clone()),
            ("secrets encryption", s.secrets_encryption.clone()),
            ("runtime security", s.runtime_security.join(", ")),
            ("image scanning", s.image_scanning.clone()),
            (
                "compliance frameworks",
                if s.compliance_frameworks.is_empty() {
                    "none".to_owned()
                } else {
                    s.compliance_frameworks.join(", ")
                },
            ),
        ],
    );
    let n = &plan.networking;
    out.push_str("<h3>Networking</h3>\n");
    dl(
        out,
        "networking",
        &[
            ("CNI", n.cni.clone()),
            (
                "network policies",
                if n.network_policies {
                    "enforced, default deny".to_owned()
                } else {
                    "no".to_owned()
                },
            ),
            (
                "service mesh",
                if n.service_mesh.required {
                    format!(
                        "{}{} — {}",
                        n.service_mesh.kind,
                        if n.service_mesh.mtls {
                            " with mTLS"
                        } else {
                            ""
                        },
                        n.service_mesh.reason
                    )
                } else {
                    format!("none — {}", n.service_mesh.reason)
                },
            ),
            ("ingress", n.ingress.clone()),
            ("WAF", yes_no(n.waf).to_owned()),
            (
                "NAT gateways per cluster",
                n.nat_gateways_per_cluster.to_string(),
            ),
        ],
    );
    let st = &plan.storage;
    out.push_str("<h3>Storage</h3>\n");
    dl(
        out,
        "storage",
        &[
            (
                "storage classes",
                st.storage_classes
                    .iter()
                    .map(|c| {
                        format!(
                            "{} ({}, {}{})",
                            c.name,
                            c.volume_type,
                            c.reclaim_policy,
                            if c.encrypted { ", encrypted" } else { "" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            ("CSI drivers", st.csi_drivers.join(", ")),
            ("node root volume", format!("{} GB", st.node_root_volume_gb)),
            ("snapshots", yes_no(st.snapshot_controller).to_owned()),
        ],
    );
    let mo = &plan.monitoring;
    out.push_str("<h3>Monitoring</h3>\n");
    dl(
        out,
        "monitoring",
        &[
            (
                "metrics",
                format!(
                    "Prometheus × {}, {} retention, {} GB each{}",
                    mo.metrics.replicas,
                    mo.metrics.retention,
                    mo.metrics.storage_gb,
                    if mo.metrics.federation {
                        ", federated (Thanos)"
                    } else {
                        ""
                    }
                ),
            ),
            (
                "logs",
                format!(
                    "log store × {}, {} retention, {} GB each; audit archive {}",
                    mo.logging.replicas,
                    mo.logging.retention,
                    mo.logging.storage_gb,
                    mo.logging.audit_archive_retention
                ),
            ),
            (
                "tracing",
                if mo.tracing.enabled {
                    format!("sampling {}%", short(mo.tracing.sampling_rate * 100.0))
                } else {
                    "off".to_owned()
                },
            ),
            ("alert receivers", mo.alert_receivers.join(", ")),
        ],
    );
    out.push_str("</section>\n");
}

fn risks_section(out: &mut String, plan: &Plan) {
    out.push_str("<section id=\"risks-section\">\n<h2>Risks</h2>\n");
    out.push_str("<table id=\"risks\">\n<thead><tr><th>Risk</th><th>Impact</th><th>Probability</th><th>Mitigation</th></tr></thead>\n<tbody>\n");
    for r in &plan.risks {
        let _ = writeln!(
            out,
            "<tr class=\"risk\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.risk),
            level_cell(r.impact),
            level_cell(r.probability),
            escape(&r.mitigation)
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PriceSheet, plan, requirements};

    fn example_plan(regions: &[&str]) -> Plan {
        let yaml = format!(
            "apiVersion: plinth.io/v1alpha1\nkind: Requirements\nmetadata:\n  name: t\nspec:\n  availability: 0.9999\n  rpoMinutes: 30\n  rtoMinutes: 60\n  maxNodes: 100\n  multiRegion: {}\n  regions: [{}]\n  workloads: [web-application, database]\n",
            regions.len() > 1,
            regions.join(", ")
        );
        let docs = plinth_core::manifest::parse_str("req.yaml", &yaml).expect("parses");
        let req = requirements::from_documents(&docs, "req.yaml").expect("valid");
        plan(&req, &PriceSheet::builtin().expect("builtin prices"))
    }

    #[test]
    fn escape_covers_the_five_characters() {
        assert_eq!(
            escape(r#"<script>alert('x&y')</script>""#),
            "&lt;script&gt;alert(&#39;x&amp;y&#39;)&lt;/script&gt;&quot;"
        );
        assert_eq!(escape("plain"), "plain");
    }

    #[test]
    fn money_groups_thousands() {
        assert_eq!(money(1_234_567.891), "1,234,567.89");
        assert_eq!(money(3.0), "3.00");
        assert_eq!(money(-0.5), "-0.50");
    }

    #[test]
    fn input_derived_text_is_escaped() {
        let mut p = example_plan(&["us-east-1", "us-west-2"]);
        for c in &mut p.topology.clusters {
            c.region = format!("<script>alert(1)</script>{}", c.region);
            c.name = "a\"b<i>".to_owned();
        }
        p.timeline[0].phase = "<b>phase</b>".to_owned();
        p.risks.push(crate::Risk {
            risk: "<img src=x onerror=alert(1)>".to_owned(),
            impact: Level::Low,
            probability: Level::Low,
            mitigation: "'quoted' & \"double\"".to_owned(),
        });
        let html = render(&p);
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>phase"), "{html}");
        assert!(!html.contains("a\"b<i>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;us-east-1"));
        assert!(html.contains("&#39;quoted&#39; &amp; &quot;double&quot;"));
    }

    #[test]
    fn deterministic_and_self_contained() {
        let p = example_plan(&["us-east-1", "us-west-2"]);
        let a = render(&p);
        assert_eq!(a, render(&p));
        assert!(a.starts_with("<!DOCTYPE html>"));
        for forbidden in [
            "<script", "http://", "https://", "@import", "url(http", "<link",
        ] {
            let hits: Vec<_> = a
                .match_indices(forbidden)
                .filter(|(i, _)| !a[*i..].starts_with("http://www.w3.org/2000/svg"))
                .collect();
            assert!(hits.is_empty(), "{forbidden} in the report");
        }
        for id in [
            "id=\"topology\"",
            "id=\"cost-chart\"",
            "id=\"timeline-chart\"",
            "id=\"risks\"",
        ] {
            assert!(a.contains(id), "{id}");
        }
        assert_eq!(a.matches("class=\"phase\"").count(), p.timeline.len());
        assert_eq!(a.matches("class=\"arrow dr\"").count(), 1);
        assert_eq!(a.matches("class=\"arrow backup\"").count(), 1);
    }

    #[test]
    fn single_region_has_no_dr_arrow() {
        let p = example_plan(&["eu-west-1"]);
        let html = render(&p);
        assert_eq!(html.matches("class=\"arrow dr\"").count(), 0);
        assert_eq!(
            html.matches("<g class=\"cluster ").count(),
            p.topology.clusters.len()
        );
    }
}
