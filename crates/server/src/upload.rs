//! Attachments over HTTP on the server's port: `POST /upload` stores the bytes of an image or a
//! file for a logged-in user, `GET /file/{key}` serves them on a signed, expiring URL to the
//! parties of the message they were sent in, and a sweeper deletes what a revoke (or the garbage
//! collection of uploads never sent) scheduled.
//!
//! - Bytes go through the `object_store` crate: a `LocalFileSystem` under the data directory
//!   (`--attachments-dir`, default `<db dir>/attachments`), or, for several nodes, an
//!   S3-compatible bucket (`--attachments-s3-bucket`, `--attachments-s3-endpoint`, keys from
//!   the environment: object_store's `AmazonS3`). Keys are random IDs made here; no part of a
//!   request is ever a path.
//! - What is known of each upload is a row of `uploads` in the hub's database, next to the
//!   messages (`store/uploads.rs`; SQLite or PostgreSQL): the hub's transaction that sends a
//!   message claims its uploads (`Store::claim_attachments`: only the sender's own, unsent
//!   ones), and the transaction that revokes it marks them gone and writes one
//!   `attachment_deletes` row each, so that the URLs answer 410 from the commit on and the
//!   deletion survives a crash (the sweeper runs at start and every `--attachment-sweep-ms`;
//!   over PostgreSQL every node sweeps the one schedule).
//! - Thumbnails are made by the browser (a canvas) and uploaded as a second image: the server
//!   decodes no image, it reads the dimensions from the header (`imagesize`) and refuses
//!   anything beyond 10 000 px a side or 50 Mpx.
//! - Upload URLs are checked the way the WebSocket login is: a UserSig, in the header
//!   `Authorization: UserSig <userID> <userSig>`.
//!
//! Over PostgreSQL without `--attachments-s3-bucket` or `--attachments-dir` attachments are
//! off: the routes answer 404 and sends of image and file messages are refused (300012).
//!
//! Length: ~720 lines of code, then its unit tests; upload, download, sweeping and the URL
//! signatures share the `Attachments` state and its checks.

// Handlers return their early answers as `Err(Response)`: built once per refused request.
#![allow(clippy::result_large_err)]

use crate::state::App;
use crate::store::uploads::{NewUpload, UploadDb};
use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use im_revoke_core::attachment::{
    check_dimensions, check_expiry, check_key, check_upload, is_image, signed_payload,
    DEFAULT_ALLOWED, DEFAULT_MAX_UPLOAD,
};
use im_revoke_core::{Code, ImError};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjPath;
use object_store::{GetOptions, GetRange, ObjectStore, PutPayload};
use sha2::Sha256;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Attachment settings.
#[derive(Clone, Debug)]
pub struct AttachmentConfig {
    /// Where the bytes go (`None`: `attachments/` next to the database file; over PostgreSQL,
    /// attachments are off unless this or `s3` is set).
    pub dir: Option<PathBuf>,
    /// An S3-compatible bucket instead of a directory (several nodes).
    pub s3: Option<S3Config>,
    /// Largest upload, bytes.
    pub max_bytes: u64,
    /// Content types an upload may have (each checked against the bytes).
    pub types: Vec<String>,
    /// Uploads one user may run at the same time.
    pub parallel_per_user: usize,
    /// How long a download URL stays valid.
    pub url_ttl: Duration,
    /// Uploads not attached to a sent message are deleted after this.
    pub gc_after: Duration,
    /// How often the sweeper deletes what was scheduled.
    pub sweep_every: Duration,
}

impl Default for AttachmentConfig {
    fn default() -> Self {
        AttachmentConfig {
            dir: None,
            s3: None,
            max_bytes: DEFAULT_MAX_UPLOAD,
            types: DEFAULT_ALLOWED.iter().map(|t| t.to_string()).collect(),
            parallel_per_user: 4,
            url_ttl: Duration::from_secs(3600),
            gc_after: Duration::from_secs(24 * 3600),
            sweep_every: Duration::from_millis(200),
        }
    }
}

