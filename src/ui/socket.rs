//! The socket view of the latency pane (`/socket`, F2): what the kernel knows about both
//! ends of the connection, side by side and in words, under a headline of where every byte
//! waits (the flow-control lesson). The headline comes first so that it survives a short pane:
//! at 80×24 with a lesson's narration open, the figures lose their last rows, not the point.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::theme::Theme;
use super::{pad, wrapped_lines};
use crate::app::App;
use crate::app::model::ClientPane;
use crate::net::sockinfo::{Sampled, SocketSample, TcpState, Unavailable};
use crate::net::{ConnId, Transport};
use crate::stats::Clock;
use crate::units;

/// Rows the pane takes: border, the headline (two lines at 80 columns), the two ends' names
/// and eight figures; a row left over says which clock ends the RTTs.
pub(super) const HEIGHT: u16 = 13;
/// The pane's title.
pub(super) const TITLE: &str =
    " What the kernel knows: both sockets (TCP_INFO, as ss -ti) · F2 sparkline ";

/// The figures, one row each (the README maps each to its `ss -ti` name).
const LABELS: [&str; 8] = [
    "state",
    "RTT (kernel)",
    "congestion window",
    "retransmitted",
    "unacknowledged",
    "peer's window",
    "send queue",
    "receive queue",
];

/// Which end a column is: each one's peer is the other.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Client,
    Server,
}

impl End {
    fn peer(self) -> &'static str {
        match self {
            End::Client => "server",
            End::Server => "client",
        }
    }
}

