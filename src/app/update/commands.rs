//! A submitted line: a message to send, or a `/command` to carry out.

use std::sync::Arc;

use crate::app::command::{self, Command, ImpairChange, Line};
use crate::app::model::{App, ConnState, LatencyView, Payload};
use crate::app::msg::Effect;
use crate::net::framing::Framing;
use crate::net::{ClientCommand, Message, ServerCommand, ServerModel, Transport};
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
            Ok(bytes) => send(app, vec![bytes], None),
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
        Command::Size(n) => return send(app, vec![crate::net::probe_payload(n)], None),
        Command::Split(n, text) => {
            return match text::unescape(&text) {
                Ok(bytes) => send(app, vec![bytes], Some(n)),
                Err(err) => {
                    app.show_error(format!("not sent: {err}"));
                    Vec::new()
                }
            };
        }
        Command::Repeat(n, text) => return repeat(app, n, &text),
        Command::Reconnect => Effect::Client(ClientCommand::Reconnect),
        Command::Close => Effect::Client(ClientCommand::HalfClose),
        Command::Reset => Effect::Client(ClientCommand::Reset),
        Command::Nagle(on) => Effect::Client(ClientCommand::SetNagle(on)),
        Command::Congestion(algorithm) => Effect::Client(ClientCommand::SetCongestion(algorithm)),
        Command::Transport(transport) => Effect::Client(ClientCommand::SetTransport(transport)),
        Command::Server(command) => return server(app, command),
        Command::Frame(framing) => return frame(app, framing),
        Command::Clients(n) => return practice_clients(app, n),
    };
    // Say what changed where the class is looking, and keep the panes' settings in step.
    let notice = match (&effect, &mut app.client, &mut app.server) {
        (Effect::Client(_), None, _) => {
            app.show_error(no_client_message());
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
        _ => None,
    };
    if let Some(notice) = notice {
        app.show_notice(notice);
    }
    vec![effect]
}

/// `/read`, `/pause`, `/resume`, `/server …`: the embedded server changes, the pane's copy of
/// its settings with it, and the class is told what to expect. A new model restarts the
/// server, so the client connects again.
fn server(app: &mut App, command: ServerCommand) -> Vec<Effect> {
    let Some(server) = &mut app.server else {
        app.show_error(NO_SERVER.into());
        return Vec::new();
    };
    server.behaviour.apply(command.clone());
    let mut notice = describe_server_change(&command);
    let mut effects = vec![Effect::Server(command.clone())];
    if let (ServerCommand::SetModel(_), Some(client)) = (&command, &mut app.client) {
        match client.transport {
            Transport::Tcp => {
                client.reconnecting = true;
                effects.push(Effect::Client(ClientCommand::Reconnect));
            }
            Transport::Udp => {
                notice += "; the client speaks UDP, which has no connections \
                to serve one way or another: /tcp to see the model at work"
            }
        }
    }
    app.show_notice(notice);
    effects
}

/// What a change to the server does, in the words the class reads.
fn describe_server_change(command: &ServerCommand) -> String {
    match command {
        ServerCommand::SetReadSize(n) => {
            format!("the server now reads at most {n} bytes per read()")
        }
        ServerCommand::Pause => {
            "server paused: it stops reading; bytes wait in the socket buffers".to_owned()
        }
        ServerCommand::Resume => "server reading again".to_owned(),
        ServerCommand::SetModel(model) => format!(
            "server restarting as {model}: {}",
            match model {
                ServerModel::Iterative => {
                    "one client at a time; the others wait in the kernel's accept queue"
                }
                ServerModel::Threads => "one thread per client, blocking reads",
                ServerModel::Async => "one task per client on a few threads",
            }
        ),
        ServerCommand::SetFraming(framing) => format!("the server now frames with {framing}"),
        ServerCommand::EchoChunks(Some(n)) => format!(
            "the server echoes in writes of {n} B, 1ms apart: one recv() gets only the first"
        ),
        ServerCommand::EchoChunks(None) => "the server echoes each read in one write".to_owned(),
        ServerCommand::Think(Some(d)) => format!(
            "the server thinks {} before each echo: the RTT grows, the handshake does not",
            units::duration(*d)
        ),
        ServerCommand::Think(None) => "the server echoes at once".to_owned(),
        ServerCommand::Greeting(Some(text)) => format!(
            "the server greets each new connection with {} (a client that reads once takes it \
             for its echo)",
            units::bytes(text.len() as u64)
        ),
        ServerCommand::Greeting(None) => "no greeting".to_owned(),
        ServerCommand::CloseAfter(Some(n)) => {
            format!("the server closes (FIN) each connection after echoing {n} B")
        }
        ServerCommand::ResetAfter(Some(n)) => {
            format!("the server aborts (RST) each connection after echoing {n} B")
        }
        ServerCommand::CloseAfter(None) | ServerCommand::ResetAfter(None) => {
            "the server no longer closes on its own".to_owned()
        }
    }
}

/// `/frame`: the client frames what it sends and the embedded server echoes whole frames.
fn frame(app: &mut App, framing: Framing) -> Vec<Effect> {
    let mut effects = Vec::new();
    if let Some(client) = &mut app.client {
        client.framing = framing;
    }
    if let Some(server) = &mut app.server {
        server.behaviour.apply(ServerCommand::SetFraming(framing));
        effects.push(Effect::Server(ServerCommand::SetFraming(framing)));
    }
    let notice = match framing {
        Framing::None => "no framing: bytes as they come, as RFC 862 says".to_owned(),
        Framing::Line => "framing by lines: each message ends with \\n, and the server echoes \
                          whole lines"
            .to_owned(),
        Framing::Len16 => "framing by length: each message starts with its length (2 bytes), \
                           and the server echoes whole messages"
            .to_owned(),
    };
    app.show_notice(notice);
    effects
}

/// `/clients N`: practice clients for the embedded server's roster.
fn practice_clients(app: &mut App, n: usize) -> Vec<Effect> {
    if app.server.is_none() {
        app.show_error(NO_SERVER.into());
        return Vec::new();
    }
    app.show_notice(match n {
        0 => "practice clients stopped".to_owned(),
        n => format!(
            "{}, each sending a numbered message every second",
            units::count(n as u64, "practice client", "practice clients")
        ),
    });
    vec![Effect::PracticeClients(n)]
}

/// The answer to a server command in a mode without an embedded server.
const NO_SERVER: &str = "this mode has no server: the server is the remote peer";

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
    send(app, messages, None)
}

/// Queues `messages` (one write or datagram each) if the client can take them, with a row
/// for each.
fn send(app: &mut App, messages: Vec<Vec<u8>>, pieces: Option<usize>) -> Vec<Effect> {
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
    // With framing on, what goes on the wire is the message framed; the pane shows the
    // message itself.
    let framing = client.framing;
    let framed: Result<Vec<Vec<u8>>, _> = messages.iter().map(|m| framing.frame(m)).collect();
    let framed = match framed {
        Ok(framed) => framed,
        Err(err) => {
            app.show_error(format!("not sent: {err} (/frame {framing})"));
            return Vec::new();
        }
    };
    let first: MessageId = app.next_message;
    app.next_message += messages.len() as MessageId;
    let ids = first..;
    client.sent(
        messages
            .iter()
            .zip(&framed)
            .zip(ids.clone())
            .map(|((message, wire), id)| (id, Payload::of(message), wire.len())),
        now,
    );
    let messages: Vec<Message> = framed
        .into_iter()
        .zip(ids)
        .map(|(bytes, id)| Message {
            id,
            bytes: Arc::from(bytes),
            pieces,
        })
        .collect();
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
