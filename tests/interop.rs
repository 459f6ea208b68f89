//! Integration tests over real loopback sockets (ARCHITECTURE.md §7).
//!
//! Our server against plain blocking `std::net` clients; our client actor against foreign echo
//! servers (a `std::net` one, the tutorial's Python server, socat, ncat) and against peers that
//! misbehave (echo other bytes, greet first, close, refuse, send terminal escapes). Every socket
//! is on 127.0.0.1 with a port the OS picked, and every wait is bounded: awaits by
//! `tokio::time::timeout`, blocking socket calls by read/write timeouts.

mod common;

use std::collections::HashSet;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::{IO_TIMEOUT, echo_until_eof, std_echo_server};
use echotui::net::client::{self, ClientCommand, ClientHandle, ClientSettings, Message};
use echotui::net::event::{
    self, ClientEvent, CloseReason, EventStream, NetEvent, ServerEvent, ServerEventKind,
};
use echotui::net::server::{self, Limit, Limits, ServerCommand, ServerControl, ServerSettings};
use echotui::stats::{EchoUpdate, MessageId};
use echotui::text::sanitize;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

/// The longest any single wait may take before the test fails instead of hanging.
const STEP: Duration = Duration::from_secs(10);
/// Pause between two polls of something that has no event to await (a child process).
const POLL: Duration = Duration::from_millis(10);
/// The tutorial's message.
const HELLO: &[u8] = b"Hello, World!";
/// A peer trying to retitle the terminal, clear the screen and reverse the text that follows.
const HOSTILE: &[u8] = b"\x1b]0;pwned\x07\x1b[2J\xe2\x80\xaeevil\0\xff";

/// Bytes that differ from their neighbours, so a lost, doubled or reordered slice is a mismatch.
fn patterned(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Runs blocking socket code off the async threads, bounded like every other wait.
async fn blocking<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    timeout(STEP, tokio::task::spawn_blocking(f))
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
        .unwrap_or_else(|err| panic!("{what} panicked: {err}"))
}

/// A blocking client socket whose every call gives up after [`IO_TIMEOUT`].
fn std_connect(addr: SocketAddr) -> StdStream {
    let stream = StdStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect");
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .expect("read timeout");
    stream
        .set_write_timeout(Some(IO_TIMEOUT))
        .expect("write timeout");
    stream
}

/// A `std::net` peer that accepts one connection and hands it to `serve`, on its own thread.
fn std_peer(serve: impl FnOnce(StdStream) + Send + 'static) -> SocketAddr {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
            serve(stream);
        }
    });
    addr
}

/// A loopback port nobody listens on (bound, then released).
fn free_port() -> u16 {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("local_addr").port()
}

// ---------------------------------------------------------------------------------------------
// Our server.

/// Our echo server running on a free loopback port, with its event stream.
struct Server {
    addr: SocketAddr,
    control: ServerControl,
    events: EventStream,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl Server {
    async fn start(settings: ServerSettings) -> Self {
        Self::start_reading(settings, echotui::net::DEFAULT_READ_SIZE).await
    }

    async fn start_reading(settings: ServerSettings, read_size: usize) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        let (sink, events) = event::channel(4096);
        let shutdown = CancellationToken::new();
        let control = ServerControl::new(read_size);
        let task = tokio::spawn(server::run(
            listener,
            settings,
            control.clone(),
            sink,
            shutdown.clone(),
        ));
        Self {
            addr,
            control,
            events,
            shutdown,
            task,
        }
    }

    /// The next server event (failing on anything else the server reports). The TCP states
    /// a close goes through are left out: `tests/kernel.rs` is about them.
    async fn next(&mut self, what: &str) -> ServerEvent {
        loop {
            match timeout(STEP, self.events.recv()).await {
                Ok(Some(NetEvent::Server(ServerEvent {
                    kind: ServerEventKind::TcpState(_),
                    ..
                }))) => continue,
                Ok(Some(NetEvent::Server(event))) => return event,
                Ok(other) => panic!("expected a server event ({what}), got {other:?}"),
                Err(_) => panic!("timed out waiting for {what}"),
            }
        }
    }

    /// The lengths of the reads the server did until they add up to `total` bytes.
    async fn reads(&mut self, total: usize) -> (Vec<usize>, Vec<u8>) {
        let (mut lens, mut previews) = (Vec::new(), Vec::new());
        while lens.iter().sum::<usize>() < total {
            if let ServerEventKind::Read { len, preview } = self.next("a read").await.kind {
                lens.push(len);
                previews.extend_from_slice(&preview);
            }
        }
        assert_eq!(
            lens.iter().sum::<usize>(),
            total,
            "reads {lens:?} overshoot {total} bytes"
        );
        (lens, previews)
    }

