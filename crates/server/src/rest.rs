//! The REST API of the app's own backend, in Tencent Cloud Chat's shapes (docs/REST_API.md):
//! `POST /v4/<service>/<command>?sdkappid=&identifier=&usersig=&random=&contenttype=json`.
//!
//! The identifier must be one of the configured admin accounts (`--admin-identifier`) with a
//! valid UserSig for this server's SDKAppID and key (the same check as clients'). Every answer
//! is HTTP 200 with `{ActionStatus: "OK"|"FAIL", ErrorCode, ErrorInfo, ...}`. The requests
//! themselves are the hub's ([`im_revoke_core::Hub::admin_send`] and the others): this module
//! parses, checks the fields and the caller, and sends an [`AdminOp`] to the hub thread, which
//! answers after the batch's commit.
//!
//! Codes are Tencent's where Tencent has one; the project's own (REST-only) are in 300100..
//! (see [`codes`]).
//!
//! Why one file of ~760 lines: one handler per REST command and the field checks they share;
//! each command is a short function over the same `Fail`/`answer` helpers, and the rules it
//! calls are the hub's.

use crate::config::{ConfigError, Secret};
use crate::engine::Command;
use crate::state::App;
use crate::webhook::{self, WebhookConfig};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::routing::post;
use axum::{Json, Router};
use im_revoke_core::callback::{msg_body, msg_key, msg_key_seq, msg_random};
use im_revoke_core::hub::{AdminHistory, RecallResult};
use im_revoke_core::limit::TokenBucket;
use im_revoke_core::model::{check_group_id, check_user_id};
use im_revoke_core::{Elem, Hub, ImError, Message, Store};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// The REST API's own codes and the Tencent codes it answers with.
pub mod codes {
    /// Tencent: the body is not JSON (or not an object, or a field is missing or of the wrong
    /// type, for commands without a more precise code).
    pub const JSON_PARSE: u32 = 90001;
    /// Tencent: `To_Account` missing, wrongly typed or invalid.
    pub const TO_ACCOUNT: u32 = 90003;
    /// Tencent: `MsgRandom` missing or not an integer.
    pub const MSG_RANDOM: u32 = 90005;
    /// Tencent: `MsgBody` missing or not an array.
    pub const MSG_BODY_TYPE: u32 = 90007;
    /// Tencent: `From_Account` wrongly typed or invalid.
    pub const FROM_ACCOUNT: u32 = 90008;
    /// Tencent: the request needs an app admin (the identifier is not one).
    pub const NOT_ADMIN: u32 = 90009;
    /// Tencent: the message does not follow the message format (MsgType, MsgContent).
    pub const MSG_FORMAT: u32 = 90010;
    /// Tencent: the `MsgKey` is malformed.
    pub const MSG_KEY: u32 = 90054;
    /// Tencent: internal error, retry.
    pub const INTERNAL: u32 = 91000;
    /// Tencent: too many requests (this identifier's quota, `--rest-rate`).
    pub const FREQ_LIMIT: u32 = 60007;
    /// Tencent (group): invalid parameters (`MsgSeqList`).
    pub const GROUP_PARAMS: u32 = 10004;
    /// Tencent (group): invalid `GroupId`.
    pub const GROUP_ID: u32 = 10015;
    /// Own: no such service or command.
    pub const UNKNOWN_COMMAND: u32 = 300100;
    /// Own: `sdkappid` missing or not this server's.
    pub const WRONG_SDKAPPID: u32 = 300101;
    /// Own: the body is larger than `--rest-max-body`.
    pub const BODY_TOO_LARGE: u32 = 300102;
    /// Own: the query lacks `identifier` or `usersig`, or `contenttype` is not `json`.
    pub const BAD_QUERY: u32 = 300103;
}

/// Most seqs in one `group_msg_recall` (Tencent's limit).
pub const MAX_RECALL_SEQS: usize = 10;

/// How long a REST request waits for the hub.
const HUB_WAIT: Duration = Duration::from_secs(10);

