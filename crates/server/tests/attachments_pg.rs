//! Attachments over PostgreSQL (started by the test on 127.0.0.1; skipped loudly only if it
//! cannot run here, see `pg/mod.rs`): the uploads' claims and the revoke's deletion as on
//! SQLite, and two nodes sharing one S3-compatible bucket (`moto_server`, `s3/mod.rs`): upload
//! through one node, download and revoke through the other.

use crate::attach_support;
use crate::common;
use crate::pg;
use crate::process;
use crate::s3;

use attach_support::*;
use common::*;
use im_revoke_server::{Secret, ServerConfig};
use process::Proc;
use serde_json::json;
use std::net::SocketAddr;
use tokio::time::timeout;

async fn start_pg(db: &str) -> Option<(pg::Pg, String)> {
    let db = db.to_string();
    tokio::task::spawn_blocking(move || {
        let pg = pg::Pg::start()?;
        let url = pg.create_db(&db);
        Some((pg, url))
    })
    .await
    .unwrap()
}

/// The first message's attachment URL in an event, an answer or a history page.
fn url_of(m: &serde_json::Value) -> String {
    let e = &m["elem"];
    e["imageList"][0]["url"]
        .as_str()
        .or(e["url"].as_str())
        .unwrap_or_else(|| panic!("no URL in {m}"))
        .to_string()
}

async fn status(addr: SocketAddr, url: &str) -> u16 {
    http(addr, "GET", url, &[], b"").await.status
}

#[tokio::test]
async fn uploads_on_postgres_are_claimed_served_and_gone_on_revoke() {
    let Some((pg, url)) = start_pg("uploads").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        url.clone().into(),
        Secret::new(KEY),
    );
    cfg.sdkappid = SDKAPPID;
    cfg.attachments.dir = Some(dir.path().to_path_buf());
    let server = timeout(WAIT, im_revoke_server::start(cfg))
        .await
        .expect("starts in time")
        .expect("starts");
    let a = server.local_addr();
    let mut alice = Client::login(a, "alice").await;
    let mut bob = Client::login(a, "bob").await;

    let bytes = png(40, 30);
    let up = upload(a, "alice", "image/png", "cat.png", &bytes).await;
    assert_eq!(up.status, 201, "{}", String::from_utf8_lossy(&up.body));
    let uuid = up.json()["uuid"].as_str().unwrap().to_string();
    assert_eq!(files_in(dir.path()), 1);

    // Someone else's upload, and one sent already, are refused.
    let elem = image_elem(&uuid, bytes.len());
    let f = bob
        .request(json!({"type": "send", "msgID": "b1", "receiver": "alice", "elem": elem}))
        .await;
    assert_error(&f, 300012);
    let ok = alice
        .request(json!({"type": "send", "msgID": "i1", "receiver": "bob", "elem": elem}))
        .await;
    assert_eq!(ok["type"], "sendOk", "{ok}");
    let mine = url_of(&ok["message"]);
    let f = alice
        .request(json!({"type": "send", "msgID": "i2", "receiver": "bob", "elem": elem}))
        .await;
    assert_error(&f, 300012);

    let ev = bob.recv().await;
    assert_event(&ev, "newMessage");
    let theirs = url_of(&ev["event"]["message"]);
    assert!(theirs.contains("u=bob"), "{theirs}");
    let got = http(a, "GET", &theirs, &[], b"").await;
    assert_eq!((got.status, &got.body), (200, &bytes));
    assert_eq!(got.headers["content-type"], "image/png");
    let part = http(a, "GET", &theirs, &[("Range", "bytes=2-5".into())], b"").await;
    assert_eq!((part.status, &part.body[..]), (206, &bytes[2..6]));
    let bad = http(a, "GET", &theirs, &[("Range", "bytes=999-".into())], b"").await;
    assert_eq!(bad.status, 416);
    assert_eq!(
        bad.headers["content-range"],
        format!("bytes */{}", bytes.len())
    );
    // A stranger: not a party (the signature is for bob).
    let eve = theirs.replace("u=bob", "u=eve");
    assert_eq!(status(a, &eve).await, 403);

    // A group: members download, a removed member no longer does.
    let up = upload(a, "alice", "application/pdf", "r.pdf", PDF).await;
    let doc = up.json()["uuid"].as_str().unwrap().to_string();
    assert_eq!(
        alice.create_group("g1", &[], &["bob"]).await["type"],
        "groupOk"
    );
    bob.recv().await;
    let file = json!({"elemType": "file", "uuid": doc, "fileName": "r.pdf", "fileSize": PDF.len(), "url": ""});
    let ok = alice
        .request(json!({"type": "send", "msgID": "g1m", "groupID": "g1", "elem": file}))
        .await;
    assert_eq!(ok["type"], "sendOk", "{ok}");
    let ev = bob.recv().await;
    let group_url = url_of(&ev["event"]["message"]);
    assert_eq!(status(a, &group_url).await, 200);
    let f = alice
        .request(json!({"type": "removeGroupMembers", "groupID": "g1", "members": ["bob"]}))
        .await;
    assert_eq!(f["type"], "groupOk", "{f}");
    assert_eq!(status(a, &group_url).await, 404, "not a member any more");

    // Revoke: 410 at once for everyone, then the bytes are deleted.
    assert_eq!(alice.revoke("i1").await["type"], "revokeOk");
    assert_eq!(status(a, &theirs).await, 410);
    assert_eq!(status(a, &mine).await, 410);
    let path = dir.path().join(&uuid);
    wait_until("the bytes to be deleted", || !path.exists()).await;
    assert!(dir.path().join(&doc).exists(), "the group's file stays");
    // The sweeper deletes the bytes first, then their row of the schedule (a stop in between
    // deletes them again at the next start): the row goes a moment after the file.
    let mut pg = pg;
    let mut left = -1;
    for _ in 0..100 {
        let (p, n) = tokio::task::spawn_blocking(move || {
            let n: i64 = pg
                .client("uploads")
                .query_one("SELECT COUNT(*) FROM attachment_deletes", &[])
                .unwrap()
                .get(0);
            (pg, n)
        })
        .await
        .unwrap();
        pg = p;
        left = n;
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(left, 0, "the schedule is worked off");

    drop((alice, bob));
    timeout(WAIT, server.shutdown())
        .await
        .expect("shutdown")
        .expect("clean");
    tokio::task::spawn_blocking(move || drop(pg)).await.unwrap();
}

