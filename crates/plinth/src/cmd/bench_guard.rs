//! `plinth bench guard`: the admission webhook under sustained load on loopback TLS, the
//! in-process decision time, and policy evaluation against OPA on identical templates and
//! inputs — all in one run, on one corpus.
//!
//! The load is open-loop: requests are sent on a fixed schedule whatever the server's
//! speed (no coordinated omission: a slow answer never delays the next request). Two
//! latencies are kept per request: from sending to the complete answer (what the API
//! server's webhook client experiences), and from the moment it was *due* by the
//! schedule (which adds the load generator's own lag, so a stall of the whole process
//! shows up there). The load generator shares the process and its two cores with
//! the server, as the API server shares a node with a webhook; over one HTTP/2 connection,
//! as kube-apiserver calls webhooks. Every answer is checked against the decision made
//! in process beforehand: a wrong answer counts as an error.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use plinth_admission::cluster::ClusterSource;
use plinth_admission::server::{self, ServeOptions, Shared};
use plinth_admission::tls::CertFiles;
use plinth_admission::{Guard, review};
use plinth_guard::library;
use plinth_guard::pss::{self, Level, LevelVersion, Policy, Version};
use plinth_testenv::{Binaries, Binary, cache_root};
use serde_json::{Value, json};

use super::Outcome;
use super::bench_opa::{self, Comparison};
use super::guard_corpus::{self, NAMESPACES};
use crate::output;

/// What to run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Requests per second.
    pub rate: u32,
    /// Seconds of measured load.
    pub seconds: u64,
    /// Distinct requests in the corpus (sent round-robin).
    pub requests: usize,
    /// Corpus seed.
    pub seed: u64,
    /// Skip the OPA comparison.
    pub no_opa: bool,
    /// JSON output.
    pub json: bool,
}

/// Namespace labels for the decisions made in process.
struct Labels(BTreeMap<String, BTreeMap<String, String>>);

impl pss::Cluster for Labels {
    fn namespace_labels(&self, name: &str) -> Result<BTreeMap<String, String>, String> {
        Ok(self.0.get(name).cloned().unwrap_or_default())
    }
    fn pods(&self, _namespace: &str) -> Result<Vec<k8s_openapi::api::core::v1::Pod>, String> {
        Ok(Vec::new())
    }
}

fn namespace_labels() -> BTreeMap<String, BTreeMap<String, String>> {
    NAMESPACES
        .iter()
        .map(|(ns, labels)| {
            (
                (*ns).to_owned(),
                labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            )
        })
        .collect()
}

