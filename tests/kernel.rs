//! What the kernel knows (`TCP_INFO`, the socket queues, the TCP state), asked of real
//! loopback sockets: our client's, through the handle the socket view uses, and our server's,
//! through its census. Linux only: elsewhere there is nothing to ask (and the view says so).
#![cfg(target_os = "linux")]

mod common;

use std::time::Duration;

use common::client::Client;
use common::servers::Server;
use common::sockets::{assert_closed_by_server, connect, round_trip};
use common::{blocking, eventually};
use echotui::net::sockinfo::{Sampled, TcpState, Unavailable};
use echotui::net::{ClientCommand, ClientEvent, Limits, ServerCommand};

/// The client's socket as the socket view sees it.
fn look(client: &Client) -> Sampled {
    client.socket()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_acked_grow_after_an_echo() {
    let (server, _events) = Server::tcp(Limits::default()).await;
    let mut client = Client::spawn(server.addr);
    client.connected().await;
    // The actor reports `Connected` a moment before it shares the socket with the view.
    let before = eventually("the connected socket", || look(&client).ok()).await;
    assert_eq!(before.tcp.state, TcpState::Established);
    client.send(1, b"Hello, World!");
    client.echoed(&[1]).await;
    let after = look(&client).expect("the connected socket");
    assert!(
        after.tcp.bytes_acked.unwrap() >= before.tcp.bytes_acked.unwrap() + 13,
        "{before:?} then {after:?}"
    );
    assert!(after.tcp.bytes_received >= Some(13));
    assert!(!after.tcp.rtt.is_zero());
    server.stop().await;
}

/// The flow-control lesson: while the server does not read, our send queue fills and the
/// server's window reaches 0; its receive queue holds what it took.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_send_queue_grows_and_the_window_reaches_0_while_the_server_is_paused() {
    let (server, _events) = Server::tcp(Limits::default()).await;
    let mut client = Client::spawn(server.addr);
    let local = client.connected().await;
    server.control.apply(ServerCommand::Pause);
    for id in 1..=3 {
        client.send(id, &vec![b'x'; 1 << 20]);
    }
    let stuck = eventually("the window to close", || {
        look(&client)
            .ok()
            .filter(|s| s.tcp.peer_window == Some(0) && s.send_queue > Some(0))
    })
    .await;
    assert!(stuck.send_queue.unwrap() > 100_000, "{stuck:?}");
    // The server's end of the same connection, from its census.
    let census = server.control.snapshot();
    let conn = census
        .open
        .iter()
        .find(|c| c.peer == local)
        .expect("ours")
        .conn;
    let theirs = server.control.census().sample(conn).expect("its end");
    assert!(theirs.receive_queue.unwrap() > 0, "{theirs:?}");
    // Reading again, the server takes everything: nothing is lost, the window opens.
    server.control.apply(ServerCommand::Resume);
    client.echoed(&[1, 2, 3]).await;
    let drained = look(&client).expect("still connected");
    assert_eq!(drained.send_queue, Some(0), "{drained:?}");
    assert_ne!(drained.tcp.peer_window, Some(0));
    server.stop().await;
}

/// The close lesson: after `/close` (our FIN) the socket reads `FIN_WAIT…`, and once the
/// connection is gone there is no socket left to ask.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_reads_fin_wait_after_a_half_close() {
    let (server, _events) = Server::tcp(Limits::default()).await;
    let mut client = Client::spawn(server.addr);
    client.connected().await;
    // Paused, the server never reads our FIN, so the state stays put for a look.
    server.control.apply(ServerCommand::Pause);
    client.command(ClientCommand::HalfClose);
    let told = loop {
        match client.next_any("the FIN's state").await {
            ClientEvent::TcpState(state) => break state,
            ClientEvent::HalfClosed | ClientEvent::Queued { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(
        matches!(told, TcpState::FinWait1 | TcpState::FinWait2),
        "{told}"
    );
    let state = look(&client).expect("the half-closed socket").tcp.state;
    assert!(
        matches!(state, TcpState::FinWait1 | TcpState::FinWait2),
        "{state}"
    );
    server.control.apply(ServerCommand::Resume);
    client.closed().await;
    assert_eq!(look(&client), Err(Unavailable::NoSocket));
    server.stop().await;
}

/// The roster's RTT needs nothing of the client: a plain `std::net` one (as `nc` would be)
/// has its round trip measured by the server's own kernel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_roster_shows_an_rtt_for_a_plain_std_net_client() {
    let (server, _events) = Server::tcp(Limits::default()).await;
    let addr = server.addr;
    let stream = blocking("an echo from a std::net client", move || {
        let mut stream = connect(addr);
        round_trip(&mut stream, b"Hello, World!");
        stream
    })
    .await;
    let census = server.control.snapshot();
    let tcp = census.open[0].tcp.expect("the kernel's figures for it");
    assert_eq!(tcp.state, TcpState::Established);
    assert!(!tcp.rtt.is_zero(), "{tcp:?}");
    assert_eq!(tcp.total_retrans, 0);
    drop(stream);
    server.stop().await;
}

/// The census keeps a duplicate of each socket to ask the kernel; a socket closes only with
/// its last descriptor, so the duplicate must go first. A server-side close (here the idle
/// timeout, which does not shut the socket down first) still reaches the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_by_the_server_is_seen_at_once_despite_the_census_duplicate() {
    let limits = Limits {
        idle_timeout: Some(Duration::from_millis(100)),
        ..Limits::default()
    };
    let (server, _events) = Server::tcp(limits).await;
    let addr = server.addr;
    blocking("the idle timeout's FIN", move || {
        let mut stream = connect(addr);
        assert_closed_by_server(&mut stream);
    })
    .await;
    server.stop().await;
}
