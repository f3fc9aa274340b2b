//! `attach`: attachments over the real server. A sender and a receiver are logged in; each
//! round the sender uploads a file of random bytes (`POST /upload`, a ZIP by its first bytes,
//! 5 MB by default), sends it in a file message, the receiver gets the message and downloads its
//! signed URL (the bytes are checked), the sender revokes it, and the receiver polls the URL
//! until it answers 410.
//!
//! Measured: upload time (request written → `201` read) and download time (request written →
//! last byte read), both also in MB/s (10^6 bytes a second); revoke written → `revokeOk`; and
//! **revoke → URL gone**: the `revokeOk` decoded → the first `410` read by the receiver, with how
//! many rounds were already gone at the first poll after the ack (the server marks the uploads
//! gone in the revoke's own transaction, so every one should be). The polls ask for one byte
//! (`Range: bytes=0-0`), so a URL that still serves costs no 5 MB per poll.
//!
//! Baselines in the same run, same size: `std::fs::copy` of a file in `--dir` followed by an
//! fsync of the copy (and the copy alone, without the fsync: the server's local object store
//! does not fsync the bytes it stores), and a loopback TCP transfer between two tokio tasks.

use crate::common::{err, nanos, print_summary, run_tag, summarize, Result, Summary, Target, Ws};
use crate::rest::HttpConn;
use im_revoke_core::{ClientFrame, Elem, Event, ServerFrame};
use serde::Serialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Largest file this scenario moves (the server's own default limit is 20 MiB).
pub const MAX_BYTES: usize = 64 << 20;
/// Most polls of a revoked URL in one round before the round fails.
pub const MAX_POLLS: usize = 10_000;

/// Options of `attach`.
#[derive(Debug, Clone)]
pub struct AttachOpts {
    /// Measured rounds.
    pub rounds: usize,
    /// Unmeasured rounds first.
    pub warmup: usize,
    /// Bytes of each file (at most [`MAX_BYTES`]).
    pub bytes: usize,
    /// Directory of the file-copy baseline (the server's data directory, for the same disk).
    pub dir: PathBuf,
    /// How long the receiver polls a revoked URL before the round fails, seconds.
    pub poll_secs: f64,
    /// Give up after this long in all.
    pub max_secs: f64,
}

/// Times of one kind of transfer of [`AttachReport::bytes`] bytes, and their rates.
#[derive(Debug, Clone, Serialize)]
pub struct Transfer {
    /// Start → end of each transfer.
    pub time: Summary,
    /// MB/s (10^6 bytes a second) at the median time.
    pub mb_per_s_p50: f64,
    /// MB/s at the 99th-percentile time (the slow end).
    pub mb_per_s_p99: f64,
}

/// What `attach` measured.
#[derive(Debug, Clone, Serialize)]
pub struct AttachReport {
    /// Bytes of each file.
    pub bytes: usize,
    /// Measured rounds.
    pub rounds: usize,
    /// `POST /upload`: request written → `201` read.
    pub upload: Transfer,
    /// `GET` of the receiver's URL: request written → last byte read.
    pub download: Transfer,
    /// The file message's send written → the receiver has decoded the message.
    pub send_to_receiver: Summary,
    /// Revoke written → `revokeOk` decoded (the durable ack).
    pub revoke_ack: Summary,
    /// `revokeOk` decoded → the receiver has read a `410` for the URL.
    pub ack_to_gone: Summary,
    /// Revoke written → the receiver has read a `410`.
    pub revoke_to_gone: Summary,
    /// Rounds whose first poll after the ack already answered 410 (gone when acked).
    pub gone_at_first_poll: usize,
    /// Most polls one round needed (1: gone at the first).
    pub polls_max: usize,
    /// Baseline: `std::fs::copy` in `dir`, then fsync of the copy.
    pub file_copy_fsync: Transfer,
    /// Baseline: `std::fs::copy` in `dir` alone (the page cache).
    pub file_copy: Transfer,
    /// Baseline: the same bytes over a loopback TCP connection between two tokio tasks.
    pub tcp_loopback: Transfer,
    /// Upload MB/s ÷ copy-with-fsync MB/s, at the medians (1: as fast as a file copy).
    pub upload_vs_copy: f64,
    /// Download MB/s ÷ copy-with-fsync MB/s, at the medians.
    pub download_vs_copy: f64,
    /// The baselines' directory.
    pub dir: String,
}

fn transfer(bytes: usize, samples: &mut [u64]) -> Transfer {
    let time = summarize(samples);
    let rate = |ms: f64| {
        if ms > 0.0 {
            (bytes as f64 / 1e6) / (ms / 1e3)
        } else {
            0.0
        }
    };
    Transfer {
        mb_per_s_p50: rate(time.p50_ms),
        mb_per_s_p99: rate(time.p99_ms),
        time,
    }
}

/// `n` bytes that the server takes for a ZIP (its magic number first), the rest pseudo-random
/// from `seed` (splitmix64: no two rounds alike, nothing compressible).
pub fn zip_like(n: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 8);
    let mut s = seed;
    out.extend_from_slice(b"PK\x03\x04");
    while out.len() < n {
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(n);
    out
}

/// The path (and query) of a download URL the server gave: relative as the server sends it, or
/// absolute on a loopback `http://` origin.
fn url_path(url: &str) -> Result<String> {
    if url.starts_with('/') {
        return Ok(url.to_string());
    }
    crate::rest::http_addr(url)?;
    let rest = url.strip_prefix("http://").unwrap_or(url);
    Ok(rest.find('/').map_or("/".into(), |i| rest[i..].to_string()))
}

async fn until<T>(
    deadline: Instant,
    what: &str,
    f: impl std::future::Future<Output = T>,
) -> Result<T> {
    tokio::time::timeout_at(deadline.into(), f)
        .await
        .map_err(|_| err(format!("attach: out of time ({what})")))
}

/// Waits for the answer to request `req` on `ws`: `Ok` with the frame, or the server's error.
async fn answer(ws: &mut Ws, req: &str, deadline: Instant) -> Result<(Instant, ServerFrame)> {
    loop {
        let f = crate::common::recv_until(ws, deadline).await?;
        let at = Instant::now();
        match &f {
            ServerFrame::SendOk { req_id, .. } | ServerFrame::RevokeOk { req_id, .. }
                if req_id == req =>
            {
                return Ok((at, f))
            }
            ServerFrame::Error {
                req_id: Some(r),
                code,
                desc,
            } if r == req => return Err(err(format!("{req}: {} {desc}", code.num()))),
            _ => {}
        }
    }
}

/// Waits for the new message `msg_id` on `ws`; when it was decoded and its file URL.
async fn delivered(ws: &mut Ws, msg_id: &str, deadline: Instant) -> Result<(Instant, String)> {
    loop {
        let f = crate::common::recv_until(ws, deadline).await?;
        let at = Instant::now();
        let ServerFrame::Event(env) = f else { continue };
        let Event::NewMessage { message } = &*env.event else {
            continue;
        };
        if message.msg_id != msg_id {
            continue;
        }
        return match &message.elem {
            Some(Elem::File { url, .. }) if !url.is_empty() => Ok((at, url.clone())),
            other => Err(err(format!(
                "the receiver got {msg_id} without a file URL: {other:?}"
            ))),
        };
    }
}

/// One measured round's times.
struct Round {
    upload: u64,
    download: u64,
    send_to_receiver: u64,
    revoke_ack: u64,
    ack_to_gone: u64,
    revoke_to_gone: u64,
    polls: usize,
}

struct Side {
    ws: Ws,
    http: HttpConn,
}

#[allow(clippy::too_many_arguments)]
async fn round(
    i: usize,
    tag: &str,
    a: &mut Side,
    b: &mut Side,
    a_auth: &str,
    b_user: &str,
    o: &AttachOpts,
    hard: Instant,
) -> Result<Round> {
    let data = zip_like(o.bytes, (i as u64) << 32 ^ crate::common::unix_secs());
    let name = format!("attach-{tag}-{i}.zip");

    // Upload.
    let t0 = Instant::now();
    let up = until(
        hard,
        "upload",
        a.http.request(
            "POST",
            "/upload",
            &[
                ("Authorization", a_auth),
                ("Content-Type", "application/zip"),
                ("X-File-Name", &name),
            ],
            &data,
            1 << 16,
        ),
    )
    .await??;
    let upload = nanos(t0.elapsed());
    if up.status != 201 {
        return Err(err(format!(
            "upload: {} {}",
            up.status,
            String::from_utf8_lossy(&up.body)
        )));
    }
    let v: serde_json::Value = serde_json::from_slice(&up.body)?;
    let uuid = v["uuid"]
        .as_str()
        .ok_or_else(|| err(format!("upload: no uuid in {v}")))?
        .to_string();
    if v["size"].as_u64() != Some(o.bytes as u64) || v["type"] != "application/zip" {
        return Err(err(format!("upload: the server stored {v}")));
    }

    // Send it; the receiver gets the message with a URL of its own.
    let msg_id = format!("att-{tag}-{i}");
    let send = ClientFrame::Send {
        req_id: format!("s{i}"),
        msg_id: msg_id.clone(),
        receiver: Some(b_user.to_string()),
        group_id: None,
        elem: Elem::File {
            uuid,
            file_name: name,
            file_size: o.bytes as u64,
            url: String::new(),
        },
        reply_to: None,
        cloud_custom_data: None,
    };
    let t0 = Instant::now();
    crate::common::send(&mut a.ws, &send).await?;
    let req = format!("s{i}");
    let (sent, got) = tokio::join!(
        answer(&mut a.ws, &req, hard),
        delivered(&mut b.ws, &msg_id, hard)
    );
    sent?;
    let (at, url) = got?;
    let send_to_receiver = nanos(at - t0);
    let path = url_path(&url)?;

    // Download, and check the bytes.
    let t0 = Instant::now();
    let down = until(
        hard,
        "download",
        b.http.request("GET", &path, &[], &[], o.bytes + 1024),
    )
    .await??;
    let download = nanos(t0.elapsed());
    if down.status != 200 {
        return Err(err(format!("download: {}", down.status)));
    }
    if down.body != data {
        return Err(err(format!(
            "download: {} bytes that are not the {} uploaded",
            down.body.len(),
            data.len()
        )));
    }
    if down.header("content-type") != Some("application/zip") {
        return Err(err(format!(
            "download: Content-Type {:?}",
            down.header("content-type")
        )));
    }

    // Revoke; then the receiver polls its URL until it is gone.
    let req = format!("r{i}");
    let revoke = ClientFrame::Revoke {
        req_id: req.clone(),
        msg_id,
        reason: "wrong file".into(),
        group_id: None,
    };
    let t0 = Instant::now();
    crate::common::send(&mut a.ws, &revoke).await?;
    let (acked, _) = answer(&mut a.ws, &req, hard).await?;
    let poll_end = (acked + Duration::from_secs_f64(o.poll_secs)).min(hard);
    let mut polls = 0;
    let gone = loop {
        if polls >= MAX_POLLS {
            return Err(err(format!("the URL still serves after {MAX_POLLS} polls")));
        }
        polls += 1;
        let r = until(
            poll_end,
            "polling the revoked URL",
            b.http
                .request("GET", &path, &[("Range", "bytes=0-0")], &[], 1024),
        )
        .await??;
        match r.status {
            410 => break Instant::now(),
            200 | 206 => tokio::task::yield_now().await,
            s => return Err(err(format!("a revoked URL answered {s}, not 410"))),
        }
    };
    Ok(Round {
        upload,
        download,
        send_to_receiver,
        revoke_ack: nanos(acked - t0),
        ack_to_gone: nanos(gone - acked),
        revoke_to_gone: nanos(gone - t0),
        polls,
    })
}

/// Copies `src` to `dst` `n` times (`dst` removed before each); with `fsync`, each copy is
/// synced to the disk before its time is taken.
fn copy_times(src: &Path, dst: &Path, n: usize, fsync: bool) -> Result<Vec<u64>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let _ = std::fs::remove_file(dst);
        let t0 = Instant::now();
        std::fs::copy(src, dst)?;
        if fsync {
            std::fs::File::open(dst)?.sync_all()?;
        }
        out.push(nanos(t0.elapsed()));
    }
    let _ = std::fs::remove_file(dst);
    Ok(out)
}

