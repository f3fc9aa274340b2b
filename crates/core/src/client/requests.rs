//! What the app asks of the client: create and send a message, revoke one (with the early
//! 6223 by the estimated server clock), `canRevoke`, history, find, groups, the local cache.

use super::{Client, Done, Kind, Local};
use crate::error::{Code, ImError};
use crate::model::{
    check_group_id, check_msg_id, check_user_id, Elem, Group, GroupRole, Message, MessageStatus,
    ReplyTo, RevokeInfo, RevokerRole, MAX_CLOUD_CUSTOM_DATA,
};
use crate::policy::{check_revoke, Actor};
use crate::protocol::ClientFrame;
use crate::view::{CanRevoke, MessageView};

/// A send's target: exactly one of a valid receiver and a valid groupID.
fn check_target(receiver: Option<&str>, group_id: Option<&str>) -> Result<(), ImError> {
    match (receiver, group_id) {
        (Some(r), None) => check_user_id(r),
        (None, Some(g)) => check_group_id(g),
        _ => Err(ImError::with_desc(
            Code::InvalidParameters,
            "give exactly one of receiver and groupID",
        )),
    }
}

impl Client {
    /// `createTextMessage`: a new local message with a fresh msgID (status 1 until sent).
    pub fn create_text_message(&mut self, text: &str) -> MessageView {
        self.create_message_with(
            Elem::Text {
                text: text.to_string(),
            },
            None,
            None,
        )
    }

    /// `createCustomMessage`, and the image and file messages once their element is known: a
    /// new local message of `elem` with a fresh msgID (status 1 until sent). Its rules are
    /// checked when it is sent.
    pub fn create_message(&mut self, elem: Elem) -> MessageView {
        self.create_message_with(elem, None, None)
    }

    /// `createTextMessage(text, { replyTo, cloudCustomData })`: a reply to `reply_to` (a msgID;
    /// the authority checks that this user may read it and fills the quote) and/or the app's
    /// own data (at most [`MAX_CLOUD_CUSTOM_DATA`] bytes, 8001 over it).
    pub fn create_text_message_with(
        &mut self,
        text: &str,
        reply_to: Option<&str>,
        cloud_custom_data: Option<String>,
    ) -> Result<MessageView, ImError> {
        if cloud_custom_data
            .as_ref()
            .is_some_and(|d| d.len() > MAX_CLOUD_CUSTOM_DATA)
        {
            return Err(ImError::with_desc(
                Code::MsgBodySizeLimit,
                "cloudCustomData is longer than 8192 bytes",
            ));
        }
        let quote = match reply_to {
            None => None,
            Some(id) => {
                check_msg_id(id)?;
                // What this device knows of the original, until the authority's answer.
                Some(match self.messages.get(id) {
                    Some(o) => ReplyTo::of(&o.msg),
                    None => ReplyTo {
                        msg_id: id.to_string(),
                        sender: String::new(),
                        abstract_text: String::new(),
                        is_revoked: false,
                    },
                })
            }
        };
        Ok(self.create_message_with(
            Elem::Text {
                text: text.to_string(),
            },
            quote,
            cloud_custom_data,
        ))
    }

    fn create_message_with(
        &mut self,
        elem: Elem,
        reply_to: Option<ReplyTo>,
        cloud_custom_data: Option<String>,
    ) -> MessageView {
        let msg_id = self.next_msg_id();
        let msg = Message {
            msg_id: msg_id.clone(),
            sender: self.user.clone(),
            receiver: None,
            group_id: None,
            time_ms: 0,
            seq: 0,
            elem: Some(elem),
            revoke: None,
            reply_to,
            cloud_custom_data,
        };
        let local = Local {
            msg,
            status: MessageStatus::Sending,
            used: self.next_use(),
        };
        let view = self.view(&local);
        self.messages.insert(msg_id, local);
        view
    }

