//! Property tests: random interleavings of sends, revokes, group changes, partial deliveries,
//! disconnects and reconnects across three users with two devices each. After everyone
//! reconnects and the network settles:
//! - every device applied its user's whole event log, in order, without gaps;
//! - every device was told of each revoke in its user's log exactly once (a listener call, or
//!   the answer to its own revoke request), and of nothing else;
//! - likewise for new messages;
//! - every acknowledged revoke holds in the store, and every device that caches the message
//!   shows it revoked — so all members end with the same set of revoked messages.

use im_revoke_core::client::{Done, Notification};
use im_revoke_core::model::{GroupRole, MessageStatus};
use im_revoke_core::sim::World;
use im_revoke_core::store::{EventKind, Store};
use im_revoke_core::{ClientFrame, Config};
use proptest::prelude::*;
use std::collections::{BTreeSet, HashMap};

const USERS: [&str; 3] = ["u0", "u1", "u2"];
const DEVICES: usize = 6; // device d belongs to USERS[d / 2]

#[derive(Clone, Debug)]
enum Op {
    SendC2c(usize, usize),
    SendGroup(usize),
    Revoke(usize, usize),
    Disconnect(usize),
    Connect(usize),
    Up(usize),
    Down(usize),
    Settle,
    Advance(u64),
    AddMember(usize),
    RemoveMember(usize),
    SetAdmin(usize, bool),
}

fn op() -> impl Strategy<Value = Op> {
    let d = 0..DEVICES;
    prop_oneof![
        4 => (d.clone(), 0..3usize).prop_map(|(d, u)| Op::SendC2c(d, u)),
        3 => d.clone().prop_map(Op::SendGroup),
        5 => (d.clone(), 0..64usize).prop_map(|(d, k)| Op::Revoke(d, k)),
        2 => d.clone().prop_map(Op::Disconnect),
        2 => d.clone().prop_map(Op::Connect),
        6 => d.clone().prop_map(Op::Up),
        6 => d.clone().prop_map(Op::Down),
        1 => Just(Op::Settle),
        2 => (0..90_000u64).prop_map(Op::Advance),
        1 => (1..3usize).prop_map(Op::AddMember),
        1 => (1..3usize).prop_map(Op::RemoveMember),
        1 => (1..3usize, any::<bool>()).prop_map(|(u, a)| Op::SetAdmin(u, a)),
    ]
}

