//! Our client actor (`net::client::spawn`), driven command by command as the UI drives it.

use std::collections::HashSet;
use std::net::SocketAddr;

use echotui::net::client::{self, ClientCommand, ClientHandle, ClientSettings, Message};
use echotui::net::event::{self, ClientEvent, CloseReason, EventStream, NetEvent};
use echotui::stats::{EchoUpdate, MessageId};
use tokio_util::sync::CancellationToken;

use super::payloads::{HELLO, patterned};
use super::within;

/// Our client actor, its events, and its shutdown (cancelled on drop, so a failed test leaves
/// no client running).
pub struct Client {
    handle: ClientHandle,
    events: EventStream,
    shutdown: CancellationToken,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Client {
    /// A client with the default settings (TCP, Nagle off) connecting to `target`.
    pub fn spawn(target: SocketAddr) -> Self {
        Self::spawn_with(target, ClientSettings::default())
    }

    /// A client with `settings` (UDP, Nagle on, a reply timeout...) connecting to `target`.
    pub fn spawn_with(target: SocketAddr, settings: ClientSettings) -> Self {
        let (sink, events) = event::channel(1024);
        let shutdown = CancellationToken::new();
        let handle = client::spawn(target, settings, None, sink, shutdown.clone());
        Self {
            handle,
            events,
            shutdown,
        }
    }

    /// The next event, but for `Queued`: a busy test machine may hold a message up for a
    /// millisecond or two, which the client rightly reports; only one test looks for it.
    pub async fn next(&mut self, what: &str) -> ClientEvent {
        loop {
            match self.next_any(what).await {
                // The kernel's word on the socket is `tests/kernel.rs`'s subject.
                ClientEvent::Queued { .. }
                | ClientEvent::TcpState(_)
                | ClientEvent::UserClockEchoes(_) => {}
                event => return event,
            }
        }
    }

    /// The next event, whatever it is (at most [`super::STEP`] away).
    pub async fn next_any(&mut self, what: &str) -> ClientEvent {
        match within(what, self.events.recv()).await {
            Some(NetEvent::Client(event)) => event,
            other => panic!("expected a client event ({what}), got {other:?}"),
        }
    }

    /// What the kernel says of the client's socket now, as the socket view asks it.
    pub fn socket(&self) -> echotui::net::sockinfo::Sampled {
        self.handle.socket().sample()
    }

    /// Gives the client a command, as the UI does when the user types one.
    pub fn command(&self, command: ClientCommand) {
        self.handle
            .command(command)
            .expect("the client takes the command");
    }

    /// Sends one message.
    pub fn send(&self, id: MessageId, bytes: &[u8]) {
        self.command(ClientCommand::Send(vec![Message {
            id,
            bytes: bytes.into(),
            pieces: None,
        }]));
    }

    /// Waits for `Connected` (a `Connecting` may come first); returns our local address.
    pub async fn connected(&mut self) -> SocketAddr {
        loop {
            match self.next("the connection").await {
                ClientEvent::Connecting { .. } => {}
                ClientEvent::Connected { local, .. } => return local,
                other => panic!("expected to connect, got {other:?}"),
            }
        }
    }

    /// Waits until every message in `ids` is echoed intact (partial echoes may come first).
    pub async fn echoed(&mut self, ids: &[MessageId]) {
        let mut pending: HashSet<MessageId> = ids.iter().copied().collect();
        while !pending.is_empty() {
            match self.next("the echoes").await {
                ClientEvent::Echo(EchoUpdate::Partial { .. }) => {}
                ClientEvent::Echo(EchoUpdate::Echoed { id, .. }) => {
                    assert!(
                        pending.remove(&id),
                        "message {id} echoed twice or never sent"
                    );
                }
                other => panic!("while waiting for echoes of {pending:?}: {other:?}"),
            }
        }
    }

    /// Waits for the connection to end and says why.
    pub async fn closed(&mut self) -> CloseReason {
        loop {
            match self.next("the close").await {
                ClientEvent::Closed(reason) => return reason,
                ClientEvent::Connecting { .. } => {}
                other => panic!("expected the connection to close, got {other:?}"),
            }
        }
    }
}

/// Connects to `target` and has it echo the tutorial message and a 5000-byte one: what every
/// foreign echo server must get right.
pub async fn echo_two_messages(target: SocketAddr) -> Client {
    let mut client = Client::spawn(target);
    client.connected().await;
    client.send(1, HELLO);
    client.send(2, &patterned(5000));
    client.echoed(&[1, 2]).await;
    client
}
