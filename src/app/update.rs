//! `update`: the only place the application state changes.

use std::sync::Arc;

use crossterm::event::{Event, KeyEvent};
use tui_input::backend::crossterm::EventHandler;

use super::command::{self, Command, ImpairChange, Line};
use super::keymap::{self, Action};
use super::model::*;
use super::msg::{Effect, Msg};
use crate::net::ConnId;
use crate::net::{
    ClientCommand, ClientEvent, NetEvent, ServerCommand, ServerEvent, ServerEventKind, Transport,
};
use crate::stats::{EchoUpdate, MessageId};

/// Rows one PgUp/PgDn moves.
const PAGE_ROWS: isize = 10;
/// Further than the help overlay can ever need to scroll.
const HELP_SCROLL_MAX: u16 = 64;

/// Applies one message to the state and says what the runtime must do about it.
pub fn update(app: &mut App, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(key) => on_key(app, key),
        Msg::Paste(text) => {
            // The line is one message: pasted newlines become spaces rather than sends.
            for c in text.chars() {
                let c = if c == '\n' || c == '\r' { ' ' } else { c };
                app.input
                    .editor
                    .handle(tui_input::InputRequest::InsertChar(c));
            }
            Vec::new()
        }
        Msg::Net(event) => {
            on_net(app, event);
            Vec::new()
        }
        Msg::Tick { dropped_events } => {
            app.dropped_events = dropped_events;
            let now = app.now;
            if let Some(server) = &mut app.server {
                tick_server(server, now);
            }
            Vec::new()
        }
    }
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let action = keymap::action_for(&key);
    if app.help_open {
        // The overlay keeps the keys while open: it scrolls, closes, or the program quits.
        let scroll = |by: i32| {
            app.help_scroll
                .saturating_add_signed(by as i16)
                .min(HELP_SCROLL_MAX)
        };
        match action {
            Some(Action::Quit) => return vec![Effect::Quit],
            Some(Action::Dismiss | Action::Help) => app.help_open = false,
            Some(Action::Up) => app.help_scroll = scroll(-1),
            Some(Action::Down) => app.help_scroll = scroll(1),
            Some(Action::PageUp) => app.help_scroll = scroll(-(PAGE_ROWS as i32)),
            Some(Action::PageDown) => app.help_scroll = scroll(PAGE_ROWS as i32),
            _ => {}
        }
        return Vec::new();
    }
    let Some(action) = action else {
        if app.input.editor.handle_event(&Event::Key(key)).is_some() {
            app.input.browsing = None;
        }
        return Vec::new();
    };
    match action {
        Action::Send => return submit_line(app),
        Action::Up | Action::Down => {
            let step = if action == Action::Up { -1 } else { 1 };
            match (&mut app.server, app.focus) {
                (Some(server), Focus::Server) => select_client(server, step),
                _ => browse_history(&mut app.input, -step as isize),
            }
        }
        Action::FocusNext | Action::FocusPrev => {
            // Two panes at most, so next and previous are the same move.
            if app.client.is_some() && app.server.is_some() {
                app.focus = match app.focus {
                    Focus::Client => Focus::Server,
                    Focus::Server => Focus::Client,
                };
            }
        }
        Action::PageUp => scroll_focused(app, PAGE_ROWS),
        Action::PageDown => scroll_focused(app, -PAGE_ROWS),
        Action::ScrollOldest => scroll_focused(app, isize::MAX),
        Action::FollowNewest => scroll_focused(app, isize::MIN),
        Action::Help => {
            app.help_open = true;
            app.help_scroll = 0;
        }
        Action::NextLatencyView => {
            if let Some(client) = &mut app.client {
                client.latency_view = client.latency_view.next();
            }
        }
        Action::Dismiss => {
            if let Some(server) = &mut app.server {
                server.selected = None;
            }
        }
        Action::Quit => return vec![Effect::Quit],
    }
    Vec::new()
}

