//! `bench --udp`: the load generator over UDP.
//!
//! Each "connection" is a UDP socket connected to the target that keeps `--pipeline`
//! datagrams in flight. Every datagram is a probe of a [`ProbeWindow`] (a per-run nonce and
//! its sequence number, as for `ping --udp`), so a reply is matched exactly and its bytes
//! checked against what was sent. A datagram unanswered after [`LOSS_AFTER`] is lost and
//! replaced, so the window stays full; lost and differing datagrams are errors, a duplicate
//! or late reply is counted but never taken for an RTT.

use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use crate::net::stamp::StampedReader;
use crate::net::{self, udp::MAX_DATAGRAM};
use crate::stats::{Clock, ClockCount, ProbeReply, ProbeWindow, RttStats};

/// How long a datagram may go unanswered before it counts as lost.
pub const LOSS_AFTER: Duration = Duration::from_secs(1);

/// What one socket measured.
#[derive(Debug, Default)]
pub struct UdpLoad {
    /// RTTs of the datagrams that came back equal, and the clock that timed each.
    pub stats: RttStats,
    pub clocks: ClockCount,
    /// Datagrams unanswered after [`LOSS_AFTER`], or that could not be sent: errors.
    pub lost: u64,
    /// Datagrams answered with other bytes: errors.
    pub mismatched: u64,
    /// Further replies to datagrams already answered.
    pub duplicates: u64,
    /// Replies to datagrams already counted lost.
    pub late: u64,
}

/// Pause after a send the kernel refused, before the next attempt.
const SEND_RETRY: Duration = Duration::from_millis(10);

/// Opens `connections` UDP sockets towards `target`.
pub async fn open_all(target: SocketAddr, connections: usize) -> anyhow::Result<Vec<UdpSocket>> {
    let mut sockets = Vec::with_capacity(connections);
    for _ in 0..connections {
        sockets.push(net::udp::connect(target).await?);
    }
    Ok(sockets)
}

/// Runs one socket's load until `until`, `stop`, or (for a warm-up) `replies` datagrams
/// came back; replies are timed by `clock` where the kernel gives it.
pub async fn run(
    socket: &UdpSocket,
    clock: Clock,
    size: usize,
    pipeline: usize,
    until: Instant,
    replies: Option<u64>,
    stop: CancellationToken,
) -> UdpLoad {
    let mut load = UdpLoad::default();
    let mut window = ProbeWindow::new(fastrand::u32(..), net::probe_payload(size), LOSS_AFTER);
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let mut reader = StampedReader::new(socket.as_fd(), clock);
    let deadline = tokio::time::Instant::from_std(until);
    // After a failed send (the kernel refusing every datagram, say), wait a little before the
    // next one instead of spinning through failures until the deadline.
    let mut retry_at: Option<tokio::time::Instant> = None;
    loop {
        while retry_at.is_none() && window.in_flight() < pipeline && Instant::now() < until {
            let (seq, datagram) = window.send(Instant::now());
            if socket.send(datagram).await.is_err() {
                window.lose(seq);
                load.lost += 1;
                retry_at = Some(tokio::time::Instant::now() + SEND_RETRY);
            }
        }
        let next_expiry = window.next_expiry().map(tokio::time::Instant::from_std);
        let give_up = async {
            match next_expiry {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return load,
            _ = tokio::time::sleep_until(deadline) => return load,
            () = give_up => load.lost += window.expire(Instant::now()),
            _ = tokio::time::sleep_until(retry_at.unwrap_or(deadline)), if retry_at.is_some() => {
                retry_at = None;
            }
            received = reader.read(socket, &mut buf) => {
                // An error is an ICMP reply to an earlier datagram: that one expires anyway.
                let Ok((n, arrival)) = received else { continue };
                match window.reply(&buf[..n], arrival.at()) {
                    ProbeReply::Echoed(rtt) => {
                        load.stats.record(rtt);
                        load.clocks.record(arrival.clock(), 1);
                    }
                    ProbeReply::Mismatch => load.mismatched += 1,
                    ProbeReply::Duplicate => load.duplicates += 1,
                    ProbeReply::Late => load.late += 1,
                    // Another run's datagram (a warm-up's), another program's: not ours.
                    ProbeReply::Foreign => {}
                }
                if replies.is_some_and(|n| load.stats.count() >= n) {
                    return load;
                }
            }
        }
    }
}
