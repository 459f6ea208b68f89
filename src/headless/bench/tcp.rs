//! `bench` over TCP: connections that each keep `--pipeline` messages in flight, every echo
//! checked byte for byte and timed at the socket.
//!
//! # One task per connection, reading and writing at once
//!
//! An echo server writes back what it reads, so a client that finishes writing before it
//! reads deadlocks as soon as the messages in flight outgrow the socket buffers: our writes
//! wait for the server to read, the server's writes wait for us to read. So each connection
//! is one task that waits for *whichever* comes first, "the socket takes more bytes" or
//! "echoed bytes arrived" (`select!` over a `write` and a `read` on the two halves of one
//! stream). Both are cancel-safe: each either completes with a byte count or did nothing.
//!
//! One task per connection rather than a writer and a reader task sharing the tracker: no
//! lock, no semaphore and no cross-task wake-up per message. The echo wakes the very task that
//! writes the next message, so a bench of small messages costs its system calls and little
//! else, like the plainest `write_all` + `read_exact` load generator. Each connection keeps
//! its own [`RttStats`]; they are merged once, at the end.
//!
//! # What makes the numbers honest
//!
//! - Echoes are matched by byte offsets with the same [`RttTracker`] as the UI and `ping`, so
//!   any re-slicing by the server is fine, and compared with what was sent: a differing echo
//!   is an error, never an RTT.
//! - Neighbouring messages differ (each starts with its index in a ring of payloads, see
//!   [`Payloads`]), so a server that drops, repeats or reorders bytes is caught as well.
//! - An RTT runs from when the message enters the window, right before the write that hands
//!   it to the socket (later only if the socket's send buffer is full), to the kernel's
//!   arrival time of the read that completes its echo ([`crate::net::stamp`]), or, without
//!   one, to right after that read returned ([`Instant`]); each clock's echoes are counted.
//! - `--warmup N`: each connection first exchanges N messages, checked but not measured; the
//!   clock starts when every connection is done with them.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use super::progress::{self, LiveRtts};
use super::report::ErrorTally;
use crate::headless::TcpInfoReport;
use crate::net::sockinfo::{self, Congestion, congestion};
use crate::net::stamp::{Arrival, StampedReader};
use crate::net::{self, CloseReason, NetError};
use crate::stats::{Clock, ClockCount, EchoUpdate, RttStats, RttTracker};

/// How long one connection may take to be established.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Handshakes in progress at once: well under the usual listen backlog (128 for Rust and
/// tokio servers), so a thousand connections do not overflow the server's accept queue and
/// wait a second for SYN retransmissions.
const CONNECTS_AT_ONCE: usize = 64;
/// Fewest distinct payloads: even at `--pipeline 1`, a message differs from its neighbours.
const MIN_RING: usize = 16;
/// Most bytes of payloads kept (shared by all connections), for large messages.
const RING_BYTES: usize = 8 << 20;
/// Per-connection read buffer bounds: room for a window of small messages, and no more.
const READ_BUF_MIN: usize = 4 << 10;
const READ_BUF_MAX: usize = 64 << 10;

/// Opens `n` connections, [`CONNECTS_AT_ONCE`] at a time. Fails only when none could be
/// opened, with the first reason (`cannot connect to 127.0.0.1:9: connection refused`); each
/// one missing is an error.
pub async fn connect_all(
    target: SocketAddr,
    n: usize,
    options: Options,
    errors: &mut ErrorTally,
) -> anyhow::Result<Vec<TcpStream>> {
    let mut connecting = JoinSet::new();
    let mut to_start = n;
    let mut streams = Vec::with_capacity(n);
    let mut first_error = None;
    loop {
        while to_start > 0 && connecting.len() < CONNECTS_AT_ONCE {
            connecting.spawn(connect(target, options));
            to_start -= 1;
        }
        let Some(connected) = connecting.join_next().await else {
            break;
        };
        match connected? {
            Ok(stream) => streams.push(stream),
            Err(err) => {
                errors.add(&err.to_string(), 1);
                first_error.get_or_insert(err);
            }
        }
    }
    match first_error {
        Some(err) if streams.is_empty() => Err(err.into()),
        _ => Ok(streams),
    }
}

