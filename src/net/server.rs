//! The echo server (RFC 862): an accept loop and one small task per connection.
//!
//! Each connection task reads up to `read_size` bytes, reports the read, and writes the same
//! bytes back before reading again. Echoing synchronously like this is what bounds memory:
//! we never hold more than one read buffer per connection, and a peer that stops reading
//! simply stops being read from (TCP flow control pushes back on it) until the write-stall
//! timeout drops it.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Local;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::census::{Admission, Census};
use super::event::{CloseReason, ConnId, EventSink, NetEvent, Refused, ServerEventKind};
use super::throttle::Throttle;

/// A write back that waits this long is reported: the peer has stopped reading.
const STALL_NOTICE: Duration = Duration::from_millis(250);

/// How many bytes of each read travel to the UI: enough for a row, bounded for a flood.
pub const READ_PREVIEW_BYTES: usize = 256;

/// Protective limits (ARCHITECTURE.md §2): a class of students must not be able to exhaust
/// the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_conns: usize,
    pub max_per_ip: usize,
    /// Close a connection that sent nothing for this long; `None` = never.
    pub idle_timeout: Option<Duration>,
    /// Drop a peer that stopped reading while we had bytes to echo to it for this long.
    pub write_stall: Duration,
    /// UDP replies per second per source IP (loopback sources are exempt).
    pub udp_replies_per_sec: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_conns: 256,
            max_per_ip: 16,
            idle_timeout: Some(Duration::from_secs(300)),
            write_stall: Duration::from_secs(10),
            udp_replies_per_sec: 100,
        }
    }
}

/// Which limit turned a connection away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    MaxConns(usize),
    MaxPerIp(usize),
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::MaxConns(n) => write!(f, "server full ({n} connections)"),
            Limit::MaxPerIp(n) => write!(f, "too many connections from this address ({n})"),
        }
    }
}

/// How the server behaves; fixed for the life of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerSettings {
    /// Whether to report every read (off for `--quiet` under load: fewer events to drop).
    pub report_reads: bool,
    pub limits: Limits,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            report_reads: true,
            limits: Limits::default(),
        }
    }
}

/// A change to a running server, as the UI asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerCommand {
    SetReadSize(usize),
    Pause,
    Resume,
}

/// How a server reads right now; changed live by [`ServerControl`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// Bytes per `read()`: the tutorial's `recv(1024)`.
    pub size: usize,
    /// Reading stopped (`/pause`): unread bytes fill the socket buffers and TCP flow control
    /// slows the senders down; nothing is lost.
    pub paused: bool,
}

/// What can be changed while the server runs (`/read N`, `/pause`, `/resume`): a lesson
/// changes one thing and the class watches the effect on live connections. Connections
/// watch it, so a change reaches even one that is waiting in `read()` at that moment.
#[derive(Debug, Clone)]
pub struct ServerControl {
    reading: watch::Sender<Reading>,
    /// One numbering for TCP connections and UDP sources, so `#3` means one peer.
    next_conn: Arc<AtomicU64>,
    /// Who is connected and the totals, kept by the server for whoever shows it.
    census: Arc<Census>,
}

impl ServerControl {
    /// A running, reading server with `read_size` bytes per `read()`.
    pub fn new(read_size: usize) -> Self {
        Self {
            reading: watch::Sender::new(Reading {
                size: read_size,
                paused: false,
            }),
            next_conn: Arc::new(AtomicU64::new(1)),
            census: Arc::default(),
        }
    }

    /// The server's own account of its clients, exact even when events were dropped.
    pub fn census(&self) -> &Arc<Census> {
        &self.census
    }

    /// Carries out a [`ServerCommand`].
    pub fn apply(&self, command: ServerCommand) {
        self.reading.send_modify(|reading| match command {
            // Callers validate; the clamp keeps a bad value from ever reaching a buffer.
            ServerCommand::SetReadSize(bytes) => {
                reading.size = bytes.clamp(1, super::MAX_READ_SIZE)
            }
            ServerCommand::Pause => reading.paused = true,
            ServerCommand::Resume => reading.paused = false,
        });
    }

    /// How the server reads now.
    pub fn reading(&self) -> Reading {
        *self.reading.borrow()
    }

    /// A receiver that sees every change, for a connection's read loop.
    pub(super) fn watch(&self) -> watch::Receiver<Reading> {
        self.reading.subscribe()
    }

    /// A fresh connection number, shared by the TCP and UDP servers using this control.
    pub(super) fn next_conn_id(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }
}

