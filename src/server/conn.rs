//! Connection hygiene: `TCP_NODELAY` on every accepted socket, a cap on connections open at
//! once (`GATEWAY_MAX_CONNECTIONS`), and the HTTP limits on request heads (time to send
//! them, their size).
//!
//! A connection over the cap is still served, but every request on it is answered 503 with
//! `Retry-After` and `Connection: close` (a problem document a client can read, where a
//! bare TCP reset would look like a network fault), and it does not count against the cap.
//!
//! `TCP_NODELAY`: an MCP answer is an SSE stream written in several small pieces, and with
//! Nagle's algorithm each piece after the first waits for the client's delayed ACK (about
//! 40 ms on Linux; RFC 896, RFC 1122 4.2.3.2).

use std::future::Ready;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::IntoResponse;
use axum_server::accept::Accept;
use futures::future::Either;
use http::{HeaderValue, Request, Response, header};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::ServerSettings;

/// The acceptor: no Nagle, and a permit per connection while there are some.
#[derive(Clone)]
pub struct Limited {
    permits: Arc<Semaphore>,
    max: usize,
}

impl Limited {
    pub fn new(max: usize) -> Limited {
        Limited {
            permits: Arc::new(Semaphore::new(max)),
            max,
        }
    }
}

impl<S> Accept<TcpStream, S> for Limited {
    type Stream = Counted;
    type Service = Gate<S>;
    type Future = Ready<io::Result<(Counted, Gate<S>)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let accepted = stream.set_nodelay(true).map(|()| {
            let permit = self.permits.clone().try_acquire_owned().ok();
            metrics::gauge!("gateway_http_connections")
                .set((self.max - self.permits.available_permits()) as f64);
            if permit.is_none() {
                metrics::counter!("gateway_http_connections_refused_total").increment(1);
                tracing::warn!(
                    max = self.max,
                    "connection refused: GATEWAY_MAX_CONNECTIONS are open"
                );
            }
            let full = permit.is_none().then_some(self.max);
            (
                Counted {
                    stream,
                    _permit: permit,
                },
                Gate {
                    inner: service,
                    full,
                },
            )
        });
        std::future::ready(accepted)
    }
}

/// An accepted socket holding its place under the cap until it closes.
pub struct Counted {
    stream: TcpStream,
    _permit: Option<OwnedSemaphorePermit>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// The connection's service: the application, or the refusal when the cap was reached.
#[derive(Clone)]
pub struct Gate<S> {
    inner: S,
    full: Option<usize>,
}

impl<S, B> tower::Service<Request<B>> for Gate<S>
where
    S: tower::Service<Request<B>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Either<S::Future, Ready<Result<Response<Body>, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        match self.full {
            None => Either::Left(self.inner.call(request)),
            Some(max) => Either::Right(std::future::ready(Ok(refusal(max)))),
        }
    }
}

fn refusal(max: usize) -> Response<Body> {
    let mut response = crate::http::error::ApiError::Unavailable(format!(
        "the gateway has {max} connections open (GATEWAY_MAX_CONNECTIONS); retry shortly"
    ))
    .into_response();
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The request-head limits on a server's HTTP builder.
pub fn configure<A: axum_server::Address, Acc>(
    server: &mut axum_server::Server<A, Acc>,
    settings: &ServerSettings,
) {
    let builder = server.http_builder();
    builder
        .http1()
        .header_read_timeout(settings.header_timeout)
        .max_buf_size(crate::config::MAX_HEADER_BYTES);
    builder
        .http2()
        .max_header_list_size(crate::config::MAX_HEADER_BYTES as u32);
}
