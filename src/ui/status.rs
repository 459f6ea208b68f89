//! The status bar: connection state in colour *and* words, the settings in force, key hints.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::theme::Theme;
use crate::app::App;
use crate::app::keymap;
use crate::app::model::ConnState;
use crate::net::Transport;
use crate::units;

/// One part of the bar, in the forms it can take, longest first; the last form may be empty
/// (the part can be left out).
struct Section {
    forms: Vec<String>,
    /// Shorter forms still, taken only when the bar cannot fit otherwise: a busy lesson's
    /// state, link and settings would leave no room at 80 columns.
    last_resort: Vec<String>,
    style: Style,
}

impl Section {
    fn new(forms: Vec<String>, style: Style) -> Self {
        Self {
            forms,
            last_resort: Vec::new(),
            style,
        }
    }

    fn one(text: String, style: Style) -> Self {
        Self::new(vec![text], style)
    }
}

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let width = usize::from(area.width);
    let mut sections = sections(app, theme);
    let mut chosen = fit_sections(&sections, width);
    if shown_width(&sections, &chosen) > width {
        for section in &mut sections {
            let last_resort = std::mem::take(&mut section.last_resort);
            section.forms.extend(last_resort);
        }
        chosen = fit_sections(&sections, width);
    }
    let mut spans = Vec::new();
    for (section, &form) in sections.iter().zip(&chosen) {
        let text = &section.forms[form];
        if text.is_empty() {
            continue;
        }
        if !spans.is_empty() {
            spans.push(Span::styled("│", theme.dim()));
        }
        spans.push(Span::styled(format!(" {text} "), section.style));
    }
    frame.render_widget(
        Paragraph::new(Line::from(spans)).style(theme.status_bar()),
        area,
    );
}

/// The bar's parts in display order: state, notices, settings, key hints.
fn sections(app: &App, theme: Theme) -> Vec<Section> {
    let mut sections = Vec::new();
    if let Some(client) = &app.client {
        let words = client.state_words();
        // Longest first: state, handshake, flow control; the state alone is the last resort.
        let handshake = match (client.connect_time, &client.state) {
            (Some(took), ConnState::Connected) if client.handshake_to_proxy => {
                Some(format!(" in {} (to the proxy)", units::duration(took)))
            }
            (Some(took), ConnState::Connected) => Some(format!(" in {}", units::duration(took))),
            _ => None,
        };
        let blocked = if client.send_blocked {
            " · send blocked (peer not reading)"
        } else {
            ""
        };
        let mut forms = Vec::new();
        if let Some(handshake) = &handshake {
            forms.push(format!("● {words}{handshake}{blocked}"));
        }
        forms.push(format!("● {words}{blocked}"));
        if client.send_blocked {
            forms.push("● send blocked".to_owned());
        }
        sections.push(Section::new(forms, theme.state(&client.state)));
    } else if let Some(server) = &app.server {
        sections.push(Section::one(
            format!("● listening on {}", server.listen),
            theme.echoed(),
        ));
    }
    if app.dropped_events > 0 {
        let n = app.dropped_events;
        sections.push(Section::new(
            vec![
                format!("UI behind: {n} events not shown"),
                format!("{n} not shown"),
            ],
            theme.warning(),
        ));
    }
    if let Some(impairments) = app.impairments.filter(|i| !i.is_none()) {
        let mut text = format!("link: {impairments}");
        let ignored = impairments.tcp_ignored();
        let on_tcp = app
            .client
            .as_ref()
            .is_some_and(|c| c.transport == Transport::Tcp);
        if on_tcp && !ignored.is_empty() {
            text += &format!(" ({} ignored on TCP)", ignored.join(", "));
        }
        sections.push(Section::new(
            vec![text, format!("link: {impairments}"), "impaired".to_owned()],
            theme.warning(),
        ));
    }
    // The server's settings are also on its pane's rule line; the client's, only here.
    let client = client_settings(app);
    let mut settings = client.clone();
    if let Some(server) = &app.server {
        settings.extend(super::server::behaviour_words(&server.behaviour, true));
    }
    sections.push(Section {
        forms: vec![settings.join(" · "), settings.join("·")],
        last_resort: vec![client.join("·")],
        style: Style::new(),
    });
    let hints = |compact| {
        keymap::footer_hints(compact)
            .collect::<Vec<_>>()
            .join(" · ")
    };
    // At the very least, the one key that explains the others.
    let help = keymap::footer_hints(true).next().unwrap_or_default();
    sections.push(Section {
        forms: vec![hints(false), hints(true)],
        last_resort: vec![help.to_owned()],
        style: theme.dim(),
    });
    sections
}

/// The client's settings in force, as short words (in `serve`, what the server answers).
fn client_settings(app: &App) -> Vec<String> {
    match (&app.client, &app.server) {
        (Some(client), _) if client.transport == Transport::Tcp => {
            let nagle = if client.nagle {
                "Nagle on"
            } else {
                "Nagle off"
            };
            vec![client.transport.to_string(), nagle.to_owned()]
        }
        (Some(client), _) => vec![client.transport.to_string()],
        (None, Some(server)) => vec![server.protocols.to_string()],
        (None, None) => Vec::new(),
    }
}

/// Picks a form for each section so the bar fits `width`: start from the shortest forms,
/// then lengthen sections in display order while they still fit.
fn fit_sections(sections: &[Section], width: usize) -> Vec<usize> {
    let mut chosen: Vec<usize> = sections.iter().map(|s| s.forms.len() - 1).collect();
    for i in 0..sections.len() {
        while chosen[i] > 0 {
            chosen[i] -= 1;
            if shown_width(sections, &chosen) > width {
                chosen[i] += 1;
                break;
            }
        }
    }
    chosen
}

/// Columns the bar takes with the `chosen` form of each section.
fn shown_width(sections: &[Section], chosen: &[usize]) -> usize {
    let shown: Vec<usize> = sections
        .iter()
        .zip(chosen)
        .map(|(s, &form)| s.forms[form].width())
        .filter(|&w| w > 0)
        .collect();
    // Each shown part is padded by a space on both sides, with a separator between.
    shown.iter().map(|w| w + 2).sum::<usize>() + shown.len().saturating_sub(1)
}
