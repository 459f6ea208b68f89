//! The help overlay: every key and command, from the same tables that drive them.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::pane_block;
use super::theme::Theme;
use crate::app::App;
use crate::app::command::COMMANDS;
use crate::app::keymap::BINDINGS;

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let key_width = BINDINGS.iter().map(|b| b.label.len()).max().unwrap_or(0);
    let help_width = BINDINGS.iter().map(|b| b.help.len()).max().unwrap_or(0);
    let cell = |key: &str, help: &str| {
        [
            Span::styled(format!("  {key:<key_width$}  "), theme.rtt()),
            Span::raw(format!("{help:<help_width$}")),
        ]
    };
    let usage_width = COMMANDS.iter().map(|c| c.0.len()).max().unwrap_or(0);
    let row = |usage: &str, help: &str| {
        Line::from(vec![
            Span::styled(format!("  {usage:<usage_width$}  "), theme.rtt()),
            Span::raw(help.to_owned()),
        ])
    };
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
    lines.push(Line::styled(
        "Received bytes are sanitized: \\x1b, \\n, <U+202E>… never reach the terminal.",
        theme.dim(),
    ));

    let height = (lines.len() as u16 + 2).min(area.height);
    // Scrolled with Up/Down/PgUp/PgDn when the terminal is too short for all of it.
    let overflow = (lines.len() as u16 + 2).saturating_sub(height);
    let scroll = app.help_scroll.min(overflow);
    let width = 84.min(area.width);
    let [vertical] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(vertical);
    frame.render_widget(Clear, popup);
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
}
