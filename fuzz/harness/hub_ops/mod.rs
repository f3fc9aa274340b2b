//! The `hub_ops` harness: a sequence of operations decoded from bytes, run against one
//! `Hub<MemStore>`. Shared by the fuzz target (`fuzz/fuzz_targets/hub_ops.rs`) and the
//! regression tests that replay what it found (`crates/core/tests/fuzz_hub_ops.rs`), which
//! include this directory with `#[path]`; it needs only `im-revoke-core` with the `json` and
//! `test-support` features. Three files: `input.rs` (the bytes decoded into ops), this one (the
//! ops applied to the simulated world of `im_revoke_core::sim`), `checks.rs` (the invariants,
//! checked as every frame passes between the network and the hub, and at the end).
//!
//! Two kinds of actors share the hub:
//! - **raw sessions**: typed frames handed straight to the hub, including malformed-but-typed
//!   ones (unknown or invalid msgIDs and request ids, huge texts, long reasons, bad user and
//!   group ids, frames before login, a second login, reused request ids);
//! - **client devices**: `im_revoke_core::client::Client` state machines behind a simulated
//!   network that holds frames in flight both ways, delivers them one at a time, and loses them
//!   all on a disconnect (`im_revoke_core::sim::World`, the world of the core's tests).
//!
//! The server clock is manual: small steps, jumps to just before / at / just after a revoke
//! window's end, a day, and (rarely) a step backwards. The configuration comes from the input
//! too: window lengths, admin window, text limit, sync page size, group size, rate limit.
//!
//! Checked after every step:
//! - nothing panics, the hub is never poisoned, and every request gets exactly one answer
//!   (60018 exactly when a model of the per-user token bucket says so, changing nothing);
//! - every acknowledged revoke stays revoked in the store;
//! - every user's event log has seqs 1, 2, 3… without gaps, its head is its length, each
//!   entry names something that exists, and no message is announced or revoked twice in it;
//! - every live session receives the seqs of its user's log (as events, or as the `seq` of
//!   its own answers) exactly in order from its login's `headSeq`, none twice, none skipped;
//! - the hub's revoke verdict equals `policy::check_revoke` recomputed from the stored message
//!   and the stored group roles at the op's time (revokeOk ⇔ allowed, with the same revoker
//!   role; otherwise the same error code), and a refused revoke changes nothing;
//! - sends, syncs, history and find answer as documented; a revoked text is never shown to
//!   anyone but its sender; groups keep owner ∈ members, admins ⊆ members, size limits;
//! - server frames survive a JSON round trip (one in four is checked: decoding is costly);
//! - a client fails early with 6223 only when the server would refuse too.
//!
//! At the end every device reconnects, the network settles and the hosts' timers fire (a
//! refused catch-up is retried); then every device has applied its user's whole log, every
//! request settled, every revoke in the log was told to every device of that user exactly once
//! (a listener call, or the answer to its own request), no message was announced twice, and the
//! cached messages and groups agree with the store.
//!
//! Input: see [`Input::decode`]; `HUB_OPS_TRACE=1` prints every op and frame of a run,
//! `HUB_OPS_STATS=1` the answers per request kind.

mod checks;
mod input;

use checks::Checks;
use im_revoke_core::model::{check_group_id, check_user_id, Elem};
use im_revoke_core::sim::{self, T0};
use im_revoke_core::store::Store;
use im_revoke_core::{ClientFrame, Config, SessionId};
use input::{Edge, GroupOp, GroupRef, MsgRef, Op, Query, Reason, ReqRef, Setup, Text, To, UserRef};

pub use input::Input;

const USERS: [&str; 5] = ["u0", "u1", "u2", "u3", "u4"];
const GROUPS: [&str; 3] = ["g0", "g1", "g2"];
/// Client devices: (user, clock skew in ms).
const DEVICES: [(&str, f64); 4] = [("u0", 0.0), ("u0", 1_500.0), ("u1", -2_500.0), ("u2", 0.0)];
/// A session id no one ever logs in on.
const NOBODY: SessionId = 0;

