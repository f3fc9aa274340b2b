//! The rules of issue 20's core items, on the hub alone with a manual clock: group size and
//! per-call caps, the fan-out budget, no existence oracles for non-members, msgIDs unique per
//! sender, role 400 and reqIds reused for another request.

use im_revoke_core::client::Client;
use im_revoke_core::hub::derived_msg_id;
use im_revoke_core::model::{check_msg_id, Elem, GroupRole};
use im_revoke_core::store::Store;
use im_revoke_core::{ClientFrame, Code, Config, Hub, MemStore, ServerFrame};

const T0: u64 = 1_700_000_000_000;

struct H {
    hub: Hub<MemStore>,
    now: u64,
    next: u64,
    req: u64,
}

impl H {
    fn new(cfg: Config) -> H {
        H {
            hub: Hub::new(cfg, MemStore::new()),
            now: T0,
            next: 0,
            req: 0,
        }
    }

    fn login(&mut self, user: &str) -> u64 {
        self.next += 1;
        assert!(self.hub.login(self.next, user, 1, self.now));
        self.hub.commit().unwrap();
        self.next
    }

    fn req(&mut self) -> String {
        self.req += 1;
        format!("q{}", self.req)
    }

    /// Handles `f` for session `s` and returns the answer to `s`.
    fn ask(&mut self, s: u64, f: ClientFrame) -> ServerFrame {
        self.hub.handle(s, f, self.now);
        let out = self.hub.commit().unwrap();
        out.into_iter()
            .find(|o| o.session == s && !matches!(o.frame, ServerFrame::Event(_)))
            .expect("an answer")
            .frame
    }

    fn create(&mut self, s: u64, gid: &str, members: &[String]) -> ServerFrame {
        let req_id = self.req();
        self.ask(
            s,
            ClientFrame::CreateGroup {
                req_id,
                group_id: gid.into(),
                name: String::new(),
                admins: vec![],
                members: members.to_vec(),
            },
        )
    }

    fn add(&mut self, s: u64, gid: &str, members: &[String]) -> ServerFrame {
        let req_id = self.req();
        self.ask(
            s,
            ClientFrame::AddGroupMembers {
                req_id,
                group_id: gid.into(),
                members: members.to_vec(),
            },
        )
    }

    fn send(&mut self, s: u64, msg_id: &str, to: Option<&str>, gid: Option<&str>) -> ServerFrame {
        let req_id = self.req();
        self.ask(
            s,
            ClientFrame::Send {
                req_id,
                msg_id: msg_id.into(),
                receiver: to.map(str::to_string),
                group_id: gid.map(str::to_string),
                elem: Elem::Text { text: "x".into() },
                reply_to: None,
                cloud_custom_data: None,
            },
        )
    }

    fn revoke(&mut self, s: u64, msg_id: &str, hint: Option<&str>) -> ServerFrame {
        let req_id = self.req();
        self.ask(
            s,
            ClientFrame::Revoke {
                req_id,
                msg_id: msg_id.into(),
                reason: String::new(),
                group_id: hint.map(str::to_string),
            },
        )
    }
}

