//! The revoke policy, as a pure function, and the deployment's configuration.
//!
//! The same function decides on the server (with the server clock) and on the client (with the
//! client's estimate of the server clock, to fast-fail and to drive `canRevoke`).

use crate::error::{Code, ImError};
use crate::model::{GroupRole, Message, RevokerRole};
use serde::{Deserialize, Serialize};

/// What a deployment can set. Times are milliseconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Config {
    /// How long a sender may revoke their own message (default 120 000 ms = 2 minutes).
    pub revoke_time_limit_ms: u64,
    /// How long a group owner or admin may revoke others' messages; `None` means no limit.
    pub admin_revoke_time_limit_ms: Option<u64>,
    /// Longest message text, in bytes (default 12 KB).
    pub max_text_bytes: usize,
    /// Longest revoke reason, in bytes.
    pub max_reason_bytes: usize,
    /// Most members a group may have, its owner included (default 6,000, Tencent's ordinary
    /// group; over it: 10014 at create and at add).
    pub max_group_members: usize,
    /// Most userIDs one `createGroup` (members and admins) or `addGroupMembers` may name
    /// (default 500, Tencent's per-call limit; over it: 10004).
    pub max_members_per_call: usize,
    /// Most messages one history or find request returns.
    pub max_page: usize,
    /// Most events sent in one catch-up frame after a reconnect.
    pub sync_page: usize,
    /// Requests per second one user may make, across all their devices (0 = unlimited).
    pub user_rate_per_sec: u32,
    /// Requests one user may make in a burst above that rate.
    pub user_burst: u32,
    /// The fan-out budget: recipients per second one user's sends, revokes and group changes
    /// may reach, across all their devices (0 = unlimited). Each such request costs the number
    /// of users it reaches (the sender included); over budget it is refused with 60018 before
    /// anything is written, so that no user takes more than a fair share of the hub.
    pub user_fanout_rate_per_sec: u32,
    /// Recipients one user may reach in a burst above that rate. A request that reaches more
    /// than the burst needs a full budget (so the largest group stays reachable).
    pub user_fanout_burst: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            revoke_time_limit_ms: 120_000,
            admin_revoke_time_limit_ms: None,
            max_text_bytes: 12 * 1024,
            max_reason_bytes: crate::model::MAX_REASON,
            max_group_members: 6_000,
            max_members_per_call: 500,
            max_page: 100,
            sync_page: 500,
            user_rate_per_sec: 100,
            user_burst: 200,
            user_fanout_rate_per_sec: 6_000,
            user_fanout_burst: 30_000,
        }
    }
}

/// Who is asking to revoke, as far as the policy needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actor<'a> {
    /// The actor's userID.
    pub user_id: &'a str,
    /// The actor's role in the message's group (`None` for one-to-one or non-members).
    pub role: Option<GroupRole>,
}

/// The verdict when a revoke is allowed: in what capacity, and until when (server ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allowed {
    /// The capacity the revoke is made in.
    pub role: RevokerRole,
    /// Last server instant (ms) at which the revoke is still allowed; `None` = no limit.
    pub deadline_ms: Option<u64>,
}