/// One run: the world (with the checks between its network and its hub) and what the ops
/// refer back to.
struct Run {
    w: sim::World<Checks>,
    /// The latest server time so far (the clock may step back).
    peak: u64,
    went_back: bool,
    /// The raw sessions, in the order they were opened.
    raw: Vec<SessionId>,
    /// Every request id used on a raw session so far.
    reqs: Vec<String>,
    /// Per device, the request ids its client handed out: (req, revoked msgID if a revoke).
    dev_reqs: Vec<Vec<(String, Option<String>)>>,
    counter: u64,
}

impl Run {
    fn new(setup: &Setup) -> Run {
        let cfg = Config {
            revoke_time_limit_ms: setup.limit,
            admin_revoke_time_limit_ms: setup.admin,
            max_text_bytes: if setup.small_text { 32 } else { 12 * 1024 },
            max_group_members: setup.max_members,
            sync_page: setup.sync_page,
            user_rate_per_sec: setup.rate.0,
            user_burst: setup.rate.1,
            ..Config::default()
        };
        let checks = Checks::new(
            cfg.clone(),
            USERS.iter().map(|u| u.to_string()).collect(),
            GROUPS.iter().map(|g| g.to_string()).collect(),
        );
        let mut w = sim::World::with_host(cfg, checks);
        w.trace = checks::trace_on();
        w.max_rounds = 10_000;
        let mut run = Run {
            w,
            peak: T0,
            went_back: false,
            raw: Vec::new(),
            reqs: Vec::new(),
            dev_reqs: Vec::new(),
            counter: 0,
        };
        for (user, skew) in DEVICES {
            run.w.add_device(user, skew);
            run.dev_reqs.push(Vec::new());
        }
        run.w.settle();
        // One raw session per user, logged in.
        for u in USERS {
            let s = run.w.new_session();
            run.raw.push(s);
            run.w.login(s, u, 1);
        }
        if setup.seed_group {
            let now = run.w.local_now(0);
            let req = run.w.devices[0].client.group_request(
                |req_id| ClientFrame::CreateGroup {
                    req_id,
                    group_id: "g0".into(),
                    name: "seed".into(),
                    admins: vec!["u1".into()],
                    members: vec!["u2".into(), "u3".into()],
                },
                now,
            );
            run.dev_reqs[0].push((req, None));
            run.w.settle();
        }
        run
    }

    fn fresh(&mut self, tag: &str) -> String {
        self.counter += 1;
        format!("{tag}{}", self.counter)
    }

    // ----- resolving references -----

    fn user(&mut self, r: &UserRef) -> String {
        let u = match r {
            UserRef::Known(i) => USERS[*i as usize % USERS.len()].to_string(),
            UserRef::Raw(s) => s.clone(),
        };
        if check_user_id(&u).is_ok() {
            self.w.host.users.insert(u.clone());
        }
        u
    }

    fn users_of(&mut self, rs: &[UserRef]) -> Vec<String> {
        rs.iter().take(12).map(|r| self.user(r)).collect()
    }

    fn group(&mut self, r: &GroupRef) -> String {
        let g = match r {
            GroupRef::Known(i) => GROUPS[*i as usize % GROUPS.len()].to_string(),
            GroupRef::Raw(s) => s.clone(),
        };
        if check_group_id(&g).is_ok() {
            self.w.host.groups.insert(g.clone());
        }
        g
    }

    fn msg(&mut self, r: &MsgRef) -> String {
        match r {
            MsgRef::Stored(i) if !self.w.host.stored.is_empty() => {
                self.w.host.stored[*i as usize % self.w.host.stored.len()].clone()
            }
            MsgRef::Any(i) if !self.w.host.msgs.is_empty() => {
                self.w.host.msgs[*i as usize % self.w.host.msgs.len()].clone()
            }
            MsgRef::Stored(_) | MsgRef::Any(_) | MsgRef::Fresh => {
                let m = self.fresh("m");
                self.w.host.msgs.push(m.clone());
                m
            }
            MsgRef::Raw(s) => s.clone(),
            MsgRef::TooLong => "m".repeat(65),
        }
    }

    fn req(&mut self, r: &ReqRef) -> String {
        let id = match r {
            ReqRef::Reuse(i) if !self.reqs.is_empty() => {
                self.reqs[*i as usize % self.reqs.len()].clone()
            }
            ReqRef::Reuse(_) | ReqRef::Fresh => self.fresh("r"),
            ReqRef::Raw(s) => s.clone(),
        };
        self.reqs.push(id.clone());
        id
    }

