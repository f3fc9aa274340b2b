//! Plain JavaScript objects in and out: their TypeScript declarations and the conversions.
//!
//! Out: the core's views (`MessageView`, `CanRevoke`, `Group`, conversations, search results)
//! become plain objects built by object literals in `js` (`Option::None` is `null`; every
//! object is a plain `Object`, what `JSON.stringify` and devtools expect, with one hidden class
//! per kind).
//! In: option objects are read field by field; a wrong type is error 6017 naming the field.

use im_revoke_core::view::{
    CanRevoke, ConversationPage, ConversationView, MessageView, SearchResult, SearchResultItem,
};
use im_revoke_core::{Code, Group, ImError};
use js_sys::{Array, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::js;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Message status, as Tencent's `V2TIMMessageStatus`: 1 sending, 2 sent, 3 failed, 4 deleted, 5 imported, 6 revoked. */
export type MessageStatus = 1 | 2 | 3 | 4 | 5 | 6;

/** `textElem` of a text message. */
export interface TextElem {
  text: string;
}

/** `customElem` of a custom message (elemType 2): the app's own payload. */
export interface CustomElem {
  data: string;
  desc: string;
  extension: string;
}

/** One picture of an image message: `type` 1 the original, 2 the thumbnail. */
export interface ImageInfo {
  type: 1 | 2;
  /** The attachment key. */
  uuid: string;
  /** Where to load it: a signed, expiring download URL (server) or an object URL (LocalHub). */
  url: string;
  width: number;
  height: number;
  /** Bytes. */
  size: number;
}

/** `imageElem` of an image message (elemType 3). */
export interface ImageElem {
  /** The original, then the thumbnail if there is one. */
  imageList: ImageInfo[];
}

/** `fileElem` of a file message (elemType 6). */
export interface FileElem {
  /** The attachment key. */
  uuid: string;
  fileName: string;
  /** Bytes. */
  fileSize: number;
  /** Where to load it (as `ImageInfo.url`). */
  url: string;
}

/** Who revoked a message, and in what capacity. */
export interface RevokerInfo {
  /** The revoker's userID. */
  userID: string;
  /** "sender" (their own message), "owner" or "admin" (of the message's group). */
  role: "sender" | "owner" | "admin";
}

/**
 * A message, as a plain object with Tencent's field names. Objects are snapshots: a later
 * revoke does not change an object you already hold; ask `findMessages` or listen to
 * `onRecvMessageRevoked`.
 */
export interface Message {
  /** Stable ID, assigned by `createTextMessage`. */
  msgID: string;
  /** The sender's userID. */
  sender: string;
  /** One-to-one: the other party, seen from this user. `null` for group messages. */
  userID: string | null;
  /** Group messages: the groupID. `null` for one-to-one. */
  groupID: string | null;
  /** Server time when the server accepted it, in seconds (0 while sending). */
  timestamp: number;
  /** The same, in milliseconds. */
  timeMs: number;
  /** Position in its conversation, from 1 (0 while sending). */
  seq: number;
  /** 1 sending, 2 sent, 3 failed, 6 revoked. */
  status: MessageStatus;
  /** Sent by the logged-in user. */
  isSelf: boolean;
  /** 1 text, 2 custom, 3 image, 6 file (1 for a revoked message whose content is gone). */
  elemType: number;
  /** The text; `null` once revoked (except in the sender's own copy). */
  textElem: TextElem | null;
  /** A custom message's payload; `null` for other types and once revoked (except in the sender's own copy). */
  customElem: CustomElem | null;
  /** An image message's pictures; `null` likewise. */
  imageElem: ImageElem | null;
  /** A file message's file; `null` likewise. */
  fileElem: FileElem | null;
  /** Whether it has been revoked. */
  isRevoked: boolean;
  /** Who revoked it (`null` unless revoked). */
  revokerInfo: RevokerInfo | null;
  /** The reason the revoker gave (`null` unless revoked; may be ""). */
  revokeReason: string | null;
  /** When it was revoked, server milliseconds (`null` unless revoked). */
  revokeTimeMs: number | null;
  /** The message this one replies to (`createTextMessage(text, { replyTo })`), or `null`. */
  replyTo: ReplyTo | null;
  /** The app's own data (`createTextMessage(text, { cloudCustomData })`), untouched; `null` when none was given. */
  cloudCustomData: string | null;
}

/**
 * The quote a reply carries, filled by the server from the original. Once the original is
 * revoked, every copy of the reply shows `abstract: ""` and `isRevoked: true` (and a client
 * holding the reply hears `onRecvMessageModified(reply)` once).
 */
export interface ReplyTo {
  /** The original message. */
  msgID: string;
  /** Its sender. */
  sender: string;
  /** The first 100 characters of its text ("" for other message types and once revoked). */
  abstract: string;
  /** Whether the original has been revoked. */
  isRevoked: boolean;
}

/** `createTextMessage`'s second argument. */
export interface TextMessageOptions {
  /**
   * The message (or msgID) this one replies to. The server checks that the sender may read
   * it: `sendMessage` rejects with 300008 otherwise (also when it does not exist).
   */
  replyTo?: Message | string | null;
  /** The app's own data, stored and returned untouched (at most 8192 bytes: 8001). */
  cloudCustomData?: string | null;
}

/** `searchLocalMessages`' option (V2TIM's `V2TIMMessageSearchParam`). */
export interface MessageSearchParam {
  /** 1 to 5 keywords, matched case-insensitively in the text of messages. */
  keywordList: string[];
  /** 0 (or "or", the default): any keyword matches; 1 (or "and"): all must. */
  keywordListMatchType?: 0 | 1 | "or" | "and";
  /** Only this conversation (`"c2c_<userID>"` / `"group_<groupID>"`). */
  conversationID?: string | null;
}

/** The matches of a local search in one conversation (V2TIM's `V2TIMMessageSearchResultItem`). */
export interface MessageSearchResultItem {
  conversationID: string;
  /** How many of its messages matched. */
  messageCount: number;
  /** Those messages, newest first. */
  messageList: Message[];
}

/** `searchLocalMessages`' answer (V2TIM's `V2TIMMessageSearchResult`). Revoked messages are never in it. */
export interface MessageSearchResult {
  /** How many messages matched, in every conversation. */
  totalCount: number;
  /** The matches by conversation, the one with the newest match first. */
  messageSearchResultItems: MessageSearchResultItem[];
}

/** `canRevoke`'s answer, by this client's estimate of the server clock. */
export interface CanRevokeResult {
  /** Whether a revoke would be accepted now. */
  allowed: boolean;
  /** Milliseconds left to revoke (0 when not allowed; `null` when there is no limit). */
  remainingMs: number | null;
  /** Why not (e.g. 20016, 10007), or `null` when allowed. */
  code: number | null;
}

/** `getHistoryMessageList`'s option. Give exactly one of `userID` and `groupID`. */
export interface HistoryMessageOption {
  /** One-to-one conversation with this user. */
  userID?: string | null;
  /** Group conversation. */
  groupID?: string | null;
  /** How many messages (default 20; the server caps it). */
  count?: number;
  /** Paging: only messages older than this conversation `seq` (pass the last page's oldest `seq`). */
  lastMsgSeq?: number | null;
}

/** A page of history, newest first (as `V2TIMMessageListGetOption` pages backwards). */
export interface HistoryMessageResult {
  /** The messages, newest first. */
  messageList: Message[];
  /** `true` when no older messages remain. */
  isCompleted: boolean;
}

/** Group member roles, as Tencent's `V2TIMGroupMemberRole`: 200 member, 300 admin, 400 owner. */
export type GroupMemberRole = 200 | 300 | 400;

/** A group, as a plain object. */
export interface Group {
  groupID: string;
  name: string;
  /** The owner's userID. */
  owner: string;
  /** Admins' userIDs. */
  admins: string[];
  /** Every member's userID, including the owner and the admins. */
  members: string[];
  /** Server time of creation, milliseconds. */
  createdMs: number;
}
"#;

/// A value the module hands to JavaScript as a plain object (or array of them).
pub(crate) trait ToJs {
    fn to_js(&self) -> JsValue;
}

/// `v` as a plain JavaScript value.
pub(crate) fn to_js<T: ToJs + ?Sized>(v: &T) -> JsValue {
    v.to_js()
}

impl ToJs for MessageView {
    fn to_js(&self) -> JsValue {
        js::message(self)
    }
}

fn string_array<'a>(items: impl IntoIterator<Item = &'a String>) -> Array {
    let a = Array::new();
    for s in items {
        a.push(&JsValue::from_str(s));
    }
    a
}

