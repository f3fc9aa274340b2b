//! The checks of `hub_ops`: what the harness knows of the world, and the invariants it checks
//! after every step (as the [`Host`] every frame passes through on its way to the hub) and at
//! the end ([`Run::check_end`]). The list is at the top of `mod.rs`. Over 700 lines on purpose:
//! every invariant of the harness in one file, next to the model of the hub's answers they use.

use super::Run;
use im_revoke_core::client::{Done, Notification};
use im_revoke_core::limit::TokenBucket;
use im_revoke_core::model::{
    check_group_id, check_msg_id, check_user_id, Elem, MessageStatus, RevokerRole,
};
use im_revoke_core::policy::{check_revoke, Actor};
use im_revoke_core::protocol::json::{decode_server, encode_server};
use im_revoke_core::protocol::{Envelope, Event};
use im_revoke_core::sim::Host;
use im_revoke_core::store::{EventKind, Store};
use im_revoke_core::{
    ClientFrame, Code, Config, Hub, MemStore, Message, Outgoing, ServerFrame, SessionId,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What a live session has been told so far.
struct Live {
    user: String,
    next_seq: u64,
}

/// The hub's verdict on a revoke, recomputed.
#[derive(Debug, PartialEq)]
pub(super) enum Expect {
    Revoked(RevokerRole),
    Replay,
    Fail(Code),
}

/// What the harness knows of the world besides the hub, the clock and the devices.
pub(super) struct Checks {
    pub(super) cfg: Config,
    /// Every valid user and group id used so far.
    pub(super) users: BTreeSet<String>,
    pub(super) groups: BTreeSet<String>,
    /// Every msgID used so far.
    pub(super) msgs: Vec<String>,
    /// The msgIDs the hub accepted.
    pub(super) stored: Vec<String>,
    live: HashMap<SessionId, Live>,
    /// A model of the hub's per-user rate limit.
    rates: HashMap<String, TokenBucket>,
    acked: BTreeSet<String>,
    frames_seen: u64,
    /// Outcome counts by answer (`HUB_OPS_STATS=1` prints them; for judging the harness).
    pub(super) stats: BTreeMap<String, u32>,
}

fn code_of(f: &ServerFrame) -> Option<Code> {
    match f {
        ServerFrame::Error { code, .. } => Some(*code),
        _ => None,
    }
}
/// The frames of `out` for session `s`.
fn answers_to(out: &[Outgoing], s: SessionId) -> Vec<&ServerFrame> {
    out.iter()
        .filter(|o| o.session == s)
        .map(|o| &o.frame)
        .collect()
}

fn commit(hub: &mut Hub<MemStore>) -> Vec<Outgoing> {
    assert!(hub.poisoned().is_none(), "hub poisoned");
    hub.commit().expect("the memory store always commits")
}

impl Host for Checks {
    fn login(
        &mut self,
        hub: &mut Hub<MemStore>,
        s: SessionId,
        user: &str,
        v: u32,
        now: u64,
    ) -> Vec<Outgoing> {
        let expect = if v != 1 {
            Some(Code::UnsupportedVersion)
        } else if hub.session_user(s).is_some() {
            Some(Code::AlreadyLoggedIn)
        } else if check_user_id(user).is_err() {
            Some(Code::InvalidUserId)
        } else {
            None
        };
        let ok = hub.login(s, user, v, now);
        let out = commit(hub);
        let answers = answers_to(&out, s);
        assert_eq!(answers.len(), 1, "login: one answer");
        assert_eq!(ok, expect.is_none(), "login verdict {expect:?}");
        assert_eq!(code_of(answers[0]), expect, "login answer");
        self.released(hub, &out);
        self.check_invariants(hub);
        out
    }

    fn handle(
        &mut self,
        hub: &mut Hub<MemStore>,
        s: SessionId,
        f: ClientFrame,
        now: u64,
    ) -> Vec<Outgoing> {
        let user = hub.session_user(s).map(str::to_string);
        // Requests (frames with a valid reqId) of a logged-in user draw from their bucket.
        let limited = match (&user, f.req_id()) {
            (Some(u), Some(req)) if check_msg_id(req).is_ok() => {
                let (rate, burst) = (self.cfg.user_rate_per_sec, self.cfg.user_burst);
                let bucket = self
                    .rates
                    .entry(u.clone())
                    .or_insert_with(|| TokenBucket::new(rate, burst, now));
                !bucket.try_take(now)
            }
            _ => false,
        };
        if limited {
            if stats_on() {
                *self.stats.entry("rate-limited".into()).or_default() += 1;
            }
            hub.handle(s, f, now);
            let out = commit(hub);
            let answers = answers_to(&out, s);
            assert_eq!(out.len(), 1, "a rate-limited request changes nothing");
            assert_eq!(code_of(answers[0]), Some(Code::FreqLimit), "rate limit");
            self.released(hub, &out);
            self.check_invariants(hub);
            return out;
        }
        let mut before: Option<Message> = None;
        let revoke_expect = match &f {
            ClientFrame::Revoke {
                req_id,
                msg_id,
                reason,
                group_id,
            } => {
                if check_msg_id(msg_id).is_ok() {
                    before = hub.store_mut().message(msg_id).unwrap();
                }
                Some(self.expect_revoke(
                    hub,
                    now,
                    user.as_deref(),
                    req_id,
                    msg_id,
                    reason,
                    group_id.is_some(),
                ))
            }
            _ => None,
        };
        let send_expect = match &f {
            ClientFrame::Send {
                req_id,
                msg_id,
                receiver,
                group_id,
                elem,
                ..
            } => Some(self.expect_send(
                hub,
                user.as_deref(),
                req_id,
                msg_id,
                receiver,
                group_id,
                elem,
            )),
            _ => None,
        };
        let head_before = match &user {
            Some(u) => hub.store_mut().user_head(u).unwrap(),
            None => 0,
        };

        hub.handle(s, f.clone(), now);
        let out = commit(hub);

        let answers = answers_to(&out, s);
        assert_eq!(
            answers.len(),
            1,
            "exactly one answer, and no event to the origin"
        );
        let answer = answers[0].clone();
        if let (Some(req), ServerFrame::Error { req_id, .. }) = (f.req_id(), &answer) {
            assert_eq!(req_id.as_deref(), Some(req), "error echoes the request id");
        }

        if stats_on() {
            let kind = format!("{:?}", f)
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string();
            let result = match &answer {
                ServerFrame::Error { code, .. } => format!("{}", code.num()),
                ServerFrame::RevokeOk { seq: 0, .. } | ServerFrame::SendOk { seq: 0, .. } => {
                    "replay".to_string()
                }
                _ => "ok".to_string(),
            };
            *self.stats.entry(format!("{kind} {result}")).or_default() += 1;
        }

        if let (Some(exp), ClientFrame::Revoke { req_id, msg_id, .. }) = (revoke_expect, &f) {
            let store = hub.store_mut();
            let after = if check_msg_id(msg_id).is_ok() {
                store.message(msg_id).unwrap()
            } else {
                None
            };
            match (&exp, &answer) {
                (
                    Expect::Revoked(role),
                    ServerFrame::RevokeOk {
                        req_id: r,
                        seq,
                        revoked,
                        ..
                    },
                ) => {
                    let user = user.as_deref().unwrap();
                    assert_eq!(r, req_id);
                    assert!(*seq > 0, "a new revoke has a seq");
                    assert_eq!(revoked.msg_id, *msg_id);
                    assert_eq!(revoked.revoke.role, *role, "revoker role");
                    assert_eq!(revoked.revoke.user_id, user);
                    assert_eq!(revoked.revoke.time_ms, now);
                    assert_eq!(revoked.revoke.req_id, *req_id);
                    let after = after.expect("revoked message is stored");
                    assert_eq!(after.revoke.as_ref(), Some(&revoked.revoke));
                    let mut was = after.clone();
                    was.revoke = None;
                    assert_eq!(Some(was), before, "a revoke changes nothing but the revoke");
                }
                (Expect::Replay, ServerFrame::RevokeOk { seq, revoked, .. }) => {
                    assert_eq!(*seq, 0, "a replay has no new event");
                    assert_eq!(after, before, "a replay changes nothing");
                    assert_eq!(Some(&revoked.revoke), after.unwrap().revoke.as_ref());
                }
                (Expect::Fail(c), ServerFrame::Error { code, .. }) => {
                    assert_eq!(code, c, "revoke refused with the wrong code");
                    assert_eq!(after, before, "a refused revoke changes nothing");
                }
                _ => panic!("revoke: policy says {exp:?}, hub answered {answer:?}"),
            }
        }

        if let (Some(exp), ClientFrame::Send { msg_id, .. }) = (send_expect, &f) {
            match (exp, &answer) {
                (
                    None,
                    ServerFrame::SendOk {
                        seq,
                        message,
                        server_time,
                        ..
                    },
                ) => {
                    assert!(*seq > 0);
                    assert_eq!(*server_time, now);
                    assert_eq!(message.time_ms, now, "timestamp is the server's clock");
                    assert_eq!(&message.sender, user.as_ref().unwrap());
                    let stored = hub.store_mut().message(msg_id).unwrap();
                    assert_eq!(stored.as_ref(), Some(message));
                    self.msgs.push(msg_id.clone());
                }
                (Some(None), ServerFrame::SendOk { seq, message, .. }) => {
                    assert_eq!(*seq, 0, "a resend has no new event");
                    let stored = hub.store_mut().message(msg_id).unwrap().unwrap();
                    assert_eq!(*message, stored.view_for(user.as_deref().unwrap()));
                }
                (Some(Some(c)), ServerFrame::Error { code, .. }) => {
                    assert_eq!(*code, c, "send refused with the wrong code")
                }
                (exp, _) => panic!("send: expected {exp:?}, hub answered {answer:?}"),
            }
        }

        match (&f, &answer) {
            (
                ClientFrame::Sync { after_seq, .. },
                ServerFrame::SyncOk {
                    events, has_more, ..
                },
            ) => {
                let head = head_before;
                assert!(events.len() <= self.cfg.sync_page);
                for (i, e) in events.iter().enumerate() {
                    assert_eq!(e.seq, after_seq + 1 + i as u64, "sync seqs");
                }
                let last = events.last().map_or(*after_seq, |e| e.seq);
                assert_eq!(*has_more, last < head, "syncOk.hasMore");
            }
            (ClientFrame::History { .. } | ClientFrame::FindMessages { .. }, m) => {
                if let ServerFrame::Messages { messages, .. } = m {
                    let u = user.as_deref().unwrap();
                    let store = hub.store_mut();
                    for msg in messages {
                        let readable = match &msg.group_id {
                            Some(g) => store
                                .group(g)
                                .unwrap()
                                .is_some_and(|g| g.members.contains(u)),
                            None => msg.sender == u || msg.receiver.as_deref() == Some(u),
                        };
                        assert!(readable, "{u} was shown {} it may not read", msg.msg_id);
                    }
                }
            }
            _ => {}
        }

        self.released(hub, &out);
        self.check_invariants(hub);
        out
    }

    fn logout(&mut self, s: SessionId) {
        self.live.remove(&s);
    }
}

impl Checks {
    pub(super) fn new(cfg: Config, users: BTreeSet<String>, groups: BTreeSet<String>) -> Checks {
        Checks {
            cfg,
            users,
            groups,
            msgs: Vec::new(),
            stored: Vec::new(),
            live: HashMap::new(),
            rates: HashMap::new(),
            acked: BTreeSet::new(),
            frames_seen: 0,
            stats: Default::default(),
        }
    }

    /// The hub's revoke verdict, recomputed from the store and the policy function.
    #[allow(clippy::too_many_arguments)] // the hub, its clock, and the request's fields
    pub(super) fn expect_revoke(
        &self,
        hub: &mut Hub<MemStore>,
        now: u64,
        user: Option<&str>,
        req_id: &str,
        msg_id: &str,
        reason: &str,
        hint: bool,
    ) -> Expect {
        let Some(user) = user else {
            return Expect::Fail(Code::NotLoggedIn);
        };
        if check_msg_id(req_id).is_err() || reason.len() > self.cfg.max_reason_bytes {
            return Expect::Fail(Code::InvalidParameters);
        }
        let not_found = if hint {
            Code::GroupRevokeMsgNotFound
        } else {
            Code::MsgNotFound
        };
        if check_msg_id(msg_id).is_err() {
            return Expect::Fail(not_found);
        }
        let store = hub.store_mut();
        let Some(msg) = store.message(msg_id).unwrap() else {
            return Expect::Fail(not_found);
        };
        let (actor, sender) = match &msg.group_id {
            Some(g) => {
                let group = store
                    .group(g)
                    .unwrap()
                    .expect("the group of a stored message exists");
                (group.role_of(user), group.role_of(&msg.sender))
            }
            None => {
                if msg.sender != user && msg.receiver.as_deref() != Some(user) {
                    return Expect::Fail(Code::MsgNotFound);
                }
                (None, None)
            }
        };
        if let Some(done) = &msg.revoke {
            if done.req_id == req_id && done.user_id == user {
                return Expect::Replay;
            }
        }
        let actor = Actor {
            user_id: user,
            role: actor,
        };
        match check_revoke(&msg, actor, sender, now, &self.cfg) {
            Ok(a) => Expect::Revoked(a.role),
            Err(e) => Expect::Fail(e.code),
        }
    }

    /// The hub's send verdict: `None` = a new message, `Some(None)` = a resend answered as
    /// before, `Some(Some(code))` = refused.
    #[allow(clippy::too_many_arguments)] // the hub, its clock, and the request's fields
    fn expect_send(
        &self,
        hub: &mut Hub<MemStore>,
        user: Option<&str>,
        req_id: &str,
        msg_id: &str,
        receiver: &Option<String>,
        group_id: &Option<String>,
        elem: &Elem,
    ) -> Option<Option<Code>> {
        let Some(user) = user else {
            return Some(Some(Code::NotLoggedIn));
        };
        if check_msg_id(req_id).is_err() || check_msg_id(msg_id).is_err() {
            return Some(Some(Code::InvalidParameters));
        }
        let store = hub.store_mut();
        if let Some(m) = store.message(msg_id).unwrap() {
            let same = m.sender == user && m.receiver == *receiver && m.group_id == *group_id;
            return Some(if same {
                None
            } else {
                Some(Code::MsgIdConflict)
            });
        }
        if matches!(elem, Elem::Text { text } if text.is_empty()) {
            return Some(Some(Code::InvalidParameters));
        }
        if elem.size() > self.cfg.max_text_bytes {
            return Some(Some(Code::BodySizeLimit));
        }
        if let Err(e) = im_revoke_core::attachment::check_elem(elem) {
            return Some(Some(e.code));
        }
        match (receiver, group_id) {
            (Some(r), None) => check_user_id(r).err().map(|e| Some(e.code)),
            (None, Some(g)) => {
                if check_group_id(g).is_err() {
                    return Some(Some(Code::GroupInvalidGroupId));
                }
                match store.group(g).unwrap() {
                    None => Some(Some(Code::GroupNotFound)),
                    Some(grp) if grp.role_of(user).is_none() => {
                        Some(Some(Code::GroupPermissionDeny))
                    }
                    Some(_) => None,
                }
            }
            _ => Some(Some(Code::InvalidParameters)),
        }
    }

    /// Checks every frame the hub released.
    fn released(&mut self, hub: &mut Hub<MemStore>, out: &[Outgoing]) {
        for o in out {
            let f = &o.frame;
            self.frames_seen += 1;
            if self.frames_seen % 4 == 1 {
                // (a sample: decoding is a quarter of the run time)
                let back = decode_server(&encode_server(f)).expect("server frames decode");
                assert_eq!(&back, f, "server frame JSON round trip");
            }

            if let ServerFrame::LoginOk {
                user_id, head_seq, ..
            } = f
            {
                let head = hub.store_mut().user_head(user_id).unwrap();
                assert_eq!(*head_seq, head, "loginOk.headSeq");
                let prev = self.live.insert(
                    o.session,
                    Live {
                        user: user_id.clone(),
                        next_seq: head + 1,
                    },
                );
                assert!(prev.is_none(), "two logins on one session");
            }
            let seq = match f {
                ServerFrame::Event(Envelope { seq, .. }) => Some(*seq),
                ServerFrame::SendOk { seq, .. }
                | ServerFrame::RevokeOk { seq, .. }
                | ServerFrame::GroupOk { seq, .. } => Some(*seq).filter(|s| *s > 0),
                _ => None,
            };
            if let ServerFrame::RevokeOk { revoked, .. } = f {
                self.acked.insert(revoked.msg_id.clone());
            }
            if let ServerFrame::SendOk { message, .. } = f {
                if !self.stored.contains(&message.msg_id) {
                    self.stored.push(message.msg_id.clone());
                }
            }
            let viewer = self.live.get(&o.session).map(|l| l.user.clone());
            if let Some(seq) = seq {
                let live = self
                    .live
                    .get_mut(&o.session)
                    .expect("seq-carrying frame to a session that is not logged in");
                assert_eq!(
                    seq, live.next_seq,
                    "session {} of {}: seq out of order, repeated or skipped",
                    o.session, live.user
                );
                live.next_seq += 1;
            }
            if let Some(v) = viewer {
                for m in shown(f) {
                    if m.revoke.is_some() && m.sender != v {
                        assert!(
                            m.elem.is_none(),
                            "revoked text of {} shown to {v}",
                            m.msg_id
                        );
                    }
                }
            }
        }
    }

    fn check_invariants(&self, hub: &mut Hub<MemStore>) {
        let store = hub.store_mut();
        for m in &self.acked {
            let stored = store
                .message(m)
                .unwrap()
                .expect("acknowledged message exists");
            assert!(stored.revoke.is_some(), "acknowledged revoke of {m} lost");
        }
        for u in &self.users {
            let log = store.events_after(u, 0, usize::MAX).unwrap();
            assert_eq!(store.user_head(u).unwrap(), log.len() as u64, "head of {u}");
            let mut announced = BTreeSet::new();
            let mut revoked = BTreeSet::new();
            for (i, rec) in log.iter().enumerate() {
                assert_eq!(rec.seq, i as u64 + 1, "log of {u} has a gap");
                match rec.kind {
                    EventKind::NewMessage | EventKind::MessageRevoked => {
                        let m = store
                            .message(&rec.target)
                            .unwrap()
                            .expect("log names a stored message");
                        if rec.kind == EventKind::MessageRevoked {
                            assert!(m.revoke.is_some(), "revoke event for unrevoked message");
                            assert!(
                                revoked.insert(rec.target.clone()),
                                "{u} told twice of revoke"
                            );
                        } else {
                            assert!(
                                announced.insert(rec.target.clone()),
                                "{u} told twice of msg"
                            );
                        }
                    }
                    EventKind::GroupChanged => {
                        assert!(store.group(&rec.target).unwrap().is_some());
                    }
                    EventKind::ConversationRead => {
                        assert!(
                            im_revoke_core::store::parse_read_target(&rec.target).is_some(),
                            "malformed read event"
                        );
                    }
                }
            }
        }
        for g in &self.groups {
            if let Some(grp) = store.group(g).unwrap() {
                assert!(grp.members.contains(&grp.owner), "owner is a member");
                assert!(!grp.admins.contains(&grp.owner), "owner is not an admin");
                assert!(grp.admins.is_subset(&grp.members), "admins are members");
                assert!(
                    grp.members.len() <= self.cfg.max_group_members,
                    "group size"
                );
                assert!(grp.recent_req_ids.len() <= im_revoke_core::model::GROUP_RECENT_REQS);
            }
        }
    }
}

impl Run {
    /// Device `d`'s client refused to revoke `msg_id` itself, with `code`: a client may fail
    /// early (6223) only when the server would refuse too, and call a message revoked only when
    /// the store has it so.
    pub(super) fn check_early_refusal(&mut self, d: usize, msg_id: &str, code: Code) {
        match code {
            Code::RevokeTimeLimitExceed if !self.went_back => {
                // The client may fail early only when the server would refuse too.
                let user = self.w.devices[d].user.clone();
                let exp = self.w.host.expect_revoke(
                    &mut self.w.hub,
                    self.w.now,
                    Some(&user),
                    "probe",
                    msg_id,
                    "",
                    false,
                );
                assert!(
                    !matches!(exp, Expect::Revoked(_)),
                    "device {d} failed early (6223) a revoke of {msg_id} the server \
                             accepts now ({exp:?})"
                );
            }
            Code::AlreadyRevoked => {
                let m = self.w.hub.store_mut().message(msg_id).unwrap();
                assert!(
                    m.is_some_and(|m| m.revoke.is_some()),
                    "device {d} says {msg_id} is revoked; the store does not"
                );
            }
            _ => {}
        }
    }

    /// The end-to-end checks, once every device is back online and the network quiet.
    pub(super) fn check_end(&mut self) {
        if stats_on() {
            eprintln!("hub_ops stats: {:?}", self.w.host.stats);
        }
        for d in 0..self.w.devices.len() {
            let user = self.w.devices[d].user.clone();
            let head = self.w.hub.store_mut().user_head(&user).unwrap();
            let log = self
                .w
                .hub
                .store_mut()
                .events_after(&user, 0, usize::MAX)
                .unwrap();
            let dev = &self.w.devices[d];
            assert_eq!(dev.client.cursor(), Some(head), "device {d} cursor");
            let result = |req: &str| dev.done.iter().find(|(id, _)| id == req).map(|(_, r)| r);
            for (req, _) in &self.dev_reqs[d] {
                assert!(
                    result(req).is_some(),
                    "device {d}: request {req} never settled"
                );
            }
            // Revokes: listener calls + own successful revoke answers, each exactly once.
            let mut told: HashMap<&str, usize> = HashMap::new();
            let mut new_told: HashMap<&str, usize> = HashMap::new();
            for n in &dev.notes {
                match n {
                    Notification::MessageRevoked { msg_id, .. } => {
                        *told.entry(msg_id.as_str()).or_default() += 1
                    }
                    Notification::NewMessage(m) => {
                        *new_told.entry(m.msg_id.as_str()).or_default() += 1
                    }
                    Notification::GroupChanged(_)
                    | Notification::MessageModified(_)
                    | Notification::NewConversation(_)
                    | Notification::ConversationChanged(_)
                    | Notification::TotalUnreadChanged(_) => {}
                }
            }
            for (req, m) in &self.dev_reqs[d] {
                if let (Some(m), Some(Ok(Done::Revoked(_)))) = (m, result(req)) {
                    *told.entry(m.as_str()).or_default() += 1;
                }
            }
            let in_log = |kind: EventKind| -> BTreeSet<&str> {
                log.iter()
                    .filter(|r| r.kind == kind)
                    .map(|r| r.target.as_str())
                    .collect()
            };
            let want_revoked = in_log(EventKind::MessageRevoked);
            for (m, n) in &told {
                assert_eq!(*n, 1, "device {d} was told of revoke {m} {n} times");
            }
            assert_eq!(
                told.keys().copied().collect::<BTreeSet<_>>(),
                want_revoked,
                "device {d}: revokes told vs its user's log"
            );
            let announced = in_log(EventKind::NewMessage);
            for (m, n) in &new_told {
                assert_eq!(*n, 1, "device {d} was told of message {m} {n} times");
                assert!(
                    announced.contains(m),
                    "device {d} told of {m}, not in its log"
                );
            }
            // Groups the user is in: the device knows them as they are.
            for g in &self.w.host.groups {
                let Some(mut stored) = self.w.hub.store_mut().group(g).unwrap() else {
                    continue;
                };
                if !stored.members.contains(&user) {
                    continue;
                }
                stored.recent_req_ids.clear();
                assert_eq!(
                    dev.client.local_group(g),
                    Some(&stored),
                    "device {d}: group {g}"
                );
            }
            for m in &self.w.host.msgs {
                let Some(v) = dev.client.local_message(m) else {
                    continue;
                };
                let stored = self.w.hub.store_mut().message(m).unwrap();
                let store_revoked = stored.as_ref().is_some_and(|s| s.revoke.is_some());
                if v.is_revoked || v.status == MessageStatus::Revoked {
                    assert!(
                        store_revoked,
                        "device {d} shows {m} revoked; the store does not"
                    );
                }
                if want_revoked.contains(m.as_str()) {
                    assert_eq!(v.status, MessageStatus::Revoked, "device {d} shows {m}");
                    assert!(v.is_revoked);
                }
            }
        }
    }
}

pub(super) fn trace_on() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("HUB_OPS_TRACE").is_some())
}

fn stats_on() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("HUB_OPS_STATS").is_some())
}

/// The messages a server frame shows to its receiver.
fn shown(f: &ServerFrame) -> Vec<&Message> {
    fn ev(e: &Event) -> Option<&Message> {
        match e {
            Event::NewMessage { message } => Some(message),
            _ => None,
        }
    }
    match f {
        ServerFrame::SendOk { message, .. } => vec![message],
        ServerFrame::Messages { messages, .. } => messages.iter().collect(),
        ServerFrame::SyncOk { events, .. } => events.iter().filter_map(|e| ev(&e.event)).collect(),
        ServerFrame::Event(e) => ev(&e.event).into_iter().collect(),
        _ => Vec::new(),
    }
}
