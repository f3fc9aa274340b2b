//! What the two SQL stores share: the SQL they both run (written once, with each driver's
//! placeholders), the `messages` columns, and the conversions between stored values and the
//! core's types. Each backend reads its driver's row into a [`MessageRow`] (or an event's three
//! columns into [`Backend::event`]); everything after that is here, once.

use im_revoke_core::model::{ConvId, Elem, Group, Message, RevokeInfo};
use im_revoke_core::store::{ConvMember, ConvSummary, EventKind, EventRecord, StoreError};

/// The columns of a `messages` row, in the order both schemas select them.
pub const MESSAGE_COLUMNS: &str =
    "msg_id, sender, receiver, group_id, time_ms, seq, elem, revoke, reply_to, cloud_custom_data";

/// The columns of a `conversations` row, in the order both schemas select them.
pub const CONVERSATION_COLUMNS: &str = "conv, read_seq, until_seq, since_ms";

/// Which SQL store: names it in errors and gives its placeholder syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// [`super::sqlite::SqliteStore`]: `?1`, `?2`, …
    Sqlite,
    /// [`super::pg::PgStore`]: `$1`, `$2`, …
    Postgres,
}

impl Backend {
    /// The name errors start with.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// What comes before a positional parameter's number.
    const fn sigil(self) -> char {
        match self {
            Backend::Sqlite => '?',
            Backend::Postgres => '$',
        }
    }

    /// A stored value that cannot be what the server wrote.
    pub fn corrupt(self, what: &str) -> StoreError {
        StoreError(format!("{}: corrupt row: {what}", self.name()))
    }

    /// A number read from an SQL integer column.
    pub fn read_u64(self, v: i64) -> Result<u64, StoreError> {
        u64::try_from(v).map_err(|_| self.corrupt("negative number"))
    }

    /// A value read from a JSON text column (`what` names the column in errors).
    pub fn read_json<T: serde::de::DeserializeOwned>(
        self,
        s: &str,
        what: &str,
    ) -> Result<T, StoreError> {
        serde_json::from_str(s).map_err(|_| self.corrupt(what))
    }

    /// A group read from `groups.body`.
    pub fn group(self, body: &str) -> Result<Group, StoreError> {
        self.read_json(body, "groups.body")
    }

    /// An event kind read from the `kind` column of `table`.
    pub fn event_kind(self, kind: i64, table: &str) -> Result<EventKind, StoreError> {
        u8::try_from(kind)
            .ok()
            .and_then(EventKind::from_u8)
            .ok_or_else(|| self.corrupt(&format!("{table}.kind")))
    }

    /// An event read from the `seq, kind, target` columns of `events`.
    pub fn event(self, seq: i64, kind: i64, target: String) -> Result<EventRecord, StoreError> {
        Ok(EventRecord {
            seq: self.read_u64(seq)?,
            kind: self.event_kind(kind, "events")?,
            target,
        })
    }
}

/// The statements both stores run, in one backend's placeholder syntax.
pub struct Sql {
    /// A message by msgID: `(msg_id)`, columns [`MESSAGE_COLUMNS`].
    pub message: String,
    /// A page of a conversation's history, newest first: `(conv, before_seq, limit)` (see
    /// [`history_args`]).
    pub history: String,
    /// A new `messages` row, without a conflict clause: [`MessageValues`] in order.
    pub insert_message: String,
    /// A `messages` row written whole, replacing the one with its msgID: [`MessageValues`] in
    /// order. This is how a revoke reaches the database: the hub stores the revoked message
    /// with its `revoke` column set.
    pub upsert_message: String,
    /// A change to a stored message (a revoke, [`Store::update_message`]):
    /// `(msg_id, elem, revoke, reply_to, cloud_custom_data)`, the last four as in
    /// [`MessageValues`]. No indexed column is written, so only the row's own page changes.
    ///
    /// [`Store::update_message`]: im_revoke_core::Store::update_message
    pub update_message: String,
    /// Up to `limit` events of a user in `events` after a seq: `(user, after, limit)`, columns
    /// `seq, kind, target`.
    pub events_after: String,
    /// A group's body: `(group_id)`.
    pub group: String,
    /// A group written whole: `(group_id, body)`.
    pub upsert_group: String,
    /// Drops a group's membership rows: `(group_id)`.
    pub delete_members: String,
    /// Every conversation of a user: `(user)`, columns [`CONVERSATION_COLUMNS`].
    pub conversations_of: String,
    /// One conversation of a user: `(user, conv)`, columns [`CONVERSATION_COLUMNS`].
    pub conversation_of: String,
    /// A user's place in a conversation, written whole: `(user, conv, read_seq, until_seq,
    /// since_ms)`.
    pub upsert_conversation: String,
    /// The unread count, derived: `(conv, after, upto, reader)`.
    pub unread_count: String,
    /// Every conversation of a user with its head, last message time and unread count:
    /// `(user)`, columns [`CONVERSATION_COLUMNS`] then `upto, last_time_ms, unread` (see
    /// [`Backend::summary`]).
    pub conversation_summaries: String,
}

