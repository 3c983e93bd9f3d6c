//! Any bytes as an AdmissionReview body: parsing never panics, and whatever parses goes
//! through the whole decision (Pod Security in every mode plus every shipped constraint)
//! and the response encoding, as the webhook would run it.
#![no_main]

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use libfuzzer_sys::fuzz_target;
use plinth_admission::{Guard, review};
use plinth_guard::pss;

/// Every namespace is labelled restricted for enforce, baseline for warn, and holds one
/// privileged pod, so namespace updates also evaluate existing pods.
struct Cluster;

impl pss::Cluster for Cluster {
    fn namespace_labels(&self, _name: &str) -> Result<BTreeMap<String, String>, String> {
        Ok(BTreeMap::from([
            (
                "pod-security.kubernetes.io/enforce".to_owned(),
                "restricted".to_owned(),
            ),
            (
                "pod-security.kubernetes.io/warn".to_owned(),
                "baseline".to_owned(),
            ),
            (
                "pod-security.kubernetes.io/warn-version".to_owned(),
                "v1.25".to_owned(),
            ),
        ]))
    }

    fn pods(&self, namespace: &str) -> Result<Vec<Pod>, String> {
        let mut pod = Pod::default();
        pod.metadata.name = Some("existing".to_owned());
        pod.metadata.namespace = Some(namespace.to_owned());
        pod.spec = Some(k8s_openapi::api::core::v1::PodSpec {
            containers: vec![k8s_openapi::api::core::v1::Container {
                name: "c".to_owned(),
                security_context: Some(k8s_openapi::api::core::v1::SecurityContext {
                    privileged: Some(true),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        });
        Ok(vec![pod])
    }
}

static GUARD: LazyLock<Guard> = LazyLock::new(|| Guard {
    pss: pss::Config::default(),
    policies: Arc::new(plinth_guard::library::defaults().expect("the shipped policies load")),
});

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = review::parse(data) {
        let outcome = GUARD.decide(&request, &Cluster, Instant::now() + Duration::from_secs(5));
        let _ = review::response(&request.uid, &outcome.decision);
    }
});
