//! `plinth scheduler run`: the live scheduler until SIGTERM.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use plinth_sched::config::SchedulerConfig;
use plinth_scheduler::api::Limits;
use plinth_scheduler::leader::ElectionConfig;
use plinth_scheduler::server::Tls;
use plinth_scheduler::{Options, start};

use super::Outcome;
use crate::cli::{ClusterArgs, SchedulerCommand, SchedulerRunArgs};
use crate::output;

/// The namespace of the pod we run in, when in a cluster.
const POD_NAMESPACE_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

fn split_ref(s: &str, flag: &str) -> anyhow::Result<(String, String)> {
    match s.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() => {
            Ok((ns.to_owned(), name.to_owned()))
        }
        _ => bail!("{flag} {s:?} must be NAMESPACE/NAME"),
    }
}

/// Runs a `plinth scheduler` subcommand.
pub async fn run(cluster: &ClusterArgs, command: SchedulerCommand) -> anyhow::Result<Outcome> {
    let SchedulerCommand::Run(args) = command;
    run_scheduler(cluster, args).await
}

async fn run_scheduler(cluster: &ClusterArgs, args: SchedulerRunArgs) -> anyhow::Result<Outcome> {
    let profiles_configmap = args
        .profiles_configmap
        .as_deref()
        .map(|s| split_ref(s, "--profiles-configmap"))
        .transpose()?;
    let metrics_addr: Option<SocketAddr> = match args.metrics_addr.as_str() {
        "none" | "" => None,
        a => Some(
            a.parse()
                .with_context(|| format!("--metrics-addr {a:?} is not HOST:PORT"))?,
        ),
    };
    if args.leader_elect_renew_deadline >= args.leader_elect_lease_duration {
        bail!("--leader-elect-renew-deadline must be shorter than --leader-elect-lease-duration");
    }
    let identity = args.identity.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        format!("{}-{}", host.trim(), std::process::id())
    });
    let election = args.leader_elect.then(|| ElectionConfig {
        namespace: args
            .leader_elect_lease_namespace
            .clone()
            .unwrap_or_else(|| {
                std::fs::read_to_string(POD_NAMESPACE_FILE)
                    .map(|s| s.trim().to_owned())
                    .unwrap_or_else(|_| "kube-system".to_owned())
            }),
        name: args.leader_elect_lease_name.clone(),
        identity: identity.clone(),
        lease_duration: args.leader_elect_lease_duration,
        renew_deadline: args.leader_elect_renew_deadline,
        retry_period: args.leader_elect_retry_period,
    });
    let (client, conn, info) = plinth_kube::config::connect(&cluster.options()).await?;
    tracing::info!(server = %conn.server(), version = %info.git_version, scheduler = %args.scheduler_name, %identity, "starting");
    let options = Options {
        scheduler_name: args.scheduler_name.clone(),
        profiles_configmap,
        base_config: SchedulerConfig {
            scheduler_name: args.scheduler_name.clone(),
            ..SchedulerConfig::default()
        },
        limits: Limits {
            qps: args.kube_api_qps,
            burst: args.kube_api_burst,
        },
        metrics_addr,
        tls: Tls {
            cert_file: args.tls_cert_file.clone(),
            key_file: args.tls_private_key_file.clone(),
        },
        election,
        bind_parallelism: args.bind_parallelism,
        instance: identity,
    };
    let running = start(client, options).await?;
    if let Some(addr) = running.metrics_addr {
        output::notice(format!("serving metrics and health on https://{addr}"));
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    let stopper = running.stop_handle();
    let stop = move || stopper.stop();
    let joined = running.join();
    tokio::pin!(joined);
    let result = tokio::select! {
        r = &mut joined => r,
        _ = term.recv() => { stop(); tokio::time::timeout(Duration::from_secs(30), joined).await.unwrap_or(Ok(())) }
        _ = tokio::signal::ctrl_c() => { stop(); tokio::time::timeout(Duration::from_secs(30), joined).await.unwrap_or(Ok(())) }
    };
    result?;
    Ok(Outcome::Ok)
}
