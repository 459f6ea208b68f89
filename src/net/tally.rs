//! The server's running totals, counted from its events alone: one tally for `serve
//! --headless`'s summary and the UI's server pane, so both count the same things the same way.

use std::collections::HashSet;

use super::event::{ConnId, ServerEvent, ServerEventKind};

/// What a server did so far: feed it every [`ServerEvent`] with [`ServerTally::record`].
///
/// It counts what the server reports: with reads left unreported (`--quiet`), `reads`,
/// `bytes` and UDP sources that were answered stay 0. UDP peers are never open connections:
/// they are counted as sources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerTally {
    accepted: u64,
    rejected: u64,
    unanswered: u64,
    reads: u64,
    bytes: u64,
    udp_sources: u64,
    /// The highest UDP source number seen so far (see [`ServerTally::udp_sources`]).
    newest_source: Option<ConnId>,
    open: HashSet<ConnId>,
    peak_open: usize,
}

impl ServerTally {
    /// An empty tally, for a server that just started.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one event.
    pub fn record(&mut self, event: &ServerEvent) {
        match &event.kind {
            ServerEventKind::Connected => {
                self.accepted += 1;
                self.open.insert(event.conn);
                self.peak_open = self.peak_open.max(self.open.len());
            }
            ServerEventKind::Read { len, .. } => self.count_read(*len),
            // A close whose connect went unreported (the event was dropped) removes nothing.
            ServerEventKind::Closed { .. } => {
                self.open.remove(&event.conn);
            }
            ServerEventKind::Rejected { .. } => self.rejected += 1,
            ServerEventKind::Datagram { len, .. } => {
                self.count_source(event.conn);
                self.count_read(*len);
            }
            ServerEventKind::Dropped { .. } => {
                self.count_source(event.conn);
                self.unanswered += 1;
            }
            ServerEventKind::Stalled { .. } | ServerEventKind::Unstalled => {}
        }
    }

    /// TCP connections accepted (those turned away are not).
    pub fn accepted(&self) -> u64 {
        self.accepted
    }

    /// TCP connections turned away by a limit: accepted and closed at once.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// UDP datagrams not answered: reflection guard, rate limit, or a reply that failed.
    pub fn unanswered(&self) -> u64 {
        self.unanswered
    }

    /// Reads (TCP) and datagrams (UDP) echoed.
    pub fn reads(&self) -> u64 {
        self.reads
    }

    /// Bytes of those reads and datagrams, one direction.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// UDP sources (address and port) that sent datagrams. A source the server forgot (it
    /// remembers 4096) and that comes back counts again, as the server numbers it afresh.
    pub fn udp_sources(&self) -> u64 {
        self.udp_sources
    }

    /// TCP connections open now.
    pub fn open(&self) -> usize {
        self.open.len()
    }

    /// Most TCP connections open at once.
    pub fn peak_open(&self) -> usize {
        self.peak_open
    }

    fn count_read(&mut self, len: usize) {
        self.reads += 1;
        self.bytes += len as u64;
    }

    /// Sources are numbered in order of their first datagram, from the counter connections
    /// use too, so a number above every one seen so far is a new source: no set of sources is
    /// kept, and a spray of spoofed addresses costs the tally nothing.
    fn count_source(&mut self, conn: ConnId) {
        if self.newest_source.is_none_or(|newest| conn > newest) {
            self.newest_source = Some(conn);
            self.udp_sources += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::udp::DropReason;
    use crate::net::{CloseReason, Limit};

    fn event(conn: ConnId, kind: ServerEventKind) -> ServerEvent {
        ServerEvent {
            at: chrono::Local::now(),
            conn,
            peer: "127.0.0.1:40000".parse().unwrap(),
            kind,
        }
    }

    fn tally(events: Vec<ServerEvent>) -> ServerTally {
        let mut tally = ServerTally::new();
        for event in &events {
            tally.record(event);
        }
        tally
    }

    fn read(len: usize) -> ServerEventKind {
        ServerEventKind::Read {
            len,
            preview: Vec::new(),
        }
    }

    fn closed() -> ServerEventKind {
        ServerEventKind::Closed {
            reason: CloseReason::PeerClosed,
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    fn datagram(len: usize) -> ServerEventKind {
        ServerEventKind::Datagram {
            len,
            sent_len: len,
            preview: Vec::new(),
        }
    }

    fn dropped() -> ServerEventKind {
        ServerEventKind::Dropped {
            reason: DropReason::ReflectionGuard { port: 7 },
        }
    }

    #[test]
    fn tcp_connections_are_counted_open_and_at_their_peak() {
        let tally = tally(vec![
            event(1, ServerEventKind::Connected),
            event(2, ServerEventKind::Connected),
            event(1, read(13)),
            event(2, read(1024)),
            event(2, ServerEventKind::Stalled { pending: 10 }),
            event(2, ServerEventKind::Unstalled),
            event(1, closed()),
            event(3, ServerEventKind::Connected),
        ]);
        assert_eq!(
            (tally.accepted(), tally.open(), tally.peak_open()),
            (3, 2, 2)
        );
        assert_eq!((tally.reads(), tally.bytes()), (2, 1037));
        assert_eq!(
            (tally.rejected(), tally.unanswered(), tally.udp_sources()),
            (0, 0, 0)
        );
    }

    #[test]
    fn turned_away_connections_are_never_open() {
        let tally = tally(vec![
            event(1, ServerEventKind::Connected),
            event(
                2,
                ServerEventKind::Rejected {
                    limit: Limit::MaxConns(1),
                },
            ),
        ]);
        assert_eq!((tally.accepted(), tally.rejected()), (1, 1));
        assert_eq!((tally.open(), tally.peak_open()), (1, 1));
    }

    #[test]
    fn a_close_without_its_connect_changes_nothing() {
        // The connect was dropped by a full event queue; the close must not count it twice
        // or open a hole in the count.
        let tally = tally(vec![
            event(1, ServerEventKind::Connected),
            event(7, closed()),
        ]);
        assert_eq!((tally.open(), tally.peak_open()), (1, 1));
    }

    #[test]
    fn udp_sources_are_counted_once_and_never_as_open_connections() {
        let tally = tally(vec![
            event(1, datagram(13)),
            event(2, datagram(100)),
            event(1, datagram(13)),
            event(3, dropped()),
            event(2, dropped()),
        ]);
        assert_eq!((tally.reads(), tally.bytes()), (3, 126));
        assert_eq!((tally.udp_sources(), tally.unanswered()), (3, 2));
        assert_eq!(
            (tally.accepted(), tally.open(), tally.peak_open()),
            (0, 0, 0)
        );
    }
}