    fn text(&self, t: &Text) -> String {
        let max = self.w.host.cfg.max_text_bytes;
        match t {
            Text::Short => "hello".to_string(),
            Text::Plain(s) => s.clone(),
            Text::Empty => String::new(),
            Text::AtMax => "x".repeat(max),
            Text::OverMax => "x".repeat(max + 1),
            Text::Huge => "y".repeat(max * 3 + 17),
        }
    }

    fn reason(&self, r: &Reason) -> String {
        match r {
            Reason::Short => "typo".to_string(),
            Reason::Plain(s) => s.clone(),
            Reason::AtMax => "r".repeat(self.w.host.cfg.max_reason_bytes),
            Reason::OverMax => "r".repeat(self.w.host.cfg.max_reason_bytes + 1),
        }
    }

    fn to(&mut self, t: &To) -> (Option<String>, Option<String>) {
        match t {
            To::User(u) => (Some(self.user(u)), None),
            To::Group(g) => (None, Some(self.group(g))),
            To::Both(u, g) => (Some(self.user(u)), Some(self.group(g))),
            To::Neither => (None, None),
        }
    }

    fn group_frame(&mut self, op: &GroupOp, req_id: String) -> ClientFrame {
        match op {
            GroupOp::Create {
                g,
                name,
                admins,
                members,
            } => ClientFrame::CreateGroup {
                req_id,
                group_id: self.group(g),
                name: name.clone(),
                admins: self.users_of(admins),
                members: self.users_of(members),
            },
            GroupOp::Add { g, members } => ClientFrame::AddGroupMembers {
                req_id,
                group_id: self.group(g),
                members: self.users_of(members),
            },
            GroupOp::Remove { g, members } => ClientFrame::RemoveGroupMembers {
                req_id,
                group_id: self.group(g),
                members: self.users_of(members),
            },
            GroupOp::SetRole { g, user, role } => ClientFrame::SetGroupMemberRole {
                req_id,
                group_id: self.group(g),
                user_id: self.user(user),
                role: *role,
            },
        }
    }

    fn query_frame(&mut self, q: &Query, req_id: String) -> ClientFrame {
        match q {
            Query::History {
                peer,
                group,
                before,
                count,
            } => ClientFrame::History {
                req_id,
                user_id: peer.as_ref().map(|u| self.user(u)),
                group_id: group.as_ref().map(|g| self.group(g)),
                before_seq: *before,
                count: *count,
            },
            Query::Find { ids, too_many } => {
                let mut msg_ids: Vec<String> = ids.iter().take(16).map(|m| self.msg(m)).collect();
                if *too_many {
                    msg_ids.resize(self.w.host.cfg.max_page + 1, "m1".to_string());
                }
                ClientFrame::FindMessages { req_id, msg_ids }
            }
            Query::Sync { after } => ClientFrame::Sync {
                req_id,
                after_seq: *after % 64,
            },
            Query::Ping { t } => ClientFrame::Ping { t: *t as f64 },
        }
    }

    fn raw_session(&self, s: u8) -> SessionId {
        if self.raw.is_empty() {
            NOBODY
        } else {
            self.raw[s as usize % self.raw.len()]
        }
    }

    // ----- ops -----

