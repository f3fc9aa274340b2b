//! `flood`: is a well-behaved user's send slowed down by another user flooding a large group?
//! One user builds a group of M members (offline: every send writes an event into each
//! member's log) and then sends to it as fast as the server answers, ignoring refusals; another
//! user sends one-to-one messages one at a time, paced. The well-behaved user's send round trip
//! (written → durable `sendOk`) is measured without the flood and then during it: the ratio of
//! the two p99s is the figure (goal ≤ 3×, issue 20).

use crate::common::{
    err, nanos, pace, print_summary, recv_until, run_tag, send, summarize, Pacer, Result, Summary,
    Target, Ws,
};
use im_revoke_core::{ClientFrame, Elem, ServerFrame};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Options of `flood`.
#[derive(Debug, Clone)]
pub struct FloodOpts {
    /// Members of the flooded group, its owner included (the server's cap: 6,000 by default).
    pub members: usize,
    /// Members per createGroup / addGroupMembers (the server's cap: 500 by default).
    pub chunk: usize,
    /// The well-behaved user's sends measured in each phase.
    pub samples: usize,
    /// The well-behaved user's sends per second.
    pub rate: f64,
    /// Give up after this long in all.
    pub max_secs: f64,
}

/// What `flood` measured.
#[derive(Debug, Clone, Serialize)]
pub struct FloodReport {
    /// Members of the flooded group.
    pub members: usize,
    /// The well-behaved user's send round trip without the flood.
    pub quiet: Summary,
    /// The same during the flood.
    pub flooded: Summary,
    /// `flooded.p99_ms / quiet.p99_ms`.
    pub p99_ratio: f64,
    /// Flood sends the server accepted (each reached every member).
    pub flood_accepted: u64,
    /// Flood sends refused (60018: over the request rate or the fan-out budget).
    pub flood_refused: u64,
    /// Seconds the flood ran.
    pub flood_secs: f64,
}

async fn answer(ws: &mut Ws, req: &str, deadline: Instant) -> Result<ServerFrame> {
    loop {
        let f = recv_until(ws, deadline).await?;
        match &f {
            ServerFrame::SendOk { req_id, .. } | ServerFrame::GroupOk { req_id, .. }
                if req_id == req =>
            {
                return Ok(f)
            }
            ServerFrame::Error {
                req_id: Some(r), ..
            } if r == req => return Ok(f),
            // Refused before it was read (over the connection's frame rate): no reqId.
            ServerFrame::Error { req_id: None, .. } => return Ok(f),
            _ => {}
        }
    }
}

fn text(to: Option<&str>, group: Option<&str>, req: &str, msg: &str) -> ClientFrame {
    ClientFrame::Send {
        req_id: req.into(),
        msg_id: msg.into(),
        receiver: to.map(str::to_string),
        group_id: group.map(str::to_string),
        elem: Elem::Text { text: "x".into() },
        reply_to: None,
        cloud_custom_data: None,
    }
}

/// `samples` paced one-to-one sends of `ws` to `peer`; their round trips.
async fn measure(
    ws: &mut Ws,
    peer: &str,
    tag: &str,
    o: &FloodOpts,
    hard: Instant,
) -> Result<Summary> {
    let mut pacer = Pacer::new(o.rate);
    let mut rtts = Vec::with_capacity(o.samples);
    for i in 0..o.samples {
        pace(&mut pacer).await;
        let id = format!("{tag}-{i}");
        let t0 = Instant::now();
        send(ws, &text(Some(peer), None, &id, &id)).await?;
        match answer(ws, &id, hard).await? {
            ServerFrame::SendOk { .. } => rtts.push(nanos(t0.elapsed())),
            other => return Err(err(format!("the well-behaved send {id} failed: {other:?}"))),
        }
    }
    Ok(summarize(&mut rtts))
}

/// Runs `flood` against `t`.
pub async fn run(t: Arc<Target>, o: &FloodOpts) -> Result<FloodReport> {
    let hard = Instant::now() + Duration::from_secs_f64(o.max_secs);
    let tag = run_tag();
    let group = format!("fl-{tag}");
    let (mut flooder, _) = t.connect_login(&format!("fl-{tag}-eve")).await?;
    let (mut good, _) = t.connect_login(&format!("fl-{tag}-alice")).await?;
    let peer = format!("fl-{tag}-bob");

    // The group, at the cap, built by the flooder in calls of `chunk`.
    let users: Vec<String> = (1..o.members.max(2))
        .map(|i| format!("fl-{tag}-m{i}"))
        .collect();
    let mut pacer = Pacer::new(5.0);
    for (i, part) in users.chunks(o.chunk.max(1)).enumerate() {
        let req = format!("g{i}");
        let f = if i == 0 {
            ClientFrame::CreateGroup {
                req_id: req.clone(),
                group_id: group.clone(),
                name: "flood".into(),
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
        // Group changes cost the fan-out budget too: retry until it allows them.
        loop {
            pace(&mut pacer).await;
            send(&mut flooder, &f).await?;
            match answer(&mut flooder, &req, hard).await? {
                ServerFrame::GroupOk { .. } => break,
                ServerFrame::Error { code, .. } if code.num() == 60018 => continue,
                other => return Err(err(format!("building the group: {other:?}"))),
            }
        }
    }
    println!(
        "flood: group of {} members built; measuring {} quiet sends",
        o.members, o.samples
    );
    // Let the budget refill a little so that the flood starts with a burst.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let quiet = measure(&mut good, &peer, "q", o, hard).await?;
    print_summary("flood: quiet send round trip", &quiet);

    // The flood: one request in flight at a time, as fast as the answers come, under the
    // connection's frame rate.
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let flood = {
        let (stop, accepted, refused, group) = (
            stop.clone(),
            accepted.clone(),
            refused.clone(),
            group.clone(),
        );
        tokio::spawn(async move {
            // Just under the connection's frame rate (200/s by default): faster only gets
            // frames dropped unread, which costs the hub nothing.
            let mut pacer = Pacer::new(180.0);
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) && Instant::now() < hard {
                pace(&mut pacer).await;
                i += 1;
                let id = format!("f{i}");
                if send(&mut flooder, &text(None, Some(&group), &id, &id))
                    .await
                    .is_err()
                {
                    return;
                }
                match answer(&mut flooder, &id, hard).await {
                    Ok(ServerFrame::SendOk { .. }) => accepted.fetch_add(1, Ordering::Relaxed),
                    Ok(_) => refused.fetch_add(1, Ordering::Relaxed),
                    Err(_) => return,
                };
            }
        })
    };
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let flooded = measure(&mut good, &peer, "f", o, hard).await;
    stop.store(true, Ordering::Relaxed);
    let flood_secs = t0.elapsed().as_secs_f64();
    let _ = tokio::time::timeout(Duration::from_secs(10), flood).await;
    let flooded = flooded?;
    print_summary("flood: flooded send round trip", &flooded);
    let p99_ratio = flooded.p99_ms / quiet.p99_ms.max(1e-6);
    let (flood_accepted, flood_refused) = (
        accepted.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
    );
    println!(
        "flood: p99 ratio {p99_ratio:.2} (goal <= 3); flood sends accepted {flood_accepted}, refused {flood_refused} in {flood_secs:.1} s"
    );
    Ok(FloodReport {
        members: o.members,
        quiet,
        flooded,
        p99_ratio,
        flood_accepted,
        flood_refused,
        flood_secs,
    })
}
