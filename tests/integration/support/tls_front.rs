//! An https platform for tests: TLS on 127.0.0.1 (rustls; a certificate
//! for `127.0.0.1` and `localhost` from a CA made for the test with rcgen)
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

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

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

fn other(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// A CA made for this front, and a server certificate it signed for
/// `127.0.0.1` and `localhost`; the CA's PEM is written to `ca_pem`.
fn server_config(ca_pem: &Path) -> Arc<rustls::ServerConfig> {
    let make = || -> std::io::Result<Arc<rustls::ServerConfig>> {
        let ca_key = KeyPair::generate().map_err(other)?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(other)?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "proxy27 test platform CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).map_err(other)?;
        let leaf_key = KeyPair::generate().map_err(other)?;
        let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".into()])
            .map_err(other)?;
        leaf.distinguished_name
            .push(DnType::CommonName, "platform.test");
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let leaf_cert = leaf
            .signed_by(&leaf_key, &ca_cert, &ca_key)
            .map_err(other)?;
        std::fs::write(ca_pem, ca_cert.pem())?;
        let chain = vec![
            CertificateDer::from(leaf_cert.der().to_vec()),
            CertificateDer::from(ca_cert.der().to_vec()),
        ];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(other)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(other)?;
        Ok(Arc::new(config))
    };
    make().expect("the test CA and server certificate")
}
