//! What flows into `update` and what flows out of it.

use crossterm::event::{KeyEvent, MouseEvent};

use crate::app::model::SocketLook;
use crate::net::census::CensusSnapshot;
use crate::net::impair::Impairments;
use crate::net::{ClientCommand, NetEvent, ServerCommand};

/// Everything that can change the application state.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    /// A click or a wheel turn (only while the mouse is captured).
    Mouse(MouseEvent),
    /// The lesson's typing tick: the runtime sends it only while a lesson types a line.
    Typing,
    /// Bracketed paste: inserted into the input line as text, never executed key by key.
    Paste(String),
    Net(NetEvent),
    /// The periodic tick: refreshes ages, the count of events the UI had to drop, and the
    /// server's census (`None` when this mode has no server).
    Tick {
        dropped_events: u64,
        census: Option<CensusSnapshot>,
    },
    /// A look at both ends of the client's connection, for the socket view (taken only
    /// while [`crate::app::App::wants_socket_looks`], at most a few times a second).
    Sockets(Box<SocketLook>),
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
