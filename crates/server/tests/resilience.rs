//! Clients that misbehave: never read, go silent, never log in.

use crate::common;

use common::*;
use futures_util::StreamExt;
use std::time::Duration;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

/// Messages alice sends to a bob who does not read: ~10 MB, more than loopback socket buffers
/// hold, so bob's queue overflows.
const FLOOD: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_that_does_not_read_is_dropped_and_loses_nothing() {
    let s = TestServer::start_with(|c| {
        c.outbound_queue = 4;
        c.user_rate = 0; // alice sends as fast as she can
        c.conn_rate = 0;
        c.write_timeout = Duration::from_millis(200);
    })
    .await;
    let mut bob = s.login("bob").await;
    let mut alice = s.login("alice").await;
    let text = "x".repeat(10_000);
    let sender = tokio::spawn(async move {
        for i in 0..FLOOD {
            let ok = alice.send_text("bob", &format!("m{i}"), &text).await;
            assert_eq!(ok["type"], "sendOk");
        }
    });
    timeout(Duration::from_secs(60), sender)
        .await
        .expect("alice is not slowed down by bob")
        .expect("alice's task");
    // bob now reads what reached him before the server let go of him: fewer than all.
    let mut got = 0;
    loop {
        match timeout(WAIT, bob.ws.next())
            .await
            .expect("bob's stream ends")
        {
            Some(Ok(Message::Text(_))) => got += 1,
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
            Some(Ok(_)) => {}
        }
    }
    eprintln!("bob got {got} of {FLOOD} frames before the server dropped him");
    assert!(
        got < FLOOD,
        "bob was disconnected before getting everything ({got})"
    );
    // Nothing is lost: bob's log has every message.
    let mut bob = s.login("bob").await;
    let f = bob.sync(got as u64).await;
    assert_eq!(
        f["events"][0]["seq"],
        got as u64 + 1,
        "resync from where he was"
    );
    let login = Client::connect(s.addr)
        .await
        .login_with("bob", &usersig("bob"))
        .await;
    assert_eq!(login["headSeq"], FLOOD as u64);
}

#[tokio::test]
async fn silent_connection_is_pinged_then_closed() {
    let _apart = crate::timing::timed();
    let s = TestServer::start_with(|c| c.idle_timeout = Duration::from_millis(400)).await;
    let mut alice = s.login("alice").await;
    // The server pings at half the idle timeout.
    let m = timeout(WAIT, alice.ws.next()).await.expect("a ping");
    assert!(matches!(m, Some(Ok(Message::Ping(_)))), "{m:?}");
    // Not reading (so not answering the ping) for longer than the timeout: closed.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(alice.expect_closed().await, Some(1001));
}

#[tokio::test]
async fn answering_pings_keeps_the_connection() {
    let _apart = crate::timing::timed();
    // 1 s: the server pings after half of it and closes if the pong has not come back by the
    // end; with 300 ms the 150 ms left for the pong ran out once on a 2-core machine at load 13.
    let s = TestServer::start_with(|c| c.idle_timeout = Duration::from_secs(1)).await;
    let mut alice = s.login("alice").await;
    // Reading answers pings automatically; after three idle periods the connection still works.
    for _ in 0..3 {
        let m = timeout(WAIT, alice.ws.next()).await.expect("a ping");
        assert!(matches!(m, Some(Ok(Message::Ping(_)))), "{m:?}");
    }
    alice.ping().await;
}

#[tokio::test]
async fn no_login_in_time_is_closed() {
    let s = TestServer::start_with(|c| c.login_timeout = Duration::from_millis(200)).await;
    let mut c = s.connect().await;
    assert_error(&c.recv().await, 6014);
    assert_eq!(c.expect_closed().await, Some(1008));
}