fn scroll_focused(app: &mut App, delta: isize) {
    match app.focus {
        Focus::Client => {
            if let Some(client) = &mut app.client {
                client.rows.scroll_by(delta);
            }
        }
        Focus::Server => {
            if let Some(server) = &mut app.server {
                server.rows.scroll_by(delta);
            }
        }
    }
}

/// Moves the roster selection `step` rows (negative: up); from no selection, Down picks the
/// first client and Up the last.
fn select_client(server: &mut ServerPane, step: i32) {
    let roster: Vec<ConnId> = server.roster().into_iter().map(|(id, _)| id).collect();
    if roster.is_empty() {
        return;
    }
    let last = roster.len() - 1;
    let at = match server
        .selected
        .and_then(|c| roster.iter().position(|&id| id == c))
    {
        Some(at) if step < 0 => at.saturating_sub(1),
        Some(at) => (at + 1).min(last),
        None if step < 0 => last,
        None => 0,
    };
    server.selected = Some(roster[at]);
}

/// Up (`step` 1) goes back in history, Down (`-1`) forward, past the newest to an empty line.
fn browse_history(input: &mut InputLine, step: isize) {
    if input.history.is_empty() {
        return;
    }
    let newest = input.history.len() - 1;
    let next = match (input.browsing, step > 0) {
        (None, true) => Some(newest),
        (None, false) => None,
        (Some(0), true) => Some(0),
        (Some(i), true) => Some(i - 1),
        (Some(i), false) if i < newest => Some(i + 1),
        (Some(_), false) => None,
    };
    input.browsing = next;
    let text = next.map(|i| input.history[i].clone()).unwrap_or_default();
    input.editor = tui_input::Input::new(text);
}

fn submit_line(app: &mut App) -> Vec<Effect> {
    let line = app.input.editor.value().to_owned();
    if line.is_empty() {
        return Vec::new();
    }
    app.input.editor.reset();
    app.input.browsing = None;
    if app.input.history.back() != Some(&line) {
        if app.input.history.len() == MAX_HISTORY {
            app.input.history.pop_front();
        }
        app.input.history.push_back(line.clone());
    }
    match command::parse(&line) {
        Err(message) => {
            app.show_error(message);
            Vec::new()
        }
        Ok(Line::Message(text)) => send_messages(app, text.into_bytes(), 1),
        Ok(Line::Command(command)) => run_command(app, command),
    }
}

fn run_command(app: &mut App, command: Command) -> Vec<Effect> {
    let effect = match command {
        Command::Help => {
            app.help_open = true;
            return Vec::new();
        }
        Command::Clear => {
            clear(app);
            return Vec::new();
        }
        Command::Hex => {
            app.hex = !app.hex;
            let view = if app.hex { "hex bytes" } else { "text" };
            app.show_notice(format!("data shown as {view}"));
            return Vec::new();
        }
        Command::Impair(change) => return change_impairments(app, change),
        Command::View(view) => {
            match &mut app.client {
                Some(client) if client.latency_view == view => {
                    client.latency_view = LatencyView::Sparkline
                }
                Some(client) => client.latency_view = view,
                None => app.show_error(no_client_message()),
            }
            return Vec::new();
        }
        Command::Sort(sort) => {
            match &mut app.server {
                Some(server) => server.sort = sort,
                None => app
                    .show_error("/sort orders the server's roster: this mode has no server".into()),
            }
            return Vec::new();
        }
        Command::Size(n) => return send_messages(app, crate::net::probe_payload(n), 1),
        Command::Repeat(n, text) => return send_messages(app, text.into_bytes(), n),
        Command::Reconnect => Effect::Client(ClientCommand::Reconnect),
        Command::Close => Effect::Client(ClientCommand::HalfClose),
        Command::Reset => Effect::Client(ClientCommand::Reset),
        Command::Nagle(on) => Effect::Client(ClientCommand::SetNagle(on)),
        Command::Transport(transport) => Effect::Client(ClientCommand::SetTransport(transport)),
        Command::Read(n) => Effect::Server(ServerCommand::SetReadSize(n)),
        Command::Pause => Effect::Server(ServerCommand::Pause),
        Command::Resume => Effect::Server(ServerCommand::Resume),
    };
    // Say what changed where the class is looking, and keep the panes' settings in step.
    let notice = match (&effect, &mut app.client, &mut app.server) {
        (Effect::Client(_), None, _) => {
            app.show_error(no_client_message());
            return Vec::new();
        }
        (Effect::Server(_), _, None) => {
            app.show_error("this mode has no server: the server is the remote peer".into());
            return Vec::new();
        }
        (Effect::Client(ClientCommand::SetNagle(on)), Some(client), _) => {
            client.nagle = *on;
            Some(
                if *on {
                    "Nagle on: small writes may wait to be coalesced"
                } else {
                    "Nagle off (TCP_NODELAY): every write leaves at once"
                }
                .to_owned(),
            )
        }
        (Effect::Server(command), _, Some(server)) => Some(match command {
            ServerCommand::SetReadSize(n) => {
                server.read_size = *n;
                format!("the server now reads at most {n} bytes per read()")
            }
            ServerCommand::Pause => {
                server.paused = true;
                "server paused: it stops reading; bytes wait in the socket buffers".to_owned()
            }
            ServerCommand::Resume => {
                server.paused = false;
                "server reading again".to_owned()
            }
        }),
        _ => None,
    };
    if let Some(notice) = notice {
        app.show_notice(notice);
    }
    vec![effect]
}

