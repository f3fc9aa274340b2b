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
//! the server is stopped cleanly and its database is read (the SQLite file read-only, or the
//! PostgreSQL database of `--db-url`) to check that every
//! acknowledged send and revoke holds, that every client applied exactly its log 1..head (no
//! event missing, none different), that every party of a revoked message got the revoke once,
//! and that every client agrees on the revoked set. Any violation: exit status 1.
//!
//! Only loopback is ever used (127.0.0.1 for the server, 127.0.0.x as sources), every phase is
//! bounded in time, and the server child is killed on every way out.
//!
//! Here: the command line and the phases of a run ([`run`]); `server.rs`, the server child;
//! `client.rs`, one client's task; `verify.rs`, the checks against the database and the summary.

mod client;
mod server;
mod verify;

use clap::{Parser, Subcommand};
use client::{create_group, run_client, ClientLog, Ctx, Phase};
use im_revoke_loadgen::common::{self, Result, Target};
use server::Server;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use verify::{print_summary, verify, Outcome, Report};

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
    /// Working directory: the database (`db`) and the server's log (`server.log`; with several
    /// nodes `server-<i>.log`).
    #[arg(long)]
    dir: PathBuf,
    /// Run the server on this PostgreSQL database instead of a SQLite file in `--dir`
    /// (`postgres://user@127.0.0.1:port/db`; it must hold no im-revoke data yet). The checks
    /// read it the same way.
    #[arg(long)]
    db_url: Option<String>,
    /// Server nodes sharing that database (PostgreSQL only; 1 otherwise). Client `i` starts on
    /// node `i mod N` and each reconnection tries the next node; each kill hits a node chosen
    /// at random, restarted on the same database.
    #[arg(long, default_value_t = 1)]
    nodes: usize,
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

/// One run, phase by phase: set up (server, groups), clients log in, the storm (with kills in
/// a crash run), drain, final sync, collect, stop the server, verify, report.
async fn run(mode: &str, a: CommonArgs, plan: Plan) -> Result<bool> {
    let t_start = Instant::now();
    let seed = a.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let mut rng = Rng::new(seed);
    let (mut nodes, ctx) = set_up(mode, &a, &plan, seed, &mut rng).await?;
    let (phase_tx, tasks) = spawn_clients(&ctx, &plan, &mut rng).await;
    let hard = t_start + Duration::from_secs(plan.max_secs);
    let logged_in = wait_logged_in(&ctx, &plan, t_start).await;
    let storm = storm(&mut nodes, &plan, &mut rng, logged_in, hard).await?;
    drain(&ctx, &plan, &phase_tx, hard).await;
    final_sync(&ctx, &plan, &phase_tx, hard).await;
    let mut logs = collect_logs(&phase_tx, tasks).await;
    let mut clean = true;
    for n in &mut nodes {
        clean &= n.stop().await;
    }
    if a.inject_fault && logs.len() >= 2 {
        inject_fault(&mut logs, &ctx.tag);
    }

    let mut rep = Report {
        mode: mode.into(),
        seed,
        clients: plan.clients,
        kills: storm.kills,
        server_starts: nodes.iter().map(|n| n.starts).sum(),
        restart_ms_max: storm.restart_max.as_millis() as u64,
        storm_secs: storm.secs,
        clean_shutdown: clean,
        ..Report::default()
    };
    let outcome = Outcome {
        users: &ctx.users,
        groups: &ctx.groups,
        logs: &logs,
        clean,
    };
    let db = verify::read_db(&nodes[0].db(), &ctx.users).await?;
    let (violations, agree) = verify(&outcome, db, &mut rep)?;
    let mut lat: Vec<u64> = logs
        .iter()
        .flat_map(|l| l.latencies_ns.iter().copied())
        .collect();
    if !lat.is_empty() {
        rep.revoke_to_event_ms = Some(common::summarize(&mut lat));
    }
    rep.total_secs = t_start.elapsed().as_secs_f64();
    rep.violations = violations.count;
    rep.violation_samples = violations.samples;
    print_summary(&rep, agree);
    if let Some(p) = &a.out {
        common::write_json(p, &rep)?;
    }
    Ok(rep.violations == 0)
}

