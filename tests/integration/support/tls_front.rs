//! An https platform for tests: TLS on 127.0.0.1 (rustls; a certificate
//! for `127.0.0.1`, `localhost` and the proxy-only name from a CA made for
//! the test with rcgen)
//! in front of a plain fake platform. Each connection's request head (the
//! helper's GET has no body; at most 16 KiB) goes to the platform over
//! TCP, and its whole reply (it closes after one) comes back over TLS.
//! Its threads stop when it drops.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

const HEAD_LIMIT: usize = 16 * 1024;

pub struct TlsFront {
    pub addr: SocketAddr,
    /// The test CA's certificate (PEM): what `PLATFORM_CA_FILE` names.
    pub ca_pem: PathBuf,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl TlsFront {
    /// Serves `backend` (a plain-http fake platform) over TLS; writes the
    /// CA to `ca_pem`.
    pub fn start(backend: SocketAddr, ca_pem: &Path) -> TlsFront {
        let config = server_config(ca_pem);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the TLS front");
        let addr = listener.local_addr().expect("TLS front address");
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (counted, stopped) = (connections.clone(), stop.clone());
        let acceptor = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                counted.fetch_add(1, Ordering::SeqCst);
                let config = config.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, config, backend);
                });
            }
        });
        TlsFront {
            addr,
            ca_pem: ca_pem.to_path_buf(),
            connections,
            stop,
            acceptor: Some(acceptor),
        }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// `https://PROXY_ONLY_HOST:PORT`: reachable only through the
    /// [`ConnectProxy`](super::connect_proxy::ConnectProxy).
    pub fn proxy_only_url(&self) -> String {
        format!(
            "https://{}:{}",
            super::connect_proxy::PROXY_ONLY_HOST,
            self.addr.port()
        )
    }

    /// TCP connections accepted (a TLS handshake that failed counts too).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn serve(
    stream: TcpStream,
    config: Arc<rustls::ServerConfig>,
    backend: SocketAddr,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, stream);
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= HEAD_LIMIT || tls.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let mut platform = TcpStream::connect(backend)?;
    platform.set_read_timeout(Some(Duration::from_secs(60)))?;
    platform.write_all(&head)?;
    let mut reply = Vec::new();
    platform.read_to_end(&mut reply)?;
    tls.write_all(&reply)?;
    tls.conn.send_close_notify();
    tls.flush()
}

/// A CA made for this front, and a server certificate it signed for
/// `127.0.0.1`, `localhost` and the proxy-only name; the CA's PEM is
/// written to `ca_pem`.
fn server_config(ca_pem: &Path) -> Arc<rustls::ServerConfig> {
    molecule_credential_helper::fake_github::tls::server_config_for(
        ca_pem,
        &[
            "127.0.0.1",
            "localhost",
            super::connect_proxy::PROXY_ONLY_HOST,
        ],
        "platform.test",
    )
    .expect("the test CA and server certificate")
}
