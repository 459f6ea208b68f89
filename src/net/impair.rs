//! The impairment proxy: a slow, jittery, lossy link between client and server, emulated in
//! process (no root, no `tc`), so a lesson can show what a bad network does to an echo.
//!
//! Like netem on a link, every impairment applies to each direction on its own: `delay 50ms`
//! adds 100 ms to a round trip and `loss 10%` loses 1 − 0.9² = 19% of round trips. The
//! settings travel in a [`watch`] channel, so the UI can change them while traffic flows; a
//! datagram or chunk is judged by the settings in force when it reaches the proxy, and what is
//! already on its way keeps its schedule.
//!
//! UDP gets everything: a datagram can be dropped, doubled, held back, delayed and paced.
//! TCP only gets delay, jitter and rate. Above the socket layer the kernel has already
//! retransmitted, deduplicated and reordered the segments for us, so "losing" or "doubling"
//! a chunk of the byte stream would corrupt it instead of emulating anything.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;

use crate::units::{self, Percent};

/// Largest chunk the TCP relay reads at once.
const TCP_CHUNK: usize = 64 * 1024;
/// Bytes one TCP direction may hold before it stops reading; the kernel's receive buffer then
/// fills and TCP flow control slows the sender, as a full router queue would.
const TCP_BUFFERED_BYTES: usize = 1024 * 1024;
/// Chunks one TCP direction may hold (many small writes cost memory too).
const TCP_BUFFERED_CHUNKS: usize = 1024;
/// Under a rate limit a TCP chunk carries at most 1/50 s of transmission time, so the bytes
/// trickle out smoothly instead of in 64 KiB bursts.
const PACING_SLICES_PER_SECOND: u64 = 50;
/// How long a proxied connection waits for the upstream to accept.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Proxied TCP connections beyond which new ones are closed at once (the server's own limit:
/// each connection may buffer 2 MiB, so the proxy needs a ceiling of its own).
const MAX_TCP_CONNECTIONS: usize = 256;
/// Pause after a failed `accept()` (EMFILE…), so a full file table does not spin the loop.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);
/// Receive buffer for datagrams: larger than the largest one (65,507 bytes), so none is cut.
const UDP_BUFFER: usize = 65_536;
/// Datagrams one UDP direction may hold (delayed or held back); beyond, they are dropped and
/// counted in [`ImpairStats::overflowed`].
const UDP_QUEUE: usize = 4096;
/// Datagrams waiting to be judged between a socket reader and its direction's scheduler.
const UDP_HANDOFF: usize = 256;
/// Client source addresses the UDP relay keeps an upstream socket for (least recently used
/// evicted first).
const UDP_MAX_SOURCES: usize = 256;
/// A source that sent nothing for this long loses its upstream socket.
const UDP_IDLE: Duration = Duration::from_secs(60);
/// How often idle sources are looked for.
const UDP_SWEEP: Duration = Duration::from_secs(5);
/// Longest delay or jitter honoured; longer values are clamped, which keeps every deadline
/// computation far from overflowing.
const MAX_DELAY: Duration = Duration::from_secs(3600);
/// Shortest time a held-back datagram waits for a successor to overtake it.
const MIN_HOLD: Duration = Duration::from_millis(1);

/// What the proxy does to the traffic, in each direction on its own (as netem on a link).
///
/// Over TCP only `delay`, `jitter` and `rate` apply: loss, duplication and reordering cannot
/// be emulated above the socket layer, where the kernel has already undone them. The UI asks
/// [`Impairments::tcp_ignored`] to say so.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Impairments {
    /// Added to every datagram or chunk, each way.
    pub delay: Duration,
    /// Uniform in [−jitter, +jitter], added to `delay` (never below zero). Over TCP it never
    /// reorders bytes: a chunk is never delivered before the one read ahead of it.
    pub jitter: Duration,
    /// Datagrams dropped (UDP only).
    pub loss: Percent,
    /// Datagrams sent twice (UDP only).
    pub duplicate: Percent,
    /// Datagrams held back until the next one has gone (UDP only).
    pub reorder: Percent,
    /// Bytes per second, each way; `None` (or `Some(0)`) is unlimited.
    pub rate: Option<u64>,
}

impl Impairments {
    /// Whether the proxy changes nothing (so the UI can hide it).
    pub fn is_none(&self) -> bool {
        self.delay.is_zero()
            && self.jitter.is_zero()
            && self.loss.is_zero()
            && self.duplicate.is_zero()
            && self.reorder.is_zero()
            && self.rate().is_none()
    }

