//! `im-revoke-chaos`: reliability runs against the release server (docs/RELIABILITY.md).
//!
//! - `crash`: starts the server itself on a fresh SQLite database, drives a storm of sends and
//!   revokes (one-to-one and in a group) and SIGKILLs the server at random moments, restarting
//!   it on the same database each time. Clients reconnect, resend their unanswered requests
//!   idempotently (same msgID, same reqId) and catch up with `sync`.
//! - `soak`: many clients (1000 by default) doing mixed sends and revokes at a modest pace for
//!   a while, then a quiet period and a final sync.
//!
//! Both end the same way: every client drains its requests, syncs to the head of its event log,
//! the server is stopped cleanly and its SQLite file is read (read-only) to check that every
//! acknowledged send and revoke holds, that every client applied exactly its log 1..head (no
//! event missing, none different), that every party of a revoked message got the revoke once,
//! and that every client agrees on the revoked set. Any violation: exit status 1.
//!
//! Only loopback is ever used (127.0.0.1 for the server, 127.0.0.x as sources), every phase is
//! bounded in time, and the server child is killed on every way out.

use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use im_revoke_core::protocol::json::decode_server;
use im_revoke_core::{ClientFrame, Elem, Envelope, Event, RevokeInfo, ServerFrame};
use im_revoke_loadgen::common::{self, err, Result, Target, Ws};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message as WsMsg;

// ---------------------------------------------------------------------------------------------
// Command line

#[derive(Parser, Debug)]
#[command(
    name = "im-revoke-chaos",
    about = "Crash-durability and soak runs for im-revoke"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// SIGKILL the server at random moments during a storm of sends and revokes.
    Crash(CrashArgs),
    /// Many clients, mixed sends and revokes at a modest pace, then a final check.
    Soak(SoakArgs),
}

#[derive(clap::Args, Debug, Clone)]
struct CommonArgs {
    /// The server binary to start (as a child process).
    #[arg(long, default_value = "target/release/im-revoke-server")]
    server_bin: PathBuf,
    /// Working directory: the database (`db`) and the server's log (`server.log`).
    #[arg(long)]
    dir: PathBuf,
    /// SDKAppID given to the server.
    #[arg(long, default_value_t = 1_400_000_000)]
    sdkappid: u64,
    /// Random seed (default: from the clock); printed, so that a run can be repeated.
    #[arg(long)]
    seed: Option<u64>,
    /// Source addresses 127.0.0.2, 127.0.0.3, … used in turn.
    #[arg(long, default_value_t = 4)]
    sources: usize,
    /// Write the summary as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Self-test of the checks: before checking, drop one applied event from client 0's log
    /// and pretend client 1 had one more revoke acknowledged; the run must then fail.
    #[arg(long)]
    inject_fault: bool,
}

#[derive(clap::Args, Debug, Clone)]
struct CrashArgs {
    #[command(flatten)]
    c: CommonArgs,
    /// How many times to SIGKILL the server.
    #[arg(long, default_value_t = 20)]
    kills: u32,
    /// How many clients.
    #[arg(long, default_value_t = 20)]
    clients: usize,
    /// Shortest time between two kills, ms.
    #[arg(long, default_value_t = 700)]
    min_gap_ms: u64,
    /// Longest time between two kills, ms.
    #[arg(long, default_value_t = 4000)]
    max_gap_ms: u64,
    /// Requests a client keeps in flight at most.
    #[arg(long, default_value_t = 8)]
    inflight: usize,
    /// Hard bound on the whole run, seconds.
    #[arg(long, default_value_t = 300)]
    max_secs: u64,
}

