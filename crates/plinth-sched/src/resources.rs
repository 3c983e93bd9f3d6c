//! Resource vectors and a pod's effective request, as kube-scheduler computes them.
//!
//! A pod's request (`k8s.io/component-helpers/resource.PodRequests`):
//!
//! 1. the sum of its app containers;
//! 2. restartable init containers (sidecars, `restartPolicy: Always`) run beside the app
//!    containers, so they are added to that sum; each regular init container runs alone
//!    with the sidecars started before it, so the pod needs at least
//!    `that container + sidecars so far`;
//! 3. the request is the per-resource maximum of (1+2) and the largest init-phase need;
//! 4. `spec.resources` (pod-level requests), when set, replaces the container total for
//!    the resources it names;
//! 5. `spec.overhead` is added.
//!
//! CPU is counted in millicores, every other resource in whole units (bytes for memory
//! and storage), rounded up as upstream rounds.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use plinth_core::quantity::Quantity;

/// `cpu`.
pub const CPU: &str = "cpu";
/// `memory`.
pub const MEMORY: &str = "memory";
/// `ephemeral-storage`.
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
/// `pods`.
pub const PODS: &str = "pods";
/// The GPU resource the seed's profiles weigh.
pub const NVIDIA_GPU: &str = "nvidia.com/gpu";

/// Default CPU request (millicores) assumed for scoring a container that requests none
/// (kube-scheduler's `DefaultMilliCPURequest`), so best-effort pods still spread.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Default memory request (bytes) assumed for scoring, 200 MiB (`DefaultMemoryRequest`).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// An amount of every resource kind the scheduler tracks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// Millicores.
    pub cpu: i64,
    /// Bytes.
    pub memory: i64,
    /// Bytes.
    pub ephemeral_storage: i64,
    /// Pod count (only meaningful for allocatable).
    pub pods: i64,
    /// Extended and other scalar resources (`nvidia.com/gpu`, `hugepages-2Mi`, ...),
    /// whole units, sorted by name; zero entries are not stored.
    pub scalar: BTreeMap<String, i64>,
}

/// A quantity that could not be read, with the resource it was for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("resource {resource:?}: {source}")]
pub struct ResourceError {
    /// The resource name.
    pub resource: String,
    /// Why the quantity is invalid.
    #[source]
    pub source: plinth_core::quantity::QuantityError,
}

impl Resources {
    /// Reads a resource list (`requests`, `allocatable`, `overhead`).
    pub fn from_list(list: &BTreeMap<String, K8sQuantity>) -> Result<Resources, ResourceError> {
        let mut r = Resources::default();
        for (name, q) in list {
            let q = Quantity::try_from(q).map_err(|source| ResourceError {
                resource: name.clone(),
                source,
            })?;
            r.set(name, q);
        }
        Ok(r)
    }

    fn set(&mut self, name: &str, q: Quantity) {
        match name {
            CPU => self.cpu = q.milli_value(),
            MEMORY => self.memory = q.value(),
            EPHEMERAL_STORAGE => self.ephemeral_storage = q.value(),
            PODS => self.pods = q.value(),
            _ => {
                let v = q.value();
                if v == 0 {
                    self.scalar.remove(name);
                } else {
                    self.scalar.insert(name.to_owned(), v);
                }
            }
        }
    }

    /// The amount of one named resource.
    pub fn get(&self, name: &str) -> i64 {
        match name {
            CPU => self.cpu,
            MEMORY => self.memory,
            EPHEMERAL_STORAGE => self.ephemeral_storage,
            PODS => self.pods,
            _ => self.scalar.get(name).copied().unwrap_or(0),
        }
    }

