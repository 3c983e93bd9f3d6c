//! `plinth zt ...`: `verify` decides one connection from intent (a model), from manifests
//! or from the live cluster (exact NetworkPolicy semantics; exit 0 allowed, 1 denied, 2
//! bad input); `compile` turns a model into enforcement objects; `crd` prints the model's
//! CustomResourceDefinition.

use std::net::IpAddr;

use anyhow::{Context, anyhow};
use plinth_netpol::{Endpoint, Index, IpBlockMode, PortQuery, Protocol};
use serde_json::json;

use super::Outcome;
use crate::cli::{ClusterArgs, Format, IpBlockModeArg, ZtCommand, ZtVerifyArgs};
use crate::output;

/// Runs `plinth zt ...`.
pub async fn run(cluster: &ClusterArgs, command: ZtCommand) -> anyhow::Result<Outcome> {
    match command {
        ZtCommand::Verify(args) if args.model.is_some() => super::zt_model::verify(&args),
        ZtCommand::Verify(args) => verify(cluster, &args).await,
        ZtCommand::Compile(args) => super::zt_model::compile(&args),
        ZtCommand::Crd => super::zt_model::crd(),
        ZtCommand::Controller(args) => controller(cluster, &args).await,
        ZtCommand::Map(args) => super::zt_state::map(cluster, &args).await,
        ZtCommand::Drift(args) => super::zt_state::drift(cluster, &args).await,
        ZtCommand::Posture(args) => super::zt_state::posture(cluster, &args).await,
    }
}

fn endpoint(index: &Index, flag: &str, value: &str) -> anyhow::Result<Endpoint> {
    if let Ok(ip) = value.parse::<IpAddr>() {
        // A pod's IP is that pod: its own policies apply to it.
        return Ok(index.endpoint_for_ip(ip));
    }
    if !value.contains('/') {
        return Err(anyhow!(
            "--{flag} {value:?} is neither NAMESPACE/POD nor an IP address"
        ));
    }
    let pod = index.pod(value).with_context(|| format!("--{flag}"))?;
    Ok(Endpoint::Pod(pod))
}

pub(crate) fn port(value: &str) -> anyhow::Result<(PortQuery, Protocol)> {
    let (port, protocol) = match value.split_once('/') {
        Some((p, proto)) => (
            p,
            proto.to_ascii_uppercase().parse().map_err(|_| {
                anyhow!("--port {value:?}: protocol {proto:?} is not one of TCP, UDP, SCTP")
            })?,
        ),
        None => (value, Protocol::Tcp),
    };
    let query = match port.parse::<u16>() {
        Ok(0) => return Err(anyhow!("--port {value:?}: port 0 is not a port")),
        Ok(n) => PortQuery::Number(n),
        Err(_) if plinth_netpol::policy::valid_port_name(port) => PortQuery::Name(port.to_owned()),
        Err(_) => {
            return Err(anyhow!(
                "--port {value:?} is not a port number (1-65535) or a container port name"
            ));
        }
    };
    Ok((query, protocol))
}

async fn controller(
    cluster: &ClusterArgs,
    args: &crate::cli::ZtControllerArgs,
) -> anyhow::Result<Outcome> {
    let (client, conn, info) = plinth_kube::config::connect(&cluster.options()).await?;
    tracing::info!(server = %conn.server(), version = %info.git_version, "starting the zero-trust controller");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        tracing::info!("shutting down");
    };
    let options = plinth_zt::controller::Options {
        resync: std::time::Duration::from_secs(args.resync_seconds.max(1)),
    };
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = std::sync::Arc::new(plinth_zt::metrics::Metrics::new(&mut registry));
    // The same HTTPS metrics and health server as the scheduler's.
    let server = match args.metrics_addr.as_str() {
        "none" | "" => None,
        a => {
            let addr: std::net::SocketAddr = a
                .parse()
                .with_context(|| format!("--metrics-addr {a:?} is not HOST:PORT"))?;
            let health = std::sync::Arc::new(plinth_scheduler::server::Health::default());
            health
                .ready
                .store(true, std::sync::atomic::Ordering::Relaxed);
            let tls = plinth_scheduler::server::Tls {
                cert_file: args.tls_cert_file.clone(),
                key_file: args.tls_private_key_file.clone(),
            };
            let server =
                plinth_scheduler::server::start(addr, &tls, std::sync::Arc::new(registry), health)
                    .await?;
            output::notice(format!(
                "serving metrics and health on https://{}",
                server.addr
            ));
            Some(server)
        }
    };
    let result = plinth_zt::controller::run(client, options, metrics, shutdown).await;
    if let Some(server) = server {
        server.shutdown();
    }
    result?;
    Ok(Outcome::Ok)
}

/// The parsed `--ip-block-mode`.
pub(crate) fn ip_block_mode(arg: IpBlockModeArg) -> IpBlockMode {
    match arg {
        IpBlockModeArg::PodIps => IpBlockMode::PodIps,
        IpBlockModeArg::ExternalOnly => IpBlockMode::ExternalOnly,
    }
}

/// The index of `--manifests` or `--cluster`.
pub(crate) async fn load_index(
    cluster: &ClusterArgs,
    manifests: &[std::path::PathBuf],
    live: bool,
    mode: IpBlockMode,
) -> anyhow::Result<Index> {
    if live {
        let (client, _conn, _info) = plinth_kube::config::connect(&cluster.options()).await?;
        Ok(plinth_zt::cluster::index(&client, mode).await?)
    } else {
        let docs = plinth_core::manifest::read_paths(manifests).map_err(|e| anyhow!("{e}"))?;
        plinth_netpol::manifests::index(&docs, mode).map_err(super::manifest_errors)
    }
}

async fn verify(cluster: &ClusterArgs, args: &ZtVerifyArgs) -> anyhow::Result<Outcome> {
    let (query, protocol) = port(&args.port)?;
    let mode = ip_block_mode(args.ip_block_mode);
    let index = load_index(cluster, &args.manifests, args.cluster, mode).await?;
    let from = endpoint(&index, "from", &args.from)?;
    let to = endpoint(&index, "to", &args.to)?;
    let verdict = index.verify(from, to, &query, protocol)?;
    let reasons = verdict.reasons();
    match args.output {
        Format::Json => output::json(&json!({
            "allowed": verdict.allowed,
            "reasons": reasons,
            "from": args.from,
            "to": args.to,
            "port": verdict.port,
            "protocol": verdict.protocol,
            "egress": verdict.egress,
            "ingress": verdict.ingress,
            "ipBlockMode": verdict.ip_block_mode,
        })),
        Format::Table => {
            output::line(format!(
                "{} → {} port {}/{}: {}",
                args.from,
                args.to,
                verdict.port,
                verdict.protocol,
                if verdict.allowed { "ALLOWED" } else { "DENIED" }
            ));
            for r in reasons {
                output::line(format!("  {r}"));
            }
        }
    }
    Ok(if verdict.allowed {
        Outcome::Ok
    } else {
        Outcome::Findings
    })
}
