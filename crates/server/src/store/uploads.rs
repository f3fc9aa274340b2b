//! The upload tables, next to the messages in whichever database the hub uses, and the side of
//! them the HTTP routes and the sweeper reach on a connection of their own ([`UploadDb`]).
//!
//! `uploads (key, owner, mime, name, size, width, height, created_ms, msg_id, gone)`: one row
//! per upload. The hub's store writes `msg_id` when a send claims it
//! ([`im_revoke_core::Store::claim_attachments`]) and `gone` when the message is revoked, in the
//! batch's transaction, together with one `attachment_deletes (key)` row per upload: the
//! durable schedule the sweeper works through (`crate::upload`). So the URLs answer 410 from
//! the revoke's commit on, and a crash between the revoke and the deletion of the bytes still
//! deletes them at the next start — on any node, when several share PostgreSQL.
//!
//! The SQL is written once with `?N` placeholders and given to PostgreSQL with `$N` ([`pg`]).

use im_revoke_core::store::UploadFacts;
use rusqlite::OptionalExtension;

/// The columns of both tables, in SQL both databases accept.
const TABLES: &str = "
CREATE TABLE IF NOT EXISTS uploads (
    key        TEXT    NOT NULL PRIMARY KEY,
    owner      TEXT    NOT NULL,
    mime       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    size       BIGINT  NOT NULL,
    width      BIGINT,
    height     BIGINT,
    created_ms BIGINT  NOT NULL,
    msg_id     TEXT,
    gone       BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS uploads_msg ON uploads (msg_id);
CREATE TABLE IF NOT EXISTS attachment_deletes (
    key        TEXT    NOT NULL PRIMARY KEY
);
";

/// The tables (created with the hub's schema, on SQLite and on PostgreSQL alike: new tables
/// only, so neither schema version moves).
pub fn schema() -> &'static str {
    TABLES
}

/// What a send's claim learns of an upload: its `size, width, height` columns.
pub fn facts((size, width, height): (i64, Option<i64>, Option<i64>)) -> UploadFacts {
    UploadFacts {
        size: u64::try_from(size).ok(),
        width: width.and_then(|w| u32::try_from(w).ok()),
        height: height.and_then(|h| u32::try_from(h).ok()),
    }
}

/// `sql` with PostgreSQL's placeholders (`?1` → `$1`).
pub fn pg(sql: &str) -> String {
    sql.replace('?', "$")
}

/// A send's claim: is each key the sender's own upload, never sent and not deleted?
pub const CLAIMABLE: &str = "SELECT size, width, height FROM uploads
     WHERE key = ?1 AND owner = ?2 AND msg_id IS NULL AND gone = 0";
/// A send's claim: the upload belongs to the message from now on.
pub const CLAIM: &str = "UPDATE uploads SET msg_id = ?1 WHERE key = ?2";
/// A revoke: the deletion of the message's uploads, scheduled.
pub const SCHEDULE_REVOKED: &str = "INSERT INTO attachment_deletes (key)
     SELECT key FROM uploads WHERE msg_id = ?1 AND gone = 0 ON CONFLICT DO NOTHING";
/// A revoke: the message's uploads answer 410 from the commit on.
pub const MARK_REVOKED: &str = "UPDATE uploads SET gone = 1 WHERE msg_id = ?1";

const INSERT: &str = "INSERT INTO uploads (key, owner, mime, name, size, width, height, created_ms)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
const SCHEDULE_UNSENT: &str = "INSERT INTO attachment_deletes (key)
     SELECT key FROM uploads WHERE msg_id IS NULL AND gone = 0 AND created_ms < ?1
     ON CONFLICT DO NOTHING";
const MARK_UNSENT: &str =
    "UPDATE uploads SET gone = 1 WHERE msg_id IS NULL AND gone = 0 AND created_ms < ?1";