    /// Adds `other` (saturating).
    pub fn add(&mut self, other: &Resources) {
        self.cpu = self.cpu.saturating_add(other.cpu);
        self.memory = self.memory.saturating_add(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_add(other.ephemeral_storage);
        self.pods = self.pods.saturating_add(other.pods);
        for (k, v) in &other.scalar {
            let e = self.scalar.entry(k.clone()).or_insert(0);
            *e = e.saturating_add(*v);
        }
    }

    /// Subtracts `other` (saturating; entries that reach zero are dropped).
    pub fn sub(&mut self, other: &Resources) {
        self.cpu = self.cpu.saturating_sub(other.cpu);
        self.memory = self.memory.saturating_sub(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_sub(other.ephemeral_storage);
        self.pods = self.pods.saturating_sub(other.pods);
        for (k, v) in &other.scalar {
            if let Some(e) = self.scalar.get_mut(k) {
                *e = e.saturating_sub(*v);
                if *e == 0 {
                    self.scalar.remove(k);
                }
            }
        }
    }

    /// Per-resource maximum with `other`.
    pub fn max_with(&mut self, other: &Resources) {
        self.cpu = self.cpu.max(other.cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        self.pods = self.pods.max(other.pods);
        for (k, v) in &other.scalar {
            let e = self.scalar.entry(k.clone()).or_insert(0);
            *e = (*e).max(*v);
        }
    }

    /// Whether every amount is zero.
    pub fn is_zero(&self) -> bool {
        self.cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.pods == 0
            && self.scalar.values().all(|v| *v == 0)
    }
}

impl fmt::Display for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cpu={}m memory={}", self.cpu, self.memory)?;
        if self.ephemeral_storage != 0 {
            write!(f, " ephemeral-storage={}", self.ephemeral_storage)?;
        }
        for (k, v) in &self.scalar {
            write!(f, " {k}={v}")?;
        }
        Ok(())
    }
}

fn container_requests(c: &Container) -> Result<Resources, ResourceError> {
    match c.resources.as_ref().and_then(|r| r.requests.as_ref()) {
        Some(list) => Resources::from_list(list),
        None => Ok(Resources::default()),
    }
}

fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// What a pod asks of a node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodRequests {
    /// The effective request checked against free capacity.
    pub requests: Resources,
    /// CPU (millicores) and memory (bytes) for scoring, with kube-scheduler's defaults
    /// for containers that request nothing.
    pub nonzero_cpu: i64,
    /// See `nonzero_cpu`.
    pub nonzero_memory: i64,
}

