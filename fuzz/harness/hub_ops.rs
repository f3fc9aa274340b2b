//! The `hub_ops` harness: a sequence of operations decoded from bytes, run against one
//! `Hub<MemStore>`. Shared by the fuzz target (`fuzz/fuzz_targets/hub_ops.rs`) and the
//! regression tests that replay what it found (`crates/core/tests/fuzz_hub_ops.rs`), which
//! include this file with `#[path]`; it needs only `im-revoke-core` with the `json` feature.
//!
//! Two kinds of actors share the hub:
//! - **raw sessions**: typed frames handed straight to the hub, including malformed-but-typed
//!   ones (unknown or invalid msgIDs and request ids, huge texts, long reasons, bad user and
//!   group ids, frames before login, a second login, reused request ids);
//! - **client devices**: `im_revoke_core::client::Client` state machines behind a simulated
//!   network that holds frames in flight both ways, delivers them one at a time, and loses them
//!   all on a disconnect (the world of `crates/core/tests/common/mod.rs`, copied here).
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

use im_revoke_core::client::{Client, Completion, Done, Notification};
use im_revoke_core::limit::TokenBucket;
use im_revoke_core::model::{
    check_group_id, check_msg_id, check_user_id, Elem, GroupRole, MessageStatus, RevokerRole,
};
use im_revoke_core::policy::{check_revoke, Actor};
use im_revoke_core::protocol::json::{decode_server, encode_server};
use im_revoke_core::protocol::{Envelope, Event};
use im_revoke_core::store::{EventKind, Store};
use im_revoke_core::{ClientFrame, Code, Config, Hub, MemStore, Message, ServerFrame, SessionId};
use std::collections::{BTreeSet, HashMap, VecDeque};

const T0: u64 = 1_700_000_000_000;
const USERS: [&str; 5] = ["u0", "u1", "u2", "u3", "u4"];
const GROUPS: [&str; 3] = ["g0", "g1", "g2"];
/// Client devices: (user, clock skew in ms).
const DEVICES: [(&str, f64); 4] = [("u0", 0.0), ("u0", 1_500.0), ("u1", -2_500.0), ("u2", 0.0)];
const MAX_OPS: usize = 96;
/// A session id no one ever logs in on.
const NOBODY: SessionId = 0;

// ----- the input -----
//
// A plain byte code read front to back (no lengths taken from the end, missing bytes read as
// 0), so that every byte drives the world and seeds can be written by hand (see
// fuzz/corpus/hub_ops/README.md): 6 setup bytes, then ops until the input ends (at most
// MAX_OPS). An op is one selector byte (mod 32) and its operands. A reference is one byte;
// the top values switch to a raw string (a length byte mod 64, then that many bytes).

#[derive(Debug)]
pub struct Input {
    setup: Setup,
    ops: Vec<Op>,
}

impl Input {
    /// Decodes an input (any bytes are an input).
    pub fn decode(data: &[u8]) -> Input {
        let mut r = Reader(data);
        let setup = Setup::read(&mut r);
        let mut ops = Vec::new();
        while !r.0.is_empty() && ops.len() < MAX_OPS {
            ops.push(Op::read(&mut r));
        }
        Input { setup, ops }
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        (self.u32() as u64) << 32 | self.u32() as u64
    }
    fn string(&mut self) -> String {
        let n = (self.u8() as usize % 64).min(self.0.len());
        let (s, rest) = self.0.split_at(n);
        self.0 = rest;
        String::from_utf8_lossy(s).into_owned()
    }
    fn list<T>(&mut self, f: impl Fn(&mut Self) -> T) -> Vec<T> {
        let n = self.u8() % 5;
        (0..n).map(|_| f(self)).collect()
    }
}

#[derive(Debug)]
struct Setup {
    limit: u64,
    admin: Option<u64>,
    small_text: bool,
    sync_page: usize,
    max_members: usize,
    seed_group: bool,
    /// Per-user rate limit: (requests per second, burst); rate 0 = unlimited.
    rate: (u32, u32),
}

