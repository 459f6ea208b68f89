//! The server's own account of its clients: who is connected now, what each has sent, and the
//! running totals. The server keeps it as it works; whoever shows the server (the UI's roster,
//! `serve --headless`'s summary) reads a [`CensusSnapshot`] of it.
//!
//! Events tell the story of each read, but the server drops events when their consumer is
//! behind (echoing never waits for a terminal); the census is never dropped, so a roster that
//! missed events is corrected at the next snapshot instead of showing phantom connections.
//!
//! Costs: a connection's task updates its own counters with relaxed atomic additions (no lock
//! on the echo path); a UDP datagram takes one uncontended lock; a snapshot is O(clients),
//! with one `getsockopt(TCP_INFO)` per open connection for its kernel RTT and retransmissions
//! (see [`ConnCounters::share_socket`]).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Local};

use super::event::ConnId;
use super::server::{Limit, Limits};
use super::sockinfo::{self, AcceptQueue, Sampled, TcpSummary, Unavailable};

/// UDP sources remembered at once; beyond, the least recently heard from are forgotten (and
/// counted), so a spray of spoofed addresses costs bounded memory.
pub const MAX_UDP_SOURCES: usize = 1024;
/// A UDP source silent this long is forgotten: it is not a connection that stays open.
pub const UDP_SOURCE_IDLE: Duration = Duration::from_secs(60);

/// The census of one server (TCP and UDP on one control share it).
#[derive(Debug, Default)]
pub struct Census {
    state: std::sync::Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    open: HashMap<ConnId, Arc<ConnCounters>>,
    per_ip: HashMap<IpAddr, usize>,
    peak_open: usize,
    accepted: u64,
    rejected: u64,
    /// Reads and bytes of connections already closed (open ones count in their counters).
    closed_reads: u64,
    closed_bytes: u64,
    sources: HashMap<SocketAddr, Source>,
    sources_seen: u64,
    sources_forgotten: u64,
    datagrams: u64,
    datagram_bytes: u64,
    unanswered: u64,
}

/// One TCP connection's counters, updated by its own task without a lock.
#[derive(Debug)]
pub struct ConnCounters {
    conn: ConnId,
    peer: SocketAddr,
    since: DateTime<Local>,
    reads: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    /// Bytes waiting to be echoed while the peer does not read, plus one (0: none).
    pending: AtomicU64,
    /// A duplicate of the connection's socket, so the census can ask the kernel about it;
    /// given back before the socket closes ([`ConnCounters::release_socket`]).
    socket: Mutex<Option<OwnedFd>>,
}

impl ConnCounters {
    /// One `read()` returned `len` bytes.
    pub fn read(&self, len: usize) {
        self.reads.fetch_add(1, Relaxed);
        self.bytes_in.fetch_add(len as u64, Relaxed);
    }

    /// `len` bytes were echoed.
    pub fn echoed(&self, len: usize) {
        self.bytes_out.fetch_add(len as u64, Relaxed);
    }

    /// Bytes waiting because the peer stopped reading (`None`: it reads again).
    pub fn pending(&self, bytes: Option<usize>) {
        self.pending
            .store(bytes.map_or(0, |n| n as u64 + 1), Relaxed);
    }

    /// Bytes received and echoed so far.
    pub fn bytes(&self) -> (u64, u64) {
        (self.bytes_in.load(Relaxed), self.bytes_out.load(Relaxed))
    }

    /// Lends the census a duplicate of the connection's socket, so the roster can show what
    /// the kernel knows about it (its RTT, its retransmissions) without the connection's
    /// task doing anything on its echo path. A duplicate, not the descriptor's number: a
    /// number could name another file once the task has closed the socket.
    pub fn share_socket(&self, socket: BorrowedFd<'_>) {
        *super::lock(&self.socket) = socket.try_clone_to_owned().ok();
    }

    /// Gives the duplicate back. Call it right before closing the socket: a socket closes
    /// (sends its FIN, or its RST) only when its last descriptor does, and ours must not
    /// hold that back. Dropping the admission gives it back too.
    pub fn release_socket(&self) {
        super::lock(&self.socket).take();
    }

    /// Asks the kernel about the socket, while the census has it.
    fn sample(&self) -> Sampled {
        match &*super::lock(&self.socket) {
            Some(socket) => sockinfo::sample(socket.as_fd()),
            None => Err(Unavailable::NoSocket),
        }
    }

    fn tcp(&self) -> Option<TcpSummary> {
        let socket = super::lock(&self.socket);
        sockinfo::summary(socket.as_ref()?.as_fd())
    }

