//! The server pane's state: the listener, its clients (the roster) and every read.
//!
//! Two sources feed it. Events ([`ServerPane::apply`]) bring each read as it happens, for the
//! log, and open or close roster rows at once; they may be dropped when the UI is behind. The
//! server's census ([`ServerPane::reconcile`], once a second) is never dropped: it corrects
//! the roster and carries every count, so nothing shown depends on events that were lost.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Local};

use super::Payload;
use super::log::Log;
use super::roster::{Closed, ConnInfo, RosterSort};
use crate::net::census::CensusSnapshot;
use crate::net::serve::Protocols;
use crate::net::server::{Behaviour, ServerModel};
use crate::net::sockinfo::{AcceptQueue, TcpState, Unavailable};
use crate::net::udp::DropReason;
use crate::net::{CloseReason, ConnId, Limit, NetEvent, Refused, ServerEvent, ServerEventKind};

/// Closed connections kept in the roster after they end.
pub const CLOSED_CONNS_KEPT: usize = 64;

/// The server side: the listener, its clients and every read.
#[derive(Debug)]
pub struct ServerPane {
    pub listen: SocketAddr,
    /// What it answers.
    pub protocols: Protocols,
    /// How it reads, serves and (mis)behaves: the settings the pane shows, kept in step with
    /// the server by the commands that change them.
    pub behaviour: Behaviour,
    /// Lines the pane always shows above the roster: why the port differs from the one asked
    /// for, that the server is reachable from the network and at which addresses.
    pub banner: Vec<String>,
    /// TCP connections (open, and the last few closed) and UDP sources heard from lately.
    pub conns: BTreeMap<ConnId, ConnInfo>,
    pub rows: Log<ServerRow>,
    /// The server's census at the last tick: every total the pane shows.
    pub census: CensusSnapshot,
    pub sort: RosterSort,
    /// The connection whose reads the log shows (all when `None`).
    pub selected: Option<ConnId>,
    /// Reads and bytes per second over the last tick.
    pub rate: (f64, f64),
    last_tick: Option<DateTime<Local>>,
    /// Connections open here that the last census no longer had: closed for good if the next
    /// one lacks them too (see [`ServerPane::reconcile`]).
    missing: HashSet<ConnId>,
}

impl ServerPane {
    /// A server listening on `listen` for `protocols`, behaving as `behaviour`.
    pub fn new(listen: SocketAddr, protocols: Protocols, behaviour: Behaviour) -> Self {
        Self {
            listen,
            protocols,
            behaviour,
            banner: Vec::new(),
            conns: BTreeMap::new(),
            rows: Log::default(),
            census: CensusSnapshot::default(),
            sort: RosterSort::default(),
            selected: None,
            rate: (0.0, 0.0),
            last_tick: None,
            missing: HashSet::new(),
        }
    }

    /// Clients in roster order (see [`RosterSort`]).
    pub fn roster(&self) -> Vec<(ConnId, &ConnInfo)> {
        self.sort
            .order(self.conns.iter().map(|(&id, c)| (id, c)).collect())
    }

    /// Applies a network event about the server (client events are not ours).
    pub fn apply(&mut self, event: NetEvent) {
        let (at, kind) = match event {
            NetEvent::Server(event) => match (event.at, self.server_event(event)) {
                (at, Some(kind)) => (at, kind),
                (_, None) => return,
            },
            NetEvent::AcceptFailed { at, reason } => (at, ServerRowKind::AcceptFailed { reason }),
            NetEvent::Flood { at, what, count } => (at, ServerRowKind::Flood { what, count }),
            NetEvent::Client(_) => return,
        };
        self.rows.push(ServerRow { at, kind });
    }

