//! `ConversationManager`: the conversation list, unread counts and their listener.
//!
//! The list, the counts and their changes are the core client's (`client/conversations.rs`):
//! it loads the list once per device and keeps it from the user's events — new messages,
//! revokes (a revoked last message becomes the tombstone, a revoked unread message leaves the
//! count) and reads made on the user's other devices. This file converts and delegates.

use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use crate::error::{rejected, Error};
use crate::listener::{ConversationListener, Listeners};
use crate::session::{Session, Shape};
use im_revoke_core::{Code, ImError};

#[wasm_bindgen(typescript_custom_section)]
const TS_CONVERSATIONS: &'static str = r#"
/** Conversation types, as Tencent's `V2TIMConversationType`: 1 one-to-one, 2 group. */
export type ConversationType = 1 | 2;

/**
 * A conversation, as a plain object with V2TIM's field names (`V2TIMConversation`). Objects are
 * snapshots: listen to `onConversationChanged` for the new state.
 */
export interface Conversation {
  /** `"c2c_<userID>"` or `"group_<groupID>"`. */
  conversationID: string;
  /** 1 one-to-one, 2 group. */
  type: ConversationType;
  /** One-to-one: the other party. `null` for a group. */
  userID: string | null;
  /** Group: the groupID. `null` for one-to-one. */
  groupID: string | null;
  /** The other party's userID, or the group's name (its groupID when it has none). */
  showName: string;
  /** Messages from others not read yet; revoked ones and one's own never count. */
  unreadCount: number;
  /**
   * The newest message, `null` before the first. Once revoked it is the tombstone: status 6,
   * `isRevoked`, `revokerInfo`, and no content (but in the sender's own copy).
   */
  lastMessage: Message | null;
  /** Sort key, newest activity first (server milliseconds of the last message). */
  orderKey: number;
}

/** `getConversationList`'s answer. */
export interface ConversationPage {
  /** Pass it as `nextSeq` for the next page. */
  nextSeq: number;
  /** `true` when this was the last page. */
  isFinished: boolean;
  /** The conversations, newest activity first. */
  conversationList: Conversation[];
}

/**
 * Conversation events, as Tencent's `V2TIMConversationListener`. Every method is optional;
 * each is called once per change, asynchronously and in order, with the listener as `this`.
 *
 * ```js
 * cm.addConversationListener({
 *   onNewConversation(list) { list.forEach(addRow); },
 *   onConversationChanged(list) { list.forEach(updateRow); },
 *   onTotalUnreadMessageCountChanged(total) { badge(total); },
 * });
 * ```
 */
export interface ConversationListener {
  /** Conversations this device did not have yet (the first message, a group one was added to). */
  onNewConversation?(conversationList: Conversation[]): void;
  /** Conversations that changed: a new last message, a revoke (the tombstone preview, an unread message less), a read on another device. */
  onConversationChanged?(conversationList: Conversation[]): void;
  /** The sum of every conversation's `unreadCount` changed. */
  onTotalUnreadMessageCountChanged?(totalUnreadCount: number): void;
}
"#;

/// An unsigned whole number from a JavaScript number argument (6017 otherwise).
fn whole(n: f64, name: &str) -> Result<u64, ImError> {
    if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= 9_007_199_254_740_991.0 {
        Ok(n as u64)
    } else {
        let mut desc = String::from(name);
        desc.push_str(" must be a whole number, 0 or more");
        Err(ImError::with_desc(Code::InvalidParameters, desc))
    }
}

/// A conversationID argument: a string (6017 otherwise; its form is checked by the core).
fn conversation_id_of(v: &JsValue) -> Result<String, ImError> {
    v.as_string().ok_or_else(|| {
        ImError::with_desc(Code::InvalidParameters, "conversationID must be a string")
    })
}

/// Conversations of one client. Get it with `client.getConversationManager()`. Promises
/// reject with an `ImError`: 6017 for a malformed conversationID or paging argument, 300007 for
/// a conversation this user is not in.
///
/// ```js
/// const cm = alice.getConversationManager();
/// const { conversationList } = await cm.getConversationList(0, 50);
/// const total = await cm.getTotalUnreadMessageCount();
/// ```
#[wasm_bindgen]
pub struct ConversationManager {
    pub(crate) session: Rc<Session>,
}

