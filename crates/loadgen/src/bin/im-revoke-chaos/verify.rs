//! The checks at the end of a run: the server's database (its SQLite file read-only, or its
//! PostgreSQL database) against what every client was acknowledged and applied, and the summary.

use crate::client::{kind_name, ClientLog, Dest, K_GROUP, K_NEW, K_REVOKE};
use crate::server::Db;
use im_revoke_core::RevokeInfo;
use im_revoke_loadgen::common::{self, Result};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

/// One user's event log as stored: (seq, kind, target).
pub type DbLog = Vec<(u64, u8, String)>;

pub struct DbMsg {
    pub sender: String,
    pub receiver: Option<String>,
    pub group_id: Option<String>,
    pub revoke: Option<RevokeInfo>,
}

/// What the checks read from the database: every message by msgID, and each user's event log.
pub struct DbState {
    pub msgs: HashMap<String, DbMsg>,
    pub logs: Vec<DbLog>,
}

/// Reads the messages and the logs of `users` from the server's database (after it stopped).
pub async fn read_db(db: &Db, users: &[String]) -> Result<DbState> {
    match db {
        Db::Sqlite(path) => read_sqlite(path, users),
        Db::Postgres(url) => read_postgres(url, users).await,
    }
}

/// A stored message from its columns (`revoke` as the JSON text the server writes).
fn db_msg(
    sender: String,
    receiver: Option<String>,
    group_id: Option<String>,
    revoke: Option<String>,
) -> Result<DbMsg> {
    Ok(DbMsg {
        sender,
        receiver,
        group_id,
        revoke: revoke
            .map(|j| serde_json::from_str::<RevokeInfo>(&j))
            .transpose()?,
    })
}

const MESSAGES: &str = "SELECT msg_id, sender, receiver, group_id, revoke FROM messages";

fn read_sqlite(path: &Path, users: &[String]) -> Result<DbState> {
    use rusqlite::{Connection, OpenFlags};
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let mut msgs = HashMap::new();
    let mut st = conn.prepare(MESSAGES)?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Option<String>>(4)?,
        ))
    })?;
    for row in rows {
        let (id, sender, receiver, group_id, revoke) = row?;
        msgs.insert(id, db_msg(sender, receiver, group_id, revoke)?);
    }
    let mut logs = Vec::new();
    // `event_log`: the server's view of every log (events moved to per-user order, and recent
    // ones still in arrival order).
    let mut st =
        conn.prepare("SELECT seq, kind, target FROM event_log WHERE user_id = ?1 ORDER BY seq")?;
    for u in users {
        let rows = st.query_map([u], |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                r.get::<_, i64>(1)? as u8,
                r.get::<_, String>(2)?,
            ))
        })?;
        logs.push(rows.collect::<std::result::Result<Vec<_>, _>>()?);
    }
    Ok(DbState { msgs, logs })
}

/// The same from PostgreSQL, where every user's log is the `events` table.
async fn read_postgres(url: &str, users: &[String]) -> Result<DbState> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| common::err(format!("connecting to {url}: {e}")))?;
    let driver = tokio::spawn(conn);
    let pg = |e: tokio_postgres::Error| common::err(format!("reading {url}: {e}"));
    let mut msgs = HashMap::new();
    for r in client.query(MESSAGES, &[]).await.map_err(pg)? {
        msgs.insert(
            r.try_get(0).map_err(pg)?,
            db_msg(
                r.try_get(1).map_err(pg)?,
                r.try_get(2).map_err(pg)?,
                r.try_get(3).map_err(pg)?,
                r.try_get(4).map_err(pg)?,
            )?,
        );
    }
    let st = client
        .prepare("SELECT seq, kind, target FROM events WHERE user_id = $1 ORDER BY seq")
        .await
        .map_err(pg)?;
    let mut logs = Vec::new();
    for u in users {
        let mut log = Vec::new();
        for r in client.query(&st, &[u]).await.map_err(pg)? {
            let seq: i64 = r.try_get(0).map_err(pg)?;
            let kind: i16 = r.try_get(1).map_err(pg)?;
            log.push((seq as u64, kind as u8, r.try_get(2).map_err(pg)?));
        }
        logs.push(log);
    }
    drop(client);
    let _ = driver.await;
    Ok(DbState { msgs, logs })
}

