//! `MessageManager`: create, send, revoke, `canRevoke`, history, find, local search, listeners.
//!
//! Every method converts its arguments and delegates to the core client; promise-returning
//! methods never throw, they reject with an `ImError`.

use std::rc::Rc;

use im_revoke_core::{Code, ImError};
use js_sys::{Date, Promise};
use wasm_bindgen::prelude::*;

use crate::convert::{get, msg_id_of, opt_msg_id, opt_number, opt_string, options, strings, to_js};
use crate::error::{rejected, Error};
use crate::listener::{AdvancedMsgListener, Listeners};
use crate::session::{Session, Shape};

/// `""` counts as absent, as in Tencent's `sendMessage(msg, receiver, groupID)`.
fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

#[wasm_bindgen]
extern "C" {
    /// `createTextMessage`'s second argument (checked field by field). An imported type so that
    /// the declaration reads `options?: TextMessageOptions | null`.
    #[wasm_bindgen(typescript_type = "TextMessageOptions")]
    pub type TextMessageOptionsArg;
}

/// Messages of one client. Get it with `client.getMessageManager()`.
///
/// ```js
/// const mm = alice.getMessageManager();
/// const msg = mm.createTextMessage("hi");
/// await mm.sendMessage(msg, "bob", null);
/// await mm.revokeMessage(msg, "typo");
/// ```
#[wasm_bindgen]
pub struct MessageManager {
    pub(crate) session: Rc<Session>,
}

#[wasm_bindgen]
impl MessageManager {
    /// A new text message, not sent yet (status 1). Its `msgID` is assigned here and stays
    /// the same for life: keep it to revoke the message later, even before the send finished.
    ///
    /// `options` (optional): `replyTo`, the message (or msgID) this one replies to — the server
    /// fills `replyTo: { msgID, sender, abstract, isRevoked }` from the original when it is sent,
    /// and `sendMessage` rejects with 300008 when the sender may not read it — and
    /// `cloudCustomData`, the app's own string, stored and returned untouched. Throws an
    /// `ImError`: 6017 for options of the wrong type, 8001 for `cloudCustomData` over 8192 bytes.
    ///
    /// ```js
    /// const msg = mm.createTextMessage("hello");
    /// console.log(msg.msgID, msg.status); // "…", 1
    /// const reply = mm.createTextMessage("agreed", { replyTo: msg, cloudCustomData: '{"mood":1}' });
    /// ```
    #[wasm_bindgen(js_name = createTextMessage, unchecked_return_type = "Message")]
    pub fn create_text_message(
        &self,
        text: String,
        options: Option<TextMessageOptionsArg>,
    ) -> Result<JsValue, Error> {
        let (reply_to, data) = match options {
            None => (None, None),
            Some(options) => {
                let options: JsValue = options.into();
                crate::convert::options(&options, "the text message options")?;
                (
                    opt_msg_id(&get(&options, "replyTo")?, "replyTo")?,
                    opt_string(&options, "cloudCustomData")?,
                )
            }
        };
        let view = self
            .session
            .st
            .borrow_mut()
            .client
            .create_text_message_with(&text, reply_to.as_deref(), data)?;
        Ok(to_js(&view))
    }

    /// A new custom message (elemType 2, `customElem: { data, desc, extension }`), not sent yet:
    /// the app's own payload, delivered and revoked like text. Omitted strings are `""`; at least
    /// one must be non-empty, and together they are at most the text size limit (checked when
    /// sent: 6017, 8001).
    ///
    /// ```js
    /// const card = mm.createCustomMessage(JSON.stringify({ card: 7 }), "a card", "");
    /// await mm.sendMessage(card, "bob", null);
    /// ```
    #[wasm_bindgen(js_name = createCustomMessage, unchecked_return_type = "Message")]
    pub fn create_custom_message(
        &self,
        data: Option<String>,
        description: Option<String>,
        extension: Option<String>,
    ) -> JsValue {
        let elem = im_revoke_core::Elem::Custom {
            data: data.unwrap_or_default(),
            desc: description.unwrap_or_default(),
            extension: extension.unwrap_or_default(),
        };
        let view = self.session.st.borrow_mut().client.create_message(elem);
        to_js(&view)
    }

