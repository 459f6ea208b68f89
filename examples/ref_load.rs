//! Reference load generator for `scripts/bench.sh`: the plainest tokio closed-loop client
//! (multi-thread runtime with 2 workers, one task per connection, `TCP_NODELAY`, one message
//! in flight: `write_all` then `read_exact` of the echo). `echotui bench` is compared against
//! it, and it drives both servers when their throughput is compared.
//!
//! Usage: `ref_load ADDR [CONNS] [DURATION_SECS] [SIZE]` (defaults 10, 3 and 64, as for
//! `echotui bench`); prints one JSON line `{"msgs_per_s":..,"messages":..}`.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: ref_load ADDR [CONNS] [DURATION_SECS] [SIZE]";
    let addr = args.next().context(usage)?;
    let conns: usize = args.next().map_or(Ok(10), |s| s.parse())?;
    let secs: f64 = args.next().map_or(Ok(3.0), |s| s.parse())?;
    let size: usize = args.next().map_or(Ok(64), |s| s.parse())?;
    let duration = Duration::try_from_secs_f64(secs).context("DURATION_SECS")?;
    if conns == 0 || size == 0 || duration.is_zero() {
        bail!("CONNS, DURATION_SECS and SIZE must be positive");
    }

    // Connect everything first so that the clock measures only the echo loop.
    let mut streams = Vec::with_capacity(conns);
    for _ in 0..conns {
        let stream = TcpStream::connect(&addr)
            .await
            .with_context(|| format!("connect {addr}"))?;
        stream.set_nodelay(true)?;
        streams.push(stream);
    }

    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|stream| tokio::spawn(run(stream, size, deadline)))
        .collect();
    let mut messages = 0u64;
    for task in tasks {
        messages += task.await??;
    }
    let elapsed = start.elapsed().as_secs_f64();

    let summary = serde_json::json!({
        "msgs_per_s": messages as f64 / elapsed,
        "messages": messages,
    });
    println!("{summary}");
    Ok(())
}

/// Sends and awaits one message at a time until `deadline`; returns how many came back.
async fn run(mut stream: TcpStream, size: usize, deadline: Instant) -> Result<u64> {
    let message: Vec<u8> = b"Hello, World!"
        .iter()
        .copied()
        .cycle()
        .take(size)
        .collect();
    let mut echo = vec![0u8; size];
    let mut messages = 0;
    while Instant::now() < deadline {
        stream.write_all(&message).await?;
        stream.read_exact(&mut echo).await?;
        if echo != message {
            bail!("echo differs from what was sent");
        }
        messages += 1;
    }
    Ok(messages)
}
