//! Rich messages and attachments over a real server: custom messages over the WebSocket.

use crate::common;

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
    assert_error(&f, 300012);
}

// --- attachments over HTTP ------------------------------------------------------------------

use crate::attach_support;

use attach_support::*;
use im_revoke_server::ServerConfig;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::sleep;

fn att_dir(s: &TestServer) -> PathBuf {
    s.dir.path().join("db").join("attachments")
}

#[tokio::test]
async fn upload_send_download_and_revoke_means_gone() {
    let s = TestServer::start().await;
    let mut alice = s.login("alice").await;
    let mut bob = s.login("bob").await;
    let bytes = png(40, 30);
    let up = upload(s.addr, "alice", "image/png", "cat%20%C3%A9.png", &bytes).await;
    assert_eq!(up.status, 201, "{}", String::from_utf8_lossy(&up.body));
    let up = up.json();
    assert_eq!(
        (
            up["type"].as_str(),
            up["width"].as_u64(),
            up["height"].as_u64()
        ),
        (Some("image/png"), Some(40), Some(30))
    );
    assert_eq!(up["size"], bytes.len());
    assert_eq!(up["fileName"], "cat é.png");
    let uuid = up["uuid"].as_str().unwrap().to_string();
    assert_eq!(files_in(&att_dir(&s)), 1);

    // Someone else's upload cannot be sent.
    let f = bob.request(json!({"type": "send", "msgID": "b1", "receiver": "alice", "elem": image_elem(&uuid, bytes.len())})).await;
    assert_error(&f, 300012);
    let ok = alice.request(json!({"type": "send", "msgID": "i1", "receiver": "bob", "elem": image_elem(&uuid, bytes.len())})).await;
    assert_eq!(ok["type"], "sendOk", "{ok}");
    let mine = ok["message"]["elem"]["imageList"][0]["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        mine.starts_with(&format!("/file/{uuid}?u=alice&exp=")),
        "{mine}"
    );
    // Nor sent twice.
    let f = alice
        .request(
            json!({"type": "send", "msgID": "i2", "receiver": "bob", "elem": image_elem(&uuid, 1)}),
        )
        .await;
    assert_error(&f, 300012);

    let ev = bob.recv().await;
    let url = ev["event"]["message"]["elem"]["imageList"][0]["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        url.starts_with(&format!("/file/{uuid}?u=bob&")),
        "the sender's URL is never kept: {url}"
    );
    let got = http(s.addr, "GET", &url, &[], b"").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, bytes);
    assert_eq!(got.headers["content-type"], "image/png");
    assert_eq!(got.headers["x-content-type-options"], "nosniff");
    assert!(
        got.headers["content-disposition"]
            .starts_with("inline; filename*=UTF-8''cat%20%C3%A9%2Epng"),
        "{:?}",
        got.headers
    );
    let part = http(s.addr, "GET", &url, &[("Range", "bytes=1-3".into())], b"").await;
    assert_eq!(part.status, 206);
    assert_eq!(part.body, &bytes[1..4]);
    assert_eq!(
        part.headers["content-range"],
        format!("bytes 1-3/{}", bytes.len())
    );
    // A range past the end, or backwards: 416 with the length.
    for bad in ["bytes=500-", "bytes=5-2", "bytes=0-1,4-5"] {
        let r = http(s.addr, "GET", &url, &[("Range", bad.into())], b"").await;
        assert_eq!(r.status, 416, "{bad}");
        assert_eq!(
            r.headers["content-range"],
            format!("bytes */{}", bytes.len())
        );
        assert!(r.body.is_empty(), "no bytes with a 416");
    }
    // History gives bob a URL of his own too.
    let h = bob.history_with("alice").await;
    assert!(h["messages"][0]["elem"]["imageList"][0]["url"]
        .as_str()
        .unwrap()
        .contains("u=bob"));

    // A stranger: bob's URL with another user, a forged signature, no signature, a bad key.
    let eve = url.replace("u=bob", "u=eve");
    assert_eq!(http(s.addr, "GET", &eve, &[], b"").await.status, 403);
    let last = url.chars().last().unwrap();
    let forged = format!(
        "{}{}",
        &url[..url.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    assert_eq!(http(s.addr, "GET", &forged, &[], b"").await.status, 403);
    assert_eq!(
        http(s.addr, "GET", &format!("/file/{uuid}"), &[], b"")
            .await
            .status,
        403
    );
    assert_eq!(
        http(s.addr, "GET", "/file/..%2Fdb?u=bob&exp=1&sig=00", &[], b"")
            .await
            .status,
        404
    );

    // Revoke: gone at once for everyone, the bytes deleted soon after.
    assert_eq!(alice.revoke("i1").await["type"], "revokeOk");
    assert_eq!(http(s.addr, "GET", &url, &[], b"").await.status, 410);
    assert_eq!(http(s.addr, "GET", &mine, &[], b"").await.status, 410);
    let dir = att_dir(&s);
    wait_until("the bytes to be deleted", || files_in(&dir) == 0).await;
}

#[tokio::test]
async fn bad_uploads_are_refused_and_nothing_is_stored() {
    let s = TestServer::start_with(|c| c.attachments.max_bytes = 4096).await;
    let a = s.addr;
    let code = |r: &Reply| r.json()["code"].as_u64().unwrap_or(0);
    let r = upload(a, "alice", "application/pdf", "big.pdf", &[b'%'; 5000]).await;
    assert_eq!((r.status, code(&r)), (413, 300009));
    let r = upload(a, "alice", "image/png", "lie.png", PDF).await;
    assert_eq!(
        (r.status, code(&r)),
        (415, 300010),
        "declared png, bytes are a pdf"
    );
    let r = upload(a, "alice", "", "x.exe", b"MZ\x90\0\x03\0\0\0\x04\0").await;
    assert_eq!((r.status, code(&r)), (415, 300010));
    let r = upload(a, "alice", "image/png", "bomb.png", &png(20_000, 20_000)).await;
    assert_eq!((r.status, code(&r)), (422, 300011));
    let r = upload(a, "alice", "image/png", "wide.png", &png(10_001, 1)).await;
    assert_eq!((r.status, code(&r)), (422, 300011));
    let r = http(
        a,
        "POST",
        "/upload",
        &[("Content-Type", "application/pdf".into())],
        PDF,
    )
    .await;
    assert_eq!(r.status, 401, "no anonymous uploads");
    let r = http(
        a,
        "POST",
        "/upload",
        &[("Authorization", format!("UserSig bob {}", usersig("alice")))],
        PDF,
    )
    .await;
    assert_eq!(r.status, 401, "alice's UserSig is not bob's");
    // Truncated: the connection ends before Content-Length bytes came.
    let mut c = TcpStream::connect(a).await.unwrap();
    let h = head(
        "POST",
        "/upload",
        a,
        &[auth("alice"), ("Content-Type", "application/pdf".into())],
        PDF.len() + 100,
    );
    c.write_all(h.as_bytes()).await.unwrap();
    c.write_all(PDF).await.unwrap();
    c.shutdown().await.unwrap();
    let r = read_reply(c).await;
    assert_eq!(r.status, 400);
    assert_eq!(files_in(&att_dir(&s)), 0, "nothing stored");
    // And a good one still works; text is checked as a whole.
    assert_eq!(
        upload(a, "alice", "text/plain", "a.txt", "héllo\n".as_bytes())
            .await
            .status,
        201
    );
    assert_eq!(
        upload(a, "alice", "text/plain", "b.txt", b"hello\0binary")
            .await
            .status,
        415
    );
}

#[tokio::test]
async fn parallel_uploads_per_user_are_limited() {
    let s = TestServer::start_with(|c| c.attachments.parallel_per_user = 2).await;
    let a = s.addr;
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut c = TcpStream::connect(a).await.unwrap();
        let h = head(
            "POST",
            "/upload",
            a,
            &[auth("alice"), ("Content-Type", "application/pdf".into())],
            1000,
        );
        c.write_all(h.as_bytes()).await.unwrap();
        c.write_all(&PDF[..10]).await.unwrap();
        open.push(c);
    }
    sleep(Duration::from_millis(300)).await;
    let r = upload(a, "alice", "application/pdf", "c.pdf", PDF).await;
    assert_eq!((r.status, r.json()["code"].as_u64()), (429, Some(300013)));
    assert_eq!(
        upload(a, "bob", "application/pdf", "b.pdf", PDF)
            .await
            .status,
        201,
        "per user"
    );
    drop(open);
    let mut status = 0;
    for _ in 0..50 {
        status = upload(a, "alice", "application/pdf", "c.pdf", PDF)
            .await
            .status;
        if status == 201 {
            break;
        }
        sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 201, "the slots are released");
}

