//! The `Store` contract, as one generic test that every store must pass: `MemStore` (core's
//! reference), `SqliteStore` and `PgStore` (on a PostgreSQL server the test starts itself).
//! Plus what only a durable store has: commit, rollback of an uncommitted batch, reopening; and
//! what only a shared store has: several writers at once (sequences without gaps or duplicates,
//! conflicts reported as such and undone one request at a time, NOTIFY at commit).

use crate::pg;

use im_revoke_core::model::{ConvId, Elem, Group, Message, ReplyTo, RevokeInfo, RevokerRole};
use im_revoke_core::store::{
    ConvMember, ConvSummary, EventKind, EventRecord, MemStore, Store, StoreError,
};
use im_revoke_server::store::pg::PgStore;
use im_revoke_server::store::sqlite::SqliteStore;

fn msg(id: &str, sender: &str, receiver: &str, seq: u64) -> Message {
    Message {
        msg_id: id.into(),
        sender: sender.into(),
        receiver: Some(receiver.into()),
        group_id: None,
        time_ms: 1_700_000_000_000 + seq,
        seq,
        elem: Some(Elem::Text {
            text: format!("text of {id} \u{1f600} \"quoted\""),
        }),
        revoke: None,
        reply_to: None,
        cloud_custom_data: None,
    }
}

fn group_msg(id: &str, sender: &str, group: &str, seq: u64) -> Message {
    Message {
        receiver: None,
        group_id: Some(group.into()),
        ..msg(id, sender, "-", seq)
    }
}

fn ev(seq: u64, kind: EventKind, target: &str) -> EventRecord {
    EventRecord {
        seq,
        kind,
        target: target.into(),
    }
}

fn group(id: &str) -> Group {
    Group {
        group_id: id.into(),
        name: "Name".into(),
        owner: "owner".into(),
        admins: ["admin".to_string()].into_iter().collect(),
        members: ["owner", "admin", "m1"]
            .into_iter()
            .map(String::from)
            .collect(),
        created_ms: 7,
        ..serde_json::from_str(
            r#"{"groupID":"x","name":"","owner":"","admins":[],"members":[],"createdMs":0}"#,
        )
        .expect("a minimal group")
    }
}

/// Everything the hub relies on, for any store.
fn store_contract<S: Store>(s: &mut S) {
    messages(s);
    history(s);
    event_log(s);
    groups(s);
    conversations(s);
    s.commit().expect("commit");
    // Still readable after the commit.
    assert!(s.message("a1").unwrap().is_some());
    assert_eq!(s.user_head("alice").unwrap(), 3);
}

fn messages<S: Store>(s: &mut S) {
    assert_eq!(s.message("a1").unwrap(), None);
    let m = msg("a1", "alice", "bob", 1);
    s.put_message(&m).unwrap();
    assert_eq!(
        s.message("a1").unwrap(),
        Some(m.clone()),
        "reads its own writes"
    );
    // Replacing (revoke) keeps everything else.
    let mut revoked = m.clone();
    revoked.revoke = Some(RevokeInfo {
        user_id: "alice".into(),
        role: RevokerRole::Sender,
        reason: "typo".into(),
        time_ms: m.time_ms + 5,
        req_id: "r-1".into(),
    });
    s.put_message(&revoked).unwrap();
    assert_eq!(s.message("a1").unwrap(), Some(revoked));
    // A change written by `update_message` (how the hub writes a revoke): the four columns a
    // change touches are replaced, everything else is as stored; the conversation's order and
    // lookups by seq still find it.
    let b = msg("b1", "uma", "vic", 1);
    s.put_message(&b).unwrap();
    let mut changed = s.message_for_update("b1").unwrap().expect("stored");
    changed.revoke = Some(RevokeInfo {
        user_id: "uma".into(),
        role: RevokerRole::Sender,
        reason: String::new(),
        time_ms: b.time_ms + 9,
        req_id: "r-2".into(),
    });
    changed.elem = None;
    changed.cloud_custom_data = Some("{\"k\":1}".into());
    s.update_message(&changed).unwrap();
    assert_eq!(s.message("b1").unwrap(), Some(changed.clone()));
    let conv = changed.conv();
    let last = s.history(&conv, None, 10).unwrap();
    assert_eq!(last, vec![changed], "still in its conversation, at its seq");
    // Nothing stored under that msgID: stored whole all the same.
    let fresh = msg("b9", "uma", "vic", 2);
    s.update_message(&fresh).unwrap();
    assert_eq!(s.message("b9").unwrap(), Some(fresh));
    // A message without content.
    let mut empty = msg("a0", "alice", "alice", 1);
    empty.elem = None;
    s.put_message(&empty).unwrap();
    assert_eq!(s.message("a0").unwrap(), Some(empty));
}

fn history<S: Store>(s: &mut S) {
    let conv = ConvId::c2c("bob", "alice");
    assert_eq!(s.conv_head(&conv).unwrap(), 1);
    for seq in 2..=5 {
        let (from, to) = if seq % 2 == 0 {
            ("bob", "alice")
        } else {
            ("alice", "bob")
        };
        s.put_message(&msg(&format!("a{seq}"), from, to, seq))
            .unwrap();
    }
    assert_eq!(s.conv_head(&conv).unwrap(), 5);
    assert_eq!(s.conv_head(&ConvId::c2c("alice", "carol")).unwrap(), 0);

    let seqs = |v: Vec<Message>| v.iter().map(|m| m.seq).collect::<Vec<_>>();
    assert_eq!(
        seqs(s.history(&conv, None, 3).unwrap()),
        [5, 4, 3],
        "newest first"
    );
    assert_eq!(seqs(s.history(&conv, Some(3), 10).unwrap()), [2, 1]);
    assert_eq!(
        seqs(s.history(&conv, Some(1), 10).unwrap()),
        Vec::<u64>::new()
    );
    assert_eq!(seqs(s.history(&conv, Some(u64::MAX), 1).unwrap()), [5]);
    assert_eq!(s.history(&conv, None, 0).unwrap().len(), 0);
    // The next seq follows the head (the hub stores the message with it).
    assert_eq!(s.next_conv_seq(&conv).unwrap(), 6);
    s.put_message(&msg("a6", "bob", "alice", 6)).unwrap();
    assert_eq!(s.conv_head(&conv).unwrap(), 6);
    assert_eq!(seqs(s.history(&conv, None, 2).unwrap()), [6, 5]);
    // Group conversations are separate from one-to-one ones.
    let g = ConvId::Group("g1".into());
    assert_eq!(
        s.next_conv_seq(&g).unwrap(),
        1,
        "a new conversation starts at 1"
    );
    s.put_message(&group_msg("gm1", "alice", "g1", 1)).unwrap();
    assert_eq!(s.conv_head(&g).unwrap(), 1);
    assert_eq!(seqs(s.history(&g, None, 10).unwrap()), [1]);
    assert_eq!(
        s.history(&ConvId::Group("g2".into()), None, 10).unwrap(),
        []
    );
}