impl ToJs for Group {
    fn to_js(&self) -> JsValue {
        js::group(
            &self.group_id,
            &self.name,
            &self.owner,
            string_array(&self.admins),
            string_array(&self.members),
            self.created_ms as f64,
        )
    }
}

impl ToJs for CanRevoke {
    fn to_js(&self) -> JsValue {
        js::can_revoke(
            self.allowed,
            self.remaining_ms.unwrap_or(-1.0),
            self.code.map_or(-1.0, f64::from),
        )
    }
}

impl<T: ToJs> ToJs for Vec<T> {
    fn to_js(&self) -> JsValue {
        self.as_slice().to_js()
    }
}

impl<T: ToJs> ToJs for [T] {
    fn to_js(&self) -> JsValue {
        let a = Array::new();
        for x in self {
            a.push(&x.to_js());
        }
        a.into()
    }
}

/// `getHistoryMessageList`'s result.
pub(crate) struct Page<'a> {
    pub message_list: &'a [MessageView],
    pub is_completed: bool,
}

impl ToJs for Page<'_> {
    fn to_js(&self) -> JsValue {
        js::page(self.message_list.to_js().into(), self.is_completed)
    }
}

impl ToJs for ConversationView {
    fn to_js(&self) -> JsValue {
        js::conversation(
            &self.conversation_id,
            self.kind,
            self.user_id.as_deref(),
            self.group_id.as_deref(),
            &self.show_name,
            self.unread_count as f64,
            self.last_message.as_ref().map_or(JsValue::NULL, to_js),
            self.order_key as f64,
        )
    }
}

