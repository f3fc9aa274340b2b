//! Every revoke rule and error code, over a real WebSocket against an in-process server.

use crate::common;

use common::*;
use futures_util::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn send_and_receive() {
    let s = TestServer::start().await;
    let mut alice = s.login("alice").await;
    let mut bob = s.login("bob").await;
    let ok = alice.send_text("bob", "m1", "hello").await;
    assert_eq!(ok["type"], "sendOk", "{ok}");
    assert_eq!(ok["seq"], 1);
    assert_eq!(ok["message"]["seq"], 1);
    let ev = bob.recv().await;
    assert_eq!(assert_event(&ev, "newMessage"), 1);
    assert_eq!(ev["event"]["message"]["msgID"], "m1");
    assert_eq!(ev["event"]["message"]["elem"]["text"], "hello");
    assert_eq!(ev["event"]["message"]["timeMs"], ok["message"]["timeMs"]);
}

#[tokio::test]
async fn revoke_reaches_the_other_party() {
    let s = TestServer::start().await;
    let mut alice = s.login("alice").await;
    let mut bob = s.login("bob").await;
    alice.send_text("bob", "m1", "hello").await;
    bob.recv().await;
    let ok = alice.revoke("m1").await;
    assert_eq!(ok["type"], "revokeOk", "{ok}");
    assert_eq!(ok["seq"], 2);
    assert_eq!(ok["revoked"]["msgID"], "m1");
    let ev = bob.recv().await;
    assert_eq!(assert_event(&ev, "messageRevoked"), 2);
    assert_eq!(ev["event"]["msgID"], "m1");
    assert_eq!(ev["event"]["revoke"]["userID"], "alice");
    assert_eq!(ev["event"]["revoke"]["reason"], "typo");
    // History shows it revoked, without the text for bob.
    let h = bob.history_with("alice").await;
    let m = &h["messages"][0];
    assert_eq!(m["msgID"], "m1");
    assert_eq!(m["revoke"]["userID"], "alice");
    assert!(m["elem"].is_null(), "{m}");
}

#[tokio::test]
async fn c2c_only_the_sender_may_revoke() {
    let s = TestServer::start().await;
    let mut alice = s.login("alice").await;
    let mut bob = s.login("bob").await;
    alice.send_text("bob", "m1", "hello").await;
    bob.recv().await;
    assert_error(&bob.revoke("m1").await, 300001);
    // A stranger does not learn that the message exists.
    let mut eve = s.login("eve").await;
    assert_error(&eve.revoke("m1").await, 20022);
}

#[tokio::test]
async fn unknown_message() {
    let s = TestServer::start().await;
    let mut alice = s.login("alice").await;
    assert_error(&alice.revoke("nope").await, 20022);
    let f = alice
        .request(json!({"type": "revoke", "msgID": "nope", "groupID": "g1"}))
        .await;
    assert_error(&f, 10030);
}

#[tokio::test]
async fn revoke_twice_and_idempotent_retry() {
    let s = TestServer::start().await;
    let mut alice = s.login("alice").await;
    let mut bob = s.login("bob").await;
    alice.send_text("bob", "m1", "hello").await;
    bob.recv().await;
    let first = alice
        .request(json!({"type": "revoke", "reqId": "rv-1", "msgID": "m1"}))
        .await;
    assert_eq!(first["type"], "revokeOk", "{first}");
    assert_ne!(first["seq"], 0);
    assert_event(&bob.recv().await, "messageRevoked");
    // Another request: a clear error.
    let again = alice
        .request(json!({"type": "revoke", "reqId": "rv-2", "msgID": "m1"}))
        .await;
    assert_error(&again, 20023);
    // The same request again: the same answer, seq 0, no new event.
    let retry = alice
        .request(json!({"type": "revoke", "reqId": "rv-1", "msgID": "m1"}))
        .await;
    assert_eq!(retry["type"], "revokeOk", "{retry}");
    assert_eq!(retry["seq"], 0);
    assert_eq!(retry["revoked"], first["revoked"]);
    bob.ping().await; // nothing was queued for bob before the pong
}