    /// The active impairments a TCP relay cannot apply, so the UI can say they are ignored.
    pub fn tcp_ignored(&self) -> Vec<&'static str> {
        [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ]
        .into_iter()
        .filter(|(_, percent)| !percent.is_zero())
        .map(|(name, _)| name)
        .collect()
    }

    /// The same link as a `tc` command line, for the help screen ("this is what netem would
    /// need"). Only active parts appear. netem reorders by sending some packets without the
    /// delay the others wait, so it refuses `reorder` without a delay; ours holds a datagram
    /// back at least 1 ms, and the line then says `delay 1ms` to match.
    pub fn netem_command(&self, dev: &str) -> String {
        let mut line = format!("tc qdisc add dev {dev} root netem");
        let delay = if self.delay.is_zero() && !self.reorder.is_zero() {
            MIN_HOLD
        } else {
            self.delay
        };
        if !delay.is_zero() || !self.jitter.is_zero() {
            line += &format!(" delay {}", units::setting_duration(delay));
            if !self.jitter.is_zero() {
                line += &format!(" {}", units::setting_duration(self.jitter));
            }
        }
        for (name, percent) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if !percent.is_zero() {
                line += &format!(" {name} {percent}");
            }
        }
        if let Some(rate) = self.rate() {
            line += &format!(" rate {}", units::tc_bits(u128::from(rate) * 8));
        }
        line
    }

    /// The rate limit, if there is one (`Some(0)` means none: zero bytes per second would
    /// stop the link rather than slow it).
    fn rate(&self) -> Option<u64> {
        self.rate.filter(|&rate| rate > 0)
    }
}

/// For the status bar: `delay 50ms ±10ms · loss 10% · rate 10 kB/s`, or `none`.
impl fmt::Display for Impairments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.delay.is_zero() || !self.jitter.is_zero() {
            let mut delay = format!("delay {}", units::setting_duration(self.delay));
            if !self.jitter.is_zero() {
                delay += &format!(" ±{}", units::setting_duration(self.jitter));
            }
            parts.push(delay);
        }
        for (name, percent) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if !percent.is_zero() {
                parts.push(format!("{name} {percent}"));
            }
        }
        if let Some(rate) = self.rate() {
            parts.push(format!("rate {}", units::rate(rate)));
        }
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join(" · "))
        }
    }
}

/// The UI's handle for changing impairments while traffic flows.
#[derive(Debug)]
pub struct ImpairControl {
    sender: watch::Sender<Impairments>,
}

/// Creates the live settings shared by the UI ([`ImpairControl`]) and the proxies (the
/// receiver, cloned into [`run_tcp`] and [`run_udp`]).
pub fn control(initial: Impairments) -> (ImpairControl, watch::Receiver<Impairments>) {
    let (sender, receiver) = watch::channel(initial);
    (ImpairControl { sender }, receiver)
}

impl ImpairControl {
    /// Changes the impairments for data that reaches the proxy from now on; data already on
    /// its way keeps its schedule, as packets in a real queue would.
    pub fn set(&self, impairments: Impairments) {
        // `send_replace` stores the value even while no proxy is running (after `/tcp`, say).
        self.sender.send_replace(impairments);
    }

    /// The impairments in force, for the status bar.
    pub fn get(&self) -> Impairments {
        *self.sender.borrow()
    }

    /// Another receiver, for a proxy started later (switching between TCP and UDP).
    pub fn subscribe(&self) -> watch::Receiver<Impairments> {
        self.sender.subscribe()
    }
}

/// What the proxy did to the traffic, so the UI can show it beside the RTTs. Shared through
/// an `Arc`: the proxy counts, the UI reads with `load(Ordering::Relaxed)`.
#[derive(Debug, Default)]
pub struct ImpairStats {
    /// Datagrams dropped by `loss`.
    pub dropped: AtomicU64,
    /// Datagrams sent twice by `duplicate` (counted once per extra copy).
    pub duplicated: AtomicU64,
    /// Datagrams sent after one that arrived later (`reorder`).
    pub reordered: AtomicU64,
    /// Datagrams and TCP chunks delivered later than they arrived (delay, jitter, rate).
    pub delayed: AtomicU64,
    /// Datagrams the proxy dropped on its own: queue full, or no socket for a new source.
    pub overflowed: AtomicU64,
}

/// One roll of the dice: true with probability `percent`.
fn happens(percent: Percent, rng: &mut fastrand::Rng) -> bool {
    percent.get() > 0.0 && rng.f64() * 100.0 < percent.get()
}

