//! A UDP flood for `scripts/load.sh`: one source sending datagrams as fast as one thread
//! can, or a spray of fresh sources, at an echo server, for a given time.
//!
//! Usage: `udp_flood TARGET SECS [--from IP] [--sources N] [--size B]`
//! - `--from IP` binds the source to this address (a non-loopback one, so the server's
//!   per-source rate limit applies; loopback sources are exempt);
//! - `--sources N` rotates over N sockets (N source ports), a spray rather than one source.
//!
//! Prints one JSON line: `{"sent":..,"replies":..,"secs":..}` (replies read back, counted
//! only from the first socket, which is enough to tell "answered at all" from not).

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: udp_flood TARGET SECS [--from IP] [--sources N] [--size B]";
    let target: SocketAddr = args.first().context(usage)?.parse().context("TARGET")?;
    let secs: f64 = args.get(1).context(usage)?.parse().context("SECS")?;
    let option = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let from = option("--from").map_or("0.0.0.0", String::as_str);
    let sources: usize = option("--sources").map_or(Ok(1), |n| n.parse())?;
    let size: usize = option("--size").map_or(Ok(32), |n| n.parse())?;
    let sockets: Vec<UdpSocket> = (0..sources.max(1))
        .map(|_| {
            let socket = UdpSocket::bind((from, 0)).context("bind the source")?;
            socket.set_nonblocking(true)?;
            Ok(socket)
        })
        .collect::<Result<_>>()?;
    let payload = vec![b'f'; size];
    let duration = Duration::try_from_secs_f64(secs).context("SECS")?;
    let started = Instant::now();
    let (mut sent, mut replies) = (0u64, 0u64);
    let mut buf = [0u8; 2048];
    'flood: loop {
        for socket in &sockets {
            if socket.send_to(&payload, target).is_ok() {
                sent += 1;
            }
            if sent % 1024 == 0 && started.elapsed() >= duration {
                break 'flood;
            }
        }
        while sockets[0].recv(&mut buf).is_ok() {
            replies += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(r#"{{"sent":{sent},"replies":{replies},"secs":{secs:.3}}}"#);
    Ok(())
}
