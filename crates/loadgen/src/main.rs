//! `im-revoke-loadgen`: see `--help`.

use clap::{Args, Parser, Subcommand};
use im_revoke_loadgen::common::{write_json, Result, Target};
use im_revoke_loadgen::rest;
use im_revoke_loadgen::{
    attach, convlist, echo, fanout, flood, idle, latency, sqlite_baseline, throughput,
};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// im-revoke's load generator. Loopback only: any URL that is not ws:// on 127.0.0.0/8, [::1]
/// or localhost is refused. Every scenario stops by itself (counts and --max-secs).
#[derive(Parser, Debug)]
#[command(name = "im-revoke-loadgen", version)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Debug, Clone)]
struct Common {
    /// The server's WebSocket URL (loopback only).
    #[arg(long, default_value = "ws://127.0.0.1:8080/ws")]
    url: String,
    /// SDKAppID of the server.
    #[arg(long, env = "IMR_SDKAPPID", default_value_t = 1_400_000_000)]
    sdkappid: u64,
    /// The server's secret key (UserSigs are minted locally with it).
    #[arg(long, env = "IMR_SECRET_KEY", hide_env_values = true)]
    secret_key: String,
    /// Source addresses to connect from: 127.0.0.2, 127.0.0.3, … (more ephemeral ports).
    #[arg(long, default_value_t = 8)]
    sources: usize,
    /// Write the figures as JSON to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Stop after this many seconds whatever happens.
    #[arg(long, default_value_t = 300.0)]
    max_secs: f64,
    /// Requests per second per user, at most (0: unpaced). The server limits each user
    /// (100/s with a burst of 200 by default, then error 60018), so the load is spread over
    /// many users, as real load is.
    #[arg(long, default_value_t = 90.0)]
    per_user_rate: f64,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// N connections, each logged in, held open; the server's RSS before and after.
    Idle {
        #[command(flatten)]
        c: Common,
        /// Connections.
        #[arg(long, default_value_t = 10_000)]
        connections: usize,
        /// Connections being opened at once.
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
        /// Seconds to hold them before measuring.
        #[arg(long, default_value_t = 5.0)]
        hold: f64,
        /// PID of the server process (its /proc/<pid>/status VmRSS is read).
        #[arg(long)]
        server_pid: Option<u32>,
        /// Do not log in; send one text frame and wait for its echo (for the echo-server
        /// baseline).
        #[arg(long)]
        no_login: bool,
    },
    /// Durable revokes per second (after a send phase that is also measured).
    Revokes {
        #[command(flatten)]
        c: Common,
        #[command(flatten)]
        t: ThroughputArgs,
        /// Seconds of the measured revoke phase.
        #[arg(long, default_value_t = 10.0)]
        secs: f64,
    },
    /// Durable sends per second.
    Sends {
        #[command(flatten)]
        c: Common,
        #[command(flatten)]
        t: ThroughputArgs,
    },
    /// Revoke on A → messageRevoked event at B, one at a time; baseline: WebSocket echo.
    Latency {
        #[command(flatten)]
        c: Common,
        /// Measured samples.
        #[arg(long, default_value_t = 1000)]
        samples: usize,
        /// Unmeasured samples first.
        #[arg(long, default_value_t = 100)]
        warmup: usize,
    },
    /// One revoke fanned out to a group of M online members, R times.
    Fanout {
        #[command(flatten)]
        c: Common,
        /// Members besides the owner, all online.
        #[arg(long, default_value_t = 10_000)]
        members: usize,
        /// Measured revokes.
        #[arg(long, default_value_t = 50)]
        revokes: usize,
        /// Unmeasured rounds first.
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        /// Connections being opened at once.
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
        /// Members per createGroup/addGroupMembers request (the server's cap: 500).
        #[arg(long, default_value_t = 500)]
        chunk: usize,
        /// Also the baseline: the same rounds through the bare tokio-tungstenite server at this
        /// URL (`echo-server --broadcast`), which writes each frame to every other connection
        /// (no rules, no storage).
        #[arg(long)]
        baseline_url: Option<String>,
    },
    /// A user with N conversations (each begun by another peer, unread): the first page of
    /// their conversation list (100), S times; and the whole list in pages of 100.
    ConvList {
        #[command(flatten)]
        c: Common,
        /// Conversations of the user.
        #[arg(long, default_value_t = 1000)]
        conversations: usize,
        /// Measured first pages.
        #[arg(long, default_value_t = 50)]
        samples: usize,
        /// Unmeasured first pages before.
        #[arg(long, default_value_t = 5)]
        warmup: usize,
        /// Peers logging in and sending at once during the set-up.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
    },
    /// A well-behaved user's send round trip, quiet and while another user floods a group of
    /// M members (at the server's cap): the p99 ratio.
    Flood {
        #[command(flatten)]
        c: Common,
        /// Members of the flooded group, owner included.
        #[arg(long, default_value_t = 6_000)]
        members: usize,
        /// Members per createGroup/addGroupMembers request.
        #[arg(long, default_value_t = 500)]
        chunk: usize,
        /// Sends measured per phase.
        #[arg(long, default_value_t = 500)]
        samples: usize,
        /// The well-behaved user's sends per second.
        #[arg(long, default_value_t = 50.0)]
        rate: f64,
    },
    /// Attachments: a sender uploads a file (POST /upload), sends it, the receiver downloads
    /// its URL, the sender revokes it and the receiver polls the URL until 410; R rounds.
    /// Baselines: a file copy (+ fsync) in --dir, a loopback TCP transfer.
    Attach {
        #[command(flatten)]
        c: Common,
        /// Measured rounds.
        #[arg(long, default_value_t = 30)]
        rounds: usize,
        /// Unmeasured rounds first.
        #[arg(long, default_value_t = 1)]
        warmup: usize,
        /// Bytes of each file (the server's limit: 20 MiB by default).
        #[arg(long, default_value_t = 5_000_000)]
        bytes: usize,
        /// Directory of the file-copy baseline (use the server's data directory: same disk).
        #[arg(long, default_value_os_t = std::env::temp_dir())]
        dir: PathBuf,
        /// Seconds the receiver polls a revoked URL before the run fails.
        #[arg(long, default_value_t = 5.0)]
        poll_secs: f64,
    },
    /// Raw SQLite commit rates (WAL, synchronous=FULL): the ceiling for durable requests.
    SqliteBaseline {
        /// Directory for the temporary database (use the server's db directory).
        #[arg(long, default_value_os_t = std::env::temp_dir())]
        dir: PathBuf,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 3.0)]
        secs: f64,
        /// Batch sizes.
        #[arg(long, value_delimiter = ',', default_value = "16,256,1024")]
        batches: Vec<usize>,
        /// Extra pragmas after the server's own, to try tunings, e.g.
        /// `cache_size=-65536,mmap_size=268435456`.
        #[arg(long, value_delimiter = ',')]
        pragma: Vec<String>,
        /// Write the figures as JSON to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// A bare tokio-tungstenite echo server (baseline for idle memory): prints
    /// `echo-server listening on ws://ADDR/` and runs until --max-secs or SIGTERM.
    EchoServer {
        /// Address (loopback only; port 0 picks one).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        /// Read buffer per connection (default: tungstenite's, 128 KiB).
        #[arg(long)]
        read_buffer: Option<usize>,
        /// Write buffer per connection (default: tungstenite's, 128 KiB).
        #[arg(long)]
        write_buffer: Option<usize>,
        /// A text frame `bcast:PAYLOAD` is written to every other connection (the fan-out
        /// baseline) instead of being echoed.
        #[arg(long)]
        broadcast: bool,
        /// Stop after this many seconds.
        #[arg(long, default_value_t = 600.0)]
        max_secs: f64,
    },
    /// Admin sends (openim/sendmsg), then admin recalls (openim/admin_msgwithdraw) of each,
    /// over the REST API: requests/s and p50/p99. Start the server with --rest-rate 0.
    Rest {
        /// The server's HTTP address (loopback only).
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        http: String,
        /// SDKAppID of the server.
        #[arg(long, env = "IMR_SDKAPPID", default_value_t = 1_400_000_000)]
        sdkappid: u64,
        /// The server's secret key (the admin's UserSig is minted locally with it).
        #[arg(long, env = "IMR_SECRET_KEY", hide_env_values = true)]
        secret_key: String,
        /// The admin identifier (one of the server's --admin-identifier).
        #[arg(long, default_value = "administrator")]
        admin: String,
        /// Messages sent, then recalled.
        #[arg(long, default_value_t = 5000)]
        messages: usize,
        /// Connections, one request outstanding on each.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Write the figures as JSON to this file.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Stop after this many seconds whatever happens.
        #[arg(long, default_value_t = 300.0)]
        max_secs: f64,
    },
    /// A webhook receiver: answers every POST with ActionStatus OK after --delay-ms; prints
    /// `webhook-receiver listening on http://ADDR/` and runs until --max-secs or SIGTERM, then
    /// writes what it got to --out.
    WebhookReceiver {
        /// Address (loopback only; port 0 picks one).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        /// Delay before each answer, ms.
        #[arg(long, default_value_t = 500)]
        delay_ms: u64,
        /// Write the counts as JSON to this file.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Stop after this many seconds.
        #[arg(long, default_value_t = 600.0)]
        max_secs: f64,
    },
}

