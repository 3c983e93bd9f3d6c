//! `plinth bench netpol`: the full connectivity map of a generated cluster (default 1,000
//! pods under 1,000 NetworkPolicies) from the manifest file on disk, against np-guard's
//! `k8snetpolicy list` on the same file in the same run, and single queries against the
//! built index. Times include reading and parsing the YAML, as any tool handed the file
//! must; np-guard's are wall-clock times of its process (its start-up is a few ms of
//! them). Both run under np-guard's assumption that ipBlocks never match pods, and the
//! two maps are compared pair by pair: a ratio is only reported for identical answers.

use std::time::{Duration, Instant};

use std::collections::BTreeMap;
use std::process::Command;

use anyhow::{Context, anyhow};
use plinth_netpol::{Endpoint, IpBlockMode, PortQuery, PortSet, Protocol};
use plinth_testenv::{Binaries, Binary, cache_root};
use serde_json::json;

use super::Outcome;
use super::netpol_corpus;
use crate::output;

/// What to run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Pods.
    pub pods: usize,
    /// NetworkPolicies.
    pub policies: usize,
    /// Generator seed.
    pub seed: u64,
    /// Runs (the median is reported).
    pub runs: usize,
    /// Skip np-guard.
    pub no_npguard: bool,
    /// JSON output.
    pub json: bool,
}

type Map = BTreeMap<(String, String), PortSet>;

struct Run {
    parse: Duration,
    map: Duration,
    connections: usize,
    all_ports: usize,
    pairs: Map,
}

fn run_once(path: &std::path::Path) -> anyhow::Result<Run> {
    let started = Instant::now();
    let docs = plinth_core::manifest::read_paths(&[path]).map_err(|e| anyhow!("{e}"))?;
    let parsed = Instant::now();
    let index = plinth_netpol::manifests::index(&docs, IpBlockMode::ExternalOnly)
        .map_err(super::manifest_errors)?;
    let map = index.connectivity();
    let mapped = Instant::now();
    let pods = index.pods();
    Ok(Run {
        parse: parsed - started,
        map: mapped - parsed,
        connections: map.len(),
        all_ports: map.iter().filter(|c| c.ports.is_all()).count(),
        pairs: map
            .into_iter()
            .map(|c| ((pods[c.from].id(), pods[c.to].id()), c.ports))
            .collect(),
    })
}

/// One `k8snetpolicy list` run: wall time and its pod-to-pod map.
fn npguard_once(
    binary: &std::path::Path,
    dir: &std::path::Path,
) -> anyhow::Result<(Duration, Map)> {
    let started = Instant::now();
    // Neither -q nor --fail: with either, k8snetpolicy v1.4.2 hides errors behind `[]`.
    let out = Command::new(binary)
        .args(["list", "-o", "json", "--dirpath"])
        .arg(dir)
        .output()
        .with_context(|| format!("running {}", binary.display()))?;
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || stderr.contains("Error:") {
        return Err(anyhow!("k8snetpolicy failed: {stderr}"));
    }
    let listed: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).context("k8snetpolicy's JSON output")?;
    let mut map = Map::new();
    for e in &listed {
        let (Some(src), Some(dst), Some(conn)) =
            (e["src"].as_str(), e["dst"].as_str(), e["conn"].as_str())
        else {
            continue;
        };
        if let (Some(src), Some(dst)) = (src.strip_suffix("[Pod]"), dst.strip_suffix("[Pod]")) {
            map.insert(
                (src.to_owned(), dst.to_owned()),
                PortSet::from_np_guard(conn).map_err(|e| anyhow!("np-guard {e}"))?,
            );
        }
    }
    Ok((took, map))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// Runs the benchmark.