/// Computes a pod's effective request (see the module documentation).
pub fn pod_requests(spec: &PodSpec) -> Result<PodRequests, ResourceError> {
    let mut reqs = Resources::default();
    let mut nonzero = (0i64, 0i64);
    for c in &spec.containers {
        let r = container_requests(c)?;
        nonzero.0 += if r.cpu == 0 {
            DEFAULT_MILLI_CPU_REQUEST
        } else {
            r.cpu
        };
        nonzero.1 += if r.memory == 0 {
            DEFAULT_MEMORY_REQUEST
        } else {
            r.memory
        };
        reqs.add(&r);
    }
    let mut sidecars = Resources::default();
    let mut init_need = Resources::default();
    let mut nonzero_sidecars = (0i64, 0i64);
    let mut nonzero_init = (0i64, 0i64);
    for c in spec.init_containers.iter().flatten() {
        let r = container_requests(c)?;
        let nz = (
            if r.cpu == 0 {
                DEFAULT_MILLI_CPU_REQUEST
            } else {
                r.cpu
            },
            if r.memory == 0 {
                DEFAULT_MEMORY_REQUEST
            } else {
                r.memory
            },
        );
        if is_sidecar(c) {
            reqs.add(&r);
            sidecars.add(&r);
            init_need.max_with(&sidecars);
            nonzero.0 += nz.0;
            nonzero.1 += nz.1;
            nonzero_sidecars.0 += nz.0;
            nonzero_sidecars.1 += nz.1;
            nonzero_init.0 = nonzero_init.0.max(nonzero_sidecars.0);
            nonzero_init.1 = nonzero_init.1.max(nonzero_sidecars.1);
        } else {
            let mut with_sidecars = r;
            with_sidecars.add(&sidecars);
            init_need.max_with(&with_sidecars);
            nonzero_init.0 = nonzero_init.0.max(nz.0 + nonzero_sidecars.0);
            nonzero_init.1 = nonzero_init.1.max(nz.1 + nonzero_sidecars.1);
        }
    }
    reqs.max_with(&init_need);
    nonzero.0 = nonzero.0.max(nonzero_init.0);
    nonzero.1 = nonzero.1.max(nonzero_init.1);

    // Pod-level resources replace the container aggregate for what they name.
    if let Some(pod_level) = spec.resources.as_ref().and_then(|r| r.requests.as_ref()) {
        let pl = Resources::from_list(pod_level)?;
        for name in pod_level.keys() {
            match name.as_str() {
                CPU => {
                    reqs.cpu = pl.cpu;
                    nonzero.0 = pl.cpu;
                }
                MEMORY => {
                    reqs.memory = pl.memory;
                    nonzero.1 = pl.memory;
                }
                n if n.starts_with("hugepages-") => {
                    reqs.scalar.insert(n.to_owned(), pl.get(n));
                }
                _ => {}
            }
        }
    }
    if let Some(overhead) = &spec.overhead {
        let o = Resources::from_list(overhead)?;
        reqs.add(&o);
        nonzero.0 += o.cpu;
        nonzero.1 += o.memory;
    }
    Ok(PodRequests {
        requests: reqs,
        nonzero_cpu: nonzero.0,
        nonzero_memory: nonzero.1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> PodSpec {
        serde_json::from_value(v).unwrap()
    }

    fn c(name: &str, cpu: &str, mem: &str) -> serde_json::Value {
        json!({"name": name, "resources": {"requests": {"cpu": cpu, "memory": mem}}})
    }

    fn sidecar(name: &str, cpu: &str, mem: &str) -> serde_json::Value {
        json!({"name": name, "restartPolicy": "Always", "resources": {"requests": {"cpu": cpu, "memory": mem}}})
    }

    #[test]
    fn app_containers_are_summed() {
        let r = pod_requests(&spec(
            json!({"containers": [c("a", "250m", "64Mi"), c("b", "500m", "128Mi")]}),
        ))
        .unwrap();
        assert_eq!(r.requests.cpu, 750);
        assert_eq!(r.requests.memory, 192 * 1024 * 1024);
    }

    /// Kubernetes docs, "Init containers / Resource sharing within containers": the
    /// effective request is the higher of the largest init container and the app sum.
    #[test]
    fn init_containers_take_the_maximum() {
        let r = pod_requests(&spec(json!({
            "initContainers": [c("i1", "2", "100Mi"), c("i2", "1", "1Gi")],
            "containers": [c("a", "500m", "200Mi"), c("b", "500m", "200Mi")],
        })))
        .unwrap();
        assert_eq!(r.requests.cpu, 2000);
        assert_eq!(r.requests.memory, 1024 * 1024 * 1024);
    }

    /// Sidecars (restartable init containers) run alongside the app containers and
    /// alongside init containers that start after them.
    #[test]
    fn sidecars_add_to_apps_and_to_later_init_containers() {
        let r = pod_requests(&spec(json!({
            "initContainers": [
                c("setup", "1", "64Mi"),
                sidecar("proxy", "200m", "128Mi"),
                c("migrate", "1500m", "64Mi"),
            ],
            "containers": [c("app", "300m", "256Mi")],
        })))
        .unwrap();
        // Running phase: app 300m + proxy 200m = 500m. Init phase: migrate 1500m + proxy
        // 200m = 1700m, setup alone 1000m. Max = 1700m.
        assert_eq!(r.requests.cpu, 1700);
        // Memory: running 256+128 = 384Mi; init: migrate 64+128 = 192Mi. Max = 384Mi.
        assert_eq!(r.requests.memory, 384 * 1024 * 1024);
    }

    #[test]
    fn overhead_is_added_and_extended_resources_kept() {
        let r = pod_requests(&spec(json!({
            "overhead": {"cpu": "100m", "memory": "10Mi"},
            "containers": [{"name": "gpu", "resources": {"requests": {"cpu": "1", "nvidia.com/gpu": "2", "ephemeral-storage": "1Gi"}}}],
        })))
        .unwrap();
        assert_eq!(r.requests.cpu, 1100);
        assert_eq!(r.requests.memory, 10 * 1024 * 1024);
        assert_eq!(r.requests.get(NVIDIA_GPU), 2);
        assert_eq!(r.requests.ephemeral_storage, 1024 * 1024 * 1024);
    }

    #[test]
    fn pod_level_requests_replace_container_totals() {
        let r = pod_requests(&spec(json!({
            "resources": {"requests": {"cpu": "4"}},
            "containers": [c("a", "1", "1Gi")],
        })))
        .unwrap();
        assert_eq!(r.requests.cpu, 4000);
        assert_eq!(r.requests.memory, 1024 * 1024 * 1024);
    }

    #[test]
    fn best_effort_pods_get_scoring_defaults_only() {
        let r = pod_requests(&spec(json!({"containers": [{"name": "a"}, {"name": "b"}]}))).unwrap();
        assert!(r.requests.is_zero());
        assert_eq!(r.nonzero_cpu, 2 * DEFAULT_MILLI_CPU_REQUEST);
        assert_eq!(r.nonzero_memory, 2 * DEFAULT_MEMORY_REQUEST);
    }

    #[test]
    fn bad_quantities_name_the_resource() {
        let err = pod_requests(&spec(
            json!({"containers": [{"name": "a", "resources": {"requests": {"memory": "lots"}}}]}),
        ))
        .unwrap_err();
        assert_eq!(err.resource, "memory");
    }
}
