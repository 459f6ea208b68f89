//! One TCP connection's task: read, report, echo, until the peer is done.

use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::control::{ServerControl, next_reading};
use super::plan::{Plan, PlannedEnd, Planner};
use super::{READ_PREVIEW_BYTES, ServerSettings, Stop};
use crate::net::census::Admission;
use crate::net::event::{CloseReason, ConnId, EventSink, ServerEventKind};
use crate::net::sockinfo;
use crate::net::timer::Timer;

/// Bytes a connection reads before it lets the other connections on its worker have a turn.
/// tokio's own budget (128 socket operations) let one client streaming flat out keep a
/// worker for 64 read-and-echo rounds at a time: a quiet client beside it waited 1-1.6 ms in
/// one probe of ten (p90). With a turn every 8 KiB its p90 is ~0.1 ms, for ~8% of the
/// stream's throughput (scripts/floods.sh's scenario 5, README). Counted in bytes, not reads:
/// with 16-byte reads a turn every 8 reads halved a stream's throughput, and tokio's budget
/// already bounds how many reads one turn may take.
const BYTES_PER_TURN: usize = 8 * 1024;
/// A write back that waits this long is reported: the peer has stopped reading.
pub(super) const STALL_NOTICE: Duration = Duration::from_millis(250);

/// One accepted connection and what it needs to report about itself.
pub(super) struct Connection {
    pub(super) conn: ConnId,
    pub(super) peer: SocketAddr,
    pub(super) settings: ServerSettings,
    pub(super) control: ServerControl,
    pub(super) events: EventSink,
}

impl Connection {
    /// Serves one connection until the peer is done or `stop` ends it (the server shutting
    /// down or restarting with another model: [`Stop`] says which); `counters` is its place
    /// in the census, given back (and the close counted) when this returns.
    pub(super) async fn serve(self, mut stream: TcpStream, counters: Admission, stop: Stop) {
        // Echo at once: with Nagle on, the echo of a second small message in flight would
        // wait for the client's (possibly delayed) ACK of the first, adding up to 40 ms to
        // an RTT the server is supposed to be measuring nothing of. A failure only costs that.
        let _ = stream.set_nodelay(true);
        let reason = tokio::select! {
            _ = stop.generation.cancelled() => stop.reason(),
            reason = self.echo(&mut stream, &counters) => reason,
        };
        match reason {
            // RST: linger 0, then the close below aborts the connection.
            CloseReason::ResetAfter(_) => {
                let _ = stream.set_zero_linger();
            }
            CloseReason::ClosedAfter(_) => {
                let _ = stream.shutdown().await;
            }
            _ => {}
        }
        self.close(stream.as_fd(), reason, &counters);
    }

    /// Reports the close with what the kernel knew last, and lets the census's duplicate of
    /// the socket go first, so the socket closes when the caller drops it (right after).
    pub(super) fn close(&self, socket: BorrowedFd<'_>, reason: CloseReason, counters: &Admission) {
        let tcp = sockinfo::summary(socket);
        counters.release_socket();
        let (bytes_in, bytes_out) = counters.bytes();
        self.report(ServerEventKind::Closed {
            reason,
            bytes_in,
            bytes_out,
            tcp,
        });
    }

    /// Tells the class the socket's TCP state at a moment of a close lesson (with the reads:
    /// not under `--quiet`).
    pub(super) fn tell_state(&self, socket: BorrowedFd<'_>) {
        if self.settings.report_reads
            && let Some(state) = sockinfo::state(socket)
        {
            self.report(ServerEventKind::TcpState(state));
        }
    }