/// Where in S3-compatible storage attachments go. The keys come from the environment, never
/// from flags: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`), as
/// object_store's `AmazonS3Builder::from_env` reads them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Config {
    /// The bucket (it must exist).
    pub bucket: String,
    /// The service's URL, for storage other than AWS (`http://…` is allowed: loopback or a
    /// private network); `None`: AWS in `region`.
    pub endpoint: Option<String>,
    /// The region (`us-east-1` when not set here or in `AWS_REGION`).
    pub region: Option<String>,
}

/// The attachment flags of `serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct AttachmentArgs {
    /// Directory for attachment bytes (default: `attachments/` next to the SQLite file; over
    /// PostgreSQL, attachments are off unless this or --attachments-s3-bucket is given).
    #[arg(
        long,
        env = "IMR_ATTACHMENTS_DIR",
        conflicts_with = "attachments_s3_bucket"
    )]
    pub attachments_dir: Option<PathBuf>,
    /// Keep attachment bytes in this S3-compatible bucket instead of a directory (what several
    /// nodes need). Keys from the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
    /// (optional AWS_SESSION_TOKEN).
    #[arg(long, env = "IMR_ATTACHMENTS_S3_BUCKET")]
    pub attachments_s3_bucket: Option<String>,
    /// The S3-compatible service's URL (MinIO, Ceph, moto, …; http:// allowed); default AWS.
    #[arg(
        long,
        env = "IMR_ATTACHMENTS_S3_ENDPOINT",
        requires = "attachments_s3_bucket"
    )]
    pub attachments_s3_endpoint: Option<String>,
    /// The bucket's region (default: AWS_REGION, else us-east-1).
    #[arg(
        long,
        env = "IMR_ATTACHMENTS_S3_REGION",
        requires = "attachments_s3_bucket"
    )]
    pub attachments_s3_region: Option<String>,
    /// Largest upload, bytes.
    #[arg(long, env = "IMR_MAX_UPLOAD_BYTES", default_value_t = DEFAULT_MAX_UPLOAD)]
    pub max_upload_bytes: u64,
    /// A content type uploads may have (repeatable; default: png, jpeg, gif, webp, pdf, zip,
    /// plain text). Each is checked against the bytes; only those types can be recognised.
    #[arg(long = "upload-type", env = "IMR_UPLOAD_TYPES", value_delimiter = ',')]
    pub upload_types: Vec<String>,
    /// Uploads one user may run at the same time.
    #[arg(long, env = "IMR_MAX_PARALLEL_UPLOADS", default_value_t = 4)]
    pub max_parallel_uploads: usize,
    /// How long a download URL is valid, seconds.
    #[arg(long, env = "IMR_DOWNLOAD_URL_TTL", default_value_t = 3600)]
    pub download_url_ttl: u64,
    /// Uploads never sent in a message are deleted after this many seconds.
    #[arg(long, env = "IMR_UPLOAD_GC_AFTER", default_value_t = 86_400)]
    pub upload_gc_after: u64,
}

impl AttachmentArgs {
    /// The settings these flags give.
    pub fn into_config(self) -> AttachmentConfig {
        let d = AttachmentConfig::default();
        AttachmentConfig {
            dir: self.attachments_dir,
            s3: self.attachments_s3_bucket.map(|bucket| S3Config {
                bucket,
                endpoint: self.attachments_s3_endpoint,
                region: self.attachments_s3_region,
            }),
            max_bytes: self.max_upload_bytes,
            types: if self.upload_types.is_empty() {
                d.types
            } else {
                self.upload_types
            },
            parallel_per_user: self.max_parallel_uploads.max(1),
            url_ttl: Duration::from_secs(self.download_url_ttl.max(1)),
            gc_after: Duration::from_secs(self.upload_gc_after),
            sweep_every: d.sweep_every,
        }
    }
}

/// The attachment store of a running server.
pub struct Attachments {
    cfg: AttachmentConfig,
    store: Arc<dyn ObjectStore>,
    db: Arc<Mutex<Box<dyn UploadDb>>>,
    key: Vec<u8>,
    uploading: Mutex<HashMap<String, usize>>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn mac(key: &[u8], payload: &str) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    m.update(payload.as_bytes());
    m
}