const SCHEDULED: &str = "SELECT key FROM attachment_deletes LIMIT 256";
const FORGET: &str = "DELETE FROM attachment_deletes WHERE key = ?1";
const UPLOAD: &str = "SELECT owner, mime, name, msg_id, gone FROM uploads WHERE key = ?1";
/// Whether `?2` may read message `?1`: a party of its one-to-one conversation, or a member of
/// its group now. No row: the message is not stored (a claim whose batch is not committed yet).
const PARTY: &str = "SELECT CASE
        WHEN group_id IS NOT NULL THEN EXISTS (
            SELECT 1 FROM group_members WHERE user_id = ?2 AND group_id = messages.group_id)
        ELSE (sender = ?2 OR COALESCE(receiver, '') = ?2) END
     FROM messages WHERE msg_id = ?1";

/// A new upload's row.
#[derive(Clone, Debug)]
pub struct NewUpload {
    /// The random key (also the object's name in the store).
    pub key: String,
    /// Who uploaded it.
    pub owner: String,
    /// What the bytes are.
    pub mime: String,
    /// The file name given.
    pub name: String,
    /// Bytes.
    pub size: i64,
    /// Pixels, images only.
    pub width: Option<i64>,
    /// Pixels, images only.
    pub height: Option<i64>,
    /// When it was uploaded.
    pub created_ms: i64,
}

/// What a download needs to know of an upload, for one requester.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Download {
    /// The type to serve it as.
    pub mime: String,
    /// The file name to offer.
    pub name: String,
    /// The message was revoked (or the upload collected).
    pub gone: bool,
    /// The requester is a party of the message's conversation (before it is sent: its owner).
    pub party: bool,
}

/// A database failure, already logged by the caller.
pub type DbError = String;

/// The upload rows as the routes and the sweeper see them (blocking: run off the runtime).
pub trait UploadDb: Send {
    /// Stores a new upload's row.
    fn insert(&mut self, u: &NewUpload) -> Result<(), DbError>;
    /// The upload `key` as `user` may download it (`None`: no such upload).
    fn download(&mut self, key: &str, user: &str) -> Result<Option<Download>, DbError>;
    /// Schedules the deletion of uploads never sent and created before `before_ms`, and
    /// returns up to 256 scheduled keys.
    fn scheduled(&mut self, before_ms: i64) -> Result<Vec<String>, DbError>;
    /// Forgets the schedule of `key` (its bytes are deleted).
    fn forget(&mut self, key: &str) -> Result<(), DbError>;
}

/// The upload rows in the hub's SQLite file, on a connection of their own.
pub struct SqliteUploads {
    conn: rusqlite::Connection,
}

fn sq(e: rusqlite::Error) -> DbError {
    format!("sqlite (uploads): {e}")
}

impl SqliteUploads {
    /// Opens `path` and creates the tables if they are missing.
    pub fn open(path: &std::path::Path) -> Result<SqliteUploads, DbError> {
        let conn = rusqlite::Connection::open(path).map_err(sq)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .and_then(|()| conn.execute_batch(TABLES))
            .map_err(sq)?;
        Ok(SqliteUploads { conn })
    }
}

impl UploadDb for SqliteUploads {
    fn insert(&mut self, u: &NewUpload) -> Result<(), DbError> {
        self.conn
            .execute(
                INSERT,
                rusqlite::params![
                    u.key,
                    u.owner,
                    u.mime,
                    u.name,
                    u.size,
                    u.width,
                    u.height,
                    u.created_ms
                ],
            )
            .map(drop)
            .map_err(sq)
    }

    fn download(&mut self, key: &str, user: &str) -> Result<Option<Download>, DbError> {
        let row = self
            .conn
            .query_row(UPLOAD, [key], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .optional()
            .map_err(sq)?;
        let Some((owner, mime, name, msg_id, gone)) = row else {
            return Ok(None);
        };
        let party = match msg_id {
            None => owner == user,
            Some(m) => self
                .conn
                .query_row(PARTY, [m.as_str(), user], |r| r.get::<_, bool>(0))
                .optional()
                .map_err(sq)?
                .unwrap_or(owner == user),
        };
        Ok(Some(Download {
            mime,
            name,
            gone: gone != 0,
            party,
        }))
    }

    fn scheduled(&mut self, before_ms: i64) -> Result<Vec<String>, DbError> {
        let tx = self.conn.transaction().map_err(sq)?;
        tx.execute(SCHEDULE_UNSENT, [before_ms]).map_err(sq)?;
        tx.execute(MARK_UNSENT, [before_ms]).map_err(sq)?;
        tx.commit().map_err(sq)?;
        let mut st = self.conn.prepare_cached(SCHEDULED).map_err(sq)?;
        let keys = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(sq)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sq)?;
        Ok(keys)
    }