    /// Cancels the server and waits for `run` to return (it waits for its connections).
    async fn stop(self) {
        self.shutdown.cancel();
        timeout(STEP, self.task)
            .await
            .expect("server::run did not return after cancel")
            .expect("server task panicked");
    }
}

/// Has a blocking client send `message` to our server and read it back; returns the server's
/// reads (lengths and the concatenated previews).
async fn reads_for(read_size: usize, message: Vec<u8>) -> (Vec<usize>, Vec<u8>) {
    let mut server = Server::start_reading(ServerSettings::default(), read_size).await;
    let addr = server.addr;
    let sent = message.clone();
    let echoed = blocking("blocking client round trip", move || {
        let mut stream = std_connect(addr);
        stream.write_all(&sent).expect("write");
        let mut back = vec![0; sent.len()];
        stream.read_exact(&mut back).expect("read the echo");
        back
    })
    .await;
    assert!(echoed == message, "the echo differs from what was sent");
    let reads = server.reads(message.len()).await;
    server.stop().await;
    reads
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_echoes_hello_world_to_a_blocking_client() {
    let mut server = Server::start(ServerSettings::default()).await;
    let addr = server.addr;
    let (local, echoed) = blocking("blocking client round trip", move || {
        let mut stream = std_connect(addr);
        stream.write_all(HELLO).expect("write");
        let mut back = [0u8; 13];
        stream.read_exact(&mut back).expect("read the echo");
        (stream.local_addr().expect("local_addr"), back)
    })
    .await;
    assert_eq!(&echoed, HELLO);

    let connected = server.next("the connection").await;
    assert_eq!(connected.kind, ServerEventKind::Connected);
    assert_eq!(connected.peer, local);
    let (lens, previews) = server.reads(HELLO.len()).await;
    assert!(lens.iter().all(|&n| n <= 1024), "{lens:?}");
    assert_eq!(previews, HELLO);
    // The client closed its socket at the end of the closure: a FIN, counted both ways.
    let closed = server.next("the close").await;
    assert_eq!(closed.conn, connected.conn);
    let ServerEventKind::Closed {
        reason,
        bytes_in,
        bytes_out,
        tcp,
    } = closed.kind
    else {
        panic!("expected the close, got {closed:?}");
    };
    assert_eq!(
        (reason, bytes_in, bytes_out),
        (CloseReason::PeerClosed, 13, 13)
    );
    // The server's own socket knew its round trip to this plain client.
    if cfg!(target_os = "linux") {
        assert!(tcp.is_some_and(|tcp| !tcp.rtt.is_zero()), "{tcp:?}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_reads_at_most_read_size_bytes_at_a_time() {
    let (lens, _) = reads_for(1024, patterned(4096)).await;
    assert!(lens.iter().all(|&n| (1..=1024).contains(&n)), "{lens:?}");
    assert_eq!(lens.iter().sum::<usize>(), 4096);

    let (lens, previews) = reads_for(7, HELLO.to_vec()).await;
    assert!(
        lens.len() >= 2,
        "13 bytes cannot fit one 7-byte read: {lens:?}"
    );
    assert!(lens.iter().all(|&n| (1..=7).contains(&n)), "{lens:?}");
    assert_eq!(previews, HELLO, "the reads, in order, are the message");
}

/// `/read 7` typed while a connection sits idle applies to that connection's very next read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_size_changes_apply_to_idle_connections_at_once() {
    let mut server = Server::start(ServerSettings::default()).await;
    let addr = server.addr;
    let mut stream = blocking("connect", move || std_connect(addr)).await;
    server.next("connected").await;
    server.control.apply(ServerCommand::SetReadSize(7));
    blocking("send and echo", move || {
        stream.write_all(b"Hello, World!").expect("write");
        let mut echo = [0u8; 13];
        stream.read_exact(&mut echo).expect("echo");
        assert_eq!(&echo, b"Hello, World!");
    })
    .await;
    let (lens, data) = server.reads(13).await;
    assert_eq!(lens, [7, 6]);
    assert_eq!(data, b"Hello, World!");
    server.stop().await;
}

/// `/pause` stops reading: the bytes wait (nothing is lost) and arrive after `/resume`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_server_holds_bytes_until_resumed() {
    let mut server = Server::start(ServerSettings::default()).await;
    let addr = server.addr;
    let mut stream = blocking("connect", move || std_connect(addr)).await;
    server.next("connected").await;
    server.control.apply(ServerCommand::Pause);
    let (tx, rx) = mpsc::channel();
    let client = thread::spawn(move || {
        stream.write_all(b"wait for me").expect("write");
        let mut echo = [0u8; 11];
        let echoed = stream.read_exact(&mut echo).map(|()| echo);
        let _ = tx.send(echoed);
    });
    // While paused nothing is read: no event, no echo (checked for a short while only: this
    // asserts an absence, it cannot fail because the machine is slow).
    let early = timeout(Duration::from_millis(300), server.events.recv()).await;
    assert!(early.is_err(), "the server reported {early:?} while paused");
    assert!(rx.try_recv().is_err(), "echo arrived while paused");
    server.control.apply(ServerCommand::Resume);
    let (lens, _) = server.reads(11).await;
    assert_eq!(lens.iter().sum::<usize>(), 11);
    let echoed = blocking("echo after resume", move || rx.recv_timeout(IO_TIMEOUT)).await;
    assert_eq!(&echoed.expect("reported").expect("echo"), b"wait for me");
    client.join().expect("client thread");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_turns_away_connections_over_the_per_ip_limit() {
    let mut server = Server::start(ServerSettings {
        limits: Limits {
            max_per_ip: 2,
            ..Limits::default()
        },
        ..ServerSettings::default()
    })
    .await;
    let addr = server.addr;
    let first = std_connect(addr);
    let _second = std_connect(addr);
    for _ in 0..2 {
        assert_eq!(
            server.next("a connection").await.kind,
            ServerEventKind::Connected
        );
    }

    let mut third = std_connect(addr);
    let rejected = server.next("the rejection").await;
    assert_eq!(
        rejected.kind,
        ServerEventKind::Rejected {
            limit: Limit::MaxPerIp(2),
            count: 1
        }
    );
    assert_eq!(rejected.peer, third.local_addr().expect("local_addr"));
    let read = blocking("the rejected client's read", move || {
        third.read(&mut [0u8; 16])
    })
    .await;
    match read {
        Ok(0) => {}
        Err(err) if err.kind() == io::ErrorKind::ConnectionReset => {}
        other => panic!("a rejected connection must be closed, read gave {other:?}"),
    }

    // The connections within the limit are untouched.
    let echoed = blocking("an accepted client's round trip", move || {
        let mut first = first;
        first.write_all(HELLO).expect("write");
        let mut back = [0u8; 13];
        first.read_exact(&mut back).expect("read the echo");
        back
    })
    .await;
    assert_eq!(&echoed, HELLO);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_stops_on_cancel_closes_connections_and_frees_its_port() {
    let mut server = Server::start(ServerSettings::default()).await;
    let addr = server.addr;
    let mut client = std_connect(addr);
    assert_eq!(
        server.next("the connection").await.kind,
        ServerEventKind::Connected
    );

    server.shutdown.cancel();
    let closed = server.next("the close").await;
    assert!(
        matches!(
            closed.kind,
            ServerEventKind::Closed {
                reason: CloseReason::Shutdown,
                ..
            }
        ),
        "{closed:?}"
    );
    let read = blocking("the client's read", move || client.read(&mut [0u8; 16])).await;
    assert!(
        matches!(read, Ok(0)),
        "the server closes its connections: {read:?}"
    );
    timeout(STEP, server.task)
        .await
        .expect("server::run did not return after cancel")
        .expect("server task panicked");
    // Binding the very same address again proves the listener is gone.
    StdListener::bind(addr).expect("the port is free once run() returned");
}

// ---------------------------------------------------------------------------------------------
// Our client actor.

/// Our client actor, its events, and its shutdown (cancelled on drop).
struct Client {
    handle: ClientHandle,
    events: EventStream,
    shutdown: CancellationToken,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Client {
    fn spawn(target: SocketAddr) -> Self {
        Self::spawn_with(target, ClientSettings::default())
    }

    fn spawn_with(target: SocketAddr, settings: ClientSettings) -> Self {
        let (sink, events) = event::channel(1024);
        let shutdown = CancellationToken::new();
        let handle = client::spawn(target, settings, None, sink, shutdown.clone());
        Self {
            handle,
            events,
            shutdown,
        }
    }

    /// The next event, but for `Queued` (a busy test machine may hold a message up for a
    /// millisecond or two, which the client rightly reports; only one test looks for it) and
    /// the kernel's word on the socket (`tests/kernel.rs` is about that).
    async fn next(&mut self, what: &str) -> ClientEvent {
        loop {
            match self.next_any(what).await {
                // Beside the lessons here: a queue wait, the kernel's word on the socket.
                ClientEvent::Queued { .. }
                | ClientEvent::TcpState(_)
                | ClientEvent::UserClockEchoes(_) => {}
                event => return event,
            }
        }
    }

    async fn next_any(&mut self, what: &str) -> ClientEvent {
        match timeout(STEP, self.events.recv()).await {
            Ok(Some(NetEvent::Client(event))) => event,
            Ok(other) => panic!("expected a client event ({what}), got {other:?}"),
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }

    fn command(&self, command: ClientCommand) {
        self.handle
            .command(command)
            .expect("the client takes the command");
    }

    /// Sends one message.
    fn send(&self, id: MessageId, bytes: &[u8]) {
        self.command(ClientCommand::Send(vec![Message {
            id,
            bytes: bytes.into(),
            pieces: None,
        }]));
    }

    /// Waits for `Connected` (a `Connecting` may come first); returns our local address.
    async fn connected(&mut self) -> SocketAddr {
        loop {
            match self.next("the connection").await {
                ClientEvent::Connecting { .. } => {}
                ClientEvent::Connected { local, .. } => return local,
                other => panic!("expected to connect, got {other:?}"),
            }
        }
    }

    /// Waits until every message in `ids` is echoed intact (partial echoes may come first).
    async fn echoed(&mut self, ids: &[MessageId]) {
        let mut pending: HashSet<MessageId> = ids.iter().copied().collect();
        while !pending.is_empty() {
            match self.next("the echoes").await {
                ClientEvent::Echo(EchoUpdate::Partial { .. }) => {}
                ClientEvent::Echo(EchoUpdate::Echoed { id, .. }) => {
                    assert!(
                        pending.remove(&id),
                        "message {id} echoed twice or never sent"
                    );
                }
                other => panic!("while waiting for echoes of {pending:?}: {other:?}"),
            }
        }
    }

    /// Waits for the connection to end and says why.
    async fn closed(&mut self) -> CloseReason {
        loop {
            match self.next("the close").await {
                ClientEvent::Closed(reason) => return reason,
                ClientEvent::Connecting { .. } => {}
                other => panic!("expected the connection to close, got {other:?}"),
            }
        }
    }
}

/// Connects to `target` and has it echo the tutorial message and a 5000-byte one.
async fn echo_two_messages(target: SocketAddr) -> Client {
    let mut client = Client::spawn(target);
    client.connected().await;
    client.send(1, HELLO);
    client.send(2, &patterned(5000));
    client.echoed(&[1, 2]).await;
    client
}

/// Whether `program` can be started at all (it is installed).
fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// A child process that is killed (if still running) and reaped when the test ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Reaped {
    fn spawn(command: &mut Command) -> Self {
        let child = command
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {command:?}: {err}"));
        Self(child)
    }

    async fn exit_status(&mut self) -> ExitStatus {
        let waiting = async {
            loop {
                if let Some(status) = self.0.try_wait().expect("try_wait") {
                    return status;
                }
                tokio::time::sleep(POLL).await;
            }
        };
        timeout(STEP, waiting)
            .await
            .expect("the child did not exit")
    }

    /// Waits until the child accepts connections on `addr` (it must not exit meanwhile).
    async fn wait_connectable(&mut self, addr: SocketAddr) {
        let waiting = async {
            loop {
                if let Some(status) = self.0.try_wait().expect("try_wait") {
                    panic!("the server exited before listening: {status}");
                }
                if StdStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                    return;
                }
                tokio::time::sleep(POLL).await;
            }
        };
        timeout(STEP, waiting)
            .await
            .expect("the server never listened");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_echoes_through_a_std_net_server() {
    let (addr, _server) = std_echo_server(1);
    echo_two_messages(addr).await;
}

/// The classic tutorial server, bound to a free port it prints first.
const TUTORIAL_SERVER: &str = r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(('127.0.0.1', 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
conn, addr = s.accept()
while True:
    data = conn.recv(1024)
    if not data:
        break
    conn.sendall(data)
conn.close()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_echoes_through_the_python_tutorial_server() {
    if !installed("python3") {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let mut python = Reaped::spawn(
        Command::new("python3")
            .args(["-c", TUTORIAL_SERVER])
            .stdout(Stdio::piped()),
    );
    let stdout = python.0.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(STEP).expect("python3 printed no port");
    let port: u16 = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("not a port: {line:?}"));

    let client = echo_two_messages(SocketAddr::from(([127, 0, 0, 1], port))).await;
    // Our close is a clean FIN: the tutorial loop sees b'' and the script ends normally.
    drop(client);
    let status = python.exit_status().await;
    assert!(status.success(), "python3 exited with {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_echoes_through_socat() {
    if !installed("socat") {
        eprintln!("skipped: socat is not installed");
        return;
    }
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    // `fork`: the readiness probe below gets its own child and does not use up the listener.
    let mut socat = Reaped::spawn(
        Command::new("socat")
            .arg(format!(
                "TCP-LISTEN:{},bind=127.0.0.1,reuseaddr,fork",
                addr.port()
            ))
            .arg("PIPE")
            .stdout(Stdio::null()),
    );
    socat.wait_connectable(addr).await;
    echo_two_messages(addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_echoes_through_ncat() {
    if !installed("ncat") {
        eprintln!("skipped: ncat is not installed");
        return;
    }
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut ncat = Reaped::spawn(
        Command::new("ncat")
            .args(["-l", "--keep-open", "--exec", "/bin/cat", "127.0.0.1"])
            .arg(addr.port().to_string())
            .stdout(Stdio::null()),
    );
    ncat.wait_connectable(addr).await;
    echo_two_messages(addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_flags_an_echo_with_different_bytes_as_a_mismatch() {
    let addr = std_peer(|mut stream| {
        let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
        let mut buf = [0u8; 1024];
        while let Ok(n @ 1..) = stream.read(&mut buf) {
            if stream.write_all(&buf[..n].to_ascii_uppercase()).is_err() {
                return;
            }
        }
    });
    let mut client = Client::spawn(addr);
    client.connected().await;
    client.send(1, b"hello");
    loop {
        match client.next("the mismatch").await {
            ClientEvent::Echo(EchoUpdate::Partial { .. }) => {}
            ClientEvent::Echo(EchoUpdate::Mismatch { id, echoed }) => {
                assert_eq!((id, echoed.as_slice()), (1, &b"HELLO"[..]));
                break;
            }
            other => panic!("expected a mismatch, got {other:?}"),
        }
    }
}

/// Collects `Unsolicited` bytes until `len` of them arrived (a peer's write may be split).
async fn unsolicited(client: &mut Client, len: usize) -> Vec<u8> {
    let mut received = Vec::new();
    while received.len() < len {
        match client.next("unsolicited bytes").await {
            ClientEvent::Echo(EchoUpdate::Unsolicited { bytes }) => received.extend(bytes),
            other => panic!("expected unsolicited bytes, got {other:?}"),
        }
    }
    received
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_reports_a_greeting_as_unsolicited_then_matches_echoes() {
    const GREETING: &[u8] = b"220 echo ready\r\n";
    let addr = std_peer(|mut stream| {
        if stream.write_all(GREETING).is_ok() {
            echo_until_eof(stream);
        }
    });
    let mut client = Client::spawn(addr);
    client.connected().await;
    assert_eq!(unsolicited(&mut client, GREETING.len()).await, GREETING);
    client.send(1, HELLO);
    client.echoed(&[1]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bytes_arrive_unsolicited_and_sanitize_to_printable_text() {
    let addr = std_peer(|mut stream| {
        if stream.write_all(HOSTILE).is_ok() {
            echo_until_eof(stream);
        }
    });
    let mut client = Client::spawn(addr);
    client.connected().await;
    let bytes = unsolicited(&mut client, HOSTILE.len()).await;
    assert_eq!(bytes, HOSTILE);

    let text = sanitize(&bytes);
    let controls: Vec<char> = text.chars().filter(|c| c.is_control()).collect();
    assert!(
        controls.is_empty(),
        "{text:?} still holds controls {controls:?}"
    );
    assert!(
        !text.contains('\u{202E}'),
        "{text:?} still reverses what follows"
    );
    assert!(
        text.contains("pwned") && text.contains("evil"),
        "{text:?} hides the text"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_sees_the_peer_close_then_reconnects_to_a_new_listener() {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let mut client = Client::spawn(addr);
    client.connected().await;
    // The handshake is done, so accept() returns at once.
    let (stream, _) = listener.accept().expect("accept");
    drop(stream);
    assert_eq!(client.closed().await, CloseReason::PeerClosed);
    drop(listener);

    // std sets SO_REUSEADDR, so the same address binds again despite TIME_WAIT.
    let listener = StdListener::bind(addr).expect("bind the same address again");
    client.command(ClientCommand::Reconnect);
    client.connected().await;
    let (stream, _) = listener.accept().expect("accept");
    thread::spawn(move || echo_until_eof(stream));
    client.send(1, HELLO);
    client.echoed(&[1]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_reports_a_refused_connection() {
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut client = Client::spawn(addr);
    assert_eq!(client.closed().await, CloseReason::Refused);
}

/// Connects a client to a `std::net` peer, has it `Reset`, and returns what the peer's first
/// read gave.
async fn peer_read_after_reset() -> io::Result<usize> {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let mut client = Client::spawn(addr);
    client.connected().await;
    let (mut stream, _) = listener.accept().expect("accept");
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .expect("read timeout");

    client.command(ClientCommand::Reset);
    assert_eq!(client.closed().await, CloseReason::ResetByUs);
    blocking("the peer's read", move || stream.read(&mut [0u8; 16])).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_reset_reports_reset_by_us_and_ends_the_connection() {
    match peer_read_after_reset().await {
        Ok(0) => {}
        Err(err) if err.kind() == io::ErrorKind::ConnectionReset => {}
        other => panic!("the peer's connection must end, its read gave {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_reset_sends_rst_not_fin() {
    match peer_read_after_reset().await {
        Err(err) => assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}"),
        Ok(n) => panic!("expected an RST, the peer read {n} bytes (0 = a FIN: a graceful close)"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_half_close_lets_our_server_finish_echoing_then_close() {
    const LEN: usize = 100_000;
    let mut server = Server::start(ServerSettings::default()).await;
    let mut client = Client::spawn(server.addr);
    client.connected().await;
    // The FIN follows 100 kB the server has not echoed yet: it must finish before closing.
    client.send(1, &patterned(LEN));
    client.command(ClientCommand::HalfClose);

    let (mut half_closed, mut echoed) = (false, false);
    loop {
        match client.next("half-close, echo, close").await {
            // Reported by the writer, so it may come before or after (part of) the echo.
            ClientEvent::HalfClosed => half_closed = true,
            ClientEvent::Echo(EchoUpdate::Partial { id: 1, .. }) => {}
            ClientEvent::Echo(EchoUpdate::Echoed { id: 1, .. }) => echoed = true,
            ClientEvent::Closed(reason) => {
                assert_eq!(reason, CloseReason::PeerClosed);
                assert!(echoed, "the server closed before echoing everything");
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    if !half_closed {
        assert_eq!(client.next("the half-close").await, ClientEvent::HalfClosed);
    }

    let closed = loop {
        let event = server.next("the server's close").await;
        if let ServerEventKind::Closed {
            reason,
            bytes_in,
            bytes_out,
            ..
        } = event.kind
        {
            break (reason, bytes_in, bytes_out);
        }
    };
    assert_eq!(closed, (CloseReason::PeerClosed, LEN as u64, LEN as u64));
    server.stop().await;
}

// The protocol lab: Nagle, resets seen by our server, and UDP.

/// With Nagle on, twenty 1-byte writes back to back leave in fewer segments than writes (each
/// waits for the previous one's ACK), so our server reads them in fewer than twenty reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nagle_on_coalesces_back_to_back_small_writes() {
    let mut server = Server::start(ServerSettings::default()).await;
    let settings = ClientSettings {
        nodelay: false,
        ..ClientSettings::default()
    };
    let mut client = Client::spawn_with(server.addr, settings);
    client.connected().await;
    server.next("connected").await;
    let one_byte = (1..21)
        .map(|id| Message {
            id,
            bytes: b"x".as_slice().into(),
            pieces: None,
        })
        .collect();
    client.command(ClientCommand::Send(one_byte));
    let ids: Vec<MessageId> = (1..21).collect();
    client.echoed(&ids).await;
    let (lens, _) = server.reads(20).await;
    assert!(
        lens.len() < 20,
        "20 one-byte writes arrived in {} reads: {lens:?}",
        lens.len()
    );
    server.stop().await;
}

/// `/reset` is seen by our server as a reset, not as a clean close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_reports_a_client_reset_as_reset() {
    let mut server = Server::start(ServerSettings::default()).await;
    let mut client = Client::spawn(server.addr);
    client.connected().await;
    server.next("connected").await;
    client.command(ClientCommand::Reset);
    assert_eq!(client.closed().await, CloseReason::ResetByUs);
    let kind = server.next("the server's close").await.kind;
    let ServerEventKind::Closed { reason, .. } = kind else {
        panic!("expected a close, got {kind:?}");
    };
    assert_eq!(reason, CloseReason::Reset);
    server.stop().await;
}

/// Our UDP server on a free loopback port, with its events.
async fn udp_server(read_size: usize) -> (SocketAddr, EventStream, CancellationToken) {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind udp");
    let addr = socket.local_addr().expect("local_addr");
    let (sink, events) = event::channel(1024);
    let shutdown = CancellationToken::new();
    tokio::spawn(echotui::net::udp::run(
        socket,
        ServerSettings::default(),
        ServerControl::new(read_size),
        sink,
        shutdown.clone(),
    ));
    (addr, events, shutdown)
}

async fn next_server_event(events: &mut EventStream) -> ServerEventKind {
    match timeout(STEP, events.recv()).await {
        Ok(Some(NetEvent::Server(event))) => event.kind,
        other => panic!("expected a server event, got {other:?}"),
    }
}

/// A datagram larger than the read size comes back cut, as `recv` with a small buffer does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_server_cuts_datagrams_to_the_read_size() {
    let (addr, mut events, shutdown) = udp_server(7).await;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    socket.send_to(HELLO, addr).await.expect("send");
    let mut buf = [0u8; 64];
    let (n, _) = timeout(STEP, socket.recv_from(&mut buf))
        .await
        .expect("reply")
        .expect("recv");
    assert_eq!(&buf[..n], b"Hello, ");
    let kind = next_server_event(&mut events).await;
    assert_eq!(
        kind,
        ServerEventKind::Datagram {
            len: 7,
            sent_len: 13,
            preview: b"Hello, ".to_vec()
        }
    );
    // Zero-length and maximum-size datagrams are echoed too (at a large enough read size).
    shutdown.cancel();
    let (addr, _events, shutdown) = udp_server(65_536).await;
    for size in [0, echotui::net::udp::MAX_DATAGRAM] {
        let payload = patterned(size);
        socket.send_to(&payload, addr).await.expect("send");
        let mut buf = vec![0u8; 65_536];
        let (n, _) = timeout(STEP, socket.recv_from(&mut buf))
            .await
            .expect("reply")
            .expect("recv");
        assert_eq!(&buf[..n], &payload[..], "{size}-byte datagram");
    }
    shutdown.cancel();
}

/// The reflection guard: a datagram from port 7 (another echo server, or a spoofed one) is
/// never answered, so two echo servers cannot be made to bounce a packet forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_server_never_answers_a_well_known_source_port() {
    let (addr, mut events, shutdown) = udp_server(1024).await;
    let socket = match tokio::net::UdpSocket::bind("127.0.0.1:7").await {
        Ok(socket) => socket,
        Err(err) => {
            eprintln!("skipped: cannot bind UDP port 7 here ({err}); needs root");
            return;
        }
    };
    socket.send_to(b"loop?", addr).await.expect("send");
    let kind = next_server_event(&mut events).await;
    assert_eq!(
        kind,
        ServerEventKind::Dropped {
            reason: echotui::net::udp::DropReason::ReflectionGuard { port: 7 },
            count: 1
        }
    );
    let mut buf = [0u8; 16];
    // An absence, checked for a short while: it cannot fail because the machine is slow.
    assert!(
        timeout(Duration::from_millis(300), socket.recv_from(&mut buf))
            .await
            .is_err(),
        "the server answered port 7"
    );
    shutdown.cancel();
}

/// The client over UDP: echoes matched by payload, and a datagram to nowhere reported lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_client_matches_replies_and_reports_loss() {
    let (addr, _events, shutdown) = udp_server(1024).await;
    let settings = ClientSettings {
        transport: echotui::net::Transport::Udp,
        reply_timeout: Duration::from_millis(200),
        ..ClientSettings::default()
    };
    let mut client = Client::spawn_with(addr, settings);
    client.connected().await;
    client.send(1, HELLO);
    client.echoed(&[1]).await;
    // Stop the server: the next datagram cannot be answered.
    shutdown.cancel();
    tokio::time::sleep(Duration::from_millis(50)).await;
    client.send(2, b"anyone?");
    loop {
        match client.next("the loss").await {
            ClientEvent::Echo(EchoUpdate::Lost { id }) => {
                assert_eq!(id, 2);
                break;
            }
            // The closed port may answer with ICMP, reported as a problem first.
            ClientEvent::Problem(_) => {}
            other => panic!("expected a loss, got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Every message ends with exactly one outcome.

/// A UDP socket that reads datagrams and never answers: a server that lost them all.
fn silent_udp_peer() -> (SocketAddr, std::net::UdpSocket) {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    (socket.local_addr().expect("local_addr"), socket)
}

/// With nothing else happening (no reply, no other send), a datagram is declared lost at its
/// deadline: the reader must wake for it even though nothing was outstanding when it slept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_unanswered_datagram_is_declared_lost_at_its_deadline() {
    let (addr, _peer) = silent_udp_peer();
    let reply_timeout = Duration::from_millis(300);
    let settings = ClientSettings {
        transport: echotui::net::Transport::Udp,
        reply_timeout,
        ..ClientSettings::default()
    };
    let mut client = Client::spawn_with(addr, settings);
    client.connected().await;
    // Let the reader go to sleep with nothing outstanding first.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let sent = std::time::Instant::now();
    client.send(1, b"one");
    match client.next("the loss").await {
        ClientEvent::Echo(EchoUpdate::Lost { id: 1 }) => {}
        other => panic!("expected message 1 lost, got {other:?}"),
    }
    assert!(
        sent.elapsed() >= reply_timeout,
        "declared lost before its deadline"
    );
}

/// Messages outstanding when the client switches transport are abandoned, each once, and the
/// close says why: never "closed by peer", however the race between our FIN and the reader
/// goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_transport_abandons_what_is_outstanding_and_says_why() {
    let server = Server::start(ServerSettings::default()).await;
    for round in 0..10 {
        let mut client = Client::spawn(server.addr);
        client.connected().await;
        server.control.apply(ServerCommand::Pause);
        client.send(1, b"never echoed");
        client.send(2, b"nor this");
        tokio::time::sleep(Duration::from_millis(round)).await;
        client.command(ClientCommand::SetTransport(echotui::net::Transport::Udp));
        let mut abandoned = Vec::new();
        loop {
            match client.next("the switch").await {
                ClientEvent::Closed(reason) => assert_eq!(
                    reason,
                    CloseReason::SwitchingTransport(echotui::net::Transport::Udp),
                    "round {round}"
                ),
                ClientEvent::Echo(EchoUpdate::Abandoned { id }) => abandoned.push(id),
                ClientEvent::Connecting { .. } => {}
                ClientEvent::Connected { .. } => break,
                other => panic!("round {round}: {other:?}"),
            }
        }
        assert_eq!(abandoned, [1, 2], "round {round}");
        server.control.apply(ServerCommand::Resume);
    }
}

/// A reconnect with a message half echoed abandons it; the new connection echoes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_abandons_the_half_echoed_message() {
    let server = Server::start(ServerSettings::default()).await;
    let mut client = Client::spawn(server.addr);
    client.connected().await;
    server.control.apply(ServerCommand::Pause);
    client.send(1, HELLO);
    client.command(ClientCommand::Reconnect);
    match client.next("the outcome").await {
        ClientEvent::Echo(EchoUpdate::Abandoned { id: 1 }) => {}
        other => panic!("expected message 1 abandoned, got {other:?}"),
    }
    assert_eq!(client.closed().await, CloseReason::Reconnecting);
    client.connected().await;
    server.control.apply(ServerCommand::Resume);
    client.send(2, HELLO);
    client.echoed(&[2]).await;
}

/// A message queued behind a blocked write says how long it waited for the socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_queued_behind_a_blocked_write_reports_its_wait() {
    let server = Server::start(ServerSettings::default()).await;
    let mut client = Client::spawn(server.addr);
    client.connected().await;
    server.control.apply(ServerCommand::Pause);
    // Far more than both socket buffers hold: the write blocks until the server reads.
    client.send(1, &patterned(16 << 20));
    client.send(2, HELLO);
    loop {
        match client.next("the block").await {
            ClientEvent::SendBlocked => break,
            ClientEvent::Echo(EchoUpdate::Partial { .. }) => {}
            other => panic!("expected the write to block, got {other:?}"),
        }
    }
    server.control.apply(ServerCommand::Resume);
    loop {
        match client.next_any("message 2's wait").await {
            ClientEvent::Queued { id: 2, waited } => {
                assert!(waited >= Duration::from_millis(250), "{waited:?}");
                break;
            }
            ClientEvent::Echo(_)
            | ClientEvent::SendUnblocked
            | ClientEvent::Queued { id: 1, .. } => {}
            other => panic!("expected message 2 to report its wait, got {other:?}"),
        }
    }
    loop {
        match client.next("message 2's echo").await {
            ClientEvent::Echo(EchoUpdate::Echoed { id: 2, .. }) => break,
            ClientEvent::Echo(EchoUpdate::Partial { .. } | EchoUpdate::Echoed { id: 1, .. })
            | ClientEvent::SendUnblocked => {}
            other => panic!("expected message 2's echo, got {other:?}"),
        }
    }
}
