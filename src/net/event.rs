//! `NetEvent`: the only thing the UI (or a headless logger) learns from the network.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use std::{fmt, io};

use chrono::{DateTime, Local};
use tokio::sync::mpsc;

use super::server::Limit;
use super::udp::DropReason;
use crate::stats::EchoUpdate;

/// Numbers the server's connections in accept order, so rows can say `#3`.
pub type ConnId = u64;

/// Something the network did that someone may want to show or log.
#[derive(Debug, Clone, PartialEq)]
pub enum NetEvent {
    Server(ServerEvent),
    /// `accept()` failed (EMFILE, ECONNABORTED, …); the server backs off and keeps serving.
    AcceptFailed {
        at: DateTime<Local>,
        reason: String,
    },
    /// In the last second, `count` more connections were turned away or datagrams not
    /// answered, from sources beyond the few told one by one (see [`super::throttle`]).
    Flood {
        at: DateTime<Local>,
        what: Refused,
        count: u64,
    },
    Client(ClientEvent),
}

/// What a server refused, in a flood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// TCP connections turned away by a limit.
    Connections,
    /// UDP datagrams not answered.
    Datagrams,
}

impl Refused {
    /// The flood line: `312 more datagrams from other sources not answered in the last second`.
    pub fn describe(self, count: u64) -> String {
        match self {
            Refused::Connections => format!(
                "{count} more connections from other addresses turned away in the last second"
            ),
            Refused::Datagrams => {
                format!("{count} more datagrams from other sources not answered in the last second")
            }
        }
    }
}

/// How a misbehaving echo went out: `echoed 13 B in 3 writes after 200ms`.
pub fn echoed_words(len: usize, writes: usize, waited: Duration) -> String {
    let mut words = format!("echoed {len} B");
    if writes > 1 {
        words += &format!(" in {writes} writes");
    }
    if !waited.is_zero() {
        words += &format!(" after {}", crate::units::duration(waited));
    }
    words
}

/// How many times a refusal line stands for: nothing for one, ` (×29 in the last second)`
/// for a flood told once a second.
pub fn times(count: u64) -> String {
    if count == 1 {
        String::new()
    } else {
        format!(" (×{count} in the last second)")
    }
}

/// One thing that happened on one server connection.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerEvent {
    /// Wall-clock time for display; stamped where it happened, not where it is shown.
    pub at: DateTime<Local>,
    pub conn: ConnId,
    pub peer: SocketAddr,
    pub kind: ServerEventKind,
}

/// What happened on a server connection.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEventKind {
    Connected,
    /// One `read()` returned `len` bytes; `preview` holds the first few of them, raw.
    Read {
        len: usize,
        preview: Vec<u8>,
    },
    Closed {
        reason: CloseReason,
        bytes_in: u64,
        bytes_out: u64,
    },
    /// The write back of a read has waited: the peer is not reading. `pending` bytes wait.
    Stalled {
        pending: usize,
    },
    /// The stalled write went through.
    Unstalled,
    /// Accepted and closed at once because a limit was reached: `count` connections from
    /// this address (1 when told at once; in a flood, those of the last second, told once).
    Rejected {
        limit: Limit,
        count: u64,
    },
    /// UDP: one datagram received and echoed. `len` bytes were kept (the read size may cut a
    /// datagram, as `recv` does), of the `sent_len` the peer sent.
    Datagram {
        len: usize,
        sent_len: usize,
        preview: Vec<u8>,
    },
    /// Sent first, on accept (`--greeting`).
    Greeted {
        len: usize,
    },
    /// A whole frame (`--frame`), assembled from `reads` reads and echoed as one write.
    Frame {
        len: usize,
        reads: usize,
        preview: Vec<u8>,
    },
    /// An echo that was not written at once and whole: in `chunks` writes (`--echo-chunks`),
    /// after `waited` (`--think`).
    Echoed {
        len: usize,
        chunks: usize,
        waited: Duration,
    },
    /// UDP: datagrams not answered, and why: `count` of them from this source (1 when told
    /// at once; in a flood, those of the last second, told once).
    Dropped {
        reason: DropReason,
        count: u64,
    },
}

/// What the client's connection did. RTTs were measured at the socket, not on arrival here.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    Connecting {
        target: SocketAddr,
        transport: super::Transport,
    },
    /// Ready to send. `connect_time` is the TCP handshake; UDP has none.
    Connected {
        local: SocketAddr,
        peer: SocketAddr,
        connect_time: Option<Duration>,
    },
    Echo(EchoUpdate),
    /// Our FIN is sent; the peer may still echo what it has.
    HalfClosed,
    /// Message `id` waited this long behind earlier writes before it reached the socket
    /// (reported only when the wait was noticeable): its RTT is timed from the socket.
    Queued {
        id: crate::stats::MessageId,
        waited: Duration,
    },
    /// These messages were never handed to the socket: each is settled as not sent.
    SendFailed {
        ids: std::ops::Range<crate::stats::MessageId>,
        reason: String,
    },
    Closed(CloseReason),
    /// A write has been waiting: the peer is not reading and the socket buffers are full.
    SendBlocked,
    /// The blocked write went through.
    SendUnblocked,
    /// Something failed that did not end the connection (a socket option, say).
    Problem(String),
}