#[derive(Args, Debug, Clone)]
struct ThroughputArgs {
    /// Clients (one connection and one user each; each sends to the next).
    #[arg(long, default_value_t = 500)]
    clients: usize,
    /// Outstanding requests per client.
    #[arg(long, default_value_t = 8)]
    window: usize,
    /// Seconds of the send phase.
    #[arg(long, default_value_t = 10.0)]
    send_secs: f64,
    /// Bytes of text per message.
    #[arg(long, default_value_t = 32)]
    text_bytes: usize,
}

fn target(c: &Common) -> Result<Arc<Target>> {
    Ok(Arc::new(Target::new(
        &c.url,
        c.sdkappid,
        &c.secret_key,
        c.sources,
    )?))
}

fn out(path: &Option<PathBuf>, scenario: &str, v: serde_json::Value) -> Result<()> {
    if let Some(p) = path {
        write_json(p, &json!({ "scenario": scenario, "result": v }))?;
    }
    Ok(())
}

async fn bounded<T>(secs: f64, f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    // A little over the scenario's own limit: the scenario reports its own time-outs first.
    match tokio::time::timeout(Duration::from_secs_f64(secs + 30.0), f).await {
        Ok(r) => r,
        Err(_) => Err(im_revoke_loadgen::common::err(
            "the scenario ran out of time",
        )),
    }
}

