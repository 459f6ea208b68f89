//! The latency pane's other views: RTT over time, and the histogram.

use super::*;

/// The latency pane as a chart (RTT over time, p50/p99 lines, labelled axes) and as a
/// histogram (log-spaced RTT ranges), at the minimum size.
#[test]
fn latency_chart_and_histogram_80x24() {
    let mut app = hello_world();
    for (i, us) in [120u64, 95, 110, 400, 90, 85, 2000, 100, 105, 98]
        .iter()
        .enumerate()
    {
        type_line(&mut app, 1000 + i as i64, "ping");
        echo(
            &mut app,
            1000 + i as i64,
            EchoUpdate::Echoed {
                id: i as u64 + 2,
                rtt: Duration::from_micros(*us),
            },
        );
    }
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
