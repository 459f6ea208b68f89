//! The echo client actor: [`ClientCommand`]s in, [`ClientEvent`]s out.
//!
//! A connection is split in two tasks, because an echo client that writes and reads in turn
//! can deadlock: a large message fills the server's receive buffer while the server waits
//! for us to read its echoes. So the actor writes, a reader task reads, and both share the
//! [`RttTracker`]: the writer records each message just before the bytes reach the socket,
//! the reader matches every read against it the moment it returns. RTTs are therefore
//! measured at the socket, however slowly the UI later shows them.
//!
//! Over UDP ([`udp`]) there is no connection to split: one socket, sends from the actor,
//! replies matched by a reader task with a [`crate::stats::DatagramTracker`].

mod udp;

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::event::{ClientEvent, CloseReason, EventSink, NetEvent};
use super::{Transport, lock};
use crate::stats::{MessageId, RttTracker};

/// How many commands may wait for the actor; beyond that the UI is told the client is busy.
const COMMAND_QUEUE: usize = 256;
/// Messages sent but not yet echoed beyond which we refuse to send more (bounds memory
/// when a peer never answers).
const MAX_OUTSTANDING: usize = 10_000;
/// A write that waits this long is reported as blocked by flow control.
const BLOCKED_AFTER: Duration = Duration::from_millis(250);
/// The reader's buffer: large enough that a flood costs few wake-ups.
const READ_BUFFER: usize = 64 * 1024;

/// How the client connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSettings {
    pub transport: Transport,
    /// `TCP_NODELAY`: on by default, because we measure latency (Nagle off).
    pub nodelay: bool,
    pub connect_timeout: Duration,
    /// UDP: how long to wait for a reply before declaring the datagram lost.
    pub reply_timeout: Duration,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            transport: Transport::Tcp,
            nodelay: true,
            connect_timeout: Duration::from_secs(5),
            reply_timeout: Duration::from_secs(2),
        }
    }
}

/// What the UI asks the client to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCommand {
    /// Send `bytes` once per id in `ids`, each as its own write: `/repeat 20 x` is 20
    /// `write()`s, which is what shows Nagle coalescing them.
    Send {
        ids: Range<MessageId>,
        bytes: Arc<[u8]>,
    },
    /// Drop the current connection (if any) and connect again.
    Reconnect,
    /// Send FIN (`shutdown(SHUT_WR)`): the peer finishes echoing, then closes.
    HalfClose,
    /// Abortive close: `SO_LINGER` 0, so the kernel sends RST instead of FIN.
    Reset,
    /// Nagle's algorithm on (`true`) or off, now and for later connections.
    SetNagle(bool),
    /// Switch to TCP or UDP (`/tcp`, `/udp`): reconnects with the other transport.
    SetTransport(Transport),
    /// Reconnect to another address (through the impairment proxy, or around it again).
    SetTarget(SocketAddr),
}

/// The UI's handle on the client actor.
#[derive(Debug, Clone)]
pub struct ClientHandle {
    commands: mpsc::Sender<ClientCommand>,
}

/// The client could not take a command right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("client is busy: {COMMAND_QUEUE} commands are already waiting")]
pub struct ClientBusy;

impl ClientHandle {
    /// Queues a command without waiting, so a stalled connection never freezes the UI.
    pub fn command(&self, command: ClientCommand) -> Result<(), ClientBusy> {
        self.commands.try_send(command).map_err(|_| ClientBusy)
    }
}

/// A connection made before the actor starts (so a typo'd address fails on the command line,
/// not inside the UI), with how long its handshake took.
pub type Connected = (TcpStream, Duration);

/// Starts the client actor on `first` if given, else by connecting to `target` at once.
/// Later connections (`/reconnect`) always go to `target`.
pub fn spawn(
    target: SocketAddr,
    settings: ClientSettings,
    first: Option<Connected>,
    events: EventSink,
    shutdown: CancellationToken,
) -> ClientHandle {
    let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
    let actor = Actor {
        target,
        settings,
        events,
        shutdown,
        commands: rx,
    };
    tokio::spawn(actor.run(first));
    ClientHandle { commands: tx }
}

struct Actor {
    target: SocketAddr,
    settings: ClientSettings,
    events: EventSink,
    shutdown: CancellationToken,
    commands: mpsc::Receiver<ClientCommand>,
}

/// What the actor does after a connection ends.
enum Next {
    Connect(Option<Connected>),
    WaitForReconnect,
    Quit,
}

impl Actor {
    async fn run(mut self, first: Option<Connected>) {
        let mut next = Next::Connect(first);
        loop {
            next = match next {
                Next::Quit => return,
                Next::Connect(ready) => self.connection(ready).await,
                Next::WaitForReconnect => self.disconnected().await,
            };
        }
    }

