//! What flows into `update` and what flows out of it.

use crossterm::event::KeyEvent;

use crate::net::census::CensusSnapshot;
use crate::net::impair::Impairments;
use crate::net::{ClientCommand, NetEvent, ServerCommand};

/// Everything that can change the application state.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    /// Bracketed paste: inserted into the input line as text, never executed key by key.
    Paste(String),
    Net(NetEvent),
    /// The periodic tick: refreshes ages, the count of events the UI had to drop, and the
    /// server's census (`None` when this mode has no server).
    Tick {
        dropped_events: u64,
        census: Option<CensusSnapshot>,
    },
}

/// What `update` asks the runtime to do, since it does no I/O itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Client(ClientCommand),
    Server(ServerCommand),
    /// New settings for the impairment proxy between client and server.
    Impair(Impairments),
    /// Run this many practice clients against the embedded server (0 stops them).
    PracticeClients(usize),
    Quit,
}
