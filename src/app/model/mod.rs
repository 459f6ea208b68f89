//! The application state: what each pane shows, bounded, plus focus and the input line.
//!
//! Each pane's state lives in its own module with the methods that change it ([`client`],
//! [`server`]), so every rule about counts and rows is a unit test next to its data.

pub mod client;
pub mod input;
pub mod kernel;
pub mod log;
pub mod server;

use chrono::{DateTime, Local};

pub use client::{ClientPane, ClientRow, ClientRowKind, ConnState, EchoProgress, MessageCounts};
pub use input::InputLine;
pub use kernel::{KernelView, SocketLook};
pub use log::{Log, MAX_ROWS, RowId};
pub use server::{ConnInfo, RosterSort, ServerPane, ServerRow, ServerRowKind};

use crate::net::impair::Impairments;
use crate::stats::MessageId;

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
    /// How many rows each pane showed in the last frame: what one page of scrolling is.
    pub viewport: Viewport,
    /// What the kernel said last about both ends of the connection (the socket view).
    pub kernel: KernelView,
    pub(crate) next_message: MessageId,
}

/// The rows each scrollable pane showed when last drawn, reported back by the view so that
/// PgUp/PgDn move a page and Home shows a full first page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewport {
    pub client_rows: usize,
    pub server_rows: usize,
}

impl Default for Viewport {
    /// Before the first frame: a page of an 80×24 terminal, near enough.
    fn default() -> Self {
        Self {
            client_rows: 10,
            server_rows: 10,
        }
    }
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
            viewport: Viewport::default(),
            kernel: KernelView::default(),
            next_message: 1,
        }
    }

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
            client.note(at, kind);
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

impl App {
    /// Whether the kernel should be asked about the client's connection now: while the
    /// socket view is on screen, and while a close lesson is under way (FIN sent), whose
    /// states would otherwise pass unseen.
    pub fn wants_socket_looks(&self) -> bool {
        self.client.as_ref().is_some_and(|client| {
            client.transport == crate::net::Transport::Tcp
                && (client.latency_view == LatencyView::Socket
                    || client.state == ConnState::HalfClosed)
        })
    }

    /// The server's end of the client's connection, when this UI runs both: the open
    /// connection whose peer is the client's own address (through the impairment proxy,
    /// the server's peer is the proxy, and there is none).
    pub fn server_end(&self) -> Option<crate::net::ConnId> {
        let local = self.client.as_ref()?.kernel.local?;
        let server = self.server.as_ref()?;
        server
            .conns
            .iter()
            .rev()
            .find(|(_, info)| info.peer == local && info.closed.is_none() && !info.udp)
            .map(|(&conn, _)| conn)
    }
}

/// The latency pane's picture of recent RTTs (`/chart`, `/hist`, F2), or of what the kernel
/// knows about the connection's two sockets (`/socket`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LatencyView {
    #[default]
    Sparkline,
    /// RTT over time with p50/p99 lines.
    Chart,
    /// How many echoes took how long.
    Histogram,
    /// Both ends' `TCP_INFO` and queues, side by side.
    Socket,
}

impl LatencyView {
    /// The next view, for F2.
    pub fn next(self) -> Self {
        match self {
            LatencyView::Sparkline => LatencyView::Chart,
            LatencyView::Chart => LatencyView::Histogram,
            LatencyView::Histogram => LatencyView::Socket,
            LatencyView::Socket => LatencyView::Sparkline,
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