#[track_caller]
fn code(f: &ServerFrame) -> u32 {
    match f {
        ServerFrame::Error { code, .. } => code.num(),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[track_caller]
fn desc(f: &ServerFrame) -> String {
    match f {
        ServerFrame::Error { desc, .. } => desc.clone(),
        other => panic!("expected an error, got {other:?}"),
    }
}

fn users(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

#[test]
fn default_caps_are_tencents() {
    let c = Config::default();
    assert_eq!(c.max_group_members, 6_000);
    assert_eq!(c.max_members_per_call, 500);
    assert!(c.user_fanout_rate_per_sec > 0 && c.user_fanout_burst as usize >= c.max_group_members);
}

#[test]
fn group_size_is_capped_at_create_and_at_add() {
    let mut h = H::new(Config {
        max_group_members: 10,
        max_members_per_call: 100,
        ..Config::default()
    });
    let o = h.login("owner");
    // 10 with the owner: full but allowed; 11: 10014, nothing made.
    assert_eq!(code(&h.create(o, "big", &users("u", 10))), 10014);
    assert!(matches!(
        h.create(o, "g", &users("u", 9)),
        ServerFrame::GroupOk { .. }
    ));
    assert_eq!(code(&h.add(o, "g", &users("v", 1))), 10014);
    let small = &users("w", 3);
    assert!(matches!(
        h.create(o, "g2", small),
        ServerFrame::GroupOk { .. }
    ));
    assert_eq!(code(&h.add(o, "g2", &users("v", 7))), 10014);
    assert!(
        matches!(h.add(o, "g2", &users("v", 6)), ServerFrame::GroupOk { group, .. } if group.members.len() == 10)
    );
}

#[test]
fn members_per_call_are_capped() {
    let mut h = H::new(Config {
        max_members_per_call: 5,
        ..Config::default()
    });
    let o = h.login("owner");
    let e = h.create(o, "g", &users("u", 6));
    assert_eq!(code(&e), 10004);
    assert!(desc(&e).contains("several calls"), "{e:?}");
    assert!(matches!(
        h.create(o, "g", &users("u", 5)),
        ServerFrame::GroupOk { .. }
    ));
    assert_eq!(code(&h.add(o, "g", &users("v", 6))), 10004);
    assert!(matches!(
        h.add(o, "g", &users("v", 5)),
        ServerFrame::GroupOk { .. }
    ));
}

/// A send, revoke or group change costs its reach from the sender's fan-out budget; over it,
/// 60018 and nothing is written. Another user's budget is their own.
#[test]
fn fan_out_budget_weighs_requests_by_reach() {
    let mut h = H::new(Config {
        user_fanout_rate_per_sec: 1_000,
        user_fanout_burst: 2_000,
        max_members_per_call: 1_000,
        ..Config::default()
    });
    let flood = h.login("flood");
    let good = h.login("good");
    // Building a group of 1,000 costs 1,000.
    assert!(matches!(
        h.create(flood, "big", &users("x", 999)),
        ServerFrame::GroupOk { .. }
    ));
    // One send to it: 1,000 more (2,000 spent). The next one is over budget.
    assert!(matches!(
        h.send(flood, "f1", None, Some("big")),
        ServerFrame::SendOk { .. }
    ));
    let over = h.send(flood, "f2", None, Some("big"));
    assert_eq!(code(&over), 60018);
    assert!(
        h.hub.store_mut().message("f2").unwrap().is_none(),
        "refused: not stored"
    );
    // Another user is not affected: one-to-one sends cost 2.
    for i in 0..50 {
        let r = h.send(good, &format!("g{i}"), Some("friend"), None);
        assert!(matches!(r, ServerFrame::SendOk { .. }), "{r:?}");
    }
    // Half a second refills 500: still not enough for 1,000; one second more is.
    h.now += 500;
    assert_eq!(code(&h.send(flood, "f2", None, Some("big"))), 60018);
    h.now += 500;
    assert!(matches!(
        h.send(flood, "f2", None, Some("big")),
        ServerFrame::SendOk { .. }
    ));
    // A revoke to the group costs its reach too.
    assert_eq!(code(&h.revoke(flood, "f1", Some("big"))), 60018);
    h.now += 1_000;
    assert!(matches!(
        h.revoke(flood, "f1", Some("big")),
        ServerFrame::RevokeOk { .. }
    ));
    // The flooder's small sends still pass once the budget allows 2 recipients.
    h.now += 10;
    assert!(matches!(
        h.send(flood, "c1", Some("friend"), None),
        ServerFrame::SendOk { .. }
    ));
}

/// A group larger than the burst stays reachable: its send needs (and empties) a full budget.
#[test]
fn fan_out_budget_admits_groups_larger_than_the_burst() {
    let mut h = H::new(Config {
        user_fanout_rate_per_sec: 100,
        user_fanout_burst: 50,
        max_members_per_call: 1_000,
        ..Config::default()
    });
    let o = h.login("owner");
    assert!(matches!(
        h.create(o, "g", &users("x", 99)),
        ServerFrame::GroupOk { .. }
    ));
    h.now += 1_000;
    assert!(matches!(
        h.send(o, "m1", None, Some("g")),
        ServerFrame::SendOk { .. }
    ));
    assert_eq!(code(&h.send(o, "m2", None, Some("g"))), 60018);
    h.now += 500;
    assert!(matches!(
        h.send(o, "m2", None, Some("g")),
        ServerFrame::SendOk { .. }
    ));
}

/// A non-member gets, for a group that exists, the answer it gets for one that does not.
#[test]
fn non_members_cannot_tell_what_exists() {
    let mut h = H::new(Config::default());
    let o = h.login("owner");
    let m = h.login("mem");
    let eve = h.login("eve");
    assert!(matches!(
        h.create(o, "g", &["mem".into()]),
        ServerFrame::GroupOk { .. }
    ));
    assert!(matches!(
        h.send(m, "gm", None, Some("g")),
        ServerFrame::SendOk { .. }
    ));
    for gid in ["g", "nosuch"] {
        let hist = ClientFrame::History {
            req_id: h.req(),
            user_id: None,
            group_id: Some(gid.into()),
            before_seq: None,
            count: 10,
        };
        assert_eq!(code(&h.ask(eve, hist)), 10010, "history {gid}");
        assert_eq!(code(&h.add(eve, gid, &["eve".into()])), 10010, "add {gid}");
        let rm = ClientFrame::RemoveGroupMembers {
            req_id: h.req(),
            group_id: gid.into(),
            members: vec!["mem".into()],
        };
        assert_eq!(code(&h.ask(eve, rm)), 10010, "remove {gid}");
        let role = ClientFrame::SetGroupMemberRole {
            req_id: h.req(),
            group_id: gid.into(),
            user_id: "mem".into(),
            role: GroupRole::Admin,
        };
        assert_eq!(code(&h.ask(eve, role)), 10010, "role {gid}");
        assert_eq!(
            code(&h.send(eve, &format!("e-{gid}"), None, Some(gid))),
            10010
        );
    }
    // Revoke: an existing group message and an unknown msgID answer alike.
    for (id, hint) in [("gm", None), ("nosuch", None)] {
        assert_eq!(code(&h.revoke(eve, id, hint)), 20022, "{id}");
    }
    for id in ["gm", "nosuch"] {
        assert_eq!(code(&h.revoke(eve, id, Some("g"))), 10030, "{id}");
    }
    // Members still get 10007 where they are not allowed (they know the group exists).
    assert_eq!(code(&h.add(m, "g", &["eve".into()])), 10007);
}

#[test]
fn role_400_is_refused_clearly() {
    let mut h = H::new(Config::default());
    let o = h.login("owner");
    assert!(matches!(
        h.create(o, "g", &["mem".into()]),
        ServerFrame::GroupOk { .. }
    ));
    let f = ClientFrame::SetGroupMemberRole {
        req_id: h.req(),
        group_id: "g".into(),
        user_id: "mem".into(),
        role: GroupRole::Owner,
    };
    let e = h.ask(o, f);
    assert_eq!(code(&e), 10004);
    let d = desc(&e);
    assert!(
        d.contains("200") && d.contains("300") && d.contains("owner transfer"),
        "{d}"
    );
}

/// A reqId the group remembers, reused by the same user for another request, gets 300006
/// (before: the new request was answered as a retry of the old one and silently not applied).
#[test]
fn req_id_reused_for_another_request_is_refused() {
    let mut h = H::new(Config::default());
    let o = h.login("owner");
    let adm = h.login("adm");
    let create = ClientFrame::CreateGroup {
        req_id: "r1".into(),
        group_id: "g".into(),
        name: String::new(),
        admins: vec!["adm".into()],
        members: vec!["mem".into()],
    };
    assert!(matches!(h.ask(o, create.clone()), ServerFrame::GroupOk { seq, .. } if seq > 0));
    // The same request again: a retry.
    assert!(matches!(
        h.ask(o, create),
        ServerFrame::GroupOk { seq: 0, .. }
    ));
    // Another kind with the same reqId.
    let add = |req: &str, who: &str| ClientFrame::AddGroupMembers {
        req_id: req.into(),
        group_id: "g".into(),
        members: vec![who.into()],
    };
    let e = h.ask(o, add("r1", "carol"));
    assert_eq!(code(&e), Code::RequestIdConflict.num());
    // Same kind, other parameters.
    assert!(matches!(h.ask(o, add("r2", "carol")), ServerFrame::GroupOk { seq, .. } if seq > 0));
    assert!(matches!(
        h.ask(o, add("r2", "carol")),
        ServerFrame::GroupOk { seq: 0, .. }
    ));
    assert_eq!(code(&h.ask(o, add("r2", "dave"))), 300006);
    // Another user's reqId is theirs: the admin's own "r2" is a new request, applied.
    let r = h.ask(adm, add("r2", "dave"));
    assert!(
        matches!(&r, ServerFrame::GroupOk { seq, group, .. } if *seq > 0 && group.members.contains("dave")),
        "{r:?}"
    );
}

/// msgIDs are unique per sender: someone else's msgID gets a key of the sender's own, and a
/// squatter cannot make the rightful sender's send fail.
#[test]
fn msg_ids_are_unique_per_sender() {
    let mut h = H::new(Config::default());
    let alice = h.login("alice");
    let eve = h.login("eve");
    // eve squats the msgID alice is about to use.
    let ServerFrame::SendOk { message: squat, .. } = h.send(eve, "next-id", Some("bob"), None)
    else {
        panic!()
    };
    assert_eq!(squat.msg_id, "next-id");
    let ServerFrame::SendOk { message, seq, .. } = h.send(alice, "next-id", Some("bob"), None)
    else {
        panic!("alice's send must not fail")
    };
    assert!(seq > 0);
    assert_eq!(message.msg_id, derived_msg_id("next-id", "alice", 1));
    // alice's resend is recognised; her message is hers, eve's is eve's.
    assert!(matches!(
        h.send(alice, "next-id", Some("bob"), None),
        ServerFrame::SendOk { seq: 0, message: m, .. } if m.msg_id == message.msg_id
    ));
    assert_eq!(
        h.hub
            .store_mut()
            .message("next-id")
            .unwrap()
            .unwrap()
            .sender,
        "eve"
    );
    assert!(matches!(
        h.revoke(alice, &message.msg_id, None),
        ServerFrame::RevokeOk { .. }
    ));
}

#[test]
fn derived_msg_ids_stay_valid_and_distinct() {
    let long = "a".repeat(64);
    for id in ["m", "x:y.z-1_", long.as_str()] {
        let k = derived_msg_id(id, "alice", 1);
        check_msg_id(&k).unwrap();
        assert_ne!(k, id);
        assert_ne!(k, derived_msg_id(id, "alice", 2));
        assert_ne!(k, derived_msg_id(id, "bob", 1));
        assert_eq!(k, derived_msg_id(id, "alice", 1));
    }
}

/// The client's msgIDs, keyed by 16 random bytes from the host: 22 URL-safe characters of a
/// keyed hash, so that seeing one tells nothing about the next.
#[test]
fn client_msg_ids_are_unpredictable() {
    let mut c = Client::new("alice", 1).unwrap().with_id_key([7; 16]);
    let a = c.create_text_message("x").msg_id;
    let b = c.create_text_message("y").msg_id;
    for id in [&a, &b] {
        assert_eq!(id.len(), 22, "{id}");
        check_msg_id(id).unwrap();
        assert!(id
            .bytes()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == b'-' || ch == b'_'));
    }
    assert_ne!(a, b);
    // No shared prefix beyond chance, no counter visible.
    assert_ne!(a[..8], b[..8]);
    // Another key, other IDs.
    let mut d = Client::new("alice", 1).unwrap().with_id_key([8; 16]);
    assert_ne!(d.create_text_message("x").msg_id, a);
}
