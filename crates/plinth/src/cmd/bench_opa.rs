//! Policy evaluation per request, plinth (regorus, in process) against the real `opa`
//! binary on the same templates and inputs. Each request's work is exactly what the
//! webhook would do for it: the constraints that match it, each evaluated with its
//! parameters. OPA gets those same (template, input) pairs, one `opa eval` per template
//! with the inputs as data (`with input as`, the store optimised for reading so inputs
//! are converted once at load), and its own `timer_rego_query_eval_ns` — evaluation
//! only, after loading, parsing and compiling — is what is counted. The
//! best of three OPA runs is taken; plinth's figure includes matching, building the
//! Rego input and sorting the results, which OPA's does not. The violations of both
//! are compared, so the figures are only reported for identical answers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use plinth_guard::gatekeeper::{Point, PolicySet, Review};
use serde_json::{Value, json};

/// One request for the comparison: its `input.review` and namespace labels.
pub struct Input {
    /// The request as Gatekeeper sees it.
    pub review: Value,
    /// Labels of its namespace.
    pub namespace_labels: Option<BTreeMap<String, String>>,
}

/// The result.
#[derive(Debug)]
pub struct Comparison {
    /// Requests evaluated.
    pub requests: usize,
    /// (constraint, request) evaluations those requests need.
    pub evaluations: usize,
    /// Templates involved.
    pub templates: usize,
    /// plinth: mean time per request.
    pub plinth_per_request: Duration,
    /// OPA: evaluation time per request (best of three runs per template).
    pub opa_per_request: Duration,
    /// Evaluations whose violations differ (empty when both agree).
    pub disagreements: Vec<String>,
    /// Per template: where each engine spends its time.
    pub per_template: Vec<TemplateTiming>,
}

/// One template's share: its evaluations, timed alone on both sides (plinth's side is
/// `Template::evaluate` on prepared inputs, so matching and input conversion are not in
/// it, as they are not in OPA's).
#[derive(Debug)]
pub struct TemplateTiming {
    /// The template's kind.
    pub kind: String,
    /// Evaluations of it in the corpus.
    pub evaluations: usize,
    /// plinth: mean time per evaluation.
    pub plinth_per_evaluation: Duration,
    /// OPA: time per evaluation (best of three runs).
    pub opa_per_evaluation: Duration,
}

/// Mean time of `template.evaluate` over `inputs`, passes repeated for `min_time`.
fn plinth_template_time(
    template: &plinth_guard::gatekeeper::template::Template,
    inputs: &[regorus::Value],
    min_time: Duration,
) -> Duration {
    let started = Instant::now();
    let mut passes = 0u32;
    while passes == 0 || started.elapsed() < min_time {
        for input in inputs {
            std::hint::black_box(template.evaluate(input.clone()).ok());
        }
        passes += 1;
    }
    started.elapsed() / (passes * inputs.len().max(1) as u32)
}

type Key = (usize, String);

fn plinth_side(
    policies: &PolicySet,
    inputs: &[Input],
    min_time: Duration,
) -> (Duration, BTreeMap<Key, BTreeSet<String>>) {
    let mut answers: BTreeMap<Key, BTreeSet<String>> = BTreeMap::new();
    for (i, input) in inputs.iter().enumerate() {
        let review = Review {
            request: &input.review,
            namespace_labels: input.namespace_labels.as_ref(),
        };
        for (c, _) in policies.matching(&review, Point::Webhook) {
            answers.entry((i, c.name.clone())).or_default();
        }
        for v in policies.evaluate(&review, Point::Webhook) {
            answers
                .entry((i, v.constraint_name.clone()))
                .or_default()
                .insert(v.message);
        }
    }
    // Time whole passes over the corpus until `min_time` has passed.
    let started = Instant::now();
    let mut passes = 0u32;
    let mut violations = 0usize;
    while passes == 0 || started.elapsed() < min_time {
        for input in inputs {
            let review = Review {
                request: &input.review,
                namespace_labels: input.namespace_labels.as_ref(),
            };
            violations += std::hint::black_box(policies.evaluate(&review, Point::Webhook)).len();
        }
        passes += 1;
    }
    std::hint::black_box(violations);
    let per_request = started.elapsed() / (passes * inputs.len().max(1) as u32);
    (per_request, answers)
}

