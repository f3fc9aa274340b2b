//! The clients: each one connection that acts during the storm (sends, revokes of its own
//! messages), reconnects after every drop, resends its unanswered requests idempotently and
//! catches up with `sync`, then drains and syncs to the head of its log; what it saw is its
//! [`ClientLog`].

use crate::Rng;
use futures_util::StreamExt;
use im_revoke_core::protocol::json::decode_server;
use im_revoke_core::{ClientFrame, Elem, Envelope, Event, ServerFrame};
use im_revoke_loadgen::common::{self, err, Result, Target, Ws};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message as WsMsg;

/// Event kinds, as the server stores them in `event_log.kind`.
pub const K_NEW: u8 = 1;
pub const K_REVOKE: u8 = 2;
pub const K_GROUP: u8 = 3;
pub const K_READ: u8 = 4;

pub fn kind_name(k: u8) -> &'static str {
    match k {
        K_NEW => "newMessage",
        K_REVOKE => "messageRevoked",
        K_GROUP => "groupChanged",
        K_READ => "conversationRead",
        _ => "?",
    }
}

pub fn entry_of(ev: &Event) -> (u8, String) {
    match ev {
        Event::NewMessage { message } => (K_NEW, message.msg_id.clone()),
        Event::MessageRevoked(r) => (K_REVOKE, r.msg_id.clone()),
        Event::GroupChanged { group } => (K_GROUP, group.group_id.clone()),
        Event::ConversationRead {
            conversation_id,
            read_seq,
        } => (K_READ, format!("{read_seq}:{conversation_id}")),
    }
}

