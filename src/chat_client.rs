//! `ChatClient`: one logged-in device of one user, over the embedded `LocalHub` or a server.
//!
//! It wraps a `Session` and picks its transport: `connect` here (WebSocket), `local` in
//! `local_hub` (with the `LocalHub` it needs, behind the `local-hub` feature).

use std::rc::{Rc, Weak};

use im_revoke_core::client::Client;
use im_revoke_core::{persist, Code, ImError};
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::conversation::ConversationManager;
use crate::convert::{opt_number, opt_string, options, string};
use crate::error::{rejected, Error};
use crate::group::GroupManager;
use crate::js::{chain, random_bytes};
use crate::listener::{ConnectionListener, Listeners};
use crate::manager::MessageManager;
use crate::session::{Session, Transport};
use crate::storage::{self, Store};
use crate::ws::WsLink;

#[wasm_bindgen(typescript_custom_section)]
const TS_CONNECT: &'static str = r#"
/** `ChatClient.connect(options)`. */
export interface ConnectOptions {
  /** The server's WebSocket endpoint, e.g. "ws://127.0.0.1:8080/ws". */
  url: string;
  /** Who logs in. */
  userID: string;
  /** A Tencent TLS-sig-api-v2 UserSig for `userID` (from your backend). */
  userSig: string;
  /**
   * Where the client keeps what it was shown across page reloads (default "indexeddb" where
   * the browser has it; falls back to "memory" with `onStorageWarning("unavailable", …)`).
   * With "indexeddb" a reload shows the stored history at once, resumes the event stream from
   * the stored cursor and sends the stored outbox again (same request ids).
   */
  storage?: "indexeddb" | "memory";
  /** Messages kept in memory (least recently used go first; default 5000). */
  cacheSize?: number;
  /** The SDKAppID, when known: part of the store's name (one store per server, app and user). */
  SDKAppID?: number;
}

/** `client.logout(options)`. */
export interface LogoutOptions {
  /** Also delete this user's store (IndexedDB) in this browser. */
  clear?: boolean;
}

/** Tencent's `V2TIMLoginStatus`: 1 logged in, 2 logging in, 3 logged out. */
export type LoginStatus = 1 | 2 | 3;
"#;

/// One logged-in device of one user. Get one with `ChatClient.local` (embedded hub) or
/// `ChatClient.connect` (server); several clients of the same user are several devices.
///
/// ```js
/// const alice = await ChatClient.local(hub, "alice");
/// const mm = alice.getMessageManager();
/// ```
#[wasm_bindgen]
pub struct ChatClient {
    pub(crate) session: Rc<Session>,
}

