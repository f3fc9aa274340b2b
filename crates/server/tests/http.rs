//! The HTTP side: /healthz, the dev UserSig endpoint, static files.

use crate::common;

use common::*;

#[tokio::test]
async fn healthz() {
    let s = TestServer::start().await;
    assert_eq!(get(s.addr, "/healthz").await, (200, "ok".to_string()));
}

#[tokio::test]
async fn dev_usersig_only_in_dev_mode() {
    let s = TestServer::start().await;
    assert_eq!(get(s.addr, "/dev/usersig?userID=alice").await.0, 404);

    let s = TestServer::start_with(|c| c.dev = true).await;
    let (status, body) = get(s.addr, "/dev/usersig?userID=alice").await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["userID"], "alice");
    assert_eq!(v["sdkAppID"], SDKAPPID);
    // The minted sig logs in.
    let mut c = s.connect().await;
    let f = c.login_with("alice", v["userSig"].as_str().unwrap()).await;
    assert_eq!(f["type"], "loginOk", "{f}");
    assert_eq!(get(s.addr, "/dev/usersig?userID=a%20b").await.0, 400);
    assert_eq!(get(s.addr, "/dev/usersig").await.0, 400);
}

#[tokio::test]
async fn dev_mode_refuses_a_public_address() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = im_revoke_server::ServerConfig::new(
        "0.0.0.0:0".parse().unwrap(),
        dir.path().join("x.db"),
        im_revoke_server::Secret::new(KEY),
    );
    cfg.dev = true;
    assert!(im_revoke_server::start(cfg).await.is_err());
}

#[tokio::test]
async fn static_dirs() {
    let www = tempfile::tempdir().unwrap();
    let pkg = tempfile::tempdir().unwrap();
    std::fs::write(www.path().join("index.html"), "<h1>demo</h1>").unwrap();
    std::fs::write(pkg.path().join("im_revoke.js"), "export {}").unwrap();
    let (w, p) = (www.path().to_owned(), pkg.path().to_owned());
    let s = TestServer::start_with(move |c| {
        c.static_dir = Some(w);
        c.pkg_dir = Some(p);
    })
    .await;
    assert_eq!(get(s.addr, "/").await, (200, "<h1>demo</h1>".to_string()));
    assert_eq!(
        get(s.addr, "/pkg/im_revoke.js").await,
        (200, "export {}".to_string())
    );
    assert_eq!(get(s.addr, "/nope.html").await.0, 404);
    assert_eq!(get(s.addr, "/healthz").await.1, "ok");
}
