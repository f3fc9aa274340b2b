//! Issue 20's core findings over the wire, against the real binary started with small caps:
//! the group flood (items 1), msgIDs of other senders (3), what non-members can tell (4), role
//! 400 and reqIds reused for another request (7).

use crate::common;
use crate::process;

use common::*;
use process::Proc;
use serde_json::json;

fn users(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

fn start(args: &[&str]) -> (tempfile::TempDir, Proc) {
    let dir = tempfile::tempdir().unwrap();
    let p = Proc::start(dir.path().join("t.db"), args);
    (dir, p)
}

/// Before: no cap at all (100,000 by default, no flag), every member added in one call, and
/// 200 sends to a 60,001-member group were all accepted. Now: 10004 over the per-call cap,
/// 10014 past the group cap, and sends beyond the fan-out budget get 60018 while another
/// user's sends go through.
#[tokio::test]
async fn group_flood_is_capped_and_budgeted() {
    let (_d, p) = start(&[
        "--max-group-members",
        "50",
        "--max-members-per-call",
        "10",
        "--user-fanout-rate",
        "10",
        "--user-fanout-burst",
        "500",
    ]);
    let mut eve = Client::login(p.addr, "eve").await;
    let mut good = Client::login(p.addr, "good").await;
    let f = eve
        .create_group(
            "big",
            &[],
            &users("x", 11)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        )
        .await;
    assert_error(&f, 10004);
    let first = users("x", 9);
    let f = eve
        .create_group(
            "big",
            &[],
            &first.iter().map(String::as_str).collect::<Vec<_>>(),
        )
        .await;
    assert_eq!(f["type"], "groupOk", "{f}");
    for i in 0..4 {
        let f = eve
            .request(json!({"type": "addGroupMembers", "groupID": "big", "members": users(&format!("y{i}-"), 10)}))
            .await;
        assert_eq!(f["type"], "groupOk", "{f}");
    }
    // 50 members: one more is over the cap.
    let f = eve
        .request(json!({"type": "addGroupMembers", "groupID": "big", "members": ["z"]}))
        .await;
    assert_error(&f, 10014);
    // The flood: each send reaches 50; the budget left (500 less 150 for the group changes,
    // refilled at 10/s) allows 7 of them.
    let mut refused = 0;
    for i in 0..20 {
        let f = eve.send_group("big", &format!("flood-{i}"), "spam").await;
        match f["type"].as_str() {
            Some("sendOk") => {}
            _ => {
                assert_error(&f, 60018);
                refused += 1;
            }
        }
        // The well-behaved user is not refused.
        let g = good.send_text("friend", &format!("good-{i}"), "hi").await;
        assert_eq!(g["type"], "sendOk", "{g}");
    }
    assert!(refused >= 12, "only {refused} of 20 flood sends refused");
}

/// Before: 300002 for another sender's msgID (an existence oracle), and a squatted msgID made
/// its rightful sender's send fail. Now both sends are accepted, each under its own key.
#[tokio::test]
async fn another_senders_msg_id_is_neither_an_oracle_nor_a_squat() {
    let (_d, p) = start(&[]);
    let mut alice = Client::login(p.addr, "alice").await;
    let mut eve = Client::login(p.addr, "eve").await;
    let a = alice.send_text("bob", "m1", "hello").await;
    assert_eq!(a["message"]["msgID"], "m1");
    let e = eve.send_text("carol", "m1", "probe").await;
    assert_eq!(e["type"], "sendOk", "{e}");
    assert_ne!(e["message"]["msgID"], "m1");
    // Squat: eve takes the ID alice is about to use; alice's send still succeeds.
    assert_eq!(eve.send_text("bob", "m2", "squat").await["type"], "sendOk");
    let a2 = alice.send_text("bob", "m2", "mine").await;
    assert_eq!(a2["type"], "sendOk", "{a2}");
    let key = a2["message"]["msgID"].as_str().unwrap().to_string();
    let again = alice.send_text("bob", "m2", "mine").await;
    assert_eq!(again["seq"], 0, "{again}");
    assert_eq!(again["message"]["msgID"], key.as_str());
    let r = alice.revoke(&key).await;
    assert_eq!(r["type"], "revokeOk", "{r}");
}

/// Before: 10007 for an existing group or group message, 10010/20022/10030 for a missing one.
/// Now a non-member gets the answer for something that does not exist.
#[tokio::test]
async fn non_members_get_not_found_answers() {
    let (_d, p) = start(&[]);
    let mut owner = Client::login(p.addr, "owner").await;
    let mut eve = Client::login(p.addr, "eve").await;
    assert_eq!(owner.create_group("g", &[], &[]).await["type"], "groupOk");
    assert_eq!(owner.send_group("g", "gm1", "hi").await["type"], "sendOk");
    for gid in ["g", "nosuch"] {
        let f = eve
            .request(json!({"type": "history", "groupID": gid, "count": 10}))
            .await;
        assert_error(&f, 10010);
        let f = eve
            .request(json!({"type": "addGroupMembers", "groupID": gid, "members": ["eve"]}))
            .await;
        assert_error(&f, 10010);
        assert_error(&eve.send_group(gid, &format!("e-{gid}"), "x").await, 10010);
    }
    for id in ["gm1", "nosuch"] {
        assert_error(&eve.revoke(id).await, 20022);
        let f = eve
            .request(json!({"type": "revoke", "msgID": id, "groupID": "g"}))
            .await;
        assert_error(&f, 10030);
    }
}

/// Before: role 400 answered "the owner's role cannot be changed here" (about the target), and
/// a reqId reused for another change was answered as a retry of the first (and not applied).
#[tokio::test]
async fn role_400_and_req_id_reuse_are_refused() {
    let (_d, p) = start(&[]);
    let mut owner = Client::login(p.addr, "owner").await;
    assert_eq!(
        owner.create_group("g", &[], &["mem"]).await["type"],
        "groupOk"
    );
    let f = owner
        .request(
            json!({"type": "setGroupMemberRole", "groupID": "g", "userID": "mem", "role": 400}),
        )
        .await;
    assert_error(&f, 10004);
    let desc = f["desc"].as_str().unwrap();
    assert!(
        desc.contains("200") && desc.contains("owner transfer"),
        "{desc}"
    );
    let add =
        json!({"type": "addGroupMembers", "reqId": "same", "groupID": "g", "members": ["carol"]});
    assert_eq!(owner.request(add.clone()).await["type"], "groupOk");
    let retry = owner.request(add).await;
    assert_eq!(retry["seq"], 0, "{retry}");
    let other = owner
        .request(json!({"type": "removeGroupMembers", "reqId": "same", "groupID": "g", "members": ["carol"]}))
        .await;
    assert_error(&other, 300006);
}
