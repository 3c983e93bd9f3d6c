//! `plinth bench`: measurements of the engines, printed with the method and the machine.

use std::sync::Arc;
use std::time::Instant;

use plinth_sched::Scheduler;
use plinth_sched::config::{SchedulerConfig, ScoreWeights};
use plinth_sched::priority::PriorityClasses;
use plinth_sched::synthetic;
use serde_json::json;

use super::Outcome;
use crate::cli::{BenchCommand, Format};
use crate::output;

/// Peak resident memory of this process so far (`VmHWM`), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs a benchmark.
pub fn run(command: BenchCommand) -> anyhow::Result<Outcome> {
    match command {
        BenchCommand::Scheduler {
            nodes,
            pods,
            seed,
            score_weights,
            output: format,
        } => scheduler(nodes, pods, seed, score_weights, format),
        BenchCommand::Netpol {
            pods,
            policies,
            seed,
            runs,
            no_npguard,
            output: format,
        } => super::bench_netpol::run(&super::bench_netpol::Settings {
            pods,
            policies,
            seed,
            runs,
            no_npguard,
            json: format == Format::Json,
        }),
        BenchCommand::Live { .. }
        | BenchCommand::Differential { .. }
        | BenchCommand::Guard { .. } => {
            anyhow::bail!("internal: live benchmarks run on the async path")
        }
    }
}

/// Runs the benchmarks that need a control plane.
pub async fn run_async(command: BenchCommand) -> anyhow::Result<Outcome> {
    match command {
        BenchCommand::Live {
            nodes,
            pods,
            seed,
            qps,
            score_weights: weights,
            output: format,
        } => {
            let settings = qps
                .iter()
                .map(|s| {
                    let (q, b) = s
                        .split_once('/')
                        .ok_or_else(|| anyhow::anyhow!("--qps {s:?} must be QPS/BURST"))?;
                    Ok((q.parse()?, b.parse()?))
                })
                .collect::<anyhow::Result<Vec<(u32, u32)>>>()?;
            super::bench_live::live(
                nodes,
                pods,
                seed,
                &settings,
                weights,
                format == Format::Json,
            )
            .await?;
            Ok(Outcome::Ok)
        }
        BenchCommand::Differential { output: format } => {
            let agree = super::bench_live::differential(format == Format::Json).await?;
            Ok(if agree {
                Outcome::Ok
            } else {
                Outcome::Findings
            })
        }
        BenchCommand::Guard {
            rate,
            seconds,
            requests,
            seed,
            no_opa,
            output: format,
        } => {
            super::bench_guard::run(super::bench_guard::Settings {
                rate,
                seconds,
                requests,
                seed,
                no_opa,
                json: format == Format::Json,
            })
            .await
        }
        other => run(other),
    }
}

/// Parses `--score-weights` (`resource=0.4,affinity=0.1,...`) over the defaults; clap
/// calls it, so a bad value is reported with the usage line. Each name may appear once.
pub(crate) fn score_weights(text: &str) -> Result<ScoreWeights, String> {
    const NAMES: &str = "names: resource, affinity, sla, load_balance";
    let mut w = ScoreWeights::default();
    let mut seen = std::collections::BTreeSet::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not NAME=WEIGHT ({NAMES})"))?;
        let name = name.trim();
        let value: f64 = value
            .trim()
            .parse()
            .map_err(|_| format!("{value:?} (for {name}) is not a number"))?;
        let slot = match name {
            "resource" => &mut w.resource,
            "affinity" => &mut w.affinity,
            "sla" => &mut w.sla,
            "load_balance" => &mut w.load_balance,
            other => return Err(format!("unknown weight {other:?} ({NAMES})")),
        };
        if !seen.insert(name.to_owned()) {
            return Err(format!("{name} is given twice"));
        }
        *slot = value;
    }
    w.normalised()
        .ok_or_else(|| "weights must be finite, not negative, and not all zero".to_owned())
}

/// Placement quality of the final state, as the live benchmark measures it: standard
/// deviation of node CPU requested/allocatable (percent points, over every node) and
/// the share of pods with profile label preferences placed on a node with one of them.
fn spread_and_preference(
    snapshot: &plinth_sched::snapshot::Snapshot,
    placed: &[(
        Arc<plinth_sched::model::Pod>,
        plinth_sched::snapshot::NodeId,
    )],
) -> (f64, f64) {
    let (mut with_prefs, mut on_pref) = (0usize, 0usize);
    for (pod, node) in placed {
        let profile = pod.profile.as_ref().ok().and_then(|p| p.as_deref());
        let labels = &snapshot.node(*node).node.labels;
        if let Some(on) = profile.and_then(|p| super::bench_live::on_preferred(p, labels)) {
            with_prefs += 1;
            on_pref += usize::from(on);
        }
    }
    (
        super::bench_live::cpu_utilisation_stddev(snapshot),
        on_pref as f64 / with_prefs.max(1) as f64,
    )
}

