//! Every revoke rule and every error code, driven through real clients and the hub with a
//! manual clock (no sleeps).

use im_revoke_core::client::Done;
use im_revoke_core::model::{Elem, GroupRole, MessageStatus, RevokerRole};
use im_revoke_core::sim::{World, T0};
use im_revoke_core::store::{ConvMember, EventKind, EventRecord, Store, StoreError};
use im_revoke_core::{
    ClientFrame, Code, Config, ConvId, Group, Hub, MemStore, Message, ServerFrame,
};

fn code(r: Result<Done, im_revoke_core::ImError>) -> u32 {
    r.expect_err("expected an error").code.num()
}

fn world() -> World {
    World::new(Config::default())
}

#[test]
fn feature_scenario_c2c() {
    let mut w = world();
    let alice = w.device("alice");
    let alice2 = w.device("alice");
    let bob = w.device("bob");
    let m = w.send_c2c(alice, "bob", "hi bob");
    assert_eq!(w.new_notes(bob), vec![m.clone()]);
    assert_eq!(
        w.new_notes(alice2),
        vec![m.clone()],
        "sender's other device"
    );
    assert!(
        w.new_notes(alice).is_empty(),
        "the sending device is not told"
    );

    let done = w.revoke(alice, &m, "typo").unwrap();
    let Done::Revoked(v) = done else { panic!() };
    assert_eq!(v.status, MessageStatus::Revoked);
    for d in [bob, alice2] {
        assert_eq!(w.revoked_notes(d), vec![m.clone()]);
        let n = w.devices[d].notes.last().unwrap().clone();
        let im_revoke_core::client::Notification::MessageRevoked {
            revoker, reason, ..
        } = n
        else {
            panic!()
        };
        assert_eq!(revoker.user_id, "alice");
        assert_eq!(revoker.role, RevokerRole::Sender);
        assert_eq!(reason, "typo");
    }
    assert!(
        w.revoked_notes(alice).is_empty(),
        "the revoking device gets the answer only"
    );

    // Bob's history: revoked, without the text; alice's: revoked, with her text (re-edit).
    let now = w.now_f();
    let req = w.devices[bob]
        .client
        .history(Some("alice"), None, None, 20, now)
        .unwrap();
    let Done::Messages(list, done) = w.result(bob, &req).unwrap() else {
        panic!()
    };
    assert!(done);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].status, MessageStatus::Revoked);
    assert!(list[0].is_revoked);
    assert_eq!(list[0].revoke_reason.as_deref(), Some("typo"));
    assert_eq!(list[0].revoker_info.as_ref().unwrap().user_id, "alice");
    assert!(list[0].text_elem.is_none());
    assert_eq!(list[0].user_id.as_deref(), Some("alice"));
    let req = w.devices[alice]
        .client
        .history(Some("bob"), None, None, 20, now)
        .unwrap();
    let Done::Messages(list, _) = w.result(alice, &req).unwrap() else {
        panic!()
    };
    assert_eq!(list[0].text_elem.as_ref().unwrap().text, "hi bob");
    assert!(list[0].is_revoked);
}

#[test]
fn time_limit_edges_c2c_and_group() {
    let cfg = Config {
        revoke_time_limit_ms: 10_000,
        ..Config::default()
    };
    for limit_offset in [9_999u64, 10_000, 10_001] {
        let mut w = World::new(cfg.clone());
        let a = w.device("alice");
        let b = w.device("bob");
        // bob owns the group, so alice's window is the sender's one.
        w.create_group(b, "g1", &[], &["alice"]).unwrap();
        let m1 = w.send_c2c(a, "bob", "x");
        let m2 = w.send_group(a, "g1", "y");
        w.advance(limit_offset);
        // Go straight to the hub so the client's early check does not interfere.
        let s = w.devices[a].session.unwrap();
        for (m, want) in [
            (&m1, Code::C2cRevokeTimeLimit),
            (&m2, Code::GroupRevokeTimeLimit),
        ] {
            w.hub.handle(
                s,
                ClientFrame::Revoke {
                    req_id: format!("r{limit_offset}{m}"),
                    msg_id: m.clone(),
                    reason: String::new(),
                    group_id: None,
                },
                w.now,
            );
            let out = w.hub.commit().unwrap();
            let last = &out.iter().find(|o| o.session == s).unwrap().frame;
            if limit_offset <= 10_000 {
                assert!(
                    matches!(last, ServerFrame::RevokeOk { .. }),
                    "{limit_offset}: {last:?}"
                );
            } else {
                assert!(
                    matches!(last, ServerFrame::Error { code, .. } if *code == want),
                    "{limit_offset}: {last:?}"
                );
            }
        }
    }
}

#[test]
fn client_fails_early_with_6223_and_can_revoke_counts_down() {
    let cfg = Config {
        revoke_time_limit_ms: 10_000,
        ..Config::default()
    };
    let mut w = World::new(cfg);
    let a = w.device("alice");
    w.device("bob");
    let m = w.send_c2c(a, "bob", "x");
    let c = w.devices[a].client.can_revoke(&m, w.now_f());
    assert!(c.allowed);
    assert_eq!(c.remaining_ms, Some(10_000.0));
    w.advance(4_000);
    let c = w.devices[a].client.can_revoke(&m, w.now_f());
    assert_eq!(c.remaining_ms, Some(6_000.0));
    w.advance(6_001);
    let c = w.devices[a].client.can_revoke(&m, w.now_f());
    assert!(!c.allowed);
    assert_eq!(c.code, Some(20016));
    assert_eq!(code(w.revoke(a, &m, "")), 6223);
}