fn event_log<S: Store>(s: &mut S) {
    assert_eq!(s.user_head("alice").unwrap(), 0);
    assert!(s.events_after("alice", 0, 10).unwrap().is_empty());
    // The store assigns each user's seqs: head + 1, contiguous from 1, per user.
    assert_eq!(
        s.append_event("alice", EventKind::NewMessage, "a1")
            .unwrap(),
        1
    );
    assert_eq!(
        s.append_event("alice", EventKind::MessageRevoked, "a1")
            .unwrap(),
        2
    );
    assert_eq!(
        s.append_event("bob", EventKind::NewMessage, "a1").unwrap(),
        1
    );
    // Several users at once: each gets its own next seq, in the order given.
    assert_eq!(
        s.append_events(&["alice", "dave"], EventKind::GroupChanged, "g1")
            .unwrap(),
        [3, 1]
    );
    assert!(s
        .append_events(&[], EventKind::GroupChanged, "g1")
        .unwrap()
        .is_empty());
    assert_eq!(s.user_head("alice").unwrap(), 3);
    assert_eq!(s.user_head("bob").unwrap(), 1);
    assert_eq!(s.user_head("dave").unwrap(), 1);
    assert_eq!(s.user_head("carol").unwrap(), 0);
    // A single writer that knows the head appends at head + 1 itself.
    s.append_event_at("erin", 1, EventKind::NewMessage, "a1")
        .unwrap();
    s.append_event_at("erin", 2, EventKind::MessageRevoked, "a1")
        .unwrap();
    assert_eq!(s.user_head("erin").unwrap(), 2);
    assert_eq!(
        s.events_after("erin", 1, 10).unwrap(),
        [ev(2, EventKind::MessageRevoked, "a1")]
    );
    assert_eq!(
        s.events_after("dave", 0, 10).unwrap(),
        [ev(1, EventKind::GroupChanged, "g1")]
    );
    let all = s.events_after("alice", 0, 10).unwrap();
    assert_eq!(
        all,
        [
            ev(1, EventKind::NewMessage, "a1"),
            ev(2, EventKind::MessageRevoked, "a1"),
            ev(3, EventKind::GroupChanged, "g1"),
        ]
    );
    assert_eq!(s.events_after("alice", 1, 1).unwrap(), [all[1].clone()]);
    assert!(s.events_after("alice", 3, 10).unwrap().is_empty());
    assert!(s.events_after("alice", u64::MAX, 10).unwrap().is_empty());
    // A single writer's fan-out, large enough for a store to write it as one record: each
    // recipient's next seq, new users (seq 1) and known ones alike.
    let many: Vec<String> = (0..40).map(|i| format!("fan{i:02}")).collect();
    let mut entries: Vec<(&str, u64)> = vec![("dave", 2), ("erin", 3)];
    entries.extend(many.iter().map(|u| (u.as_str(), 1)));
    s.append_events_at(&entries, EventKind::NewMessage, "g2")
        .unwrap();
    assert_eq!(s.user_head("dave").unwrap(), 2);
    assert_eq!(s.user_head("erin").unwrap(), 3);
    assert_eq!(s.user_head("fan39").unwrap(), 1);
    assert_eq!(
        s.events_after("dave", 1, 10).unwrap(),
        [ev(2, EventKind::NewMessage, "g2")]
    );
    assert_eq!(
        s.events_after("fan07", 0, 10).unwrap(),
        [ev(1, EventKind::NewMessage, "g2")]
    );
    // And the next event follows it, one by one or as another fan-out.
    s.append_event_at("fan07", 2, EventKind::MessageRevoked, "g2")
        .unwrap();
    let next: Vec<(&str, u64)> = many
        .iter()
        .map(|u| (u.as_str(), if u == "fan07" { 3 } else { 2 }))
        .collect();
    s.append_events_at(&next, EventKind::MessageRevoked, "g2")
        .unwrap();
    assert_eq!(
        s.events_after("fan07", 0, 10).unwrap(),
        [
            ev(1, EventKind::NewMessage, "g2"),
            ev(2, EventKind::MessageRevoked, "g2"),
            ev(3, EventKind::MessageRevoked, "g2"),
        ]
    );
    assert_eq!(s.user_head("fan00").unwrap(), 2);
}

/// Read positions, and the unread count derived from messages (others', not revoked); a
/// reply's link and `cloudCustomData` come back untouched.
fn conversations<S: Store>(s: &mut S) {
    let conv = ConvId::c2c("carol", "dave");
    assert_eq!(s.conversations_of("carol").unwrap(), vec![]);
    assert_eq!(s.conversation_of("carol", &conv).unwrap(), None);
    for (i, sender) in ["carol", "dave", "dave", "dave"].iter().enumerate() {
        let to = if *sender == "carol" { "dave" } else { "carol" };
        let mut m = msg(&format!("cd{i}"), sender, to, i as u64 + 1);
        if i == 3 {
            m.reply_to = Some(ReplyTo {
                msg_id: "cd1".into(),
                sender: "dave".into(),
                abstract_text: String::new(),
                is_revoked: false,
            });
            m.cloud_custom_data = Some("{\"k\":\"\u{e9} \\\" \u{0}\"}".into());
        }
        s.put_message(&m).unwrap();
    }
    let back = s.message("cd3").unwrap().unwrap();
    assert_eq!(back.reply_to.as_ref().unwrap().msg_id, "cd1");
    assert_eq!(
        back.cloud_custom_data.as_deref(),
        Some("{\"k\":\"\u{e9} \\\" \u{0}\"}")
    );
    assert_eq!(s.message("cd0").unwrap().unwrap().reply_to, None);
    // carol: three from dave after seq 0; dave: one from carol.
    assert_eq!(s.unread_count(&conv, "carol", 0, 4).unwrap(), 3);
    assert_eq!(s.unread_count(&conv, "dave", 0, 4).unwrap(), 1);
    assert_eq!(s.unread_count(&conv, "carol", 2, 4).unwrap(), 2);
    assert_eq!(s.unread_count(&conv, "carol", 2, 3).unwrap(), 1);
    assert_eq!(s.unread_count(&conv, "carol", 4, 4).unwrap(), 0);
    assert_eq!(s.unread_count(&conv, "carol", 5, 4).unwrap(), 0);
    // A revoke takes the message off the count.
    let mut r = s.message("cd2").unwrap().unwrap();
    r.revoke = Some(RevokeInfo {
        user_id: "dave".into(),
        role: RevokerRole::Sender,
        reason: String::new(),
        time_ms: 9,
        req_id: "rq".into(),
    });
    s.put_message(&r).unwrap();
    assert_eq!(s.unread_count(&conv, "carol", 0, 4).unwrap(), 2);
    assert_eq!(
        s.unread_count(&ConvId::c2c("x", "y"), "x", 0, 9).unwrap(),
        0
    );

    let place = ConvMember {
        conv: conv.clone(),
        read_seq: 0,
        until_seq: None,
        since_ms: 1_700_000_000_001,
    };
    s.put_conversation("carol", &place).unwrap();
    let g = ConvId::Group("cg".into());
    let left = ConvMember {
        conv: g.clone(),
        read_seq: 3,
        until_seq: Some(7),
        since_ms: 0,
    };
    s.put_conversation("carol", &left).unwrap();
    assert_eq!(
        s.conversation_of("carol", &conv).unwrap().as_ref(),
        Some(&place)
    );
    assert_eq!(s.conversation_of("dave", &conv).unwrap(), None);
    let read = ConvMember {
        read_seq: 4,
        ..place.clone()
    };
    s.put_conversation("carol", &read).unwrap();
    let mut all = s.conversations_of("carol").unwrap();
    all.sort_by(|a, b| a.conv.cmp(&b.conv));
    let mut want = vec![read.clone(), left.clone()];
    want.sort_by(|a, b| a.conv.cmp(&b.conv));
    assert_eq!(all, want);

    // Summaries: what listing needs, in one call (an SQL store's one query).
    let dave = ConvMember {
        read_seq: 0,
        ..place.clone()
    };
    s.put_conversation("dave", &dave).unwrap();
    let sums = |s: &mut S, u: &str| {
        let mut v = s.conversation_summaries(u).unwrap();
        v.sort_by(|a, b| a.member.conv.cmp(&b.member.conv));
        v
    };
    let mut want = vec![
        ConvSummary {
            member: read,
            upto: 4,
            last_time_ms: Some(1_700_000_000_004),
            unread: 0,
        },
        ConvSummary {
            member: left,
            upto: 7,
            last_time_ms: None,
            unread: 0,
        },
    ];
    want.sort_by(|a, b| a.member.conv.cmp(&b.member.conv));
    assert_eq!(sums(s, "carol"), want);
    let d = sums(s, "dave");
    assert_eq!(
        (d.len(), d[0].upto, d[0].unread, d[0].last_time_ms),
        (1, 4, 1, Some(1_700_000_000_004)),
        "carol's cd0 is unread for dave; his own are not"
    );
    assert_eq!(sums(s, "nobody"), vec![]);
}

