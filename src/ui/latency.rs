//! The latency pane: the running summary, and recent RTTs as a sparkline, a chart with the
//! p50/p99 lines, or a histogram (`/chart`, `/hist`, F2).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Bar, BarChart, BarGroup, Chart, Dataset, GraphType, Paragraph, Sparkline,
};

use super::pane_block;
use super::theme::Theme;
use crate::app::App;
use crate::app::model::{ClientPane, LatencyView};
use crate::units;

/// Rows the pane takes with the sparkline: border, two lines of numbers, two of sparkline.
pub(super) const SPARKLINE_HEIGHT: u16 = 6;
/// Rows for the chart or histogram: tall enough for labelled axes on an 80×24 terminal.
pub(super) const CHART_HEIGHT: u16 = 11;

/// Rows the pane wants for the view in force.
pub(super) fn height(client: &ClientPane) -> u16 {
    match client.latency_view {
        LatencyView::Sparkline => SPARKLINE_HEIGHT,
        LatencyView::Chart | LatencyView::Histogram => CHART_HEIGHT,
        LatencyView::Socket => super::socket::HEIGHT,
    }
}

pub(super) fn draw(frame: &mut Frame, area: Rect, client: &ClientPane, app: &App, theme: Theme) {
    let title = match (client.latency_view, client.stats.summary()) {
        (LatencyView::Socket, _) => Line::from(super::socket::TITLE),
        (LatencyView::Sparkline, _) => Line::from(" Latency (round trip) · F2 chart "),
        // The chart's legend lives in the title, where it never hides a line.
        (LatencyView::Chart, Some(summary)) => Line::from(vec![
            Span::raw(" Latency over time: "),
            Span::styled("RTT", theme.sparkline()),
            Span::raw(" · "),
            Span::styled(format!("p50 {}", units::micros(summary.p50)), theme.rtt()),
            Span::raw(" · "),
            Span::styled(
                format!("p99 {}", units::micros(summary.p99)),
                theme.warning(),
            ),
            Span::raw(" · F2 histogram "),
        ]),
        (LatencyView::Chart, None) => Line::from(" Latency over time · F2 histogram "),
        (LatencyView::Histogram, _) => {
            Line::from(" Latency distribution: echoes per RTT range · F2 socket ")
        }
    };
    let block = pane_block(title, false, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if client.latency_view == LatencyView::Socket {
        return super::socket::draw(frame, inner, client, app, theme);
    }
    let [numbers, chart] =
        Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(inner);

    let label = |text: &'static str| Span::styled(text, theme.dim());
    let value = |text: String| Span::styled(text, theme.text());
    let mut ladder = Vec::new();
    match client.stats.summary() {
        Some(s) => {
            let last = client.stats.last().map(units::duration).unwrap_or_default();
            ladder.extend([label("last "), Span::styled(last, theme.rtt())]);
            for (name, us) in [
                ("  min ", s.min),
                ("  p50 ", s.p50),
                ("  p99 ", s.p99),
                ("  max ", s.max),
            ] {
                ladder.extend([label(name), value(units::micros(us))]);
            }
            if let Some(jitter) = client.stats.jitter_us() {
                ladder.extend([label("  jitter "), value(units::micros(jitter))]);
            }
        }
        None => ladder.push(label(no_round_trip_yet(client))),
    }
    let c = client.counts;
    let mut counts = vec![
        label("sent "),
        value(c.sent.to_string()),
        label("  echoed "),
        value(c.echoed.to_string()),
        label("  pending "),
        value(client.pending().to_string()),
    ];
    if client.in_flight_bytes() > 0 {
        let style = if client.send_blocked {
            theme.error()
        } else {
            theme.warning()
        };
        counts.extend([
            label("  in flight "),
            Span::styled(units::bytes(client.in_flight_bytes()), style),
        ]);
    }
    // The outcomes other than an echo, and duplicates: shown only once they happen.
    for (name, n, style) in [
        ("  mismatch ", c.mismatched, theme.error()),
        ("  lost ", c.lost, theme.error()),
        ("  duplicates ", c.duplicates, theme.warning()),
        ("  abandoned ", c.abandoned, theme.warning()),
        ("  not sent ", c.not_sent, theme.error()),
    ] {
        if n > 0 {
            counts.extend([label(name), Span::styled(n.to_string(), style)]);
        }
    }
    // The handshake and the first message are different costs: one SYN round trip in the
    // kernel, versus data through both programs. Shown side by side, last (least urgent).
    if let Some(handshake) = client.connect_time {
        let to = if client.handshake_to_proxy {
            " (to the proxy)"
        } else {
            ""
        };
        counts.extend([
            label("  handshake "),
            value(format!("{}{to}", units::duration(handshake))),
        ]);
    }
    if let Some(first) = client.first_rtt {
        counts.extend([label("  first echo "), value(units::duration(first))]);
    }
    let counts = narrowed(counts, inner.width);
    // Presenter mode: the numbers big, for the back row (the chart and histogram stay), where
    // the digits and the counts fit; beside a long narration, the usual two lines.
    let big_fits = usize::from(inner.height) > super::big::ROWS;
    if app.view.presenter && client.latency_view == LatencyView::Sparkline && big_fits {
        return super::big::draw(frame, inner, client, counts, theme);
    }
    frame.render_widget(
        Paragraph::new(vec![narrowed(ladder, inner.width), counts]),
        numbers,
    );

    match client.latency_view {
        LatencyView::Sparkline => draw_sparkline(frame, chart, client, theme),
        LatencyView::Chart => draw_chart(frame, chart, client, theme),
        LatencyView::Histogram => draw_histogram(frame, chart, client, theme),
        // Drawn above, in place of the numbers: it has figures of its own.
        LatencyView::Socket => {}
    }
}

/// What stands in for the figures before the first RTT: a hint until something is sent, then
/// a plain fact (a lost datagram is no reason to tell the user to type).
pub(super) fn no_round_trip_yet(client: &ClientPane) -> &'static str {
    if client.counts.sent == 0 {
        "no round trips yet: type a message and press Enter"
    } else {
        "no round trip completed yet"
    }
}