#[test]
fn client_clock_skew_does_not_matter() {
    // The device's clock is 5 minutes behind the server: canRevoke still counts from the
    // server's timestamp.
    let cfg = Config {
        revoke_time_limit_ms: 120_000,
        ..Config::default()
    };
    let mut w = World::new(cfg);
    let a = w.device("alice");
    w.device("bob");
    // Feed the client a login answer whose server time is 5 minutes ahead of its clock.
    let skew = 300_000.0;
    let mut c = im_revoke_core::client::Client::new("carol", 9).unwrap();
    c.handle(
        ServerFrame::LoginOk {
            v: 1,
            user_id: "carol".into(),
            server_time: w.now,
            head_seq: 0,
            limits: (&Config::default()).into(),
        },
        w.now_f() - skew,
    );
    assert!((c.server_now(w.now_f() - skew) - w.now_f()).abs() < 1.0);
    let m = w.send_c2c(a, "bob", "x");
    let ca = w.devices[a].client.can_revoke(&m, w.now_f());
    assert_eq!(ca.remaining_ms, Some(120_000.0));
}

#[test]
fn permissions_c2c_and_group_matrix() {
    let mut w = world();
    let owner = w.device("owner");
    let admin = w.device("admin");
    let admin2 = w.device("admin2");
    let mem = w.device("mem");
    let mem2 = w.device("mem2");
    let outsider = w.device("out");
    w.create_group(owner, "g", &["admin", "admin2"], &["mem", "mem2"])
        .unwrap();

    // C2C: only the sender.
    let m = w.send_c2c(mem, "mem2", "x");
    assert_eq!(code(w.revoke(mem2, &m, "")), 300001);
    // A stranger to the conversation does not learn it exists.
    assert_eq!(code(w.revoke(outsider, &m, "")), 20022);

    // Group: member cannot revoke another's; admin cannot revoke owner's or another admin's.
    let by_mem = w.send_group(mem, "g", "a");
    assert_eq!(code(w.revoke(mem2, &by_mem, "")), 10007);
    // An outsider does not learn that a group message exists either (issue 20, item 4).
    assert_eq!(code(w.revoke(outsider, &by_mem, "")), 20022);
    let by_owner = w.send_group(owner, "g", "b");
    assert_eq!(code(w.revoke(admin, &by_owner, "")), 10007);
    let by_admin2 = w.send_group(admin2, "g", "c");
    assert_eq!(code(w.revoke(admin, &by_admin2, "")), 10007);
    // Owner may revoke anyone's (even long after the sender's window: no admin limit).
    w.advance(10 * 60_000);
    let Done::Revoked(v) = w.revoke(owner, &by_admin2, "spam").unwrap() else {
        panic!()
    };
    assert_eq!(v.revoker_info.unwrap().role, RevokerRole::Owner);
    // Admin may revoke an ordinary member's.
    let Done::Revoked(v) = w.revoke(admin, &by_mem, "rude").unwrap() else {
        panic!()
    };
    assert_eq!(v.revoker_info.unwrap().role, RevokerRole::Admin);
    // Everyone in the group heard about both revokes exactly once (the revokers: the answer).
    for d in [owner, admin, admin2, mem, mem2] {
        let notes = w.revoked_notes(d);
        let expect = match d {
            x if x == owner => vec![by_mem.clone()],
            x if x == admin => vec![by_admin2.clone()],
            _ => vec![by_admin2.clone(), by_mem.clone()],
        };
        assert_eq!(notes, expect, "device {d}");
    }
    assert!(w.revoked_notes(outsider).is_empty());
}

