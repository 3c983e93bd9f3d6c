//! The connectivity map and single queries are computed differently (the map prepares
//! rows of peers and port sets; `verify` walks the rules for one pair): on generated
//! clusters and policies they must agree on every pair, port and protocol.

mod common;

use std::collections::BTreeMap;

use plinth_netpol::{Endpoint, Index, IpBlockMode, Pod, Policy, PortQuery, Protocol};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn map_and_single_queries_agree((pods, policies, external) in common::cluster(true)) {
        let pods: Vec<Pod> = pods.iter().map(|p| Pod::from_object(p, "default").expect("generated pods are valid")).collect();
        let mut compiled = Vec::new();
        for (i, p) in policies.iter().enumerate() {
            let mut p = p.clone();
            p.metadata.name = Some(format!("p{i}"));
            if let Ok(c) = Policy::compile(&p, "default") {
                compiled.push(c);
            }
        }
        let mut namespaces = BTreeMap::new();
        namespaces.insert("x".to_owned(), BTreeMap::from([
            ("kubernetes.io/metadata.name".to_owned(), "x".to_owned()),
            ("tier".to_owned(), "prod".to_owned()),
        ]));
        let mode = if external { IpBlockMode::ExternalOnly } else { IpBlockMode::PodIps };
        let index = Index::new(namespaces, pods, compiled, mode);
        let map = index.connectivity();
        let n = index.pods().len();
        let mut cells = vec![None; n * n];
        for c in &map {
            prop_assert!(!c.ports.is_empty());
            cells[c.from * n + c.to] = Some(&c.ports);
        }
        for from in 0..n {
            for to in 0..n {
                if from == to {
                    continue;
                }
                for protocol in [Protocol::Tcp, Protocol::Udp, Protocol::Sctp] {
                    for port in [1, 53, 80, 81, 443, 444, 8080, 65535] {
                        let verdict = index
                            .verify(Endpoint::Pod(from), Endpoint::Pod(to), &PortQuery::Number(port), protocol)
                            .expect("numeric queries always evaluate");
                        let in_map = cells[from * n + to].is_some_and(|p| p.contains(protocol, port));
                        prop_assert_eq!(
                            verdict.allowed, in_map,
                            "{} -> {} {}/{}: verify {:?}, map {:?}",
                            index.pods()[from].id(), index.pods()[to].id(), port, protocol,
                            verdict.reasons(), cells[from * n + to]
                        );
                    }
                }
            }
        }
    }
}