impl ChatClient {
    /// Logs `user_id` in over the transport `link` makes (given the user and the session); the
    /// promise resolves with the `ChatClient` at the first login. `opts` may hold `storage`
    /// and `cacheSize` (`storage` defaults to `default_storage`) and `SDKAppID`; `url` names the
    /// store.
    pub(crate) fn log_in(
        user_id: String,
        opts: &JsValue,
        url: &str,
        default_storage: &str,
        link: impl FnOnce(String, Weak<Session>) -> Box<dyn Transport> + 'static,
    ) -> Promise {
        let parsed = (|| {
            let storage = opt_string(opts, "storage")?.unwrap_or(default_storage.to_string());
            if storage != "indexeddb" && storage != "memory" {
                return Err(ImError::with_desc(
                    Code::InvalidParameters,
                    "storage: \"indexeddb\" or \"memory\"",
                ));
            }
            let cache = opt_number(opts, "cacheSize")?;
            if cache.is_some_and(|n| !(n >= 0.0 && n.fract() == 0.0)) {
                return Err(ImError::with_desc(
                    Code::InvalidParameters,
                    "cacheSize: a whole number",
                ));
            }
            let app = opt_number(opts, "SDKAppID")?.map(|n| n as u64);
            let r = random_bytes();
            let mut seed = [0u8; 8];
            seed.copy_from_slice(&r[16..]);
            let mut key = [0u8; 16];
            key.copy_from_slice(&r[..16]);
            let mut client = Client::new(&user_id, u64::from_le_bytes(seed))?.with_id_key(key);
            client.file_origin = im_revoke_core::attachment::http_origin(url);
            if let Some(n) = cache {
                client.set_cache_size(n as usize);
            }
            Ok((storage == "indexeddb", app, client))
        })();
        let (keep, app, mut client) = match parsed {
            Ok(p) => p,
            Err(e) => return rejected(e),
        };
        if !keep {
            return Session::start(
                client,
                None,
                |session| link(user_id, session),
                |session| ChatClient { session }.into(),
            )
            .1;
        }
        let name = persist::db_name(url, app, &user_id);
        let opening = storage::start(&name, client.cache_size());
        let then = crate::js::once_then(move |v: JsValue| -> Promise {
            let opened = Store::opened(&v, &name, &user_id);
            let mut warning = opened.warning;
            let mut store = opened.store;
            if let Some(s) = &store {
                client.keep_store();
                match persist::restore(&user_id, opened.meta, &opened.records) {
                    Ok(r) => client.restore(r),
                    Err(persist::Corrupt(why)) => {
                        s.clear();
                        warning = Some(("rebuilt", {
                            let mut d = String::from("the stored data was not usable (");
                            d.push_str(why);
                            d.push_str("): rebuilt from the server");
                            d
                        }));
                    }
                }
            }
            let reader = store.as_ref().is_some_and(|s| !s.writer());
            if reader {
                // A reader keeps its copy of the cache and outbox in memory only, until the
                // writer closes and it takes the store over.
                if let Some(s) = store.take() {
                    s.close();
                }
            }
            let limit = client.cache_size();
            let user = user_id.clone();
            let (session, promise) = Session::start(
                client,
                store,
                |session| link(user_id, session),
                |session| ChatClient { session }.into(),
            );
            if let Some(s) = &*session.store.borrow() {
                *s.warn.borrow_mut() = Some(quota_warning(&session));
            }
            *session.warning.borrow_mut() = warning;
            if reader {
                let weak = Rc::downgrade(&session);
                let db = name.clone();
                // (Its value is not read: a promise only to share `once_then`'s closure type.)
                let got = crate::js::once_then(move |v: JsValue| {
                    match weak.upgrade() {
                        Some(s) => take_over(&s, &v, &name, &user),
                        None => storage::release(&v),
                    }
                    Promise::resolve(&JsValue::UNDEFINED)
                });
                *session.takeover.borrow_mut() = Some(storage::takeover(&db, limit, &got));
            }
            promise
        });
        chain(&opening, &then)
    }
}

/// The store's quota warnings, told as `onStorageWarning("quota", desc)`.
fn quota_warning(session: &Rc<Session>) -> Function {
    let weak = Rc::downgrade(session);
    Closure::<dyn FnMut(String, String)>::new(move |_kind: String, desc: String| {
        if let Some(s) = weak.upgrade() {
            s.storage_warning("quota", desc);
        }
    })
    .into_js_value()
    .unchecked_into()
}

/// The tab that wrote the store closed and this reader got its lock (`v`: the store, opened
/// and read again): from now on this tab writes it, with the closed tab's outbox adopted
/// (`Client::take_over_store`), and says so (`onStorageWarning("writer", …)`). A store that
/// does not check is cleared first; after `logout()` the lock goes back at once.
fn take_over(session: &Rc<Session>, v: &JsValue, name: &str, user: &str) {
    let opened = Store::opened(v, name, user);
    let Some(store) = opened.store else {
        return;
    };
    if session.logged_out() {
        store.close();
        return;
    }
    let found = persist::restore(user, opened.meta, &opened.records);
    let delta = {
        let mut st = session.st.borrow_mut();
        match found {
            Ok(r) => st.client.take_over_store(r),
            Err(_) => {
                store.clear();
                st.client.take_over_store(persist::Restored::default())
            }
        }
    };
    *store.warn.borrow_mut() = Some(quota_warning(session));
    store.write(delta);
    *session.store.borrow_mut() = Some(store);
    session.takeover.borrow_mut().take();
    // The adopted sends and revokes go out now.
    session.flush();
    session.storage_warning(
        "writer",
        "the tab that wrote the store closed: this one writes it now".to_string(),
    );
}

