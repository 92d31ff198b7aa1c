//! A short soak (`ws-load soak`) against two in-process oyez-servers on one in-memory hub,
//! each with its metrics on a listener of its own: the scenario's churn, checks and return to
//! the baseline work end to end. Its own test binary: the descriptors it counts are this
//! process's, so no other test may open any meanwhile.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use oyez_backplane::transport::memory::MemoryHub;
use oyez_backplane::{MegaConfig, RosterDriver};
use oyez_benches::load::client::Target;
use oyez_benches::load::soak::{self, SoakOpts};
use oyez_server::apps::{self, Site};
use oyez_server::{Builder, MetricsEndpoint, Server, ServerConfig};

#[test]
fn a_short_soak_comes_back_to_its_baseline() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let hub = MemoryHub::new();
    let start = |hub: &MemoryHub| -> (Server, SocketAddr) {
        rt.block_on(async {
            let mut config = ServerConfig::default();
            config.bind = SocketAddr::from(([127, 0, 0, 1], 0));
            config.shards = 1;
            let mut mega = MegaConfig::new("soak-smoke");
            mega.roster = RosterDriver::Nats;
            let server = apps::mount(Builder::new(config), Site::default())
                .tina4_cluster(Arc::new(hub.transport()))
                .mega_cluster(Arc::new(hub.transport()), mega)
                .bind()
                .await
                .expect("bind");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("an address");
            tokio::spawn(MetricsEndpoint::new().serve(listener, server.clone()));
            (server, addr)
        })
    };
    let (a, ma) = start(&hub);
    let (b, mb) = start(&hub);
    let url = |s: &Server| Target::parse(&format!("ws://{}", s.local_addr())).expect("a URL");
    let opts = SoakOpts {
        targets: vec![url(&a), url(&b)],
        metrics: vec![ma, mb],
        server_pids: vec![std::process::id(); 2],
        stayers: 20,
        churners: 100,
        rooms: 5,
        users: 30,
        rate: 50,
        duration: Duration::from_secs(4),
        max_connects: 5000,
        sources: 4,
        sample_every: Duration::from_millis(500),
        settle: Duration::from_secs(10),
    };
    let r = soak::run(&opts).expect("the soak runs");
    let n = |k: &str| r.u64(k).unwrap_or_else(|| panic!("{k} in {r}"));
    assert!(n("churn_connects") >= 100, "{r}");
    assert!(
        n("published") >= 100 && n("stayer_deliveries") == 20 * n("published"),
        "{r}"
    );
    assert!(
        n("left_clean") > 0 && n("left_fin") > 0 && n("left_reset") > 0,
        "{r}"
    );
    assert_eq!(r.0.get("ok"), Some(&serde_json::Value::Bool(true)), "{r}");
    rt.block_on(async {
        a.shutdown().await;
        b.shutdown().await;
    });
}
