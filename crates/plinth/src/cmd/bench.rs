//! `plinth bench`: measurements of the engines, printed with the method and the machine.

use std::time::Instant;

use plinth_sched::Scheduler;
use plinth_sched::config::SchedulerConfig;
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
            output: format,
        } => scheduler(nodes, pods, seed, format),
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
            super::bench_live::live(nodes, pods, seed, &settings, format == Format::Json).await?;
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

fn scheduler(nodes: usize, pods: usize, seed: u64, format: Format) -> anyhow::Result<Outcome> {
    let config = SchedulerConfig::default();
    let mut snapshot = synthetic::snapshot(nodes, seed);
    let pending = synthetic::pods(pods, seed, &config, &PriorityClasses::seed());
    let mut engine = Scheduler::new(config);
    let rss_before = peak_rss_kib();
    let started = Instant::now();
    let mut placed = 0usize;
    let mut feasible_scored = 0usize;
    for pod in &pending {
        if let Ok(p) = engine.schedule(&snapshot, pod) {
            feasible_scored += p.feasible;
            snapshot.place(pod.clone(), p.node);
            placed += 1;
        }
    }
    let elapsed = started.elapsed();
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
        }
    }
    Ok(Outcome::Ok)
}
