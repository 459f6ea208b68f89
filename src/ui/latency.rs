//! The latency pane: the running summary and a sparkline of recent RTTs.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};

use super::pane_block;
use super::theme::Theme;
use crate::app::model::ClientPane;
use crate::format;

/// Rows the pane takes: border, two lines of numbers, two of sparkline.
pub(super) const HEIGHT: u16 = 6;

pub(super) fn draw(frame: &mut Frame, area: Rect, client: &ClientPane, theme: Theme) {
    let block = pane_block(Line::from(" Latency (round trip) "), false, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [numbers, chart] =
        Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(inner);

    let label = |text: &'static str| Span::styled(text, theme.dim());
    let value = |text: String| Span::raw(text);
    let mut ladder = Vec::new();
    match client.stats.summary() {
        Some(s) => {
            let last = client
                .stats
                .last()
                .map(format::duration)
                .unwrap_or_default();
            ladder.extend([label("last "), Span::styled(last, theme.rtt())]);
            for (name, us) in [
                ("  min ", s.min),
                ("  p50 ", s.p50),
                ("  p99 ", s.p99),
                ("  max ", s.max),
            ] {
                ladder.extend([label(name), value(format::micros(us))]);
            }
            if let Some(jitter) = client.stats.jitter_us() {
                ladder.extend([label("  jitter "), value(format::micros(jitter))]);
            }
        }
        None => ladder.push(label("no round trips yet: type a message and press Enter")),
    }
    let c = client.counts;
    let mut counts = vec![
        label("sent "),
        value(c.sent.to_string()),
        label("  echoed "),
        value(c.echoed.to_string()),
        label("  pending "),
        value(c.pending().to_string()),
    ];
    if client.in_flight_bytes > 0 {
        let style = if client.send_blocked {
            theme.error()
        } else {
            theme.warning()
        };
        counts.extend([
            label("  in flight "),
            Span::styled(format::bytes(client.in_flight_bytes), style),
        ]);
    }
    if c.mismatched > 0 {
        counts.extend([
            label("  mismatch "),
            Span::styled(c.mismatched.to_string(), theme.error()),
        ]);
    }
    if c.lost > 0 {
        counts.extend([
            label("  lost "),
            Span::styled(c.lost.to_string(), theme.error()),
        ]);
    }
    if c.duplicates > 0 {
        counts.extend([
            label("  duplicates "),
            Span::styled(c.duplicates.to_string(), theme.warning()),
        ]);
    }
    if c.failed > 0 {
        counts.extend([
            label("  unanswered "),
            Span::styled(c.failed.to_string(), theme.warning()),
        ]);
    }
    frame.render_widget(
        Paragraph::new(vec![Line::from(ladder), Line::from(counts)]),
        numbers,
    );

    // Newest at the right edge, one column per echo, scaled to the tallest visible RTT.
    let width = chart.width as usize;
    let samples: Vec<u64> = client
        .recent_rtts
        .iter()
        .skip(client.recent_rtts.len().saturating_sub(width))
        .map(|rtt| u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX))
        .collect();
    frame.render_widget(
        Sparkline::default().data(&samples).style(theme.sparkline()),
        chart,
    );
}