#[wasm_bindgen]
impl ChatClient {
    /// Connects to an im-revoke server over WebSocket and logs in with a UserSig. Resolves
    /// once logged in; rejects with an `ImError`: 70001-70014 when the server refuses the
    /// UserSig, 9508 when the server cannot be reached, 6017 for malformed options. After
    /// the first login the client reconnects by itself (backoff with jitter), resends what
    /// was unanswered and catches up on missed events; see `addConnectionListener`.
    ///
    /// ```js
    /// const bob = await ChatClient.connect({ url: "ws://127.0.0.1:8080/ws", userID: "bob", userSig });
    /// ```
    #[wasm_bindgen(unchecked_return_type = "Promise<ChatClient>")]
    pub fn connect(
        #[wasm_bindgen(unchecked_param_type = "ConnectOptions")] opts: JsValue,
    ) -> Promise {
        let parsed = options(&opts, "connect options").and_then(|()| {
            Ok((
                string(&opts, "url")?,
                string(&opts, "userID")?,
                string(&opts, "userSig")?,
            ))
        });
        let (url, user_id, user_sig) = match parsed {
            Ok(p) => p,
            Err(e) => return rejected(e),
        };
        let name = url.clone();
        ChatClient::log_in(user_id, &opts, &name, "indexeddb", |_, session| {
            Box::new(WsLink::new(session, url, user_sig))
        })
    }

    /// This client's userID.
    ///
    /// ```js
    /// alice.userID === "alice"
    /// ```
    // A JS string made here (a returned `String` went through the glue's copy and free).
    #[wasm_bindgen(getter, js_name = userID, unchecked_return_type = "string")]
    pub fn user_id(&self) -> JsValue {
        // Copied out first: no call into JavaScript with the state borrowed.
        let id = self.session.st.borrow().client.user_id().to_string();
        JsValue::from_str(&id)
    }

    /// The message manager: create, send, revoke, history, listeners. Every call returns a
    /// view of the same client.
    ///
    /// ```js
    /// const mm = alice.getMessageManager();
    /// ```
    #[wasm_bindgen(js_name = getMessageManager)]
    pub fn get_message_manager(&self) -> MessageManager {
        MessageManager {
            session: self.session.clone(),
        }
    }

    /// The conversation manager: the conversation list, unread counts and their listener.
    ///
    /// ```js
    /// const cm = alice.getConversationManager();
    /// const { conversationList } = await cm.getConversationList(0, 50);
    /// ```
    #[wasm_bindgen(js_name = getConversationManager)]
    pub fn get_conversation_manager(&self) -> ConversationManager {
        ConversationManager {
            session: self.session.clone(),
        }
    }

    /// The group manager: create groups, members, roles.
    ///
    /// ```js
    /// await alice.getGroupManager().createGroup({ groupID: "g1", name: "team", members: ["bob"] });
    /// ```
    #[wasm_bindgen(js_name = getGroupManager)]
    pub fn get_group_manager(&self) -> GroupManager {
        GroupManager {
            session: self.session.clone(),
        }
    }

