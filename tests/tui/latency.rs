//! The latency pane's other views: RTT over time, and the histogram.

use super::*;

/// Types `ping` once per RTT, a millisecond apart from 1 s on, each echoed in that many µs;
/// the first is message `first_id`.
fn pings(app: &mut App, first_id: u64, rtts_us: &[u64]) {
    for (i, &us) in rtts_us.iter().enumerate() {
        let ms = 1000 + i as i64;
        type_line(app, ms, "ping");
        let rtt = Duration::from_micros(us);
        echo(
            app,
            ms,
            EchoUpdate::Echoed {
                id: first_id + i as u64,
                rtt,
            },
        );
    }
}

/// The latency pane as a chart (RTT over time, p50/p99 lines, labelled axes) and as a
/// histogram (log-spaced RTT ranges), at the minimum size.
#[test]
fn latency_chart_and_histogram_80x24() {
    let mut app = hello_world();
    pings(
        &mut app,
        2,
        &[120, 95, 110, 400, 90, 85, 2000, 100, 105, 98],
    );
    type_line(&mut app, 2000, "/chart");
    snapshot_beside_the_others("chart", render(&app, 80, 24));
    type_line(&mut app, 2100, "/hist");
    snapshot_beside_the_others("histogram", render(&app, 80, 24));
    // After the histogram, the socket view; then the sparkline again.
    key(&mut app, KeyCode::F(2));
    assert!(render(&app, 80, 24).contains("What the kernel knows"));
    key(&mut app, KeyCode::F(2));
    assert_eq!(
        render(&app, 80, 24)
            .matches("Latency (round trip) · F2 chart")
            .count(),
        1
    );
}

/// Over a delayed, jittery link the figures are at their widest (`jitter`, `handshake … (to
/// the proxy)`, `first echo`): at 80 columns their gaps narrow so every figure is still read
/// whole.
#[test]
fn widest_figures_fit_80_columns() {
    let mut app = both();
    app.impairments = Some(Default::default());
    type_line(&mut app, 0, "/delay 50ms");
    connected(&mut app);
    pings(&mut app, 1, &[100_100, 120_900, 100_200, 100_200]);
    let screen = render(&app, 80, 24);
    for figure in ["jitter 13.8ms", "(to the proxy)", "first echo 100.1ms"] {
        assert!(screen.contains(figure), "{figure:?} missing:\n{screen}");
    }
    snapshot_beside_the_others("latency_widest_80x24", screen);
}

/// Before the first RTT the pane hints to type; once a message is out (here lost), it states
/// the fact instead of asking for what was already done.
#[test]
fn no_round_trip_yet_hints_only_before_the_first_send() {
    let mut app = both();
    connected(&mut app);
    assert!(render(&app, 80, 24).contains("type a message and press Enter"));
    type_line(&mut app, 100, "/udp");
    type_line(&mut app, 200, "one");
    echo(&mut app, 2200, EchoUpdate::Lost { id: 1 });
    let screen = render(&app, 80, 24);
    assert!(screen.contains("no round trip completed yet"), "{screen}");
    assert!(screen.contains("lost 1"), "{screen}");
}
