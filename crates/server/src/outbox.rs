//! A connection's outbound queue: bounded, filled by the hub thread, drained by the connection.
//!
//! Not a tokio channel, because an idle connection should cost nothing here: the queue holds no
//! allocation while empty (the connection takes the whole deque when it drains it), where a
//! tokio mpsc channel keeps a 32-slot block per connection. When the queue is full the client
//! is not reading: the queue is marked closed and the connection drops the client, which
//! resyncs by seq on reconnect (nothing is lost; memory stays bounded).

use axum::extract::ws::{close_code, Utf8Bytes};
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use tokio::sync::Notify;

/// Frames waiting for one connection, and whether it must close after them.
#[derive(Debug)]
pub struct Outbox {
    inner: Mutex<Inner>,
    ready: Notify,
    cap: usize,
}

#[derive(Debug, Default)]
struct Inner {
    frames: VecDeque<Utf8Bytes>,
    close: Option<Close>,
}

/// Why and how to close: a WebSocket close code and reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Close {
    /// The close code.
    pub code: u16,
    /// The close reason (short).
    pub reason: &'static str,
}

/// The close of a client whose queue overflowed.
pub const TOO_SLOW: Close = Close {
    code: close_code::POLICY,
    reason: "not reading fast enough",
};

/// What a connection takes from its outbox at once.
#[derive(Default)]
pub struct Batch {
    /// Frames to write, in order.
    pub frames: VecDeque<Utf8Bytes>,
    /// Close after writing them.
    pub close: Option<Close>,
}

impl Outbox {
    /// An empty outbox that holds at most `cap` frames.
    pub fn new(cap: usize) -> Outbox {
        Outbox {
            inner: Mutex::default(),
            ready: Notify::new(),
            cap: cap.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The critical sections cannot panic; recover the data if one ever did.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a frame. Returns false, and marks the outbox for closing, when it is full (the
    /// client does not read) or already closing.
    pub fn push(&self, frame: Utf8Bytes) -> bool {
        let mut g = self.lock();
        if g.close.is_some() {
            return false;
        }
        let ok = g.frames.len() < self.cap;
        if ok {
            g.frames.push_back(frame);
        } else {
            g.close = Some(TOO_SLOW);
        }
        drop(g);
        self.ready.notify_one();
        ok
    }

    /// Asks the connection to close with `code` after the frames queued so far.
    pub fn close(&self, code: u16) {
        self.lock().close.get_or_insert(Close { code, reason: "" });
        self.ready.notify_one();
    }

    /// Waits until something was queued (may wake with nothing to take).
    pub async fn ready(&self) {
        self.ready.notified().await;
    }

    /// Takes everything queued.
    pub fn take(&self) -> Batch {
        let mut g = self.lock();
        Batch {
            frames: std::mem::take(&mut g.frames),
            close: g.close,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_outbox_closes() {
        let o = Outbox::new(2);
        assert!(o.push("a".into()));
        assert!(o.push("b".into()));
        assert!(!o.push("c".into()));
        let b = o.take();
        assert_eq!(b.frames.len(), 2);
        assert_eq!(b.close, Some(TOO_SLOW));
        assert!(!o.push("d".into()), "closing: nothing more is queued");
    }

    #[test]
    fn close_after_frames() {
        let o = Outbox::new(8);
        assert!(o.push("a".into()));
        o.close(close_code::SIZE);
        o.close(close_code::AWAY); // the first reason stays
        let b = o.take();
        assert_eq!(b.frames.len(), 1);
        assert_eq!(b.close.map(|c| c.code), Some(close_code::SIZE));
        assert_eq!(
            o.take().frames.capacity(),
            0,
            "an empty outbox holds no memory"
        );
    }

    #[tokio::test]
    async fn ready_wakes_after_push() {
        let o = std::sync::Arc::new(Outbox::new(8));
        let o2 = o.clone();
        let t = tokio::spawn(async move {
            o2.ready().await;
            o2.take().frames.len()
        });
        o.push("a".into());
        assert_eq!(t.await.unwrap(), 1);
    }
}