#[tokio::test]
async fn send_is_deduplicated_by_msg_id() {
    let s = TestServer::start().await;
    let mut alice = s.login("alice").await;
    let mut bob = s.login("bob").await;
    let first = alice.send_text("bob", "m1", "hello").await;
    let again = alice.send_text("bob", "m1", "hello").await;
    assert_eq!(again["type"], "sendOk", "{again}");
    assert_eq!(again["seq"], 0);
    assert_eq!(again["message"]["seq"], first["message"]["seq"]);
    assert_eq!(assert_event(&bob.recv().await, "newMessage"), 1);
    bob.ping().await; // exactly one event
                      // Someone else's msgID: accepted under a key of bob's own (msgIDs are
                      // unique per sender; issue 20, item 3), without a word about alice's.
    let theirs = bob.send_text("alice", "m1", "mine").await;
    assert_eq!(theirs["type"], "sendOk", "{theirs}");
    assert_ne!(theirs["message"]["msgID"], "m1");
    // The sender's own msgID in another conversation: a conflict.
    assert_error(&alice.send_text("carol", "m1", "again").await, 300002);
}

#[tokio::test]
async fn group_revoke_permissions() {
    let s = TestServer::start().await;
    let mut owner = s.login("owner").await;
    let mut admin = s.login("admin").await;
    let mut admin2 = s.login("admin2").await;
    let mut m1 = s.login("m1").await;
    let mut m2 = s.login("m2").await;
    let ok = owner
        .create_group("g1", &["admin", "admin2"], &["m1", "m2"])
        .await;
    assert_eq!(ok["type"], "groupOk", "{ok}");
    for c in [&mut admin, &mut admin2, &mut m1, &mut m2] {
        assert_event(&c.recv().await, "groupChanged");
    }
    let mut everyone = [&mut owner, &mut admin, &mut admin2, &mut m1, &mut m2];
    for i in 0..everyone.len() {
        let id = format!("g-{i}");
        assert_eq!(
            everyone[i].send_group("g1", &id, "hi").await["type"],
            "sendOk"
        );
        for (j, other) in everyone.iter_mut().enumerate() {
            if j != i {
                let ev = other.recv().await;
                assert_event(&ev, "newMessage");
                assert_eq!(ev["event"]["message"]["msgID"], id.as_str());
            }
        }
    }
    // g-0 owner's, g-1 admin's, g-2 admin2's, g-3 m1's, g-4 m2's.
    assert_error(&m1.revoke("g-4").await, 10007); // member → another member's
    assert_error(&m1.revoke("g-0").await, 10007); // member → owner's
    assert_error(&admin.revoke("g-0").await, 10007); // admin → owner's
    assert_error(&admin.revoke("g-2").await, 10007); // admin → another admin's
    let ok = admin.revoke("g-3").await; // admin → member's
    assert_eq!(ok["type"], "revokeOk", "{ok}");
    assert_eq!(ok["revoked"]["revoke"]["role"], "admin");
    let ok = owner.revoke("g-4").await; // owner → member's
    assert_eq!(ok["revoked"]["revoke"]["role"], "owner");
    let ok = owner.revoke("g-2").await; // owner → admin's
    assert_eq!(ok["type"], "revokeOk", "{ok}");
    // m2 saw all three revokes, in order.
    for id in ["g-3", "g-4", "g-2"] {
        let ev = m2.recv().await;
        assert_event(&ev, "messageRevoked");
        assert_eq!(ev["event"]["msgID"], id);
    }
    // Not a member: the answer for a message that does not exist (issue 20, item 4).
    let mut out = s.login("outsider").await;
    assert_error(&out.revoke("g-1").await, 20022);
}

