//! `echotui bench --udp`: the load generator over UDP.
//!
//! Each "connection" is a UDP socket connected to the target that keeps `--pipeline`
//! datagrams in flight. Every datagram carries a per-run nonce and its sequence number
//! (`ping --udp`'s layout, [`crate::headless::udp_probe`]), so a reply is matched exactly
//! and its bytes checked against what was sent. A datagram unanswered after [`LOSS_AFTER`]
//! is lost and replaced, so the window stays full; lost and differing datagrams are errors,
//! a second or late reply is counted but never taken for an RTT.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use crate::headless::udp_probe::{UDP_PROBE_HEADER, seq_of, stamp};
use crate::net::{self, udp::MAX_DATAGRAM};
use crate::stats::RttStats;

/// How long a datagram may go unanswered before it counts as lost.
pub const LOSS_AFTER: Duration = Duration::from_secs(1);

/// What one socket measured.
#[derive(Debug, Default)]
pub struct UdpLoad {
    pub stats: RttStats,
    pub lost: u64,
    pub mismatched: u64,
    /// Replies to datagrams already answered or already counted lost.
    pub stray: u64,
}

/// Opens `connections` UDP sockets towards `target`.
pub async fn open_all(target: SocketAddr, connections: usize) -> anyhow::Result<Vec<UdpSocket>> {
    let mut sockets = Vec::with_capacity(connections);
    for _ in 0..connections {
        sockets.push(net::udp::connect(target).await?);
    }
    Ok(sockets)
}

/// Runs one socket's load until `until`, `stop`, or (for a warm-up) `replies` datagrams
/// came back.
pub async fn run(
    socket: &UdpSocket,
    size: usize,
    pipeline: usize,
    until: Instant,
    replies: Option<u64>,
    stop: CancellationToken,
) -> UdpLoad {
    let nonce = fastrand::u32(..);
    let mut load = UdpLoad::default();
    let mut next_seq: u32 = 0;
    let mut window: VecDeque<(u32, Instant)> = VecDeque::with_capacity(pipeline);
    let mut datagram = net::probe_payload(size.clamp(UDP_PROBE_HEADER, MAX_DATAGRAM));
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let deadline = tokio::time::Instant::from_std(until);
    loop {
        while window.len() < pipeline && Instant::now() < until {
            stamp(&mut datagram, nonce, next_seq);
            // Stamped before the send: the echo can be back before `send` returns.
            let sent_at = Instant::now();
            if socket.send(&datagram).await.is_err() {
                load.lost += 1;
            } else {
                window.push_back((next_seq, sent_at));
            }
            next_seq = next_seq.wrapping_add(1);
        }
        let oldest = window
            .front()
            .map(|&(_, at)| tokio::time::Instant::from_std(at + LOSS_AFTER));
        let give_up = async {
            match oldest {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return load,
            _ = tokio::time::sleep_until(deadline) => return load,
            () = give_up => {
                window.pop_front();
                load.lost += 1;
            }
            received = socket.recv(&mut buf) => {
                let at = Instant::now();
                // An error is an ICMP reply to an earlier datagram: that one is lost anyway.
                let Ok(n) = received else { continue };
                let reply = &buf[..n];
                let Some(seq) = seq_of(reply, nonce) else { continue };
                let Some(i) = window.iter().position(|&(s, _)| s == seq) else {
                    load.stray += 1;
                    continue;
                };
                let (_, sent_at) = window.remove(i).unwrap_or((seq, at));
                stamp(&mut datagram, nonce, seq);
                if reply == datagram.as_slice() {
                    load.stats.record(at.saturating_duration_since(sent_at));
                } else {
                    load.mismatched += 1;
                }
                if replies.is_some_and(|n| load.stats.count() >= n) {
                    return load;
                }
            }
        }
    }
}
