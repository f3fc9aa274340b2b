//! `revokes` and `sends`: sustained durable request rates.
//!
//! K clients (users), each logged in on its own connection and each sending one-to-one to the
//! next client (so every request also produces a live event for an online peer, which its
//! connection reads). Each client keeps a window of W requests outstanding: a new one goes out
//! as soon as an answer comes back. An answer is only sent by the server after the change is
//! durable, so answers per second are durable requests per second.
//!
//! `revokes` first sends messages (this phase is the `sends` figure), then revokes exactly
//! those messages for the measured period; only revokes are counted in the revoke phase.

use crate::common::{
    err, nanos, recv_until, run_tag, send, summarize, Pacer, Result, Summary, Target, Ws,
};
use im_revoke_core::{ClientFrame, Elem, ServerFrame};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Options of `revokes` / `sends`.
#[derive(Debug, Clone)]
pub struct ThroughputOpts {
    /// Clients (one connection and one user each).
    pub clients: usize,
    /// Outstanding requests per client.
    pub window: usize,
    /// Seconds of the send phase.
    pub send_secs: f64,
    /// Seconds of the revoke phase (0: sends only).
    pub revoke_secs: f64,
    /// Bytes of text per message.
    pub text_bytes: usize,
    /// Requests per second per client (user), at most (0: unpaced). The server limits each
    /// user (100/s, burst 200, by default).
    pub per_user_rate: f64,
    /// Give up after this long in all.
    pub max_secs: f64,
}

/// One measured phase.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    /// `send` or `revoke`.
    pub kind: &'static str,
    /// Answers (successful) within the measured interval.
    pub completed: usize,
    /// Length of the measured interval, seconds: the phase, or shorter when a client ran out
    /// of messages to revoke first (the rate is over the steady state, all clients busy).
    pub secs: f64,
    /// Successful answers per second.
    pub per_sec: f64,
    /// Successful answers in all (including those that arrived after the interval).
    pub total_ok: usize,
    /// Error answers by code.
    pub errors: BTreeMap<u32, usize>,
    /// Live events the clients received meanwhile (their peers' sends or revokes).
    pub events_received: usize,
    /// Request → answer latency, under this load (includes queueing behind the window).
    pub ack_latency: Summary,
}

/// What `revokes` / `sends` measured.
#[derive(Debug, Clone, Serialize)]
pub struct ThroughputReport {
    /// Clients.
    pub clients: usize,
    /// Window per client.
    pub window: usize,
    /// Text bytes per message.
    pub text_bytes: usize,
    /// Requests per second per client, at most (0: unpaced).
    pub per_user_rate: f64,
    /// The most the clients could offer per second (clients × per-user rate; `null` unpaced):
    /// a measured rate close to it means the server kept up and the load was the limit.
    pub offered_per_sec: Option<f64>,
    /// The send phase.
    pub sends: Phase,
    /// The revoke phase, if run.
    pub revokes: Option<Phase>,
}

struct ClientOut {
    /// When this client ran out of requests to make (its pool of messages to revoke).
    exhausted_at: Option<Instant>,
    acks: Vec<(Instant, u64)>,
    ok_ids: Vec<String>,
    errors: BTreeMap<u32, usize>,
    events: usize,
}