/// How each connection is set up.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// `TCP_NODELAY` (Nagle off).
    pub nodelay: bool,
    pub congestion: Option<Congestion>,
}

/// One asynchronous connect, with the same errors as [`net::connect`]. Not `net::connect`
/// itself: that one times the handshake on a blocking thread, which `bench` does not report,
/// and a thread per connection made opening 1000 of them take a second.
async fn connect(addr: SocketAddr, options: Options) -> Result<TcpStream, NetError> {
    let fail = |cause| NetError::Connect { addr, cause };
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(connected) => connected.map_err(fail)?,
        Err(_) => {
            return Err(NetError::ConnectTimeout {
                addr,
                after: CONNECT_TIMEOUT,
            });
        }
    };
    stream.set_nodelay(options.nodelay).map_err(fail)?;
    if let Some(algorithm) = options.congestion {
        // The algorithm was checked against the kernel's list already: this is a refusal.
        congestion::set(stream.as_fd(), algorithm).map_err(|why| fail(io::Error::other(why)))?;
    }
    Ok(stream)
}

/// One connection: its socket and its traffic.
pub struct Connection {
    stream: TcpStream,
    /// Reads the echoes, with the kernel's arrival times where it gives them.
    reader: StampedReader,
    /// Reused for every read.
    read_buf: Box<[u8]>,
    load: Load,
    /// Why it stopped early, if it did; each such connection is one error.
    ended: Option<String>,
}

impl Connection {
    /// A connection on `stream` that will keep `pipeline` messages from `payloads` in flight,
    /// its echoes timed by `clock`.
    pub fn new(stream: TcpStream, payloads: Arc<Payloads>, pipeline: usize, clock: Clock) -> Self {
        let read_size = payloads
            .size
            .saturating_mul(pipeline)
            .clamp(READ_BUF_MIN, READ_BUF_MAX);
        Self {
            reader: StampedReader::new(stream.as_fd(), clock),
            stream,
            read_buf: vec![0; read_size].into_boxed_slice(),
            load: Load::new(payloads, pipeline),
            ended: None,
        }
    }

    /// Whether it got at least one echo: an iterative server may leave it waiting in its
    /// accept queue for the whole run.
    pub fn served(&self) -> bool {
        self.load.completed > 0
    }

    /// Whether it stopped early; such a connection takes no part in later phases.
    pub fn has_ended(&self) -> bool {
        self.ended.is_some()
    }

    /// Ends the warm-up: a connection still short of `warmup` echoes after `limit` has
    /// ended (an error); the others start measuring.
    pub fn finish_warmup(&mut self, warmup: u64, limit: Duration) {
        if self.ended.is_none() && self.load.completed < warmup {
            let limit = humantime::format_duration(limit);
            self.ended = Some(format!("warm-up not echoed within {limit}"));
        }
        self.load.measuring = true;
    }

    /// Records RTTs into `live` too, for the progress line.
    pub fn show_progress(&mut self, live: LiveRtts) {
        self.load.live = Some(live);
    }

    /// Adds what this connection measured to the run's figures, and what went wrong to its
    /// errors.
    pub fn tally(&self, stats: &mut RttStats, clocks: &mut ClockCount, errors: &mut ErrorTally) {
        stats.merge(&self.load.stats);
        clocks.merge(&self.load.clocks);
        errors.add("echo differs from what was sent", self.load.mismatches);
        errors.add("bytes arrived that were never sent", self.load.unsolicited);
        if let Some(reason) = &self.ended {
            errors.add(reason, 1);
        }
    }

    /// The clock this connection's echoes are timed by, where the kernel gives it.
    pub fn clock(&self) -> Clock {
        self.reader.clock()
    }

    /// What the kernel knows about this connection's socket now, for `--json`.
    pub fn tcp_info(&self) -> Option<TcpInfoReport> {
        let info = sockinfo::tcp_info(self.stream.as_fd()).ok()?;
        Some(TcpInfoReport::from(&info))
    }