    fn apply(&mut self, op: &Op) {
        if self.w.trace {
            eprintln!("op {op:?}");
        }
        let nd = self.w.devices.len();
        match op {
            Op::Login { user, bad_version } => {
                let u = self.user(user);
                let s = self.w.new_session();
                self.raw.push(s);
                self.w.login(s, &u, if *bad_version { 2 } else { 1 });
            }
            Op::Relogin { s } => {
                let s = self.raw_session(*s);
                if s == NOBODY {
                    return;
                }
                let u = self.w.hub.session_user(s).unwrap_or("u0").to_string();
                self.w.login(s, &u, 1);
            }
            Op::Logout { s } => {
                let s = self.raw_session(*s);
                self.w.logout(s);
                assert!(self.w.hub.session_user(s).is_none());
            }
            Op::LoginFrame { s } => {
                let s = self.raw_session(*s);
                let f = ClientFrame::Login {
                    v: 1,
                    user_id: "u0".into(),
                    user_sig: String::new(),
                };
                self.w.handle(s, f);
            }
            Op::Anonymous { q } => {
                let req = self.fresh("a");
                let f = self.query_frame(q, req);
                self.w.handle(NOBODY, f);
            }
            Op::Send {
                s,
                msg,
                to,
                text,
                req,
            } => {
                let s = self.raw_session(*s);
                let req_id = self.req(req);
                let msg_id = self.msg(msg);
                let (receiver, group_id) = self.to(to);
                let text = self.text(text);
                let f = ClientFrame::Send {
                    req_id,
                    msg_id,
                    receiver,
                    group_id,
                    elem: Elem::Text { text },
                    reply_to: None,
                    cloud_custom_data: None,
                };
                self.w.handle(s, f);
            }
            Op::Revoke {
                s,
                msg,
                req,
                reason,
                hint,
            } => {
                let s = self.raw_session(*s);
                let req_id = self.req(req);
                let msg_id = self.msg(msg);
                let reason = self.reason(reason);
                let group_id = hint.then(|| "g0".to_string());
                let f = ClientFrame::Revoke {
                    req_id,
                    msg_id,
                    reason,
                    group_id,
                };
                self.w.handle(s, f);
            }
            Op::Group { s, op, req } => {
                let s = self.raw_session(*s);
                let req_id = self.req(req);
                let f = self.group_frame(op, req_id);
                self.w.handle(s, f);
            }
            Op::Query { s, q, req } => {
                let s = self.raw_session(*s);
                let req_id = self.req(req);
                let f = self.query_frame(q, req_id);
                self.w.handle(s, f);
            }
            Op::CSend { d, to, text } => {
                let d = *d as usize % nd;
                let now = self.w.local_now(d);
                let (receiver, group_id) = self.to(to);
                let text = self.text(text);
                let dev = &mut self.w.devices[d];
                let m = dev.client.create_text_message(&text);
                self.w.host.msgs.push(m.msg_id.clone());
                if let Ok(req) =
                    dev.client
                        .send(&m.msg_id, receiver.as_deref(), group_id.as_deref(), now)
                {
                    self.dev_reqs[d].push((req, None));
                }
                self.w.collect(d);
            }
            Op::CRevoke { d, msg, reason } => {
                let d = *d as usize % nd;
                let now = self.w.local_now(d);
                let msg_id = self.msg(msg);
                let reason = self.reason(reason);
                match self.w.devices[d].client.revoke(&msg_id, &reason, now) {
                    Ok(req) => self.dev_reqs[d].push((req, Some(msg_id))),
                    Err(e) => self.check_early_refusal(d, &msg_id, e.code),
                }
                self.w.collect(d);
            }
            Op::CGroup { d, op } => {
                let d = *d as usize % nd;
                let now = self.w.local_now(d);
                let frame = self.group_frame(op, String::new());
                let req = self.w.devices[d].client.group_request(
                    move |req_id| match frame {
                        ClientFrame::CreateGroup {
                            group_id,
                            name,
                            admins,
                            members,
                            ..
                        } => ClientFrame::CreateGroup {
                            req_id,
                            group_id,
                            name,
                            admins,
                            members,
                        },
                        ClientFrame::AddGroupMembers {
                            group_id, members, ..
                        } => ClientFrame::AddGroupMembers {
                            req_id,
                            group_id,
                            members,
                        },
                        ClientFrame::RemoveGroupMembers {
                            group_id, members, ..
                        } => ClientFrame::RemoveGroupMembers {
                            req_id,
                            group_id,
                            members,
                        },
                        ClientFrame::SetGroupMemberRole {
                            group_id,
                            user_id,
                            role,
                            ..
                        } => ClientFrame::SetGroupMemberRole {
                            req_id,
                            group_id,
                            user_id,
                            role,
                        },
                        _ => unreachable!(),
                    },
                    now,
                );
                self.dev_reqs[d].push((req, None));
                self.w.collect(d);
            }
            Op::CQuery { d, q } => {
                let d = *d as usize % nd;
                let now = self.w.local_now(d);
                match q {
                    Query::History {
                        peer,
                        group,
                        before,
                        count,
                    } => {
                        let peer = peer.as_ref().map(|u| self.user(u));
                        let group = group.as_ref().map(|g| self.group(g));
                        let r = self.w.devices[d].client.history(
                            peer.as_deref(),
                            group.as_deref(),
                            *before,
                            *count,
                            now,
                        );
                        if let Ok(req) = r {
                            self.dev_reqs[d].push((req, None));
                        }
                    }
                    Query::Find { ids, .. } => {
                        let ids = ids.iter().take(16).map(|m| self.msg(m)).collect();
                        if let Ok(req) = self.w.devices[d].client.find(ids, now) {
                            self.dev_reqs[d].push((req, None));
                        }
                    }
                    Query::Sync { .. } | Query::Ping { .. } => {
                        // What a host's keep-alive timer does: a ping with the local clock.
                        let dev = &mut self.w.devices[d];
                        if dev.session.is_some() && dev.client.is_logged_in() {
                            dev.up.push_back(ClientFrame::Ping { t: now });
                        }
                    }
                }
                self.w.collect(d);
            }
            Op::Disconnect { d } => self.w.disconnect(*d as usize % nd),
            Op::Connect { d } => self.w.connect(*d as usize % nd),
            Op::Up { d, n } => {
                for _ in 0..=(*n % 4) {
                    self.w.step_up(*d as usize % nd);
                }
            }
            Op::Down { d, n } => {
                for _ in 0..=(*n % 4) {
                    self.w.step_down(*d as usize % nd);
                }
            }
            Op::Settle => self.w.settle(),
            Op::Expire { d } => {
                let d = *d as usize % nd;
                let now = self.w.local_now(d);
                self.w.devices[d].client.expire(now);
                self.w.collect(d);
            }
            Op::Advance(ms) => self.w.now += *ms as u64,
            Op::ToEdge { msg, edge } => {
                if self.w.host.stored.is_empty() {
                    return;
                }
                let id = self.w.host.stored[*msg as usize % self.w.host.stored.len()].clone();
                let Some(m) = self.w.hub.store_mut().message(&id).unwrap() else {
                    return;
                };
                let (limit, delta) = match *edge {
                    Edge::Sender(d) => (Some(self.w.host.cfg.revoke_time_limit_ms), d),
                    Edge::Admin(d) => (self.w.host.cfg.admin_revoke_time_limit_ms, d),
                };
                let Some(limit) = limit else { return };
                let target = (m.time_ms + limit).saturating_add_signed((delta % 3) as i64);
                if target > self.w.now {
                    self.w.now = target;
                }
            }
            Op::Day => self.w.now += 86_400_000,
            Op::Back(ms) => {
                self.w.now -= (*ms as u64).min(self.w.now - T0);
                self.went_back = true;
            }
        }
    }

