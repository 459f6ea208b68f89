//! The view: `draw` is a pure function of [`App`], one render function per pane.

mod big;
mod client;
mod help;
mod input;
mod latency;
mod lesson;
mod server;
mod socket;
mod status;
pub mod theme;

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::app::model::{Log, Payload, RosterArea, Viewport};
use crate::app::{App, Focus};
use theme::Theme;

/// Below this the layout cannot show what it must; we say so instead of drawing a mess.
pub const MIN_WIDTH: u16 = 80;
/// The same, in rows.
pub const MIN_HEIGHT: u16 = 24;
/// Rows the client and server panes keep, whatever else the screen shows.
const MIN_PANE_ROWS: u16 = 8;

/// Draws the whole screen for the current state, and reports what it drew: how many rows
/// each scrollable pane showed (a page for PgUp/PgDn) and where the panes are (for the mouse).
pub fn draw(frame: &mut Frame, app: &App) -> Viewport {
    let theme = Theme::new(&app.view, app.color);
    let area = frame.area();
    let mut viewport = Viewport {
        client_area: Rect::default(),
        server_area: Rect::default(),
        roster: RosterArea::default(),
        help_area: None,
        ..app.viewport
    };
    frame.render_widget(Block::new().style(theme.base()), area);
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        draw_too_small(frame, area);
        return viewport;
    }
    let (latency_rows, lesson_rows) = latency_and_lesson_rows(app, area);
    let [panes, latency_area, lesson_area, input_area, status_area] = Layout::vertical([
        Constraint::Min(6),
        Constraint::Length(latency_rows),
        Constraint::Length(lesson_rows),
        Constraint::Length(input::HEIGHT),
        Constraint::Length(1),
    ])
    .areas(area);

    let (client_area, server_area) = match (&app.client, &app.server) {
        (Some(_), Some(_)) => {
            let [left, right] =
                Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                    .areas(panes);
            (left, right)
        }
        (Some(_), None) => (panes, Rect::default()),
        (None, _) => (Rect::default(), panes),
    };
    let both = app.client.is_some() && app.server.is_some();
    if let Some(client) = &app.client {
        let focused = !both || app.focus == Focus::Client;
        viewport.client_rows = client::draw(frame, client_area, client, app, focused, theme);
        viewport.client_area = client_area;
    }
    if let Some(server) = &app.server {
        let focused = !both || app.focus == Focus::Server;
        let (rows, roster) = server::draw(frame, server_area, server, app, focused, theme);
        (viewport.server_rows, viewport.roster) = (rows, roster);
        viewport.server_area = server_area;
    }
    if let Some(client) = &app.client {
        latency::draw(frame, latency_area, client, app, theme);
    }
    if let Some(run) = &app.lesson {
        lesson::draw(frame, lesson_area, run, theme);
    }
    input::draw(frame, input_area, app, theme);
    status::draw(frame, status_area, app, theme);
    if app.help_open {
        viewport.help_area = Some(help::draw(frame, area, app, theme));
    }
    viewport
}

/// How a peer is shown: `student-NN` when masked, without its port in presenter mode.
fn peer(app: &App, addr: std::net::SocketAddr) -> String {
    if app.view.masks(addr.ip()) {
        app.addresses.label(addr.ip())
    } else if app.view.presenter {
        addr.ip().to_string()
    } else {
        addr.to_string()
    }
}

/// Rows for the latency pane and the lesson's narration, between the panes (at least
/// [`MIN_PANE_ROWS`]) and the input and status lines. The narration is the instructor's voice,
/// so it is shown whole: where both do not fit, the latency pane gives up rows first, down to
/// [`LATENCY_FLOOR`] (its headline and first figures), then the narration is cut.
fn latency_and_lesson_rows(app: &App, area: Rect) -> (u16, u16) {
    let latency = app.client.as_ref().map_or(0, latency::height);
    let Some(run) = &app.lesson else {
        return (latency, 0);
    };
    let room = area
        .height
        .saturating_sub(input::HEIGHT + 1 + MIN_PANE_ROWS);
    let narration = lesson::height(run, area.width, u16::MAX);
    let latency_floor = latency.min(LATENCY_FLOOR);
    let lesson_rows = narration
        .min(room.saturating_sub(latency_floor))
        .max(lesson::MIN_LINES + 2);
    (latency.min(room.saturating_sub(lesson_rows)), lesson_rows)
}

