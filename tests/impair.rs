//! The impairment proxy over real loopback sockets (ARCHITECTURE.md §3, §7).
//!
//! TCP through the proxy to an echo server keeps every byte in order while it is delayed and
//! paced; UDP through it loses, doubles and reorders datagrams as configured, within
//! statistical bounds of six standard deviations. Every socket is on 127.0.0.1 with a port the
//! OS picked, and every await is bounded by `tokio::time::timeout`. Timing assertions are lower
//! bounds only: a busy machine may make the proxy late, never early.

mod common;

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::payloads::{HELLO, patterned};
use common::peers::refusing_addr;
use common::within;
use echotui::net::impair::{self, ImpairControl, ImpairStats, Impairments};
use echotui::units::Percent;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

/// How often a UDP exchange looks at the proxy's drop counter while no reply comes.
const POLL: Duration = Duration::from_millis(2);
/// Round trips in flight at once in a UDP exchange: few enough that no socket buffer on the
/// way can overflow, so every loss is the proxy's doing.
const WINDOW: usize = 32;

/// `millis` milliseconds: impairments read best in the units `--delay` takes.
fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// A percentage written as the user writes it (`"25%"`).
fn percent(text: &str) -> Percent {
    text.parse().expect("valid percentage")
}

/// A link that delays everything by `millis` each way, and does nothing else.
fn delay(millis: u64) -> Impairments {
    Impairments {
        delay: ms(millis),
        ..Impairments::default()
    }
}

/// A proxy running in the background, with its live controls.
struct Proxy {
    addr: SocketAddr,
    control: ImpairControl,
    stats: Arc<ImpairStats>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl Proxy {
    /// A TCP proxy on a free loopback port, impairing the way to `upstream` and back.
    async fn tcp(upstream: SocketAddr, impairments: Impairments) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        Proxy::start(addr, impairments, |receiver, stats, shutdown| {
            tokio::spawn(impair::run_tcp(
                listener, upstream, receiver, stats, shutdown,
            ))
        })
    }

    /// A UDP proxy on a free loopback port, impairing the way to `upstream` and back.
    async fn udp(upstream: SocketAddr, impairments: Impairments) -> Proxy {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let addr = socket.local_addr().expect("local_addr");
        Proxy::start(addr, impairments, |receiver, stats, shutdown| {
            tokio::spawn(impair::run_udp(socket, upstream, receiver, stats, shutdown))
        })
    }

    /// Spawns `run`, the relay for a bound socket, with fresh controls and counters.
    fn start(
        addr: SocketAddr,
        impairments: Impairments,
        run: impl FnOnce(
            tokio::sync::watch::Receiver<Impairments>,
            Arc<ImpairStats>,
            CancellationToken,
        ) -> JoinHandle<()>,
    ) -> Proxy {
        let (control, receiver) = impair::control(impairments);
        let stats = Arc::new(ImpairStats::default());
        let shutdown = CancellationToken::new();
        let task = run(receiver, stats.clone(), shutdown.clone());
        Proxy {
            addr,
            control,
            stats,
            shutdown,
            task,
        }
    }

    /// One of the proxy's counters, as it stands now.
    fn counted(&self, counter: impl Fn(&ImpairStats) -> &std::sync::atomic::AtomicU64) -> u64 {
        counter(&self.stats).load(Ordering::Relaxed)
    }

    /// Cancels the proxy and waits until `run_*` has returned (every task gone).
    async fn stop(self) -> SocketAddr {
        self.shutdown.cancel();
        within("proxy shutdown", self.task)
            .await
            .expect("proxy task panicked");
        self.addr
    }
}

// ---------------------------------------------------------------------------------------------
// TCP

/// An RFC 862 echo server: echoes each connection until the peer's FIN, then sends its own.
async fn tcp_echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut reader, mut writer) = stream.split();
                let _ = tokio::io::copy(&mut reader, &mut writer).await;
                let _ = writer.shutdown().await;
            });
        }
    });
    addr
}

