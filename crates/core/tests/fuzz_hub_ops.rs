//! Regressions found by the `hub_ops` fuzz target (`fuzz/`, `bash scripts/fuzz.sh`).
//!
//! Each finding appears twice: as the crash input itself, replayed through the very harness
//! the fuzzer runs (`fuzz/harness/hub_ops/`, included below; needs the `json` feature, which
//! `cargo test --workspace` enables), and as a scenario written against the client API with
//! the simulated world of `im_revoke_core::sim`, so that it reads without the harness.

use im_revoke_core::client::Done;
use im_revoke_core::model::{GroupRole, MessageStatus};
use im_revoke_core::sim::World;
use im_revoke_core::{ClientFrame, Config};

/// A device that revokes, by msgID, a message it has not received yet, while it is still
/// catching up after a reconnect: the `revokeOk` arrives before the `newMessage` event still
/// waiting in its gap buffer. The client applied the revoke at once (to nothing: the message
/// was not cached), then applied the older event in order, and ended up showing its own
/// acknowledged revoke as a sent message (status 2), forever.
#[test]
fn own_revoke_is_not_undone_by_an_older_event_waiting_in_the_gap() {
    let mut w = World::new(Config {
        sync_page: 1,
        ..Config::default()
    });
    let a0 = w.device("alice");
    let a1 = w.device("alice");
    w.device("bob");
    // a1 misses two events, so it is still catching up when the next one arrives live.
    w.disconnect(a1);
    w.send_c2c(a0, "bob", "one");
    w.send_c2c(a0, "bob", "two");
    let now = w.now_f();
    let m = w.devices[a0].client.create_text_message("three");
    w.devices[a0]
        .client
        .send(&m.msg_id, Some("bob"), None, now)
        .unwrap();
    let req = w.devices[a1].client.revoke(&m.msg_id, "", now).unwrap();
    w.connect(a1);
    w.step_up(a1); // login
    w.step_down(a1); // loginOk: a1 asks for seq 1.. and resends the revoke
    w.step_up(a0); // the send: seq 3 reaches a1 live, ahead of its sync
    w.step_up(a1); // sync: seq 1 of 3
    w.step_up(a1); // the revoke: acknowledged with seq 4
    w.settle();

    assert!(matches!(w.result(a1, &req), Ok(Done::Revoked(_))));
    let stored = w.hub.store_mut();
    let stored = im_revoke_core::Store::message(stored, &m.msg_id)
        .unwrap()
        .unwrap();
    assert!(stored.revoke.is_some());
    for d in [a0, a1] {
        let v = w.devices[d].client.local_message(&m.msg_id).unwrap();
        assert_eq!(v.status, MessageStatus::Revoked, "device {d}");
        assert!(v.is_revoked, "device {d}");
    }
    assert_eq!(w.devices[a1].client.cursor(), w.devices[a0].client.cursor());
}

/// The same gap, with a group change: the device's own `groupOk` (newer) was applied at
/// once, then an older `groupChanged` event waiting in the gap overwrote it, so the device
/// kept a stale group (here: not knowing that bob is an admin now).
#[test]
fn own_group_change_is_not_undone_by_an_older_event_waiting_in_the_gap() {
    let mut w = World::new(Config {
        sync_page: 1,
        ..Config::default()
    });
    let a0 = w.device("alice");
    let a1 = w.device("alice");
    w.device("bob");
    w.create_group(a0, "g", &[], &["bob"]).unwrap();
    w.disconnect(a1);
    for who in ["carol", "dave"] {
        let now = w.now_f();
        let req = w.devices[a0].client.group_request(
            |req_id| ClientFrame::AddGroupMembers {
                req_id,
                group_id: "g".into(),
                members: vec![who.into()],
            },
            now,
        );
        w.result(a0, &req).unwrap();
    }
    let now = w.now_f();
    let req = w.devices[a1].client.group_request(
        |req_id| ClientFrame::SetGroupMemberRole {
            req_id,
            group_id: "g".into(),
            user_id: "bob".into(),
            role: GroupRole::Admin,
        },
        now,
    );
    w.connect(a1);
    w.step_up(a1); // login
    w.step_down(a1); // loginOk: sync + the resent role change
    w.devices[a0].client.group_request(
        |req_id| ClientFrame::AddGroupMembers {
            req_id,
            group_id: "g".into(),
            members: vec!["erin".into()],
        },
        now,
    );
    w.step_up(a0); // erin joins: reaches a1 live, ahead of its sync
    w.step_up(a1); // sync
    w.step_up(a1); // the role change: acknowledged
    w.settle();

    assert!(matches!(w.result(a1, &req), Ok(Done::Group(_))));
    let stored = im_revoke_core::Store::group(w.hub.store_mut(), "g")
        .unwrap()
        .unwrap();
    assert!(stored.admins.contains("bob"));
    for d in [a0, a1] {
        let g = w.devices[d].client.local_group("g").unwrap();
        assert_eq!(g.admins, stored.admins, "device {d}");
        assert_eq!(g.members, stored.members, "device {d}");
    }
}