    /// Everyone back online, the network quiet, then the end-to-end checks.
    fn finish(&mut self) {
        for d in 0..self.w.devices.len() {
            self.w.connect(d);
        }
        self.w.settle();
        // A clock that stepped back is not waited for (rate buckets refill only past `peak`).
        self.w.now = self.w.now.max(self.peak);
        // Then what a host's timer does: `expire` at each device's next deadline (where a
        // refused catch-up is retried), the server clock moving along.
        for _ in 0..100 {
            let wait = (0..self.w.devices.len())
                .filter_map(|d| {
                    let t = self.w.devices[d].client.next_deadline()?;
                    Some(t - self.w.local_now(d))
                })
                .reduce(f64::min);
            let Some(wait) = wait else { break };
            self.w.now += wait.max(0.0).ceil() as u64;
            for d in 0..self.w.devices.len() {
                let now = self.w.local_now(d);
                self.w.devices[d].client.expire(now);
                self.w.collect(d);
            }
            self.w.settle();
        }
        self.check_end();
    }
}

/// Runs one input: builds the world, applies every op with the checks after each, then the
/// end-to-end checks. Panics on the first violation.
pub fn run(input: &Input) {
    let mut run = Run::new(&input.setup);
    for op in &input.ops {
        run.apply(op);
        run.peak = run.peak.max(run.w.now);
    }
    run.finish();
}