pub async fn ws_send(ws: &mut Ws, f: &ClientFrame) -> Result<()> {
    common::send(ws, f).await
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Storm,
    Drain,
    Final,
    Abort,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dest {
    User(usize),
    Group(usize),
}

pub struct Ctx {
    /// One per server node: client `i` starts on node `i mod N`, each reconnection tries the
    /// next one.
    pub targets: Vec<Target>,
    pub tag: String,
    pub users: Vec<String>,
    /// groupID and member indexes.
    pub groups: Vec<(String, Vec<usize>)>,
    /// Per client: the groups it is in.
    pub my_groups: Vec<Vec<usize>>,
    pub crash: bool,
    pub inflight: usize,
    pub action_ms: (u64, u64),
    pub revoke_pct: u64,
    pub group_pct: u64,
    pub ready: AtomicUsize,
    pub drained: AtomicUsize,
    pub finished: AtomicUsize,
    /// When each revoke request was first sent (for revoke → event latency).
    pub revoke_sent: Mutex<HashMap<String, Instant>>,
}

pub struct Req {
    pub req_id: String,
    pub frame: ClientFrame,
    pub msg_id: String,
    pub is_send: bool,
    pub sent_once: bool,
    pub resent: bool,
}

pub struct Mine {
    pub msg_id: String,
    pub at: Instant,
    pub revoke_issued: bool,
}

#[derive(Default)]
pub struct ClientLog {
    pub applied: BTreeMap<u64, (u8, String)>,
    pub redelivered: u64,
    pub events_live: u64,
    pub events_sync: u64,
    pub acked_sends: HashMap<String, (u64, Dest)>,
    pub acked_revokes: HashMap<String, (String, u64)>,
    pub violations: Vec<String>,
    pub latencies_ns: Vec<u64>,
    pub reconnects: u64,
    pub resent: u64,
    pub retry_acks: u64,
    pub sends: u64,
    pub revokes: u64,
    pub final_head: u64,
}

pub struct Client {
    pub idx: usize,
    pub user: String,
    pub log: ClientLog,
    pub contig: u64,
    pub pending: VecDeque<Req>,
    pub mine: Vec<Mine>,
    pub syncing: bool,
    pub final_sync: bool,
    pub done: bool,
    pub n: u64,
    pub sync_n: u64,
    pub dests: HashMap<String, Dest>,
    /// Connection attempts so far (the node of the next one: `idx + attempts`).
    pub attempts: usize,
}

impl Client {
    pub fn violation(&mut self, v: String) {
        if self.log.violations.len() < 50 {
            self.log.violations.push(format!("{}: {v}", self.user));
        }
    }

    /// Records one log entry; returns whether a hole was seen (a sync is needed).
    pub fn record(&mut self, seq: u64, e: (u8, String)) {
        match self.log.applied.get(&seq) {
            Some(old) if *old == e => self.log.redelivered += 1,
            Some(old) => {
                let old = old.clone();
                self.violation(format!(
                    "seq {seq} carried {} {} and then {} {}",
                    kind_name(old.0),
                    old.1,
                    kind_name(e.0),
                    e.1
                ));
            }
            None => {
                self.log.applied.insert(seq, e);
            }
        }
        while self.log.applied.contains_key(&(self.contig + 1)) {
            self.contig += 1;
        }
    }

    pub fn has_hole(&self) -> bool {
        self.log
            .applied
            .last_key_value()
            .is_some_and(|(&k, _)| k > self.contig)
    }

    pub async fn start_sync(&mut self, ws: &mut Ws) -> Result<()> {
        self.sync_n += 1;
        self.syncing = true;
        ws_send(
            ws,
            &ClientFrame::Sync {
                req_id: format!("y{}", self.sync_n),
                after_seq: self.contig,
            },
        )
        .await
    }

    pub async fn handle(&mut self, ctx: &Ctx, ws: &mut Ws, f: ServerFrame) -> Result<()> {
        match f {
            ServerFrame::Event(Envelope { seq, event }) => {
                self.log.events_live += 1;
                if let Event::MessageRevoked(r) = &*event {
                    let t = ctx.revoke_sent.lock().unwrap().get(&r.msg_id).copied();
                    if let Some(t) = t {
                        self.log.latencies_ns.push(common::nanos(t.elapsed()));
                    }
                }
                self.record(seq, entry_of(&event));
                if !self.syncing && self.has_hole() {
                    self.start_sync(ws).await?;
                }
            }
            ServerFrame::SyncOk {
                events, has_more, ..
            } => {
                let mut last = self.contig;
                for env in events {
                    self.log.events_sync += 1;
                    last = last.max(env.seq);
                    self.record(env.seq, entry_of(&env.event));
                }
                if has_more {
                    self.sync_n += 1;
                    ws_send(
                        ws,
                        &ClientFrame::Sync {
                            req_id: format!("y{}", self.sync_n),
                            after_seq: last.max(self.contig),
                        },
                    )
                    .await?;
                } else if self.has_hole() {
                    // Live events came in beyond what the sync read: read again.
                    self.start_sync(ws).await?;
                } else {
                    self.syncing = false;
                    if self.final_sync {
                        self.log.final_head = self.contig;
                        self.done = true;
                    }
                }
            }
            ServerFrame::SendOk {
                req_id,
                seq,
                message,
                ..
            } => {
                let Some(pos) = self.pending.iter().position(|r| r.req_id == req_id) else {
                    self.violation(format!("sendOk for unknown reqId {req_id}"));
                    return Ok(());
                };
                let r = self.pending.remove(pos).unwrap();
                if message.msg_id != r.msg_id || message.sender != self.user {
                    self.violation(format!(
                        "sendOk {req_id} for {} by {} (asked {})",
                        message.msg_id, message.sender, r.msg_id
                    ));
                }
                if seq > 0 {
                    self.record(seq, (K_NEW, r.msg_id.clone()));
                } else {
                    self.log.retry_acks += 1;
                    if !r.resent {
                        self.violation(format!("sendOk seq 0 for a first send {}", r.msg_id));
                    }
                }
                let dest = self.dests.get(&r.msg_id).cloned().unwrap();
                self.log.acked_sends.insert(r.msg_id, (seq, dest));
            }
            ServerFrame::RevokeOk {
                req_id,
                seq,
                revoked,
                ..
            } => {
                let Some(pos) = self.pending.iter().position(|r| r.req_id == req_id) else {
                    self.violation(format!("revokeOk for unknown reqId {req_id}"));
                    return Ok(());
                };
                let r = self.pending.remove(pos).unwrap();
                if revoked.msg_id != r.msg_id
                    || revoked.revoke.user_id != self.user
                    || revoked.revoke.req_id != req_id
                {
                    self.violation(format!(
                        "revokeOk {req_id} says {} by {} ({}), asked {}",
                        revoked.msg_id, revoked.revoke.user_id, revoked.revoke.req_id, r.msg_id
                    ));
                }
                if seq > 0 {
                    self.record(seq, (K_REVOKE, r.msg_id.clone()));
                } else {
                    self.log.retry_acks += 1;
                    if !r.resent {
                        self.violation(format!("revokeOk seq 0 for a first revoke {}", r.msg_id));
                    }
                }
                self.log.acked_revokes.insert(r.msg_id, (req_id, seq));
            }
            ServerFrame::Error {
                req_id, code, desc, ..
            } => {
                let what = match &req_id {
                    Some(id) => match self.pending.iter().position(|r| &r.req_id == id) {
                        Some(pos) => {
                            let r = self.pending.remove(pos).unwrap();
                            format!(
                                "{} {} ({id})",
                                if r.is_send { "send" } else { "revoke" },
                                r.msg_id
                            )
                        }
                        None => format!("request {id}"),
                    },
                    None => "connection".to_string(),
                };
                self.violation(format!("{what} failed: {} {desc}", code.num()));
                if req_id.as_deref().is_some_and(|r| r.starts_with('y')) {
                    self.syncing = false;
                }
            }
            ServerFrame::LoginOk { .. } => self.violation("unexpected loginOk".into()),
            _ => {}
        }
        Ok(())
    }

    /// One action of the storm: a send (one-to-one or group) or a revoke of an own message.
    pub async fn act(&mut self, ctx: &Ctx, ws: &mut Ws, rng: &mut Rng) -> Result<()> {
        self.n += 1;
        let n = self.n;
        if rng.pct(ctx.revoke_pct) {
            // Own messages still well inside the 120 s window, not revoked yet (acked or still
            // in flight: a revoke may be queued behind its send).
            let now = Instant::now();
            let cands: Vec<usize> = self
                .mine
                .iter()
                .enumerate()
                .rev()
                .take(30)
                .filter(|(_, m)| {
                    !m.revoke_issued && now.duration_since(m.at) < Duration::from_secs(60)
                })
                .map(|(i, _)| i)
                .collect();
            if !cands.is_empty() {
                let i = cands[rng.below(cands.len())];
                self.mine[i].revoke_issued = true;
                let msg_id = self.mine[i].msg_id.clone();
                let req_id = format!("r{}_{}", self.idx, n);
                let group_id = match self.dests.get(&msg_id) {
                    Some(Dest::Group(g)) => Some(ctx.groups[*g].0.clone()),
                    _ => None,
                };
                let frame = ClientFrame::Revoke {
                    req_id: req_id.clone(),
                    msg_id: msg_id.clone(),
                    reason: "chaos".into(),
                    group_id,
                };
                ctx.revoke_sent
                    .lock()
                    .unwrap()
                    .insert(msg_id.clone(), Instant::now());
                self.log.revokes += 1;
                self.pending.push_back(Req {
                    req_id,
                    frame: frame.clone(),
                    msg_id,
                    is_send: false,
                    sent_once: true,
                    resent: false,
                });
                return ws_send(ws, &frame).await;
            }
        }
        let groups = &ctx.my_groups[self.idx];
        let dest = if !groups.is_empty() && rng.pct(ctx.group_pct) {
            Dest::Group(groups[rng.below(groups.len())])
        } else {
            let mut p = rng.below(ctx.users.len() - 1);
            if p >= self.idx {
                p += 1;
            }
            Dest::User(p)
        };
        let msg_id = format!("{}_{}_{}", ctx.tag, self.idx, n);
        let req_id = format!("s{}_{}", self.idx, n);
        let (receiver, group_id) = match &dest {
            Dest::User(p) => (Some(ctx.users[*p].clone()), None),
            Dest::Group(g) => (None, Some(ctx.groups[*g].0.clone())),
        };
        let frame = ClientFrame::Send {
            req_id: req_id.clone(),
            msg_id: msg_id.clone(),
            receiver,
            group_id,
            elem: Elem::Text {
                text: format!("m{n} from {}", self.user),
            },
            reply_to: None,
            cloud_custom_data: None,
        };
        self.dests.insert(msg_id.clone(), dest);
        self.mine.push(Mine {
            msg_id: msg_id.clone(),
            at: Instant::now(),
            revoke_issued: false,
        });
        self.log.sends += 1;
        self.pending.push_back(Req {
            req_id,
            frame: frame.clone(),
            msg_id,
            is_send: true,
            sent_once: true,
            resent: false,
        });
        ws_send(ws, &frame).await
    }

    /// Connects, logs in, syncs from the last applied seq and resends every unanswered request
    /// in its order.
    pub async fn connect(&mut self, ctx: &Ctx) -> Result<Ws> {
        let target = &ctx.targets[(self.idx + self.attempts) % ctx.targets.len()];
        self.attempts += 1;
        let (mut ws, head) =
            tokio::time::timeout(Duration::from_secs(5), target.connect_login(&self.user))
                .await
                .map_err(|_| err("connect/login timed out"))??;
        if head < self.contig {
            self.violation(format!(
                "event log went backwards: loginOk headSeq {head} < {} already applied",
                self.contig
            ));
        }
        self.start_sync(&mut ws).await?;
        let mut frames = Vec::new();
        for r in self.pending.iter_mut() {
            if r.sent_once {
                r.resent = true;
            }
            r.sent_once = true;
            frames.push(r.frame.clone());
        }
        self.log.resent += frames.len() as u64;
        for f in frames {
            ws_send(&mut ws, &f).await?;
        }
        Ok(ws)
    }
}

pub async fn run_client(
    ctx: Arc<Ctx>,
    idx: usize,
    mut phase: watch::Receiver<Phase>,
    seed: u64,
) -> ClientLog {
    let mut c = Client {
        idx,
        user: ctx.users[idx].clone(),
        log: ClientLog::default(),
        contig: 0,
        pending: VecDeque::new(),
        mine: Vec::new(),
        syncing: false,
        final_sync: false,
        done: false,
        n: 0,
        sync_n: 0,
        dests: HashMap::new(),
        attempts: 0,
    };
    let mut rng = Rng::new(seed);
    let mut ws: Option<Ws> = None;
    let mut ever = false;
    let mut down_since: Option<Instant> = None;
    let mut drained = false;
    let mut final_started = false;
    let far = Instant::now() + Duration::from_secs(86_400);
    let mut next_action = Instant::now() + Duration::from_millis(rng.range(0, ctx.action_ms.1));
    loop {
        let ph = *phase.borrow_and_update();
        if ph == Phase::Abort || c.done {
            break;
        }
        if ws.is_none() {
            match c.connect(&ctx).await {
                Ok(w) => {
                    ws = Some(w);
                    down_since = None;
                    if ever {
                        c.log.reconnects += 1;
                    } else {
                        ever = true;
                        ctx.ready.fetch_add(1, Ordering::SeqCst);
                    }
                }
                Err(e) => {
                    let since = *down_since.get_or_insert_with(Instant::now);
                    let limit = if ctx.crash { 40 } else { 20 };
                    if since.elapsed() > Duration::from_secs(limit) {
                        c.violation(format!("could not reconnect for {limit} s: {e}"));
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(rng.range(30, 150))).await;
                    continue;
                }
            }
        }
        let w = ws.as_mut().unwrap();
        if ph != Phase::Storm && !drained && c.pending.is_empty() && !c.syncing {
            drained = true;
            ctx.drained.fetch_add(1, Ordering::SeqCst);
        }
        if ph == Phase::Final && !final_started {
            final_started = true;
            c.final_sync = true;
            if c.start_sync(w).await.is_err() {
                ws = None;
                continue;
            }
        }
        let act_at = (ph == Phase::Storm && c.pending.len() < ctx.inflight).then_some(next_action);
        let res: Result<()> = tokio::select! {
            m = w.next() => match m {
                None => Err(err("closed")),
                Some(Err(e)) => Err(e.into()),
                Some(Ok(WsMsg::Text(t))) => match decode_server(t.as_str()) {
                    Ok(f) => c.handle(&ctx, w, f).await,
                    Err(e) => { c.violation(format!("undecodable frame: {}", e.desc)); Ok(()) }
                },
                Some(Ok(WsMsg::Close(_))) => Err(err("closed by the server")),
                Some(Ok(_)) => Ok(()),
            },
            _ = tokio::time::sleep_until(act_at.unwrap_or(far).into()), if act_at.is_some() => {
                next_action = Instant::now() + Duration::from_millis(rng.range(ctx.action_ms.0, ctx.action_ms.1));
                c.act(&ctx, w, &mut rng).await
            }
            _ = phase.changed() => Ok(()),
        };
        if let Err(e) = res {
            if !ctx.crash {
                // No kills in a soak: a dropped connection is worth reporting (then recover).
                c.violation(format!("connection lost: {e}"));
            }
            ws = None;
            c.syncing = false;
            if final_started {
                final_started = false; // sync again on the new connection
            }
        }
    }
    if c.done {
        ctx.finished.fetch_add(1, Ordering::SeqCst);
    } else {
        c.violation(format!(
            "stopped before its final sync ({} requests unanswered)",
            c.pending.len()
        ));
    }
    if let Some(mut w) = ws {
        let _ = tokio::time::timeout(Duration::from_secs(1), w.close(None)).await;
    }
    c.log
}

pub async fn create_group(ctx: &Ctx, g: usize) -> Result<()> {
    let (gid, members) = &ctx.groups[g];
    let owner = &ctx.users[members[0]];
    let (mut ws, _) = ctx.targets[0].connect_login(owner).await?;
    let req = ClientFrame::CreateGroup {
        req_id: format!("cg{g}"),
        group_id: gid.clone(),
        name: format!("chaos group {g}"),
        admins: vec![],
        members: members[1..].iter().map(|&i| ctx.users[i].clone()).collect(),
    };
    ws_send(&mut ws, &req).await?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match common::recv_until(&mut ws, deadline).await? {
            ServerFrame::GroupOk { .. } => break,
            ServerFrame::Error { code, desc, .. } => {
                return Err(err(format!("createGroup {gid}: {} {desc}", code.num())))
            }
            _ => {}
        }
    }
    let _ = ws.close(None).await;
    Ok(())
}
