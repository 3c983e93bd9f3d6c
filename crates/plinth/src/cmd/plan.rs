//! `plinth plan`: a Requirements document through the planner engine (plinth-plan), with
//! the shipped price sheet or `--prices FILE`; output as a table, YAML, JSON or a
//! self-contained HTML report (`plinth_plan::html`). Bad input exits 2 with `file:line`.

use anyhow::Context;
use comfy_table::{Table, presets::NOTHING};
use plinth_plan::html::money;
use plinth_plan::{Plan, PlanError, PriceSheet, plan, prices, requirements};

use super::{Outcome, manifest_errors};
use crate::cli::{PlanArgs, PlanFormat};
use crate::output;

fn plan_error(e: PlanError) -> anyhow::Error {
    match e {
        PlanError::Invalid(errors) => manifest_errors(errors),
        other => anyhow::Error::new(other),
    }
}

/// Runs `plinth plan`.
pub fn run(args: &PlanArgs) -> anyhow::Result<Outcome> {
    let file = args.requirements.display().to_string();
    let docs = plinth_core::manifest::read_file(&args.requirements)
        .map_err(|e| manifest_errors(vec![e]))?;
    let req = requirements::from_documents(&docs, &file).map_err(plan_error)?;
    let sheet = match &args.prices {
        Some(path) => {
            let docs =
                plinth_core::manifest::read_file(path).map_err(|e| manifest_errors(vec![e]))?;
            prices::from_documents(&docs, &path.display().to_string()).map_err(plan_error)?
        }
        None => PriceSheet::builtin()
            .map_err(plan_error)
            .context("the price sheet shipped with plinth")?,
    };
    let result = plan(&req, &sheet);
    match args.output {
        PlanFormat::Table => table(&result),
        PlanFormat::Json => output::json(&serde_json::to_value(&result)?),
        PlanFormat::Yaml => output::line(serde_saphyr::to_string(&result)?.trim_end()),
        PlanFormat::Html => output::line(plinth_plan::html::render(&result).trim_end()),
    }
    Ok(Outcome::Ok)
}

fn table(p: &Plan) {
    let topo = serde_json::to_value(p.topology.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    output::line(format!("Topology: {topo} — {}", p.topology.reason));
    let mut t = Table::new();
    t.load_preset(NOTHING);
    t.set_header(["CLUSTER", "ROLE", "REGION", "ZONES"]);
    for c in &p.topology.clusters {
        t.add_row([
            c.name.clone(),
            format!("{:?}", c.role).to_lowercase(),
            c.region.clone(),
            c.zones.join(","),
        ]);
    }
    output::line(t.to_string());
    output::line("");
    let mut t = Table::new();
    t.load_preset(NOTHING);
    t.set_header([
        "POOL", "INSTANCE", "MIN", "MAX", "SPOT", "TAINTS", "MONTHLY",
    ]);
    for (pool, cost) in p.node_pools.iter().zip(&p.cost.pools) {
        let taints: Vec<String> = pool
            .taints
            .iter()
            .map(|t| format!("{}={}:{}", t.key, t.value, t.effect))
            .collect();
        t.add_row([
            pool.name.clone(),
            pool.instance_type.clone(),
            pool.min_nodes.to_string(),
            pool.max_nodes.to_string(),
            if pool.spot { "yes" } else { "no" }.to_owned(),
            if taints.is_empty() {
                "-".to_owned()
            } else {
                taints.join(" ")
            },
            money(cost.monthly),
        ]);
    }
    output::line(t.to_string());
    output::line("");
    let b = &p.backup;
    output::line(format!(
        "Backup: every {} ({}), kept {} [{}], cross-region: {}",
        b.frequency,
        b.schedule,
        b.retention,
        b.retention_reason,
        b.target_region.as_deref().unwrap_or("no")
    ));
    output::line(format!(
        "Networking: {} CNI, mesh {}, ingress {}; security: PSS {}",
        p.networking.cni,
        if p.networking.service_mesh.required {
            "istio"
        } else {
            "none"
        },
        p.networking.ingress,
        p.security.pod_security_standard
    ));
    output::line("");
    let m = &p.cost.monthly;
    let mut t = Table::new();
    t.load_preset(NOTHING);
    t.set_header(["COST", p.cost.currency.as_str()]);
    for (k, v) in [
        ("compute", m.compute),
        ("storage", m.storage),
        ("networking", m.networking),
        ("monitoring", m.monitoring),
        ("security", m.security),
        ("monthly total", m.total),
        ("annual", p.cost.annual),
    ] {
        t.add_row([k.to_owned(), money(v)]);
    }
    output::line(t.to_string());
    output::line("Assumptions:");
    for a in &p.cost.assumptions {
        output::line(format!("  - {a}"));
    }
    output::line("");
    let mut t = Table::new();
    t.load_preset(NOTHING);
    t.set_header(["PHASE", "WEEKS"]);
    for ph in &p.timeline {
        t.add_row([ph.phase.clone(), ph.weeks.to_string()]);
    }
    t.add_row(["total".to_owned(), p.total_weeks.to_string()]);
    output::line(t.to_string());
    output::line("");
    let mut t = Table::new();
    t.load_preset(NOTHING);
    t.set_header(["RISK", "IMPACT", "PROBABILITY", "MITIGATION"]);
    for r in &p.risks {
        t.add_row([
            r.risk.clone(),
            format!("{:?}", r.impact),
            format!("{:?}", r.probability),
            r.mitigation.clone(),
        ]);
    }
    output::line(t.to_string());
}
