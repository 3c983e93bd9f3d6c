//! `plinth fleet`: ManagedCluster specs through plinth-fleet. `render` prints every
//! Cluster API object (YAML documents or one JSON `List`); exit 2 with `file:line` on a
//! bad spec. `create`, `list` and `delete` drive the management cluster (see
//! [`super::fleet_live`]).

use anyhow::Context;
use plinth_fleet::RenderSettings;
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
    };
    let mut objects: Vec<Value> = Vec::new();
    for c in &clusters {
        objects.extend(
            plinth_fleet::render(c, &settings)
                .with_context(|| format!("rendering cluster {:?}", c.metadata.name))?,
        );
    }
    // Say on stderr which add-ons are not deliverable yet (their ConfigMaps carry only a
    // namespace until the upstream manifests are bundled), so nobody mistakes them for
    // installed add-ons.
    let incomplete: Vec<&str> = objects
        .iter()
        .filter(|o| o["metadata"]["annotations"]["plinth.io/addon-manifests"].is_string())
        .filter_map(|o| o["metadata"]["labels"]["plinth.io/addon"].as_str())
        .collect();
    if !incomplete.is_empty() {
        output::notice(format!(
            "warning: add-on manifests are not bundled yet for {}; their ClusterResourceSet ConfigMaps create only the namespace",
            incomplete.join(", ")
        ));
    }
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