    /// Sends a message created by `createTextMessage` (or another `create…Message`): to a user
    /// (`receiver`) or a group (`groupID`); pass `null` (or `""`) for the other. Resolves with
    /// the message as the server accepted it (status 2, server `timestamp`, `seq`). Rejects
    /// with an `ImError` (e.g. 8001 text too long, 10007 not a group member, 8021 revoked
    /// before it was sent).
    ///
    /// An image or file message is uploaded first; `options.onProgress(fraction)` hears how
    /// much (0..1, rising, last 1). A refused upload rejects with the server's code (300009
    /// too large, 300010 type, 300011 image dimensions, 300013 too many at once, 70xxx
    /// UserSig, 9508 no answer) and keeps the file: the message may be sent again.
    ///
    /// ```js
    /// const sent = await mm.sendMessage(msg, "bob", null);   // one-to-one
    /// await mm.sendMessage(mm.createTextMessage("hi all"), null, "g1"); // group
    /// await mm.sendMessage(mm.createImageMessage(file), "bob", null, { onProgress: (f) => console.log(f) });
    /// ```
    #[wasm_bindgen(js_name = sendMessage, unchecked_return_type = "Promise<Message>")]
    pub fn send_message(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Message | string")] msg: JsValue,
        receiver: Option<String>,
        #[wasm_bindgen(js_name = groupID)] group_id: Option<String>,
        #[wasm_bindgen(unchecked_optional_param_type = "SendMessageOptions")] options: JsValue,
    ) -> Promise {
        let msg_id = match msg_id_of(&msg) {
            Ok(id) => id,
            Err(e) => return rejected(e),
        };
        let receiver = non_empty(receiver);
        let group_id = non_empty(group_id);
        crate::attachment::send(&self.session, msg_id, receiver, group_id, &options)
    }

    /// Revokes a message (the object or its msgID), with an optional reason shown to the
    /// others. Resolves when the server has durably accepted the revoke; everyone else in
    /// the conversation, and this user's other devices, get `onRecvMessageRevoked`. A message
    /// still being sent can be revoked: the revoke follows the send.
    ///
    /// Rejects with an `ImError`: 20016 (one-to-one) / 10031 (group) past the time limit,
    /// 6223 when this client already knows it is too late, 300001 not the sender, 10007 not
    /// allowed in the group, 20023 already revoked, 20022 / 10030 message not found.
    ///
    /// ```js
    /// await mm.revokeMessage(msg, "typo");
    /// await mm.revokeMessage("msg-id-string");
    /// ```
    #[wasm_bindgen(js_name = revokeMessage, unchecked_return_type = "Promise<void>")]
    pub fn revoke_message(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Message | string")] msg: JsValue,
        reason: Option<String>,
    ) -> Promise {
        let msg_id = match msg_id_of(&msg) {
            Ok(id) => id,
            Err(e) => return rejected(e),
        };
        let reason = reason.unwrap_or_default();
        self.session
            .request(Shape::Void, |c, now| c.revoke(&msg_id, &reason, now))
    }

    /// Whether revoking the message now would be accepted, by this client's estimate of the
    /// server clock and the group roles it knows — for enabling the "revoke" menu item and a
    /// countdown. `remainingMs` is `null` when no time limit applies. The server still decides.
    /// Throws an `ImError` (6017) when the argument is neither a message nor a string.
    ///
    /// ```js
    /// const { allowed, remainingMs, code } = mm.canRevoke(msg);
    /// ```
    #[wasm_bindgen(js_name = canRevoke, unchecked_return_type = "CanRevokeResult")]
    pub fn can_revoke(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Message | string")] msg: JsValue,
    ) -> Result<JsValue, Error> {
        let msg_id = msg_id_of(&msg)?;
        let verdict = self
            .session
            .st
            .borrow()
            .client
            .can_revoke(&msg_id, Date::now());
        Ok(to_js(&verdict))
    }