pub fn run(settings: &Settings) -> anyhow::Result<Outcome> {
    if settings.pods < 2 || settings.runs == 0 {
        return Err(anyhow!("--pods must be at least 2 and --runs positive"));
    }
    let dir = tempfile::tempdir().context("a directory for the generated manifests")?;
    let path = dir.path().join("cluster.yaml");
    let docs = netpol_corpus::documents(settings.pods, settings.policies, settings.seed);
    let text = docs
        .iter()
        .map(serde_saphyr::to_string)
        .collect::<Result<Vec<_>, _>>()?
        .join("---\n");
    std::fs::write(&path, text).context("writing the generated manifests")?;

    let mut runs = Vec::new();
    for _ in 0..settings.runs {
        runs.push(run_once(&path)?);
    }
    let connections = runs[0].connections;
    let all_ports = runs[0].all_ports;
    let parse = median(runs.iter().map(|r| r.parse).collect());
    let map = median(runs.iter().map(|r| r.map).collect());
    let total = median(runs.iter().map(|r| r.parse + r.map).collect());

    // np-guard on the same file, in the same run.
    let npguard = if settings.no_npguard {
        None
    } else {
        let binaries = Binaries::in_cache(&cache_root());
        let step = output::Step::start("building or finding the pinned k8snetpolicy (np-guard)");
        binaries.ensure(&mut |_| {}).context(
            "np-guard's k8snetpolicy (tools/k8s) is needed for the comparison; pass --no-npguard to skip it",
        )?;
        step.finish("k8snetpolicy ready");
        let binary = binaries.path(Binary::NpGuard);
        let mut times = Vec::new();
        let mut theirs = Map::new();
        for _ in 0..settings.runs {
            let (took, map) = npguard_once(&binary, dir.path())?;
            times.push(took);
            theirs = map;
        }
        let ours = &runs[0].pairs;
        let differing = ours
            .keys()
            .chain(theirs.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .filter(|k| ours.get(*k) != theirs.get(*k))
            .count();
        Some((median(times), differing))
    };

    // Single queries against the built index.
    let docs = plinth_core::manifest::read_paths(&[&path]).map_err(|e| anyhow!("{e}"))?;
    let index = plinth_netpol::manifests::index(&docs, IpBlockMode::ExternalOnly)
        .map_err(|_| anyhow!("the generated manifests are valid"))?;
    let n = index.pods().len();
    let queries = 200_000usize;
    let started = Instant::now();
    let mut allowed = 0usize;
    for q in 0..queries {
        let from = (q * 7919) % n;
        let to = (q * 104_729 + 1) % n;
        let port = [80u16, 443, 5432, 8080, 9100][q % 5];
        let v = index.verify(
            Endpoint::Pod(from),
            Endpoint::Pod(to),
            &PortQuery::Number(port),
            Protocol::Tcp,
        )?;
        allowed += usize::from(v.allowed);
    }
    let per_query = started.elapsed() / queries as u32;

    let pairs = n * (n - 1);
    if settings.json {
        output::json(&json!({
            "pods": n, "policies": index.policies().len(), "seed": settings.seed, "runs": settings.runs,
            "pairs": pairs, "connections": connections, "allConnections": all_ports,
            "medianSeconds": {"parse": parse.as_secs_f64(), "map": map.as_secs_f64(), "total": total.as_secs_f64()},
            "verifyMicros": per_query.as_secs_f64() * 1e6, "verifyQueries": queries, "verifyAllowed": allowed,
            "npGuard": npguard.map(|(t, differing)| json!({
                "medianSeconds": t.as_secs_f64(), "differingPairs": differing,
                "ratio": (differing == 0).then(|| t.as_secs_f64() / total.as_secs_f64().max(f64::EPSILON)),
            })),
        }));
    } else {
        output::line(format!(
            "{n} pods, {} policies (seed {}): {connections} of {pairs} ordered pod pairs connected ({all_ports} on all ports)",
            index.policies().len(),
            settings.seed
        ));
        output::line(format!(
            "full map, median of {} runs: {:.3} s total = {:.3} s reading and parsing YAML + {:.3} s indexing and mapping",
            settings.runs,
            total.as_secs_f64(),
            parse.as_secs_f64(),
            map.as_secs_f64()
        ));
        if let Some((t, differing)) = npguard {
            let verdict = if differing == 0 {
                format!(
                    "plinth {:.1}× faster; identical maps",
                    t.as_secs_f64() / total.as_secs_f64().max(f64::EPSILON)
                )
            } else {
                format!("{differing} PAIRS DIFFER, so no ratio")
            };
            output::line(format!(
                "np-guard k8snetpolicy list, median of {} runs: {:.3} s — {verdict}",
                settings.runs,
                t.as_secs_f64(),
            ));
        }
        output::line(format!(
            "single verify against the built index: {:.2} µs per query ({queries} queries, {allowed} allowed)",
            per_query.as_secs_f64() * 1e6
        ));
    }
    Ok(if npguard.is_some_and(|(_, d)| d > 0) {
        Outcome::Findings
    } else {
        Outcome::Ok
    })
}