#[tokio::test]
async fn expired_urls_and_unsent_uploads() {
    let _apart = crate::timing::timed();
    let s = TestServer::start_with(|c| {
        c.attachments.url_ttl = Duration::from_secs(1);
        c.attachments.gc_after = Duration::from_millis(700);
    })
    .await;
    let mut alice = s.login("alice").await;
    let up = upload(s.addr, "alice", "application/pdf", "r.pdf", PDF)
        .await
        .json();
    let uuid = up["uuid"].as_str().unwrap();
    let file = json!({"elemType": "file", "uuid": uuid, "fileName": "r.pdf", "fileSize": PDF.len(), "url": ""});
    let ok = alice
        .request(json!({"type": "send", "msgID": "f1", "receiver": "bob", "elem": file}))
        .await;
    let url = ok["message"]["elem"]["url"].as_str().unwrap().to_string();
    let got = http(s.addr, "GET", &url, &[], b"").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.headers["content-type"], "application/pdf");
    assert!(got.headers["content-disposition"].starts_with("attachment;"));
    sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        http(s.addr, "GET", &url, &[], b"").await.status,
        403,
        "expired"
    );
    // An upload never sent is collected, and can no longer be sent.
    let up = upload(s.addr, "alice", "application/pdf", "late.pdf", PDF)
        .await
        .json();
    let late = up["uuid"].as_str().unwrap().to_string();
    let dir = att_dir(&s);
    wait_until("the unsent upload to be collected", || {
        !dir.join(&late).exists()
    })
    .await;
    let file =
        json!({"elemType": "file", "uuid": late, "fileName": "late.pdf", "fileSize": 1, "url": ""});
    let f = alice
        .request(json!({"type": "send", "msgID": "f2", "receiver": "bob", "elem": file}))
        .await;
    assert_error(&f, 300012);
    assert!(dir.join(uuid).exists(), "a sent one stays");
}

