//! Upstream CustomResourceDefinitions, taken from their pinned Go modules.
//!
//! [`gomod::module_dir`](crate::gomod::module_dir) finds the module in Go's module cache
//! (downloading it first if needed); the CRD files under the listed directories are copied into plinth's
//! cache (`crds/NAME-vVERSION/`) and installed with server-side apply. No CRD file is ever
//! committed to plinth's repository.
//!
//! Only plain CRD YAML is installed: a file with a line that starts with a Go template
//! action (`{{- if ... }}`, `{{ include ... }}`, as in Helm chart templates) is refused
//! with [`Error::CrdFetch`], so a source directory that upstream turns into templates
//! fails loudly instead of installing something half-rendered.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::Client;
use serde_json::Value;

use crate::error::{Error, io_err};
use crate::versions::Versions;

/// Where a set of CRDs comes from.
#[derive(Debug, Clone, Copy)]
pub struct CrdSource {
    /// Short name, used in the cache path.
    pub name: &'static str,
    /// The Go module.
    pub module: &'static str,
    /// Directories inside the module holding CRD YAML.
    pub dirs: &'static [&'static str],
    /// Only these file names (all `.yaml` files when empty).
    pub files: &'static [&'static str],
    version: fn(&Versions) -> String,
}

/// Cluster API core, kubeadm control plane and kubeadm bootstrap.
pub const CLUSTER_API: CrdSource = CrdSource {
    name: "cluster-api",
    module: "sigs.k8s.io/cluster-api",
    dirs: &[
        "core/config/crd/bases",
        "controlplane/kubeadm/config/crd/bases",
        "bootstrap/kubeadm/config/crd/bases",
    ],
    files: &[],
    version: |v| v.cluster_api.clone(),
};

/// Cluster API's AWS provider.
pub const CLUSTER_API_PROVIDER_AWS: CrdSource = CrdSource {
    name: "cluster-api-provider-aws",
    module: "sigs.k8s.io/cluster-api-provider-aws/v2",
    dirs: &["config/crd/bases"],
    files: &[],
    version: |v| v.cluster_api_provider_aws.clone(),
};

/// Gatekeeper's ConstraintTemplate CRD (`templates.gatekeeper.sh`), for plinth's
/// Gatekeeper-compatible admission when Gatekeeper itself is not installed.
pub const GATEKEEPER_TEMPLATES: CrdSource = CrdSource {
    name: "gatekeeper-templates",
    module: "github.com/open-policy-agent/gatekeeper/v3",
    dirs: &["config/crd/bases"],
    files: &["constrainttemplate-customresourcedefinition.yaml"],
    version: |v| v.gatekeeper.clone(),
};

/// The Policy Report CRDs (`wgpolicyk8s.io/v1alpha2`), as Kyverno ships them.
pub const POLICY_REPORTS: CrdSource = CrdSource {
    name: "policy-reports",
    module: "github.com/kyverno/kyverno",
    dirs: &["config/crds/policyreport"],
    files: &[
        "wgpolicyk8s.io_clusterpolicyreports.yaml",
        "wgpolicyk8s.io_policyreports.yaml",
    ],
    version: |v| v.kyverno.clone(),
};

/// Istio's CRDs (`networking`, `security`, `telemetry` and `extensions.istio.io`), from
/// the one generated file `istio.io/api` ships.
pub const ISTIO: CrdSource = CrdSource {
    name: "istio",
    module: "istio.io/api",
    dirs: &["kubernetes"],
    files: &["customresourcedefinitions.gen.yaml"],
    version: |v| v.istio.clone(),
};

/// cert-manager's CRDs (`cert-manager.io` and `acme.cert-manager.io`).
///
/// Taken from `deploy/crds`, the plain controller-gen output; the chart's
/// `templates/crd-*.yaml` are Helm templates built from the same files (the header adds
/// only `helm.sh/resource-policy` and labels; the `spec` is copied unchanged).
pub const CERT_MANAGER: CrdSource = CrdSource {
    name: "cert-manager",
    module: "github.com/cert-manager/cert-manager",
    dirs: &["deploy/crds"],
    files: &[],
    version: |v| v.cert_manager.clone(),
};

/// The Prometheus Operator's CRDs (`monitoring.coreos.com`: Prometheus, PrometheusAgent,
/// Alertmanager, AlertmanagerConfig, PrometheusRule, ServiceMonitor, PodMonitor, Probe,
/// ScrapeConfig, ThanosRuler).
///
/// Taken from `example/prometheus-operator-crd`, the plain controller-gen output (the
/// `-full` sibling adds AlertmanagerConfig `v1beta1`, which needs the operator's conversion
/// webhook). Several files are over half a megabyte: they install only with server-side
/// apply (a client-side `last-applied-configuration` annotation would exceed 256 KiB).
pub const PROMETHEUS_OPERATOR: CrdSource = CrdSource {
    name: "prometheus-operator",
    module: "github.com/prometheus-operator/prometheus-operator",
    dirs: &["example/prometheus-operator-crd"],
    files: &[],
    version: |v| v.prometheus_operator.clone(),
};

/// The Vertical Pod Autoscaler's CRDs (`autoscaling.k8s.io`: VerticalPodAutoscaler and
/// VerticalPodAutoscalerCheckpoint), from the one generated file in `deploy/` (the other
/// files there are the autoscaler's own Deployments and RBAC).
pub const VERTICAL_POD_AUTOSCALER: CrdSource = CrdSource {
    name: "vertical-pod-autoscaler",
    module: "k8s.io/autoscaler/vertical-pod-autoscaler",
    dirs: &["deploy"],
    files: &["vpa-v1-crd-gen.yaml"],
    version: |v| v.vertical_pod_autoscaler.clone(),
};

