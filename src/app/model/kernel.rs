//! What the kernel knows, as the UI keeps it: the socket view's latest look at both ends of
//! the embedded connection, the clock the client's RTTs end at, and the TCP states seen on
//! the way, which the close lessons show as rows.

use std::net::SocketAddr;

use super::App;
use crate::net::ConnId;
use crate::net::sockinfo::{Congestion, Sampled, TcpState};
use crate::stats::Clock;

/// The last TCP state seen of one socket, so that a change becomes a row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateTrail {
    last: Option<TcpState>,
}

impl StateTrail {
    /// A trail that starts at `state` (a connection just established).
    pub fn at(state: TcpState) -> Self {
        Self { last: Some(state) }
    }

    /// `Some((from, to))` when `state` is not the state seen last (the first one seen is
    /// the start, not a change).
    pub fn saw(&mut self, state: TcpState) -> Option<(TcpState, TcpState)> {
        let from = self.last.replace(state)?;
        (from != state).then_some((from, state))
    }
}

/// A state change as a row says it: `TCP ESTABLISHED → FIN_WAIT1: our FIN is sent, …`.
pub fn transition(from: TcpState, to: TcpState) -> String {
    format!("TCP {from} → {to}: {}", to.meaning())
}

/// What the client pane keeps of the kernel's word on its connection.
#[derive(Debug, Clone, Default)]
pub struct ClientKernel {
    /// The socket's TCP states, for the close lessons' rows.
    pub trail: StateTrail,
    /// The clock the RTTs end at (`None` before the first connection), and how many echoes
    /// the kernel gave no timestamp for, so our clock timed them.
    pub clock: Option<Clock>,
    pub user_clock_echoes: u64,
    /// The congestion control chosen with `/congestion`, if any.
    pub congestion: Option<Congestion>,
    /// The connection's own address: the server's roster knows it as its peer.
    pub local: Option<SocketAddr>,
}

impl ClientKernel {
    /// A connection from `local` is ready: a TCP one starts `ESTABLISHED`; its RTTs end at
    /// `clock`.
    pub fn connected(&mut self, local: SocketAddr, tcp: bool, clock: Clock) {
        self.local = Some(local);
        self.trail = if tcp {
            StateTrail::at(TcpState::Established)
        } else {
            StateTrail::default()
        };
        self.clock = Some(clock);
    }

    /// The socket is in `state` now: the row telling the change, if it is one.
    pub fn saw(&mut self, state: TcpState) -> Option<String> {
        let (from, to) = self.trail.saw(state)?;
        Some(transition(from, to))
    }
}

/// Both ends of the embedded connection, as the socket view last asked the kernel.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KernelView {
    /// The client's socket (`None`: not asked yet).
    pub client: Option<Sampled>,
    /// The server's end of the same connection: its number, and what its socket says.
    pub server: Option<(ConnId, Sampled)>,
}

/// One look at both ends, taken by the runtime for the socket view.
#[derive(Debug, Clone, PartialEq)]
pub struct SocketLook {
    pub client: Sampled,
    pub server: Option<(ConnId, Sampled)>,
}