/// An error answer: the status and `{code, desc}`.
fn refuse(status: StatusCode, e: ImError) -> Response {
    let body = serde_json::json!({ "code": e.code.num(), "desc": e.desc });
    (status, axum::Json(body)).into_response()
}

fn refuse_code(status: StatusCode, code: Code, desc: &str) -> Response {
    refuse(status, ImError::with_desc(code, desc))
}

/// One user's place among their uploads in progress; released on drop.
struct Slot<'a>(&'a Attachments, String);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut m = self.0.uploading.lock().expect("not poisoned");
        if let Some(n) = m.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.1);
            }
        }
    }
}

/// Why the attachment store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The directory, or the object store's settings.
    #[error("attachment store: {0}")]
    Store(String),
    /// The upload rows' database.
    #[error("attachment database: {0}")]
    Db(String),
}

/// The object store `cfg` names: its S3 bucket, its directory, or `default_dir` (`None`:
/// nothing to open, attachments are off).
pub fn object_store(
    cfg: &AttachmentConfig,
    default_dir: Option<&std::path::Path>,
) -> Result<Option<Arc<dyn ObjectStore>>, OpenError> {
    if let Some(s3) = &cfg.s3 {
        return s3_store(s3).map(Some);
    }
    let Some(dir) = cfg.dir.as_deref().or(default_dir) else {
        return Ok(None);
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| OpenError::Store(format!("{}: {e}", dir.display())))?;
    let fs = LocalFileSystem::new_with_prefix(dir).map_err(|e| OpenError::Store(e.to_string()))?;
    Ok(Some(Arc::new(fs)))
}

#[cfg(feature = "s3")]
fn s3_store(s3: &S3Config) -> Result<Arc<dyn ObjectStore>, OpenError> {
    use object_store::aws::AmazonS3Builder;
    let mut b = AmazonS3Builder::from_env().with_bucket_name(&s3.bucket);
    if let Some(region) = &s3.region {
        b = b.with_region(region);
    } else if std::env::var_os("AWS_REGION").is_none()
        && std::env::var_os("AWS_DEFAULT_REGION").is_none()
    {
        b = b.with_region("us-east-1");
    }
    if let Some(url) = &s3.endpoint {
        b = b
            .with_endpoint(url)
            .with_allow_http(url.starts_with("http://"));
    }
    let store = b.build().map_err(|e| OpenError::Store(e.to_string()))?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "s3"))]
fn s3_store(_: &S3Config) -> Result<Arc<dyn ObjectStore>, OpenError> {
    Err(OpenError::Store(
        "this server was built without S3 support (cargo feature `s3`)".into(),
    ))
}

impl Attachments {
    /// The attachment store over `store` (the bytes) and `db` (the rows), signing URLs with a
    /// key derived from the server's `secret`.
    pub fn new(
        cfg: AttachmentConfig,
        store: Arc<dyn ObjectStore>,
        db: Box<dyn UploadDb>,
        secret: &str,
    ) -> Attachments {
        let mut key = b"im-revoke attachment URLs\0".to_vec();
        key.extend_from_slice(secret.as_bytes());
        Attachments {
            cfg,
            store,
            db: Arc::new(Mutex::new(db)),
            key,
            uploading: Mutex::new(HashMap::new()),
        }
    }

    /// Opens the store under `--attachments-dir` (default `attachments/` next to the SQLite
    /// file `db`, created if needed) or in S3, with a connection of its own to the SQLite
    /// database at `db`.
    pub fn open_sqlite(
        cfg: AttachmentConfig,
        db: &std::path::Path,
        secret: &str,
    ) -> Result<Attachments, OpenError> {
        let default_dir = db
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join("attachments");
        let store = object_store(&cfg, Some(&default_dir))?.expect("a default directory");
        let rows = crate::store::uploads::SqliteUploads::open(db).map_err(OpenError::Db)?;
        Ok(Attachments::new(cfg, store, Box::new(rows), secret))
    }