    /// Echoes until the peer is done; returns why the connection ended.
    async fn echo(&self, stream: &mut TcpStream, counters: &Admission) -> CloseReason {
        let mut buf = Vec::new();
        let mut reading_changes = self.control.watch();
        let mut planner = Planner::default();
        // Chunk gaps and think time are part of the RTT we show: tokio's millisecond timer
        // would add up to a millisecond to each.
        let mut timer = Timer::default();
        let greeting = reading_changes.borrow().misbehaviour.greeting.clone();
        if let Some(greeting) = greeting {
            if let Err(reason) = self.write_back(stream, &greeting, counters).await {
                return reason;
            }
            self.report(ServerEventKind::Greeted {
                len: greeting.len(),
            });
        }
        // One idle timer for the whole connection, moved only when it fires: re-arming a
        // timer on every read would cost each echo a trip through tokio's timer wheel.
        let idle = self.settings.limits.idle_timeout;
        let mut last_read = Instant::now();
        let far = Duration::from_secs(365 * 24 * 3600);
        let idle_timer = tokio::time::sleep(idle.unwrap_or(far));
        tokio::pin!(idle_timer);
        let mut read_since_turn = 0;
        loop {
            if read_since_turn >= BYTES_PER_TURN {
                read_since_turn = 0;
                tokio::task::yield_now().await;
            }
            let Some(behaviour) = next_reading(&mut reading_changes).await else {
                return CloseReason::Shutdown;
            };
            buf.resize(behaviour.read_size, 0);
            // A `/read 7` or `/pause` typed while we wait here cancels the read (nothing was
            // read: `read` is cancel-safe) and the loop starts over with the new setting.
            // `biased`, change first: when a `/pause` and data arrive together, the pause wins
            // (an unbiased select picks at random and would sometimes read while paused).
            let n = tokio::select! {
                biased;
                _ = reading_changes.changed() => continue,
                read = stream.read(&mut buf) => read,
                () = &mut idle_timer => {
                    let due = last_read + idle.unwrap_or(far);
                    if Instant::now() >= due {
                        return CloseReason::IdleTimeout;
                    }
                    idle_timer.as_mut().reset(due.into());
                    continue;
                }
            };
            last_read = Instant::now();
            let n = match n {
                // The peer's FIN. Everything it sent has been echoed already (we echo before
                // reading again), so finish our side too: half-close aware by construction.
                Ok(0) => {
                    self.tell_state(stream.as_fd());
                    let _ = stream.shutdown().await;
                    self.tell_state(stream.as_fd());
                    return CloseReason::PeerClosed;
                }
                Ok(n) => n,
                Err(err) => return CloseReason::from_io(&err),
            };
            self.took(&buf[..n], counters);
            read_since_turn += n;
            let (framing, misbehaviour) = (behaviour.framing, &behaviour.misbehaviour);
            if Planner::plain(framing, misbehaviour) {
                // The fast path: the read goes back as it is, from the read buffer.
                match self.write_back(stream, &buf[..n], counters).await {
                    Ok(()) => counters.echoed(n),
                    Err(reason) => return reason,
                }
                continue;
            }
            let plan = planner.on_read(&buf[..n], framing, misbehaviour);
            if let Some(reason) = self.carry_out(stream, plan, &mut timer, counters).await {
                return reason;
            }
        }
    }

    /// Writes what the plan says, when it says; `Some` when the connection ends.
    async fn carry_out(
        &self,
        stream: &mut TcpStream,
        plan: Plan,
        timer: &mut Timer,
        counters: &Admission,
    ) -> Option<CloseReason> {
        for event in plan.events {
            self.report(event);
        }
        for write in plan.writes {
            if !write.wait.is_zero() {
                timer
                    .sleep_until(tokio::time::Instant::now() + write.wait)
                    .await;
            }
            if let Err(reason) = self.write_back(stream, &write.bytes, counters).await {
                return Some(reason);
            }
            counters.echoed(write.bytes.len());
        }
        plan.end.map(PlannedEnd::into_close_reason)
    }

    /// Echoes one read. A write that waits [`STALL_NOTICE`] is reported (the peer stopped
    /// reading: these bytes are pending), and one that waits the write-stall limit ends the
    /// connection, so a peer that never reads cannot make us hold its bytes for ever.
    async fn write_back(
        &self,
        stream: &mut TcpStream,
        bytes: &[u8],
        counters: &Admission,
    ) -> Result<(), CloseReason> {
        // Usually the socket takes it all at once: then no timer is needed at all.
        let bytes = match stream.try_write(bytes) {
            Ok(n) if n == bytes.len() => return Ok(()),
            Ok(n) => &bytes[n..],
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => bytes,
            Err(err) => return Err(CloseReason::from_io(&err)),
        };
        let limit = self.settings.limits.write_stall;
        let mut write = std::pin::pin!(tokio::time::timeout(limit, stream.write_all(bytes)));
        let written = tokio::select! {
            written = &mut write => written,
            _ = tokio::time::sleep(STALL_NOTICE.min(limit)) => {
                counters.pending(Some(bytes.len()));
                self.report(ServerEventKind::Stalled { pending: bytes.len() });
                let written = write.await;
                counters.pending(None);
                if matches!(written, Ok(Ok(()))) {
                    self.report(ServerEventKind::Unstalled);
                }
                written
            }
        };
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(CloseReason::from_io(&err)),
            Err(_) => Err(CloseReason::WriteStall),
        }
    }

    /// One `read()` returned `read`: counted in the census and, unless reads are not
    /// reported (`serve --quiet`), shown with a preview. Every model's reads go through here.
    pub(super) fn took(&self, read: &[u8], counters: &Admission) {
        counters.read(read.len());
        if self.settings.report_reads {
            let preview = read[..read.len().min(READ_PREVIEW_BYTES)].to_vec();
            self.report(ServerEventKind::Read {
                len: read.len(),
                preview,
            });
        }
    }

    /// Tells the server's listeners (the UI, the log) about this connection.
    pub(super) fn report(&self, kind: ServerEventKind) {
        self.events.server(self.conn, self.peer, kind);
    }
}
