//! The application state: what each pane shows, bounded, plus focus and the input line.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Local};
use tui_input::Input;

use crate::net::impair::Impairments;
use crate::net::udp::DropReason;
use crate::net::{CloseReason, ConnId, Limit, Transport};
use crate::stats::{MessageId, RttStats};

/// Rows kept per pane: a long session or a flood cannot grow memory without limit.
pub const MAX_ROWS: usize = 10_000;
/// RTTs kept for the sparkline (wider than any terminal).
pub const SPARKLINE_SAMPLES: usize = 512;
/// Input lines remembered for Up/Down.
pub const MAX_HISTORY: usize = 200;
/// Closed connections kept in the server's table after they end.
pub const CLOSED_CONNS_KEPT: usize = 64;
/// Bytes of message data kept per row: rows are cut to the pane's width when drawn anyway,
/// so a 1 MiB message costs a row no more than a short one.
pub const ROW_PREVIEW_BYTES: usize = 256;

/// The whole state of the UI.
#[derive(Debug)]
pub struct App {
    /// Wall clock for "now" (row times, ages); set by the runtime, fixed in tests.
    pub now: DateTime<Local>,
    pub client: Option<ClientPane>,
    pub server: Option<ServerPane>,
    pub input: InputLine,
    pub focus: Focus,
    pub help_open: bool,
    /// Lines the help overlay is scrolled down (clamped when drawn).
    pub help_scroll: u16,
    /// Network events the UI was too slow to take (the network never waits for us).
    pub dropped_events: u64,
    /// Whether to use colour (off when `NO_COLOR` is set); state is then shown by words and
    /// text attributes alone.
    pub color: bool,
    /// Show payloads as hex bytes instead of sanitized text (`/hex`).
    pub hex: bool,
    /// The emulated link between client and server; `None` when this mode has no client to
    /// put a proxy in front of.
    pub impairments: Option<Impairments>,
    pub(crate) next_message: MessageId,
}

/// The pane that scroll keys act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Client,
    Server,
}

impl App {
    /// A UI showing the given panes; at least one of them should be present.
    pub fn new(
        client: Option<ClientPane>,
        server: Option<ServerPane>,
        now: DateTime<Local>,
    ) -> Self {
        let focus = if client.is_some() {
            Focus::Client
        } else {
            Focus::Server
        };
        Self {
            now,
            client,
            server,
            input: InputLine::default(),
            focus,
            help_open: false,
            help_scroll: 0,
            dropped_events: 0,
            color: true,
            hex: false,
            impairments: None,
            next_message: 1,
        }
    }
}

impl App {
    /// Tells the user what went wrong, in the client pane, or the server pane when there is
    /// no client: answers appear where the class is already looking.
    pub fn show_error(&mut self, message: String) {
        self.say(message, true);
    }

    /// Tells the user what a command changed, where [`App::show_error`] would.
    pub fn show_notice(&mut self, message: String) {
        self.say(message, false);
    }

    fn say(&mut self, message: String, error: bool) {
        let at = self.now;
        if let Some(client) = &mut self.client {
            let kind = if error {
                ClientRowKind::Error(message)
            } else {
                ClientRowKind::Notice(message)
            };
            client.rows.push(ClientRow { at, kind });
        } else if let Some(server) = &mut self.server {
            let kind = if error {
                ServerRowKind::Error(message)
            } else {
                ServerRowKind::Notice(message)
            };
            server.rows.push(ServerRow { at, kind });
        }
    }
}

/// A bounded, scrollable list of rows: the newest at the back.
#[derive(Debug, Clone)]
pub struct Log<T> {
    rows: VecDeque<T>,
    /// Rows between the newest and the bottom of the view; 0 = follow the newest.
    pub scroll_back: usize,
}

impl<T> Default for Log<T> {
    fn default() -> Self {
        Self {
            rows: VecDeque::new(),
            scroll_back: 0,
        }
    }
}

impl<T> Log<T> {
    /// Appends a row, dropping the oldest beyond [`MAX_ROWS`]. A scrolled-back view stays
    /// on the rows it shows instead of sliding under the reader's eyes.
    pub fn push(&mut self, row: T) {
        if self.rows.len() == MAX_ROWS {
            self.rows.pop_front();
        }
        self.rows.push_back(row);
        if self.scroll_back > 0 {
            self.scroll_back = (self.scroll_back + 1).min(self.rows.len().saturating_sub(1));
        }
    }

    pub fn rows(&self) -> &VecDeque<T> {
        &self.rows
    }

    /// The newest row matching `pred`, searched from the back (outstanding rows are recent).
    pub fn find_last_mut(&mut self, pred: impl Fn(&T) -> bool) -> Option<&mut T> {
        self.rows.iter_mut().rev().find(|row| pred(row))
    }

    pub fn clear(&mut self) {
        self.rows.clear();
        self.scroll_back = 0;
    }

    /// Moves the view `delta` rows back in time (negative: towards the newest).
    pub fn scroll_by(&mut self, delta: isize) {
        let max = self.rows.len().saturating_sub(1);
        self.scroll_back = self.scroll_back.saturating_add_signed(delta).min(max);
    }
}

/// The client side: one connection to an echo server.
#[derive(Debug)]
pub struct ClientPane {
    pub target: SocketAddr,
    pub transport: Transport,
    pub nagle: bool,
    pub state: ConnState,
    /// The TCP handshake of the current connection (UDP has none).
    pub connect_time: Option<Duration>,
    /// The first message's RTT on this connection, shown beside the handshake: the two are
    /// different costs (a SYN round trip vs data through both stacks and the server).
    pub first_rtt: Option<Duration>,
    pub rows: Log<ClientRow>,
    pub stats: RttStats,
    pub recent_rtts: VecDeque<Duration>,
    pub counts: MessageCounts,
    /// Bytes sent and not yet echoed (or given up on): grows while the server is paused.
    pub in_flight_bytes: u64,
    /// A write is waiting: the peer is not reading and the socket buffers are full.
    pub send_blocked: bool,
    /// How the latency pane shows recent RTTs.
    pub latency_view: LatencyView,
}