    fn snapshot(&self) -> ConnSnapshot {
        ConnSnapshot {
            conn: self.conn,
            peer: self.peer,
            since: self.since,
            reads: self.reads.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            pending: match self.pending.load(Relaxed) {
                0 => None,
                n => usize::try_from(n - 1).ok(),
            },
            tcp: self.tcp(),
        }
    }
}

/// A connection's place in the census, held by its task: dropping it (however the connection
/// ended) counts the close and frees the place under the limits.
#[derive(Debug)]
pub struct Admission {
    counters: Arc<ConnCounters>,
    census: Arc<Census>,
}

impl std::ops::Deref for Admission {
    type Target = ConnCounters;

    fn deref(&self) -> &ConnCounters {
        &self.counters
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.counters.release_socket();
        let mut state = self.census.lock();
        state.open.remove(&self.counters.conn);
        state.closed_reads += self.counters.reads.load(Relaxed);
        state.closed_bytes += self.counters.bytes_in.load(Relaxed);
        let ip = self.counters.peer.ip();
        if let Some(n) = state.per_ip.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                state.per_ip.remove(&ip);
            }
        }
    }
}

/// One UDP source (address and port): UDP has no connections, only who sent what lately.
#[derive(Debug, Clone)]
struct Source {
    conn: ConnId,
    since: DateTime<Local>,
    last_heard: Instant,
    datagrams: u64,
    bytes_in: u64,
    bytes_out: u64,
    unanswered: u64,
}

/// What the server knows at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CensusSnapshot {
    /// TCP connections accepted so far (not those turned away).
    pub accepted: u64,
    /// TCP connections turned away by a limit.
    pub rejected: u64,
    /// Reads (TCP) and datagrams (UDP) echoed so far, and their bytes.
    pub reads: u64,
    pub bytes: u64,
    /// TCP connections open now, oldest first.
    pub open: Vec<ConnSnapshot>,
    /// Most TCP connections open at once.
    pub peak_open: usize,
    /// UDP sources heard from lately (at most [`MAX_UDP_SOURCES`], silent ones forgotten).
    pub sources: Vec<SourceSnapshot>,
    /// UDP sources heard from since the start, and how many of them were forgotten.
    pub sources_seen: u64,
    pub sources_forgotten: u64,
    /// UDP datagrams not answered (reflection guard, rate limit, failed reply).
    pub unanswered: u64,
    /// Threads serving connections (the threads model; 0 otherwise).
    pub threads: usize,
    /// Connections the kernel completed that wait for `accept()` (the iterative model's
    /// queue): `None` without a TCP listener, an error where the kernel cannot say.
    pub accept_queue: Option<Result<AcceptQueue, Unavailable>>,
}

/// One open TCP connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnSnapshot {
    pub conn: ConnId,
    pub peer: SocketAddr,
    pub since: DateTime<Local>,
    pub reads: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Bytes waiting to be echoed because the peer stopped reading.
    pub pending: Option<usize>,
    /// What the kernel knows: its RTT estimate and retransmissions (`None` where it
    /// cannot be asked).
    pub tcp: Option<TcpSummary>,
}

/// One UDP source heard from lately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSnapshot {
    pub conn: ConnId,
    pub peer: SocketAddr,
    pub since: DateTime<Local>,
    pub datagrams: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub unanswered: u64,
}