#[test]
fn revoke_twice_unknown_and_idempotent_retry() {
    let mut w = world();
    let a = w.device("alice");
    w.device("bob");
    let m = w.send_c2c(a, "bob", "x");
    w.revoke(a, &m, "").unwrap();
    // The client knows: clear error at once.
    assert_eq!(code(w.revoke(a, &m, "")), 20023);
    // The server says the same to a client that does not know.
    let a2 = w.device("alice");
    assert_eq!(code(w.revoke(a2, &m, "")), 20023);
    // Unknown msgID: 20022, or 10030 when the client says it is a group message.
    assert_eq!(code(w.revoke(a, "nope", "")), 20022);
    let s = w.devices[a].session.unwrap();
    w.hub.handle(
        s,
        ClientFrame::Revoke {
            req_id: "r-x".into(),
            msg_id: "nope".into(),
            reason: String::new(),
            group_id: Some("g".into()),
        },
        w.now,
    );
    let out = w.hub.commit().unwrap();
    assert!(matches!(
        out[0].frame,
        ServerFrame::Error {
            code: Code::GroupRevokeMsgNotFound,
            ..
        }
    ));

    // A retry of the same revoke request is answered like the first, without a new event.
    let m2 = w.send_c2c(a, "bob", "y");
    let revoke = |req: &str| ClientFrame::Revoke {
        req_id: req.into(),
        msg_id: m2.clone(),
        reason: "r".into(),
        group_id: None,
    };
    w.hub.handle(s, revoke("same"), w.now);
    let first = w.hub.commit().unwrap();
    w.hub.handle(s, revoke("same"), w.now);
    let second = w.hub.commit().unwrap();
    assert_eq!(second.len(), 1, "no fan-out on a retry");
    match (
        &first.iter().find(|o| o.session == s).unwrap().frame,
        &second[0].frame,
    ) {
        (
            ServerFrame::RevokeOk {
                seq: s1,
                revoked: r1,
                ..
            },
            ServerFrame::RevokeOk {
                seq: s2,
                revoked: r2,
                ..
            },
        ) => {
            assert!(*s1 > 0);
            assert_eq!(*s2, 0);
            assert_eq!(r1, r2);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn revoke_while_send_in_flight_is_queued_behind_it() {
    let mut w = world();
    let a = w.device("alice");
    let b = w.device("bob");
    let now = w.now_f();
    let m = w.devices[a].client.create_text_message("oops");
    let send = w.devices[a]
        .client
        .send(&m.msg_id, Some("bob"), None, now)
        .unwrap();
    let c = w.devices[a].client.can_revoke(&m.msg_id, now);
    assert!(c.allowed, "a message being sent can be revoked");
    let rev = w.devices[a].client.revoke(&m.msg_id, "", now).unwrap();
    assert!(w.result(a, &send).is_ok());
    assert!(w.result(a, &rev).is_ok());
    assert_eq!(w.new_notes(b), vec![m.msg_id.clone()]);
    assert_eq!(w.revoked_notes(b), vec![m.msg_id.clone()]);
    // Order at bob: the message first, then its revoke.
    let kinds: Vec<bool> = w.devices[b]
        .notes
        .iter()
        .map(|n| matches!(n, im_revoke_core::client::Notification::NewMessage(_)))
        .collect();
    assert_eq!(kinds, vec![true, false]);
}

#[test]
fn revoke_while_offline_then_reconnect_mid_revoke() {
    let mut w = world();
    let a = w.device("alice");
    let b = w.device("bob");
    let m = w.send_c2c(a, "bob", "x");
    // Bob goes offline; alice revokes; her connection drops after the hub applied the revoke
    // but before the answer reached her.
    w.disconnect(b);
    let now = w.now_f();
    let req = w.devices[a].client.revoke(&m, "late", now).unwrap();
    w.step_up(a); // the revoke reaches the hub and is committed
    w.disconnect(a); // the answer is lost
    w.connect(a);
    w.connect(b);
    w.settle();
    assert!(
        w.result(a, &req).is_ok(),
        "resent idempotently, answered ok"
    );
    assert!(
        w.revoked_notes(a).is_empty(),
        "no listener call on the revoking device"
    );
    assert_eq!(
        w.revoked_notes(b),
        vec![m.clone()],
        "offline bob told exactly once"
    );
    let cur = w.devices[b].client.cursor().unwrap();
    assert_eq!(cur, w.hub.store_mut().user_head("bob").unwrap());
}

#[test]
fn send_dedup_and_conflicts() {
    let mut w = world();
    let a = w.device("alice");
    let b = w.device("bob");
    let m = w.send_c2c(a, "bob", "x");
    let sa = w.devices[a].session.unwrap();
    let sb = w.devices[b].session.unwrap();
    let send = |req: &str| ClientFrame::Send {
        req_id: req.into(),
        msg_id: m.clone(),
        receiver: Some("bob".into()),
        group_id: None,
        elem: Elem::Text { text: "x".into() },
        reply_to: None,
        cloud_custom_data: None,
    };
    w.hub.handle(sa, send("again"), w.now);
    let out = w.hub.commit().unwrap();
    assert_eq!(out.len(), 1);
    assert!(matches!(out[0].frame, ServerFrame::SendOk { seq: 0, .. }));
    // The sender's own msgID reused in another conversation: refused (it is their own).
    let mut to_carol = send("elsewhere");
    if let ClientFrame::Send { receiver, .. } = &mut to_carol {
        *receiver = Some("carol".into());
    }
    w.hub.handle(sa, to_carol, w.now);
    let out = w.hub.commit().unwrap();
    assert!(matches!(
        out[0].frame,
        ServerFrame::Error {
            code: Code::MsgIdConflict,
            ..
        }
    ));
    // Another sender's msgID (issue 20, item 3): msgIDs are unique per sender, so bob's send
    // is accepted as a new message under a key of its own, and learns nothing of alice's.
    w.hub.handle(sb, send("steal"), w.now);
    let out = w.hub.commit().unwrap();
    let ServerFrame::SendOk { seq, message, .. } = &out[0].frame else {
        panic!("expected sendOk, got {:?}", out[0].frame);
    };
    assert!(*seq > 0);
    assert_ne!(message.msg_id, m);
    assert_eq!(message.sender, "bob");
    let bobs = message.msg_id.clone();
    assert_eq!(w.hub.store().message_count(), 2);
    assert_eq!(
        w.hub.store_mut().message(&m).unwrap().unwrap().sender,
        "alice"
    );
    // bob's resend finds the same key: same answer, no new event.
    w.hub.handle(sb, send("steal-again"), w.now);
    let out = w.hub.commit().unwrap();
    assert!(
        matches!(&out[0].frame, ServerFrame::SendOk { seq: 0, message, .. } if message.msg_id == bobs)
    );
    assert_eq!(w.hub.store().message_count(), 2);
}

fn one(w: &mut World, s: u64, f: ClientFrame) -> ServerFrame {
    w.hub.handle(s, f, w.now);
    let out = w.hub.commit().unwrap();
    out.into_iter().find(|o| o.session == s).unwrap().frame
}

fn err_code(f: &ServerFrame) -> u32 {
    match f {
        ServerFrame::Error { code, .. } => code.num(),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn every_hub_error_code() {
    let mut w = World::new(Config {
        max_group_members: 3,
        ..Config::default()
    });
    let a = w.device("alice");
    w.device("bob");
    let s = w.devices[a].session.unwrap();
    let text = |t: &str| Elem::Text { text: t.into() };
    let send = |receiver: Option<&str>, group: Option<&str>, t: &str| ClientFrame::Send {
        req_id: "q1".into(),
        msg_id: format!("m{}", t.len()),
        receiver: receiver.map(str::to_string),
        group_id: group.map(str::to_string),
        elem: text(t),
        reply_to: None,
        cloud_custom_data: None,
    };
    // 6014 before login; 300004 login twice; 300003 wrong version.
    w.hub.handle(999, ClientFrame::Ping { t: 0.0 }, w.now);
    let out = w.hub.commit().unwrap();
    assert_eq!(err_code(&out[0].frame), 6014);
    w.hub.login(s, "alice", 1, w.now);
    assert_eq!(err_code(&w.hub.commit().unwrap()[0].frame), 300004);
    w.hub.login(1000, "zed", 2, w.now);
    assert_eq!(err_code(&w.hub.commit().unwrap()[0].frame), 300003);
    // 20003 invalid userID (login and receiver).
    w.hub.login(1001, "bad user", 1, w.now);
    assert_eq!(err_code(&w.hub.commit().unwrap()[0].frame), 20003);
    assert_eq!(
        err_code(&one(&mut w, s, send(Some("a b"), None, "x"))),
        20003
    );
    // 6017 neither/both of receiver and group; bad request id; empty text.
    assert_eq!(err_code(&one(&mut w, s, send(None, None, "x"))), 6017);
    assert_eq!(
        err_code(&one(&mut w, s, send(Some("bob"), Some("g"), "x"))),
        6017
    );
    assert_eq!(err_code(&one(&mut w, s, send(Some("bob"), None, ""))), 6017);
    let bad_req = ClientFrame::Sync {
        req_id: "has space".into(),
        after_seq: 0,
    };
    assert_eq!(err_code(&one(&mut w, s, bad_req)), 6017);
    // 80002 text over 12 KB (exactly 12 KB is fine).
    let big = "x".repeat(12 * 1024 + 1);
    assert_eq!(
        err_code(&one(&mut w, s, send(Some("bob"), None, &big))),
        80002
    );
    let fits = "x".repeat(12 * 1024);
    assert!(matches!(
        one(&mut w, s, send(Some("bob"), None, &fits)),
        ServerFrame::SendOk { .. }
    ));
    // Revoke reason too long: 6017.
    let long_reason = ClientFrame::Revoke {
        req_id: "q2".into(),
        msg_id: "m1".into(),
        reason: "r".repeat(300),
        group_id: None,
    };
    assert_eq!(err_code(&one(&mut w, s, long_reason)), 6017);
    // Groups: 10015 bad id, 10010 not found, 10021 in use, 10014 full, 10004 bad member,
    // 10013 already member, 10007 not allowed.
    let create = |id: &str, members: Vec<&str>| ClientFrame::CreateGroup {
        req_id: format!("q3{}", members.len()),
        group_id: id.into(),
        name: String::new(),
        admins: vec![],
        members: members.into_iter().map(str::to_string).collect(),
    };
    assert_eq!(err_code(&one(&mut w, s, create("", vec![]))), 10015);
    assert_eq!(
        err_code(&one(&mut w, s, send(None, Some("nog"), "x"))),
        10010
    );
    assert!(matches!(
        one(&mut w, s, create("g", vec!["bob"])),
        ServerFrame::GroupOk { .. }
    ));
    assert_eq!(err_code(&one(&mut w, s, create("g", vec![]))), 10021);
    assert_eq!(
        err_code(&one(&mut w, s, create("g2", vec!["b", "c", "d"]))),
        10014
    );
    assert_eq!(err_code(&one(&mut w, s, create("g3", vec!["a b"]))), 10004);
    let add = |m: &str| ClientFrame::AddGroupMembers {
        req_id: format!("q4{m}"),
        group_id: "g".into(),
        members: vec![m.into()],
    };
    assert_eq!(err_code(&one(&mut w, s, add("bob"))), 10013);
    assert!(matches!(
        one(&mut w, s, add("carol")),
        ServerFrame::GroupOk { .. }
    ));
    assert_eq!(err_code(&one(&mut w, s, add("dave"))), 10014);
    let b2 = w.device("bob");
    let sb = w.devices[b2].session.unwrap();
    assert_eq!(err_code(&one(&mut w, sb, add("erin"))), 10007);
    let promote = ClientFrame::SetGroupMemberRole {
        req_id: "q5".into(),
        group_id: "g".into(),
        user_id: "carol".into(),
        role: GroupRole::Admin,
    };
    assert_eq!(err_code(&one(&mut w, sb, promote.clone())), 10007);
    // A retried group change is answered like the first time, not applied twice.
    assert!(matches!(one(&mut w, s, promote.clone()), ServerFrame::GroupOk { seq, .. } if seq > 0));
    assert!(matches!(
        one(&mut w, s, promote),
        ServerFrame::GroupOk { seq: 0, .. }
    ));
    // History of a group one is not in: 10010, as for a group that does not exist (issue 20,
    // item 4). Another user's C2C history is not addressable:
    // history always means "my conversation with userID".
    let e = w.device("erin");
    let se = w.devices[e].session.unwrap();
    let hist = ClientFrame::History {
        req_id: "q6".into(),
        user_id: None,
        group_id: Some("g".into()),
        before_seq: None,
        count: 10,
    };
    assert_eq!(err_code(&one(&mut w, se, hist)), 10010);
    // findMessages never returns what the requester may not read.
    let find = ClientFrame::FindMessages {
        req_id: "q7".into(),
        msg_ids: vec!["m1".into(), "m12288".into()],
    };
    match one(&mut w, se, find) {
        ServerFrame::Messages { messages, .. } => assert!(messages.is_empty()),
        other => panic!("{other:?}"),
    }
}

/// A store that fails on demand: the hub answers 20005 and refuses to release anything.
struct Flaky {
    inner: MemStore,
    fail: bool,
}

impl Store for Flaky {
    fn message(&mut self, id: &str) -> Result<Option<Message>, StoreError> {
        self.inner.message(id)
    }
    fn put_message(&mut self, m: &Message) -> Result<(), StoreError> {
        if self.fail {
            return Err(StoreError("disk full".into()));
        }
        self.inner.put_message(m)
    }
    fn history(
        &mut self,
        c: &ConvId,
        b: Option<u64>,
        l: usize,
    ) -> Result<Vec<Message>, StoreError> {
        self.inner.history(c, b, l)
    }
    fn conv_head(&mut self, c: &ConvId) -> Result<u64, StoreError> {
        self.inner.conv_head(c)
    }
    fn append_event(&mut self, u: &str, k: EventKind, t: &str) -> Result<u64, StoreError> {
        self.inner.append_event(u, k, t)
    }
    fn events_after(&mut self, u: &str, a: u64, l: usize) -> Result<Vec<EventRecord>, StoreError> {
        self.inner.events_after(u, a, l)
    }
    fn user_head(&mut self, u: &str) -> Result<u64, StoreError> {
        self.inner.user_head(u)
    }
    fn group(&mut self, g: &str) -> Result<Option<Group>, StoreError> {
        self.inner.group(g)
    }
    fn put_group(&mut self, g: &Group) -> Result<(), StoreError> {
        self.inner.put_group(g)
    }
    fn groups_of(&mut self, u: &str) -> Result<Vec<Group>, StoreError> {
        self.inner.groups_of(u)
    }
    fn conversations_of(&mut self, u: &str) -> Result<Vec<ConvMember>, StoreError> {
        self.inner.conversations_of(u)
    }
    fn conversation_of(&mut self, u: &str, c: &ConvId) -> Result<Option<ConvMember>, StoreError> {
        self.inner.conversation_of(u, c)
    }
    fn put_conversation(&mut self, u: &str, m: &ConvMember) -> Result<(), StoreError> {
        self.inner.put_conversation(u, m)
    }
    fn unread_count(&mut self, c: &ConvId, r: &str, a: u64, u: u64) -> Result<u64, StoreError> {
        self.inner.unread_count(c, r, a, u)
    }
    fn commit(&mut self) -> Result<(), StoreError> {
        if self.fail {
            return Err(StoreError("disk full".into()));
        }
        self.inner.commit()
    }
}

#[test]
fn store_failure_is_fail_stop() {
    let mut hub = Hub::new(
        Config::default(),
        Flaky {
            inner: MemStore::new(),
            fail: false,
        },
    );
    hub.login(1, "alice", 1, T0);
    hub.login(2, "bob", 1, T0);
    hub.commit().unwrap();
    hub.store_mut().fail = true;
    hub.handle(
        1,
        ClientFrame::Send {
            req_id: "r".into(),
            msg_id: "m".into(),
            receiver: Some("bob".into()),
            group_id: None,
            elem: Elem::Text { text: "x".into() },
            reply_to: None,
            cloud_custom_data: None,
        },
        T0,
    );
    assert!(hub.poisoned().is_some());
    assert!(
        hub.commit().is_err(),
        "nothing is released after a failed write"
    );
    hub.handle(1, ClientFrame::Ping { t: 1.0 }, T0);
    assert!(hub.commit().is_err());
}

#[test]
fn group_commit_releases_frames_only_after_commit() {
    let mut w = world();
    let a = w.device("alice");
    w.device("bob");
    let s = w.devices[a].session.unwrap();
    let before = w.hub.store().commits;
    for i in 0..10 {
        w.hub.handle(
            s,
            ClientFrame::Send {
                req_id: format!("r{i}"),
                msg_id: format!("m{i}"),
                receiver: Some("bob".into()),
                group_id: None,
                elem: Elem::Text { text: "x".into() },
                reply_to: None,
                cloud_custom_data: None,
            },
            w.now,
        );
    }
    let out = w.hub.commit().unwrap();
    assert_eq!(
        w.hub.store().commits,
        before + 1,
        "one commit for the batch"
    );
    assert_eq!(out.len(), 20, "10 answers + 10 events for bob");
}

#[test]
fn removed_member_stops_hearing_and_cannot_revoke() {
    let mut w = world();
    let o = w.device("owner");
    let m = w.device("mem");
    w.create_group(o, "g", &[], &["mem"]).unwrap();
    let msg = w.send_group(m, "g", "x");
    let now = w.now_f();
    let req = w.devices[o].client.group_request(
        |req_id| ClientFrame::RemoveGroupMembers {
            req_id,
            group_id: "g".into(),
            members: vec!["mem".into()],
        },
        now,
    );
    w.result(o, &req).unwrap();
    assert_eq!(code(w.revoke(m, &msg, "")), 10007);
    let later = w.send_group(o, "g", "y");
    assert!(!w.new_notes(m).contains(&later));
    let g = w.devices[m].client.local_group("g").unwrap();
    assert!(!g.members.contains("mem"), "the removed member was told");
}

#[test]
fn history_pages_newest_first() {
    let mut w = world();
    let a = w.device("alice");
    w.device("bob");
    let ids: Vec<String> = (0..5)
        .map(|i| w.send_c2c(a, "bob", &format!("t{i}")))
        .collect();
    let now = w.now_f();
    let req = w.devices[a]
        .client
        .history(Some("bob"), None, None, 2, now)
        .unwrap();
    let Done::Messages(p1, done1) = w.result(a, &req).unwrap() else {
        panic!()
    };
    assert_eq!(
        p1.iter().map(|m| m.msg_id.clone()).collect::<Vec<_>>(),
        vec![ids[4].clone(), ids[3].clone()]
    );
    assert!(!done1);
    let req = w.devices[a]
        .client
        .history(Some("bob"), None, Some(p1[1].seq), 10, now)
        .unwrap();
    let Done::Messages(p2, done2) = w.result(a, &req).unwrap() else {
        panic!()
    };
    assert_eq!(p2.len(), 3);
    assert!(done2);
    assert_eq!(p2[2].msg_id, ids[0]);
}

#[test]
fn client_side_codes() {
    let mut w = world();
    let a = w.device("alice");
    let now = w.now_f();
    // 8001 too long (client check), 6017 bad arguments, 6015 same send twice.
    let big = w.devices[a]
        .client
        .create_text_message(&"x".repeat(12 * 1024 + 1));
    let e = w.devices[a]
        .client
        .send(&big.msg_id, Some("bob"), None, now)
        .unwrap_err();
    assert_eq!(e.code.num(), 8001);
    let m = w.devices[a].client.create_text_message("x");
    let e = w.devices[a]
        .client
        .send(&m.msg_id, None, None, now)
        .unwrap_err();
    assert_eq!(e.code.num(), 6017);
    w.devices[a]
        .client
        .send(&m.msg_id, Some("bob"), None, now)
        .unwrap();
    let e = w.devices[a]
        .client
        .send(&m.msg_id, Some("bob"), None, now)
        .unwrap_err();
    assert_eq!(e.code.num(), 6015);
    w.settle();
    // 9508: offline past the request timeout; 9520: connected but no answer in time.
    w.disconnect(a);
    let m2 = w.devices[a].client.create_text_message("y");
    let req = w.devices[a]
        .client
        .send(&m2.msg_id, Some("bob"), None, now)
        .unwrap();
    w.devices[a].client.expire(now + 30_001.0);
    w.settle();
    let dev = &mut w.devices[a];
    let (_, r) = dev.done.iter().find(|(id, _)| *id == req).unwrap();
    assert_eq!(r.as_ref().unwrap_err().code.num(), 9508);
    assert_eq!(
        dev.client.local_message(&m2.msg_id).unwrap().status,
        MessageStatus::Failed
    );
    w.connect(a);
    w.settle();
    let req = w.devices[a].client.find(vec!["x".into()], now).unwrap();
    w.devices[a].client.expire(now + 30_001.0);
    let done = w.devices[a].client.take_completions();
    assert_eq!(done[0].0, req);
    assert_eq!(done[0].1.as_ref().unwrap_err().code.num(), 9520);
}

#[test]
fn flood_beyond_the_user_rate_limit_gets_60018_and_spares_others() {
    let mut w = World::new(Config {
        user_rate_per_sec: 10,
        // Each of alice's new devices asks for its groups and its conversations at login: 4 of
        // the 9 tokens.
        user_burst: 9,
        ..Config::default()
    });
    let a = w.device("alice");
    let a2 = w.device("alice");
    let b = w.device("bob");
    let sync = |i: usize| ClientFrame::Sync {
        req_id: format!("f{i}"),
        after_seq: 0,
    };
    let (sa, sa2, sb) = (
        w.devices[a].session.unwrap(),
        w.devices[a2].session.unwrap(),
        w.devices[b].session.unwrap(),
    );
    let mut codes = Vec::new();
    for i in 0..8 {
        // Across both of alice's devices: the limit is per user.
        let s = if i % 2 == 0 { sa } else { sa2 };
        let f = one(&mut w, s, sync(i));
        codes.push(matches!(
            f,
            ServerFrame::Error {
                code: Code::FreqLimit,
                ..
            }
        ));
    }
    assert_eq!(codes, [false, false, false, false, false, true, true, true]);
    assert!(
        matches!(one(&mut w, sb, sync(99)), ServerFrame::SyncOk { .. }),
        "bob unaffected"
    );
    w.advance(100); // one token back
    assert!(matches!(
        one(&mut w, sa, sync(100)),
        ServerFrame::SyncOk { .. }
    ));
    assert!(matches!(
        one(&mut w, sa, sync(101)),
        ServerFrame::Error {
            code: Code::FreqLimit,
            ..
        }
    ));
}

#[test]
fn a_new_device_learns_its_groups_and_roles() {
    let mut w = world();
    let o = w.device("owner");
    let m = w.device("mem");
    w.create_group(o, "g", &["adm"], &["mem"]).unwrap();
    let msg = w.send_group(m, "g", "x");
    // The admin opens the app for the first time, long after the sender's window.
    w.advance(10 * 60_000);
    let adm = w.device("adm");
    let g = w.devices[adm]
        .client
        .local_group("g")
        .expect("learned at login");
    assert_eq!(g.role_of("adm"), Some(GroupRole::Admin));
    assert!(
        g.recent_req_ids.is_empty(),
        "internal ids are not shown to clients"
    );
    // So canRevoke knows the admin may revoke the member's message (no admin window).
    let now = w.now_f();
    let req = w.devices[adm].client.find(vec![msg.clone()], now).unwrap();
    w.result(adm, &req).unwrap();
    let c = w.devices[adm].client.can_revoke(&msg, now);
    assert!(c.allowed, "{c:?}");
    assert_eq!(c.remaining_ms, None);
    // And the explicit request answers with the list.
    let req = w.devices[m].client.joined_groups(now);
    let Done::Groups(list) = w.result(m, &req).unwrap() else {
        panic!()
    };
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].group_id, "g");
    let outsider = w.device("zed");
    let req = w.devices[outsider].client.joined_groups(now);
    let Done::Groups(list) = w.result(outsider, &req).unwrap() else {
        panic!()
    };
    assert!(list.is_empty());
}

#[test]
fn a_lagging_clock_estimate_never_stretches_the_window() {
    // The login answer was slow, so this device's estimate of the server clock lags by 1.5 s.
    // Its user's other device sends a message; canRevoke here must still never promise more
    // than the configured window.
    let cfg = Config {
        revoke_time_limit_ms: 5_000,
        ..Config::default()
    };
    let mut c = im_revoke_core::client::Client::new("alice", 3).unwrap();
    c.handle(
        ServerFrame::LoginOk {
            v: 1,
            user_id: "alice".into(),
            server_time: T0 - 1_500,
            head_seq: 0,
            limits: (&cfg).into(),
        },
        T0 as f64,
    );
    let msg = Message {
        msg_id: "from-laptop".into(),
        sender: "alice".into(),
        receiver: Some("bob".into()),
        group_id: None,
        time_ms: T0,
        seq: 1,
        elem: Some(Elem::Text { text: "x".into() }),
        revoke: None,
        reply_to: None,
        cloud_custom_data: None,
    };
    c.handle(
        ServerFrame::Event(im_revoke_core::Envelope {
            seq: 1,
            event: std::sync::Arc::new(im_revoke_core::Event::NewMessage { message: msg }),
        }),
        T0 as f64 + 100.0,
    );
    let r = c.can_revoke("from-laptop", T0 as f64 + 100.0);
    assert!(r.allowed);
    assert_eq!(r.remaining_ms, Some(5_000.0), "{r:?}");
}

/// The newest page of a conversation's history starts with what this device sent that the
/// server has not accepted yet (an outbox message while offline, as after a reload); older
/// pages and other conversations do not show it, and once it is accepted it appears once, by
/// its seq.
#[test]
fn newest_history_page_leads_with_the_unsent_messages() {
    let mut w = world();
    let alice = w.device("alice");
    let _bob = w.device("bob");
    let _carol = w.device("carol");
    w.devices[alice].client.keep_store();
    let one = w.send_c2c(alice, "bob", "one");
    let _other = w.send_c2c(alice, "carol", "for carol");
    w.disconnect(alice);
    let now = w.now_f();
    let two = w.devices[alice]
        .client
        .create_text_message("two, from the outbox");
    let _created_only = w.devices[alice].client.create_text_message("never sent");
    w.devices[alice]
        .client
        .send(&two.msg_id, Some("bob"), None, now)
        .unwrap();

    let page = |w: &mut World, before: Option<u64>| {
        let now = w.now_f();
        let req = w.devices[alice]
            .client
            .history(Some("bob"), None, before, 20, now)
            .unwrap();
        let Done::Messages(views, _) = w.result(alice, &req).unwrap() else {
            panic!("a page")
        };
        views
            .into_iter()
            .map(|v| (v.msg_id, v.status))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        page(&mut w, None),
        [
            (two.msg_id.clone(), MessageStatus::Sending),
            (one.clone(), MessageStatus::Sent)
        ],
        "offline, from the store: the outbox message first"
    );
    assert_eq!(page(&mut w, Some(2)), [(one.clone(), MessageStatus::Sent)]);

    w.connect(alice);
    w.settle();
    let sent = page(&mut w, None);
    assert_eq!(
        sent.iter().filter(|(id, _)| *id == two.msg_id).count(),
        1,
        "once accepted, once: {sent:?}"
    );
    assert_eq!(sent[0], (two.msg_id.clone(), MessageStatus::Sent));
}

/// A tab that only read the store while another tab wrote it takes over when the writer
/// closes: the writer's unsent message goes out once, from the new writer, with the writer's
/// request id; what the new writer writes holds its own cursor, the merged outbox and the
/// messages it holds; once the send is answered the outbox is empty again.
#[test]
fn a_reading_tab_takes_over_the_store_and_the_closed_tabs_outbox() {
    use im_revoke_core::persist::{self, StoredMeta, SCHEMA_VERSION};
    let mut w = world();
    let writer = w.device("alice");
    let reader = w.device("alice");
    let bob = w.device("bob");
    w.devices[writer].client.keep_store();
    let seen = w.send_c2c(bob, "alice", "hello both tabs");
    w.settle();
    // The writer goes offline with a message typed, and closes: what its store holds.
    w.disconnect(writer);
    let now = w.now_f();
    let typed = w.devices[writer]
        .client
        .create_text_message("typed just before the tab closed");
    w.devices[writer]
        .client
        .send(&typed.msg_id, Some("bob"), None, now)
        .unwrap();
    let (r, outbox) = read_back_store(&mut w, writer, "alice");
    assert_eq!(outbox.len(), 1);

    let d = w.devices[reader].client.take_over_store(r);
    assert_eq!(d.cursor, w.devices[reader].client.cursor());
    assert!(d.cursor.is_some());
    assert_eq!(
        d.outbox.as_deref(),
        Some(&outbox[..]),
        "the same request id"
    );
    let ids: Vec<&str> = d.put.iter().map(|r| r.id.as_str()).collect();
    assert!(ids.contains(&seen.as_str()), "{ids:?}");
    assert!(ids.contains(&typed.msg_id.as_str()), "{ids:?}");
    w.settle();
    assert_eq!(
        w.new_notes(bob)
            .iter()
            .filter(|id| **id == typed.msg_id)
            .count(),
        1,
        "bob gets the closed tab's message once"
    );
    let after = w.devices[reader].client.take_persist().expect("a delta");
    assert_eq!(
        after.outbox,
        Some(Vec::new()),
        "answered: out of the outbox"
    );
    // A second take-over of the same store sends nothing twice.
    let again = persist::restore(
        "alice",
        Some(StoredMeta {
            schema: Some(f64::from(SCHEMA_VERSION)),
            user: Some("alice".into()),
            cursor: None,
            outbox: Vec::new(),
        }),
        &[],
    )
    .unwrap();
    let d2 = w.devices[reader].client.take_over_store(again);
    assert_eq!(d2.outbox, Some(Vec::new()));
}

/// A revoke queued while offline and kept in the store has no caller after a reload: once the
/// server answers it, the reloaded device's listeners hear `onRecvMessageRevoked` for it, once
/// (the event that follows is not told again), and the other side hears it once too.
#[test]
fn a_revoke_queued_before_a_reload_is_told_on_the_reloaded_device_once() {
    let mut w = world();
    let tab = w.device("alice");
    let bob = w.device("bob");
    w.devices[tab].client.keep_store();
    let sent = w.send_c2c(tab, "bob", "sent, then revoked while offline");
    w.settle();
    w.disconnect(tab);
    let now = w.now_f();
    w.devices[tab]
        .client
        .revoke(&sent, "queued", now)
        .expect("queued while offline");
    let (r, outbox) = read_back_store(&mut w, tab, "alice");
    assert_eq!(outbox.len(), 1, "the queued revoke is in the outbox");

    // The page reloads: a new client of the same device, restored before its first login.
    let reloaded = w.add_device("alice", 0.0);
    w.devices[reloaded].session = None;
    w.devices[reloaded].up.clear();
    w.devices[reloaded].client.restore(r);
    w.connect(reloaded);
    w.settle();
    assert_eq!(
        w.revoked_notes(reloaded),
        std::slice::from_ref(&sent),
        "the reloaded page hears its own queued revoke once"
    );
    assert_eq!(
        w.revoked_notes(bob),
        std::slice::from_ref(&sent),
        "bob hears it once"
    );
    // A later sync from the start tells nothing again.
    w.disconnect(reloaded);
    w.connect(reloaded);
    w.settle();
    assert_eq!(w.revoked_notes(reloaded), [sent]);
}

/// What device `d`'s store holds now (its pending delta, as IndexedDB keeps it: records newest
/// first), read back as a page load reads it; and the outbox it wrote.
fn read_back_store(
    w: &mut World,
    d: usize,
    user: &str,
) -> (
    im_revoke_core::persist::Restored,
    Vec<im_revoke_core::persist::OutboxEntry>,
) {
    use im_revoke_core::persist::{self, StoredMeta, SCHEMA_VERSION};
    let stored = w.devices[d].client.take_persist().expect("a delta");
    let outbox = stored.outbox.clone().expect("the outbox");
    let mut put = stored.put.clone();
    put.sort_by_key(|r| std::cmp::Reverse(r.time_ms));
    let records: Vec<String> = put.into_iter().map(|r| r.text).collect();
    let meta = StoredMeta {
        schema: Some(f64::from(SCHEMA_VERSION)),
        user: Some(user.into()),
        cursor: stored.cursor.map(|c| c as f64),
        outbox: outbox.clone(),
    };
    let r = persist::restore(user, Some(meta), &records).expect("a store that checks");
    (r, outbox)
}
