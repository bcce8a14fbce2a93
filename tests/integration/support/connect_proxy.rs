//! A CONNECT proxy on 127.0.0.1, for tests only: it reads one request head
//! (at most 8 KiB), records it, and for `CONNECT host:port` to 127.0.0.1
//! (or to [`PROXY_ONLY_HOST`], which it alone resolves, to 127.0.0.1)
//! answers `200` and copies bytes both ways until either side closes.
//! Anything else gets a `405` and the connection closed. The head (with
//! any `Proxy-Authorization`) is recorded for the test to check; one
//! started with [`ConnectProxy::requiring`] answers `407` to any request
//! without those credentials. Its threads stop when it drops.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The most of a request head read.
const HEAD_LIMIT: usize = 8192;

/// A platform host only the proxy knows: `.invalid` never resolves in DNS
/// (RFC 6761), so a fetch that goes around the proxy fails, as it does
/// where the platform is reachable only through one.
pub const PROXY_ONLY_HOST: &str = "platform.molecule.invalid";

pub struct ConnectProxy {
    pub addr: SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl ConnectProxy {
    pub fn start() -> ConnectProxy {
        ConnectProxy::serve(None)
    }

    /// A proxy that wants `user:password` (Basic), as a company's does.
    pub fn requiring(userinfo: &str) -> ConnectProxy {
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(userinfo);
        ConnectProxy::serve(Some(format!(
            "\r\nProxy-Authorization: Basic {encoded}\r\n"
        )))
    }

    fn serve(credentials: Option<String>) -> ConnectProxy {
        let credentials = Arc::new(credentials);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let heads = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (recorded, stopped) = (heads.clone(), stop.clone());
        let acceptor = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (recorded, credentials) = (recorded.clone(), credentials.clone());
                std::thread::spawn(move || {
                    let _ = tunnel(stream, &recorded, credentials.as_deref());
                });
            }
        });
        ConnectProxy {
            addr,
            heads,
            stop,
            acceptor: Some(acceptor),
        }
    }

    /// `http://127.0.0.1:PORT`, with `userinfo@` when given.
    pub fn url(&self, userinfo: Option<&str>) -> String {
        match userinfo {
            Some(u) => format!("http://{u}@{}", self.addr),
            None => format!("http://{}", self.addr),
        }
    }

    /// Every request head received, in order.
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }

    /// The request line of every `CONNECT` received.
    pub fn connects(&self) -> Vec<String> {
        self.heads()
            .iter()
            .filter_map(|h| h.lines().next())
            .filter(|l| l.starts_with("CONNECT "))
            .map(str::to_string)
            .collect()
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the acceptor sees the stop flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// One request head: bytes up to the blank line, at most [`HEAD_LIMIT`].
fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= HEAD_LIMIT || stream.read(&mut byte)? == 0 {
            return Err(std::io::Error::other("no whole request head"));
        }
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

fn tunnel(
    mut client: TcpStream,
    recorded: &Mutex<Vec<String>>,
    credentials: Option<&str>,
) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let head = read_head(&mut client)?;
    recorded.lock().unwrap().push(head.clone());
    if credentials.is_some_and(|wanted| !head.contains(wanted)) {
        client.write_all(
            b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n",
        )?;
        return Ok(());
    }
    let mut words = head.split_whitespace();
    let proxy_only = format!("{PROXY_ONLY_HOST}:");
    let target = match (words.next(), words.next()) {
        (Some("CONNECT"), Some(target)) if target.starts_with("127.0.0.1:") => target.to_string(),
        (Some("CONNECT"), Some(target)) if target.starts_with(&proxy_only) => {
            target.replacen(&proxy_only, "127.0.0.1:", 1)
        }
        _ => {
            client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")?;
            return Ok(());
        }
    };
    let Ok(upstream) = TcpStream::connect(&target) else {
        client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")?;
        return Ok(());
    };
    upstream.set_read_timeout(Some(Duration::from_secs(30)))?;
    client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    let (mut from_client, mut to_upstream) = (client.try_clone()?, upstream.try_clone()?);
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_client, &mut to_upstream);
        let _ = to_upstream.shutdown(Shutdown::Write);
    });
    let (mut from_upstream, mut to_client) = (upstream, client);
    let _ = std::io::copy(&mut from_upstream, &mut to_client);
    let _ = to_client.shutdown(Shutdown::Write);
    let _ = up.join();
    Ok(())
}
