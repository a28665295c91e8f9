//! Fetching a JWKS by URL: one HTTP/1.1 GET, over TLS (rustls, the system's trust store)
//! for `https`, in the clear only for a loopback `http` URL (tests). The answer must be 200
//! and at most [`MAX_BYTES`]; the whole exchange at most [`TIMEOUT`].

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use http::{Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpStream,
};

/// The largest key set accepted.
pub const MAX_BYTES: usize = 1024 * 1024;
/// The longest a fetch may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The body of a GET of `url`, or why there is none.
pub async fn get(url: &str) -> Result<String, String> {
    tokio::time::timeout(TIMEOUT, fetch(url))
        .await
        .map_err(|_| format!("fetching {url} took longer than {TIMEOUT:?}"))?
}

async fn fetch(url: &str) -> Result<String, String> {
    let uri: Uri = url
        .parse()
        .map_err(|err| format!("{url} is not a URL: {err}"))?;
    let host = uri
        .host()
        .ok_or_else(|| format!("{url} names no host"))?
        .to_string();
    let https = uri.scheme_str() == Some("https");
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tcp = TcpStream::connect((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|err| format!("cannot connect to {host}:{port}: {err}"))?;
    if https {
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|err| format!("{host} is not a server name: {err}"))?;
        let tls = tokio_rustls::TlsConnector::from(client_config()?)
            .connect(name, tcp)
            .await
            .map_err(|err| format!("TLS with {host}: {err}"))?;
        request(tls, &uri, &host).await
    } else {
        request(tcp, &uri, &host).await
    }
}

async fn request<S>(stream: S, uri: &Uri, host: &str) -> Result<String, String>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|err| format!("HTTP with {host}: {err}"))?;
    let connection = tokio::spawn(connection);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let request = Request::get(path)
        .header(header::HOST, uri.authority().map_or(host, |a| a.as_str()))
        .header(header::ACCEPT, "application/json")
        .body(Empty::<Bytes>::new())
        .map_err(|err| format!("building the request: {err}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|err| format!("GET {uri}: {err}"))?;
    if response.status() != StatusCode::OK {
        connection.abort();
        return Err(format!("GET {uri}: {}", response.status()));
    }
    let body = Limited::new(response.into_body(), MAX_BYTES)
        .collect()
        .await
        .map_err(|err| format!("GET {uri}: reading the body: {err}"))?
        .to_bytes();
    connection.abort();
    String::from_utf8(body.to_vec()).map_err(|_| format!("GET {uri}: the body is not UTF-8"))
}

/// rustls with the ring provider and the system's trust store, made once.
fn client_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err("the system's trust store has no certificate".into());
            }
            // ring has no post-quantum key exchange, hence the deprecation; the key set is
            // public, so what TLS must give here is authenticity, which it does.
            #[allow(deprecated)]
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|builder| {
                    Arc::new(builder.with_root_certificates(roots).with_no_client_auth())
                })
                .map_err(|err| format!("TLS settings: {err}"))
        })
        .clone()
}

#[cfg(test)]
pub(crate) mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A one-shot HTTP server on a loopback port answering `status` and `body`.
    pub(crate) async fn serve_once(status: &'static str, body: String) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0u8; 4096];
            let _ = socket.read(&mut request).await;
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(response.as_bytes()).await.unwrap();
        });
        format!("http://{address}/realms/haicheng/certs")
    }

    #[tokio::test]
    async fn a_key_set_is_fetched_and_a_failed_answer_is_an_error() {
        let url = serve_once("200 OK", r#"{"keys":[]}"#.into()).await;
        assert_eq!(get(&url).await.unwrap(), r#"{"keys":[]}"#);
        let url = serve_once("404 Not Found", String::new()).await;
        assert!(get(&url).await.unwrap_err().contains("404"));
        let closed = {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap()
        };
        assert!(get(&format!("http://{closed}/")).await.is_err());
    }
}