/// Draws the view inside the pane's border.
pub(super) fn draw(frame: &mut Frame, area: Rect, client: &ClientPane, app: &App, theme: Theme) {
    if client.transport == Transport::Udp {
        let note = "UDP has no connection: the kernel keeps no RTT, window or state per peer for \
                    it, only a receive queue. /tcp to see them.";
        return draw_note(frame, area, note, theme);
    }
    let look = match &app.kernel.client {
        None => return draw_note(frame, area, "asking the kernel…", theme),
        Some(Err(Unavailable::NotOnThisSystem)) => {
            let note = "What the kernel knows about a socket (TCP_INFO) is not available on \
                        this system; everything else works as usual.";
            return draw_note(frame, area, note, theme);
        }
        Some(look) => look,
    };
    let server = server_column(app);
    let width = area.width as usize;
    let label_width = if width >= 110 { 20 } else { 18 };
    // Each column ends with a space, so a full cell never runs into the next one.
    let column = width.saturating_sub(label_width) / 2;
    let cell = |text: &str| format!("{} ", pad(text, column.saturating_sub(1)));
    let headline = headline(look, &server, width, theme);
    let [headline_area, table, note] = Layout::vertical([
        Constraint::Length((headline.len() as u16).min(area.height)),
        Constraint::Length(1 + LABELS.len() as u16),
        Constraint::Min(0),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(headline), headline_area);
    let clock = Line::styled(clock_note(client), theme.dim());
    frame.render_widget(Paragraph::new(clock), note);

    let client_name = match client.kernel.local {
        Some(local) => format!("client {local}"),
        None => "client".to_owned(),
    };
    let server_name = match &server {
        Column::Socket(conn, _) => format!("server #{conn}, its end"),
        _ => "server".to_owned(),
    };
    let mut lines = vec![Line::from(vec![
        Span::raw(" ".repeat(label_width)),
        Span::styled(cell(&client_name), theme.title()),
        Span::styled(cell(&server_name), theme.title()),
    ])];
    let ours = cells(look, End::Client, client, theme);
    let theirs = match &server {
        Column::Socket(_, sampled) => cells(sampled, End::Server, client, theme),
        Column::Note(note) => note_cells(note, theme),
    };
    for (i, label) in LABELS.iter().enumerate() {
        let styled = |(text, style): &(String, Style)| Span::styled(cell(text), *style);
        lines.push(Line::from(vec![
            Span::styled(pad(label, label_width), theme.dim()),
            styled(&ours[i]),
            styled(&theirs[i]),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), table);
}

/// What the server's column shows: its socket, or why there is none to show.
enum Column<'a> {
    Socket(ConnId, &'a Sampled),
    Note(&'static str),
}

fn server_column(app: &App) -> Column<'_> {
    match (&app.server, &app.kernel.server) {
        (None, _) => Column::Note("on another machine: ss -ti there"),
        (Some(_), Some((conn, sampled))) => Column::Socket(*conn, sampled),
        (Some(_), None) if app.client.as_ref().is_some_and(|c| c.via_proxy) => {
            Column::Note("the impairment proxy's peer")
        }
        (Some(_), None) => Column::Note("not found (closed?)"),
    }
}

/// A cell's text, and whether it asks for attention (a warning) or not.
type Cell = (String, bool);

/// One end's figures, a cell per label, styled.
fn cells(sampled: &Sampled, end: End, client: &ClientPane, theme: Theme) -> Vec<(String, Style)> {
    let style = |warn| {
        if warn {
            theme.warning()
        } else {
            Style::default()
        }
    };
    match sampled {
        Ok(sample) => figures(sample, end, client)
            .into_iter()
            .map(|(text, warn)| (text, style(warn)))
            .collect(),
        Err(why) => note_cells(&why.to_string(), theme),
    }
}

/// A column that says why it has no figures, in its first cell.
fn note_cells(note: &str, theme: Theme) -> Vec<(String, Style)> {
    let mut cells = vec![(String::new(), Style::default()); LABELS.len()];
    cells[0] = (note.to_owned(), theme.dim());
    cells
}

/// One end's figures in words, a cell per label.
fn figures(sample: &SocketSample, end: End, client: &ClientPane) -> Vec<Cell> {
    let tcp = &sample.tcp;
    let bytes = |n: Option<u64>| n.map_or_else(|| "-".to_owned(), units::bytes);
    let mut rtt = format!(
        "{} ± {}",
        units::duration(tcp.rtt),
        units::duration(tcp.rttvar)
    );
    if end == End::Client
        && let Some(summary) = client.stats.summary()
    {
        rtt += &format!(" · echotui {}", units::micros(summary.p50));
    }
    let mut cwnd = format!("{} × MSS {} B", tcp.cwnd, tcp.snd_mss);
    if let Some(algorithm) = &sample.congestion {
        cwnd += &format!(" ({algorithm})");
    }
    let retrans = match tcp.retrans {
        0 => tcp.total_retrans.to_string(),
        now => format!("{} ({now} now)", tcp.total_retrans),
    };
    let unacked = match sample.unacked_bytes() {
        Some(n) => units::bytes(n),
        None => units::count(tcp.unacked.into(), "segment", "segments"),
    };
    let window = match tcp.peer_window {
        None => ("-".to_owned(), false),
        // The kernel keeps probing a closed window, backing off: it counts them.
        Some(0) if tcp.backoff > 0 => {
            let probes = units::count(
                tcp.backoff.into(),
                "zero-window probe",
                "zero-window probes",
            );
            (format!("0 B · {probes}"), true)
        }
        Some(0) => (format!("0 B: the {} has no room", end.peer()), true),
        Some(n) => (units::bytes(n.into()), false),
    };
    let queued = |n: Option<u64>| (bytes(n), n.is_some_and(|n| n > 0));
    vec![
        (tcp.state.to_string(), tcp.state != TcpState::Established),
        (rtt, false),
        (cwnd, false),
        (retrans, tcp.total_retrans > 0),
        (unacked, false),
        window,
        queued(sample.send_queue),
        queued(sample.receive_queue),
    ]
}

/// Where the bytes wait, both ways, wrapped to `width` (nothing before the kernel answers).
fn headline<'a>(
    client_look: &Sampled,
    server: &Column,
    width: usize,
    theme: Theme,
) -> Vec<Line<'a>> {
    let server_look = match server {
        Column::Socket(_, Ok(sample)) => Some(sample),
        _ => None,
    };
    let client_look = client_look.as_ref().ok();
    if client_look.is_none() && server_look.is_none() {
        return Vec::new();
    }
    let (text, closed) = where_bytes_wait(client_look, server_look);
    let style = if closed {
        theme.warning()
    } else {
        theme.notice()
    };
    wrapped_lines(&text, width, style)
}

/// `client send queue 2.5 MiB · server receive queue 1.3 MiB · window 0: the server is not
/// reading`, and whether a window is closed.
fn where_bytes_wait(
    client: Option<&SocketSample>,
    server: Option<&SocketSample>,
) -> (String, bool) {
    let mut parts = Vec::new();
    let mut closed = false;
    let queue = |n: Option<u64>| n.filter(|&n| n > 0).map(units::bytes);
    // Towards the server, then back.
    let ways = [
        (client, server, "client", "server"),
        (server, client, "server", "client"),
    ];
    for (from, to, sender, reader) in ways {
        if let Some(q) = queue(from.and_then(|s| s.send_queue)) {
            parts.push(format!("{sender} send queue {q}"));
        }
        if let Some(q) = queue(to.and_then(|s| s.receive_queue)) {
            parts.push(format!("{reader} receive queue {q}"));
        }
        if from.and_then(|s| s.tcp.peer_window) == Some(0) {
            closed = true;
            parts.push(format!("window 0: the {reader} is not reading"));
        }
    }
    if parts.is_empty() {
        return (
            "nothing waits: every byte sent has been read".to_owned(),
            false,
        );
    }
    (parts.join(" · "), closed)
}

/// Which clock ends echotui's RTTs, and how often the kernel left one to ours.
fn clock_note(client: &ClientPane) -> String {
    match (client.kernel.clock, client.kernel.user_clock_echoes) {
        (Some(Clock::Kernel), 0) => {
            "echotui's RTTs end at the kernel's receive time (SO_TIMESTAMPING)".to_owned()
        }
        (Some(Clock::Kernel), n) => format!(
            "echotui's RTTs end at the kernel's receive time ({} by echotui's own clock)",
            units::count(n, "echo", "echoes")
        ),
        _ => "echotui's RTTs end when its read returns (no kernel timestamps)".to_owned(),
    }
}

fn draw_note(frame: &mut Frame, area: Rect, note: &str, theme: Theme) {
    let paragraph = Paragraph::new(Span::styled(note, theme.dim())).wrap(Wrap { trim: true });
    frame.render_widget(paragraph, area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::sockinfo::TcpInfo;
    use std::time::Duration;

    fn sample(send_queue: u64, receive_queue: u64, peer_window: u32) -> SocketSample {
        SocketSample {
            tcp: TcpInfo {
                state: TcpState::Established,
                rtt: Duration::from_micros(31),
                rttvar: Duration::from_micros(12),
                min_rtt: None,
                cwnd: 10,
                snd_mss: 32768,
                pmtu: 65535,
                unacked: 0,
                retrans: 0,
                total_retrans: 0,
                backoff: 0,
                bytes_acked: None,
                bytes_received: None,
                notsent_bytes: None,
                delivery_rate: None,
                peer_window: Some(peer_window),
            },
            send_queue: Some(send_queue),
            receive_queue: Some(receive_queue),
            congestion: None,
        }
    }

    #[test]
    fn the_flow_control_lesson_says_where_every_byte_waits() {
        let client = sample(2_621_440, 0, 0);
        let server = sample(0, 1_363_148, 65535);
        let (text, closed) = where_bytes_wait(Some(&client), Some(&server));
        assert_eq!(
            text,
            "client send queue 2.5 MiB · server receive queue 1.3 MiB · window 0: the server is not reading"
        );
        assert!(closed);
        let idle = sample(0, 0, 65535);
        assert_eq!(
            where_bytes_wait(Some(&idle), Some(&idle)).0,
            "nothing waits: every byte sent has been read"
        );
    }
}
