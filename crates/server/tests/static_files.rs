//! Static files stay inside `--static-dir` / `--pkg-dir`, and carry the browser's safety headers
//! (issue 20, item 5).

use crate::common;

use common::*;

use common::get_reply as get;

/// www/ with an index, a link to a file inside it, and links out of it (to a directory and to a
/// file holding a secret); pkg/ with a module and a link out.
fn tree() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let (www, pkg, outside) = (
        t.path().join("www"),
        t.path().join("pkg"),
        t.path().join("outside"),
    );
    for d in [&www, &pkg, &outside, &www.join("sub")] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(www.join("index.html"), "<h1>demo</h1>").unwrap();
    std::fs::write(www.join("sub").join("index.html"), "sub").unwrap();
    std::fs::write(pkg.join("im_revoke.js"), "export {}").unwrap();
    std::fs::write(outside.join("passwd"), "root:x:0:0").unwrap();
    std::os::unix::fs::symlink(&outside, www.join("etc")).unwrap();
    std::os::unix::fs::symlink(outside.join("passwd"), www.join("passwd")).unwrap();
    std::os::unix::fs::symlink(www.join("index.html"), www.join("home.html")).unwrap();
    std::os::unix::fs::symlink(&outside, pkg.join("up")).unwrap();
    (t, www, pkg)
}

async fn server() -> (tempfile::TempDir, TestServer) {
    let (t, www, pkg) = tree();
    let s = TestServer::start_with(move |c| {
        c.static_dir = Some(www);
        c.pkg_dir = Some(pkg);
    })
    .await;
    (t, s)
}

#[tokio::test]
async fn static_files_do_not_follow_links_out_of_the_root() {
    let (_t, s) = server().await;
    for path in [
        "/etc/passwd",
        "/passwd",
        "/pkg/up/passwd",
        "/etc/",
        "/%65tc/passwd",
        "/sub/../etc/passwd",
        "/sub/%2e%2e/etc/passwd",
    ] {
        let r = get(s.addr, path).await;
        assert!(!r.body.contains("root:x"), "{path} leaked: {}", r.body);
        assert_eq!(r.status, 404, "{path}");
    }
    // What is inside still works, a link that stays inside too.
    assert_eq!(get(s.addr, "/").await.body, "<h1>demo</h1>");
    assert_eq!(get(s.addr, "/home.html").await.body, "<h1>demo</h1>");
    assert_eq!(get(s.addr, "/sub/").await.body, "sub");
    assert_eq!(get(s.addr, "/pkg/im_revoke.js").await.body, "export {}");
    let r = get(s.addr, "/sub").await;
    assert!(matches!(r.status, 301 | 307 | 308), "{}", r.status);
    assert_eq!(r.headers["location"], "/sub/");
}

#[tokio::test]
async fn static_files_carry_safety_headers() {
    let (_t, s) = server().await;
    for path in ["/", "/pkg/im_revoke.js", "/nope.html"] {
        let r = get(s.addr, path).await;
        assert_eq!(r.headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(r.headers["x-frame-options"], "DENY", "{path}");
        let csp = &r.headers["content-security-policy"];
        for part in [
            "default-src 'self'",
            "script-src 'self' 'wasm-unsafe-eval'",
            "connect-src 'self' ws: wss: blob:",
            "img-src 'self' data: blob:",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(part), "{path}: CSP {csp} lacks {part}");
        }
    }
    assert_eq!(get(s.addr, "/").await.headers["content-type"], "text/html");
}