    /// Exchanges messages until `budget` of them are complete (`None`: no limit) or `stop`
    /// resolves (its sender is dropped).
    pub async fn exchange_until(
        mut self,
        budget: Option<u64>,
        stop: oneshot::Receiver<()>,
    ) -> Self {
        let result = tokio::select! {
            biased;
            _ = stop => Ok(()),
            result = self.exchange(budget.unwrap_or(u64::MAX)) => result,
        };
        if let Err(reason) = result {
            self.ended = Some(format!("connection {reason}"));
        }
        self
    }

    /// The loop of the module docs: write while the window has room, read whatever comes back,
    /// whichever the socket allows first.
    async fn exchange(&mut self, budget: u64) -> Result<(), CloseReason> {
        let (reader, mut writer) = self.stream.split();
        let stamped = &mut self.reader;
        let load = &mut self.load;
        let buf = &mut self.read_buf[..];
        let payloads = load.payloads.clone();
        while load.completed < budget {
            load.fill_window(budget);
            let unwritten = payloads.stream(load.written, load.started);
            // Ask for no more than is still to come back. A read leaves tokio's readiness set
            // until one would block, so the read right after the next write is a real
            // `recv()`, which on loopback often finds the echo already there (the server ran
            // as soon as we sent), instead of a round through epoll.
            let want = match load.awaited() {
                0 => buf.len(),
                bytes => bytes.min(buf.len()),
            };
            // Writing first takes the send time right before the write, when both are ready.
            tokio::select! {
                biased;
                written = writer.write(unwritten), if !unwritten.is_empty() => match written {
                    Ok(0) => return Err(CloseReason::from_io(&io::ErrorKind::WriteZero.into())),
                    Ok(n) => load.written += n as u64,
                    Err(err) => return Err(CloseReason::from_io(&err)),
                },
                read = stamped.read(reader.as_ref(), &mut buf[..want]) => match read {
                    Ok((0, _)) => return Err(CloseReason::PeerClosed),
                    Ok((n, arrival)) => load.received(&buf[..n], arrival),
                    Err(err) => return Err(CloseReason::from_io(&err)),
                },
            }
        }
        Ok(())
    }
}

/// A connection's traffic and what it measured: everything but the socket, so it is pure.
struct Load {
    payloads: Arc<Payloads>,
    pipeline: usize,
    tracker: RttTracker,
    /// Reused for every read.
    updates: Vec<EchoUpdate>,
    /// Messages handed to the tracker; message `k` is stream bytes `[k·size, (k+1)·size)`.
    started: u64,
    /// Stream bytes written.
    written: u64,
    /// Stream bytes read.
    read: u64,
    /// Messages whose echo is complete, equal or not.
    completed: u64,
    /// False during the warm-up: echoes are checked but not measured.
    measuring: bool,
    stats: RttStats,
    /// How many measured echoes each clock timed.
    clocks: ClockCount,
    mismatches: u64,
    unsolicited: u64,
    /// RTTs since the last progress line, when one is shown.
    live: Option<LiveRtts>,
}

impl Load {
    fn new(payloads: Arc<Payloads>, pipeline: usize) -> Self {
        Self {
            payloads,
            pipeline,
            tracker: RttTracker::default(),
            updates: Vec::new(),
            started: 0,
            written: 0,
            read: 0,
            completed: 0,
            measuring: false,
            stats: RttStats::new(),
            clocks: ClockCount::default(),
            mismatches: 0,
            unsolicited: 0,
            live: None,
        }
    }

    /// Starts messages until `pipeline` are in flight (or `budget` have been started); they
    /// are then written as the socket allows.
    fn fill_window(&mut self, budget: u64) {
        let room =
            |load: &Self| load.tracker.outstanding() < load.pipeline && load.started < budget;
        if !room(self) {
            return;
        }
        let now = Instant::now();
        while room(self) {
            let message = self.payloads.message(self.started);
            self.tracker.sent(self.started, message, now);
            self.started += 1;
        }
    }

    /// Bytes of started messages that have not come back yet.
    fn awaited(&self) -> usize {
        let started = self.started * self.payloads.size as u64;
        usize::try_from(started.saturating_sub(self.read)).unwrap_or(usize::MAX)
    }

