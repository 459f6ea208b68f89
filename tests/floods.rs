//! Floods and faults a hostile student could throw at a classroom server (ARCHITECTURE.md §2):
//! each test is a failure that was once real, scaled down so the suite stays fast, and checks
//! bounds and counts, never speed.
//!
//! | test | the flood | the promise |
//! |---|---|---|
//! | `a_udp_flood_writes_a_line_a_second_not_a_line_a_datagram` | UDP flat out from one non-loopback source at `serve --headless --json --quiet` | the `limit` lines grow with time (one per second), the summary counts every datagram |
//! | `udp_sources_are_bounded_forgotten_and_never_open_connections` | 3000 fresh UDP sources, one datagram each | the census keeps at most `MAX_UDP_SOURCES`, the roster follows it, nothing counts as an open connection |
//! | `dropped_events_leave_no_phantom_connection` | 300 clients connect and leave while the UI takes no events | the census says 0 open, and the roster agrees after one reconcile |
//! | `turned_away_floods_are_told_once_a_second` | 300 connections over the per-IP limit | one `Rejected` line per second with a count that adds up |

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream as StdStream, UdpSocket as StdUdp};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Local;
use common::IO_TIMEOUT;
use echotui::app::model::ServerPane;
use echotui::net::census::MAX_UDP_SOURCES;
use echotui::net::event::{self, NetEvent, ServerEventKind};
use echotui::net::serve::{self, Protocols};
use echotui::net::{EventSink, Limits, ServerControl, ServerSettings};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// The longest any wait may take before the test fails instead of hanging.
const STEP: Duration = Duration::from_secs(10);

/// A server on loopback with these limits; `events` is its event channel's capacity.
async fn server(
    protocols: Protocols,
    limits: Limits,
    events: EventSink,
) -> (serve::RunningServer, ServerControl, CancellationToken) {
    let shutdown = CancellationToken::new();
    let control = ServerControl::new(1024);
    let settings = ServerSettings {
        report_reads: true,
        limits,
    };
    let server = serve::start(
        "127.0.0.1:0".parse().unwrap(),
        protocols,
        128,
        settings,
        control.clone(),
        events,
        shutdown.clone(),
    )
    .await
    .expect("start a server on 127.0.0.1:0");
    (server, control, shutdown)
}

/// Runs blocking socket work off the async workers, bounded by [`STEP`].
async fn blocking<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::time::timeout(STEP, tokio::task::spawn_blocking(f))
        .await
        .unwrap_or_else(|_| panic!("{what} took longer than {STEP:?}"))
        .expect("blocking task panicked")
}

