//! Requests of the app's backend (the server's REST API, feature `callbacks`): an app admin
//! sends one-to-one messages as any account, reads any conversation's history, and recalls any
//! message with no time limit ([`crate::policy::check_app_admin_revoke`]).
//!
//! An admin request is no session's: its events go to every party's sessions (the acting
//! account's own devices too), through the same event logs as any other, so offline clients get
//! them on reconnect. A recall reaches clients as any revoke does (`messageRevoked`), with the
//! admin's identifier as revoker and the role `admin`. The answer is returned to the host, which
//! hands it out only after [`Hub::commit`], like every acknowledgement.
//!
//! With callbacks on ([`Hub::set_callbacks`]) every send and revoke, a client's or an admin's,
//! also writes its webhook ([`crate::callback`]) into the store's outbox in the same
//! transaction.

use super::{bad, Fail, Hub, SessionId, CONFLICT_RETRIES, R};
use crate::callback;
use crate::error::{Code, ImError};
use crate::model::{check_user_id, ConvId, Elem, Message, RevokeInfo};
use crate::policy::check_app_admin_revoke;
use crate::protocol::{Event, Revoked};
use crate::store::{CallbackRecord, EventKind, Store};

/// The session admin requests act as: the host never gives it to a connection, so every
/// party's sessions receive the events.
pub const ADMIN_SESSION: SessionId = SessionId::MAX;

/// How many messages one history request reads at most (in pages of the hub's page size)
/// looking for those in its time range.
const HISTORY_SCAN_PAGES: usize = 50;

/// A page of a conversation's history for an admin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminHistory {
    /// Messages, newest first (revoked ones without content).
    pub messages: Vec<Message>,
    /// Whether every message of the time range up to the page's start has been returned.
    pub complete: bool,
}

/// One item of a group recall: the seq and what became of it.
pub type RecallResult = (u64, Result<Message, ImError>);

impl<S: Store> Hub<S> {
    /// Turns webhooks on or off: when on, every send and revoke also writes its webhook into
    /// the store's outbox ([`Store::enqueue_callback`]) in the same transaction.
    pub fn set_callbacks(&mut self, on: bool) {
        self.callbacks = on;
    }

    /// Writes a webhook if they are on.
    pub(super) fn callback(&mut self, rec: impl FnOnce() -> CallbackRecord) -> R<()> {
        if self.callbacks {
            self.store.enqueue_callback(&rec())?;
        }
        Ok(())
    }

    /// Runs one admin request: retried alone on a conflict (shared hubs), a store failure
    /// poisons the hub as for any request.
    fn admin_run<T>(&mut self, mut f: impl FnMut(&mut Self) -> R<T>) -> Result<T, ImError> {
        if self.poisoned.is_some() {
            return Err(ImError::new(Code::InternalError));
        }
        let mut attempt = 0;
        let r = loop {
            let mark = self.outbox.len();
            self.seq.keep_moves();
            if let Err(e) = self.store.begin_request() {
                break Err(Fail::Store(e));
            }
            let r = f(self);
            if !self.seq.is_shared() || !matches!(&r, Err(Fail::Store(e)) if e.is_conflict()) {
                self.seq.keep_moves();
                break r;
            }
            self.outbox.truncate(mark);
            self.seq.undo_moves();
            if let Err(e) = self.store.undo_request().and_then(|()| self.store.commit()) {
                break Err(Fail::Store(e));
            }
            attempt += 1;
            if attempt >= CONFLICT_RETRIES {
                break Err(bad(
                    Code::InternalError,
                    "busy: the request kept clashing with concurrent writes; nothing was stored, retry",
                ));
            }
        };
        match r {
            Ok(v) => Ok(v),
            Err(Fail::Im(e)) => Err(e),
            Err(Fail::Store(e)) => {
                self.poisoned.get_or_insert(e);
                Err(ImError::new(Code::InternalError))
            }
        }
    }

    /// The admin `admin` sends `elem` as `from` to `to` (Tencent's `openim/sendmsg`), with the
    /// backend's `random` (`MsgRandom`). A resend with the same accounts and random in the same
    /// second is answered with the message already sent, without a new event.
    pub fn admin_send(
        &mut self,
        admin: &str,
        from: &str,
        to: &str,
        random: u32,
        elem: Elem,
        now_ms: u64,
    ) -> Result<Message, ImError> {
        self.admin_run(|hub| hub.try_admin_send(admin, from, to, random, &elem, now_ms))
    }

