//! `plinth explain pod NS/NAME`.

use anyhow::bail;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use plinth_sched::config::SchedulerConfig;

use super::Outcome;
use crate::cli::{ClusterArgs, ExplainCommand, Format};
use crate::output;

/// Runs a `plinth explain` subcommand.
pub async fn run(cluster: &ClusterArgs, command: ExplainCommand) -> anyhow::Result<Outcome> {
    let ExplainCommand::Pod {
        pod,
        profiles_configmap,
        output: format,
    } = command;
    let Some((ns, name)) = pod
        .split_once('/')
        .filter(|(n, p)| !n.is_empty() && !p.is_empty())
    else {
        bail!("pod {pod:?} must be NAMESPACE/NAME");
    };
    let Some((cm_ns, cm_name)) = profiles_configmap.split_once('/') else {
        bail!("--profiles-configmap {profiles_configmap:?} must be NAMESPACE/NAME");
    };
    let (client, _, _) = plinth_kube::config::connect(&cluster.options()).await?;
    let config = match Api::<ConfigMap>::namespaced(client.clone(), cm_ns)
        .get_opt(cm_name)
        .await?
    {
        Some(cm) => plinth_scheduler::profiles::parse(&cm, &SchedulerConfig::default())
            .map_err(|e| anyhow::anyhow!("configmap {profiles_configmap}: {e}"))?,
        None => SchedulerConfig::default(),
    };
    let explanation = plinth_scheduler::explain::explain(&client, ns, name, config).await?;
    match format {
        Format::Json => output::json(&serde_json::to_value(&explanation)?),
        Format::Table => super::simulate::print_explanation(&explanation),
    }
    Ok(Outcome::Ok)
}
