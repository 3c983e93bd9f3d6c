//! `restrictedVolumes` (restricted, v1.0; replaces `hostPathVolumes`): volumes must use
//! one of the core non-persistent types or a PersistentVolumeClaim.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{PodSpec, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{Check, VersionedCheck, Violation, join_quote, pluralize};
use crate::pss::level::Level;

pub(super) const CHECK: Check = Check {
    id: "restrictedVolumes",
    level: Level::Restricted,
    versions: &[VersionedCheck {
        min_minor: 0,
        run: v1_0,
        overrides: &[super::host_path_volumes::ID],
    }],
};

/// A volume with any of the allowed sources passes, whatever else it sets.
fn allowed(v: &Volume) -> bool {
    v.config_map.is_some()
        || v.csi.is_some()
        || v.downward_api.is_some()
        || v.empty_dir.is_some()
        || v.ephemeral.is_some()
        || v.image.is_some()
        || v.persistent_volume_claim.is_some()
        || v.projected.is_some()
        || v.secret.is_some()
}

/// The first restricted source the volume sets, in upstream's order, or `unknown`.
fn restricted_type(v: &Volume) -> &'static str {
    let sources = [
        (v.host_path.is_some(), "hostPath"),
        (v.gce_persistent_disk.is_some(), "gcePersistentDisk"),
        (v.aws_elastic_block_store.is_some(), "awsElasticBlockStore"),
        (v.git_repo.is_some(), "gitRepo"),
        (v.nfs.is_some(), "nfs"),
        (v.iscsi.is_some(), "iscsi"),
        (v.glusterfs.is_some(), "glusterfs"),
        (v.rbd.is_some(), "rbd"),
        (v.flex_volume.is_some(), "flexVolume"),
        (v.cinder.is_some(), "cinder"),
        (v.cephfs.is_some(), "cephfs"),
        (v.flocker.is_some(), "flocker"),
        (v.fc.is_some(), "fc"),
        (v.azure_file.is_some(), "azureFile"),
        (v.vsphere_volume.is_some(), "vsphereVolume"),
        (v.quobyte.is_some(), "quobyte"),
        (v.azure_disk.is_some(), "azureDisk"),
        (v.photon_persistent_disk.is_some(), "photonPersistentDisk"),
        (v.portworx_volume.is_some(), "portworxVolume"),
        (v.scale_io.is_some(), "scaleIO"),
        (v.storageos.is_some(), "storageos"),
    ];
    sources
        .iter()
        .find(|(set, _)| *set)
        .map_or("unknown", |(_, name)| name)
}

fn v1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let mut bad_volumes = Vec::new();
    let mut types: BTreeSet<&str> = BTreeSet::new();
    for v in spec.volumes.iter().flatten() {
        if !allowed(v) {
            bad_volumes.push(v.name.as_str());
            types.insert(restricted_type(v));
        }
    }
    if bad_volumes.is_empty() {
        return None;
    }
    Violation::new(
        "restricted volume types",
        format!(
            "{} {} {} {} {}",
            pluralize("volume", "volumes", bad_volumes.len()),
            join_quote(bad_volumes.iter().copied()),
            pluralize("uses", "use", bad_volumes.len()),
            pluralize(
                "restricted volume type",
                "restricted volume types",
                types.len()
            ),
            join_quote(types)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pss::checks::testing::outcome;
    use serde_json::json;

    #[test]
    fn messages() {
        let pod = json!({"spec": {"containers": [], "volumes": [
            {"name": "v1", "configMap": {"name": "x"}, "hostPath": {"path": "/"}},
            {"name": "v2"},
            {"name": "v3", "nfs": {"server": "s", "path": "/"}},
        ]}});
        assert_eq!(
            outcome(v1_0, pod).as_deref(),
            Some(
                r#"restricted volume types (volumes "v2", "v3" use restricted volume types "nfs", "unknown")"#
            )
        );
        let pod = json!({"spec": {"containers": [], "volumes": [
            {"name": "a", "hostPath": {"path": "/"}, "nfs": {"server": "s", "path": "/"}},
            {"name": "b", "hostPath": {"path": "/b"}},
        ]}});
        assert_eq!(
            outcome(v1_0, pod).as_deref(),
            Some(
                r#"restricted volume types (volumes "a", "b" use restricted volume type "hostPath")"#
            )
        );
        let pod = json!({"spec": {"containers": [], "volumes": [
            {"name": "p", "photonPersistentDisk": {"pdID": "x"}},
        ]}});
        assert_eq!(
            outcome(v1_0, pod).as_deref(),
            Some(
                r#"restricted volume types (volume "p" uses restricted volume type "photonPersistentDisk")"#
            )
        );
        let ok = json!({"spec": {"containers": [], "volumes": [
            {"name": "a", "csi": {"driver": "d"}}, {"name": "b", "ephemeral": {}},
            {"name": "c", "image": {"reference": "r"}}, {"name": "d", "persistentVolumeClaim": {"claimName": "c"}},
            {"name": "e", "projected": {}}, {"name": "f", "secret": {}}, {"name": "g", "downwardAPI": {}},
            {"name": "h", "emptyDir": {}},
        ]}});
        assert_eq!(outcome(v1_0, ok), None);
    }
}
