//! The `Store` contract, as one generic test that every store must pass: `MemStore` (core's
//! reference) and `SqliteStore`. A PostgreSQL store would be checked by the same function.
//! Plus what only a durable store has: commit, rollback of an uncommitted batch, reopening.

use im_revoke_core::model::{ConvId, Elem, Group, Message, RevokeInfo, RevokerRole};
use im_revoke_core::store::{EventKind, EventRecord, MemStore, Store};
use im_revoke_server::sqlite::SqliteStore;

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
    // Group conversations are separate from one-to-one ones.
    let g = ConvId::Group("g1".into());
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
    s.append_event("alice", &ev(1, EventKind::NewMessage, "a1"))
        .unwrap();
    s.append_event("alice", &ev(2, EventKind::MessageRevoked, "a1"))
        .unwrap();
    s.append_event("alice", &ev(3, EventKind::GroupChanged, "g1"))
        .unwrap();
    s.append_event("bob", &ev(1, EventKind::NewMessage, "a1"))
        .unwrap();
    // Not head + 1: refused, nothing changes.
    assert!(s
        .append_event("alice", &ev(5, EventKind::NewMessage, "x"))
        .is_err());
    assert!(s
        .append_event("alice", &ev(3, EventKind::NewMessage, "x"))
        .is_err());
    assert!(s
        .append_event("carol", &ev(2, EventKind::NewMessage, "x"))
        .is_err());
    assert_eq!(s.user_head("alice").unwrap(), 3);
    assert_eq!(s.user_head("bob").unwrap(), 1);
    assert_eq!(s.user_head("carol").unwrap(), 0);
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
    assert_eq!(s.conv_head(&ConvId::c2c("alice", "bob")).unwrap(), 5);
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
    s.append_event("alice", &ev(1, EventKind::NewMessage, "kept"))
        .unwrap();
    assert!(s.in_transaction());
    s.commit().unwrap();
    assert!(!s.in_transaction());
    s.put_message(&msg("lost", "alice", "bob", 2)).unwrap();
    s.append_event("alice", &ev(2, EventKind::NewMessage, "lost"))
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
