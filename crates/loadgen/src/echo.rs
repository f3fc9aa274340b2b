//! A bare tokio-tungstenite echo server: the baseline for latency (a loopback WebSocket round
//! trip with no JSON, no rules, no storage) and for idle memory (a plain tungstenite server
//! with a chosen read buffer, tungstenite's default 128 KiB unless told otherwise). With
//! `broadcast`, also the baseline of a fan-out: a text frame `bcast:PAYLOAD` is written to every
//! other connection (one task per connection with its own queue, as the server has), with no
//! rules, no storage and no per-member encoding.

use crate::common::{err, loopback_addr, Result};
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// The frame prefix that asks a broadcasting echo server to write the rest to everyone else.
pub const BROADCAST_PREFIX: &str = "bcast:";

/// Settings of the echo server.
#[derive(Debug, Clone)]
pub struct EchoConfig {
    /// Read buffer per connection (tungstenite's default: 128 KiB).
    pub read_buffer: usize,
    /// Write buffer per connection (tungstenite's default: 128 KiB).
    pub write_buffer: usize,
    /// Broadcast `bcast:` frames to the other connections instead of echoing them.
    pub broadcast: bool,
}

impl Default for EchoConfig {
    fn default() -> Self {
        let d = WebSocketConfig::default();
        EchoConfig {
            read_buffer: d.read_buffer_size,
            write_buffer: d.write_buffer_size,
            broadcast: false,
        }
    }
}

/// Binds `listen` (must be loopback) and returns the listener and its address.
pub async fn bind(listen: SocketAddr) -> Result<(TcpListener, SocketAddr)> {
    if !listen.ip().is_loopback() {
        return Err(err(format!(
            "the echo server only listens on loopback, not {listen}"
        )));
    }
    let l = TcpListener::bind(listen).await?;
    let a = l.local_addr()?;
    Ok((l, a))
}

/// Accepts connections and echoes every text or binary message, until `stop` resolves.
pub async fn serve(
    listener: TcpListener,
    cfg: EchoConfig,
    stop: impl std::future::Future<Output = ()>,
) {
    let wcfg = WebSocketConfig::default()
        .read_buffer_size(cfg.read_buffer)
        .write_buffer_size(cfg.write_buffer);
    type Peers = Arc<Mutex<Vec<(u64, mpsc::UnboundedSender<Utf8Bytes>)>>>;
    let peers: Peers = Arc::default();
    let ids = Arc::new(AtomicU64::new(0));
    let accept = async {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let _ = stream.set_nodelay(true);
            let (peers, id) = (peers.clone(), ids.fetch_add(1, Ordering::Relaxed));
            let broadcast = cfg.broadcast;
            tokio::spawn(async move {
                let Ok(mut ws) =
                    tokio_tungstenite::accept_async_with_config(stream, Some(wcfg)).await
                else {
                    return;
                };
                let (tx, mut rx) = mpsc::unbounded_channel::<Utf8Bytes>();
                if broadcast {
                    peers.lock().unwrap().push((id, tx));
                }
                loop {
                    let m = tokio::select! {
                        m = ws.next() => m,
                        Some(t) = rx.recv() => {
                            if ws.send(Message::Text(t)).await.is_err() {
                                break;
                            }
                            continue;
                        }
                    };
                    let Some(Ok(m)) = m else { break };
                    if let Message::Text(t) = &m {
                        if let Some(rest) = t.as_str().strip_prefix(BROADCAST_PREFIX) {
                            let payload = Utf8Bytes::from(rest);
                            for (peer, out) in peers.lock().unwrap().iter() {
                                if *peer != id {
                                    let _ = out.send(payload.clone());
                                }
                            }
                            continue;
                        }
                    }
                    let echo = matches!(m, Message::Text(_) | Message::Binary(_));
                    if matches!(m, Message::Close(_)) || (echo && ws.send(m).await.is_err()) {
                        break;
                    }
                }
                if broadcast {
                    peers.lock().unwrap().retain(|(p, _)| *p != id);
                }
            });
        }
    };
    tokio::select! {
        _ = accept => {}
        _ = stop => {}
    }
}

/// Starts the echo server on its own OS thread with its own single-threaded runtime (so it
/// does not share the load generator's scheduler, as the real server does not), on
/// 127.0.0.1:0. Returns its `ws://` URL and a guard that stops it when dropped.
pub fn spawn_thread(cfg: EchoConfig) -> Result<(String, EchoGuard)> {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let handle = std::thread::Builder::new()
        .name("echo-baseline".into())
        .spawn(move || {
            // A broadcast baseline gets a worker per core, as the im-revoke server has.
            let mut b = match cfg.broadcast {
                true => tokio::runtime::Builder::new_multi_thread(),
                false => tokio::runtime::Builder::new_current_thread(),
            };
            let rt = match b.enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = addr_tx.send(Err(e.to_string()));
                    return;
                }
            };
            rt.block_on(async move {
                match bind("127.0.0.1:0".parse().expect("literal")).await {
                    Ok((l, a)) => {
                        let _ = addr_tx.send(Ok(a));
                        serve(l, cfg, async {
                            let _ = stop_rx.await;
                        })
                        .await;
                    }
                    Err(e) => {
                        let _ = addr_tx.send(Err(e.to_string()));
                    }
                }
            });
        })?;
    let addr = addr_rx
        .recv_timeout(Duration::from_secs(10))
        .map_err(|_| err("echo server did not start"))?
        .map_err(err)?;
    let url = format!("ws://{addr}/");
    loopback_addr(&url)?;
    Ok((
        url,
        EchoGuard {
            stop: Some(stop_tx),
            handle: Some(handle),
        },
    ))
}

/// Stops the echo thread on drop.
pub struct EchoGuard {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Drop for EchoGuard {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
