//! What the client pane shows, row by row.

use std::time::Duration;

use chrono::{DateTime, Local};

use crate::app::model::Payload;
use crate::stats::MessageId;

/// One row of the client pane.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientRow {
    pub at: DateTime<Local>,
    pub kind: ClientRowKind,
}

/// What a client row says.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientRowKind {
    /// A message handed to the client; `outcome` is set when it ended without an echo row
    /// of its own (not sent, or abandoned before any byte came back).
    Sent {
        id: MessageId,
        payload: Payload,
        outcome: Option<EchoProgress>,
    },
    Echo {
        id: MessageId,
        /// What was sent (what came back, when it differs, is in `progress`).
        payload: Payload,
        progress: EchoProgress,
        /// How long the message waited behind earlier writes before it reached the socket:
        /// the RTT is timed from the socket, so this wait is shown beside it.
        queued: Option<Duration>,
    },
    /// Bytes nobody asked for (a greeting, a chatty peer).
    Unsolicited { payload: Payload },
    /// UDP: another reply to a datagram already answered.
    Duplicate { id: MessageId, payload: Payload },
    /// Connection news: connected, closed, reset…
    Notice(String),
    /// A command or send that failed, in words.
    Error(String),
}

/// How far a message has come.
#[derive(Debug, Clone, PartialEq)]
pub enum EchoProgress {
    Partial {
        received: usize,
    },
    Echoed {
        rtt: Duration,
    },
    /// All bytes back, but not the bytes sent: what did come back.
    Mismatch {
        echoed: Payload,
    },
    /// UDP: no reply within the timeout.
    Lost,
    /// The connection ended (or was replaced) before the echo was complete.
    Abandoned,
    /// Never handed to the socket.
    NotSent,
}
