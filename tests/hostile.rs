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
//! | 5 | `udp_from_a_privileged_source_port_is_never_answered` | datagrams from 127.0.0.1:7 | no reply, a `Dropped { ReflectionGuard }` event (skipped if port 7 cannot be bound) |
//! | 5 | `udp_empty_and_largest_datagrams_echo_intact` | 0-byte and 65,507-byte datagrams | echoed intact (read size 65,536) |
//! | 6 | `idle_connections_time_out_and_active_ones_do_not` | silent connections, `idle_timeout` 300 ms | silent ones closed with `IdleTimeout` (and see EOF); one talking every 50 ms stays open |
//!
//! Not here: the UDP per-source *rate limit* exempts loopback sources, the only ones a test
//! can use, so it is covered by the `RateLimiter` unit tests in `src/net/udp.rs`.
//!
//! Every wait is bounded (`STEP`, socket timeouts, deadlines) and every count is fixed. The
//! only sleeps that pace a test are the slowloris's trickle and the active client in case 6;
//! the rest only poll something that has no event to await (a child process, a thread).

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream as StdStream, UdpSocket as StdUdp};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use echotui::net::event::{
    self, CloseReason, ConnId, EventStream, NetEvent, ServerEvent, ServerEventKind,
};
use echotui::net::server::{self, Limit, Limits, ServerControl, ServerSettings};
use echotui::net::udp::{self, DropReason};
use echotui::text::sanitize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

/// The longest any single wait may take before the test fails instead of hanging.
const STEP: Duration = Duration::from_secs(10);
/// Every blocking socket call gives up after this long.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// The server's read buffer in these tests: the tutorial's `recv(1024)`.
const READ_SIZE: usize = echotui::net::DEFAULT_READ_SIZE;
/// Room for every event a test provokes, so counts are exact (a drop is reported if not).
const EVENT_CAPACITY: usize = 1 << 16;

// ---------------------------------------------------------------------------------------------
// The server under test and what it reports.

/// Everything the server reported so far.
#[derive(Debug, Default)]
struct Seen {
    events: Vec<ServerEvent>,
    accept_failures: Vec<String>,
    /// Events the server could not hand over (channel full): counts would then be short.
    dropped: u64,
}

/// The server's events, collected as they come by a task of their own, so the server never
/// finds the channel full however long a test looks elsewhere.
#[derive(Debug, Clone, Default)]
struct EventLog {
    seen: Arc<Mutex<Seen>>,
    changed: Arc<Notify>,
}

impl EventLog {
    fn collect(mut stream: EventStream) -> Self {
        let log = Self::default();
        let collector = log.clone();
        tokio::spawn(async move {
            while let Some(event) = stream.recv().await {
                let mut seen = collector.seen();
                match event {
                    NetEvent::Server(event) => seen.events.push(event),
                    NetEvent::AcceptFailed { reason, .. } => seen.accept_failures.push(reason),
                    NetEvent::Flood { .. } | NetEvent::Client(_) => {}
                }
                seen.dropped = stream.dropped();
                drop(seen);
                collector.changed.notify_waiters();
            }
        });
        log
    }

    fn seen(&self) -> MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits (at most [`STEP`]) until `found` finds what it looks for in the events so far.
    async fn wait_for<T>(
        &self,
        what: &str,
        mut found: impl FnMut(&[ServerEvent]) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + STEP;
        loop {
            // Registered before looking, so an event arriving in between still wakes us.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(value) = found(&self.seen().events) {
                return value;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                let seen = self.seen();
                panic!(
                    "timed out waiting for {what}: {} events seen ({} dropped), the last: {:?}",
                    seen.events.len(),
                    seen.dropped,
                    seen.events.last()
                );
            }
        }
    }

    /// Waits for the server to have accepted the connection from `peer`.
    async fn connected(&self, peer: SocketAddr) -> ConnId {
        self.wait_for(&format!("the connection from {peer}"), |events| {
            events
                .iter()
                .find(|e| e.peer == peer && e.kind == ServerEventKind::Connected)
                .map(|e| e.conn)
        })
        .await
    }

    /// Waits for the close of the connection from `peer`: (reason, bytes in, bytes out).
    async fn closed(&self, peer: SocketAddr) -> (CloseReason, u64, u64) {
        self.wait_for(&format!("the close of {peer}"), |events| {
            close_of(events, conn_of(events, peer)?)
        })
        .await
    }
}

