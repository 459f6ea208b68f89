//! The client pane's state: what was sent, what came back, and the counts and statistics
//! that summarise it. Every network event about the client lands in [`ClientPane::apply`].
//!
//! Counts never depend on rows: rows scroll away after [`super::log::MAX_ROWS`], while each
//! message outstanding is tracked in [`ClientPane::outstanding`] until its one outcome
//! (echoed, mismatch, lost, abandoned or not sent) arrives.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::ops::Range;
use std::time::Duration;

use chrono::{DateTime, Local};

use super::kernel::ClientKernel;
use super::log::{Log, RowId};
use super::{LatencyView, Payload};
use crate::net::framing::Framing;
use crate::net::{ClientEvent, CloseReason, Transport};
use crate::stats::{EchoUpdate, MessageId, RttStats};
use crate::units;

/// RTTs kept for the sparkline and chart (wider than any terminal).
pub const RECENT_RTTS: usize = 512;
/// Payloads of settled messages remembered to show what a late duplicate carried.
const RECENT_SETTLED: usize = 64;

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
    /// Messages sent whose outcome has not arrived yet, by id.
    outstanding: BTreeMap<MessageId, Outstanding>,
    /// Bytes of outstanding messages not echoed yet: grows while the server is paused.
    in_flight_bytes: u64,
    /// What the last settled messages carried, for a duplicate that arrives later.
    recently_settled: VecDeque<(MessageId, Payload)>,
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

/// A message on its way: what it carried and where its rows are.
#[derive(Debug, Clone)]
struct Outstanding {
    payload: Payload,
    /// Its bytes on the wire: the message, framed when framing is on.
    wire_len: usize,
    /// Bytes of its echo received so far.
    received: usize,
    sent_row: RowId,
    echo_row: Option<RowId>,
    /// How long it waited behind earlier writes before reaching the socket, if noticeably.
    queued: Option<Duration>,
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

/// One row of the client pane.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientRow {
    pub at: DateTime<Local>,
    pub kind: ClientRowKind,
}

/// What a client row says.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientRowKind {
    /// A message handed to the client; `outcome` is set when it ended without an echo row
    /// of its own (not sent, or abandoned before any byte came back).
    Sent {
        id: MessageId,
        payload: Payload,
        outcome: Option<EchoProgress>,
    },
    Echo {
        id: MessageId,
        /// What was sent (what came back, when it differs, is in `progress`).
        payload: Payload,
        progress: EchoProgress,
        /// How long the message waited behind earlier writes before it reached the socket:
        /// the RTT is timed from the socket, so this wait is shown beside it.
        queued: Option<Duration>,
    },
    /// Bytes nobody asked for (a greeting, a chatty peer).
    Unsolicited { payload: Payload },
    /// UDP: another reply to a datagram already answered.
    Duplicate { id: MessageId, payload: Payload },
    /// Connection news: connected, closed, reset…
    Notice(String),
    /// A command or send that failed, in words.
    Error(String),
}