/// The latency pane's picture of recent RTTs (`/chart`, `/hist`, F2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LatencyView {
    #[default]
    Sparkline,
    /// RTT over time with p50/p99 lines.
    Chart,
    /// How many echoes took how long.
    Histogram,
}

impl LatencyView {
    /// The next view, for F2.
    pub fn next(self) -> Self {
        match self {
            LatencyView::Sparkline => LatencyView::Chart,
            LatencyView::Chart => LatencyView::Histogram,
            LatencyView::Histogram => LatencyView::Sparkline,
        }
    }
}

impl ClientPane {
    /// A client about to connect to `target`.
    pub fn new(target: SocketAddr, transport: Transport, nagle: bool) -> Self {
        Self {
            target,
            transport,
            nagle,
            state: ConnState::Connecting,
            connect_time: None,
            first_rtt: None,
            rows: Log::default(),
            stats: RttStats::new(),
            recent_rtts: VecDeque::with_capacity(SPARKLINE_SAMPLES),
            counts: MessageCounts::default(),
            in_flight_bytes: 0,
            send_blocked: false,
            latency_view: LatencyView::default(),
        }
    }
}

impl ClientPane {
    /// Adds a row at `at`.
    pub fn note(&mut self, at: DateTime<Local>, kind: ClientRowKind) {
        self.rows.push(ClientRow { at, kind });
    }

    /// The connection state in the words the status bar uses.
    pub fn state_words(&self) -> String {
        match (&self.state, self.transport) {
            (ConnState::Connecting, _) => "connecting".into(),
            (ConnState::Connected, Transport::Tcp) if self.send_blocked => {
                "connected · send blocked (peer not reading)".into()
            }
            (ConnState::Connected, Transport::Tcp) => "connected".into(),
            (ConnState::Connected, Transport::Udp) => "ready (UDP)".into(),
            (ConnState::HalfClosed, _) => "half-closed (FIN sent)".into(),
            (ConnState::Closed(reason), _) => reason.to_string(),
        }
    }
}

/// Message tallies for the latency line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageCounts {
    pub sent: u64,
    pub echoed: u64,
    pub mismatched: u64,
    pub failed: u64,
    /// UDP datagrams never answered.
    pub lost: u64,
    /// UDP replies to datagrams already answered.
    pub duplicates: u64,
}

impl MessageCounts {
    /// Sent messages whose echo is not complete yet.
    pub fn pending(&self) -> u64 {
        self.sent
            .saturating_sub(self.echoed + self.mismatched + self.failed + self.lost)
    }
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
    Sent {
        id: MessageId,
        payload: Payload,
    },
    Echo {
        id: MessageId,
        /// What was sent (what came back, when it differs, is in `progress`).
        payload: Payload,
        progress: EchoProgress,
    },
    /// Bytes nobody asked for (a greeting, a chatty peer).
    Unsolicited {
        payload: Payload,
    },
    /// UDP: another reply to a datagram already answered.
    Duplicate {
        id: MessageId,
        payload: Payload,
    },
    /// Connection news: connected, closed, reset…
    Notice(String),
    /// A command or send that failed, in words.
    Error(String),
}

impl EchoProgress {
    /// Bytes of a `len`-byte message no longer in flight: echoed, or given up on.
    pub fn settled(&self, len: usize) -> usize {
        match self {
            EchoProgress::Partial { received } => *received,
            EchoProgress::Echoed { .. } | EchoProgress::Mismatch { .. } | EchoProgress::Lost => len,
        }
    }
}

/// How far an echo has come.
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
}

/// The server side: the listener, its connections and every read.
#[derive(Debug)]
pub struct ServerPane {
    pub listen: SocketAddr,
    /// What it serves: "TCP", "UDP" or "TCP+UDP".
    pub protocols: &'static str,
    pub read_size: usize,
    /// Reading stopped by `/pause`: bytes pile up in the socket buffers.
    pub paused: bool,
    /// Why the listen address differs from the one asked for, if it does.
    pub notice: Option<String>,
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
    /// A server listening on `listen` for `protocols` ("TCP", "UDP" or "TCP+UDP").
    pub fn new(listen: SocketAddr, protocols: &'static str, read_size: usize) -> Self {
        Self {
            listen,
            protocols,
            read_size,
            paused: false,
            notice: None,
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

/// The first bytes of a message or read, raw (untrusted: drawn only through `text::sanitize`
/// or as hex), with its full length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    pub preview: Vec<u8>,
    pub len: usize,
}

impl Payload {
    /// Keeps the first [`ROW_PREVIEW_BYTES`] of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self::preview(&bytes[..bytes.len().min(ROW_PREVIEW_BYTES)], bytes.len())
    }

    /// A payload of `len` bytes of which only `preview` is known (a server read's preview).
    pub fn preview(preview: &[u8], len: usize) -> Self {
        Self {
            preview: preview[..preview.len().min(ROW_PREVIEW_BYTES)].to_vec(),
            len,
        }
    }

    /// Whether bytes beyond the preview exist.
    pub fn is_cut(&self) -> bool {
        self.len > self.preview.len()
    }
}

/// The message line: a line editor plus Up/Down history.
#[derive(Debug, Default)]
pub struct InputLine {
    pub editor: Input,
    pub history: VecDeque<String>,
    /// Position while browsing history with Up/Down; `None` = editing a new line.
    pub browsing: Option<usize>,
}
