//! Big numbers for presenter mode: RTTs three rows tall, readable from the back of a room.
//!
//! Digits are drawn with half blocks (`█▀▄`), three columns by three rows; the unit stays in
//! ordinary letters on the bottom row, where it reads as a subscript.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};

use super::theme::Theme;
use crate::app::model::ClientPane;
use crate::units;

/// Rows a big number takes.
pub(super) const ROWS: usize = 3;

/// A digit's three rows.
fn digit(d: char) -> [&'static str; ROWS] {
    match d {
        '0' => ["█▀█", "█ █", "█▄█"],
        '1' => ["▄█ ", " █ ", "▄█▄"],
        '2' => ["▀▀█", "█▀▀", "█▄▄"],
        '3' => ["▀▀█", " ▀█", "▄▄█"],
        '4' => ["█ █", "▀▀█", "  █"],
        '5' => ["█▀▀", "▀▀█", "▄▄█"],
        '6' => ["█▀▀", "█▀█", "█▄█"],
        '7' => ["▀▀█", "  █", "  █"],
        '8' => ["█▀█", "█▀█", "█▄█"],
        '9' => ["█▀█", "▀▀█", "▄▄█"],
        '.' => [" ", " ", "▄"],
        _ => ["   ", "   ", "   "],
    }
}

/// `text` (as [`units::micros`] writes it: `87µs`, `1.23ms`) as three rows: the number big,
/// its unit small on the bottom row.
pub(super) fn rows(text: &str) -> [String; ROWS] {
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let mut rows: [String; ROWS] = Default::default();
    for (i, d) in number.chars().enumerate() {
        for (row, part) in rows.iter_mut().zip(digit(d)) {
            if i > 0 {
                row.push(' ');
            }
            row.push_str(part);
        }
    }
    let blank = " ".repeat(unit.chars().count());
    rows[0].push_str(&blank);
    rows[1].push_str(&blank);
    rows[2].push_str(unit);
    rows
}

/// The latency pane's numbers in presenter mode: last, p50 and p99 big, the sparkline beside
/// them, and the counts below.
pub(super) fn draw(frame: &mut Frame, area: Rect, client: &ClientPane, counts: Line, theme: Theme) {
    let [numbers, counts_row] =
        Layout::vertical([Constraint::Length(ROWS as u16), Constraint::Min(1)]).areas(area);
    let mut lines: [Vec<Span>; ROWS] = Default::default();
    let figures = match client.stats.summary() {
        Some(s) => {
            let last = client.stats.last().map(units::duration).unwrap_or_default();
            vec![
                ("last", last),
                ("p50", units::micros(s.p50)),
                ("p99", units::micros(s.p99)),
            ]
        }
        None => Vec::new(),
    };
    let mut used = 0;
    for (label, value) in &figures {
        let big = rows(value);
        let width = label.len() + 1 + big[2].chars().count() + 3;
        if used + width > usize::from(numbers.width) {
            break;
        }
        used += width;
        for (i, (line, row)) in lines.iter_mut().zip(big).enumerate() {
            let lead = if i == 1 {
                format!("{label} ")
            } else {
                " ".repeat(label.len() + 1)
            };
            line.push(Span::styled(lead, theme.dim()));
            line.push(Span::styled(row, theme.rtt()));
            line.push(Span::raw("   "));
        }
    }
    if figures.is_empty() {
        lines[1].push(Span::styled(
            super::latency::no_round_trip_yet(client),
            theme.dim(),
        ));
        used = usize::from(numbers.width);
    }
    let [text, spark] =
        Layout::horizontal([Constraint::Length(used as u16), Constraint::Min(0)]).areas(numbers);
    frame.render_widget(Paragraph::new(lines.map(Line::from).to_vec()), text);
    let samples: Vec<u64> = client
        .recent_rtts
        .iter()
        .skip(
            client
                .recent_rtts
                .len()
                .saturating_sub(usize::from(spark.width)),
        )
        .map(|rtt| u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX))
        .collect();
    frame.render_widget(
        Sparkline::default().data(&samples).style(theme.sparkline()),
        spark,
    );
    frame.render_widget(Paragraph::new(counts), counts_row);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_three_rows_with_the_unit_on_the_last() {
        let [top, middle, bottom] = rows("87µs");
        assert_eq!(top, "█▀█ ▀▀█  ");
        assert_eq!(middle, "█▀█   █  ");
        assert_eq!(bottom, "█▄█   █µs");
        let [_, _, bottom] = rows("1.23ms");
        assert_eq!(bottom, "▄█▄ ▄ █▄▄ ▄▄█ms");
    }
}