/// How far a message has come.
#[derive(Debug, Clone, PartialEq)]
pub enum EchoProgress {
    Partial {
        received: usize,
    },
    Echoed {
        rtt: Duration,
    },
    /// All bytes back, but not the bytes sent: what did come back.
    Mismatch {
        echoed: Payload,
    },
    /// UDP: no reply within the timeout.
    Lost,
    /// The connection ended (or was replaced) before the echo was complete.
    Abandoned,
    /// Never handed to the socket.
    NotSent,
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
            outstanding: BTreeMap::new(),
            in_flight_bytes: 0,
            recently_settled: VecDeque::with_capacity(RECENT_SETTLED),
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
        self.in_flight_bytes
    }

    /// Ids of the messages still waiting for an outcome, oldest first (for a session record
    /// that must give each one, even when the program quits first).
    pub fn outstanding_ids(&self) -> impl Iterator<Item = MessageId> + '_ {
        self.outstanding.keys().copied()
    }

    /// Records messages handed to the client (id, what the message says, its bytes on the
    /// wire), one `→` row each.
    pub fn sent(
        &mut self,
        messages: impl IntoIterator<Item = (MessageId, Payload, usize)>,
        at: DateTime<Local>,
    ) {
        for (id, payload, wire_len) in messages {
            self.counts.sent += 1;
            self.in_flight_bytes += wire_len as u64;
            let sent_row = self.rows.push(ClientRow {
                at,
                kind: ClientRowKind::Sent {
                    id,
                    payload: payload.clone(),
                    outcome: None,
                },
            });
            self.outstanding.insert(
                id,
                Outstanding {
                    payload,
                    wire_len,
                    received: 0,
                    sent_row,
                    echo_row: None,
                    queued: None,
                },
            );
        }
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
            ClientEvent::Queued { id, waited } => {
                if let Some(message) = self.outstanding.get_mut(&id) {
                    message.queued = Some(waited);
                }
            }
            ClientEvent::Closed(reason) => self.closed(reason, now),
            ClientEvent::Problem(problem) => self.note(now, ClientRowKind::Error(problem)),
            ClientEvent::SendBlocked => {
                self.send_blocked = true;
                let in_flight = units::bytes(self.in_flight_bytes);
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

    fn not_sent(&mut self, ids: Range<MessageId>, reason: &str, now: DateTime<Local>) {
        let which = match ids.end - ids.start {
            1 => format!("message #{}", ids.start),
            _ => format!("messages #{} to #{}", ids.start, ids.end - 1),
        };
        for id in ids {
            self.settle(id, EchoProgress::NotSent, now);
        }
        self.note(
            now,
            ClientRowKind::Error(format!("{which} not sent: {reason}")),
        );
    }

    fn echo(&mut self, update: EchoUpdate, now: DateTime<Local>) {
        let (id, progress) = match update {
            EchoUpdate::Unsolicited { bytes } => {
                let payload = Payload::of(&bytes);
                return self.note(now, ClientRowKind::Unsolicited { payload });
            }
            EchoUpdate::Duplicate { id } => {
                self.counts.duplicates += 1;
                let payload = self
                    .recently_settled
                    .iter()
                    .find(|(settled, _)| *settled == id)
                    .map_or_else(
                        || Payload::of(format!("message #{id}").as_bytes()),
                        |(_, p)| p.clone(),
                    );
                return self.note(now, ClientRowKind::Duplicate { id, payload });
            }
            EchoUpdate::Partial { id, received, .. } => (id, EchoProgress::Partial { received }),
            EchoUpdate::Echoed { id, rtt } => (id, EchoProgress::Echoed { rtt }),
            EchoUpdate::Mismatch { id, echoed } => {
                let echoed = Payload::of(&echoed);
                (id, EchoProgress::Mismatch { echoed })
            }
            EchoUpdate::Lost { id } => (id, EchoProgress::Lost),
            EchoUpdate::Abandoned { id } => (id, EchoProgress::Abandoned),
        };
        match progress {
            EchoProgress::Partial { received } => self.progress(id, received, now),
            outcome => self.settle(id, outcome, now),
        }
    }

    /// Part of message `id`'s echo is back: its echo row counts up.
    fn progress(&mut self, id: MessageId, received: usize, now: DateTime<Local>) {
        let Some(message) = self.outstanding.get_mut(&id) else {
            return;
        };
        self.in_flight_bytes -= (received - message.received) as u64;
        message.received = received;
        let progress = EchoProgress::Partial { received };
        let row = ClientRow {
            at: now,
            kind: ClientRowKind::Echo {
                id,
                payload: message.payload.clone(),
                progress: progress.clone(),
                queued: message.queued,
            },
        };
        match message.echo_row.and_then(|row| self.rows.get_mut(row)) {
            Some(ClientRow {
                at,
                kind:
                    ClientRowKind::Echo {
                        progress: shown, ..
                    },
            }) => {
                *at = now;
                *shown = progress;
            }
            _ => message.echo_row = Some(self.rows.push(row)),
        }
    }

    /// Message `id` has its one outcome: count it, and show it on its echo row (or, when no
    /// byte came back and no echo row is due, on its sent row).
    fn settle(&mut self, id: MessageId, outcome: EchoProgress, now: DateTime<Local>) {
        let Some(message) = self.outstanding.remove(&id) else {
            return;
        };
        self.in_flight_bytes -= (message.wire_len - message.received) as u64;
        match &outcome {
            EchoProgress::Echoed { rtt } => {
                self.counts.echoed += 1;
                self.stats.record(*rtt);
                if self.recent_rtts.len() == RECENT_RTTS {
                    self.recent_rtts.pop_front();
                }
                self.recent_rtts.push_back(*rtt);
                self.first_rtt.get_or_insert(*rtt);
            }
            EchoProgress::Mismatch { .. } => self.counts.mismatched += 1,
            EchoProgress::Lost => self.counts.lost += 1,
            EchoProgress::Abandoned => {
                self.counts.abandoned += 1;
                self.abandoned_here += 1;
            }
            EchoProgress::NotSent => self.counts.not_sent += 1,
            EchoProgress::Partial { .. } => {}
        }
        if self.recently_settled.len() == RECENT_SETTLED {
            self.recently_settled.pop_front();
        }
        self.recently_settled
            .push_back((id, message.payload.clone()));

        let echo_row = message.echo_row.and_then(|row| self.rows.get_mut(row));
        if let Some(ClientRow {
            at,
            kind: ClientRowKind::Echo { progress, .. },
        }) = echo_row
        {
            *at = now;
            *progress = outcome;
            return;
        }
        // Nothing came back: an abandoned or unsent message is marked where it was sent
        // (a burst cut short does not flood the pane with a row per message).
        if matches!(outcome, EchoProgress::Abandoned | EchoProgress::NotSent)
            && let Some(ClientRow {
                kind: ClientRowKind::Sent { outcome: shown, .. },
                ..
            }) = self.rows.get_mut(message.sent_row)
        {
            *shown = Some(outcome);
            return;
        }
        self.note(
            now,
            ClientRowKind::Echo {
                id,
                payload: message.payload,
                progress: outcome,
                queued: message.queued,
            },
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Local> {
        Local::now()
    }

    fn pane_with(messages: &[(MessageId, &[u8])]) -> ClientPane {
        let mut pane = ClientPane::new("127.0.0.1:7".parse().unwrap(), Transport::Tcp, false);
        pane.sent(
            messages
                .iter()
                .map(|(id, bytes)| (*id, Payload::of(bytes), bytes.len())),
            now(),
        );
        pane
    }

    fn echo(pane: &mut ClientPane, update: EchoUpdate) {
        pane.apply(ClientEvent::Echo(update), now());
    }

    #[test]
    fn every_message_ends_with_exactly_one_outcome() {
        let mut pane = pane_with(&[(1, b"aa"), (2, b"bb"), (3, b"cc"), (4, b"dd"), (5, b"ee")]);
        echo(
            &mut pane,
            EchoUpdate::Echoed {
                id: 1,
                rtt: Duration::from_micros(9),
            },
        );
        echo(
            &mut pane,
            EchoUpdate::Mismatch {
                id: 2,
                echoed: b"BB".to_vec(),
            },
        );
        echo(&mut pane, EchoUpdate::Lost { id: 3 });
        pane.apply(
            ClientEvent::SendFailed {
                ids: 4..5,
                reason: "busy".into(),
            },
            now(),
        );
        echo(&mut pane, EchoUpdate::Abandoned { id: 5 });
        // A second outcome for a settled message changes nothing.
        echo(&mut pane, EchoUpdate::Abandoned { id: 1 });
        let c = pane.counts;
        assert_eq!(
            (c.echoed, c.mismatched, c.lost, c.not_sent, c.abandoned),
            (1, 1, 1, 1, 1)
        );
        assert_eq!(pane.pending(), 0);
        assert_eq!(pane.in_flight_bytes(), 0);
    }

    #[test]
    fn in_flight_bytes_follow_partial_echoes_however_many_rows_scroll_away() {
        let mut pane = pane_with(&[(1, &[b'x'; 100_000])]);
        for row in 0..super::super::log::MAX_ROWS {
            pane.note(now(), ClientRowKind::Notice(format!("row {row}")));
        }
        echo(
            &mut pane,
            EchoUpdate::Partial {
                id: 1,
                received: 1024,
                total: 100_000,
            },
        );
        assert_eq!(pane.in_flight_bytes(), 100_000 - 1024);
        echo(
            &mut pane,
            EchoUpdate::Partial {
                id: 1,
                received: 4096,
                total: 100_000,
            },
        );
        assert_eq!(pane.in_flight_bytes(), 100_000 - 4096);
        echo(
            &mut pane,
            EchoUpdate::Echoed {
                id: 1,
                rtt: Duration::from_millis(1),
            },
        );
        assert_eq!(pane.in_flight_bytes(), 0);
        assert_eq!(pane.counts.echoed, 1);
    }

    #[test]
    fn an_abandoned_message_without_an_echo_row_is_marked_on_its_sent_row() {
        let mut pane = pane_with(&[(1, b"hi")]);
        echo(&mut pane, EchoUpdate::Abandoned { id: 1 });
        pane.apply(ClientEvent::Closed(CloseReason::PeerClosed), now());
        let rows: Vec<_> = pane.rows.rows().iter().map(|r| &r.kind).collect();
        assert!(matches!(
            rows[0],
            ClientRowKind::Sent {
                outcome: Some(EchoProgress::Abandoned),
                ..
            }
        ));
        assert_eq!(
            rows[1],
            &ClientRowKind::Notice(
                "connection closed by peer (1 message abandoned: their echoes can no longer arrive); /reconnect to try again".into()
            )
        );
    }

    #[test]
    fn a_replaced_connection_does_not_offer_reconnect() {
        let mut pane = pane_with(&[]);
        pane.apply(
            ClientEvent::Closed(CloseReason::SwitchingTransport(Transport::Udp)),
            now(),
        );
        let last = pane.rows.rows().back().unwrap();
        assert_eq!(
            last.kind,
            ClientRowKind::Notice("connection closed by us to switch to UDP".into())
        );
    }

    #[test]
    fn clear_keeps_outstanding_messages_counted() {
        let mut pane = pane_with(&[(1, b"a"), (2, b"b")]);
        echo(
            &mut pane,
            EchoUpdate::Echoed {
                id: 1,
                rtt: Duration::from_micros(5),
            },
        );
        pane.clear();
        assert_eq!(pane.first_rtt, None);
        assert_eq!((pane.counts.sent, pane.pending()), (1, 1));
        echo(
            &mut pane,
            EchoUpdate::Echoed {
                id: 2,
                rtt: Duration::from_micros(5),
            },
        );
        assert_eq!(
            (pane.counts.sent, pane.counts.echoed, pane.pending()),
            (1, 1, 0)
        );
    }

    #[test]
    fn a_duplicate_shows_what_the_message_carried() {
        let mut pane = pane_with(&[(7, b"ping")]);
        echo(
            &mut pane,
            EchoUpdate::Echoed {
                id: 7,
                rtt: Duration::from_micros(5),
            },
        );
        echo(&mut pane, EchoUpdate::Duplicate { id: 7 });
        let last = pane.rows.rows().back().unwrap();
        assert_eq!(
            last.kind,
            ClientRowKind::Duplicate {
                id: 7,
                payload: Payload::of(b"ping")
            }
        );
        assert_eq!(pane.counts.duplicates, 1);
    }
}
