//! Login with Tencent-compatible UserSigs: every failure gets its 70xxx code, then the
//! connection closes.

use crate::common;

use common::*;
use im_revoke_usersig::gen_usersig;
use serde_json::json;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Logs in as `user` with `sig`; expects error `code` and a close.
async fn refused(s: &TestServer, user: &str, sig: &str, code: u32) {
    let mut c = s.connect().await;
    let f = c.login_with(user, sig).await;
    assert_error(&f, code);
    assert_eq!(c.expect_closed().await, Some(1008), "closed after {code}");
}

#[tokio::test]
async fn valid_usersig_logs_in() {
    let s = TestServer::start().await;
    let mut c = s.connect().await;
    let f = c
        .login_with("alice", &gen_usersig(SDKAPPID, KEY, "alice", 60, now()))
        .await;
    assert_eq!(f["type"], "loginOk", "{f}");
    assert_eq!(f["v"], 1);
    assert_eq!(f["headSeq"], 0);
    assert_eq!(f["limits"]["revokeTimeLimitMs"], 120_000);
}

#[tokio::test]
async fn expired_usersig() {
    let s = TestServer::start().await;
    let sig = gen_usersig(SDKAPPID, KEY, "alice", 60, now() - 3600);
    refused(&s, "alice", &sig, 70001).await;
}

#[tokio::test]
async fn empty_usersig() {
    let s = TestServer::start().await;
    refused(&s, "alice", "", 70002).await;
    // Missing altogether counts as empty.
    let mut c = s.connect().await;
    c.send(json!({"type": "login", "v": 1, "userID": "alice"}))
        .await;
    assert_error(&c.recv().await, 70002);
}

#[tokio::test]
async fn garbage_usersig() {
    let s = TestServer::start().await;
    refused(&s, "alice", "this-is-not-a-usersig", 70003).await;
    refused(&s, "alice", &"A".repeat(20_000), 70003).await;
}

#[tokio::test]
async fn wrong_key() {
    let s = TestServer::start().await;
    let sig = gen_usersig(SDKAPPID, "another-key", "alice", 60, now());
    refused(&s, "alice", &sig, 70009).await;
}

#[tokio::test]
async fn wrong_user() {
    let s = TestServer::start().await;
    let sig = gen_usersig(SDKAPPID, KEY, "bob", 60, now());
    refused(&s, "alice", &sig, 70013).await;
}

#[tokio::test]
async fn wrong_sdkappid() {
    let s = TestServer::start().await;
    let sig = gen_usersig(SDKAPPID + 1, KEY, "alice", 60, now());
    refused(&s, "alice", &sig, 70014).await;
}

#[tokio::test]
async fn invalid_user_id_with_a_valid_sig_is_refused_by_the_hub() {
    let s = TestServer::start().await;
    let sig = gen_usersig(SDKAPPID, KEY, "a b", 60, now());
    refused(&s, "a b", &sig, 20003).await;
}