fn groups<S: Store>(s: &mut S) {
    assert_eq!(s.group("g1").unwrap(), None);
    let mut g = group("g1");
    s.put_group(&g).unwrap();
    assert_eq!(s.group("g1").unwrap(), Some(g.clone()));
    g.members.insert("m2".into());
    g.admins.clear();
    s.put_group(&g).unwrap();
    assert_eq!(s.group("g1").unwrap(), Some(g.clone()));
    assert_eq!(s.group("g2").unwrap(), None);
    // Membership follows the latest version of each group.
    let mut g2 = group("g2");
    g2.members.remove("m1");
    s.put_group(&g2).unwrap();
    let ids = |s: &mut S, u: &str| -> Vec<String> {
        s.groups_of(u)
            .unwrap()
            .into_iter()
            .map(|g| g.group_id)
            .collect()
    };
    assert_eq!(ids(s, "owner"), ["g1", "g2"]);
    assert_eq!(ids(s, "m1"), ["g1"]);
    assert_eq!(ids(s, "m2"), ["g1"]);
    assert!(ids(s, "nobody").is_empty());
    g.members.remove("m2");
    s.put_group(&g).unwrap();
    assert!(ids(s, "m2").is_empty());
    assert_eq!(s.groups_of("owner").unwrap()[0], g);
}

#[test]
fn mem_store_meets_the_contract() {
    store_contract(&mut MemStore::new());
}

#[test]
fn sqlite_in_memory_meets_the_contract() {
    store_contract(&mut SqliteStore::open_in_memory().unwrap());
}

#[test]
fn sqlite_file_meets_the_contract_and_keeps_it_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("contract.db");
    let mut s = SqliteStore::open(&path).unwrap();
    store_contract(&mut s);
    drop(s);
    let mut s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.user_head("alice").unwrap(), 3);
    assert_eq!(
        s.user_head("fan07").unwrap(),
        3,
        "fan-outs written as one row"
    );
    assert_eq!(s.user_head("fan39").unwrap(), 2);
    assert_eq!(s.conv_head(&ConvId::c2c("alice", "bob")).unwrap(), 6);
    assert!(s.message("a1").unwrap().unwrap().revoke.is_some());
    assert!(s.group("g1").unwrap().unwrap().members.contains("m1"));
    assert_eq!(s.groups_of("owner").unwrap().len(), 2);
}

#[test]
fn sqlite_uncommitted_batch_is_lost_on_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("batch.db");
    let mut s = SqliteStore::open(&path).unwrap();
    s.put_message(&msg("kept", "alice", "bob", 1)).unwrap();
    s.append_event("alice", EventKind::NewMessage, "kept")
        .unwrap();
    assert!(s.in_transaction());
    s.commit().unwrap();
    assert!(!s.in_transaction());
    s.put_message(&msg("lost", "alice", "bob", 2)).unwrap();
    s.append_event("alice", EventKind::NewMessage, "lost")
        .unwrap();
    drop(s); // no commit: like a crash between handling and committing
    let mut s = SqliteStore::open(&path).unwrap();
    assert!(s.message("kept").unwrap().is_some());
    assert!(s.message("lost").unwrap().is_none());
    assert_eq!(s.user_head("alice").unwrap(), 1);
}

#[test]
fn sqlite_reads_open_the_batch_and_commit_without_writes_is_fine() {
    let mut s = SqliteStore::open_in_memory().unwrap();
    s.commit().unwrap(); // nothing open
    assert_eq!(s.user_head("x").unwrap(), 0);
    assert!(s.in_transaction(), "the first read of a batch begins it");
    s.commit().unwrap();
    assert!(!s.in_transaction());
}

#[test]
fn sqlite_is_in_wal_mode_with_full_sync() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn sqlite_schema_1_database_gets_its_membership_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    {
        // A database as schema 1 left it: groups, but no group_members table.
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE groups (group_id TEXT NOT NULL PRIMARY KEY, body TEXT NOT NULL);
             PRAGMA user_version = 1;",
        )
        .unwrap();
        let body = serde_json::to_string(&group("old")).unwrap();
        c.execute(
            "INSERT INTO groups (group_id, body) VALUES ('old', ?1)",
            [body],
        )
        .unwrap();
    }
    let mut s = SqliteStore::open(&path).unwrap();
    let ids: Vec<String> = s
        .groups_of("m1")
        .unwrap()
        .into_iter()
        .map(|g| g.group_id)
        .collect();
    assert_eq!(ids, ["old"]);
}

#[test]
fn sqlite_refuses_an_event_seq_already_taken() {
    let mut s = SqliteStore::open_in_memory().unwrap();
    s.append_event_at("u", 1, EventKind::NewMessage, "m1")
        .unwrap();
    assert!(s
        .append_event_at("u", 1, EventKind::MessageRevoked, "m1")
        .is_err());
    assert_eq!(
        s.events_after("u", 0, 10).unwrap(),
        [ev(1, EventKind::NewMessage, "m1")]
    );
}

/// Every user's log through the store, 1..=head.
fn logs(s: &mut SqliteStore, users: &[String]) -> Vec<Vec<EventRecord>> {
    users
        .iter()
        .map(|u| {
            let head = s.user_head(u).unwrap();
            let log = s.events_after(u, 0, 10_000).unwrap();
            assert_eq!(log.len() as u64, head, "{u}: head {head}");
            for (i, e) in log.iter().enumerate() {
                assert_eq!(e.seq, i as u64 + 1, "{u}: contiguous");
            }
            log
        })
        .collect()
}

#[test]
fn sqlite_recent_events_move_in_steps_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recent.db");
    let users: Vec<String> = (0..3000).map(|i| format!("u{i:04}")).collect();
    let mut s = SqliteStore::open(&path).unwrap();
    s.set_recent_limits(4000, 1_000_000);
    // Fan-outs to everyone: the events wait in arrival order.
    for round in 1..=2u64 {
        for u in &users {
            s.append_event_at(u, round, EventKind::NewMessage, &format!("m{round}"))
                .unwrap();
        }
    }
    s.commit().unwrap();
    assert_eq!(s.recent_events(), 6000);
    let before = logs(&mut s, &users);
    // Idle steps move them, a bounded number of users each, each step its own commit.
    let mut steps = 0;
    loop {
        let more = s.maintain().unwrap();
        s.commit().unwrap();
        steps += 1;
        // The logs read the same in the middle of a move.
        assert_eq!(logs(&mut s, &users[1..50]), before[1..50]);
        if !more {
            break;
        }
        // New events during a move, for users already moved and users not yet moved.
        if steps == 1 {
            for u in [&users[0], &users[2999]] {
                s.append_event_at(u, 3, EventKind::MessageRevoked, "m1")
                    .unwrap();
            }
            s.commit().unwrap();
        }
    }
    assert!(steps > 1, "the move takes several steps");
    // u0000's third event came after the move had passed it; u2999's moved with its others.
    assert_eq!(s.recent_events(), 1, "below the soft limit: no more moves");
    assert!(!s.maintain().unwrap());
    let after = logs(&mut s, &users);
    assert_eq!(after[0].len(), 3);
    assert_eq!(after[2999].len(), 3);
    assert_eq!(after[1], before[1]);
    drop(s);
    // Reopened: the recent events are found again, the moved ones are not duplicated.
    let mut s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.recent_events(), 1);
    assert_eq!(logs(&mut s, &users), after);
    s.append_event_at(&users[0], 4, EventKind::NewMessage, "m4")
        .unwrap();
    assert!(
        s.append_event_at(&users[1], 4, EventKind::NewMessage, "m4")
            .is_err(),
        "a gap is refused"
    );
}

