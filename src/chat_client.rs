//! `ChatClient`: one logged-in device of one user, over the embedded `LocalHub` or a server.
//!
//! It wraps a `Session` and picks its transport: `connect` here (WebSocket), `local` in
//! `local_hub` (with the `LocalHub` it needs, behind the `local-hub` feature).

use std::rc::{Rc, Weak};

use im_revoke_core::client::Client;
use js_sys::{Date, Math, Promise};
use wasm_bindgen::prelude::*;

use crate::convert::{options, string};
use crate::error::{rejected, Error};
use crate::group::GroupManager;
use crate::listener::{ConnectionListener, Listeners};
use crate::manager::MessageManager;
use crate::session::{Session, Transport};
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
}

/** Tencent's `V2TIMLoginStatus`: 1 logged in, 2 logging in, 3 logged out. */
export type LoginStatus = 1 | 2 | 3;
"#;

#[wasm_bindgen]
extern "C" {
    /// `crypto.getRandomValues` (windows, workers and Node alike).
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues, catch)]
    fn get_random_values(buf: &mut [u8]) -> Result<JsValue, JsValue>;
}

/// 24 random bytes: a seed for the core client's request ids and the key of its msgIDs (16
/// bytes), so that msgIDs are unpredictable. From `crypto.getRandomValues`; only where there is
/// no `crypto` (never in a browser) from `Math.random` and the clock.
fn random_bytes() -> [u8; 24] {
    let mut b = [0u8; 24];
    if get_random_values(&mut b).is_err() {
        for (i, x) in b.iter_mut().enumerate() {
            *x = ((Math::random() * 256.0) as u8) ^ ((Date::now() as u64 >> (i % 8 * 8)) as u8);
        }
    }
    b
}

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
    /// promise resolves with the `ChatClient` at the first login.
    pub(crate) fn log_in(
        user_id: String,
        link: impl FnOnce(String, Weak<Session>) -> Box<dyn Transport>,
    ) -> Promise {
        let r = random_bytes();
        let seed = u64::from_le_bytes(r[16..].try_into().expect("8 bytes"));
        let key: [u8; 16] = r[..16].try_into().expect("16 bytes");
        let client = match Client::new(&user_id, seed) {
            Ok(c) => c.with_id_key(key),
            Err(e) => return rejected(e),
        };
        Session::start(
            client,
            |session| link(user_id, session),
            |session| ChatClient { session }.into(),
        )
    }
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
        ChatClient::log_in(user_id, |_, session| {
            Box::new(WsLink::new(session, url, user_sig))
        })
    }

    /// This client's userID.
    ///
    /// ```js
    /// alice.userID === "alice"
    /// ```
    #[wasm_bindgen(getter, js_name = userID)]
    pub fn user_id(&self) -> String {
        self.session.st.borrow().client.user_id().to_string()
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
    /// client, use `disconnect()` and `reconnect()`.
    ///
    /// ```js
    /// await alice.logout();
    /// ```
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn logout(&self) -> Promise {
        self.session.logout();
        Promise::resolve(&JsValue::UNDEFINED)
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
