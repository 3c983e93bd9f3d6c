//! Any text as a manifest file, as `plinth check` reads it: the multi-document reader
//! never panics, and what it reads is checked against Pod Security (namespace labels from
//! the input) and every shipped constraint, offered to the policy loader, indexed as
//! NetworkPolicy connectivity input with a query between its first and last pods, and
//! read as zero-trust models, which are compiled, queried and compared with the index,
//! read as planner requirements and price sheets, which are planned, as a Platform,
//! which is rendered, and as ManagedClusters, which are rendered to Cluster API objects.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use plinth_guard::check::{CheckOptions, check};
use plinth_guard::gatekeeper::PolicySet;
use plinth_guard::library;

static POLICIES: LazyLock<PolicySet> =
    LazyLock::new(|| library::defaults().expect("the shipped policies load"));

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(docs) = plinth_core::manifest::parse_str("fuzz.yaml", text) else {
        return;
    };
    let _ = check(&docs, &POLICIES, &CheckOptions::default());
    let mut set = PolicySet::new();
    let _ = library::add_documents(&mut set, &docs);
    if let Ok(req) = plinth_plan::requirements::from_documents(&docs, "fuzz.yaml") {
        if let Ok(prices) = plinth_plan::prices::from_documents(&docs, "fuzz.yaml")
            .or_else(|_| plinth_plan::PriceSheet::builtin())
        {
            let _ = plinth_plan::plan(&req, &prices);
        }
    }
    if let Ok(Some(platform)) = plinth_render::platform::from_documents(&docs) {
        let _ = plinth_render::tree::render(&platform, &plinth_render::tree::Extras::default());
    }
    if let Ok(clusters) = plinth_fleet::clusters(&docs) {
        for c in &clusters {
            let _ = plinth_fleet::render(c, &plinth_fleet::RenderSettings::default());
        }
    }
    let index = plinth_netpol::manifests::index(&docs, plinth_netpol::IpBlockMode::PodIps).ok();
    if let Ok(models) = plinth_netpol::intent::load::models(&docs) {
        for model in &models {
            let _ = plinth_netpol::intent::compile::compile(model).files();
            let ids = &model.spec.identities;
            if let (Some(a), Some(b)) = (ids.first(), ids.last()) {
                use plinth_netpol::intent::decide::Party;
                let _ = model.decide(
                    Party::Identity(a),
                    Party::Identity(b),
                    443,
                    plinth_netpol::Protocol::Tcp,
                );
                let _ = model.decide(
                    Party::Address([10, 0, 0, 1].into()),
                    Party::Identity(b),
                    22,
                    plinth_netpol::Protocol::Udp,
                );
            }
            if let Some(index) = &index {
                let _ = plinth_netpol::intent::drift::drift(model, index);
                let _ = plinth_netpol::intent::posture::posture(
                    index,
                    Some(model),
                    &[],
                    &[],
                    "istio-system",
                );
            }
        }
    }
    if let Some(index) = index
        && !index.pods().is_empty()
    {
        let last = index.pods().len() - 1;
        for port in [
            plinth_netpol::PortQuery::Number(80),
            plinth_netpol::PortQuery::Name("http".into()),
        ] {
            let _ = index.verify(
                plinth_netpol::Endpoint::Pod(0),
                plinth_netpol::Endpoint::Pod(last),
                &port,
                plinth_netpol::Protocol::Tcp,
            );
        }
    }
});