fn scheduler(
    nodes: usize,
    pods: usize,
    seed: u64,
    weights: Option<ScoreWeights>,
    format: Format,
) -> anyhow::Result<Outcome> {
    let mut config = SchedulerConfig::default();
    if let Some(w) = weights {
        config.weights = w;
    }
    let weights = config.weights;
    let mut snapshot = synthetic::snapshot(nodes, seed);
    let mut pending = synthetic::pods(pods, seed, &config, &PriorityClasses::seed());
    // In the order the live scheduler's queue (and kube-scheduler's) pops them: highest
    // priority first, creation order within a priority. Placement quality depends on it.
    pending.sort_by_key(|p| std::cmp::Reverse(p.priority));
    let mut engine = Scheduler::new(config);
    let rss_before = peak_rss_kib();
    let started = Instant::now();
    let mut placements = Vec::with_capacity(pending.len());
    let mut feasible_scored = 0usize;
    for pod in &pending {
        if let Ok(p) = engine.schedule(&snapshot, pod) {
            feasible_scored += p.feasible;
            snapshot.place(pod.clone(), p.node);
            placements.push((pod.clone(), p.node));
        }
    }
    let elapsed = started.elapsed();
    let placed = placements.len();
    let (cpu_stddev, on_preferred) = spread_and_preference(&snapshot, &placements);
    let per_sec = pending.len() as f64 / elapsed.as_secs_f64().max(f64::EPSILON);
    let rss = peak_rss_kib();
    let threads = rayon::current_num_threads();
    match format {
        Format::Json => output::json(&json!({
            "nodes": nodes,
            "pods": pending.len(),
            "placed": placed,
            "seconds": elapsed.as_secs_f64(),
            "podsPerSecond": per_sec,
            "feasibleNodesScored": feasible_scored,
            "avgFeasibleNodesPerPod": feasible_scored as f64 / placed.max(1) as f64,
            "peakRssKiB": rss,
            "peakRssBeforeSchedulingKiB": rss_before,
            "threads": threads,
            "scoreWeights": {"resource": weights.resource, "affinity": weights.affinity,
                "sla": weights.sla, "loadBalance": weights.load_balance},
            "quality": {"cpuUtilisationStddev": cpu_stddev, "onPreferredNodes": on_preferred},
        })),
        Format::Table => {
            output::line(format!(
                "scheduled {} pods on {nodes} nodes ({placed} placed) in {:.3}s: {per_sec:.0} pods/s",
                pending.len(),
                elapsed.as_secs_f64()
            ));
            output::line(format!(
                "every feasible node filtered and scored: {feasible_scored} node scores, {:.0} per placed pod",
                feasible_scored as f64 / placed.max(1) as f64
            ));
            output::line(format!(
                "peak RSS {} MiB (after building the cluster: {} MiB); {threads} threads",
                rss.map_or_else(|| "?".into(), |k| (k / 1024).to_string()),
                rss_before.map_or_else(|| "?".into(), |k| (k / 1024).to_string()),
            ));
            output::line(format!(
                "weights resource {:.2} affinity {:.2} sla {:.2} load balance {:.2}: node CPU utilisation stddev {cpu_stddev:.2} points, {:.1}% of pods with label preferences on a preferred node",
                weights.resource,
                weights.affinity,
                weights.sla,
                weights.load_balance,
                100.0 * on_preferred
            ));
        }
    }
    Ok(Outcome::Ok)
}

#[cfg(test)]
mod tests {
    use super::score_weights;

    #[test]
    fn score_weights_override_the_defaults_and_are_scaled() {
        let w = score_weights("affinity=0.05, load_balance=0.3").expect("valid");
        let sum = 0.40 + 0.05 + 0.20 + 0.30;
        assert!((w.affinity - 0.05 / sum).abs() < 1e-12);
        assert!((w.resource - 0.40 / sum).abs() < 1e-12);
        assert!((w.resource + w.affinity + w.sla + w.load_balance - 1.0).abs() < 1e-12);
    }

    #[test]
    fn bad_score_weights_say_what_is_wrong() {
        for (text, needle) in [
            ("affinity", "NAME=WEIGHT"),
            ("affinity=lots", "not a number"),
            ("spread=1", "unknown weight"),
            ("resource=0,affinity=0,sla=0,load_balance=0", "not all zero"),
            ("affinity=-1", "not negative"),
            ("sla=0.1,sla=0.3", "sla is given twice"),
        ] {
            let err = score_weights(text).expect_err(text);
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
