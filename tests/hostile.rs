//! Hostile peers against our echo servers (ARCHITECTURE.md §2 network rules, §4 untrusted bytes).
//!
//! Each case plays one kind of abuser against `net::server::run` / `net::udp::run` in-process
//! on 127.0.0.1 (or the real `echotui serve --headless` binary), and checks what a user is
//! promised, never how fast anything went:
//!
//! | # | test | the hostile peer | the promise checked |
//! |---|------|------------------|---------------------|
//! | 1 | `hostile_bytes_echo_exactly_and_every_preview_sanitizes_safely` | escapes, OSC title/clipboard, bidi overrides, zero-width, invalid UTF-8, C1, NULs, all 256 bytes, a 64 KiB line without newline | echoed byte-exact; reads add up; every `Read` preview through `sanitize` has no control and no invisible/bidi char |
//! | 1 | `headless_text_log_prints_no_raw_control_bytes` | the same against `echotui serve --headless` | stdout has no raw control byte but `\n`, shows the escapes; SIGTERM → exit 0 |
//! | 1 | `headless_json_log_prints_no_raw_control_bytes` | the same with `--json` | as above, and every line parses, no decoded string holds a control char |
//! | 2 | `connection_churn_leaks_no_slot_and_the_server_still_echoes` | 2000 connect/close cycles (2 threads), limit 64 | each accounted for: admitted and then `closed by peer`, or turned away (the accept loop may run ahead of the closes); then 64 fresh connections are all admitted and echo: no slot leaked |
//! | 2 | `resets_mid_message_are_reported_as_resets` | 200 connections aborted (RST, `SO_LINGER` 0) mid-message | each reported `Closed { Reset }`; the server still echoes |
//! | 2 | `half_closed_clients_that_do_not_read_block_no_one` | 8 clients send, `shutdown(Write)`, don't read | another client echoes meanwhile; each half-closed one later gets its whole echo, then EOF |
//! | 2 | `slowloris_does_not_hold_up_a_normal_client` | 1 byte every 50 ms for 1 s | a concurrent client's 1000 round trips all echo exactly; so does the trickle |
//! | 3 | `a_peer_that_never_reads_is_dropped_and_memory_stays_bounded` | sends up to 64 MiB, never reads | dropped with `WriteStall` (500 ms); another client echoes throughout; the server owed it at most one read buffer; test-process RSS grows < 64 MiB; the hog's transfer ends because the server closed it |
//! | 3 | `a_stuck_peer_does_not_hold_up_others` | the same, with a 60 s write-stall limit | 200 round trips of another client complete while the hog is still connected and stuck |
//! | 4 | `connections_over_max_per_ip_are_turned_away` | 4 + 3 connections from 127.0.0.1, `max_per_ip` 4 | the extra ones get `Rejected { MaxPerIp(4) }` and a closed socket; the first 4 echo; a freed slot admits again |
//! | 4 | `connections_over_max_conns_are_turned_away` | the same, `max_conns` 4 | likewise with `Rejected { MaxConns(4) }` |
//! | 5 | `udp_flood_is_echoed_or_dropped_and_a_second_source_is_still_answered` | 20,000 datagrams from one source | every reply is one datagram sent, intact, never twice; loopback is not rate-limited; a second source is answered afterwards |
//! | 5 | `udp_empty_and_largest_datagrams_echo_intact` | 0-byte and 65,507-byte datagrams | echoed intact (read size 65,536) |
//! | 6 | `idle_connections_time_out_and_active_ones_do_not` | silent connections, `idle_timeout` 300 ms | silent ones closed with `IdleTimeout` (and see EOF); one talking every 50 ms stays open |
//!
//! Not here: datagrams from a privileged source port (the reflection guard) need a port below
//! 1024, so that case is in `tests/needs.rs`, which says so where it cannot bind one. The UDP
//! per-source *rate limit* exempts loopback sources, the only ones a test can use, so it is
//! covered by the `RateLimiter` unit tests in `src/net/udp.rs`.
//!
//! Every wait is bounded (`STEP`, socket timeouts, deadlines) and every count is fixed. The
//! only sleeps that pace a test are the slowloris's trickle and the active client in case 6;
//! the rest only poll something that has no event to await (a child process, a thread).