    /// Adds a listener for new messages, revokes and group changes (all methods optional).
    /// Listeners are called in registration order; the same object is registered once.
    /// Throws an `ImError` (6017) when `listener` is not an object.
    ///
    /// ```js
    /// mm.addAdvancedMsgListener({
    ///   onRecvNewMessage(msg) { ... },
    ///   onRecvMessageRevoked(msgID, revokerInfo, reason) { ... },
    /// });
    /// ```
    #[wasm_bindgen(js_name = addAdvancedMsgListener)]
    pub fn add_advanced_msg_listener(&self, listener: AdvancedMsgListener) -> Result<(), Error> {
        let l = Listeners::<AdvancedMsgListener>::cast(listener.into())?;
        self.session.st.borrow_mut().msg_listeners.add(l);
        Ok(())
    }

    /// Removes a listener added before (no-op otherwise). Removing during an event's dispatch
    /// takes effect from the next event.
    ///
    /// ```js
    /// mm.removeAdvancedMsgListener(listener);
    /// ```
    #[wasm_bindgen(js_name = removeAdvancedMsgListener)]
    pub fn remove_advanced_msg_listener(&self, listener: AdvancedMsgListener) {
        self.session
            .st
            .borrow_mut()
            .msg_listeners
            .remove(listener.as_ref());
    }

    /// A page of a conversation's history from the server, **newest first**, as
    /// `{ messageList, isCompleted }` (the shape of `@tencentcloud/chat`'s `getMessageList`).
    /// Give `userID` (one-to-one) or `groupID`, `count` (default 20), and for the next page
    /// `lastMsgSeq` = the `seq` of the oldest message you have. Revoked messages come back
    /// with `status === 6`, `isRevoked`, `revokerInfo`, `revokeReason`.
    ///
    /// ```js
    /// const { messageList, isCompleted } = await mm.getHistoryMessageList({ userID: "bob", count: 20 });
    /// const older = await mm.getHistoryMessageList({ userID: "bob", count: 20, lastMsgSeq: messageList.at(-1).seq });
    /// ```
    #[wasm_bindgen(
        js_name = getHistoryMessageList,
        unchecked_return_type = "Promise<HistoryMessageResult>"
    )]
    pub fn get_history_message_list(
        &self,
        #[wasm_bindgen(unchecked_param_type = "HistoryMessageOption")] option: JsValue,
    ) -> Promise {
        let parsed = options(&option, "the history option").and_then(|()| {
            Ok((
                non_empty(opt_string(&option, "userID")?),
                non_empty(opt_string(&option, "groupID")?),
                opt_number(&option, "lastMsgSeq")?.map(|n| n as u64),
                opt_number(&option, "count")?.map_or(20, |n| n.min(f64::from(u32::MAX)) as u32),
            ))
        });
        let (user_id, group_id, before_seq, count) = match parsed {
            Ok(p) => p,
            Err(e) => return rejected(e),
        };
        self.session.request(Shape::Page, |c, now| {
            c.history(
                user_id.as_deref(),
                group_id.as_deref(),
                before_seq,
                count,
                now,
            )
        })
    }

    /// Searches the messages this client holds (V2TIM's `searchLocalMessages`): text containing
    /// any of `keywordList` (or all of them, `keywordListMatchType: 1`; ASCII letters without
    /// case, as SQLite's `LIKE`, other characters exactly), in every conversation or in
    /// `conversationID`. Revoked messages are never found, not even in the sender's own copy.
    /// Rejects with 6017 for no keyword, more than 5, or a malformed conversationID.
    ///
    /// ```js
    /// const { totalCount, messageSearchResultItems } = await mm.searchLocalMessages({ keywordList: ["lunch"] });
    /// for (const { conversationID, messageList } of messageSearchResultItems) show(conversationID, messageList);
    /// ```
    #[wasm_bindgen(
        js_name = searchLocalMessages,
        unchecked_return_type = "Promise<MessageSearchResult>"
    )]
    pub fn search_local_messages(
        &self,
        #[wasm_bindgen(unchecked_param_type = "MessageSearchParam")] param: JsValue,
    ) -> Promise {
        let parsed = options(&param, "the search param").and_then(|()| {
            let keywords = strings(&get(&param, "keywordList")?, "keywordList")?;
            let kind = get(&param, "keywordListMatchType")?;
            let any = kind.is_undefined() || kind.is_null() || kind == 0.0 || kind == "or";
            let match_all = if any {
                false
            } else if kind == 1.0 || kind == "and" {
                true
            } else {
                return Err(ImError::with_desc(
                    Code::InvalidParameters,
                    "keywordListMatchType must be 0 (\"or\") or 1 (\"and\")",
                ));
            };
            let conversation_id = opt_string(&param, "conversationID")?;
            Ok((keywords, match_all, conversation_id))
        });
        let found = parsed.and_then(|(keywords, match_all, conversation_id)| {
            self.session.st.borrow().client.search_local(
                &keywords,
                match_all,
                conversation_id.as_deref(),
            )
        });
        match found {
            Ok(r) => Promise::resolve(&to_js(&r)),
            Err(e) => rejected(e),
        }
    }

    /// Looks messages up by msgID on the server; resolves with those this user may see (in
    /// request order, unknown ones left out), including their revoke state.
    ///
    /// ```js
    /// const [m] = await mm.findMessages([msg.msgID]);
    /// if (m.isRevoked) console.log(m.revokerInfo.userID, m.revokeReason);
    /// ```
    #[wasm_bindgen(js_name = findMessages, unchecked_return_type = "Promise<Message[]>")]
    pub fn find_messages(
        &self,
        #[wasm_bindgen(js_name = msgIDList, unchecked_param_type = "string[]")] msg_ids: JsValue,
    ) -> Promise {
        let ids = match strings(&msg_ids, "msgIDList") {
            Ok(ids) => ids,
            Err(e) => return rejected(e),
        };
        self.session.request(Shape::List, |c, now| c.find(ids, now))
    }
}

