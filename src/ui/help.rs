//! The help overlay: every key and command, from the same tables that drive them.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::pane_block;
use super::theme::Theme;
use crate::app::command::COMMANDS;
use crate::app::keymap::BINDINGS;

pub(super) fn draw(frame: &mut Frame, area: Rect, theme: Theme) {
    let key_width = BINDINGS.iter().map(|b| b.label.len()).chain(COMMANDS.iter().map(|c| c.0.len())).max().unwrap_or(0);
    let row = |key: &str, help: &str| {
        Line::from(vec![Span::styled(format!("  {key:<key_width$}  "), theme.rtt()), Span::raw(help.to_owned())])
    };
    let mut lines = vec![Line::styled("Keys", theme.title())];
    lines.extend(BINDINGS.iter().map(|b| row(b.label, b.help)));
    lines.push(Line::raw(""));
    lines.push(Line::styled("Commands (type on the message line, then Enter)", theme.title()));
    lines.extend(COMMANDS.iter().map(|(usage, help)| row(usage, help)));
    lines.push(Line::raw(""));
    lines.push(Line::styled("Received bytes are shown sanitized: \\x1b, \\n, <U+202E>… never reach your terminal.", theme.dim()));

    let height = (lines.len() as u16 + 2).min(area.height);
    let width = 84.min(area.width);
    let [vertical] = Layout::vertical([Constraint::Length(height)]).flex(Flex::Center).areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(width)]).flex(Flex::Center).areas(vertical);
    frame.render_widget(Clear, popup);
    let block = pane_block(Line::from(" Help · Esc closes "), true, theme);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), popup);
}
