//! The server pane: its connections and every `read()` it did, one row each.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use super::{clock, fit, log_block, visible};
use crate::app::App;
use crate::app::model::{ConnInfo, ServerPane, ServerRow, ServerRowKind};
use crate::net::ConnId;
use crate::units;

/// Below this inner width the roster is one compact line per client, without columns.
const ROSTER_COLUMNS_MIN_WIDTH: usize = 90;
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
    let mut title = format!(" Server {} ", server.listen);
    if let Some(conn) = server.selected {
        title += &format!("· log of #{conn} (Esc: all) ");
    }
    let block = log_block(Line::from(title), &server.rows, focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);

    // The roster takes a third of the pane beside a client, half when the server is alone;
    // the rest is the read log.
    let share = if app.client.is_some() { 3 } else { 2 };
    let header = u16::from(inner.width as usize >= ROSTER_COLUMNS_MIN_WIDTH);
    let wanted = server.conns.len() as u16 + header;
    let table_rows = wanted.clamp(1, (inner.height / share).max(3));
    let [table, rule, log] = Layout::vertical([
        Constraint::Length(table_rows),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    draw_roster(frame, table, server, app, theme);
    draw_rule(frame, rule, server, theme);
    draw_log(frame, log, server, app.hex, theme);
}

/// The line between roster and log: settings first (what the lesson is about), then totals.
fn draw_rule(frame: &mut Frame, rule: Rect, server: &ServerPane, theme: Theme) {
    let totals = server.totals;
    let paused = if server.paused { "PAUSED · " } else { "" };
    let (reads_per_s, bytes_per_s) = server.rate;
    let mut text = format!(
        "── {} · read {} · {paused}{} open (peak {}) · {reads_per_s:.0} reads/s · {}/s · {} accepted ",
        server.protocols,
        server.read_size,
        server.open(),
        server.peak_open,
        units::bytes(bytes_per_s as u64),
        totals.accepted,
    );
    if totals.rejected > 0 {
        text += &format!("· {} turned away ", totals.rejected);
    }
    if totals.dropped > 0 {
        text += &format!("· {} unanswered ", totals.dropped);
    }
    let width = rule.width as usize;
    let fill = "─".repeat(width.saturating_sub(text.chars().count()));
    let line = Span::styled(fit(&format!("{text}{fill}"), width), theme.dim());
    frame.render_widget(Paragraph::new(line), rule);
}

/// The connections, one row each, in the chosen order; the selected one highlighted and kept
/// in view, however many there are.
fn draw_roster(frame: &mut Frame, area: Rect, server: &ServerPane, app: &App, theme: Theme) {
    let width = area.width as usize;
    if server.conns.is_empty() {
        let waiting = format!("waiting for clients on {}", server.listen);
        let line = Span::styled(fit(&waiting, width), theme.dim());
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    let roster = server.roster();
    // Wide: aligned columns under a header. Narrow (beside a client): one compact line each.
    let wide = width >= ROSTER_COLUMNS_MIN_WIDTH;
    let mut lines = Vec::new();
    if wide {
        let header = format!(
            "{:<5} {:<21} {:<9} {:>6} {:>6} {:>9} {:>8} activity · sort: {} (/sort)",
            "#",
            "peer",
            "state",
            "age",
            "reads",
            "in",
            "pending",
            server.sort.name()
        );
        lines.push(Line::styled(fit(&header, width), theme.dim()));
    }
    let capacity = (area.height as usize).saturating_sub(lines.len());
    let selected_at = server
        .selected
        .and_then(|conn| roster.iter().position(|(id, _)| *id == conn));
    let first = match selected_at {
        Some(at) if at >= capacity => at + 1 - capacity,
        _ => 0,
    };
    for (id, info) in roster.iter().skip(first).take(capacity) {
        let mut style = match (&info.closed, info.pending) {
            (Some(_), _) => theme.dim(),
            (None, Some(_)) => theme.warning(),
            (None, None) => theme.echoed(),
        };
        if server.selected == Some(*id) {
            style = style.add_modifier(Modifier::REVERSED);
        }
        let text = roster_row(*id, info, app.now, wide);
        lines.push(Line::styled(fit(&text, width), style));
    }
    let hidden = roster.len().saturating_sub(first + capacity);
    if hidden > 0 && !lines.is_empty() {
        let last = lines.len() - 1;
        lines[last] = Line::styled(
            fit(&format!("… {hidden} more (↑↓ select)"), width),
            theme.dim(),
        );
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// One roster row: `#3  10.0.0.7:50002  open  1m05s  42  1024 B  -  ▁▃▇▅` in columns, or
/// `#3 10.0.0.7:50002 open 1m05s · 42 reads · 1024 B` when narrow.
fn roster_row(
    id: ConnId,
    info: &ConnInfo,
    now: chrono::DateTime<chrono::Local>,
    wide: bool,
) -> String {
    let age = units::age(
        (info.ended.unwrap_or(now) - info.since)
            .to_std()
            .unwrap_or_default(),
    );
    let state = match (&info.closed, info.udp, info.pending) {
        (Some(reason), _, _) => reason.to_string(),
        (None, true, _) => "udp".to_owned(),
        (None, false, Some(_)) => "stalled".to_owned(),
        (None, false, None) => "open".to_owned(),
    };
    let bytes_in = units::bytes(info.bytes_in);
    if !wide {
        let pending = info.pending.map_or(String::new(), |n| {
            format!(" · {} pending", units::bytes(n as u64))
        });
        let reads = match info.reads {
            1 => "1 read".to_owned(),
            n => format!("{n} reads"),
        };
        return format!(
            "#{id} {} {state} {age} · {reads} · {bytes_in}{pending}",
            info.peer
        );
    }
    let pending = info
        .pending
        .map_or("-".to_owned(), |n| units::bytes(n as u64));
    format!(
        "{:<5} {:<21} {:<9} {:>6} {:>6} {:>9} {:>8} {}",
        format!("#{id}"),
        info.peer.to_string(),
        fit(&state, 9),
        age,
        info.reads,
        bytes_in,
        pending,
        sparkline(&info.activity),
    )
}

/// Reads per tick as block characters, scaled to the busiest tick shown.
fn sparkline(activity: &std::collections::VecDeque<u32>) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = activity.iter().copied().max().unwrap_or(0).max(1);
    activity
        .iter()
        .map(|&n| match n {
            0 => ' ',
            n => BARS[((n as usize * (BARS.len() - 1)) / max as usize).min(BARS.len() - 1)],
        })
        .collect()
}

fn draw_log(frame: &mut Frame, area: Rect, server: &ServerPane, hex: bool, theme: Theme) {
    let width = area.width as usize;
    let show_time = width >= TIME_COLUMN_MIN_WIDTH;
    let height = area.height as usize;
    // One client's rows when one is selected (newest first in view), else the whole log.
    let rows: Vec<&ServerRow> = match server.selected {
        Some(conn) => {
            let mut mine: Vec<&ServerRow> = server
                .rows
                .rows()
                .iter()
                .rev()
                .filter(|row| row.kind.conn() == Some(conn))
                .take(height)
                .collect();
            mine.reverse();
            mine
        }
        None => visible(&server.rows, height).collect(),
    };
    let lines: Vec<Line> = rows
        .into_iter()
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
            format!("#{conn} read {} ", units::bytes(payload.len as u64)),
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
                units::bytes(*bytes_in),
                units::bytes(*bytes_out)
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
                format!("#{conn} datagram {} ", units::bytes(payload.len as u64)),
                format!(" {}{cut}", super::payload_text(payload, hex)),
                theme.sent(),
            )
        }
        ServerRowKind::Dropped { conn, peer, reason } => (
            format!("#{conn} {peer} {reason}"),
            String::new(),
            theme.warning(),
        ),
        ServerRowKind::Stalled {
            conn,
            pending: Some(pending),
        } => (
            format!("#{conn} stalled: not reading"),
            format!(" ({} waiting to be echoed)", units::bytes(*pending as u64)),
            theme.warning(),
        ),
        ServerRowKind::Stalled {
            conn,
            pending: None,
        } => (
            format!("#{conn} reading again"),
            String::new(),
            theme.echoed(),
        ),
        ServerRowKind::Error(message) => (format!("! {message}"), String::new(), theme.error()),
        ServerRowKind::Notice(message) => (format!("· {message}"), String::new(), theme.notice()),
    }
}