/// REST and webhook flags (part of `serve`).
#[derive(clap::Args, Debug, Clone)]
pub struct ApiArgs {
    /// An account allowed to call the REST API (repeatable, or comma-separated).
    #[arg(
        long = "admin-identifier",
        env = "IMR_ADMIN_IDENTIFIER",
        value_delimiter = ',',
        default_value = "administrator"
    )]
    pub admin_identifier: Vec<String>,
    /// REST requests per second per admin identifier (Tencent's quota is 200/s).
    #[arg(long, env = "IMR_REST_RATE", default_value_t = 200)]
    pub rest_rate: u32,
    /// Largest REST request body, bytes.
    #[arg(long, env = "IMR_REST_MAX_BODY", default_value_t = 256 * 1024)]
    pub rest_max_body: usize,
    /// Where webhooks go (`http://` or `https://host:port/path`); none: no webhooks.
    #[arg(long, env = "IMR_CALLBACK_URL")]
    pub callback_url: Option<String>,
    /// Token of Tencent's callback authentication (`RequestTime` and `Sign` in the query).
    #[arg(long, env = "IMR_CALLBACK_TOKEN", hide_env_values = true)]
    pub callback_token: Option<String>,
    /// Most webhooks waiting; past it new ones are dropped (and counted).
    #[arg(long, env = "IMR_CALLBACK_QUEUE", default_value_t = 1_000_000)]
    pub callback_queue: u64,
    /// Time allowed for one webhook POST, ms.
    #[arg(long, env = "IMR_CALLBACK_TIMEOUT_MS", default_value_t = 5000)]
    pub callback_timeout_ms: u64,
    /// First retry delay of a webhook not delivered, ms (doubling, at most 5 minutes).
    #[arg(long, env = "IMR_CALLBACK_RETRY_MS", default_value_t = 1000)]
    pub callback_retry_ms: u64,
    /// Webhook POSTs in flight at once (kept-alive connections to the receiver).
    #[arg(long, env = "IMR_CALLBACK_CONCURRENCY", default_value_t = 64)]
    pub callback_concurrency: usize,
    /// PEM file of certificates to trust for an `https://` callback URL, besides the system's
    /// roots (a private CA, or a receiver's self-signed certificate's CA).
    #[arg(long, env = "IMR_CALLBACK_CA_FILE")]
    pub callback_ca_file: Option<std::path::PathBuf>,
}

/// The REST API's and webhooks' configuration.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Admin accounts.
    pub admins: Vec<String>,
    /// Requests per second per admin (0 = unlimited).
    pub rate: u32,
    /// Largest body.
    pub max_body: usize,
    /// Webhooks (off when `None`); its `sdkappid` is set at start.
    pub webhook: Option<WebhookConfig>,
    /// Bound of the webhook queue.
    pub callback_queue: u64,
}

impl Default for ApiConfig {
    fn default() -> ApiConfig {
        ApiConfig {
            admins: vec!["administrator".into()],
            rate: 200,
            max_body: 256 * 1024,
            webhook: None,
            callback_queue: 1_000_000,
        }
    }
}

