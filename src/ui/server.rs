//! The server pane: its connections and every `read()` it did, one row each.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::theme::Theme;
use super::{clock, fit, log_block, peer, wrap, wrapped_lines};
use crate::app::App;
use crate::app::model::{ConnInfo, RosterArea, ServerPane, ServerRow, ServerRowKind};
use crate::net::ConnId;
use crate::net::event::{echoed_words, times};
use crate::net::framing::Framing;
use crate::net::server::{Behaviour, ServerModel};
use crate::units;

/// Below this inner width the roster is one compact line per client, without columns.
const ROSTER_COLUMNS_MIN_WIDTH: usize = 90;
/// Below this inner width the time column is left out.
const TIME_COLUMN_MIN_WIDTH: usize = 50;

/// Draws the pane; returns how many rows of the read log it shows (a page, for scrolling)
/// and where the roster's client rows are (for the mouse).
pub(super) fn draw(
    frame: &mut Frame,
    area: Rect,
    server: &ServerPane,
    app: &App,
    focused: bool,
    theme: Theme,
) -> (usize, RosterArea) {
    let mut title = format!(" Server {} ", server.listen);
    if let Some(conn) = server.selected {
        title += &format!("· log of #{conn} (Esc: all) ");
    }
    let page = app.viewport.server_rows;
    let block = log_block(Line::from(title), &server.rows, page, focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);

    // What the class must not miss (a busy port, an exposed server and where students
    // connect) stays on top, wrapped rather than cut.
    let banner: Vec<Line> = server
        .banner
        .iter()
        .flat_map(|notice| wrapped_lines(notice, inner.width as usize, theme.warning()))
        .collect();
    // Under the roster, those the kernel holds for it: the accept queue, wrapped rather than
    // cut (its backlog is half the lesson).
    let queue = accept_queue_lines(server, inner.width as usize, theme);
    let queue_rows = queue.len() as u16;
    // The roster takes a third of the pane beside a client, half when the server is alone;
    // the rest is the read log.
    let share = if app.client.is_some() { 3 } else { 2 };
    let header = u16::from(inner.width as usize >= ROSTER_COLUMNS_MIN_WIDTH);
    let wanted = server.conns.len() as u16 + header;
    let banner_rows = (banner.len() as u16).min(inner.height / 3);
    let table_rows = wanted.clamp(1, ((inner.height - banner_rows) / share).max(3));
    let [banner_area, table, queue_area, rule, log] = Layout::vertical([
        Constraint::Length(banner_rows),
        Constraint::Length(table_rows),
        Constraint::Length(queue_rows),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(banner), banner_area);
    frame.render_widget(Paragraph::new(queue), queue_area);
    let roster = draw_roster(frame, table, server, app, theme);
    draw_rule(frame, rule, server, theme);
    (draw_log(frame, log, server, app, theme), roster)
}

/// The accept queue's line (`3 waiting to be accepted (backlog 128)`), when the pane shows
/// it ([`ServerPane::accept_queue`]): a warning while anyone waits, dim while nobody does.
fn accept_queue_lines(server: &ServerPane, width: usize, theme: Theme) -> Vec<Line<'static>> {
    let (text, style) = match server.accept_queue() {
        None => return Vec::new(),
        Some(Ok(queue)) if queue.waiting > 0 => (queue.to_string(), theme.warning()),
        Some(Ok(queue)) => (queue.to_string(), theme.dim()),
        Some(Err(why)) => (format!("accept queue: {why}"), theme.dim()),
    };
    wrapped_lines(&text, width, style)
}

/// The server's settings in short words, the ones a lesson changes first: `async · read 1024
/// · PAUSED · frame line · chunks 5 B · think 200ms`. The model is left out when it is the
/// default and `terse` (the status bar, where room is short).
pub(super) fn behaviour_words(behaviour: &Behaviour, terse: bool) -> Vec<String> {
    let mut words = Vec::new();
    if !terse || behaviour.model != ServerModel::default() {
        words.push(behaviour.model.to_string());
    }
    words.push(format!("read {}", behaviour.read_size));
    if behaviour.paused {
        words.push("PAUSED".to_owned());
    }
    if behaviour.framing != Framing::None {
        words.push(format!("frame {}", behaviour.framing));
    }
    let m = &behaviour.misbehaviour;
    if let Some(n) = m.echo_chunks {
        words.push(format!("chunks {n} B"));
    }
    if let Some(think) = m.think {
        words.push(format!("think {}", units::duration(think)));
    }
    if m.greeting.is_some() {
        words.push("greeting".to_owned());
    }
    if let Some(n) = m.close_after {
        words.push(format!("close after {n} B"));
    }
    if let Some(n) = m.reset_after {
        words.push(format!("reset after {n} B"));
    }
    words
}

