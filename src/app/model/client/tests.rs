use super::*;
use crate::app::model::Payload;
use crate::stats::EchoUpdate;

fn now() -> DateTime<Local> {
    Local::now()
}

fn pane_with(messages: &[(MessageId, &[u8])]) -> ClientPane {
    let mut pane = ClientPane::new("127.0.0.1:7".parse().unwrap(), Transport::Tcp, false);
    pane.sent(
        messages
            .iter()
            .map(|(id, bytes)| (*id, Payload::of(bytes), bytes.len())),
        now(),
    );
    pane
}

fn echo(pane: &mut ClientPane, update: EchoUpdate) {
    pane.apply(ClientEvent::Echo(update), now());
}

#[test]
fn every_message_ends_with_exactly_one_outcome() {
    let mut pane = pane_with(&[(1, b"aa"), (2, b"bb"), (3, b"cc"), (4, b"dd"), (5, b"ee")]);
    echo(
        &mut pane,
        EchoUpdate::Echoed {
            id: 1,
            rtt: Duration::from_micros(9),
        },
    );
    echo(
        &mut pane,
        EchoUpdate::Mismatch {
            id: 2,
            echoed: b"BB".to_vec(),
        },
    );
    echo(&mut pane, EchoUpdate::Lost { id: 3 });
    pane.apply(
        ClientEvent::SendFailed {
            ids: 4..5,
            reason: "busy".into(),
        },
        now(),
    );
    echo(&mut pane, EchoUpdate::Abandoned { id: 5 });
    // A second outcome for a settled message changes nothing.
    echo(&mut pane, EchoUpdate::Abandoned { id: 1 });
    let c = pane.counts;
    assert_eq!(
        (c.echoed, c.mismatched, c.lost, c.not_sent, c.abandoned),
        (1, 1, 1, 1, 1)
    );
    assert_eq!(pane.pending(), 0);
    assert_eq!(pane.in_flight_bytes(), 0);
}

#[test]
fn in_flight_bytes_follow_partial_echoes_however_many_rows_scroll_away() {
    let mut pane = pane_with(&[(1, &[b'x'; 100_000])]);
    for row in 0..super::super::log::MAX_ROWS {
        pane.note(now(), ClientRowKind::Notice(format!("row {row}")));
    }
    echo(
        &mut pane,
        EchoUpdate::Partial {
            id: 1,
            received: 1024,
            total: 100_000,
        },
    );
    assert_eq!(pane.in_flight_bytes(), 100_000 - 1024);
    echo(
        &mut pane,
        EchoUpdate::Partial {
            id: 1,
            received: 4096,
            total: 100_000,
        },
    );
    assert_eq!(pane.in_flight_bytes(), 100_000 - 4096);
    echo(
        &mut pane,
        EchoUpdate::Echoed {
            id: 1,
            rtt: Duration::from_millis(1),
        },
    );
    assert_eq!(pane.in_flight_bytes(), 0);
    assert_eq!(pane.counts.echoed, 1);
}

#[test]
fn an_abandoned_message_without_an_echo_row_is_marked_on_its_sent_row() {
    let mut pane = pane_with(&[(1, b"hi")]);
    echo(&mut pane, EchoUpdate::Abandoned { id: 1 });
    pane.apply(ClientEvent::Closed(CloseReason::PeerClosed), now());
    let rows: Vec<_> = pane.rows.rows().iter().map(|r| &r.kind).collect();
    assert!(matches!(
        rows[0],
        ClientRowKind::Sent {
            outcome: Some(EchoProgress::Abandoned),
            ..
        }
    ));
    assert_eq!(
        rows[1],
        &ClientRowKind::Notice(
            "connection closed by peer (1 message abandoned: their echoes can no longer arrive); /reconnect to try again".into()
        )
    );
}

#[test]
fn a_replaced_connection_does_not_offer_reconnect() {
    let mut pane = pane_with(&[]);
    pane.apply(
        ClientEvent::Closed(CloseReason::SwitchingTransport(Transport::Udp)),
        now(),
    );
    let last = pane.rows.rows().back().unwrap();
    assert_eq!(
        last.kind,
        ClientRowKind::Notice("connection closed by us to switch to UDP".into())
    );
}

#[test]
fn clear_keeps_outstanding_messages_counted() {
    let mut pane = pane_with(&[(1, b"a"), (2, b"b")]);
    echo(
        &mut pane,
        EchoUpdate::Echoed {
            id: 1,
            rtt: Duration::from_micros(5),
        },
    );
    pane.clear();
    assert_eq!(pane.first_rtt, None);
    assert_eq!((pane.counts.sent, pane.pending()), (1, 1));
    echo(
        &mut pane,
        EchoUpdate::Echoed {
            id: 2,
            rtt: Duration::from_micros(5),
        },
    );
    assert_eq!(
        (pane.counts.sent, pane.counts.echoed, pane.pending()),
        (1, 1, 0)
    );
}

#[test]
fn a_duplicate_shows_what_the_message_carried() {
    let mut pane = pane_with(&[(7, b"ping")]);
    echo(
        &mut pane,
        EchoUpdate::Echoed {
            id: 7,
            rtt: Duration::from_micros(5),
        },
    );
    echo(&mut pane, EchoUpdate::Duplicate { id: 7 });
    let last = pane.rows.rows().back().unwrap();
    assert_eq!(
        last.kind,
        ClientRowKind::Duplicate {
            id: 7,
            payload: Payload::of(b"ping")
        }
    );
    assert_eq!(pane.counts.duplicates, 1);
}
