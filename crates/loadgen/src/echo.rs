//! A bare tokio-tungstenite echo server: the baseline for latency (a loopback WebSocket round
//! trip with no JSON, no rules, no storage) and for idle memory (a plain tungstenite server
//! with a chosen read buffer, tungstenite's default 128 KiB unless told otherwise).

use crate::common::{err, loopback_addr, Result};
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

/// Settings of the echo server.
#[derive(Debug, Clone)]
pub struct EchoConfig {
    /// Read buffer per connection (tungstenite's default: 128 KiB).
    pub read_buffer: usize,
    /// Write buffer per connection (tungstenite's default: 128 KiB).
    pub write_buffer: usize,
}

impl Default for EchoConfig {
    fn default() -> Self {
        let d = WebSocketConfig::default();
        EchoConfig {
            read_buffer: d.read_buffer_size,
            write_buffer: d.write_buffer_size,
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
    let accept = async {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let Ok(mut ws) =
                    tokio_tungstenite::accept_async_with_config(stream, Some(wcfg)).await
                else {
                    return;
                };
                while let Some(Ok(m)) = ws.next().await {
                    let echo = matches!(m, Message::Text(_) | Message::Binary(_));
                    if matches!(m, Message::Close(_)) || (echo && ws.send(m).await.is_err()) {
                        return;
                    }
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
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
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