fn change_impairments(app: &mut App, change: ImpairChange) -> Vec<Effect> {
    let (Some(current), Some(client)) = (app.impairments, &app.client) else {
        app.show_error(
            "impairments sit between a client and its server: this mode has no client".into(),
        );
        return Vec::new();
    };
    let new = change.apply(current);
    let notice = if new.is_none() {
        "clean link: the client talks to the server directly again".to_owned()
    } else {
        let mut notice = format!("link now: {new}, each way");
        if !new.delay.is_zero() {
            let rtt = crate::units::duration(new.delay * 2);
            notice += &format!(" (RTT at least {rtt} more)");
        }
        let ignored = new.tcp_ignored();
        if client.transport == Transport::Tcp && !ignored.is_empty() {
            notice += &format!(
                "; TCP ignores {} (the kernel would retransmit): /udp",
                ignored.join(", ")
            );
        }
        notice
    };
    if current.is_none() != new.is_none() {
        let route = if new.is_none() {
            "directly"
        } else {
            "through the impairment proxy"
        };
        app.show_notice(format!("reconnecting {route}"));
    }
    app.impairments = Some(new);
    app.show_notice(notice);
    vec![Effect::Impair(new)]
}

fn no_client_message() -> String {
    "this mode has no client; run 'echotui' or 'echotui connect HOST:PORT'".into()
}

fn clear(app: &mut App) {
    if let Some(client) = &mut app.client {
        client.rows.clear();
        client.stats = crate::stats::RttStats::new();
        client.recent_rtts.clear();
        client.counts = MessageCounts::default();
    }
    if let Some(server) = &mut app.server {
        server.rows.clear();
        server.conns.retain(|_, conn| conn.closed.is_none());
    }
}

/// Queues `copies` messages of `bytes` if the client can take them, with a row for each.
fn send_messages(app: &mut App, bytes: Vec<u8>, copies: usize) -> Vec<Effect> {
    let now = app.now;
    let Some(client) = &mut app.client else {
        app.show_error(no_client_message());
        return Vec::new();
    };
    if !matches!(client.state, ConnState::Connected) {
        let state = client.state_words();
        app.show_error(format!("not sent: {state}; type /reconnect"));
        return Vec::new();
    }
    let payload = Payload::of(&bytes);
    let bytes: Arc<[u8]> = bytes.into();
    let ids = app.next_message..app.next_message + copies as MessageId;
    app.next_message = ids.end;
    client.counts.sent += copies as u64;
    client.in_flight_bytes += (bytes.len() * copies) as u64;
    for id in ids.clone() {
        client.rows.push(ClientRow {
            at: now,
            kind: ClientRowKind::Sent {
                id,
                payload: payload.clone(),
            },
        });
    }
    vec![Effect::Client(ClientCommand::Send { ids, bytes })]
}