fn run(ops: Vec<Op>) {
    let mut w = World::new(Config::default());
    for d in 0..DEVICES {
        w.device(USERS[d / 2]);
    }
    w.create_group(0, "g", &["u1"], &["u2"]).unwrap();
    let mut msgs: Vec<String> = Vec::new();
    let mut revoke_reqs: Vec<(usize, String, String)> = Vec::new(); // device, req, msg
    let mut send_reqs: Vec<(usize, String, String)> = Vec::new();

    for op in ops {
        let now = w.now_f();
        match op {
            Op::SendC2c(d, u) => {
                let m = w.devices[d].client.create_text_message("hello");
                if let Ok(req) = w.devices[d]
                    .client
                    .send(&m.msg_id, Some(USERS[u]), None, now)
                {
                    send_reqs.push((d, req, m.msg_id.clone()));
                    msgs.push(m.msg_id);
                }
            }
            Op::SendGroup(d) => {
                let m = w.devices[d].client.create_text_message("hi all");
                if let Ok(req) = w.devices[d].client.send(&m.msg_id, None, Some("g"), now) {
                    send_reqs.push((d, req, m.msg_id.clone()));
                    msgs.push(m.msg_id);
                }
            }
            Op::Revoke(d, k) => {
                if !msgs.is_empty() {
                    let m = msgs[k % msgs.len()].clone();
                    if let Ok(req) = w.devices[d].client.revoke(&m, "r", now) {
                        revoke_reqs.push((d, req, m));
                    }
                }
            }
            Op::Disconnect(d) => w.disconnect(d),
            Op::Connect(d) => w.connect(d),
            Op::Up(d) => {
                w.step_up(d);
            }
            Op::Down(d) => {
                w.step_down(d);
            }
            Op::Settle => w.settle(),
            Op::Advance(ms) => w.advance(ms),
            Op::AddMember(u) => {
                w.devices[0].client.group_request(
                    |req_id| ClientFrame::AddGroupMembers {
                        req_id,
                        group_id: "g".into(),
                        members: vec![USERS[u].into()],
                    },
                    now,
                );
            }
            Op::RemoveMember(u) => {
                w.devices[0].client.group_request(
                    |req_id| ClientFrame::RemoveGroupMembers {
                        req_id,
                        group_id: "g".into(),
                        members: vec![USERS[u].into()],
                    },
                    now,
                );
            }
            Op::SetAdmin(u, admin) => {
                w.devices[0].client.group_request(
                    |req_id| ClientFrame::SetGroupMemberRole {
                        req_id,
                        group_id: "g".into(),
                        user_id: USERS[u].into(),
                        role: if admin {
                            GroupRole::Admin
                        } else {
                            GroupRole::Member
                        },
                    },
                    now,
                );
            }
        }
    }
    for d in 0..DEVICES {
        w.connect(d);
    }
    w.settle();

    // Outcome of every revoke and send request, per device.
    let ok = |w: &World, d: usize, req: &str| {
        w.devices[d]
            .done
            .iter()
            .find(|(id, _)| id == req)
            .map(|(_, r)| r.is_ok())
    };
    for (d, req, _) in revoke_reqs.iter().chain(send_reqs.iter()) {
        assert!(
            ok(&w, *d, req).is_some(),
            "request {req} of device {d} never settled"
        );
    }

    for d in 0..DEVICES {
        let user = USERS[d / 2];
        let head = w.hub.store_mut().user_head(user).unwrap();
        assert_eq!(
            w.devices[d].client.cursor(),
            Some(head),
            "device {d} cursor"
        );
        let log = w.hub.store_mut().events_after(user, 0, usize::MAX).unwrap();
        for (i, rec) in log.iter().enumerate() {
            assert_eq!(rec.seq, i as u64 + 1, "log of {user} has a gap");
        }
        let in_log = |kind: EventKind| -> BTreeSet<String> {
            log.iter()
                .filter(|r| r.kind == kind)
                .map(|r| r.target.clone())
                .collect()
        };

        // Revokes: listener calls + own successful revoke answers, each exactly once.
        let mut told: HashMap<String, usize> = HashMap::new();
        let mut new_told: HashMap<String, usize> = HashMap::new();
        for n in &w.devices[d].notes {
            match n {
                Notification::MessageRevoked { msg_id, .. } => {
                    *told.entry(msg_id.clone()).or_default() += 1
                }
                Notification::NewMessage(m) => *new_told.entry(m.msg_id.clone()).or_default() += 1,
                Notification::GroupChanged(_)
                | Notification::MessageModified(_)
                | Notification::NewConversation(_)
                | Notification::ConversationChanged(_)
                | Notification::TotalUnreadChanged(_) => {}
            }
        }
        for (rd, req, m) in &revoke_reqs {
            if *rd == d && ok(&w, d, req) == Some(true) {
                *told.entry(m.clone()).or_default() += 1;
            }
        }
        for (sd, req, m) in &send_reqs {
            if *sd == d && ok(&w, d, req) == Some(true) {
                *new_told.entry(m.clone()).or_default() += 1;
            }
        }
        let want_revoked = in_log(EventKind::MessageRevoked);
        for (m, n) in &told {
            assert_eq!(*n, 1, "device {d} was told of revoke {m} {n} times");
        }
        assert_eq!(
            told.keys().cloned().collect::<BTreeSet<_>>(),
            want_revoked,
            "device {d} revokes"
        );
        for (m, n) in &new_told {
            assert_eq!(*n, 1, "device {d} was told of message {m} {n} times");
        }
        assert_eq!(
            new_told.keys().cloned().collect::<BTreeSet<_>>(),
            in_log(EventKind::NewMessage),
            "device {d} new messages"
        );
        // Every revoked message this device caches shows as revoked.
        for m in &want_revoked {
            if let Some(v) = w.devices[d].client.local_message(m) {
                assert_eq!(v.status, MessageStatus::Revoked, "device {d} shows {m}");
                assert!(v.is_revoked);
            }
        }
    }
    // No acknowledged revoke is missing.
    for (d, req, m) in &revoke_reqs {
        if let Some((_, Ok(Done::Revoked(_)))) = w.devices[*d].done.iter().find(|(id, _)| id == req)
        {
            let stored = w.hub.store_mut().message(m).unwrap().unwrap();
            assert!(
                stored.revoke.is_some(),
                "acknowledged revoke of {m} missing"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
    #[test]
    fn exactly_once_under_random_interleavings(ops in prop::collection::vec(op(), 1..80)) {
        run(ops);
    }
}
