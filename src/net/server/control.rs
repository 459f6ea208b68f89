//! What can be changed while a server runs, and the numbering its clients share.

use std::fmt;
use std::os::fd::BorrowedFd;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use super::plan::Misbehaviour;
use crate::net::census::Census;
use crate::net::event::ConnId;
use crate::net::framing::Framing;
use crate::net::sockinfo::{AcceptQueue, Holding, SharedSocket, Unavailable};

/// How the server serves its clients: the tutorial's subject, switchable live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerModel {
    /// One connection at a time, as the tutorial's server: accept, echo until the client
    /// leaves, close, and only then accept the next. The others wait in the kernel's queue.
    Iterative,
    /// One OS thread per connection with blocking sockets: the classic fix.
    Threads,
    /// One tokio task per connection: many clients, a few threads.
    #[default]
    Async,
}

impl fmt::Display for ServerModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServerModel::Iterative => "iterative",
            ServerModel::Threads => "threads",
            ServerModel::Async => "async",
        })
    }
}

impl FromStr for ServerModel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "iterative" => Ok(ServerModel::Iterative),
            "threads" => Ok(ServerModel::Threads),
            "async" => Ok(ServerModel::Async),
            _ => Err(format!(
                "unknown server model '{s}' (expected iterative, threads or async)"
            )),
        }
    }
}

/// A change to a running server, as the UI asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerCommand {
    SetReadSize(usize),
    Pause,
    Resume,
    /// Restart with another model: every connection is closed, the port stays.
    SetModel(ServerModel),
    SetFraming(Framing),
    EchoChunks(Option<usize>),
    Think(Option<Duration>),
    Greeting(Option<Arc<[u8]>>),
    CloseAfter(Option<u64>),
    ResetAfter(Option<u64>),
}

/// How a server behaves right now; changed live by [`ServerControl`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Behaviour {
    /// Bytes per `read()`: the tutorial's `recv(1024)`.
    pub read_size: usize,
    /// Reading stopped (`/pause`): unread bytes fill the socket buffers and TCP flow control
    /// slows the senders down; nothing is lost.
    pub paused: bool,
    pub model: ServerModel,
    pub framing: Framing,
    pub misbehaviour: Misbehaviour,
}

impl Behaviour {
    /// This behaviour with `command` carried out: the server's own, and the copy the UI
    /// shows, change by the same rule.
    pub fn apply(&mut self, command: ServerCommand) {
        match command {
            // Callers validate; the clamp keeps a bad value from ever reaching a buffer.
            ServerCommand::SetReadSize(bytes) => {
                self.read_size = bytes.clamp(1, crate::net::MAX_READ_SIZE)
            }
            ServerCommand::Pause => self.paused = true,
            ServerCommand::Resume => self.paused = false,
            ServerCommand::SetModel(model) => self.model = model,
            ServerCommand::SetFraming(framing) => self.framing = framing,
            ServerCommand::EchoChunks(n) => self.misbehaviour.echo_chunks = n.filter(|&n| n > 0),
            ServerCommand::Think(d) => self.misbehaviour.think = d.filter(|d| !d.is_zero()),
            ServerCommand::Greeting(text) => self.misbehaviour.greeting = text,
            ServerCommand::CloseAfter(n) => self.misbehaviour.close_after = n,
            ServerCommand::ResetAfter(n) => self.misbehaviour.reset_after = n,
        }
    }
}

/// What can be changed while the server runs (`/read N`, `/pause`, `/server …`): a lesson
/// changes one thing and the class watches the effect on live connections. Connections
/// watch it, so a change reaches even one that is waiting in `read()` at that moment.
#[derive(Debug, Clone)]
pub struct ServerControl {
    behaviour: watch::Sender<Behaviour>,
    /// One numbering for TCP connections and UDP sources, so `#3` means one peer.
    next_conn: Arc<AtomicU64>,
    /// Who is connected and the totals, kept by the server for whoever shows it.
    census: Arc<Census>,
    /// Threads serving connections now (the threads model), for the server pane.
    threads: Arc<AtomicUsize>,
    /// The TCP listener, shared while the server runs, to read its accept queue.
    listener: SharedSocket,
}

