//! The input of `hub_ops`: a plain byte code read front to back (no lengths taken from the end,
//! missing bytes read as 0), so that every byte drives the world and seeds can be written by hand
//! (`fuzz/harness/hub_ops_seeds.py` writes the seeds of `fuzz/corpus/hub_ops/` so): 7 setup bytes,
//! then ops until the input ends (at most MAX_OPS). An op is one selector byte (mod 32) and its
//! operands. A reference is one byte; the top values switch to a raw string (a length byte mod 64,
//! then that many bytes).

use im_revoke_core::model::GroupRole;

const MAX_OPS: usize = 96;

#[derive(Debug)]
pub struct Input {
    pub(super) setup: Setup,
    pub(super) ops: Vec<Op>,
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
pub(super) struct Setup {
    pub(super) limit: u64,
    pub(super) admin: Option<u64>,
    pub(super) small_text: bool,
    pub(super) sync_page: usize,
    pub(super) max_members: usize,
    pub(super) seed_group: bool,
    /// Per-user rate limit: (requests per second, burst); rate 0 = unlimited.
    pub(super) rate: (u32, u32),
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
pub(super) enum UserRef {
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
pub(super) enum GroupRef {
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
pub(super) enum MsgRef {
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
pub(super) enum ReqRef {
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
pub(super) enum Text {
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
pub(super) enum Reason {
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
pub(super) enum To {
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
pub(super) enum GroupOp {
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
pub(super) enum Query {
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
pub(super) enum Edge {
    Sender(i8),
    Admin(i8),
}

#[derive(Debug)]
pub(super) enum Op {
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