impl Census {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        super::lock(&self.state)
    }

    /// Admits TCP connection `conn` from `peer`, or says which limit turns it away (and
    /// counts it as turned away).
    pub fn admit(
        self: &Arc<Self>,
        conn: ConnId,
        peer: SocketAddr,
        limits: &Limits,
    ) -> Result<Admission, Limit> {
        let mut state = self.lock();
        let refused = if state.open.len() >= limits.max_conns {
            Some(Limit::MaxConns(limits.max_conns))
        } else if state.per_ip.get(&peer.ip()).copied().unwrap_or(0) >= limits.max_per_ip {
            Some(Limit::MaxPerIp(limits.max_per_ip))
        } else {
            None
        };
        if let Some(limit) = refused {
            state.rejected += 1;
            return Err(limit);
        }
        *state.per_ip.entry(peer.ip()).or_default() += 1;
        let counters = Arc::new(ConnCounters {
            conn,
            peer,
            since: Local::now(),
            reads: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            pending: AtomicU64::new(0),
            socket: Mutex::new(None),
        });
        state.open.insert(conn, counters.clone());
        state.accepted += 1;
        state.peak_open = state.peak_open.max(state.open.len());
        Ok(Admission {
            counters,
            census: self.clone(),
        })
    }

    /// The number of UDP source `peer`, heard from `now` (a new one gets `fresh()`), and
    /// whether it is new. Forgets silent sources, and the least recently heard from when the
    /// table is full, a quarter at a time, so each datagram costs O(1) on average.
    pub fn heard_from(
        &self,
        peer: SocketAddr,
        now: Instant,
        fresh: impl FnOnce() -> ConnId,
    ) -> (ConnId, bool) {
        let mut state = self.lock();
        if let Some(source) = state.sources.get_mut(&peer) {
            source.last_heard = now;
            return (source.conn, false);
        }
        if state.sources.len() >= MAX_UDP_SOURCES {
            state.forget_sources(now);
        }
        let conn = fresh();
        state.sources.insert(
            peer,
            Source {
                conn,
                since: Local::now(),
                last_heard: now,
                datagrams: 0,
                bytes_in: 0,
                bytes_out: 0,
                unanswered: 0,
            },
        );
        state.sources_seen += 1;
        (conn, true)
    }

    /// A datagram of `received` bytes from `peer` was echoed with `echoed` bytes.
    pub fn datagram(&self, peer: SocketAddr, received: usize, echoed: usize) {
        let mut state = self.lock();
        state.datagrams += 1;
        state.datagram_bytes += received as u64;
        if let Some(source) = state.sources.get_mut(&peer) {
            source.datagrams += 1;
            source.bytes_in += received as u64;
            source.bytes_out += echoed as u64;
        }
    }

    /// A datagram from `peer` was not answered.
    pub fn unanswered(&self, peer: SocketAddr) {
        let mut state = self.lock();
        state.unanswered += 1;
        if let Some(source) = state.sources.get_mut(&peer) {
            source.unanswered += 1;
        }
    }

    /// Forgets UDP sources silent for [`UDP_SOURCE_IDLE`]; the server calls this now and then.
    pub fn expire_sources(&self, now: Instant) {
        let mut state = self.lock();
        let before = state.sources.len();
        state
            .sources
            .retain(|_, source| now.duration_since(source.last_heard) < UDP_SOURCE_IDLE);
        state.sources_forgotten += (before - state.sources.len()) as u64;
    }

    /// Everything the kernel knows about open connection `conn`'s socket (for a view on
    /// screen: one connection, a few times a second).
    pub fn sample(&self, conn: ConnId) -> Sampled {
        let state = self.lock();
        match state.open.get(&conn) {
            Some(counters) => counters.sample(),
            None => Err(Unavailable::NoSocket),
        }
    }

    /// What the server knows now.
    pub fn snapshot(&self) -> CensusSnapshot {
        let state = self.lock();
        let mut open: Vec<ConnSnapshot> = state.open.values().map(|c| c.snapshot()).collect();
        open.sort_by_key(|c| c.conn);
        let mut sources: Vec<SourceSnapshot> = state
            .sources
            .iter()
            .map(|(peer, s)| SourceSnapshot {
                conn: s.conn,
                peer: *peer,
                since: s.since,
                datagrams: s.datagrams,
                bytes_in: s.bytes_in,
                bytes_out: s.bytes_out,
                unanswered: s.unanswered,
            })
            .collect();
        sources.sort_by_key(|s| s.conn);
        let open_reads: u64 = open.iter().map(|c| c.reads).sum();
        let open_bytes: u64 = open.iter().map(|c| c.bytes_in).sum();
        CensusSnapshot {
            accepted: state.accepted,
            rejected: state.rejected,
            reads: state.closed_reads + open_reads + state.datagrams,
            bytes: state.closed_bytes + open_bytes + state.datagram_bytes,
            open,
            peak_open: state.peak_open,
            sources,
            sources_seen: state.sources_seen,
            sources_forgotten: state.sources_forgotten,
            unanswered: state.unanswered,
            threads: 0,
            accept_queue: None,
        }
    }
}