/// Polls `check` until it holds, at most [`STEP`].
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + STEP;
    while !check() {
        assert!(Instant::now() < deadline, "{what} never happened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// This machine's first non-loopback IPv4 address, for a source the rate limit applies to.
fn non_loopback_ipv4() -> Option<std::net::IpAddr> {
    echotui::net::interfaces::reachable_at("0.0.0.0:0".parse().unwrap())
        .into_iter()
        .map(|addr| addr.ip())
        .find(|ip| ip.is_ipv4())
}

#[test]
fn a_udp_flood_writes_a_line_a_second_not_a_line_a_datagram() {
    let Some(ip) = non_loopback_ipv4() else {
        // Loopback sources are not rate-limited: without another address there is no flood
        // to refuse. CI machines have one.
        println!("skipped: this machine has no non-loopback IPv4 address");
        return;
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_echotui"))
        .args(["serve", "--headless", "--json", "--quiet", "--udp"])
        .args(["--listen", "0.0.0.0:0", "--udp-rate", "10"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start echotui serve");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    out.read_line(&mut first).expect("the listening line");
    let listening: Value = serde_json::from_str(&first).expect("JSON");
    let port: u16 = listening["addr"]
        .as_str()
        .and_then(|addr| addr.rsplit(':').next())
        .and_then(|port| port.parse().ok())
        .expect("the listening port");

    // Flat out for two seconds, from one source the rate limit applies to.
    let flood_for = Duration::from_secs(2);
    let socket = StdUdp::bind((ip, 0)).expect("bind a non-loopback source");
    let target = SocketAddr::new(ip, port);
    let started = Instant::now();
    let mut sent = 0u64;
    while started.elapsed() < flood_for {
        for _ in 0..100 {
            if socket.send_to(b"flood", target).is_ok() {
                sent += 1;
            }
        }
    }
    // The throttle tells the last second's count when its window ends; then stop.
    std::thread::sleep(Duration::from_millis(1200));
    // SAFETY-free signal: `kill` is the tool a user would use.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let mut rest = String::new();
    out.read_to_string(&mut rest).expect("the rest of the log");
    assert!(child.wait().expect("wait").success());

    let lines: Vec<Value> = rest
        .lines()
        .map(|line| serde_json::from_str(line).expect("every line is JSON"))
        .collect();
    let limit_lines: Vec<&Value> = lines.iter().filter(|l| l["event"] == "limit").collect();
    let told: u64 = limit_lines
        .iter()
        .map(|l| l["count"].as_u64().unwrap())
        .sum();
    let summary = lines.last().expect("a summary");
    assert_eq!(summary["event"], "summary");
    let unanswered = summary["unanswered_datagrams"].as_u64().unwrap();
    let answered = summary["reads"].as_u64().unwrap();
    println!(
        "flood: {sent} sent, {answered} answered, {unanswered} unanswered, {} limit lines",
        limit_lines.len()
    );
    assert!(unanswered > 100, "the flood was refused: {unanswered}");
    // A line (or two: at once, then the count) per second of flood, never one per datagram.
    let seconds = flood_for.as_secs() + 2;
    assert!(
        limit_lines.len() as u64 <= 2 * seconds,
        "{} limit lines for a {seconds}s flood",
        limit_lines.len()
    );
    // Everything refused was told, by count.
    assert_eq!(told, unanswered, "the counts add up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_sources_are_bounded_forgotten_and_never_open_connections() {
    let (sink, mut events) = event::channel(1 << 16);
    let (server, control, shutdown) = server(Protocols::Udp, Limits::default(), sink).await;
    let addr = server.addr;
    let sources = 3 * MAX_UDP_SOURCES;
    let answered = blocking("datagrams from fresh sources", move || {
        (0..sources)
            .filter(|_| {
                let socket = StdUdp::bind("127.0.0.1:0").expect("bind");
                socket.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
                socket.send_to(b"hi", addr).expect("send");
                socket.recv(&mut [0u8; 8]).is_ok()
            })
            .count()
    })
    .await;
    assert_eq!(answered, sources);
    let census = control.census().snapshot();
    // The kernel reuses ephemeral ports: a reused one is a source seen again.
    assert!(census.sources_seen > 2 * MAX_UDP_SOURCES as u64);
    assert!(
        census.sources.len() <= MAX_UDP_SOURCES,
        "{}",
        census.sources.len()
    );
    assert_eq!(census.reads, sources as u64, "every datagram counted");

    // The UI's roster: every event applied, then the census: bounded, no open connection.
    let mut pane = ServerPane::new(addr, Protocols::Udp, ServerControl::new(1024).behaviour());
    while let Some(event) = events.try_recv() {
        pane.apply(event);
    }
    pane.reconcile(census, Local::now());
    assert!(pane.conns.len() <= MAX_UDP_SOURCES);
    assert_eq!(pane.open(), 0, "UDP sources are not open connections");
    shutdown.cancel();
    server.stopped().await;
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
    let (server, control, shutdown) = server(Protocols::Tcp, limits, sink).await;
    let addr = server.addr;
    let mut pane = ServerPane::new(addr, Protocols::Tcp, ServerControl::new(1024).behaviour());
    // The one event that got through: a connection the UI sees open.
    let clients = blocking("300 clients connect", move || {
        (0..300)
            .map(|_| StdStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect"))
            .collect::<Vec<_>>()
    })
    .await;
    let census = control.census();
    eventually("300 open", || census.snapshot().open.len() == 300).await;
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
    eventually("all closed", || census.snapshot().open.is_empty()).await;
    assert!(
        events.dropped() > 500,
        "the test did drop events: {}",
        events.dropped()
    );
    pane.reconcile(census.snapshot(), Local::now());
    assert_eq!(
        pane.open(),
        0,
        "no phantom connection after the clients left"
    );
    assert_eq!(pane.census.accepted, 300);
    shutdown.cancel();
    server.stopped().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turned_away_floods_are_told_once_a_second() {
    let (sink, mut events) = event::channel(1 << 16);
    let limits = Limits {
        max_per_ip: 1,
        ..Limits::default()
    };
    let (server, control, shutdown) = server(Protocols::Tcp, limits, sink).await;
    let addr = server.addr;
    let turned_away = 300;
    let _admitted = blocking("300 connections over the limit", move || {
        let admitted = StdStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect");
        for _ in 0..turned_away {
            let mut extra = StdStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect");
            extra.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
            // Wait for the server's close, so the next one is refused too.
            let _ = extra.read(&mut [0u8; 1]);
        }
        admitted
    })
    .await;
    let census = control.census();
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
        match tokio::time::timeout(STEP, events.recv()).await {
            Ok(Some(NetEvent::Server(event))) => {
                if let ServerEventKind::Rejected { count, .. } = event.kind {
                    told += count;
                    lines += 1;
                }
            }
            Ok(Some(_)) => {}
            other => panic!("the events ended: {other:?}"),
        }
    }
    assert_eq!(told, turned_away);
    assert!(
        lines <= 8,
        "{lines} lines for {turned_away} refusals in a few seconds"
    );
    shutdown.cancel();
    server.stopped().await;
}