/// The number the server gave the connection from `peer` (admitted or turned away).
fn conn_of(events: &[ServerEvent], peer: SocketAddr) -> Option<ConnId> {
    events
        .iter()
        .find(|e| {
            e.peer == peer
                && matches!(
                    e.kind,
                    ServerEventKind::Connected | ServerEventKind::Rejected { .. }
                )
        })
        .map(|e| e.conn)
}

/// How connection `conn` ended, if it has: (reason, bytes in, bytes out).
fn close_of(events: &[ServerEvent], conn: ConnId) -> Option<(CloseReason, u64, u64)> {
    events.iter().find_map(|e| match &e.kind {
        ServerEventKind::Closed {
            reason,
            bytes_in,
            bytes_out,
            ..
        } if e.conn == conn => Some((reason.clone(), *bytes_in, *bytes_out)),
        _ => None,
    })
}

/// Our TCP or UDP echo server on a free loopback port, with its events.
struct Server {
    addr: SocketAddr,
    log: EventLog,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl Server {
    async fn tcp(limits: Limits) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr");
        let (sink, stream) = event::channel(EVENT_CAPACITY);
        let shutdown = CancellationToken::new();
        let settings = ServerSettings {
            report_reads: true,
            limits,
        };
        let task = tokio::spawn(server::run(
            listener,
            settings,
            ServerControl::new(READ_SIZE),
            sink,
            shutdown.clone(),
        ));
        Self {
            addr,
            log: EventLog::collect(stream),
            shutdown,
            task,
        }
    }

    async fn udp(read_size: usize) -> Self {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = socket.local_addr().expect("local_addr");
        let (sink, stream) = event::channel(EVENT_CAPACITY);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(udp::run(
            socket,
            ServerSettings::default(),
            ServerControl::new(read_size),
            sink,
            shutdown.clone(),
        ));
        Self {
            addr,
            log: EventLog::collect(stream),
            shutdown,
            task,
        }
    }

    /// Cancels the server and waits for `run` to return (it waits for its connections).
    async fn stop(self) {
        self.shutdown.cancel();
        timeout(STEP, self.task)
            .await
            .expect("the server did not return after cancel")
            .expect("the server task panicked");
    }
}

// ---------------------------------------------------------------------------------------------
// Blocking clients.

/// Runs blocking socket code off the async threads, bounded like every other wait.
async fn blocking<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    blocking_within(what, STEP, f).await
}

async fn blocking_within<T: Send + 'static>(
    what: &str,
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    timeout(limit, tokio::task::spawn_blocking(f))
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
        .unwrap_or_else(|err| panic!("{what} panicked: {err}"))
}

/// A blocking client socket (Nagle off) whose every call gives up after [`IO_TIMEOUT`].
fn connect(addr: SocketAddr) -> StdStream {
    let stream = StdStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .expect("read timeout");
    stream
        .set_write_timeout(Some(IO_TIMEOUT))
        .expect("write timeout");
    stream
}

fn local(stream: &StdStream) -> SocketAddr {
    stream.local_addr().expect("local_addr")
}

/// Sends `message` and reads exactly as many bytes back, which must be the same bytes.
fn round_trip(stream: &mut StdStream, message: &[u8]) {
    stream.write_all(message).expect("write");
    let mut back = vec![0; message.len()];
    stream.read_exact(&mut back).expect("read the echo");
    assert!(
        back == message,
        "the echo differs from what was sent: {:?} → {:?}",
        sanitize(&message[..message.len().min(64)]),
        sanitize(&back[..back.len().min(64)]),
    );
}

/// The server closed this socket: a read sees EOF (or a reset, if it had bytes to discard).
fn assert_closed_by_server(stream: &mut StdStream) {
    match stream.read(&mut [0u8; 64]) {
        Ok(0) => {}
        Err(err) if err.kind() == io::ErrorKind::ConnectionReset => {}
        other => panic!("expected the server to have closed the socket, read gave {other:?}"),
    }
}

