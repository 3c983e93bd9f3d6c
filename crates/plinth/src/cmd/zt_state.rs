//! The `zt` commands over enforced state (manifests or the live cluster): `drift`,
//! `posture` and `map`.

use anyhow::{Context, anyhow};
use kube::api::{Api, DynamicObject, ListParams};
use plinth_netpol::Index;
use plinth_netpol::intent::{drift as drift_mod, posture as posture_mod};
use serde_json::{Value, json};

use super::Outcome;
use crate::cli::{
    ClusterArgs, Format, MapFormat, ZtDriftArgs, ZtMapArgs, ZtPostureArgs, ZtStateArgs,
};
use crate::output;

/// The Istio and cert-manager objects posture reads.
#[derive(Default)]
pub(super) struct Mesh {
    pub(super) peer_authentications: Vec<Value>,
    pub(super) certificates: Vec<Value>,
}

fn is_peer_authentication(api_version: Option<&str>, kind: Option<&str>) -> bool {
    kind == Some("PeerAuthentication")
        && matches!(
            api_version,
            Some("security.istio.io/v1" | "security.istio.io/v1beta1")
        )
}

fn is_certificate(api_version: Option<&str>, kind: Option<&str>) -> bool {
    kind == Some("Certificate") && api_version == Some("cert-manager.io/v1")
}

/// The index (and, when asked, the mesh objects) of `--manifests` or `--cluster`.
/// The PeerAuthentications and Certificates of a live cluster (kinds it does not serve
/// count as none).
pub(super) async fn live_mesh(client: &kube::Client) -> anyhow::Result<Mesh> {
    let mut mesh = Mesh::default();
    let applier = plinth_kube::Applier::new(client.clone(), "plinth");
    for (api_version, kind, into) in [
        (
            "security.istio.io/v1",
            "PeerAuthentication",
            &mut mesh.peer_authentications,
        ),
        ("cert-manager.io/v1", "Certificate", &mut mesh.certificates),
    ] {
        let Some((resource, _)) = applier.resolve(api_version, kind).await else {
            tracing::warn!(%kind, %api_version, "not served by the cluster; counted as none");
            continue;
        };
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        let list = api
            .list(&ListParams::default())
            .await
            .with_context(|| format!("listing {kind} objects"))?;
        for o in list.items {
            let mut v = serde_json::to_value(&o)?;
            v["apiVersion"] = json!(api_version);
            v["kind"] = json!(kind);
            into.push(v);
        }
    }
    Ok(mesh)
}

async fn load(
    cluster: &ClusterArgs,
    state: &ZtStateArgs,
    with_mesh: bool,
) -> anyhow::Result<(Index, Mesh)> {
    let mode = super::zt::ip_block_mode(state.ip_block_mode);
    let mut mesh = Mesh::default();
    if state.cluster {
        let (client, _conn, _info) = plinth_kube::config::connect(&cluster.options()).await?;
        let index = plinth_zt::cluster::index(&client, mode).await?;
        if with_mesh {
            mesh = live_mesh(&client).await?;
        }
        Ok((index, mesh))
    } else {
        let docs =
            plinth_core::manifest::read_paths(&state.manifests).map_err(|e| anyhow!("{e}"))?;
        let index = plinth_netpol::manifests::index(&docs, mode).map_err(super::manifest_errors)?;
        for doc in &docs {
            if is_peer_authentication(doc.api_version(), doc.kind()) {
                mesh.peer_authentications.push(doc.value().clone());
            } else if is_certificate(doc.api_version(), doc.kind()) {
                mesh.certificates.push(doc.value().clone());
            }
        }
        Ok((index, mesh))
    }
}

/// `plinth zt drift`.
pub async fn drift(cluster: &ClusterArgs, args: &ZtDriftArgs) -> anyhow::Result<Outcome> {
    let model = super::zt_model::read_model(&args.model)?;
    let (index, _) = load(cluster, &args.state, false).await?;
    let report = drift_mod::drift(&model, &index);
    match args.output {
        Format::Json => output::json(&serde_json::to_value(&report)?),
        Format::Table => {
            output::line(format!(
                "model {}: {} pod pairs compared ({} between unmanaged pods not compared)",
                model.name, report.pod_pairs, report.unmanaged_pairs
            ));
            for (title, entries) in [
                (
                    "OVER-PERMISSIVE (allowed, not intended)",
                    &report.over_permissive,
                ),
                ("MISSING (intended, blocked)", &report.missing),
            ] {
                output::line(format!("{title}: {}", entries.len()));
                for e in entries {
                    output::line(format!(
                        "  {} -> {}: {} ({} pod pairs, e.g. {})",
                        e.from,
                        e.to,
                        e.ports,
                        e.pod_pairs,
                        e.examples.join("; ")
                    ));
                }
            }
            if !report.identities_without_pods.is_empty() {
                output::line(format!(
                    "identities without pods (not checked): {}",
                    report.identities_without_pods.join(", ")
                ));
            }
        }
    }
    Ok(if report.is_clean() {
        Outcome::Ok
    } else {
        Outcome::Findings
    })
}

/// `plinth zt posture`.
pub async fn posture(cluster: &ClusterArgs, args: &ZtPostureArgs) -> anyhow::Result<Outcome> {
    let model = args
        .model
        .as_deref()
        .map(super::zt_model::read_model)
        .transpose()?;
    let (index, mesh) = load(cluster, &args.state, true).await?;
    let p = posture_mod::posture(
        &index,
        model.as_ref(),
        &mesh.peer_authentications,
        &mesh.certificates,
        &args.istio_root_namespace,
    );
    match args.output {
        Format::Json => output::json(&serde_json::to_value(&p)?),
        Format::Table => {
            output::line(format!(
                "pods isolated for ingress   {}",
                p.ingress_isolated
            ));
            output::line(format!("pods isolated for egress    {}", p.egress_isolated));
            output::line(format!(
                "pods under STRICT mTLS      {}",
                p.strict_mtls_pods
            ));
            output::line(format!(
                "workloads under STRICT mTLS {}",
                p.strict_mtls_workloads
            ));
            if let Some(r) = p.identities_with_certificate {
                output::line(format!("identities with Certificate {r}"));
            }
            if let Some(r) = p.matrix_enforced {
                output::line(format!("matrix entries enforced     {r}"));
            }
            for (title, items) in [
                ("not isolated", &p.not_isolated),
                ("not STRICT", &p.not_strict),
                ("without Certificate", &p.identities_without_certificate),
                ("matrix not enforced", &p.matrix_not_enforced),
            ] {
                if !items.is_empty() {
                    output::line(format!("{title}:"));
                    for i in items {
                        output::line(format!("  {i}"));
                    }
                }
            }
        }
    }
    Ok(Outcome::Ok)
}

/// `plinth zt map`.
pub async fn map(cluster: &ClusterArgs, args: &ZtMapArgs) -> anyhow::Result<Outcome> {
    let (index, _) = load(cluster, &args.state, false).await?;
    let map = plinth_netpol::render::WorkloadMap::from_index(&index);
    match args.output {
        MapFormat::Table => output::line(plinth_netpol::render::table(&map).trim_end()),
        MapFormat::Json => output::json(&plinth_netpol::render::json(&map)),
        MapFormat::Dot => output::line(plinth_netpol::render::dot(&map).trim_end()),
        MapFormat::Svg => output::line(plinth_netpol::render::svg(&map)?.trim_end()),
    }
    Ok(Outcome::Ok)
}
