//! `plinth fleet delete`: the Cluster, then what is left of its apply set.

use super::*;

/// Kinds an apply set of a cluster holds besides the Cluster API objects the Cluster owns;
/// deleted even when the set's record is gone.
pub(super) const LEFTOVER_KINDS: &[(&str, &str)] = &[
    ("v1", "ConfigMap"),
    ("v1", "ServiceAccount"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("apps/v1", "Deployment"),
    ("addons.cluster.x-k8s.io/v1beta2", "ClusterResourceSet"),
];

/// Runs `plinth fleet delete`.
pub async fn delete(cluster: &ClusterArgs, args: &FleetDeleteArgs) -> anyhow::Result<Outcome> {
    let (client, _conn, _info) = plinth_kube::config::connect(&cluster.options()).await?;
    let applier = Applier::new(client.clone(), FIELD_MANAGER);
    let resource = resolve(&applier, CLUSTER_GROUP, "Cluster").await?;
    let (ns, name) = (&args.namespace, &args.name);
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &resource);
    match api
        .get_opt(name)
        .await
        .with_context(|| format!("reading Cluster {ns}/{name}"))?
    {
        None => output::notice(format!("cluster {ns}/{name} does not exist")),
        Some(existing) => {
            let uid = existing.metadata.uid.clone().unwrap_or_default();
            match api.delete(name, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e).with_context(|| format!("deleting Cluster {ns}/{name}")),
            }
            output::notice(format!(
                "deleting cluster {ns}/{name}; waiting for Cluster API to remove what it owns (timeout {}s)",
                args.timeout
            ));
            let gone = wait::await_condition(api.clone(), name, wait::conditions::is_deleted(&uid));
            match tokio::time::timeout(Duration::from_secs(args.timeout), gone).await {
                Ok(result) => {
                    result.with_context(|| format!("watching Cluster {ns}/{name}"))?;
                    output::line(format!("deleted Cluster {ns}/{name}"));
                }
                Err(_) => {
                    let now = api.get_opt(name).await.ok().flatten();
                    let detail = now.map_or_else(
                        || "gone".to_owned(),
                        |o| {
                            let v = to_value(&o);
                            format!(
                                "phase {}, finalizers [{}]",
                                v["status"]["phase"].as_str().unwrap_or("-"),
                                o.metadata.finalizers.unwrap_or_default().join(", ")
                            )
                        },
                    );
                    output::notice(format!(
                        "timed out after {}s waiting for Cluster {ns}/{name} to be deleted: {detail}",
                        args.timeout
                    ));
                    return Ok(Outcome::Findings);
                }
            }
        }
    }
    let removed = delete_set(&client, &applier, ns, &set_name(name)).await?;
    for object in &removed {
        output::line(format!("deleted {object}"));
    }
    output::notice(format!(
        "cluster {ns}/{name}: {} leftover object(s) of set {} deleted",
        removed.len(),
        set_name(name)
    ));
    Ok(Outcome::Ok)
}

/// Deletes the objects labelled with `set` in `namespace` (and cluster-scoped ones), of
/// every kind the set has held; forgets the set when nothing of it is left elsewhere.
pub(super) async fn delete_set(
    client: &Client,
    applier: &Applier,
    namespace: &str,
    set: &str,
) -> anyhow::Result<Vec<String>> {
    let records: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(client.clone(), RECORD_NAMESPACE);
    let record = records
        .get_opt(&plinth_kube::applyset::record_name(set))
        .await
        .context("reading the apply set's record")?;
    let mut kinds: BTreeSet<(String, String)> = record
        .as_ref()
        .and_then(|c| c.data.as_ref())
        .and_then(|d| d.get("kinds"))
        .map(|k| {
            k.lines()
                .filter_map(|l| l.rsplit_once('/'))
                .map(|(av, k)| (av.to_owned(), k.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    kinds.extend(
        LEFTOVER_KINDS
            .iter()
            .map(|(av, k)| ((*av).to_owned(), (*k).to_owned())),
    );
    let selector = format!("{SET_LABEL}={set}");
    let mut removed = Vec::new();
    let mut elsewhere = 0usize;
    for (api_version, kind) in &kinds {
        let Some((resource, namespaced)) = applier.resolve(api_version, kind).await else {
            continue; // not served: nothing of that kind can exist
        };
        let list = Api::<DynamicObject>::all_with(client.clone(), &resource)
            .list_metadata(&ListParams::default().labels(&selector))
            .await
            .with_context(|| format!("listing {kind} of set {set}"))?;
        for o in list.items {
            let object_ns = o.metadata.namespace.clone();
            let name = o.metadata.name.clone().unwrap_or_default();
            let api: Api<DynamicObject> = match (&object_ns, namespaced) {
                (Some(n), true) if n == namespace => {
                    Api::namespaced_with(client.clone(), n, &resource)
                }
                (_, false) => Api::all_with(client.clone(), &resource),
                _ => {
                    elsewhere += 1;
                    continue;
                }
            };
            match api.delete(&name, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => continue,
                Err(e) => return Err(e).with_context(|| format!("deleting {kind} {name}")),
            }
            removed.push(match object_ns {
                Some(n) => format!("{kind} {n}/{name}"),
                None => format!("{kind} {name}"),
            });
        }
    }
    if elsewhere == 0 && record.is_some() {
        match records
            .delete(
                &plinth_kube::applyset::record_name(set),
                &DeleteParams::default(),
            )
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e).context("deleting the apply set's record"),
        }
    }
    Ok(removed)
}