#[derive(serde::Serialize, Default)]
pub struct Report {
    pub mode: String,
    pub seed: u64,
    pub clients: usize,
    pub kills: u32,
    pub server_starts: u32,
    pub restart_ms_max: u64,
    pub storm_secs: f64,
    pub total_secs: f64,
    pub sends_issued: u64,
    pub revokes_issued: u64,
    pub sends_acked: u64,
    pub revokes_acked: u64,
    pub retry_acks_seq0: u64,
    pub requests_resent: u64,
    pub reconnects: u64,
    pub messages_in_db: usize,
    pub revoked_in_db: usize,
    pub events_checked: u64,
    pub events_live: u64,
    pub events_sync: u64,
    pub redelivered_ignored: u64,
    pub revoke_events_checked: u64,
    pub clean_shutdown: bool,
    pub revoke_to_event_ms: Option<common::Summary>,
    pub violations: usize,
    pub violation_samples: Vec<String>,
}

/// What a run left for the checks.
pub struct Outcome<'a> {
    pub users: &'a [String],
    /// groupID and member indexes.
    pub groups: &'a [(String, Vec<usize>)],
    pub logs: &'a [ClientLog],
    /// Whether the server stopped cleanly on SIGTERM.
    pub clean: bool,
}

/// The violations found: how many, and the first 40.
#[derive(Default)]
pub struct Violations {
    pub count: usize,
    pub samples: Vec<String>,
}

impl Violations {
    fn add(&mut self, s: String) {
        self.count += 1;
        if self.samples.len() < 40 {
            self.samples.push(s);
        }
    }
}

/// Every check, against what the database holds (`db`); fills the counts of `rep` and returns
/// the violations and whether every client agrees on the revoked set.
pub fn verify(o: &Outcome, db: DbState, rep: &mut Report) -> Result<(Violations, bool)> {
    let mut v = Violations::default();
    for l in o.logs {
        for s in &l.violations {
            v.add(s.clone());
        }
    }
    if !o.clean {
        v.add("the server did not stop cleanly on SIGTERM".into());
    }
    let DbState { msgs, logs: dblogs } = db;
    rep.messages_in_db = msgs.len();
    rep.revoked_in_db = msgs.values().filter(|m| m.revoke.is_some()).count();
    check_acknowledged(o, &msgs, rep, &mut v);
    let agree = check_logs(o, &msgs, &dblogs, rep, &mut v);
    Ok((v, agree))
}

/// Acknowledged sends and revokes hold, and nothing is stored that was not acknowledged.
fn check_acknowledged(
    o: &Outcome,
    msgs: &HashMap<String, DbMsg>,
    rep: &mut Report,
    v: &mut Violations,
) {
    let mut all_acked: HashSet<&str> = HashSet::new();
    let mut all_revoked: HashSet<&str> = HashSet::new();
    for (i, l) in o.logs.iter().enumerate() {
        rep.sends_issued += l.sends;
        rep.revokes_issued += l.revokes;
        rep.sends_acked += l.acked_sends.len() as u64;
        rep.revokes_acked += l.acked_revokes.len() as u64;
        rep.retry_acks_seq0 += l.retry_acks;
        rep.requests_resent += l.resent;
        rep.reconnects += l.reconnects;
        rep.events_live += l.events_live;
        rep.events_sync += l.events_sync;
        rep.redelivered_ignored += l.redelivered;
        for (id, (_, dest)) in &l.acked_sends {
            all_acked.insert(id);
            match msgs.get(id) {
                None => v.add(format!(
                    "{}: acknowledged send {id} is not in the database",
                    o.users[i]
                )),
                Some(m) => {
                    let ok = m.sender == o.users[i]
                        && match dest {
                            Dest::User(p) => {
                                m.receiver.as_deref() == Some(&o.users[*p]) && m.group_id.is_none()
                            }
                            Dest::Group(g) => m.group_id.as_deref() == Some(&o.groups[*g].0),
                        };
                    if !ok {
                        v.add(format!(
                            "{}: message {id} stored with other parties",
                            o.users[i]
                        ));
                    }
                }
            }
        }
        for (id, (req, _)) in &l.acked_revokes {
            all_revoked.insert(id);
            match msgs.get(id).and_then(|m| m.revoke.as_ref()) {
                None => v.add(format!(
                    "{}: acknowledged revoke of {id} does not hold",
                    o.users[i]
                )),
                Some(r) if r.req_id != *req || r.user_id != o.users[i] => v.add(format!(
                    "{}: {id} revoked by {} ({}), acked to us as {req}",
                    o.users[i], r.user_id, r.req_id
                )),
                Some(_) => {}
            }
        }
    }
    for (id, m) in msgs {
        if !all_acked.contains(id.as_str()) {
            v.add(format!(
                "message {id} of {} is stored but was never acknowledged",
                m.sender
            ));
        }
        if m.revoke.is_some() && !all_revoked.contains(id.as_str()) {
            v.add(format!(
                "message {id} is revoked but no revoke was acknowledged"
            ));
        }
    }
}