    /// Updates the roster from one event (at once; the next census corrects any count) and
    /// says what the log row shows, if any.
    fn server_event(&mut self, event: ServerEvent) -> Option<ServerRowKind> {
        let ServerEvent {
            at,
            conn,
            peer,
            kind,
        } = event;
        Some(match kind {
            ServerEventKind::TcpState(state) => return self.state_change(conn, state),
            ServerEventKind::Connected => {
                self.conns.insert(conn, ConnInfo::new(peer, at, false));
                ServerRowKind::Connected { conn, peer }
            }
            ServerEventKind::Read { len, preview } => {
                if let Some(info) = self.conns.get_mut(&conn) {
                    info.reads += 1;
                    info.bytes_in += len as u64;
                }
                ServerRowKind::Read {
                    conn,
                    payload: Payload::preview(&preview, len),
                }
            }
            ServerEventKind::Closed {
                reason,
                bytes_in,
                bytes_out,
                tcp,
            } => {
                if let Some(tcp) = tcp {
                    self.saw_state(conn, tcp.state, at);
                }
                if let Some(info) = self.conns.get_mut(&conn) {
                    info.close(Closed::Reported(reason.clone()), at);
                    info.bytes_in = bytes_in;
                    info.bytes_out = bytes_out;
                    info.tcp = tcp.or(info.tcp);
                }
                self.forget_old_closed();
                ServerRowKind::Closed {
                    conn,
                    reason,
                    bytes_in,
                    bytes_out,
                }
            }
            ServerEventKind::Rejected { limit, count } => ServerRowKind::Rejected {
                conn,
                peer,
                limit,
                count,
            },
            // UDP sources join the roster from the census, which bounds them: a spray of
            // spoofed addresses costs the roster nothing.
            ServerEventKind::Datagram {
                len,
                sent_len,
                preview,
            } => ServerRowKind::Datagram {
                conn,
                payload: Payload::preview(&preview, len),
                sent_len,
            },
            ServerEventKind::Dropped { reason, count } => ServerRowKind::Dropped {
                conn,
                peer,
                reason,
                count,
            },
            ServerEventKind::Greeted { len } => ServerRowKind::Greeted { conn, len },
            ServerEventKind::Frame {
                len,
                reads,
                preview,
            } => ServerRowKind::Frame {
                conn,
                payload: Payload::preview(&preview, len),
                reads,
            },
            ServerEventKind::Echoed {
                len,
                chunks,
                waited,
            } => ServerRowKind::Echoed {
                conn,
                len,
                chunks,
                waited,
            },
            ServerEventKind::Stalled { pending } => {
                if let Some(info) = self.conns.get_mut(&conn) {
                    info.pending = Some(pending);
                }
                ServerRowKind::Stalled {
                    conn,
                    pending: Some(pending),
                }
            }
            ServerEventKind::Unstalled => {
                if let Some(info) = self.conns.get_mut(&conn) {
                    info.pending = None;
                }
                ServerRowKind::Stalled {
                    conn,
                    pending: None,
                }
            }
        })
    }

