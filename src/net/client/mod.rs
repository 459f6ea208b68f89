//! The echo client actor: [`ClientCommand`]s in, [`ClientEvent`]s out.
//!
//! A connection is split in two tasks, because an echo client that writes and reads in turn
//! can deadlock: a large message fills the server's receive buffer while the server waits
//! for us to read its echoes. So the actor writes, a reader task reads, and both share the
//! [`RttTracker`]: the writer records each message just before the bytes reach the socket,
//! the reader matches every read against it the moment it returns. RTTs are therefore
//! measured at the socket, however slowly the UI later shows them.
//!
//! Over UDP there is no connection to split: one socket, sends from the actor, replies
//! matched by a reader task with a [`crate::stats::DatagramTracker`].
//!
//! One job per module: this one holds the actor's life (commands, connecting, the states
//! between connections); `writer` serves a live TCP connection's commands, `reader` reads
//! its echoes, and `udp` is the UDP session, both sides.

mod reader;
mod udp;
mod writer;

use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use self::reader::Reader;
use super::event::{ClientEvent, CloseReason, EventSink, NetEvent};
use super::sockinfo::{Congestion, SharedSocket, congestion};
use super::stamp::StampedReader;
use super::{Transport, lock};
use crate::stats::{Clock, EchoUpdate, MessageId, RttTracker};

/// How many commands may wait for the actor; beyond that the UI is told the client is busy.
const COMMAND_QUEUE: usize = 256;
/// How long a TCP connect may take before the client gives up. A SYN that finds the server's
/// accept queue full is dropped and sent again: 1, 2, 3, 4, 5, 7 and 11 s after the first on
/// a Linux 6.18 (as measured; `net.ipv4.tcp_syn_linear_timeouts`), 1, 3 and 7 s on kernels
/// that double every wait. Long enough for the `--backlog 1` lesson's connects that take a
/// few seconds; short enough that an address nobody answers is told in seconds, not after the
/// kernel's own limit (up to two minutes).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(12);
/// A message that waited longer than this between the UI and the socket is reported
/// ([`ClientEvent::Queued`]): below it, the wait is the hop from the UI, not a queue.
const QUEUED_NOTICE: Duration = Duration::from_millis(1);

/// How the client connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSettings {
    pub transport: Transport,
    /// `TCP_NODELAY`: on by default, because we measure latency (Nagle off).
    pub nodelay: bool,
    pub connect_timeout: Duration,
    /// UDP: how long to wait for a reply before declaring the datagram lost.
    pub reply_timeout: Duration,
    /// The clock RTTs end at: the kernel's receive timestamps where it gives them.
    pub clock: Clock,
    /// TCP congestion control for each connection (`None`: the system's default).
    pub congestion: Option<Congestion>,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            transport: Transport::Tcp,
            nodelay: true,
            connect_timeout: CONNECT_TIMEOUT,
            reply_timeout: Duration::from_secs(2),
            clock: Clock::Kernel,
            congestion: None,
        }
    }
}

/// One message to send: its id (the number the UI shows) and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    pub bytes: Arc<[u8]>,
    /// Write it in pieces of this many bytes, back to back (`/split`); `None`: in one write.
    /// Still one message with one RTT: how a program that writes a header and then a body
    /// meets Nagle's algorithm and the peer's delayed ACK.
    pub pieces: Option<usize>,
}

/// What the UI asks the client to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCommand {
    /// Send each message as its own write (UDP: its own datagram), in order: `/repeat 20 x`
    /// is 20 `write()`s, which is what shows Nagle coalescing them. The ids are consecutive.
    Send(Vec<Message>),
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
    /// TCP congestion control, now and for later connections (`/congestion`).
    SetCongestion(Congestion),
}

/// The UI's handle on the client actor.
#[derive(Debug, Clone)]
pub struct ClientHandle {
    commands: mpsc::Sender<Queued>,
    /// The current connection's socket, for the socket view to ask the kernel about.
    socket: SharedSocket,
}

/// A command with the moment it was given, so a message that waits behind a blocked write
/// can say how long it waited.
#[derive(Debug)]
struct Queued {
    command: ClientCommand,
    at: Instant,
}

/// The client could not take a command right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("client is busy: {COMMAND_QUEUE} commands are already waiting")]
pub struct ClientBusy;

impl ClientHandle {
    /// Queues a command without waiting, so a stalled connection never freezes the UI.
    pub fn command(&self, command: ClientCommand) -> Result<(), ClientBusy> {
        let queued = Queued {
            command,
            at: Instant::now(),
        };
        self.commands.try_send(queued).map_err(|_| ClientBusy)
    }

    /// The current TCP connection's socket (none while not connected, or over UDP).
    pub fn socket(&self) -> &SharedSocket {
        &self.socket
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
    let socket = SharedSocket::default();
    let actor = Actor {
        target,
        settings,
        events,
        shutdown,
        commands: rx,
        given_at: Instant::now(),
        socket: socket.clone(),
    };
    tokio::spawn(actor.run(first));
    ClientHandle {
        commands: tx,
        socket,
    }
}

struct Actor {
    target: SocketAddr,
    settings: ClientSettings,
    events: EventSink,
    shutdown: CancellationToken,
    commands: mpsc::Receiver<Queued>,
    /// When the command being carried out was given.
    given_at: Instant,
    /// Shares each TCP connection's socket with the socket view, while it lasts.
    socket: SharedSocket,
}

/// What the actor does after a connection ends.
enum Next {
    Connect(Option<Connected>),
    WaitForReconnect,
    Quit,
}

/// Why a connection is ending and what comes next. `reason` is `Some` when we end it (a
/// reconnect, a switch, a reset, a failed write, shutdown) and `None` when the peer did, in
/// which case the reader knows why.
struct Ending {
    next: Next,
    reason: Option<CloseReason>,
}

impl Ending {
    fn ours(next: Next, reason: CloseReason) -> Self {
        Self {
            next,
            reason: Some(reason),
        }
    }

