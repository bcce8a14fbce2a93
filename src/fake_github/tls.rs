//! A CA made for the run and one server certificate for every host the
//! stand-in serves ([`HOSTS`]), by rcgen; served with rustls. Clients trust the CA through
//! `GIT_SSL_CAINFO` (git) and `SSL_CERT_FILE` (gh).

use std::io;
use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The hosts the stand-in answers for: github.com, a GitHub Enterprise
/// Server, and a GHE.com tenant with its API host. Each is a SAN of the
/// one server certificate and a name in the namespace's hosts file.
pub const HOSTS: [&str; 5] = [
    "github.com",
    "api.github.com",
    super::GHES_HOST,
    super::GHE_COM_HOST,
    super::GHE_COM_API_HOST,
];

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// Makes the CA and the server certificate, writes the CA (PEM) to
/// `ca_pem`, and returns the server's TLS configuration.
pub fn server_config(ca_pem: &Path) -> io::Result<Arc<rustls::ServerConfig>> {
    server_config_for(ca_pem, &HOSTS, "github.com")
}

/// A CA made for the run and a server certificate it signed for `hosts`
/// (its subject `common_name`); the CA's PEM is written to `ca_pem`. Also
/// what tests use for an https platform with a private CA.
pub fn server_config_for(
    ca_pem: &Path,
    hosts: &[&str],
    common_name: &str,
) -> io::Result<Arc<rustls::ServerConfig>> {
    let ca_key = KeyPair::generate().map_err(other)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(other)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "molecule-credential-helper test CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).map_err(other)?;

    let leaf_key = KeyPair::generate().map_err(other)?;
    let mut leaf = CertificateParams::new(hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>())
        .map_err(other)?;
    leaf.distinguished_name
        .push(DnType::CommonName, common_name);
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
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(other)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(other)?;
    // HTTP/1.1 only: Go's client offers h2 too and falls back.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