    /// `sendMessage(msg, receiver, groupID)`: returns the request id whose completion resolves
    /// the promise.
    pub fn send(
        &mut self,
        msg_id: &str,
        receiver: Option<&str>,
        group_id: Option<&str>,
        now: f64,
    ) -> Result<String, ImError> {
        // Its uploads still run (`check_attach`): the send that started them follows them.
        if self.uploading.iter().any(|id| id == msg_id) {
            return Err(ImError::new(Code::InProgress));
        }
        check_target(receiver, group_id)?;
        let max = self.cfg.max_text_bytes;
        let l = self.messages.get_mut(msg_id).ok_or_else(|| {
            ImError::with_desc(
                Code::InvalidParameters,
                "unknown message: create it with createTextMessage",
            )
        })?;
        if l.msg.sender != self.user || l.msg.seq != 0 {
            return Err(ImError::with_desc(
                Code::InvalidParameters,
                "this message was already sent",
            ));
        }
        if l.msg.revoke.is_some() {
            // Revoked before it was ever sent (while its uploads ran): cancelled for good.
            return Err(ImError::new(Code::SendCancelled));
        }
        if l.msg.elem.as_ref().map_or(0, Elem::size) > max {
            return Err(ImError::new(Code::MsgBodySizeLimit));
        }
        if let Some(Elem::Text { text }) = &l.msg.elem {
            if text.is_empty() {
                return Err(ImError::with_desc(Code::InvalidParameters, "text is empty"));
            }
        }
        if let Some(e) = &l.msg.elem {
            crate::attachment::check_elem(e)?;
        }
        let in_flight = self
            .pending
            .values()
            .any(|p| matches!(&p.kind, Kind::Send(m) if m == msg_id));
        if in_flight {
            return Err(ImError::new(Code::InProgress));
        }
        l.msg.receiver = receiver.map(str::to_string);
        l.msg.group_id = group_id.map(str::to_string);
        l.status = MessageStatus::Sending;
        let elem = l.msg.elem.clone().expect("created with content");
        let reply_to = l.msg.reply_to.as_ref().map(|q| q.msg_id.clone());
        let cloud_custom_data = l.msg.cloud_custom_data.clone();
        let req_id = self.next_id("s");
        let frame = ClientFrame::Send {
            req_id: req_id.clone(),
            msg_id: msg_id.to_string(),
            receiver: receiver.map(str::to_string),
            group_id: group_id.map(str::to_string),
            elem,
            reply_to,
            cloud_custom_data,
        };
        self.queue(req_id.clone(), frame, Kind::Send(msg_id.to_string()), now);
        self.mark(msg_id);
        Ok(req_id)
    }

    /// `sendMessage` of an image or file message: before its uploads, whether it may be sent
    /// to that target (its own, not sent, not being sent, of an attachment type). Returns a
    /// file message's file name (`None` for an image), what the upload needs of the element.
    pub fn check_attach(
        &mut self,
        msg_id: &str,
        receiver: Option<&str>,
        group_id: Option<&str>,
    ) -> Result<Option<String>, ImError> {
        check_target(receiver, group_id)?;
        let l = self.messages.get(msg_id);
        if l.is_some_and(|l| l.msg.revoke.is_some()) {
            return Err(ImError::new(Code::SendCancelled));
        }
        let unsent = l.filter(|l| l.msg.sender == self.user && l.msg.seq == 0);
        let name = match unsent.and_then(|l| l.msg.elem.as_ref()) {
            Some(Elem::Image { .. }) => None,
            Some(Elem::File { file_name, .. }) => Some(file_name.clone()),
            _ => {
                return Err(ImError::with_desc(
                    Code::InvalidParameters,
                    "not an unsent image or file message of this client",
                ))
            }
        };
        let in_flight = self
            .pending
            .values()
            .any(|p| matches!(&p.kind, Kind::Send(m) if m == msg_id));
        if in_flight || self.uploading.iter().any(|id| id == msg_id) {
            return Err(ImError::new(Code::InProgress));
        }
        self.uploading.push(msg_id.to_string());
        Ok(name)
    }

    /// The uploads of a message begun by [`Client::check_attach`] failed: it is no longer
    /// uploading (it may be sent again).
    pub fn abort_attach(&mut self, msg_id: &str) {
        self.uploading.retain(|id| id != msg_id);
    }

    /// After the uploads of an image or file message: its element with the upload keys, sizes
    /// and dimensions, in place of the one made at creation (same type; checked in full when
    /// sent).
    pub fn attach(&mut self, msg_id: &str, elem: Elem) -> Result<(), ImError> {
        self.abort_attach(msg_id);
        // One lookup for the checks and the change.
        let l = self.messages.get_mut(msg_id);
        // Revoked while its uploads ran: the send is cancelled, nobody ever gets it.
        if l.as_ref().is_some_and(|l| l.msg.revoke.is_some()) {
            return Err(ImError::new(Code::SendCancelled));
        }
        let same = l.filter(|l| {
            l.msg.seq == 0 && l.msg.elem.as_ref().map(Elem::elem_type) == Some(elem.elem_type())
        });
        let Some(l) = same else {
            return Err(ImError::with_desc(
                Code::InvalidParameters,
                "not an unsent message of this element type",
            ));
        };
        l.msg.elem = Some(elem);
        self.mark(msg_id);
        Ok(())
    }