fn count(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Turns impairments into delivery times for one direction: delay ± jitter, then pacing.
/// The TCP and UDP relays share it, so both apply the same arithmetic.
struct Schedule {
    rng: fastrand::Rng,
    /// When the latest unit scheduled so far is delivered.
    last_due: Option<Instant>,
}

impl Schedule {
    fn new() -> Self {
        Self {
            rng: fastrand::Rng::new(),
            last_due: None,
        }
    }

    /// One draw of `delay` ± uniform `jitter`, never below zero.
    fn propagation(&mut self, impairments: &Impairments) -> Duration {
        let delay = impairments.delay.min(MAX_DELAY);
        let jitter = impairments.jitter.min(MAX_DELAY);
        if jitter.is_zero() {
            return delay;
        }
        // Clamped to an hour, both are below 3.7e12 ns: the casts are exact.
        let jitter = jitter.as_nanos() as i64;
        let nanos = (delay.as_nanos() as i64 + self.rng.i64(-jitter..=jitter)).max(0);
        Duration::from_nanos(nanos as u64)
    }

    /// When `len` bytes that may leave at `earliest` are delivered. With a rate they wait for
    /// the previous unit to finish, then take `len / rate` (netem's arithmetic); `in_order`
    /// also forbids overtaking without a rate, which TCP's byte stream needs.
    fn due(&mut self, earliest: Instant, len: usize, rate: Option<u64>, in_order: bool) -> Instant {
        let start = match self.last_due {
            Some(last) if in_order || rate.is_some() => earliest.max(last),
            _ => earliest,
        };
        let due = match rate {
            Some(rate) => start + transmit_time(len, rate),
            None => start,
        };
        self.last_due = Some(self.last_due.map_or(due, |last| last.max(due)));
        due
    }
}

/// How long `len` bytes take at `rate` bytes per second (`rate` > 0).
fn transmit_time(len: usize, rate: u64) -> Duration {
    // At most 65,536 bytes at 1 B/s: 6.6e13 ns, well inside u64.
    let nanos = len as u128 * 1_000_000_000 / u128::from(rate.max(1));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Relays TCP connections from `listener` to `upstream`, each direction delayed and paced by
/// `impairments`, until `shutdown`; returns once every connection task has finished, so no
/// task outlives the call and the port is free again.
///
/// Loss, duplicate and reorder do not apply (see [`Impairments::tcp_ignored`]). Half-closes
/// are mirrored (a FIN is passed on after the bytes before it), and so are resets (an RST on
/// one side aborts the other).
pub async fn run_tcp(
    listener: TcpListener,
    upstream: SocketAddr,
    impairments: watch::Receiver<Impairments>,
    stats: Arc<ImpairStats>,
    shutdown: CancellationToken,
) {
    let tasks = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let client = match accepted {
            Ok((client, _)) => client,
            // EMFILE and friends are never fatal: pause, then accept again.
            Err(_) => tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(ACCEPT_PAUSE) => continue,
            },
        };
        if tasks.len() >= MAX_TCP_CONNECTIONS {
            // Dropping the stream closes it at once: the client sees a clean close.
            continue;
        }
        tasks.spawn(relay_tcp(
            client,
            upstream,
            impairments.clone(),
            stats.clone(),
            shutdown.clone(),
        ));
    }
    drop(listener);
    tasks.close();
    tasks.wait().await;
}

/// One proxied connection: connects upstream, then relays both directions until both end.
async fn relay_tcp(
    client: TcpStream,
    upstream: SocketAddr,
    impairments: watch::Receiver<Impairments>,
    stats: Arc<ImpairStats>,
    shutdown: CancellationToken,
) {
    let connecting = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(upstream));
    let server = tokio::select! {
        _ = shutdown.cancelled() => return,
        connected = connecting => connected,
    };
    let Ok(Ok(server)) = server else {
        // The upstream refused or never answered: reset the client, the nearest thing to the
        // refusal it would have seen without us.
        let _ = client.set_zero_linger();
        return;
    };
    // Latency is what we emulate; Nagle's algorithm would add its own. Failing only means the
    // socket is already dead, which the relay finds out on its first read.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);

    // Cancelled when either side fails or resets: both connections are then aborted.
    let failed = CancellationToken::new();
    let (client_in, client_out) = client.into_split();
    let (server_in, server_out) = server.into_split();
    let both = async {
        tokio::join!(
            forward(client_in, server_out, &impairments, &stats, &failed),
            forward(server_in, client_out, &impairments, &stats, &failed),
        )
    };
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = both => {}
    }
}

/// Bytes read from one side, on their way to the other.
struct Chunk {
    bytes: Vec<u8>,
    due: Instant,
    /// This chunk's share of the direction's byte budget, returned when it is dropped.
    _room: OwnedSemaphorePermit,
}

/// One direction of a TCP relay: the reader stamps each chunk with its delivery time, the
/// writer delivers the chunks then, in order. Two halves, so reading never waits for a delay.
async fn forward(
    from: OwnedReadHalf,
    to: OwnedWriteHalf,
    impairments: &watch::Receiver<Impairments>,
    stats: &ImpairStats,
    failed: &CancellationToken,
) {
    let (chunks_in, chunks_out) = mpsc::channel(TCP_BUFFERED_CHUNKS);
    tokio::join!(
        read_chunks(from, chunks_in, impairments, stats, failed),
        deliver_chunks(chunks_out, to, failed),
    );
}

