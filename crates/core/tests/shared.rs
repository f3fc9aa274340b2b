//! Hubs that share one store (several server nodes over one database), driven by hand: events
//! written by one hub reach the other's sessions through `wake`, in order and once; a live event
//! or an acknowledgement never jumps over events written elsewhere; a request that clashes with
//! another writer is undone alone and run again; nothing shared is cached.

use im_revoke_core::hub::CONFLICT_RETRIES;
use im_revoke_core::model::{ConvId, Elem, Group};
use im_revoke_core::store::{ConvMember, EventKind, EventRecord, Store, StoreError};
use im_revoke_core::{ClientFrame, Code, Config, Event, Hub, MemStore, Message, ServerFrame};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

const T0: u64 = 1_700_000_000_000;

/// One `MemStore` behind several hubs, with savepoints (a copy) and injectable conflicts.
#[derive(Clone, Default)]
struct Shared {
    db: Rc<RefCell<MemStore>>,
    savepoint: Rc<RefCell<Option<MemStore>>>,
    /// The next this many `append_events` calls fail with a conflict.
    conflicts: Rc<Cell<u32>>,
    commits: Rc<Cell<u32>>,
}

impl Store for Shared {
    fn message(&mut self, id: &str) -> Result<Option<Message>, StoreError> {
        self.db.borrow_mut().message(id)
    }
    fn put_message(&mut self, m: &Message) -> Result<(), StoreError> {
        self.db.borrow_mut().put_message(m)
    }
    fn history(
        &mut self,
        c: &ConvId,
        b: Option<u64>,
        l: usize,
    ) -> Result<Vec<Message>, StoreError> {
        self.db.borrow_mut().history(c, b, l)
    }
    fn conv_head(&mut self, c: &ConvId) -> Result<u64, StoreError> {
        self.db.borrow_mut().conv_head(c)
    }
    fn append_event(&mut self, u: &str, k: EventKind, t: &str) -> Result<u64, StoreError> {
        self.db.borrow_mut().append_event(u, k, t)
    }
    fn append_events(
        &mut self,
        users: &[&str],
        k: EventKind,
        t: &str,
    ) -> Result<Vec<u64>, StoreError> {
        if self.conflicts.get() > 0 {
            self.conflicts.set(self.conflicts.get() - 1);
            return Err(StoreError::conflict("injected deadlock"));
        }
        self.db.borrow_mut().append_events(users, k, t)
    }
    fn events_after(&mut self, u: &str, a: u64, l: usize) -> Result<Vec<EventRecord>, StoreError> {
        self.db.borrow_mut().events_after(u, a, l)
    }
    fn user_head(&mut self, u: &str) -> Result<u64, StoreError> {
        self.db.borrow_mut().user_head(u)
    }
    fn group(&mut self, g: &str) -> Result<Option<Group>, StoreError> {
        self.db.borrow_mut().group(g)
    }
    fn put_group(&mut self, g: &Group) -> Result<(), StoreError> {
        self.db.borrow_mut().put_group(g)
    }
    fn groups_of(&mut self, u: &str) -> Result<Vec<Group>, StoreError> {
        self.db.borrow_mut().groups_of(u)
    }
    fn conversations_of(&mut self, u: &str) -> Result<Vec<ConvMember>, StoreError> {
        self.db.borrow_mut().conversations_of(u)
    }
    fn conversation_of(&mut self, u: &str, c: &ConvId) -> Result<Option<ConvMember>, StoreError> {
        self.db.borrow_mut().conversation_of(u, c)
    }
    fn put_conversation(&mut self, u: &str, m: &ConvMember) -> Result<(), StoreError> {
        self.db.borrow_mut().put_conversation(u, m)
    }
    fn unread_count(&mut self, c: &ConvId, r: &str, a: u64, u: u64) -> Result<u64, StoreError> {
        self.db.borrow_mut().unread_count(c, r, a, u)
    }
    fn commit(&mut self) -> Result<(), StoreError> {
        self.commits.set(self.commits.get() + 1);
        Ok(())
    }
    fn begin_request(&mut self) -> Result<(), StoreError> {
        *self.savepoint.borrow_mut() = Some(self.db.borrow().clone());
        Ok(())
    }
    fn undo_request(&mut self) -> Result<(), StoreError> {
        let saved = self.savepoint.borrow_mut().take().expect("a savepoint");
        *self.db.borrow_mut() = saved;
        Ok(())
    }
}

fn two_hubs() -> (Hub<Shared>, Hub<Shared>, Shared) {
    let store = Shared::default();
    (
        Hub::shared(Config::default(), store.clone()),
        Hub::shared(Config::default(), store.clone()),
        store,
    )
}

