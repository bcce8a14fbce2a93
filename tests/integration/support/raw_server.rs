//! A server that sends exactly the bytes a test needs, including replies
//! the fake platform never sends, and records each request head.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Serves every connection the same raw reply and records each request head.
pub struct RawServer {
    pub addr: SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
}

impl RawServer {
    /// `hold`: how long a connection stays open after the reply.
    pub fn start(reply: &[u8], hold: Duration) -> RawServer {
        Self::start_stalling(reply, hold, 0)
    }

    /// The first `stalled` connections get no reply at all (held 60 s).
    pub fn start_stalling(reply: &[u8], hold: Duration, stalled: usize) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let (reply, recorded) = (reply.to_vec(), heads.clone());
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().flatten().enumerate() {
                let (reply, recorded) = (reply.clone(), recorded.clone());
                let (reply, hold) = if n < stalled {
                    (Vec::new(), Duration::from_secs(60))
                } else {
                    (reply, hold)
                };
                std::thread::spawn(move || serve(stream, &reply, hold, &recorded));
            }
        });
        RawServer { addr, heads }
    }

    /// Sends `reply` one byte every `every`, on every connection.
    pub fn start_trickling(reply: &[u8], every: Duration) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let (reply, recorded) = (reply.to_vec(), heads.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (reply, recorded) = (reply.clone(), recorded.clone());
                std::thread::spawn(move || {
                    let mut stream = stream;
                    serve(stream.try_clone().unwrap(), &[], Duration::ZERO, &recorded);
                    for byte in reply {
                        if stream.write_all(&[byte]).is_err() {
                            return;
                        }
                        std::thread::sleep(every);
                    }
                });
            }
        });
        RawServer { addr, heads }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

fn serve(mut stream: TcpStream, reply: &[u8], hold: Duration, heads: &Mutex<Vec<String>>) {
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
    let _ = stream.write_all(reply);
    let _ = stream.flush();
    std::thread::sleep(hold);
}