/// Decides whether `actor` may revoke `msg` at server time `now_ms`.
///
/// `sender_role` is the message sender's current role in the group (`None` for one-to-one or
/// when the sender has left). Rules:
/// - the sender may revoke within `revoke_time_limit_ms` of the message's server timestamp
///   (inclusive: at exactly the limit it is still allowed, one millisecond later it is not);
/// - in a group, the owner may revoke anyone's message, and an admin an ordinary member's (or a
///   former member's), within `admin_revoke_time_limit_ms` (default: no limit);
/// - the sender's own window applies when the owner/admin is also the sender;
/// - a message that is already revoked cannot be revoked again (20023).
pub fn check_revoke(
    msg: &Message,
    actor: Actor<'_>,
    sender_role: Option<GroupRole>,
    now_ms: u64,
    cfg: &Config,
) -> Result<Allowed, ImError> {
    let is_group = msg.group_id.is_some();
    if msg.is_revoked() {
        return Err(ImError::new(Code::AlreadyRevoked));
    }
    let time_limit_code = if is_group {
        Code::GroupRevokeTimeLimit
    } else {
        Code::C2cRevokeTimeLimit
    };
    let within = |limit: Option<u64>| -> Result<Option<u64>, ImError> {
        match limit {
            None => Ok(None),
            Some(l) => {
                let deadline = msg.time_ms.saturating_add(l);
                if now_ms <= deadline {
                    Ok(Some(deadline))
                } else {
                    Err(ImError::new(time_limit_code))
                }
            }
        }
    };

    if actor.user_id == msg.sender {
        if is_group && actor.role.is_none() {
            // Left the group: no longer allowed to act in it.
            return Err(ImError::with_desc(
                Code::GroupPermissionDeny,
                "not a member of this group",
            ));
        }
        let sender_window = within(Some(cfg.revoke_time_limit_ms));
        // An owner or admin revoking their own message may also use the moderator window, if
        // that one is longer.
        if let (Err(e), Some(GroupRole::Owner | GroupRole::Admin)) = (&sender_window, actor.role) {
            if let Ok(deadline) = within(cfg.admin_revoke_time_limit_ms) {
                let role = if actor.role == Some(GroupRole::Owner) {
                    RevokerRole::Owner
                } else {
                    RevokerRole::Admin
                };
                return Ok(Allowed {
                    role,
                    deadline_ms: deadline,
                });
            }
            return Err(e.clone());
        }
        return sender_window.map(|deadline_ms| Allowed {
            role: RevokerRole::Sender,
            deadline_ms,
        });
    }

    if !is_group {
        return Err(ImError::new(Code::RevokeNotSender));
    }
    let role = match actor.role {
        None => {
            return Err(ImError::with_desc(
                Code::GroupPermissionDeny,
                "not a member of this group",
            ))
        }
        Some(GroupRole::Member) => {
            return Err(ImError::with_desc(
                Code::GroupPermissionDeny,
                "a member may revoke only their own messages",
            ))
        }
        Some(GroupRole::Owner) => RevokerRole::Owner,
        Some(GroupRole::Admin) => {
            if matches!(sender_role, Some(GroupRole::Owner | GroupRole::Admin)) {
                return Err(ImError::with_desc(
                    Code::GroupPermissionDeny,
                    "an admin may not revoke the owner's or another admin's message",
                ));
            }
            RevokerRole::Admin
        }
    };
    within(cfg.admin_revoke_time_limit_ms).map(|deadline_ms| Allowed { role, deadline_ms })
}

