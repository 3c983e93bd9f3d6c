//! `plinth guard serve` (the admission webhook) and `plinth guard audit`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use comfy_table::Table;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use plinth_admission::Guard;
use plinth_admission::audit::{self, AuditOptions};
use plinth_admission::cluster::ClusterSource;
use plinth_admission::server::{self, ServeOptions, Shared};
use plinth_admission::source::{self, ClusterOptions};
use plinth_admission::tls::CertFiles;
use plinth_guard::pss;
use serde_json::json;

use super::Outcome;
use crate::cli::{ClusterArgs, Format, GuardAuditArgs, GuardCommand, GuardServeArgs, PssArgs};
use crate::output;

/// Runs a `plinth guard` subcommand.
pub async fn run(cluster: &ClusterArgs, command: GuardCommand) -> anyhow::Result<Outcome> {
    match command {
        GuardCommand::Serve(args) => serve(cluster, args).await,
        GuardCommand::Audit(args) => audit(cluster, args).await,
    }
}

fn level(flag: &str, value: &str) -> anyhow::Result<pss::LevelVersion> {
    value
        .parse()
        .map_err(|e| anyhow!("{flag} {value:?}: {e} (e.g. restricted, baseline:v1.30)"))
}

/// The Pod Security configuration from flags.
pub fn pss_config(args: &PssArgs) -> anyhow::Result<pss::Config> {
    Ok(pss::Config {
        defaults: pss::Policy {
            enforce: level("--pss-enforce", &args.pss_enforce)?,
            audit: level("--pss-audit", &args.pss_audit)?,
            warn: level("--pss-warn", &args.pss_warn)?,
        },
        exemptions: pss::Exemptions {
            usernames: args.exempt_users.iter().cloned().collect(),
            namespaces: args.exempt_namespaces.iter().cloned().collect(),
            runtime_classes: args.exempt_runtime_classes.iter().cloned().collect(),
        },
    })
}

async fn wait_for_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

async fn serve(cluster: &ClusterArgs, args: GuardServeArgs) -> anyhow::Result<Outcome> {
    let addr: SocketAddr = args
        .addr
        .parse()
        .with_context(|| format!("--addr {:?} is not HOST:PORT", args.addr))?;
    let pss = pss_config(&args.pss)?;
    let builtin = !args.policies.no_builtin_templates;
    let from_files = !args.policies.policies.is_empty();
    let initial = if from_files {
        source::load_files(&args.policies.policies, builtin)?
    } else {
        Default::default()
    };
    let (client, conn, info) = plinth_kube::config::connect(&cluster.options()).await?;
    tracing::info!(server = %conn.server(), version = %info.git_version, "starting the admission webhook");
    let namespaces = plinth_kube::watch_cache::WatchCache::start(
        Api::<Namespace>::all(client.clone()),
        kube::runtime::watcher::Config::default(),
    );
    if !namespaces.ready(Duration::from_secs(30)).await {
        return Err(anyhow!(
            "could not list namespaces within 30s (RBAC: the webhook needs list/watch on namespaces)"
        ));
    }
    let shared = Shared::new(
        Guard {
            pss: pss.clone(),
            policies: Arc::new(initial),
        },
        ClusterSource::Live {
            client: client.clone(),
            namespaces: namespaces.store().clone(),
        },
    );
    let watcher = if from_files {
        shared.set_ready();
        source::watch_files(
            args.policies.policies.clone(),
            builtin,
            pss,
            Arc::clone(&shared),
            Duration::from_secs(2),
        )
    } else {
        let manage_crds = match args.manage_constraint_crds.as_str() {
            "always" => Some(true),
            "never" => Some(false),
            _ => None,
        };
        let pod_name = std::env::var("POD_NAME").unwrap_or_else(|_| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
            format!("{}-{}", host.trim(), std::process::id())
        });
        source::watch_cluster(
            client.clone(),
            ClusterOptions {
                manage_crds,
                pod_name,
                builtin,
            },
            pss,
            Arc::clone(&shared),
        )
    };
    let mut options = ServeOptions::new(
        addr,
        CertFiles {
            cert: args.tls_cert_file.clone(),
            key: args.tls_private_key_file.clone(),
        },
    );
    options.max_body_bytes = args.max_request_bytes;
    let running = server::start(&options, Arc::clone(&shared)).await?;
    output::notice(format!(
        "admission webhook on https://{}/validate (metrics: /metrics, health: /healthz)",
        running.addr
    ));
    wait_for_signal().await?;
    running.shutdown();
    watcher.abort();
    drop(namespaces);
    Ok(Outcome::Ok)
}

async fn audit(cluster: &ClusterArgs, args: GuardAuditArgs) -> anyhow::Result<Outcome> {
    let pss = pss_config(&args.pss)?;
    let builtin = !args.policies.no_builtin_templates;
    let (client, _conn, _info) = plinth_kube::config::connect(&cluster.options()).await?;
    let options = AuditOptions {
        chunk_size: args.chunk_size,
    };
    loop {
        let policies = if args.policies.policies.is_empty() {
            let (set, problems) = source::load_cluster_once(&client, builtin)
                .await
                .context("reading ConstraintTemplates and constraints")?;
            for p in problems {
                output::notice(format!("skipped: {p}"));
            }
            set
        } else {
            source::load_files(&args.policies.policies, builtin)?
        };
        let guard = Guard {
            pss: pss.clone(),
            policies: Arc::new(policies),
        };
        let report = audit::run_once(&client, &guard, &options).await?;
        let written = if args.no_reports {
            0
        } else {
            audit::publish(&client, &report).await?
        };
        print(&report, written, args.output);
        let Some(every) = args.interval else {
            let failing = report.findings.iter().any(|f| f.result == "fail");
            return Ok(if failing {
                Outcome::Findings
            } else {
                Outcome::Ok
            });
        };
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            r = wait_for_signal() => { r?; return Ok(Outcome::Ok); }
        }
    }
}

fn print(report: &audit::AuditReport, written: usize, format: Format) {
    match format {
        Format::Json => output::json(&json!({
            "objects": report.objects,
            "listRequests": report.list_requests,
            "reportsWritten": written,
            "findings": report.findings,
        })),
        Format::Table => {
            let mut table = Table::new();
            table.load_preset(comfy_table::presets::NOTHING);
            table.set_header([
                "NAMESPACE",
                "OBJECT",
                "POLICY",
                "RESULT",
                "ACTION",
                "MESSAGE",
            ]);
            for f in &report.findings {
                table.add_row([
                    &f.namespace,
                    &f.object,
                    &f.policy,
                    &f.result,
                    &f.action,
                    &f.message,
                ]);
            }
            if !report.findings.is_empty() {
                output::line(table.to_string());
            }
            output::line(format!(
                "{} objects audited in {} list requests, {} findings, {written} reports written",
                report.objects,
                report.list_requests,
                report.findings.len()
            ));
        }
    }
}