/// The fewest rows the latency pane keeps beside a lesson's narration: its border and its two
/// lines of figures.
const LATENCY_FLOOR: u16 = 4;

fn draw_too_small(frame: &mut Frame, area: Rect) {
    let note = format!(
        "terminal too small (need {MIN_WIDTH}×{MIN_HEIGHT}, have {}×{})",
        area.width, area.height
    );
    let lines = vec![
        Line::from(note),
        Line::from("enlarge the window, or Ctrl-C to quit"),
    ];
    let paragraph = Paragraph::new(lines)
        .alignment(Alignment::Center)
        .wrap(Wrap { trim: true });
    // Two lines, wrapped to at most four on the narrowest terminals.
    let height = if area.width >= 60 { 2 } else { 4 }.min(area.height);
    let [middle] = Layout::vertical([Constraint::Length(height)])
        .flex(ratatui::layout::Flex::Center)
        .areas(area);
    frame.render_widget(paragraph, middle);
}

/// A bordered pane with a title; the focused one stands out.
fn pane_block(title: Line<'_>, focused: bool, theme: Theme) -> Block<'_> {
    let border = if focused {
        theme.focused_border()
    } else {
        theme.border()
    };
    Block::new()
        .borders(Borders::ALL)
        .border_style(border)
        .title(title.style(theme.title()))
}

/// A scrollable pane's block: when scrolled back, the bottom border says so and how to
/// return. `page` is how many rows the pane shows.
fn log_block<'a, T>(
    title: Line<'a>,
    log: &Log<T>,
    page: usize,
    focused: bool,
    theme: Theme,
) -> Block<'a> {
    let block = pane_block(title, focused, theme);
    match log.scroll_back(page) {
        0 => block,
        n => block.title_bottom(Line::styled(
            format!(" ↑ {n} rows back · End follows "),
            theme.warning(),
        )),
    }
}

/// `text` wrapped to `width` ([`wrap`]), every line in `style`: how the panes show a
/// sentence that must be read whole.
fn wrapped_lines(text: &str, width: usize, style: Style) -> Vec<Line<'static>> {
    wrap(text, width)
        .into_iter()
        .map(|line| Line::styled(line, style))
        .collect()
}

/// Breaks `text` into lines of at most `width` columns, at spaces where it can: a notice or
/// an error is read whole, not cut at the pane's edge.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let needed = if line.is_empty() { 0 } else { 1 } + word.width();
        if !line.is_empty() && line.width() + needed > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        // A word longer than a line is split where it must be.
        for c in word.chars() {
            if line.width() + c.width().unwrap_or(0) > width {
                lines.push(std::mem::take(&mut line));
            }
            line.push(c);
        }
    }
    lines.push(line);
    lines
}

/// Cuts `text` to at most `width` terminal columns, marking a cut with `…`.
fn fit(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// Pads or cuts `text` to exactly `width` columns (left-aligned).
fn pad(text: &str, width: usize) -> String {
    let cut = fit(text, width);
    let fill = width.saturating_sub(cut.width());
    format!("{cut}{}", " ".repeat(fill))
}

/// Right-aligns `text` in `width` columns.
fn pad_left(text: &str, width: usize) -> String {
    let cut = fit(text, width);
    let fill = width.saturating_sub(cut.width());
    format!("{}{cut}", " ".repeat(fill))
}

/// A payload as the panes show it: sanitized text, or hex bytes in hex view; `…` marks a cut.
fn payload_text(payload: &Payload, hex: bool) -> String {
    let mut text = if hex {
        crate::text::hex(&payload.preview)
    } else {
        crate::text::sanitize(&payload.preview)
    };
    if payload.is_cut() {
        text.push('…');
    }
    text
}

/// The time column: `14:35:02.123`.
fn clock(at: &chrono::DateTime<chrono::Local>) -> String {
    at.format("%H:%M:%S%.3f").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_at_spaces_and_splits_long_words() {
        assert_eq!(wrap("one two three", 7), ["one two", "three"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 5), [""]);
        assert_eq!(wrap("日本語です", 4), ["日本", "語で", "す"]);
    }

    #[test]
    fn fit_respects_wide_characters() {
        assert_eq!(fit("hello", 5), "hello");
        assert_eq!(fit("hello!", 5), "hell…");
        assert_eq!(fit("日本語", 4), "日…");
        assert_eq!(pad("ab", 4), "ab  ");
        assert_eq!(pad_left("ab", 4), "  ab");
    }
}
