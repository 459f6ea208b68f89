//! A submitted line: a message to send, or a `/command` to carry out.

use std::sync::Arc;

use crate::app::command::{self, Command, ImpairChange, Line};
use crate::app::model::{App, ConnState, LatencyView, Payload};
use crate::app::msg::Effect;
use crate::net::{ClientCommand, Message, ServerCommand, Transport};
use crate::stats::MessageId;
use crate::text;
use crate::units;

/// Enter: sends the line as a message or runs it as a command.
pub(super) fn submit_line(app: &mut App) -> Vec<Effect> {
    let Some(line) = app.input.take() else {
        return Vec::new();
    };
    match command::parse(&line) {
        Err(message) => {
            app.show_error(message);
            Vec::new()
        }
        Ok(Line::Message(text)) => match text::unescape(&text) {
            Ok(bytes) => send(app, vec![bytes]),
            Err(err) => {
                app.show_error(format!("not sent: {err}"));
                Vec::new()
            }
        },
        Ok(Line::Command(command)) => run(app, command),
    }
}

fn run(app: &mut App, command: Command) -> Vec<Effect> {
    let effect = match command {
        Command::Help => {
            app.help_open = true;
            app.help_scroll = 0;
            return Vec::new();
        }
        Command::Quit => return vec![Effect::Quit],
        Command::Clear => {
            if let Some(client) = &mut app.client {
                client.clear();
            }
            if let Some(server) = &mut app.server {
                server.clear();
            }
            return Vec::new();
        }
        Command::Hex => {
            app.hex = !app.hex;
            let view = if app.hex { "hex bytes" } else { "text" };
            app.show_notice(format!("data shown as {view}"));
            return Vec::new();
        }
        Command::Impair(change) => return change_impairments(app, change),
        Command::Lesson(choice) => {
            super::lesson::choose(app, choice);
            return Vec::new();
        }
        Command::Theme(theme) => {
            app.view.theme = Some(theme);
            let words = if app.color {
                format!("theme {theme}: {}", theme.describe())
            } else {
                format!("theme {theme} (no colour while NO_COLOR is set)")
            };
            app.show_notice(words);
            return Vec::new();
        }
        Command::Presenter => {
            app.view.presenter = !app.view.presenter;
            app.show_notice(
                if app.view.presenter {
                    "presenter mode: bold, fewer columns, big numbers, remote addresses masked"
                } else {
                    "presenter mode off"
                }
                .to_owned(),
            );
            return Vec::new();
        }
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
        Command::Size(n) => return send(app, vec![crate::net::probe_payload(n)]),
        Command::Repeat(n, text) => return repeat(app, n, &text),
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
        (Effect::Client(ClientCommand::SetTransport(transport)), Some(client), _)
            if client.transport == *transport && client.state == ConnState::Connected =>
        {
            app.show_notice(format!("the client already speaks {transport}"));
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

/// `/repeat N TEXT`: N messages `TEXT 1` … `TEXT N`, so loss, duplication and order can be
/// told apart message by message.
fn repeat(app: &mut App, copies: usize, text: &str) -> Vec<Effect> {
    let bytes = match text::unescape(text) {
        Ok(bytes) => bytes,
        Err(err) => {
            app.show_error(format!("not sent: {err}"));
            return Vec::new();
        }
    };
    let messages = (1..=copies)
        .map(|n| {
            let mut message = bytes.clone();
            message.extend_from_slice(format!(" {n}").as_bytes());
            message
        })
        .collect();
    send(app, messages)
}

/// Queues `messages` (one write or datagram each) if the client can take them, with a row
/// for each.
fn send(app: &mut App, messages: Vec<Vec<u8>>) -> Vec<Effect> {
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
    let first: MessageId = app.next_message;
    app.next_message += messages.len() as MessageId;
    let messages: Vec<Message> = messages
        .into_iter()
        .zip(first..)
        .map(|(bytes, id)| Message {
            id,
            bytes: Arc::from(bytes),
        })
        .collect();
    client.sent(messages.iter().map(|m| (m.id, Payload::of(&m.bytes))), now);
    vec![Effect::Client(ClientCommand::Send(messages))]
}

fn change_impairments(app: &mut App, change: ImpairChange) -> Vec<Effect> {
    let (Some(current), Some(client)) = (app.impairments, &mut app.client) else {
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
            let rtt = units::setting_duration(new.delay * 2);
            notice += &format!(" (RTT at least {rtt} more)");
        }
        let ignored = new.tcp_ignored();
        if client.transport == Transport::Tcp && !ignored.is_empty() {
            notice += &format!(
                "; TCP ignores {} (the kernel would retransmit): /udp",
                ignored.join(", ")
            );
        }
        if new.reorder_needs_delay() {
            notice +=
                "; reorder needs a /delay: a reordered datagram skips the delay the others wait";
        }
        notice
    };
    if current.is_none() != new.is_none() {
        let route = if new.is_none() {
            "directly"
        } else {
            "through the impairment proxy"
        };
        client.via_proxy = !new.is_none();
        app.show_notice(format!("reconnecting {route}"));
    }
    app.impairments = Some(new);
    app.show_notice(notice);
    vec![Effect::Impair(new)]
}

fn no_client_message() -> String {
    "this mode has no client; run 'echotui' or 'echotui connect HOST:PORT'".into()
}
