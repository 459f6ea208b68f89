//! View tests: the whole screen rendered into a `TestBackend` from a state built by feeding
//! `update` the same messages the runtime would. Review every snapshot by eye.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Local, TimeZone};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use echotui::app::model::{ClientPane, ServerPane};
use echotui::app::{App, Msg, update};
use echotui::net::ServerControl;
use echotui::net::census::{CensusSnapshot, ConnSnapshot, SourceSnapshot};
use echotui::net::serve::Protocols;
use echotui::net::udp::DropReason;
use echotui::net::{
    ClientEvent, CloseReason, Limit, NetEvent, ServerEvent, ServerEventKind, Transport,
};
use echotui::stats::{Clock, EchoUpdate};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const SERVER: &str = "127.0.0.1:12345";
const PEER: &str = "127.0.0.1:53422";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// 14:35:02 plus `ms` milliseconds, local time: every snapshot shows the same clock.
fn at(ms: i64) -> DateTime<Local> {
    Local.with_ymd_and_hms(2026, 11, 25, 14, 35, 2).unwrap() + chrono::Duration::milliseconds(ms)
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

fn type_line(app: &mut App, ms: i64, text: &str) {
    app.now = at(ms);
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
    key(app, KeyCode::Enter);
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

/// The census a server would report for the connections the pane shows open.
fn census_of(app: &App) -> CensusSnapshot {
    let server = app.server.as_ref().unwrap();
    let open: Vec<ConnSnapshot> = server
        .conns
        .iter()
        .filter(|(_, info)| info.closed.is_none())
        .map(|(&conn, info)| ConnSnapshot {
            conn,
            peer: info.peer,
            since: info.since,
            reads: info.reads,
            bytes_in: info.bytes_in,
            bytes_out: info.bytes_out,
            pending: info.pending,
            tcp: info.tcp,
        })
        .collect();
    CensusSnapshot {
        accepted: open.len() as u64,
        peak_open: open.len(),
        reads: open.iter().map(|c| c.reads).sum(),
        bytes: open.iter().map(|c| c.bytes_in).sum(),
        open,
        ..CensusSnapshot::default()
    }
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

/// Asserts `screen` as the snapshot `tui__{name}` in `tests/snapshots`, beside the others:
/// the scenes kept in `tests/tui/` are snapshot from here, so they share the folder and the
/// prefix.
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

#[test]
fn hello_world_80x24() {
    insta::assert_snapshot!(render(&hello_world(), 80, 24));
}

#[test]
fn hello_world_120x40() {
    insta::assert_snapshot!(render(&hello_world(), 120, 40));
}

/// Everything a row can be: partial echo of a message bigger than the read buffer, a
/// mismatch, unsolicited bytes, hostile bytes in the server log, an unknown command.
#[test]
fn every_kind_of_row_120x40() {
    let mut app = hello_world();
    type_line(&mut app, 2000, "/size 4096");
    for i in 0..4 {
        read(&mut app, 2000 + i, &echotui::net::probe_payload(1024));
    }
    echo(
        &mut app,
        2001,
        EchoUpdate::Partial {
            id: 2,
            received: 2048,
            total: 4096,
        },
    );
    type_line(&mut app, 3000, "hello");
    echo(
        &mut app,
        3000,
        EchoUpdate::Mismatch {
            id: 3,
            echoed: b"HELLO".to_vec(),
        },
    );
    echo(
        &mut app,
        3500,
        EchoUpdate::Unsolicited {
            bytes: b"220 welcome\r\n".to_vec(),
        },
    );
    read(
        &mut app,
        3600,
        b"\x1b]0;pwned\x07\x1b[2J\xe2\x80\xaeevil\0\xff",
    );
    type_line(&mut app, 4000, "/bogus");
    server(
        &mut app,
        4100,
        2,
        "10.0.0.7:40000",
        ServerEventKind::Rejected {
            limit: Limit::MaxPerIp(16),
            count: 1,
        },
    );
    insta::assert_snapshot!(render(&app, 120, 40));
}

#[test]
fn help_overlay_80x24() {
    let mut app = hello_world();
    update(
        &mut app,
        Msg::Key(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE)),
    );
    insta::assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn help_closes_with_esc() {
    let mut app = hello_world();
    key(&mut app, KeyCode::F(1));
    key(&mut app, KeyCode::Esc);
    assert_eq!(render(&app, 80, 24), render(&hello_world(), 80, 24));
}

#[test]
fn too_small_terminal_says_so() {
    let screen = render(&hello_world(), 79, 24);
    assert!(
        screen.contains("terminal too small (need 80×24, have 79×24)"),
        "{screen}"
    );
    insta::assert_snapshot!(render(&hello_world(), 40, 10));
}

#[test]
fn server_only_80x24() {
    let mut app = exposed_server_only();
    for conn in 1..=4u64 {
        let peer = format!("192.168.1.{}:5000{conn}", 10 + conn);
        server(
            &mut app,
            conn as i64 * 100,
            conn,
            &peer,
            ServerEventKind::Connected,
        );
        server(
            &mut app,
            conn as i64 * 100 + 5,
            conn,
            &peer,
            ServerEventKind::Read {
                len: 6,
                preview: b"hi #1\n".to_vec(),
            },
        );
    }
    server(
        &mut app,
        900,
        2,
        "192.168.1.12:50002",
        ServerEventKind::Closed {
            reason: CloseReason::PeerClosed,
            bytes_in: 6,
            bytes_out: 6,
            tcp: None,
        },
    );
    server(
        &mut app,
        950,
        3,
        "192.168.1.13:50003",
        ServerEventKind::Closed {
            reason: CloseReason::Reset,
            bytes_in: 6,
            bytes_out: 6,
            tcp: None,
        },
    );
    server(
        &mut app,
        990,
        5,
        "192.168.1.11:50099",
        ServerEventKind::Rejected {
            limit: Limit::MaxConns(256),
            count: 1,
        },
    );
    app.now = at(1000);
    let census = CensusSnapshot {
        accepted: 4,
        rejected: 1,
        peak_open: 4,
        ..census_of(&app)
    };
    tick(&mut app, census);
    app.now = at(61_000);
    insta::assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn client_only_closed_by_peer_80x24() {
    let mut app = App::new(
        Some(ClientPane::new(addr("127.0.0.1:7"), Transport::Tcp, true)),
        None,
        at(0),
    );
    client(
        &mut app,
        0,
        ClientEvent::Connected {
            local: addr(PEER),
            peer: addr("127.0.0.1:7"),
            connect_time: Some(Duration::from_micros(120)),
            clock: Clock::Kernel,
        },
    );
    type_line(&mut app, 100, "ping");
    echo(
        &mut app,
        100,
        EchoUpdate::Echoed {
            id: 1,
            rtt: Duration::from_micros(1500),
        },
    );
    type_line(&mut app, 200, "pong");
    echo(&mut app, 300, EchoUpdate::Abandoned { id: 2 });
    client(&mut app, 300, ClientEvent::Closed(CloseReason::PeerClosed));
    type_line(&mut app, 400, "anyone?");
    insta::assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn scrolled_back_view_says_how_to_follow() {
    let mut app = hello_world();
    for i in 0..40 {
        type_line(&mut app, 1000 + i, &format!("line {i}"));
    }
    key(&mut app, KeyCode::PageUp);
    let screen = render(&app, 80, 24);
    assert!(screen.contains("rows back · End follows"), "{screen}");
    assert!(
        !screen.contains("line 39"),
        "newest row should be scrolled out of view:\n{screen}"
    );
    key(&mut app, KeyCode::End);
    let screen = render(&app, 80, 24);
    assert!(screen.contains("line 39"), "{screen}");
    assert!(!screen.contains("rows back"), "{screen}");
}

#[test]
fn history_recalls_lines_with_up_and_down() {
    let mut app = hello_world();
    type_line(&mut app, 1000, "second");
    key(&mut app, KeyCode::Up);
    assert_eq!(app.input.editor.value(), "second");
    key(&mut app, KeyCode::Up);
    assert_eq!(app.input.editor.value(), "Hello, World!");
    key(&mut app, KeyCode::Up);
    assert_eq!(app.input.editor.value(), "Hello, World!");
    key(&mut app, KeyCode::Down);
    assert_eq!(app.input.editor.value(), "second");
    key(&mut app, KeyCode::Down);
    assert_eq!(app.input.editor.value(), "");
}

/// UDP: a reply cut by `/read 5`, a lost datagram, a duplicate, and a datagram from port 19
/// (chargen) that the reflection guard leaves unanswered.
#[test]
fn udp_mode_120x40() {
    let mut app = both();
    client(
        &mut app,
        0,
        ClientEvent::Connecting {
            target: addr(SERVER),
            transport: Transport::Udp,
        },
    );
    client(
        &mut app,
        0,
        ClientEvent::Connected {
            local: addr(PEER),
            peer: addr(SERVER),
            connect_time: None,
            clock: Clock::Kernel,
        },
    );
    type_line(&mut app, 100, "Hello, World!");
    server(
        &mut app,
        100,
        1,
        PEER,
        ServerEventKind::Datagram {
            len: 13,
            sent_len: 13,
            preview: b"Hello, World!".to_vec(),
        },
    );
    echo(
        &mut app,
        100,
        EchoUpdate::Echoed {
            id: 1,
            rtt: Duration::from_micros(41),
        },
    );
    echo(&mut app, 150, EchoUpdate::Duplicate { id: 1 });
    type_line(&mut app, 200, "/read 5");
    type_line(&mut app, 300, "Hello, World!");
    server(
        &mut app,
        300,
        1,
        PEER,
        ServerEventKind::Datagram {
            len: 5,
            sent_len: 13,
            preview: b"Hello".to_vec(),
        },
    );
    echo(
        &mut app,
        300,
        EchoUpdate::Mismatch {
            id: 2,
            echoed: b"Hello".to_vec(),
        },
    );
    type_line(&mut app, 400, "into the void");
    echo(&mut app, 2400, EchoUpdate::Lost { id: 3 });
    server(
        &mut app,
        2500,
        2,
        "10.0.0.9:19",
        ServerEventKind::Dropped {
            reason: DropReason::ReflectionGuard { port: 19 },
            count: 1,
        },
    );
    let source = |conn, peer, datagrams, unanswered| SourceSnapshot {
        conn,
        peer: addr(peer),
        since: at(0),
        datagrams,
        bytes_in: datagrams * 13,
        bytes_out: datagrams * 9,
        unanswered,
    };
    let census = CensusSnapshot {
        reads: 2,
        bytes: 26,
        sources: vec![source(1, PEER, 2, 0), source(2, "10.0.0.9:19", 0, 1)],
        sources_seen: 2,
        unanswered: 1,
        ..CensusSnapshot::default()
    };
    tick(&mut app, census);
    insta::assert_snapshot!(render(&app, 120, 40));
}

/// `/hex` shows the bytes themselves, in both panes; `/pause` is visible in both the server
/// title and the status bar, and a message sent meanwhile stays pending.
#[test]
fn hex_view_and_paused_server_80x24() {
    let mut app = hello_world();
    type_line(&mut app, 1000, "/hex");
    type_line(&mut app, 1100, "Hi!");
    read(&mut app, 1100, b"Hi!");
    type_line(&mut app, 1200, "/pause");
    type_line(&mut app, 1300, "waiting");
    insta::assert_snapshot!(render(&app, 80, 24));
}

/// An impaired link: the client title says so, the status bar lists the impairments and
/// which of them TCP cannot apply, and the help shows the equivalent netem command.
#[test]
fn impaired_link_80x24_and_its_help() {
    let mut app = hello_world();
    app.impairments = Some(Default::default());
    type_line(&mut app, 1000, "/delay 50ms");
    type_line(&mut app, 1100, "/loss 10%");
    insta::assert_snapshot!(render(&app, 80, 24));
    key(&mut app, KeyCode::F(1));
    // The netem line is at the end of the help: scroll down to it.
    for _ in 0..5 {
        key(&mut app, KeyCode::PageDown);
    }
    let help = render(&app, 120, 40);
    assert!(
        help.contains("tc qdisc add dev eth0 root netem delay 50ms loss 10%"),
        "{help}"
    );
}

/// The classroom roster: many clients, sorted by activity, one selected (its reads alone in
/// the log), a stalled one, and rates from the tick.
#[test]
fn roster_with_many_clients_120x40() {
    let mut app = exposed_server_only();
    for conn in 1..=40u64 {
        let peer = format!("10.1.{}.{}:5{conn:04}", conn / 250, conn % 250 + 1);
        server(
            &mut app,
            conn as i64,
            conn,
            &peer,
            ServerEventKind::Connected,
        );
        for _ in 0..(conn % 7) {
            server(
                &mut app,
                100 + conn as i64,
                conn,
                &peer,
                ServerEventKind::Read {
                    len: 13,
                    preview: b"Hello, World!".to_vec(),
                },
            );
        }
    }
    server(
        &mut app,
        500,
        3,
        "10.1.0.4:50003",
        ServerEventKind::Stalled { pending: 1024 },
    );
    for ms in [1000, 2000] {
        app.now = at(ms);
        let census = census_of(&app);
        tick(&mut app, census);
    }
    type_line(&mut app, 2100, "/sort activity");
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    insta::assert_snapshot!(render(&app, 120, 40));
    key(&mut app, KeyCode::Esc);
    let screen = render(&app, 120, 40);
    assert!(
        !screen.contains("log of #"),
        "Esc shows every client's reads again:\n{screen}"
    );
}

/// The latency pane as a chart (RTT over time, p50/p99 lines, labelled axes) and as a
/// histogram (log-spaced RTT ranges), at the minimum size.
#[test]
fn latency_chart_and_histogram_80x24() {
    let mut app = hello_world();
    for (i, us) in [120u64, 95, 110, 400, 90, 85, 2000, 100, 105, 98]
        .iter()
        .enumerate()
    {
        type_line(&mut app, 1000 + i as i64, "ping");
        echo(
            &mut app,
            1000 + i as i64,
            EchoUpdate::Echoed {
                id: i as u64 + 2,
                rtt: Duration::from_micros(*us),
            },
        );
    }
    type_line(&mut app, 2000, "/chart");
    insta::assert_snapshot!("chart", render(&app, 80, 24));
    type_line(&mut app, 2100, "/hist");
    insta::assert_snapshot!("histogram", render(&app, 80, 24));
    // After the histogram, the socket view; then the sparkline again.
    key(&mut app, KeyCode::F(2));
    assert!(render(&app, 80, 24).contains("What the kernel knows"));
    key(&mut app, KeyCode::F(2));
    assert_eq!(
        render(&app, 80, 24)
            .matches("Latency (round trip) · F2 chart")
            .count(),
        1
    );
}

#[path = "tui/socket_view.rs"]
mod socket_view;

/// Framing by lines with a 4-byte read size: the server's rows are the four reads, then the one
/// frame they made, echoed whole; the client shows the message, not its `\n`.
#[test]
fn framed_lines_from_small_reads_80x24() {
    let mut app = both();
    connected(&mut app);
    type_line(&mut app, 10, "/frame line");
    type_line(&mut app, 20, "/read 4");
    type_line(&mut app, 143, "Hello, World!");
    for (n, piece) in [&b"Hell"[..], b"o, W", b"orld", b"!\n"].iter().enumerate() {
        read(&mut app, 143 + n as i64, piece);
    }
    server(
        &mut app,
        147,
        1,
        PEER,
        ServerEventKind::Frame {
            len: 14,
            reads: 4,
            preview: b"Hello, World!\n".to_vec(),
        },
    );
    echo(
        &mut app,
        147,
        EchoUpdate::Echoed {
            id: 1,
            rtt: Duration::from_micros(412),
        },
    );
    insta::assert_snapshot!(render(&app, 80, 24));
}

#[path = "tui/accept_queue.rs"]
mod accept_queue;
