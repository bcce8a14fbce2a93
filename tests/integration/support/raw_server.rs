//! A server that sends exactly the bytes a test needs, including replies
//! the fake platform never sends, and records each request head. Its
//! threads stop when it drops: the acceptor at once, each connection
//! within 50 ms.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Serves every connection the same raw reply and records each request head.
pub struct RawServer {
    pub addr: SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

/// What one connection gets.
#[derive(Clone)]
enum Reply {
    /// The bytes at once, then the connection held open for `hold`.
    Whole(Vec<u8>, Duration),
    /// The bytes one at a time, `every` apart.
    Trickle(Vec<u8>, Duration),
}

impl RawServer {
    /// `hold`: how long a connection stays open after the reply.
    pub fn start(reply: &[u8], hold: Duration) -> RawServer {
        Self::start_stalling(reply, hold, 0)
    }

    /// The first `stalled` connections get no reply at all (held 60 s).
    pub fn start_stalling(reply: &[u8], hold: Duration, stalled: usize) -> RawServer {
        let reply = reply.to_vec();
        Self::serve(move |n| {
            if n < stalled {
                Reply::Whole(Vec::new(), Duration::from_secs(60))
            } else {
                Reply::Whole(reply.clone(), hold)
            }
        })
    }

    /// Sends `reply` one byte every `every`, on every connection.
    pub fn start_trickling(reply: &[u8], every: Duration) -> RawServer {
        let reply = reply.to_vec();
        Self::serve(move |_| Reply::Trickle(reply.clone(), every))
    }

    fn serve(reply_for: impl Fn(usize) -> Reply + Send + 'static) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (recorded, stopped) = (heads.clone(), stop.clone());
        let acceptor = std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (reply, recorded, stopped) = (reply_for(n), recorded.clone(), stopped.clone());
                std::thread::spawn(move || answer(stream, reply, &recorded, &stopped));
            }
        });
        RawServer {
            addr,
            heads,
            stop,
            acceptor: Some(acceptor),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the acceptor sees the stop flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Sleeps `total`, or less once `stop` is set.
fn pause(total: Duration, stop: &AtomicBool) {
    let end = Instant::now() + total;
    while !stop.load(Ordering::SeqCst) {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

fn answer(mut stream: TcpStream, reply: Reply, heads: &Mutex<Vec<String>>, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16384 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    heads
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(&head).into_owned());
    match reply {
        Reply::Whole(bytes, hold) => {
            let _ = stream.write_all(&bytes);
            let _ = stream.flush();
            pause(hold, stop);
        }
        Reply::Trickle(bytes, every) => {
            for byte in bytes {
                if stop.load(Ordering::SeqCst) || stream.write_all(&[byte]).is_err() {
                    return;
                }
                pause(every, stop);
            }
        }
    }
}
