//! HTTPS with rustls: a self-signed certificate made for the test (rcgen), the real server on
//! a loopback port, and a client that trusts exactly that certificate; plain HTTP to the TLS
//! port gets no answer; missing, malformed and mismatched certificate files are refused with
//! an error naming the file.

#![allow(clippy::unwrap_used)] // test helpers

use std::sync::Arc;

use doppel_server::tls::{TlsError, server_config};
use doppel_server::{App, Config};
use doppel_store::sqlite::SqliteStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

const TWIN: &str = "
services:
  api:
    endpoints:
      hello:
        service_time: {dist: constant, value: 10ms}
";

/// Sends one HTTP/1.1 request over TLS to `addr`, trusting only `ca`; returns the response.
async fn https_get(
    addr: std::net::SocketAddr,
    ca: &rustls::pki_types::CertificateDer<'static>,
    path: &str,
    token: Option<&str>,
) -> String {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n");
    tls.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tls.read_to_end(&mut out).await.unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_with_a_certificate_from_pem_files() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();

    let tls = server_config(&cert_path, &key_path).unwrap();
    let twin = doppel_model::load_str("t.yaml", TWIN).twin;
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let (app, token) = App::start_with(
        Config::new("unused", dir.path().join("wal")),
        store,
        Some(twin),
    )
    .await
    .unwrap();
    let token = token.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(doppel_server::serve_tls(app, listener, tls, async {
        let _ = stopped.await;
    }));

    let ca = cert.der().clone();
    let health = https_get(addr, &ca, "/healthz", None).await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains(r#"{"status":"ok"}"#), "{health}");
    let twin = https_get(addr, &ca, "/api/twin", Some(&token)).await;
    assert!(twin.starts_with("HTTP/1.1 200"), "{twin}");
    assert!(twin.contains(r#""version":1"#), "{twin}");
    let denied = https_get(addr, &ca, "/api/twin", None).await;
    assert!(denied.starts_with("HTTP/1.1 401"), "{denied}");

    // Plain HTTP to the TLS port: the handshake fails and no HTTP answer comes back.
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        plain.read_to_end(&mut out),
    )
    .await;
    assert!(!String::from_utf8_lossy(&out).contains("HTTP/1.1 200"));

    // A client that does not trust the certificate refuses the server.
    let other = rcgen::KeyPair::generate().unwrap();
    let stranger = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&other)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(stranger.der().clone()).unwrap();
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let r = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await;
    assert!(r.is_err());

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[test]
fn bad_certificate_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let missing = dir.path().join("nope.pem");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "this is not PEM\n").unwrap();
    let other = dir.path().join("other-key.pem");
    std::fs::write(&other, rcgen::KeyPair::generate().unwrap().serialize_pem()).unwrap();

    let e = server_config(&missing, &key_path).unwrap_err();
    assert!(matches!(e, TlsError::Cert { .. }));
    assert!(e.to_string().contains("nope.pem"), "{e}");
    let e = server_config(&garbage, &key_path).unwrap_err();
    assert!(matches!(e, TlsError::Cert { .. }));
    assert!(e.to_string().contains("garbage.pem"), "{e}");
    let e = server_config(&cert_path, &missing).unwrap_err();
    assert!(matches!(e, TlsError::Key { .. }));
    assert!(e.to_string().contains("nope.pem"), "{e}");
    let e = server_config(&cert_path, &garbage).unwrap_err();
    assert!(matches!(e, TlsError::Key { .. }));
    assert!(e.to_string().contains("garbage.pem"), "{e}");
    // A key that is not the certificate's.
    let e = server_config(&cert_path, &other).unwrap_err();
    assert!(matches!(e, TlsError::Pair { .. }), "{e}");
    assert!(e.to_string().contains("other-key.pem"), "{e}");
    assert!(server_config(&cert_path, &key_path).is_ok());
}