#[test]
fn sqlite_a_move_cut_short_by_a_crash_is_finished_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.db");
    let users: Vec<String> = (0..3000).map(|i| format!("u{i:04}")).collect();
    let mut s = SqliteStore::open(&path).unwrap();
    s.set_recent_limits(1, 1_000_000);
    for seq in 1..=3 {
        for u in &users {
            s.append_event_at(u, seq, EventKind::NewMessage, "m1")
                .unwrap();
        }
    }
    s.commit().unwrap();
    assert!(s.maintain().unwrap(), "one step does not move 9000 events");
    s.commit().unwrap();
    let before = logs(&mut s, &users);
    drop(s); // the move stops here, as in a crash between two steps
    let mut s = SqliteStore::open(&path).unwrap();
    let left = s.recent_events();
    assert!(
        left > 0 && left < 9000,
        "the moved events are not recent again: {left}"
    );
    assert_eq!(logs(&mut s, &users), before);
    s.set_recent_limits(1, 1_000_000);
    while s.maintain().unwrap() {
        s.commit().unwrap();
    }
    s.commit().unwrap();
    assert_eq!(s.recent_events(), 0);
    assert_eq!(logs(&mut s, &users), before);
}

#[test]
fn sqlite_commits_move_recent_events_when_the_hub_never_idles() {
    let users: Vec<String> = (0..3000).map(|i| format!("u{i:04}")).collect();
    let mut s = SqliteStore::open_in_memory().unwrap();
    s.set_recent_limits(1_000_000, 2000);
    for u in &users {
        s.append_event_at(u, 1, EventKind::NewMessage, "m1")
            .unwrap();
    }
    s.commit().unwrap();
    assert!(s.recent_events() < 3000, "the commit moved some");
    let before = logs(&mut s, &users);
    s.commit().unwrap();
    assert_eq!(logs(&mut s, &users), before);
}

#[test]
fn sqlite_schema_2_event_log_moves_to_a_table_without_rowids() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.db");
    {
        // The event log as schemas 1 and 2 left it: a rowid table with its key as an index.
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE events (
                 user_id TEXT NOT NULL, seq INTEGER NOT NULL, kind INTEGER NOT NULL,
                 target TEXT NOT NULL, PRIMARY KEY (user_id, seq));
             INSERT INTO events VALUES ('bob', 1, 1, 'm1'), ('bob', 2, 2, 'm1'),
                                       ('amy', 1, 1, 'm1');
             PRAGMA user_version = 2;",
        )
        .unwrap();
    }
    let mut s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.user_head("bob").unwrap(), 2);
    assert_eq!(
        s.events_after("bob", 0, 10).unwrap(),
        [
            ev(1, EventKind::NewMessage, "m1"),
            ev(2, EventKind::MessageRevoked, "m1")
        ]
    );
    s.append_event_at("amy", 2, EventKind::MessageRevoked, "m1")
        .unwrap();
    s.commit().unwrap();
    drop(s);
    let c = rusqlite::Connection::open(&path).unwrap();
    let sql: String = c
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'events'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(sql.contains("WITHOUT ROWID"), "{sql}");
    let version: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 5, "the current schema");
    // Opening it again migrates nothing more.
    let mut s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.user_head("amy").unwrap(), 2);
}

/// Rows of `events_recent` and events shown by the `event_log` view, read by a connection of
/// its own (as a tool would).
fn rows_and_events(path: &std::path::Path) -> (i64, i64) {
    let c = rusqlite::Connection::open(path).unwrap();
    let rows = c
        .query_row("SELECT COUNT(*) FROM events_recent", [], |r| r.get(0))
        .unwrap();
    let events = c
        .query_row("SELECT COUNT(*) FROM event_log", [], |r| r.get(0))
        .unwrap();
    (rows, events)
}

/// Issue 20: a send to a large group held the hub (and every other user's request behind it)
/// for one row write per member. A fan-out of at least `PACK_FROM` recipients is one row now,
/// as durable as the rest of its batch: read back after reopening, moved to per-user order like
/// any other, and shown per recipient by `event_log`.
#[test]
fn sqlite_a_large_fan_out_is_one_row_that_survives_reopening_and_moves() {
    use im_revoke_server::store::sqlite::PACK_FROM;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fanout.db");
    let users: Vec<String> = (0..3000).map(|i| format!("u{i:04}")).collect();
    let mut s = SqliteStore::open(&path).unwrap();
    s.set_recent_limits(1_000_000, 2_000_000);
    for round in 1..=3u64 {
        let entries: Vec<(&str, u64)> = users.iter().map(|u| (u.as_str(), round)).collect();
        s.append_events_at(&entries, EventKind::NewMessage, &format!("m{round}"))
            .unwrap();
    }
    // A small one (a one-to-one send) stays one row per recipient.
    let small: Vec<(&str, u64)> = vec![(&users[0], 4), (&users[1], 4)];
    assert!(small.len() < PACK_FROM);
    s.append_events_at(&small, EventKind::MessageRevoked, "m1")
        .unwrap();
    s.commit().unwrap();
    assert_eq!(rows_and_events(&path), (3 + 2, 3 * 3000 + 2));
    assert_eq!(s.recent_events(), 9002);
    let before = logs(&mut s, &users);
    assert_eq!(
        before[1],
        [
            ev(1, EventKind::NewMessage, "m1"),
            ev(2, EventKind::NewMessage, "m2"),
            ev(3, EventKind::NewMessage, "m3"),
            ev(4, EventKind::MessageRevoked, "m1"),
        ]
    );
    drop(s);
    // Reopened (as after a crash): every recipient's events are there, each once.
    let mut s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.recent_events(), 9002);
    assert_eq!(logs(&mut s, &users), before);
    // Moved to per-user order in steps; the fan-out rows are deleted once moved.
    s.set_recent_limits(1, 2_000_000);
    let mut steps = 0;
    while s.maintain().unwrap() {
        s.commit().unwrap();
        steps += 1;
        assert_eq!(logs(&mut s, &users[..20]), before[..20], "step {steps}");
    }
    s.commit().unwrap();
    assert_eq!(s.recent_events(), 0);
    assert_eq!(rows_and_events(&path), (0, 3 * 3000 + 2));
    assert_eq!(logs(&mut s, &users), before);
    // The next fan-out follows the moved events; one that does not follow is refused.
    let next: Vec<(&str, u64)> = users
        .iter()
        .map(|u| {
            (
                u.as_str(),
                if u == &users[0] || u == &users[1] {
                    5
                } else {
                    4
                },
            )
        })
        .collect();
    s.append_events_at(&next, EventKind::NewMessage, "m5")
        .unwrap();
    s.commit().unwrap();
    let mut wrong = next.clone();
    for e in &mut wrong {
        e.1 += 1;
    }
    wrong[2999].1 += 1;
    assert!(
        s.append_events_at(&wrong, EventKind::NewMessage, "m6")
            .is_err(),
        "a gap is refused"
    );
    drop(s);
    let mut s = SqliteStore::open(&path).unwrap();
    let after = logs(&mut s, &users);
    assert_eq!(after[0].len(), 5);
    assert_eq!(after[2].len(), 4);
    assert_eq!(after[2][3], ev(4, EventKind::NewMessage, "m5"));
}

