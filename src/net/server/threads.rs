//! The thread-per-connection server: each connection gets an OS thread with blocking
//! `std::net` I/O, as servers were written before `async` (and as the tutorial's "fix" for
//! serving one client at a time would be). It follows the same plan, limits and events as
//! the async server; what differs is what it costs: a thread (its stack, a kernel task,
//! context switches) per client.
//!
//! A blocking `read()` cannot be cancelled, so a server that stops (shutdown, or a restart
//! with another model) shuts each connection's socket down: the read returns at once. The
//! same reason makes `/pause` and `/read N` apply from the next read, not to one in progress.

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Stop;
use super::connection::{Connection, STALL_NOTICE};
use super::plan::{Plan, PlannedEnd, Planner};
use crate::net::census::Admission;
use crate::net::event::{CloseReason, ConnId, ServerEventKind};

/// The sockets of the connections threads are serving, so a stopping server can wake each
/// thread from its blocking read by shutting its socket down.
#[derive(Debug, Clone, Default)]
pub(super) struct Sockets {
    open: Arc<Mutex<HashMap<ConnId, TcpStream>>>,
}

impl Sockets {
    /// Ends every connection a thread serves: each blocked `read()` returns at once.
    pub(super) fn shut_all(&self) {
        for socket in crate::net::lock(&self.open).values() {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
}

/// Serves `stream` on a thread of its own; the returned receiver completes when the thread
/// has finished (so the server can wait for every thread before it says it stopped).
pub(super) fn spawn(
    connection: Connection,
    stream: tokio::net::TcpStream,
    counters: Admission,
    stop: Stop,
    sockets: &Sockets,
    runtime: tokio::runtime::Handle,
) -> io::Result<tokio::sync::oneshot::Receiver<()>> {
    let stream = stream.into_std()?;
    stream.set_nonblocking(false)?;
    crate::net::lock(&sockets.open).insert(connection.conn, stream.try_clone()?);
    let (done, finished) = tokio::sync::oneshot::channel();
    let threads = connection.control.thread_count().clone();
    let conn = connection.conn;
    let registered = sockets.clone();
    let name = format!("echo #{conn}");
    let started = std::thread::Builder::new().name(name).spawn(move || {
        threads.fetch_add(1, Ordering::Relaxed);
        connection.serve_blocking(stream, counters, &stop, &runtime);
        crate::net::lock(&registered.open).remove(&conn);
        threads.fetch_sub(1, Ordering::Relaxed);
        let _ = done.send(());
    });
    if started.is_err() {
        // The thread never ran (its census place went with the closure): forget its socket.
        crate::net::lock(&sockets.open).remove(&conn);
    }
    started.map(|_| finished)
}

impl Connection {
    /// The blocking twin of the async connection task.
    fn serve_blocking(
        self,
        mut stream: TcpStream,
        counters: Admission,
        stop: &Stop,
        runtime: &tokio::runtime::Handle,
    ) {
        let _ = stream.set_nodelay(true);
        let mut reason = self.echo_blocking(&mut stream, &counters, stop, runtime);
        if stop.generation.is_cancelled() {
            // Our own shutdown made the read return: not the peer's doing.
            reason = stop.reason();
        }
        match reason {
            CloseReason::ResetAfter(_) => reset(&stream),
            CloseReason::ClosedAfter(_) => {
                let _ = stream.shutdown(Shutdown::Write);
            }
            _ => {}
        }
        self.close(stream.as_fd(), reason, &counters);
    }

    fn echo_blocking(
        &self,
        stream: &mut TcpStream,
        counters: &Admission,
        stop: &Stop,
        runtime: &tokio::runtime::Handle,
    ) -> CloseReason {
        let mut changes = self.control.watch();
        let mut planner = Planner::default();
        let mut buf = Vec::new();
        let greeting = changes.borrow().misbehaviour.greeting.clone();
        if let Some(greeting) = greeting {
            if let Err(reason) = self.write_blocking(stream, &greeting, counters) {
                return reason;
            }
            self.report(ServerEventKind::Greeted {
                len: greeting.len(),
            });
        }
        // An idle connection's read times out: that is the idle timeout, with no timer thread.
        let _ = stream.set_read_timeout(self.settings.limits.idle_timeout);
        loop {
            // While paused, wait (in the runtime's terms) for a resume or the stop.
            let behaviour = runtime.block_on(async {
                tokio::select! {
                    behaviour = super::next_reading(&mut changes) => behaviour,
                    _ = stop.generation.cancelled() => None,
                }
            });
            let Some(behaviour) = behaviour else {
                return stop.reason();
            };
            buf.resize(behaviour.read_size, 0);
            let n = match stream.read(&mut buf) {
                Ok(0) => {
                    self.tell_state(stream.as_fd());
                    let _ = stream.shutdown(Shutdown::Write);
                    self.tell_state(stream.as_fd());
                    return CloseReason::PeerClosed;
                }
                Ok(n) => n,
                Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return CloseReason::IdleTimeout;
                }
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => return CloseReason::from_io(&err),
            };
            self.took(&buf[..n], counters);
            let (framing, misbehaviour) = (behaviour.framing, &behaviour.misbehaviour);
            if Planner::plain(framing, misbehaviour) {
                match self.write_blocking(stream, &buf[..n], counters) {
                    Ok(()) => counters.echoed(n),
                    Err(reason) => return reason,
                }
                continue;
            }
            let plan = planner.on_read(&buf[..n], framing, misbehaviour);
            if let Some(reason) = self.carry_out_blocking(stream, plan, counters) {
                return reason;
            }
        }
    }

    /// Writes what the plan says, when it says; `Some` when the connection ends.
    fn carry_out_blocking(
        &self,
        stream: &mut TcpStream,
        plan: Plan,
        counters: &Admission,
    ) -> Option<CloseReason> {
        for event in plan.events {
            self.report(event);
        }
        for write in plan.writes {
            std::thread::sleep(write.wait);
            if let Err(reason) = self.write_blocking(stream, &write.bytes, counters) {
                return Some(reason);
            }
            counters.echoed(write.bytes.len());
        }
        plan.end.map(PlannedEnd::into_close_reason)
    }

    /// Writes `bytes`, reporting a stall after [`STALL_NOTICE`] and giving up after the
    /// write-stall limit, as the async server does.
    fn write_blocking(
        &self,
        stream: &mut TcpStream,
        mut bytes: &[u8],
        counters: &Admission,
    ) -> Result<(), CloseReason> {
        let limit = self.settings.limits.write_stall;
        let started = Instant::now();
        let mut stalled = false;
        while !bytes.is_empty() {
            let left = limit.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(CloseReason::WriteStall);
            }
            // Wake at the stall notice first, then at the limit.
            let wait = if stalled {
                left
            } else {
                STALL_NOTICE.min(left)
            };
            let _ = stream.set_write_timeout(Some(wait.max(Duration::from_millis(1))));
            match stream.write(bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if !stalled {
                        stalled = true;
                        counters.pending(Some(bytes.len()));
                        self.report(ServerEventKind::Stalled {
                            pending: bytes.len(),
                        });
                    }
                }
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => return Err(CloseReason::from_io(&err)),
            }
        }
        if stalled {
            counters.pending(None);
            self.report(ServerEventKind::Unstalled);
        }
        Ok(())
    }
}

/// Makes the coming close an RST: `SO_LINGER` 0 (std has no stable setter for it).
fn reset(stream: &TcpStream) {
    use nix::sys::socket::{setsockopt, sockopt::Linger};
    let abort = nix::libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    let _ = setsockopt(stream, Linger, &abort);
}