#[tokio::test]
async fn two_nodes_share_an_s3_bucket_upload_on_one_revoke_on_the_other() {
    let Some(moto) = tokio::task::spawn_blocking(s3::Moto::start).await.unwrap() else {
        return;
    };
    let Some((pg, url)) = start_pg("s3nodes").await else {
        return;
    };
    const BUCKET: &str = "imr-attachments";
    moto.create_bucket(BUCKET);
    let endpoint = moto.endpoint();
    let args = [
        "--attachments-s3-bucket",
        BUCKET,
        "--attachments-s3-endpoint",
        endpoint.as_str(),
        "--attachments-s3-region",
        "us-east-1",
    ];
    let env = [
        ("AWS_ACCESS_KEY_ID", s3::ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", s3::SECRET_KEY),
    ];
    let n1 = Proc::start_env(&url, &args, &env);
    let n2 = Proc::start_env(&url, &args, &env);
    let (a1, a2) = (n1.addr, n2.addr);
    let mut alice = Client::login(a1, "alice").await;
    let mut bob = Client::login(a2, "bob").await;

    // Upload through node 1: the bytes are in the bucket.
    let bytes = png(64, 48);
    let up = upload(a1, "alice", "image/png", "shared.png", &bytes).await;
    assert_eq!(up.status, 201, "{}", String::from_utf8_lossy(&up.body));
    let uuid = up.json()["uuid"].as_str().unwrap().to_string();
    assert_eq!(moto.keys(BUCKET), vec![uuid.clone()]);
    let ok = alice
        .request(json!({"type": "send", "msgID": "s1", "receiver": "bob",
                        "elem": image_elem(&uuid, bytes.len())}))
        .await;
    assert_eq!(ok["type"], "sendOk", "{ok}");
    let mine = url_of(&ok["message"]);

    // Download through node 2 (bob is there; the event reached him through PostgreSQL).
    let ev = bob.recv().await;
    assert_event(&ev, "newMessage");
    let theirs = url_of(&ev["event"]["message"]);
    let got = http(a2, "GET", &theirs, &[], b"").await;
    assert_eq!((got.status, &got.body), (200, &bytes));
    assert_eq!(got.headers["x-content-type-options"], "nosniff");
    let part = http(a2, "GET", &theirs, &[("Range", "bytes=-4".into())], b"").await;
    assert_eq!(
        (part.status, &part.body[..]),
        (206, &bytes[bytes.len() - 4..])
    );
    assert_eq!(
        http(a2, "GET", &theirs, &[("Range", "bytes=9-2".into())], b"")
            .await
            .status,
        416
    );
    assert_eq!(status(a2, &mine).await, 200, "any node serves any URL");

    // Revoke through node 2: 410 on both nodes at once, and the object leaves the bucket.
    let mut alice2 = Client::login(a2, "alice").await;
    assert_eq!(alice2.revoke("s1").await["type"], "revokeOk");
    for (node, u) in [(a1, &theirs), (a2, &theirs), (a1, &mine), (a2, &mine)] {
        assert_eq!(status(node, u).await, 410, "{node} {u}");
    }
    wait_until("the object to be deleted from the bucket", || {
        !moto.has(BUCKET, &uuid)
    })
    .await;
    assert!(moto.keys(BUCKET).is_empty());

    drop((alice, alice2, bob, n1, n2));
    tokio::task::spawn_blocking(move || drop((pg, moto)))
        .await
        .unwrap();
}

/// On PostgreSQL as on SQLite: a server stopped between a revoke and the deletion of the
/// revoked message's bytes (the sweeper asleep) deletes them at its next start, from the
/// schedule the revoke committed; the URL answered 410 from the revoke on.
#[tokio::test]
async fn a_stop_between_revoke_and_delete_still_deletes_on_restart_postgres() {
    let Some((pg, url)) = start_pg("sweep_restart").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = || {
        let mut c = ServerConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            url.clone().into(),
            Secret::new(KEY),
        );
        c.sdkappid = SDKAPPID;
        c.attachments.dir = Some(dir.path().to_path_buf());
        // The sweeper runs only at start: what the revoke schedules waits for the next one.
        c.attachments.sweep_every = std::time::Duration::from_secs(3600);
        c
    };
    let server = timeout(WAIT, im_revoke_server::start(cfg()))
        .await
        .expect("starts in time")
        .expect("starts");
    let a = server.local_addr();
    let mut alice = Client::login(a, "alice").await;
    let up = upload(a, "alice", "application/pdf", "r.pdf", PDF).await;
    assert_eq!(up.status, 201, "{}", String::from_utf8_lossy(&up.body));
    let uuid = up.json()["uuid"].as_str().unwrap().to_string();
    let file = json!({"elemType": "file", "uuid": uuid, "fileName": "r.pdf", "fileSize": PDF.len(), "url": ""});
    let ok = alice
        .request(json!({"type": "send", "msgID": "f1", "receiver": "bob", "elem": file}))
        .await;
    assert_eq!(ok["type"], "sendOk", "{ok}");
    let mine = url_of(&ok["message"]);
    assert_eq!(alice.revoke("f1").await["type"], "revokeOk");
    assert_eq!(status(a, &mine).await, 410, "gone at once");
    let bytes = dir.path().join(&uuid);
    assert!(bytes.exists(), "not deleted yet (the sweeper sleeps)");
    drop(alice);
    timeout(WAIT, server.shutdown())
        .await
        .expect("shutdown")
        .expect("clean");

    let server = timeout(WAIT, im_revoke_server::start(cfg()))
        .await
        .expect("starts again in time")
        .expect("starts again");
    wait_until("the restart to delete the bytes", || !bytes.exists()).await;
    assert_eq!(status(server.local_addr(), &mine).await, 410);
    timeout(WAIT, server.shutdown())
        .await
        .expect("shutdown")
        .expect("clean");
    tokio::task::spawn_blocking(move || drop(pg)).await.unwrap();
}
