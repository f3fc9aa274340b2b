//! The SQLite schema and its migrations: the tables as this version writes them, the
//! `event_log` view for tools, and each step from an older schema (run by
//! [`SqliteStore::open`](super::SqliteStore) according to `PRAGMA user_version`).

use im_revoke_core::{Store, StoreError};

use super::{db, SqliteStore, BACKEND};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages (
    msg_id    TEXT    NOT NULL PRIMARY KEY,
    conv      TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    sender    TEXT    NOT NULL,
    receiver  TEXT,
    group_id  TEXT,
    time_ms   INTEGER NOT NULL,
    elem      TEXT,
    revoke    TEXT,
    reply_to  TEXT,
    cloud_custom_data TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_conv_seq ON messages (conv, seq);
CREATE TABLE IF NOT EXISTS conversations (
    user_id   TEXT    NOT NULL,
    conv      TEXT    NOT NULL,
    read_seq  INTEGER NOT NULL,
    until_seq INTEGER,
    since_ms  INTEGER NOT NULL,
    PRIMARY KEY (user_id, conv)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    user_id   TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    kind      INTEGER NOT NULL,
    target    TEXT    NOT NULL,
    PRIMARY KEY (user_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events_recent (
    id        INTEGER PRIMARY KEY,
    user_id   TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    kind      INTEGER NOT NULL,
    target    TEXT    NOT NULL,
    fanout    TEXT
);
CREATE TABLE IF NOT EXISTS groups (
    group_id  TEXT    NOT NULL PRIMARY KEY,
    body      TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS group_members (
    user_id   TEXT    NOT NULL,
    group_id  TEXT    NOT NULL,
    PRIMARY KEY (user_id, group_id)
) WITHOUT ROWID;
";

/// Schema 3 → 4: every user's place in the conversations they had before conversations were
/// stored, read up to the newest message (what was there before is not shown as unread).
const BACKFILL_CONVERSATIONS: &str = "
INSERT OR IGNORE INTO conversations (user_id, conv, read_seq, until_seq, since_ms)
    SELECT sender, conv, MAX(seq), NULL, MIN(time_ms) FROM messages
    WHERE group_id IS NULL GROUP BY sender, conv;
INSERT OR IGNORE INTO conversations (user_id, conv, read_seq, until_seq, since_ms)
    SELECT receiver, conv, MAX(seq), NULL, MIN(time_ms) FROM messages
    WHERE group_id IS NULL AND receiver IS NOT NULL GROUP BY receiver, conv;
INSERT OR IGNORE INTO conversations (user_id, conv, read_seq, until_seq, since_ms)
    SELECT m.user_id, 'g' || char(31) || m.group_id,
           COALESCE((SELECT MAX(seq) FROM messages WHERE conv = 'g' || char(31) || m.group_id), 0),
           NULL, 0
    FROM group_members m;
";

/// Every user's log as one table, for tools that read the database (both tables hold an event
/// for a while after it was moved: `UNION` shows it once). A fan-out row of `events_recent`
/// (`fanout` set: a JSON list of `[userID, seq]`) shows as one event per recipient.
pub(super) const EVENT_LOG_VIEW: &str = "
DROP VIEW IF EXISTS event_log;
CREATE VIEW event_log AS
    SELECT user_id, seq, kind, target FROM events
    UNION
    SELECT user_id, seq, kind, target FROM events_recent WHERE fanout IS NULL
    UNION
    SELECT json_extract(f.value, '$[0]'), json_extract(f.value, '$[1]'), r.kind, r.target
        FROM events_recent r, json_each(r.fanout) f WHERE r.fanout IS NOT NULL;
";

impl SqliteStore {
    /// Schema 1 → 2: fills `group_members` from the groups stored before it existed.
    pub(super) fn index_members_of_existing_groups(&mut self) -> Result<(), StoreError> {
        let bodies: Vec<String> = {
            let mut st = self.conn.prepare("SELECT body FROM groups").map_err(db)?;
            let rows = st.query_map([], |r| r.get(0)).map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)?
        };
        for b in bodies {
            let g = BACKEND.group(&b)?;
            self.index_members(&g)?;
        }
        self.commit()
    }

    /// Schema 2 → 3: rebuilds an `events` table that has rowids (schemas 1 and 2) as a
    /// `WITHOUT ROWID` table with the same rows, in one transaction. Nothing when it is one.
    pub(super) fn events_without_rowid(&mut self) -> Result<(), StoreError> {
        let sql: String = self
            .conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'",
                [],
                |r| r.get(0),
            )
            .map_err(db)?;
        if sql.to_ascii_uppercase().contains("WITHOUT ROWID") {
            return Ok(());
        }
        self.begin()?
            .execute_batch(
                "CREATE TABLE events_v3 (
                user_id   TEXT    NOT NULL,
                seq       INTEGER NOT NULL,
                kind      INTEGER NOT NULL,
                target    TEXT    NOT NULL,
                PRIMARY KEY (user_id, seq)
            ) WITHOUT ROWID;
            INSERT INTO events_v3 (user_id, seq, kind, target)
                SELECT user_id, seq, kind, target FROM events ORDER BY user_id, seq;
            DROP TABLE events;
            ALTER TABLE events_v3 RENAME TO events;",
            )
            .map_err(db)?;
        self.commit()
    }

    /// Schema 4 → 5: `events_recent.fanout` (NULL in every row written before it).
    pub(super) fn fanout_column(&mut self) -> Result<(), StoreError> {
        if !self.has_column("events_recent", "fanout")? {
            self.begin()?
                .execute_batch("ALTER TABLE events_recent ADD COLUMN fanout TEXT")
                .map_err(db)?;
            self.commit()?;
        }
        Ok(())
    }

    /// Schema 3 → 4: the columns of replies and `cloudCustomData`, and every user's place in
    /// the conversations they already had ([`BACKFILL_CONVERSATIONS`]), in one transaction.
    pub(super) fn conversations_of_existing_messages(&mut self) -> Result<(), StoreError> {
        let has_column = self.has_column("messages", "reply_to")?;
        let conn = self.begin()?;
        if !has_column {
            conn.execute_batch(
                "ALTER TABLE messages ADD COLUMN reply_to TEXT;
                 ALTER TABLE messages ADD COLUMN cloud_custom_data TEXT;",
            )
            .map_err(db)?;
        }
        conn.execute_batch(BACKFILL_CONVERSATIONS).map_err(db)?;
        self.commit()
    }

    /// Whether `table` has a column `column` (a step that adds one runs once).
    fn has_column(&self, table: &str, column: &str) -> Result<bool, StoreError> {
        let n: i64 = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info(?1) WHERE name = ?2",
                [table, column],
                |r| r.get(0),
            )
            .map_err(db)?;
        Ok(n > 0)
    }
}