impl ToJs for ConversationPage {
    fn to_js(&self) -> JsValue {
        js::conversation_page(
            self.next_seq as f64,
            self.is_finished,
            self.conversation_list.to_js().into(),
        )
    }
}

impl ToJs for SearchResultItem {
    fn to_js(&self) -> JsValue {
        js::search_result_item(
            &self.conversation_id,
            self.message_count as f64,
            self.message_list.to_js().into(),
        )
    }
}

impl ToJs for SearchResult {
    fn to_js(&self) -> JsValue {
        js::search_result(
            self.total_count as f64,
            self.message_search_result_items.to_js().into(),
        )
    }
}

fn invalid(field: &str, what: &str) -> ImError {
    let mut desc = String::with_capacity(field.len() + what.len() + 8);
    desc.push_str(field);
    desc.push_str(" must be ");
    desc.push_str(what);
    ImError::with_desc(Code::InvalidParameters, desc)
}

/// A message argument: the message object (its `msgID`) or the msgID string itself.
pub(crate) fn msg_id_of(v: &JsValue) -> Result<String, ImError> {
    if let Some(s) = v.as_string() {
        return Ok(s);
    }
    if v.is_object() {
        if let Some(s) = Reflect::get(v, &JsValue::from_str("msgID"))
            .ok()
            .and_then(|id| id.as_string())
        {
            return Ok(s);
        }
    }
    Err(invalid("the message", "a Message object or a msgID string"))
}

/// An optional message argument (`undefined` and `null` are `None`), as [`msg_id_of`]; `field`
/// names it in the error.
pub(crate) fn opt_msg_id(v: &JsValue, field: &str) -> Result<Option<String>, ImError> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    msg_id_of(v)
        .map(Some)
        .map_err(|_| invalid(field, "a Message object or a msgID string"))
}

/// Requires an option object (not `null`, not a primitive).
pub(crate) fn options(v: &JsValue, name: &str) -> Result<(), ImError> {
    if v.is_object() {
        Ok(())
    } else {
        Err(invalid(name, "an object"))
    }
}

/// `obj[key]` (`undefined` when `obj` is `undefined` or `null`).
pub(crate) fn get(obj: &JsValue, key: &str) -> Result<JsValue, ImError> {
    if obj.is_undefined() || obj.is_null() {
        return Ok(JsValue::UNDEFINED);
    }
    Reflect::get(obj, &JsValue::from_str(key)).map_err(|_| invalid(key, "readable"))
}

/// `obj[key]` as a string; `undefined` and `null` are `None`.
pub(crate) fn opt_string(obj: &JsValue, key: &str) -> Result<Option<String>, ImError> {
    let v = get(obj, key)?;
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.as_string()
        .map(Some)
        .ok_or_else(|| invalid(key, "a string"))
}

/// `obj[key]` as a string, required.
pub(crate) fn string(obj: &JsValue, key: &str) -> Result<String, ImError> {
    opt_string(obj, key)?.ok_or_else(|| invalid(key, "a string"))
}

/// `obj[key]` as a finite, non-negative number; `undefined` and `null` are `None`.
pub(crate) fn opt_number(obj: &JsValue, key: &str) -> Result<Option<f64>, ImError> {
    let v = get(obj, key)?;
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    match v.as_f64() {
        Some(n) if n.is_finite() && n >= 0.0 => Ok(Some(n)),
        _ => Err(invalid(key, "a non-negative number")),
    }
}

/// An array of strings.
pub(crate) fn strings(v: &JsValue, name: &str) -> Result<Vec<String>, ImError> {
    if !Array::is_array(v) {
        return Err(invalid(name, "an array of strings"));
    }
    let arr: &Array = v.unchecked_ref();
    let mut out = Vec::with_capacity(arr.length() as usize);
    for item in arr.iter() {
        out.push(
            item.as_string()
                .ok_or_else(|| invalid(name, "an array of strings"))?,
        );
    }
    Ok(out)
}

/// `obj[key]` as an array of strings; missing is empty.
pub(crate) fn opt_strings(obj: &JsValue, key: &str) -> Result<Vec<String>, ImError> {
    let v = get(obj, key)?;
    if v.is_undefined() || v.is_null() {
        return Ok(Vec::new());
    }
    strings(&v, key)
}