    /// Over PostgreSQL at `url` (blocking): `None` unless `--attachments-s3-bucket` or
    /// `--attachments-dir` says where the bytes go.
    pub fn open_postgres(
        cfg: AttachmentConfig,
        url: &str,
        secret: &str,
    ) -> Result<Option<Attachments>, OpenError> {
        let Some(store) = object_store(&cfg, None)? else {
            return Ok(None);
        };
        let rows = crate::store::uploads::PgUploads::connect(url)
            .map_err(|e| OpenError::Db(e.to_string()))?;
        Ok(Some(Attachments::new(cfg, store, Box::new(rows), secret)))
    }

    /// The settings in force.
    pub fn config(&self) -> &AttachmentConfig {
        &self.cfg
    }

    /// The signature of a download URL of `key` for `user` until `exp_s`.
    fn sign(&self, key: &str, user: &str, exp_s: u64) -> String {
        hex(&mac(&self.key, &signed_payload(key, user, exp_s))
            .finalize()
            .into_bytes())
    }

    /// The hub's URL signer: `/file/{key}?u=…&exp=…&sig=…`, valid for `--download-url-ttl`.
    pub fn signer(self: &Arc<Self>) -> im_revoke_core::attachment::UrlSigner {
        let me = self.clone();
        Box::new(move |key, user| {
            let exp = now_ms() / 1000 + me.cfg.url_ttl.as_secs().max(1);
            let u = percent_encoding::utf8_percent_encode(user, percent_encoding::NON_ALPHANUMERIC);
            format!(
                "/file/{key}?u={u}&exp={exp}&sig={}",
                me.sign(key, user, exp)
            )
        })
    }

    fn enter(&self, user: &str) -> Option<Slot<'_>> {
        let mut m = self.uploading.lock().expect("not poisoned");
        let n = m.entry(user.to_string()).or_insert(0);
        if *n >= self.cfg.parallel_per_user {
            return None;
        }
        *n += 1;
        Some(Slot(self, user.to_string()))
    }

    async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn UploadDb) -> Result<T, String> + Send + 'static,
    ) -> Result<T, Response> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&mut **db.lock().expect("not poisoned")))
            .await
            .map_err(|_| ())
            .and_then(|r| r.map_err(|e| tracing::error!(error = %e, "attachment database")))
            .map_err(|()| {
                refuse_code(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Code::InternalError,
                    "attachment database",
                )
            })
    }

    /// One pass of the sweeper: schedules uploads never sent and older than `--upload-gc-after`,
    /// then deletes the bytes of everything scheduled and forgets the schedule. Returns how
    /// many were deleted.
    pub async fn sweep(&self) -> usize {
        let before = now_ms()
            .saturating_sub(u64::try_from(self.cfg.gc_after.as_millis()).unwrap_or(u64::MAX));
        let before = i64::try_from(before).unwrap_or(i64::MAX);
        let keys = self
            .db(move |d| d.scheduled(before))
            .await
            .unwrap_or_default();
        let mut done = 0;
        for key in keys {
            match self.store.delete(&ObjPath::from(key.as_str())).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => {
                    tracing::warn!(error = %e, key, "deleting an attachment failed; retried later");
                    continue;
                }
            }
            if self.db(move |d| d.forget(&key)).await.is_ok() {
                done += 1;
            }
        }
        done
    }

    /// Whether the bytes of `key` are in the store (tests).
    pub async fn has_bytes(&self, key: &str) -> bool {
        self.store.head(&ObjPath::from(key)).await.is_ok()
    }
}

/// Runs the sweeper until the server stops: at once (what a crash left scheduled), then every
/// `sweep_every`.
pub async fn sweeper(att: Arc<Attachments>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        while att.sweep().await > 0 {}
        tokio::select! {
            _ = tokio::time::sleep(att.cfg.sweep_every) => {}
            _ = shutdown.changed() => return,
        }
    }
}

