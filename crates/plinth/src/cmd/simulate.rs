//! `plinth simulate`: the scheduling engine as a what-if over a cluster snapshot.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use comfy_table::{Table, presets::NOTHING};
use plinth_core::manifest::{ManifestError, parse_str, read_paths};
use plinth_sched::config::SchedulerConfig;
use plinth_sched::load::{config_from_configmap, load};
use plinth_sched::model::{Node, Pod};
use plinth_sched::profile::Profiles;
use plinth_sched::simulate::{
    CapacityPlan, Options, Pool, SimulationResult, plan_capacity, simulate,
};
use plinth_sched::{Explanation, Scheduler};
use serde_json::json;

use super::Outcome;
use crate::cli::{RichFormat, SimulateArgs};
use crate::output;

/// Reads `--profiles`: a policies ConfigMap or a bare `profiles:` document.
fn read_profiles(path: &Path) -> anyhow::Result<SchedulerConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let name = path.display().to_string();
    let docs = parse_str(&name, &text)?;
    match docs.as_slice() {
        [doc] if doc.kind() == Some("ConfigMap") => {
            Ok(config_from_configmap(doc, SchedulerConfig::default())?)
        }
        _ => {
            let profiles = Profiles::parse(&text).map_err(|e| ManifestError::Invalid {
                location: plinth_core::manifest::Location::new(name.as_str(), e.line, None),
                path: String::new(),
                message: e.message,
            })?;
            Ok(SchedulerConfig {
                profiles,
                ..SchedulerConfig::default()
            })
        }
    }
}

/// Reads `POOL=FILE` capacity templates.
fn read_pools(specs: &[String]) -> anyhow::Result<Vec<Pool>> {
    specs
        .iter()
        .map(|spec| {
            let Some((name, file)) = spec
                .split_once('=')
                .filter(|(n, f)| !n.is_empty() && !f.is_empty())
            else {
                bail!("--capacity {spec:?} must be POOL=TEMPLATE_NODE_FILE");
            };
            let docs = read_paths(&[Path::new(file)])?;
            let [doc] = docs.as_slice() else {
                bail!(
                    "{file}: a capacity template must hold exactly one Node, found {} objects",
                    docs.len()
                );
            };
            if doc.kind() != Some("Node") {
                bail!(
                    "{}: a capacity template must be a Node, not {}",
                    doc.location(),
                    doc.kind().unwrap_or("an object without kind")
                );
            }
            let node: k8s_openapi::api::core::v1::Node = doc.parse()?;
            let template = Node::from_k8s(&node).map_err(|e| doc.error_at(&e.path, e.message))?;
            Ok(Pool {
                name: name.to_owned(),
                template,
            })
        })
        .collect()
}

/// Runs `plinth simulate`.
pub fn run(args: &SimulateArgs) -> anyhow::Result<Outcome> {
    let docs = read_paths(&args.snapshot)?;
    let (config, fixed) = match &args.profiles {
        Some(p) => (read_profiles(p)?, true),
        None => (SchedulerConfig::default(), false),
    };
    let loaded = load(&docs, config, fixed)?;
    for w in &loaded.warnings {
        output::notice(format!("warning: {w}"));
    }
    let pools = read_pools(&args.capacity)?;
    let mut snapshot = loaded.snapshot;
    if let Some(key) = &args.explain {
        let Some((ns, name)) = key.split_once('/') else {
            bail!("--explain {key:?} must be NAMESPACE/NAME");
        };
        let pending = loaded.pending.iter().any(|p| p.key() == *key);
        if !pending && snapshot.pod_id(ns, name).is_none() {
            bail!("--explain: pod {key} is not in the snapshot");
        }
    }
    let mut scheduler = Scheduler::new(loaded.config);
    let bound_explanation = explain_bound(
        &mut scheduler,
        &snapshot,
        &loaded.pending,
        args.explain.as_deref(),
    );
    let (mut result, capacity) = if pools.is_empty() {
        let options = Options {
            allow_preemption: !args.no_preemption,
            explain: args.explain.clone(),
        };
        (
            simulate(&mut scheduler, &mut snapshot, &loaded.pending, &options),
            None,
        )
    } else {
        let plan = plan_capacity(
            &mut scheduler,
            &snapshot,
            &loaded.pending,
            &pools,
            args.explain.clone(),
        );
        (plan.result.clone(), Some(plan))
    };
    if result.explanation.is_none() {
        result.explanation = bound_explanation;
    }
    print(&result, capacity.as_ref(), args.output)?;
    Ok(if result.all_placed() {
        Outcome::Ok
    } else {
        Outcome::Findings
    })
}