impl ApiConfig {
    /// From the flags.
    pub fn from_args(a: ApiArgs) -> Result<ApiConfig, ConfigError> {
        let webhook = match a.callback_url {
            None => None,
            Some(url) => Some(WebhookConfig {
                url,
                token: a.callback_token.map(Secret::new),
                sdkappid: 0,
                timeout: Duration::from_millis(a.callback_timeout_ms),
                retry_base: Duration::from_millis(a.callback_retry_ms),
                concurrency: a.callback_concurrency,
                ca_file: a.callback_ca_file,
            }),
        };
        let c = ApiConfig {
            admins: a.admin_identifier,
            rate: a.rest_rate,
            max_body: a.rest_max_body,
            webhook,
            callback_queue: a.callback_queue,
        };
        c.validate()?;
        Ok(c)
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.admins.iter().any(|a| check_user_id(a).is_err()) {
            return Err(ConfigError::Invalid(
                "--admin-identifier must be valid userIDs (1-32 printable ASCII bytes)",
            ));
        }
        if self.max_body < 1024 {
            return Err(ConfigError::Invalid(
                "--rest-max-body must be at least 1024",
            ));
        }
        if let Some(w) = &self.webhook {
            if webhook::check_url(&w.url).is_err() {
                return Err(ConfigError::Invalid(
                    "--callback-url must be an http:// or https:// URL with a host",
                ));
            }
            if w.concurrency == 0 {
                return Err(ConfigError::Invalid(
                    "--callback-concurrency must be positive",
                ));
            }
            webhook::check(w).map_err(ConfigError::Webhook)?;
            if w.timeout.is_zero() || w.retry_base.is_zero() || self.callback_queue == 0 {
                return Err(ConfigError::Invalid(
                    "--callback-timeout-ms, --callback-retry-ms and --callback-queue must be positive",
                ));
            }
        }
        Ok(())
    }
}

/// The REST API's rate buckets, one per admin identifier.
#[derive(Default)]
pub struct RestState {
    buckets: Mutex<HashMap<String, TokenBucket>>,
}

/// An admin request for the hub thread.
#[derive(Debug)]
pub enum AdminOp {
    /// `openim/sendmsg`.
    Send {
        /// The admin.
        admin: String,
        /// Sender.
        from: String,
        /// Receiver.
        to: String,
        /// `MsgRandom`.
        random: u32,
        /// Content.
        elem: Elem,
    },
    /// `openim/admin_msgwithdraw`.
    Withdraw {
        /// The admin.
        admin: String,
        /// Sender.
        from: String,
        /// Receiver.
        to: String,
        /// `MsgKey`.
        key: String,
    },
    /// `group_open_http_svc/group_msg_recall`.
    GroupRecall {
        /// The admin.
        admin: String,
        /// The group.
        group: String,
        /// `MsgSeqList`.
        seqs: Vec<u64>,
        /// `Reason` (empty if none): the revoke's reason.
        reason: String,
    },
    /// `openim/admin_getroammsg`.
    History {
        /// `Operator_Account`.
        a: String,
        /// `Peer_Account`.
        b: String,
        /// `MinTime`, ms.
        min_ms: u64,
        /// `MaxTime`, ms (inclusive: the end of that second).
        max_ms: u64,
        /// From `LastMsgKey`.
        before_seq: Option<u64>,
        /// `MaxCnt`.
        max: usize,
    },
}

/// The hub's answer to an [`AdminOp`].
#[derive(Debug)]
pub enum AdminReply {
    /// To [`AdminOp::Send`].
    Sent(Result<Message, ImError>),
    /// To [`AdminOp::Withdraw`].
    Withdrawn(Result<Message, ImError>),
    /// To [`AdminOp::GroupRecall`].
    Recalled(Result<Vec<RecallResult>, ImError>),
    /// To [`AdminOp::History`].
    History(Result<AdminHistory, ImError>),
}

impl AdminOp {
    /// Runs it on the hub (in the hub thread, inside a batch).
    pub fn run<S: Store>(self, hub: &mut Hub<S>, now: u64) -> AdminReply {
        match self {
            AdminOp::Send {
                admin,
                from,
                to,
                random,
                elem,
            } => AdminReply::Sent(hub.admin_send(&admin, &from, &to, random, elem, now)),
            AdminOp::Withdraw {
                admin,
                from,
                to,
                key,
            } => AdminReply::Withdrawn(hub.admin_withdraw(&admin, &from, &to, &key, now)),
            AdminOp::GroupRecall {
                admin,
                group,
                seqs,
                reason,
            } => AdminReply::Recalled(hub.admin_recall_group(&admin, &group, &seqs, &reason, now)),
            AdminOp::History {
                a,
                b,
                min_ms,
                max_ms,
                before_seq,
                max,
            } => AdminReply::History(hub.admin_history(&a, &b, min_ms, max_ms, before_seq, max)),
        }
    }
}

