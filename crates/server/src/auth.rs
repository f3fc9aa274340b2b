//! UserSig checks and minting, with the deployment's SDKAppID and secret key.

use crate::config::Secret;
use im_revoke_core::{Code, ImError};
use im_revoke_usersig::{gen_usersig, verify_usersig, UserSigError};
use std::time::{SystemTime, UNIX_EPOCH};

/// Who may log in: the application's SDKAppID and secret key.
#[derive(Clone, Debug)]
pub struct Auth {
    sdkappid: u64,
    key: Secret,
}

/// Wall-clock Unix seconds (UserSig times are in seconds).
pub fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The coded error for a UserSig failure (Tencent's 70xxx numbers).
pub fn usersig_error(e: &UserSigError) -> ImError {
    let code = Code::from_num(e.code()).unwrap_or(Code::UserSigCheckFailed);
    ImError::with_desc(code, e.to_string())
}

impl Auth {
    /// The identity UserSigs are checked against.
    pub fn new(sdkappid: u64, key: Secret) -> Auth {
        Auth { sdkappid, key }
    }

    /// The SDKAppID.
    pub fn sdkappid(&self) -> u64 {
        self.sdkappid
    }

    /// Checks that `sig` lets `user_id` log in now.
    pub fn verify(&self, user_id: &str, sig: &str) -> Result<(), ImError> {
        verify_usersig(sig, self.sdkappid, self.key.expose(), user_id, unix_secs())
            .map(|_| ())
            .map_err(|e| usersig_error(&e))
    }

    /// A UserSig for `user_id`, valid for `expire_secs` from now.
    pub fn mint(&self, user_id: &str, expire_secs: u64) -> String {
        gen_usersig(
            self.sdkappid,
            self.key.expose(),
            user_id,
            expire_secs,
            unix_secs(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mint_then_verify() {
        let a = Auth::new(1400000000, Secret::new("k"));
        let sig = a.mint("alice", 60);
        assert!(a.verify("alice", &sig).is_ok());
        assert_eq!(
            a.verify("bob", &sig).unwrap_err().code,
            Code::UserSigMismatchId
        );
        assert_eq!(a.verify("alice", "").unwrap_err().code, Code::UserSigEmpty);
        assert_eq!(
            a.verify("alice", "garbage!").unwrap_err().code,
            Code::UserSigCheckFailed
        );
    }
}