impl Setup {
    fn read(r: &mut Reader<'_>) -> Setup {
        let limit = [120_000, 1_000, 0][r.u8() as usize % 3];
        let admin = [None, Some(limit / 2), Some(limit * 5 + 7), Some(0)][r.u8() as usize % 4];
        Setup {
            limit,
            admin,
            small_text: r.bool(),
            sync_page: 1 + r.u8() as usize % 4,
            max_members: 2 + r.u8() as usize % 6,
            seed_group: r.u8() & 3 != 0,
            rate: [(100, 200), (100, 200), (0, 1), (5, 3)][r.u8() as usize % 4],
        }
    }
}

#[derive(Debug)]
enum UserRef {
    Known(u8),
    Raw(String),
}

impl UserRef {
    fn read(r: &mut Reader<'_>) -> UserRef {
        match r.u8() {
            b @ 0..=239 => UserRef::Known(b),
            _ => UserRef::Raw(r.string()),
        }
    }
}

#[derive(Debug)]
enum GroupRef {
    Known(u8),
    Raw(String),
}

impl GroupRef {
    fn read(r: &mut Reader<'_>) -> GroupRef {
        match r.u8() {
            b @ 0..=239 => GroupRef::Known(b),
            _ => GroupRef::Raw(r.string()),
        }
    }
}

#[derive(Debug)]
enum MsgRef {
    /// A message the hub accepted.
    Stored(u8),
    /// Any msgID used so far (accepted, refused or never sent).
    Any(u8),
    Fresh,
    Raw(String),
    TooLong,
}

impl MsgRef {
    fn read(r: &mut Reader<'_>) -> MsgRef {
        match r.u8() {
            b @ 0..=175 => MsgRef::Stored(b),
            b @ 176..=215 => MsgRef::Any(b),
            216..=231 => MsgRef::Fresh,
            232..=247 => MsgRef::Raw(r.string()),
            _ => MsgRef::TooLong,
        }
    }
}

#[derive(Debug)]
enum ReqRef {
    Fresh,
    Reuse(u8),
    Raw(String),
}

impl ReqRef {
    fn read(r: &mut Reader<'_>) -> ReqRef {
        match r.u8() {
            0..=207 => ReqRef::Fresh,
            208..=243 => ReqRef::Reuse(r.u8()),
            _ => ReqRef::Raw(r.string()),
        }
    }
}

#[derive(Debug)]
enum Text {
    Short,
    Plain(String),
    Empty,
    AtMax,
    OverMax,
    Huge,
}

impl Text {
    fn read(r: &mut Reader<'_>) -> Text {
        match r.u8() {
            0..=127 => Text::Short,
            128..=207 => Text::Plain(r.string()),
            208..=223 => Text::Empty,
            224..=235 => Text::AtMax,
            236..=247 => Text::OverMax,
            _ => Text::Huge,
        }
    }
}

#[derive(Debug)]
enum Reason {
    Short,
    Plain(String),
    AtMax,
    OverMax,
}

impl Reason {
    fn read(r: &mut Reader<'_>) -> Reason {
        match r.u8() {
            0..=159 => Reason::Short,
            160..=223 => Reason::Plain(r.string()),
            224..=243 => Reason::AtMax,
            _ => Reason::OverMax,
        }
    }
}

#[derive(Debug)]
enum To {
    User(UserRef),
    Group(GroupRef),
    Both(UserRef, GroupRef),
    Neither,
}

impl To {
    fn read(r: &mut Reader<'_>) -> To {
        match r.u8() % 16 {
            0..=7 => To::User(UserRef::read(r)),
            8..=13 => To::Group(GroupRef::read(r)),
            14 => To::Both(UserRef::read(r), GroupRef::read(r)),
            _ => To::Neither,
        }
    }
}

#[derive(Debug)]
enum GroupOp {
    Create {
        g: GroupRef,
        name: String,
        admins: Vec<UserRef>,
        members: Vec<UserRef>,
    },
    Add {
        g: GroupRef,
        members: Vec<UserRef>,
    },
    Remove {
        g: GroupRef,
        members: Vec<UserRef>,
    },
    SetRole {
        g: GroupRef,
        user: UserRef,
        role: GroupRole,
    },
}