/// The file-copy baselines in `dir`: (with fsync, without), `warmup` unmeasured copies first.
fn copy_baseline(dir: &Path, data: &[u8], n: usize, warmup: usize) -> Result<(Vec<u64>, Vec<u64>)> {
    let tag = run_tag();
    let src = dir.join(format!("attach-baseline-{tag}.src"));
    let dst = dir.join(format!("attach-baseline-{tag}.dst"));
    let run = || -> Result<(Vec<u64>, Vec<u64>)> {
        std::fs::write(&src, data)?;
        std::fs::File::open(&src)?.sync_all()?;
        copy_times(&src, &dst, warmup, true)?;
        let synced = copy_times(&src, &dst, n, true)?;
        let plain = copy_times(&src, &dst, n, false)?;
        Ok((synced, plain))
    };
    let r = run();
    let _ = std::fs::remove_file(&src);
    let _ = std::fs::remove_file(&dst);
    r.map_err(|e| err(format!("file copy in {}: {e}", dir.display())))
}

/// `data` over one loopback TCP connection between two tokio tasks, `n + warmup` times: write
/// started → the reading task has read the last byte (it answers one byte, so the time includes
/// one loopback round trip).
async fn tcp_baseline(data: Arc<Vec<u8>>, n: usize, warmup: usize) -> Result<Vec<u64>> {
    let l = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = l.local_addr()?;
    let d = data.clone();
    let reader = tokio::spawn(async move {
        let (mut s, _) = l.accept().await?;
        s.set_nodelay(true)?;
        let mut buf = vec![0u8; d.len()];
        for _ in 0..n + warmup {
            s.read_exact(&mut buf).await?;
            if buf != *d {
                return Err(err("the loopback baseline read other bytes"));
            }
            s.write_all(b"k").await?;
        }
        Ok::<_, crate::common::Error>(())
    });
    let mut c = tokio::net::TcpStream::connect(addr).await?;
    c.set_nodelay(true)?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n + warmup {
        let t0 = Instant::now();
        c.write_all(&data).await?;
        let mut k = [0u8; 1];
        c.read_exact(&mut k).await?;
        if i >= warmup {
            out.push(nanos(t0.elapsed()));
        }
    }
    reader.await.map_err(|e| err(e.to_string()))??;
    Ok(out)
}