/// A client connection to `addr`, Nagle off so the proxy alone decides when bytes move.
async fn tcp_connect(addr: SocketAddr) -> TcpStream {
    let stream = within("connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// A proxy impairing `link` in front of a fresh echo server, and a client connected through
/// it: the setting of most TCP tests here.
async fn tcp_through(link: Impairments) -> (Proxy, TcpStream) {
    let proxy = Proxy::tcp(tcp_echo_server().await, link).await;
    let stream = tcp_connect(proxy.addr).await;
    (proxy, stream)
}

/// Sends `message`, reads its echo, checks it and returns the round-trip time.
async fn round_trip(stream: &mut TcpStream, message: &[u8]) -> Duration {
    let started = Instant::now();
    within("write", stream.write_all(message))
        .await
        .expect("write");
    let mut echo = vec![0u8; message.len()];
    within("echo", stream.read_exact(&mut echo))
        .await
        .expect("read echo");
    let rtt = started.elapsed();
    assert!(echo == message, "the echo differs from what was sent");
    rtt
}

#[tokio::test]
async fn tcp_keeps_every_byte_in_order_under_delay_and_jitter() {
    let link = Impairments {
        delay: ms(1),
        jitter: ms(1),
        ..Impairments::default()
    };
    let (proxy, stream) = tcp_through(link).await;
    // Random bytes: any lost, doubled or swapped slice would be a mismatch.
    let mut rng = fastrand::Rng::with_seed(862);
    let data: Vec<u8> = std::iter::repeat_with(|| rng.u8(..))
        .take(1_000_000)
        .collect();

    let (mut reader, mut writer) = stream.into_split();
    let sending = data.clone();
    let writing = tokio::spawn(async move {
        for piece in sending.chunks(10_000) {
            writer.write_all(piece).await?;
        }
        writer.shutdown().await
    });
    let mut echoed = Vec::with_capacity(data.len());
    within("1 MB echo", reader.read_to_end(&mut echoed))
        .await
        .expect("read echo");
    within("writer", writing)
        .await
        .expect("writer panicked")
        .expect("write");

    assert_eq!(echoed.len(), data.len());
    let first_difference = echoed.iter().zip(&data).position(|(a, b)| a != b);
    assert_eq!(first_difference, None, "bytes differ from offset");
    assert!(proxy.counted(|s| &s.delayed) > 0);
}

#[tokio::test]
async fn tcp_delay_applies_to_each_direction() {
    let (_proxy, mut stream) = tcp_through(delay(20)).await;
    let rtt = round_trip(&mut stream, HELLO).await;
    assert!(rtt >= ms(40), "RTT {rtt:?} under 2 × 20 ms");
}

#[tokio::test]
async fn tcp_rate_paces_the_bytes() {
    let link = Impairments {
        rate: Some(100_000),
        ..Impairments::default()
    };
    let (_proxy, mut stream) = tcp_through(link).await;
    // 50 kB at 100 kB/s take 0.5 s to cross in one direction alone; the echo can only be later.
    let rtt = round_trip(&mut stream, &vec![b'x'; 50_000]).await;
    assert!(rtt >= ms(400), "50 kB echoed in {rtt:?} at 100 kB/s");
}

#[tokio::test]
async fn tcp_impairments_change_live_for_the_next_message() {
    let (proxy, mut stream) = tcp_through(Impairments::default()).await;
    round_trip(&mut stream, HELLO).await;

    let slow = Impairments {
        delay: ms(30),
        ..Impairments::default()
    };
    proxy.control.set(slow);
    assert_eq!(proxy.control.get(), slow);
    let rtt = round_trip(&mut stream, HELLO).await;
    assert!(
        rtt >= ms(60),
        "RTT {rtt:?} under 2 × 30 ms after the change"
    );
}

#[tokio::test]
async fn tcp_half_close_passes_pending_bytes_then_eof() {
    let (_proxy, mut stream) = tcp_through(delay(10)).await;
    within("write", stream.write_all(b"pending bytes"))
        .await
        .expect("write");
    // Our FIN travels behind the delayed bytes; the server's FIN comes back behind the echo.
    within("half-close", stream.shutdown())
        .await
        .expect("shutdown");
    let mut echoed = Vec::new();
    within("echo then EOF", stream.read_to_end(&mut echoed))
        .await
        .expect("read");
    assert_eq!(echoed, b"pending bytes");
}

/// Asserts that the proxy reset the client's connection: its next read fails so.
async fn assert_reset(stream: &mut TcpStream) {
    let mut buf = [0u8; 16];
    let read = within("reset", stream.read(&mut buf)).await;
    assert_eq!(
        read.map_err(|err| err.kind()),
        Err(io::ErrorKind::ConnectionReset)
    );
}

#[tokio::test]
async fn tcp_refused_upstream_resets_the_client() {
    let proxy = Proxy::tcp(refusing_addr(), Impairments::default()).await;
    let mut stream = tcp_connect(proxy.addr).await;
    assert_reset(&mut stream).await;
}

#[tokio::test]
async fn tcp_reset_by_the_server_resets_the_client() {
    // A peer that reads one message, then aborts the connection (RST).
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let upstream = listener.local_addr().expect("local_addr");
    tokio::spawn(async move {
        if let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 64];
            let _ = stream.read(&mut buf).await;
            let _ = stream.set_zero_linger();
        }
    });
    let proxy = Proxy::tcp(upstream, Impairments::default()).await;
    let mut stream = tcp_connect(proxy.addr).await;
    within("write", stream.write_all(HELLO))
        .await
        .expect("write");
    assert_reset(&mut stream).await;
}

