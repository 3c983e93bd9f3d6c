//! The model-side `zt` commands: `compile`, `crd` and `verify --model`.

use std::net::IpAddr;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use kube::CustomResourceExt;
use plinth_netpol::PortQuery;
use plinth_netpol::intent::decide::Party;
use plinth_netpol::intent::{Model, ZeroTrustModel, compile, load};
use serde_json::json;

use super::Outcome;
use crate::cli::{Format, ZtCompileArgs, ZtVerifyArgs};
use crate::output;

/// Reads the one model in `path`.
pub(crate) fn read_model(path: &Path) -> anyhow::Result<Model> {
    let docs = plinth_core::manifest::read_paths(&[path]).map_err(|e| anyhow!("{e}"))?;
    let mut models = load::models(&docs).map_err(super::manifest_errors)?;
    match models.len() {
        1 => Ok(models.remove(0)),
        0 => bail!(
            "{}: no {} ({}) document found",
            path.display(),
            load::KIND,
            load::API_VERSION
        ),
        n => bail!(
            "{}: {n} models found ({}); give one model per file",
            path.display(),
            models
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `plinth zt compile MODEL --out DIR`.
pub fn compile(args: &ZtCompileArgs) -> anyhow::Result<Outcome> {
    let model = read_model(&args.model)?;
    let compiled = compile::compile(&model);
    let files = compiled
        .files()
        .context("serializing the compiled objects")?;
    // Everything is computed before the first write; each file is written to a temporary
    // name and renamed, so a reader never sees half a file.
    for (name, text) in &files {
        let path = args.out.join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let tmp = path.with_extension("yaml.tmp");
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    }
    let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
    for o in &compiled.objects {
        *kinds.entry(o.kind()).or_default() += 1;
    }
    output::line(format!(
        "compiled model {:?}: {} identities, {} matrix entries → {} objects in {} files under {}",
        model.name,
        model.spec.identities.len(),
        model.spec.matrix.len(),
        compiled.objects.len(),
        files.len(),
        args.out.display()
    ));
    for (kind, n) in kinds {
        output::line(format!("  {n:>4} {kind}"));
    }
    Ok(Outcome::Ok)
}

/// `plinth zt crd`.
pub fn crd() -> anyhow::Result<Outcome> {
    let crd = ZeroTrustModel::crd();
    output::line(serde_saphyr::to_string(&crd)?.trim_end());
    Ok(Outcome::Ok)
}

fn party<'m>(model: &'m Model, flag: &str, value: &str) -> anyhow::Result<Party<'m>> {
    if let Ok(ip) = value.parse::<IpAddr>() {
        return Ok(Party::Address(ip));
    }
    model.identity(value).map(Party::Identity).ok_or_else(|| {
        anyhow!(
            "--{flag} {value:?} is no identity of model {:?} (identities: {}) and no IP address",
            model.name,
            model
                .spec
                .identities
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// `plinth zt verify --model MODEL`.
pub fn verify(args: &ZtVerifyArgs) -> anyhow::Result<Outcome> {
    let (query, protocol) = super::zt::port(&args.port)?;
    let PortQuery::Number(port) = query else {
        bail!(
            "--port {:?}: intent names ports by number; give the number",
            args.port
        );
    };
    let path = args
        .model
        .as_deref()
        .ok_or_else(|| anyhow!("--model is required here"))?;
    let model = read_model(path)?;
    let from = party(&model, "from", &args.from)?;
    let to = party(&model, "to", &args.to)?;
    let verdict = model.decide(from, to, port, protocol);
    match args.output {
        Format::Json => output::json(&json!({
            "allowed": verdict.allowed,
            "reasons": verdict.reasons(),
            "from": args.from,
            "to": args.to,
            "port": port,
            "protocol": protocol,
            "source": "model",
            "layers": verdict.layers,
        })),
        Format::Table => {
            output::line(format!(
                "{} → {} port {port}/{protocol} (intent of model {}): {}",
                args.from,
                args.to,
                model.name,
                if verdict.allowed { "ALLOWED" } else { "DENIED" }
            ));
            for l in &verdict.layers {
                let mark = match l.allowed {
                    Some(true) => "allows",
                    Some(false) => "DENIES",
                    None => "n/a",
                };
                for r in &l.reasons {
                    output::line(format!("  {:<6} {mark:<6} {r}", l.layer));
                }
            }
        }
    }
    Ok(if verdict.allowed {
        Outcome::Ok
    } else {
        Outcome::Findings
    })
}
