//! The revoke windows, decided by the server's clock: 20016 (one-to-one) and 10031 (group).
//! The server runs with a 1-second window, so each test waits a little over a second once.

use crate::common;

use common::*;
use std::time::Duration;

/// A little over the 1-second window.
const PAST_THE_WINDOW: Duration = Duration::from_millis(1100);

async fn group_of_three(owner: &mut Client, admin: &mut Client, member: &mut Client) {
    assert_eq!(
        owner.create_group("g", &["admin"], &["member"]).await["type"],
        "groupOk"
    );
    assert_event(&admin.recv().await, "groupChanged");
    assert_event(&member.recv().await, "groupChanged");
}

#[tokio::test]
async fn windows_close_after_the_limit() {
    let _apart = crate::timing::timed();
    let s = TestServer::start_with(|c| {
        c.revoke_time_limit = Duration::from_secs(1);
        c.admin_revoke_time_limit = Some(Duration::from_secs(1));
    })
    .await;
    let mut alice = s.login("alice").await;
    let mut owner = s.login("owner").await;
    let mut admin = s.login("admin").await;
    let mut member = s.login("member").await;
    group_of_three(&mut owner, &mut admin, &mut member).await;

    // Within the window: allowed.
    alice.send_text("bob", "c0", "quick").await;
    assert_eq!(alice.revoke("c0").await["type"], "revokeOk");

    alice.send_text("bob", "c1", "late").await;
    member.send_group("g", "g1", "late").await;
    member.send_group("g", "g2", "late").await;
    tokio::time::sleep(PAST_THE_WINDOW).await;

    assert_error(&alice.revoke("c1").await, 20016);
    assert_error(&member.revoke("g1").await, 10031);
    assert_error(&owner.revoke("g1").await, 10031); // the owner's window is 1 s here too
    assert_error(&admin.revoke("g2").await, 10031);
}

#[tokio::test]
async fn owner_without_a_window_revokes_late() {
    let _apart = crate::timing::timed();
    let s = TestServer::start_with(|c| c.revoke_time_limit = Duration::from_secs(1)).await;
    let mut owner = s.login("owner").await;
    let mut admin = s.login("admin").await;
    let mut member = s.login("member").await;
    group_of_three(&mut owner, &mut admin, &mut member).await;
    member.send_group("g", "g1", "late").await;
    member.send_group("g", "g2", "late").await;
    tokio::time::sleep(PAST_THE_WINDOW).await;

    assert_error(&member.revoke("g1").await, 10031);
    let ok = owner.revoke("g1").await;
    assert_eq!(ok["type"], "revokeOk", "{ok}");
    assert_eq!(ok["revoked"]["revoke"]["role"], "owner");
    let ok = admin.revoke("g2").await;
    assert_eq!(ok["revoked"]["revoke"]["role"], "admin");
}