    /// Once a tick: the census replaces what events said. Open connections take its counts;
    /// one that two censuses in a row no longer have closed while its close event was lost
    /// (after only one, its close event may still be on its way: the census is taken as the
    /// tick fires, and a server restart closes many at once); UDP sources are what it
    /// remembers. Activity sparklines move on and rates are recomputed.
    pub fn reconcile(&mut self, census: CensusSnapshot, now: DateTime<Local>) {
        let open: HashMap<ConnId, _> = census.open.iter().map(|c| (c.conn, c)).collect();
        let sources: HashMap<ConnId, _> = census.sources.iter().map(|s| (s.conn, s)).collect();
        let mut unseen_closes = 0;
        let mut missing = HashSet::new();
        let missing_before = &self.missing;
        self.conns.retain(|conn, info| {
            if info.udp {
                return sources.contains_key(conn);
            }
            if info.closed.is_none() && !open.contains_key(conn) {
                if missing_before.contains(conn) {
                    info.close(Closed::Unseen, now);
                    unseen_closes += 1;
                } else {
                    missing.insert(*conn);
                }
            }
            true
        });
        self.missing = missing;
        for c in &census.open {
            let info = self
                .conns
                .entry(c.conn)
                .or_insert_with(|| ConnInfo::new(c.peer, c.since, false));
            (info.reads, info.bytes_in, info.bytes_out) = (c.reads, c.bytes_in, c.bytes_out);
            info.pending = c.pending;
            info.tcp = c.tcp.or(info.tcp);
            if let Some(tcp) = c.tcp {
                self.saw_state(c.conn, tcp.state, now);
            }
        }
        for s in &census.sources {
            let info = self
                .conns
                .entry(s.conn)
                .or_insert_with(|| ConnInfo::new(s.peer, s.since, true));
            (info.reads, info.bytes_in, info.bytes_out) = (s.datagrams, s.bytes_in, s.bytes_out);
        }
        for info in self.conns.values_mut().filter(|c| c.closed.is_none()) {
            info.tick();
        }
        if unseen_closes > 0 {
            let notice = format!(
                "{unseen_closes} closed while the UI was behind (their close events were not \
                 shown); the roster and counts are the server's own"
            );
            self.rows.push(ServerRow {
                at: now,
                kind: ServerRowKind::Notice(notice),
            });
        }
        self.forget_old_closed();
        if let Some(then) = self.last_tick {
            let seconds = (now - then).as_seconds_f64();
            if seconds > 0.0 {
                let reads = census.reads.saturating_sub(self.census.reads) as f64 / seconds;
                let bytes = census.bytes.saturating_sub(self.census.bytes) as f64 / seconds;
                self.rate = (reads, bytes);
            }
        }
        self.last_tick = Some(now);
        self.census = census;
    }

    /// Connection `conn`'s socket is in `state` now: a change is a row (close lessons).
    pub fn saw_state(&mut self, conn: ConnId, state: TcpState, at: DateTime<Local>) {
        if let Some(kind) = self.state_change(conn, state) {
            self.rows.push(ServerRow { at, kind });
        }
    }

    /// The row telling that connection `conn`'s state is now `state`, if that is a change.
    fn state_change(&mut self, conn: ConnId, state: TcpState) -> Option<ServerRowKind> {
        let (from, to) = self.conns.get_mut(&conn)?.tcp_trail.saw(state)?;
        Some(ServerRowKind::TcpState { conn, from, to })
    }

    /// TCP connections open now, by the roster (between censuses, events keep it current).
    pub fn open(&self) -> usize {
        self.conns
            .values()
            .filter(|c| !c.udp && c.closed.is_none())
            .count()
    }

    /// The kernel's accept queue as the pane shows it, if at all: whenever connections wait,
    /// and always under the iterative model. Always there, because the queue is what the
    /// one-at-a-time server is about: before anyone waits, `0 waiting to be accepted
    /// (backlog 1)` already shows the class that the queue exists and how small `listen(1)`
    /// made it (and where it cannot be read, that is worth saying). Under the other models
    /// it is empty but for an instant, so a standing `0 waiting` would be noise on a line
    /// read only when it matters: an accept loop that fell behind a burst of connections.
    pub fn accept_queue(&self) -> Option<Result<AcceptQueue, &Unavailable>> {
        let iterative = self.behaviour.model == ServerModel::Iterative;
        match self.census.accept_queue.as_ref()? {
            Ok(queue) if queue.waiting > 0 || iterative => Some(Ok(*queue)),
            Err(why) if iterative => Some(Err(why)),
            _ => None,
        }
    }

    /// Forgets the read log and closed connections (`/clear`); open ones stay.
    pub fn clear(&mut self) {
        self.rows.clear();
        self.conns.retain(|_, conn| conn.closed.is_none());
    }