/// Keeps up to `window` requests in flight on `ws`, at most `rate` per second (0: no pacing),
/// until `deadline` or until `next` has no more, then waits for the stragglers (until `hard`).
#[allow(clippy::too_many_arguments)]
async fn pump(
    ws: &mut Ws,
    window: usize,
    rate: f64,
    start: Instant,
    deadline: Instant,
    hard: Instant,
    mut next: impl FnMut(u64) -> Option<(ClientFrame, String)>,
) -> Result<ClientOut> {
    tokio::time::sleep_until(start.into()).await;
    let mut pacer = Pacer::new(rate);
    let mut pending: HashMap<String, (Instant, String)> = HashMap::with_capacity(window * 2);
    let mut out = ClientOut {
        exhausted_at: None,
        acks: Vec::new(),
        ok_ids: Vec::new(),
        errors: BTreeMap::new(),
        events: 0,
    };
    let mut k = 0u64;
    let mut exhausted = false;
    loop {
        let mut wake = None;
        while !exhausted && pending.len() < window && Instant::now() < deadline {
            if let Some(p) = &mut pacer {
                if !p.try_take(Instant::now()) {
                    wake = Some(p.ready_at());
                    break;
                }
            }
            match next(k) {
                Some((frame, id)) => {
                    let req = frame.req_id().unwrap_or_default().to_string();
                    k += 1;
                    pending.insert(req, (Instant::now(), id));
                    send(ws, &frame).await?;
                }
                None => {
                    exhausted = true;
                    out.exhausted_at = Some(Instant::now());
                }
            }
        }
        if pending.is_empty() && wake.is_none() {
            return Ok(out);
        }
        let f = match wake {
            Some(at) => tokio::select! {
                f = recv_until(ws, hard) => f?,
                _ = tokio::time::sleep_until(at.into()) => continue,
            },
            None => recv_until(ws, hard).await?,
        };
        let now = Instant::now();
        match f {
            ServerFrame::SendOk { req_id, .. } | ServerFrame::RevokeOk { req_id, .. } => {
                if let Some((sent, id)) = pending.remove(&req_id) {
                    out.acks.push((now, nanos(now - sent)));
                    out.ok_ids.push(id);
                }
            }
            ServerFrame::Error {
                req_id: Some(r),
                code,
                ..
            } if pending.remove(&r).is_some() => {
                *out.errors.entry(code.num()).or_default() += 1;
            }
            ServerFrame::Error {
                req_id: Some(_), ..
            } => {}
            ServerFrame::Error { code, desc, .. } => {
                return Err(err(format!("connection error {}: {desc}", code.num())))
            }
            ServerFrame::Event(_) => out.events += 1,
            _ => {}
        }
    }
}

fn phase(kind: &'static str, start: Instant, deadline: Instant, outs: &[ClientOut]) -> Phase {
    let last = outs
        .iter()
        .flat_map(|o| o.acks.iter().map(|a| a.0))
        .max()
        .unwrap_or(start);
    // Steady state only: until the first client ran out of messages to revoke (if one did).
    let first_out = outs.iter().filter_map(|o| o.exhausted_at).min();
    let end = last
        .min(deadline)
        .min(first_out.unwrap_or(deadline))
        .max(start + Duration::from_millis(1));
    let completed = outs
        .iter()
        .flat_map(|o| o.acks.iter())
        .filter(|a| a.0 <= end)
        .count();
    let secs = (end - start).as_secs_f64();
    let mut lat: Vec<u64> = outs
        .iter()
        .flat_map(|o| o.acks.iter().map(|a| a.1))
        .collect();
    let mut errors = BTreeMap::new();
    for o in outs {
        for (c, n) in &o.errors {
            *errors.entry(*c).or_default() += n;
        }
    }
    Phase {
        kind,
        completed,
        secs,
        per_sec: completed as f64 / secs,
        total_ok: lat.len(),
        errors,
        events_received: outs.iter().map(|o| o.events).sum(),
        ack_latency: summarize(&mut lat),
    }
}

fn text_of(k: u64, bytes: usize) -> String {
    let mut s = format!("bench message {k} ");
    while s.len() < bytes {
        s.push('x');
    }
    s.truncate(bytes.max(1));
    s
}

