//! The server pane's roster: one entry per client (a TCP connection or a UDP source), what it
//! did lately, and the orders `/sort` puts them in.

use std::cmp::Reverse;
use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;

use chrono::{DateTime, Local};

use super::kernel::StateTrail;
use crate::net::sockinfo::{TcpState, TcpSummary};
use crate::net::{CloseReason, ConnId};

/// Ticks of per-client activity kept for the roster's sparkline.
pub const ACTIVITY_TICKS: usize = 12;

/// One client in the roster: a TCP connection or a UDP source.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    pub since: DateTime<Local>,
    pub reads: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Bytes waiting to be echoed while the peer is not reading.
    pub pending: Option<usize>,
    /// `None` while open.
    pub closed: Option<Closed>,
    /// When it closed: its age stops there.
    pub ended: Option<DateTime<Local>>,
    /// A UDP source rather than a TCP connection.
    pub udp: bool,
    /// Reads per tick (about a second) for the last [`ACTIVITY_TICKS`] ticks, newest last.
    pub activity: VecDeque<u32>,
    /// Reads at the last tick, to count this tick's.
    reads_at_tick: u64,
    /// What the kernel knows of the server's socket (its RTT to this client, its
    /// retransmissions): from the census while open, from the close after.
    pub tcp: Option<TcpSummary>,
    /// Its TCP states seen so far, told as rows when they change (close lessons).
    pub tcp_trail: StateTrail,
}

/// How a connection in the roster ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    Reported(CloseReason),
    /// The census no longer has it, and its close event was dropped while the UI was behind.
    Unseen,
}

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Closed::Reported(reason) => reason.fmt(f),
            Closed::Unseen => f.write_str("closed (unseen)"),
        }
    }
}

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
            reads_at_tick: 0,
            tcp: None,
            tcp_trail: if udp {
                StateTrail::default()
            } else {
                StateTrail::at(TcpState::Established)
            },
        }
    }

    /// It ended (`how`) at `at`: its age stops there, and nothing waits any more.
    pub(super) fn close(&mut self, how: Closed, at: DateTime<Local>) {
        self.closed = Some(how);
        self.ended = Some(at);
        self.pending = None;
    }

    /// Starts a new activity tick: the reads of the one that ended, forgetting the oldest.
    pub(super) fn tick(&mut self) {
        let reads = self.reads.saturating_sub(self.reads_at_tick);
        self.reads_at_tick = self.reads;
        if let Some(current) = self.activity.back_mut() {
            *current = u32::try_from(reads).unwrap_or(u32::MAX);
        }
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

/// How the roster orders clients (`/sort`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RosterSort {
    /// Open first, newest first.
    #[default]
    Age,
    /// Most reads recently first.
    Activity,
    /// Most bytes first.
    Bytes,
    /// Longest round trip (the kernel's estimate) first.
    Rtt,
}

impl RosterSort {
    /// The word `/sort` takes for it.
    pub fn name(self) -> &'static str {
        match self {
            RosterSort::Age => "age",
            RosterSort::Activity => "activity",
            RosterSort::Bytes => "bytes",
            RosterSort::Rtt => "rtt",
        }
    }

    /// `conns` in this order, ties broken newest first.
    pub fn order(self, mut conns: Vec<(ConnId, &ConnInfo)>) -> Vec<(ConnId, &ConnInfo)> {
        match self {
            RosterSort::Age => conns.sort_by_key(|(id, c)| (c.closed.is_some(), Reverse(*id))),
            RosterSort::Activity => {
                conns.sort_by_key(|(id, c)| (Reverse(c.recent_reads()), Reverse(*id)))
            }
            RosterSort::Bytes => conns.sort_by_key(|(id, c)| (Reverse(c.bytes_in), Reverse(*id))),
            // The slowest round trip first (a Wi-Fi laptop at the back of the room); those
            // the kernel has no RTT for (UDP sources) last.
            RosterSort::Rtt => conns.sort_by_key(|(id, c)| {
                let rtt = c.tcp.map(|tcp| tcp.rtt);
                (rtt.is_none(), Reverse(rtt), Reverse(*id))
            }),
        }
        conns
    }
}