/// Reads and stamps chunks until the peer's FIN (then drops `chunks`, which tells the writer
/// to pass the FIN on) or a failure.
async fn read_chunks(
    mut from: OwnedReadHalf,
    chunks: mpsc::Sender<Chunk>,
    impairments: &watch::Receiver<Impairments>,
    stats: &ImpairStats,
    failed: &CancellationToken,
) {
    let room = Arc::new(Semaphore::new(TCP_BUFFERED_BYTES));
    let mut schedule = Schedule::new();
    let mut buf = vec![0u8; TCP_CHUNK];
    loop {
        let want = read_size(impairments.borrow().rate());
        // Room first, then read: while the queue is full we leave the bytes in the kernel,
        // whose receive window then closes and slows the sender down.
        let room = tokio::select! {
            _ = failed.cancelled() => return,
            // `want` is at most TCP_CHUNK (64 KiB), so the cast is exact.
            permit = room.clone().acquire_many_owned(want as u32) => permit,
        };
        // Acquiring fails only on a closed semaphore, and this one is never closed.
        let Ok(mut room) = room else { return };
        let read = tokio::select! {
            _ = failed.cancelled() => return,
            read = from.read(&mut buf[..want]) => read,
        };
        let n = match read {
            Ok(0) => return,
            Ok(n) => n,
            Err(_) => {
                failed.cancel();
                return;
            }
        };
        let arrived = Instant::now();
        let now = *impairments.borrow();
        let earliest = arrived + schedule.propagation(&now);
        let due = schedule.due(earliest, n, now.rate(), true);
        if due > arrived {
            count(&stats.delayed);
        }
        // Keep only the permits for the bytes actually read (`n <= want`, so the split cannot
        // fail; if it did, holding all of them would merely be conservative).
        let kept = room.split(n);
        let chunk = Chunk {
            bytes: buf[..n].to_vec(),
            due,
            _room: kept.unwrap_or(room),
        };
        let sent = tokio::select! {
            _ = failed.cancelled() => return,
            sent = chunks.send(chunk) => sent,
        };
        if sent.is_err() {
            return;
        }
    }
}

/// How much to read at once: 64 KiB, or 1/50 s worth of bytes under a rate limit.
fn read_size(rate: Option<u64>) -> usize {
    rate.map_or(TCP_CHUNK, |rate| {
        usize::try_from(rate / PACING_SLICES_PER_SECOND)
            .unwrap_or(TCP_CHUNK)
            .clamp(1, TCP_CHUNK)
    })
}

/// Writes each chunk when it is due; after the last one, passes the FIN on. On any failure
/// (here or in the other direction) aborts this side with an RST.
async fn deliver_chunks(
    mut chunks: mpsc::Receiver<Chunk>,
    mut to: OwnedWriteHalf,
    failed: &CancellationToken,
) {
    let delivered = async {
        while let Some(chunk) = chunks.recv().await {
            sleep_until(chunk.due).await;
            to.write_all(&chunk.bytes).await?;
        }
        to.shutdown().await
    };
    let outcome = tokio::select! {
        // Failure first: a reader that fails cancels `failed` before it drops its end of the
        // channel, and that closed channel must not be mistaken for a FIN to pass on.
        biased;
        _ = failed.cancelled() => Err(io::ErrorKind::ConnectionAborted.into()),
        outcome = delivered => outcome,
    };
    if outcome.is_err() {
        failed.cancel();
        // Linger 0 makes the close an RST, as the failing side did. Dropping the half would
        // send a FIN first and look like a clean end, so `forget` it: the socket closes,
        // abortively, when the other direction drops the read half.
        let _ = to.as_ref().set_zero_linger();
        to.forget();
    }
}

/// One datagram on its way, and the socket that will send it.
#[derive(Clone)]
struct Datagram {
    payload: Vec<u8>,
    via: Arc<UdpSocket>,
    /// Where to; `None` when `via` is connected to its destination (the upstream).
    to: Option<SocketAddr>,
    arrived: Instant,
}

