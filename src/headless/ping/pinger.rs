//! The probers: one blocking socket each, written and read on the probing thread alone.
//!
//! A blocking read is woken by the kernel itself when the echo arrives, as in the plainest
//! client: no runtime, no event loop and no second thread lie between the echo and the clock.
//! Reads time out every [`WAKE_EVERY`] (and on the probe's own timeout), only so that the
//! thread notices Ctrl-C; an echo never waits for that.

use std::io::{self, Write};
use std::net::{TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::net::sockinfo::{self, TcpInfo};
use crate::net::stamp::{Arrival, StampedReader};
use crate::net::{self, udp::MAX_DATAGRAM};
use crate::stats::{Clock, EchoUpdate, ProbeReply, ProbeWindow, RttTracker};

/// Longest a blocked read or write goes without looking at the shutdown token.
pub const WAKE_EVERY: Duration = Duration::from_millis(100);

/// An echo, timed by both clocks.
#[derive(Debug, Clone, Copy)]
pub struct Echo {
    /// From just before the write to the arrival of the echo's last byte, by `clock`.
    pub rtt: Duration,
    /// The same echo as seen by echotui: until its read returned (our wake-up included).
    pub user: Duration,
    pub clock: Clock,
}

/// How one probe ended.
pub enum Probe {
    Echoed(Echo),
    TimedOut,
    Mismatch,
    /// UDP: the target answered with ICMP port unreachable (or another error).
    Refused(String),
    /// TCP: the connection ended; no later probe can be answered.
    Closed(String),
}

impl Probe {
    /// The probe's outcome as the session log records it (`None`: the connection ended).
    pub fn outcome(&self, seq: u64) -> Option<EchoUpdate> {
        Some(match self {
            Probe::Echoed(echo) => EchoUpdate::Echoed {
                id: seq,
                rtt: echo.rtt,
            },
            Probe::TimedOut | Probe::Refused(_) => EchoUpdate::Lost { id: seq },
            Probe::Mismatch => EchoUpdate::Mismatch {
                id: seq,
                echoed: Vec::new(),
            },
            Probe::Closed(_) => return None,
        })
    }
}

/// A prober for the transport in use.
pub enum Pinger {
    Tcp(TcpPinger),
    Udp(UdpPinger),
}

impl Pinger {
    /// The bytes of the probe sent last.
    pub fn payload(&self) -> &[u8] {
        match self {
            Pinger::Tcp(tcp) => &tcp.payload,
            Pinger::Udp(udp) => udp.window.probe(),
        }
    }

    /// The clock the socket's reads are timed by, where the kernel gives it.
    pub fn clock(&self) -> Clock {
        match self {
            Pinger::Tcp(tcp) => tcp.reader.clock(),
            Pinger::Udp(udp) => udp.reader.clock(),
        }
    }

    /// Probe `seq`, the next one (probes are numbered from 0, one call each); `None` when
    /// `shutdown` was cancelled meanwhile.
    pub fn probe(&mut self, seq: u64, shutdown: &CancellationToken) -> Option<Probe> {
        match self {
            Pinger::Tcp(tcp) => tcp.probe(seq, shutdown),
            // The window numbers its probes the same way (as 32 bits on the wire).
            Pinger::Udp(udp) => udp.probe(shutdown),
        }
    }

    /// What the kernel knows about the TCP socket now (`None` over UDP).
    pub fn tcp_info(&self) -> Option<Result<TcpInfo, sockinfo::Unavailable>> {
        match self {
            Pinger::Tcp(tcp) => Some(sockinfo::tcp_info(tcp.stream.as_fd())),
            Pinger::Udp(_) => None,
        }
    }

    /// UDP's replies that were not echoes: (duplicates, late); `None` over TCP.
    pub fn strays(&self) -> Option<(u64, u64)> {
        match self {
            Pinger::Tcp(_) => None,
            Pinger::Udp(udp) => Some((udp.duplicates, udp.late)),
        }
    }
}

/// The arrival an RTT ends at, and its clock: the kernel's, unless it is missing or (a wall
/// clock stepped meanwhile) before the probe was even sent.
fn arrival_after(arrival: Arrival, sent_at: Instant) -> (Instant, Clock) {
    match arrival.kernel {
        Some(kernel) if kernel >= sent_at => (kernel, Clock::Kernel),
        _ => (arrival.user, Clock::User),
    }
}

/// Whether a blocked call gave up only to let us look at the clock and the shutdown token.
fn woke_to_check(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Sends probes over one TCP connection and matches their echoes by byte offsets, with the
/// same [`RttTracker`] as the UI: a server that splits or merges reads is fine.
pub struct TcpPinger {
    stream: TcpStream,
    reader: StampedReader,
    payload: Arc<[u8]>,
    tracker: RttTracker,
    buf: Vec<u8>,
    updates: Vec<EchoUpdate>,
    /// How long each probe waits for its echo.
    timeout: Duration,
}

impl TcpPinger {
    /// A prober on a connected stream, made blocking here.
    pub fn new(
        stream: TcpStream,
        size: usize,
        timeout: Duration,
        clock: Clock,
    ) -> io::Result<Self> {
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(timeout.min(WAKE_EVERY)))?;
        stream.set_write_timeout(Some(WAKE_EVERY))?;
        Ok(Self {
            reader: StampedReader::new(stream.as_fd(), clock),
            stream,
            timeout,
            buf: vec![0; size.clamp(1024, 64 * 1024)],
            payload: net::probe_payload(size).into(),
            tracker: RttTracker::default(),
            updates: Vec::new(),
        })
    }

    /// One probe: write it, then read until its last byte is back or the timeout passes.
    /// A late echo of an earlier probe is consumed here and ignored (it was counted lost).
    fn probe(&mut self, seq: u64, shutdown: &CancellationToken) -> Option<Probe> {
        let sent_at = Instant::now();
        self.tracker.sent(seq, self.payload.clone(), sent_at);
        if let Err(probe) = self.write_probe(shutdown) {
            return probe;
        }
        let deadline = sent_at + self.timeout;
        loop {
            let (n, arrival) = match self.reader.recv(self.stream.as_fd(), &mut self.buf) {
                Ok((0, _)) => return Some(closed(net::CloseReason::PeerClosed)),
                Ok(read) => read,
                Err(err) if woke_to_check(&err) => {
                    if shutdown.is_cancelled() {
                        return None;
                    }
                    if Instant::now() >= deadline {
                        return Some(Probe::TimedOut);
                    }
                    continue;
                }
                Err(err) => return Some(closed(net::CloseReason::from_io(&err))),
            };
            let (at, clock) = arrival_after(arrival, sent_at);
            // Fed to the tracker even when late, so the byte offsets stay in step.
            self.tracker.received(&self.buf[..n], at, &mut self.updates);
            let late = at > deadline;
            for update in self.updates.drain(..) {
                match update {
                    EchoUpdate::Echoed { id, .. } | EchoUpdate::Mismatch { id, .. }
                        if id == seq && late =>
                    {
                        return Some(Probe::TimedOut);
                    }
                    EchoUpdate::Echoed { id, rtt } if id == seq => {
                        let user = arrival.user.saturating_duration_since(sent_at);
                        return Some(Probe::Echoed(Echo { rtt, user, clock }));
                    }
                    EchoUpdate::Mismatch { id, .. } if id == seq => return Some(Probe::Mismatch),
                    _ => {}
                }
            }
        }
    }

    /// Writes the whole probe; a write blocked by a peer that does not read waits (looking
    /// at the shutdown token now and then) as long as it must.
    fn write_probe(&mut self, shutdown: &CancellationToken) -> Result<(), Option<Probe>> {
        let mut written = 0;
        while written < self.payload.len() {
            match (&self.stream).write(&self.payload[written..]) {
                Ok(0) => return Err(Some(closed(net::CloseReason::PeerClosed))),
                Ok(n) => written += n,
                Err(err) if woke_to_check(&err) => {
                    if shutdown.is_cancelled() {
                        return Err(None);
                    }
                }
                Err(err) => return Err(Some(closed(net::CloseReason::from_io(&err)))),
            }
        }
        Ok(())
    }
}

fn closed(reason: net::CloseReason) -> Probe {
    Probe::Closed(reason.to_string())
}

/// Sends numbered probes over UDP and matches replies exactly: each probe carries a per-run
/// nonce and its sequence number ([`ProbeWindow`], shared with `bench --udp`), so a foreign
/// datagram is ignored, a second reply counted as a duplicate and one after its probe timed
/// out as late, never as an RTT.
pub struct UdpPinger {
    socket: UdpSocket,
    reader: StampedReader,
    window: ProbeWindow,
    buf: Vec<u8>,
    duplicates: u64,
    late: u64,
}

impl UdpPinger {
    /// A prober on a connected socket, made blocking here.
    pub fn new(
        socket: UdpSocket,
        size: usize,
        timeout: Duration,
        clock: Clock,
    ) -> io::Result<Self> {
        socket.set_nonblocking(false)?;
        socket.set_read_timeout(Some(timeout.min(WAKE_EVERY)))?;
        let window = ProbeWindow::new(fastrand::u32(..), net::probe_payload(size), timeout);
        Ok(Self {
            reader: StampedReader::new(socket.as_fd(), clock),
            socket,
            window,
            buf: vec![0; MAX_DATAGRAM + 1],
            duplicates: 0,
            late: 0,
        })
    }

    /// One probe: send it, then read until its reply or its timeout. Replies to earlier
    /// probes are counted as duplicates or late, never as this probe's echo.
    fn probe(&mut self, shutdown: &CancellationToken) -> Option<Probe> {
        let sent_at = Instant::now();
        let (seq, probe) = self.window.send(sent_at);
        if let Err(err) = self.socket.send(probe) {
            self.window.lose(seq);
            return Some(Probe::Refused(format!(
                "cannot send: {}",
                net::describe(&err)
            )));
        }
        // Every earlier probe was answered or lost before this one was sent, so this is the
        // only probe awaited: the next expiry is its timeout, and an echo is its echo.
        while let Some(expiry) = self.window.next_expiry() {
            let (n, arrival) = match self.reader.recv(self.socket.as_fd(), &mut self.buf) {
                Ok(read) => read,
                Err(err) if woke_to_check(&err) => {
                    if shutdown.is_cancelled() {
                        return None;
                    }
                    let now = Instant::now();
                    if now >= expiry {
                        self.window.expire(now);
                    }
                    continue;
                }
                Err(err) => {
                    self.window.lose(seq);
                    return Some(Probe::Refused(net::udp::explain_error(&err)));
                }
            };
            // A reply that arrived (by the kernel's clock) after the timeout is late.
            let (at, clock) = arrival_after(arrival, sent_at);
            self.window.expire(at);
            match self.window.reply(&self.buf[..n], at) {
                ProbeReply::Echoed(rtt) => {
                    let user = arrival.user.saturating_duration_since(sent_at);
                    return Some(Probe::Echoed(Echo { rtt, user, clock }));
                }
                ProbeReply::Mismatch => return Some(Probe::Mismatch),
                ProbeReply::Duplicate => self.duplicates += 1,
                ProbeReply::Late => self.late += 1,
                // Another run's datagram, another program's: not ours, ignore it.
                ProbeReply::Foreign => {}
            }
        }
        Some(Probe::TimedOut)
    }
}