/// The next read setting to use, waiting while reading is paused. `None` if the control is
/// gone (the server is shutting down).
pub(super) async fn next_reading(watch: &mut watch::Receiver<Reading>) -> Option<Reading> {
    let reading = *watch.borrow_and_update();
    if !reading.paused {
        return Some(reading);
    }
    let resumed = watch.wait_for(|reading| !reading.paused).await.ok()?;
    Some(*resumed)
}

/// Serves echo on `listener` until `shutdown` is cancelled; returns once every connection
/// task has finished, so no task outlives the call and the port is free again.
pub async fn run(
    listener: TcpListener,
    settings: ServerSettings,
    control: ServerControl,
    events: EventSink,
    shutdown: CancellationToken,
) {
    let tasks = TaskTracker::new();
    let mut backoff = AcceptBackoff::default();
    let mut turned_away = TurnedAway::default();
    loop {
        let flood_told = turned_away.deadline().map(tokio::time::Instant::from_std);
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep_until(flood_told.unwrap_or_else(tokio::time::Instant::now)),
                if flood_told.is_some() => {
                tell_flood(&mut turned_away, &events);
                continue;
            }
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => {
                backoff.reset();
                pair
            }
            Err(err) => {
                // EMFILE, ENFILE, ECONNABORTED…: never fatal. Log, wait a little (so a full
                // file table does not turn this loop into a spin), and accept again.
                events.emit(NetEvent::AcceptFailed {
                    at: Local::now(),
                    reason: super::describe(&err),
                });
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(backoff.next()) => continue,
                }
            }
        };
        let conn = control.next_conn_id();
        let report = |kind| events.server(conn, peer, kind);
        match control.census.admit(conn, peer, &settings.limits) {
            Ok(admission) => {
                report(ServerEventKind::Connected);
                let connection = Connection {
                    conn,
                    peer,
                    settings,
                    control: control.clone(),
                    events: events.clone(),
                };
                tasks.spawn(connection.serve(stream, admission, shutdown.clone()));
            }
            // Accepted then closed at once (dropping `stream`): the peer sees a clean close
            // instead of a SYN queue that never answers. A flood of them is told once a
            // second, so the log grows with time, not with the attacker's rate.
            Err(limit) => {
                if turned_away.occurred(&peer.ip(), (conn, peer, limit), Instant::now()) {
                    report(ServerEventKind::Rejected { limit, count: 1 });
                }
            }
        }
    }
    drop(listener);
    tasks.close();
    tasks.wait().await;
}

/// Connections turned away, by source IP, with the latest one's number, address and limit.
type TurnedAway = Throttle<IpAddr, (ConnId, SocketAddr, Limit)>;

/// Tells the counts of the second that ended.
fn tell_flood(turned_away: &mut TurnedAway, events: &EventSink) {
    for report in turned_away.due(Instant::now()) {
        let count = report.count;
        match report.key {
            Some((_, (conn, peer, limit))) => {
                events.server(conn, peer, ServerEventKind::Rejected { limit, count })
            }
            None => events.emit(NetEvent::Flood {
                at: Local::now(),
                what: Refused::Connections,
                count,
            }),
        }
    }
}

/// Doubles the pause after each consecutive `accept()` failure, from 10 ms up to 1 s.
#[derive(Debug, Default)]
struct AcceptBackoff {
    failures: u32,
}

