//! `latency`: revoke on client A → the `messageRevoked` event at client B, one at a time; and
//! in the same run the baseline, a bare loopback WebSocket echo.

use crate::common::{
    err, nanos, pace, print_summary, run_tag, send_text, summarize, Pacer, Result, Summary, Target,
    Ws,
};
use crate::echo;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use im_revoke_core::protocol::json::{decode_server, encode_client};
use im_revoke_core::{ClientFrame, Elem, Event, ServerFrame};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// Options of `latency`.
#[derive(Debug, Clone)]
pub struct LatencyOpts {
    /// Measured revokes (and echo round trips).
    pub samples: usize,
    /// Unmeasured ones first.
    pub warmup: usize,
    /// A's requests per second, at most (the server limits each user; 0: unpaced).
    pub per_user_rate: f64,
    /// Give up after this long in all.
    pub max_secs: f64,
}

/// What `latency` measured.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyReport {
    /// revoke written on A's socket → B has decoded the `messageRevoked` event.
    pub revoke_to_event: Summary,
    /// revoke written on A's socket → A has decoded `revokeOk` (durable ack).
    pub revoke_ack: Summary,
    /// Baseline: bare WebSocket echo round trip (same frame size as the event).
    pub echo_rtt: Summary,
    /// Baseline: half of each echo round trip (one loopback WebSocket hop).
    pub echo_one_way: Summary,
    /// Bytes of the echoed frame.
    pub echo_frame_bytes: usize,
}

type Sink = SplitSink<Ws, Message>;

/// Reads frames, stamps them on arrival (after decoding, as a client would have them) and
/// forwards them.
fn reader(mut rx: SplitStream<Ws>) -> mpsc::UnboundedReceiver<(Instant, ServerFrame)> {
    let (tx, out) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(m)) = rx.next().await {
            if let Message::Text(t) = m {
                if let Ok(f) = decode_server(t.as_str()) {
                    if tx.send((Instant::now(), f)).is_err() {
                        return;
                    }
                }
            }
        }
    });
    out
}

async fn send_sink(s: &mut Sink, f: &ClientFrame) -> Result<()> {
    s.send(Message::text(encode_client(f))).await?;
    Ok(())
}

/// Waits (until `deadline`) for a frame that `want` accepts; returns its arrival time.
async fn wait_for(
    rx: &mut mpsc::UnboundedReceiver<(Instant, ServerFrame)>,
    deadline: Instant,
    mut want: impl FnMut(&ServerFrame) -> Result<bool>,
) -> Result<Instant> {
    loop {
        let got = tokio::time::timeout_at(deadline.into(), rx.recv())
            .await
            .map_err(|_| err("timed out waiting for a frame"))?;
        let (at, f) = got.ok_or_else(|| err("connection closed"))?;
        if want(&f)? {
            return Ok(at);
        }
    }
}

fn revoked_id(f: &ServerFrame) -> Option<&str> {
    match f {
        ServerFrame::Event(env) => match &*env.event {
            Event::MessageRevoked(r) => Some(&r.msg_id),
            _ => None,
        },
        _ => None,
    }
}