#[test]
fn sqlite_a_fan_out_naming_a_user_twice_is_written_in_order() {
    let mut s = SqliteStore::open_in_memory().unwrap();
    let users: Vec<String> = (0..30).map(|i| format!("u{i:02}")).collect();
    let mut entries: Vec<(&str, u64)> = users.iter().map(|u| (u.as_str(), 1)).collect();
    entries.push(("u05", 2));
    s.append_events_at(&entries, EventKind::GroupChanged, "g")
        .unwrap();
    assert_eq!(s.user_head("u05").unwrap(), 2);
    assert_eq!(s.user_head("u06").unwrap(), 1);
    // A seq already taken is refused, as one by one.
    let again: Vec<(&str, u64)> = users.iter().map(|u| (u.as_str(), 2)).collect();
    assert!(s
        .append_events_at(&again, EventKind::GroupChanged, "g")
        .is_err());
}

/// An idle step is short (issue 20): a request that arrives during one waits for it.
#[test]
fn sqlite_an_idle_step_moves_at_most_1024_events() {
    let users: Vec<String> = (0..3000).map(|i| format!("u{i:04}")).collect();
    let mut s = SqliteStore::open_in_memory().unwrap();
    s.set_recent_limits(1, 2_000_000);
    let entries: Vec<(&str, u64)> = users.iter().map(|u| (u.as_str(), 1)).collect();
    s.append_events_at(&entries, EventKind::NewMessage, "m1")
        .unwrap();
    s.commit().unwrap();
    assert!(s.maintain().unwrap());
    s.commit().unwrap();
    assert_eq!(s.recent_events(), 3000 - 1024);
}

#[test]
fn sqlite_schema_4_recent_events_get_the_fanout_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v4.db");
    drop(SqliteStore::open(&path).unwrap());
    {
        // Back to schema 4: `events_recent` without `fanout`, the view over it as it was.
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "DROP VIEW event_log;
             DROP TABLE events_recent;
             CREATE TABLE events_recent (
                 id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, seq INTEGER NOT NULL,
                 kind INTEGER NOT NULL, target TEXT NOT NULL);
             INSERT INTO events_recent (user_id, seq, kind, target)
                 VALUES ('bob', 1, 1, 'm1'), ('bob', 2, 2, 'm1');
             CREATE VIEW event_log AS
                 SELECT user_id, seq, kind, target FROM events
                 UNION
                 SELECT user_id, seq, kind, target FROM events_recent;
             PRAGMA user_version = 4;",
        )
        .unwrap();
    }
    let mut s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.user_head("bob").unwrap(), 2);
    let users: Vec<String> = (0..20).map(|i| format!("u{i:02}")).collect();
    let mut entries: Vec<(&str, u64)> = vec![("bob", 3)];
    entries.extend(users.iter().map(|u| (u.as_str(), 1)));
    s.append_events_at(&entries, EventKind::NewMessage, "m2")
        .unwrap();
    s.commit().unwrap();
    assert_eq!(rows_and_events(&path), (3, 2 + 21));
    drop(s);
    let mut s = SqliteStore::open(&path).unwrap();
    assert_eq!(
        s.events_after("bob", 0, 10).unwrap(),
        [
            ev(1, EventKind::NewMessage, "m1"),
            ev(2, EventKind::MessageRevoked, "m1"),
            ev(3, EventKind::NewMessage, "m2"),
        ]
    );
    let c = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 5);
}

/// Issue 20: the hub's own checkpoint (a sync of the database file, every request behind it
/// waiting) runs only when the checkpoint thread has not caught up; on a hub that is not busy,
/// the thread copies everything and the WAL starts over by itself.
#[test]
fn sqlite_the_hub_leaves_the_checkpoint_to_the_thread_when_it_keeps_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quiet.db");
    let mut s = SqliteStore::open(&path).unwrap();
    for i in 1..=6u64 {
        s.put_message(&msg(&format!("q{i}"), "alice", "bob", i))
            .unwrap();
        s.commit().unwrap();
        // A commit now and then: the thread (every 250 ms) copies each before the next. (Every
        // commit here is more than 200 ms after the last: the hub used to checkpoint at each.)
        std::thread::sleep(std::time::Duration::from_millis(700));
    }
    // Before the change the hub ran one at every commit here (6). At most two, should the
    // thread have been kept from running for a whole interval on a busy machine.
    assert!(s.hub_checkpoints() <= 2, "{}", s.hub_checkpoints());
    // Everything is in the database file.
    let uri = format!("file:{}?immutable=1", path.display());
    let c = rusqlite::Connection::open_with_flags(
        &uri,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
    )
    .unwrap();
    let n: i64 = c
        .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
        .unwrap();
    assert!(n >= 5, "checkpointed: {n}");
}

// ----- PostgreSQL (a server started by the test; skipped loudly if it cannot run here) -----

/// A PostgreSQL server and a fresh database on it, or `None` (skip).
fn pg_db(name: &str) -> Option<(pg::Pg, String)> {
    let pg = pg::Pg::start()?;
    let url = pg.create_db(name);
    Some((pg, url))
}

#[test]
fn postgres_meets_the_contract_and_keeps_it_after_reconnecting() {
    let Some((_pg, url)) = pg_db("contract") else {
        return;
    };
    let mut s = PgStore::connect(&url).unwrap();
    store_contract(&mut s);
    s.commit().unwrap();
    assert!(!s.in_transaction());
    drop(s);
    let mut s = PgStore::connect(&url).unwrap();
    assert_eq!(s.user_head("alice").unwrap(), 3);
    assert_eq!(s.conv_head(&ConvId::c2c("alice", "bob")).unwrap(), 6);
    assert!(s.message("a1").unwrap().unwrap().revoke.is_some());
    assert!(s.group("g1").unwrap().unwrap().members.contains("m1"));
    assert_eq!(s.groups_of("owner").unwrap().len(), 2);
    // A second node connecting to the same database finds the schema in place.
    let mut other = PgStore::connect(&url).unwrap();
    assert_eq!(other.user_head("alice").unwrap(), 3);
}

#[test]
fn postgres_uncommitted_batch_is_lost_on_crash() {
    let Some((_pg, url)) = pg_db("crash") else {
        return;
    };
    let mut s = PgStore::connect(&url).unwrap();
    s.put_message(&msg("kept", "alice", "bob", 1)).unwrap();
    assert_eq!(
        s.append_event("alice", EventKind::NewMessage, "kept")
            .unwrap(),
        1
    );
    assert!(s.in_transaction());
    s.commit().unwrap();
    s.put_message(&msg("lost", "alice", "bob", 2)).unwrap();
    s.append_event("alice", EventKind::NewMessage, "lost")
        .unwrap();
    drop(s); // no commit: the connection closes, PostgreSQL rolls the transaction back
    let mut s = PgStore::connect(&url).unwrap();
    assert!(s.message("kept").unwrap().is_some());
    assert!(s.message("lost").unwrap().is_none());
    assert_eq!(s.user_head("alice").unwrap(), 1);
    assert_eq!(
        s.append_event("alice", EventKind::NewMessage, "again")
            .unwrap(),
        2,
        "the seq of the lost batch is taken again: no gap"
    );
}