    fn try_admin_send(
        &mut self,
        admin: &str,
        from: &str,
        to: &str,
        random: u32,
        elem: &Elem,
        now: u64,
    ) -> R<Message> {
        check_user_id(from)?;
        check_user_id(to)?;
        match elem {
            Elem::Text { text } if text.is_empty() => {
                return Err(bad(Code::InvalidParameters, "text is empty"))
            }
            e if e.size() > self.cfg.max_text_bytes => {
                return Err(bad(
                    Code::BodySizeLimit,
                    "text is longer than the configured maximum",
                ))
            }
            _ => {}
        }
        let msg_id = callback::rest_msg_id(from, to, random, now / 1000);
        if let Some(existing) = self.store.message_for_update(&msg_id)? {
            if existing.sender == from
                && existing.receiver.as_deref() == Some(to)
                && existing.group_id.is_none()
            {
                return Ok(existing);
            }
            return Err(Code::MsgIdConflict.into());
        }
        let conv = ConvId::c2c(from, to);
        let seq = self.next_conv_seq(&conv)?;
        let msg = Message {
            msg_id,
            sender: from.to_string(),
            receiver: Some(to.to_string()),
            group_id: None,
            time_ms: now,
            seq,
            elem: Some(elem.clone()),
            revoke: None,
            reply_to: None,
            cloud_custom_data: None,
        };
        self.store.put_message(&msg)?;
        if seq == 1 {
            // The conversation begins for both parties (conversations.rs).
            let parties = [from.to_string(), to.to_string()];
            let n = if from == to { 1 } else { 2 };
            self.join_conversation(&parties[..n], &conv, 0, true, now)?;
        }
        self.seq.conv_written(conv, seq);
        let parties = self.parties(&msg)?;
        let ev = Event::NewMessage {
            message: msg.clone(),
        };
        self.fan_out(
            parties.iter(),
            ADMIN_SESSION,
            "",
            EventKind::NewMessage,
            &msg.msg_id,
            ev,
        )?;
        self.callback(|| callback::after_send(&msg, Some(admin), now))?;
        Ok(msg)
    }

    /// The admin `admin` recalls the message at `seq` of the one-to-one conversation of `from`
    /// and `to` (Tencent's `openim/admin_msgwithdraw`), whose `MsgKey` must be `key`: a key of
    /// another conversation, or of no message, is 20022; a message already revoked is 20023.
    pub fn admin_withdraw(
        &mut self,
        admin: &str,
        from: &str,
        to: &str,
        key: &str,
        now_ms: u64,
    ) -> Result<Message, ImError> {
        let seq = callback::msg_key_seq(key).ok_or_else(|| ImError::new(Code::MsgNotFound))?;
        let conv = ConvId::c2c(from, to);
        self.admin_run(|hub| {
            check_user_id(from)?;
            check_user_id(to)?;
            hub.try_admin_recall(admin, &conv, seq, Some(key), "", now_ms)
        })
    }

    /// The admin `admin` recalls the messages at `seqs` of group `group_id` (Tencent's
    /// `group_open_http_svc/group_msg_recall`) for `reason` (Tencent's `Reason`, the revoke's
    /// reason; at most the policy's `max_reason_bytes`, else 10004 and nothing changes): the
    /// group must exist (10010), then each seq on its own (10030 not found, 20023 already
    /// revoked).
    pub fn admin_recall_group(
        &mut self,
        admin: &str,
        group_id: &str,
        seqs: &[u64],
        reason: &str,
        now_ms: u64,
    ) -> Result<Vec<RecallResult>, ImError> {
        if reason.len() > self.cfg.max_reason_bytes {
            return Err(ImError::with_desc(
                Code::GroupInvalidParameters,
                "Reason is too long",
            ));
        }
        self.admin_run(|hub| hub.group(group_id).map(|_| ()))?;
        let conv = ConvId::Group(group_id.to_string());
        Ok(seqs
            .iter()
            .map(|&seq| {
                let r = self
                    .admin_run(|hub| hub.try_admin_recall(admin, &conv, seq, None, reason, now_ms));
                (seq, r)
            })
            .collect())
    }

    fn try_admin_recall(
        &mut self,
        admin: &str,
        conv: &ConvId,
        seq: u64,
        key: Option<&str>,
        reason: &str,
        now: u64,
    ) -> R<Message> {
        let not_found = match conv {
            ConvId::Group(_) => Code::GroupRevokeMsgNotFound,
            ConvId::C2c(..) => Code::MsgNotFound,
        };
        let found = self
            .store
            .history(conv, Some(seq.saturating_add(1)), 1)?
            .pop()
            .filter(|m| m.seq == seq)
            .filter(|m| key.is_none_or(|k| callback::msg_key(m) == k));
        let Some(found) = found else {
            return Err(not_found.into());
        };
        let Some(mut msg) = self.store.message_for_update(&found.msg_id)? else {
            return Err(not_found.into());
        };
        let allowed = check_app_admin_revoke(&msg)?;
        msg.revoke = Some(RevokeInfo {
            user_id: admin.to_string(),
            role: allowed.role,
            reason: reason.to_string(),
            time_ms: now,
            req_id: format!("rest-recall-{now}"),
        });
        crate::attachment::clear_urls(&mut msg);
        self.store.update_message(&msg)?;
        let parties = self.parties(&msg)?;
        let revoked = Revoked::of(&msg).expect("just revoked");
        let msg_id = msg.msg_id.clone();
        self.fan_out(
            parties.iter(),
            ADMIN_SESSION,
            "",
            EventKind::MessageRevoked,
            &msg_id,
            Event::MessageRevoked(revoked),
        )?;
        self.callback(|| callback::after_revoke(&msg, Some(admin), now))?;
        Ok(msg)
    }