/// Every source `plinth dev up` installs.
pub const DEFAULT_SOURCES: &[CrdSource] = &[
    CLUSTER_API,
    CLUSTER_API_PROVIDER_AWS,
    GATEKEEPER_TEMPLATES,
    POLICY_REPORTS,
    ISTIO,
    CERT_MANAGER,
    PROMETHEUS_OPERATOR,
    VERTICAL_POD_AUTOSCALER,
];

/// The first line of `text` that starts with a Go template action (`{{`), as
/// `(line number, line)`. Template syntax inside a field's value (a description quoting
/// `{{ .name }}`) does not start a line and is not an action.
fn template_line(text: &str) -> Option<(usize, &str)> {
    text.lines()
        .enumerate()
        .find(|(_, l)| l.trim_start().starts_with("{{"))
        .map(|(i, l)| (i + 1, l.trim()))
}

impl CrdSource {
    /// The pinned version (without `v`).
    pub fn version(&self) -> String {
        (self.version)(&Versions::pinned())
    }

    fn cache_dir(&self, cache: &Path) -> PathBuf {
        cache
            .join("crds")
            .join(format!("{}-v{}", self.name, self.version()))
    }

    /// The CRD files in plinth's cache, fetching them through the Go module proxy first if
    /// needed.
    pub fn fetch(&self, cache: &Path) -> Result<Vec<PathBuf>, Error> {
        let dir = self.cache_dir(cache);
        if !dir.join(".complete").is_file() {
            self.download_into(&dir)?;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(io_err(&dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        files.sort();
        Ok(files)
    }

    fn download_into(&self, dir: &Path) -> Result<(), Error> {
        let fetch_err = |problem: String| Error::CrdFetch {
            module: format!("{}@v{}", self.module, self.version()),
            problem,
        };
        let parent = dir.parent().unwrap_or(dir);
        std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        let module_dir = crate::gomod::module_dir(self.module, &format!("v{}", self.version()))
            .map_err(|e| match e {
                Error::GoModule { problem, .. } => fetch_err(problem),
                other => other,
            })?;

        // Copy into a fresh directory, then rename: readers never see half a set.
        let staging = parent.join(format!(".{}-{}.partial", self.name, std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging).map_err(io_err(&staging))?;
        let mut copied = 0;
        for sub in self.dirs {
            let src = module_dir.join(sub);
            let entries = std::fs::read_dir(&src).map_err(|e| {
                fetch_err(format!("{} is missing in the module: {e}", src.display()))
            })?;
            for entry in entries {
                let path = entry.map_err(io_err(&src))?.path();
                let wanted = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| self.files.is_empty() || self.files.contains(&n));
                if let (true, true, Some(name)) = (
                    wanted,
                    path.extension().is_some_and(|e| e == "yaml"),
                    path.file_name(),
                ) {
                    let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
                    if let Some((line, action)) = template_line(&text) {
                        return Err(fetch_err(format!(
                            "{}:{line}: `{action}` is a template action (a Helm chart?); plinth \
                             installs only plain CRD YAML: point this source at plain files",
                            path.display()
                        )));
                    }
                    let target = staging.join(name);
                    std::fs::write(&target, text).map_err(io_err(&target))?;
                    copied += 1;
                }
            }
        }
        if copied == 0 {
            return Err(fetch_err(format!("no CRD files under {:?}", self.dirs)));
        }
        let marker = staging.join(".complete");
        std::fs::write(&marker, format!("{}@v{}\n", self.module, self.version()))
            .map_err(io_err(&marker))?;
        let _ = std::fs::remove_dir_all(dir);
        match std::fs::rename(&staging, dir) {
            Ok(()) => Ok(()),
            // Another process finished the same download first.
            Err(_) if dir.join(".complete").is_file() => {
                let _ = std::fs::remove_dir_all(&staging);
                Ok(())
            }
            Err(e) => Err(io_err(dir)(e)),
        }
    }

    /// The CRD objects of this source, as JSON.
    pub fn load(&self, cache: &Path) -> Result<Vec<Value>, Error> {
        let files = self.fetch(cache)?;
        let docs = plinth_core::manifest::read_paths(&files).map_err(|e| Error::CrdFetch {
            module: self.module.to_owned(),
            problem: e.to_string(),
        })?;
        Ok(docs
            .into_iter()
            .filter(|d| d.kind() == Some("CustomResourceDefinition"))
            .map(plinth_core::manifest::Document::into_value)
            .collect())
    }
}

/// Installs every CRD of `sources` (server-side apply as `plinth`) and waits until each is
/// `Established`.
pub async fn install(client: &Client, sources: &[CrdSource], cache: &Path) -> Result<(), Error> {
    let mut crds = Vec::new();
    for source in sources {
        crds.extend(source.load(cache)?);
    }
    plinth_kube::crd::install(client, &crds, "plinth", Duration::from_secs(60)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_actions_are_found_but_quoted_templates_are_not() {
        let chart = "{{- if or .Values.crds.enabled .Values.installCRDs }}\napiVersion: v1\n";
        assert_eq!(
            template_line(chart),
            Some((1, "{{- if or .Values.crds.enabled .Values.installCRDs }}"))
        );
        let labels = "metadata:\n  labels:\n    {{- include \"x.labels\" . | nindent 4 }}\n";
        assert_eq!(
            template_line(labels).map(|(n, _)| n),
            Some(3),
            "an indented action counts"
        );
        let plain = "description: |-\n  defaults to `{{ .cluster.name }}-{{ .random }}`.\n";
        assert_eq!(template_line(plain), None);
    }
}
