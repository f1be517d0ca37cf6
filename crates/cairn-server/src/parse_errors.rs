//! JSON bodies for the errors hyper answers on its own.
//!
//! A request whose head cannot be parsed never reaches the router: hyper answers it directly
//! (400 for a malformed request line or header, 414 for a target over 65,534 bytes, 431 for a
//! head over its buffer) with an empty body, and closes the connection. hyper offers no hook
//! for those answers, so the connection's stream is wrapped: a response head that is one of
//! those three statuses with `content-length: 0` is replaced, as it is written, by the same
//! status with the common JSON error body. It cannot be mistaken for the router's answers:
//! every error the router sends has a JSON body, never an empty one.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::StatusCode;
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::api_error::ApiError;

pin_project! {
    /// A connection's stream, rewriting hyper's own bodiless error answers.
    pub struct JsonParseErrors<S> {
        #[pin]
        inner: S,
        // A replacement being written, and how many of the caller's bytes it stands for.
        rewrite: Option<Rewrite>,
    }
}

struct Rewrite {
    bytes: Vec<u8>,
    written: usize,
    replaces: usize,
}

impl<S> JsonParseErrors<S> {
    /// Wraps a connection's stream.
    pub fn new(inner: S) -> JsonParseErrors<S> {
        JsonParseErrors {
            inner,
            rewrite: None,
        }
    }
}

/// The status and error of each answer hyper writes itself.
fn hyper_answer(status: u16) -> Option<ApiError> {
    let (status, code, message) = match status {
        400 => (
            StatusCode::BAD_REQUEST,
            "malformed_request",
            "the request line or a header is not valid HTTP/1.1",
        ),
        414 => (
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            "the request target is longer than 65,534 bytes",
        ),
        431 => (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            "the request's headers are larger than the server reads",
        ),
        _ => return None,
    };
    Some(ApiError::new(status, code, message))
}

/// The JSON answer replacing `head` when it is one of hyper's bodiless error answers.
fn replacement(head: &[u8]) -> Option<Vec<u8>> {
    let rest = head.strip_prefix(b"HTTP/1.1 ")?;
    let status = std::str::from_utf8(rest.get(..3)?)
        .ok()?
        .parse::<u16>()
        .ok()?;
    let error = hyper_answer(status)?;
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    let lines = &head[..end + 2];
    let empty = lines
        .windows(19)
        .any(|w| w.eq_ignore_ascii_case(b"content-length: 0\r\n"));
    if !empty || end + 4 != head.len() {
        return None;
    }
    let body = serde_json::to_vec(&error.body()).ok()?;
    let mut bytes = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        error.status.as_u16(),
        error.status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(&body);
    Some(bytes)
}

impl<S: AsyncRead> AsyncRead for JsonParseErrors<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.project().inner.poll_read(cx, buf)
    }
}

impl<S: AsyncWrite> JsonParseErrors<S> {
    /// Writes the pending replacement out; answers how many caller bytes it stood for.
    fn drain(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<Option<usize>>> {
        let mut this = self.project();
        let Some(rewrite) = this.rewrite.as_mut() else {
            return Poll::Ready(Ok(None));
        };
        while rewrite.written < rewrite.bytes.len() {
            let n = std::task::ready!(this
                .inner
                .as_mut()
                .poll_write(cx, &rewrite.bytes[rewrite.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            rewrite.written += n;
        }
        let replaces = rewrite.replaces;
        *this.rewrite = None;
        Poll::Ready(Ok(Some(replaces)))
    }

    fn start_rewrite(self: Pin<&mut Self>, buf: &[u8]) -> bool {
        let this = self.project();
        if this.rewrite.is_some() {
            return true;
        }
        match replacement(buf) {
            Some(bytes) => {
                *this.rewrite = Some(Rewrite {
                    bytes,
                    written: 0,
                    replaces: buf.len(),
                });
                true
            }
            None => false,
        }
    }
}

impl<S: AsyncWrite> AsyncWrite for JsonParseErrors<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.as_mut().start_rewrite(buf) {
            if let Some(n) = std::task::ready!(self.as_mut().drain(cx))? {
                return Poll::Ready(Ok(n));
            }
        }
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &b[..]);
        if self.as_mut().start_rewrite(first) {
            if let Some(n) = std::task::ready!(self.as_mut().drain(cx))? {
                return Poll::Ready(Ok(n));
            }
        }
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.as_mut().drain(cx))?;
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.as_mut().drain(cx))?;
        self.project().inner.poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyper_error_heads_get_a_json_body() {
        let head = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Mon, 07 Dec 2026 10:00:00 GMT\r\n\r\n";
        let answer = String::from_utf8(replacement(head).unwrap()).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{head}");
        assert!(head.contains("content-type: application/json"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["error"]["code"], "uri_too_long");
    }

    #[test]
    fn other_answers_pass_untouched() {
        for head in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 12\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n{}",
            b"{\"documents\": []}",
        ] {
            assert!(replacement(head).is_none(), "{}", String::from_utf8_lossy(head));
        }
    }
}
