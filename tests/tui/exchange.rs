//! Both panes during an exchange: the tutorial's `Hello, World!`, every kind of row, UDP,
//! the hex view with the server paused, and framing. Review every snapshot by eye.

use super::*;

#[test]
fn hello_world_80x24() {
    snapshot_beside_the_others("hello_world_80x24", render(&hello_world(), 80, 24));
}

#[test]
fn hello_world_120x40() {
    snapshot_beside_the_others("hello_world_120x40", render(&hello_world(), 120, 40));
}

/// A message that waited 2.08 ms in echotui before reaching its socket (a busy machine): the
/// wait is said beside the RTT, in words when the pane has room, bare when the words would
/// cut the message.
fn queued_hello_world() -> App {
    let mut app = both();
    connected(&mut app);
    type_line(&mut app, 143, "Hello, World!");
    client(
        &mut app,
        145,
        ClientEvent::Queued {
            id: 1,
            waited: Duration::from_micros(2080),
        },
    );
    read(&mut app, 145, b"Hello, World!");
    echo(
        &mut app,
        146,
        EchoUpdate::Echoed {
            id: 1,
            rtt: Duration::from_micros(1080),
        },
    );
    app
}

#[test]
fn a_queued_wait_never_cuts_the_message_80x24() {
    let screen = render(&queued_hello_world(), 80, 24);
    assert!(
        screen.contains("← Hello, World!") && screen.contains("1.08ms +2.08ms"),
        "{screen}"
    );
    assert!(!screen.contains("queued"), "{screen}");
    snapshot_beside_the_others("queued_wait_80x24", screen);
}

#[test]
fn a_queued_wait_is_said_in_words_when_there_is_room_120x40() {
    let screen = render(&queued_hello_world(), 120, 40);
    assert!(screen.contains("1.08ms +2.08ms queued"), "{screen}");
    snapshot_beside_the_others("queued_wait_120x40", screen);
}

/// Everything a row can be: partial echo of a message bigger than the read buffer, a
/// mismatch, unsolicited bytes, hostile bytes in the server log, an unknown command.
#[test]
fn every_kind_of_row_120x40() {
    let mut app = hello_world();
    type_line(&mut app, 2000, "/size 4096");
    for i in 0..4 {
        read(&mut app, 2000 + i, &echotui::net::probe_payload(1024));
    }
    echo(
        &mut app,
        2001,
        EchoUpdate::Partial {
            id: 2,
            received: 2048,
            total: 4096,
        },
    );
    type_line(&mut app, 3000, "hello");
    echo(
        &mut app,
        3000,
        EchoUpdate::Mismatch {
            id: 3,
            echoed: b"HELLO".to_vec(),
        },
    );
    echo(
        &mut app,
        3500,
        EchoUpdate::Unsolicited {
            bytes: b"220 welcome\r\n".to_vec(),
        },
    );
    read(
        &mut app,
        3600,
        b"\x1b]0;pwned\x07\x1b[2J\xe2\x80\xaeevil\0\xff",
    );
    type_line(&mut app, 4000, "/bogus");
    server(
        &mut app,
        4100,
        2,
        "10.0.0.7:40000",
        ServerEventKind::Rejected {
            limit: Limit::MaxPerIp(16),
            count: 1,
        },
    );
    snapshot_beside_the_others("every_kind_of_row_120x40", render(&app, 120, 40));
}

/// UDP: a reply cut by `/read 5`, a lost datagram, a duplicate, and a datagram from port 19
/// (chargen) that the reflection guard leaves unanswered.
#[test]
fn udp_mode_120x40() {
    let mut app = both();
    client(
        &mut app,
        0,
        ClientEvent::Connecting {
            target: addr(SERVER),
            transport: Transport::Udp,
        },
    );
    client(
        &mut app,
        0,
        ClientEvent::Connected {
            local: addr(PEER),
            peer: addr(SERVER),
            connect_time: None,
            clock: Clock::Kernel,
        },
    );
    type_line(&mut app, 100, "Hello, World!");
    server(
        &mut app,
        100,
        1,
        PEER,
        ServerEventKind::Datagram {
            len: 13,
            sent_len: 13,
            preview: b"Hello, World!".to_vec(),
        },
    );
    echo(
        &mut app,
        100,
        EchoUpdate::Echoed {
            id: 1,
            rtt: Duration::from_micros(41),
        },
    );
    echo(&mut app, 150, EchoUpdate::Duplicate { id: 1 });
    type_line(&mut app, 200, "/read 5");
    type_line(&mut app, 300, "Hello, World!");
    server(
        &mut app,
        300,
        1,
        PEER,
        ServerEventKind::Datagram {
            len: 5,
            sent_len: 13,
            preview: b"Hello".to_vec(),
        },
    );
    echo(
        &mut app,
        300,
        EchoUpdate::Mismatch {
            id: 2,
            echoed: b"Hello".to_vec(),
        },
    );
    type_line(&mut app, 400, "into the void");
    echo(&mut app, 2400, EchoUpdate::Lost { id: 3 });
    server(
        &mut app,
        2500,
        2,
        "10.0.0.9:19",
        ServerEventKind::Dropped {
            reason: DropReason::ReflectionGuard { port: 19 },
            count: 1,
        },
    );
    let source = |conn, peer, datagrams, unanswered| SourceSnapshot {
        conn,
        peer: addr(peer),
        since: at(0),
        datagrams,
        bytes_in: datagrams * 13,
        bytes_out: datagrams * 9,
        unanswered,
    };
    let census = CensusSnapshot {
        reads: 2,
        bytes: 26,
        sources: vec![source(1, PEER, 2, 0), source(2, "10.0.0.9:19", 0, 1)],
        sources_seen: 2,
        unanswered: 1,
        ..CensusSnapshot::default()
    };
    tick(&mut app, census);
    snapshot_beside_the_others("udp_mode_120x40", render(&app, 120, 40));
}

/// `/hex` shows the bytes themselves, in both panes; `/pause` is visible in both the server
/// title and the status bar, and a message sent meanwhile stays pending.
#[test]
fn hex_view_and_paused_server_80x24() {
    let mut app = hello_world();
    type_line(&mut app, 1000, "/hex");
    type_line(&mut app, 1100, "Hi!");
    read(&mut app, 1100, b"Hi!");
    type_line(&mut app, 1200, "/pause");
    type_line(&mut app, 1300, "waiting");
    snapshot_beside_the_others("hex_view_and_paused_server_80x24", render(&app, 80, 24));
}

/// Framing by lines with a 4-byte read size: the server's rows are the four reads, then the one
/// frame they made, echoed whole; the client shows the message, not its `\n`.
#[test]
fn framed_lines_from_small_reads_80x24() {
    let mut app = both();
    connected(&mut app);
    type_line(&mut app, 10, "/frame line");
    type_line(&mut app, 20, "/read 4");
    type_line(&mut app, 143, "Hello, World!");
    for (n, piece) in [&b"Hell"[..], b"o, W", b"orld", b"!\n"].iter().enumerate() {
        read(&mut app, 143 + n as i64, piece);
    }
    server(
        &mut app,
        147,
        1,
        PEER,
        ServerEventKind::Frame {
            len: 14,
            reads: 4,
            preview: b"Hello, World!\n".to_vec(),
        },
    );
    echo(
        &mut app,
        147,
        EchoUpdate::Echoed {
            id: 1,
            rtt: Duration::from_micros(412),
        },
    );
    snapshot_beside_the_others("framed_lines_from_small_reads_80x24", render(&app, 80, 24));
}