#[tokio::test]
async fn malformed_frames_get_20001_and_the_connection_stays() {
    let s = TestServer::start().await;
    let mut alice = s.login("alice").await;
    for bad in [
        "not json",
        "{}",
        r#"{"type":"nope","reqId":"x1"}"#,
        r#"{"type":"ping","t":"x"}"#,
        r#"{"type":"revoke","reqId":"x2","msgID":5}"#,
        r#"[1,2,3]"#,
        "",
    ] {
        alice.send_raw(Message::text(bad)).await;
        let f = alice.recv().await;
        assert_error(&f, 20001);
        if bad.contains("x2") {
            assert_eq!(f["reqId"], "x2", "reqId echoed when readable: {f}");
        }
    }
    alice
        .send_raw(Message::binary(b"{\"type\":\"ping\",\"t\":1}".to_vec()))
        .await;
    assert_error(&alice.recv().await, 20001);
    alice.ping().await;
}

#[tokio::test]
async fn invalid_utf8_gets_20001_then_close() {
    let s = TestServer::start().await;
    let mut alice = s.login("alice").await;
    // A text frame whose payload is not UTF-8 (the client library does not check).
    let frame = tokio_tungstenite::tungstenite::protocol::frame::Frame::message(
        vec![b'{', 0xff, 0xfe, b'}'],
        tokio_tungstenite::tungstenite::protocol::frame::coding::OpCode::Data(
            tokio_tungstenite::tungstenite::protocol::frame::coding::Data::Text,
        ),
        true,
    );
    alice.send_raw(Message::Frame(frame)).await;
    assert_error(&alice.recv().await, 20001);
    assert_eq!(alice.expect_closed().await, Some(1007));
}

#[tokio::test]
async fn requests_before_login_get_6014() {
    let s = TestServer::start().await;
    let mut c = s.connect().await;
    let f = c
        .request(json!({"type": "revoke", "reqId": "r1", "msgID": "m1"}))
        .await;
    assert_error(&f, 6014);
    c.send(json!({"type": "ping", "t": 1})).await;
    assert_error(&c.recv().await, 6014);
    // Still open: log in now.
    let f = c.login_with("alice", &usersig("alice")).await;
    assert_eq!(f["type"], "loginOk", "{f}");
    // A second login on the same connection.
    let f = c.login_with("alice", &usersig("alice")).await;
    assert_error(&f, 300004);
}

#[tokio::test]
async fn oversize_frame_gets_9522_then_close() {
    let s = TestServer::start_with(|c| c.max_frame_bytes = 4096).await;
    let mut alice = s.login("alice").await;
    let big = "x".repeat(5000);
    alice
        .send(
            json!({"type": "send", "reqId": "r1", "msgID": "m1", "receiver": "bob",
                     "elem": {"elemType": "text", "text": big}}),
        )
        .await;
    assert_error(&alice.recv().await, 9522);
    assert_eq!(alice.expect_closed().await, Some(1009));
}

#[tokio::test]
async fn text_over_the_limit_gets_80002() {
    let s = TestServer::start_with(|c| c.max_text_bytes = 10).await;
    let mut alice = s.login("alice").await;
    assert_error(&alice.send_text("bob", "m1", "12345678901").await, 80002);
    assert_eq!(
        alice.send_text("bob", "m2", "1234567890").await["type"],
        "sendOk"
    );
}

#[tokio::test]
async fn protocol_ping_is_answered_by_the_hub() {
    let s = TestServer::start().await;
    let mut alice = s.login("alice").await;
    let pong = alice.ping().await;
    assert_eq!(pong["t"], 42.0);
    assert!(pong["serverTime"].as_u64().unwrap() > 1_600_000_000_000);
}

#[tokio::test]
async fn unsupported_version_is_refused_and_closed() {
    let s = TestServer::start().await;
    let mut c = s.connect().await;
    c.send(json!({"type": "login", "v": 2, "userID": "alice", "userSig": usersig("alice")}))
        .await;
    assert_error(&c.recv().await, 300003);
    assert_eq!(c.expect_closed().await, Some(1008));
}