/// Relays UDP datagrams between clients on `socket` and `upstream`, each direction impaired
/// on its own, until `shutdown`; returns once every task has finished.
///
/// Each client source address gets its own upstream socket, so the server sees one peer per
/// client and its replies find their way back. At most 256 are kept (a new source evicts the
/// least recently active one), and a source that has sent nothing for 60 s loses its socket.
/// Queues are timer heaps keyed by due time (`BinaryHeap` + `sleep_until`), 4096 datagrams
/// per direction; beyond that datagrams are dropped and counted.
pub async fn run_udp(
    socket: UdpSocket,
    upstream: SocketAddr,
    impairments: watch::Receiver<Impairments>,
    stats: Arc<ImpairStats>,
    shutdown: CancellationToken,
) {
    let tasks = TaskTracker::new();
    let stop = shutdown.child_token();
    let socket = Arc::new(socket);
    let (to_server, towards_server) = mpsc::channel(UDP_HANDOFF);
    let (to_clients, towards_clients) = mpsc::channel(UDP_HANDOFF);
    for arrivals in [towards_server, towards_clients] {
        tasks.spawn(run_link(
            arrivals,
            impairments.clone(),
            stats.clone(),
            stop.clone(),
        ));
    }
    let mut sources = Sources {
        upstream,
        by_client: HashMap::new(),
        client_socket: socket.clone(),
        to_clients,
        tasks: tasks.clone(),
        stop: stop.clone(),
    };
    let mut sweep = tokio::time::interval(UDP_SWEEP);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut buf = vec![0u8; UDP_BUFFER];
    loop {
        let received = tokio::select! {
            _ = stop.cancelled() => break,
            _ = sweep.tick() => {
                sources.expire(Instant::now());
                continue;
            }
            received = socket.recv_from(&mut buf) => received,
        };
        // Receive errors on UDP concern one datagram (or an ICMP report), never the socket.
        let Ok((n, client)) = received else { continue };
        let arrived = Instant::now();
        let Ok(via) = sources.route(client, arrived) else {
            count(&stats.overflowed);
            continue;
        };
        let datagram = Datagram {
            payload: buf[..n].to_vec(),
            via,
            to: None,
            arrived,
        };
        // Waiting here when the scheduler is behind leaves datagrams in the kernel's buffer,
        // which drops the excess as a real interface would.
        let sent = tokio::select! {
            _ = stop.cancelled() => break,
            sent = to_server.send(datagram) => sent,
        };
        if sent.is_err() {
            break;
        }
    }
    stop.cancel();
    drop(sources);
    tasks.close();
    tasks.wait().await;
}

/// The upstream sockets, one per client source address.
struct Sources {
    upstream: SocketAddr,
    by_client: HashMap<SocketAddr, Source>,
    client_socket: Arc<UdpSocket>,
    to_clients: mpsc::Sender<Datagram>,
    tasks: TaskTracker,
    stop: CancellationToken,
}

/// One client's upstream socket; dropping it stops the task reading the replies.
struct Source {
    socket: Arc<UdpSocket>,
    last_seen: Instant,
    _reader: DropGuard,
}

impl Sources {
    /// The upstream socket for `client`, made on its first datagram.
    fn route(&mut self, client: SocketAddr, now: Instant) -> io::Result<Arc<UdpSocket>> {
        if let Some(source) = self.by_client.get_mut(&client) {
            source.last_seen = now;
            return Ok(source.socket.clone());
        }
        if self.by_client.len() >= UDP_MAX_SOURCES {
            let oldest = self
                .by_client
                .iter()
                .min_by_key(|(_, source)| source.last_seen)
                .map(|(client, _)| *client);
            if let Some(oldest) = oldest {
                self.by_client.remove(&oldest);
            }
        }
        let socket = Arc::new(upstream_socket(self.upstream)?);
        let reader = self.stop.child_token();
        self.tasks.spawn(read_replies(
            socket.clone(),
            client,
            self.client_socket.clone(),
            self.to_clients.clone(),
            reader.clone(),
        ));
        self.by_client.insert(
            client,
            Source {
                socket: socket.clone(),
                last_seen: now,
                _reader: reader.drop_guard(),
            },
        );
        Ok(socket)
    }

    /// Forgets sources idle for [`UDP_IDLE`].
    fn expire(&mut self, now: Instant) {
        self.by_client
            .retain(|_, source| now.duration_since(source.last_seen) < UDP_IDLE);
    }
}

/// A socket connected to `upstream`, bound to loopback when the upstream is on loopback (so
/// the proxy is never reachable from the network), else to the unspecified address.
fn upstream_socket(upstream: SocketAddr) -> io::Result<UdpSocket> {
    let ip = match upstream.ip() {
        IpAddr::V4(ip) if ip.is_loopback() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(ip) if ip.is_loopback() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let socket = std::net::UdpSocket::bind(SocketAddr::new(ip, 0))?;
    // Connected, the kernel delivers to this socket only what the upstream sends.
    socket.connect(upstream)?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket)
}

/// Reads the upstream's replies to one client and hands them to the scheduler towards clients.
async fn read_replies(
    upstream: Arc<UdpSocket>,
    client: SocketAddr,
    client_socket: Arc<UdpSocket>,
    to_clients: mpsc::Sender<Datagram>,
    stop: CancellationToken,
) {
    let mut buf = vec![0u8; UDP_BUFFER];
    loop {
        let received = tokio::select! {
            _ = stop.cancelled() => return,
            received = upstream.recv(&mut buf) => received,
        };
        // A connected UDP socket reports ICMP errors about earlier sends here ("port
        // unreachable" while the server is down): they concern one datagram, so read on.
        let Ok(n) = received else { continue };
        let datagram = Datagram {
            payload: buf[..n].to_vec(),
            via: client_socket.clone(),
            to: Some(client),
            arrived: Instant::now(),
        };
        let sent = tokio::select! {
            _ = stop.cancelled() => return,
            sent = to_clients.send(datagram) => sent,
        };
        if sent.is_err() {
            return;
        }
    }
}