/// Keeps a look for the socket view, and tells each socket's state changes as rows in its
/// pane (a close lesson's `FIN_WAIT1 → FIN_WAIT2`).
pub fn apply_look(app: &mut App, look: SocketLook) {
    let now = app.now;
    if let (Some(client), Ok(sample)) = (&mut app.client, &look.client) {
        client.tcp_state(sample.tcp.state, now);
    }
    if let (Some(server), Some((conn, Ok(sample)))) = (&mut app.server, &look.server) {
        server.saw_state(*conn, sample.tcp.state, now);
    }
    app.kernel = KernelView {
        client: Some(look.client),
        server: look.server,
    };
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::Local;

    use super::*;
    use crate::app::model::{RosterSort, ServerPane, ServerRowKind};
    use crate::net::census::{CensusSnapshot, ConnSnapshot};
    use crate::net::serve::Protocols;
    use crate::net::sockinfo::TcpSummary;
    use crate::net::{NetEvent, ServerEvent, ServerEventKind};

    fn tcp(rtt_us: u64, state: TcpState) -> Option<TcpSummary> {
        Some(TcpSummary {
            state,
            rtt: Duration::from_micros(rtt_us),
            rttvar: Duration::from_micros(rtt_us / 2),
            total_retrans: 0,
        })
    }

    fn pane() -> ServerPane {
        let behaviour = crate::net::ServerControl::new(1024).behaviour();
        ServerPane::new("127.0.0.1:7".parse().unwrap(), Protocols::Tcp, behaviour)
    }

    fn conn(conn: ConnId, rtt_us: u64) -> ConnSnapshot {
        ConnSnapshot {
            conn,
            peer: format!("10.0.0.{conn}:5000").parse().unwrap(),
            since: Local::now(),
            reads: 1,
            bytes_in: 13,
            bytes_out: 13,
            pending: None,
            tcp: tcp(rtt_us, TcpState::Established),
        }
    }

    #[test]
    fn the_roster_takes_each_connection_s_rtt_from_the_census_and_sorts_by_it() {
        let mut pane = pane();
        let census = CensusSnapshot {
            open: vec![conn(1, 40), conn(2, 4000), conn(3, 400)],
            ..CensusSnapshot::default()
        };
        pane.reconcile(census, Local::now());
        pane.sort = RosterSort::Rtt;
        let order: Vec<ConnId> = pane.roster().into_iter().map(|(id, _)| id).collect();
        assert_eq!(order, [2, 3, 1], "the slowest first");
        assert!(pane.rows.rows().is_empty(), "ESTABLISHED is no change");
    }

    #[test]
    fn the_server_s_close_is_told_as_state_rows() {
        let mut pane = pane();
        let event = |kind| {
            NetEvent::Server(ServerEvent {
                at: Local::now(),
                conn: 1,
                peer: "10.0.0.1:5000".parse().unwrap(),
                kind,
            })
        };
        pane.apply(event(ServerEventKind::Connected));
        pane.apply(event(ServerEventKind::TcpState(TcpState::CloseWait)));
        pane.apply(event(ServerEventKind::TcpState(TcpState::CloseWait)));
        pane.apply(event(ServerEventKind::TcpState(TcpState::LastAck)));
        pane.apply(event(ServerEventKind::Closed {
            reason: crate::net::CloseReason::PeerClosed,
            bytes_in: 0,
            bytes_out: 0,
            tcp: tcp(31, TcpState::LastAck),
        }));
        let states: Vec<(TcpState, TcpState)> = pane
            .rows
            .rows()
            .iter()
            .filter_map(|row| match row.kind {
                ServerRowKind::TcpState { from, to, .. } => Some((from, to)),
                _ => None,
            })
            .collect();
        assert_eq!(
            states,
            [
                (TcpState::Established, TcpState::CloseWait),
                (TcpState::CloseWait, TcpState::LastAck)
            ]
        );
        assert_eq!(pane.conns[&1].tcp.unwrap().rtt, Duration::from_micros(31));
    }

    #[test]
    fn a_trail_tells_changes_only() {
        let mut trail = StateTrail::at(TcpState::Established);
        assert_eq!(trail.saw(TcpState::Established), None);
        assert_eq!(
            trail.saw(TcpState::FinWait1),
            Some((TcpState::Established, TcpState::FinWait1))
        );
        assert_eq!(trail.saw(TcpState::FinWait1), None);
        let mut fresh = StateTrail::default();
        assert_eq!(
            fresh.saw(TcpState::CloseWait),
            None,
            "the first state is the start"
        );
        assert!(
            transition(TcpState::CloseWait, TcpState::LastAck)
                .starts_with("TCP CLOSE_WAIT → LAST_ACK: ")
        );
    }
}