/// The REST routes (merged into the server's router).
pub fn routes(max_body: usize) -> Router<Arc<App>> {
    Router::new()
        .route("/v4/{service}/{command}", post(handle))
        .layer(DefaultBodyLimit::max(max_body))
}

/// A coded failure.
#[derive(Debug)]
struct Fail(u32, String);

impl Fail {
    fn new(code: u32, info: impl Into<String>) -> Fail {
        Fail(code, info.into())
    }
}

impl From<ImError> for Fail {
    fn from(e: ImError) -> Fail {
        let info = if e.desc.is_empty() {
            e.code.desc().to_string()
        } else {
            e.desc.clone()
        };
        Fail(e.code.num(), info)
    }
}

fn answer(r: Result<Map<String, Value>, Fail>) -> Json<Value> {
    let mut m = Map::new();
    match r {
        Ok(fields) => {
            m.insert("ActionStatus".into(), "OK".into());
            m.insert("ErrorCode".into(), 0.into());
            m.insert("ErrorInfo".into(), "".into());
            m.extend(fields);
        }
        Err(Fail(code, info)) => {
            m.insert("ActionStatus".into(), "FAIL".into());
            m.insert("ErrorCode".into(), code.into());
            m.insert("ErrorInfo".into(), info.into());
        }
    }
    Json(Value::Object(m))
}

#[derive(serde::Deserialize)]
struct RestQuery {
    sdkappid: Option<String>,
    identifier: Option<String>,
    usersig: Option<String>,
    contenttype: Option<String>,
}

async fn handle(
    State(app): State<Arc<App>>,
    Path((service, command)): Path<(String, String)>,
    query: Result<Query<RestQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Json<Value> {
    answer(serve(&app, &service, &command, query, body).await)
}

async fn serve(
    app: &App,
    service: &str,
    command: &str,
    query: Result<Query<RestQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Map<String, Value>, Fail> {
    let Query(q) = query.map_err(|_| Fail::new(codes::BAD_QUERY, "malformed query string"))?;
    let sdkappid = q.sdkappid.as_deref().and_then(|s| s.parse::<u64>().ok());
    if sdkappid != Some(app.auth.sdkappid()) {
        return Err(Fail::new(
            codes::WRONG_SDKAPPID,
            "sdkappid is missing or not this server's",
        ));
    }
    if q.contenttype.as_deref().is_some_and(|c| c != "json") {
        return Err(Fail::new(codes::BAD_QUERY, "contenttype must be json"));
    }
    let (Some(identifier), Some(usersig)) = (q.identifier, q.usersig) else {
        return Err(Fail::new(
            codes::BAD_QUERY,
            "identifier and usersig are required",
        ));
    };
    if !app.cfg.api.admins.contains(&identifier) {
        return Err(Fail::new(
            codes::NOT_ADMIN,
            "the request requires an app admin identifier",
        ));
    }
    if !take_token(app, &identifier) {
        return Err(Fail::new(
            codes::FREQ_LIMIT,
            "too many requests for this identifier: slow down and retry",
        ));
    }
    app.auth.verify(&identifier, &usersig)?;
    let body = body.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            Fail::new(codes::BODY_TOO_LARGE, "request body too large")
        } else {
            Fail::new(codes::JSON_PARSE, "could not read the request body")
        }
    })?;
    let parse = |body: &[u8]| -> Result<Map<String, Value>, Fail> {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(Fail::new(
                codes::JSON_PARSE,
                "the body must be a JSON object",
            )),
            Err(_) => Err(Fail::new(
                codes::JSON_PARSE,
                "Fail to Parse json data of body, Please check it",
            )),
        }
    };
    match (service, command) {
        ("openim", "sendmsg") => sendmsg(app, identifier, parse(&body)?).await,
        ("openim", "admin_msgwithdraw") => withdraw(app, identifier, parse(&body)?).await,
        ("openim", "admin_getroammsg") => getroammsg(app, parse(&body)?).await,
        ("group_open_http_svc", "group_msg_recall") => {
            group_recall(app, identifier, parse(&body)?).await
        }
        _ => Err(Fail::new(
            codes::UNKNOWN_COMMAND,
            format!("unknown command v4/{service}/{command}"),
        )),
    }
}