/// Every client's log is exactly the server's log 1..head, and the server's log holds exactly
/// what the parties of each message should see; returns whether every client agrees on the
/// revoked set.
fn check_logs(
    o: &Outcome,
    msgs: &HashMap<String, DbMsg>,
    dblogs: &[DbLog],
    rep: &mut Report,
    v: &mut Violations,
) -> bool {
    let index: HashMap<&str, usize> = o
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.as_str(), i))
        .collect();
    let mut expected: Vec<HashMap<(u8, String), u32>> = vec![HashMap::new(); o.users.len()];
    for (id, m) in msgs {
        let parties: Vec<usize> = match (&m.group_id, &m.receiver) {
            (Some(g), _) => o
                .groups
                .iter()
                .find(|(gid, _)| gid == g)
                .map(|(_, mem)| mem.clone())
                .unwrap_or_default(),
            (None, Some(r)) => [index.get(m.sender.as_str()), index.get(r.as_str())]
                .into_iter()
                .flatten()
                .copied()
                .collect(),
            (None, None) => vec![],
        };
        for p in parties {
            *expected[p].entry((K_NEW, id.clone())).or_default() += 1;
            if m.revoke.is_some() {
                *expected[p].entry((K_REVOKE, id.clone())).or_default() += 1;
            }
        }
    }
    for (g, (gid, mem)) in o.groups.iter().enumerate() {
        let _ = g;
        for &p in mem {
            *expected[p].entry((K_GROUP, gid.clone())).or_default() += 1;
        }
    }
    let mut agree = true;
    for (i, l) in o.logs.iter().enumerate() {
        let db = &dblogs[i];
        for (k, (s, _, _)) in db.iter().enumerate() {
            if *s != k as u64 + 1 {
                v.add(format!(
                    "{}: the server's log has seq {s} at position {}",
                    o.users[i],
                    k + 1
                ));
                break;
            }
        }
        let head = db.len() as u64;
        if l.final_head != head {
            v.add(format!(
                "{}: synced to {} but the log's head is {head}",
                o.users[i], l.final_head
            ));
        }
        let keys: Vec<u64> = l.applied.keys().copied().collect();
        if keys != (1..=head).collect::<Vec<_>>() {
            let missing: Vec<u64> = (1..=head)
                .filter(|s| !l.applied.contains_key(s))
                .take(5)
                .collect();
            let extra: Vec<u64> = keys
                .iter()
                .filter(|&&s| s > head)
                .take(5)
                .copied()
                .collect();
            v.add(format!(
                "{}: applied seqs are not 1..{head}: missing {missing:?}, beyond {extra:?}",
                o.users[i]
            ));
        }
        let mut seen: HashMap<(u8, String), u32> = HashMap::new();
        for (s, kind, target) in db {
            rep.events_checked += 1;
            match l.applied.get(s) {
                Some(e) if e.0 == *kind && e.1 == *target => {}
                Some(e) => v.add(format!(
                    "{}: seq {s} applied as {} {} but stored as {} {target}",
                    o.users[i],
                    kind_name(e.0),
                    e.1,
                    kind_name(*kind)
                )),
                None => {}
            }
            *seen.entry((*kind, target.clone())).or_default() += 1;
        }
        for (e, n) in &seen {
            if *n > 1 {
                v.add(format!(
                    "{}: {} {} is {n} times in the log (duplicate)",
                    o.users[i],
                    kind_name(e.0),
                    e.1
                ));
            }
        }
        if seen.len() != expected[i].len() || expected[i].iter().any(|(e, _)| !seen.contains_key(e))
        {
            agree = false;
            let missing: Vec<String> = expected[i]
                .keys()
                .filter(|e| !seen.contains_key(*e))
                .take(5)
                .map(|e| format!("{} {}", kind_name(e.0), e.1))
                .collect();
            let unexpected: Vec<String> = seen
                .keys()
                .filter(|e| !expected[i].contains_key(*e))
                .take(5)
                .map(|e| format!("{} {}", kind_name(e.0), e.1))
                .collect();
            v.add(format!(
                "{}: log misses {missing:?}, has unexpected {unexpected:?}",
                o.users[i]
            ));
        }
        rep.revoke_events_checked += seen.keys().filter(|e| e.0 == K_REVOKE).count() as u64;
        // The client's view of the revoked set.
        let mine: BTreeSet<&str> = l
            .applied
            .values()
            .filter(|e| e.0 == K_REVOKE)
            .map(|e| e.1.as_str())
            .collect();
        let want: BTreeSet<&str> = expected[i]
            .keys()
            .filter(|e| e.0 == K_REVOKE)
            .map(|e| e.1.as_str())
            .collect();
        if mine != want {
            agree = false;
            v.add(format!(
                "{}: sees {} revoked messages, {} expected",
                o.users[i],
                mine.len(),
                want.len()
            ));
        }
    }
    agree
}

