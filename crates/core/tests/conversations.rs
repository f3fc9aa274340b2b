//! Conversations, unread counts, replies and local search, over the simulated world: the
//! authority derives, every device keeps its copy from the events, and both agree.

use im_revoke_core::client::{Done, Notification};
use im_revoke_core::sim::World;
use im_revoke_core::{Code, Config, MessageStatus};
use proptest::prelude::*;

fn unread(w: &World, d: usize, id: &str) -> u64 {
    w.devices[d]
        .client
        .local_conversation(id)
        .map_or(0, |c| c.unread_count)
}

fn total(w: &World, d: usize) -> u64 {
    w.devices[d].client.local_total_unread()
}

/// The authority's answer for `d`'s user: (conversationID, unread) of every conversation, and
/// the total.
fn server_counts(w: &mut World, d: usize) -> (Vec<(String, u64)>, u64) {
    let now = w.now_f();
    let req = w.devices[d].client.conversation_list(0, 100, now).unwrap();
    let Done::Conversations(page) = w.result(d, &req).unwrap() else {
        panic!("a page")
    };
    assert!(page.is_finished);
    let mut v: Vec<(String, u64)> = page
        .conversation_list
        .iter()
        .map(|c| (c.conversation_id.clone(), c.unread_count))
        .collect();
    v.sort();
    let t = v.iter().map(|(_, n)| n).sum();
    (v, t)
}

fn local_counts(w: &World, d: usize) -> (Vec<(String, u64)>, u64) {
    let mut v: Vec<(String, u64)> = w.devices[d]
        .client
        .local_conversations()
        .iter()
        .map(|c| (c.conversation_id.clone(), c.unread_count))
        .collect();
    v.sort();
    (v, total(w, d))
}

fn totals_told(w: &World, d: usize) -> Vec<u64> {
    w.devices[d]
        .conv_notes
        .iter()
        .filter_map(|n| match n {
            Notification::TotalUnreadChanged(t) => Some(*t),
            _ => None,
        })
        .collect()
}

#[test]
fn unread_counts_follow_sends_revokes_and_reads_on_every_device() {
    let mut w = World::new(Config::default());
    let a = w.device("alice");
    let b1 = w.device("bob");
    let b2 = w.device("bob");
    let m1 = w.send_c2c(a, "bob", "one");
    let _m2 = w.send_c2c(a, "bob", "two");
    let m3 = w.send_c2c(a, "bob", "three");
    for d in [b1, b2] {
        assert_eq!(unread(&w, d, "c2c_alice"), 3, "device {d}");
        assert_eq!(totals_told(&w, d), vec![1, 2, 3]);
    }
    assert_eq!(
        unread(&w, a, "c2c_bob"),
        0,
        "one's own messages never count"
    );

    // A revoke of an unread message: one less, on each device, told once.
    w.revoke(a, &m1, "").unwrap();
    for d in [b1, b2] {
        assert_eq!(unread(&w, d, "c2c_alice"), 2);
        assert_eq!(totals_told(&w, d), vec![1, 2, 3, 2]);
    }
    // Revoking the last message: the preview is the tombstone, without the text.
    w.revoke(a, &m3, "").unwrap();
    let c = w.devices[b1]
        .client
        .local_conversation("c2c_alice")
        .unwrap();
    let last = c.last_message.unwrap();
    assert_eq!(last.msg_id, m3);
    assert_eq!(last.status, MessageStatus::Revoked);
    assert!(last.text_elem.is_none());
    let mine = w.devices[a].client.local_conversation("c2c_bob").unwrap();
    assert_eq!(
        mine.last_message.unwrap().text_elem.unwrap().text,
        "three",
        "the sender keeps the text to re-edit"
    );

    // Bob's second device goes offline; bob reads on the first; a message and a revoke happen.
    w.disconnect(b2);
    let now = w.now_f();
    let req = w.devices[b1]
        .client
        .clean_unread("c2c_alice", 0, now)
        .unwrap();
    assert_eq!(w.result(b1, &req), Ok(Done::Read));
    assert_eq!(unread(&w, b1, "c2c_alice"), 0);
    let m4 = w.send_c2c(a, "bob", "four");
    let m5 = w.send_c2c(a, "bob", "five");
    w.revoke(a, &m4, "").unwrap();
    assert_eq!(unread(&w, b1, "c2c_alice"), 1);
    w.connect(b2);
    w.settle();
    assert_eq!(unread(&w, b2, "c2c_alice"), 1, "caught up from the log");
    assert_eq!(local_counts(&w, b2), server_counts(&mut w, b2));
    assert_eq!(local_counts(&w, b1), server_counts(&mut w, b1));
    let _ = m5;
}

