//! Every scenario, small, against a real server started in this process on 127.0.0.1:0.

use im_revoke_loadgen::common::Target;
use im_revoke_loadgen::{attach, fanout, idle, latency, sqlite_baseline, throughput};
use im_revoke_server::{Secret, ServerConfig};
use std::sync::Arc;

const KEY: &str = "loadgen-test-key";

async fn server(dir: &std::path::Path) -> (im_revoke_server::Server, Arc<Target>) {
    let cfg = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        dir.join("bench.db"),
        Secret::new(KEY),
    );
    let sdkappid = cfg.sdkappid;
    let s = im_revoke_server::start(cfg).await.expect("server starts");
    let url = format!("ws://{}/ws", s.local_addr());
    let t = Arc::new(Target::new(&url, sdkappid, KEY, 2).unwrap());
    (s, t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_runs_small() {
    let dir = tempfile::tempdir().unwrap();
    let (server, t) = server(dir.path()).await;

    let r = idle::run(
        t.clone(),
        &idle::IdleOpts {
            connections: 50,
            concurrency: 16,
            hold_secs: 0.5,
            server_pid: Some(std::process::id()),
            login: true,
            max_secs: 30.0,
        },
    )
    .await
    .unwrap();
    assert_eq!((r.connected, r.failed), (50, 0), "{r:?}");
    assert!(r.bytes_per_connection.is_some());

    let r = throughput::run(
        t.clone(),
        &throughput::ThroughputOpts {
            clients: 3,
            window: 4,
            send_secs: 0.5,
            revoke_secs: 0.5,
            text_bytes: 16,
            per_user_rate: 90.0,
            max_secs: 30.0,
        },
    )
    .await
    .unwrap();
    assert!(r.sends.completed > 0 && r.sends.errors.is_empty(), "{r:?}");
    let rv = r.revokes.unwrap();
    assert!(rv.completed > 0 && rv.errors.is_empty(), "{rv:?}");
    assert!(rv.events_received > 0, "peers get the revoke events");

    let r = latency::run(
        t.clone(),
        &latency::LatencyOpts {
            samples: 20,
            warmup: 2,
            per_user_rate: 90.0,
            max_secs: 30.0,
        },
    )
    .await
    .unwrap();
    assert_eq!(r.revoke_to_event.count, 20);
    assert_eq!(r.echo_rtt.count, 20);
    assert!(r.revoke_to_event.p50_ms > 0.0);

    let (bcast, _bcast_guard) =
        im_revoke_loadgen::echo::spawn_thread(im_revoke_loadgen::echo::EchoConfig {
            read_buffer: 2 * 1024,
            write_buffer: 0,
            broadcast: true,
        })
        .unwrap();
    let r = fanout::run(
        t.clone(),
        &fanout::FanoutOpts {
            members: 30,
            revokes: 3,
            warmup: 1,
            concurrency: 8,
            chunk: 7,
            per_user_rate: 90.0,
            max_secs: 60.0,
            baseline_url: Some(bcast),
        },
    )
    .await
    .unwrap();
    assert_eq!(r.missed, 0);
    assert_eq!(r.revoke_completion.count, 3);
    assert_eq!(r.revoke_delivery.count, 90);
    assert!(r.revoke_completion.max_ms >= r.revoke_delivery.max_ms);
    // The broadcast baseline: the same 30 readers, every round to every one of them.
    let b = r.baseline.expect("baseline run");
    assert_eq!((b.members, b.missed), (30, 0));
    assert_eq!(b.completion.count, 3);
    assert_eq!(b.delivery.count, 90);

    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_runs_small() {
    let dir = tempfile::tempdir().unwrap();
    let (server, t) = server(dir.path()).await;
    let r = attach::run(
        t,
        &attach::AttachOpts {
            rounds: 3,
            warmup: 1,
            bytes: 1_000_000,
            dir: dir.path().to_path_buf(),
            poll_secs: 10.0,
            max_secs: 120.0,
        },
    )
    .await
    .unwrap();
    assert_eq!(r.upload.time.count, 3);
    assert_eq!(r.download.time.count, 3);
    assert_eq!(r.ack_to_gone.count, 3);
    // The revoke's transaction marks the upload gone before the ack is sent.
    assert_eq!((r.gone_at_first_poll, r.polls_max), (3, 1), "{r:?}");
    assert!(r.revoke_to_gone.min_ms >= r.revoke_ack.min_ms);
    assert_eq!(r.file_copy_fsync.time.count, 3);
    assert_eq!(r.tcp_loopback.time.count, 3);
    assert!(r.upload_vs_copy > 0.0 && r.download_vs_copy > 0.0);
    // Nothing of the baselines is left behind.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("attach-baseline")
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
    server.shutdown().await.unwrap();
}

#[test]
fn sqlite_baseline_runs_small() {
    let dir = tempfile::tempdir().unwrap();
    let r = sqlite_baseline::run(
        dir.path(),
        &sqlite_baseline::SqliteOpts {
            secs: 0.2,
            batches: vec![4],
            pragmas: vec![("cache_size".into(), "-4096".into())],
        },
    )
    .unwrap();
    assert!(r.single_commits_per_sec > 0.0);
    assert_eq!(r.batched_revokes.len(), 1);
    assert!(r.batched_revokes[0].per_sec > 0.0);
}

#[test]
fn non_loopback_targets_are_refused() {
    for url in [
        "ws://10.1.2.3:8080/ws",
        "ws://example.org/ws",
        "wss://127.0.0.1/ws",
    ] {
        assert!(Target::new(url, 1, "k", 1).is_err(), "{url}");
    }
}