    /// Consumes bytes that arrived as `arrival` says: RTTs for echoes completed equal, errors
    /// for the others.
    fn received(&mut self, data: &[u8], arrival: Arrival) {
        self.read += data.len() as u64;
        self.tracker.received(data, arrival.at(), &mut self.updates);
        let mut live = self.live.as_deref().map(|live| net::lock(live));
        for update in self.updates.drain(..) {
            match update {
                EchoUpdate::Echoed { rtt, .. } => {
                    self.completed += 1;
                    if self.measuring {
                        self.stats.record(rtt);
                        self.clocks.record(arrival.clock(), 1);
                        if let Some(live) = &mut live {
                            progress::record(live, rtt);
                        }
                    }
                }
                EchoUpdate::Mismatch { .. } => {
                    self.completed += 1;
                    self.mismatches += 1;
                }
                EchoUpdate::Unsolicited { .. } => self.unsolicited += 1,
                // Progress within a message; losses and duplicates are for datagrams, which the
                // byte-stream tracker never reports.
                EchoUpdate::Partial { .. }
                | EchoUpdate::Lost { .. }
                | EchoUpdate::Duplicate { .. }
                | EchoUpdate::Abandoned { .. } => {}
            }
        }
    }
}

/// The messages every connection sends, cyclically, built once and shared.
///
/// Message `k` is ring entry `k mod len`, which starts with its index in hex:
/// `002a Hello, World! Hello, W…` (below 5 bytes, the low hex digits alone). The ring has at
/// least [`MIN_RING`] and `2 × pipeline` entries (as far as [`RING_BYTES`] allows), so
/// neighbouring messages always differ, and from 5 bytes up so do all messages in flight: a
/// server that loses, repeats or reorders bytes produces an echo that differs from what was
/// sent.
pub struct Payloads {
    size: usize,
    /// Each message on its own, for the tracker to compare echoes with (shared, not copied).
    messages: Vec<Arc<[u8]>>,
    /// The same messages back to back: one period of the byte stream each connection writes,
    /// so consecutive messages go out in one `write`.
    period: Vec<u8>,
}

impl Payloads {
    /// The ring for messages of `size` bytes, `pipeline` of them in flight at once.
    pub fn new(size: usize, pipeline: usize) -> Self {
        let len = (2 * pipeline).max(MIN_RING).min((RING_BYTES / size).max(2));
        let messages: Vec<Arc<[u8]>> = (0..len).map(|i| payload(i, size).into()).collect();
        let period = messages.concat();
        Self {
            size,
            messages,
            period,
        }
    }

    /// The bytes of message `id`.
    fn message(&self, id: u64) -> Arc<[u8]> {
        self.messages[(id % self.messages.len() as u64) as usize].clone()
    }

    /// The stream bytes from `written` to the end of message `started - 1`, or up to the end
    /// of a period if that comes first (the rest follows in the next write).
    fn stream(&self, written: u64, started: u64) -> &[u8] {
        let period = self.period.len() as u64;
        let from = (written % period) as usize;
        let len = (started * self.size as u64 - written).min(period - from as u64);
        &self.period[from..from + len as usize]
    }
}

