//! `update`: the only place the application state changes. Split by what it handles: keys
//! (`keys`), typed lines and `/commands` (`commands`); network events are applied by the
//! panes themselves ([`crate::app::model`]).

mod commands;
mod keys;
mod lesson;
mod mouse;

pub use lesson::start as start_lesson;

use super::model::App;
use super::msg::{Effect, Msg};
use crate::net::NetEvent;

/// Applies one message to the state and says what the runtime must do about it.
pub fn update(app: &mut App, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(key) => keys::on_key(app, key),
        Msg::Paste(text) => {
            // One paste is one message: its newlines become `\n` in the line, not sends.
            if !app.help_open {
                app.input.paste(&text);
            }
            Vec::new()
        }
        Msg::Mouse(event) => mouse::on_mouse(app, event),
        Msg::Typing => lesson::type_tick(app),
        Msg::Net(NetEvent::Client(event)) => {
            let now = app.now;
            if let Some(client) = &mut app.client {
                client.apply(event, now);
            }
            Vec::new()
        }
        Msg::Net(event) => {
            if let NetEvent::Server(event) = &event {
                app.addresses.note(event.peer.ip());
            }
            if let Some(server) = &mut app.server {
                server.apply(event);
            }
            Vec::new()
        }
        Msg::Tick {
            dropped_events,
            census,
        } => {
            app.dropped_events = dropped_events;
            let now = app.now;
            if let Some(census) = &census {
                let peers = census.open.iter().map(|c| c.peer);
                for peer in peers.chain(census.sources.iter().map(|s| s.peer)) {
                    app.addresses.note(peer.ip());
                }
            }
            if let (Some(server), Some(census)) = (&mut app.server, census) {
                server.reconcile(census, now);
            }
            Vec::new()
        }
        Msg::Sockets(look) => {
            crate::app::model::kernel::apply_look(app, *look);
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests;