/// Two nodes' stores write the same user's log and the same conversation at once, batch by
/// batch: every seq is taken exactly once, with no gap. A request that meets a conflict (a
/// first attempt waits at most FIRST_LOCK_WAIT for the conversation's seq or a head the other
/// holds) is done as the hub does it: undone alone, the batch before it committed, run again.
#[test]
fn postgres_writers_on_two_connections_get_contiguous_seqs() {
    let Some((_pg, url)) = pg_db("writers") else {
        return;
    };
    const PER_WRITER: u64 = 150;
    let conv = ConvId::Group("hot".into());
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let url = url.clone();
            let conv = conv.clone();
            std::thread::spawn(move || {
                let mut s = PgStore::connect(&url).unwrap();
                let mut mine = Vec::new();
                let mut conflicts = 0;
                for i in 0..PER_WRITER {
                    let id = format!("w{w}-{i}");
                    let (seq, got) = loop {
                        s.begin_request().unwrap();
                        let attempt = (|| {
                            assert!(s.message_for_update(&id)?.is_none());
                            let seq = s.next_conv_seq(&conv)?;
                            s.put_message(&group_msg(&id, "alice", "hot", seq))?;
                            let got =
                                s.append_events(&["alice", "bob"], EventKind::NewMessage, &id)?;
                            Ok::<_, StoreError>((seq, got))
                        })();
                        match attempt {
                            Ok(done) => break done,
                            Err(e) if e.is_conflict() => {
                                conflicts += 1;
                                s.undo_request().unwrap();
                                s.commit().unwrap();
                            }
                            Err(e) => panic!("{id}: {e}"),
                        }
                    };
                    mine.push((seq, got));
                    if i % 7 == 6 {
                        s.commit().unwrap();
                    }
                }
                s.commit().unwrap();
                assert!(conflicts < PER_WRITER, "writer {w}: {conflicts} conflicts");
                mine
            })
        })
        .collect();
    let mut conv_seqs = Vec::new();
    let mut alice_seqs = Vec::new();
    for w in writers {
        for (seq, users) in w.join().unwrap() {
            conv_seqs.push(seq);
            alice_seqs.push(users[0]);
        }
    }
    conv_seqs.sort_unstable();
    alice_seqs.sort_unstable();
    let all: Vec<u64> = (1..=2 * PER_WRITER).collect();
    assert_eq!(conv_seqs, all, "conversation seqs: each once, no gap");
    assert_eq!(alice_seqs, all, "alice's event seqs: each once, no gap");
    let mut s = PgStore::connect(&url).unwrap();
    let bob = s.events_after("bob", 0, 1000).unwrap();
    assert_eq!(bob.iter().map(|e| e.seq).collect::<Vec<_>>(), all);
    assert_eq!(s.conv_head(&conv).unwrap(), 2 * PER_WRITER);
    assert_eq!(
        s.history(&conv, None, 1000).unwrap().len() as u64,
        2 * PER_WRITER
    );
}

/// Clashes between writers are conflicts (not failures), and undoing one request keeps the
/// requests before it in the same transaction.
#[test]
fn postgres_conflicts_are_reported_and_undone_one_request_at_a_time() {
    let Some((_pg, url)) = pg_db("conflicts") else {
        return;
    };
    let mut a = PgStore::connect(&url).unwrap();
    let mut b = PgStore::connect(&url).unwrap();

    // A msgID both found absent, then both insert: the second is a conflict.
    a.begin_request().unwrap();
    b.begin_request().unwrap();
    assert!(a.message_for_update("dup").unwrap().is_none());
    assert!(b.message_for_update("dup").unwrap().is_none());
    b.put_message(&msg("dup", "bob", "alice", 1)).unwrap();
    b.commit().unwrap();
    let e = a.put_message(&msg("dup", "alice", "bob", 1)).unwrap_err();
    assert!(e.is_conflict(), "{e}");
    a.undo_request().unwrap();
    a.begin_request().unwrap();
    assert_eq!(a.message_for_update("dup").unwrap().unwrap().sender, "bob");
    a.commit().unwrap();

    // The same for a groupID.
    a.begin_request().unwrap();
    b.begin_request().unwrap();
    assert!(a.group_for_update("g").unwrap().is_none());
    assert!(b.group_for_update("g").unwrap().is_none());
    b.put_group(&group("g")).unwrap();
    b.commit().unwrap();
    assert!(a.put_group(&group("g")).unwrap_err().is_conflict());
    a.undo_request().unwrap();
    a.commit().unwrap();

    // A cycle: a holds u1 and wants u2, b holds u2 and wants u1. A first attempt waits at
    // most FIRST_LOCK_WAIT for a head another writer holds, so a's request is a conflict well
    // before PostgreSQL's deadlock detection (1 s) would pick a victim; a undoes that request
    // only, keeps the one before it, and b, which wanted a's head, gets it at once.
    a.begin_request().unwrap();
    a.append_event("early", EventKind::NewMessage, "x").unwrap();
    a.begin_request().unwrap();
    a.append_event("u1", EventKind::NewMessage, "a").unwrap();
    b.begin_request().unwrap();
    b.append_event("u2", EventKind::NewMessage, "b").unwrap();
    let t0 = std::time::Instant::now();
    let e = a
        .append_event("u2", EventKind::NewMessage, "a")
        .unwrap_err();
    let waited = t0.elapsed();
    assert!(e.is_conflict(), "{e}");
    assert!(
        waited >= std::time::Duration::from_millis(40)
            && waited < std::time::Duration::from_millis(800),
        "a first attempt waits about FIRST_LOCK_WAIT ({}), not until a deadlock is found: {waited:?}",
        im_revoke_server::store::pg::FIRST_LOCK_WAIT
    );
    a.undo_request().unwrap();
    a.commit().unwrap();
    b.append_event("u1", EventKind::NewMessage, "b").unwrap();
    // The retry, alone in its transaction, waits for b's head instead.
    a.begin_request().unwrap();
    let t = std::thread::spawn(move || {
        let r = a.append_event("u2", EventKind::NewMessage, "a");
        (a, r)
    });
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert!(!t.is_finished(), "the retry waits for the head");
    b.commit().unwrap();
    let (mut a, r) = t.join().unwrap();
    r.unwrap();
    a.append_event("u1", EventKind::NewMessage, "a").unwrap();
    a.commit().unwrap();
    let mut s = PgStore::connect(&url).unwrap();
    assert_eq!(s.user_head("early").unwrap(), 1, "the request before stays");
    for u in ["u1", "u2"] {
        assert_eq!(
            seqs_and_targets(&mut s, u),
            [(1, "b".into()), (2, "a".into())],
            "{u}: b's event, then a's retry, no gap"
        );
    }

    // The same short first wait for a conversation's seq (`conv_heads`), which a send takes
    // before its events' heads: a holds u3's head and wants group g's seq, which b holds (and b
    // may want u3 next). a's first attempt gives up after about FIRST_LOCK_WAIT; its retry waits.
    let g = ConvId::Group("cycle".into());
    a.begin_request().unwrap();
    a.append_event("u3", EventKind::NewMessage, "a").unwrap();
    b.begin_request().unwrap();
    assert_eq!(b.next_conv_seq(&g).unwrap(), 1);
    let t0 = std::time::Instant::now();
    let e = a.next_conv_seq(&g).unwrap_err();
    let waited = t0.elapsed();
    assert!(e.is_conflict(), "{e}");
    assert!(
        waited >= std::time::Duration::from_millis(40)
            && waited < std::time::Duration::from_millis(800),
        "a first attempt waits about FIRST_LOCK_WAIT for a conversation's seq: {waited:?}"
    );
    a.undo_request().unwrap();
    a.commit().unwrap();
    a.begin_request().unwrap();
    let t = std::thread::spawn(move || {
        let r = a.next_conv_seq(&g);
        (a, r)
    });
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert!(
        !t.is_finished(),
        "the retry waits for the conversation's seq"
    );
    b.commit().unwrap();
    let (mut a, r) = t.join().unwrap();
    assert_eq!(r.unwrap(), 2, "b's seq, then a's retry's, no gap");
    a.commit().unwrap();
}

#[test]
fn postgres_commit_notifies_the_users_whose_logs_grew() {
    let Some((pg, url)) = pg_db("notify") else {
        return;
    };
    use postgres::fallible_iterator::FallibleIterator;
    let mut l = pg.client("notify");
    l.batch_execute(&format!(
        "LISTEN {}",
        im_revoke_server::store::notify::CHANNEL
    ))
    .unwrap();
    let mut s = PgStore::connect(&url).unwrap();
    s.append_events(&["alice", "bob"], EventKind::NewMessage, "m")
        .unwrap();
    // Nothing before the commit.
    assert!(l.notifications().iter().next().unwrap().is_none());
    s.commit().unwrap();
    let n = l
        .notifications()
        .timeout_iter(std::time::Duration::from_secs(10))
        .next()
        .unwrap()
        .expect("a notification at commit");
    assert_eq!(n.payload(), "u alice bob");
    assert_eq!(n.process_id(), s.backend_pid());
    assert_eq!(
        im_revoke_server::store::notify::parse_payload(n.payload()).unwrap(),
        ["alice", "bob"]
    );
    // A commit without new events says nothing.
    s.message("m").unwrap();
    s.commit().unwrap();
    assert!(l
        .notifications()
        .timeout_iter(std::time::Duration::from_millis(200))
        .next()
        .unwrap()
        .is_none());
}

