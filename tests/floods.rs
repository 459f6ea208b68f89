//! Floods and faults a hostile student could throw at a classroom server (ARCHITECTURE.md §2):
//! each test is a failure that was once real, scaled down so the suite stays fast, and checks
//! bounds and counts, never speed.
//!
//! | test | the flood | the promise |
//! |---|---|---|
//! | `udp_sources_are_bounded_forgotten_and_never_open_connections` | 3000 fresh UDP sources, one datagram each | the census keeps at most `MAX_UDP_SOURCES`, the roster follows it, nothing counts as an open connection |
//! | `dropped_events_leave_no_phantom_connection` | 300 clients connect and leave while the UI takes no events | the census says 0 open, and the roster agrees after two reconciles (a second apart in the UI) |
//! | `turned_away_floods_are_told_once_a_second` | 300 connections over the per-IP limit | one `Rejected` line per second with a count that adds up |
//!
//! The UDP flood that a line a second must tell about needs a source the rate limit applies
//! to, an address other than loopback: it is in `tests/needs.rs`, which says so on a machine
//! that has none.

mod common;

use std::io::Read;
use std::time::Instant;

use chrono::Local;
use common::servers::{READ_SIZE, Server};
use common::sockets::{connect, udp_socket};
use common::{IO_TIMEOUT, STEP, blocking, eventually, within};
use echotui::app::model::ServerPane;
use echotui::net::census::MAX_UDP_SOURCES;
use echotui::net::event::{self, EventSink, NetEvent, ServerEventKind};
use echotui::net::serve::Protocols;
use echotui::net::{Limits, ServerControl, ServerSettings, Transport};

/// Our server on loopback with these limits, reporting every read, its events sent to
/// `events` (the test plays the UI: it takes them, or not).
async fn server(transport: Transport, limits: Limits, events: EventSink) -> Server {
    let settings = ServerSettings {
        report_reads: true,
        limits,
    };
    Server::start(transport, settings, ServerControl::new(READ_SIZE), events).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_sources_are_bounded_forgotten_and_never_open_connections() {
    let (sink, mut events) = event::channel(1 << 16);
    let server = server(Transport::Udp, Limits::default(), sink).await;
    let addr = server.addr;
    let sources = 3 * MAX_UDP_SOURCES;
    let answered = blocking("datagrams from fresh sources", move || {
        (0..sources)
            .filter(|_| {
                let socket = udp_socket(IO_TIMEOUT);
                socket.send_to(b"hi", addr).expect("send");
                socket.recv(&mut [0u8; 8]).is_ok()
            })
            .count()
    })
    .await;
    assert_eq!(answered, sources);
    // The server counts a datagram once its reply is sent: the last count may trail the
    // last reply by a moment.
    let census = server.control.census();
    eventually("every datagram counted", || {
        (census.snapshot().reads == sources as u64).then_some(())
    })
    .await;
    let census = census.snapshot();
    // The kernel reuses ephemeral ports: a reused one is a source seen again.
    assert!(census.sources_seen > 2 * MAX_UDP_SOURCES as u64);
    assert!(
        census.sources.len() <= MAX_UDP_SOURCES,
        "{}",
        census.sources.len()
    );

    // The UI's roster: every event applied, then the census: bounded, no open connection.
    let mut pane = ServerPane::new(addr, Protocols::Udp, server.control.behaviour());
    while let Some(event) = events.try_recv() {
        pane.apply(event);
    }
    pane.reconcile(census, Local::now());
    assert!(pane.conns.len() <= MAX_UDP_SOURCES);
    assert_eq!(pane.open(), 0, "UDP sources are not open connections");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_events_leave_no_phantom_connection() {
    // A channel that holds one event: the UI is "stalled" and nearly every event is dropped.
    let (sink, mut events) = event::channel(1);
    let limits = Limits {
        max_conns: 1000,
        max_per_ip: 1000,
        ..Limits::default()
    };
    let server = server(Transport::Tcp, limits, sink).await;
    let addr = server.addr;
    let mut pane = ServerPane::new(addr, Protocols::Tcp, server.control.behaviour());
    // The one event that got through: a connection the UI sees open.
    let clients = blocking("300 clients connect", move || {
        (0..300).map(|_| connect(addr)).collect::<Vec<_>>()
    })
    .await;
    let census = server.control.census();
    eventually("300 open", || {
        (census.snapshot().open.len() == 300).then_some(())
    })
    .await;
    while let Some(event) = events.try_recv() {
        pane.apply(event);
    }
    pane.reconcile(census.snapshot(), Local::now());
    assert_eq!(
        pane.open(),
        300,
        "the census brings the ones whose events were lost"
    );
    drop(clients);
    eventually("all closed", || {
        census.snapshot().open.is_empty().then_some(())
    })
    .await;
    assert!(
        events.dropped() > 500,
        "the test did drop events: {}",
        events.dropped()
    );
    // Two ticks: after one, a close event might still be on its way.
    pane.reconcile(census.snapshot(), Local::now());
    pane.reconcile(census.snapshot(), Local::now());
    assert_eq!(
        pane.open(),
        0,
        "no phantom connection after the clients left"
    );
    assert_eq!(pane.census.accepted, 300);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turned_away_floods_are_told_once_a_second() {
    let (sink, mut events) = event::channel(1 << 16);
    let limits = Limits {
        max_per_ip: 1,
        ..Limits::default()
    };
    let server = server(Transport::Tcp, limits, sink).await;
    let addr = server.addr;
    let turned_away = 300;
    let _admitted = blocking("300 connections over the limit", move || {
        let admitted = connect(addr);
        for _ in 0..turned_away {
            let mut extra = connect(addr);
            // Wait for the server's close, so the next one is refused too.
            let _ = extra.read(&mut [0u8; 1]);
        }
        admitted
    })
    .await;
    let census = server.control.census();
    assert_eq!(census.snapshot().rejected, turned_away);
    // The counts of the last window arrive when it ends.
    let mut told = 0;
    let mut lines = 0;
    let deadline = Instant::now() + STEP;
    while told < turned_away {
        assert!(
            Instant::now() < deadline,
            "only {told} of {turned_away} told"
        );
        match within("the rejections told", events.recv()).await {
            Some(NetEvent::Server(event)) => {
                if let ServerEventKind::Rejected { count, .. } = event.kind {
                    told += count;
                    lines += 1;
                }
            }
            Some(_) => {}
            None => panic!("the events ended"),
        }
    }
    assert_eq!(told, turned_away);
    assert!(
        lines <= 8,
        "{lines} lines for {turned_away} refusals in a few seconds"
    );
    server.stop().await;
}