fn take_token(app: &App, identifier: &str) -> bool {
    let rate = app.cfg.api.rate;
    if rate == 0 {
        return true;
    }
    let now = crate::store::webhooks::now_ms().max(0) as u64;
    let mut b = app.rest.buckets.lock().unwrap_or_else(|p| p.into_inner());
    b.entry(identifier.to_string())
        .or_insert_with(|| TokenBucket::new(rate, rate, now))
        .try_take(now)
}

async fn run(app: &App, op: AdminOp) -> Result<AdminReply, Fail> {
    let (reply, rx) = oneshot::channel();
    let sent =
        tokio::time::timeout(HUB_WAIT, app.commands.send(Command::Admin { op, reply })).await;
    if !matches!(sent, Ok(Ok(()))) {
        return Err(Fail::new(codes::INTERNAL, "server busy or stopping, retry"));
    }
    match tokio::time::timeout(HUB_WAIT, rx).await {
        Ok(Ok(r)) => Ok(r),
        _ => Err(Fail::new(codes::INTERNAL, "no answer from the hub, retry")),
    }
}

/// A user account field: `code` when missing (if required), wrongly typed or invalid.
fn account(m: &Map<String, Value>, field: &str, code: u32) -> Result<Option<String>, Fail> {
    match m.get(field) {
        None => Ok(None),
        Some(Value::String(s)) if check_user_id(s).is_ok() => Ok(Some(s.clone())),
        Some(_) => Err(Fail::new(code, format!("{field} is not a valid userID"))),
    }
}

/// [`account`], which must be there.
fn required_account(m: &Map<String, Value>, field: &str, code: u32) -> Result<String, Fail> {
    account(m, field, code)?.ok_or_else(|| Fail::new(code, format!("{field} is required")))
}

fn uint(m: &Map<String, Value>, field: &str, code: u32) -> Result<Option<u64>, Fail> {
    match m.get(field) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| Fail::new(code, format!("{field} must be a non-negative integer"))),
    }
}

/// The one element of a `MsgBody`: `TIMTextElem` or `TIMCustomElem`.
fn text_elem(m: &Map<String, Value>) -> Result<Elem, Fail> {
    let Some(Value::Array(items)) = m.get("MsgBody") else {
        return Err(Fail::new(codes::MSG_BODY_TYPE, "MsgBody must be an array"));
    };
    let [item] = items.as_slice() else {
        return Err(Fail::new(
            codes::MSG_FORMAT,
            "MsgBody must hold exactly one element on this server",
        ));
    };
    match (
        item.get("MsgType").and_then(Value::as_str),
        item.get("MsgContent"),
    ) {
        (Some("TIMTextElem"), Some(c)) => match c.get("Text").and_then(Value::as_str) {
            Some(t) if !t.is_empty() => Ok(Elem::Text {
                text: t.to_string(),
            }),
            _ => Err(Fail::new(
                codes::MSG_FORMAT,
                "TIMTextElem needs a non-empty MsgContent.Text",
            )),
        },
        (Some("TIMCustomElem"), Some(c)) => {
            let field = |name: &str| match c.get(name) {
                None => Ok(String::new()),
                Some(Value::String(v)) => Ok(v.clone()),
                Some(_) => Err(Fail::new(
                    codes::MSG_FORMAT,
                    format!("TIMCustomElem's MsgContent.{name} must be a string"),
                )),
            };
            Ok(Elem::Custom {
                data: field("Data")?,
                desc: field("Desc")?,
                extension: field("Ext")?,
            })
        }
        (Some(t), _) => Err(Fail::new(
            codes::MSG_FORMAT,
            format!("MsgType {t} is not supported by this server (TIMTextElem, TIMCustomElem)"),
        )),
        _ => Err(Fail::new(
            codes::MSG_FORMAT,
            "each MsgBody element needs MsgType and MsgContent",
        )),
    }
}

