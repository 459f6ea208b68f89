//! Integration tests over real loopback sockets (ARCHITECTURE.md §7).
//!
//! Our server against plain blocking `std::net` clients; our client actor against a `std::net`
//! echo server and against peers that misbehave (echo other bytes, greet first, close, refuse,
//! send terminal escapes). The foreign echo servers (the tutorial's Python server, socat, ncat)
//! are in `tests/needs.rs`, which says so when one is not installed. Every socket is on
//! 127.0.0.1 with a port the OS picked, and every wait is bounded: awaits by
//! `tokio::time::timeout`, blocking socket calls by read/write timeouts.

mod common;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::client::{Client, echo_two_messages};
use common::payloads::{HELLO, HOSTILE, patterned};
use common::peers::{
    echo_loop, echo_until_eof, greet_then_echo, refusing_addr, std_echo_server, std_peer,
};
use common::servers::{READ_SIZE, Server};
use common::sockets::{connect, local, round_trip};
use common::{IO_TIMEOUT, blocking, within};
use echotui::net::client::{ClientCommand, ClientSettings, Message};
use echotui::net::event::{ClientEvent, CloseReason, ServerEventKind};
use echotui::net::server::{Limit, Limits, ServerCommand, ServerControl, ServerSettings};
use echotui::net::{Transport, udp};
use echotui::stats::{EchoUpdate, MessageId};
use echotui::text::sanitize;

// ---------------------------------------------------------------------------------------------
// Our server.

