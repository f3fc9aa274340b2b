//! Arbitrary text as a server frame, for the browser module's decoder (`im_revoke_core::wire`),
//! against serde's (`protocol::json::decode_server`), which the server's encoder pairs with.
//!
//! - `wire::decode_server` never panics, whatever the text;
//! - every frame serde accepts, it accepts too, and decodes to the same frame (a group's
//!   `recentReqIds`, never sent to clients, is not read; `pong.t` may differ in the last
//!   places for numbers with more than 19 significant digits);
//! - every frame it accepts re-encodes (serde) and decodes again to the same frame.
#![no_main]

use im_revoke_core::protocol::json::{decode_server as serde_decode, encode_server};
use im_revoke_core::protocol::Event;
use im_revoke_core::wire::decode_server;
use im_revoke_core::{Group, ServerFrame};
use libfuzzer_sys::fuzz_target;

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= a.abs().max(b.abs()) * 1e-14
}

/// What the wire decoder cannot know: the authority's bookkeeping, and float rounding.
fn comparable(f: &ServerFrame, g: &ServerFrame) -> bool {
    fn strip(g: &Group) -> Group {
        Group {
            recent_req_ids: Vec::new(),
            ..g.clone()
        }
    }
    match (f, g) {
        (
            ServerFrame::Pong {
                t: a,
                server_time: x,
            },
            ServerFrame::Pong {
                t: b,
                server_time: y,
            },
        ) => close(*a, *b) && x == y,
        (
            ServerFrame::GroupOk {
                req_id,
                server_time,
                seq,
                group,
            },
            _,
        ) => {
            *g == ServerFrame::GroupOk {
                req_id: req_id.clone(),
                server_time: *server_time,
                seq: *seq,
                group: strip(group),
            }
        }
        (
            ServerFrame::Groups {
                req_id,
                server_time,
                groups,
            },
            _,
        ) => {
            *g == ServerFrame::Groups {
                req_id: req_id.clone(),
                server_time: *server_time,
                groups: groups.iter().map(strip).collect(),
            }
        }
        (ServerFrame::Event(e), ServerFrame::Event(h)) if e.seq == h.seq => {
            match (&*e.event, &*h.event) {
                (Event::GroupChanged { group: a }, Event::GroupChanged { group: b }) => {
                    strip(a) == *b
                }
                _ => e == h,
            }
        }
        (ServerFrame::SyncOk { events, .. }, ServerFrame::SyncOk { events: got, .. })
            if events.len() == got.len() =>
        {
            events.iter().zip(got).all(|(e, h)| {
                comparable(
                    &ServerFrame::Event(e.clone()),
                    &ServerFrame::Event(h.clone()),
                )
            }) && {
                let (
                    ServerFrame::SyncOk {
                        req_id,
                        server_time,
                        has_more,
                        ..
                    },
                    ServerFrame::SyncOk {
                        req_id: r,
                        server_time: s,
                        has_more: m,
                        ..
                    },
                ) = (f, g)
                else {
                    unreachable!()
                };
                req_id == r && server_time == s && has_more == m
            }
        }
        _ => f == g,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return; // a WebSocket text frame is UTF-8 (the browser checks it)
    };
    let ours = decode_server(text);
    if let Ok(reference) = serde_decode(text) {
        let got = ours
            .as_ref()
            .unwrap_or_else(|| panic!("serde accepts, wire refuses: {text}"));
        assert!(
            comparable(&reference, got),
            "differ on {text}\nserde: {reference:?}\nwire:  {got:?}"
        );
    }
    if let Some(frame) = ours {
        let again = encode_server(&frame);
        let back =
            decode_server(&again).unwrap_or_else(|| panic!("re-encoded frame refused: {again}"));
        assert!(comparable(&frame, &back), "round trip changed {again}");
    }
});