    async fn report(&self, event: ClientEvent) {
        self.events.deliver(NetEvent::Client(event)).await;
    }

    /// Waits for the next command a state must handle itself. `Err(next)` when the actor must
    /// move on instead: we are quitting, the connection `ended`, or the command is one that
    /// ends the connection the same way in every state (reconnect, switch transport or
    /// target; its setting is taken first).
    async fn next_command(
        &mut self,
        ended: Option<&CancellationToken>,
    ) -> Result<ClientCommand, Next> {
        let ended = async {
            match ended {
                Some(ended) => ended.cancelled().await,
                None => std::future::pending().await,
            }
        };
        let command = tokio::select! {
            biased;
            _ = self.shutdown.cancelled() => return Err(Next::Quit),
            () = ended => return Err(Next::WaitForReconnect),
            command = self.commands.recv() => command,
        };
        let command = command.ok_or(Next::Quit)?;
        match command {
            ClientCommand::Reconnect => {}
            ClientCommand::SetTransport(transport) => self.settings.transport = transport,
            ClientCommand::SetTarget(target) => self.target = target,
            command => return Ok(command),
        }
        Err(Next::Connect(None))
    }

    /// While not connected, only `Reconnect` means something; sends are refused in words.
    async fn disconnected(&mut self) -> Next {
        loop {
            let command = match self.next_command(None).await {
                Ok(command) => command,
                Err(next) => return next,
            };
            match command {
                ClientCommand::Send { ids, .. } => {
                    self.report(ClientEvent::SendFailed {
                        ids,
                        reason: "not connected (type /reconnect)".into(),
                    })
                    .await
                }
                ClientCommand::SetNagle(on) => self.settings.nodelay = !on,
                _ => {}
            }
        }
    }

    /// Connects (unless `ready` already is), then serves commands until the connection ends.
    async fn connection(&mut self, ready: Option<Connected>) -> Next {
        if self.settings.transport == Transport::Udp {
            return self.udp_session().await;
        }
        let (stream, connect_time) = match ready {
            Some(connected) => connected,
            None => match self.connect().await {
                Some(connected) => connected,
                None if self.shutdown.is_cancelled() => return Next::Quit,
                None => return Next::WaitForReconnect,
            },
        };
        // Both addresses exist on a connected socket; if the OS cannot say, show the target.
        let local = stream.local_addr().unwrap_or(self.target);
        let peer = stream.peer_addr().unwrap_or(self.target);
        self.report(ClientEvent::Connected {
            local,
            peer,
            connect_time: Some(connect_time),
        })
        .await;

        let (reader, writer) = stream.into_split();
        let tracker = Arc::new(Mutex::new(RttTracker::default()));
        // Cancelled when the reader sees the end of the connection, or when we end it.
        let ended = self.shutdown.child_token();
        let reading = tokio::spawn(read_echoes(
            reader,
            tracker.clone(),
            self.events.clone(),
            ended.clone(),
        ));
        let next = self.write_commands(writer, &tracker, &ended).await;
        ended.cancel();
        // The reader only returns; a join error would mean it panicked, already reported.
        let _ = reading.await;
        next
    }

    /// One connection attempt, reported as it goes; `None` if it failed or we are quitting.
    async fn connect(&self) -> Option<Connected> {
        self.report(ClientEvent::Connecting {
            target: self.target,
            transport: Transport::Tcp,
        })
        .await;
        let connecting = super::connect(
            self.target,
            self.settings.nodelay,
            self.settings.connect_timeout,
        );
        let connected = tokio::select! {
            _ = self.shutdown.cancelled() => return None,
            connected = connecting => connected,
        };
        match connected {
            Ok(pair) => Some(pair),
            Err(err) => {
                self.report(ClientEvent::Closed(err.close_reason())).await;
                None
            }
        }
    }