/// Ring entry `index` of `size` bytes (see [`Payloads`]).
fn payload(index: usize, size: usize) -> Vec<u8> {
    let tag = format!("{index:04x}");
    if size <= tag.len() {
        return tag.as_bytes()[tag.len() - size..].to_vec();
    }
    let mut bytes = tag.into_bytes();
    bytes.push(b' ');
    bytes.extend(net::probe_payload(size - bytes.len()));
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes read at `user`, without a kernel timestamp.
    fn user_only(user: Instant) -> Arrival {
        Arrival { user, kernel: None }
    }

    fn load(size: usize, pipeline: usize) -> Load {
        let mut load = Load::new(Arc::new(Payloads::new(size, pipeline)), pipeline);
        load.measuring = true;
        load
    }

    #[test]
    fn payloads_start_with_their_index_and_neighbours_differ() {
        let payloads = Payloads::new(24, 1);
        assert_eq!(&*payloads.message(0), b"0000 Hello, World! Hello");
        assert_eq!(&*payloads.message(42), b"000a Hello, World! Hello");
        assert_eq!(payloads.messages.len(), MIN_RING);
        for size in 1..=6 {
            let payloads = Payloads::new(size, 4);
            assert_eq!(payloads.messages.len(), 8.max(MIN_RING));
            for k in 0..64 {
                assert_eq!(payloads.message(k).len(), size);
                assert_ne!(payloads.message(k), payloads.message(k + 1), "size {size}");
            }
        }
    }

    #[test]
    fn the_ring_is_bounded_for_large_messages_but_never_below_two() {
        let payloads = Payloads::new(1 << 20, 1024);
        assert_eq!(payloads.messages.len(), RING_BYTES >> 20);
        assert_eq!(payloads.period.len(), RING_BYTES);
        assert_eq!(Payloads::new(RING_BYTES / 2 + 1, 1).messages.len(), 2);
    }

    #[test]
    fn the_window_holds_pipeline_messages_and_the_stream_wraps_at_the_period() {
        let mut load = load(8, 2);
        let period = load.payloads.period.len() as u64;
        load.fill_window(u64::MAX);
        assert_eq!(load.started, 2);
        assert_eq!(
            load.payloads.stream(0, load.started),
            &load.payloads.period[..16]
        );
        assert_eq!(load.awaited(), 16);
        load.fill_window(u64::MAX);
        assert_eq!(load.started, 2, "the window is full until echoes come back");
        assert_eq!(load.payloads.stream(period - 3, period / 8 + 2).len(), 3);
        assert_eq!(
            load.payloads.stream(period, period / 8 + 2),
            &load.payloads.period[..16]
        );
    }

    #[test]
    fn echoes_are_measured_split_or_merged_and_free_the_window() {
        let mut load = load(8, 2);
        load.fill_window(u64::MAX);
        let sent = load.payloads.stream(0, 2).to_vec();
        let at = Instant::now() + Duration::from_micros(50);
        load.received(&sent[..5], user_only(at));
        assert_eq!((load.completed, load.stats.count()), (0, 0));
        assert_eq!(load.awaited(), 11);
        load.received(&sent[5..], user_only(at));
        assert_eq!((load.completed, load.stats.count()), (2, 2));
        assert_eq!(load.awaited(), 0);
        assert!(load.stats.summary().unwrap().min >= 50.0);
        load.fill_window(3);
        assert_eq!(load.started, 3, "the budget caps the window");
        assert_eq!(load.mismatches + load.unsolicited, 0);
    }

    #[test]
    fn echoes_end_at_the_kernel_arrival_when_there_is_one_and_each_clock_is_counted() {
        let mut load = load(8, 1);
        load.fill_window(u64::MAX);
        let sent = load.payloads.message(0);
        let kernel = Instant::now() + Duration::from_micros(20);
        let user = kernel + Duration::from_micros(30);
        load.received(
            &sent,
            Arrival {
                user,
                kernel: Some(kernel),
            },
        );
        let rtt = load.stats.summary().unwrap().max;
        assert!((20.0..50.0).contains(&rtt), "{rtt}");
        load.fill_window(u64::MAX);
        load.received(&load.payloads.message(1), user_only(user));
        assert_eq!((load.clocks.kernel, load.clocks.user), (1, 1));
    }

    #[test]
    fn corrupted_echoes_and_extra_bytes_are_errors_not_rtts() {
        let mut load = load(8, 1);
        load.fill_window(u64::MAX);
        let upper = load.payloads.message(0).to_ascii_uppercase();
        load.received(&upper, user_only(Instant::now()));
        assert_eq!(
            (load.completed, load.mismatches, load.stats.count()),
            (1, 1, 0)
        );
        load.received(b"extra", user_only(Instant::now()));
        assert_eq!(load.unsolicited, 1);
    }

    #[test]
    fn the_warm_up_is_checked_but_not_measured() {
        let mut load = load(8, 1);
        load.measuring = false;
        load.fill_window(1);
        load.received(&load.payloads.message(0), user_only(Instant::now()));
        assert_eq!((load.completed, load.stats.count()), (1, 0));
    }
}
