//! View tests: the whole screen rendered into a `TestBackend` from a state built by feeding
//! `update` the same messages the runtime would. Review every snapshot by eye.
//!
//! This file is the harness (the messages, rendering, snapshots; the clock, typing and the
//! census are the screenshot scenes' own, so both show the same world); the scenes are
//! in `tests/tui/`, one module per part of the screen: `exchange` (both panes at work),
//! `one_pane` (`serve`, `connect`), `help` (and the too-small note), `keys` (scrolling,
//! history), `latency`, `socket_view` and `accept_queue`.

use std::net::SocketAddr;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use echotui::app::model::{ClientPane, ServerPane};
use echotui::app::{App, Msg, update};
use echotui::net::ServerControl;
use echotui::net::census::{CensusSnapshot, SourceSnapshot};
use echotui::net::serve::Protocols;
use echotui::net::udp::DropReason;
use echotui::net::{
    ClientEvent, CloseReason, Limit, NetEvent, ServerEvent, ServerEventKind, Transport,
};
use echotui::screenshots::scenes::{at, census_of, type_line};
use echotui::stats::{Clock, EchoUpdate};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const SERVER: &str = "127.0.0.1:12345";
const PEER: &str = "127.0.0.1:53422";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn both() -> App {
    App::new(
        Some(ClientPane::new(addr(SERVER), Transport::Tcp, false)),
        Some(ServerPane::new(
            addr(SERVER),
            Protocols::Both,
            ServerControl::new(1024).behaviour(),
        )),
        at(0),
    )
}

/// A server alone, exposed on every interface (TCP only), as the classroom runs it.
fn exposed_server_only() -> App {
    App::new(
        None,
        Some(ServerPane::new(
            addr("0.0.0.0:12345"),
            Protocols::Tcp,
            ServerControl::new(1024).behaviour(),
        )),
        at(0),
    )
}

fn server(app: &mut App, ms: i64, conn: u64, peer: &str, kind: ServerEventKind) {
    app.now = at(ms);
    update(
        app,
        Msg::Net(NetEvent::Server(ServerEvent {
            at: at(ms),
            conn,
            peer: addr(peer),
            kind,
        })),
    );
}

fn client(app: &mut App, ms: i64, event: ClientEvent) {
    app.now = at(ms);
    update(app, Msg::Net(NetEvent::Client(event)));
}

fn echo(app: &mut App, ms: i64, update: EchoUpdate) {
    client(app, ms, ClientEvent::Echo(update));
}

fn connected(app: &mut App) {
    client(
        app,
        0,
        ClientEvent::Connected {
            local: addr(PEER),
            peer: addr(SERVER),
            connect_time: Some(Duration::from_micros(85)),
            clock: Clock::Kernel,
        },
    );
    server(app, 0, 1, PEER, ServerEventKind::Connected);
}

fn key(app: &mut App, code: KeyCode) {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn read(app: &mut App, ms: i64, data: &[u8]) {
    server(
        app,
        ms,
        1,
        PEER,
        ServerEventKind::Read {
            len: data.len(),
            preview: data.to_vec(),
        },
    );
}

/// The once-a-second tick, with the server's census.
fn tick(app: &mut App, census: CensusSnapshot) {
    update(
        app,
        Msg::Tick {
            dropped_events: 0,
            census: Some(census),
        },
    );
}

fn render(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| {
            echotui::ui::draw(frame, app);
        })
        .unwrap();
    terminal.backend().to_string()
}

/// Asserts `screen` as the snapshot `tui__{name}` in `tests/snapshots`: every scene in
/// `tests/tui/` is snapshot from here, so they all share the folder and the prefix.
fn snapshot_beside_the_others(name: &str, screen: String) {
    insta::assert_snapshot!(name, screen);
}

/// The tutorial exchange: `Hello, World!` sent, read once by the server, echoed in 87 µs.
fn hello_world() -> App {
    let mut app = both();
    connected(&mut app);
    type_line(&mut app, 143, "Hello, World!");
    read(&mut app, 143, b"Hello, World!");
    echo(
        &mut app,
        143,
        EchoUpdate::Echoed {
            id: 1,
            rtt: Duration::from_micros(87),
        },
    );
    app
}

#[path = "tui/accept_queue.rs"]
mod accept_queue;
#[path = "tui/exchange.rs"]
mod exchange;
#[path = "tui/help.rs"]
mod help;
#[path = "tui/keys.rs"]
mod keys;
#[path = "tui/latency.rs"]
mod latency;
#[path = "tui/lessons.rs"]
mod lessons;
#[path = "tui/one_pane.rs"]
mod one_pane;
#[path = "tui/socket_view.rs"]
mod socket_view;