impl Sql {
    /// The statements with `backend`'s placeholders.
    pub fn new(backend: Backend) -> Sql {
        let p = backend.sigil();
        let insert_message = format!(
            "INSERT INTO messages
                 (msg_id, conv, seq, sender, receiver, group_id, time_ms, elem, revoke, reply_to,
                  cloud_custom_data)
                 VALUES ({p}1, {p}2, {p}3, {p}4, {p}5, {p}6, {p}7, {p}8, {p}9, {p}10, {p}11)"
        );
        Sql {
            message: format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE msg_id = {p}1"),
            history: format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conv = {p}1 AND seq < {p}2
                 ORDER BY seq DESC LIMIT {p}3"
            ),
            upsert_message: format!(
                "{insert_message}
                 ON CONFLICT (msg_id) DO UPDATE SET
                    conv = excluded.conv, seq = excluded.seq, sender = excluded.sender,
                    receiver = excluded.receiver, group_id = excluded.group_id,
                    time_ms = excluded.time_ms, elem = excluded.elem, revoke = excluded.revoke,
                    reply_to = excluded.reply_to, cloud_custom_data = excluded.cloud_custom_data"
            ),
            insert_message,
            update_message: format!(
                "UPDATE messages SET elem = {p}2, revoke = {p}3, reply_to = {p}4,
                    cloud_custom_data = {p}5
                 WHERE msg_id = {p}1"
            ),
            events_after: format!(
                "SELECT seq, kind, target FROM events
                 WHERE user_id = {p}1 AND seq > {p}2 ORDER BY seq LIMIT {p}3"
            ),
            group: format!("SELECT body FROM groups WHERE group_id = {p}1"),
            upsert_group: format!(
                "INSERT INTO groups (group_id, body) VALUES ({p}1, {p}2)
                 ON CONFLICT (group_id) DO UPDATE SET body = excluded.body"
            ),
            delete_members: format!("DELETE FROM group_members WHERE group_id = {p}1"),
            conversations_of: format!(
                "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE user_id = {p}1"
            ),
            conversation_of: format!(
                "SELECT {CONVERSATION_COLUMNS} FROM conversations
                 WHERE user_id = {p}1 AND conv = {p}2"
            ),
            upsert_conversation: format!(
                "INSERT INTO conversations (user_id, conv, read_seq, until_seq, since_ms)
                 VALUES ({p}1, {p}2, {p}3, {p}4, {p}5)
                 ON CONFLICT (user_id, conv) DO UPDATE SET read_seq = excluded.read_seq,
                    until_seq = excluded.until_seq, since_ms = excluded.since_ms"
            ),
            conversation_summaries: format!(
                "SELECT s.conv, s.read_seq, s.until_seq, s.since_ms, s.upto,
                    (SELECT m.time_ms FROM messages m WHERE m.conv = s.conv AND m.seq <= s.upto
                     ORDER BY m.seq DESC LIMIT 1),
                    (SELECT COUNT(*) FROM messages m
                     WHERE m.conv = s.conv AND m.seq > s.read_seq AND m.seq <= s.upto
                       AND m.sender <> {p}1 AND m.revoke IS NULL)
                 FROM (SELECT c.conv, c.read_seq, c.until_seq, c.since_ms,
                          COALESCE(c.until_seq, {head}) AS upto
                       FROM conversations c WHERE c.user_id = {p}1) s",
                // The store's `conv_head`, for the row's conversation.
                head = match backend {
                    Backend::Sqlite =>
                        "(SELECT COALESCE(MAX(seq), 0) FROM messages h WHERE h.conv = c.conv)",
                    Backend::Postgres =>
                        "GREATEST(
                        COALESCE((SELECT head FROM conv_heads h WHERE h.conv = c.conv), 0),
                        COALESCE((SELECT MAX(seq) FROM messages h WHERE h.conv = c.conv), 0))",
                }
            ),
            // A range of the `(conv, seq)` index: as many rows as there are unread messages.
            unread_count: format!(
                "SELECT COUNT(*) FROM messages
                 WHERE conv = {p}1 AND seq > {p}2 AND seq <= {p}3 AND sender <> {p}4
                   AND revoke IS NULL"
            ),
        }
    }
}

/// A number for an SQL integer bound (`seq < ?`, `LIMIT ?`): past `i64::MAX` means no bound.
pub fn bound<T: TryInto<i64>>(v: T) -> i64 {
    v.try_into().unwrap_or(i64::MAX)
}

/// The parameters of [`Sql::history`].
pub fn history_args(conv: &ConvId, before_seq: Option<u64>, limit: usize) -> (String, i64, i64) {
    (
        conv.key(),
        bound(before_seq.unwrap_or(u64::MAX)),
        bound(limit),
    )
}