impl State {
    /// Makes room in a full source table: the silent ones go, else the least recently heard
    /// quarter.
    fn forget_sources(&mut self, now: Instant) {
        let before = self.sources.len();
        self.sources
            .retain(|_, source| now.duration_since(source.last_heard) < UDP_SOURCE_IDLE);
        if self.sources.len() >= MAX_UDP_SOURCES {
            let mut heard: Vec<Instant> = self.sources.values().map(|s| s.last_heard).collect();
            heard.sort_unstable();
            let cutoff = heard[heard.len() / 4];
            self.sources.retain(|_, source| source.last_heard > cutoff);
        }
        self.sources_forgotten += (before - self.sources.len()) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_conns: usize, max_per_ip: usize) -> Limits {
        Limits {
            max_conns,
            max_per_ip,
            ..Limits::default()
        }
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn admissions_enforce_the_limits_and_closing_frees_them() {
        let census = Arc::new(Census::default());
        let limits = limits(3, 2);
        let a1 = census.admit(1, addr("10.0.0.1:1"), &limits).unwrap();
        let _a2 = census.admit(2, addr("10.0.0.1:2"), &limits).unwrap();
        assert_eq!(
            census.admit(3, addr("10.0.0.1:3"), &limits).unwrap_err(),
            Limit::MaxPerIp(2)
        );
        let _b1 = census.admit(4, addr("10.0.0.2:1"), &limits).unwrap();
        assert_eq!(
            census.admit(5, addr("10.0.0.2:2"), &limits).unwrap_err(),
            Limit::MaxConns(3)
        );
        a1.read(13);
        a1.echoed(13);
        drop(a1);
        let snapshot = census.snapshot();
        assert_eq!(
            (snapshot.accepted, snapshot.rejected, snapshot.peak_open),
            (3, 2, 3)
        );
        assert_eq!(snapshot.open.len(), 2);
        assert_eq!(
            (snapshot.reads, snapshot.bytes),
            (1, 13),
            "a closed one still counts"
        );
        assert!(census.admit(6, addr("10.0.0.1:4"), &limits).is_ok());
    }

    #[test]
    fn open_connections_show_their_own_counters() {
        let census = Arc::new(Census::default());
        let conn = census.admit(7, addr("10.0.0.1:1"), &limits(9, 9)).unwrap();
        conn.read(100);
        conn.read(24);
        conn.echoed(100);
        conn.pending(Some(24));
        let open = &census.snapshot().open[0];
        assert_eq!(
            (
                open.conn,
                open.reads,
                open.bytes_in,
                open.bytes_out,
                open.pending
            ),
            (7, 2, 124, 100, Some(24))
        );
        conn.pending(None);
        assert_eq!(census.snapshot().open[0].pending, None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_census_asks_the_kernel_and_its_duplicate_never_holds_a_close_back() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, peer) = listener.accept().unwrap();
        let census = Arc::new(Census::default());
        let admission = census.admit(1, peer, &limits(9, 9)).unwrap();
        admission.share_socket(server.as_fd());
        client.write_all(b"Hello, World!").unwrap();
        let mut buf = [0u8; 13];
        server.read_exact(&mut buf).unwrap();
        server.write_all(&buf).unwrap();
        client.read_exact(&mut buf).unwrap();
        let tcp = census.snapshot().open[0].tcp.expect("the kernel's figures");
        assert_eq!(tcp.state, sockinfo::TcpState::Established);
        assert!(tcp.rtt > Duration::ZERO);
        assert!(census.sample(1).unwrap().tcp.bytes_acked >= Some(13));
        // The connection's task closes its socket the way the servers do: the duplicate
        // first, then the socket. The client sees the FIN at once, not when the admission
        // goes.
        admission.release_socket();
        drop(server);
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        assert_eq!(client.read(&mut buf).unwrap(), 0, "a FIN, not a timeout");
        assert_eq!(census.sample(1), Err(Unavailable::NoSocket));
        drop(admission);
        assert_eq!(census.sample(1), Err(Unavailable::NoSocket));
    }

    #[test]
    fn udp_sources_are_bounded_and_expire() {
        let census = Census::default();
        let t0 = Instant::now();
        let mut next = 0;
        for i in 0..(MAX_UDP_SOURCES as u32 * 3) {
            let peer = SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 5000));
            let (_, new) = census.heard_from(peer, t0 + Duration::from_millis(i.into()), || {
                next += 1;
                next
            });
            assert!(new);
            census.datagram(peer, 10, 10);
        }
        let snapshot = census.snapshot();
        assert!(snapshot.sources.len() <= MAX_UDP_SOURCES);
        assert_eq!(snapshot.sources_seen, MAX_UDP_SOURCES as u64 * 3);
        assert_eq!(
            snapshot.sources_forgotten + snapshot.sources.len() as u64,
            snapshot.sources_seen
        );
        assert_eq!(
            snapshot.reads,
            MAX_UDP_SOURCES as u64 * 3,
            "every datagram counts"
        );
        census.expire_sources(t0 + Duration::from_secs(3600));
        assert!(census.snapshot().sources.is_empty());
    }

    #[test]
    fn a_known_source_keeps_its_number() {
        let census = Census::default();
        let now = Instant::now();
        let peer = addr("10.0.0.9:4000");
        assert_eq!(census.heard_from(peer, now, || 5), (5, true));
        assert_eq!(census.heard_from(peer, now, || 6), (5, false));
        census.unanswered(peer);
        assert_eq!(census.snapshot().sources[0].unanswered, 1);
    }
}