/// One direction of the UDP relay: judges each datagram as it arrives, sends it when due.
async fn run_link(
    mut arrivals: mpsc::Receiver<Datagram>,
    impairments: watch::Receiver<Impairments>,
    stats: Arc<ImpairStats>,
    stop: CancellationToken,
) {
    let mut link = Link::new(stats);
    loop {
        let now = Instant::now();
        let current = *impairments.borrow();
        if let Some(datagram) = link.pop_due(now, &current) {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = transmit(&datagram) => {}
            }
            continue;
        }
        let wake = link.next_wake();
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            _ = sleep_until(wake.unwrap_or(now)), if wake.is_some() => {}
            arrival = arrivals.recv() => match arrival {
                Some(datagram) => {
                    let current = *impairments.borrow();
                    link.admit(datagram, &current);
                }
                None => return,
            },
        }
    }
}

async fn transmit(datagram: &Datagram) {
    // UDP is best effort: a send that fails is a datagram lost, as on a real link.
    let _ = match datagram.to {
        Some(to) => datagram.via.send_to(&datagram.payload, to).await,
        None => datagram.via.send(&datagram.payload).await,
    };
}

/// A datagram waiting for its time, ordered by due time, then by arrival at the queue.
struct Queued {
    due: Instant,
    seq: u64,
    datagram: Datagram,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}

impl Eq for Queued {}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Queued {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

/// A datagram held back by `reorder`, waiting for a successor to overtake it.
struct Held {
    datagram: Datagram,
    until: Instant,
}

/// The state of one UDP direction: the timer queue, the held-back datagram, the dice.
struct Link {
    queue: BinaryHeap<Reverse<Queued>>,
    held: Option<Held>,
    schedule: Schedule,
    next_seq: u64,
    stats: Arc<ImpairStats>,
}

impl Link {
    fn new(stats: Arc<ImpairStats>) -> Self {
        Self {
            queue: BinaryHeap::new(),
            held: None,
            schedule: Schedule::new(),
            next_seq: 0,
            stats,
        }
    }

    /// Loss, then duplication; each copy then goes through reordering and scheduling.
    fn admit(&mut self, datagram: Datagram, impairments: &Impairments) {
        if happens(impairments.loss, &mut self.schedule.rng) {
            count(&self.stats.dropped);
            return;
        }
        if happens(impairments.duplicate, &mut self.schedule.rng) {
            count(&self.stats.duplicated);
            self.enqueue(datagram.clone(), impairments);
        }
        self.enqueue(datagram, impairments);
    }

    fn enqueue(&mut self, datagram: Datagram, impairments: &Impairments) {
        if self.queue.len() + usize::from(self.held.is_some()) >= UDP_QUEUE {
            count(&self.stats.overflowed);
            return;
        }
        let earliest = datagram.arrived + self.schedule.propagation(impairments);
        if let Some(held) = self.held.take() {
            // This datagram overtakes the held one, which follows right behind it.
            let due = self.push(datagram, earliest, impairments);
            self.push(held.datagram, due, impairments);
            count(&self.stats.reordered);
        } else if happens(impairments.reorder, &mut self.schedule.rng) {
            let wait =
                impairments.delay.min(MAX_DELAY) + impairments.jitter.clamp(MIN_HOLD, MAX_DELAY);
            let until = datagram.arrived + wait;
            self.held = Some(Held { datagram, until });
        } else {
            self.push(datagram, earliest, impairments);
        }
    }

    /// Queues a datagram for `earliest` (later under a rate limit); returns when it is due.
    fn push(
        &mut self,
        datagram: Datagram,
        earliest: Instant,
        impairments: &Impairments,
    ) -> Instant {
        let due = self
            .schedule
            .due(earliest, datagram.payload.len(), impairments.rate(), false);
        if due > datagram.arrived {
            count(&self.stats.delayed);
        }
        self.queue.push(Reverse(Queued {
            due,
            seq: self.next_seq,
            datagram,
        }));
        self.next_seq += 1;
        due
    }

    /// The next datagram due by `now`, if any. A held datagram nobody overtook in time is
    /// queued first, at the end of its wait.
    fn pop_due(&mut self, now: Instant, impairments: &Impairments) -> Option<Datagram> {
        if let Some(held) = self.held.take_if(|held| held.until <= now) {
            self.push(held.datagram, held.until, impairments);
        }
        if self.queue.peek()?.0.due > now {
            return None;
        }
        self.queue.pop().map(|Reverse(queued)| queued.datagram)
    }

