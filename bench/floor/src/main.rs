//! `sluice-floor`: the plain reverse proxy that the benchmark suite uses as
//! its floor. It forwards every request unchanged to one upstream over a
//! keep-alive connection pool and streams the answer back; no parsing, no
//! policy, no logging. Whatever a gateway adds over this is its own cost.
//!
//! Prints `listening on http://ADDR` once bound, like `sluice serve`.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

#[derive(Parser, Debug)]
struct Args {
    /// Listen address (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Upstream origin, e.g. http://127.0.0.1:9999
    #[arg(long)]
    upstream: String,
}

type Upstream = Client<HttpConnector, Incoming>;

/// Rewrites the request's origin to the upstream's and forwards it.
async fn forward(
    client: Upstream,
    authority: http::uri::Authority,
    mut req: Request<Incoming>,
) -> anyhow::Result<Response<Incoming>> {
    let mut parts = req.uri().clone().into_parts();
    parts.scheme = Some(http::uri::Scheme::HTTP);
    parts.authority = Some(authority);
    *req.uri_mut() = Uri::from_parts(parts)?;
    Ok(client.request(req).await?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let upstream: Uri = args.upstream.parse().context("--upstream")?;
    let authority = upstream
        .authority()
        .cloned()
        .context("--upstream needs host:port")?;
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Upstream = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(usize::MAX)
        .build(connector);
    let listener = TcpListener::bind(args.listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors: wait for some to close.
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (client, authority) = (client.clone(), authority.clone());
        tokio::spawn(async move {
            let svc = service_fn(move |req| forward(client.clone(), authority.clone(), req));
            // A client closing its connection is not an error worth reporting.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