fn on_net(app: &mut App, event: NetEvent) {
    match event {
        NetEvent::Client(event) => on_client(app, event),
        NetEvent::Server(event) => on_server(app, event),
        NetEvent::AcceptFailed { at, reason } => {
            if let Some(server) = &mut app.server {
                server.rows.push(ServerRow {
                    at,
                    kind: ServerRowKind::AcceptFailed { reason },
                });
            }
        }
    }
}

fn on_client(app: &mut App, event: ClientEvent) {
    let now = app.now;
    let Some(client) = &mut app.client else {
        return;
    };
    match event {
        ClientEvent::Connecting { target, transport } => {
            client.state = ConnState::Connecting;
            client.transport = transport;
            client.connect_time = None;
            client.first_rtt = None;
            client.note(
                now,
                ClientRowKind::Notice(format!("{transport} to {target}…")),
            );
        }
        ClientEvent::Connected {
            local,
            peer,
            connect_time,
        } => {
            client.state = ConnState::Connected;
            client.connect_time = connect_time;
            let notice = match connect_time {
                Some(took) => format!(
                    "connected in {} ({local} → {peer})",
                    crate::units::duration(took)
                ),
                None => format!("UDP ready, no handshake ({local} → {peer})"),
            };
            client.note(now, ClientRowKind::Notice(notice));
        }
        ClientEvent::HalfClosed => {
            client.state = ConnState::HalfClosed;
            client.note(
                now,
                ClientRowKind::Notice("FIN sent: waiting for the peer to finish echoing".into()),
            );
        }
        ClientEvent::SendFailed { ids, reason } => {
            client.counts.failed += ids.end - ids.start;
            let unsent: u64 = ids
                .clone()
                .map(|id| sent_payload(client, id).len as u64)
                .sum();
            client.in_flight_bytes = client.in_flight_bytes.saturating_sub(unsent);
            let which = match ids.end - ids.start {
                1 => format!("message #{}", ids.start),
                _ => format!("messages #{} to #{}", ids.start, ids.end - 1),
            };
            client.note(
                now,
                ClientRowKind::Error(format!("{which} not sent: {reason}")),
            );
        }
        ClientEvent::Closed(reason) => {
            // Bytes still owed will never come back on this connection.
            client.counts.failed += client.counts.pending();
            client.in_flight_bytes = 0;
            client.send_blocked = false;
            let words = reason.to_string();
            client.state = ConnState::Closed(reason);
            client.note(
                now,
                ClientRowKind::Notice(format!("connection {words}; /reconnect to try again")),
            );
        }
        ClientEvent::Problem(problem) => client.note(now, ClientRowKind::Error(problem)),
        ClientEvent::SendBlocked => {
            client.send_blocked = true;
            let in_flight = crate::units::bytes(client.in_flight_bytes);
            client.note(now, ClientRowKind::Notice(format!(
                "send blocked: {in_flight} unechoed, the peer is not reading and the socket buffers are full"
            )));
        }
        ClientEvent::SendUnblocked => {
            client.send_blocked = false;
            client.note(
                now,
                ClientRowKind::Notice("send unblocked: the peer is reading again".into()),
            );
        }
        ClientEvent::Echo(update) => on_echo(client, update, now),
    }
}

