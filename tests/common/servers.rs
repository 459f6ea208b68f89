//! Our echo servers (`net::server::run`, `net::udp::run`) in-process on a free loopback port,
//! and the log of what they report.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use echotui::net::event::{
    self, CloseReason, ConnId, EventSink, EventStream, NetEvent, ServerEvent, ServerEventKind,
};
use echotui::net::server::{self, Limits, ServerControl, ServerSettings};
use echotui::net::{Transport, udp};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{STEP, within};

/// The server's read buffer unless a test says otherwise: the tutorial's `recv(1024)`.
pub const READ_SIZE: usize = echotui::net::DEFAULT_READ_SIZE;
/// Room for every event a test provokes, so counts are exact (a drop is reported if not).
const EVENT_CAPACITY: usize = 1 << 16;

/// One of our servers, running on a free loopback port until [`Server::stop`].
pub struct Server {
    pub addr: SocketAddr,
    /// What the UI's `/read`, `/pause` and `/resume` go through; also holds the census.
    pub control: ServerControl,
    /// Cancelling it is how every mode stops a server.
    pub shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl Server {
    /// Starts our `transport` server with `settings`, behaving as `control` says (its model,
    /// read size, framing, misbehaviours), and sends its events to `events` (a test that
    /// plays the UI reads them itself).
    pub async fn start(
        transport: Transport,
        settings: ServerSettings,
        control: ServerControl,
        events: EventSink,
    ) -> Self {
        let shutdown = CancellationToken::new();
        let (addr, task) = match transport {
            Transport::Tcp => {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind 127.0.0.1:0");
                let addr = listener.local_addr().expect("local_addr");
                let run = server::run(
                    listener,
                    settings,
                    control.clone(),
                    events,
                    shutdown.clone(),
                );
                (addr, tokio::spawn(run))
            }
            Transport::Udp => {
                let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
                    .await
                    .expect("bind 127.0.0.1:0");
                let addr = socket.local_addr().expect("local_addr");
                let run = udp::run(socket, settings, control.clone(), events, shutdown.clone());
                (addr, tokio::spawn(run))
            }
        };
        Self {
            addr,
            control,
            shutdown,
            task,
        }
    }

    /// [`Server::start`] with its events collected in an [`EventLog`].
    pub async fn logged(
        transport: Transport,
        settings: ServerSettings,
        control: ServerControl,
    ) -> (Self, EventLog) {
        let (sink, stream) = event::channel(EVENT_CAPACITY);
        let server = Self::start(transport, settings, control, sink).await;
        (server, EventLog::collect(stream))
    }

    /// A logged TCP server with these limits, reporting every read of [`READ_SIZE`] bytes.
    pub async fn tcp(limits: Limits) -> (Self, EventLog) {
        let settings = ServerSettings {
            report_reads: true,
            limits,
        };
        Self::logged(Transport::Tcp, settings, ServerControl::new(READ_SIZE)).await
    }

    /// A logged UDP server that reads (and so answers) at most `read_size` bytes of a datagram.
    pub async fn udp(read_size: usize) -> (Self, EventLog) {
        let control = ServerControl::new(read_size);
        Self::logged(Transport::Udp, ServerSettings::default(), control).await
    }

    /// Cancels the server and waits for `run` to return (it waits for its connections): after
    /// this no connection is left and the port is free.
    pub async fn stop(self) {
        self.shutdown.cancel();
        within("the server returns after cancel", self.task)
            .await
            .expect("the server task panicked");
    }
}

/// Everything the server reported so far.
#[derive(Debug, Default)]
pub struct Seen {
    pub events: Vec<ServerEvent>,
    pub accept_failures: Vec<String>,
    /// Events the server could not hand over (channel full): counts would then be short.
    pub dropped: u64,
}

/// What the collector shares with the log's readers.
#[derive(Debug, Default)]
struct Shared {
    seen: Mutex<Seen>,
    changed: Notify,
}

/// The server's events, collected as they come by a task of their own, so the server never
/// finds the channel full however long a test looks elsewhere. A test either looks for what
/// it expects anywhere in the log ([`EventLog::wait_for`]) or reads it in order
/// ([`EventLog::next`]).
#[derive(Debug)]
pub struct EventLog {
    shared: Arc<Shared>,
    /// How many events [`EventLog::next`] has handed out.
    read: usize,
}

impl EventLog {
    /// Starts collecting `stream` on a task of its own.
    pub fn collect(mut stream: EventStream) -> Self {
        let shared = Arc::new(Shared::default());
        let collector = shared.clone();
        tokio::spawn(async move {
            while let Some(event) = stream.recv().await {
                let mut seen = lock(&collector.seen);
                match event {
                    NetEvent::Server(event) => seen.events.push(event),
                    NetEvent::AcceptFailed { reason, .. } => seen.accept_failures.push(reason),
                    NetEvent::Flood { .. } | NetEvent::Client(_) => {}
                }
                seen.dropped = stream.dropped();
                drop(seen);
                collector.changed.notify_waiters();
            }
        });
        Self { shared, read: 0 }
    }

