//! `update`: the only place the application state changes. Split by what it handles: keys
//! ([`keys`]), typed lines and `/commands` ([`commands`]); network events are applied by the
//! panes themselves ([`crate::app::model`]).

mod commands;
mod keys;

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
        Msg::Net(NetEvent::Client(event)) => {
            let now = app.now;
            if let Some(client) = &mut app.client {
                client.apply(event, now);
            }
            Vec::new()
        }
        Msg::Net(event) => {
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