/// The line between roster and log: settings first (what the lesson is about), then totals.
fn draw_rule(frame: &mut Frame, rule: Rect, server: &ServerPane, theme: Theme) {
    let census = &server.census;
    let (reads_per_s, bytes_per_s) = server.rate;
    let settings = behaviour_words(&server.behaviour, false).join(" · ");
    let mut text = format!(
        "── {} · {settings} · {} open (peak {}) · {reads_per_s:.0} reads/s · {}/s · {} accepted ",
        server.protocols,
        server.open(),
        census.peak_open.max(server.open()),
        units::bytes(bytes_per_s as u64),
        census.accepted,
    );
    if census.threads > 0 {
        text += &format!(
            "· {} ",
            units::count(census.threads as u64, "thread", "threads")
        );
    }
    if !census.sources.is_empty() {
        text += &format!(
            "· {} ",
            units::count(census.sources.len() as u64, "UDP source", "UDP sources")
        );
    }
    if census.rejected > 0 {
        text += &format!("· {} turned away ", census.rejected);
    }
    if census.unanswered > 0 {
        text += &format!("· {} unanswered ", census.unanswered);
    }
    let width = rule.width as usize;
    let fill = "─".repeat(width.saturating_sub(text.chars().count()));
    let line = Span::styled(fit(&format!("{text}{fill}"), width), theme.dim());
    frame.render_widget(Paragraph::new(line), rule);
}