/// Explaining a pod that is already bound: where would it go if it were pending now?
fn explain_bound(
    scheduler: &mut Scheduler,
    snapshot: &plinth_sched::snapshot::Snapshot,
    pending: &[Arc<Pod>],
    key: Option<&str>,
) -> Option<Explanation> {
    let key = key?;
    if pending.iter().any(|p| p.key() == key) {
        return None;
    }
    let (ns, name) = key.split_once('/')?;
    let id = snapshot.pod_id(ns, name)?;
    let pod = snapshot.pod(id)?.pod.clone();
    let mut view = snapshot.clone();
    view.remove(id);
    Some(scheduler.explain(&view, &pod))
}

fn print(
    result: &SimulationResult,
    capacity: Option<&CapacityPlan>,
    format: RichFormat,
) -> anyhow::Result<()> {
    let mut value = serde_json::to_value(result)?;
    if let (Some(plan), Some(obj)) = (capacity, value.as_object_mut()) {
        obj.insert("capacity".into(), json!({"added": plan.added}));
    }
    match format {
        RichFormat::Json => output::json(&value),
        RichFormat::Yaml => output::line(serde_saphyr::to_string(&value)?.trim_end()),
        RichFormat::Table => print_table(result, capacity),
    }
    Ok(())
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(NOTHING);
    t.set_header(header.to_vec());
    t
}

fn print_table(result: &SimulationResult, capacity: Option<&CapacityPlan>) {
    let mut t = table(&["POD", "NODE", "SCORE", "NOTE"]);
    for p in result.placements.iter().filter(|p| p.node.is_some()) {
        let mut note = Vec::new();
        if !p.preempted.is_empty() {
            note.push(format!("preempted {}", p.preempted.join(", ")));
        }
        if let Some(by) = &p.preempted_by {
            note.push(format!("later preempted by {by}"));
        }
        t.add_row(vec![
            p.pod.clone(),
            p.node.clone().unwrap_or_default(),
            p.score.map_or_else(|| "-".into(), |s| format!("{s:.2}")),
            note.join("; "),
        ]);
    }
    output::line(t.to_string());
    let pending: Vec<_> = result
        .placements
        .iter()
        .filter(|p| p.node.is_none())
        .collect();
    if !pending.is_empty() {
        output::line("");
        output::line("PENDING");
        for p in &pending {
            output::line(format!(" {}: {}", p.pod, p.message));
        }
    }
    output::line("");
    let mut n = table(&[
        "NODE",
        "CPU REQ/ALLOC",
        "CPU%",
        "MEMORY REQ/ALLOC",
        "MEM%",
        "GPU",
        "PODS",
    ]);
    for u in &result.nodes {
        n.add_row(vec![
            u.node.clone(),
            format!("{}m/{}m", u.cpu_requested_milli, u.cpu_allocatable_milli),
            format!("{:.1}", u.cpu_percent),
            format!(
                "{}/{}",
                gib(u.memory_requested_bytes),
                gib(u.memory_allocatable_bytes)
            ),
            format!("{:.1}", u.memory_percent),
            format!("{}/{}", u.gpu_requested, u.gpu_allocatable),
            u.pods.to_string(),
        ]);
    }
    output::line(n.to_string());
    if let Some(plan) = capacity {
        output::line("");
        if plan.added.is_empty() {
            output::line("capacity: no pool node helps the pending pods");
        } else {
            let parts: Vec<String> = plan
                .added
                .iter()
                .map(|(pool, n)| format!("{n} × {pool}"))
                .collect();
            output::line(format!("capacity: add {}", parts.join(", ")));
        }
    }
    if let Some(e) = &result.explanation {
        output::line("");
        print_explanation(e);
    }
    output::line("");
    output::line(format!(
        "{} of {} pods placed{}",
        result.placements.len() - pending.len(),
        result.placements.len(),
        if pending.is_empty() {
            String::new()
        } else {
            format!(", {} pending", pending.len())
        }
    ));
}

fn gib(bytes: i64) -> String {
    format!("{:.1}Gi", bytes as f64 / (1024.0 * 1024.0 * 1024.0))
}

/// Prints an explanation as a table.
pub fn print_explanation(e: &Explanation) {
    output::line(format!(
        "explain {} (priority {}, profile {})",
        e.pod,
        e.priority,
        e.profile.as_deref().unwrap_or("none")
    ));
    if let Some(p) = &e.pod_problem {
        output::line(format!("  not schedulable: {p}"));
        return;
    }
    let mut t = table(&[
        "NODE", "VERDICT", "RESOURCE", "AFFINITY", "SLA", "LOAD", "TOTAL", "REASON",
    ]);
    for v in &e.nodes {
        match v.score {
            Some(s) => t.add_row(vec![
                v.node.clone(),
                "feasible".into(),
                format!("{:.1}", s.resource),
                format!("{:.1}", s.affinity),
                format!("{:.1}", s.sla),
                format!("{:.1}", s.load_balance),
                format!("{:.2}", s.total),
                String::new(),
            ]),
            None => t.add_row(vec![
                v.node.clone(),
                format!("rejected by {}", v.plugin.unwrap_or("?")),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                v.reasons.join("; "),
            ]),
        };
    }
    output::line(t.to_string());
}