    /// What the server reported so far (hold it briefly: the collector waits meanwhile).
    pub fn seen(&self) -> MutexGuard<'_, Seen> {
        lock(&self.shared.seen)
    }

    /// Waits until `found` finds what it looks for in the events so far; `None` if it has not
    /// within `limit`.
    async fn look_within<T>(
        &self,
        limit: Duration,
        mut found: impl FnMut(&[ServerEvent]) -> Option<T>,
    ) -> Option<T> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            // Registered before looking, so an event arriving in between still wakes us.
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(value) = found(&self.seen().events) {
                return Some(value);
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return None;
            }
        }
    }

    /// Waits (at most [`STEP`]) until `found` finds what it looks for in the events so far.
    pub async fn wait_for<T>(
        &self,
        what: &str,
        found: impl FnMut(&[ServerEvent]) -> Option<T>,
    ) -> T {
        if let Some(value) = self.look_within(STEP, found).await {
            return value;
        }
        let seen = self.seen();
        panic!(
            "timed out waiting for {what}: {} events seen ({} dropped), the last: {:?}",
            seen.events.len(),
            seen.dropped,
            seen.events.last()
        );
    }

    /// Waits for the server to have accepted the connection from `peer`.
    pub async fn connected(&self, peer: SocketAddr) -> ConnId {
        self.wait_for(&format!("the connection from {peer}"), |events| {
            events
                .iter()
                .find(|e| e.peer == peer && e.kind == ServerEventKind::Connected)
                .map(|e| e.conn)
        })
        .await
    }

    /// Waits for the close of the connection from `peer`: (reason, bytes in, bytes out).
    pub async fn closed(&self, peer: SocketAddr) -> (CloseReason, u64, u64) {
        self.wait_for(&format!("the close of {peer}"), |events| {
            close_of(events, conn_of(events, peer)?)
        })
        .await
    }

    /// Waits for the first thing the server reported about `peer` (its verdict on it).
    pub async fn first_from(&self, peer: SocketAddr) -> ServerEventKind {
        self.wait_for(&format!("the verdict on {peer}"), |events| {
            events
                .iter()
                .find(|e| e.peer == peer)
                .map(|e| e.kind.clone())
        })
        .await
    }

    /// The next event in the order the server reported them (at most [`STEP`] away); fails
    /// if an `accept()` failed meanwhile, which no test here provokes.
    pub async fn next(&mut self, what: &str) -> ServerEvent {
        loop {
            let event = self.wait_for(what, |events| events.get(self.read).cloned());
            let event = event.await;
            self.read += 1;
            let failures = &self.seen().accept_failures;
            assert!(failures.is_empty(), "accept() failed: {failures:?}");
            // The TCP states a close goes through are `tests/kernel.rs`'s subject.
            if !matches!(event.kind, ServerEventKind::TcpState(_)) {
                return event;
            }
        }
    }

    /// The next event if one comes within `limit`: for a test that asserts an absence, over
    /// a short while (an absence cannot fail because the machine is slow).
    pub async fn next_within(&mut self, limit: Duration) -> Option<ServerEvent> {
        let event = self
            .look_within(limit, |events| events.get(self.read).cloned())
            .await?;
        self.read += 1;
        Some(event)
    }

    /// Reads events in order until the server's reads add up to `total` bytes; returns their
    /// lengths and their previews, concatenated.
    pub async fn reads(&mut self, total: usize) -> (Vec<usize>, Vec<u8>) {
        let (mut lens, mut previews) = (Vec::new(), Vec::new());
        while lens.iter().sum::<usize>() < total {
            if let ServerEventKind::Read { len, preview } = self.next("a read").await.kind {
                lens.push(len);
                previews.extend_from_slice(&preview);
            }
        }
        assert_eq!(
            lens.iter().sum::<usize>(),
            total,
            "reads {lens:?} overshoot {total} bytes"
        );
        (lens, previews)
    }
}

/// Locks `mutex` even if a failed assertion poisoned it: the events in it are intact.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The number the server gave the connection from `peer` (admitted or turned away).
pub fn conn_of(events: &[ServerEvent], peer: SocketAddr) -> Option<ConnId> {
    events
        .iter()
        .find(|e| {
            e.peer == peer
                && matches!(
                    e.kind,
                    ServerEventKind::Connected | ServerEventKind::Rejected { .. }
                )
        })
        .map(|e| e.conn)
}

/// How connection `conn` ended, if it has: (reason, bytes in, bytes out).
pub fn close_of(events: &[ServerEvent], conn: ConnId) -> Option<(CloseReason, u64, u64)> {
    events.iter().find_map(|e| match &e.kind {
        ServerEventKind::Closed {
            reason,
            bytes_in,
            bytes_out,
            ..
        } if e.conn == conn => Some((reason.clone(), *bytes_in, *bytes_out)),
        _ => None,
    })
}
