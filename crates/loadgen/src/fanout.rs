//! `fanout`: one group of M members, all online; the owner sends and then revokes R messages,
//! one at a time. Per revoke: the time until the last member has decoded the event
//! (completion), and every member's own delivery time.
//!
//! Baseline, same run: the same number of members on a bare tokio-tungstenite server that
//! writes each frame it is given to every other connection ([`crate::echo`] with
//! `broadcast`): the same revoke event frame, decoded by the same readers, R rounds. What the
//! 2 cores cost for one frame to M sockets and M readers, with no rules, no storage, no
//! per-member encoding.

use crate::common::{
    err, nanos, pace, print_summary, recv_until, run_tag, send, send_text, summarize, Pacer,
    Result, Summary, Target, Ws,
};
use futures_util::StreamExt;
use im_revoke_core::protocol::json::{decode_server, encode_server};
use im_revoke_core::protocol::{Envelope, Revoked};
use im_revoke_core::{ClientFrame, Elem, Event, RevokeInfo, RevokerRole, ServerFrame};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

/// Options of `fanout`.
#[derive(Debug, Clone)]
pub struct FanoutOpts {
    /// Group members besides the owner, all online.
    pub members: usize,
    /// Measured revokes.
    pub revokes: usize,
    /// Unmeasured rounds first.
    pub warmup: usize,
    /// Connections being opened at once.
    pub concurrency: usize,
    /// Members per createGroup / addGroupMembers request.
    pub chunk: usize,
    /// The owner's requests per second, at most (the server limits each user; 0: unpaced).
    pub per_user_rate: f64,
    /// Give up after this long in all.
    pub max_secs: f64,
    /// The broadcast baseline's server (`echo-server --broadcast`, or [`crate::echo`] with
    /// `broadcast`), if the baseline is to run: its `ws://` URL.
    pub baseline_url: Option<String>,
}

/// What `fanout` measured.
#[derive(Debug, Clone, Serialize)]
pub struct FanoutReport {
    /// Members online (besides the owner).
    pub members: usize,
    /// Rounds measured.
    pub rounds: usize,
    /// Seconds to build the group.
    pub group_setup_secs: f64,
    /// Seconds to connect and log in all members.
    pub connect_secs: f64,
    /// Per revoke: written by the owner → the last member decoded the event.
    pub revoke_completion: Summary,
    /// Per member and revoke: written by the owner → that member decoded the event.
    pub revoke_delivery: Summary,
    /// Per revoke: written by the owner → the owner's durable `revokeOk`.
    pub revoke_ack: Summary,
    /// For comparison, per send: written by the owner → the last member has the new message.
    pub send_completion: Summary,
    /// Members that missed an event within the round's time limit (should be 0).
    pub missed: usize,
    /// The same rounds through a bare broadcasting WebSocket server, if run.
    pub baseline: Option<BaselineReport>,
}

/// The broadcast baseline of `fanout`.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineReport {
    /// Connections that received (besides the sender).
    pub members: usize,
    /// Per round: the frame written by the sender → the last member decoded it.
    pub completion: Summary,
    /// Per member and round: written → that member decoded it.
    pub delivery: Summary,
    /// Deliveries that missed the round's time limit (should be 0).
    pub missed: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    New,
    Revoked,
}

/// (round, kind, arrival)
type Seen = (usize, Kind, Instant);

fn round_of(msg_id: &str) -> Option<usize> {
    msg_id.rsplit_once("-m")?.1.parse().ok()
}