fn on_echo(client: &mut ClientPane, update: EchoUpdate, now: chrono::DateTime<chrono::Local>) {
    let (id, progress) = match update {
        EchoUpdate::Unsolicited { bytes } => {
            client.rows.push(ClientRow {
                at: now,
                kind: ClientRowKind::Unsolicited {
                    payload: Payload::of(&bytes),
                },
            });
            return;
        }
        EchoUpdate::Partial { id, received, .. } => (id, EchoProgress::Partial { received }),
        EchoUpdate::Echoed { id, rtt } => {
            client.counts.echoed += 1;
            client.stats.record(rtt);
            if client.recent_rtts.len() == SPARKLINE_SAMPLES {
                client.recent_rtts.pop_front();
            }
            client.recent_rtts.push_back(rtt);
            client.first_rtt.get_or_insert(rtt);
            (id, EchoProgress::Echoed { rtt })
        }
        EchoUpdate::Lost { id } => {
            client.counts.lost += 1;
            (id, EchoProgress::Lost)
        }
        EchoUpdate::Duplicate { id } => {
            client.counts.duplicates += 1;
            let payload = sent_payload(client, id);
            client.rows.push(ClientRow {
                at: now,
                kind: ClientRowKind::Duplicate { id, payload },
            });
            return;
        }
        EchoUpdate::Mismatch { id, echoed } => {
            client.counts.mismatched += 1;
            let echoed = Payload::of(&echoed);
            (id, EchoProgress::Mismatch { echoed })
        }
    };
    let echo_row = client.rows.find_last_mut(
        |row| matches!(row.kind, ClientRowKind::Echo { id: echo_id, .. } if echo_id == id),
    );
    if let Some(ClientRow {
        at,
        kind:
            ClientRowKind::Echo {
                progress: old,
                payload,
                ..
            },
    }) = echo_row
    {
        let settled = progress.settled(payload.len) - old.settled(payload.len);
        client.in_flight_bytes = client.in_flight_bytes.saturating_sub(settled as u64);
        *at = now;
        *old = progress;
        return;
    }
    let payload = sent_payload(client, id);
    let settled = progress.settled(payload.len) as u64;
    client.in_flight_bytes = client.in_flight_bytes.saturating_sub(settled);
    client.rows.push(ClientRow {
        at: now,
        kind: ClientRowKind::Echo {
            id,
            payload,
            progress,
        },
    });
}

/// What message `id` carried, from its sent row: recent unless 10,000 rows came in between,
/// and then the row says which message it was.
fn sent_payload(client: &ClientPane, id: MessageId) -> Payload {
    client
        .rows
        .rows()
        .iter()
        .rev()
        .find_map(|row| match &row.kind {
            ClientRowKind::Sent {
                id: sent_id,
                payload,
            } if *sent_id == id => Some(payload.clone()),
            _ => None,
        })
        .unwrap_or_else(|| Payload::of(format!("message #{id}").as_bytes()))
}

fn on_server(app: &mut App, event: ServerEvent) {
    let Some(server) = &mut app.server else {
        return;
    };
    let ServerEvent {
        at,
        conn,
        peer,
        kind,
    } = event;
    let row_kind = match kind {
        ServerEventKind::Connected => {
            server.totals.accepted += 1;
            server.conns.insert(conn, ConnInfo::new(peer, at, false));
            server.peak_open = server.peak_open.max(server.open());
            ServerRowKind::Connected { conn, peer }
        }
        ServerEventKind::Read { len, preview } => {
            server.totals.reads += 1;
            server.totals.bytes += len as u64;
            if let Some(info) = server.conns.get_mut(&conn) {
                info.count_read(len);
            }
            ServerRowKind::Read {
                conn,
                payload: Payload::preview(&preview, len),
            }
        }
        ServerEventKind::Closed {
            reason,
            bytes_in,
            bytes_out,
        } => {
            if let Some(info) = server.conns.get_mut(&conn) {
                info.closed = Some(reason.clone());
                info.ended = Some(at);
                info.pending = None;
                info.bytes_in = bytes_in;
                info.bytes_out = bytes_out;
            }
            forget_old_closed(server);
            ServerRowKind::Closed {
                conn,
                reason,
                bytes_in,
                bytes_out,
            }
        }
        ServerEventKind::Rejected { limit } => {
            server.totals.rejected += 1;
            ServerRowKind::Rejected { conn, peer, limit }
        }
        ServerEventKind::Datagram {
            len,
            sent_len,
            preview,
        } => {
            server.totals.reads += 1;
            server.totals.bytes += len as u64;
            let info = server
                .conns
                .entry(conn)
                .or_insert_with(|| ConnInfo::new(peer, at, true));
            info.count_read(sent_len);
            info.bytes_out += len as u64;
            server.peak_open = server.peak_open.max(server.open());
            ServerRowKind::Datagram {
                conn,
                payload: Payload::preview(&preview, len),
                sent_len,
            }
        }
        ServerEventKind::Dropped { reason } => {
            server.totals.dropped += 1;
            ServerRowKind::Dropped { conn, peer, reason }
        }
        ServerEventKind::Stalled { pending } => {
            if let Some(info) = server.conns.get_mut(&conn) {
                info.pending = Some(pending);
            }
            ServerRowKind::Stalled {
                conn,
                pending: Some(pending),
            }
        }
        ServerEventKind::Unstalled => {
            if let Some(info) = server.conns.get_mut(&conn) {
                info.pending = None;
            }
            ServerRowKind::Stalled {
                conn,
                pending: None,
            }
        }
    };
    server.rows.push(ServerRow { at, kind: row_kind });
}