fn user_of(app: &App, headers: &HeaderMap) -> Result<String, Response> {
    let unauthorized = |desc| refuse_code(StatusCode::UNAUTHORIZED, Code::UserSigEmpty, desc);
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unauthorized("Authorization: UserSig <userID> <userSig> is required"))?;
    let mut parts = auth.split_ascii_whitespace();
    let (Some("UserSig"), Some(user), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(unauthorized(
            "Authorization: UserSig <userID> <userSig> is required",
        ));
    };
    im_revoke_core::model::check_user_id(user)
        .and_then(|()| app.auth.verify(user, sig))
        .map_err(|e| refuse(StatusCode::UNAUTHORIZED, e))?;
    Ok(user.to_string())
}

fn new_key() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the OS gives random bytes");
    hex(&b)
}

/// `POST /upload`: the body is the file's bytes; `Content-Type` its declared type;
/// `X-File-Name` (percent-encoded UTF-8) its name. Answers 201 with
/// `{uuid, type, size, width, height, fileName}`.
pub async fn upload(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let Some(att) = app.attachments.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let user = match user_of(&app, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let Some(_slot) = att.enter(&user) else {
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            ImError::new(Code::TooManyUploads),
        );
    };
    let max = att.cfg.max_bytes;
    let too_large = || {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            ImError::new(Code::AttachmentTooLarge),
        )
    };
    let declared_len = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_len.is_some_and(|n| n > max) {
        return too_large();
    }
    let mut bytes =
        Vec::with_capacity(usize::try_from(declared_len.unwrap_or(0).min(max)).unwrap_or(0));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return refuse_code(
                StatusCode::BAD_REQUEST,
                Code::InvalidParameters,
                "the upload was cut short",
            );
        };
        if (bytes.len() + chunk.len()) as u64 > max {
            return too_large();
        }
        bytes.extend_from_slice(&chunk);
    }
    if declared_len.is_some_and(|n| n != bytes.len() as u64) || bytes.is_empty() {
        return refuse_code(
            StatusCode::BAD_REQUEST,
            Code::InvalidParameters,
            "the upload was cut short or empty",
        );
    }
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = match check_upload(declared, &bytes, &att.cfg.types) {
        Ok(m) => m,
        Err(e) => return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, e),
    };
    let (mut width, mut height) = (None, None);
    if is_image(mime) {
        let Ok(d) = imagesize::blob_size(&bytes) else {
            return refuse_code(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Code::AttachmentTypeNotAllowed,
                "the image header cannot be read",
            );
        };
        let (w, h) = (
            u32::try_from(d.width).unwrap_or(u32::MAX),
            u32::try_from(d.height).unwrap_or(u32::MAX),
        );
        if let Err(e) = check_dimensions(w, h) {
            return refuse(StatusCode::UNPROCESSABLE_ENTITY, e);
        }
        (width, height) = (Some(w), Some(h));
    }
    let name = headers
        .get("x-file-name")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
        .unwrap_or_default();
    let name: String = name.chars().filter(|c| !c.is_control()).take(255).collect();
    let key = new_key();
    let size = bytes.len() as u64;
    if let Err(e) = att
        .store
        .put(&ObjPath::from(key.as_str()), PutPayload::from(bytes))
        .await
    {
        tracing::error!(error = %e, "storing an upload failed");
        return refuse_code(
            StatusCode::INTERNAL_SERVER_ERROR,
            Code::InternalError,
            "storing the upload failed",
        );
    }
    let row = NewUpload {
        key: key.clone(),
        owner: user.clone(),
        mime: mime.to_string(),
        name: name.clone(),
        size: i64::try_from(size).unwrap_or(i64::MAX),
        width: width.map(i64::from),
        height: height.map(i64::from),
        created_ms: i64::try_from(now_ms()).unwrap_or(i64::MAX),
    };
    let row = att.db(move |d| d.insert(&row)).await;
    if let Err(r) = row {
        let _ = att.store.delete(&ObjPath::from(key.as_str())).await;
        return r;
    }
    let body = serde_json::json!({
        "uuid": key, "type": mime, "size": size, "width": width, "height": height, "fileName": name,
    });
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