mod common;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::headless::Headless;
use common::payloads::{HOSTILE, patterned_from};
use common::servers::{READ_SIZE, Server, close_of, conn_of};
use common::sockets::{
    assert_closed_by_server, connect, local, local_udp, round_trip, round_trips, timed_out,
    try_connect, udp_client, udp_echo,
};
use common::{STEP, blocking, blocking_within, eventually, within};
use echotui::net::event::{CloseReason, ServerEventKind};
use echotui::net::server::{self, Limit, Limits};
use echotui::net::udp::{self, DropReason};
use echotui::text::sanitize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, spawn_blocking};
use tokio::time::timeout;

/// Resident memory of this test process, in KiB (the server runs in it).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line in /proc/self/status")
}

// ---------------------------------------------------------------------------------------------
// Case 1: hostile bytes.

/// Byte strings a hostile peer sends, each with what it tries.
fn hostile_payloads() -> Vec<(&'static str, Vec<u8>)> {
    // A 64 KiB line without a newline: hostile bytes, with a counter every 7th byte so any
    // lost, doubled or reordered read shows as a mismatch.
    let long_line = (0..64 * 1024)
        .map(|i| match i % 7 {
            0 => match (i / 7 % 251) as u8 {
                b'\n' => b'\r',
                b => b,
            },
            _ => HOSTILE[i % HOSTILE.len()],
        })
        .collect();
    vec![
        ("the tutorial's message", b"Hello, World!".to_vec()),
        (
            "CSI: clear, home, hide cursor, colours",
            b"\x1b[2J\x1b[H\x1b[?25l\x1b[31mred\x1b[0m\x1b[8mhidden".to_vec(),
        ),
        (
            "OSC: window title, clipboard (OSC 52), hyperlink",
            b"\x1b]0;pwned\x07\x1b]2;owned\x1b\\\x1b]52;c;cm0gLXJmIH4=\x07\x1b]8;;http://x\x07"
                .to_vec(),
        ),
        (
            "bidi overrides and isolates",
            "a\u{202E}txt.exe\u{202C}b\u{2066}c\u{2069}\u{200F}\u{061C}"
                .as_bytes()
                .to_vec(),
        ),
        (
            "zero-width characters",
            "pa\u{200B}y\u{200D}pal\u{FEFF}\u{2060}".as_bytes().to_vec(),
        ),
        (
            "invalid UTF-8: stray, overlong, surrogate, truncated",
            b"\xff\xfe\xc0\xaf\xed\xa0\x80\xf8\x88\x80\x80\x80\xe2\x82".to_vec(),
        ),
        (
            "C1 controls, raw and as UTF-8; DEL",
            b"\x9b31m\xc2\x9b31m\xc2\x85\xc2\x90\x7f".to_vec(),
        ),
        (
            "NULs, CR, backspace, bell",
            b"\0\0ab\0\rX\x08\x07\0".to_vec(),
        ),
        ("every byte value", (0..=255u8).collect()),
        ("a 64 KiB line without newline", long_line),
    ]
}

/// How the hostile payloads' escapes must show: visible, not swallowed.
const VISIBLE_ESCAPES: [&str; 5] = [
    "\\x1b]0;pwned\\x07",
    "\\u{202E}",
    "\\u{200B}",
    "\\xff",
    "\\0",
];

/// Asserts that `shown` (a log, a preview) shows every one of [`VISIBLE_ESCAPES`].
fn assert_escapes_visible(shown: &str) {
    for visible in VISIBLE_ESCAPES {
        assert!(shown.contains(visible), "{visible} not in {shown:?}");
    }
}