    /// Serves commands on a live connection.
    async fn write_commands(
        &mut self,
        mut writer: OwnedWriteHalf,
        tracker: &Mutex<RttTracker>,
        ended: &CancellationToken,
    ) -> Next {
        let mut half_closed = false;
        loop {
            let command = match self.next_command(Some(ended)).await {
                Ok(command) => command,
                Err(next) => return next,
            };
            match command {
                ClientCommand::Send { ids, bytes } => {
                    if let Err(next) = self
                        .write_messages(&mut writer, tracker, ended, ids, &bytes, half_closed)
                        .await
                    {
                        return next;
                    }
                }
                ClientCommand::Reconnect
                | ClientCommand::SetTransport(_)
                | ClientCommand::SetTarget(_) => {}
                ClientCommand::SetNagle(on) => {
                    self.settings.nodelay = !on;
                    if let Err(err) = writer.as_ref().set_nodelay(!on) {
                        let problem = format!("cannot change Nagle: {}", super::describe(&err));
                        self.report(ClientEvent::Problem(problem)).await;
                    }
                }
                ClientCommand::HalfClose if !half_closed => {
                    half_closed = true;
                    match writer.shutdown().await {
                        Ok(()) => self.report(ClientEvent::HalfClosed).await,
                        Err(err) => {
                            self.report(ClientEvent::Closed(CloseReason::from_io(&err)))
                                .await
                        }
                    }
                }
                ClientCommand::HalfClose => {}
                ClientCommand::Reset => {
                    // SO_LINGER 0 turns the close into an RST. Dropping the write half would
                    // send a FIN first (and the peer would see a clean EOF), so `forget` it:
                    // the socket closes, abortively, when the reader drops the read half.
                    let reason = match writer.as_ref().set_zero_linger() {
                        Ok(()) => CloseReason::ResetByUs,
                        Err(err) => {
                            CloseReason::Error(format!("cannot reset: {}", super::describe(&err)))
                        }
                    };
                    writer.forget();
                    ended.cancel();
                    self.report(ClientEvent::Closed(reason)).await;
                    return Next::WaitForReconnect;
                }
            }
        }
    }
}

impl Actor {
    /// Writes one message per id; a refusal or write error fails that id and the rest.
    /// `Err` means the connection ended meanwhile.
    async fn write_messages(
        &self,
        writer: &mut OwnedWriteHalf,
        tracker: &Mutex<RttTracker>,
        ended: &CancellationToken,
        ids: Range<MessageId>,
        bytes: &Arc<[u8]>,
        half_closed: bool,
    ) -> Result<(), Next> {
        for id in ids.clone() {
            let refusal = if half_closed {
                Some("the connection is half-closed (FIN sent)".to_owned())
            } else if lock(tracker).outstanding() >= MAX_OUTSTANDING {
                Some(format!(
                    "{MAX_OUTSTANDING} messages are still waiting for their echo"
                ))
            } else {
                None
            };
            let failure = match refusal {
                Some(reason) => Some(reason),
                None => {
                    // Stamp and record first: the echo may come back before write_all returns.
                    lock(tracker).sent(id, bytes.clone(), Instant::now());
                    let written = self
                        .write_watching_flow_control(writer, bytes, ended)
                        .await?;
                    written.err().map(|err| super::describe(&err))
                }
            };
            if let Some(reason) = failure {
                self.report(ClientEvent::SendFailed {
                    ids: id..ids.end,
                    reason,
                })
                .await;
                break;
            }
        }
        Ok(())
    }
}

impl Actor {
    /// Writes `bytes`, saying so when the write has waited [`BLOCKED_AFTER`]: the peer has
    /// stopped reading, both socket buffers are full, and TCP flow control holds us back.
    /// `Err` means the connection ended meanwhile.
    async fn write_watching_flow_control(
        &self,
        writer: &mut OwnedWriteHalf,
        bytes: &[u8],
        ended: &CancellationToken,
    ) -> Result<std::io::Result<()>, Next> {
        let mut write = std::pin::pin!(writer.write_all(bytes));
        tokio::select! {
            _ = ended.cancelled() => return Err(Next::WaitForReconnect),
            written = &mut write => return Ok(written),
            _ = tokio::time::sleep(BLOCKED_AFTER) => {}
        }
        self.report(ClientEvent::SendBlocked).await;
        let written = tokio::select! {
            _ = ended.cancelled() => return Err(Next::WaitForReconnect),
            written = write => written,
        };
        self.report(ClientEvent::SendUnblocked).await;
        Ok(written)
    }
}

/// Reads echoes until the connection ends (reported) or `ended` is cancelled (silent).
async fn read_echoes(
    mut reader: OwnedReadHalf,
    tracker: Arc<Mutex<RttTracker>>,
    events: EventSink,
    ended: CancellationToken,
) {
    // However we leave, tell the writer the connection is over.
    let _ended = ended.clone().drop_guard();
    let mut buf = vec![0u8; READ_BUFFER];
    let mut updates = Vec::new();
    loop {
        let read = tokio::select! {
            _ = ended.cancelled() => return,
            read = reader.read(&mut buf) => read,
        };
        let at = Instant::now();
        let reason = match read {
            Ok(0) => CloseReason::PeerClosed,
            Ok(n) => {
                lock(&tracker).received(&buf[..n], at, &mut updates);
                for update in updates.drain(..) {
                    events
                        .deliver(NetEvent::Client(ClientEvent::Echo(update)))
                        .await;
                }
                continue;
            }
            Err(err) => CloseReason::from_io(&err),
        };
        events
            .deliver(NetEvent::Client(ClientEvent::Closed(reason)))
            .await;
        return;
    }
}