/// A member's reader: decodes every frame (as a client would) and reports the events, until
/// `stop`; then closes its socket.
fn member(
    mut ws: Ws,
    tx: mpsc::UnboundedSender<Seen>,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let m = tokio::select! {
                _ = async { stop.wait_for(|s| *s).await.is_ok() } => None,
                m = ws.next() => Some(m),
            };
            let Some(m) = m else {
                let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
                return;
            };
            let t = match m {
                Some(Ok(Message::Text(t))) => t,
                Some(Ok(_)) => continue,
                _ => return,
            };
            let Ok(ServerFrame::Event(env)) = decode_server(t.as_str()) else {
                continue;
            };
            let now = Instant::now();
            let seen = match &*env.event {
                Event::NewMessage { message } => {
                    round_of(&message.msg_id).map(|r| (r, Kind::New, now))
                }
                Event::MessageRevoked(r) => round_of(&r.msg_id).map(|r| (r, Kind::Revoked, now)),
                Event::GroupChanged { .. } | Event::ConversationRead { .. } => None,
            };
            if let Some(s) = seen {
                let _ = tx.send(s);
            }
        }
    })
}

/// Opens `n` readers with `open(i)`, `concurrency` at a time and all by `hard`, each reporting
/// to `tx` until `stopped`.
async fn open_readers<F, Fut>(
    n: usize,
    concurrency: usize,
    hard: Instant,
    tx: &mpsc::UnboundedSender<Seen>,
    stopped: &watch::Receiver<bool>,
    open: F,
) -> Result<Vec<tokio::task::JoinHandle<()>>>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<Ws>>,
{
    let opened = futures_util::stream::iter(0..n)
        .map(|i| {
            let f = open(i);
            async move {
                tokio::time::timeout_at(hard.into(), f)
                    .await
                    .map_err(|_| err("timed out"))?
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    opened
        .into_iter()
        .map(|ws| Ok(member(ws?, tx.clone(), stopped.clone())))
        .collect()
}

/// Waits for the answer to `req` on the owner's socket.
async fn answer(ws: &mut Ws, req: &str, deadline: Instant) -> Result<(Instant, ServerFrame)> {
    loop {
        let f = recv_until(ws, deadline).await?;
        let now = Instant::now();
        match &f {
            ServerFrame::SendOk { req_id, .. }
            | ServerFrame::RevokeOk { req_id, .. }
            | ServerFrame::GroupOk { req_id, .. }
                if req_id == req =>
            {
                return Ok((now, f))
            }
            ServerFrame::Error {
                req_id: Some(r),
                code,
                desc,
            } if r == req => return Err(err(format!("{req} failed: {} {desc}", code.num()))),
            _ => {}
        }
    }
}

/// Collects `want` arrivals of (`round`, `kind`) from the members, until `deadline`. Arrivals
/// of other rounds or kinds are ignored (there are none when rounds do not overlap).
async fn collect(
    rx: &mut mpsc::UnboundedReceiver<Seen>,
    round: usize,
    kind: Kind,
    want: usize,
    deadline: Instant,
) -> Vec<Instant> {
    let mut got = Vec::with_capacity(want);
    while got.len() < want {
        match tokio::time::timeout_at(deadline.into(), rx.recv()).await {
            Ok(Some((r, k, at))) => {
                if r == round && k == kind {
                    got.push(at);
                }
            }
            _ => break,
        }
    }
    got
}

/// Runs `fanout`.
pub async fn run(t: Arc<Target>, o: &FanoutOpts) -> Result<FanoutReport> {
    let hard = Instant::now() + Duration::from_secs_f64(o.max_secs);
    let tag = run_tag();
    let group = format!("fo-{tag}");
    let owner = format!("fo-{tag}-owner");
    let users: Vec<String> = (0..o.members).map(|i| format!("fo-{tag}-{i}")).collect();

    // The group first, members offline (so the group-change events are stored, not streamed).
    let t0 = Instant::now();
    let (mut ow, _) = t.connect_login(&owner).await?;
    let chunk = o.chunk.max(1);
    let mut pacer = Pacer::new(o.per_user_rate);
    for (i, part) in users.chunks(chunk).enumerate() {
        let req = format!("g{i}");
        let frame = if i == 0 {
            ClientFrame::CreateGroup {
                req_id: req.clone(),
                group_id: group.clone(),
                name: "fanout bench".into(),
                admins: vec![],
                members: part.to_vec(),
            }
        } else {
            ClientFrame::AddGroupMembers {
                req_id: req.clone(),
                group_id: group.clone(),
                members: part.to_vec(),
            }
        };
        pace(&mut pacer).await;
        send(&mut ow, &frame).await?;
        answer(&mut ow, &req, hard).await?;
    }
    if users.is_empty() {
        return Err(err("fanout needs at least one member"));
    }
    let group_setup_secs = t0.elapsed().as_secs_f64();
    println!(
        "fanout: group of {} members + owner built in {group_setup_secs:.2} s; connecting them",
        o.members
    );

    // All members online.
    let t1 = Instant::now();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (stop, stopped) = watch::channel(false);
    let readers = open_readers(o.members, o.concurrency, hard, &tx, &stopped, |i| {
        let (t, u) = (t.clone(), users[i].clone());
        async move {
            let (ws, _) = t
                .connect_login(&u)
                .await
                .map_err(|e| err(format!("a member could not log in: {e}")))?;
            Ok(ws)
        }
    })
    .await?;
    let online = readers.len();
    drop(tx);
    let connect_secs = t1.elapsed().as_secs_f64();
    println!(
        "fanout: {online} members online in {connect_secs:.2} s; {} rounds ({} warm-up) of send, then revoke",
        o.revokes + o.warmup,
        o.warmup
    );

    let mut completion = Vec::new();
    let mut delivery = Vec::new();
    let mut acks = Vec::new();
    let mut send_completion = Vec::new();
    let mut missed = 0;
    for round in 0..o.revokes + o.warmup {
        let measured = round >= o.warmup;
        let msg_id = format!("fo-{tag}-m{round}");
        let round_limit = (Instant::now() + Duration::from_secs(60)).min(hard);
        // Send, and wait until every member has it (rounds never overlap).
        let req = format!("s{round}");
        pace(&mut pacer).await;
        let t_send = Instant::now();
        send(
            &mut ow,
            &ClientFrame::Send {
                req_id: req.clone(),
                msg_id: msg_id.clone(),
                receiver: None,
                group_id: Some(group.clone()),
                elem: Elem::Text {
                    text: format!("fan-out probe {round}"),
                },
                reply_to: None,
                cloud_custom_data: None,
            },
        )
        .await?;
        answer(&mut ow, &req, round_limit).await?;
        let got = collect(&mut rx, round, Kind::New, online, round_limit).await;
        if measured {
            if let Some(last) = got.iter().max() {
                send_completion.push(nanos(*last - t_send));
            }
        }
        missed += online - got.len();
        // Revoke, and wait until every member has the event.
        let req = format!("r{round}");
        pace(&mut pacer).await;
        let t_rev = Instant::now();
        send(
            &mut ow,
            &ClientFrame::Revoke {
                req_id: req.clone(),
                msg_id,
                reason: "fan-out".into(),
                group_id: Some(group.clone()),
            },
        )
        .await?;
        let (at_ack, _) = answer(&mut ow, &req, round_limit).await?;
        let got = collect(&mut rx, round, Kind::Revoked, online, round_limit).await;
        missed += online - got.len();
        if measured {
            acks.push(nanos(at_ack - t_rev));
            if let Some(last) = got.iter().max() {
                completion.push(nanos(*last - t_rev));
            }
            delivery.extend(got.iter().map(|at| nanos(*at - t_rev)));
        }
        if Instant::now() >= hard {
            return Err(err("fanout ran out of time"));
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), ow.close(None)).await;
    let mut report = FanoutReport {
        members: online,
        rounds: o.revokes,
        group_setup_secs,
        connect_secs,
        revoke_completion: summarize(&mut completion),
        revoke_delivery: summarize(&mut delivery),
        revoke_ack: summarize(&mut acks),
        send_completion: summarize(&mut send_completion),
        missed,
        baseline: None,
    };
    print_summary(
        "revoke → last member (completion)",
        &report.revoke_completion,
    );
    print_summary("revoke → each member (delivery)", &report.revoke_delivery);
    print_summary("revoke → owner's durable ack", &report.revoke_ack);
    print_summary("send → last member (completion)", &report.send_completion);
    if missed > 0 {
        println!("fanout: WARNING {missed} deliveries missed the 60 s round limit");
    }
    let _ = stop.send(true);
    let _ = tokio::time::timeout(
        Duration::from_secs(15),
        futures_util::future::join_all(readers),
    )
    .await;
    drop(rx);
    if let Some(url) = &o.baseline_url {
        let b = baseline(&t, url, o, &group, hard).await?;
        print_summary("baseline: broadcast → last member", &b.completion);
        print_summary("baseline: broadcast → each member", &b.delivery);
        report.baseline = Some(b);
    }
    Ok(report)
}

/// The broadcast baseline: `o.members` readers and one writer on the bare broadcasting
/// tokio-tungstenite server at `url` (a process of its own in `scripts/bench.sh`, as the
/// im-revoke server is), `o.revokes` measured rounds of one revoke event frame as the server
/// sends it.
async fn baseline(
    t: &Target,
    url: &str,
    o: &FanoutOpts,
    group: &str,
    hard: Instant,
) -> Result<BaselineReport> {
    let bt = Arc::new(Target::new(url, t.sdkappid, &t.key, t.sources.len())?);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (stop, stopped) = watch::channel(false);
    let readers = open_readers(o.members, o.concurrency, hard, &tx, &stopped, |_| {
        let bt = bt.clone();
        async move { bt.connect().await }
    })
    .await?;
    drop(tx);
    let online = readers.len();
    let mut writer = bt.connect().await?;
    // The writer's own echo shows the server serves it; the readers are on its broadcast list
    // from the end of their handshakes (a moment after ours on the server's side: the pause).
    send_text(&mut writer, "ping".into()).await?;
    let _ = tokio::time::timeout_at(hard.into(), writer.next()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (mut completion, mut delivery, mut missed) = (Vec::new(), Vec::new(), 0);
    for round in 0..o.revokes + o.warmup {
        let round_limit = (Instant::now() + Duration::from_secs(60)).min(hard);
        let frame = ServerFrame::Event(Envelope {
            seq: round as u64 + 1,
            event: Arc::new(Event::MessageRevoked(Revoked {
                msg_id: format!("fo-baseline-m{round}"),
                sender: "fo-baseline-owner".into(),
                receiver: None,
                group_id: Some(group.to_string()),
                seq: round as u64 + 1,
                revoke: RevokeInfo {
                    user_id: "fo-baseline-owner".into(),
                    role: RevokerRole::Sender,
                    reason: "fan-out".into(),
                    time_ms: 1_700_000_000_000,
                    req_id: format!("r{round}"),
                },
            })),
        });
        let text = format!("{}{}", crate::echo::BROADCAST_PREFIX, encode_server(&frame));
        let t0 = Instant::now();
        send_text(&mut writer, text).await?;
        let got = collect(&mut rx, round, Kind::Revoked, online, round_limit).await;
        missed += online - got.len();
        if round >= o.warmup {
            if let Some(last) = got.iter().max() {
                completion.push(nanos(*last - t0));
            }
            delivery.extend(got.iter().map(|at| nanos(*at - t0)));
        }
    }
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(1), writer.close(None)).await;
    let _ = tokio::time::timeout(
        Duration::from_secs(15),
        futures_util::future::join_all(readers),
    )
    .await;
    Ok(BaselineReport {
        members: online,
        completion: summarize(&mut completion),
        delivery: summarize(&mut delivery),
        missed,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn rounds_from_msg_ids() {
        assert_eq!(super::round_of("fo-abc-m12"), Some(12));
        assert_eq!(super::round_of("fo-a-m-b-m3"), Some(3));
        assert_eq!(super::round_of("lat-x-1"), None);
    }
}
