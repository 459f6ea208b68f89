//! The screens the README shows, built the way the snapshot tests build theirs: by feeding
//! `update` the messages the runtime would, at a fixed clock, so every picture is the same
//! on every machine.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Local, TimeZone};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::app::model::{ClientPane, ServerPane, ThemeName};
use crate::app::{App, Msg, update};
use crate::lesson::Catalog;
use crate::net::census::{CensusSnapshot, ConnSnapshot};
use crate::net::serve::Protocols;
use crate::net::sockinfo::{TcpState, TcpSummary};
use crate::net::{ClientEvent, NetEvent, ServerControl, ServerEvent, ServerEventKind, Transport};
use crate::stats::{Clock, EchoUpdate};

const SERVER: &str = "127.0.0.1:12345";
const PEER: &str = "127.0.0.1:53422";

fn addr(s: &str) -> std::net::SocketAddr {
    s.parse().unwrap_or_else(|_| ([127, 0, 0, 1], 0).into())
}

/// 14:35:02 on a fixed day plus `ms`, local time: the same clock in every picture.
pub fn at(ms: i64) -> DateTime<Local> {
    let start = Local
        .with_ymd_and_hms(2026, 11, 25, 14, 35, 2)
        .earliest()
        .unwrap_or_default();
    start + chrono::Duration::milliseconds(ms)
}

fn server_event(app: &mut App, ms: i64, conn: u64, peer: &str, kind: ServerEventKind) {
    app.now = at(ms);
    let event = ServerEvent {
        at: at(ms),
        conn,
        peer: addr(peer),
        kind,
    };
    update(app, Msg::Net(NetEvent::Server(event)));
}

fn client_event(app: &mut App, ms: i64, event: ClientEvent) {
    app.now = at(ms);
    update(app, Msg::Net(NetEvent::Client(event)));
}

fn read(app: &mut App, ms: i64, data: &[u8]) {
    let kind = ServerEventKind::Read {
        len: data.len(),
        preview: data.to_vec(),
    };
    server_event(app, ms, 1, PEER, kind);
}

fn echoed(app: &mut App, ms: i64, id: u64, micros: u64) {
    let rtt = Duration::from_micros(micros);
    client_event(app, ms, ClientEvent::Echo(EchoUpdate::Echoed { id, rtt }));
}