async fn run(cmd: Cmd) -> Result<()> {
    match cmd {
        Cmd::Idle {
            c,
            connections,
            concurrency,
            hold,
            server_pid,
            no_login,
        } => {
            let o = idle::IdleOpts {
                connections,
                concurrency,
                hold_secs: hold,
                server_pid,
                login: !no_login,
                max_secs: c.max_secs,
            };
            let r = bounded(c.max_secs, idle::run(target(&c)?, &o)).await?;
            out(&c.out, "idle", serde_json::to_value(r)?)
        }
        Cmd::Revokes { c, t, secs } => throughput_cmd(c, t, secs, "revokes").await,
        Cmd::Sends { c, t } => throughput_cmd(c, t, 0.0, "sends").await,
        Cmd::Latency { c, samples, warmup } => {
            let o = latency::LatencyOpts {
                samples,
                warmup,
                per_user_rate: c.per_user_rate,
                max_secs: c.max_secs,
            };
            let r = bounded(c.max_secs, latency::run(target(&c)?, &o)).await?;
            out(&c.out, "latency", serde_json::to_value(r)?)
        }
        Cmd::Fanout {
            c,
            members,
            revokes,
            warmup,
            concurrency,
            chunk,
            baseline_url,
        } => {
            let o = fanout::FanoutOpts {
                members,
                revokes,
                warmup,
                concurrency,
                chunk,
                baseline_url,
                per_user_rate: c.per_user_rate,
                max_secs: c.max_secs,
            };
            let r = bounded(c.max_secs, fanout::run(target(&c)?, &o)).await?;
            out(&c.out, "fanout", serde_json::to_value(r)?)
        }
        Cmd::ConvList {
            c,
            conversations,
            samples,
            warmup,
            concurrency,
        } => {
            let o = convlist::ConvListOpts {
                conversations,
                samples,
                warmup,
                concurrency,
                per_user_rate: c.per_user_rate,
                max_secs: c.max_secs,
            };
            let r = bounded(c.max_secs, convlist::run(target(&c)?, &o)).await?;
            out(&c.out, "conv-list", serde_json::to_value(r)?)
        }
        Cmd::Flood {
            c,
            members,
            chunk,
            samples,
            rate,
        } => {
            let o = flood::FloodOpts {
                members,
                chunk,
                samples,
                rate,
                max_secs: c.max_secs,
            };
            let r = bounded(c.max_secs, flood::run(target(&c)?, &o)).await?;
            out(&c.out, "flood", serde_json::to_value(r)?)
        }
        Cmd::Attach {
            c,
            rounds,
            warmup,
            bytes,
            dir,
            poll_secs,
        } => {
            let o = attach::AttachOpts {
                rounds,
                warmup,
                bytes,
                dir,
                poll_secs,
                max_secs: c.max_secs,
            };
            let r = bounded(c.max_secs, attach::run(target(&c)?, &o)).await?;
            out(&c.out, "attach", serde_json::to_value(r)?)
        }
        Cmd::SqliteBaseline {
            dir,
            secs,
            batches,
            pragma,
            out: path,
        } => {
            let mut pragmas = Vec::new();
            for p in pragma {
                let (k, v) = p.split_once('=').ok_or_else(|| {
                    im_revoke_loadgen::common::err(format!("--pragma wants name=value, not {p:?}"))
                })?;
                pragmas.push((k.trim().to_string(), v.trim().to_string()));
            }
            let o = sqlite_baseline::SqliteOpts {
                secs,
                batches,
                pragmas,
            };
            let r = tokio::task::spawn_blocking(move || sqlite_baseline::run(&dir, &o))
                .await
                .map_err(|e| im_revoke_loadgen::common::err(e.to_string()))??;
            out(&path, "sqlite-baseline", serde_json::to_value(r)?)
        }
        Cmd::EchoServer {
            listen,
            read_buffer,
            write_buffer,
            broadcast,
            max_secs,
        } => {
            let d = echo::EchoConfig::default();
            let cfg = echo::EchoConfig {
                read_buffer: read_buffer.unwrap_or(d.read_buffer),
                write_buffer: write_buffer.unwrap_or(d.write_buffer),
                broadcast,
            };
            let (l, addr) = echo::bind(listen).await?;
            println!("echo-server listening on ws://{addr}/");
            use std::io::Write;
            let _ = std::io::stdout().flush();
            echo::serve(l, cfg, stop_signal(max_secs)).await;
            Ok(())
        }
        Cmd::Rest {
            http,
            sdkappid,
            secret_key,
            admin,
            messages,
            concurrency,
            out: path,
            max_secs,
        } => {
            let o = rest::RestOpts {
                addr: rest::http_addr(&http)?,
                sdkappid,
                key: secret_key,
                admin,
                messages,
                concurrency,
                max_secs,
            };
            let r = bounded(max_secs, rest::run(&o)).await?;
            out(&path, "rest", serde_json::to_value(r)?)
        }
        Cmd::WebhookReceiver {
            listen,
            delay_ms,
            out: path,
            max_secs,
        } => {
            let (l, addr) = rest::bind_receiver(listen).await?;
            println!("webhook-receiver listening on http://{addr}/");
            use std::io::Write;
            let _ = std::io::stdout().flush();
            let r = rest::serve_receiver(l, delay_ms, stop_signal(max_secs)).await;
            println!("webhook-receiver: {} requests", r.requests);
            out(&path, "webhook-receiver", serde_json::to_value(r)?)
        }
    }
}

/// Completes after `max_secs`, on Ctrl-C or on SIGTERM.
async fn stop_signal(max_secs: f64) {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs_f64(max_secs)) => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

async fn throughput_cmd(c: Common, t: ThroughputArgs, secs: f64, name: &str) -> Result<()> {
    let o = throughput::ThroughputOpts {
        clients: t.clients,
        window: t.window,
        send_secs: t.send_secs,
        revoke_secs: secs,
        text_bytes: t.text_bytes,
        per_user_rate: c.per_user_rate,
        max_secs: c.max_secs,
    };
    let r = bounded(c.max_secs, throughput::run(target(&c)?, &o)).await?;
    out(&c.out, name, serde_json::to_value(r)?)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("im-revoke-loadgen: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let r = rt.block_on(run(cli.cmd));
    // Do not wait for tasks still holding sockets: the process exit closes them.
    rt.shutdown_timeout(Duration::from_secs(1));
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("im-revoke-loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}