/// The connections, one row each, in the chosen order; the selected one highlighted and kept
/// in view, however many there are. Returns where the client rows are.
fn draw_roster(
    frame: &mut Frame,
    area: Rect,
    server: &ServerPane,
    app: &App,
    theme: Theme,
) -> RosterArea {
    let width = area.width as usize;
    if server.conns.is_empty() {
        let waiting = format!("waiting for clients on {}", server.listen);
        let line = Span::styled(fit(&waiting, width), theme.dim());
        frame.render_widget(Paragraph::new(line), area);
        return RosterArea::default();
    }
    let roster = server.roster();
    // Wide: aligned columns under a header. Narrow (beside a client): one compact line each.
    let wide = width >= ROSTER_COLUMNS_MIN_WIDTH;
    // As wide as the longest state shown ("closed by peer", "stopped reading"), never cut.
    let state_width = roster
        .iter()
        .map(|(_, info)| state_words(info).width())
        .max()
        .unwrap_or(0)
        .max("state".len());
    let mut lines = Vec::new();
    if wide {
        let header = format!(
            "{:<5} {:<21} {:<state_width$} {:>6} {:>6} {:>9} {:>8} {:>7} {:>5} activity · sort: {} (/sort)",
            "#",
            "peer",
            "state",
            "age",
            "reads",
            "in",
            "pending",
            "rtt",
            "retr",
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
        let who = peer(app, info.peer);
        let text = roster_row(*id, info, &who, app.now, wide.then_some(state_width));
        lines.push(Line::styled(fit(&text, width), style));
    }
    let shown = roster.len().saturating_sub(first).min(capacity);
    let hidden = roster.len() - first - shown;
    if hidden > 0 && shown > 0 {
        // The last row shown gives way to the count, and so is one of those it counts.
        let last = lines.len() - 1;
        lines[last] = Line::styled(
            fit(&format!("… {} more (↑↓ select)", hidden + 1), width),
            theme.dim(),
        );
    }
    frame.render_widget(Paragraph::new(lines), area);
    let header = u16::from(wide);
    let mut rows = area;
    rows.y += header;
    rows.height = rows.height.saturating_sub(header);
    RosterArea { area: rows, first }
}

/// A connection's state in the roster's words.
fn state_words(info: &ConnInfo) -> String {
    match (&info.closed, info.udp, info.pending) {
        (Some(reason), _, _) => reason.to_string(),
        (None, true, _) => "udp".to_owned(),
        (None, false, Some(_)) => "stalled".to_owned(),
        (None, false, None) => "open".to_owned(),
    }
}

/// One roster row: `#3  10.0.0.7:50002  open  1m05s  42  1024 B  -  3.1ms  0  ▁▃▇▅` in
/// columns of which the state takes `state_width`, or
/// `#3 10.0.0.7:50002 open 1m05s · rtt 3.1ms · 42 reads · 1024 B` when narrow (`None`).
fn roster_row(
    id: ConnId,
    info: &ConnInfo,
    peer: &str,
    now: chrono::DateTime<chrono::Local>,
    state_width: Option<usize>,
) -> String {
    let age = units::age(
        (info.ended.unwrap_or(now) - info.since)
            .to_std()
            .unwrap_or_default(),
    );
    let state = state_words(info);
    let bytes_in = units::bytes(info.bytes_in);
    // The kernel's RTT to this client and its retransmissions, from the server's own socket.
    let rtt = info.tcp.map(|tcp| units::duration(tcp.rtt));
    let retrans = info.tcp.map(|tcp| tcp.total_retrans);
    let Some(state_width) = state_width else {
        let pending = info.pending.map_or(String::new(), |n| {
            format!(" · {} pending", units::bytes(n as u64))
        });
        let reads = match info.reads {
            1 => "1 read".to_owned(),
            n => format!("{n} reads"),
        };
        let kernel = match (rtt, retrans) {
            (Some(rtt), Some(0)) => format!(" · rtt {rtt}"),
            (Some(rtt), Some(n)) => format!(" · rtt {rtt} · {n} retrans"),
            _ => String::new(),
        };
        return format!("#{id} {peer} {state} {age}{kernel} · {reads} · {bytes_in}{pending}");
    };
    let pending = info
        .pending
        .map_or("-".to_owned(), |n| units::bytes(n as u64));
    let dash = || "-".to_owned();
    format!(
        "{:<5} {:<21} {state:<state_width$} {:>6} {:>6} {:>9} {:>8} {:>7} {:>5} {}",
        format!("#{id}"),
        peer,
        age,
        info.reads,
        bytes_in,
        pending,
        rtt.unwrap_or_else(dash),
        retrans.map_or_else(dash, |n| n.to_string()),
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

/// The read log (or one client's part of it); returns how many rows it shows.
fn draw_log(frame: &mut Frame, area: Rect, server: &ServerPane, app: &App, theme: Theme) -> usize {
    let width = area.width as usize;
    // Presenter mode leaves the times out: the back row needs the reads, not the clock.
    let show_time = width >= TIME_COLUMN_MIN_WIDTH && !app.view.presenter;
    let height = area.height as usize;
    // One client's rows when one is selected (its newest in view), else the whole log.
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
        None => server.rows.visible(height).collect(),
    };
    let shown = rows.len();
    let mut lines: Vec<Line> = Vec::with_capacity(height);
    for row in rows {
        let time = show_time.then(|| format!("{} ", clock(&row.at)));
        let used = time.as_ref().map_or(0, String::len);
        let (head, text, style) = describe(row, app, theme);
        if text.is_empty() {
            // A notice or an error is wrapped, so the whole sentence can be read.
            for (i, part) in wrap(&head, width.saturating_sub(used))
                .into_iter()
                .enumerate()
            {
                let lead = match (&time, i) {
                    (Some(time), 0) => Span::styled(time.clone(), theme.dim()),
                    _ => Span::raw(" ".repeat(used)),
                };
                lines.push(Line::from(vec![lead, Span::styled(part, style)]));
            }
            continue;
        }
        let mut spans = Vec::with_capacity(3);
        if let Some(time) = time {
            spans.push(Span::styled(time, theme.dim()));
        }
        let head = fit(&head, width.saturating_sub(used));
        let used = used + head.width();
        spans.push(Span::styled(head, style));
        spans.push(Span::raw(fit(&text, width.saturating_sub(used))));
        lines.push(Line::from(spans));
    }
    let skip = lines.len().saturating_sub(height);
    let lines: Vec<Line> = lines.into_iter().skip(skip).collect();
    frame.render_widget(Paragraph::new(lines), area);
    shown
}

/// A log row as (styled head, plain rest): the head says what happened, the rest shows data.
fn describe(row: &ServerRow, app: &App, theme: Theme) -> (String, String, ratatui::style::Style) {
    let hex = app.hex;
    let who = |addr: &std::net::SocketAddr| peer(app, *addr);
    match &row.kind {
        ServerRowKind::Connected { conn, peer } => (
            format!("#{conn} {} connected", who(peer)),
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
        ServerRowKind::Rejected {
            conn,
            peer,
            limit,
            count,
        } => (
            format!(
                "#{conn} {} turned away{}: {limit}",
                who(peer),
                times(*count)
            ),
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
        ServerRowKind::Dropped {
            conn,
            peer,
            reason,
            count,
        } => (
            format!("#{conn} {} {reason}{}", who(peer), times(*count)),
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
        ServerRowKind::Greeted { conn, len } => (
            format!("#{conn} greeted with {}", units::bytes(*len as u64)),
            String::new(),
            theme.warning(),
        ),
        ServerRowKind::Frame {
            conn,
            payload,
            reads,
        } => (
            format!(
                "#{conn} frame {} (from {}) ",
                units::bytes(payload.len as u64),
                units::count(*reads as u64, "read", "reads")
            ),
            format!(" {}", super::payload_text(payload, hex)),
            theme.sent(),
        ),
        ServerRowKind::Echoed {
            conn,
            len,
            chunks,
            waited,
        } => (
            format!("#{conn} {}", echoed_words(*len, *chunks, *waited)),
            String::new(),
            theme.warning(),
        ),
        ServerRowKind::Flood { what, count } => {
            (what.describe(*count), String::new(), theme.warning())
        }
        ServerRowKind::TcpState { conn, from, to } => (
            format!(
                "#{conn} {}",
                crate::app::model::kernel::transition(*from, *to)
            ),
            String::new(),
            theme.notice(),
        ),
        ServerRowKind::Error(message) => (format!("! {message}"), String::new(), theme.error()),
        ServerRowKind::Notice(message) => (format!("· {message}"), String::new(), theme.notice()),
    }
}