#[tokio::test]
async fn tcp_shutdown_ends_every_task_and_frees_the_port() {
    let (proxy, mut stream) = tcp_through(delay(10)).await;
    round_trip(&mut stream, HELLO).await;
    // A message still on its way when the proxy stops.
    within("write", stream.write_all(HELLO))
        .await
        .expect("write");

    let addr = proxy.stop().await;
    // The connection ends (EOF or reset; either way, not a hang).
    let mut rest = Vec::new();
    let _ = within("connection end", stream.read_to_end(&mut rest)).await;
    TcpListener::bind(addr)
        .await
        .expect("the proxy's port is free again");
}

// ---------------------------------------------------------------------------------------------
// UDP

/// A UDP echo server as a student writes it: every datagram straight back to its sender.
async fn udp_echo_server() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let addr = socket.local_addr().expect("local_addr");
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        loop {
            if let Ok((n, from)) = socket.recv_from(&mut buf).await {
                let _ = socket.send_to(&buf[..n], from).await;
            }
        }
    });
    addr
}

/// A UDP socket connected to `proxy`: it sends there and hears from nowhere else.
async fn udp_client(proxy: SocketAddr) -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    socket.connect(proxy).await.expect("connect");
    socket
}

/// [`tcp_through`] for UDP: a proxy impairing `link` in front of a fresh echo server, and a
/// client socket connected to the proxy.
async fn udp_through(link: Impairments) -> (Proxy, UdpSocket) {
    let proxy = Proxy::udp(udp_echo_server().await, link).await;
    let client = udp_client(proxy.addr).await;
    (proxy, client)
}