/// Decides whether an app admin (an account of the app's backend, over the REST API) may revoke
/// `msg`: always, with no time limit, in the capacity of [`RevokerRole::Admin`] — except a
/// message already revoked (20023), so that recalling twice fails and makes no second event.
pub fn check_app_admin_revoke(msg: &Message) -> Result<Allowed, ImError> {
    if msg.is_revoked() {
        return Err(ImError::new(Code::AlreadyRevoked));
    }
    Ok(Allowed {
        role: RevokerRole::Admin,
        deadline_ms: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Elem, RevokeInfo};

    const T0: u64 = 1_700_000_000_000;

    fn msg(sender: &str, group: bool) -> Message {
        Message {
            msg_id: "m".into(),
            sender: sender.into(),
            receiver: (!group).then(|| "bob".to_string()),
            group_id: group.then(|| "g".to_string()),
            time_ms: T0,
            seq: 1,
            elem: Some(Elem::Text { text: "x".into() }),
            revoke: None,
            reply_to: None,
            cloud_custom_data: None,
        }
    }

    fn me(user: &str, role: Option<GroupRole>) -> Actor<'_> {
        Actor {
            user_id: user,
            role,
        }
    }

    #[test]
    fn c2c_sender_window_edges() {
        let cfg = Config::default();
        let m = msg("alice", false);
        let lim = cfg.revoke_time_limit_ms;
        let ok = check_revoke(&m, me("alice", None), None, T0 + lim - 1, &cfg).unwrap();
        assert_eq!(ok.role, RevokerRole::Sender);
        assert_eq!(ok.deadline_ms, Some(T0 + lim));
        assert!(check_revoke(&m, me("alice", None), None, T0 + lim, &cfg).is_ok());
        let e = check_revoke(&m, me("alice", None), None, T0 + lim + 1, &cfg).unwrap_err();
        assert_eq!(e.code, Code::C2cRevokeTimeLimit);
    }

    #[test]
    fn group_sender_window_edges() {
        let cfg = Config {
            revoke_time_limit_ms: 5_000,
            ..Config::default()
        };
        let m = msg("carol", true);
        let a = me("carol", Some(GroupRole::Member));
        let s = Some(GroupRole::Member);
        assert!(check_revoke(&m, a, s, T0 + 4_999, &cfg).is_ok());
        assert!(check_revoke(&m, a, s, T0 + 5_000, &cfg).is_ok());
        let e = check_revoke(&m, a, s, T0 + 5_001, &cfg).unwrap_err();
        assert_eq!(e.code, Code::GroupRevokeTimeLimit);
    }

    #[test]
    fn c2c_only_sender() {
        let cfg = Config::default();
        let e = check_revoke(&msg("alice", false), me("bob", None), None, T0, &cfg).unwrap_err();
        assert_eq!(e.code, Code::RevokeNotSender);
    }

    #[test]
    fn already_revoked() {
        let cfg = Config::default();
        let mut m = msg("alice", false);
        m.revoke = Some(RevokeInfo {
            user_id: "alice".into(),
            role: RevokerRole::Sender,
            reason: String::new(),
            time_ms: T0,
            req_id: "r".into(),
        });
        let e = check_revoke(&m, me("alice", None), None, T0, &cfg).unwrap_err();
        assert_eq!(e.code, Code::AlreadyRevoked);
    }

    /// The whole owner/admin/member matrix: (actor role, sender role) → allowed?
    #[test]
    fn group_permission_matrix() {
        use GroupRole::*;
        let cfg = Config::default();
        let late = T0 + 10 * cfg.revoke_time_limit_ms; // long after the sender window
        let cases: &[(Option<GroupRole>, Option<GroupRole>, Option<RevokerRole>)] = &[
            (Some(Owner), Some(Member), Some(RevokerRole::Owner)),
            (Some(Owner), Some(Admin), Some(RevokerRole::Owner)),
            (Some(Owner), None, Some(RevokerRole::Owner)),
            (Some(Admin), Some(Member), Some(RevokerRole::Admin)),
            (Some(Admin), None, Some(RevokerRole::Admin)),
            (Some(Admin), Some(Admin), None),
            (Some(Admin), Some(Owner), None),
            (Some(Member), Some(Member), None),
            (Some(Member), Some(Owner), None),
            (None, Some(Member), None),
        ];
        for (actor_role, sender_role, want) in cases {
            let got = check_revoke(
                &msg("sam", true),
                me("x", *actor_role),
                *sender_role,
                late,
                &cfg,
            );
            match want {
                Some(role) => {
                    assert_eq!(got.unwrap().role, *role, "{actor_role:?}/{sender_role:?}")
                }
                None => assert_eq!(
                    got.unwrap_err().code,
                    Code::GroupPermissionDeny,
                    "{actor_role:?}/{sender_role:?}"
                ),
            }
        }
    }

    #[test]
    fn admin_window_when_configured() {
        let cfg = Config {
            admin_revoke_time_limit_ms: Some(60_000),
            ..Config::default()
        };
        let m = msg("sam", true);
        let a = me("boss", Some(GroupRole::Owner));
        let s = Some(GroupRole::Member);
        assert!(check_revoke(&m, a, s, T0 + 60_000, &cfg).is_ok());
        assert_eq!(
            check_revoke(&m, a, s, T0 + 60_001, &cfg).unwrap_err().code,
            Code::GroupRevokeTimeLimit
        );
    }

    #[test]
    fn owner_own_message_uses_longer_window() {
        let cfg = Config::default(); // admin window: none
        let m = msg("boss", true);
        let got = check_revoke(
            &m,
            me("boss", Some(GroupRole::Owner)),
            Some(GroupRole::Owner),
            T0 + 999_999_999,
            &cfg,
        )
        .unwrap();
        assert_eq!(got.role, RevokerRole::Owner);
        assert_eq!(got.deadline_ms, None);
    }

    #[test]
    fn sender_who_left_group_cannot_revoke() {
        let cfg = Config::default();
        let e = check_revoke(&msg("sam", true), me("sam", None), None, T0, &cfg).unwrap_err();
        assert_eq!(e.code, Code::GroupPermissionDeny);
    }

    #[test]
    fn app_admin_has_no_time_limit_but_revokes_once() {
        let mut m = msg("sam", false);
        let got = check_app_admin_revoke(&m).unwrap();
        assert_eq!(got.role, RevokerRole::Admin);
        assert_eq!(got.deadline_ms, None);
        m.revoke = Some(RevokeInfo {
            user_id: "administrator".into(),
            role: RevokerRole::Admin,
            reason: String::new(),
            time_ms: T0,
            req_id: "r".into(),
        });
        assert_eq!(
            check_app_admin_revoke(&m).unwrap_err().code,
            Code::AlreadyRevoked
        );
    }
}