#[tokio::test]
async fn offline_receiver_syncs_exactly_once() {
    let s = TestServer::start().await;
    // bob was online once and applied everything up to his head.
    let mut bob = s.login("bob").await;
    let mut alice = s.login("alice").await;
    alice.send_text("bob", "m0", "before").await;
    let last = assert_event(&bob.recv().await, "newMessage");
    drop(bob);
    // While bob is away, alice sends and revokes.
    alice.send_text("bob", "m1", "oops").await;
    assert_eq!(alice.revoke("m1").await["type"], "revokeOk");
    // bob comes back and catches up from his last seq.
    let mut bob = s.login("bob").await;
    let f = bob.sync(last).await;
    assert_eq!(f["type"], "syncOk", "{f}");
    let events = f["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{f}");
    assert_eq!(events[0]["seq"], last + 1);
    assert_eq!(events[0]["event"]["kind"], "newMessage");
    assert_eq!(events[0]["event"]["message"]["msgID"], "m1");
    assert!(
        events[0]["event"]["message"]["elem"].is_null(),
        "text hidden once revoked"
    );
    assert_eq!(events[1]["seq"], last + 2);
    assert_eq!(events[1]["event"]["kind"], "messageRevoked");
    assert_eq!(events[1]["event"]["msgID"], "m1");
    assert_eq!(f["hasMore"], false);
    // Nothing more after that, and nothing arrived live either.
    let f = bob.sync(last + 2).await;
    assert_eq!(f["events"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn other_device_gets_the_event_the_revoker_only_the_ack() {
    let s = TestServer::start().await;
    let mut phone = s.login("alice").await;
    let mut laptop = s.login("alice").await;
    let mut bob = s.login("bob").await;
    let ok = phone.send_text("bob", "m1", "hi").await;
    let seq = ok["seq"].as_u64().unwrap();
    assert_eq!(assert_event(&laptop.recv().await, "newMessage"), seq);
    assert_event(&bob.recv().await, "newMessage");
    let ok = phone.revoke("m1").await;
    assert_eq!(ok["type"], "revokeOk");
    assert_eq!(ok["seq"], seq + 1);
    let ev = laptop.recv().await;
    assert_eq!(assert_event(&ev, "messageRevoked"), seq + 1);
    assert_event(&bob.recv().await, "messageRevoked");
    phone.ping().await; // the revoking device got only the revokeOk
}

#[tokio::test]
async fn too_many_connections_get_300005() {
    let s = TestServer::start_with(|c| c.max_connections = 1).await;
    let _alice = s.login("alice").await;
    let mut extra = s.connect().await;
    assert_error(&extra.recv().await, 300005);
    assert_eq!(extra.expect_closed().await, Some(1013));
}

#[tokio::test]
async fn graceful_shutdown_closes_connections() {
    let mut s = TestServer::start().await;
    let mut alice = s.login("alice").await;
    let ok = alice.send_text("bob", "m1", "hi").await;
    assert_eq!(ok["type"], "sendOk");
    s.shutdown().await;
    assert_eq!(alice.expect_closed().await, Some(1001));
}

#[tokio::test]
async fn too_many_requests_get_60018() {
    let s = TestServer::start_with(|c| {
        c.user_rate = 1;
        c.user_burst = 3;
    })
    .await;
    let mut alice = s.login("alice").await;
    let mut laptop = s.login("alice").await;
    for i in 0..3 {
        let f = alice.send_text("bob", &format!("m{i}"), "hi").await;
        assert_eq!(f["type"], "sendOk", "{f}");
    }
    // The limit is per user, over all their connections.
    assert_error(&laptop.send_text("bob", "m3", "hi").await, 60018);
    assert_error(&alice.revoke("m0").await, 60018);
}

#[tokio::test]
async fn a_flood_of_frames_is_refused_unread_then_closed() {
    let s = TestServer::start_with(|c| {
        c.conn_rate = 1;
        c.conn_burst = 5;
    })
    .await;
    let mut bob = s.login("bob").await; // the login frame took one token
    let mut flooder = s.connect().await;
    // Garbage that is never parsed: within the burst it gets 20001, past it 60018.
    for _ in 0..5 {
        flooder.send_raw(Message::Text("{nope".into())).await;
    }
    let mut codes = Vec::new();
    for _ in 0..5 {
        codes.push(flooder.recv().await["code"].as_u64().unwrap());
    }
    assert_eq!(codes, [20001, 20001, 20001, 20001, 20001]);
    flooder.send_raw(Message::Text("{nope".into())).await;
    assert_eq!(flooder.recv().await["code"], 60018);
    // A sustained flood closes the connection with 1008 (policy violation).
    for _ in 0..120 {
        flooder.send_raw(Message::Text("{nope".into())).await;
    }
    let mut refused = 0;
    let close = loop {
        match tokio::time::timeout(WAIT, flooder.ws.next())
            .await
            .expect("closed in time")
        {
            Some(Ok(Message::Text(t))) => {
                assert!(t.contains("60018"), "{t}");
                refused += 1;
            }
            Some(Ok(Message::Close(c))) => break c.map(|c| u16::from(c.code)),
            Some(Ok(_)) => {}
            None | Some(Err(_)) => break None,
        }
    };
    assert_eq!(close, Some(1008));
    assert!(refused >= 99, "every refused frame was answered: {refused}");
    // Everyone else is served as before.
    let f = bob.send_text("carol", "b1", "still here").await;
    assert_eq!(f["type"], "sendOk", "{f}");
}

#[tokio::test]
async fn a_new_device_asks_for_its_groups() {
    let s = TestServer::start().await;
    let mut owner = s.login("owner").await;
    let f = owner
        .request(json!({"type":"createGroup","groupID":"g","name":"G","admins":["adm"],"members":["mem"]}))
        .await;
    assert_eq!(f["type"], "groupOk", "{f}");
    let mut adm = s.login("adm").await;
    let f = adm.request(json!({"type":"getJoinedGroups"})).await;
    assert_eq!(f["type"], "groups", "{f}");
    assert_eq!(f["groups"][0]["groupID"], "g");
    assert_eq!(f["groups"][0]["admins"][0], "adm");
    assert!(f["groups"][0].get("recentReqIds").is_none(), "{f}");
    let mut stranger = s.login("zed").await;
    let f = stranger.request(json!({"type":"getJoinedGroups"})).await;
    assert_eq!(f["groups"], json!([]));
}

/// A client that offers the subprotocol `im-revoke.bin` gets the server's frames as binary
/// frames of the same JSON (its own frames stay text); one that does not, text frames.
#[tokio::test]
async fn binary_subprotocol_gets_binary_frames() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let s = TestServer::start().await;
    let mut alice = s.login("alice").await;
    let mut req = format!("ws://{}/ws", s.addr).into_client_request().unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "other, im-revoke.bin".parse().unwrap(),
    );
    let (mut bob, resp) = tokio_tungstenite::connect_async(req)
        .await
        .expect("connects");
    assert_eq!(
        resp.headers()
            .get("Sec-WebSocket-Protocol")
            .map(|v| v.to_str().unwrap()),
        Some("im-revoke.bin")
    );
    async fn next_binary(
        ws: &mut tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
    ) -> serde_json::Value {
        loop {
            let m = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
                .await
                .expect("a frame in time")
                .expect("open")
                .expect("reads");
            match m {
                Message::Binary(b) => return serde_json::from_slice(&b).expect("JSON"),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("expected a binary frame, got {other:?}"),
            }
        }
    }
    let login = json!({"type": "login", "v": 1, "userID": "bob", "userSig": usersig("bob")});
    bob.send(Message::text(login.to_string())).await.unwrap();
    let ok = next_binary(&mut bob).await;
    assert_eq!(ok["type"], "loginOk", "{ok}");
    let sent = alice.send_text("bob", "bin-1", "héllo 撤回").await;
    assert_eq!(sent["type"], "sendOk", "{sent}");
    let ev = next_binary(&mut bob).await;
    assert_eq!(assert_event(&ev, "newMessage"), 1);
    assert_eq!(ev["event"]["message"]["elem"]["text"], "héllo 撤回");
    assert_eq!(alice.revoke("bin-1").await["type"], "revokeOk");
    let ev = next_binary(&mut bob).await;
    assert_eq!(assert_event(&ev, "messageRevoked"), 2);
    assert_eq!(ev["event"]["msgID"], "bin-1");
    // Errors too: a malformed request is answered in a binary frame.
    bob.send(Message::text("{not json")).await.unwrap();
    assert_error(&next_binary(&mut bob).await, 20001);
}
