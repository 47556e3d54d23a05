//! The daemon's HTTP side: axum on a current-thread tokio runtime in its own
//! thread. The one OS contact here is the socket bind, done by [`bind`]
//! before capture starts so a taken port fails fast.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::oneshot;

use super::model::Shared;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Binds `addr` (the only place the exporter touches the network).
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let l = TcpListener::bind(addr)?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// A running HTTP server; dropping it stops it.
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `shared` on `listener` from a thread of its own.
    pub fn start(listener: TcpListener, shared: Arc<Shared>) -> io::Result<Server> {
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let app = Router::new()
            .route("/metrics", get(metrics))
            .route("/report", get(report))
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/readyz", get(readyz))
            .with_state(shared);
        let thread = std::thread::Builder::new()
            .name("metrics-http".into())
            .spawn(move || {
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            eprintln!("tuntrace: metrics: {e}");
                            return;
                        }
                    };
                    let stop = async move {
                        let _ = rx.await;
                    };
                    if let Err(e) = axum::serve(listener, app)
                        .with_graceful_shutdown(stop)
                        .await
                    {
                        eprintln!("tuntrace: metrics: {e}");
                    }
                });
                // Keep-alive connections must not hold the process.
                rt.shutdown_timeout(Duration::from_millis(200));
            })?;
        Ok(Server {
            addr,
            stop: Some(tx),
            thread: Some(thread),
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let end = Instant::now() + Duration::from_secs(2);
            while !t.is_finished() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(10));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    ([(header::CONTENT_TYPE, OPENMETRICS)], s.metrics_text()).into_response()
}

async fn report(State(s): State<Arc<Shared>>) -> Response {
    match s.report_json() {
        Some(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "no report yet\n").into_response(),
    }
}

async fn readyz(State(s): State<Arc<Shared>>) -> Response {
    match s.ready() {
        Ok(()) => "ready\n".into_response(),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        )
            .into_response(),
    }
}
