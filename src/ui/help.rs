//! The help overlay: every key and command, from the same tables that drive them.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::theme::Theme;
use super::{pane_block, wrap, wrapped_lines};
use crate::app::App;
use crate::app::command::{COMMANDS, LITERAL_SLASH};
use crate::app::keymap;

/// Columns the overlay takes on a wide terminal.
const OVERLAY_WIDTH: u16 = 84;

/// Draws the overlay; returns its rectangle (a click outside it closes it).
pub(super) fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) -> Rect {
    let bindings: Vec<&keymap::Binding> = keymap::help_rows().collect();
    let key_width = bindings
        .iter()
        .map(|b| b.label.chars().count())
        .max()
        .unwrap_or(0);
    let help_width = bindings
        .iter()
        .map(|b| b.help.chars().count())
        .max()
        .unwrap_or(0);
    let cell = |key: &str, help: &str| {
        [
            Span::styled(format!("  {key:<key_width$}  "), theme.rtt()),
            Span::raw(format!("{help:<help_width$}")),
        ]
    };
    let usage_width = COMMANDS.iter().map(|c| c.usage.len()).max().unwrap_or(0);
    let width = OVERLAY_WIDTH.min(area.width);
    // Border (2) and the usage column with its margins: the help text wraps in the rest.
    let text_width = (width as usize).saturating_sub(2 + usage_width + 4);
    let row = |usage: &str, help: &str| -> Vec<Line<'static>> {
        wrap(help, text_width)
            .into_iter()
            .enumerate()
            .map(|(i, part)| {
                let usage = if i == 0 { usage } else { "" };
                Line::from(vec![
                    Span::styled(format!("  {usage:<usage_width$}  "), theme.rtt()),
                    Span::raw(part),
                ])
            })
            .collect()
    };
    // A dim paragraph across the overlay.
    let note = |text: &str| wrapped_lines(text, usize::from(width.saturating_sub(2)), theme.dim());
    let mut lines = vec![Line::styled("Keys", theme.title())];
    // Keys two per row, so everything fits on an 80×24 terminal.
    lines.extend(bindings.chunks(2).map(|pair| {
        Line::from(
            pair.iter()
                .flat_map(|b| cell(b.label, b.help))
                .collect::<Vec<_>>(),
        )
    }));
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "Commands (type on the message line, then Enter)",
        theme.title(),
    ));
    lines.extend(COMMANDS.iter().flat_map(|spec| row(spec.usage, spec.help)));
    lines.extend(row(LITERAL_SLASH.0, LITERAL_SLASH.1));
    lines.push(Line::raw(""));
    lines.extend(note(
        "On the message line: Tab completes a /command; \\n \\r \\t \\0 \\\\ \\xNN \\u{XXXX} send those bytes",
    ));
    let mouse = if app.view.mouse {
        "Mouse: click a pane to focus it, a client to select it; the wheel scrolls. To select \
         text, hold Shift while dragging (or run with --no-mouse)."
    } else {
        "Mouse capture is off (--no-mouse): drag to select text as usual."
    };
    lines.extend(note(mouse));
    if let Some(impairments) = app.impairments.filter(|i| !i.is_none()) {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            "The same link on a real interface (as root):",
            theme.title(),
        ));
        lines.push(Line::raw(format!(
            "  {}",
            impairments.netem_command("eth0")
        )));
    }
    lines.push(Line::raw(""));
    lines.extend(note(
        "After an RTT, \"+1.2ms queued\" (\"+1.2ms\" in a narrow pane) is how long the message \
         waited in echotui before reaching its socket: it is not part of the RTT.",
    ));
    lines.extend(note(
        "Received bytes are shown escaped (\\x1b, \\n, \\u{202E}…), never sent to the terminal.",
    ));

    let height = (lines.len() as u16 + 2).min(area.height);
    // Scrolled with Up/Down/PgUp/PgDn when the terminal is too short for all of it.
    let overflow = (lines.len() as u16 + 2).saturating_sub(height);
    let scroll = app.help_scroll.min(overflow);
    let [vertical] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(vertical);
    frame.render_widget(Clear, popup);
    frame.render_widget(Block::new().style(theme.base()), popup);
    let title = if overflow > 0 {
        " Help · ↑↓ PgUp PgDn scroll · Esc closes "
    } else {
        " Help · Esc closes "
    };
    let block = pane_block(Line::from(title), true, theme);
    frame.render_widget(
        Paragraph::new(lines).block(block).scroll((scroll, 0)),
        popup,
    );
    popup
}