/// A device catching up after a reconnect while its user is over the rate limit: its `sync`
/// is refused with 60018, and the client dropped it without asking again, so the device
/// stayed behind (missing messages and revokes) until some later live event or reconnect.
/// It now retries from `expire`, `SYNC_RETRY_MS` later (`next_deadline` says when).
#[test]
fn refused_catch_up_is_retried() {
    let mut w = World::new(Config {
        user_rate_per_sec: 5,
        // Each new device asks for its groups and its conversations at login (4), then send,
        // revoke, send (3).
        user_burst: 7,
        ..Config::default()
    });
    let a0 = w.device("alice");
    let a1 = w.device("alice");
    let b = w.device("bob");
    w.disconnect(a1);
    let m = w.send_c2c(a0, "bob", "one");
    w.revoke(a0, &m, "typo").unwrap();
    w.send_c2c(a0, "bob", "two"); // alice's bucket is empty now
    w.connect(a1);
    w.settle();
    let head = w.devices[a0].client.cursor();
    assert_eq!(
        w.devices[a1].client.cursor(),
        Some(0),
        "the catch-up was refused"
    );
    let now = w.now_f();
    let retry_at = now + im_revoke_core::client::SYNC_RETRY_MS;
    assert_eq!(w.devices[a1].client.next_deadline(), Some(retry_at));

    w.advance(im_revoke_core::client::SYNC_RETRY_MS as u64);
    let now = w.now_f();
    w.devices[a1].client.expire(now);
    w.settle();
    assert_eq!(w.devices[a1].client.cursor(), head, "caught up");
    assert_eq!(w.revoked_notes(a1), vec![m.clone()]);
    assert_eq!(w.new_notes(a1).len(), 2);
    assert_eq!(w.devices[a1].client.next_deadline(), None);
    assert_eq!(w.revoked_notes(b), vec![m]);
}

/// A device that sent and revoked a message, lost both answers to a disconnect and resent
/// both after reconnecting: the retried revoke is answered first (with seq 0, "already
/// applied"), and its event arrives after, on a later sync page. The client took the event
/// for someone else's revoke and called the listener too: told twice.
#[test]
fn retried_own_revoke_is_told_once() {
    let mut w = World::new(Config {
        sync_page: 1,
        ..Config::default()
    });
    let a0 = w.device("alice");
    let b = w.device("bob");
    let now = w.now_f();
    let m = w.devices[a0].client.create_text_message("oops");
    w.devices[a0]
        .client
        .send(&m.msg_id, Some("bob"), None, now)
        .unwrap();
    let req = w.devices[a0].client.revoke(&m.msg_id, "typo", now).unwrap();
    w.step_up(a0); // the send, applied
    w.step_up(a0); // the revoke, applied
    w.disconnect(a0); // both answers lost
    w.connect(a0);
    w.settle();
    assert!(matches!(w.result(a0, &req), Ok(Done::Revoked(_))));
    assert!(
        w.revoked_notes(a0).is_empty(),
        "the answer told it; the listener must not"
    );
    assert_eq!(
        w.devices[a0]
            .client
            .local_message(&m.msg_id)
            .unwrap()
            .status,
        MessageStatus::Revoked
    );
    assert_eq!(w.revoked_notes(b), vec![m.msg_id]);
}

/// The fuzz harness itself (its file lives with the fuzz targets).
#[cfg(feature = "json")]
#[path = "../../../fuzz/harness/hub_ops/mod.rs"]
mod harness;

/// The inputs themselves, through the fuzz harness.
#[cfg(feature = "json")]
mod replay {
    use super::harness;

    /// `hub_ops` crash (minimised to 35 bytes): u0's second device, offline, revokes a message
    /// its first device has not sent yet, reconnects and catches up one event per sync page.
    /// Failed with "device 1 shows 0000000000000001-5: left: Sent, right: Revoked".
    const OWN_REVOKE_IN_GAP: &[u8] = b"\x80\x00\xef\x38\xd8\x30\x00\x30\x30\x30\xef\x65\xef\xef\xef\xef\x38\xd8\x30\x30\x30\x30\x30\x30\x30\x34\x37\x36\x34\x36\xd1\xd1\xd1\xd1\xd8";

    #[test]
    fn own_revoke_in_gap() {
        harness::run(&harness::Input::decode(OWN_REVOKE_IN_GAP));
    }

    /// `hub_ops` crash (minimised to 17 bytes): a 5/s rate limit with a burst of 3; u0's raw
    /// session sends and revokes while u0's second device is offline; the device reconnects,
    /// its catch-up is refused with 60018 and never retried. Failed with "device 1 cursor:
    /// left: Some(1), right: Some(3)".
    const REFUSED_SYNC: &[u8] =
        b"\xac\xac\xac\xac\xac\xff\xff\xa6\x00\x3b\x00\x00\x00\x00\xf6\xa9\xa9";

    /// `hub_ops` crash (minimised to 23 bytes): device 0 sends and revokes, both reach the hub,
    /// then it disconnects; after reconnecting (one event per sync page) it resends both.
    /// Failed with "device 0 was told of revoke 0000000000000001-2 2 times".
    const RETRIED_REVOKE_TOLD_TWICE: &[u8] = b"\xd8\x31\xef\x00\x00\x00\x00\x30\x30\x30\x30\x30\x38\x30\x30\x31\x20\x30\x30\x38\x30\x16\x16";

    #[test]
    fn retried_revoke_told_twice() {
        harness::run(&harness::Input::decode(RETRIED_REVOKE_TOLD_TWICE));
    }

    #[test]
    fn refused_sync() {
        harness::run(&harness::Input::decode(REFUSED_SYNC));
    }

    /// Every seed of `fuzz/corpus/hub_ops/` (written by `fuzz/harness/hub_ops_seeds.py`) runs
    /// clean through the harness.
    #[test]
    fn corpus_seeds() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/hub_ops");
        let mut seeds: Vec<_> = std::fs::read_dir(dir)
            .expect("the hub_ops corpus")
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "bin"))
            .collect();
        seeds.sort();
        assert!(!seeds.is_empty(), "no seeds in {dir}");
        for seed in seeds {
            let bytes = std::fs::read(&seed).unwrap();
            eprintln!("replaying {}", seed.display());
            harness::run(&harness::Input::decode(&bytes));
        }
    }
}