/// Starts the server (each node) on a fresh database, names the users and groups, and creates
/// the groups.
async fn set_up(
    mode: &str,
    a: &CommonArgs,
    plan: &Plan,
    seed: u64,
    rng: &mut Rng,
) -> Result<(Vec<Server>, Arc<Ctx>)> {
    if a.nodes == 0 {
        return Err(common::err("--nodes must be at least 1"));
    }
    if a.nodes > 1 && a.db_url.is_none() {
        return Err(common::err(
            "--nodes above 1 needs --db-url (nodes share a PostgreSQL database)",
        ));
    }
    std::fs::create_dir_all(&a.dir)?;
    let key = format!("{:016x}{:016x}", rng.next(), rng.next());
    let mut nodes = Vec::with_capacity(a.nodes);
    for i in 0..a.nodes {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        nodes.push(Server {
            bin: a.server_bin.clone(),
            dir: a.dir.clone(),
            log: a.dir.join(if a.nodes == 1 {
                "server.log".to_string()
            } else {
                format!("server-{i}.log")
            }),
            db_url: a.db_url.clone(),
            port,
            key: key.clone(),
            sdkappid: a.sdkappid,
            child: None,
            starts: 0,
        });
    }
    let ports: Vec<String> = nodes.iter().map(|n| n.port.to_string()).collect();
    println!(
        "im-revoke-chaos {mode}: seed {seed}, {} clients, server{} 127.0.0.1:{}, db {}",
        plan.clients,
        if nodes.len() > 1 { "s" } else { "" },
        ports.join(", :"),
        nodes[0].db()
    );
    for n in &mut nodes {
        n.spawn()?;
        n.wait_ready().await?;
    }

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
    let targets = nodes
        .iter()
        .map(|n| {
            Target::new(
                &format!("ws://127.0.0.1:{}/ws", n.port),
                a.sdkappid,
                &key,
                a.sources,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let ctx = Arc::new(Ctx {
        targets,
        tag,
        users,
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
    Ok((nodes, ctx))
}

/// Starts every client's task (50 at a time), all in the storm phase.
async fn spawn_clients(
    ctx: &Arc<Ctx>,
    plan: &Plan,
    rng: &mut Rng,
) -> (watch::Sender<Phase>, Vec<JoinHandle<ClientLog>>) {
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
    (phase_tx, tasks)
}

/// Waits until every client has logged in once (90 s at most); returns whether all did.
async fn wait_logged_in(ctx: &Ctx, plan: &Plan, t_start: Instant) -> bool {
    let mut all = true;
    while ctx.ready.load(Ordering::SeqCst) < plan.clients {
        if Instant::now()
            > t_start + Duration::from_secs(90).min(Duration::from_secs(plan.max_secs))
        {
            eprintln!(
                "only {} of {} clients logged in",
                ctx.ready.load(Ordering::SeqCst),
                plan.clients
            );
            all = false;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "  {} clients logged in after {:.1} s; storm starts",
        ctx.ready.load(Ordering::SeqCst),
        t_start.elapsed().as_secs_f64()
    );
    all
}

/// What the storm did.
struct Storm {
    kills: u32,
    restart_max: Duration,
    secs: f64,
}

/// The storm: the clients act while, in a crash run, the server is SIGKILLed and restarted;
/// in a soak, it just lasts. Skipped when not every client logged in (the checks then report
/// what is missing).
async fn storm(
    nodes: &mut [Server],
    plan: &Plan,
    rng: &mut Rng,
    logged_in: bool,
    hard: Instant,
) -> Result<Storm> {
    let t_storm = Instant::now();
    let mut kills = 0u32;
    let mut restart_max = Duration::ZERO;
    if !logged_in {
        // fall through to the checks: they will report what is missing
    } else if let Some((n, lo, hi)) = plan.crash {
        (kills, restart_max) = kill_and_restart(nodes, (n, lo, hi), rng, hard, t_storm).await?;
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
    Ok(Storm {
        kills,
        restart_max,
        secs: t_storm.elapsed().as_secs_f64(),
    })
}

/// `n` times: wait `lo..=hi` ms, SIGKILL the server (a node chosen at random), sometimes wait a
/// little more, restart it on the same database. Returns the kills and the slowest restart.
async fn kill_and_restart(
    nodes: &mut [Server],
    (n, lo, hi): (u32, u64, u64),
    rng: &mut Rng,
    hard: Instant,
    t_storm: Instant,
) -> Result<(u32, Duration)> {
    let mut kills = 0u32;
    let mut restart_max = Duration::ZERO;
    while kills < n && Instant::now() < hard {
        tokio::time::sleep(Duration::from_millis(rng.range(lo, hi))).await;
        let server = &mut nodes[rng.below(nodes.len())];
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
    Ok((kills, restart_max))
}

/// The clients stop acting and wait for every answer (90 s at most); then a quiet period.
async fn drain(ctx: &Ctx, plan: &Plan, phase_tx: &watch::Sender<Phase>, hard: Instant) {
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
}

/// Every client syncs to the head of its log (60 s at most).
async fn final_sync(ctx: &Ctx, plan: &Plan, phase_tx: &watch::Sender<Phase>, hard: Instant) {
    let _ = phase_tx.send(Phase::Final);
    let final_deadline =
        (Instant::now() + Duration::from_secs(60)).min(hard + Duration::from_secs(30));
    while ctx.finished.load(Ordering::SeqCst) < plan.clients && Instant::now() < final_deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Stops every client and takes its log (a task that does not end within 10 s counts as a
/// violation).
async fn collect_logs(
    phase_tx: &watch::Sender<Phase>,
    tasks: Vec<JoinHandle<ClientLog>>,
) -> Vec<ClientLog> {
    let _ = phase_tx.send(Phase::Abort);
    let mut logs = Vec::with_capacity(tasks.len());
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
    logs
}

/// `--inject-fault`: client 0 forgets its last applied event, client 1 claims a revoke that
/// never happened; the checks must catch both.
fn inject_fault(logs: &mut [ClientLog], tag: &str) {
    let last = logs[0].applied.keys().next_back().copied();
    if let Some(k) = last {
        logs[0].applied.remove(&k);
    }
    logs[1]
        .acked_revokes
        .insert(format!("{tag}_1_999999"), ("r_fake".into(), 0));
    println!("  (--inject-fault: client 0 forgot seq {last:?}, client 1 claims a fake revoke)");
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
