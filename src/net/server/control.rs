//! What can be changed while a server runs, and the numbering its clients share.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;

use crate::net::census::Census;
use crate::net::event::ConnId;

/// A change to a running server, as the UI asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerCommand {
    SetReadSize(usize),
    Pause,
    Resume,
}

/// How a server reads right now; changed live by [`ServerControl`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// Bytes per `read()`: the tutorial's `recv(1024)`.
    pub size: usize,
    /// Reading stopped (`/pause`): unread bytes fill the socket buffers and TCP flow control
    /// slows the senders down; nothing is lost.
    pub paused: bool,
}

/// What can be changed while the server runs (`/read N`, `/pause`, `/resume`): a lesson
/// changes one thing and the class watches the effect on live connections. Connections
/// watch it, so a change reaches even one that is waiting in `read()` at that moment.
#[derive(Debug, Clone)]
pub struct ServerControl {
    reading: watch::Sender<Reading>,
    /// One numbering for TCP connections and UDP sources, so `#3` means one peer.
    next_conn: Arc<AtomicU64>,
    /// Who is connected and the totals, kept by the server for whoever shows it.
    census: Arc<Census>,
}

impl ServerControl {
    /// A running, reading server with `read_size` bytes per `read()`.
    pub fn new(read_size: usize) -> Self {
        Self {
            reading: watch::Sender::new(Reading {
                size: read_size,
                paused: false,
            }),
            next_conn: Arc::new(AtomicU64::new(1)),
            census: Arc::default(),
        }
    }

    /// The server's own account of its clients, exact even when events were dropped.
    pub fn census(&self) -> &Arc<Census> {
        &self.census
    }

    /// Carries out a [`ServerCommand`].
    pub fn apply(&self, command: ServerCommand) {
        self.reading.send_modify(|reading| match command {
            // Callers validate; the clamp keeps a bad value from ever reaching a buffer.
            ServerCommand::SetReadSize(bytes) => {
                reading.size = bytes.clamp(1, crate::net::MAX_READ_SIZE)
            }
            ServerCommand::Pause => reading.paused = true,
            ServerCommand::Resume => reading.paused = false,
        });
    }

    /// How the server reads now.
    pub fn reading(&self) -> Reading {
        *self.reading.borrow()
    }

    /// A receiver that sees every change, for a connection's read loop.
    pub(in crate::net) fn watch(&self) -> watch::Receiver<Reading> {
        self.reading.subscribe()
    }

    /// A fresh connection number, shared by the TCP and UDP servers using this control.
    pub(in crate::net) fn next_conn_id(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }
}

/// The next read setting to use, waiting while reading is paused. `None` if the control is
/// gone (the server is shutting down).
pub(in crate::net) async fn next_reading(watch: &mut watch::Receiver<Reading>) -> Option<Reading> {
    let reading = *watch.borrow_and_update();
    if !reading.paused {
        return Some(reading);
    }
    let resumed = watch.wait_for(|reading| !reading.paused).await.ok()?;
    Some(*resumed)
}