/// Why a connection ended or never started, in terms a user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer sent FIN.
    PeerClosed,
    /// The peer sent RST (or the connection was aborted under us).
    Reset,
    /// We sent RST on purpose (`/reset`).
    ResetByUs,
    Refused,
    TimedOut,
    /// Server: no bytes for the idle timeout.
    IdleTimeout,
    /// Server: the peer stopped reading while we owed it bytes.
    WriteStall,
    /// We are shutting down.
    Shutdown,
    /// We closed it to connect again (`/reconnect`).
    Reconnecting,
    /// We closed it to switch to the other transport (`/udp`, `/tcp`).
    SwitchingTransport(super::Transport),
    /// We closed it to take another route: through the impairment proxy, or around it again.
    Rerouting,
    /// Server: restarting with another model (`/server model`).
    Restarting,
    /// Server: closed (FIN) after echoing this many bytes, as asked (`--close-after`).
    ClosedAfter(u64),
    /// Server: aborted (RST) after echoing this many bytes, as asked (`--reset-after`).
    ResetAfter(u64),
    /// Server: the stream could not be framed (`--frame`), in words.
    BadFrame(String),
    /// Any other OS error, already described in words.
    Error(String),
}

impl CloseReason {
    /// Whether we closed the connection only to open another one at once (reconnect, switch
    /// transport or route): the UI then says what comes next instead of offering /reconnect.
    pub fn is_replaced(&self) -> bool {
        matches!(
            self,
            CloseReason::Reconnecting | CloseReason::SwitchingTransport(_) | CloseReason::Rerouting
        )
    }

    /// Classifies an I/O error into a reason a user recognises.
    pub fn from_io(err: &io::Error) -> Self {
        use io::ErrorKind::*;
        match err.kind() {
            ConnectionRefused => CloseReason::Refused,
            ConnectionReset | ConnectionAborted | BrokenPipe => CloseReason::Reset,
            TimedOut => CloseReason::TimedOut,
            _ => CloseReason::Error(super::describe(err)),
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CloseReason::PeerClosed => "closed by peer",
            CloseReason::Reset => "reset",
            CloseReason::ResetByUs => "reset by us",
            CloseReason::Refused => "refused",
            CloseReason::TimedOut => "timed out",
            CloseReason::IdleTimeout => "idle timeout",
            CloseReason::WriteStall => "stopped reading",
            CloseReason::Shutdown => "shut down",
            CloseReason::Reconnecting => "closed by us to reconnect",
            CloseReason::SwitchingTransport(transport) => {
                return write!(f, "closed by us to switch to {transport}");
            }
            CloseReason::Rerouting => "closed by us to change route",
            CloseReason::Restarting => "server restarting",
            CloseReason::ClosedAfter(n) => return write!(f, "closed after {n} B (as asked)"),
            CloseReason::ResetAfter(n) => return write!(f, "reset after {n} B (as asked)"),
            CloseReason::BadFrame(why) => return write!(f, "bad frame: {why}"),
            CloseReason::Error(words) => words,
        })
    }
}

/// The sending side of the event channel, shared by every network task.
///
/// The server uses [`EventSink::emit`], which never waits: when the consumer is behind, the
/// event is counted as dropped, so echoing never slows down because a terminal is slow.
#[derive(Debug, Clone)]
pub struct EventSink {
    tx: mpsc::Sender<NetEvent>,
    dropped: Arc<AtomicU64>,
}

/// The receiving side, with the count of events the sink had to drop.
#[derive(Debug)]
pub struct EventStream {
    rx: mpsc::Receiver<NetEvent>,
    dropped: Arc<AtomicU64>,
}

/// A bounded event channel: `capacity` events may wait for the consumer.
pub fn channel(capacity: usize) -> (EventSink, EventStream) {
    let (tx, rx) = mpsc::channel(capacity);
    let dropped = Arc::new(AtomicU64::new(0));
    (
        EventSink {
            tx,
            dropped: dropped.clone(),
        },
        EventStream { rx, dropped },
    )
}

impl EventSink {
    /// A sink nobody listens to, for an embedded server whose events nobody shows.
    pub fn discard() -> Self {
        channel(1).0
    }

    /// Reports an event without ever waiting; counts it as dropped if the consumer is behind.
    pub fn emit(&self, event: NetEvent) {
        if self.tx.try_send(event).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Reports what happened on server connection `conn` with `peer`, stamped now.
    pub fn server(&self, conn: ConnId, peer: SocketAddr, kind: ServerEventKind) {
        self.emit(NetEvent::Server(ServerEvent {
            at: Local::now(),
            conn,
            peer,
            kind,
        }));
    }

    /// Reports an event, waiting for room: for the client, whose echoes must all be shown.
    ///
    /// Waiting here only delays reading the client's own socket (TCP then slows the peer);
    /// RTTs are stamped before this call, so they stay honest.
    pub async fn deliver(&self, event: NetEvent) {
        // An error means the consumer is gone (we are shutting down): nothing to report to.
        let _ = self.tx.send(event).await;
    }
}

impl EventStream {
    /// Waits for the next event; `None` once every sink is gone.
    pub async fn recv(&mut self) -> Option<NetEvent> {
        self.rx.recv().await
    }

    /// Takes an event that is already waiting, without waiting for one.
    pub fn try_recv(&mut self) -> Option<NetEvent> {
        self.rx.try_recv().ok()
    }

    /// How many events were dropped because the consumer was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept_failed() -> NetEvent {
        NetEvent::AcceptFailed {
            at: Local::now(),
            reason: "too many open files".into(),
        }
    }

    #[test]
    fn a_full_channel_drops_and_counts_instead_of_waiting() {
        let (sink, mut stream) = channel(2);
        for _ in 0..5 {
            sink.emit(accept_failed());
        }
        assert_eq!(stream.dropped(), 3);
        assert!(stream.try_recv().is_some());
        assert!(stream.try_recv().is_some());
        assert!(stream.try_recv().is_none());
    }

    #[test]
    fn reasons_read_as_words() {
        assert_eq!(CloseReason::PeerClosed.to_string(), "closed by peer");
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(CloseReason::from_io(&reset), CloseReason::Reset);
        assert_eq!(CloseReason::from_io(&reset).to_string(), "reset");
    }
}
