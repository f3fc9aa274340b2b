//! The wake-up signal between nodes as it travels through PostgreSQL: the NOTIFY channel and the
//! payload format. [`super::pg::PgStore`] sends it at each commit ([`payloads`]); the LISTEN side
//! (`crate::wakeup`) reads it ([`parse_payload`]). Both ends are here so they cannot drift apart.
//!
//! A payload is `"u id id …"`: the userIDs whose logs grew in one transaction (userIDs never
//! contain a space). It stays under [`MAX_NOTIFY_BYTES`] (several notifications if needed);
//! past [`MAX_NOTIFY_CHUNKS`] the payload is [`WAKE_ALL`] instead. A signal carries no data:
//! nodes read the events by seq, so a lost or merged notification loses nothing.

use std::collections::BTreeSet;

/// The NOTIFY channel of the wake-up signal.
pub const CHANNEL: &str = "imr_events";

/// Payload meaning "every user may have new events" (a list starts with `u`, so it cannot be
/// mistaken for it).
pub const WAKE_ALL: &str = "*";

/// Largest NOTIFY payload sent (PostgreSQL's limit is 8000 bytes).
pub const MAX_NOTIFY_BYTES: usize = 7900;

/// Most notifications one commit sends before it sends [`WAKE_ALL`] instead.
pub const MAX_NOTIFY_CHUNKS: usize = 32;

/// The NOTIFY payloads for the users in `touched`.
pub fn payloads(touched: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::from("u");
    for u in touched {
        if cur.len() + 1 + u.len() > MAX_NOTIFY_BYTES {
            out.push(std::mem::replace(&mut cur, String::from("u")));
            if out.len() >= MAX_NOTIFY_CHUNKS {
                return vec![WAKE_ALL.to_string()];
            }
        }
        cur.push(' ');
        cur.push_str(u);
    }
    if cur.len() > 1 {
        out.push(cur);
    }
    out
}

/// Parses a NOTIFY payload: `None` for [`WAKE_ALL`], else the userIDs.
pub fn parse_payload(payload: &str) -> Option<Vec<String>> {
    // WAKE_ALL, or anything unexpected: `None`, resync everyone.
    payload.strip_prefix('u').map(|rest| {
        rest.split(' ')
            .filter(|u| !u.is_empty())
            .map(String::from)
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_chunked_and_fall_back_to_wake_all() {
        let few: BTreeSet<String> = ["alice", "bob"].iter().map(|s| s.to_string()).collect();
        assert_eq!(payloads(&few), ["u alice bob"]);
        assert!(payloads(&BTreeSet::new()).is_empty());
        let many: BTreeSet<String> = (0..2000).map(|i| format!("user-{i:08}")).collect();
        let p = payloads(&many);
        assert!(p.len() > 1 && p.len() <= MAX_NOTIFY_CHUNKS, "{}", p.len());
        assert!(p.iter().all(|s| s.len() <= MAX_NOTIFY_BYTES));
        let back: BTreeSet<String> = p.iter().flat_map(|s| parse_payload(s).unwrap()).collect();
        assert_eq!(back, many);
        let huge: BTreeSet<String> = (0..40_000).map(|i| format!("user-{i:08}")).collect();
        assert_eq!(payloads(&huge), [WAKE_ALL]);
        assert_eq!(parse_payload(WAKE_ALL), None);
    }
}
