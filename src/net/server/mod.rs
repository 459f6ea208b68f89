//! The echo server (RFC 862): an accept loop and one small task per connection.
//!
//! Each connection task reads up to `read_size` bytes, reports the read, and writes the same
//! bytes back before reading again. Echoing synchronously like this is what bounds memory:
//! we never hold more than one read buffer per connection, and a peer that stops reading
//! simply stops being read from (TCP flow control pushes back on it) until the write-stall
//! timeout drops it.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use chrono::Local;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

mod connection;
mod control;
mod plan;
mod threads;

pub(super) use control::next_reading;
pub use control::{Behaviour, ServerCommand, ServerControl, ServerModel};
pub use plan::{CHUNK_GAP, Misbehaviour};

use super::event::{CloseReason, ConnId, EventSink, NetEvent, Refused, ServerEventKind};
use super::throttle::Throttle;
use connection::Connection;

/// How many bytes of each read travel to the UI: enough for a row, bounded for a flood.
pub const READ_PREVIEW_BYTES: usize = 256;

/// Protective limits (ARCHITECTURE.md §2): a class of students must not be able to exhaust
/// the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_conns: usize,
    pub max_per_ip: usize,
    /// Close a connection that sent nothing for this long; `None` = never.
    pub idle_timeout: Option<Duration>,
    /// Drop a peer that stopped reading while we had bytes to echo to it for this long.
    pub write_stall: Duration,
    /// UDP replies per second per source IP (loopback sources are exempt).
    pub udp_replies_per_sec: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_conns: 256,
            max_per_ip: 16,
            idle_timeout: Some(Duration::from_secs(300)),
            write_stall: Duration::from_secs(10),
            udp_replies_per_sec: 100,
        }
    }
}

/// Which limit turned a connection away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    MaxConns(usize),
    MaxPerIp(usize),
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::MaxConns(n) => write!(f, "server full ({n} connections)"),
            Limit::MaxPerIp(n) => write!(f, "too many connections from this address ({n})"),
        }
    }
}

/// How the server behaves; fixed for the life of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerSettings {
    /// Whether to report every read (off for `--quiet` under load: fewer events to drop).
    pub report_reads: bool,
    pub limits: Limits,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            report_reads: true,
            limits: Limits::default(),
        }
    }
}

/// What ends a connection from the server's side: `generation` is cancelled when the server
/// shuts down or restarts with another model, and the close then says which.
#[derive(Debug, Clone)]
pub(super) struct Stop {
    generation: CancellationToken,
    shutdown: CancellationToken,
}

impl Stop {
    /// Why the server ended the connection.
    pub(super) fn reason(&self) -> CloseReason {
        if self.shutdown.is_cancelled() {
            CloseReason::Shutdown
        } else {
            CloseReason::Restarting
        }
    }
}

/// Serves echo on `listener` until `shutdown` is cancelled; returns once every connection
/// (task or thread) has finished, so none outlives the call and the port is free again.
///
/// The model in force ([`ServerModel`]) says how connections are served; when it changes,
/// every connection is closed (`server restarting`) and serving starts over, on the same
/// listener, with the new one.
pub async fn run(
    listener: TcpListener,
    settings: ServerSettings,
    control: ServerControl,
    events: EventSink,
    shutdown: CancellationToken,
) {
    // Dropped before `listener` (a parameter, dropped last), so the port is free on return.
    let _listening = control.share_listener(std::os::fd::AsFd::as_fd(&listener));
    let mut changes = control.watch();
    let mut turned_away = TurnedAway::default();
    while !shutdown.is_cancelled() {
        let model = changes.borrow_and_update().model;
        let stop = Stop {
            generation: shutdown.child_token(),
            shutdown: shutdown.clone(),
        };
        let server = Server {
            listener: &listener,
            settings,
            control: &control,
            events: &events,
            stop: &stop,
            tasks: TaskTracker::new(),
            sockets: threads::Sockets::default(),
        };
        server
            .accept_until_model_changes(model, &mut changes, &mut turned_away)
            .await;
        stop.generation.cancel();
        server.sockets.shut_all();
        server.tasks.close();
        server.tasks.wait().await;
    }
}

/// One generation of the server: a model serving until it changes or the server stops.
struct Server<'a> {
    listener: &'a TcpListener,
    settings: ServerSettings,
    control: &'a ServerControl,
    events: &'a EventSink,
    stop: &'a Stop,
    /// Every connection of this generation (threads are tracked by their completion).
    tasks: TaskTracker,
    sockets: threads::Sockets,
}

