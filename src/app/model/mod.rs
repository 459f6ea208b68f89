//! The application state: what each pane shows, bounded, plus focus and the input line.
//!
//! Each pane's state lives in its own module with the methods that change it ([`client`],
//! [`server`] and its [`roster`]), so every rule about counts and rows is a unit test next to its data.

pub mod addresses;
pub mod client;
pub mod input;
pub mod kernel;
pub mod lesson;
pub mod log;
pub mod roster;
pub mod server;
pub mod view;

use std::sync::Arc;

use chrono::{DateTime, Local};
use ratatui::layout::Rect;

pub use addresses::AddressBook;
pub use client::{ClientPane, ClientRow, ClientRowKind, ConnState, EchoProgress, MessageCounts};
pub use input::InputLine;
pub use kernel::{KernelView, SocketLook};
pub use lesson::{LessonRun, Typist};
pub use log::{Log, MAX_ROWS, RowId};
pub use roster::{ConnInfo, RosterSort};
pub use server::{ServerPane, ServerRow, ServerRowKind};
pub use view::{ThemeName, ViewSettings};

use crate::lesson::Catalog;
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
    /// Theme, presenter mode, masking.
    pub view: ViewSettings,
    /// The number behind each peer's `student-NN`.
    pub addresses: AddressBook,
    /// The lessons `/lesson NAME` can start.
    pub lessons: Arc<Catalog>,
    /// The lesson being taught, if any.
    pub lesson: Option<LessonRun>,
    pub(crate) next_message: MessageId,
}

/// What the view drew last, reported back so that `update` never computes layout: the rows
/// each scrollable pane showed (PgUp/PgDn move a page, Home shows a full first page) and
/// where things are on the screen, for the mouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewport {
    pub client_rows: usize,
    pub server_rows: usize,
    /// The client pane's rectangle (empty when not drawn).
    pub client_area: Rect,
    /// The server pane's rectangle (empty when not drawn).
    pub server_area: Rect,
    /// Where the roster's client rows are.
    pub roster: RosterArea,
    /// The help overlay's rectangle while it is open.
    pub help_area: Option<Rect>,
}

/// The roster's client rows on screen: row `area.y + i` shows the client at index
/// `first + i` of [`ServerPane::roster`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RosterArea {
    pub area: Rect,
    pub first: usize,
}

impl Default for Viewport {
    /// Before the first frame: a page of an 80×24 terminal, near enough.
    fn default() -> Self {
        Self {
            client_rows: 10,
            server_rows: 10,
            client_area: Rect::default(),
            server_area: Rect::default(),
            roster: RosterArea::default(),
            help_area: None,
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
            view: ViewSettings::default(),
            addresses: AddressBook::default(),
            lessons: Arc::default(),
            lesson: None,
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
