use super::*;
use crate::net::census::{ConnSnapshot, SourceSnapshot};

fn pane() -> ServerPane {
    let behaviour = crate::net::ServerControl::new(1024).behaviour();
    ServerPane::new("127.0.0.1:7".parse().unwrap(), Protocols::Both, behaviour)
}

/// What the server says of connection `conn`, now.
fn event(pane: &mut ServerPane, conn: ConnId, kind: ServerEventKind) {
    pane.apply(NetEvent::Server(ServerEvent {
        at: Local::now(),
        conn,
        peer: "10.0.0.1:5000".parse().unwrap(),
        kind,
    }));
}

fn connected(pane: &mut ServerPane, conn: ConnId) {
    event(pane, conn, ServerEventKind::Connected);
}

fn open(conn: ConnId, reads: u64) -> ConnSnapshot {
    ConnSnapshot {
        conn,
        peer: "10.0.0.1:5000".parse().unwrap(),
        since: Local::now(),
        reads,
        bytes_in: reads * 10,
        bytes_out: reads * 10,
        pending: None,
        tcp: None,
    }
}

#[test]
fn connections_whose_close_was_lost_are_closed_by_the_census() {
    let mut pane = pane();
    for conn in 1..=500 {
        connected(&mut pane, conn);
    }
    assert_eq!(pane.open(), 500);
    // The close events were dropped; the census has only #7 left. The first census
    // without them may have raced their close events: the second settles it.
    let census = CensusSnapshot {
        open: vec![open(7, 3)],
        accepted: 500,
        ..CensusSnapshot::default()
    };
    pane.reconcile(census.clone(), Local::now());
    assert_eq!(pane.open(), 500);
    pane.reconcile(census, Local::now());
    assert_eq!(pane.open(), 1);
    assert!(pane.conns.len() <= 1 + CLOSED_CONNS_KEPT);
    assert_eq!(pane.conns[&7].reads, 3);
    let notice = &pane.rows.rows().back().unwrap().kind;
    assert!(matches!(notice, ServerRowKind::Notice(n) if n.starts_with("499 closed")));
}

#[test]
fn a_close_event_behind_the_census_is_not_taken_for_a_lost_one() {
    let mut pane = pane();
    connected(&mut pane, 1);
    // The server closed #1 and the tick's census already lacks it; its close event
    // comes next, as it does when a restart closes every connection at once.
    pane.reconcile(CensusSnapshot::default(), Local::now());
    let closed = ServerEventKind::Closed {
        reason: CloseReason::Restarting,
        bytes_in: 0,
        bytes_out: 0,
        tcp: None,
    };
    event(&mut pane, 1, closed);
    pane.reconcile(CensusSnapshot::default(), Local::now());
    assert_eq!(pane.open(), 0);
    let notices = pane
        .rows
        .rows()
        .iter()
        .filter(|row| matches!(row.kind, ServerRowKind::Notice(_)))
        .count();
    assert_eq!(
        notices, 0,
        "nothing was lost: no 'closed while the UI was behind'"
    );
}

#[test]
fn a_connection_the_ui_never_saw_joins_the_roster_with_its_counts() {
    let mut pane = pane();
    let census = CensusSnapshot {
        open: vec![open(3, 42)],
        ..CensusSnapshot::default()
    };
    pane.reconcile(census, Local::now());
    assert_eq!((pane.conns[&3].reads, pane.conns[&3].bytes_in), (42, 420));
}

#[test]
fn udp_sources_are_the_census_s_and_never_open_connections() {
    let mut pane = pane();
    let source = |conn| SourceSnapshot {
        conn,
        peer: SocketAddr::from(([10, 0, 0, conn as u8], 4000)),
        since: Local::now(),
        datagrams: 1,
        bytes_in: 13,
        bytes_out: 13,
        unanswered: 0,
    };
    let census = CensusSnapshot {
        sources: (1..=10).map(source).collect(),
        ..CensusSnapshot::default()
    };
    pane.reconcile(census, Local::now());
    assert_eq!((pane.conns.len(), pane.open()), (10, 0));
    // Forgotten by the server, gone from the roster.
    pane.reconcile(CensusSnapshot::default(), Local::now());
    assert!(pane.conns.is_empty());
}

#[test]
fn activity_counts_the_reads_of_each_tick() {
    let mut pane = pane();
    let t0 = Local::now();
    pane.reconcile(
        CensusSnapshot {
            open: vec![open(1, 5)],
            ..CensusSnapshot::default()
        },
        t0,
    );
    pane.reconcile(
        CensusSnapshot {
            open: vec![open(1, 12)],
            reads: 12,
            ..CensusSnapshot::default()
        },
        t0 + chrono::Duration::seconds(1),
    );
    let activity: Vec<u32> = pane.conns[&1].activity.iter().copied().collect();
    assert_eq!(activity, [5, 7, 0]);
    assert_eq!(pane.rate.0, 12.0);
}

#[test]
fn the_accept_queue_shows_when_some_wait_and_always_under_the_iterative_model() {
    let mut pane = pane();
    let queue = |waiting| AcceptQueue {
        waiting,
        backlog: 1,
    };
    let tick = |pane: &mut ServerPane, asked| {
        let census = CensusSnapshot {
            accept_queue: asked,
            ..CensusSnapshot::default()
        };
        pane.reconcile(census, Local::now());
    };
    tick(&mut pane, Some(Ok(queue(0))));
    assert_eq!(pane.accept_queue(), None, "async, nobody waiting");
    tick(&mut pane, Some(Ok(queue(2))));
    assert_eq!(pane.accept_queue(), Some(Ok(queue(2))));
    pane.behaviour.model = ServerModel::Iterative;
    tick(&mut pane, Some(Ok(queue(0))));
    assert_eq!(
        pane.accept_queue(),
        Some(Ok(queue(0))),
        "the lesson's figure"
    );
    tick(&mut pane, Some(Err(Unavailable::NotOnThisSystem)));
    assert_eq!(
        pane.accept_queue(),
        Some(Err(&Unavailable::NotOnThisSystem))
    );
    tick(&mut pane, None);
    assert_eq!(pane.accept_queue(), None, "no TCP listener, no queue");
}