/// Per-tick bookkeeping: activity sparklines move on, rates are recomputed.
fn tick_server(server: &mut ServerPane, now: chrono::DateTime<chrono::Local>) {
    for info in server.conns.values_mut().filter(|c| c.closed.is_none()) {
        info.tick();
    }
    if let Some((then, before)) = server.last_tick {
        let seconds = (now - then).as_seconds_f64();
        if seconds > 0.0 {
            let reads = (server.totals.reads - before.reads) as f64 / seconds;
            let bytes = (server.totals.bytes - before.bytes) as f64 / seconds;
            server.rate = (reads, bytes);
        }
    }
    server.last_tick = Some((now, server.totals));
}

/// Keeps the connection table bounded: open connections stay, old closed ones go.
fn forget_old_closed(server: &mut ServerPane) {
    let closed: Vec<_> = server
        .conns
        .iter()
        .filter(|(_, info)| info.closed.is_some())
        .map(|(&conn, _)| conn)
        .collect();
    for conn in closed
        .iter()
        .take(closed.len().saturating_sub(CLOSED_CONNS_KEPT))
    {
        server.conns.remove(conn);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crossterm::event::{KeyCode, KeyModifiers};

    use super::*;
    use crate::net::CloseReason;

    fn connected_app() -> App {
        let target = "127.0.0.1:7".parse().unwrap();
        let mut app = App::new(
            Some(ClientPane::new(target, crate::net::Transport::Tcp, false)),
            None,
            chrono::Local::now(),
        );
        let event = ClientEvent::Connected {
            local: target,
            peer: target,
            connect_time: Some(Duration::from_micros(50)),
        };
        update(&mut app, Msg::Net(NetEvent::Client(event)));
        app
    }

    fn submit(app: &mut App, line: &str) -> Vec<Effect> {
        for c in line.chars() {
            update(
                app,
                Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
            );
        }
        update(
            app,
            Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
        )
    }

    fn client(app: &App) -> &ClientPane {
        app.client.as_ref().unwrap()
    }

    fn echo_rows(app: &App) -> usize {
        let rows = client(app).rows.rows().iter();
        rows.filter(|r| matches!(r.kind, ClientRowKind::Echo { .. }))
            .count()
    }

    fn echo(app: &mut App, update_: EchoUpdate) {
        update(app, Msg::Net(NetEvent::Client(ClientEvent::Echo(update_))));
    }

    #[test]
    fn repeat_is_one_command_with_one_id_per_message() {
        let mut app = connected_app();
        let effects = submit(&mut app, "/repeat 3 x");
        let [Effect::Client(ClientCommand::Send { ids, bytes })] = effects.as_slice() else {
            panic!("{effects:?}");
        };
        assert_eq!(ids.clone(), 1..4);
        assert_eq!(&bytes[..], b"x");
        assert_eq!(client(&app).counts.sent, 3);
        let sent_rows = client(&app)
            .rows
            .rows()
            .iter()
            .filter(|r| matches!(r.kind, ClientRowKind::Sent { .. }));
        assert_eq!(sent_rows.count(), 3);
    }

    #[test]
    fn an_empty_line_does_nothing_and_slash_slash_sends_a_slash() {
        let mut app = connected_app();
        assert!(submit(&mut app, "").is_empty());
        let effects = submit(&mut app, "//x");
        assert!(
            matches!(&effects[..], [Effect::Client(ClientCommand::Send { bytes, .. })] if &bytes[..] == b"/x")
        );
    }

    #[test]
    fn partial_then_complete_echo_updates_one_row_and_the_stats() {
        let mut app = connected_app();
        submit(&mut app, "/size 3000");
        echo(
            &mut app,
            EchoUpdate::Partial {
                id: 1,
                received: 1024,
                total: 3000,
            },
        );
        echo(
            &mut app,
            EchoUpdate::Partial {
                id: 1,
                received: 2048,
                total: 3000,
            },
        );
        assert_eq!(echo_rows(&app), 1);
        echo(
            &mut app,
            EchoUpdate::Echoed {
                id: 1,
                rtt: Duration::from_micros(300),
            },
        );
        assert_eq!(echo_rows(&app), 1);
        assert_eq!(client(&app).stats.count(), 1);
        assert_eq!(client(&app).counts.pending(), 0);
    }

    #[test]
    fn sending_while_closed_explains_instead_of_sending() {
        let mut app = connected_app();
        update(
            &mut app,
            Msg::Net(NetEvent::Client(ClientEvent::Closed(CloseReason::Reset))),
        );
        assert!(submit(&mut app, "hello").is_empty());
        let last = client(&app).rows.rows().back().unwrap();
        assert_eq!(
            last.kind,
            ClientRowKind::Error("not sent: reset; type /reconnect".into())
        );
        assert_eq!(
            submit(&mut app, "/reconnect"),
            [Effect::Client(ClientCommand::Reconnect)]
        );
    }

    #[test]
    fn a_close_turns_what_is_pending_into_unanswered() {
        let mut app = connected_app();
        submit(&mut app, "/repeat 4 x");
        echo(
            &mut app,
            EchoUpdate::Echoed {
                id: 1,
                rtt: Duration::from_micros(10),
            },
        );
        update(
            &mut app,
            Msg::Net(NetEvent::Client(ClientEvent::Closed(
                CloseReason::PeerClosed,
            ))),
        );
        let counts = client(&app).counts;
        assert_eq!((counts.echoed, counts.failed, counts.pending()), (1, 3, 0));
    }

    #[test]
    fn failed_sends_are_counted_per_message() {
        let mut app = connected_app();
        submit(&mut app, "/repeat 5 x");
        let failed = ClientEvent::SendFailed {
            ids: 3..6,
            reason: "client is busy".into(),
        };
        update(&mut app, Msg::Net(NetEvent::Client(failed)));
        assert_eq!(client(&app).counts.failed, 3);
        let last = client(&app).rows.rows().back().unwrap();
        assert_eq!(
            last.kind,
            ClientRowKind::Error("messages #3 to #5 not sent: client is busy".into())
        );
    }

    #[test]
    fn quit_keys_quit_even_with_help_open() {
        let mut app = connected_app();
        update(
            &mut app,
            Msg::Key(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE)),
        );
        assert!(app.help_open);
        let quit = update(
            &mut app,
            Msg::Key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL)),
        );
        assert_eq!(quit, [Effect::Quit]);
    }

    #[test]
    fn pasted_newlines_do_not_send() {
        let mut app = connected_app();
        assert!(update(&mut app, Msg::Paste("a\nb".into())).is_empty());
        assert_eq!(app.input.editor.value(), "a b");
    }
}