fn guard() -> anyhow::Result<Guard> {
    let restricted = LevelVersion::new(Level::Restricted, Version::Latest);
    Ok(Guard {
        pss: pss::Config {
            defaults: Policy {
                enforce: restricted,
                audit: restricted,
                warn: restricted,
            },
            ..Default::default()
        },
        policies: Arc::new(library::defaults().context("loading the shipped policies")?),
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// CPU time (user + system) of this process so far.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on Linux.
    Some(Duration::from_millis(ticks * 10))
}

/// The corpus with what the webhook must answer for each request.
struct Corpus {
    bodies: Vec<bytes::Bytes>,
    uids: Vec<String>,
    allowed: Vec<bool>,
    requests: Vec<review::Request>,
}

fn corpus(settings: &Settings, guard: &Guard, labels: &Labels) -> anyhow::Result<Corpus> {
    let reviews = guard_corpus::reviews(settings.requests, settings.seed);
    let mut out = Corpus {
        bodies: Vec::new(),
        uids: Vec::new(),
        allowed: Vec::new(),
        requests: Vec::new(),
    };
    let far = Instant::now() + Duration::from_secs(3600);
    for r in &reviews {
        let body = serde_json::to_vec(r)?;
        let request = review::parse(&body).context("the generated review parses")?;
        let outcome = guard.decide(&request, labels, far);
        out.uids.push(request.uid.clone());
        out.allowed.push(outcome.decision.allowed);
        out.bodies.push(body.into());
        out.requests.push(request);
    }
    Ok(out)
}

/// In-process decision time per request (PSS + constraints, no HTTP).
fn decide_times(corpus: &Corpus, guard: &Guard, labels: &Labels) -> Vec<Duration> {
    let far = Instant::now() + Duration::from_secs(3600);
    let mut times = Vec::new();
    let started = Instant::now();
    while times.is_empty() || started.elapsed() < Duration::from_secs(2) {
        for request in &corpus.requests {
            let t = Instant::now();
            std::hint::black_box(guard.decide(request, labels, far));
            times.push(t.elapsed());
        }
    }
    times.sort_unstable();
    times
}

struct Load {
    sent: usize,
    latencies: Vec<Duration>,
    from_due: Vec<Duration>,
    errors: BTreeMap<String, usize>,
    wall: Duration,
    cpu: Option<Duration>,
}

async fn load(settings: &Settings, corpus: &Corpus, shared: Arc<Shared>) -> anyhow::Result<Load> {
    let dir = tempfile::tempdir().context("a directory for the serving certificate")?;
    let key = rcgen::KeyPair::generate().context("generating the serving key")?;
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .and_then(|p| p.self_signed(&key))
        .context("issuing the serving certificate")?;
    let files = CertFiles {
        cert: dir.path().join("tls.crt"),
        key: dir.path().join("tls.key"),
    };
    std::fs::write(&files.cert, cert.pem())?;
    std::fs::write(&files.key, key.serialize_pem())?;
    let options = ServeOptions::new(SocketAddr::from(([127, 0, 0, 1], 0)), files);
    // The server runs on its own runtime (two workers, as `plinth guard serve` has on
    // this machine), so the load generator's tasks do not queue behind it.
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("guard-server")
        .enable_all()
        .build()
        .context("starting the server's runtime")?;
    let server = server_runtime
        .spawn(async move { server::start(&options, shared).await })
        .await
        .context("the server task")??;
    let url = format!(
        "https://127.0.0.1:{}/validate?timeout=10s",
        server.addr.port()
    );
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.pem().as_bytes())?)
        // Like the API server's webhook client: a stalled answer is an error, not a hang.
        .timeout(Duration::from_secs(10))
        .build()?;

    let period = Duration::from_secs_f64(1.0 / f64::from(settings.rate.max(1)));
    let warmup = (u64::from(settings.rate) * 2) as usize;
    let total = (u64::from(settings.rate) * settings.seconds) as usize;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // Pacing on a thread of its own with the OS's fine-grained sleep (tokio's timer has
    // 1 ms granularity); each request is handed to the runtime when it is due.
    let runtime = tokio::runtime::Handle::current();
    let bodies = corpus.bodies.clone();
    let uids = corpus.uids.clone();
    let allowed = corpus.allowed.clone();
    let pacer = tokio::task::spawn_blocking(move || {
        let mut cpu_start = None;
        let mut wall_start = Instant::now();
        let start = Instant::now();
        for i in 0..warmup + total {
            let due = start + period.mul_f64(i as f64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            if i == warmup {
                cpu_start = cpu_time();
                wall_start = Instant::now();
            }
            let n = i % bodies.len();
            let body = bodies[n].clone();
            let uid = uids[n].clone();
            let allowed = allowed[n];
            let client = client.clone();
            let url = url.clone();
            let tx = tx.clone();
            runtime.spawn(async move {
                let sent = Instant::now();
                let result = async {
                    let resp = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .map_err(|e| format!("transport: {e}"))?;
                    let status = resp.status();
                    if status != 200 {
                        return Err(format!("HTTP {status}"));
                    }
                    let answer: Value = resp.json().await.map_err(|e| format!("body: {e}"))?;
                    if answer["response"]["uid"] != json!(uid) {
                        return Err("answer for another uid".to_owned());
                    }
                    if answer["response"]["allowed"] != json!(allowed) {
                        return Err("decision differs from the in-process one".to_owned());
                    }
                    Ok(())
                }
                .await;
                let _ = tx.send((i >= warmup, sent.elapsed(), due.elapsed(), result));
            });
        }
        (cpu_start, wall_start)
    });
    let mut out = Load {
        sent: total,
        latencies: Vec::with_capacity(total),
        from_due: Vec::with_capacity(total),
        errors: BTreeMap::new(),
        wall: Duration::ZERO,
        cpu: None,
    };
    let (cpu_start, wall_start) = pacer.await.context("the pacing thread")?;
    while let Some((measured, latency, from_due, result)) = rx.recv().await {
        if !measured {
            continue;
        }
        out.latencies.push(latency);
        out.from_due.push(from_due);
        if let Err(e) = result {
            *out.errors.entry(e).or_default() += 1;
        }
    }
    out.wall = wall_start.elapsed();
    out.cpu = cpu_time()
        .zip(cpu_start)
        .map(|(end, start)| end.saturating_sub(start));
    out.latencies.sort_unstable();
    out.from_due.sort_unstable();
    server.shutdown();
    server_runtime.shutdown_background();
    Ok(out)
}

fn opa_comparison(corpus: &Corpus, guard: &Guard, labels: &Labels) -> anyhow::Result<Comparison> {
    let binaries = Binaries::in_cache(&cache_root());
    let step = output::Step::start("building or finding the pinned opa binary");
    binaries.ensure(&mut |_| {}).context(
        "the pinned opa binary (tools/k8s) is needed for the comparison; pass --no-opa to skip it",
    )?;
    step.finish("opa ready");
    let opa = binaries.path(Binary::Opa);
    let docs: BTreeMap<String, Value> = library::TEMPLATES
        .iter()
        .map(|(f, y)| library::documents(f, y))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .map(|d| {
            let kind = d["spec"]["crd"]["spec"]["names"]["kind"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            (kind, d)
        })
        .collect();
    let inputs: Vec<bench_opa::Input> = corpus
        .requests
        .iter()
        .map(|r| {
            let is_namespace = r.kind == "Namespace" && r.group.is_empty();
            bench_opa::Input {
                review: r.gatekeeper_review().clone(),
                namespace_labels: (!is_namespace && !r.namespace.is_empty())
                    .then(|| labels.0.get(&r.namespace).cloned().unwrap_or_default()),
            }
        })
        .collect();
    bench_opa::compare(&opa, &guard.policies, &docs, &inputs)
}

/// Runs the benchmark.
pub async fn run(settings: Settings) -> anyhow::Result<Outcome> {
    if settings.rate == 0 || settings.seconds == 0 || settings.requests == 0 {
        anyhow::bail!("--rate, --seconds and --requests must be positive");
    }
    if u64::from(settings.rate).saturating_mul(settings.seconds.saturating_add(2)) > 100_000_000 {
        anyhow::bail!(
            "--rate × --seconds is over 100 million requests; choose a shorter or slower run"
        );
    }
    let guard = guard()?;
    let labels = Labels(namespace_labels());
    let corpus = corpus(&settings, &guard, &labels)?;
    let denied = corpus.allowed.iter().filter(|a| !**a).count();
    let mean_body =
        corpus.bodies.iter().map(|b| b.len()).sum::<usize>() / corpus.bodies.len().max(1);

    let decide = decide_times(&corpus, &guard, &labels);
    let decide_mean = decide.iter().sum::<Duration>() / decide.len().max(1) as u32;

    let comparison = if settings.no_opa {
        None
    } else {
        Some(opa_comparison(&corpus, &guard, &labels)?)
    };

    let step = output::Step::start(format!(
        "{} requests/s for {} s over loopback TLS (after 2 s of warm-up)",
        settings.rate, settings.seconds
    ));
    let shared = Shared::new(guard.clone(), ClusterSource::Fixed(labels.0.clone()));
    shared.set_ready();
    let load = load(&settings, &corpus, shared).await?;
    step.finish("load done");

    let errors: usize = load.errors.values().sum();
    let throughput = load.latencies.len() as f64 / load.wall.as_secs_f64().max(f64::EPSILON);
    let p = |q| percentile(&load.latencies, q);
    let due = |q| percentile(&load.from_due, q);
    let cpu_cores = load
        .cpu
        .map(|c| c.as_secs_f64() / load.wall.as_secs_f64().max(f64::EPSILON));
    let constraints = guard.policies.constraints().count();
    let templates = guard.policies.templates().count();

    if settings.json {
        output::json(&json!({
            "policies": {"podSecurity": "restricted:latest (namespace labels as listed in the corpus)",
                "templates": templates, "constraints": constraints},
            "corpus": {"requests": corpus.bodies.len(), "denied": denied, "meanBodyBytes": mean_body, "seed": settings.seed},
            "decisionInProcess": {"meanMicros": micros(decide_mean), "p50Micros": micros(percentile(&decide, 50.0)),
                "p99Micros": micros(percentile(&decide, 99.0)), "samples": decide.len()},
            "opa": comparison.as_ref().map(|c| json!({
                "requests": c.requests, "evaluations": c.evaluations, "templates": c.templates,
                "plinthMicrosPerRequest": micros(c.plinth_per_request),
                "opaMicrosPerRequest": micros(c.opa_per_request),
                "ratio": c.disagreements.is_empty().then(|| c.opa_per_request.as_secs_f64() / c.plinth_per_request.as_secs_f64().max(f64::EPSILON)),
                "disagreements": c.disagreements,
                "perTemplate": c.per_template.iter().map(|t| json!({
                    "kind": t.kind, "evaluations": t.evaluations,
                    "plinthMicrosPerEvaluation": micros(t.plinth_per_evaluation),
                    "opaMicrosPerEvaluation": micros(t.opa_per_evaluation),
                })).collect::<Vec<_>>(),
            })),
            "load": {"rate": settings.rate, "seconds": settings.seconds, "sent": load.sent,
                "completed": load.latencies.len(), "errors": errors, "errorKinds": load.errors,
                "throughput": throughput,
                "p50Micros": micros(p(50.0)), "p90Micros": micros(p(90.0)), "p99Micros": micros(p(99.0)),
                "p999Micros": micros(p(99.9)), "maxMicros": micros(p(100.0)),
                "fromDue": {"p50Micros": micros(due(50.0)), "p99Micros": micros(due(99.0)), "maxMicros": micros(due(100.0))},
                "cpuCores": cpu_cores},
        }));
    } else {
        output::line(format!(
            "policies: Pod Security restricted:latest + {constraints} constraints on {templates} templates"
        ));
        output::line(format!(
            "corpus: {} requests ({denied} denied), mean body {mean_body} bytes, seed {}",
            corpus.bodies.len(),
            settings.seed
        ));
        output::line(format!(
            "decision in process (parse excluded, PSS + constraints): mean {:.1} µs, p50 {:.1} µs, p99 {:.1} µs",
            micros(decide_mean),
            micros(percentile(&decide, 50.0)),
            micros(percentile(&decide, 99.0))
        ));
        if let Some(c) = &comparison {
            let verdict = if c.disagreements.is_empty() {
                format!(
                    "{:.1}×, identical violations",
                    c.opa_per_request.as_secs_f64()
                        / c.plinth_per_request.as_secs_f64().max(f64::EPSILON)
                )
            } else {
                format!("{} DISAGREEMENTS, so no ratio", c.disagreements.len())
            };
            output::line(format!(
                "constraint evaluation per request: plinth {:.1} µs, opa {:.1} µs — {verdict} ({} requests, {} evaluations on {} templates)",
                micros(c.plinth_per_request),
                micros(c.opa_per_request),
                c.requests,
                c.evaluations,
                c.templates,
            ));
            for t in &c.per_template {
                output::line(format!(
                    "  {}: {} evaluations, plinth {:.1} µs, opa {:.1} µs per evaluation",
                    t.kind,
                    t.evaluations,
                    micros(t.plinth_per_evaluation),
                    micros(t.opa_per_evaluation)
                ));
            }
            for d in c.disagreements.iter().take(5) {
                output::line(format!("  {d}"));
            }
        }
        output::line(format!(
            "load: {} req/s for {} s: {} completed, {errors} errors, {throughput:.0} req/s achieved",
            settings.rate,
            settings.seconds,
            load.latencies.len()
        ));
        output::line(format!(
            "latency, send to answer: p50 {:.0} µs, p90 {:.0} µs, p99 {:.0} µs, p99.9 {:.0} µs, max {:.0} µs",
            micros(p(50.0)),
            micros(p(90.0)),
            micros(p(99.0)),
            micros(p(99.9)),
            micros(p(100.0))
        ));
        output::line(format!(
            "latency from the due time (adds the load generator's own lag): p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
            micros(due(50.0)),
            micros(due(99.0)),
            micros(due(100.0))
        ));
        if let Some(cores) = cpu_cores {
            output::line(format!(
                "CPU (server and load generator together): {cores:.2} cores"
            ));
        }
        for (kind, n) in &load.errors {
            output::line(format!("  error: {kind} ×{n}"));
        }
    }
    let agree = comparison
        .as_ref()
        .is_none_or(|c| c.disagreements.is_empty());
    Ok(if errors == 0 && agree {
        Outcome::Ok
    } else {
        Outcome::Findings
    })
}