/// Characters that must never reach a terminal from the network (besides `char::is_control`):
/// they hide text or change the order of what follows.
fn is_invisible_or_bidi(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// The first character of `text` a terminal must not get raw (a `\n` between lines is fine
/// when `lines` is set).
fn unsafe_char(text: &str, lines: bool) -> Option<char> {
    text.chars()
        .find(|&c| (c.is_control() && !(lines && c == '\n')) || is_invisible_or_bidi(c))
}

/// One connection's life: `message` echoed, our FIN, then the server's; returns our address.
fn echo_then_close(addr: SocketAddr, message: &[u8]) -> SocketAddr {
    let mut stream = connect(addr);
    round_trip(&mut stream, message);
    stream.shutdown(Shutdown::Write).expect("FIN");
    assert_closed_by_server(&mut stream);
    local(&stream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bytes_echo_exactly_and_every_preview_sanitizes_safely() {
    let (server, log) = Server::tcp(Limits::default()).await;
    let addr = server.addr;
    for (what, payload) in hostile_payloads() {
        let sent = payload.clone();
        let peer = blocking(what, move || echo_then_close(addr, &sent)).await;

        let (reason, bytes_in, bytes_out) = log.closed(peer).await;
        let len = payload.len() as u64;
        assert_eq!(
            (reason, bytes_in, bytes_out),
            (CloseReason::PeerClosed, len, len),
            "{what}"
        );
        let seen = log.seen();
        let conn = conn_of(&seen.events, peer).expect("connected");
        let reads: Vec<(usize, &[u8])> = seen
            .events
            .iter()
            .filter(|e| e.conn == conn)
            .filter_map(|e| match &e.kind {
                ServerEventKind::Read { len, preview, .. } => Some((*len, preview.as_slice())),
                _ => None,
            })
            .collect();
        assert_eq!(
            reads.iter().map(|(len, _)| len).sum::<usize>(),
            payload.len(),
            "{what}: the reads add up to the message"
        );
        if payload.len() <= server::READ_PREVIEW_BYTES {
            // Every read fits its preview, so the previews in order are the message.
            let previews: Vec<u8> = reads.iter().flat_map(|(_, p)| p.iter().copied()).collect();
            assert!(previews == payload, "{what}: previews {previews:?}");
        }
        for (len, preview) in reads {
            assert!(
                preview.len() == len.min(server::READ_PREVIEW_BYTES),
                "{what}"
            );
            let shown = sanitize(preview);
            if let Some(c) = unsafe_char(&shown, false) {
                panic!("{what}: sanitized preview holds {c:?}: {shown:?}");
            }
        }
    }
    // The escapes are visible, not swallowed.
    let shown: String = log
        .seen()
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            ServerEventKind::Read { preview, .. } => Some(sanitize(preview)),
            _ => None,
        })
        .collect();
    assert_escapes_visible(&shown);
    assert_eq!(log.seen().dropped, 0);
    server.stop().await;
}

/// Sends every hostile payload to the real binary, each on its own connection, and returns
/// its exit code after SIGTERM and its whole stdout.
fn headless_log_of_hostile_clients(extra: &[&str]) -> (Option<i32>, Vec<u8>) {
    let mut server = Headless::start(extra);
    let payloads = hostile_payloads();
    for (_, payload) in &payloads {
        echo_then_close(server.addr, payload);
    }
    // Every close logged means every read before it was logged too.
    let closes = |out: &[u8]| {
        out.windows(b"closed by peer".len())
            .filter(|w| w == b"closed by peer")
            .count()
    };
    server.wait_until("a close line per client", |out| {
        closes(out) >= payloads.len()
    });
    let stopped = server.terminate();
    (stopped.code, stopped.stdout)
}

/// No raw control byte but the line feeds, valid UTF-8, no invisible or bidi character.
fn assert_terminal_safe(out: &[u8]) -> &str {
    if let Some(at) = out
        .iter()
        .position(|&b| (b < 0x20 && b != b'\n') || b == 0x7f)
    {
        let from = at.saturating_sub(60);
        panic!(
            "raw byte {:#04x} on stdout at {at}: {:?}",
            out[at],
            String::from_utf8_lossy(&out[from..(at + 20).min(out.len())])
        );
    }
    let text = std::str::from_utf8(out).expect("stdout is UTF-8");
    if let Some(c) = unsafe_char(text, true) {
        panic!("{c:?} on stdout: {text:?}");
    }
    text
}

#[test]
fn headless_text_log_prints_no_raw_control_bytes() {
    let (code, out) = headless_log_of_hostile_clients(&[]);
    let text = assert_terminal_safe(&out);
    assert_eq!(code, Some(0), "exit code after SIGTERM; stdout: {text}");
    assert_escapes_visible(text);
    assert!(
        text.lines()
            .last()
            .is_some_and(|l| l.starts_with("summary: ")),
        "{text}"
    );
}

#[test]
fn headless_json_log_prints_no_raw_control_bytes() {
    let (code, out) = headless_log_of_hostile_clients(&["--json"]);
    let text = assert_terminal_safe(&out);
    assert_eq!(code, Some(0), "exit code after SIGTERM; stdout: {text}");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert_eq!(lines[0]["event"], "listening");
    assert_eq!(lines[lines.len() - 1]["event"], "summary");
    // A JSON escape such as \u001b would put the raw byte back for whoever prints the field.
    let mut data = String::new();
    for line in &lines {
        for value in line.as_object().expect("an object").values() {
            if let Some(s) = value.as_str() {
                if let Some(c) = unsafe_char(s, false) {
                    panic!("{c:?} in a decoded JSON string: {line}");
                }
            }
        }
        if line["event"] == "read" {
            data.push_str(line["data"].as_str().expect("data"));
        }
    }
    assert_escapes_visible(&data);
}

// ---------------------------------------------------------------------------------------------
// Case 2: churn, resets, half-closes, slowloris.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_churn_leaks_no_slot_and_the_server_still_echoes() {
    const CHURN: usize = 2000;
    const PER_IP: usize = 64;
    let (server, log) = Server::tcp(Limits {
        max_conns: PER_IP,
        max_per_ip: PER_IP,
        ..Limits::default()
    })
    .await;
    let addr = server.addr;
    let failed = blocking_within("2000 connect/close cycles", 3 * STEP, move || {
        thread::scope(|scope| {
            let churners: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(move || {
                        (0..CHURN / 2)
                            .filter(|_| try_connect(addr).is_err())
                            .count()
                    })
                })
                .collect();
            churners
                .into_iter()
                .map(|churner| churner.join().expect("churner"))
                .sum::<usize>()
        })
    })
    .await;
    assert_eq!(failed, 0, "connects failed during the churn");

    // Every cycle accounted for: admitted and closed by peer, or (if the server lagged behind
    // the closes) turned away.
    let (admitted, turned_away) = log
        .wait_for("an event for every churned connection", |events| {
            let mut counts = (0, 0, 0);
            for e in events {
                match &e.kind {
                    ServerEventKind::Connected => counts.0 += 1,
                    ServerEventKind::Rejected { count, .. } => counts.1 += *count as usize,
                    ServerEventKind::Closed { .. } => counts.2 += 1,
                    _ => {}
                }
            }
            (counts.0 + counts.1 == CHURN && counts.2 == counts.0).then_some((counts.0, counts.1))
        })
        .await;
    let unclean: Vec<_> = log
        .seen()
        .events
        .iter()
        .filter(|e| {
            matches!(&e.kind, ServerEventKind::Closed { reason, .. } if *reason != CloseReason::PeerClosed)
        })
        .cloned()
        .collect();
    assert!(
        unclean.is_empty(),
        "closes not 'closed by peer': {unclean:?}"
    );
    eprintln!(
        "churn: {admitted} admitted, {turned_away} turned away, accept failures {:?}",
        log.seen().accept_failures
    );

    // No slot leaked: a full house of fresh connections is admitted, and each echoes.
    let clients = blocking("a full house of clients", move || {
        (0..PER_IP).map(|_| connect(addr)).collect::<Vec<_>>()
    })
    .await;
    for client in &clients {
        log.connected(local(client)).await;
    }
    blocking("a round trip on each", move || {
        for (i, mut client) in clients.into_iter().enumerate() {
            round_trip(&mut client, format!("after the churn #{i}").as_bytes());
        }
    })
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resets_mid_message_are_reported_as_resets() {
    const RESETS: usize = 200;
    let (server, log) = Server::tcp(Limits {
        max_conns: 1024,
        max_per_ip: 1024,
        ..Limits::default()
    })
    .await;
    let message = patterned_from(0, 3000);
    let mut peers = Vec::with_capacity(RESETS);
    for i in 0..RESETS {
        let mut stream = within("connect", tokio::net::TcpStream::connect(server.addr))
            .await
            .expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        peers.push(stream.local_addr().expect("local_addr"));
        // Half of a message, then an abortive close (RST) instead of the rest.
        within("write", stream.write_all(&message[..1500]))
            .await
            .expect("write");
        if i % 2 == 0 {
            // Some read part of the echo first, so the RST lands between two reads.
            let mut part = [0u8; 100];
            within("echo", stream.read_exact(&mut part))
                .await
                .expect("echo");
            assert_eq!(part[..], message[..100]);
        }
        stream.set_zero_linger().expect("SO_LINGER 0");
        drop(stream);
    }

    let reasons = log
        .wait_for("a close for every reset connection", |events| {
            peers
                .iter()
                .map(|&peer| Some(close_of(events, conn_of(events, peer)?)?.0))
                .collect::<Option<Vec<_>>>()
        })
        .await;
    let not_reset: Vec<_> = peers
        .iter()
        .zip(&reasons)
        .filter(|(_, reason)| **reason != CloseReason::Reset)
        .collect();
    assert!(
        not_reset.is_empty(),
        "{} of {RESETS} reset connections were reported otherwise: {not_reset:?}",
        not_reset.len()
    );

    let addr = server.addr;
    blocking("a round trip after the resets", move || {
        round_trip(&mut connect(addr), b"still there?");
    })
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_closed_clients_that_do_not_read_block_no_one() {
    const HALF_CLOSED: usize = 8;
    const SIZE: usize = 16 * 1024;
    let (server, log) = Server::tcp(Limits::default()).await;
    let addr = server.addr;
    // Each sends its bytes and its FIN, then does not read (yet).
    let half_closed = blocking("half-closed clients", move || {
        (0..HALF_CLOSED)
            .map(|i| {
                let mut stream = connect(addr);
                stream.write_all(&patterned_from(i, SIZE)).expect("write");
                stream.shutdown(Shutdown::Write).expect("FIN");
                stream
            })
            .collect::<Vec<_>>()
    })
    .await;
    let peers: Vec<SocketAddr> = half_closed.iter().map(local).collect();

    blocking("200 round trips meanwhile", move || {
        round_trips(&mut connect(addr), 200, "message");
    })
    .await;

    // The server finished echoing each half-closed client, then closed its side.
    for &peer in &peers {
        let (reason, bytes_in, bytes_out) = log.closed(peer).await;
        assert_eq!(
            (reason, bytes_in, bytes_out),
            (CloseReason::PeerClosed, SIZE as u64, SIZE as u64)
        );
    }
    blocking("the half-closed clients read their echo", move || {
        for (i, mut stream) in half_closed.into_iter().enumerate() {
            let mut echoed = Vec::new();
            stream.read_to_end(&mut echoed).expect("read to EOF");
            assert!(
                echoed == patterned_from(i, SIZE),
                "client {i}: echo differs"
            );
        }
    })
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_does_not_hold_up_a_normal_client() {
    let (server, _log) = Server::tcp(Limits::default()).await;
    let addr = server.addr;
    blocking("a slowloris and a normal client", move || {
        thread::scope(|scope| {
            scope.spawn(move || {
                // One byte every 50 ms for a second.
                let mut stream = connect(addr);
                let trickle: Vec<u8> = (b'a'..b'a' + 20).collect();
                for byte in &trickle {
                    stream.write_all(&[*byte]).expect("trickle");
                    thread::sleep(Duration::from_millis(50));
                }
                let mut echoed = [0u8; 20];
                stream.read_exact(&mut echoed).expect("the trickle's echo");
                assert_eq!(echoed[..], trickle[..]);
            });
            scope.spawn(move || {
                round_trips(&mut connect(addr), 1000, "at full speed, message");
            });
        });
    })
    .await;
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Case 3: a peer that never reads.

/// The most a hog tries to send.
const HOG_BYTES: u64 = 64 * 1024 * 1024;

/// How a hog's transfer ended.
#[derive(Debug)]
struct HogReport {
    sent: u64,
    ended: String,
}

/// A peer that writes as fast as it can and never reads, from a 64 KiB buffer it reuses (so
/// the test itself does not grow). Reports its address on `connected` and, once a write has
/// made no progress for 200 ms (every buffer full both ways), on `stuck`. Stops on a write
/// error (the server closed it), on `stop`, after [`HOG_BYTES`] or after 10 s.
fn hog(
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    connected: oneshot::Sender<SocketAddr>,
    stuck: oneshot::Sender<()>,
) -> HogReport {
    let mut stream = connect(addr);
    stream
        .set_write_timeout(Some(Duration::from_millis(200)))
        .expect("write timeout");
    let _ = connected.send(local(&stream));
    let chunk = vec![b'h'; 64 * 1024];
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stuck = Some(stuck);
    let mut sent = 0u64;
    let ended = loop {
        if stop.load(Ordering::Relaxed) {
            break "stopped".to_owned();
        }
        if sent >= HOG_BYTES {
            break "sent everything".to_owned();
        }
        if Instant::now() >= deadline {
            break "10 s deadline".to_owned();
        }
        match stream.write(&chunk) {
            Ok(n) => sent += n as u64,
            Err(err) if timed_out(&err) => {
                if let Some(stuck) = stuck.take() {
                    let _ = stuck.send(());
                }
            }
            Err(err) => break format!("write failed: {err}"),
        }
    };
    HogReport { sent, ended }
}

/// A hog that has connected: its address, its stop flag, its "stuck" signal and its task.
/// The hog is a blocking task (not a thread of its own) so that, on a paused clock, tokio
/// does not move the clock on while the hog waits for the kernel (see
/// [`a_stuck_peer_does_not_hold_up_others`]).
struct Hog {
    peer: SocketAddr,
    stop: Arc<AtomicBool>,
    stuck: oneshot::Receiver<()>,
    task: JoinHandle<HogReport>,
}

impl Hog {
    /// Starts a hog against `addr` and waits until it is connected.
    async fn start(addr: SocketAddr) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (connected_tx, connected) = oneshot::channel();
        let (stuck_tx, stuck) = oneshot::channel();
        let hog_stop = stop.clone();
        let task = spawn_blocking(move || hog(addr, hog_stop, connected_tx, stuck_tx));
        let peer = within("the hog's connection", connected)
            .await
            .expect("the hog ended");
        Self {
            peer,
            stop,
            stuck,
            task,
        }
    }

    /// Stops the hog (if the server has not already) and returns how its transfer ended.
    async fn finish(self) -> HogReport {
        self.stop.store(true, Ordering::Relaxed);
        within("the hog ends", self.task).await.expect("the hog")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_reads_is_dropped_and_memory_stays_bounded() {
    let (server, log) = Server::tcp(Limits {
        write_stall: Duration::from_millis(500),
        ..Limits::default()
    })
    .await;
    let addr = server.addr;
    let rss_before = rss_kib();
    let hog = Hog::start(addr).await;

    // Another client echoes from the moment the hog is on, through its stall, until it is
    // dropped, and a while after; it samples this process's memory as it goes.
    let hog_dropped = Arc::new(AtomicBool::new(false));
    let dropped = hog_dropped.clone();
    let other = tokio::task::spawn_blocking(move || {
        let mut stream = connect(addr);
        let deadline = Instant::now() + 2 * STEP;
        let (mut during, mut after, mut rss_peak) = (0u64, 0u64, 0u64);
        while after < 100 && Instant::now() < deadline {
            let i = during + after;
            round_trip(&mut stream, format!("message {i} beside a hog").as_bytes());
            if i % 20 == 0 {
                rss_peak = rss_peak.max(rss_kib());
            }
            if dropped.load(Ordering::Relaxed) {
                after += 1;
            } else {
                during += 1;
            }
        }
        (during, after, rss_peak)
    });

    let (reason, bytes_in, bytes_out) = log.closed(hog.peer).await;
    hog_dropped.store(true, Ordering::Relaxed);
    assert_eq!(reason, CloseReason::WriteStall);
    // The design's bound: echoing synchronously, the server owes a peer at most one read.
    assert!(
        bytes_in - bytes_out <= READ_SIZE as u64,
        "the server held {} unechoed bytes (in {bytes_in}, out {bytes_out})",
        bytes_in - bytes_out
    );
    let (during, after, rss_peak) = timeout(STEP * 3, other)
        .await
        .expect("the other client timed out")
        .expect("the other client failed");
    assert_eq!(after, 100, "the other client kept echoing after the drop");
    let rss_after = rss_kib();
    // The hog's own writes stop on the server's close, not on the test's stop flag.
    eventually("the hog to stop writing once the server closed it", || {
        hog.task.is_finished().then_some(())
    })
    .await;
    let report = hog.finish().await;
    assert!(
        report.ended.starts_with("write failed"),
        "the hog's transfer ends because the server closed it: {report:?}"
    );
    assert!(
        report.sent < HOG_BYTES,
        "the server took all of it: {report:?}"
    );
    let growth_kib = rss_peak.max(rss_after).saturating_sub(rss_before);
    eprintln!(
        "hog: sent {} KiB ({}), server in {bytes_in} B out {bytes_out} B; other client: \
         {during} round trips before the drop, {after} after; RSS {rss_before} KiB, peak \
         {rss_peak}, after {rss_after}",
        report.sent / 1024,
        report.ended
    );
    assert!(
        growth_kib < 64 * 1024,
        "RSS grew by {growth_kib} KiB while a hog sent {} KiB",
        report.sent / 1024
    );
    server.stop().await;
}

/// On tokio's paused clock: every socket of this test is driven from a blocking task, and
/// while one runs tokio does not move a paused clock on by itself, so no timer of the server
/// fires during the test. Its 60 s write-stall limit is a limit the hog cannot reach however
/// slow the machine: the hog is still connected after the 200 round trips because the server
/// does not drop a stuck peer before its time, not because the round trips were quick. (Every
/// wait stays bounded: by the sockets' timeouts, and the hog's own 10 s deadline.)
#[tokio::test(start_paused = true)]
async fn a_stuck_peer_does_not_hold_up_others() {
    let (server, log) = Server::tcp(Limits {
        write_stall: Duration::from_secs(60),
        ..Limits::default()
    })
    .await;
    let addr = server.addr;
    let mut hog = Hog::start(addr).await;
    within("the hog to fill the buffers", &mut hog.stuck)
        .await
        .expect("the hog ended before it was stuck");
    blocking("200 round trips beside a stuck hog", move || {
        round_trips(&mut connect(addr), 200, "beside a stuck hog, message");
    })
    .await;
    {
        let seen = log.seen();
        let conn = conn_of(&seen.events, hog.peer).expect("the hog was admitted");
        assert_eq!(
            close_of(&seen.events, conn),
            None,
            "the hog is still connected (and stuck)"
        );
    }
    let report = hog.finish().await;
    assert_eq!(report.ended, "stopped", "{report:?}");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Case 4: connection limits.

/// Fills the server to `limits` (4 connections) from 127.0.0.1, then checks that 3 more are
/// turned away with `limit` while the first 4 still echo, and that a freed slot admits again.
async fn turned_away_over(limits: Limits, limit: Limit) {
    let (server, log) = Server::tcp(limits).await;
    let addr = server.addr;
    let mut admitted = Vec::new();
    for _ in 0..4 {
        let client = blocking("connect", move || connect(addr)).await;
        log.connected(local(&client)).await;
        admitted.push(client);
    }
    for _ in 0..3 {
        let mut extra = blocking("connect", move || connect(addr)).await;
        let peer = local(&extra);
        let kind = log.first_from(peer).await;
        assert_eq!(kind, ServerEventKind::Rejected { limit, count: 1 });
        blocking("the rejected socket is closed", move || {
            assert_closed_by_server(&mut extra)
        })
        .await;
    }
    let mut admitted = blocking("the admitted still echo", move || {
        for (i, client) in admitted.iter_mut().enumerate() {
            round_trip(client, format!("admitted #{i}").as_bytes());
        }
        admitted
    })
    .await;

    let first = admitted.remove(0);
    let first_peer = local(&first);
    drop(first);
    log.closed(first_peer).await;
    let mut again = blocking("connect", move || connect(addr)).await;
    log.connected(local(&again)).await;
    blocking("the newcomer echoes", move || {
        round_trip(&mut again, b"a freed slot");
    })
    .await;
    drop(admitted);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_max_per_ip_are_turned_away() {
    let limits = Limits {
        max_per_ip: 4,
        ..Limits::default()
    };
    turned_away_over(limits, Limit::MaxPerIp(4)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_max_conns_are_turned_away() {
    let limits = Limits {
        max_conns: 4,
        ..Limits::default()
    };
    turned_away_over(limits, Limit::MaxConns(4)).await;
}

// ---------------------------------------------------------------------------------------------
// Case 5: UDP.

const FLOOD: u32 = 20_000;

/// Datagram `seq` of the flood: its number, then bytes that depend on it.
fn flood_payload(seq: u32) -> [u8; 32] {
    let mut payload = [0u8; 32];
    payload[..4].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in payload.iter_mut().enumerate().skip(4) {
        *b = (seq as usize * 31 + i) as u8;
    }
    payload
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_flood_is_echoed_or_dropped_and_a_second_source_is_still_answered() {
    let (server, log) = Server::udp(READ_SIZE).await;
    let addr = server.addr;
    let (flooder, replies, send_errors) = blocking_within("the flood", 3 * STEP, move || {
        let socket = udp_client();
        let reader = socket.try_clone().expect("clone");
        reader
            .set_read_timeout(Some(Duration::from_millis(300)))
            .expect("read timeout");
        let sent_all = AtomicBool::new(false);
        thread::scope(|scope| {
            let replies = scope.spawn(|| {
                // Every reply must be one datagram we sent, intact, and never twice.
                let mut seen = HashSet::new();
                let mut buf = [0u8; 2048];
                let deadline = Instant::now() + 2 * STEP;
                while seen.len() < FLOOD as usize && Instant::now() < deadline {
                    match reader.recv_from(&mut buf) {
                        Ok((n, from)) => {
                            assert_eq!(from, addr);
                            assert_eq!(n, 32, "a reply of the wrong size");
                            let seq = u32::from_be_bytes(buf[..4].try_into().expect("4 bytes"));
                            assert!(seq < FLOOD, "reply to a datagram never sent: {seq}");
                            assert!(buf[..n] == flood_payload(seq), "reply {seq} corrupted");
                            assert!(seen.insert(seq), "reply {seq} came twice");
                        }
                        Err(err) if timed_out(&err) => {
                            if sent_all.load(Ordering::Relaxed) {
                                break;
                            }
                        }
                        Err(err) => panic!("recv_from: {err}"),
                    }
                }
                seen.len()
            });
            let mut send_errors = 0;
            for seq in 0..FLOOD {
                if socket.send_to(&flood_payload(seq), addr).is_err() {
                    send_errors += 1;
                }
            }
            sent_all.store(true, Ordering::Relaxed);
            let replies = replies.join().expect("the reply reader");
            (local_udp(&socket), replies, send_errors)
        })
    })
    .await;
    eprintln!(
        "flood: {FLOOD} sent ({send_errors} send errors), {replies} echoed, the rest dropped"
    );
    assert!(replies > 0, "not one datagram of the flood was echoed");

    // A second source is still answered.
    let second = blocking("a second source", move || {
        let socket = udp_client();
        let echoed = udp_echo(&socket, addr, b"and me?");
        assert_eq!(echoed, b"and me?");
        local_udp(&socket)
    })
    .await;
    log.wait_for("the second source's datagram", |events| {
        events
            .iter()
            .find(|e| e.peer == second && matches!(e.kind, ServerEventKind::Datagram { .. }))
            .map(|_| ())
    })
    .await;
    // Loopback sources are exempt from the per-source rate limit (the limit itself is
    // unit-tested in src/net/udp.rs: only loopback exists here).
    let limited = log
        .seen()
        .events
        .iter()
        .filter(|e| {
            e.peer == flooder
                && matches!(
                    e.kind,
                    ServerEventKind::Dropped {
                        reason: DropReason::RateLimited { .. },
                        ..
                    }
                )
        })
        .count();
    assert_eq!(limited, 0, "a loopback source was rate-limited");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_empty_and_largest_datagrams_echo_intact() {
    // A read size above the largest datagram: nothing may be cut.
    let (server, log) = Server::udp(echotui::net::MAX_READ_SIZE).await;
    let addr = server.addr;
    let largest = patterned_from(7, udp::MAX_DATAGRAM);
    let sent = largest.clone();
    let (peer, empty, big) = blocking("0 and 65,507 bytes", move || {
        let socket = udp_client();
        let empty = udp_echo(&socket, addr, b"");
        let big = udp_echo(&socket, addr, &sent);
        (local_udp(&socket), empty, big)
    })
    .await;
    assert!(empty.is_empty(), "{} bytes came back for 0", empty.len());
    assert_eq!(big.len(), udp::MAX_DATAGRAM);
    assert!(big == largest, "the 65,507-byte datagram came back changed");
    // The echo can reach us before the logger has taken the server's event: wait for it.
    let wanted = [(0, 0), (udp::MAX_DATAGRAM, udp::MAX_DATAGRAM)];
    log.wait_for("both datagrams logged with their sizes", |events| {
        let sizes: Vec<(usize, usize)> = events
            .iter()
            .filter(|e| e.peer == peer)
            .filter_map(|e| match e.kind {
                ServerEventKind::Datagram { len, sent_len, .. } => Some((len, sent_len)),
                _ => None,
            })
            .collect();
        wanted.iter().all(|size| sizes.contains(size)).then_some(())
    })
    .await;
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Case 6: idle timeout.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_time_out_and_active_ones_do_not() {
    let (server, log) = Server::tcp(Limits {
        idle_timeout: Some(Duration::from_millis(300)),
        ..Limits::default()
    })
    .await;
    let addr = server.addr;
    let (mut silent, mut went_quiet) = blocking("two idle clients", move || {
        let silent = connect(addr);
        let mut went_quiet = connect(addr);
        round_trip(&mut went_quiet, b"one message, then silence");
        (silent, went_quiet)
    })
    .await;
    // One round trip every 50 ms for 1.2 s: four idle timeouts long, never idle for one.
    let active = tokio::task::spawn_blocking(move || {
        let mut active = connect(addr);
        for i in 0..24 {
            round_trip(&mut active, format!("still here {i}").as_bytes());
            thread::sleep(Duration::from_millis(50));
        }
        active
    });

    for idle in [local(&silent), local(&went_quiet)] {
        let (reason, ..) = log.closed(idle).await;
        assert_eq!(reason, CloseReason::IdleTimeout);
    }
    blocking("the idle clients see the close", move || {
        assert_closed_by_server(&mut silent);
        assert_closed_by_server(&mut went_quiet);
    })
    .await;

    let active = within("the active client", active)
        .await
        .expect("the active client failed");
    let active_peer = local(&active);
    {
        let seen = log.seen();
        let conn = conn_of(&seen.events, active_peer).expect("admitted");
        assert_eq!(
            close_of(&seen.events, conn),
            None,
            "the active one stays open"
        );
    }
    drop(active);
    let (reason, ..) = log.closed(active_peer).await;
    assert_eq!(reason, CloseReason::PeerClosed);
    server.stop().await;
}