    fn forget(&mut self, key: &str) -> Result<(), DbError> {
        self.conn.execute(FORGET, [key]).map(drop).map_err(sq)
    }
}

/// The upload rows in PostgreSQL, on a connection of their own (made again after it broke).
pub struct PgUploads {
    cfg: postgres::Config,
    client: Option<postgres::Client>,
}

fn pe(e: postgres::Error) -> DbError {
    format!("postgres (uploads): {e}")
}

impl PgUploads {
    /// Connects to `url` (the hub's store creates the tables).
    pub fn connect(url: &str) -> Result<PgUploads, im_revoke_core::StoreError> {
        let cfg = super::pg::config(url, "im-revoke-uploads")?;
        let client = cfg
            .connect(postgres::NoTls)
            .map_err(|e| super::pg::pg_error(&e))?;
        Ok(PgUploads {
            cfg,
            client: Some(client),
        })
    }

    /// The connection (a new one if the last broke), and what `f` made of it.
    fn with<T>(
        &mut self,
        f: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error>,
    ) -> Result<T, DbError> {
        if self.client.as_ref().is_none_or(postgres::Client::is_closed) {
            self.client = Some(self.cfg.connect(postgres::NoTls).map_err(pe)?);
        }
        let c = self.client.as_mut().expect("connected above");
        f(c).map_err(pe)
    }
}

impl Drop for PgUploads {
    fn drop(&mut self) {
        // The blocking client runs a runtime of its own to close: never on the server's
        // threads, where the last handle to the attachment store may go.
        if let Some(c) = self.client.take() {
            let _ = std::thread::Builder::new()
                .name("imr-uploads-close".into())
                .spawn(move || drop(c));
        }
    }
}

impl UploadDb for PgUploads {
    fn insert(&mut self, u: &NewUpload) -> Result<(), DbError> {
        self.with(|c| {
            c.execute(
                &pg(INSERT),
                &[
                    &u.key,
                    &u.owner,
                    &u.mime,
                    &u.name,
                    &u.size,
                    &u.width,
                    &u.height,
                    &u.created_ms,
                ],
            )
            .map(drop)
        })
    }

    fn download(&mut self, key: &str, user: &str) -> Result<Option<Download>, DbError> {
        self.with(|c| {
            let Some(row) = c.query_opt(&pg(UPLOAD), &[&key])? else {
                return Ok(None);
            };
            let owner: String = row.try_get(0)?;
            let msg_id: Option<String> = row.try_get(3)?;
            let gone: i64 = row.try_get(4)?;
            let party = match msg_id {
                None => owner == user,
                Some(m) => match c.query_opt(&pg(PARTY), &[&m, &user])? {
                    Some(r) => r.try_get::<_, bool>(0)?,
                    None => owner == user,
                },
            };
            Ok(Some(Download {
                mime: row.try_get(1)?,
                name: row.try_get(2)?,
                gone: gone != 0,
                party,
            }))
        })
    }

    fn scheduled(&mut self, before_ms: i64) -> Result<Vec<String>, DbError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            tx.execute(&pg(SCHEDULE_UNSENT), &[&before_ms])?;
            tx.execute(&pg(MARK_UNSENT), &[&before_ms])?;
            tx.commit()?;
            c.query(SCHEDULED, &[])?
                .iter()
                .map(|r| r.try_get::<_, String>(0))
                .collect()
        })
    }

    fn forget(&mut self, key: &str) -> Result<(), DbError> {
        self.with(|c| c.execute(&pg(FORGET), &[&key]).map(drop))
    }
}
