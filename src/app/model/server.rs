//! The server pane's state: the listener, its connections (the roster) and every read.
//! Every server event lands in [`ServerPane::apply`].

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

use chrono::{DateTime, Local};

use super::Payload;
use super::log::Log;
use crate::net::serve::Protocols;
use crate::net::udp::DropReason;
use crate::net::{CloseReason, ConnId, Limit, NetEvent, ServerEvent, ServerEventKind};

/// Closed connections kept in the server's table after they end.
pub const CLOSED_CONNS_KEPT: usize = 64;

/// The server side: the listener, its connections and every read.
#[derive(Debug)]
pub struct ServerPane {
    pub listen: SocketAddr,
    /// What it answers.
    pub protocols: Protocols,
    pub read_size: usize,
    /// Reading stopped by `/pause`: bytes pile up in the socket buffers.
    pub paused: bool,
    /// Lines the pane always shows above the roster: why the port differs from the one asked
    /// for, that the server is reachable from the network and at which addresses.
    pub banner: Vec<String>,
    pub conns: BTreeMap<ConnId, ConnInfo>,
    pub rows: Log<ServerRow>,
    pub totals: ServerTotals,
    pub sort: RosterSort,
    /// The connection whose reads the log shows (all when `None`).
    pub selected: Option<ConnId>,
    /// Most connections open at once.
    pub peak_open: usize,
    /// Reads and bytes per second over the last tick.
    pub rate: (f64, f64),
    /// Totals and time at the last tick, to compute `rate`.
    pub last_tick: Option<(DateTime<Local>, ServerTotals)>,
}

impl ServerPane {
    /// A server listening on `listen` for `protocols`.
    pub fn new(listen: SocketAddr, protocols: Protocols, read_size: usize) -> Self {
        Self {
            listen,
            protocols,
            read_size,
            paused: false,
            banner: Vec::new(),
            conns: BTreeMap::new(),
            rows: Log::default(),
            totals: ServerTotals::default(),
            sort: RosterSort::default(),
            selected: None,
            peak_open: 0,
            rate: (0.0, 0.0),
            last_tick: None,
        }
    }

    /// Connections in roster order (see [`RosterSort`]).
    pub fn roster(&self) -> Vec<(ConnId, &ConnInfo)> {
        let mut conns: Vec<(ConnId, &ConnInfo)> =
            self.conns.iter().map(|(&id, c)| (id, c)).collect();
        match self.sort {
            RosterSort::Age => {
                conns.sort_by_key(|(id, c)| (c.closed.is_some(), std::cmp::Reverse(*id)))
            }
            RosterSort::Activity => conns.sort_by_key(|(id, c)| {
                (std::cmp::Reverse(c.recent_reads()), std::cmp::Reverse(*id))
            }),
            RosterSort::Bytes => {
                conns.sort_by_key(|(id, c)| (std::cmp::Reverse(c.bytes_in), std::cmp::Reverse(*id)))
            }
        }
        conns
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.conns.values().filter(|c| c.closed.is_none()).count()
    }
}

/// Server-wide counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerTotals {
    pub accepted: u64,
    pub rejected: u64,
    /// UDP datagrams not answered (reflection guard, rate limit).
    pub dropped: u64,
    pub reads: u64,
    pub bytes: u64,
}

/// One connection in the server's table.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    pub since: DateTime<Local>,
    pub reads: u64,
    pub bytes_in: u64,
    /// Known when it closes (TCP) or per datagram (UDP).
    pub bytes_out: u64,
    /// Bytes waiting to be echoed while the peer is not reading.
    pub pending: Option<usize>,
    /// `None` while open.
    pub closed: Option<CloseReason>,
    /// When it closed: its age stops there.
    pub ended: Option<DateTime<Local>>,
    /// A UDP source rather than a TCP connection.
    pub udp: bool,
    /// Reads per tick (about a second) for the last [`ACTIVITY_TICKS`] ticks, newest last.
    pub activity: VecDeque<u32>,
}

/// Ticks of per-connection activity kept for the roster's sparkline.
pub const ACTIVITY_TICKS: usize = 12;

impl ConnInfo {
    /// A connection (or UDP source) first seen at `since`.
    pub fn new(peer: SocketAddr, since: DateTime<Local>, udp: bool) -> Self {
        Self {
            peer,
            since,
            reads: 0,
            bytes_in: 0,
            bytes_out: 0,
            pending: None,
            closed: None,
            ended: None,
            udp,
            activity: VecDeque::from([0]),
        }
    }

    /// Counts one read in the current tick.
    pub fn count_read(&mut self, bytes: usize) {
        self.reads += 1;
        self.bytes_in += bytes as u64;
        if let Some(current) = self.activity.back_mut() {
            *current += 1;
        }
    }

