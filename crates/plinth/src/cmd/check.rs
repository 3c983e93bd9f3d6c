//! `plinth check`: the guard engine offline, for CI. Output as text, JSON, JUnit or
//! SARIF; exit 0 when every object would be admitted, 1 when some would be denied, 2
//! when the input or the policies are bad (with file:line).

use std::collections::BTreeMap;

use anyhow::{Context, anyhow};
use plinth_guard::check::{CheckOptions, ObjectResult, check};
use plinth_guard::gatekeeper::PolicySet;
use plinth_guard::library;
use serde_json::{Value, json};

use super::{Outcome, manifest_errors};
use crate::cli::{CheckArgs, CheckFormat};
use crate::output;

/// Runs `plinth check`.
pub fn run(args: &CheckArgs) -> anyhow::Result<Outcome> {
    let pss = args
        .pss
        .as_deref()
        .map(|s| {
            s.parse()
                .map_err(|e| anyhow!("--pss {s:?}: {e} (e.g. restricted, baseline:v1.30)"))
        })
        .transpose()?;
    let mut set: PolicySet = if args.builtin_constraints {
        library::defaults().context("loading plinth's shipped policies")?
    } else {
        library::policy_set(&[]).context("loading plinth's shipped templates")?
    };
    if !args.policies.is_empty() {
        let docs = plinth_core::manifest::read_paths(&args.policies)
            .map_err(|e| manifest_errors(vec![e]))?;
        library::add_documents(&mut set, &docs).map_err(manifest_errors)?;
    }
    let docs =
        plinth_core::manifest::read_paths(&args.paths).map_err(|e| manifest_errors(vec![e]))?;
    let results = check(
        &docs,
        &set,
        &CheckOptions {
            pss,
            ..CheckOptions::default()
        },
    );
    match args.output {
        CheckFormat::Text => text(&results),
        CheckFormat::Json => output::json(&json!({"results": results})),
        CheckFormat::Junit => output::line(junit(&results)),
        CheckFormat::Sarif => output::json(&sarif(&results)),
    }
    Ok(if results.iter().all(|r| r.allowed) {
        Outcome::Ok
    } else {
        Outcome::Findings
    })
}

fn text(results: &[ObjectResult]) {
    for r in results.iter().filter(|r| !r.violations.is_empty()) {
        let verdict = if r.allowed {
            "admitted with findings"
        } else {
            "denied"
        };
        output::line(format!("{}: {} {verdict}", r.location, r.object));
        for v in &r.violations {
            output::line(format!("  {} [{}] {}", v.action, v.policy, v.message));
        }
    }
    let denied = results.iter().filter(|r| !r.allowed).count();
    output::line(format!(
        "{} objects checked, {denied} denied",
        results.len()
    ));
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one test case per object, a failure per denied object. Written by hand:
/// the format is a dozen lines and no maintained crate writes just this.
fn junit(results: &[ObjectResult]) -> String {
    let failures = results.iter().filter(|r| !r.allowed).count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<testsuites name=\"plinth check\" tests=\"{}\" failures=\"{failures}\">\n  <testsuite name=\"admission\" tests=\"{}\" failures=\"{failures}\">\n",
        results.len(),
        results.len()
    ));
    for r in results {
        x.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\"",
            xml_escape(r.location.rsplit_once(':').map_or(&r.location, |(f, _)| f)),
            xml_escape(&r.object),
            xml_escape(&r.location)
        ));
        if r.allowed && r.violations.is_empty() {
            x.push_str("/>\n");
            continue;
        }
        x.push_str(">\n");
        let body: Vec<String> = r
            .violations
            .iter()
            .map(|v| format!("{} [{}] {}", v.action, v.policy, v.message))
            .collect();
        if r.allowed {
            x.push_str(&format!(
                "      <system-out>{}</system-out>\n",
                xml_escape(&body.join("\n"))
            ));
        } else {
            x.push_str(&format!(
                "      <failure message=\"{} denied\" type=\"admission\">{}</failure>\n",
                xml_escape(&r.object),
                xml_escape(&body.join("\n"))
            ));
        }
        x.push_str("    </testcase>\n");
    }
    x.push_str("  </testsuite>\n</testsuites>");
    x
}

/// SARIF 2.1.0: one rule per policy, one result per finding, located at the object.
fn sarif(results: &[ObjectResult]) -> Value {
    let mut rules: BTreeMap<&str, Value> = BTreeMap::new();
    let mut out = Vec::new();
    for r in results {
        let (file, line) = r
            .location
            .rsplit_once(':')
            .map_or((r.location.as_str(), 1), |(f, l)| {
                (f, l.parse::<u64>().unwrap_or(1))
            });
        for v in &r.violations {
            rules.entry(&v.policy).or_insert_with(|| {
                json!({"id": v.policy, "shortDescription": {"text": format!("admission policy {}", v.policy)}})
            });
            let level = match v.action.as_str() {
                "deny" => "error",
                "warn" => "warning",
                _ => "note",
            };
            out.push(json!({
                "ruleId": v.policy,
                "level": level,
                "message": {"text": format!("{}: {}", r.object, v.message)},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": file},
                    "region": {"startLine": line}}}],
            }));
        }
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "plinth", "informationUri": "https://github.com/plinth-dev/plinth",
                "version": env!("CARGO_PKG_VERSION"), "rules": rules.into_values().collect::<Vec<_>>()}},
            "results": out,
        }],
    })
}