    /// Logs out: closes the connection, rejects requests still pending with 6014 and drops
    /// the listeners. Later calls reject with 6014. To go offline and come back with the same
    /// client, use `disconnect()` and `reconnect()`. The store (`storage: "indexeddb"`) is
    /// closed and kept — what is unsent goes out at the next login — unless `{ clear: true }`:
    /// then it is deleted (history, cursor and outbox of this user in this browser).
    ///
    /// ```js
    /// await alice.logout();
    /// await alice.logout({ clear: true }); // also forget what this browser stored
    /// ```
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn logout(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "LogoutOptions")] opts: Option<JsValue>,
    ) -> Promise {
        let clear = opts.is_some_and(|o| {
            Reflect::get(&o, &JsValue::from_str("clear")).is_ok_and(|v| v.is_truthy())
        });
        self.session.logout();
        if let Some(stop) = self.session.takeover.borrow_mut().take() {
            let _ = stop.call0(&JsValue::UNDEFINED);
        }
        let store = self.session.store.borrow_mut().take();
        match store {
            // Resolves once the database is deleted.
            Some(s) if clear => s.delete(),
            Some(s) => {
                s.close();
                Promise::resolve(&JsValue::UNDEFINED)
            }
            None => Promise::resolve(&JsValue::UNDEFINED),
        }
    }

    /// Where this client keeps what it was shown: "indexeddb" (this tab writes the store),
    /// or "memory" (asked for, IndexedDB unavailable, or another tab writes the store).
    #[wasm_bindgen(getter, unchecked_return_type = "string")]
    pub fn storage(&self) -> JsValue {
        JsValue::from_str(if self.session.store.borrow().is_some() {
            "indexeddb"
        } else {
            "memory"
        })
    }

    /// Goes offline but keeps the client: closes the WebSocket (or leaves the `LocalHub`)
    /// and does not reconnect by itself; messages, listeners and requests still unanswered
    /// stay. Calls made while offline (`sendMessage`, `revokeMessage`, …) wait and go out, in
    /// order, after `reconnect()` — unless it takes longer than the request timeout (30 s:
    /// 9508). Connection listeners hear `onConnectFailed(9508, …)`. `getLoginStatus()` stays 1.
    /// No-op when offline already or logged out.
    ///
    /// ```js
    /// await bob.disconnect();
    /// const pending = bob.getMessageManager().revokeMessage(msg, "typo"); // queued
    /// await bob.reconnect();  // the revoke goes out; missed events arrive via the listeners
    /// await pending;
    /// ```
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn disconnect(&self) -> Promise {
        self.session.disconnect();
        Promise::resolve(&JsValue::UNDEFINED)
    }

    /// Comes back after `disconnect()`: connects again and logs in with the same credentials
    /// (connection listeners: `onConnecting`, then `onConnectSuccess`). The client resends what
    /// was unanswered, in order, and catches up on what it missed: listeners get
    /// `onRecvNewMessage` / `onRecvMessageRevoked` exactly once for what happened meanwhile.
    /// Resolves once logged in again (at once if connected). While the server cannot be
    /// reached it keeps trying with backoff, as after a dropped connection (a connection that
    /// dropped by itself is retried at once). Rejects with 70001–70014 if the server refuses the
    /// UserSig, 9508 if `disconnect()` is called first, 6014 after `logout()`.
    ///
    /// ```js
    /// await bob.reconnect();
    /// ```
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn reconnect(&self) -> Promise {
        self.session.reconnect()
    }

    /// The server's clock as this client estimates it, in milliseconds since the epoch (what
    /// `canRevoke` uses; the local clock may be off, this is not).
    ///
    /// ```js
    /// const serverNow = alice.getServerTime();
    /// ```
    #[wasm_bindgen(js_name = getServerTime)]
    pub fn get_server_time(&self) -> f64 {
        self.session.server_time()
    }

    /// Tencent's login status: 1 logged in (possibly reconnecting), 2 logging in, 3 logged out.
    ///
    /// ```js
    /// if (alice.getLoginStatus() === 1) { ... }
    /// ```
    #[wasm_bindgen(js_name = getLoginStatus, unchecked_return_type = "LoginStatus")]
    pub fn get_login_status(&self) -> u8 {
        self.session.st.borrow().phase as u8
    }

    /// Adds a connection listener (`onConnecting`, `onConnectSuccess`, `onConnectFailed`,
    /// `onUserSigExpired`; all optional). Same rules as message listeners: registration
    /// order, once per object, asynchronous, exceptions contained and re-thrown.
    ///
    /// ```js
    /// client.addConnectionListener({ onConnectFailed(code, desc) { console.warn(code, desc); } });
    /// ```
    #[wasm_bindgen(js_name = addConnectionListener)]
    pub fn add_connection_listener(&self, listener: ConnectionListener) -> Result<(), Error> {
        let l = Listeners::<ConnectionListener>::cast(listener.into())?;
        self.session.st.borrow_mut().conn_listeners.add(l);
        Ok(())
    }

    /// Removes a connection listener added before (no-op otherwise).
    ///
    /// ```js
    /// client.removeConnectionListener(listener);
    /// ```
    #[wasm_bindgen(js_name = removeConnectionListener)]
    pub fn remove_connection_listener(&self, listener: ConnectionListener) {
        self.session
            .st
            .borrow_mut()
            .conn_listeners
            .remove(listener.as_ref());
    }
}
