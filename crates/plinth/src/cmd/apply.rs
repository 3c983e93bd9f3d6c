//! `plinth apply PATH...`: a directory of manifests applied as one labelled set (see
//! `plinth_kube::applyset`), with a summary.

use anyhow::anyhow;
use plinth_kube::applyset::{self, Change, Outcome, SetOptions};
use serde_json::json;

use super::Outcome as Exit;
use crate::cli::{ApplyArgs, ClusterArgs, DryRun, Format};
use crate::output;

fn set_name(args: &ApplyArgs) -> anyhow::Result<String> {
    if let Some(name) = &args.set {
        return Ok(name.clone());
    }
    let first = args
        .paths
        .first()
        .ok_or_else(|| anyhow!("give at least one path"))?;
    let canonical = std::fs::canonicalize(first).unwrap_or_else(|_| first.clone());
    let stem = canonical
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("plinth");
    Ok(stem.to_owned())
}

/// Runs `plinth apply`.
pub async fn run(cluster: &ClusterArgs, args: &ApplyArgs) -> anyhow::Result<Exit> {
    let docs = plinth_core::manifest::read_paths(&args.paths).map_err(|e| anyhow!("{e}"))?;
    let name = set_name(args)?;
    if args.dry_run == DryRun::Client {
        let mut ids: Vec<String> = docs
            .iter()
            .filter(|d| d.kind() != Some("Kustomization"))
            .map(|d| format!("{} ({})", d.object_ref(), d.location()))
            .collect();
        ids.sort();
        match args.output {
            Format::Json => output::json(&json!({"set": name, "dryRun": "client", "objects": ids})),
            Format::Table => {
                output::line(format!(
                    "set {name}: {} objects (client dry run, nothing sent)",
                    ids.len()
                ));
                for id in ids {
                    output::line(format!("  {id}"));
                }
            }
        }
        return Ok(Exit::Ok);
    }
    let (client, _conn, _info) = plinth_kube::config::connect(&cluster.options()).await?;
    let opts = SetOptions {
        name: name.clone(),
        field_manager: args.field_manager.clone(),
        dry_run: args.dry_run == DryRun::Server,
        prune: args.prune,
        record_namespace: "kube-system".to_owned(),
    };
    let outcomes = applyset::apply_set(&client, &docs, &opts).await?;
    report(&name, args, &outcomes);
    Ok(Exit::Ok)
}

fn report(name: &str, args: &ApplyArgs, outcomes: &[Outcome]) {
    let count = |c: Change| outcomes.iter().filter(|o| o.change == c).count();
    let (created, changed, unchanged, pruned) = (
        count(Change::Created),
        count(Change::Changed),
        count(Change::Unchanged),
        count(Change::Pruned),
    );
    let dry = args.dry_run == DryRun::Server;
    match args.output {
        Format::Json => output::json(&json!({
            "set": name,
            "dryRun": if dry { "server" } else { "none" },
            "created": created, "changed": changed, "unchanged": unchanged, "pruned": pruned,
            "objects": outcomes,
        })),
        Format::Table => {
            for o in outcomes {
                let verb = match o.change {
                    Change::Created => "created",
                    Change::Changed => "changed",
                    Change::Unchanged => "unchanged",
                    Change::Pruned => "pruned",
                };
                output::line(format!("{verb:<9} {}", o.object));
            }
            output::line(format!(
                "set {name}{}: {created} created, {changed} changed, {unchanged} unchanged, {pruned} pruned",
                if dry {
                    " (server dry run, nothing persisted)"
                } else {
                    ""
                }
            ));
        }
    }
}