fn revoked(m: Message, req_id: &str) -> Message {
    Message {
        revoke: Some(RevokeInfo {
            user_id: m.sender.clone(),
            role: RevokerRole::Sender,
            reason: String::new(),
            time_ms: m.time_ms + 1,
            req_id: req_id.into(),
        }),
        ..m
    }
}

fn seqs_and_targets(s: &mut PgStore, user: &str) -> Vec<(u64, String)> {
    s.events_after(user, 0, 100)
        .unwrap()
        .into_iter()
        .map(|e| (e.seq, e.target))
        .collect()
}

/// A revoke's change to its message, and events appended to logs the transaction holds, are
/// written at the commit; reads see them before. Undoing a request drops what it deferred and
/// keeps what the requests before it did, also when a read sent them in between.
#[test]
fn postgres_deferred_writes_are_read_back_undone_with_their_request_and_committed() {
    let Some((_pg, url)) = pg_db("deferred") else {
        return;
    };
    let mut s = PgStore::connect(&url).unwrap();
    for (i, id) in ["d1", "d2", "d3"].into_iter().enumerate() {
        s.put_message(&msg(id, "alice", "bob", i as u64 + 1))
            .unwrap();
    }
    s.append_events(&["alice", "bob"], EventKind::NewMessage, "d1")
        .unwrap();
    s.commit().unwrap();
    let conv = ConvId::c2c("alice", "bob");

    // Request 1: kept.
    s.begin_request().unwrap();
    let m = s.message_for_update("d1").unwrap().unwrap();
    s.update_message(&revoked(m, "r1")).unwrap();
    let got = s
        .append_events(&["alice", "bob"], EventKind::MessageRevoked, "d1")
        .unwrap();
    assert_eq!(got, [2, 2]);
    assert!(s.message("d1").unwrap().unwrap().revoke.is_some());
    assert!(s
        .message_for_update("d1")
        .unwrap()
        .unwrap()
        .revoke
        .is_some());
    assert_eq!(s.user_head("alice").unwrap(), 2);

    // Request 2: its writes are sent by a read, then it is undone.
    s.begin_request().unwrap();
    let m = s.message_for_update("d2").unwrap().unwrap();
    s.update_message(&revoked(m, "r2")).unwrap();
    let got = s
        .append_events(&["alice", "bob"], EventKind::MessageRevoked, "d2")
        .unwrap();
    assert_eq!(got, [3, 3]);
    assert_eq!(
        seqs_and_targets(&mut s, "alice"),
        [(1, "d1".into()), (2, "d1".into()), (3, "d2".into())]
    );
    let page = s.history(&conv, None, 10).unwrap();
    assert!(page
        .iter()
        .all(|m| m.revoke.is_some() == (m.msg_id != "d3")));
    s.undo_request().unwrap();
    assert!(s.message("d1").unwrap().unwrap().revoke.is_some());
    assert!(s.message("d2").unwrap().unwrap().revoke.is_none());
    assert_eq!(s.user_head("alice").unwrap(), 2);
    assert_eq!(
        seqs_and_targets(&mut s, "alice"),
        [(1, "d1".into()), (2, "d1".into())]
    );

    // Request 3, deferred again (the read above sent request 1's writes once more).
    s.begin_request().unwrap();
    let m = s.message_for_update("d3").unwrap().unwrap();
    s.update_message(&revoked(m, "r3")).unwrap();
    let got = s
        .append_events(&["alice", "bob"], EventKind::MessageRevoked, "d3")
        .unwrap();
    assert_eq!(got, [3, 3]);
    // Request 4, undone before anything was sent.
    s.begin_request().unwrap();
    let m = s.message_for_update("d2").unwrap().unwrap();
    s.update_message(&revoked(m, "r4")).unwrap();
    s.append_events(&["alice", "bob"], EventKind::MessageRevoked, "d2")
        .unwrap();
    s.undo_request().unwrap();
    s.commit().unwrap();

    let mut other = PgStore::connect(&url).unwrap();
    let revoked_ids: Vec<bool> = ["d1", "d2", "d3"]
        .into_iter()
        .map(|id| other.message(id).unwrap().unwrap().revoke.is_some())
        .collect();
    assert_eq!(revoked_ids, [true, false, true]);
    let want: Vec<(u64, String)> = vec![(1, "d1".into()), (2, "d1".into()), (3, "d3".into())];
    assert_eq!(seqs_and_targets(&mut other, "alice"), want);
    assert_eq!(seqs_and_targets(&mut other, "bob"), want);
    assert_eq!(other.user_head("bob").unwrap(), 3);
}