/// What a message is stored as besides its text columns: with them, the eleven values of
/// [`Sql::insert_message`] and [`Sql::upsert_message`] are `msg.msg_id, conv, seq, msg.sender,
/// msg.receiver, msg.group_id, time_ms, elem, revoke, reply_to, cloud_custom_data`.
pub struct MessageValues {
    /// [`Message::conv`]'s key.
    pub conv: String,
    /// The seq in its conversation.
    pub seq: i64,
    /// The server time it was sent.
    pub time_ms: i64,
    /// The content, as JSON.
    pub elem: Option<String>,
    /// The revoke state, as JSON (`None` until revoked).
    pub revoke: Option<String>,
    /// The link to the message replied to, as JSON (the hub stores it without the quote).
    pub reply_to: Option<String>,
    /// The app's own data, as a JSON string (escaped: PostgreSQL text cannot hold NUL).
    pub cloud_custom_data: Option<String>,
}

impl MessageValues {
    /// The values that store `msg`.
    pub fn new(msg: &Message) -> Result<MessageValues, StoreError> {
        Ok(MessageValues {
            conv: msg.conv().key(),
            seq: to_i64(msg.seq)?,
            time_ms: to_i64(msg.time_ms)?,
            elem: msg.elem.as_ref().map(to_json).transpose()?,
            revoke: msg.revoke.as_ref().map(to_json).transpose()?,
            reply_to: msg.reply_to.as_ref().map(to_json).transpose()?,
            cloud_custom_data: msg.cloud_custom_data.as_ref().map(to_json).transpose()?,
        })
    }
}

/// A `messages` row as the driver returns it, before JSON decoding (done outside the driver's
/// callbacks, so decoding errors stay [`StoreError`]s).
pub struct MessageRow {
    pub msg_id: String,
    pub sender: String,
    pub receiver: Option<String>,
    pub group_id: Option<String>,
    pub time_ms: i64,
    pub seq: i64,
    pub elem: Option<String>,
    pub revoke: Option<String>,
    pub reply_to: Option<String>,
    pub cloud_custom_data: Option<String>,
}

impl MessageRow {
    /// The message this row holds.
    pub fn into_message(self, backend: Backend) -> Result<Message, StoreError> {
        let elem: Option<Elem> = self
            .elem
            .map(|j| backend.read_json(&j, "messages.elem"))
            .transpose()?;
        let revoke: Option<RevokeInfo> = self
            .revoke
            .map(|j| backend.read_json(&j, "messages.revoke"))
            .transpose()?;
        let reply_to = self
            .reply_to
            .map(|j| backend.read_json(&j, "messages.reply_to"))
            .transpose()?;
        Ok(Message {
            msg_id: self.msg_id,
            sender: self.sender,
            receiver: self.receiver,
            group_id: self.group_id,
            time_ms: backend.read_u64(self.time_ms)?,
            seq: backend.read_u64(self.seq)?,
            elem,
            revoke,
            reply_to,
            cloud_custom_data: self
                .cloud_custom_data
                .map(|j| backend.read_json(&j, "messages.cloud_custom_data"))
                .transpose()?,
        })
    }
}

impl Backend {
    /// A user's place in a conversation, from the columns [`CONVERSATION_COLUMNS`].
    pub fn conversation(
        self,
        conv: &str,
        read_seq: i64,
        until_seq: Option<i64>,
        since_ms: i64,
    ) -> Result<ConvMember, StoreError> {
        Ok(ConvMember {
            conv: ConvId::from_key(conv).ok_or_else(|| self.corrupt("conversations.conv"))?,
            read_seq: self.read_u64(read_seq)?,
            until_seq: until_seq.map(|u| self.read_u64(u)).transpose()?,
            since_ms: self.read_u64(since_ms)?,
        })
    }
}

impl Backend {
    /// A row of [`Sql::conversation_summaries`], its columns read by the driver.
    #[allow(clippy::too_many_arguments)]
    pub fn summary(
        self,
        conv: &str,
        read_seq: i64,
        until_seq: Option<i64>,
        since_ms: i64,
        upto: i64,
        last_time_ms: Option<i64>,
        unread: i64,
    ) -> Result<ConvSummary, StoreError> {
        Ok(ConvSummary {
            member: self.conversation(conv, read_seq, until_seq, since_ms)?,
            upto: self.read_u64(upto)?,
            last_time_ms: last_time_ms.map(|t| self.read_u64(t)).transpose()?,
            unread: self.read_u64(unread)?,
        })
    }
}

/// The values of [`Sql::upsert_conversation`] after the user: `(conv, read_seq, until_seq,
/// since_ms)`.
pub fn conversation_values(m: &ConvMember) -> Result<(String, i64, Option<i64>, i64), StoreError> {
    Ok((
        m.conv.key(),
        to_i64(m.read_seq)?,
        m.until_seq.map(to_i64).transpose()?,
        to_i64(m.since_ms)?,
    ))
}

/// A number for an SQL integer column.
pub fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError(format!("value {v} does not fit the database")))
}

/// A value for a JSON text column.
pub fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError(format!("encoding a row: {e}")))
}