    /// When something next becomes due.
    fn next_wake(&self) -> Option<Instant> {
        let queued = self.queue.peek().map(|Reverse(queued)| queued.due);
        let held = self.held.as_ref().map(|held| held.until);
        match (queued, held) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn percent(value: f64) -> Percent {
        Percent::new(value).unwrap()
    }

    #[test]
    fn display_lists_only_active_impairments() {
        assert_eq!(Impairments::default().to_string(), "none");
        let link = Impairments {
            delay: Duration::from_millis(50),
            jitter: Duration::from_millis(10),
            loss: percent(10.0),
            rate: Some(10_000),
            ..Impairments::default()
        };
        assert_eq!(
            link.to_string(),
            "delay 50ms ±10ms · loss 10% · rate 10 kB/s"
        );
        let all = Impairments {
            delay: Duration::from_micros(1500),
            duplicate: percent(1.0),
            reorder: percent(0.5),
            rate: Some(1536),
            ..Impairments::default()
        };
        assert_eq!(
            all.to_string(),
            "delay 1.5ms · duplicate 1% · reorder 0.5% · rate 1.54 kB/s"
        );
        let slow = Impairments {
            delay: Duration::from_secs(2),
            rate: Some(65_536),
            ..Impairments::default()
        };
        assert_eq!(slow.to_string(), "delay 2s · rate 64 KiB/s");
    }

    #[test]
    fn netem_command_says_the_same_link_in_tc_words() {
        assert_eq!(
            Impairments::default().netem_command("lo"),
            "tc qdisc add dev lo root netem"
        );
        let link = Impairments {
            delay: Duration::from_millis(50),
            jitter: Duration::from_millis(10),
            loss: percent(10.0),
            duplicate: percent(1.0),
            reorder: percent(5.0),
            rate: Some(10_000),
        };
        assert_eq!(
            link.netem_command("eth0"),
            "tc qdisc add dev eth0 root netem delay 50ms 10ms loss 10% duplicate 1% reorder 5% rate 80kbit"
        );
        let reorder_only = Impairments {
            reorder: percent(25.0),
            ..Impairments::default()
        };
        assert_eq!(
            reorder_only.netem_command("lo"),
            "tc qdisc add dev lo root netem delay 1ms reorder 25%"
        );
        let odd_rate = Impairments {
            rate: Some(1023),
            ..Impairments::default()
        };
        assert_eq!(
            odd_rate.netem_command("lo"),
            "tc qdisc add dev lo root netem rate 8184bit"
        );
    }

    #[test]
    fn tcp_names_what_it_ignores() {
        let link = Impairments {
            delay: Duration::from_millis(5),
            loss: percent(1.0),
            reorder: percent(2.0),
            ..Impairments::default()
        };
        assert_eq!(link.tcp_ignored(), ["loss", "reorder"]);
        assert!(!link.is_none());
        assert!(Impairments::default().tcp_ignored().is_empty());
        assert!(Impairments::default().is_none());
        let zero_rate = Impairments {
            rate: Some(0),
            ..Impairments::default()
        };
        assert!(zero_rate.is_none());
    }

    #[test]
    fn control_hands_changes_to_every_receiver() {
        let (control, first) = control(Impairments::default());
        let later = control.subscribe();
        let slow = Impairments {
            delay: Duration::from_millis(30),
            ..Impairments::default()
        };
        control.set(slow);
        assert_eq!(control.get(), slow);
        assert_eq!(*first.borrow(), slow);
        assert_eq!(*later.borrow(), slow);
    }

    #[test]
    fn jitter_stays_within_bounds_and_never_goes_negative() {
        let mut schedule = Schedule::new();
        let link = Impairments {
            delay: Duration::from_millis(5),
            jitter: Duration::from_millis(10),
            ..Impairments::default()
        };
        let draws: Vec<_> = (0..10_000).map(|_| schedule.propagation(&link)).collect();
        assert!(draws.iter().all(|d| *d <= Duration::from_millis(15)));
        // P(delay − jitter·u < 0) = 25%: some draws are clamped to exactly zero, some are not.
        assert!(draws.iter().any(|d| d.is_zero()));
        assert!(draws.iter().any(|d| *d > Duration::from_millis(10)));
    }

    #[test]
    fn in_order_schedule_never_lets_a_chunk_overtake() {
        let mut schedule = Schedule::new();
        let link = Impairments {
            delay: Duration::from_millis(1),
            jitter: Duration::from_millis(1),
            ..Impairments::default()
        };
        let start = Instant::now();
        let mut last = start;
        for i in 0..10_000u32 {
            let arrived = start + Duration::from_micros(u64::from(i) * 10);
            let earliest = arrived + schedule.propagation(&link);
            let due = schedule.due(earliest, 100, None, true);
            assert!(due >= last && due >= arrived);
            last = due;
        }
    }

    #[test]
    fn rate_spaces_units_by_their_transmission_time() {
        let mut schedule = Schedule::new();
        let start = Instant::now();
        let dues: Vec<_> = (0..10)
            .map(|_| schedule.due(start, 1000, Some(10_000), false))
            .collect();
        for (i, due) in dues.iter().enumerate() {
            assert_eq!(*due - start, Duration::from_millis(100) * (i as u32 + 1));
        }
        // Idle long enough, the next unit starts when it arrives, not after the backlog.
        let later = start + Duration::from_secs(5);
        assert_eq!(
            schedule.due(later, 1000, Some(10_000), false) - later,
            Duration::from_millis(100)
        );
    }

    #[test]
    fn tcp_reads_at_most_a_fiftieth_of_a_second_under_a_rate() {
        assert_eq!(read_size(None), TCP_CHUNK);
        assert_eq!(read_size(Some(100_000)), 2000);
        assert_eq!(read_size(Some(10)), 1);
        assert_eq!(read_size(Some(u64::MAX)), TCP_CHUNK);
    }

    async fn test_datagram(byte: u8, arrived: Instant) -> Datagram {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        Datagram {
            payload: vec![byte],
            via: Arc::new(socket),
            to: None,
            arrived,
        }
    }

    fn drain(link: &mut Link, now: Instant) -> Vec<u8> {
        std::iter::from_fn(|| link.pop_due(now, &Impairments::default()))
            .map(|datagram| datagram.payload[0])
            .collect()
    }

    #[tokio::test]
    async fn reorder_sends_the_held_datagram_right_after_its_successor() {
        let stats = Arc::new(ImpairStats::default());
        let mut link = Link::new(stats.clone());
        let always = Impairments {
            reorder: percent(100.0),
            ..Impairments::default()
        };
        let now = Instant::now();
        for byte in 1..=5 {
            link.admit(test_datagram(byte, now).await, &always);
        }
        // 1 held, 2 overtakes it; 3 held, 4 overtakes it; 5 held until its wait is over.
        assert_eq!(drain(&mut link, now), [2, 1, 4, 3]);
        assert_eq!(link.next_wake(), Some(now + MIN_HOLD));
        assert_eq!(drain(&mut link, now + MIN_HOLD), [5]);
        assert_eq!(stats.reordered.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn loss_and_duplicate_are_counted_and_the_queue_is_bounded() {
        let stats = Arc::new(ImpairStats::default());
        let mut link = Link::new(stats.clone());
        let now = Instant::now();
        let lose_all = Impairments {
            loss: percent(100.0),
            ..Impairments::default()
        };
        link.admit(test_datagram(1, now).await, &lose_all);
        assert_eq!(stats.dropped.load(Ordering::Relaxed), 1);
        assert!(drain(&mut link, now).is_empty());

        let double_and_wait = Impairments {
            duplicate: percent(100.0),
            delay: Duration::from_secs(1),
            ..Impairments::default()
        };
        let datagram = test_datagram(2, now).await;
        for _ in 0..UDP_QUEUE {
            link.admit(datagram.clone(), &double_and_wait);
        }
        assert_eq!(link.queue.len(), UDP_QUEUE);
        assert_eq!(stats.duplicated.load(Ordering::Relaxed), UDP_QUEUE as u64);
        assert_eq!(stats.overflowed.load(Ordering::Relaxed), UDP_QUEUE as u64);
        assert!(drain(&mut link, now).is_empty());
        assert_eq!(
            drain(&mut link, now + Duration::from_secs(1)).len(),
            UDP_QUEUE
        );
    }
}

/// A running impairment proxy (TCP and UDP on one loopback port) and the handles the UI needs.
#[derive(Debug)]
pub struct Proxy {
    /// Where clients connect to be impaired.
    pub addr: SocketAddr,
    /// Where the proxy forwards to (the server a client would otherwise reach directly).
    pub upstream: SocketAddr,
    pub control: ImpairControl,
    pub stats: Arc<ImpairStats>,
}

/// Starts the TCP and UDP relays on one free loopback port in front of `upstream`, until
/// `shutdown`.
pub async fn start(
    upstream: SocketAddr,
    initial: Impairments,
    shutdown: &CancellationToken,
) -> Result<Proxy, super::NetError> {
    let loopback = if upstream.is_ipv6() {
        SocketAddr::from((Ipv6Addr::LOCALHOST, 0))
    } else {
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
    };
    let listener = super::listen(loopback).await?;
    let addr = listener
        .local_addr()
        .map_err(|cause| super::NetError::Listen {
            addr: loopback,
            cause,
        })?;
    let socket = super::listen_udp(addr).await?;
    let (control, receiver) = control(initial);
    let stats = Arc::new(ImpairStats::default());
    tokio::spawn(run_tcp(
        listener,
        upstream,
        receiver.clone(),
        stats.clone(),
        shutdown.clone(),
    ));
    tokio::spawn(run_udp(
        socket,
        upstream,
        receiver,
        stats.clone(),
        shutdown.clone(),
    ));
    Ok(Proxy {
        addr,
        upstream,
        control,
        stats,
    })
}