/// Bytes that differ from their neighbours (`seed` shifts them), so a lost, doubled or
/// reordered slice is a mismatch.
fn patterned(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| ((i + seed) % 251) as u8).collect()
}

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

/// A peer trying to retitle the terminal, clear it and reverse the text that follows.
const HOSTILE: &[u8] = b"\x1b]0;pwned\x07\x1b[2J\xe2\x80\xaeevil\0\xff";

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bytes_echo_exactly_and_every_preview_sanitizes_safely() {
    let server = Server::tcp(Limits::default()).await;
    let addr = server.addr;
    for (what, payload) in hostile_payloads() {
        let sent = payload.clone();
        let peer = blocking(what, move || {
            let mut stream = connect(addr);
            round_trip(&mut stream, &sent);
            stream.shutdown(Shutdown::Write).expect("FIN");
            assert_closed_by_server(&mut stream);
            local(&stream)
        })
        .await;

        let (reason, bytes_in, bytes_out) = server.log.closed(peer).await;
        let len = payload.len() as u64;
        assert_eq!(
            (reason, bytes_in, bytes_out),
            (CloseReason::PeerClosed, len, len),
            "{what}"
        );
        let seen = server.log.seen();
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
    let shown: String = server
        .log
        .seen()
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            ServerEventKind::Read { preview, .. } => Some(sanitize(preview)),
            _ => None,
        })
        .collect();
    for visible in [
        "\\x1b]0;pwned\\x07",
        "\\u{202E}",
        "\\u{200B}",
        "\\xff",
        "\\0",
    ] {
        assert!(shown.contains(visible), "{visible} not in {shown:?}");
    }
    assert_eq!(server.log.seen().dropped, 0);
    server.stop().await;
}

/// `echotui serve --headless` as a child process, its stdout collected raw (bytes, not lines:
/// a stray `\r` or ESC must be seen as what it is).
struct Headless {
    child: Child,
    out: Arc<Mutex<Vec<u8>>>,
    reader: Option<thread::JoinHandle<()>>,
}

impl Headless {
    /// Starts the server and returns it with the address from its first line.
    fn start(extra: &[&str]) -> (Self, SocketAddr) {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin!("echotui"))
            .args(["serve", "--headless", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn echotui serve --headless");
        let mut stdout = child.stdout.take().expect("stdout");
        let out = Arc::new(Mutex::new(Vec::new()));
        let collected = out.clone();
        let reader = thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n @ 1..) = stdout.read(&mut buf) {
                collected
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend_from_slice(&buf[..n]);
            }
        });
        let server = Self {
            child,
            out,
            reader: Some(reader),
        };
        server.wait_until("the listening line", |out| out.contains(&b'\n'));
        let out = server.output();
        let first =
            String::from_utf8_lossy(out.split(|&b| b == b'\n').next().unwrap_or(&[])).into_owned();
        // `... listening on 127.0.0.1:PORT (TCP echo, ...)` or `{"event":"listening","addr":"127.0.0.1:PORT",...}`
        let port: String = first
            .split_once("127.0.0.1:")
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .1
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let addr = format!("127.0.0.1:{port}").parse().expect("address");
        (server, addr)
    }

    fn output(&self) -> Vec<u8> {
        self.out
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Polls the output (the log is flushed on a short tick) until `done`, at most [`STEP`].
    fn wait_until(&self, what: &str, done: impl Fn(&[u8]) -> bool) {
        let deadline = Instant::now() + STEP;
        while !done(&self.output()) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; stdout so far: {:?}",
                String::from_utf8_lossy(&self.output())
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM; returns the exit code and everything the server wrote.
    fn terminate(&mut self) -> (Option<i32>, Vec<u8>) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + STEP;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "serve did not exit after SIGTERM"
            );
            thread::sleep(Duration::from_millis(20));
        };
        // The child is gone, so its stdout is at EOF and the reader ends.
        if let Some(reader) = self.reader.take() {
            reader.join().expect("stdout reader");
        }
        (status.code(), self.output())
    }
}