#[wasm_bindgen]
impl ConversationManager {
    /// A page of this user's conversations from the server, newest activity first: `count`
    /// (1 to 100) from position `nextSeq` (0 for the first page, then the last answer's
    /// `nextSeq`). Rejects with 6017 when `count` or `nextSeq` is out of range.
    ///
    /// ```js
    /// let page = await cm.getConversationList(0, 50);
    /// while (!page.isFinished) page = await cm.getConversationList(page.nextSeq, 50);
    /// ```
    #[wasm_bindgen(
        js_name = getConversationList,
        unchecked_return_type = "Promise<ConversationPage>"
    )]
    pub fn get_conversation_list(
        &self,
        #[wasm_bindgen(js_name = nextSeq)] next_seq: f64,
        count: f64,
    ) -> Promise {
        let parsed = whole(next_seq, "nextSeq").and_then(|s| Ok((s, whole(count, "count")?)));
        let (next_seq, count) = match parsed {
            Ok(p) => p,
            Err(e) => return rejected(e),
        };
        let count = count.min(u64::from(u32::MAX)) as u32;
        self.session.request(Shape::ConversationPage, |c, now| {
            c.conversation_list(next_seq, count, now)
        })
    }

    /// One conversation from the server: `"c2c_<userID>"` or `"group_<groupID>"`. Rejects with
    /// 6017 for a malformed conversationID, 300007 for one this user is not in.
    ///
    /// ```js
    /// const conv = await cm.getConversation("c2c_bob");
    /// console.log(conv.unreadCount, conv.lastMessage?.textElem?.text);
    /// ```
    #[wasm_bindgen(
        js_name = getConversation,
        unchecked_return_type = "Promise<Conversation>"
    )]
    pub fn get_conversation(
        &self,
        #[wasm_bindgen(js_name = conversationID, unchecked_param_type = "string")]
        conversation_id: JsValue,
    ) -> Promise {
        let id = match conversation_id_of(&conversation_id) {
            Ok(id) => id,
            Err(e) => return rejected(e),
        };
        self.session
            .request(Shape::Conversation, |c, now| c.conversation(&id, now))
    }

    /// The sum of every conversation's unread count (from the list this device keeps once it
    /// is loaded).
    ///
    /// ```js
    /// badge(await cm.getTotalUnreadMessageCount());
    /// ```
    #[wasm_bindgen(
        js_name = getTotalUnreadMessageCount,
        unchecked_return_type = "Promise<number>"
    )]
    pub fn get_total_unread_message_count(&self) -> Promise {
        self.session
            .request(Shape::Total, |c, now| Ok(c.total_unread(now)))
    }

    /// Marks a conversation read, as V2TIM's `cleanConversationUnreadMessageCount(conversationID,
    /// cleanTimestamp, cleanSequence)`: up to its newest message with `(id, 0, 0)`, or up to
    /// message `cleanSequence` (its `seq`). The read position is kept by the server, so the
    /// badge clears on this user's other devices too (`onConversationChanged` there). Only
    /// `cleanTimestamp` 0 is supported (6017 otherwise). Rejects with 6017 for a malformed
    /// conversationID, 300007 for a conversation this user is not in.
    ///
    /// ```js
    /// await cm.cleanConversationUnreadMessageCount("c2c_bob", 0, 0);
    /// ```
    #[wasm_bindgen(
        js_name = cleanConversationUnreadMessageCount,
        unchecked_return_type = "Promise<void>"
    )]
    pub fn clean_conversation_unread_message_count(
        &self,
        #[wasm_bindgen(js_name = conversationID, unchecked_param_type = "string")]
        conversation_id: JsValue,
        #[wasm_bindgen(js_name = cleanTimestamp)] clean_timestamp: Option<f64>,
        #[wasm_bindgen(js_name = cleanSequence)] clean_sequence: Option<f64>,
    ) -> Promise {
        let parsed = (|| {
            let id = conversation_id_of(&conversation_id)?;
            if whole(clean_timestamp.unwrap_or(0.0), "cleanTimestamp")? != 0 {
                return Err(ImError::with_desc(
                    Code::InvalidParameters,
                    "cleanTimestamp must be 0 (use cleanSequence)",
                ));
            }
            Ok((id, whole(clean_sequence.unwrap_or(0.0), "cleanSequence")?))
        })();
        let (id, seq) = match parsed {
            Ok(p) => p,
            Err(e) => return rejected(e),
        };
        self.session
            .request(Shape::Void, |c, now| c.clean_unread(&id, seq, now))
    }

    /// Adds a conversation listener (all methods optional). Listeners are called in
    /// registration order; the same object is registered once. Throws an `ImError` (6017) when
    /// `listener` is not an object.
    ///
    /// ```js
    /// cm.addConversationListener({ onTotalUnreadMessageCountChanged(total) { badge(total); } });
    /// ```
    #[wasm_bindgen(js_name = addConversationListener)]
    pub fn add_conversation_listener(&self, listener: ConversationListener) -> Result<(), Error> {
        let l = Listeners::<ConversationListener>::cast(listener.into())?;
        self.session.st.borrow_mut().conv_listeners.add(l);
        Ok(())
    }

    /// Removes a listener added before (no-op otherwise). Removing during an event's dispatch
    /// takes effect from the next event.
    ///
    /// ```js
    /// cm.removeConversationListener(listener);
    /// ```
    #[wasm_bindgen(js_name = removeConversationListener)]
    pub fn remove_conversation_listener(&self, listener: ConversationListener) {
        self.session
            .st
            .borrow_mut()
            .conv_listeners
            .remove(listener.as_ref());
    }
}
