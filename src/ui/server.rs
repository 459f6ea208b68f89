//! The server pane: its connections and every `read()` it did, one row each.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use super::{clock, fit, log_block, visible};
use crate::app::App;
use crate::app::model::{ConnInfo, ServerPane, ServerRow, ServerRowKind};
use crate::format;
use crate::net::ConnId;

/// Below this inner width the time column is left out.
const TIME_COLUMN_MIN_WIDTH: usize = 50;

pub(super) fn draw(
    frame: &mut Frame,
    area: Rect,
    server: &ServerPane,
    app: &App,
    focused: bool,
    theme: Theme,
) {
    let open = server.conns.values().filter(|c| c.closed.is_none()).count();
    let title = Line::from(format!(" Server {} ", server.listen));
    let block = log_block(title, &server.rows, focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);

    // A third of the pane lists connections (at least three rows), the rest is the read log.
    let table_rows = (server.conns.len() as u16).clamp(1, (inner.height / 3).max(3));
    let [table, rule, log] = Layout::vertical([
        Constraint::Length(table_rows),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    draw_connections(frame, table, server, app, theme);
    draw_rule(frame, rule, server, open, theme);
    draw_log(frame, log, server, app.hex, theme);
}

/// The line between table and log, with the server's totals.
fn draw_rule(frame: &mut Frame, rule: Rect, server: &ServerPane, open: usize, theme: Theme) {
    let totals = server.totals;
    // Settings first (what the lesson is about), then the counts.
    let paused = if server.paused { "PAUSED · " } else { "" };
    let mut rule_text = format!(
        "── {} · read {} · {paused}{open} open · {} · {} echoed ",
        server.protocols,
        server.read_size,
        plural(totals.reads, "read"),
        format::bytes(totals.bytes),
    );
    if totals.rejected > 0 {
        rule_text.push_str(&format!("· {} turned away ", totals.rejected));
    }
    if totals.dropped > 0 {
        rule_text.push_str(&format!("· {} unanswered ", totals.dropped));
    }
    let fill = "─".repeat((rule.width as usize).saturating_sub(rule_text.chars().count()));
    frame.render_widget(
        Paragraph::new(Span::styled(
            fit(&format!("{rule_text}{fill}"), rule.width as usize),
            theme.dim(),
        )),
        rule,
    );
}

fn draw_connections(frame: &mut Frame, area: Rect, server: &ServerPane, app: &App, theme: Theme) {
    let width = area.width as usize;
    if server.conns.is_empty() {
        let waiting = format!("waiting for connections on {}", server.listen);
        frame.render_widget(
            Paragraph::new(Span::styled(fit(&waiting, width), theme.dim())),
            area,
        );
        return;
    }
    // Open connections first, newest first; then the most recently closed.
    let mut conns: Vec<(&ConnId, &ConnInfo)> = server.conns.iter().collect();
    conns.sort_by_key(|(id, info)| (info.closed.is_some(), std::cmp::Reverse(**id)));
    let lines: Vec<Line> = conns
        .into_iter()
        .take(area.height as usize)
        .map(|(id, info)| {
            let age = (info.ended.unwrap_or(app.now) - info.since)
                .to_std()
                .unwrap_or_default();
            let (state, style, bytes) = match &info.closed {
                None if info.udp => (
                    "udp".to_owned(),
                    theme.echoed(),
                    format!("in {}", format::bytes(info.bytes_in)),
                ),
                None => (
                    "open".to_owned(),
                    theme.echoed(),
                    format!("in {}", format::bytes(info.bytes_in)),
                ),
                Some(reason) => (
                    reason.to_string(),
                    theme.dim(),
                    format!(
                        "in {} out {}",
                        format::bytes(info.bytes_in),
                        format::bytes(info.bytes_out)
                    ),
                ),
            };
            let text = format!(
                "#{id} {} {state} {} · {} · {bytes}",
                info.peer,
                format::age(age),
                plural(info.reads, "read")
            );
            Line::from(Span::styled(fit(&text, width), style))
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), area);
}

fn draw_log(frame: &mut Frame, area: Rect, server: &ServerPane, hex: bool, theme: Theme) {
    let width = area.width as usize;
    let show_time = width >= TIME_COLUMN_MIN_WIDTH;
    let lines: Vec<Line> = visible(&server.rows, area.height as usize)
        .map(|row| {
            let mut spans = Vec::with_capacity(3);
            let mut used = 0;
            if show_time {
                let time = format!("{} ", clock(&row.at));
                used += time.len();
                spans.push(Span::styled(time, theme.dim()));
            }
            let (head, text, style) = describe(row, hex, theme);
            let head = fit(&head, width.saturating_sub(used));
            used += head.chars().count();
            spans.push(Span::styled(head, style));
            spans.push(Span::raw(fit(&text, width.saturating_sub(used))));
            Line::from(spans)
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), area);
}

/// A log row as (styled head, plain rest): the head says what happened, the rest shows data.
fn describe(row: &ServerRow, hex: bool, theme: Theme) -> (String, String, ratatui::style::Style) {
    match &row.kind {
        ServerRowKind::Connected { conn, peer } => (
            format!("#{conn} {peer} connected"),
            String::new(),
            theme.echoed(),
        ),
        ServerRowKind::Read { conn, payload } => (
            format!("#{conn} read {} ", format::bytes(payload.len as u64)),
            format!(" {}", super::payload_text(payload, hex)),
            theme.sent(),
        ),
        ServerRowKind::Closed {
            conn,
            reason,
            bytes_in,
            bytes_out,
        } => (
            format!("#{conn} {reason}"),
            format!(
                " (in {}, out {})",
                format::bytes(*bytes_in),
                format::bytes(*bytes_out)
            ),
            theme.notice(),
        ),
        ServerRowKind::Rejected { conn, peer, limit } => (
            format!("#{conn} {peer} turned away: {limit}"),
            String::new(),
            theme.warning(),
        ),
        ServerRowKind::AcceptFailed { reason } => (
            format!("accept() failed: {reason}"),
            " (retrying)".into(),
            theme.error(),
        ),
        ServerRowKind::Datagram {
            conn,
            payload,
            sent_len,
        } => {
            let cut = if *sent_len > payload.len {
                format!(" (cut from {sent_len} B)")
            } else {
                String::new()
            };
            (
                format!("#{conn} datagram {} ", format::bytes(payload.len as u64)),
                format!(" {}{cut}", super::payload_text(payload, hex)),
                theme.sent(),
            )
        }
        ServerRowKind::Dropped { conn, peer, reason } => (
            format!("#{conn} {peer} {reason}"),
            String::new(),
            theme.warning(),
        ),
        ServerRowKind::Error(message) => (format!("! {message}"), String::new(), theme.error()),
        ServerRowKind::Notice(message) => (format!("· {message}"), String::new(), theme.notice()),
    }
}

/// `1 read`, `2 reads`.
fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