async fn sendmsg(
    app: &App,
    admin: String,
    m: Map<String, Value>,
) -> Result<Map<String, Value>, Fail> {
    // Tencent: without From_Account the admin itself sends.
    let from = account(&m, "From_Account", codes::FROM_ACCOUNT)?.unwrap_or_else(|| admin.clone());
    let to = required_account(&m, "To_Account", codes::TO_ACCOUNT)?;
    let random = uint(&m, "MsgRandom", codes::MSG_RANDOM)?
        .and_then(|r| u32::try_from(r).ok())
        .ok_or_else(|| {
            Fail::new(
                codes::MSG_RANDOM,
                "MsgRandom must be a 32-bit unsigned integer",
            )
        })?;
    let elem = text_elem(&m)?;
    let AdminReply::Sent(r) = run(
        app,
        AdminOp::Send {
            admin,
            from,
            to,
            random,
            elem,
        },
    )
    .await?
    else {
        return Err(Fail::new(codes::INTERNAL, "unexpected answer"));
    };
    let msg = r?;
    let mut out = Map::new();
    out.insert("MsgTime".into(), (msg.time_ms / 1000).into());
    out.insert("MsgKey".into(), msg_key(&msg).into());
    out.insert("MsgSeq".into(), msg.seq.into());
    Ok(out)
}

async fn withdraw(
    app: &App,
    admin: String,
    m: Map<String, Value>,
) -> Result<Map<String, Value>, Fail> {
    let from = required_account(&m, "From_Account", codes::FROM_ACCOUNT)?;
    let to = required_account(&m, "To_Account", codes::TO_ACCOUNT)?;
    let key = match m.get("MsgKey") {
        Some(Value::String(k)) if msg_key_seq(k).is_some() => k.clone(),
        _ => return Err(Fail::new(codes::MSG_KEY, "MsgKey is missing or malformed")),
    };
    let AdminReply::Withdrawn(r) = run(
        app,
        AdminOp::Withdraw {
            admin,
            from,
            to,
            key,
        },
    )
    .await?
    else {
        return Err(Fail::new(codes::INTERNAL, "unexpected answer"));
    };
    r?;
    Ok(Map::new())
}

async fn group_recall(
    app: &App,
    admin: String,
    m: Map<String, Value>,
) -> Result<Map<String, Value>, Fail> {
    let group = match m.get("GroupId") {
        Some(Value::String(g)) if check_group_id(g).is_ok() => g.clone(),
        _ => return Err(Fail::new(codes::GROUP_ID, "GroupId is missing or invalid")),
    };
    let Some(Value::Array(list)) = m.get("MsgSeqList") else {
        return Err(Fail::new(
            codes::GROUP_PARAMS,
            "MsgSeqList must be an array",
        ));
    };
    if list.is_empty() || list.len() > MAX_RECALL_SEQS {
        return Err(Fail::new(
            codes::GROUP_PARAMS,
            format!("MsgSeqList must hold 1 to {MAX_RECALL_SEQS} items"),
        ));
    }
    let seqs = list
        .iter()
        .map(|i| i.get("MsgSeq").and_then(Value::as_u64).filter(|s| *s > 0))
        .collect::<Option<Vec<u64>>>()
        .ok_or_else(|| {
            Fail::new(
                codes::GROUP_PARAMS,
                "each MsgSeqList item needs a positive integer MsgSeq",
            )
        })?;
    // Tencent's optional `Reason`: the revoke's reason, as a client's revoke carries one.
    let reason = match m.get("Reason") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(r)) => r.clone(),
        Some(_) => return Err(Fail::new(codes::GROUP_PARAMS, "Reason must be a string")),
    };
    let op = AdminOp::GroupRecall {
        admin,
        group,
        seqs,
        reason,
    };
    let AdminReply::Recalled(r) = run(app, op).await? else {
        return Err(Fail::new(codes::INTERNAL, "unexpected answer"));
    };
    let list: Vec<Value> = r?
        .into_iter()
        .map(|(seq, r)| {
            let code = r.err().map_or(0, |e| e.code.num());
            json!({ "MsgSeq": seq, "RetCode": code })
        })
        .collect();
    let mut out = Map::new();
    out.insert("RecallRetList".into(), list.into());
    Ok(out)
}