#[wasm_bindgen]
impl MessageManager {
    /// A new image message (elemType 3) of a `File` or `Blob`, not sent yet. Like every
    /// message it has its msgID at once; `sendMessage` uploads the picture and a thumbnail made
    /// in the browser (at most 200 px a side), then sends it: `imageElem.imageList` holds the
    /// original (`type` 1) and the thumbnail (`type` 2) with `url, width, height, size`
    /// (until then: no key, no URL, no dimensions). Throws an `ImError` (6017) for anything but
    /// a Blob.
    ///
    /// ```js
    /// const msg = mm.createImageMessage(input.files[0]);
    /// await mm.sendMessage(msg, "bob", null, { onProgress: (f) => bar.value = f });
    /// ```
    #[wasm_bindgen(js_name = createImageMessage, unchecked_return_type = "Message")]
    pub fn create_image_message(
        &self,
        #[wasm_bindgen(js_name = fileOrBlob, unchecked_param_type = "Blob")] file: JsValue,
    ) -> Result<JsValue, Error> {
        crate::attachment::attached_message(&self.session, file, true)
    }

    /// A new file message (elemType 6, `fileElem: { fileName, fileSize, url }`) of a `File` or
    /// `Blob` (a Blob is named "file"), not sent yet; `sendMessage` uploads it, then sends it.
    /// Throws an `ImError` (6017) for anything but a Blob.
    ///
    /// ```js
    /// const msg = mm.createFileMessage(new File([pdfBytes], "report.pdf"));
    /// await mm.sendMessage(msg, null, "g1", { onProgress: console.log });
    /// ```
    #[wasm_bindgen(js_name = createFileMessage, unchecked_return_type = "Message")]
    pub fn create_file_message(
        &self,
        #[wasm_bindgen(js_name = fileOrBlob, unchecked_param_type = "Blob")] file: JsValue,
    ) -> Result<JsValue, Error> {
        crate::attachment::attached_message(&self.session, file, false)
    }
}
