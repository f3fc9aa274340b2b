//! Encodes server frames to text once per frame, and an event's body once per batch.
//!
//! A fan-out produces one frame per recipient session, each with the recipient's own `seq` but
//! the same `Arc<Event>`. The body is serialized once and spliced into each envelope; a test
//! checks that the result is byte for byte what `protocol::json::encode_server` writes.

use axum::extract::ws::Utf8Bytes;
use im_revoke_core::protocol::json::encode_server;
use im_revoke_core::{Event, ServerFrame};
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

/// Encoder with a per-batch cache of event bodies.
#[derive(Default)]
pub struct Encoder {
    /// Event bodies by the address of their `Arc`; the `Arc` is kept so the address stays
    /// unique while cached.
    bodies: HashMap<usize, (Arc<Event>, String)>,
}

impl Encoder {
    /// Forgets the cached bodies (call between batches).
    pub fn clear(&mut self) {
        self.bodies.clear();
    }

    /// The frame as a WebSocket text payload.
    pub fn encode(&mut self, frame: &ServerFrame) -> Utf8Bytes {
        match frame {
            ServerFrame::Event(env) => {
                let key = Arc::as_ptr(&env.event) as usize;
                let (_, body) = self.bodies.entry(key).or_insert_with(|| {
                    let body = serde_json::to_string(&*env.event).expect("events always serialize");
                    (env.event.clone(), body)
                });
                let mut s = String::with_capacity(body.len() + 48);
                s.push_str(r#"{"type":"event","seq":"#);
                // Into the frame's own buffer: no string for the number.
                let _ = write!(s, "{}", env.seq);
                s.push_str(r#","event":"#);
                s.push_str(body);
                s.push('}');
                Utf8Bytes::from(s)
            }
            other => Utf8Bytes::from(encode_server(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use im_revoke_core::model::{Elem, Message};
    use im_revoke_core::Envelope;

    #[test]
    fn spliced_event_equals_serde() {
        let ev = Arc::new(Event::NewMessage {
            message: Message {
                msg_id: "m1".into(),
                sender: "alice".into(),
                receiver: Some("bob".into()),
                group_id: None,
                time_ms: 5,
                seq: 1,
                elem: Some(Elem::Text {
                    text: "hi \"there\" \u{1f600}".into(),
                }),
                revoke: None,
                reply_to: None,
                cloud_custom_data: None,
            },
        });
        let mut enc = Encoder::default();
        for seq in [1, 42, u64::MAX] {
            let f = ServerFrame::Event(Envelope {
                seq,
                event: ev.clone(),
            });
            assert_eq!(enc.encode(&f).as_str(), encode_server(&f));
        }
        assert_eq!(enc.bodies.len(), 1);
    }
}