/// Tencent's `MsgFlagBits` of an `admin_getroammsg` item: 0 a normal message, 8 a recalled one
/// (Tencent's web SDK reads `msgFlagBits === 8` as `isRevoked`; see docs/REST_API.md).
const MSG_FLAG_RECALLED: u32 = 8;

fn msg_flag_bits(msg: &Message) -> u32 {
    if msg.is_revoked() {
        MSG_FLAG_RECALLED
    } else {
        0
    }
}

async fn getroammsg(app: &App, m: Map<String, Value>) -> Result<Map<String, Value>, Fail> {
    let a = required_account(&m, "Operator_Account", codes::FROM_ACCOUNT)?;
    let b = required_account(&m, "Peer_Account", codes::TO_ACCOUNT)?;
    let num = |f: &str| {
        uint(&m, f, codes::JSON_PARSE)?
            .ok_or_else(|| Fail::new(codes::JSON_PARSE, format!("{f} is required")))
    };
    let max = usize::try_from(num("MaxCnt")?).unwrap_or(usize::MAX);
    let min_s = num("MinTime")?;
    let max_s = num("MaxTime")?;
    if max == 0 || min_s > max_s {
        return Err(Fail::new(
            codes::JSON_PARSE,
            "MaxCnt must be positive and MinTime not after MaxTime",
        ));
    }
    let before_seq = match m.get("LastMsgKey") {
        None => None,
        Some(Value::String(k)) if k.is_empty() => None,
        Some(Value::String(k)) => Some(
            msg_key_seq(k).ok_or_else(|| Fail::new(codes::MSG_KEY, "LastMsgKey is malformed"))?,
        ),
        Some(_) => return Err(Fail::new(codes::MSG_KEY, "LastMsgKey must be a string")),
    };
    let AdminReply::History(r) = run(
        app,
        AdminOp::History {
            a,
            b,
            min_ms: min_s.saturating_mul(1000),
            max_ms: max_s.saturating_mul(1000).saturating_add(999),
            before_seq,
            max,
        },
    )
    .await?
    else {
        return Err(Fail::new(codes::INTERNAL, "unexpected answer"));
    };
    let h = r?;
    // Oldest first within the page, as Tencent's answers list it; pages still go back in time
    // (`LastMsgKey` is the page's oldest message, the first item).
    let list: Vec<Value> = h
        .messages
        .iter()
        .rev()
        .map(|msg| {
            json!({
                "From_Account": msg.sender,
                "To_Account": msg.receiver,
                "MsgSeq": msg.seq,
                "MsgRandom": msg_random(&msg.msg_id),
                "MsgTimeStamp": msg.time_ms / 1000,
                "MsgFlagBits": msg_flag_bits(msg),
                "IsRecalled": u8::from(msg.is_revoked()),
                "MsgKey": msg_key(msg),
                "MsgBody": msg_body(msg.elem.as_ref()),
                "CloudCustomData": msg.cloud_custom_data.as_deref().unwrap_or(""),
            })
        })
        .collect();
    let mut out = Map::new();
    out.insert("Complete".into(), u8::from(h.complete).into());
    out.insert("MsgCnt".into(), list.len().into());
    let last = h.messages.last();
    out.insert(
        "LastMsgTime".into(),
        last.map_or(0, |m| m.time_ms / 1000).into(),
    );
    out.insert(
        "LastMsgKey".into(),
        last.map_or(String::new(), msg_key).into(),
    );
    out.insert("MsgList".into(), list.into());
    Ok(out)
}