#[derive(clap::Args, Debug, Clone)]
struct SoakArgs {
    #[command(flatten)]
    c: CommonArgs,
    /// How many clients.
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// How long the clients act, seconds.
    #[arg(long, default_value_t = 60)]
    secs: u64,
    /// Mean time between two actions of one client, ms.
    #[arg(long, default_value_t = 2000)]
    action_ms: u64,
    /// Number of groups.
    #[arg(long, default_value_t = 10)]
    groups: usize,
    /// Members per group.
    #[arg(long, default_value_t = 20)]
    group_size: usize,
    /// Quiet period before the final sync, seconds.
    #[arg(long, default_value_t = 3)]
    quiet_secs: u64,
    /// Hard bound on the whole run, seconds.
    #[arg(long, default_value_t = 400)]
    max_secs: u64,
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/// xorshift64*: no dependency for a few random numbers.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut r = Rng(seed ^ 0x9E37_79B9_7F4A_7C15);
        if r.0 == 0 {
            r.0 = 1;
        }
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in lo..=hi.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.next() % (hi - lo + 1)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pct(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }
}

const K_NEW: u8 = 1;
const K_REVOKE: u8 = 2;
const K_GROUP: u8 = 3;

fn kind_name(k: u8) -> &'static str {
    match k {
        K_NEW => "newMessage",
        K_REVOKE => "messageRevoked",
        K_GROUP => "groupChanged",
        _ => "?",
    }
}

fn entry_of(ev: &Event) -> (u8, String) {
    match ev {
        Event::NewMessage { message } => (K_NEW, message.msg_id.clone()),
        Event::MessageRevoked(r) => (K_REVOKE, r.msg_id.clone()),
        Event::GroupChanged { group } => (K_GROUP, group.group_id.clone()),
    }
}

async fn ws_send(ws: &mut Ws, f: &ClientFrame) -> Result<()> {
    common::send(ws, f).await
}

// ---------------------------------------------------------------------------------------------
// The server child

struct Server {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    key: String,
    sdkappid: u64,
    child: Option<std::process::Child>,
    starts: u32,
}

impl Server {
    fn db(&self) -> PathBuf {
        self.dir.join("db")
    }

