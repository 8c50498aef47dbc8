//! The loopback listener a browser sign-in comes back to (RFC 8252 §7.3):
//! 127.0.0.1 on a random port, one answer, then closed.

use std::collections::HashMap;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::error::{ClientError, Result};

/// Most bytes of a request line and headers read from the browser.
const MAX_REQUEST_BYTES: usize = 16 * 1024;

fn done_page(heading: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Warden</title></head>\
<body style=\"font-family:sans-serif;margin:3em\"><h1>{heading}</h1>\
<p>Warden has the answer. You can close this tab.</p></body></html>"
    )
}

pub(crate) struct Listener {
    listener: TcpListener,
    port: u16,
    /// What the page the browser is shown says ("Signed in", "Signed out").
    heading: &'static str,
}

fn io(e: std::io::Error) -> ClientError {
    ClientError::OpenId(format!("loopback listener: {e}"))
}

impl Listener {
    pub(crate) async fn bind(heading: &'static str) -> Result<Listener> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(io)?;
        let port = listener.local_addr().map_err(io)?.port();
        Ok(Listener {
            listener,
            port,
            heading,
        })
    }

    pub(crate) fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/callback", self.port)
    }

    /// Waits for the browser's `GET /callback?...` and answers the page;
    /// other requests (a favicon) get 404 and do not count. The listener is
    /// dropped (closed) on return.
    pub(crate) async fn answer(self, limit: Duration) -> Result<HashMap<String, String>> {
        let wait = async {
            loop {
                let (stream, _) = self.listener.accept().await.map_err(io)?;
                if let Some(query) = serve(stream, self.heading).await? {
                    return Ok(query);
                }
            }
        };
        match tokio::time::timeout(limit, wait).await {
            Ok(r) => r,
            Err(_) => Err(ClientError::OpenId(format!(
                "the browser did not come back within {} s",
                limit.as_secs()
            ))),
        }
    }
}

async fn serve(mut stream: TcpStream, heading: &str) -> Result<Option<HashMap<String, String>>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await {
            Ok(r) => r.map_err(io)?,
            Err(_) => return Ok(None),
        };
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_REQUEST_BYTES {
            let _ = stream
                .write_all(b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
                .await;
            return Ok(None);
        }
    }
    let text = String::from_utf8_lossy(&buf);
    let line = text.lines().next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if method != "GET" || path != "/callback" {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
            .await;
        return Ok(None);
    }
    let params: HashMap<String, String> = serde_urlencoded::from_str(query).unwrap_or_default();
    let page = done_page(heading);
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncache-control: no-store\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{page}",
        page.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
    Ok(Some(params))
}