fn key(app: &mut App, code: KeyCode) {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

/// Types `text` on the message line and presses Enter.
pub fn type_line(app: &mut App, ms: i64, text: &str) {
    app.now = at(ms);
    text.chars().for_each(|c| key(app, KeyCode::Char(c)));
    key(app, KeyCode::Enter);
}

/// The side-by-side UI, connected: the embedded server and its client.
pub fn connected() -> App {
    let mut app = App::new(
        Some(ClientPane::new(addr(SERVER), Transport::Tcp, false)),
        Some(ServerPane::new(
            addr(SERVER),
            Protocols::Both,
            ServerControl::new(1024).behaviour(),
        )),
        at(0),
    );
    app.impairments = Some(Default::default());
    app.lessons = Arc::new(Catalog::load(None).unwrap_or_default());
    let event = ClientEvent::Connected {
        local: addr(PEER),
        peer: addr(SERVER),
        connect_time: Some(Duration::from_micros(85)),
        clock: Clock::Kernel,
    };
    client_event(&mut app, 0, event);
    server_event(&mut app, 0, 1, PEER, ServerEventKind::Connected);
    app
}

/// The tutorial's exchange, then the byte-stream lesson's point: at `/read 7` the same
/// message is two reads, and still one echo.
pub fn side_by_side() -> App {
    let mut app = connected();
    type_line(&mut app, 143, "Hello, World!");
    read(&mut app, 143, b"Hello, World!");
    echoed(&mut app, 143, 1, 87);
    type_line(&mut app, 1200, "/read 7");
    type_line(&mut app, 2100, "Hello, World!");
    read(&mut app, 2100, b"Hello, ");
    read(&mut app, 2100, b"World!");
    echoed(&mut app, 2100, 2, 112);
    app
}

/// The same screen in another theme.
pub fn themed(theme: ThemeName) -> App {
    let mut app = side_by_side();
    app.view.theme = Some(theme);
    app
}

/// A lesson in progress on a projector: presenter mode, the byte-stream lesson at step 2.
pub fn lesson_in_progress() -> App {
    let mut app = connected();
    app.view.presenter = true;
    type_line(&mut app, 100, "/lesson byte-stream");
    for step in 0..2 {
        key(&mut app, KeyCode::Right);
        while app.lesson.as_ref().is_some_and(|run| run.typing()) {
            update(&mut app, Msg::Typing);
        }
        if step == 1 {
            read(&mut app, 2000, b"Hello, ");
            read(&mut app, 2000, b"World!");
            echoed(&mut app, 2000, 1, 94);
        }
    }
    app
}

/// A classroom server: many students, one stalled, sorted by activity, addresses masked.
pub fn roster() -> App {
    let mut app = App::new(
        None,
        Some(ServerPane::new(
            addr("0.0.0.0:12345"),
            Protocols::Tcp,
            ServerControl::new(1024).behaviour(),
        )),
        at(0),
    );
    app.view.mask_addresses = true;
    for conn in 1..=24u64 {
        let peer = format!("192.0.2.{}:{}", conn + 10, 50000 + conn);
        server_event(
            &mut app,
            conn as i64 * 40,
            conn,
            &peer,
            ServerEventKind::Connected,
        );
        for _ in 0..(conn * 7 % 11) {
            let kind = ServerEventKind::Read {
                len: 13,
                preview: b"Hello, World!".to_vec(),
            };
            server_event(&mut app, 1500 + conn as i64, conn, &peer, kind);
        }
    }
    let stalled = ServerEventKind::Stalled { pending: 65536 };
    server_event(&mut app, 1900, 5, "192.0.2.15:50005", stalled);
    for ms in [2000, 3000] {
        app.now = at(ms);
        let mut census = census_of(&app);
        // What the server's kernel knows of each laptop: cable ones answer within a
        // millisecond, Wi-Fi ones take several, and one on a poor link retransmits.
        for open in &mut census.open {
            let wifi = open.conn % 3 == 0;
            let rtt_us = if wifi {
                2_000 + open.conn * 700
            } else {
                300 + open.conn * 20
            };
            open.tcp = Some(TcpSummary {
                state: TcpState::Established,
                rtt: Duration::from_micros(rtt_us),
                rttvar: Duration::from_micros(rtt_us / 3),
                total_retrans: if open.conn == 9 { 4 } else { 0 },
            });
        }
        update(
            &mut app,
            Msg::Tick {
                dropped_events: 0,
                census: Some(census),
            },
        );
    }
    type_line(&mut app, 3100, "/sort activity");
    app.now = at(65_000);
    app
}

/// The census a server would report for the connections the pane shows open.
pub fn census_of(app: &App) -> CensusSnapshot {
    let Some(server) = &app.server else {
        return CensusSnapshot::default();
    };
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

/// The latency chart over a delayed, jittery link: RTTs around 100 ms with p50 and p99.
pub fn latency_chart() -> App {
    let mut app = connected();
    type_line(&mut app, 100, "/delay 50ms");
    type_line(&mut app, 200, "/jitter 10ms");
    let rtts: [u64; 25] = [
        101, 96, 108, 93, 117, 99, 104, 88, 112, 97, 105, 119, 91, 102, 98, 110, 95, 106, 100, 114,
        92, 103, 109, 97, 101,
    ];
    for (i, ms) in rtts.iter().enumerate() {
        let at_ms = 1000 + i as i64 * 150;
        type_line(&mut app, at_ms, "ping");
        read(&mut app, at_ms + *ms as i64 / 2, b"ping");
        echoed(&mut app, at_ms + *ms as i64, i as u64 + 1, ms * 1000 + 37);
    }
    type_line(&mut app, 5000, "/chart");
    app
}