impl Drop for Headless {
    fn drop(&mut self) {
        // A failed test must not leave a server running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends every hostile payload to the real binary, each on its own connection, and returns
/// its exit code after SIGTERM and its whole stdout.
fn headless_log_of_hostile_clients(extra: &[&str]) -> (Option<i32>, Vec<u8>) {
    let (mut server, addr) = Headless::start(extra);
    let payloads = hostile_payloads();
    for (_, payload) in &payloads {
        let mut stream = connect(addr);
        round_trip(&mut stream, payload);
        stream.shutdown(Shutdown::Write).expect("FIN");
        assert_closed_by_server(&mut stream);
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
    server.terminate()
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
    for visible in [
        "\\x1b]0;pwned\\x07",
        "\\u{202E}",
        "\\u{200B}",
        "\\xff",
        "\\0",
    ] {
        assert!(text.contains(visible), "{visible} not in {text}");
    }
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
    for visible in [
        "\\x1b]0;pwned\\x07",
        "\\u{202E}",
        "\\u{200B}",
        "\\xff",
        "\\0",
    ] {
        assert!(data.contains(visible), "{visible} not in {data}");
    }
}

// ---------------------------------------------------------------------------------------------
// Case 2: churn, resets, half-closes, slowloris.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_churn_leaks_no_slot_and_the_server_still_echoes() {
    const CHURN: usize = 2000;
    const PER_IP: usize = 64;
    let server = Server::tcp(Limits {
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
                            .filter(|_| StdStream::connect_timeout(&addr, IO_TIMEOUT).is_err())
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
    let (admitted, turned_away) = server
        .log
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
    let unclean: Vec<_> = server
        .log
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
        server.log.seen().accept_failures
    );

    // No slot leaked: a full house of fresh connections is admitted, and each echoes.
    let clients = blocking("a full house of clients", move || {
        (0..PER_IP).map(|_| connect(addr)).collect::<Vec<_>>()
    })
    .await;
    for client in &clients {
        server.log.connected(local(client)).await;
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
    let server = Server::tcp(Limits {
        max_conns: 1024,
        max_per_ip: 1024,
        ..Limits::default()
    })
    .await;
    let message = patterned(3000, 0);
    let mut peers = Vec::with_capacity(RESETS);
    for i in 0..RESETS {
        let mut stream = timeout(STEP, tokio::net::TcpStream::connect(server.addr))
            .await
            .expect("connect timed out")
            .expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        peers.push(stream.local_addr().expect("local_addr"));
        // Half of a message, then an abortive close (RST) instead of the rest.
        timeout(STEP, stream.write_all(&message[..1500]))
            .await
            .expect("write timed out")
            .expect("write");
        if i % 2 == 0 {
            // Some read part of the echo first, so the RST lands between two reads.
            let mut part = [0u8; 100];
            timeout(STEP, stream.read_exact(&mut part))
                .await
                .expect("echo timed out")
                .expect("echo");
            assert_eq!(part[..], message[..100]);
        }
        stream.set_zero_linger().expect("SO_LINGER 0");
        drop(stream);
    }

    let reasons = server
        .log
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
    let server = Server::tcp(Limits::default()).await;
    let addr = server.addr;
    // Each sends its bytes and its FIN, then does not read (yet).
    let half_closed = blocking("half-closed clients", move || {
        (0..HALF_CLOSED)
            .map(|i| {
                let mut stream = connect(addr);
                stream.write_all(&patterned(SIZE, i)).expect("write");
                stream.shutdown(Shutdown::Write).expect("FIN");
                stream
            })
            .collect::<Vec<_>>()
    })
    .await;
    let peers: Vec<SocketAddr> = half_closed.iter().map(local).collect();

    blocking("200 round trips meanwhile", move || {
        let mut stream = connect(addr);
        for i in 0..200 {
            round_trip(&mut stream, format!("message {i}").as_bytes());
        }
    })
    .await;

    // The server finished echoing each half-closed client, then closed its side.
    for &peer in &peers {
        let (reason, bytes_in, bytes_out) = server.log.closed(peer).await;
        assert_eq!(
            (reason, bytes_in, bytes_out),
            (CloseReason::PeerClosed, SIZE as u64, SIZE as u64)
        );
    }
    blocking("the half-closed clients read their echo", move || {
        for (i, mut stream) in half_closed.into_iter().enumerate() {
            let mut echoed = Vec::new();
            stream.read_to_end(&mut echoed).expect("read to EOF");
            assert!(echoed == patterned(SIZE, i), "client {i}: echo differs");
        }
    })
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_does_not_hold_up_a_normal_client() {
    let server = Server::tcp(Limits::default()).await;
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
                let mut stream = connect(addr);
                for i in 0..1000 {
                    round_trip(
                        &mut stream,
                        format!("message {i:04} at full speed").as_bytes(),
                    );
                }
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
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if let Some(stuck) = stuck.take() {
                    let _ = stuck.send(());
                }
            }
            Err(err) => break format!("write failed: {err}"),
        }
    };
    HogReport { sent, ended }
}

/// A hog that has connected: its address, its stop flag, its "stuck" signal and its thread.
struct Hog {
    peer: SocketAddr,
    stop: Arc<AtomicBool>,
    stuck: oneshot::Receiver<()>,
    thread: thread::JoinHandle<HogReport>,
}

impl Hog {
    async fn start(addr: SocketAddr) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (connected_tx, connected) = oneshot::channel();
        let (stuck_tx, stuck) = oneshot::channel();
        let hog_stop = stop.clone();
        let thread = thread::spawn(move || hog(addr, hog_stop, connected_tx, stuck_tx));
        let peer = timeout(STEP, connected)
            .await
            .expect("the hog did not connect")
            .expect("the hog thread ended");
        Self {
            peer,
            stop,
            stuck,
            thread,
        }
    }

    /// Stops the hog (if the server has not already) and returns how its transfer ended.
    async fn finish(self) -> HogReport {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread;
        blocking("the hog ends", move || thread.join().expect("hog")).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_reads_is_dropped_and_memory_stays_bounded() {
    let server = Server::tcp(Limits {
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

    let (reason, bytes_in, bytes_out) = server.log.closed(hog.peer).await;
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
    let hog_ended = timeout(STEP, async {
        while !hog.thread.is_finished() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        hog_ended.is_ok(),
        "the hog kept writing after the server closed it"
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_peer_does_not_hold_up_others() {
    let server = Server::tcp(Limits {
        write_stall: Duration::from_secs(60),
        ..Limits::default()
    })
    .await;
    let addr = server.addr;
    let mut hog = Hog::start(addr).await;
    timeout(STEP, &mut hog.stuck)
        .await
        .expect("the hog never filled the buffers")
        .expect("the hog ended before it was stuck");
    blocking("200 round trips beside a stuck hog", move || {
        let mut stream = connect(addr);
        for i in 0..200 {
            round_trip(
                &mut stream,
                format!("message {i} beside a stuck hog").as_bytes(),
            );
        }
    })
    .await;
    {
        let seen = server.log.seen();
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
    let server = Server::tcp(limits).await;
    let addr = server.addr;
    let mut admitted = Vec::new();
    for _ in 0..4 {
        let client = blocking("connect", move || connect(addr)).await;
        server.log.connected(local(&client)).await;
        admitted.push(client);
    }
    for _ in 0..3 {
        let mut extra = blocking("connect", move || connect(addr)).await;
        let peer = local(&extra);
        let kind = server
            .log
            .wait_for(&format!("the verdict on {peer}"), |events| {
                events
                    .iter()
                    .find(|e| e.peer == peer)
                    .map(|e| e.kind.clone())
            })
            .await;
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
    server.log.closed(first_peer).await;
    let mut again = blocking("connect", move || connect(addr)).await;
    server.log.connected(local(&again)).await;
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

/// A UDP client on a free loopback port whose reads give up after 500 ms.
fn udp_client() -> StdUdp {
    let socket = StdUdp::bind("127.0.0.1:0").expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("read timeout");
    socket
}

fn timed_out(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Sends `payload` to `server` and returns the first datagram that comes back from it,
/// sending again (up to 10 times) if none does: a flood elsewhere on loopback can fill a
/// queue and the kernel then drops datagrams, as UDP allows.
fn udp_echo(socket: &StdUdp, server: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 65536];
    for _ in 0..10 {
        socket.send_to(payload, server).expect("send_to");
        loop {
            match socket.recv_from(&mut buf) {
                Ok((n, from)) if from == server => return buf[..n].to_vec(),
                Ok(_) => continue,
                Err(err) if timed_out(&err) => break,
                Err(err) => panic!("recv_from: {err}"),
            }
        }
    }
    panic!("no echo from {server} after 10 tries");
}

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
    let server = Server::udp(READ_SIZE).await;
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
    server
        .log
        .wait_for("the second source's datagram", |events| {
            events
                .iter()
                .find(|e| e.peer == second && matches!(e.kind, ServerEventKind::Datagram { .. }))
                .map(|_| ())
        })
        .await;
    // Loopback sources are exempt from the per-source rate limit (the limit itself is
    // unit-tested in src/net/udp.rs: only loopback exists here).
    let limited = server
        .log
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

fn local_udp(socket: &StdUdp) -> SocketAddr {
    socket.local_addr().expect("local_addr")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_from_a_privileged_source_port_is_never_answered() {
    // Port 7 is echo itself: the loop the guard prevents. Binding it needs root or
    // CAP_NET_BIND_SERVICE; 1023 is a fallback in case an echo service already holds 7.
    let Some(socket) = [7u16, 1023]
        .into_iter()
        .find_map(|port| StdUdp::bind(("127.0.0.1", port)).ok())
    else {
        eprintln!("skipped: cannot bind a UDP port below 1024 here (needs CAP_NET_BIND_SERVICE)");
        return;
    };
    let port = local_udp(&socket).port();
    let server = Server::udp(READ_SIZE).await;
    let addr = server.addr;
    socket.send_to(b"reflect me", addr).expect("send_to");
    let peer = local_udp(&socket);
    let kind = server
        .log
        .wait_for("the verdict on the privileged source", |events| {
            events
                .iter()
                .find(|e| e.peer == peer)
                .map(|e| e.kind.clone())
        })
        .await;
    assert_eq!(
        kind,
        ServerEventKind::Dropped {
            reason: DropReason::ReflectionGuard { port },
            count: 1
        }
    );
    // The server has decided (the event above), so waiting a little for a reply that would
    // already be on its way is enough: no reply is not a matter of speed.
    let reply = blocking("no reply", move || {
        socket
            .set_read_timeout(Some(Duration::from_millis(300)))
            .expect("read timeout");
        socket.recv_from(&mut [0u8; 64])
    })
    .await;
    assert!(
        reply.as_ref().is_err_and(timed_out),
        "a privileged source got {reply:?}"
    );
    // And the server is not simply dead.
    let echoed = blocking("an ordinary source", move || {
        udp_echo(&udp_client(), addr, b"ordinary")
    })
    .await;
    assert_eq!(echoed, b"ordinary");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_empty_and_largest_datagrams_echo_intact() {
    // A read size above the largest datagram: nothing may be cut.
    let server = Server::udp(echotui::net::MAX_READ_SIZE).await;
    let addr = server.addr;
    let largest = patterned(udp::MAX_DATAGRAM, 7);
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
    server
        .log
        .wait_for("both datagrams logged with their sizes", |events| {
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
    let server = Server::tcp(Limits {
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
        let (reason, ..) = server.log.closed(idle).await;
        assert_eq!(reason, CloseReason::IdleTimeout);
    }
    blocking("the idle clients see the close", move || {
        assert_closed_by_server(&mut silent);
        assert_closed_by_server(&mut went_quiet);
    })
    .await;

    let active = timeout(STEP, active)
        .await
        .expect("the active client timed out")
        .expect("the active client failed");
    let active_peer = local(&active);
    {
        let seen = server.log.seen();
        let conn = conn_of(&seen.events, active_peer).expect("admitted");
        assert_eq!(
            close_of(&seen.events, conn),
            None,
            "the active one stays open"
        );
    }
    drop(active);
    let (reason, ..) = server.log.closed(active_peer).await;
    assert_eq!(reason, CloseReason::PeerClosed);
    server.stop().await;
}