impl GroupOp {
    fn read(r: &mut Reader<'_>) -> GroupOp {
        match r.u8() % 4 {
            0 => GroupOp::Create {
                g: GroupRef::read(r),
                name: if r.u8() < 240 {
                    "group".into()
                } else {
                    "n".repeat(101)
                },
                admins: r.list(UserRef::read),
                members: r.list(UserRef::read),
            },
            1 => GroupOp::Add {
                g: GroupRef::read(r),
                members: r.list(UserRef::read),
            },
            2 => GroupOp::Remove {
                g: GroupRef::read(r),
                members: r.list(UserRef::read),
            },
            _ => GroupOp::SetRole {
                g: GroupRef::read(r),
                user: UserRef::read(r),
                role: [GroupRole::Member, GroupRole::Admin, GroupRole::Owner][r.u8() as usize % 3],
            },
        }
    }
}

#[derive(Debug)]
enum Query {
    History {
        peer: Option<UserRef>,
        group: Option<GroupRef>,
        before: Option<u64>,
        count: u32,
    },
    Find {
        ids: Vec<MsgRef>,
        too_many: bool,
    },
    Sync {
        after: u64,
    },
    Ping {
        t: i32,
    },
}

impl Query {
    fn read(r: &mut Reader<'_>) -> Query {
        match r.u8() % 4 {
            0 => {
                let which = r.u8();
                Query::History {
                    peer: (which & 1 == 1).then(|| UserRef::read(r)),
                    group: (which & 2 == 2).then(|| GroupRef::read(r)),
                    before: (which & 4 == 4).then(|| r.u8() as u64),
                    count: if which & 8 == 8 { r.u32() } else { 20 },
                }
            }
            1 => Query::Find {
                ids: r.list(MsgRef::read),
                too_many: r.u8() == 255,
            },
            2 => Query::Sync { after: r.u64() },
            _ => Query::Ping { t: r.u32() as i32 },
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Edge {
    Sender(i8),
    Admin(i8),
}

#[derive(Debug)]
enum Op {
    // raw sessions, straight to the hub
    Login {
        user: UserRef,
        bad_version: bool,
    },
    Relogin {
        s: u8,
    },
    Logout {
        s: u8,
    },
    LoginFrame {
        s: u8,
    },
    Anonymous {
        q: Query,
    },
    Send {
        s: u8,
        msg: MsgRef,
        to: To,
        text: Text,
        req: ReqRef,
    },
    Revoke {
        s: u8,
        msg: MsgRef,
        req: ReqRef,
        reason: Reason,
        hint: bool,
    },
    Group {
        s: u8,
        op: GroupOp,
        req: ReqRef,
    },
    Query {
        s: u8,
        q: Query,
        req: ReqRef,
    },
    // client devices behind the simulated network
    CSend {
        d: u8,
        to: To,
        text: Text,
    },
    CRevoke {
        d: u8,
        msg: MsgRef,
        reason: Reason,
    },
    CGroup {
        d: u8,
        op: GroupOp,
    },
    CQuery {
        d: u8,
        q: Query,
    },
    Disconnect {
        d: u8,
    },
    Connect {
        d: u8,
    },
    Up {
        d: u8,
        n: u8,
    },
    Down {
        d: u8,
        n: u8,
    },
    Settle,
    Expire {
        d: u8,
    },
    // the server clock
    Advance(u16),
    ToEdge {
        msg: u8,
        edge: Edge,
    },
    Day,
    Back(u16),
}

impl Op {
    fn read(r: &mut Reader<'_>) -> Op {
        match r.u8() % 32 {
            0 => Op::Login {
                user: UserRef::read(r),
                bad_version: r.u8() == 255,
            },
            1 => Op::Relogin { s: r.u8() },
            2 => Op::Logout { s: r.u8() },
            3 => Op::LoginFrame { s: r.u8() },
            4 => Op::Anonymous { q: Query::read(r) },
            5..=7 => Op::Send {
                s: r.u8(),
                msg: if r.bool() {
                    MsgRef::Fresh
                } else {
                    MsgRef::read(r)
                },
                to: To::read(r),
                text: Text::read(r),
                req: ReqRef::read(r),
            },
            8..=11 => Op::Revoke {
                s: r.u8(),
                msg: MsgRef::read(r),
                req: ReqRef::read(r),
                reason: Reason::read(r),
                hint: r.bool(),
            },
            12 | 13 => Op::Group {
                s: r.u8(),
                op: GroupOp::read(r),
                req: ReqRef::read(r),
            },
            14 => Op::Query {
                s: r.u8(),
                q: Query::read(r),
                req: ReqRef::read(r),
            },
            15 | 16 => Op::CSend {
                d: r.u8(),
                to: To::read(r),
                text: Text::read(r),
            },
            17..=19 => Op::CRevoke {
                d: r.u8(),
                msg: MsgRef::read(r),
                reason: Reason::read(r),
            },
            20 => Op::CGroup {
                d: r.u8(),
                op: GroupOp::read(r),
            },
            21 => Op::CQuery {
                d: r.u8(),
                q: Query::read(r),
            },
            22 => Op::Disconnect { d: r.u8() },
            23 => Op::Connect { d: r.u8() },
            24 => Op::Up {
                d: r.u8(),
                n: r.u8(),
            },
            25 => Op::Down {
                d: r.u8(),
                n: r.u8(),
            },
            26 => Op::Settle,
            27 => Op::Expire { d: r.u8() },
            28 => Op::Advance(r.u16()),
            29 => Op::ToEdge {
                msg: r.u8(),
                edge: if r.bool() {
                    Edge::Admin(r.u8() as i8)
                } else {
                    Edge::Sender(r.u8() as i8)
                },
            },
            30 => Op::Day,
            _ => Op::Back(r.u16()),
        }
    }
}

// ----- the world -----

struct Device {
    user: String,
    skew: f64,
    client: Client,
    session: Option<SessionId>,
    up: VecDeque<ClientFrame>,
    down: VecDeque<ServerFrame>,
    notes: Vec<Notification>,
    done: Vec<Completion>,
    /// Request ids the client handed out: (req, revoked msgID if a revoke).
    reqs: Vec<(String, Option<String>)>,
}

/// What a live session has been told so far.
struct Live {
    user: String,
    next_seq: u64,
}

#[derive(Debug, PartialEq)]
enum Expect {
    Revoked(RevokerRole),
    Replay,
    Fail(Code),
}

struct World {
    hub: Hub<MemStore>,
    cfg: Config,
    now: u64,
    /// The latest server time so far (the clock may step back).
    peak: u64,
    went_back: bool,
    next_session: SessionId,
    raw: Vec<SessionId>,
    live: HashMap<SessionId, Live>,
    devices: Vec<Device>,
    users: BTreeSet<String>,
    groups: BTreeSet<String>,
    /// Every msgID used so far.
    msgs: Vec<String>,
    /// The msgIDs the hub accepted.
    stored: Vec<String>,
    reqs: Vec<String>,
    /// A model of the hub's per-user rate limit.
    rates: HashMap<String, TokenBucket>,
    acked: BTreeSet<String>,
    counter: u64,
    frames_seen: u64,
    /// Outcome counts by answer (`HUB_OPS_STATS=1` prints them; for judging the harness).
    stats: std::collections::BTreeMap<String, u32>,
}

fn code_of(f: &ServerFrame) -> Option<Code> {
    match f {
        ServerFrame::Error { code, .. } => Some(*code),
        _ => None,
    }
}

impl World {
    fn new(setup: &Setup) -> World {
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
        let mut w = World {
            hub: Hub::new(cfg.clone(), MemStore::new()),
            cfg,
            now: T0,
            peak: T0,
            went_back: false,
            next_session: 1,
            raw: Vec::new(),
            live: HashMap::new(),
            devices: Vec::new(),
            users: USERS.iter().map(|u| u.to_string()).collect(),
            groups: GROUPS.iter().map(|g| g.to_string()).collect(),
            msgs: Vec::new(),
            stored: Vec::new(),
            reqs: Vec::new(),
            rates: HashMap::new(),
            acked: BTreeSet::new(),
            counter: 0,
            frames_seen: 0,
            stats: Default::default(),
        };
        for (i, (user, skew)) in DEVICES.iter().enumerate() {
            w.devices.push(Device {
                user: user.to_string(),
                skew: *skew,
                client: Client::new(user, i as u64 + 1).unwrap(),
                session: None,
                up: VecDeque::new(),
                down: VecDeque::new(),
                notes: Vec::new(),
                done: Vec::new(),
                reqs: Vec::new(),
            });
            w.connect(i);
        }
        w.settle();
        // One raw session per user, logged in.
        for u in USERS {
            let s = w.next_session;
            w.next_session += 1;
            w.raw.push(s);
            w.hub_login(s, u, 1);
        }
        if setup.seed_group {
            let now = w.local_now(0);
            let req = w.devices[0].client.group_request(
                |req_id| ClientFrame::CreateGroup {
                    req_id,
                    group_id: "g0".into(),
                    name: "seed".into(),
                    admins: vec!["u1".into()],
                    members: vec!["u2".into(), "u3".into()],
                },
                now,
            );
            w.devices[0].reqs.push((req, None));
            w.settle();
        }
        w
    }

    fn fresh(&mut self, tag: &str) -> String {
        self.counter += 1;
        format!("{tag}{}", self.counter)
    }

    fn local_now(&self, d: usize) -> f64 {
        self.now as f64 + self.devices[d].skew
    }

    // ----- resolving references -----

    fn user(&mut self, r: &UserRef) -> String {
        let u = match r {
            UserRef::Known(i) => USERS[*i as usize % USERS.len()].to_string(),
            UserRef::Raw(s) => s.clone(),
        };
        if check_user_id(&u).is_ok() {
            self.users.insert(u.clone());
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
            self.groups.insert(g.clone());
        }
        g
    }

    fn msg(&mut self, r: &MsgRef) -> String {
        match r {
            MsgRef::Stored(i) if !self.stored.is_empty() => {
                self.stored[*i as usize % self.stored.len()].clone()
            }
            MsgRef::Any(i) if !self.msgs.is_empty() => {
                self.msgs[*i as usize % self.msgs.len()].clone()
            }
            MsgRef::Stored(_) | MsgRef::Any(_) | MsgRef::Fresh => {
                let m = self.fresh("m");
                self.msgs.push(m.clone());
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
        let max = self.cfg.max_text_bytes;
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
            Reason::AtMax => "r".repeat(self.cfg.max_reason_bytes),
            Reason::OverMax => "r".repeat(self.cfg.max_reason_bytes + 1),
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
                    msg_ids.resize(self.cfg.max_page + 1, "m1".to_string());
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

    // ----- driving the hub -----

    fn commit(&mut self) -> Vec<im_revoke_core::Outgoing> {
        assert!(self.hub.poisoned().is_none(), "hub poisoned");
        self.hub.commit().expect("the memory store always commits")
    }

    fn hub_login(&mut self, s: SessionId, user: &str, v: u32) {
        let expect = if v != 1 {
            Some(Code::UnsupportedVersion)
        } else if self.hub.session_user(s).is_some() {
            Some(Code::AlreadyLoggedIn)
        } else if check_user_id(user).is_err() {
            Some(Code::InvalidUserId)
        } else {
            None
        };
        let ok = self.hub.login(s, user, v, self.now);
        let out = self.commit();
        let answers: Vec<&ServerFrame> = out
            .iter()
            .filter(|o| o.session == s)
            .map(|o| &o.frame)
            .collect();
        assert_eq!(answers.len(), 1, "login: one answer");
        assert_eq!(ok, expect.is_none(), "login verdict {expect:?}");
        assert_eq!(code_of(answers[0]), expect, "login answer");
        self.route(out);
        self.check_invariants();
    }

    /// The hub's revoke verdict, recomputed from the store and the policy function.
    fn expect_revoke(
        &mut self,
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
        let store = self.hub.store_mut();
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
        match check_revoke(&msg, actor, sender, self.now, &self.cfg) {
            Ok(a) => Expect::Revoked(a.role),
            Err(e) => Expect::Fail(e.code),
        }
    }

    /// The hub's send verdict: `None` = a new message, `Some(None)` = a resend answered as
    /// before, `Some(Some(code))` = refused.
    fn expect_send(
        &mut self,
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
        let store = self.hub.store_mut();
        if let Some(m) = store.message(msg_id).unwrap() {
            let same = m.sender == user && m.receiver == *receiver && m.group_id == *group_id;
            return Some(if same {
                None
            } else {
                Some(Code::MsgIdConflict)
            });
        }
        let Elem::Text { text } = elem;
        if text.is_empty() {
            return Some(Some(Code::InvalidParameters));
        }
        if text.len() > self.cfg.max_text_bytes {
            return Some(Some(Code::BodySizeLimit));
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

    fn hub_handle(&mut self, s: SessionId, f: ClientFrame) {
        let user = self.hub.session_user(s).map(str::to_string);
        let now = self.now;
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
            self.hub.handle(s, f, now);
            let out = self.commit();
            let answers: Vec<&ServerFrame> = out
                .iter()
                .filter(|o| o.session == s)
                .map(|o| &o.frame)
                .collect();
            assert_eq!(out.len(), 1, "a rate-limited request changes nothing");
            assert_eq!(code_of(answers[0]), Some(Code::FreqLimit), "rate limit");
            self.route(out);
            self.check_invariants();
            return;
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
                    before = self.hub.store_mut().message(msg_id).unwrap();
                }
                Some(self.expect_revoke(
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
            } => Some(self.expect_send(user.as_deref(), req_id, msg_id, receiver, group_id, elem)),
            _ => None,
        };
        let head_before = match &user {
            Some(u) => self.hub.store_mut().user_head(u).unwrap(),
            None => 0,
        };

        self.hub.handle(s, f.clone(), now);
        let out = self.commit();

        let answers: Vec<&ServerFrame> = out
            .iter()
            .filter(|o| o.session == s)
            .map(|o| &o.frame)
            .collect();
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
            let store = self.hub.store_mut();
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
                    let stored = self.hub.store_mut().message(msg_id).unwrap();
                    assert_eq!(stored.as_ref(), Some(message));
                    self.msgs.push(msg_id.clone());
                }
                (Some(None), ServerFrame::SendOk { seq, message, .. }) => {
                    assert_eq!(*seq, 0, "a resend has no new event");
                    let stored = self.hub.store_mut().message(msg_id).unwrap().unwrap();
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
                    let store = self.hub.store_mut();
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

        self.route(out);
        self.check_invariants();
    }

    /// Checks every frame the hub released and hands device frames to the network.
    fn route(&mut self, out: Vec<im_revoke_core::Outgoing>) {
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
                let head = self.hub.store_mut().user_head(user_id).unwrap();
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
            if let Some(dev) = self
                .devices
                .iter_mut()
                .find(|d| d.session == Some(o.session))
            {
                dev.down.push_back(o.frame);
            }
        }
    }

    fn check_invariants(&mut self) {
        let store = self.hub.store_mut();
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

    // ----- devices and the network (as in crates/core/tests/common/mod.rs) -----

    fn connect(&mut self, d: usize) {
        if self.devices[d].session.is_some() {
            return;
        }
        let s = self.next_session;
        self.next_session += 1;
        let dev = &mut self.devices[d];
        dev.session = Some(s);
        let login = dev.client.login_frame("");
        dev.up.push_back(login);
    }

    fn disconnect(&mut self, d: usize) {
        let dev = &mut self.devices[d];
        if let Some(s) = dev.session.take() {
            self.hub.logout(s);
            self.live.remove(&s);
        }
        dev.up.clear();
        dev.down.clear();
        dev.client.disconnected();
    }

    fn collect(&mut self, d: usize) {
        let dev = &mut self.devices[d];
        let frames = dev.client.take_frames();
        if dev.session.is_some() {
            dev.up.extend(frames);
        }
        dev.notes.extend(dev.client.take_notifications());
        dev.done.extend(dev.client.take_completions());
    }

    fn step_up(&mut self, d: usize) -> bool {
        self.collect(d);
        let dev = &mut self.devices[d];
        let (Some(s), Some(f)) = (dev.session, dev.up.pop_front()) else {
            return false;
        };
        if trace_on() {
            eprintln!("  dev{d} -> {f:?}");
        }
        match f {
            ClientFrame::Login { user_id, v, .. } => self.hub_login(s, &user_id, v),
            f => self.hub_handle(s, f),
        }
        true
    }

    fn step_down(&mut self, d: usize) -> bool {
        let now = self.local_now(d);
        let dev = &mut self.devices[d];
        let Some(f) = dev.down.pop_front() else {
            return false;
        };
        if trace_on() {
            eprintln!("  dev{d} <- {f:?}");
        }
        dev.client.handle(f, now);
        self.collect(d);
        true
    }

    fn settle(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            for d in 0..self.devices.len() {
                moved |= self.step_up(d);
                moved |= self.step_down(d);
            }
            if !moved {
                return;
            }
        }
        panic!("the network did not settle");
    }

    // ----- ops -----

    fn apply(&mut self, op: &Op) {
        if trace_on() {
            eprintln!("op {op:?}");
        }
        let nd = self.devices.len();
        match op {
            Op::Login { user, bad_version } => {
                let u = self.user(user);
                let s = self.next_session;
                self.next_session += 1;
                self.raw.push(s);
                self.hub_login(s, &u, if *bad_version { 2 } else { 1 });
            }
            Op::Relogin { s } => {
                let s = self.raw_session(*s);
                if s == NOBODY {
                    return;
                }
                let u = self.hub.session_user(s).unwrap_or("u0").to_string();
                self.hub_login(s, &u, 1);
            }
            Op::Logout { s } => {
                let s = self.raw_session(*s);
                self.hub.logout(s);
                self.live.remove(&s);
                assert!(self.hub.session_user(s).is_none());
            }
            Op::LoginFrame { s } => {
                let s = self.raw_session(*s);
                let f = ClientFrame::Login {
                    v: 1,
                    user_id: "u0".into(),
                    user_sig: String::new(),
                };
                self.hub_handle(s, f);
            }
            Op::Anonymous { q } => {
                let req = self.fresh("a");
                let f = self.query_frame(q, req);
                self.hub_handle(NOBODY, f);
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
                };
                self.hub_handle(s, f);
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
                self.hub_handle(s, f);
            }
            Op::Group { s, op, req } => {
                let s = self.raw_session(*s);
                let req_id = self.req(req);
                let f = self.group_frame(op, req_id);
                self.hub_handle(s, f);
            }
            Op::Query { s, q, req } => {
                let s = self.raw_session(*s);
                let req_id = self.req(req);
                let f = self.query_frame(q, req_id);
                self.hub_handle(s, f);
            }
            Op::CSend { d, to, text } => {
                let d = *d as usize % nd;
                let now = self.local_now(d);
                let (receiver, group_id) = self.to(to);
                let text = self.text(text);
                let dev = &mut self.devices[d];
                let m = dev.client.create_text_message(&text);
                self.msgs.push(m.msg_id.clone());
                if let Ok(req) =
                    dev.client
                        .send(&m.msg_id, receiver.as_deref(), group_id.as_deref(), now)
                {
                    dev.reqs.push((req, None));
                }
                self.collect(d);
            }
            Op::CRevoke { d, msg, reason } => {
                let d = *d as usize % nd;
                let now = self.local_now(d);
                let msg_id = self.msg(msg);
                let reason = self.reason(reason);
                match self.devices[d].client.revoke(&msg_id, &reason, now) {
                    Ok(req) => self.devices[d].reqs.push((req, Some(msg_id))),
                    Err(e) if e.code == Code::RevokeTimeLimitExceed && !self.went_back => {
                        // The client may fail early only when the server would refuse too.
                        let user = self.devices[d].user.clone();
                        let exp = self.expect_revoke(Some(&user), "probe", &msg_id, "", false);
                        assert!(
                            !matches!(exp, Expect::Revoked(_)),
                            "device {d} failed early (6223) a revoke of {msg_id} the server \
                             accepts now ({exp:?})"
                        );
                    }
                    Err(e) if e.code == Code::AlreadyRevoked => {
                        let m = self.hub.store_mut().message(&msg_id).unwrap();
                        assert!(
                            m.is_some_and(|m| m.revoke.is_some()),
                            "device {d} says {msg_id} is revoked; the store does not"
                        );
                    }
                    Err(_) => {}
                }
                self.collect(d);
            }
            Op::CGroup { d, op } => {
                let d = *d as usize % nd;
                let now = self.local_now(d);
                let frame = self.group_frame(op, String::new());
                let req = self.devices[d].client.group_request(
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
                self.devices[d].reqs.push((req, None));
                self.collect(d);
            }
            Op::CQuery { d, q } => {
                let d = *d as usize % nd;
                let now = self.local_now(d);
                match q {
                    Query::History {
                        peer,
                        group,
                        before,
                        count,
                    } => {
                        let peer = peer.as_ref().map(|u| self.user(u));
                        let group = group.as_ref().map(|g| self.group(g));
                        let r = self.devices[d].client.history(
                            peer.as_deref(),
                            group.as_deref(),
                            *before,
                            *count,
                            now,
                        );
                        if let Ok(req) = r {
                            self.devices[d].reqs.push((req, None));
                        }
                    }
                    Query::Find { ids, .. } => {
                        let ids = ids.iter().take(16).map(|m| self.msg(m)).collect();
                        if let Ok(req) = self.devices[d].client.find(ids, now) {
                            self.devices[d].reqs.push((req, None));
                        }
                    }
                    Query::Sync { .. } | Query::Ping { .. } => {
                        // What a host's keep-alive timer does: a ping with the local clock.
                        let dev = &mut self.devices[d];
                        if dev.session.is_some() && dev.client.is_logged_in() {
                            dev.up.push_back(ClientFrame::Ping { t: now });
                        }
                    }
                }
                self.collect(d);
            }
            Op::Disconnect { d } => self.disconnect(*d as usize % nd),
            Op::Connect { d } => self.connect(*d as usize % nd),
            Op::Up { d, n } => {
                for _ in 0..=(*n % 4) {
                    self.step_up(*d as usize % nd);
                }
            }
            Op::Down { d, n } => {
                for _ in 0..=(*n % 4) {
                    self.step_down(*d as usize % nd);
                }
            }
            Op::Settle => self.settle(),
            Op::Expire { d } => {
                let d = *d as usize % nd;
                let now = self.local_now(d);
                self.devices[d].client.expire(now);
                self.collect(d);
            }
            Op::Advance(ms) => self.now += *ms as u64,
            Op::ToEdge { msg, edge } => {
                if self.stored.is_empty() {
                    return;
                }
                let id = self.stored[*msg as usize % self.stored.len()].clone();
                let Some(m) = self.hub.store_mut().message(&id).unwrap() else {
                    return;
                };
                let (limit, delta) = match *edge {
                    Edge::Sender(d) => (Some(self.cfg.revoke_time_limit_ms), d),
                    Edge::Admin(d) => (self.cfg.admin_revoke_time_limit_ms, d),
                };
                let Some(limit) = limit else { return };
                let target = (m.time_ms + limit).saturating_add_signed((delta % 3) as i64);
                if target > self.now {
                    self.now = target;
                }
            }
            Op::Day => self.now += 86_400_000,
            Op::Back(ms) => {
                self.now -= (*ms as u64).min(self.now - T0);
                self.went_back = true;
            }
        }
    }

    /// Everyone back online, the network quiet, then the end-to-end checks.
    fn finish(&mut self) {
        for d in 0..self.devices.len() {
            self.connect(d);
        }
        self.settle();
        // A clock that stepped back is not waited for (rate buckets refill only past `peak`).
        self.now = self.now.max(self.peak);
        // Then what a host's timer does: `expire` at each device's next deadline (where a
        // refused catch-up is retried), the server clock moving along.
        for _ in 0..100 {
            let wait = (0..self.devices.len())
                .filter_map(|d| {
                    let t = self.devices[d].client.next_deadline()?;
                    Some(t - self.local_now(d))
                })
                .reduce(f64::min);
            let Some(wait) = wait else { break };
            self.now += wait.max(0.0).ceil() as u64;
            for d in 0..self.devices.len() {
                let now = self.local_now(d);
                self.devices[d].client.expire(now);
                self.collect(d);
            }
            self.settle();
        }
        if stats_on() {
            eprintln!("hub_ops stats: {:?}", self.stats);
        }
        for d in 0..self.devices.len() {
            let user = self.devices[d].user.clone();
            let head = self.hub.store_mut().user_head(&user).unwrap();
            let log = self
                .hub
                .store_mut()
                .events_after(&user, 0, usize::MAX)
                .unwrap();
            let dev = &self.devices[d];
            assert_eq!(dev.client.cursor(), Some(head), "device {d} cursor");
            let result = |req: &str| dev.done.iter().find(|(id, _)| id == req).map(|(_, r)| r);
            for (req, _) in &dev.reqs {
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
                    Notification::GroupChanged(_) => {}
                }
            }
            for (req, m) in &dev.reqs {
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
            for g in &self.groups {
                let Some(mut stored) = self.hub.store_mut().group(g).unwrap() else {
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
            for m in &self.msgs {
                let Some(v) = dev.client.local_message(m) else {
                    continue;
                };
                let stored = self.hub.store_mut().message(m).unwrap();
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

fn trace_on() -> bool {
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

/// Runs one input: builds the world, applies every op with the checks after each, then the
/// end-to-end checks. Panics on the first violation.
pub fn run(input: &Input) {
    let mut w = World::new(&input.setup);
    for op in &input.ops {
        w.apply(op);
        w.peak = w.peak.max(w.now);
    }
    w.finish();
}