    fn role_in(&self, group_id: &str, user: &str) -> Option<GroupRole> {
        self.groups.get(group_id).and_then(|g| g.role_of(user))
    }

    /// Policy verdict by the estimated server clock, for a message this client knows.
    fn local_verdict(&self, l: &Local, now: f64) -> Result<Option<f64>, ImError> {
        // The server stamped the message, so its clock has reached at least that stamp: an
        // estimate that lags behind it (a slow first answer) never stretches the window.
        let server_now_f = self.server_now(now).max(l.msg.time_ms as f64).max(0.0);
        let server_now = server_now_f as u64;
        let mut msg = l.msg.clone();
        if l.status == MessageStatus::Sending {
            msg.time_ms = server_now; // will be stamped about now
        }
        let (actor_role, sender_role) = match &msg.group_id {
            Some(g) => (
                self.role_in(g, &self.user).or(Some(GroupRole::Member)),
                self.role_in(g, &msg.sender),
            ),
            None => (None, None),
        };
        let allowed = check_revoke(
            &msg,
            Actor {
                user_id: &self.user,
                role: actor_role,
            },
            sender_role,
            server_now,
            &self.cfg,
        )?;
        Ok(allowed
            .deadline_ms
            .map(|d| (d as f64 - server_now_f).max(0.0)))
    }

    /// `canRevoke(msg)`: whether a revoke would be accepted now, and how long is left, by the
    /// estimated server clock and the roles this client knows.
    pub fn can_revoke(&self, msg_id: &str, now: f64) -> CanRevoke {
        let verdict = match self.messages.get(msg_id) {
            None => Err(ImError::new(Code::MsgNotFound)),
            Some(l) if l.status == MessageStatus::Failed => Err(ImError::with_desc(
                Code::InvalidParameters,
                "the message was not sent",
            )),
            Some(l) => self.local_verdict(l, now),
        };
        match verdict {
            Ok(remaining_ms) => CanRevoke {
                allowed: true,
                remaining_ms,
                code: None,
            },
            Err(e) => CanRevoke {
                allowed: false,
                remaining_ms: Some(0.0),
                code: Some(e.code.num()),
            },
        }
    }

    /// `revokeMessage(msgID, reason)`: returns the request id whose completion settles the
    /// promise. Fails early with 6223 only when the estimated server clock is past the window
    /// by more than the estimate's uncertainty; everything else is for the server to decide.
    pub fn revoke(&mut self, msg_id: &str, reason: &str, now: f64) -> Result<String, ImError> {
        check_msg_id(msg_id)?;
        if reason.len() > self.cfg.max_reason_bytes {
            return Err(ImError::with_desc(
                Code::InvalidParameters,
                "reason is too long",
            ));
        }
        if self.uploading.iter().any(|id| id == msg_id) {
            return Ok(self.cancel_upload(msg_id, reason, now));
        }
        let mut group_hint = None;
        if let Some(l) = self.messages.get(msg_id) {
            if l.status == MessageStatus::Failed {
                return Err(ImError::with_desc(
                    Code::InvalidParameters,
                    "the message was not sent",
                ));
            }
            if l.msg.revoke.is_some() {
                return Err(ImError::new(Code::AlreadyRevoked));
            }
            group_hint = l.msg.group_id.clone();
            if l.msg.sender == self.user && l.msg.seq == 0 && l.status != MessageStatus::Sending {
                return Err(ImError::with_desc(
                    Code::InvalidParameters,
                    "the message was never sent",
                ));
            }
            if let Err(e) = self.local_verdict(l, now) {
                if e.code.is_revoke_time_limit() {
                    let deadline = l.msg.time_ms as f64 + self.cfg.revoke_time_limit_ms as f64;
                    let past = self.server_now(now) - deadline;
                    if past > self.clock_uncertainty_ms() {
                        return Err(ImError::new(Code::RevokeTimeLimitExceed));
                    }
                }
            }
        }
        let already = self
            .pending
            .values()
            .any(|p| matches!(&p.kind, Kind::Revoke(m) if m == msg_id));
        if already {
            return Err(ImError::new(Code::InProgress));
        }
        let req_id = self.next_id("r");
        let frame = ClientFrame::Revoke {
            req_id: req_id.clone(),
            msg_id: msg_id.to_string(),
            reason: reason.to_string(),
            group_id: group_hint,
        };
        self.queue(req_id.clone(), frame, Kind::Revoke(msg_id.to_string()), now);
        Ok(req_id)
    }