/// Runs the send phase and (if `revoke_secs` > 0) the revoke phase.
pub async fn run(t: Arc<Target>, o: &ThroughputOpts) -> Result<ThroughputReport> {
    let hard = Instant::now() + Duration::from_secs_f64(o.max_secs);
    let tag = run_tag();
    let k = o.clients.max(2);
    let users: Vec<String> = (0..k).map(|i| format!("tp-{tag}-{i}")).collect();
    let mut conns = Vec::with_capacity(k);
    for u in &users {
        let (ws, _) = tokio::time::timeout_at(hard.into(), t.connect_login(u))
            .await
            .map_err(|_| err("timed out logging in"))??;
        conns.push(ws);
    }
    println!(
        "throughput: {k} clients x window {} ({} outstanding{}), sends for {:.1} s{}",
        o.window,
        k * o.window,
        if o.per_user_rate > 0.0 {
            format!(
                ", each at most {}/s: {:.0}/s offered at most",
                o.per_user_rate,
                o.per_user_rate * k as f64
            )
        } else {
            String::new()
        },
        o.send_secs,
        if o.revoke_secs > 0.0 {
            format!(
                ", then revokes of those messages for {:.1} s",
                o.revoke_secs
            )
        } else {
            String::new()
        }
    );

    // Send phase.
    let start = Instant::now() + Duration::from_millis(100);
    let deadline = start + Duration::from_secs_f64(o.send_secs);
    let mut tasks = Vec::new();
    for (i, mut ws) in conns.into_iter().enumerate() {
        let peer = users[(i + 1) % k].clone();
        let (tag, window, text_bytes, rate) =
            (tag.clone(), o.window, o.text_bytes, o.per_user_rate);
        tasks.push(tokio::spawn(async move {
            let r = pump(&mut ws, window, rate, start, deadline, hard, |n| {
                let msg_id = format!("tp-{tag}-{i}-{n}");
                Some((
                    ClientFrame::Send {
                        req_id: format!("s{n}"),
                        msg_id: msg_id.clone(),
                        receiver: Some(peer.clone()),
                        group_id: None,
                        elem: Elem::Text {
                            text: text_of(n, text_bytes),
                        },
                        reply_to: None,
                        cloud_custom_data: None,
                    },
                    msg_id,
                ))
            })
            .await;
            (ws, r)
        }));
    }
    let mut conns = Vec::new();
    let mut outs = Vec::new();
    for task in tasks {
        let (ws, r) = task.await.map_err(|e| err(format!("client task: {e}")))?;
        outs.push(r?);
        conns.push(ws);
    }
    let sends = phase("send", start, deadline, &outs);
    println!(
        "  sends:   {:>9.0} /s  ({} in {:.2} s; errors {:?})",
        sends.per_sec, sends.completed, sends.secs, sends.errors
    );
    crate::common::print_summary("send ack latency (under load)", &sends.ack_latency);

    let revokes = if o.revoke_secs > 0.0 {
        let start = Instant::now() + Duration::from_millis(100);
        let deadline = start + Duration::from_secs_f64(o.revoke_secs);
        let mut tasks = Vec::new();
        for (i, mut ws) in conns.into_iter().enumerate() {
            let pool = std::mem::take(&mut outs[i].ok_ids);
            let (window, rate) = (o.window, o.per_user_rate);
            tasks.push(tokio::spawn(async move {
                let r = pump(&mut ws, window, rate, start, deadline, hard, |n| {
                    let msg_id = pool.get(usize::try_from(n).ok()?)?.clone();
                    Some((
                        ClientFrame::Revoke {
                            req_id: format!("r{n}"),
                            msg_id: msg_id.clone(),
                            reason: "bench".into(),
                            group_id: None,
                        },
                        msg_id,
                    ))
                })
                .await;
                (ws, r)
            }));
        }
        let mut routs = Vec::new();
        for task in tasks {
            let (mut ws, r) = task.await.map_err(|e| err(format!("client task: {e}")))?;
            routs.push(r?);
            let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
        }
        let p = phase("revoke", start, deadline, &routs);
        println!(
            "  revokes: {:>9.0} /s  ({} in {:.2} s; errors {:?})",
            p.per_sec, p.completed, p.secs, p.errors
        );
        crate::common::print_summary("revoke ack latency (under load)", &p.ack_latency);
        Some(p)
    } else {
        for mut ws in conns {
            let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
        }
        None
    };
    Ok(ThroughputReport {
        clients: k,
        window: o.window,
        text_bytes: o.text_bytes,
        per_user_rate: o.per_user_rate,
        offered_per_sec: (o.per_user_rate > 0.0).then_some(o.per_user_rate * k as f64),
        sends,
        revokes,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_has_the_asked_size() {
        assert_eq!(super::text_of(12345, 32).len(), 32);
        assert_eq!(super::text_of(1, 4).len(), 4);
    }
}
