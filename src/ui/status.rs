//! The status bar: connection state in colour *and* words, the settings in force, key hints.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::theme::Theme;
use crate::app::App;
use crate::app::keymap;
use crate::app::update::state_words;
use crate::format;

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    // Sections in priority order: when the bar is too narrow, the last ones go first.
    let mut sections: Vec<Vec<Span>> = Vec::new();
    if let Some(client) = &app.client {
        let mut words = state_words(&client.state);
        if let Some(took) = client
            .connect_time
            .filter(|_| client.state == crate::app::model::ConnState::Connected)
        {
            words = format!("{words} in {}", format::duration(took));
        }
        sections.push(vec![Span::styled(
            format!(" ● {words} "),
            theme.state(&client.state),
        )]);
    } else if let Some(server) = &app.server {
        sections.push(vec![Span::styled(
            format!(" ● listening on {} ", server.listen),
            theme.echoed(),
        )]);
    }
    if let Some(notice) = app.server.as_ref().and_then(|s| s.notice.as_deref()) {
        sections.push(vec![Span::styled(format!(" {notice} "), theme.warning())]);
    }
    if app.dropped_events > 0 {
        let text = format!(" UI behind: {} events not shown ", app.dropped_events);
        sections.push(vec![Span::styled(text, theme.warning())]);
    }
    let mut settings = vec!["TCP".to_owned()];
    if let Some(client) = &app.client {
        settings.push(
            if client.nagle {
                "Nagle on"
            } else {
                "Nagle off"
            }
            .to_owned(),
        );
    }
    if let Some(server) = &app.server {
        settings.push(format!("read {}", server.read_size));
        if server.paused {
            settings.push("server paused".to_owned());
        }
    }
    sections.push(vec![Span::raw(format!(" {} ", settings.join(" · ")))]);
    let width = area.width as usize;
    let hints = |compact| {
        let hints: Vec<&str> = keymap::footer_hints(compact).collect();
        vec![Span::styled(
            format!(" {} ", hints.join(" · ")),
            theme.dim(),
        )]
    };
    let full = hints(false);
    let used: usize = sections
        .iter()
        .flatten()
        .map(|s| s.content.width())
        .sum::<usize>()
        + sections.len();
    let hints_width: usize = full.iter().map(|s| s.content.width()).sum();
    sections.push(if used + hints_width < width {
        full
    } else {
        hints(true)
    });

    let mut spans = Vec::new();
    let mut used = 0;
    for section in sections {
        let section_width: usize = section.iter().map(|s| s.content.width()).sum::<usize>() + 1;
        if used + section_width > width && !spans.is_empty() {
            break;
        }
        if !spans.is_empty() {
            spans.push(Span::styled("│", theme.dim()));
        }
        used += section_width;
        spans.extend(section);
    }
    frame.render_widget(
        Paragraph::new(Line::from(spans)).style(theme.status_bar()),
        area,
    );
}