#[test]
fn a_new_device_loads_the_list_and_group_members_each_count() {
    let mut w = World::new(Config::default());
    let a = w.device("alice");
    let b = w.device("bob");
    w.create_group(a, "g", &[], &["bob", "carol"]).unwrap();
    w.send_group(a, "g", "hi all");
    let m = w.send_group(b, "g", "hi alice");
    w.send_c2c(b, "alice", "psst");
    let c = w.device("carol");
    assert_eq!(unread(&w, c, "group_g"), 2);
    assert_eq!(unread(&w, a, "group_g"), 1);
    assert_eq!(unread(&w, a, "c2c_bob"), 1);
    assert_eq!(total(&w, a), 2);
    w.revoke(b, &m, "").unwrap();
    assert_eq!(unread(&w, c, "group_g"), 1);
    assert_eq!(unread(&w, a, "group_g"), 0);
    let conv = w.devices[c].client.local_conversation("group_g").unwrap();
    assert_eq!(conv.kind, 2);
    assert_eq!(conv.group_id.as_deref(), Some("g"));
    for d in [a, b, c] {
        assert_eq!(local_counts(&w, d), server_counts(&mut w, d), "device {d}");
    }
}

#[test]
fn bad_conversation_requests_get_coded_errors() {
    let mut w = World::new(Config::default());
    let a = w.device("alice");
    let now = w.now_f();
    let cl = &mut w.devices[a].client;
    for bad in ["", "bob", "c2c_", "c2c_a b", "group_"] {
        assert_eq!(
            cl.conversation(bad, now).unwrap_err().code,
            Code::InvalidParameters
        );
        assert_eq!(
            cl.clean_unread(bad, 0, now).unwrap_err().code,
            Code::InvalidParameters
        );
    }
    assert_eq!(
        cl.conversation_list(0, 0, now).unwrap_err().code,
        Code::InvalidParameters
    );
    assert_eq!(
        cl.conversation_list(0, 101, now).unwrap_err().code,
        Code::InvalidParameters
    );
    let r1 = cl.conversation("c2c_nobody", now).unwrap();
    let r2 = cl.clean_unread("group_nothere", 0, now).unwrap();
    let r3 = cl.conversation_list(5, 10, now).unwrap();
    assert_eq!(
        w.result(a, &r1).unwrap_err().code,
        Code::ConversationNotFound
    );
    assert_eq!(
        w.result(a, &r2).unwrap_err().code,
        Code::ConversationNotFound
    );
    assert_eq!(w.result(a, &r3).unwrap_err().code, Code::InvalidParameters);
}

