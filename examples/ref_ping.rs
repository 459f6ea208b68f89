//! Reference ping-pong client for `scripts/bench.sh`: the plainest blocking `std::net`
//! client (`TCP_NODELAY`, one message in flight, `read_exact` of the echo), timing each
//! round trip with `Instant`. `echotui ping` is compared against it in the same run.
//!
//! Usage: `ref_ping ADDR [COUNT] [SIZE] [INTERVAL_MS]` (defaults 20000, 13 and 0: back to
//! back; with an interval, it sleeps that long between probes, as someone typing would);
//! prints one JSON line `{"p50_us":..,"p99_us":..,"mean_us":..,"count":..}`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args
        .next()
        .context("usage: ref_ping ADDR [COUNT] [SIZE] [INTERVAL_MS]")?;
    let count: usize = args.next().map_or(Ok(20_000), |s| s.parse())?;
    let size: usize = args.next().map_or(Ok(13), |s| s.parse())?;
    let interval = Duration::from_millis(args.next().map_or(Ok(0), |s| s.parse())?);
    if count == 0 || size == 0 {
        bail!("COUNT and SIZE must be at least 1");
    }

    let mut stream = TcpStream::connect(&addr).with_context(|| format!("connect {addr}"))?;
    stream.set_nodelay(true)?;
    let message: Vec<u8> = b"Hello, World!"
        .iter()
        .copied()
        .cycle()
        .take(size)
        .collect();
    let mut echo = vec![0u8; size];

    let mut rtts_us = Vec::with_capacity(count);
    for i in 0..count {
        if i > 0 && !interval.is_zero() {
            std::thread::sleep(interval);
        }
        let start = Instant::now();
        stream.write_all(&message)?;
        stream.read_exact(&mut echo)?;
        rtts_us.push(start.elapsed().as_secs_f64() * 1e6);
        if echo != message {
            bail!("echo differs from what was sent");
        }
    }

    rtts_us.sort_by(f64::total_cmp);
    let percentile = |p: f64| rtts_us[((rtts_us.len() - 1) as f64 * p).round() as usize];
    let mean = rtts_us.iter().sum::<f64>() / rtts_us.len() as f64;
    let summary = serde_json::json!({
        "p50_us": percentile(0.50),
        "p99_us": percentile(0.99),
        "mean_us": mean,
        "count": rtts_us.len(),
    });
    println!("{summary}");
    Ok(())
}
