//! The socket view (`/socket`, F2): what the kernel knows about both ends of the connection,
//! in the normal state, while the server is paused (the flow-control lesson) and while the
//! client's FIN waits behind its unsent bytes (the close lesson). Review each by eye.

use echotui::app::model::SocketLook;
use echotui::net::sockinfo::{SocketSample, TcpInfo, TcpState, Unavailable};

use super::*;

/// What one socket might say: a loopback connection, with these queues and window.
fn socket(state: TcpState, send_queue: u64, receive_queue: u64, peer_window: u32) -> SocketSample {
    SocketSample {
        tcp: TcpInfo {
            state,
            rtt: Duration::from_micros(31),
            rttvar: Duration::from_micros(12),
            min_rtt: Some(Duration::from_micros(9)),
            cwnd: 10,
            snd_mss: 32768,
            pmtu: 65535,
            unacked: 0,
            retrans: 0,
            total_retrans: 0,
            backoff: 0,
            bytes_acked: Some(14),
            bytes_received: Some(14),
            notsent_bytes: Some(u32::try_from(send_queue).unwrap()),
            delivery_rate: None,
            peer_window: Some(peer_window),
        },
        send_queue: Some(send_queue),
        receive_queue: Some(receive_queue),
        congestion: Some("cubic".to_owned()),
    }
}

/// The runtime's look at both ends, arriving at `ms`.
fn look(app: &mut App, ms: i64, client: SocketSample, server: SocketSample) {
    app.now = at(ms);
    let look = SocketLook {
        client: Ok(client),
        server: Some((1, Ok(server))),
    };
    update(app, Msg::Sockets(Box::new(look)));
}

/// After the tutorial's exchange: nothing waits anywhere.
fn normal() -> App {
    let mut app = hello_world();
    type_line(&mut app, 500, "/socket");
    let idle = || socket(TcpState::Established, 0, 0, 65536);
    look(&mut app, 600, idle(), idle());
    app
}

/// `/pause` and three `/size 1000000`: the client's send queue holds what the server's
/// receive queue has no room for, the window is 0 and the kernel probes it.
fn paused() -> App {
    let mut app = normal();
    type_line(&mut app, 1000, "/pause");
    for ms in [1100, 1200, 1300] {
        type_line(&mut app, ms, "/size 1000000");
    }
    client(&mut app, 1550, ClientEvent::SendBlocked);
    let mut client_end = socket(TcpState::Established, 2_621_440, 0, 0);
    client_end.tcp.backoff = 3;
    client_end.tcp.rtt = Duration::from_micros(5530);
    client_end.tcp.rttvar = Duration::from_micros(11_000);
    let server_end = socket(TcpState::Established, 0, 1_363_148, 65536);
    look(&mut app, 3000, client_end, server_end);
    app
}

/// `/pause`, one `/size 1000000` (the buffers take it all), then `/close`: the FIN is queued
/// behind the unsent bytes, so the client stays in `FIN_WAIT1` until the server reads again.
fn closing() -> App {
    let mut app = normal();
    type_line(&mut app, 1000, "/pause");
    type_line(&mut app, 1100, "/size 1000000");
    type_line(&mut app, 1500, "/close");
    client(&mut app, 1500, ClientEvent::HalfClosed);
    client(&mut app, 1500, ClientEvent::TcpState(TcpState::FinWait1));
    let mut client_end = socket(TcpState::FinWait1, 871_489, 0, 0);
    client_end.tcp.backoff = 2;
    let server_end = socket(TcpState::Established, 0, 128_512, 65536);
    look(&mut app, 2000, client_end, server_end);
    app
}

/// Each state at both sizes, beside the other screens' snapshots in `tests/snapshots`.
fn snapshots(width: u16, height: u16) {
    for (state, app) in [
        ("normal", normal()),
        ("paused", paused()),
        ("closing", closing()),
    ] {
        let name = format!("socket_view_{state}_{width}x{height}");
        snapshot_beside_the_others(&name, render(&app, width, height));
    }
}

#[test]
fn socket_view_80x24() {
    snapshots(80, 24);
}

#[test]
fn socket_view_120x40() {
    snapshots(120, 40);
}

/// F2 reaches the socket view after the histogram, and `/socket` toggles it.
#[test]
fn f2_cycles_to_the_socket_view_and_back() {
    let mut app = normal();
    assert!(render(&app, 80, 24).contains("What the kernel knows"));
    key(&mut app, KeyCode::F(2));
    assert!(render(&app, 80, 24).contains("Latency (round trip) · F2 chart"));
    for _ in 0..3 {
        key(&mut app, KeyCode::F(2));
    }
    assert!(render(&app, 80, 24).contains("What the kernel knows"));
    type_line(&mut app, 700, "/socket");
    assert!(render(&app, 80, 24).contains("Latency (round trip)"));
}

/// Where the kernel cannot be asked, the view says why instead of showing figures: on a
/// system without `TCP_INFO`, and for a socket already gone.
#[test]
fn what_cannot_be_asked_is_said_in_words() {
    let mut app = hello_world();
    type_line(&mut app, 500, "/socket");
    assert!(render(&app, 80, 24).contains("asking the kernel…"));
    let unavailable = |why: Unavailable| SocketLook {
        client: Err(why.clone()),
        server: Some((1, Err(why))),
    };
    update(
        &mut app,
        Msg::Sockets(Box::new(unavailable(Unavailable::NotOnThisSystem))),
    );
    assert!(render(&app, 80, 24).contains("not available on"));
    update(
        &mut app,
        Msg::Sockets(Box::new(unavailable(Unavailable::NoSocket))),
    );
    let screen = render(&app, 80, 24);
    assert_eq!(screen.matches("no socket to ask").count(), 2, "{screen}");
}