fn send(to: &str, id: &str) -> ClientFrame {
    ClientFrame::Send {
        req_id: format!("r-{id}"),
        msg_id: id.into(),
        receiver: Some(to.into()),
        group_id: None,
        elem: Elem::Text { text: id.into() },
        reply_to: None,
        cloud_custom_data: None,
    }
}

fn login(h: &mut Hub<Shared>, session: u64, user: &str) {
    assert!(h.login(session, user, 1, T0));
    let out = h.commit().unwrap();
    assert!(matches!(out[0].frame, ServerFrame::LoginOk { .. }));
}

/// (seq, msgID) of every event frame for `session`, in order; and of its acks (kind "ack").
fn seqs(out: &[im_revoke_core::Outgoing], session: u64) -> Vec<(u64, String)> {
    out.iter()
        .filter(|o| o.session == session)
        .filter_map(|o| match &o.frame {
            ServerFrame::Event(e) => Some((
                e.seq,
                match &*e.event {
                    Event::NewMessage { message } => message.msg_id.clone(),
                    Event::MessageRevoked(r) => format!("revoked {}", r.msg_id),
                    Event::GroupChanged { group } => format!("group {}", group.group_id),
                    Event::ConversationRead {
                        conversation_id, ..
                    } => format!("read {conversation_id}"),
                },
            )),
            ServerFrame::SendOk { seq, message, .. } => {
                Some((*seq, format!("ack {}", message.msg_id)))
            }
            ServerFrame::RevokeOk { seq, revoked, .. } => {
                Some((*seq, format!("ack revoked {}", revoked.msg_id)))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn events_written_by_one_hub_reach_the_other_by_wake_once() {
    let (mut a, mut b, _) = two_hubs();
    login(&mut a, 1, "alice");
    login(&mut b, 2, "bob");
    a.handle(1, send("bob", "m1"), T0);
    let out = a.commit().unwrap();
    assert_eq!(seqs(&out, 1), [(1, "ack m1".to_string())]);
    assert!(seqs(&out, 2).is_empty(), "bob is not on hub A");
    b.wake(["bob"]);
    let out = b.commit().unwrap();
    assert_eq!(seqs(&out, 2), [(1, "m1".to_string())]);
    // A second signal (or a merged one) finds nothing new.
    b.wake(["bob", "nobody"]);
    b.wake_all();
    assert!(b.commit().unwrap().is_empty());
    // A revoke on A, signalled for everyone.
    a.handle(
        1,
        ClientFrame::Revoke {
            req_id: "rv".into(),
            msg_id: "m1".into(),
            reason: "typo".into(),
            group_id: None,
        },
        T0 + 1,
    );
    assert_eq!(
        seqs(&a.commit().unwrap(), 1),
        [(2, "ack revoked m1".to_string())]
    );
    b.wake_all();
    assert_eq!(
        seqs(&b.commit().unwrap(), 2),
        [(2, "revoked m1".to_string())]
    );
}

#[test]
fn live_events_and_acks_never_jump_over_events_written_elsewhere() {
    let (mut a, mut b, _) = two_hubs();
    login(&mut a, 1, "alice");
    login(&mut b, 2, "bob");
    login(&mut b, 3, "carol");
    // alice (on A) writes to bob; B is not woken (the signal is late, or lost).
    a.handle(1, send("bob", "m1"), T0);
    a.handle(1, send("bob", "m2"), T0);
    a.commit().unwrap();
    // carol (on B) writes to bob: bob's session gets m1 and m2 first, then m3.
    b.handle(3, send("bob", "m3"), T0);
    let out = b.commit().unwrap();
    assert_eq!(
        seqs(&out, 2),
        [(1, "m1".into()), (2, "m2".into()), (3, "m3".into())]
    );
    // bob answers from B while alice's next message is not signalled: the ack comes after it.
    a.handle(1, send("bob", "m4"), T0);
    a.commit().unwrap();
    b.handle(2, send("alice", "m5"), T0);
    let out = b.commit().unwrap();
    assert_eq!(seqs(&out, 2), [(4, "m4".into()), (5, "ack m5".into())]);
    // The late signal delivers nothing twice.
    b.wake(["bob"]);
    assert!(b.commit().unwrap().is_empty());
}

#[test]
fn sync_moves_the_cursor_so_wake_does_not_repeat_it() {
    let (mut a, mut b, _) = two_hubs();
    login(&mut a, 1, "alice");
    login(&mut b, 2, "bob");
    a.handle(1, send("bob", "m1"), T0);
    a.commit().unwrap();
    b.handle(
        2,
        ClientFrame::Sync {
            req_id: "y".into(),
            after_seq: 0,
        },
        T0,
    );
    let out = b.commit().unwrap();
    assert!(matches!(&out[0].frame, ServerFrame::SyncOk { events, .. } if events.len() == 1));
    b.wake(["bob"]);
    assert!(b.commit().unwrap().is_empty());
}

#[test]
fn a_conflict_undoes_and_reruns_that_request_alone() {
    let (mut a, _b, store) = two_hubs();
    login(&mut a, 1, "alice");
    login(&mut a, 2, "bob");
    let commits = store.commits.get();
    a.handle(1, send("bob", "m1"), T0);
    store.conflicts.set(2); // m2 clashes twice, then goes through
    a.handle(1, send("bob", "m2"), T0);
    let out = a.commit().unwrap();
    assert_eq!(
        seqs(&out, 1),
        [(1, "ack m1".to_string()), (2, "ack m2".to_string())]
    );
    assert_eq!(
        seqs(&out, 2),
        [(1, "m1".to_string()), (2, "m2".to_string())],
        "no frame of an undone attempt"
    );
    assert!(
        store.commits.get() >= commits + 3,
        "m1 committed before each retry of m2, then the batch"
    );
    let conv = ConvId::c2c("alice", "bob");
    assert_eq!(store.db.borrow_mut().conv_head(&conv).unwrap(), 2, "no gap");
    assert_eq!(store.db.borrow_mut().user_head("bob").unwrap(), 2);
}

#[test]
fn a_conflict_that_persists_is_answered_without_stopping() {
    let (mut a, _b, store) = two_hubs();
    login(&mut a, 1, "alice");
    store.conflicts.set(CONFLICT_RETRIES);
    a.handle(1, send("bob", "m1"), T0);
    let out = a.commit().unwrap();
    assert!(
        matches!(&out[..], [o] if matches!(&o.frame,
            ServerFrame::Error { code: Code::InternalError, req_id: Some(r), .. } if r == "r-m1")),
        "{out:?}"
    );
    assert!(a.poisoned().is_none());
    assert_eq!(
        store.db.borrow().message_count(),
        0,
        "nothing of it was kept"
    );
    // The client retries; it goes through.
    a.handle(1, send("bob", "m1"), T0);
    assert_eq!(seqs(&a.commit().unwrap(), 1), [(1, "ack m1".to_string())]);
}

#[test]
fn shared_hubs_cache_nothing_another_hub_may_change() {
    let (mut a, mut b, store) = two_hubs();
    login(&mut a, 1, "alice");
    login(&mut b, 2, "owner");
    b.handle(
        2,
        ClientFrame::CreateGroup {
            req_id: "c".into(),
            group_id: "g".into(),
            name: "g".into(),
            admins: vec![],
            members: vec!["alice".into()],
        },
        T0,
    );
    b.commit().unwrap();
    let group_send = |id: &str| ClientFrame::Send {
        req_id: format!("r-{id}"),
        msg_id: id.into(),
        receiver: None,
        group_id: Some("g".into()),
        elem: Elem::Text { text: id.into() },
        reply_to: None,
        cloud_custom_data: None,
    };
    a.handle(1, group_send("g1"), T0);
    a.commit().unwrap();
    // B adds dave and sends too; A's next send sees dave and takes the next conversation seq.
    b.handle(
        2,
        ClientFrame::AddGroupMembers {
            req_id: "add".into(),
            group_id: "g".into(),
            members: vec!["dave".into()],
        },
        T0,
    );
    b.handle(2, group_send("g2"), T0);
    b.commit().unwrap();
    a.handle(1, group_send("g3"), T0);
    let out = a.commit().unwrap();
    // alice first gets what B wrote for her (the group change, g2), then her ack.
    assert_eq!(
        seqs(&out, 1),
        [
            (3, "group g".to_string()),
            (4, "g2".to_string()),
            (5, "ack g3".to_string())
        ]
    );
    assert!(out
        .iter()
        .any(|o| matches!(&o.frame, ServerFrame::SendOk { message, .. } if message.seq == 3)));
    let dave: Vec<String> = store
        .db
        .borrow_mut()
        .events_after("dave", 0, 10)
        .unwrap()
        .into_iter()
        .map(|e| e.target)
        .collect();
    assert_eq!(dave, ["g", "g2", "g3"]);
}

#[test]
fn a_hub_that_is_not_shared_ignores_wake() {
    let mut h = Hub::new(Config::default(), MemStore::new());
    assert!(!h.is_shared());
    h.login(1, "bob", 1, T0);
    h.commit().unwrap();
    h.wake(["bob"]);
    h.wake_all();
    assert!(h.commit().unwrap().is_empty());
}