/// Runs `attach`.
pub async fn run(t: Arc<Target>, o: &AttachOpts) -> Result<AttachReport> {
    if o.bytes < 8 || o.bytes > MAX_BYTES {
        return Err(err(format!(
            "--bytes must be 8..={MAX_BYTES}, not {}",
            o.bytes
        )));
    }
    let hard = Instant::now() + Duration::from_secs_f64(o.max_secs);
    let tag = run_tag();
    let (a_user, b_user) = (format!("att-{tag}-a"), format!("att-{tag}-b"));
    println!(
        "attach: {} rounds ({} warm-up) of a {:.1} MB file: upload, send, download, revoke, poll until 410",
        o.rounds,
        o.warmup,
        o.bytes as f64 / 1e6
    );
    let a_auth = format!("UserSig {a_user} {}", t.usersig(&a_user));
    let mut a = Side {
        ws: t.connect_login(&a_user).await?.0,
        http: HttpConn::connect(t.addr).await?,
    };
    let mut b = Side {
        ws: t.connect_login(&b_user).await?.0,
        http: HttpConn::connect(t.addr).await?,
    };
    let mut rs = Vec::with_capacity(o.rounds);
    for i in 0..o.warmup + o.rounds {
        let r = round(i, &tag, &mut a, &mut b, &a_auth, &b_user, o, hard).await?;
        if i >= o.warmup {
            rs.push(r);
        }
    }
    let pick = |f: fn(&Round) -> u64| rs.iter().map(f).collect::<Vec<u64>>();
    let upload = transfer(o.bytes, &mut pick(|r| r.upload));
    let download = transfer(o.bytes, &mut pick(|r| r.download));
    let send_to_receiver = summarize(&mut pick(|r| r.send_to_receiver));
    let revoke_ack = summarize(&mut pick(|r| r.revoke_ack));
    let ack_to_gone = summarize(&mut pick(|r| r.ack_to_gone));
    let revoke_to_gone = summarize(&mut pick(|r| r.revoke_to_gone));
    let gone_at_first_poll = rs.iter().filter(|r| r.polls == 1).count();
    let polls_max = rs.iter().map(|r| r.polls).max().unwrap_or(0);

    let data = Arc::new(zip_like(o.bytes, 7));
    let (dir, d, n, w) = (o.dir.clone(), data.clone(), o.rounds, o.warmup.max(1));
    let (mut synced, mut plain) = until(
        hard,
        "file copy baseline",
        tokio::task::spawn_blocking(move || copy_baseline(&dir, &d, n, w)),
    )
    .await?
    .map_err(|e| err(e.to_string()))??;
    let file_copy_fsync = transfer(o.bytes, &mut synced);
    let file_copy = transfer(o.bytes, &mut plain);
    let mut tcp = until(
        hard,
        "TCP baseline",
        tcp_baseline(data, o.rounds, o.warmup.max(1)),
    )
    .await??;
    let tcp_loopback = transfer(o.bytes, &mut tcp);
    let ratio = |x: f64, base: f64| if base > 0.0 { x / base } else { 0.0 };
    let r = AttachReport {
        bytes: o.bytes,
        rounds: o.rounds,
        upload_vs_copy: ratio(upload.mb_per_s_p50, file_copy_fsync.mb_per_s_p50),
        download_vs_copy: ratio(download.mb_per_s_p50, file_copy_fsync.mb_per_s_p50),
        upload,
        download,
        send_to_receiver,
        revoke_ack,
        ack_to_gone,
        revoke_to_gone,
        gone_at_first_poll,
        polls_max,
        file_copy_fsync,
        file_copy,
        tcp_loopback,
        dir: o.dir.display().to_string(),
    };
    let line = |label: &str, x: &Transfer| {
        print_summary(label, &x.time);
        println!(
            "  {:<34} {:>9.1} MB/s at p50, {:>9.1} MB/s at p99",
            "", x.mb_per_s_p50, x.mb_per_s_p99
        );
    };
    line("upload (POST /upload)", &r.upload);
    line("download (GET /file/…)", &r.download);
    print_summary("send → receiver has the message", &r.send_to_receiver);
    print_summary("revoke → revokeOk", &r.revoke_ack);
    print_summary("revokeOk → receiver reads 410", &r.ack_to_gone);
    print_summary("revoke → receiver reads 410", &r.revoke_to_gone);
    println!(
        "  gone at the first poll after the ack: {} of {} (most polls in a round: {})",
        r.gone_at_first_poll, r.rounds, r.polls_max
    );
    line("baseline: fs::copy + fsync", &r.file_copy_fsync);
    line("baseline: fs::copy (no fsync)", &r.file_copy);
    line("baseline: loopback TCP", &r.tcp_loopback);
    println!(
        "  upload / copy+fsync: {:.2}x; download / copy+fsync: {:.2}x (MB/s at the medians)",
        r.upload_vs_copy, r.download_vs_copy
    );
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_look_like_zips_and_differ_by_seed() {
        let a = zip_like(1001, 1);
        assert_eq!(a.len(), 1001);
        assert_eq!(
            im_revoke_core::attachment::sniff(&a),
            Some("application/zip")
        );
        assert_ne!(a, zip_like(1001, 2));
        assert_eq!(a, zip_like(1001, 1));
    }

    #[test]
    fn url_paths() {
        assert_eq!(url_path("/file/k?u=b").unwrap(), "/file/k?u=b");
        assert_eq!(
            url_path("http://127.0.0.1:9/file/k?u=b").unwrap(),
            "/file/k?u=b"
        );
        assert!(url_path("http://10.0.0.1/file/k").is_err());
    }

    #[test]
    fn rates_come_from_the_times() {
        let mut t = vec![10_000_000, 20_000_000];
        let x = transfer(5_000_000, &mut t);
        assert_eq!(x.mb_per_s_p50, 500.0);
        assert_eq!(x.mb_per_s_p99, 250.0);
    }
}