impl AcceptBackoff {
    fn next(&mut self) -> Duration {
        let pause = Duration::from_millis(10 << self.failures.min(7)).min(Duration::from_secs(1));
        self.failures += 1;
        pause
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

/// One accepted connection and what it needs to report about itself.
struct Connection {
    conn: ConnId,
    peer: SocketAddr,
    settings: ServerSettings,
    control: ServerControl,
    events: EventSink,
}

impl Connection {
    /// Serves one connection; `counters` is its place in the census, given back (and the
    /// close counted) when this returns.
    async fn serve(self, mut stream: TcpStream, counters: Admission, shutdown: CancellationToken) {
        // Echo at once: with Nagle on, the echo of a second small message in flight would
        // wait for the client's (possibly delayed) ACK of the first, adding up to 40 ms to
        // an RTT the server is supposed to be measuring nothing of. A failure only costs that.
        let _ = stream.set_nodelay(true);
        let reason = tokio::select! {
            _ = shutdown.cancelled() => CloseReason::Shutdown,
            reason = self.echo(&mut stream, &counters) => reason,
        };
        let (bytes_in, bytes_out) = counters.bytes();
        self.report(ServerEventKind::Closed {
            reason,
            bytes_in,
            bytes_out,
        });
    }

    /// Echoes until the peer is done; returns why the connection ended.
    async fn echo(&self, stream: &mut TcpStream, counters: &Admission) -> CloseReason {
        let mut buf = Vec::new();
        let mut reading_changes = self.control.watch();
        // One idle timer for the whole connection, moved only when it fires: re-arming a
        // timer on every read would cost each echo a trip through tokio's timer wheel.
        let idle = self.settings.limits.idle_timeout;
        let mut last_read = Instant::now();
        let far = Duration::from_secs(365 * 24 * 3600);
        let idle_timer = tokio::time::sleep(idle.unwrap_or(far));
        tokio::pin!(idle_timer);
        loop {
            let Some(reading) = next_reading(&mut reading_changes).await else {
                return CloseReason::Shutdown;
            };
            buf.resize(reading.size, 0);
            // A `/read 7` or `/pause` typed while we wait here cancels the read (nothing was
            // read: `read` is cancel-safe) and the loop starts over with the new setting.
            // `biased`, change first: when a `/pause` and data arrive together, the pause wins
            // (an unbiased select picks at random and would sometimes read while paused).
            let n = tokio::select! {
                biased;
                _ = reading_changes.changed() => continue,
                read = stream.read(&mut buf) => read,
                () = &mut idle_timer => {
                    let due = last_read + idle.unwrap_or(far);
                    if Instant::now() >= due {
                        return CloseReason::IdleTimeout;
                    }
                    idle_timer.as_mut().reset(due.into());
                    continue;
                }
            };
            last_read = Instant::now();
            let n = match n {
                // The peer's FIN. Everything it sent has been echoed already (we echo before
                // reading again), so finish our side too: half-close aware by construction.
                Ok(0) => {
                    let _ = stream.shutdown().await;
                    return CloseReason::PeerClosed;
                }
                Ok(n) => n,
                Err(err) => return CloseReason::from_io(&err),
            };
            counters.read(n);
            if self.settings.report_reads {
                let preview = buf[..n.min(READ_PREVIEW_BYTES)].to_vec();
                self.report(ServerEventKind::Read { len: n, preview });
            }
            match self.write_back(stream, &buf[..n], counters).await {
                Ok(()) => counters.echoed(n),
                Err(reason) => return reason,
            }
        }
    }

    /// Echoes one read. A write that waits [`STALL_NOTICE`] is reported (the peer stopped
    /// reading: these bytes are pending), and one that waits the write-stall limit ends the
    /// connection, so a peer that never reads cannot make us hold its bytes for ever.
    async fn write_back(
        &self,
        stream: &mut TcpStream,
        bytes: &[u8],
        counters: &Admission,
    ) -> Result<(), CloseReason> {
        // Usually the socket takes it all at once: then no timer is needed at all.
        let bytes = match stream.try_write(bytes) {
            Ok(n) if n == bytes.len() => return Ok(()),
            Ok(n) => &bytes[n..],
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => bytes,
            Err(err) => return Err(CloseReason::from_io(&err)),
        };
        let limit = self.settings.limits.write_stall;
        let mut write = std::pin::pin!(tokio::time::timeout(limit, stream.write_all(bytes)));
        let written = tokio::select! {
            written = &mut write => written,
            _ = tokio::time::sleep(STALL_NOTICE.min(limit)) => {
                counters.pending(Some(bytes.len()));
                self.report(ServerEventKind::Stalled { pending: bytes.len() });
                let written = write.await;
                counters.pending(None);
                if matches!(written, Ok(Ok(()))) {
                    self.report(ServerEventKind::Unstalled);
                }
                written
            }
        };
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(CloseReason::from_io(&err)),
            Err(_) => Err(CloseReason::WriteStall),
        }
    }

    fn report(&self, kind: ServerEventKind) {
        self.events.server(self.conn, self.peer, kind);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_backoff_grows_to_a_ceiling_and_resets() {
        let mut backoff = AcceptBackoff::default();
        assert_eq!(backoff.next(), Duration::from_millis(10));
        assert_eq!(backoff.next(), Duration::from_millis(20));
        for _ in 0..20 {
            backoff.next();
        }
        assert_eq!(backoff.next(), Duration::from_secs(1));
        backoff.reset();
        assert_eq!(backoff.next(), Duration::from_millis(10));
    }
}