    /// Starts a new activity tick, forgetting the oldest.
    pub fn tick(&mut self) {
        if self.activity.len() == ACTIVITY_TICKS {
            self.activity.pop_front();
        }
        self.activity.push_back(0);
    }

    /// Reads in the last few ticks: what "most active" sorts by.
    pub fn recent_reads(&self) -> u32 {
        self.activity.iter().sum()
    }
}

/// How the roster orders connections (`/sort`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RosterSort {
    /// Open first, newest first.
    #[default]
    Age,
    /// Most reads recently first.
    Activity,
    /// Most bytes first.
    Bytes,
}

impl RosterSort {
    pub fn name(self) -> &'static str {
        match self {
            RosterSort::Age => "age",
            RosterSort::Activity => "activity",
            RosterSort::Bytes => "bytes",
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
    Rejected {
        conn: ConnId,
        peer: SocketAddr,
        limit: Limit,
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
    /// UDP: a datagram not answered.
    Dropped {
        conn: ConnId,
        peer: SocketAddr,
        reason: DropReason,
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
            | ServerRowKind::Rejected { conn, .. }
            | ServerRowKind::Stalled { conn, .. }
            | ServerRowKind::Datagram { conn, .. }
            | ServerRowKind::Dropped { conn, .. } => Some(*conn),
            ServerRowKind::AcceptFailed { .. }
            | ServerRowKind::Error(_)
            | ServerRowKind::Notice(_) => None,
        }
    }
}

impl ServerPane {
    /// Applies a network event about the server (client events are not ours).
    pub fn apply(&mut self, event: NetEvent) {
        match event {
            NetEvent::Server(event) => self.server_event(event),
            NetEvent::AcceptFailed { at, reason } => {
                self.rows.push(ServerRow {
                    at,
                    kind: ServerRowKind::AcceptFailed { reason },
                });
            }
            NetEvent::Client(_) => {}
        }
    }

    fn server_event(&mut self, event: ServerEvent) {
        let ServerEvent {
            at,
            conn,
            peer,
            kind,
        } = event;
        let row_kind = match kind {
            ServerEventKind::Connected => {
                self.totals.accepted += 1;
                self.conns.insert(conn, ConnInfo::new(peer, at, false));
                self.peak_open = self.peak_open.max(self.open());
                ServerRowKind::Connected { conn, peer }
            }
            ServerEventKind::Read { len, preview } => {
                self.totals.reads += 1;
                self.totals.bytes += len as u64;
                if let Some(info) = self.conns.get_mut(&conn) {
                    info.count_read(len);
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
            } => {
                if let Some(info) = self.conns.get_mut(&conn) {
                    info.closed = Some(reason.clone());
                    info.ended = Some(at);
                    info.pending = None;
                    info.bytes_in = bytes_in;
                    info.bytes_out = bytes_out;
                }
                self.forget_old_closed();
                ServerRowKind::Closed {
                    conn,
                    reason,
                    bytes_in,
                    bytes_out,
                }
            }
            ServerEventKind::Rejected { limit } => {
                self.totals.rejected += 1;
                ServerRowKind::Rejected { conn, peer, limit }
            }
            ServerEventKind::Datagram {
                len,
                sent_len,
                preview,
            } => {
                self.totals.reads += 1;
                self.totals.bytes += len as u64;
                let info = self
                    .conns
                    .entry(conn)
                    .or_insert_with(|| ConnInfo::new(peer, at, true));
                info.count_read(sent_len);
                info.bytes_out += len as u64;
                self.peak_open = self.peak_open.max(self.open());
                ServerRowKind::Datagram {
                    conn,
                    payload: Payload::preview(&preview, len),
                    sent_len,
                }
            }
            ServerEventKind::Dropped { reason } => {
                self.totals.dropped += 1;
                ServerRowKind::Dropped { conn, peer, reason }
            }
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
        };
        self.rows.push(ServerRow { at, kind: row_kind });
    }

    /// Per-tick bookkeeping: activity sparklines move on, rates are recomputed.
    pub fn tick(&mut self, now: DateTime<Local>) {
        for info in self.conns.values_mut().filter(|c| c.closed.is_none()) {
            info.tick();
        }
        if let Some((then, before)) = self.last_tick {
            let seconds = (now - then).as_seconds_f64();
            if seconds > 0.0 {
                let reads = (self.totals.reads - before.reads) as f64 / seconds;
                let bytes = (self.totals.bytes - before.bytes) as f64 / seconds;
                self.rate = (reads, bytes);
            }
        }
        self.last_tick = Some((now, self.totals));
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

    /// Keeps the connection table bounded: open connections stay, old closed ones go.
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
