//! The PostgreSQL schema and its creation (and migrations), once per database.

use super::*;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS imr_meta (
    key       TEXT   NOT NULL PRIMARY KEY,
    value     BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    msg_id    TEXT   NOT NULL PRIMARY KEY,
    conv      TEXT   NOT NULL,
    seq       BIGINT NOT NULL,
    sender    TEXT   NOT NULL,
    receiver  TEXT,
    group_id  TEXT,
    time_ms   BIGINT NOT NULL,
    elem      TEXT,
    revoke    TEXT,
    reply_to  TEXT,
    cloud_custom_data TEXT,
    UNIQUE (conv, seq)
);
CREATE TABLE IF NOT EXISTS conversations (
    user_id   TEXT   NOT NULL,
    conv      TEXT   NOT NULL,
    read_seq  BIGINT NOT NULL,
    until_seq BIGINT,
    since_ms  BIGINT NOT NULL,
    PRIMARY KEY (user_id, conv)
);
CREATE TABLE IF NOT EXISTS conv_heads (
    conv      TEXT   NOT NULL PRIMARY KEY,
    head      BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    user_id   TEXT     NOT NULL,
    seq       BIGINT   NOT NULL,
    kind      SMALLINT NOT NULL,
    target    TEXT     NOT NULL,
    PRIMARY KEY (user_id, seq)
);
CREATE TABLE IF NOT EXISTS user_heads (
    user_id   TEXT   NOT NULL PRIMARY KEY,
    head      BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS groups (
    group_id  TEXT   NOT NULL PRIMARY KEY,
    body      TEXT   NOT NULL
);
CREATE TABLE IF NOT EXISTS group_members (
    user_id   TEXT   NOT NULL,
    group_id  TEXT   NOT NULL,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX IF NOT EXISTS group_members_by_group ON group_members (group_id);
";

/// Schema 1 → 2: the columns of replies and `cloudCustomData` (only then: an `ALTER TABLE`
/// waits for every open transaction on `messages`, which running nodes hold), and every user's
/// place in the conversations they had before conversations were stored, read up to the newest
/// message.
const BACKFILL_CONVERSATIONS: &str = "
ALTER TABLE messages ADD COLUMN IF NOT EXISTS reply_to TEXT;
ALTER TABLE messages ADD COLUMN IF NOT EXISTS cloud_custom_data TEXT;
INSERT INTO conversations (user_id, conv, read_seq, until_seq, since_ms)
    SELECT sender, conv, MAX(seq), NULL, MIN(time_ms) FROM messages
    WHERE group_id IS NULL GROUP BY sender, conv
ON CONFLICT DO NOTHING;
INSERT INTO conversations (user_id, conv, read_seq, until_seq, since_ms)
    SELECT receiver, conv, MAX(seq), NULL, MIN(time_ms) FROM messages
    WHERE group_id IS NULL AND receiver IS NOT NULL GROUP BY receiver, conv
ON CONFLICT DO NOTHING;
INSERT INTO conversations (user_id, conv, read_seq, until_seq, since_ms)
    SELECT m.user_id, 'g' || chr(31) || m.group_id,
           COALESCE((SELECT MAX(seq) FROM messages WHERE conv = 'g' || chr(31) || m.group_id), 0),
           NULL, 0
    FROM group_members m
ON CONFLICT DO NOTHING;
";

impl PgStore {
    pub(super) fn create_schema(c: &mut Conn) -> Result<(), StoreError> {
        c.batch_execute("BEGIN").map_err(|e| pg_error(&e))?;
        let r = Self::create_schema_in(c);
        let end = if r.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let e = c.batch_execute(end).map_err(|e| pg_error(&e));
        r.and(e)
    }

    pub(super) fn create_schema_in(c: &mut Conn) -> Result<(), StoreError> {
        // Nodes starting together must not race on CREATE TABLE IF NOT EXISTS.
        c.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
            .map_err(|e| pg_error(&e))?;
        c.batch_execute(SCHEMA).map_err(|e| pg_error(&e))?;
        // The webhook outbox and the attachment tables (new tables only: the schema version
        // stays).
        c.batch_execute(&super::super::webhooks::pg_table())
            .map_err(|e| pg_error(&e))?;
        c.batch_execute(uploads::schema())
            .map_err(|e| pg_error(&e))?;
        c.execute(
            "INSERT INTO imr_meta (key, value) VALUES ('schema', $1) ON CONFLICT (key) DO NOTHING",
            &[&SCHEMA_VERSION],
        )
        .map_err(|e| pg_error(&e))?;
        let version: i64 = c
            .query_one("SELECT value FROM imr_meta WHERE key = 'schema'", &[])
            .and_then(|r| r.try_get(0))
            .map_err(|e| pg_error(&e))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError(format!(
                "postgres: database schema version {version} is newer than this server ({SCHEMA_VERSION})"
            )));
        }
        if version < 2 {
            c.batch_execute(BACKFILL_CONVERSATIONS)
                .map_err(|e| pg_error(&e))?;
        }
        if version < SCHEMA_VERSION {
            c.execute(
                "UPDATE imr_meta SET value = $1 WHERE key = 'schema'",
                &[&SCHEMA_VERSION],
            )
            .map_err(|e| pg_error(&e))?;
        }
        Ok(())
    }
}