/// Has a blocking client send `message` to our server and read it back; returns the server's
/// reads (lengths and the concatenated previews).
async fn reads_for(read_size: usize, message: Vec<u8>) -> (Vec<usize>, Vec<u8>) {
    let (server, mut events) = Server::logged(
        Transport::Tcp,
        ServerSettings::default(),
        ServerControl::new(read_size),
    )
    .await;
    let addr = server.addr;
    let sent = message.clone();
    blocking("blocking client round trip", move || {
        round_trip(&mut connect(addr), &sent);
    })
    .await;
    let reads = events.reads(message.len()).await;
    server.stop().await;
    reads
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_echoes_hello_world_to_a_blocking_client() {
    let (server, mut events) = Server::tcp(Limits::default()).await;
    let addr = server.addr;
    let local = blocking("blocking client round trip", move || {
        let mut stream = connect(addr);
        round_trip(&mut stream, HELLO);
        local(&stream)
    })
    .await;

    let connected = events.next("the connection").await;
    assert_eq!(connected.kind, ServerEventKind::Connected);
    assert_eq!(connected.peer, local);
    let (lens, previews) = events.reads(HELLO.len()).await;
    assert!(lens.iter().all(|&n| n <= 1024), "{lens:?}");
    assert_eq!(previews, HELLO);
    // The client closed its socket at the end of the closure: a FIN, counted both ways.
    let closed = events.next("the close").await;
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
    let (server, mut events) = Server::tcp(Limits::default()).await;
    let addr = server.addr;
    let mut stream = blocking("connect", move || connect(addr)).await;
    events.next("connected").await;
    server.control.apply(ServerCommand::SetReadSize(7));
    blocking("send and echo", move || round_trip(&mut stream, HELLO)).await;
    let (lens, data) = events.reads(13).await;
    assert_eq!(lens, [7, 6]);
    assert_eq!(data, HELLO);
    server.stop().await;
}

/// `/pause` stops reading: the bytes wait (nothing is lost) and arrive after `/resume`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_server_holds_bytes_until_resumed() {
    let (server, mut events) = Server::tcp(Limits::default()).await;
    let addr = server.addr;
    let mut stream = blocking("connect", move || connect(addr)).await;
    events.next("connected").await;
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
    let early = events.next_within(Duration::from_millis(300)).await;
    assert!(
        early.is_none(),
        "the server reported {early:?} while paused"
    );
    assert!(rx.try_recv().is_err(), "echo arrived while paused");
    server.control.apply(ServerCommand::Resume);
    let (lens, _) = events.reads(11).await;
    assert_eq!(lens.iter().sum::<usize>(), 11);
    let echoed = blocking("echo after resume", move || rx.recv_timeout(IO_TIMEOUT)).await;
    assert_eq!(&echoed.expect("reported").expect("echo"), b"wait for me");
    client.join().expect("client thread");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_turns_away_connections_over_the_per_ip_limit() {
    let (server, mut events) = Server::tcp(Limits {
        max_per_ip: 2,
        ..Limits::default()
    })
    .await;
    let addr = server.addr;
    let first = connect(addr);
    let _second = connect(addr);
    for _ in 0..2 {
        assert_eq!(
            events.next("a connection").await.kind,
            ServerEventKind::Connected
        );
    }

    let mut third = connect(addr);
    let rejected = events.next("the rejection").await;
    assert_eq!(
        rejected.kind,
        ServerEventKind::Rejected {
            limit: Limit::MaxPerIp(2),
            count: 1
        }
    );
    assert_eq!(rejected.peer, local(&third));
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
    let mut first = first;
    blocking("an accepted client's round trip", move || {
        round_trip(&mut first, HELLO);
    })
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_stops_on_cancel_closes_connections_and_frees_its_port() {
    let (server, mut events) = Server::tcp(Limits::default()).await;
    let addr = server.addr;
    let mut client = connect(addr);
    assert_eq!(
        events.next("the connection").await.kind,
        ServerEventKind::Connected
    );

    server.shutdown.cancel();
    let closed = events.next("the close").await;
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
    server.stop().await;
    // Binding the very same address again proves the listener is gone.
    StdListener::bind(addr).expect("the port is free once run() returned");
}

// ---------------------------------------------------------------------------------------------
// Our client actor.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_echoes_through_a_std_net_server() {
    let (addr, _server) = std_echo_server(1);
    echo_two_messages(addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_flags_an_echo_with_different_bytes_as_a_mismatch() {
    let (addr, _peer) = std_peer(|stream| {
        let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
        echo_loop(stream, |bytes| bytes.make_ascii_uppercase(), |_| {})
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
    let (addr, _peer) = greet_then_echo(GREETING);
    let mut client = Client::spawn(addr);
    client.connected().await;
    assert_eq!(unsolicited(&mut client, GREETING.len()).await, GREETING);
    client.send(1, HELLO);
    client.echoed(&[1]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bytes_arrive_unsolicited_and_sanitize_to_printable_text() {
    let (addr, _peer) = greet_then_echo(HOSTILE);
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
    let mut client = Client::spawn(refusing_addr());
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
    let (server, mut events) = Server::tcp(Limits::default()).await;
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
        let event = events.next("the server's close").await;
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
    let (server, mut events) = Server::tcp(Limits::default()).await;
    let settings = ClientSettings {
        nodelay: false,
        ..ClientSettings::default()
    };
    let mut client = Client::spawn_with(server.addr, settings);
    client.connected().await;
    events.next("connected").await;
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
    let (lens, _) = events.reads(20).await;
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
    let (server, mut events) = Server::tcp(Limits::default()).await;
    let mut client = Client::spawn(server.addr);
    client.connected().await;
    events.next("connected").await;
    client.command(ClientCommand::Reset);
    assert_eq!(client.closed().await, CloseReason::ResetByUs);
    let kind = events.next("the server's close").await.kind;
    let ServerEventKind::Closed { reason, .. } = kind else {
        panic!("expected a close, got {kind:?}");
    };
    assert_eq!(reason, CloseReason::Reset);
    server.stop().await;
}

/// A datagram larger than the read size comes back cut, as `recv` with a small buffer does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_server_cuts_datagrams_to_the_read_size() {
    let (server, mut events) = Server::udp(7).await;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    socket.send_to(HELLO, server.addr).await.expect("send");
    let mut buf = [0u8; 64];
    let (n, _) = within("reply", socket.recv_from(&mut buf))
        .await
        .expect("recv");
    assert_eq!(&buf[..n], b"Hello, ");
    assert_eq!(
        events.next("the datagram").await.kind,
        ServerEventKind::Datagram {
            len: 7,
            sent_len: 13,
            preview: b"Hello, ".to_vec()
        }
    );
    // Zero-length and maximum-size datagrams are echoed too (at a large enough read size).
    server.stop().await;
    let (server, _events) = Server::udp(65_536).await;
    for size in [0, udp::MAX_DATAGRAM] {
        let payload = patterned(size);
        socket.send_to(&payload, server.addr).await.expect("send");
        let mut buf = vec![0u8; 65_536];
        let (n, _) = within("reply", socket.recv_from(&mut buf))
            .await
            .expect("recv");
        assert_eq!(&buf[..n], &payload[..], "{size}-byte datagram");
    }
    server.stop().await;
}

/// The client over UDP: echoes matched by payload, and a datagram to nowhere reported lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_client_matches_replies_and_reports_loss() {
    let (server, _events) = Server::udp(READ_SIZE).await;
    let settings = ClientSettings {
        transport: Transport::Udp,
        reply_timeout: Duration::from_millis(200),
        ..ClientSettings::default()
    };
    let mut client = Client::spawn_with(server.addr, settings);
    client.connected().await;
    client.send(1, HELLO);
    client.echoed(&[1]).await;
    // Stop the server: the next datagram cannot be answered.
    server.stop().await;
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
        transport: Transport::Udp,
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
    let (server, _events) = Server::tcp(Limits::default()).await;
    for round in 0..10 {
        let mut client = Client::spawn(server.addr);
        client.connected().await;
        server.control.apply(ServerCommand::Pause);
        client.send(1, b"never echoed");
        client.send(2, b"nor this");
        tokio::time::sleep(Duration::from_millis(round)).await;
        client.command(ClientCommand::SetTransport(Transport::Udp));
        let mut abandoned = Vec::new();
        loop {
            match client.next("the switch").await {
                ClientEvent::Closed(reason) => assert_eq!(
                    reason,
                    CloseReason::SwitchingTransport(Transport::Udp),
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
    let (server, _events) = Server::tcp(Limits::default()).await;
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
    let (server, _events) = Server::tcp(Limits::default()).await;
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