/// Sends datagrams numbered `0..count` through the proxy and returns the numbers of the
/// replies in arrival order. A round trip is over when `copies` replies came back or the proxy
/// counted it dropped; at most [`WINDOW`] are in flight, so nothing but the proxy loses any.
async fn numbered_round_trips(
    client: &UdpSocket,
    stats: &ImpairStats,
    count: u32,
    copies: usize,
) -> Vec<u32> {
    within("numbered round trips", async {
        let mut arrivals = Vec::new();
        let mut sent = 0u32;
        let mut buf = [0u8; 16];
        loop {
            let dropped = stats.dropped.load(Ordering::Relaxed) as usize;
            let resolved = arrivals.len() / copies + dropped;
            if resolved >= count as usize {
                return arrivals;
            }
            if sent < count && (sent as usize).saturating_sub(resolved) < WINDOW {
                client.send(&sent.to_be_bytes()).await.expect("send");
                sent += 1;
                continue;
            }
            // Wake now and then even without a reply: a drop sends nothing back.
            if let Ok(received) = timeout(POLL, client.recv(&mut buf)).await {
                let n = received.expect("recv");
                let seq = buf[..n].try_into().expect("a 4-byte sequence number");
                arrivals.push(u32::from_be_bytes(seq));
            }
        }
    })
    .await
}

/// How many times each sequence number came back.
fn tally(arrivals: &[u32]) -> BTreeMap<u32, usize> {
    let mut counts = BTreeMap::new();
    for seq in arrivals {
        *counts.entry(*seq).or_default() += 1;
    }
    counts
}

/// The tally of an exchange where every datagram came back exactly once.
fn once_each(count: u32) -> BTreeMap<u32, usize> {
    (0..count).map(|seq| (seq, 1)).collect()
}

/// Asserts that nothing more arrives for a while (absence needs a wait; it is kept short).
async fn assert_quiet(client: &UdpSocket, wait: Duration) {
    let mut buf = [0u8; 16];
    let extra = timeout(wait, client.recv(&mut buf)).await;
    assert!(extra.is_err(), "unexpected datagram: {extra:?}");
}

#[tokio::test]
async fn udp_without_impairments_every_datagram_returns_once() {
    let (proxy, client) = udp_through(Impairments::default()).await;
    let arrivals = numbered_round_trips(&client, &proxy.stats, 200, 1).await;
    assert_eq!(tally(&arrivals), once_each(200));
}

#[tokio::test]
async fn udp_total_loss_returns_nothing() {
    let link = Impairments {
        loss: percent("100%"),
        ..Impairments::default()
    };
    let (proxy, client) = udp_through(link).await;
    for seq in 0..20u32 {
        client.send(&seq.to_be_bytes()).await.expect("send");
    }
    within("20 drops counted", async {
        while proxy.counted(|s| &s.dropped) < 20 {
            tokio::time::sleep(POLL).await;
        }
    })
    .await;
    assert_quiet(&client, ms(200)).await;
}

#[tokio::test]
async fn udp_loss_applies_to_each_direction() {
    let link = Impairments {
        loss: percent("50%"),
        ..Impairments::default()
    };
    let (proxy, client) = udp_through(link).await;
    let count = 2000;
    let arrivals = numbered_round_trips(&client, &proxy.stats, count, 1).await;

    // A round trip survives two 50% losses: binomial(2000, 0.25), mean 500, sigma 19.4.
    let survival = 0.5 * 0.5;
    let mean = f64::from(count) * survival;
    let sigma = (f64::from(count) * survival * (1.0 - survival)).sqrt();
    let survivors = arrivals.len() as f64;
    assert!(
        (survivors - mean).abs() <= 6.0 * sigma,
        "{survivors} of {count} round trips survived; expected {mean} ± 6 × {sigma:.1}"
    );
    assert!(tally(&arrivals).values().all(|&n| n == 1), "a duplicate");
    assert_eq!(
        proxy.counted(|s| &s.dropped),
        u64::from(count) - arrivals.len() as u64
    );
}