#[tokio::test]
async fn a_crash_between_revoke_and_delete_still_deletes_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = |sweep: Duration| {
        let mut c = ServerConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            dir.path().join("t.db"),
            im_revoke_server::Secret::new(KEY),
        );
        c.sdkappid = SDKAPPID;
        c.attachments.sweep_every = sweep;
        c
    };
    // The sweeper runs only at start: whatever the revoke schedules waits for the next start.
    let server = im_revoke_server::start(cfg(Duration::from_secs(3600)))
        .await
        .unwrap();
    let addr = server.local_addr();
    let mut alice = Client::login(addr, "alice").await;
    let up = upload(addr, "alice", "application/pdf", "r.pdf", PDF)
        .await
        .json();
    let uuid = up["uuid"].as_str().unwrap().to_string();
    let file = json!({"elemType": "file", "uuid": uuid, "fileName": "r.pdf", "fileSize": PDF.len(), "url": ""});
    let ok = alice
        .request(json!({"type": "send", "msgID": "f1", "receiver": "bob", "elem": file}))
        .await;
    let url = ok["message"]["elem"]["url"].as_str().unwrap().to_string();
    assert_eq!(alice.revoke("f1").await["type"], "revokeOk");
    assert_eq!(
        http(addr, "GET", &url, &[], b"").await.status,
        410,
        "gone at once"
    );
    let bytes = dir.path().join("attachments").join(&uuid);
    assert!(bytes.exists(), "not deleted yet (the sweeper sleeps)");
    drop(alice);
    server.shutdown().await.unwrap();
    let server = im_revoke_server::start(cfg(Duration::from_secs(3600)))
        .await
        .unwrap();
    wait_until("the restart to delete the bytes", || !bytes.exists()).await;
    assert_eq!(
        http(server.local_addr(), "GET", &url, &[], b"")
            .await
            .status,
        410
    );
    server.shutdown().await.unwrap();
}