    /// The reader saw the connection end; its reason will be reported.
    fn theirs() -> Self {
        Self {
            next: Next::WaitForReconnect,
            reason: None,
        }
    }
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

    /// Waits for the next command a state must handle itself. `Err` when the actor must move
    /// on instead: we are quitting, the connection `ended`, or the command is one that ends
    /// the connection the same way in every state (reconnect, switch transport or target;
    /// its setting is taken first).
    async fn next_command(
        &mut self,
        ended: Option<&CancellationToken>,
    ) -> Result<ClientCommand, Ending> {
        let ended = async {
            match ended {
                Some(ended) => ended.cancelled().await,
                None => std::future::pending().await,
            }
        };
        let quit = || Ending::ours(Next::Quit, CloseReason::Shutdown);
        let command = tokio::select! {
            biased;
            _ = self.shutdown.cancelled() => return Err(quit()),
            () = ended => return Err(Ending::theirs()),
            command = self.commands.recv() => command,
        };
        let Queued { command, at } = command.ok_or_else(quit)?;
        self.given_at = at;
        let reason = match command {
            ClientCommand::Reconnect => CloseReason::Reconnecting,
            ClientCommand::SetTransport(transport) => {
                self.settings.transport = transport;
                CloseReason::SwitchingTransport(transport)
            }
            ClientCommand::SetTarget(target) => {
                self.target = target;
                CloseReason::Rerouting
            }
            command => return Ok(command),
        };
        Err(Ending::ours(Next::Connect(None), reason))
    }

    /// While not connected, only `Reconnect` means something; sends are refused in words.
    async fn disconnected(&mut self) -> Next {
        loop {
            let command = match self.next_command(None).await {
                Ok(command) => command,
                Err(ending) => return ending.next,
            };
            match command {
                ClientCommand::Send(messages) => {
                    self.not_sent(&messages, "not connected (type /reconnect)".into())
                        .await
                }
                ClientCommand::SetNagle(on) => self.settings.nodelay = !on,
                ClientCommand::SetCongestion(algorithm) => {
                    let checked = congestion::check(algorithm).map(|()| algorithm);
                    self.congestion_set(checked).await;
                }
                _ => {}
            }
        }
    }

    /// A congestion control algorithm is in force from now on (and for later connections),
    /// or could not be: the UI is told which.
    async fn congestion_set(&mut self, outcome: Result<Congestion, String>) {
        match outcome {
            Ok(algorithm) => {
                self.settings.congestion = Some(algorithm);
                self.report(ClientEvent::Congestion(algorithm)).await;
            }
            Err(problem) => self.report(ClientEvent::Problem(problem)).await,
        }
    }

    /// Reports `messages` (consecutive ids) as never handed to the socket.
    async fn not_sent(&self, messages: &[Message], reason: String) {
        if let (Some(first), Some(last)) = (messages.first(), messages.last()) {
            let ids = first.id..last.id + 1;
            self.report(ClientEvent::SendFailed { ids, reason }).await;
        }
    }

    /// Says how long message `id` waited before reaching the socket, if noticeably.
    async fn report_queueing(&self, id: MessageId, sent_at: Instant) {
        let waited = sent_at.saturating_duration_since(self.given_at);
        if waited >= QUEUED_NOTICE {
            self.report(ClientEvent::Queued { id, waited }).await;
        }
    }

    /// Gives up on every message still outstanding on a connection (or UDP session) that
    /// ended, then reports how it ended: each message sent gets exactly one outcome, and a
    /// close is always reported once, by the actor, whoever ended it.
    async fn close(&self, reason: CloseReason, abandoned: Vec<EchoUpdate>) {
        for update in abandoned {
            self.report(ClientEvent::Echo(update)).await;
        }
        self.report(ClientEvent::Closed(reason)).await;
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
        if let Some(algorithm) = self.settings.congestion
            && let Err(problem) = congestion::set(stream.as_fd(), algorithm)
        {
            self.report(ClientEvent::Problem(problem)).await;
        }
        let stamped = StampedReader::new(stream.as_fd(), self.settings.clock);
        // Both addresses exist on a connected socket; if the OS cannot say, show the target.
        let local = stream.local_addr().unwrap_or(self.target);
        let peer = stream.peer_addr().unwrap_or(self.target);
        // Shared before it is announced: whoever hears `Connected` may ask about the socket.
        let holding = self.socket.hold(stream.as_fd());
        self.report(ClientEvent::Connected {
            local,
            peer,
            connect_time: Some(connect_time),
            clock: stamped.clock(),
        })
        .await;

        let (reader, writer) = stream.into_split();
        let tracker = Arc::new(Mutex::new(RttTracker::default()));
        // Cancelled when the reader sees the end of the connection, or when we end it.
        let ended = self.shutdown.child_token();
        let reading = tokio::spawn(reader::read_echoes(
            Reader {
                half: reader,
                stamped,
                holding,
            },
            tracker.clone(),
            self.events.clone(),
            ended.clone(),
        ));
        let ending = self.write_commands(writer, &tracker, &ended).await;
        ended.cancel();
        // The reader returns why it stopped; a join error would mean it panicked.
        let theirs = reading
            .await
            .unwrap_or_else(|join| CloseReason::Error(join.to_string()));
        let mut abandoned = Vec::new();
        lock(&tracker).abandon_all(&mut abandoned);
        self.close(ending.reason.unwrap_or(theirs), abandoned).await;
        ending.next
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
}