/// One line of labelled figures, its two-space gaps between figures narrowed to one when the
/// line is wider than `width`: `jitter` or `first echo` then still fit at 80 columns.
fn narrowed(spans: Vec<Span<'static>>, width: u16) -> Line<'static> {
    let line = Line::from(spans);
    if line.width() <= usize::from(width) {
        return line;
    }
    line.into_iter()
        .map(|span| match span.content.strip_prefix("  ") {
            Some(rest) => Span::styled(format!(" {rest}"), span.style),
            None => span,
        })
        .collect()
}

/// Newest at the right edge, one column per echo, scaled to the tallest visible RTT.
fn draw_sparkline(frame: &mut Frame, area: Rect, client: &ClientPane, theme: Theme) {
    let width = area.width as usize;
    let samples: Vec<u64> = client
        .recent_rtts
        .iter()
        .skip(client.recent_rtts.len().saturating_sub(width))
        .map(|rtt| u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX))
        .collect();
    frame.render_widget(
        Sparkline::default().data(&samples).style(theme.sparkline()),
        area,
    );
}

/// RTT of each recent echo (x: echo number, y: RTT), with the running p50 and p99 as lines.
fn draw_chart(frame: &mut Frame, area: Rect, client: &ClientPane, theme: Theme) {
    let Some(summary) = client.stats.summary() else {
        return draw_waiting(frame, area, theme);
    };
    let first = client
        .counts
        .echoed
        .saturating_sub(client.recent_rtts.len() as u64)
        + 1;
    let points: Vec<(f64, f64)> = client
        .recent_rtts
        .iter()
        .enumerate()
        .map(|(i, rtt)| ((first + i as u64) as f64, rtt.as_secs_f64() * 1e6))
        .collect();
    let (x0, x1) = (
        first as f64,
        (first as f64 + points.len() as f64 - 1.0).max(first as f64 + 1.0),
    );
    let y_max = points.iter().map(|p| p.1).fold(summary.p99, f64::max) * 1.1;
    let p50 = [(x0, summary.p50), (x1, summary.p50)];
    let p99 = [(x0, summary.p99), (x1, summary.p99)];
    let datasets = vec![
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.sparkline())
            .data(&points),
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.rtt())
            .data(&p50),
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.warning())
            .data(&p99),
    ];
    let x_axis = Axis::default()
        .title(Span::styled("echo #", theme.dim()))
        .bounds([x0, x1])
        .labels([format!("{x0:.0}"), format!("{x1:.0}")])
        .style(theme.dim());
    let y_axis = Axis::default()
        .title(Span::styled("RTT", theme.dim()))
        .bounds([0.0, y_max])
        .labels([
            "0".to_owned(),
            units::micros(y_max / 2.0),
            units::micros(y_max),
        ])
        .style(theme.dim());
    let chart = Chart::new(datasets)
        .x_axis(x_axis)
        .y_axis(y_axis)
        .legend_position(None);
    frame.render_widget(chart, area);
}

/// How many echoes took how long: log-spaced buckets from the fastest to the slowest.
fn draw_histogram(frame: &mut Frame, area: Rect, client: &ClientPane, theme: Theme) {
    // Each bar is labelled with its lower edge, about 7 columns wide.
    let bars = (area.width as usize / 8).clamp(1, 16);
    let buckets = client.stats.distribution(bars);
    if buckets.is_empty() {
        return draw_waiting(frame, area, theme);
    }
    let bar_width = (area.width / bars as u16).saturating_sub(1).max(1);
    let bars: Vec<Bar> = buckets
        .iter()
        .map(|bucket| {
            Bar::default()
                .value(bucket.count)
                .label(Line::from(format!("≥{}", units::micros(bucket.from_us))))
                .style(theme.sparkline())
        })
        .collect();
    let chart = BarChart::default()
        .data(BarGroup::default().bars(&bars))
        .bar_width(bar_width)
        .bar_gap(1)
        .value_style(theme.rtt());
    frame.render_widget(chart, area);
}

fn draw_waiting(frame: &mut Frame, area: Rect, theme: Theme) {
    let note = Span::styled("the chart fills in as echoes come back", theme.dim());
    frame.render_widget(Paragraph::new(note), area);
}