    /// Moves the roster selection `step` rows (negative: up); from no selection, Down picks
    /// the first client and Up the last.
    pub fn select_step(&mut self, step: i32) {
        let roster: Vec<ConnId> = self.roster().into_iter().map(|(id, _)| id).collect();
        if roster.is_empty() {
            return;
        }
        let last = roster.len() - 1;
        let at = match self
            .selected
            .and_then(|c| roster.iter().position(|&id| id == c))
        {
            Some(at) if step < 0 => at.saturating_sub(1),
            Some(at) => (at + 1).min(last),
            None if step < 0 => last,
            None => 0,
        };
        self.selected = Some(roster[at]);
    }

    /// Keeps the roster bounded: open connections stay, old closed ones go.
    fn forget_old_closed(&mut self) {
        let closed: Vec<_> = self
            .conns
            .iter()
            .filter(|(_, info)| info.closed.is_some())
            .map(|(&conn, _)| conn)
            .collect();
        for conn in closed
            .iter()
            .take(closed.len().saturating_sub(CLOSED_CONNS_KEPT))
        {
            self.conns.remove(conn);
        }
    }
}

/// One row of the server's read log.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerRow {
    pub at: DateTime<Local>,
    pub kind: ServerRowKind,
}

/// What a server row says.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerRowKind {
    Connected {
        conn: ConnId,
        peer: SocketAddr,
    },
    Read {
        conn: ConnId,
        payload: Payload,
    },
    Closed {
        conn: ConnId,
        reason: CloseReason,
        bytes_in: u64,
        bytes_out: u64,
    },
    /// `count` connections from `peer`'s address turned away (a flood told once a second).
    Rejected {
        conn: ConnId,
        peer: SocketAddr,
        limit: Limit,
        count: u64,
    },
    /// The peer stopped reading: `pending` bytes wait to be echoed (or it read again: `None`).
    Stalled {
        conn: ConnId,
        pending: Option<usize>,
    },
    AcceptFailed {
        reason: String,
    },
    /// UDP: one datagram echoed (`payload.len` kept of the `sent_len` the peer sent).
    Datagram {
        conn: ConnId,
        payload: Payload,
        sent_len: usize,
    },
    /// UDP: `count` datagrams from `peer` not answered.
    Dropped {
        conn: ConnId,
        peer: SocketAddr,
        reason: DropReason,
        count: u64,
    },
    /// Sent first, on accept (`/server greeting`).
    Greeted {
        conn: ConnId,
        len: usize,
    },
    /// A whole frame (`/frame`), assembled from `reads` reads and echoed as one write.
    Frame {
        conn: ConnId,
        payload: Payload,
        reads: usize,
    },
    /// An echo written in `chunks` writes and/or after `waited` (`/server chunks`, `think`).
    Echoed {
        conn: ConnId,
        len: usize,
        chunks: usize,
        waited: Duration,
    },
    /// In the last second, `count` more refusals from sources beyond the first few.
    Flood {
        what: Refused,
        count: u64,
    },
    /// The kernel's TCP state of the connection changed (close lessons).
    TcpState {
        conn: ConnId,
        from: TcpState,
        to: TcpState,
    },
    /// A command's answer, when there is no client pane to show it in.
    Error(String),
    Notice(String),
}

impl ServerRowKind {
    /// The connection (or UDP source) a row is about, if any.
    pub fn conn(&self) -> Option<ConnId> {
        match self {
            ServerRowKind::Connected { conn, .. }
            | ServerRowKind::Read { conn, .. }
            | ServerRowKind::Closed { conn, .. }
            | ServerRowKind::TcpState { conn, .. }
            | ServerRowKind::Rejected { conn, .. }
            | ServerRowKind::Stalled { conn, .. }
            | ServerRowKind::Datagram { conn, .. }
            | ServerRowKind::Greeted { conn, .. }
            | ServerRowKind::Frame { conn, .. }
            | ServerRowKind::Echoed { conn, .. }
            | ServerRowKind::Dropped { conn, .. } => Some(*conn),
            ServerRowKind::AcceptFailed { .. }
            | ServerRowKind::Flood { .. }
            | ServerRowKind::Error(_)
            | ServerRowKind::Notice(_) => None,
        }
    }
}

#[cfg(test)]
mod tests;
