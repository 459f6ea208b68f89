//! The client pane's state: what was sent, what came back, and the counts and statistics
//! that summarise it. Every network event about the client lands in [`ClientPane::apply`].
//!
//! Counts never depend on rows: rows scroll away after [`super::log::MAX_ROWS`], while each
//! message outstanding is tracked until its one outcome (echoed, mismatch, lost, abandoned
//! or not sent) arrives.
//!
//! One job per module:
//! - this one: the pane, and the connection's news (connecting, connected, closed…) as
//!   notices;
//! - `messages`: each message's rows and its one outcome, counted;
//! - `outstanding`: the bookkeeping of the messages on their way and the bytes in flight;
//! - `rows`: what a row says.

mod messages;
mod outstanding;
mod rows;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Local};

use self::outstanding::Outstanding;
use super::LatencyView;
use super::kernel::ClientKernel;
use super::log::Log;
use crate::net::framing::Framing;
use crate::net::{ClientEvent, CloseReason, Transport};
use crate::stats::{MessageId, RttStats};
use crate::units;

pub use rows::{ClientRow, ClientRowKind, EchoProgress};

/// RTTs kept for the sparkline and chart (wider than any terminal).
pub const RECENT_RTTS: usize = 512;

/// The client side: one connection to an echo server.
#[derive(Debug)]
pub struct ClientPane {
    pub target: SocketAddr,
    pub transport: Transport,
    pub nagle: bool,
    pub state: ConnState,
    /// The client reaches its server through the impairment proxy: its TCP handshake is
    /// then with the proxy on this machine, and the emulated link only delays data.
    pub via_proxy: bool,
    /// The TCP handshake of the current connection (UDP has none).
    pub connect_time: Option<Duration>,
    /// Whether that handshake was with the local impairment proxy rather than the server.
    pub handshake_to_proxy: bool,
    /// The first message's RTT since the connection (or `/clear`), shown beside the
    /// handshake: the two are different costs (a SYN round trip vs data through both stacks
    /// and the server).
    pub first_rtt: Option<Duration>,
    pub rows: Log<ClientRow>,
    pub stats: RttStats,
    pub recent_rtts: VecDeque<Duration>,
    pub counts: MessageCounts,
    /// Messages sent whose outcome has not arrived yet.
    outstanding: Outstanding,
    /// Messages abandoned since the current connection began, for the close notice.
    abandoned_here: u64,
    /// A reconnect is already on its way (the server is restarting): a close is then not
    /// the end of the session, and the pane says so instead of offering /reconnect.
    pub reconnecting: bool,
    /// A write is waiting: the peer is not reading and the socket buffers are full.
    pub send_blocked: bool,
    /// How the latency pane shows recent RTTs.
    pub latency_view: LatencyView,
    /// How messages are framed on the wire (`/frame`).
    pub framing: Framing,
    /// The kernel's word on the connection: TCP states, the clock RTTs end at.
    pub kernel: ClientKernel,
}

/// Message tallies for the latency line: every message sent ends in exactly one of
/// echoed, mismatched, lost, abandoned or not sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageCounts {
    pub sent: u64,
    pub echoed: u64,
    pub mismatched: u64,
    /// Never handed to the socket (not connected, half-closed, too many outstanding).
    pub not_sent: u64,
    /// UDP datagrams never answered within the timeout.
    pub lost: u64,
    /// Given up on when the connection ended or was replaced before the echo came back.
    pub abandoned: u64,
    /// UDP replies to datagrams already answered (not an outcome: counted beside).
    pub duplicates: u64,
}

/// The client connection's state, shown in words and colour in the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnState {
    Connecting,
    Connected,
    /// We sent FIN; echoes may still arrive.
    HalfClosed,
    Closed(CloseReason),
}

impl ClientPane {
    /// A client about to connect to `target`.
    pub fn new(target: SocketAddr, transport: Transport, nagle: bool) -> Self {
        Self {
            target,
            transport,
            nagle,
            state: ConnState::Connecting,
            via_proxy: false,
            handshake_to_proxy: false,
            connect_time: None,
            first_rtt: None,
            rows: Log::default(),
            stats: RttStats::precise(),
            recent_rtts: VecDeque::with_capacity(RECENT_RTTS),
            counts: MessageCounts::default(),
            outstanding: Outstanding::default(),
            abandoned_here: 0,
            reconnecting: false,
            send_blocked: false,
            latency_view: LatencyView::default(),
            framing: Framing::None,
            kernel: ClientKernel::default(),
        }
    }

    /// Adds a row at `at`.
    pub fn note(&mut self, at: DateTime<Local>, kind: ClientRowKind) {
        self.rows.push(ClientRow { at, kind });
    }

    /// Messages sent and not settled yet.
    pub fn pending(&self) -> usize {
        self.outstanding.len()
    }

    /// Bytes sent and not echoed yet, of messages not settled.
    pub fn in_flight_bytes(&self) -> u64 {
        self.outstanding.in_flight_bytes()
    }