fn parse_range(h: &str, len: u64) -> Option<std::ops::Range<u64>> {
    let spec = h.strip_prefix("bytes=")?;
    if spec.contains(',') || len == 0 {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let r = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        len.saturating_sub(n)..len
    } else {
        let start: u64 = a.parse().ok()?;
        let end = if b.is_empty() {
            len - 1
        } else {
            b.parse::<u64>().ok()?.min(len - 1)
        };
        start..end + 1
    };
    (r.start < r.end && r.start < len).then_some(r)
}

/// `GET /file/{key}?u=&exp=&sig=`: the bytes, to the user the URL was signed for, while it has
/// not expired, while that user is a party of the message (or, before it is sent, its owner), and
/// until the message is revoked (then 410). Honours `Range`.
pub async fn download(
    State(app): State<Arc<App>>,
    UrlPath(key): UrlPath<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some(att) = app.attachments.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let forbidden = |desc| refuse_code(StatusCode::FORBIDDEN, Code::InvalidParameters, desc);
    if check_key(&key).is_err() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let (Some(user), Some(exp), Some(sig)) = (q.get("u"), q.get("exp"), q.get("sig")) else {
        return forbidden("the URL is not signed");
    };
    let Ok(exp) = exp.parse::<u64>() else {
        return forbidden("the URL is not signed");
    };
    let sig_ok = (sig.len() == 64)
        .then(|| {
            (0..32)
                .map(|i| u8::from_str_radix(&sig[2 * i..2 * i + 2], 16).ok())
                .collect::<Option<Vec<u8>>>()
        })
        .flatten()
        .is_some_and(|s| {
            mac(&att.key, &signed_payload(&key, user, exp))
                .verify_slice(&s)
                .is_ok()
        });
    if !sig_ok {
        return forbidden("the URL's signature does not verify");
    }
    if !check_expiry(exp, now_ms()) {
        return forbidden("the URL has expired");
    }
    let (k, u) = (key.clone(), user.clone());
    let row = match att.db(move |d| d.download(&k, &u)).await {
        Ok(Some(r)) => r,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(r) => return r,
    };
    if !row.party {
        return StatusCode::NOT_FOUND.into_response();
    }
    if row.gone {
        return StatusCode::GONE.into_response();
    }
    let path = ObjPath::from(key.as_str());
    let len = match att.store.head(&path).await {
        Ok(m) => m.size,
        Err(_) => return StatusCode::GONE.into_response(),
    };
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let wanted = match range {
        None => None,
        Some(h) => match parse_range(h, len) {
            Some(r) => Some(r),
            None => {
                let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    r.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                return r;
            }
        },
    };
    let opts = GetOptions {
        range: wanted.clone().map(GetRange::Bounded),
        ..GetOptions::default()
    };
    let got = match att.store.get_opts(&path, opts).await {
        Ok(g) => g,
        Err(_) => return StatusCode::GONE.into_response(),
    };
    let stream = got.into_stream().map(|r| r.map_err(std::io::Error::other));
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    let mut set = |k: header::HeaderName, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    };
    set(header::CONTENT_TYPE, &row.mime);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::CACHE_CONTROL, "private, no-store");
    set(header::ACCEPT_RANGES, "bytes");
    let name = percent_encoding::utf8_percent_encode(&row.name, percent_encoding::NON_ALPHANUMERIC);
    let disposition = if is_image(&row.mime) {
        "inline"
    } else {
        "attachment"
    };
    set(
        header::CONTENT_DISPOSITION,
        &format!("{disposition}; filename*=UTF-8''{name}"),
    );
    set(
        header::CONTENT_SECURITY_POLICY,
        "sandbox; default-src 'none'",
    );
    match wanted {
        Some(r) => {
            set(header::CONTENT_LENGTH, &(r.end - r.start).to_string());
            set(
                header::CONTENT_RANGE,
                &format!("bytes {}-{}/{len}", r.start, r.end - 1),
            );
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        }
        None => set(header::CONTENT_LENGTH, &len.to_string()),
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(0..10));
        assert_eq!(parse_range("bytes=90-", 100), Some(90..100));
        assert_eq!(parse_range("bytes=-5", 100), Some(95..100));
        assert_eq!(parse_range("bytes=50-1000", 100), Some(50..100));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }
}
