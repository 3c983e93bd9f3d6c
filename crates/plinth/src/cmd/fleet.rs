//! `plinth fleet`: ManagedCluster specs through plinth-fleet. `render` prints every
//! Cluster API object (YAML documents or one JSON `List`); exit 2 with `file:line` on a
//! bad spec. `create`, `list` and `delete` drive the management cluster (see
//! [`super::fleet_live`]).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use plinth_core::manifest::Document;
use plinth_fleet::{ManagedCluster, RenderSettings};
use serde_json::{Value, json};

use super::fleet_live;
use super::{Outcome, manifest_errors};
use crate::cli::{ClusterArgs, FleetCommand, FleetRenderArgs, FleetRenderFormat};
use crate::output;

/// Runs `plinth fleet ...`.
pub async fn run(cluster: &ClusterArgs, command: FleetCommand) -> anyhow::Result<Outcome> {
    match command {
        FleetCommand::Render(args) => render(&args),
        FleetCommand::Create(args) => fleet_live::create(cluster, &args).await,
        FleetCommand::List(args) => fleet_live::list(cluster, &args).await,
        FleetCommand::Delete(args) => fleet_live::delete(cluster, &args).await,
        FleetCommand::Upgrade(args) => fleet_live::upgrade(cluster, &args).await,
        FleetCommand::Describe(args) => fleet_live::describe(cluster, &args).await,
    }
}

/// Reads `DIR/ADDON.yaml` for every workload add-on the clusters name; a missing file is
/// an error naming it (exit 2), so a named add-on is never silently left out.
pub(super) fn addon_manifests(
    dir: Option<&Path>,
    clusters: &[ManagedCluster],
) -> anyhow::Result<BTreeMap<String, Vec<Document>>> {
    let mut out = BTreeMap::new();
    let Some(dir) = dir else {
        return Ok(out);
    };
    let probe = RenderSettings::default();
    let mut missing = Vec::new();
    for c in clusters {
        for name in plinth_fleet::addons_without_manifests(c, &probe) {
            if out.contains_key(name) {
                continue;
            }
            let path = dir.join(format!("{name}.yaml"));
            if !path.is_file() {
                missing.push(path.display().to_string());
                continue;
            }
            let docs =
                plinth_core::manifest::read_file(&path).map_err(|e| manifest_errors(vec![e]))?;
            out.insert(name.to_owned(), docs);
        }
    }
    if !missing.is_empty() {
        missing.sort();
        missing.dedup();
        return Err(anyhow::anyhow!(
            "--addons-dir {}: no manifests for add-ons the spec names: {}; put each add-on's pinned release manifests there (e.g. `helm template` output) or remove it from spec.addons",
            dir.display(),
            missing.join(", ")
        ));
    }
    Ok(out)
}

/// Says on stderr which named add-ons render nothing because no manifests were given.
pub(super) fn warn_uninstalled_addons(clusters: &[ManagedCluster], settings: &RenderSettings) {
    for c in clusters {
        let names = plinth_fleet::addons_without_manifests(c, settings);
        if !names.is_empty() {
            output::notice(format!(
                "warning: cluster {}: add-ons {} are not installed: no manifests given (--addons-dir DIR with DIR/NAME.yaml)",
                c.metadata.name,
                names.join(", ")
            ));
        }
    }
}

fn render(args: &FleetRenderArgs) -> anyhow::Result<Outcome> {
    let docs =
        plinth_core::manifest::read_file(&args.spec).map_err(|e| manifest_errors(vec![e]))?;
    let clusters = plinth_fleet::clusters(&docs).map_err(manifest_errors)?;
    if clusters.is_empty() {
        anyhow::bail!("{}: no ManagedCluster found", args.spec.display());
    }
    let settings = RenderSettings {
        namespace: args.namespace.clone(),
        autoscaler_image: args.autoscaler_image.clone(),
        addon_manifests: addon_manifests(args.addons_dir.as_deref(), &clusters)?,
    };
    let mut objects: Vec<Value> = Vec::new();
    for c in &clusters {
        objects.extend(
            plinth_fleet::render(c, &settings)
                .with_context(|| format!("rendering cluster {:?}", c.metadata.name))?,
        );
    }
    warn_uninstalled_addons(&clusters, &settings);
    match args.output {
        FleetRenderFormat::Json => {
            output::json(&json!({"apiVersion": "v1", "kind": "List", "items": objects}));
        }
        FleetRenderFormat::Yaml => {
            let docs = objects
                .iter()
                .map(serde_saphyr::to_string)
                .collect::<Result<Vec<_>, _>>()?;
            output::line(
                docs.iter()
                    .map(|d| d.trim_end())
                    .collect::<Vec<_>>()
                    .join("\n---\n"),
            );
        }
    }
    Ok(Outcome::Ok)
}