#[test]
fn replies_lose_their_quote_when_the_original_is_revoked() {
    let mut w = World::new(Config::default());
    let a = w.device("alice");
    let b = w.device("bob");
    let c = w.device("carol");
    let orig = w.send_c2c(a, "bob", &"x".repeat(150));
    let now = w.now_f();
    let reply = w.devices[b]
        .client
        .create_text_message_with("re", Some(&orig), Some("{\"k\":1}".into()))
        .unwrap();
    let req = w.devices[b]
        .client
        .send(&reply.msg_id, Some("alice"), None, now)
        .unwrap();
    let Done::Sent(sent) = w.result(b, &req).unwrap() else {
        panic!()
    };
    let q = sent.reply_to.unwrap();
    assert_eq!(
        (q.abstract_text.len(), q.sender.as_str(), q.is_revoked),
        (100, "alice", false)
    );
    assert_eq!(sent.cloud_custom_data.as_deref(), Some("{\"k\":1}"));
    // Carol may not read the original: same answer as for one that does not exist.
    for target in [orig.as_str(), "no-such-message"] {
        let m = w.devices[c]
            .client
            .create_text_message_with("re", Some(target), None)
            .unwrap();
        let req = w.devices[c]
            .client
            .send(&m.msg_id, Some("alice"), None, now)
            .unwrap();
        assert_eq!(
            w.result(c, &req).unwrap_err().code,
            Code::ReplyTargetNotFound
        );
    }
    let big = w.devices[c]
        .client
        .create_text_message_with("x", None, Some("d".repeat(8193)));
    assert_eq!(big.unwrap_err().code, Code::MsgBodySizeLimit);

    w.revoke(a, &orig, "").unwrap();
    for d in [a, b] {
        let modified: Vec<_> = w.devices[d]
            .notes
            .iter()
            .filter_map(|n| match n {
                Notification::MessageModified(m) => Some(m.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(modified.len(), 1, "device {d}: once per reply");
        let q = modified[0].reply_to.clone().unwrap();
        assert_eq!((q.abstract_text.as_str(), q.is_revoked), ("", true));
    }
    // Every later fetch shows the quote revoked.
    let now = w.now_f();
    let req = w.devices[a]
        .client
        .history(Some("bob"), None, None, 10, now)
        .unwrap();
    let Done::Messages(list, _) = w.result(a, &req).unwrap() else {
        panic!()
    };
    let r = list.iter().find(|m| m.msg_id == reply.msg_id).unwrap();
    let q = r.reply_to.clone().unwrap();
    assert_eq!((q.abstract_text.as_str(), q.is_revoked), ("", true));
    // A device that comes later gets the reply already revoked, and no modification.
    let a2 = w.device("alice");
    let req = w.devices[a2]
        .client
        .find(vec![reply.msg_id.clone()], now)
        .unwrap();
    let Done::Messages(list, _) = w.result(a2, &req).unwrap() else {
        panic!()
    };
    assert!(list[0].reply_to.as_ref().unwrap().is_revoked);
}

#[test]
fn search_never_finds_revoked_text() {
    let mut w = World::new(Config::default());
    let a = w.device("alice");
    let b = w.device("bob");
    let m1 = w.send_c2c(a, "bob", "Secret plan");
    w.send_c2c(a, "bob", "lunch plan");
    w.send_c2c(b, "alice", "ok SECRET");
    let cl = &w.devices[b].client;
    let r = cl.search_local(&["secret".into()], false, None).unwrap();
    assert_eq!(r.total_count, 2);
    let r = cl
        .search_local(&["secret".into(), "plan".into()], true, Some("c2c_alice"))
        .unwrap();
    assert_eq!(r.total_count, 1);
    assert_eq!(
        r.message_search_result_items[0].conversation_id,
        "c2c_alice"
    );
    w.revoke(a, &m1, "").unwrap();
    for d in [a, b] {
        let r = w.devices[d]
            .client
            .search_local(&["secret".into()], false, None)
            .unwrap();
        assert_eq!(r.total_count, 1, "device {d}: revoked text is not found");
    }
    let cl = &w.devices[b].client;
    assert_eq!(
        cl.search_local(&[], false, None).unwrap_err().code,
        Code::InvalidParameters
    );
    assert_eq!(
        cl.search_local(&["x".into()], false, Some("nope"))
            .unwrap_err()
            .code,
        Code::InvalidParameters
    );
}

#[test]
fn search_folds_ascii_case_and_orders_newest_first() {
    let mut w = World::new(Config::default());
    let a = w.device("alice");
    let b = w.device("bob");
    let c = w.device("carol");
    w.send_c2c(a, "bob", "Café at NOON");
    w.advance(5);
    w.send_c2c(c, "bob", "noon? ÉTÉ");
    w.advance(5);
    w.send_c2c(a, "bob", "after noon");
    w.advance(5);
    w.send_c2c(c, "bob", "unrelated");
    let cl = &w.devices[b].client;
    let texts = |r: &im_revoke_core::view::SearchResult| -> Vec<(String, Vec<String>)> {
        r.message_search_result_items
            .iter()
            .map(|i| {
                let t = i
                    .message_list
                    .iter()
                    .map(|m| m.text_elem.as_ref().unwrap().text.clone())
                    .collect();
                (i.conversation_id.clone(), t)
            })
            .collect()
    };
    let r = cl.search_local(&["Noon".into()], false, None).unwrap();
    assert_eq!(r.total_count, 3);
    assert_eq!(
        texts(&r),
        [
            (
                "c2c_alice".to_string(),
                vec!["after noon".to_string(), "Café at NOON".to_string()]
            ),
            ("c2c_carol".to_string(), vec!["noon? ÉTÉ".to_string()]),
        ],
        "the conversation with the newest match first, its matches newest first"
    );
    // ASCII letters fold; other characters match as they are.
    assert_eq!(
        cl.search_local(&["CAFÉ".into()], false, None)
            .unwrap()
            .total_count,
        0
    );
    assert_eq!(
        cl.search_local(&["CAFé".into()], false, None)
            .unwrap()
            .total_count,
        1
    );
    assert_eq!(
        cl.search_local(&["été".into()], false, None)
            .unwrap()
            .total_count,
        0
    );
    assert_eq!(
        cl.search_local(&["ÉTÉ".into()], false, None)
            .unwrap()
            .total_count,
        1
    );
    assert_eq!(
        cl.search_local(&["é at".into()], false, None)
            .unwrap()
            .total_count,
        1
    );
    let r = cl
        .search_local(&[" noon ".into(), "after".into()], true, None)
        .unwrap();
    assert_eq!(
        texts(&r),
        [("c2c_alice".to_string(), vec!["after noon".to_string()])]
    );
}

#[derive(Clone, Debug)]
enum Op {
    Send(usize, usize),
    Revoke(usize, usize),
    Read(usize, usize),
    Disconnect(usize),
    Connect(usize),
    Up(usize),
    Down(usize),
}

const USERS: [&str; 3] = ["ann", "ben", "cat"];
/// Devices: ann, ann, ben, ben, cat.
const OWNER: [usize; 5] = [0, 0, 1, 1, 2];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..5usize, 0..3usize).prop_map(|(d, to)| Op::Send(d, to)),
        2 => (0..5usize, 0..64usize).prop_map(|(d, k)| Op::Revoke(d, k)),
        2 => (0..5usize, 0..3usize).prop_map(|(d, c)| Op::Read(d, c)),
        1 => (0..5usize).prop_map(Op::Disconnect),
        1 => (0..5usize).prop_map(Op::Connect),
        3 => (0..5usize).prop_map(Op::Up),
        3 => (0..5usize).prop_map(Op::Down),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Sends, reads and revokes in any order and interleaving (frames delivered one at a time,
    /// connections dropped with frames in flight) converge: every device's counts equal the
    /// authority's, and no count was ever told below zero.
    #[test]
    fn counts_converge_on_every_device(ops in prop::collection::vec(op(), 1..60)) {
        let mut w = World::new(Config { user_rate_per_sec: 0, ..Config::default() });
        for (d, u) in OWNER.iter().enumerate() {
            let _ = d;
            w.device(USERS[*u]);
        }
        w.create_group(0, "g", &[], &["ben", "cat"]).unwrap();
        let mut sent: Vec<(usize, String)> = Vec::new();
        for op in ops {
            let now = w.now_f();
            match op {
                Op::Send(d, to) => {
                    let m = w.devices[d].client.create_text_message("hi");
                    let me = OWNER[d];
                    let r = if to == me {
                        w.devices[d].client.send(&m.msg_id, None, Some("g"), now)
                    } else {
                        w.devices[d].client.send(&m.msg_id, Some(USERS[to]), None, now)
                    };
                    if r.is_ok() {
                        sent.push((d, m.msg_id));
                    }
                }
                Op::Revoke(d, k) => {
                    if !sent.is_empty() {
                        let (sd, m) = sent[k % sent.len()].clone();
                        // Its sender's device (any of them) revokes it.
                        let dev = if OWNER[sd] == OWNER[d] { d } else { sd };
                        let _ = w.devices[dev].client.revoke(&m, "", now);
                    }
                }
                Op::Read(d, c) => {
                    let me = OWNER[d];
                    let id = if c == me { "group_g".to_string() } else { format!("c2c_{}", USERS[c]) };
                    let _ = w.devices[d].client.clean_unread(&id, 0, now);
                }
                Op::Disconnect(d) => w.disconnect(d),
                Op::Connect(d) => w.connect(d),
                Op::Up(d) => { w.step_up(d); }
                Op::Down(d) => { w.step_down(d); }
            }
            for d in 0..5 {
                w.collect(d);
            }
        }
        for d in 0..5 {
            w.connect(d);
        }
        w.settle();
        for d in 0..5 {
            let server = server_counts(&mut w, d);
            let local = local_counts(&w, d);
            // Conversations without any message yet may be known to one side only.
            let nonzero = |v: &(Vec<(String, u64)>, u64)| {
                (v.0.iter().filter(|(_, n)| *n > 0).cloned().collect::<Vec<_>>(), v.1)
            };
            prop_assert_eq!(nonzero(&local), nonzero(&server), "device {}", d);
        }
    }
}

/// With nobody listening to the conversations (`listen_conversations(false)`), no views are
/// made, and the list, the counts and the last messages are the same as a listening device's;
/// listening again, the next changes are told as to that device.
#[test]
fn the_list_is_the_same_with_nobody_listening_and_later_changes_are_told() {
    let mut w = World::new(Config::default());
    let a = w.device("alice");
    let heard = w.device("bob");
    let quiet = w.device("bob");
    w.devices[quiet].client.listen_conversations(false);
    w.create_group(a, "g", &[], &["bob"]).unwrap();
    let m1 = w.send_c2c(a, "bob", "one");
    w.send_c2c(a, "bob", "two");
    let g1 = w.send_group(a, "g", "hi");
    w.send_group(a, "g", "all");
    w.revoke(a, &m1, "").unwrap();
    w.revoke(a, &g1, "").unwrap();
    let now = w.now_f();
    let req = w.devices[heard]
        .client
        .clean_unread("group_g", 0, now)
        .unwrap();
    assert_eq!(w.result(heard, &req), Ok(Done::Read));
    assert!(!w.devices[heard].conv_notes.is_empty());
    assert!(w.devices[quiet].conv_notes.is_empty(), "nothing made");
    assert_eq!(
        w.devices[quiet].client.local_conversations(),
        w.devices[heard].client.local_conversations()
    );
    assert_eq!(total(&w, quiet), 1);
    assert_eq!(total(&w, heard), 1);
    assert_eq!(local_counts(&w, quiet), server_counts(&mut w, quiet));

    // Listening again: the next change is told as to the device that always listened.
    w.devices[quiet].client.listen_conversations(true);
    let told = w.devices[heard].conv_notes.len();
    w.send_c2c(a, "bob", "three");
    let later = w.devices[heard].conv_notes[told..].to_vec();
    assert_eq!(later.len(), 2, "{later:?}");
    assert!(matches!(later[0], Notification::ConversationChanged(_)));
    assert_eq!(later[1], Notification::TotalUnreadChanged(2));
    assert_eq!(w.devices[quiet].conv_notes, later);
    assert_eq!(
        w.devices[quiet].client.local_conversations(),
        w.devices[heard].client.local_conversations()
    );
}