/// Prints the summary of a run.
pub fn print_summary(rep: &Report, agree: bool) {
    println!(
        "\n== im-revoke-chaos {} summary (seed {}) ==",
        rep.mode, rep.seed
    );
    println!("  clients                 {}", rep.clients);
    if rep.mode == "crash" {
        println!(
            "  SIGKILLs                {} (server started {} times, slowest restart {} ms)",
            rep.kills, rep.server_starts, rep.restart_ms_max
        );
    }
    println!(
        "  storm                   {:.1} s (whole run {:.1} s)",
        rep.storm_secs, rep.total_secs
    );
    println!(
        "  sends    issued/acked   {} / {}",
        rep.sends_issued, rep.sends_acked
    );
    println!(
        "  revokes  issued/acked   {} / {}",
        rep.revokes_issued, rep.revokes_acked
    );
    println!(
        "  answers seq 0 (retry)   {}   resent requests {}   reconnects {}",
        rep.retry_acks_seq0, rep.requests_resent, rep.reconnects
    );
    println!(
        "  database                {} messages, {} revoked",
        rep.messages_in_db, rep.revoked_in_db
    );
    println!(
        "  events checked          {} (live {}, via sync {}, re-deliveries ignored {})",
        rep.events_checked, rep.events_live, rep.events_sync, rep.redelivered_ignored
    );
    println!(
        "  revoke events checked   {} (every party of every revoked message, once)",
        rep.revoke_events_checked
    );
    println!(
        "  clients agree on revoked set: {}",
        if agree { "yes" } else { "NO" }
    );
    if let Some(s) = &rep.revoke_to_event_ms {
        common::print_summary("revoke sent -> event at a party", s);
    }
    println!(
        "  clean shutdown          {}",
        if rep.clean_shutdown { "yes" } else { "NO" }
    );
    println!("  violations              {}", rep.violations);
    for s in &rep.violation_samples {
        println!("    - {s}");
    }
}