/// Runs `latency`.
pub async fn run(t: Arc<Target>, o: &LatencyOpts) -> Result<LatencyReport> {
    let hard = Instant::now() + Duration::from_secs_f64(o.max_secs);
    let tag = run_tag();
    let (a_user, b_user) = (format!("lat-{tag}-a"), format!("lat-{tag}-b"));
    let (a, _) = t.connect_login(&a_user).await?;
    let (b, _) = t.connect_login(&b_user).await?;
    let n = o.samples + o.warmup;
    println!(
        "latency: {} revokes one at a time ({} warm-up), A → server → B",
        o.samples, o.warmup
    );

    // Setup: A sends n messages to B (paced); B reads them all.
    let (mut a_tx, a_rx) = a.split();
    let mut a_rx = reader(a_rx);
    let mut b_rx = reader(b.split().1);
    let mut pacer = Pacer::new(o.per_user_rate);
    let ids: Vec<String> = (0..n).map(|i| format!("lat-{tag}-{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        pace(&mut pacer).await;
        send_sink(
            &mut a_tx,
            &ClientFrame::Send {
                req_id: format!("s{i}"),
                msg_id: id.clone(),
                receiver: Some(b_user.clone()),
                group_id: None,
                elem: Elem::Text {
                    text: format!("latency probe {i}"),
                },
                reply_to: None,
                cloud_custom_data: None,
            },
        )
        .await?;
        if Instant::now() >= hard {
            return Err(err("timed out in setup"));
        }
    }
    let mut acked = 0;
    wait_for(&mut a_rx, hard, |f| match f {
        ServerFrame::SendOk { .. } => {
            acked += 1;
            Ok(acked >= n)
        }
        ServerFrame::Error { code, desc, .. } => {
            Err(err(format!("send failed in setup: {} {desc}", code.num())))
        }
        _ => Ok(false),
    })
    .await?;
    let mut seen = 0;
    wait_for(&mut b_rx, hard, |f| {
        if matches!(f, ServerFrame::Event(e) if matches!(&*e.event, Event::NewMessage { .. })) {
            seen += 1;
        }
        Ok(seen >= n)
    })
    .await?;

    // Measure: one revoke at a time (paced like any one user).
    let mut to_event = Vec::with_capacity(o.samples);
    let mut to_ack = Vec::with_capacity(o.samples);
    let mut event_bytes = 0;
    for (i, id) in ids.iter().enumerate() {
        let req = format!("r{i}");
        let frame = ClientFrame::Revoke {
            req_id: req.clone(),
            msg_id: id.clone(),
            reason: "latency".into(),
            group_id: None,
        };
        pace(&mut pacer).await;
        let t0 = Instant::now();
        send_sink(&mut a_tx, &frame).await?;
        let at_b = wait_for(&mut b_rx, hard, |f| {
            if revoked_id(f) == Some(id.as_str()) {
                if event_bytes == 0 {
                    event_bytes = im_revoke_core::protocol::json::encode_server(f).len();
                }
                Ok(true)
            } else {
                Ok(false)
            }
        })
        .await?;
        let at_a = wait_for(&mut a_rx, hard, |f| match f {
            ServerFrame::RevokeOk { req_id, .. } => Ok(*req_id == req),
            ServerFrame::Error {
                req_id: Some(r),
                code,
                desc,
            } if *r == req => Err(err(format!("revoke failed: {} {desc}", code.num()))),
            _ => Ok(false),
        })
        .await?;
        if i >= o.warmup {
            to_event.push(nanos(at_b - t0));
            to_ack.push(nanos(at_a - t0));
        }
    }
    let _ = a_tx.close().await;
    drop(b_rx);
    let revoke_to_event = summarize(&mut to_event);
    let revoke_ack = summarize(&mut to_ack);
    print_summary("revoke → B's event", &revoke_to_event);
    print_summary("revoke → A's durable ack", &revoke_ack);

    // Baseline: bare echo, a frame the size of the revoke event.
    let frame_bytes = event_bytes.max(64);
    let (echo_rtt, echo_one_way) = echo_baseline(o.samples, o.warmup, frame_bytes, hard).await?;
    print_summary("baseline: WebSocket echo RTT", &echo_rtt);
    print_summary("baseline: echo RTT / 2", &echo_one_way);
    Ok(LatencyReport {
        revoke_to_event,
        revoke_ack,
        echo_rtt,
        echo_one_way,
        echo_frame_bytes: frame_bytes,
    })
}

/// Round trips through a bare tokio-tungstenite echo server on 127.0.0.1:0 (own thread and
/// runtime), with the same small buffers as the im-revoke server.
pub async fn echo_baseline(
    samples: usize,
    warmup: usize,
    frame_bytes: usize,
    hard: Instant,
) -> Result<(Summary, Summary)> {
    let cfg = echo::EchoConfig {
        read_buffer: 4 * 1024,
        write_buffer: 0,
        broadcast: false,
    };
    let (url, _guard) = echo::spawn_thread(cfg)?;
    let addr = crate::common::loopback_addr(&url)?;
    let mut ws = crate::common::connect_ws(&url, addr, addr.ip()).await?;
    let payload: String = format!(
        r#"{{"type":"event","seq":1,"pad":"{}"}}"#,
        "x".repeat(frame_bytes.saturating_sub(36))
    );
    let mut rtt = Vec::with_capacity(samples);
    for i in 0..samples + warmup {
        let t0 = Instant::now();
        send_text(&mut ws, payload.clone()).await?;
        loop {
            let m = tokio::time::timeout_at(hard.into(), ws.next())
                .await
                .map_err(|_| err("echo timed out"))?;
            match m {
                Some(Ok(Message::Text(_))) => break,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Err(err("echo closed")),
            }
        }
        if i >= warmup {
            rtt.push(nanos(t0.elapsed()));
        }
    }
    let _ = ws.close(None).await;
    let mut half: Vec<u64> = rtt.iter().map(|x| x / 2).collect();
    Ok((summarize(&mut rtt), summarize(&mut half)))
}
