//! `conv-list`: a user with N conversations (each begun by a different peer's message, so each
//! unread) asks for the first page of their conversation list (`getConversationList`, 100, the
//! page a client shows first), S times: request written → `conversations` answer decoded. Also
//! the whole list in pages of 100, as a device's first login loads it.

use crate::common::{
    err, nanos, pace, print_summary, run_tag, summarize, Pacer, Result, Summary, Target,
};
use im_revoke_core::{ClientFrame, Elem, ServerFrame};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Options of `conv-list`.
#[derive(Debug, Clone)]
pub struct ConvListOpts {
    /// Conversations the user has.
    pub conversations: usize,
    /// Measured first pages.
    pub samples: usize,
    /// Unmeasured ones first.
    pub warmup: usize,
    /// Peers logging in and sending at once during the set-up.
    pub concurrency: usize,
    /// The user's requests per second, at most (0: unpaced).
    pub per_user_rate: f64,
    /// Give up after this long in all.
    pub max_secs: f64,
}

/// What `conv-list` measured.
#[derive(Debug, Clone, Serialize)]
pub struct ConvListReport {
    /// Conversations of the user.
    pub conversations: usize,
    /// Their total unread count, as the server answered it.
    pub total_unread: u64,
    /// `getConversationList(0, 100)` written → answer decoded.
    pub first_page: Summary,
    /// The whole list in pages of 100 (what a new device loads at its first login).
    pub whole_list: Summary,
}

const PAGE: u32 = 100;

/// Sends one request and waits for its `conversations` answer; its time and the answer.
async fn page(
    ws: &mut crate::common::Ws,
    req_id: String,
    next_seq: u64,
    deadline: Instant,
) -> Result<(Duration, u64, bool, u64)> {
    let f = ClientFrame::GetConversationList {
        req_id: req_id.clone(),
        next_seq,
        count: PAGE,
    };
    let t0 = Instant::now();
    crate::common::send(ws, &f).await?;
    loop {
        match crate::common::recv_until(ws, deadline).await? {
            ServerFrame::Conversations {
                req_id: r,
                next_seq,
                is_finished,
                total_unread_count,
                ..
            } if r == req_id => {
                return Ok((t0.elapsed(), next_seq, is_finished, total_unread_count))
            }
            ServerFrame::Error {
                req_id: Some(r),
                code,
                desc,
            } if r == req_id => {
                return Err(err(format!("getConversationList: {} {desc}", code.num())))
            }
            _ => {}
        }
    }
}

/// Runs the scenario.
pub async fn run(t: Arc<Target>, o: &ConvListOpts) -> Result<ConvListReport> {
    let deadline = Instant::now() + Duration::from_secs_f64(o.max_secs);
    let tag = run_tag();
    let owner = format!("cl{tag}o");
    println!(
        "conv-list: {} peers each begin a conversation with {owner}",
        o.conversations
    );
    let sem = Arc::new(tokio::sync::Semaphore::new(o.concurrency.max(1)));
    let mut tasks = Vec::with_capacity(o.conversations);
    for i in 0..o.conversations {
        let (t, owner, sem) = (t.clone(), owner.clone(), sem.clone());
        let peer = format!("cl{tag}p{i}");
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await.map_err(|e| err(e.to_string()))?;
            let (mut ws, _) = t.connect_login(&peer).await?;
            let f = ClientFrame::Send {
                req_id: "s".into(),
                msg_id: format!("{peer}m"),
                receiver: Some(owner),
                group_id: None,
                elem: Elem::Text {
                    text: "hello".into(),
                },
                reply_to: None,
                cloud_custom_data: None,
            };
            crate::common::send(&mut ws, &f).await?;
            loop {
                match crate::common::recv_until(&mut ws, deadline).await? {
                    ServerFrame::SendOk { .. } => return Ok::<(), crate::common::Error>(()),
                    ServerFrame::Error { code, desc, .. } => {
                        return Err(err(format!("send of {peer}: {} {desc}", code.num())))
                    }
                    _ => {}
                }
            }
        }));
    }
    for task in tasks {
        task.await.map_err(|e| err(e.to_string()))??;
    }
    let (mut ws, _) = t.connect_login(&owner).await?;
    let mut pacer = Pacer::new(o.per_user_rate);
    let mut first = Vec::with_capacity(o.samples);
    let mut total_unread = 0;
    for i in 0..o.warmup + o.samples {
        pace(&mut pacer).await;
        let (took, _, _, total) = page(&mut ws, format!("f{i}"), 0, deadline).await?;
        total_unread = total;
        if i >= o.warmup {
            first.push(nanos(took));
        }
    }
    let mut whole = Vec::new();
    for i in 0..(o.samples / 10).max(3) {
        let t0 = Instant::now();
        let mut next = 0;
        for j in 0.. {
            pace(&mut pacer).await;
            let (_, n, done, _) = page(&mut ws, format!("w{i}-{j}"), next, deadline).await?;
            next = n;
            if done {
                break;
            }
        }
        whole.push(nanos(t0.elapsed()));
    }
    let r = ConvListReport {
        conversations: o.conversations,
        total_unread,
        first_page: summarize(&mut first),
        whole_list: summarize(&mut whole),
    };
    println!(
        "conv-list: {} conversations, {} unread in all",
        r.conversations, r.total_unread
    );
    print_summary("first page (100)", &r.first_page);
    print_summary("whole list (pages of 100)", &r.whole_list);
    if r.total_unread != o.conversations as u64 {
        return Err(err(format!(
            "expected {} unread, the server says {}",
            o.conversations, r.total_unread
        )));
    }
    Ok(r)
}
