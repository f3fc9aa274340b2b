//! Rich messages and attachments over a real server: custom messages over the WebSocket.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn custom_message_over_the_server_and_its_revoke() {
    let s = TestServer::start().await;
    let mut alice = s.login("alice").await;
    let mut bob = s.login("bob").await;
    let elem =
        json!({"elemType": "custom", "data": "{\"card\":7}", "desc": "a card", "extension": ""});
    let ok = alice
        .request(json!({"type": "send", "msgID": "c1", "receiver": "bob", "elem": elem}))
        .await;
    assert_eq!(ok["type"], "sendOk", "{ok}");
    let ev = bob.recv().await;
    assert_eq!(assert_event(&ev, "newMessage"), 1);
    assert_eq!(ev["event"]["message"]["elem"], elem);
    let empty = json!({"elemType": "custom", "data": "", "desc": "", "extension": ""});
    let f = alice
        .request(json!({"type": "send", "msgID": "c2", "receiver": "bob", "elem": empty}))
        .await;
    assert_error(&f, 6017);
    assert_eq!(alice.revoke("c1").await["type"], "revokeOk");
    bob.recv().await;
    let h = bob.history_with("alice").await;
    assert_eq!(h["messages"][0]["msgID"], "c1");
    assert!(h["messages"][0]["elem"].is_null(), "{h}");
    let h = alice.history_with("bob").await;
    assert_eq!(h["messages"][0]["elem"], elem, "the sender keeps it");
}

#[tokio::test]
async fn an_attachment_that_was_never_uploaded_is_refused() {
    let s = TestServer::start().await;
    let mut alice = s.login("alice").await;
    let file = json!({"elemType": "file", "uuid": "nope", "fileName": "a.pdf", "fileSize": 3,
                      "url": "https://evil.example/track"});
    let f = alice
        .request(json!({"type": "send", "msgID": "f1", "receiver": "bob", "elem": file}))
        .await;
    assert_error(&f, 300010);
}
