//! TLS for `wss://`: rustls, with the webpki-roots trust anchors unless the user brings a
//! `ClientConfig`; SNI from the URL's host; ALPN `http/1.1` (and `h2` when asked for).

use std::sync::{Arc, OnceLock};

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::Error;

const H2: &[u8] = b"h2";
const HTTP11: &[u8] = b"http/1.1";

/// The default configuration: the `ring` provider, its safe default protocol versions, and
/// Mozilla's root list from webpki-roots, compiled in. Compiled-in roots behave the same on
/// every machine, including containers without a CA bundle; a platform store (corporate CAs,
/// roots the OS distrusted since the build) needs a `ClientConfig` of the user's, e.g. built
/// with rustls-platform-verifier.
fn default_config() -> Result<Arc<ClientConfig>, Error> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if let Some(config) = CONFIG.get() {
        return Ok(config.clone());
    }
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(std::io::Error::other(e)))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(CONFIG.get_or_init(|| Arc::new(config)).clone())
}

/// The configuration for one connection: the user's (or the default), with ALPN set to
/// `http/1.1`, or `h2, http/1.1` when HTTP/2 is wanted, unless the user set a list.
fn config_for(user: Option<&Arc<ClientConfig>>, http2: bool) -> Result<Arc<ClientConfig>, Error> {
    let base = match user {
        Some(config) => config.clone(),
        None => default_config()?,
    };
    if !base.alpn_protocols.is_empty() {
        return Ok(base);
    }
    let mut config = (*base).clone();
    config.alpn_protocols = if http2 {
        vec![H2.to_vec(), HTTP11.to_vec()]
    } else {
        vec![HTTP11.to_vec()]
    };
    Ok(Arc::new(config))
}

/// Runs the TLS handshake over `io` for `host` (SNI, and the name the certificate must
/// carry; an IP address is checked against the certificate's IP addresses). Returns the
/// stream and whether the server picked `h2`.
pub(crate) async fn connect<T>(
    io: T,
    host: &str,
    user: Option<&Arc<ClientConfig>>,
    http2: bool,
) -> Result<(TlsStream<T>, bool), Error>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| Error::InvalidUrl("the host is not a valid TLS server name"))?;
    let connector = TlsConnector::from(config_for(user, http2)?);
    let stream = connector.connect(name, io).await.map_err(Error::Tls)?;
    let h2 = stream.get_ref().1.alpn_protocol() == Some(H2);
    Ok((stream, h2))
}
