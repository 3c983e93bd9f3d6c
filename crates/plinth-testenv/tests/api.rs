//! The foundation against the real control plane: kube-rs round trips, RBAC really
//! enforced for minted users, server-side apply with strict validation, watch caches.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use plinth_kube::watch_cache::WatchCache;
use plinth_kube::{Applier, ApplyError, ApplyOptions};
use serde_json::json;

fn forbidden(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == 403)
}

#[tokio::test]
async fn namespace_round_trip_through_kube_rs() {
    let env = plinth_testenv::shared();
    let client = env.client().await.expect("client");
    let ns = env
        .namespace(&client, "roundtrip")
        .await
        .expect("namespace");
    let read = Api::<Namespace>::all(client.clone())
        .get(&ns)
        .await
        .expect("read back");
    assert_eq!(read.name_any(), ns);
    assert_eq!(
        read.labels()
            .get(plinth_testenv::shared::TEST_NAMESPACE_LABEL),
        Some(&"true".to_owned())
    );
    let info = client.apiserver_version().await.expect("version");
    assert_eq!(
        info.git_version,
        format!("v{}", plinth_testenv::Versions::pinned().kubernetes),
        "the server must report the pinned version, not v0.0.0-master"
    );
}

#[tokio::test]
async fn rbac_is_enforced_for_minted_users() {
    let env = plinth_testenv::shared();
    let admin = env.client().await.expect("admin client");
    let ns = env.namespace(&admin, "rbac").await.expect("namespace");
    Api::<Secret>::namespaced(admin.clone(), &ns)
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "s"}, "stringData": {"k": "v"}}))
                .expect("secret"),
        )
        .await
        .expect("admin creates a secret");

    let alice = env
        .user_client("alice", &["team-a", "auditors"])
        .await
        .expect("alice");
    let all: Api<Secret> = Api::all(alice.clone());
    let mine: Api<Secret> = Api::namespaced(alice.clone(), &ns);
    let err = all
        .list(&ListParams::default())
        .await
        .expect_err("cluster-wide list");
    assert!(forbidden(&err), "expected 403, got {err:?}");
    let err = mine
        .list(&ListParams::default())
        .await
        .expect_err("namespaced list");
    assert!(forbidden(&err), "expected 403, got {err:?}");

    // Grant through the user's *second* group, so both certificate groups are proven read.
    let applier = Applier::new(admin.clone(), "plinth-test");
    let opts = ApplyOptions::default();
    for object in [
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
               "metadata": {"name": "secret-reader", "namespace": ns},
               "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "auditors-read-secrets", "namespace": ns},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "secret-reader"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "auditors"}]}),
    ] {
        applier.apply(&object, &opts).await.expect("apply RBAC");
    }
    // The RBAC authorizer learns of new bindings through its informers: allow a moment.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let listed = loop {
        match mine.list(&ListParams::default()).await {
            Ok(list) => break list,
            Err(e) if forbidden(&e) && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("still not allowed after the RoleBinding: {e:?}"),
        }
    };
    assert_eq!(listed.items.len(), 1);
    let err = all
        .list(&ListParams::default())
        .await
        .expect_err("still not cluster-wide");
    assert!(forbidden(&err), "expected 403, got {err:?}");

    let bob = env.user_client("bob", &["team-b"]).await.expect("bob");
    let err = Api::<Secret>::namespaced(bob, &ns)
        .list(&ListParams::default())
        .await
        .expect_err("bob is not an auditor");
    assert!(forbidden(&err), "expected 403, got {err:?}");
}

#[tokio::test]
async fn server_side_apply_is_idempotent_and_strict() {
    let env = plinth_testenv::shared();
    let client = env.client().await.expect("client");
    let ns = env.namespace(&client, "ssa").await.expect("namespace");
    let applier = Applier::new(client.clone(), "plinth-test").with_default_namespace(&ns);
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
    let first = applier
        .apply(&cm, &ApplyOptions::default())
        .await
        .expect("apply");
    let second = applier
        .apply(&cm, &ApplyOptions::default())
        .await
        .expect("re-apply");
    assert_eq!(first.metadata.namespace.as_deref(), Some(ns.as_str()));
    assert_eq!(
        first.metadata.resource_version, second.metadata.resource_version,
        "an unchanged apply must not write"
    );

    let dry =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}, "data": {}});
    let opts = ApplyOptions {
        dry_run: true,
        ..ApplyOptions::default()
    };
    applier.apply(&dry, &opts).await.expect("dry run");
    let exists = Api::<ConfigMap>::namespaced(client.clone(), &ns)
        .get_opt("dry")
        .await
        .expect("get");
    assert!(exists.is_none(), "a dry run must not persist");

    let bad =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bad"}, "dta": {}});
    match applier.apply(&bad, &ApplyOptions::default()).await {
        Err(ApplyError::Rejected { message, code, .. }) => {
            // Upstream answers 500 ("field not declared in schema") for built-in kinds under
            // server-side apply; what matters is the rejection naming the field.
            assert!(code >= 400, "{message}");
            assert!(message.contains("dta"), "{message}");
        }
        other => panic!("expected a strict-validation rejection, got {other:?}"),
    }

    let unknown =
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}});
    let err = applier
        .apply(&unknown, &ApplyOptions::default())
        .await
        .expect_err("unknown kind");
    assert!(matches!(err, ApplyError::UnknownKind { .. }), "{err}");
    assert!(err.to_string().contains("Widget"), "{err}");
}

#[tokio::test]
async fn watch_cache_follows_the_cluster() {
    let env = plinth_testenv::shared();
    let client = env.client().await.expect("client");
    let ns = env.namespace(&client, "watch").await.expect("namespace");
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let cm = |name: &str| ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("k".to_owned(), "v".to_owned())])),
        ..Default::default()
    };
    api.create(&PostParams::default(), &cm("before"))
        .await
        .expect("create");
    let cache = WatchCache::start(api.clone(), watcher::Config::default());
    assert!(cache.ready(Duration::from_secs(20)).await, "initial list");
    let names = |cache: &WatchCache<ConfigMap>| {
        let mut v: Vec<String> = cache.snapshot().iter().map(|c| c.name_any()).collect();
        v.sort();
        v
    };
    assert!(names(&cache).contains(&"before".to_owned()));

    api.create(&PostParams::default(), &cm("after"))
        .await
        .expect("create");
    api.delete("before", &DeleteParams::default())
        .await
        .expect("delete");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let now = names(&cache);
        if now.contains(&"after".to_owned()) && !now.contains(&"before".to_owned()) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "watch did not deliver the changes: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
