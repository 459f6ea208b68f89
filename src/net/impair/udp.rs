//! The UDP relay: one upstream socket per client source address, and one [`Link`] per
//! direction that judges each datagram and sends it when it is due. As for TCP, a datagram's
//! delay starts at the kernel's receive timestamp, not when the relay woke up to read it.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;

use super::link::{Link, Packet};
use super::{ImpairStats, Impairments, count};
use crate::net::stamp::StampedReader;
use crate::net::timer::Timer;
use crate::stats::Clock;

/// Receive buffer for datagrams: larger than the largest one (65,507 bytes), so none is cut.
const UDP_BUFFER: usize = 65_536;
/// Datagrams waiting to be judged between a socket reader and its direction's scheduler.
const UDP_HANDOFF: usize = 256;
/// Client source addresses the UDP relay keeps an upstream socket for (least recently used
/// evicted first).
const UDP_MAX_SOURCES: usize = 256;
/// A source that sent nothing for this long loses its upstream socket.
const UDP_IDLE: Duration = Duration::from_secs(60);
/// How often idle sources are looked for.
const UDP_SWEEP: Duration = Duration::from_secs(5);

/// One datagram on its way, and the socket that will send it.
#[derive(Clone)]
struct Datagram {
    payload: Vec<u8>,
    via: Arc<UdpSocket>,
    /// Where to; `None` when `via` is connected to its destination (the upstream).
    to: Option<SocketAddr>,
    arrived: Instant,
}

impl Packet for Datagram {
    fn size(&self) -> usize {
        self.payload.len()
    }

    fn arrived(&self) -> Instant {
        self.arrived
    }
}

/// Relays UDP datagrams between clients on `socket` and `upstream`, each direction impaired
/// on its own, until `shutdown`; returns once every task has finished.
///
/// Each client source address gets its own upstream socket, so the server sees one peer per
/// client and its replies find their way back. At most 256 are kept (a new source evicts the
/// least recently active one), and a source that has sent nothing for 60 s loses its socket.
/// Each direction queues at most 4096 datagrams; beyond that datagrams are dropped
/// and counted. A datagram due now is sent at once; one due later waits on a precise timer.
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
    let mut stamped = StampedReader::new(socket.as_fd(), Clock::Kernel);
    loop {
        let received = tokio::select! {
            _ = stop.cancelled() => break,
            _ = sweep.tick() => {
                sources.expire(Instant::now());
                continue;
            }
            received = stamped.read_from(&socket, &mut buf) => received,
        };
        // Receive errors on UDP concern one datagram (or an ICMP report), never the socket.
        let Ok((n, client, arrival)) = received else {
            continue;
        };
        let arrived = Instant::from_std(arrival.at());
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
    let mut stamped = StampedReader::new(upstream.as_fd(), Clock::Kernel);
    loop {
        let received = tokio::select! {
            _ = stop.cancelled() => return,
            received = stamped.read(upstream.as_ref(), &mut buf) => received,
        };
        // A connected UDP socket reports ICMP errors about earlier sends here ("port
        // unreachable" while the server is down): they concern one datagram, so read on.
        let Ok((n, arrival)) = received else { continue };
        let datagram = Datagram {
            payload: buf[..n].to_vec(),
            via: client_socket.clone(),
            to: Some(client),
            arrived: Instant::from_std(arrival.at()),
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

/// One direction of the UDP relay: judges each datagram as it arrives, sends it when due
/// (the queue's earliest deadline is the only one the timer is armed for).
async fn run_link(
    mut arrivals: mpsc::Receiver<Datagram>,
    impairments: watch::Receiver<Impairments>,
    stats: Arc<ImpairStats>,
    stop: CancellationToken,
) {
    let mut link = Link::new(stats, fastrand::Rng::new());
    let mut timer = Timer::default();
    loop {
        let now = Instant::now();
        if let Some(datagram) = link.pop_due(now) {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = transmit(&datagram) => {}
            }
            continue;
        }
        let next = link.next_due();
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            _ = timer.sleep_until(next.unwrap_or(now)), if next.is_some() => {}
            arrival = arrivals.recv() => match arrival {
                Some(datagram) => link.admit(datagram, &impairments.borrow()),
                None => return,
            },
        }
    }
}

/// Sends one datagram on its way, where its socket says.
async fn transmit(datagram: &Datagram) {
    // UDP is best effort: a send that fails is a datagram lost, as on a real link.
    let _ = match datagram.to {
        Some(to) => datagram.via.send_to(&datagram.payload, to).await,
        None => datagram.via.send(&datagram.payload).await,
    };
}