impl Server<'_> {
    async fn accept_until_model_changes(
        &self,
        model: ServerModel,
        changes: &mut watch::Receiver<Behaviour>,
        turned_away: &mut TurnedAway,
    ) {
        let mut backoff = AcceptBackoff::default();
        let model_changed = |changes: &mut watch::Receiver<Behaviour>| {
            let changes = changes.clone();
            async move {
                let mut changes = changes;
                let _ = changes.wait_for(|b| b.model != model).await;
            }
        };
        loop {
            let flood_told = turned_away.deadline().map(tokio::time::Instant::from_std);
            let accepted = tokio::select! {
                _ = self.stop.generation.cancelled() => return,
                () = model_changed(changes) => return,
                _ = tokio::time::sleep_until(flood_told.unwrap_or_else(tokio::time::Instant::now)),
                    if flood_told.is_some() => {
                    tell_flood(turned_away, self.events);
                    continue;
                }
                accepted = self.listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(pair) => {
                    backoff.reset();
                    pair
                }
                Err(err) => {
                    // EMFILE, ENFILE, ECONNABORTED…: never fatal. Log, wait a little (so a
                    // full file table does not turn this loop into a spin), and accept again.
                    self.events.emit(NetEvent::AcceptFailed {
                        at: Local::now(),
                        reason: super::describe(&err),
                    });
                    tokio::select! {
                        _ = self.stop.generation.cancelled() => return,
                        _ = tokio::time::sleep(backoff.next()) => continue,
                    }
                }
            };
            let conn = self.control.next_conn_id();
            let report = |kind| self.events.server(conn, peer, kind);
            let admission = match self
                .control
                .census()
                .admit(conn, peer, &self.settings.limits)
            {
                Ok(admission) => admission,
                // Accepted then closed at once (dropping `stream`): the peer sees a clean
                // close instead of a SYN queue that never answers. A flood of them is told
                // once a second, so the log grows with time, not with the attacker's rate.
                Err(limit) => {
                    if turned_away.occurred(&peer.ip(), (conn, peer, limit), Instant::now()) {
                        report(ServerEventKind::Rejected { limit, count: 1 });
                    }
                    continue;
                }
            };
            report(ServerEventKind::Connected);
            admission.share_socket(std::os::fd::AsFd::as_fd(&stream));
            let connection = Connection {
                conn,
                peer,
                settings: self.settings,
                control: self.control.clone(),
                events: self.events.clone(),
            };
            let stop = self.stop.clone();
            match model {
                ServerModel::Async => {
                    self.tasks.spawn(connection.serve(stream, admission, stop));
                }
                // The tutorial's server: this one connection, to the end, before any other.
                ServerModel::Iterative => {
                    let serving = connection.serve(stream, admission, stop);
                    tokio::pin!(serving);
                    tokio::select! {
                        () = &mut serving => {}
                        () = model_changed(changes) => {
                            // Closed as a restart closes every connection, and told so:
                            // dropped unfinished, it would vanish without a close event.
                            self.stop.generation.cancel();
                            serving.await;
                            return;
                        }
                    }
                }
                ServerModel::Threads => {
                    let runtime = tokio::runtime::Handle::current();
                    match threads::spawn(
                        connection,
                        stream,
                        admission,
                        stop,
                        &self.sockets,
                        runtime,
                    ) {
                        Ok(finished) => {
                            self.tasks.spawn(async move {
                                let _ = finished.await;
                            });
                        }
                        Err(err) => report(ServerEventKind::Closed {
                            reason: CloseReason::Error(format!(
                                "no thread for it: {}",
                                super::describe(&err)
                            )),
                            bytes_in: 0,
                            bytes_out: 0,
                            tcp: None,
                        }),
                    }
                }
            }
        }
    }
}

/// Connections turned away, by source IP, with the latest one's number, address and limit.
type TurnedAway = Throttle<IpAddr, (ConnId, SocketAddr, Limit)>;

/// Tells the counts of the second that ended.
fn tell_flood(turned_away: &mut TurnedAway, events: &EventSink) {
    for report in turned_away.due(Instant::now()) {
        let count = report.count;
        match report.key {
            Some((_, (conn, peer, limit))) => {
                events.server(conn, peer, ServerEventKind::Rejected { limit, count })
            }
            None => events.emit(NetEvent::Flood {
                at: Local::now(),
                what: Refused::Connections,
                count,
            }),
        }
    }
}

/// Doubles the pause after each consecutive `accept()` failure, from 10 ms up to 1 s.
#[derive(Debug, Default)]
struct AcceptBackoff {
    failures: u32,
}

impl AcceptBackoff {
    fn next(&mut self) -> Duration {
        let pause = Duration::from_millis(10 << self.failures.min(7)).min(Duration::from_secs(1));
        self.failures += 1;
        pause
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_backoff_grows_to_a_ceiling_and_resets() {
        let mut backoff = AcceptBackoff::default();
        assert_eq!(backoff.next(), Duration::from_millis(10));
        assert_eq!(backoff.next(), Duration::from_millis(20));
        for _ in 0..20 {
            backoff.next();
        }
        assert_eq!(backoff.next(), Duration::from_secs(1));
        backoff.reset();
        assert_eq!(backoff.next(), Duration::from_millis(10));
    }
}
