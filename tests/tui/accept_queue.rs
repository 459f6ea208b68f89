//! The accept queue in the server pane: the tutorial's one-at-a-time server (`/server model
//! iterative`, run with `--backlog 1`) serves the UI's own client while three practice clients
//! come: two wait in the kernel's accept queue, the third's SYN was dropped (the queue was
//! full) and is being retried. Only the queue line knows about them: the server has not
//! accepted them, so they are not in its roster. Review each by eye.

use echotui::net::sockinfo::AcceptQueue;

use super::*;

/// Where the UI's client reconnected from after the restart.
const AGAIN: &str = "127.0.0.1:53424";

fn iterative_with_practice_clients_waiting() -> App {
    let mut app = hello_world();
    type_line(&mut app, 1000, "/server model iterative");
    server(
        &mut app,
        1001,
        1,
        PEER,
        ServerEventKind::Closed {
            reason: CloseReason::Restarting,
            bytes_in: 13,
            bytes_out: 13,
            tcp: None,
        },
    );
    client(&mut app, 1001, ClientEvent::Closed(CloseReason::PeerClosed));
    let target = addr(SERVER);
    let transport = Transport::Tcp;
    client(
        &mut app,
        1002,
        ClientEvent::Connecting { target, transport },
    );
    let connected = ClientEvent::Connected {
        local: addr(AGAIN),
        peer: target,
        connect_time: Some(Duration::from_micros(71)),
        clock: Clock::Kernel,
    };
    client(&mut app, 1002, connected);
    server(&mut app, 1002, 2, AGAIN, ServerEventKind::Connected);
    type_line(&mut app, 1500, "/clients 3");
    type_line(&mut app, 1900, "still served");
    let read = ServerEventKind::Read {
        len: 12,
        preview: b"still served".to_vec(),
    };
    server(&mut app, 1900, 2, AGAIN, read);
    let rtt = Duration::from_micros(93);
    echo(&mut app, 1900, EchoUpdate::Echoed { id: 2, rtt });
    app.now = at(2000);
    let census = CensusSnapshot {
        accept_queue: Some(Ok(AcceptQueue {
            waiting: 2,
            backlog: 1,
        })),
        ..census_of(&app)
    };
    tick(&mut app, census);
    app
}

#[test]
fn iterative_server_with_practice_clients_waiting() {
    let app = iterative_with_practice_clients_waiting();
    for (width, height) in [(80, 24), (120, 40)] {
        let screen = render(&app, width, height);
        assert!(
            screen.contains("2 waiting to be accepted (backlog 1)"),
            "{screen}"
        );
        let name = format!("accept_queue_iterative_with_practice_clients_{width}x{height}");
        snapshot_beside_the_others(&name, screen);
    }
}