    /// Up to `max` messages between `a` and `b` (Tencent's `openim/admin_getroammsg`) with a
    /// server time in `min_ms..=max_ms`, newest first, before conversation seq `before_seq`
    /// (all if `None`: the backend continues from the last page's `MsgKey`).
    pub fn admin_history(
        &mut self,
        a: &str,
        b: &str,
        min_ms: u64,
        max_ms: u64,
        before_seq: Option<u64>,
        max: usize,
    ) -> Result<AdminHistory, ImError> {
        let conv = ConvId::c2c(a, b);
        self.admin_run(|hub| {
            check_user_id(a)?;
            check_user_id(b)?;
            let page = hub.cfg.max_page.max(1);
            let max = max.clamp(1, page);
            let mut messages = Vec::new();
            let mut before = before_seq;
            for _ in 0..HISTORY_SCAN_PAGES {
                let batch = hub.store.history(&conv, before, page)?;
                let n = batch.len();
                for m in batch {
                    before = Some(m.seq);
                    if m.time_ms > max_ms {
                        continue;
                    }
                    if m.time_ms < min_ms {
                        return Ok(AdminHistory {
                            messages,
                            complete: true,
                        });
                    }
                    if messages.len() == max {
                        return Ok(AdminHistory {
                            messages,
                            complete: false,
                        });
                    }
                    messages.push(m.view_for(""));
                }
                if n < page {
                    return Ok(AdminHistory {
                        messages,
                        complete: true,
                    });
                }
            }
            Ok(AdminHistory {
                messages,
                complete: false,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Config;
    use crate::protocol::{ClientFrame, ServerFrame, PROTOCOL_VERSION};
    use crate::store::MemStore;

    const T0: u64 = 1_700_000_000_000;

    #[test]
    fn admin_recall_once_with_no_time_limit_and_one_webhook_each() {
        let mut hub = Hub::new(Config::default(), MemStore::new());
        hub.set_callbacks(true);
        assert!(hub.login(1, "alice", PROTOCOL_VERSION, T0));
        assert!(hub.login(2, "bob", PROTOCOL_VERSION, T0));
        hub.handle(
            1,
            ClientFrame::Send {
                req_id: "r1".into(),
                msg_id: "m1".into(),
                receiver: Some("bob".into()),
                group_id: None,
                elem: Elem::Text { text: "hi".into() },
                reply_to: None,
                cloud_custom_data: None,
            },
            T0,
        );
        hub.commit().unwrap();
        let msg = hub.store_mut().message("m1").unwrap().unwrap();
        let key = callback::msg_key(&msg);
        // A day later: far past the sender's window.
        let later = T0 + 86_400_000;
        let other = callback::msg_key(&Message {
            seq: msg.seq + 1,
            ..msg.clone()
        });
        assert_eq!(
            hub.admin_withdraw("administrator", "alice", "bob", &other, later)
                .unwrap_err()
                .code,
            Code::MsgNotFound
        );
        assert_eq!(
            hub.admin_withdraw("administrator", "alice", "carol", &key, later)
                .unwrap_err()
                .code,
            Code::MsgNotFound,
            "a key of another conversation"
        );
        let r = hub
            .admin_withdraw("administrator", "bob", "alice", &key, later)
            .unwrap();
        assert_eq!(r.revoke.as_ref().unwrap().user_id, "administrator");
        let out = hub.commit().unwrap();
        let revoked_to: Vec<_> = out
            .iter()
            .filter(|o| matches!(&o.frame, ServerFrame::Event(e) if matches!(*e.event, Event::MessageRevoked(_))))
            .map(|o| o.session)
            .collect();
        assert_eq!(revoked_to, [1, 2], "both parties' sessions");
        assert_eq!(
            hub.admin_withdraw("administrator", "alice", "bob", &key, later)
                .unwrap_err()
                .code,
            Code::AlreadyRevoked
        );
        assert!(hub.commit().unwrap().is_empty(), "no second event");
        let cmds: Vec<_> = hub.store().callbacks.iter().map(|c| c.command).collect();
        assert_eq!(
            cmds,
            [callback::C2C_AFTER_SEND, callback::C2C_AFTER_WITHDRAW]
        );
        assert_eq!(hub.store().callbacks[1].platform, callback::PLATFORM_REST);
    }
}