impl ServerControl {
    /// A running, reading, well-behaved async server with `read_size` bytes per `read()`.
    pub fn new(read_size: usize) -> Self {
        Self::with(Behaviour {
            read_size,
            paused: false,
            model: ServerModel::default(),
            framing: Framing::None,
            misbehaviour: Misbehaviour::default(),
        })
    }

    /// A server that starts with `behaviour` (the command line's model, framing, …).
    pub fn with(behaviour: Behaviour) -> Self {
        Self {
            behaviour: watch::Sender::new(behaviour),
            next_conn: Arc::new(AtomicU64::new(1)),
            census: Arc::default(),
            threads: Arc::default(),
            listener: SharedSocket::default(),
        }
    }

    /// The server's own account of its clients, exact even when events were dropped.
    pub fn census(&self) -> &Arc<Census> {
        &self.census
    }

    /// Carries out a [`ServerCommand`].
    pub fn apply(&self, command: ServerCommand) {
        self.behaviour.send_modify(|b| b.apply(command));
    }

    /// How the server behaves now.
    pub fn behaviour(&self) -> Behaviour {
        self.behaviour.borrow().clone()
    }

    /// What the server knows now: its census, the threads serving it and its accept queue.
    pub fn snapshot(&self) -> crate::net::census::CensusSnapshot {
        let mut snapshot = self.census.snapshot();
        snapshot.threads = self.threads.load(Ordering::Relaxed);
        snapshot.accept_queue = self.accept_queue();
        snapshot
    }

    /// The listener's accept queue now, for the server pane (with the snapshot, once a
    /// second) and `serve --headless` (ten times a second): one `getsockopt`, no lock shared
    /// with the echo path. `None` while no TCP listener runs (a UDP server); an error where
    /// the kernel cannot say.
    pub fn accept_queue(&self) -> Option<Result<AcceptQueue, Unavailable>> {
        match self.listener.accept_queue() {
            Err(Unavailable::NoSocket) => None,
            asked => Some(asked),
        }
    }

    /// Shares the TCP `listener` for [`ServerControl::accept_queue`] until the guard is
    /// dropped, which the server does before it closes the listener: the duplicate must not
    /// keep the port bound after the server stopped.
    pub(in crate::net) fn share_listener(&self, listener: BorrowedFd<'_>) -> Holding {
        self.listener.hold(listener)
    }

    /// A receiver that sees every change, for a connection's read loop.
    pub(in crate::net) fn watch(&self) -> watch::Receiver<Behaviour> {
        self.behaviour.subscribe()
    }

    /// The count of running threads, for the threads model to keep.
    pub(in crate::net) fn thread_count(&self) -> &Arc<AtomicUsize> {
        &self.threads
    }

    /// A fresh connection number, shared by the TCP and UDP servers using this control.
    pub(in crate::net) fn next_conn_id(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }
}

/// The behaviour to read with, waiting while reading is paused. `None` if the control is
/// gone (the server is shutting down).
pub(in crate::net) async fn next_reading(
    watch: &mut watch::Receiver<Behaviour>,
) -> Option<Behaviour> {
    let behaviour = watch.borrow_and_update().clone();
    if !behaviour.paused {
        return Some(behaviour);
    }
    let resumed = watch.wait_for(|b| !b.paused).await.ok()?;
    Some(resumed.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_change_what_connections_watch() {
        let control = ServerControl::new(1024);
        let watch = control.watch();
        control.apply(ServerCommand::SetReadSize(0));
        control.apply(ServerCommand::SetModel(ServerModel::Iterative));
        control.apply(ServerCommand::EchoChunks(Some(0)));
        let b = watch.borrow().clone();
        assert_eq!(b.read_size, 1, "clamped");
        assert_eq!(b.model, ServerModel::Iterative);
        assert_eq!(b.misbehaviour.echo_chunks, None, "0 means off");
    }

    #[test]
    fn model_names_parse_and_print() {
        for model in [
            ServerModel::Iterative,
            ServerModel::Threads,
            ServerModel::Async,
        ] {
            assert_eq!(model.to_string().parse(), Ok(model));
        }
        assert!("forking".parse::<ServerModel>().is_err());
    }
}