    fn spawn(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))?;
        let child = std::process::Command::new(&self.bin)
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--db")
            .arg(self.db())
            .arg("--secret-key")
            .arg(&self.key)
            .arg("--sdkappid")
            .arg(self.sdkappid.to_string())
            .arg("--user-rate")
            .arg("0")
            .arg("--conn-rate")
            .arg("0")
            .env("IMR_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| err(format!("starting {}: {e}", self.bin.display())))?;
        self.child = Some(child);
        self.starts += 1;
        Ok(())
    }

    /// Waits until the server accepts TCP connections (15 s at most).
    async fn wait_ready(&mut self) -> Result<Duration> {
        let t0 = Instant::now();
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(t0.elapsed());
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    return Err(err(format!(
                        "the server exited at start ({st}); see {}",
                        self.dir.join("server.log").display()
                    )));
                }
            }
            if t0.elapsed() > Duration::from_secs(15) {
                return Err(err("the server did not listen within 15 s"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn sigkill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL on Unix
            let _ = c.wait();
        }
    }

    /// SIGTERM, then waits (10 s) for a clean exit; returns whether it was clean.
    async fn stop(&mut self) -> bool {
        let Some(mut c) = self.child.take() else {
            return false;
        };
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        let t0 = Instant::now();
        loop {
            if let Ok(Some(st)) = c.try_wait() {
                return st.success();
            }
            if t0.elapsed() > Duration::from_secs(10) {
                let _ = c.kill();
                let _ = c.wait();
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.sigkill();
    }
}

// ---------------------------------------------------------------------------------------------
// Clients

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Storm,
    Drain,
    Final,
    Abort,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Dest {
    User(usize),
    Group(usize),
}

struct Ctx {
    target: Target,
    tag: String,
    users: Vec<String>,
    /// groupID and member indexes.
    groups: Vec<(String, Vec<usize>)>,
    /// Per client: the groups it is in.
    my_groups: Vec<Vec<usize>>,
    crash: bool,
    inflight: usize,
    action_ms: (u64, u64),
    revoke_pct: u64,
    group_pct: u64,
    ready: AtomicUsize,
    drained: AtomicUsize,
    finished: AtomicUsize,
    /// When each revoke request was first sent (for revoke → event latency).
    revoke_sent: Mutex<HashMap<String, Instant>>,
}

struct Req {
    req_id: String,
    frame: ClientFrame,
    msg_id: String,
    is_send: bool,
    sent_once: bool,
    resent: bool,
}

struct Mine {
    msg_id: String,
    at: Instant,
    revoke_issued: bool,
}

#[derive(Default)]
struct ClientLog {
    applied: BTreeMap<u64, (u8, String)>,
    redelivered: u64,
    events_live: u64,
    events_sync: u64,
    acked_sends: HashMap<String, (u64, Dest)>,
    acked_revokes: HashMap<String, (String, u64)>,
    violations: Vec<String>,
    latencies_ns: Vec<u64>,
    reconnects: u64,
    resent: u64,
    retry_acks: u64,
    sends: u64,
    revokes: u64,
    final_head: u64,
}

struct Client {
    idx: usize,
    user: String,
    log: ClientLog,
    contig: u64,
    pending: VecDeque<Req>,
    mine: Vec<Mine>,
    syncing: bool,
    final_sync: bool,
    done: bool,
    n: u64,
    sync_n: u64,
    dests: HashMap<String, Dest>,
}

impl Client {
    fn violation(&mut self, v: String) {
        if self.log.violations.len() < 50 {
            self.log.violations.push(format!("{}: {v}", self.user));
        }
    }

    /// Records one log entry; returns whether a hole was seen (a sync is needed).
    fn record(&mut self, seq: u64, e: (u8, String)) {
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

    fn has_hole(&self) -> bool {
        self.log
            .applied
            .last_key_value()
            .is_some_and(|(&k, _)| k > self.contig)
    }

    async fn start_sync(&mut self, ws: &mut Ws) -> Result<()> {
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

    async fn handle(&mut self, ctx: &Ctx, ws: &mut Ws, f: ServerFrame) -> Result<()> {
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
    async fn act(&mut self, ctx: &Ctx, ws: &mut Ws, rng: &mut Rng) -> Result<()> {
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
    async fn connect(&mut self, ctx: &Ctx) -> Result<Ws> {
        let (mut ws, head) =
            tokio::time::timeout(Duration::from_secs(5), ctx.target.connect_login(&self.user))
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

async fn run_client(
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

// ---------------------------------------------------------------------------------------------
// The run

struct Plan {
    clients: usize,
    crash: Option<(u32, u64, u64)>,
    storm_secs: u64,
    quiet: Duration,
    inflight: usize,
    action_ms: (u64, u64),
    revoke_pct: u64,
    group_pct: u64,
    groups: Vec<Vec<usize>>,
    max_secs: u64,
}

async fn create_group(ctx: &Ctx, g: usize) -> Result<()> {
    let (gid, members) = &ctx.groups[g];
    let owner = &ctx.users[members[0]];
    let (mut ws, _) = ctx.target.connect_login(owner).await?;
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

/// One user's event log as stored: (seq, kind, target).
type DbLog = Vec<(u64, u8, String)>;

struct DbMsg {
    sender: String,
    receiver: Option<String>,
    group_id: Option<String>,
    revoke: Option<RevokeInfo>,
}

fn read_db(path: &Path, users: &[String]) -> Result<(HashMap<String, DbMsg>, Vec<DbLog>)> {
    use rusqlite::{Connection, OpenFlags};
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let mut msgs = HashMap::new();
    let mut st = conn.prepare("SELECT msg_id, sender, receiver, group_id, revoke FROM messages")?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Option<String>>(4)?,
        ))
    })?;
    for row in rows {
        let (id, sender, receiver, group_id, revoke) = row?;
        let revoke = match revoke {
            Some(j) => Some(serde_json::from_str::<RevokeInfo>(&j)?),
            None => None,
        };
        msgs.insert(
            id,
            DbMsg {
                sender,
                receiver,
                group_id,
                revoke,
            },
        );
    }
    let mut logs = Vec::new();
    // `event_log`: the server's view of every log (events moved to per-user order, and recent
    // ones still in arrival order).
    let mut st =
        conn.prepare("SELECT seq, kind, target FROM event_log WHERE user_id = ?1 ORDER BY seq")?;
    for u in users {
        let rows = st.query_map([u], |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                r.get::<_, i64>(1)? as u8,
                r.get::<_, String>(2)?,
            ))
        })?;
        logs.push(rows.collect::<std::result::Result<Vec<_>, _>>()?);
    }
    Ok((msgs, logs))
}

#[derive(serde::Serialize, Default)]
struct Report {
    mode: String,
    seed: u64,
    clients: usize,
    kills: u32,
    server_starts: u32,
    restart_ms_max: u64,
    storm_secs: f64,
    total_secs: f64,
    sends_issued: u64,
    revokes_issued: u64,
    sends_acked: u64,
    revokes_acked: u64,
    retry_acks_seq0: u64,
    requests_resent: u64,
    reconnects: u64,
    messages_in_db: usize,
    revoked_in_db: usize,
    events_checked: u64,
    events_live: u64,
    events_sync: u64,
    redelivered_ignored: u64,
    revoke_events_checked: u64,
    clean_shutdown: bool,
    revoke_to_event_ms: Option<common::Summary>,
    violations: usize,
    violation_samples: Vec<String>,
}

async fn run(mode: &str, a: CommonArgs, plan: Plan) -> Result<bool> {
    let t_start = Instant::now();
    let seed = a.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let mut rng = Rng::new(seed);
    std::fs::create_dir_all(&a.dir)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let key = format!("{:016x}{:016x}", rng.next(), rng.next());
    let mut server = Server {
        bin: a.server_bin.clone(),
        dir: a.dir.clone(),
        port,
        key: key.clone(),
        sdkappid: a.sdkappid,
        child: None,
        starts: 0,
    };
    println!(
        "im-revoke-chaos {mode}: seed {seed}, {} clients, server 127.0.0.1:{port}, db {}",
        plan.clients,
        server.db().display()
    );
    server.spawn()?;
    server.wait_ready().await?;

    let tag = common::run_tag();
    let users: Vec<String> = (0..plan.clients).map(|i| format!("c{tag}_{i}")).collect();
    let groups: Vec<(String, Vec<usize>)> = plan
        .groups
        .iter()
        .enumerate()
        .map(|(g, m)| (format!("g{tag}_{g}"), m.clone()))
        .collect();
    let mut my_groups = vec![Vec::new(); plan.clients];
    for (g, (_, m)) in groups.iter().enumerate() {
        for &i in m {
            my_groups[i].push(g);
        }
    }
    let target = Target::new(
        &format!("ws://127.0.0.1:{port}/ws"),
        a.sdkappid,
        &key,
        a.sources,
    )?;
    let ctx = Arc::new(Ctx {
        target,
        tag: tag.clone(),
        users: users.clone(),
        groups,
        my_groups,
        crash: plan.crash.is_some(),
        inflight: plan.inflight,
        action_ms: plan.action_ms,
        revoke_pct: plan.revoke_pct,
        group_pct: plan.group_pct,
        ready: AtomicUsize::new(0),
        drained: AtomicUsize::new(0),
        finished: AtomicUsize::new(0),
        revoke_sent: Mutex::new(HashMap::new()),
    });
    for g in 0..ctx.groups.len() {
        create_group(&ctx, g).await?;
    }

    let (phase_tx, phase_rx) = watch::channel(Phase::Storm);
    let mut tasks = Vec::with_capacity(plan.clients);
    for i in 0..plan.clients {
        let s = rng.next();
        tasks.push(tokio::spawn(run_client(
            ctx.clone(),
            i,
            phase_rx.clone(),
            s,
        )));
        if i % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let hard = t_start + Duration::from_secs(plan.max_secs);
    let mut setup_failed = false;
    while ctx.ready.load(Ordering::SeqCst) < plan.clients {
        if Instant::now()
            > t_start + Duration::from_secs(90).min(Duration::from_secs(plan.max_secs))
        {
            eprintln!(
                "only {} of {} clients logged in",
                ctx.ready.load(Ordering::SeqCst),
                plan.clients
            );
            setup_failed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "  {} clients logged in after {:.1} s; storm starts",
        ctx.ready.load(Ordering::SeqCst),
        t_start.elapsed().as_secs_f64()
    );

    let t_storm = Instant::now();
    let mut kills = 0u32;
    let mut restart_max = Duration::ZERO;
    if setup_failed {
        // fall through to the checks: they will report what is missing
    } else if let Some((n, lo, hi)) = plan.crash {
        while kills < n && Instant::now() < hard {
            tokio::time::sleep(Duration::from_millis(rng.range(lo, hi))).await;
            server.sigkill();
            kills += 1;
            // Sometimes restart at once, sometimes after a short outage.
            if rng.pct(50) {
                tokio::time::sleep(Duration::from_millis(rng.range(10, 500))).await;
            }
            server.spawn()?;
            let d = server.wait_ready().await?;
            restart_max = restart_max.max(d);
            if kills % 5 == 0 {
                println!(
                    "  {kills} kills after {:.1} s",
                    t_storm.elapsed().as_secs_f64()
                );
            }
        }
        // A little more storm on the last incarnation.
        tokio::time::sleep(Duration::from_millis(1500)).await;
    } else {
        let end = t_storm + Duration::from_secs(plan.storm_secs);
        while Instant::now() < end {
            tokio::time::sleep(Duration::from_secs(10).min(end - Instant::now())).await;
            println!(
                "  {:.0} s of {}",
                t_storm.elapsed().as_secs_f64(),
                plan.storm_secs
            );
        }
    }
    let storm_secs = t_storm.elapsed().as_secs_f64();
    let _ = phase_tx.send(Phase::Drain);
    let drain_deadline = (Instant::now() + Duration::from_secs(90)).min(hard);
    while ctx.drained.load(Ordering::SeqCst) < plan.clients && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "  drained: {} of {} clients have every request answered; quiet {:.1} s",
        ctx.drained.load(Ordering::SeqCst),
        plan.clients,
        plan.quiet.as_secs_f64()
    );
    tokio::time::sleep(plan.quiet).await;
    let _ = phase_tx.send(Phase::Final);
    let final_deadline =
        (Instant::now() + Duration::from_secs(60)).min(hard + Duration::from_secs(30));
    while ctx.finished.load(Ordering::SeqCst) < plan.clients && Instant::now() < final_deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = phase_tx.send(Phase::Abort);
    let mut logs = Vec::with_capacity(plan.clients);
    for t in tasks {
        match tokio::time::timeout(Duration::from_secs(10), t).await {
            Ok(Ok(l)) => logs.push(l),
            _ => {
                let mut l = ClientLog::default();
                l.violations.push("client task did not finish".into());
                logs.push(l);
            }
        }
    }
    let clean = server.stop().await;
    if a.inject_fault && logs.len() >= 2 {
        let last = logs[0].applied.keys().next_back().copied();
        if let Some(k) = last {
            logs[0].applied.remove(&k);
        }
        logs[1]
            .acked_revokes
            .insert(format!("{tag}_1_999999"), ("r_fake".into(), 0));
        println!("  (--inject-fault: client 0 forgot seq {last:?}, client 1 claims a fake revoke)");
    }

    // ---- Checks
    let mut violations: Vec<String> = Vec::new();
    let mut nviol = 0usize;
    let mut v = |s: String, violations: &mut Vec<String>| {
        nviol += 1;
        if violations.len() < 40 {
            violations.push(s);
        }
    };
    for l in &logs {
        for s in &l.violations {
            v(s.clone(), &mut violations);
        }
    }
    if !clean {
        v(
            "the server did not stop cleanly on SIGTERM".into(),
            &mut violations,
        );
    }
    let (msgs, dblogs) = read_db(&server.db(), &users)?;
    let mut rep = Report {
        mode: mode.into(),
        seed,
        clients: plan.clients,
        kills,
        server_starts: server.starts,
        restart_ms_max: restart_max.as_millis() as u64,
        storm_secs,
        clean_shutdown: clean,
        messages_in_db: msgs.len(),
        revoked_in_db: msgs.values().filter(|m| m.revoke.is_some()).count(),
        ..Report::default()
    };
    // Acknowledged sends and revokes hold.
    let mut all_acked: HashSet<&str> = HashSet::new();
    let mut all_revoked: HashSet<&str> = HashSet::new();
    for (i, l) in logs.iter().enumerate() {
        rep.sends_issued += l.sends;
        rep.revokes_issued += l.revokes;
        rep.sends_acked += l.acked_sends.len() as u64;
        rep.revokes_acked += l.acked_revokes.len() as u64;
        rep.retry_acks_seq0 += l.retry_acks;
        rep.requests_resent += l.resent;
        rep.reconnects += l.reconnects;
        rep.events_live += l.events_live;
        rep.events_sync += l.events_sync;
        rep.redelivered_ignored += l.redelivered;
        for (id, (_, dest)) in &l.acked_sends {
            all_acked.insert(id);
            match msgs.get(id) {
                None => v(
                    format!(
                        "{}: acknowledged send {id} is not in the database",
                        users[i]
                    ),
                    &mut violations,
                ),
                Some(m) => {
                    let ok = m.sender == users[i]
                        && match dest {
                            Dest::User(p) => {
                                m.receiver.as_deref() == Some(&users[*p]) && m.group_id.is_none()
                            }
                            Dest::Group(g) => m.group_id.as_deref() == Some(&ctx.groups[*g].0),
                        };
                    if !ok {
                        v(
                            format!("{}: message {id} stored with other parties", users[i]),
                            &mut violations,
                        );
                    }
                }
            }
        }
        for (id, (req, _)) in &l.acked_revokes {
            all_revoked.insert(id);
            match msgs.get(id).and_then(|m| m.revoke.as_ref()) {
                None => v(
                    format!("{}: acknowledged revoke of {id} does not hold", users[i]),
                    &mut violations,
                ),
                Some(r) if r.req_id != *req || r.user_id != users[i] => v(
                    format!(
                        "{}: {id} revoked by {} ({}), acked to us as {req}",
                        users[i], r.user_id, r.req_id
                    ),
                    &mut violations,
                ),
                Some(_) => {}
            }
        }
    }
    for (id, m) in &msgs {
        if !all_acked.contains(id.as_str()) {
            v(
                format!(
                    "message {id} of {} is stored but was never acknowledged",
                    m.sender
                ),
                &mut violations,
            );
        }
        if m.revoke.is_some() && !all_revoked.contains(id.as_str()) {
            v(
                format!("message {id} is revoked but no revoke was acknowledged"),
                &mut violations,
            );
        }
    }
    // Every client's log: exactly the server's log 1..head.
    let index: HashMap<&str, usize> = users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.as_str(), i))
        .collect();
    let mut expected: Vec<HashMap<(u8, String), u32>> = vec![HashMap::new(); plan.clients];
    for (id, m) in &msgs {
        let parties: Vec<usize> = match (&m.group_id, &m.receiver) {
            (Some(g), _) => ctx
                .groups
                .iter()
                .find(|(gid, _)| gid == g)
                .map(|(_, mem)| mem.clone())
                .unwrap_or_default(),
            (None, Some(r)) => [index.get(m.sender.as_str()), index.get(r.as_str())]
                .into_iter()
                .flatten()
                .copied()
                .collect(),
            (None, None) => vec![],
        };
        for p in parties {
            *expected[p].entry((K_NEW, id.clone())).or_default() += 1;
            if m.revoke.is_some() {
                *expected[p].entry((K_REVOKE, id.clone())).or_default() += 1;
            }
        }
    }
    for (g, (gid, mem)) in ctx.groups.iter().enumerate() {
        let _ = g;
        for &p in mem {
            *expected[p].entry((K_GROUP, gid.clone())).or_default() += 1;
        }
    }
    let mut agree = true;
    for (i, l) in logs.iter().enumerate() {
        let db = &dblogs[i];
        for (k, (s, _, _)) in db.iter().enumerate() {
            if *s != k as u64 + 1 {
                v(
                    format!(
                        "{}: the server's log has seq {s} at position {}",
                        users[i],
                        k + 1
                    ),
                    &mut violations,
                );
                break;
            }
        }
        let head = db.len() as u64;
        if l.final_head != head {
            v(
                format!(
                    "{}: synced to {} but the log's head is {head}",
                    users[i], l.final_head
                ),
                &mut violations,
            );
        }
        let keys: Vec<u64> = l.applied.keys().copied().collect();
        if keys != (1..=head).collect::<Vec<_>>() {
            let missing: Vec<u64> = (1..=head)
                .filter(|s| !l.applied.contains_key(s))
                .take(5)
                .collect();
            let extra: Vec<u64> = keys
                .iter()
                .filter(|&&s| s > head)
                .take(5)
                .copied()
                .collect();
            v(
                format!(
                    "{}: applied seqs are not 1..{head}: missing {missing:?}, beyond {extra:?}",
                    users[i]
                ),
                &mut violations,
            );
        }
        let mut seen: HashMap<(u8, String), u32> = HashMap::new();
        for (s, kind, target) in db {
            rep.events_checked += 1;
            match l.applied.get(s) {
                Some(e) if e.0 == *kind && e.1 == *target => {}
                Some(e) => v(
                    format!(
                        "{}: seq {s} applied as {} {} but stored as {} {target}",
                        users[i],
                        kind_name(e.0),
                        e.1,
                        kind_name(*kind)
                    ),
                    &mut violations,
                ),
                None => {}
            }
            *seen.entry((*kind, target.clone())).or_default() += 1;
        }
        for (e, n) in &seen {
            if *n > 1 {
                v(
                    format!(
                        "{}: {} {} is {n} times in the log (duplicate)",
                        users[i],
                        kind_name(e.0),
                        e.1
                    ),
                    &mut violations,
                );
            }
        }
        if seen.len() != expected[i].len() || expected[i].iter().any(|(e, _)| !seen.contains_key(e))
        {
            agree = false;
            let missing: Vec<String> = expected[i]
                .keys()
                .filter(|e| !seen.contains_key(*e))
                .take(5)
                .map(|e| format!("{} {}", kind_name(e.0), e.1))
                .collect();
            let unexpected: Vec<String> = seen
                .keys()
                .filter(|e| !expected[i].contains_key(*e))
                .take(5)
                .map(|e| format!("{} {}", kind_name(e.0), e.1))
                .collect();
            v(
                format!(
                    "{}: log misses {missing:?}, has unexpected {unexpected:?}",
                    users[i]
                ),
                &mut violations,
            );
        }
        rep.revoke_events_checked += seen.keys().filter(|e| e.0 == K_REVOKE).count() as u64;
        // The client's view of the revoked set.
        let mine: BTreeSet<&str> = l
            .applied
            .values()
            .filter(|e| e.0 == K_REVOKE)
            .map(|e| e.1.as_str())
            .collect();
        let want: BTreeSet<&str> = expected[i]
            .keys()
            .filter(|e| e.0 == K_REVOKE)
            .map(|e| e.1.as_str())
            .collect();
        if mine != want {
            agree = false;
            v(
                format!(
                    "{}: sees {} revoked messages, {} expected",
                    users[i],
                    mine.len(),
                    want.len()
                ),
                &mut violations,
            );
        }
    }
    let mut lat: Vec<u64> = logs
        .iter()
        .flat_map(|l| l.latencies_ns.iter().copied())
        .collect();
    if !lat.is_empty() {
        rep.revoke_to_event_ms = Some(common::summarize(&mut lat));
    }
    rep.total_secs = t_start.elapsed().as_secs_f64();
    rep.violations = nviol;
    rep.violation_samples = violations.clone();

    println!("\n== im-revoke-chaos {mode} summary (seed {seed}) ==");
    println!("  clients                 {}", rep.clients);
    if mode == "crash" {
        println!(
            "  SIGKILLs                {} (server started {} times, slowest restart {} ms)",
            rep.kills, rep.server_starts, rep.restart_ms_max
        );
    }
    println!(
        "  storm                   {:.1} s (whole run {:.1} s)",
        rep.storm_secs, rep.total_secs
    );
    println!(
        "  sends    issued/acked   {} / {}",
        rep.sends_issued, rep.sends_acked
    );
    println!(
        "  revokes  issued/acked   {} / {}",
        rep.revokes_issued, rep.revokes_acked
    );
    println!(
        "  answers seq 0 (retry)   {}   resent requests {}   reconnects {}",
        rep.retry_acks_seq0, rep.requests_resent, rep.reconnects
    );
    println!(
        "  database                {} messages, {} revoked",
        rep.messages_in_db, rep.revoked_in_db
    );
    println!(
        "  events checked          {} (live {}, via sync {}, re-deliveries ignored {})",
        rep.events_checked, rep.events_live, rep.events_sync, rep.redelivered_ignored
    );
    println!(
        "  revoke events checked   {} (every party of every revoked message, once)",
        rep.revoke_events_checked
    );
    println!(
        "  clients agree on revoked set: {}",
        if agree { "yes" } else { "NO" }
    );
    if let Some(s) = &rep.revoke_to_event_ms {
        common::print_summary("revoke sent -> event at a party", s);
    }
    println!(
        "  clean shutdown          {}",
        if clean { "yes" } else { "NO" }
    );
    println!("  violations              {nviol}");
    for s in &violations {
        println!("    - {s}");
    }
    if let Some(p) = &a.out {
        common::write_json(p, &rep)?;
    }
    Ok(nviol == 0)
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let r = rt.block_on(async {
        match cli.cmd {
            Cmd::Crash(a) => {
                let plan = Plan {
                    clients: a.clients.max(2),
                    crash: Some((a.kills, a.min_gap_ms, a.max_gap_ms)),
                    storm_secs: 0,
                    quiet: Duration::from_secs(1),
                    inflight: a.inflight.max(1),
                    action_ms: (0, 40),
                    revoke_pct: 35,
                    group_pct: 30,
                    groups: vec![(0..a.clients.max(2)).collect()],
                    max_secs: a.max_secs,
                };
                run("crash", a.c, plan).await
            }
            Cmd::Soak(a) => {
                let size = a.group_size.clamp(2, a.clients.max(2));
                let groups = (0..a.groups)
                    .map(|g| {
                        (0..size)
                            .map(|k| (g * size + k) % a.clients)
                            .collect::<BTreeSet<_>>()
                            .into_iter()
                            .collect()
                    })
                    .filter(|m: &Vec<usize>| m.len() >= 2)
                    .collect();
                let plan = Plan {
                    clients: a.clients.max(2),
                    crash: None,
                    storm_secs: a.secs,
                    quiet: Duration::from_secs(a.quiet_secs),
                    inflight: 2,
                    action_ms: (a.action_ms / 2, a.action_ms * 3 / 2),
                    revoke_pct: 25,
                    group_pct: 30,
                    groups,
                    max_secs: a.max_secs,
                };
                run("soak", a.c, plan).await
            }
        }
    });
    match r {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(1),
        Err(e) => {
            eprintln!("im-revoke-chaos: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