/// What a message says of its attachments is what the server read from the bytes at upload:
/// an image sent with made-up dimensions and sizes reaches the receiver (and the history, and
/// the sender's own answer) with the real ones; a file's size likewise.
#[tokio::test]
async fn declared_sizes_and_dimensions_give_way_to_the_uploads() {
    let s = TestServer::start().await;
    let mut alice = s.login("alice").await;
    let mut bob = s.login("bob").await;
    let bytes = png(64, 48);
    let up = upload(s.addr, "alice", "image/png", "real.png", &bytes).await;
    assert_eq!(up.status, 201);
    let uuid = up.json()["uuid"].as_str().unwrap().to_string();
    let lie = json!({"elemType": "image", "imageList": [
        {"type": 1, "uuid": uuid, "url": "", "width": 9000, "height": 1, "size": 7}]});
    let ok = alice
        .request(json!({"type": "send", "msgID": "lie1", "receiver": "bob", "elem": lie}))
        .await;
    assert_eq!(ok["type"], "sendOk", "{ok}");
    let real = |img: &serde_json::Value| {
        (
            img["width"].as_u64(),
            img["height"].as_u64(),
            img["size"].as_u64(),
        )
    };
    let want = (Some(64), Some(48), Some(bytes.len() as u64));
    assert_eq!(real(&ok["message"]["elem"]["imageList"][0]), want, "{ok}");
    let ev = bob.recv().await;
    assert_eq!(
        real(&ev["event"]["message"]["elem"]["imageList"][0]),
        want,
        "{ev}"
    );
    let page = bob
        .request(json!({"type": "history", "userID": "alice", "count": 5}))
        .await;
    let msgs = page["messages"].as_array().cloned().unwrap_or_default();
    let stored = msgs
        .iter()
        .find(|m| m["msgID"] == "lie1")
        .unwrap_or_else(|| panic!("in the history: {page}"));
    assert_eq!(real(&stored["elem"]["imageList"][0]), want);

    let doc = b"twelve bytes".to_vec();
    let up = upload(s.addr, "alice", "text/plain", "a.txt", &doc).await;
    assert_eq!(up.status, 201, "{}", String::from_utf8_lossy(&up.body));
    let fuuid = up.json()["uuid"].as_str().unwrap().to_string();
    let file = json!({"elemType": "file", "uuid": fuuid, "fileName": "a.txt", "fileSize": 1_000_000, "url": ""});
    let ok = alice
        .request(json!({"type": "send", "msgID": "lie2", "receiver": "bob", "elem": file}))
        .await;
    assert_eq!(ok["type"], "sendOk", "{ok}");
    assert_eq!(ok["message"]["elem"]["fileSize"], doc.len(), "{ok}");
    let ev = bob.recv().await;
    assert_eq!(
        ev["event"]["message"]["elem"]["fileSize"],
        doc.len(),
        "{ev}"
    );
}