/// Runs `opa eval` once; returns the evaluation time and the violation messages by case.
fn opa_eval(
    opa: &Path,
    dir: &Path,
    libs: usize,
    package: &str,
) -> anyhow::Result<(Duration, Vec<BTreeSet<String>>)> {
    let query = format!(
        "{{i: v | some i; case := data.plinth_cases[i]; v := data.{package}.violation with input as case}}"
    );
    let mut cmd = Command::new(opa);
    // --optimize-store-for-read-speed: the inputs are stored as AST values once at
    // load, instead of being converted from Go values inside the evaluation timer.
    cmd.args([
        "eval",
        "--v0-compatible",
        "--optimize-store-for-read-speed",
        "--metrics",
        "--format",
        "json",
    ])
    .arg("-d")
    .arg(dir.join("template.rego"))
    .arg("-d")
    .arg(dir.join("data.json"));
    for i in 0..libs {
        cmd.arg("-d").arg(dir.join(format!("lib_{i}.rego")));
    }
    cmd.arg(&query);
    let out = cmd
        .output()
        .with_context(|| format!("running {}", opa.display()))?;
    if !out.status.success() {
        anyhow::bail!(
            "opa eval failed for {package}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let parsed: Value = serde_json::from_slice(&out.stdout).context("opa's JSON output")?;
    let eval_ns = parsed["metrics"]["timer_rego_query_eval_ns"]
        .as_u64()
        .context("opa reported no timer_rego_query_eval_ns")?;
    let by_index = &parsed["result"][0]["expressions"][0]["value"];
    let cases = by_index.as_object().map_or(0, |m| m.len());
    let answers = (0..cases)
        .map(|i| {
            by_index[i.to_string()]
                .as_array()
                .map(|vs| {
                    vs.iter()
                        .filter_map(|v| v["msg"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect();
    Ok((Duration::from_nanos(eval_ns), answers))
}

/// Compares plinth and OPA on `inputs` under `policies`; `template_docs` are the
/// templates' YAML documents by constraint kind (their Rego is what OPA loads).
pub fn compare(
    opa: &Path,
    policies: &PolicySet,
    template_docs: &BTreeMap<String, Value>,
    inputs: &[Input],
) -> anyhow::Result<Comparison> {
    let (plinth_per_request, plinth_answers) =
        plinth_side(policies, inputs, Duration::from_secs(3));

    // The same work for OPA, grouped by template.
    type Cases = (String, Vec<Key>, Vec<Value>);
    let mut by_template: BTreeMap<String, Cases> = BTreeMap::new();
    let mut templates = BTreeMap::new();
    for (i, input) in inputs.iter().enumerate() {
        let review = Review {
            request: &input.review,
            namespace_labels: input.namespace_labels.as_ref(),
        };
        for (constraint, template) in policies.matching(&review, Point::Webhook) {
            templates
                .entry(template.kind.clone())
                .or_insert_with(|| std::sync::Arc::clone(&template));
            let entry = by_template
                .entry(template.kind.clone())
                .or_insert_with(|| (template.package.clone(), Vec::new(), Vec::new()));
            entry.1.push((i, constraint.name.clone()));
            entry
                .2
                .push(json!({"review": input.review, "parameters": constraint.parameters}));
        }
    }
    let evaluations = by_template.values().map(|(_, k, _)| k.len()).sum();
    let scratch = tempfile::tempdir().context("a scratch directory for OPA's inputs")?;
    let mut opa_total = Duration::ZERO;
    let mut disagreements = Vec::new();
    let mut per_template = Vec::new();
    for (kind, (package, keys, cases)) in &by_template {
        let doc = template_docs
            .get(kind)
            .with_context(|| format!("no template document for {kind}"))?;
        let (rego, libs) = plinth_guard::gatekeeper::template::rego_sources(doc);
        let dir = scratch.path();
        std::fs::write(dir.join("template.rego"), rego)?;
        for (i, lib) in libs.iter().enumerate() {
            std::fs::write(dir.join(format!("lib_{i}.rego")), lib)?;
        }
        let data = json!({"inventory": {"cluster": {}, "namespace": {}}, "plinth_cases": cases});
        std::fs::write(dir.join("data.json"), data.to_string())?;
        let mut best = Duration::MAX;
        let mut answers = Vec::new();
        for _ in 0..3 {
            let (took, got) = opa_eval(opa, dir, libs.len(), package)?;
            best = best.min(took);
            answers = got;
        }
        opa_total += best;
        if let Some(template) = templates.get(kind) {
            let prepared: Vec<regorus::Value> = cases
                .iter()
                .map(|c| regorus::Value::from(c.clone()))
                .collect();
            let n = cases.len().max(1) as u32;
            per_template.push(TemplateTiming {
                kind: kind.clone(),
                evaluations: cases.len(),
                plinth_per_evaluation: plinth_template_time(
                    template,
                    &prepared,
                    Duration::from_millis(300),
                ),
                opa_per_evaluation: best / n,
            });
        }
        for (n, key) in keys.iter().enumerate() {
            let ours = plinth_answers.get(key).cloned().unwrap_or_default();
            let theirs = answers.get(n).cloned().unwrap_or_default();
            if ours != theirs {
                disagreements.push(format!(
                    "request {} constraint {}: plinth {ours:?}, opa {theirs:?}",
                    key.0, key.1
                ));
            }
        }
    }
    Ok(Comparison {
        requests: inputs.len(),
        evaluations,
        templates: by_template.len(),
        plinth_per_request,
        opa_per_request: opa_total / inputs.len().max(1) as u32,
        disagreements,
        per_template,
    })
}
