//! A JWK Set fetched over HTTP, for the token inspectors (`warden decode
//! --jwks URL` and the desktop app's "JWKS URL"): one fetcher, so both refuse
//! the same things.

use std::time::Duration;

/// Largest JWKS document read. A real one is a few kilobytes; the URL is
/// typed by a person and may point anywhere, so a larger body is refused as it
/// streams in rather than buffered whole.
pub const JWKS_MAX_BYTES: usize = 1024 * 1024;

const TIMEOUT: Duration = Duration::from_secs(10);

/// Why no JWKS document came back.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// Another scheme (`file:`, none): only the web is fetched.
    #[error("the JWKS URL must start with http:// or https://")]
    NotHttp,
    /// No answer: DNS, connection, TLS, timeout.
    #[error("cannot fetch the JWKS from {url}")]
    Fetch {
        /// The URL asked for.
        url: String,
        /// What reqwest reported.
        #[source]
        source: reqwest::Error,
    },
    /// An answer other than a success.
    #[error("the JWKS at {url} answered {status}")]
    Status {
        /// The URL asked for.
        url: String,
        /// The status it answered.
        status: reqwest::StatusCode,
    },
    /// The body broke off while streaming in.
    #[error("cannot read the JWKS from {url}")]
    Read {
        /// The URL asked for.
        url: String,
        /// What reqwest reported.
        #[source]
        source: reqwest::Error,
    },
    /// The body passed [`JWKS_MAX_BYTES`].
    #[error("the JWKS at {url} is over {JWKS_MAX_BYTES} bytes")]
    TooLarge {
        /// The URL asked for.
        url: String,
    },
    /// The body is not text.
    #[error("the JWKS at {url} is not UTF-8")]
    NotUtf8 {
        /// The URL asked for.
        url: String,
    },
}

/// `GET url` (http or https, 10 s timeout, the system's proxy settings) and
/// the body as text, at most [`JWKS_MAX_BYTES`].
pub async fn fetch_jwks(url: &str) -> Result<String, JwksError> {
    let url = url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(JwksError::NotHttp);
    }
    let fetch = |source| JwksError::Fetch {
        url: url.to_string(),
        source,
    };
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(fetch)?;
    let mut response = client.get(url).send().await.map_err(fetch)?;
    let status = response.status();
    if !status.is_success() {
        return Err(JwksError::Status {
            url: url.to_string(),
            status,
        });
    }
    let too_large = || JwksError::TooLarge {
        url: url.to_string(),
    };
    if response
        .content_length()
        .is_some_and(|n| n > JWKS_MAX_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|source| JwksError::Read {
        url: url.to_string(),
        source,
    })? {
        if body.len() + chunk.len() > JWKS_MAX_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| JwksError::NotUtf8 {
        url: url.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    /// Answers every connection with `head` and `body`, then closes it.
    async fn serve(head: String, body: Vec<u8>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&body).await;
                let _ = stream.shutdown().await;
            }
        });
        format!("http://{addr}/jwks.json")
    }

    fn ok_head(length: Option<usize>) -> String {
        let length = length
            .map(|n| format!("content-length: {n}\r\n"))
            .unwrap_or_default();
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{length}connection: close\r\n\r\n"
        )
    }

    #[tokio::test]
    async fn a_document_at_the_cap_is_read() {
        let mut doc = br#"{"keys":[]}"#.to_vec();
        doc.resize(JWKS_MAX_BYTES, b' ');
        let url = serve(ok_head(Some(doc.len())), doc).await;
        let text = fetch_jwks(&url).await.unwrap();
        assert_eq!(text.len(), JWKS_MAX_BYTES);
        assert!(text.starts_with(r#"{"keys":[]}"#));
    }

    #[tokio::test]
    async fn a_body_over_the_cap_is_refused_with_or_without_a_length() {
        let body = vec![b' '; JWKS_MAX_BYTES + 1];
        for head in [ok_head(Some(body.len())), ok_head(None)] {
            let url = serve(head, body.clone()).await;
            let e = fetch_jwks(&url).await.unwrap_err();
            assert!(matches!(e, JwksError::TooLarge { .. }), "{e}");
            assert_eq!(
                e.to_string(),
                format!("the JWKS at {url} is over 1048576 bytes")
            );
        }
    }

    #[tokio::test]
    async fn refusals_say_what_answered() {
        let url = serve(
            "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".into(),
            Vec::new(),
        )
        .await;
        let e = fetch_jwks(&url).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("the JWKS at {url} answered 404 Not Found")
        );
        let e = fetch_jwks("ftp://example.com/jwks.json").await.unwrap_err();
        assert!(matches!(e, JwksError::NotHttp), "{e}");
        let url = serve(ok_head(Some(2)), vec![0xff, 0xfe]).await;
        let e = fetch_jwks(&url).await.unwrap_err();
        assert!(matches!(e, JwksError::NotUtf8 { .. }), "{e}");
    }
}