/// A message another writer holds locked is a conflict at once (no wait, so no savepoint
/// needed before it); the retry of that request waits for the lock and reads the other
/// writer's change.
#[test]
fn postgres_a_message_held_by_another_writer_is_a_conflict_and_the_retry_waits() {
    let Some((_pg, url)) = pg_db("held") else {
        return;
    };
    let mut a = PgStore::connect(&url).unwrap();
    let mut b = PgStore::connect(&url).unwrap();
    a.put_message(&msg("h1", "alice", "bob", 1)).unwrap();
    a.append_events(&["alice"], EventKind::NewMessage, "early")
        .unwrap();
    a.commit().unwrap();

    b.begin_request().unwrap();
    let m = b.message_for_update("h1").unwrap().unwrap();
    b.update_message(&revoked(m, "rb")).unwrap();

    a.begin_request().unwrap();
    a.append_events(&["alice"], EventKind::NewMessage, "kept")
        .unwrap();
    a.begin_request().unwrap();
    let e = a.message_for_update("h1").unwrap_err();
    assert!(e.is_conflict(), "{e}");
    a.undo_request().unwrap();
    a.commit().unwrap();
    a.begin_request().unwrap();
    let t = std::thread::spawn(move || {
        let m = a.message_for_update("h1").unwrap().unwrap();
        (a, m)
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!t.is_finished(), "the retry waits for the lock");
    b.commit().unwrap();
    let (mut a, m) = t.join().unwrap();
    assert_eq!(m.revoke.unwrap().req_id, "rb", "the retry reads the change");
    a.commit().unwrap();
    assert_eq!(
        seqs_and_targets(&mut a, "alice"),
        [(1, "early".into()), (2, "kept".into())]
    );
}

/// Locks sent ahead of a batch's revokes (`Store::lock_ahead`, more than one statement's worth)
/// answer every read as it would be answered without them: a message another writer holds is
/// still a conflict, one written earlier in the batch (before or after its lock's answer came)
/// is read as it now is, an absent one stays absent until created, and a lock taken ahead but
/// never read is held until the commit all the same.
#[test]
fn postgres_locks_sent_ahead_answer_every_read_as_without_them() {
    let Some((_pg, url)) = pg_db("ahead") else {
        return;
    };
    let mut a = PgStore::connect(&url).unwrap();
    let mut b = PgStore::connect(&url).unwrap();
    for (i, id) in ["x1", "x2", "x3", "x4"].into_iter().enumerate() {
        a.put_message(&msg(id, "alice", "bob", i as u64 + 1))
            .unwrap();
    }
    a.append_events(&["alice", "bob"], EventKind::NewMessage, "x1")
        .unwrap();
    a.commit().unwrap();
    b.begin_request().unwrap();
    let m = b.message_for_update("x2").unwrap().unwrap();
    b.update_message(&revoked(m, "rb")).unwrap();

    let mut ids: Vec<String> = (0..40).map(|i| format!("none{i}")).collect();
    ids.extend(["x1", "x2", "x3", "x4", "new1"].map(String::from));
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    a.lock_ahead(&refs);
    assert!(a.in_transaction());

    // Written before its lock's answer was taken.
    a.begin_request().unwrap();
    a.put_message(&msg("none7", "alice", "bob", 10)).unwrap();
    // Absent when the locks went out, created by an earlier request of the batch.
    a.begin_request().unwrap();
    assert!(a.message_for_update("new1").unwrap().is_none());
    a.put_message(&msg("new1", "alice", "bob", 11)).unwrap();
    // Reading new1 brought back its statement's rows (x1, x3, x4): the heads of their parties
    // went out locked ahead, so another writer's append to alice's log is a conflict (a first
    // attempt waits FIRST_LOCK_WAIT at most) and its retry waits for this transaction, as they
    // would once this transaction appended to it.
    let mut c = PgStore::connect(&url).unwrap();
    c.begin_request().unwrap();
    let e = c
        .append_event("alice", EventKind::NewMessage, "c")
        .unwrap_err();
    assert!(e.is_conflict(), "alice's head is held: {e}");
    c.undo_request().unwrap();
    c.commit().unwrap();
    c.begin_request().unwrap();
    let waiting = std::thread::spawn(move || {
        let seq = c.append_event("alice", EventKind::NewMessage, "c").unwrap();
        (c, seq)
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        !waiting.is_finished(),
        "alice's head is held by the locks sent ahead"
    );
    // Written after its lock's answer came (with new1's, in the same statement).
    a.begin_request().unwrap();
    let mut changed = msg("x3", "alice", "bob", 3);
    changed.cloud_custom_data = Some("changed".into());
    a.put_message(&changed).unwrap();

    a.begin_request().unwrap();
    let m = a.message_for_update("x3").unwrap().unwrap();
    assert_eq!(m.cloud_custom_data.as_deref(), Some("changed"));
    a.begin_request().unwrap();
    let m = a.message_for_update("none7").unwrap().unwrap();
    assert_eq!(m.seq, 10);
    a.begin_request().unwrap();
    let m = a.message_for_update("new1").unwrap().unwrap();
    assert_eq!(m.seq, 11);
    a.begin_request().unwrap();
    let m = a.message_for_update("x1").unwrap().unwrap();
    assert_eq!((m.msg_id.as_str(), m.seq), ("x1", 1));
    a.update_message(&revoked(m, "ra")).unwrap();
    // The parties' heads were locked ahead too: their next seqs follow on.
    assert_eq!(
        a.append_events(&["alice", "bob"], EventKind::NewMessage, "x1r")
            .unwrap(),
        [2, 2]
    );
    a.begin_request().unwrap();
    let e = a.message_for_update("x2").unwrap_err();
    assert!(e.is_conflict(), "{e}");
    a.undo_request().unwrap();
    a.begin_request().unwrap();
    assert!(a.message_for_update("none5").unwrap().is_none());

    // x4 was locked ahead and never read: another writer still finds it held.
    b.commit().unwrap();
    b.begin_request().unwrap();
    let e = b.message_for_update("x4").unwrap_err();
    assert!(e.is_conflict(), "{e}");
    b.undo_request().unwrap();
    b.commit().unwrap();
    a.commit().unwrap();
    assert!(!a.in_transaction());
    let (mut c, seq) = waiting.join().unwrap();
    assert_eq!(seq, 3, "after the commit, the waiting append follows on");
    c.commit().unwrap();
    b.begin_request().unwrap();
    assert!(b.message_for_update("x4").unwrap().is_some());
    b.commit().unwrap();

    assert_eq!(
        a.message("x1").unwrap().unwrap().revoke.unwrap().req_id,
        "ra"
    );
    assert_eq!(
        a.message("x2").unwrap().unwrap().revoke.unwrap().req_id,
        "rb"
    );
    assert!(a.message("x3").unwrap().unwrap().revoke.is_none());
    assert!(a.message("new1").unwrap().is_some());
    assert!(a.message("none5").unwrap().is_none());
    assert_eq!(
        seqs_and_targets(&mut a, "bob"),
        [(1, "x1".into()), (2, "x1r".into())]
    );
    // Locks sent ahead and never read end with the transaction: the next one starts clean.
    a.lock_ahead(&["x3", "x4"]);
    a.commit().unwrap();
    assert!(!a.in_transaction());
}

#[test]
fn sqlite_wal_is_checkpointed_by_the_background_thread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt.db");
    let mut s = SqliteStore::open(&path).unwrap();
    s.put_message(&msg("c1", "alice", "bob", 1)).unwrap();
    s.commit().unwrap();
    // Read the database file alone, ignoring the WAL: the row is there once a checkpoint ran,
    // which no commit does any more (wal_autocheckpoint is off on the hub's connection).
    let uri = format!("file:{}?immutable=1", path.display());
    let found = (0..40).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let c = rusqlite::Connection::open_with_flags(
            &uri,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
        )
        .unwrap();
        c.query_row(
            "SELECT count(*) FROM messages WHERE msg_id = 'c1'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n == 1)
        .unwrap_or(false)
    });
    assert!(
        found,
        "the WAL was not checkpointed into the database file within 2 s"
    );
}

/// The hub over SQLite (issue 20): a send to a group writes its fan-out as one row, acknowledged
/// only once committed, and every member finds it exactly once, also after a restart.
#[test]
fn hub_over_sqlite_writes_a_group_send_as_one_row_each_member_reads_once() {
    use im_revoke_core::{ClientFrame, Config, Event, Hub, ServerFrame};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    let members: Vec<String> = (0..99).map(|i| format!("m{i:02}")).collect();
    let now = 1_700_000_000_000;
    {
        let mut hub = Hub::new(Config::default(), SqliteStore::open(&path).unwrap());
        assert!(hub.login(1, "owner", 1, now));
        hub.commit().unwrap();
        hub.handle(
            1,
            ClientFrame::CreateGroup {
                req_id: "c".into(),
                group_id: "big".into(),
                name: "big".into(),
                admins: vec![],
                members: members.clone(),
            },
            now,
        );
        hub.commit().unwrap();
        let (rows_before, _) = rows_and_events(&path);
        hub.handle(
            1,
            ClientFrame::Send {
                req_id: "s".into(),
                msg_id: "hello-big".into(),
                receiver: None,
                group_id: Some("big".into()),
                elem: Elem::Text { text: "hi".into() },
                reply_to: None,
                cloud_custom_data: None,
            },
            now,
        );
        let out = hub.commit().unwrap();
        assert!(out
            .iter()
            .any(|o| matches!(&o.frame, ServerFrame::SendOk { seq: 2, .. })));
        assert_eq!(
            rows_and_events(&path),
            (rows_before + 1, 2 * 100),
            "one row for 100 recipients"
        );
    }
    // After a restart, a member that was offline syncs both events, once each.
    let mut hub = Hub::new(Config::default(), SqliteStore::open(&path).unwrap());
    assert!(hub.login(2, "m42", 1, now));
    hub.commit().unwrap();
    hub.handle(
        2,
        ClientFrame::Sync {
            req_id: "y".into(),
            after_seq: 0,
        },
        now,
    );
    let out = hub.commit().unwrap();
    let events = out
        .iter()
        .find_map(|o| match &o.frame {
            ServerFrame::SyncOk { events, .. } => Some(events.clone()),
            _ => None,
        })
        .expect("syncOk");
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].seq, 2);
    assert!(
        matches!(&*events[1].event, Event::NewMessage { message } if message.msg_id == "hello-big")
    );
}