    /// A revoke of a message whose uploads are still under way: it never left this device, so
    /// it is revoked here and now (the revoke resolves at once) and its send is cancelled
    /// (`sendMessage` rejects with 8021 when the uploads end). The uploaded bytes are never
    /// claimed and the server collects them.
    fn cancel_upload(&mut self, msg_id: &str, reason: &str, now: f64) -> String {
        let req_id = self.next_id("r");
        let time_ms = self.server_now(now) as u64;
        let user = self.user.clone();
        if let Some(l) = self.messages.get_mut(msg_id) {
            l.msg.revoke = Some(RevokeInfo {
                user_id: user,
                role: RevokerRole::Sender,
                reason: reason.to_string(),
                time_ms,
                req_id: req_id.clone(),
            });
            l.status = MessageStatus::Revoked;
        }
        self.mark(msg_id);
        let view = self.local_message(msg_id);
        if let Some(v) = view {
            self.done.push((req_id.clone(), Ok(Done::Revoked(v))));
        }
        req_id
    }

    /// `getHistoryMessageList`: a page of a conversation, newest first.
    pub fn history(
        &mut self,
        user_id: Option<&str>,
        group_id: Option<&str>,
        before_seq: Option<u64>,
        count: u32,
        now: f64,
    ) -> Result<String, ImError> {
        if user_id.is_some() == group_id.is_some() {
            return Err(ImError::with_desc(
                Code::InvalidParameters,
                "give exactly one of userID and groupID",
            ));
        }
        let req_id = self.next_id("h");
        if let Some(page) = self.local_history(user_id, group_id, before_seq, count) {
            // From the store's copy at once; the server's page reconciles the cache.
            self.done.push((req_id.clone(), Ok(page)));
            self.reconcile(user_id, group_id, before_seq, count, now);
            return Ok(req_id);
        }
        let frame = ClientFrame::History {
            req_id: req_id.clone(),
            user_id: user_id.map(str::to_string),
            group_id: group_id.map(str::to_string),
            before_seq,
            count,
        };
        self.queue(req_id.clone(), frame, Kind::Query, now);
        Ok(req_id)
    }

    /// `findMessages`: looks the msgIDs up on the server (which also refreshes the cache).
    pub fn find(&mut self, msg_ids: Vec<String>, now: f64) -> Result<String, ImError> {
        let req_id = self.next_id("f");
        let frame = ClientFrame::FindMessages {
            req_id: req_id.clone(),
            msg_ids,
        };
        self.queue(req_id.clone(), frame, Kind::Query, now);
        Ok(req_id)
    }

    /// `getJoinedGroupList`: the groups this user is in (also refreshes the cache that
    /// `canRevoke` reads roles from).
    pub fn joined_groups(&mut self, now: f64) -> String {
        let req_id = self.next_id("j");
        let frame = ClientFrame::GetJoinedGroups {
            req_id: req_id.clone(),
        };
        self.queue(req_id.clone(), frame, Kind::Query, now);
        req_id
    }

    /// A message from the local cache.
    pub fn local_message(&self, msg_id: &str) -> Option<MessageView> {
        self.messages.get(msg_id).map(|l| self.view(l))
    }

    /// A group from the local cache.
    pub fn local_group(&self, group_id: &str) -> Option<&Group> {
        self.groups.get(group_id)
    }

    /// Number of messages cached.
    pub fn cached_messages(&self) -> usize {
        self.messages.len()
    }

    /// A group request (create, add, remove, set role) as a frame; returns the request id.
    pub fn group_request(&mut self, make: impl FnOnce(String) -> ClientFrame, now: f64) -> String {
        let req_id = self.next_id("g");
        let frame = make(req_id.clone());
        self.queue(req_id.clone(), frame, Kind::Query, now);
        req_id
    }
}
