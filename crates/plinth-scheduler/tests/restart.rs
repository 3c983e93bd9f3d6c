//! The API server goes away mid-run: without leader election the scheduler reconnects
//! and finishes the work; with it, the leader stops at once when its lease may lapse.
//! (One test: restarting the server must not disturb other tests of this binary.)

mod common;

use std::time::{Duration, Instant};

use common::Slice;
use plinth_scheduler::RunError;
use plinth_scheduler::leader::ElectionConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_an_api_server_restart_and_stops_leading_when_it_must() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("PLINTH_TEST_LOG"))
        .with_test_writer()
        .try_init();
    let env = plinth_testenv::shared();
    let s = Slice::new("restart").await;
    // Room for 240 pods of 100m CPU; 200 are created.
    for i in 0..6 {
        s.create_node(s.node(&format!("n{i}"))).await;
    }
    let running = s.start().await;
    for i in 0..200 {
        s.create_pod(s.pod(&format!("p{i}"))).await;
    }
    s.bound("p0", Duration::from_secs(20)).await;

    env.control_plane().stop_apiserver();
    tokio::time::sleep(Duration::from_secs(3)).await;
    env.control_plane()
        .start_apiserver(Duration::from_secs(60))
        .await
        .expect("API server back");
    let client = env.client().await.expect("client");
    let s = Slice {
        client,
        ns: s.ns.clone(),
        scheduler: s.scheduler.clone(),
    };
    for i in 0..200 {
        s.bound(&format!("p{i}"), Duration::from_secs(60)).await;
    }
    running.stop();
    running.join().await.expect("clean stop after reconnecting");

    // Leader election: the leader stops by itself once it cannot renew.
    let mut options = s.options();
    options.election = Some(ElectionConfig {
        namespace: s.ns.clone(),
        name: "restart-lease".into(),
        identity: "only".into(),
        lease_duration: Duration::from_secs(4),
        renew_deadline: Duration::from_secs(3),
        retry_period: Duration::from_millis(500),
    });
    let running = plinth_scheduler::start(s.client.clone(), options)
        .await
        .expect("start");
    s.create_pod(s.pod("led")).await;
    s.bound("led", Duration::from_secs(20)).await;
    env.control_plane().stop_apiserver();
    let gone = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(10), running.join())
        .await
        .expect("the leader must stop on its own");
    let stopped_after = gone.elapsed();
    env.control_plane()
        .start_apiserver(Duration::from_secs(60))
        .await
        .expect("API server back");
    assert!(
        matches!(result, Err(RunError::LostLeadership)),
        "{result:?}"
    );
    assert!(
        stopped_after <= Duration::from_millis(3500),
        "stopped {stopped_after:?} after the server vanished; the renew deadline is 3 s"
    );
}
