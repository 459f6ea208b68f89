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
use std::time::{Duration, Instant};

use chrono::Local;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use super::census::Census;
use super::event::{ConnId, EventSink, NetEvent, Refused, ServerEventKind};
use super::server::{READ_PREVIEW_BYTES, ServerControl, ServerSettings, next_reading};
use super::throttle::Throttle;

/// Largest UDP payload over IPv4 (65,535 − 8 − 20); the receive buffer holds one whole.
pub const MAX_DATAGRAM: usize = 65_507;
/// Source IPs whose reply rate is tracked at once.
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
    let mut rate = RateLimiter::new(settings.limits.udp_replies_per_sec);
    let mut unanswered = Unanswered::default();
    let census = control.census().clone();
    let mut sweep = tokio::time::interval(SOURCE_SWEEP);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reading_changes = control.watch();
    loop {
        // As for TCP: a pause or a new read size applies even while we wait for a datagram.
        let reading = tokio::select! {
            _ = shutdown.cancelled() => return,
            reading = next_reading(&mut reading_changes) => reading,
        };
        let Some(reading) = reading else { return };
        let flood_told = unanswered.deadline().map(tokio::time::Instant::from_std);
        // `biased`: a pause or a new read size wins over a datagram that arrived meanwhile.
        let received = tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            _ = reading_changes.changed() => continue,
            _ = tokio::time::sleep_until(flood_told.unwrap_or_else(tokio::time::Instant::now)),
                if flood_told.is_some() => {
                tell_flood(&mut unanswered, &events);
                continue;
            }
            _ = sweep.tick() => {
                census.expire_sources(Instant::now());
                continue;
            }
            received = socket.recv_from(&mut buf) => received,
        };
        let (n, peer) = match received {
            Ok(received) => received,
            // An ICMP error from an earlier reply (the peer's port closed): nothing to echo.
            Err(_) => continue,
        };
        let now = Instant::now();
        let (conn, _) = census.heard_from(peer, now, || control.next_conn_id());
        // Refusals first, before any other work: under a flood, the cheaper each refused
        // datagram, the more of the others' datagrams are read before the kernel drops them.
        let refusal = if peer.port() < 1024 || peer.port() == own_port {
            Some(DropReason::ReflectionGuard { port: peer.port() })
        } else if !peer.ip().is_loopback() && !rate.allow(peer.ip(), now) {
            Some(DropReason::RateLimited {
                per_second: settings.limits.udp_replies_per_sec,
            })
        } else {
            None
        };
        if let Some(reason) = refusal {
            refuse(&census, &mut unanswered, &events, (conn, peer, reason), now);
            continue;
        }
        // A smaller receive buffer cuts the datagram, as recv(2) does (MSG_TRUNC).
        let kept = n.min(reading.read_size);
        if settings.report_reads {
            let preview = buf[..kept.min(READ_PREVIEW_BYTES)].to_vec();
            let datagram = ServerEventKind::Datagram {
                len: kept,
                sent_len: n,
                preview,
            };
            events.server(conn, peer, datagram);
        }
        match socket.send_to(&buf[..kept], peer).await {
            Ok(_) => census.datagram(peer, n, kept),
            Err(err) => {
                let reason = DropReason::SendFailed(super::describe(&err));
                refuse(&census, &mut unanswered, &events, (conn, peer, reason), now);
            }
        }
    }
}

/// How often silent UDP sources are looked for (and forgotten once silent for a minute).
const SOURCE_SWEEP: Duration = Duration::from_secs(5);

/// Datagrams not answered, by source IP, with the latest one's source and reason.
type Unanswered = Throttle<IpAddr, (ConnId, SocketAddr, DropReason)>;

/// Counts a datagram not answered, and tells of it: at once the first time in a second for
/// a source, then once a second with a count (see [`Throttle`]).
fn refuse(
    census: &Census,
    unanswered: &mut Unanswered,
    events: &EventSink,
    (conn, peer, reason): (ConnId, SocketAddr, DropReason),
    now: Instant,
) {
    census.unanswered(peer);
    if unanswered.occurred(&peer.ip(), (conn, peer, reason.clone()), now) {
        events.server(conn, peer, ServerEventKind::Dropped { reason, count: 1 });
    }
}

/// Tells the counts of the second that ended.
fn tell_flood(unanswered: &mut Unanswered, events: &EventSink) {
    for report in unanswered.due(Instant::now()) {
        match report.key {
            Some((_, (conn, peer, reason))) => {
                let count = report.count;
                events.server(conn, peer, ServerEventKind::Dropped { reason, count });
            }
            None => events.emit(NetEvent::Flood {
                at: Local::now(),
                what: Refused::Datagrams,
                count: report.count,
            }),
        }
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
            // A bucket untouched for a second is full again, the same as a new one: forgetting
            // it changes nothing. Only a spray of this many addresses within a second leaves
            // the table full, and then all are forgotten.
            self.buckets
                .retain(|_, (_, last)| now.duration_since(*last) < Duration::from_secs(1));
            if self.buckets.len() >= MAX_TRACKED_SOURCES {
                self.buckets.clear();
            }
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