#[tokio::test]
async fn udp_duplicate_applies_to_each_direction() {
    let link = Impairments {
        duplicate: percent("100%"),
        ..Impairments::default()
    };
    let (proxy, client) = udp_through(link).await;
    let count = 100;
    // Doubled on the way there, each copy echoed, each echo doubled on the way back.
    let arrivals = numbered_round_trips(&client, &proxy.stats, count, 4).await;
    assert_eq!(arrivals.len(), 4 * count as usize);
    let tally = tally(&arrivals);
    assert_eq!(tally.len(), count as usize);
    assert!(tally.values().all(|&n| n == 4), "copies per seq: {tally:?}");
    // One extra copy per datagram out, and per echo back (of which there are two per datagram).
    assert_eq!(proxy.counted(|s| &s.duplicated), 3 * u64::from(count));
    assert_quiet(&client, ms(100)).await;
}

#[tokio::test]
async fn udp_reorder_under_a_delay_overtakes_but_loses_none() {
    // netem's model: a reordered datagram skips the delay the others wait, so it overtakes
    // those still queued. A window of 32 in flight keeps plenty queued to overtake.
    let link = Impairments {
        delay: ms(20),
        reorder: percent("25%"),
        ..Impairments::default()
    };
    let (proxy, client) = udp_through(link).await;
    let count = 200;
    let arrivals = numbered_round_trips(&client, &proxy.stats, count, 1).await;
    assert_eq!(tally(&arrivals), once_each(count));
    let overtaken = arrivals.windows(2).filter(|pair| pair[1] < pair[0]).count();
    assert!(overtaken > 0, "no datagram arrived out of order");
    assert!(proxy.counted(|s| &s.reordered) > 0);
}

#[tokio::test]
async fn udp_reorder_without_a_delay_keeps_the_order() {
    // Nothing waits, so nothing can be overtaken (netem refuses this setting outright).
    let link = Impairments {
        reorder: percent("100%"),
        ..Impairments::default()
    };
    assert!(link.reorder_needs_delay());
    let (proxy, client) = udp_through(link).await;
    for seq in 0..20u32 {
        client.send(&seq.to_be_bytes()).await.expect("send");
    }
    let mut buf = [0u8; 16];
    let mut arrivals = Vec::new();
    while arrivals.len() < 20 {
        let n = within("echo", client.recv(&mut buf)).await.expect("recv");
        let seq = buf[..n].try_into().expect("a 4-byte sequence number");
        arrivals.push(u32::from_be_bytes(seq));
    }
    assert_eq!(arrivals, (0..20).collect::<Vec<_>>());
    assert_eq!(proxy.counted(|s| &s.reordered), 0);
}

#[tokio::test]
async fn udp_delay_applies_to_each_direction() {
    let (_proxy, client) = udp_through(delay(20)).await;
    let started = Instant::now();
    client.send(HELLO).await.expect("send");
    let mut buf = [0u8; 64];
    let n = within("echo", client.recv(&mut buf)).await.expect("recv");
    let rtt = started.elapsed();
    assert_eq!(&buf[..n], HELLO);
    assert!(rtt >= ms(40), "RTT {rtt:?} under 2 × 20 ms");
}

#[tokio::test]
async fn udp_largest_and_empty_datagrams_pass_intact() {
    let (_proxy, client) = udp_through(delay(1)).await;
    let mut buf = vec![0u8; 65_536];
    let largest = patterned(65_507);
    for datagram in [&largest[..], &[][..], HELLO] {
        client.send(datagram).await.expect("send");
        let n = within("echo", client.recv(&mut buf)).await.expect("recv");
        assert_eq!(n, datagram.len());
        assert!(&buf[..n] == datagram, "a {n}-byte datagram changed");
    }
}

#[tokio::test]
async fn udp_shutdown_ends_every_task_and_frees_the_port() {
    let (proxy, client) = udp_through(Impairments::default()).await;
    numbered_round_trips(&client, &proxy.stats, 10, 1).await;
    let addr = proxy.stop().await;
    UdpSocket::bind(addr)
        .await
        .expect("the proxy's port is free again");
}
