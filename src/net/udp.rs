//! The UDP echo server (RFC 862 over UDP): one datagram in, the same datagram back.
//!
//! UDP has no connections, so peers are numbered by source address to give the UI the same
//! `#N` it shows for TCP. Two protections that TCP does not need:
//! - a **reflection guard**: a datagram from a source port below 1024 (a well-known service
//!   such as chargen or another echo server), or from our own port, is never answered, so a
//!   spoofed packet cannot start an endless echo loop between two servers (inetd does this too);
//! - a **per-source reply rate limit**, so the server cannot be used to reflect a flood at a
//!   victim whose address was spoofed. Loopback sources are exempt: they are on this machine.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use super::event::{ConnId, EventSink, ServerEventKind};
use super::server::{READ_PREVIEW_BYTES, ServerControl, ServerSettings, next_reading};

/// Largest UDP payload over IPv4 (65,535 − 8 − 20); the receive buffer holds one whole.
pub const MAX_DATAGRAM: usize = 65_507;
/// Source addresses (numbering) and source IPs (rate buckets) remembered before forgetting.
const MAX_TRACKED_SOURCES: usize = 4096;

/// Why a datagram was not answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropReason {
    /// Reflection guard: the source port is a privileged/well-known one, or our own.
    ReflectionGuard { port: u16 },
    /// Over the per-source reply rate.
    RateLimited { per_second: u32 },
    /// `send_to` failed, in words.
    SendFailed(String),
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::ReflectionGuard { port } => {
                write!(f, "not answered: source port {port} (reflection guard)")
            }
            DropReason::RateLimited { per_second } => {
                write!(
                    f,
                    "not answered: over {per_second} replies/s for this source"
                )
            }
            DropReason::SendFailed(words) => write!(f, "reply failed: {words}"),
        }
    }
}

/// A UDP socket on an ephemeral port of the target's address family, connected to the
/// target: the kernel then filters replies from anyone else and reports ICMP errors to us.
/// Shared by the client, `ping --udp` and `bench --udp`.
pub async fn connect(target: SocketAddr) -> Result<UdpSocket, super::NetError> {
    let any: SocketAddr = if target.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let fail = |cause| super::NetError::Connect {
        addr: target,
        cause,
    };
    let socket = UdpSocket::bind(any).await.map_err(fail)?;
    socket.connect(target).await.map_err(fail)?;
    Ok(socket)
}

/// An error on a connected UDP socket in words: usually an ICMP reply to an earlier datagram.
pub fn explain_error(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::ConnectionRefused => {
            "port unreachable (ICMP): nothing is listening on that UDP port".to_owned()
        }
        _ => super::describe(err),
    }
}

/// Serves UDP echo on `socket` until `shutdown` is cancelled.
pub async fn run(
    socket: UdpSocket,
    settings: ServerSettings,
    control: ServerControl,
    events: EventSink,
    shutdown: CancellationToken,
) {
    let own_port = socket.local_addr().map(|a| a.port()).unwrap_or(0);
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let mut peers = PeerNumbers::default();
    let mut rate = RateLimiter::new(settings.limits.udp_replies_per_sec);
    let mut reading_changes = control.watch();
    loop {
        // As for TCP: a pause or a new read size applies even while we wait for a datagram.
        let reading = tokio::select! {
            _ = shutdown.cancelled() => return,
            reading = next_reading(&mut reading_changes) => reading,
        };
        let Some(reading) = reading else { return };
        // `biased`: a pause or a new read size wins over a datagram that arrived meanwhile.
        let received = tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            _ = reading_changes.changed() => continue,
            received = socket.recv_from(&mut buf) => received,
        };
        let (n, peer) = match received {
            Ok(received) => received,
            // An ICMP error from an earlier reply (the peer's port closed): nothing to echo.
            Err(_) => continue,
        };
        let conn = peers.number(peer, || control.next_conn_id());
        let report = |kind| events.server(conn, peer, kind);
        if peer.port() < 1024 || peer.port() == own_port {
            report(ServerEventKind::Dropped {
                reason: DropReason::ReflectionGuard { port: peer.port() },
            });
            continue;
        }
        if !peer.ip().is_loopback() && !rate.allow(peer.ip(), Instant::now()) {
            report(ServerEventKind::Dropped {
                reason: DropReason::RateLimited {
                    per_second: settings.limits.udp_replies_per_sec,
                },
            });
            continue;
        }
        // A smaller receive buffer cuts the datagram, as recv(2) does (MSG_TRUNC).
        let kept = n.min(reading.size);
        if settings.report_reads {
            report(ServerEventKind::Datagram {
                len: kept,
                sent_len: n,
                preview: buf[..kept.min(READ_PREVIEW_BYTES)].to_vec(),
            });
        }
        if let Err(err) = socket.send_to(&buf[..kept], peer).await {
            report(ServerEventKind::Dropped {
                reason: DropReason::SendFailed(super::describe(&err)),
            });
        }
    }
}

/// Numbers source addresses in order of first datagram (from the numbering TCP uses too).
#[derive(Debug, Default)]
struct PeerNumbers {
    numbers: HashMap<SocketAddr, ConnId>,
}

impl PeerNumbers {
    fn number(&mut self, peer: SocketAddr, fresh: impl FnOnce() -> ConnId) -> ConnId {
        if self.numbers.len() >= MAX_TRACKED_SOURCES && !self.numbers.contains_key(&peer) {
            // Bounded memory under a spray of sources: forget, and number afresh.
            self.numbers.clear();
        }
        *self.numbers.entry(peer).or_insert_with(fresh)
    }
}

/// A token bucket per source IP: `per_second` replies, bursts of as many.
#[derive(Debug)]
struct RateLimiter {
    per_second: u32,
    buckets: HashMap<IpAddr, (f64, Instant)>,
}

impl RateLimiter {
    fn new(per_second: u32) -> Self {
        Self {
            per_second,
            buckets: HashMap::new(),
        }
    }

    fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        if self.buckets.len() >= MAX_TRACKED_SOURCES && !self.buckets.contains_key(&ip) {
            self.buckets.clear();
        }
        let rate = f64::from(self.per_second);
        let (tokens, last) = self.buckets.entry(ip).or_insert((rate, now));
        *tokens = (*tokens + now.saturating_duration_since(*last).as_secs_f64() * rate).min(rate);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn peers_are_numbered_in_order_of_first_datagram() {
        let mut peers = PeerNumbers::default();
        let control = ServerControl::new(1024);
        let a: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        assert_eq!(peers.number(a, || control.next_conn_id()), 1);
        assert_eq!(peers.number(b, || control.next_conn_id()), 2);
        assert_eq!(peers.number(a, || control.next_conn_id()), 1);
    }

    #[test]
    fn rate_limiter_allows_a_burst_then_the_rate() {
        let t0 = Instant::now();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let mut rate = RateLimiter::new(10);
        let allowed = (0..20).filter(|_| rate.allow(ip, t0)).count();
        assert_eq!(allowed, 10);
        assert!(rate.allow(ip, t0 + Duration::from_millis(100)));
        assert!(!rate.allow(ip, t0 + Duration::from_millis(100)));
        // Another source has its own bucket.
        assert!(rate.allow("10.0.0.2".parse().unwrap(), t0));
    }
}