    /// Ids of the messages still waiting for an outcome, oldest first (for a session record
    /// that must give each one, even when the program quits first).
    pub fn outstanding_ids(&self) -> impl Iterator<Item = MessageId> + '_ {
        self.outstanding.ids()
    }

    /// Forgets statistics, counts and rows (`/clear`); messages still outstanding keep their
    /// place, so their outcomes are still counted when they come.
    pub fn clear(&mut self) {
        self.rows.clear();
        self.stats = RttStats::precise();
        self.recent_rtts.clear();
        self.first_rtt = None;
        self.counts = MessageCounts {
            sent: self.outstanding.len() as u64,
            ..MessageCounts::default()
        };
    }

    /// Applies what the network reported about the client.
    pub fn apply(&mut self, event: ClientEvent, now: DateTime<Local>) {
        match event {
            ClientEvent::Connecting { target, transport } => {
                self.state = ConnState::Connecting;
                self.transport = transport;
                self.connect_time = None;
                self.first_rtt = None;
                self.note(
                    now,
                    ClientRowKind::Notice(format!("{transport} to {target}…")),
                );
            }
            ClientEvent::Connected {
                local,
                peer,
                connect_time,
                clock,
            } => {
                let tcp = self.transport == Transport::Tcp;
                self.kernel.connected(local, tcp, clock);
                self.state = ConnState::Connected;
                self.connect_time = connect_time;
                self.handshake_to_proxy = self.via_proxy;
                self.abandoned_here = 0;
                self.reconnecting = false;
                let notice = match connect_time {
                    Some(took) if self.via_proxy => format!(
                        "connected to the local impairment proxy in {} ({local} → {peer}); \
                         the link's delay applies to data, not to this handshake",
                        units::duration(took)
                    ),
                    Some(took) => {
                        format!("connected in {} ({local} → {peer})", units::duration(took))
                    }
                    None => format!("UDP ready, no handshake ({local} → {peer})"),
                };
                self.note(now, ClientRowKind::Notice(notice));
            }
            ClientEvent::HalfClosed => {
                self.state = ConnState::HalfClosed;
                let notice = "FIN sent: waiting for the peer to finish echoing".to_owned();
                self.note(now, ClientRowKind::Notice(notice));
            }
            ClientEvent::SendFailed { ids, reason } => self.not_sent(ids, &reason, now),
            ClientEvent::Queued { id, waited } => self.outstanding.queued(id, waited),
            ClientEvent::Closed(reason) => self.closed(reason, now),
            ClientEvent::Problem(problem) => self.note(now, ClientRowKind::Error(problem)),
            ClientEvent::SendBlocked => {
                self.send_blocked = true;
                let in_flight = units::bytes(self.in_flight_bytes());
                self.note(now, ClientRowKind::Notice(format!(
                    "send blocked: {in_flight} unechoed, the peer is not reading and the socket buffers are full"
                )));
            }
            ClientEvent::SendUnblocked => {
                self.send_blocked = false;
                let notice = "send unblocked: the peer is reading again".to_owned();
                self.note(now, ClientRowKind::Notice(notice));
            }
            ClientEvent::Echo(update) => self.echo(update, now),
            ClientEvent::UserClockEchoes(n) => self.kernel.user_clock_echoes += n,
            ClientEvent::TcpState(state) => self.tcp_state(state, now),
            ClientEvent::Congestion(algorithm) => {
                self.kernel.congestion = Some(algorithm);
                let notice = format!("congestion control {algorithm} from now on");
                self.note(now, ClientRowKind::Notice(notice));
            }
        }
    }

    /// The socket is in `state` now: a change becomes a row (the close lessons).
    pub fn tcp_state(&mut self, state: crate::net::sockinfo::TcpState, now: DateTime<Local>) {
        if let Some(change) = self.kernel.saw(state) {
            self.note(now, ClientRowKind::Notice(change));
        }
    }

    /// The connection is over: why, and what became of the messages still on their way.
    fn closed(&mut self, reason: CloseReason, now: DateTime<Local>) {
        self.send_blocked = false;
        let mut notice = format!("connection {reason}");
        if self.abandoned_here > 0 {
            let n = units::count(self.abandoned_here, "message", "messages");
            notice += &format!(" ({n} abandoned: their echoes can no longer arrive)");
        }
        if self.reconnecting {
            notice += "; reconnecting";
        } else if !reason.is_replaced() {
            notice += "; /reconnect to try again";
        }
        self.abandoned_here = 0;
        self.state = ConnState::Closed(reason);
        self.note(now, ClientRowKind::Notice(notice));
    }

    /// The connection state in the words the status bar uses.
    pub fn state_words(&self) -> String {
        match (&self.state, self.transport) {
            (ConnState::Connecting, _) => "connecting".into(),
            (ConnState::Connected, Transport::Tcp) => "connected".into(),
            (ConnState::Connected, Transport::Udp) => "ready (UDP)".into(),
            (ConnState::HalfClosed, _) => "half-closed (FIN sent)".into(),
            (ConnState::Closed(reason), _) => reason.to_string(),
        }
    }
}
