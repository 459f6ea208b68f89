//! One pane alone: `echotui serve` (a few clients, then a classroom's roster) and
//! `echotui connect` against a server that closed. Review every snapshot by eye.

use super::*;

#[test]
fn server_only_80x24() {
    let mut app = exposed_server_only();
    for conn in 1..=4u64 {
        let peer = format!("192.168.1.{}:5000{conn}", 10 + conn);
        server(
            &mut app,
            conn as i64 * 100,
            conn,
            &peer,
            ServerEventKind::Connected,
        );
        server(
            &mut app,
            conn as i64 * 100 + 5,
            conn,
            &peer,
            ServerEventKind::Read {
                len: 6,
                preview: b"hi #1\n".to_vec(),
            },
        );
    }
    server(
        &mut app,
        900,
        2,
        "192.168.1.12:50002",
        ServerEventKind::Closed {
            reason: CloseReason::PeerClosed,
            bytes_in: 6,
            bytes_out: 6,
            tcp: None,
        },
    );
    server(
        &mut app,
        950,
        3,
        "192.168.1.13:50003",
        ServerEventKind::Closed {
            reason: CloseReason::Reset,
            bytes_in: 6,
            bytes_out: 6,
            tcp: None,
        },
    );
    server(
        &mut app,
        990,
        5,
        "192.168.1.11:50099",
        ServerEventKind::Rejected {
            limit: Limit::MaxConns(256),
            count: 1,
        },
    );
    app.now = at(1000);
    let census = CensusSnapshot {
        accepted: 4,
        rejected: 1,
        peak_open: 4,
        ..census_of(&app)
    };
    tick(&mut app, census);
    app.now = at(61_000);
    snapshot_beside_the_others("server_only_80x24", render(&app, 80, 24));
}

/// The classroom roster: many clients, sorted by activity, one selected (its reads alone in
/// the log), a stalled one, and rates from the tick.
#[test]
fn roster_with_many_clients_120x40() {
    let mut app = exposed_server_only();
    for conn in 1..=40u64 {
        let peer = format!("10.1.{}.{}:5{conn:04}", conn / 250, conn % 250 + 1);
        server(
            &mut app,
            conn as i64,
            conn,
            &peer,
            ServerEventKind::Connected,
        );
        for _ in 0..(conn % 7) {
            server(
                &mut app,
                100 + conn as i64,
                conn,
                &peer,
                ServerEventKind::Read {
                    len: 13,
                    preview: b"Hello, World!".to_vec(),
                },
            );
        }
    }
    server(
        &mut app,
        500,
        3,
        "10.1.0.4:50003",
        ServerEventKind::Stalled { pending: 1024 },
    );
    for ms in [1000, 2000] {
        app.now = at(ms);
        let census = census_of(&app);
        tick(&mut app, census);
    }
    type_line(&mut app, 2100, "/sort activity");
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    let screen = render(&app, 120, 40);
    // Every client is a row shown or counted in `… N more`, once.
    let rows = screen
        .lines()
        .filter(|line| line.contains(" 10.1.0."))
        .count();
    let more: usize = screen
        .lines()
        .find_map(|line| line.split("… ").nth(1)?.split(" more").next()?.parse().ok())
        .expect("a '… N more' line");
    let roster_rows = rows - screen.matches("connected").count();
    assert_eq!(roster_rows + more, 40, "{screen}");
    snapshot_beside_the_others("roster_with_many_clients_120x40", screen);
    key(&mut app, KeyCode::Esc);
    let screen = render(&app, 120, 40);
    assert!(
        !screen.contains("log of #"),
        "Esc shows every client's reads again:\n{screen}"
    );
}

#[test]
fn client_only_closed_by_peer_80x24() {
    let mut app = App::new(
        Some(ClientPane::new(addr("127.0.0.1:7"), Transport::Tcp, true)),
        None,
        at(0),
    );
    client(
        &mut app,
        0,
        ClientEvent::Connected {
            local: addr(PEER),
            peer: addr("127.0.0.1:7"),
            connect_time: Some(Duration::from_micros(120)),
            clock: Clock::Kernel,
        },
    );
    type_line(&mut app, 100, "ping");
    echo(
        &mut app,
        100,
        EchoUpdate::Echoed {
            id: 1,
            rtt: Duration::from_micros(1500),
        },
    );
    type_line(&mut app, 200, "pong");
    echo(&mut app, 300, EchoUpdate::Abandoned { id: 2 });
    client(&mut app, 300, ClientEvent::Closed(CloseReason::PeerClosed));
    type_line(&mut app, 400, "anyone?");
    snapshot_beside_the_others("client_only_closed_by_peer_80x24", render(&app, 80, 24));
}
