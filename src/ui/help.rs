//! The help overlay: every key and command, from the same tables that drive them.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::pane_block;
use super::theme::Theme;
use crate::app::command::COMMANDS;
use crate::app::keymap::BINDINGS;

pub(super) fn draw(frame: &mut Frame, area: Rect, theme: Theme) {
    let key_width = BINDINGS
        .iter()
        .map(|b| b.label.len())
        .chain(COMMANDS.iter().map(|c| c.0.len()))
        .max()
        .unwrap_or(0);
    let help_width = BINDINGS.iter().map(|b| b.help.len()).max().unwrap_or(0);
    let cell = |key: &str, help: &str| {
        [
            Span::styled(format!("  {key:<key_width$}  "), theme.rtt()),
            Span::raw(format!("{help:<help_width$}")),
        ]
    };
    let row = |key: &str, help: &str| Line::from(cell(key, help).to_vec());
    let mut lines = vec![Line::styled("Keys", theme.title())];
    // Keys two per row, so everything fits on an 80×24 terminal.
    lines.extend(BINDINGS.chunks(2).map(|pair| {
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
    lines.extend(COMMANDS.iter().map(|(usage, help)| row(usage, help)));
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "Received bytes are sanitized: \\x1b, \\n, <U+202E>… never reach the terminal.",
        theme.dim(),
    ));

    let height = (lines.len() as u16 + 2).min(area.height);
    let width = 84.min(area.width);
    let [vertical] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(vertical);
    frame.render_widget(Clear, popup);
    let block = pane_block(Line::from(" Help · Esc closes "), true, theme);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
