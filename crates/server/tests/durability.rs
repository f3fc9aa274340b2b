//! An acknowledged revoke survives `kill -9`: the real binary, a real database file.

use crate::common;
use crate::process;

use common::*;
use process::Proc;

#[tokio::test]
async fn acknowledged_revoke_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data").join("im.db");

    let mut p = Proc::start(&db, &[]);
    let mut alice = Client::login(p.addr, "alice").await;
    let mut bob = Client::login(p.addr, "bob").await;
    let sent = alice.send_text("bob", "m1", "regret").await;
    assert_eq!(sent["type"], "sendOk");
    let bob_seq_1 = assert_event(&bob.recv().await, "newMessage");
    let ok = alice.revoke("m1").await;
    assert_eq!(ok["type"], "revokeOk", "{ok}");
    let alice_head = ok["seq"].as_u64().unwrap();
    p.kill9();

    let p = Proc::start(&db, &[]);
    let mut alice = Client::login(p.addr, "alice").await;
    let mut bob = Client::login(p.addr, "bob").await;
    // History: revoked.
    let h = bob.history_with("alice").await;
    let m = &h["messages"][0];
    assert_eq!(m["msgID"], "m1");
    assert_eq!(m["revoke"]["userID"], "alice", "{h}");
    // bob's log: the new message, then the revoke, contiguous.
    let f = bob.sync(0).await;
    let events = f["events"].as_array().unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [bob_seq_1, bob_seq_1 + 1]);
    assert_eq!(events[1]["event"]["kind"], "messageRevoked");
    // Seqs go on without a gap after the restart.
    let sent = alice.send_text("bob", "m2", "again").await;
    assert_eq!(sent["seq"], alice_head + 1);
    assert_eq!(sent["message"]["seq"], 2, "conversation seq continues");
    assert_eq!(assert_event(&bob.recv().await, "newMessage"), bob_seq_1 + 2);
    // A retry of the old revoke is still idempotent.
    let retry = alice
        .request(serde_json::json!({"type": "revoke", "reqId": ok["reqId"], "msgID": "m1"}))
        .await;
    assert_eq!(retry["type"], "revokeOk");
    assert_eq!(retry["seq"], 0);

    let status = p.terminate();
    assert!(status.success(), "SIGTERM exits 0, got {status:?}");
}

/// Fail-stop: when the store cannot write, the server acknowledges nothing and exits non-zero.
/// Another process holds the database's write lock; the server's transaction gives up after
/// SQLite's busy timeout (5 s), so this test takes that long.
#[tokio::test]
async fn store_failure_stops_the_server_without_acknowledging() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("im.db");
    let p = Proc::start(&db, &[]);
    let mut alice = Client::login(p.addr, "alice").await;
    let blocker = rusqlite::Connection::open(&db).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    alice
        .send(
            serde_json::json!({"type": "send", "reqId": "r1", "msgID": "m1", "receiver": "bob",
                                 "elem": {"elemType": "text", "text": "never acked"}}),
        )
        .await;
    // No sendOk: the connection just ends when the process stops.
    assert_eq!(alice.expect_closed().await, None);
    let status = p.exit_status();
    assert_eq!(status.code(), Some(70), "fail-stop exit status");
    blocker.execute_batch("ROLLBACK").unwrap();
    drop(blocker);
    // Restarted, the unacknowledged message is not there: the client will resend it.
    let p = Proc::start(&db, &[]);
    let mut alice = Client::login(p.addr, "alice").await;
    let f = alice
        .request(serde_json::json!({"type": "findMessages", "msgIDList": ["m1"]}))
        .await;
    assert_eq!(f["messages"].as_array().unwrap().len(), 0, "{f}");
    assert!(p.terminate().success());
}
