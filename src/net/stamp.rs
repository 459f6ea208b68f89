//! Reads timed by the kernel: `SO_TIMESTAMPING` software receive timestamps, read with
//! `recvmsg`, as `ping(8)` takes its arrival times. An RTT then ends when the kernel received
//! the echo's last segment (for TCP, the last segment of that read), not when our process
//! woke up to read it: that wake-up is our own cost, not the network's.
//!
//! The kernel's timestamps are wall-clock (`CLOCK_REALTIME`) times; RTTs use the monotonic
//! [`Instant`]. Each read takes both clocks right after it returns and moves the arrival back
//! by how long ago the kernel says it was, so an arrival is never later than our own reading
//! (a kernel RTT is never above the user-space one for the same echo). A read without a
//! timestamp keeps our own reading, and says so, so callers can count how often.

use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::socket::{MsgFlags, SockaddrLike, SockaddrStorage, recvmsg};
use tokio::io::Interest;

use crate::stats::Clock;

/// A kernel timestamp older than this when we read it is not believed (the wall clock was
/// probably stepped meanwhile): that read is timed by our clock instead.
const MAX_LAG: Duration = Duration::from_secs(60);

/// When one read's bytes arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// Right after the read returned, by our clock.
    pub user: Instant,
    /// When the kernel received them (`None`: it gave no usable timestamp).
    pub kernel: Option<Instant>,
}

impl Arrival {
    /// The arrival an RTT ends at: the kernel's when it gave one.
    pub fn at(&self) -> Instant {
        self.kernel.unwrap_or(self.user)
    }

    /// The clock [`Arrival::at`] comes from.
    pub fn clock(&self) -> Clock {
        match self.kernel {
            Some(_) => Clock::Kernel,
            None => Clock::User,
        }
    }
}

/// Reads one socket, timestamped by the kernel when it can be, else by our clock alone (and
/// then with a plain `recv`, so the user-space clock costs no more than it did without us).
#[derive(Debug)]
pub struct StampedReader {
    /// Room for the timestamp's control message, reused by every read.
    control: Vec<u8>,
    clock: Clock,
}

impl StampedReader {
    /// A reader for `socket`: with `Clock::Kernel`, turns on the kernel's receive timestamps
    /// (falling back to ours where the system has none).
    pub fn new(socket: BorrowedFd<'_>, wanted: Clock) -> Self {
        Self {
            control: control_space(),
            clock: ask(socket, wanted),
        }
    }

    /// The clock reads are timed by (per read, [`Arrival::clock`] says which one did).
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// One `recv` on `socket`: blocking or not, as the socket is.
    pub fn recv(&mut self, socket: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<(usize, Arrival)> {
        if self.clock == Clock::User {
            // No control message to ask for: the plain call, so the user-space clock costs
            // no more than it did without us.
            let n = nix::sys::socket::recv(socket.as_raw_fd(), buf, MsgFlags::empty())?;
            let user = Instant::now();
            return Ok((n, Arrival { user, kernel: None }));
        }
        self.recv_msg::<()>(socket, buf)
            .map(|(n, _, arrival)| (n, arrival))
    }

    /// One `recvfrom` on an unconnected UDP socket: the datagram, who sent it, and when.
    pub fn recv_from(
        &mut self,
        socket: BorrowedFd<'_>,
        buf: &mut [u8],
    ) -> io::Result<(usize, SocketAddr, Arrival)> {
        let (n, from, arrival) = self.recv_msg::<SockaddrStorage>(socket, buf)?;
        let from = from
            .and_then(|from| socket_addr(&from))
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no IP source address"))?;
        Ok((n, from, arrival))
    }

    /// `recvmsg`, with the timestamp's control message when the clock is the kernel's, and
    /// the source address as `S` (`()`: not asked).
    fn recv_msg<S: SockaddrLike>(
        &mut self,
        socket: BorrowedFd<'_>,
        buf: &mut [u8],
    ) -> io::Result<(usize, Option<S>, Arrival)> {
        let mut iov = [IoSliceMut::new(buf)];
        let control = (self.clock == Clock::Kernel).then_some(self.control.as_mut_slice());
        let msg = recvmsg::<S>(socket.as_raw_fd(), &mut iov, control, MsgFlags::empty())?;
        // Wall clock first: any gap between the two readings then moves the arrival later,
        // towards our own reading, never earlier than the truth.
        let wall = SystemTime::now();
        let user = Instant::now();
        let kernel = match self.clock {
            Clock::Kernel => kernel_time(&msg).and_then(|stamped| {
                let lag = wall.duration_since(stamped).unwrap_or(Duration::ZERO);
                (lag <= MAX_LAG).then(|| user.checked_sub(lag)).flatten()
            }),
            Clock::User => None,
        };
        Ok((msg.bytes, msg.address, Arrival { user, kernel }))
    }

    /// One read from a tokio socket, waiting until it is readable. Cancel-safe: either the
    /// bytes were read (and returned) or nothing was.
    pub async fn read(
        &mut self,
        socket: &impl Pollable,
        buf: &mut [u8],
    ) -> io::Result<(usize, Arrival)> {
        std::future::poll_fn(|cx| poll_read(socket, cx, || self.recv(socket.as_fd(), buf))).await
    }

    /// One datagram from an unconnected tokio UDP socket, as [`StampedReader::read`].
    pub async fn read_from(
        &mut self,
        socket: &tokio::net::UdpSocket,
        buf: &mut [u8],
    ) -> io::Result<(usize, SocketAddr, Arrival)> {
        std::future::poll_fn(|cx| poll_read(socket, cx, || self.recv_from(socket.as_fd(), buf)))
            .await
    }
}

/// Waits until `socket` is readable, then runs `read` on it without blocking; again while
/// tokio's readiness was stale (the read would block).
fn poll_read<R>(
    socket: &impl Pollable,
    cx: &mut Context<'_>,
    mut read: impl FnMut() -> io::Result<R>,
) -> Poll<io::Result<R>> {
    loop {
        std::task::ready!(socket.poll_read_ready(cx))?;
        match socket.try_read_with(&mut read) {
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
            done => return Poll::Ready(done),
        }
    }
}

/// A source address as the standard library's type (`None` for a non-IP family).
fn socket_addr(from: &SockaddrStorage) -> Option<SocketAddr> {
    from.as_sockaddr_in()
        .map(|v4| SocketAddr::from(std::net::SocketAddrV4::from(*v4)))
        .or_else(|| {
            from.as_sockaddr_in6()
                .map(|v6| SocketAddr::from(std::net::SocketAddrV6::from(*v6)))
        })
}

/// Asks the kernel to timestamp `socket`'s arrivals when `wanted` is its clock (it stays so
/// for the socket's life); the clock its reads will be timed by.
pub fn ask(socket: BorrowedFd<'_>, wanted: Clock) -> Clock {
    match wanted {
        Clock::Kernel if enable(socket) => Clock::Kernel,
        _ => Clock::User,
    }
}

/// How long [`wait_until_stamping`] waits for the kernel, at most.
pub const STAMPING_WAIT: Duration = Duration::from_millis(500);

/// Blocks until the kernel timestamps arrivals, at most [`STAMPING_WAIT`]; whether it does.
///
/// Linux turns receive timestamps on for the whole system lazily, from a work queue, when the
/// first socket asks (and off again when the last one closes), so for a while the packets of
/// a socket that asked arrive without one: on a busy CPU, thousands of echoes. `ping` and
/// `bench`, which stop everything else to measure, wait here first, once a socket of theirs
/// has asked (which keeps timestamps on), by sending themselves datagrams until one comes
/// back timestamped. (The UI does not wait: its first echoes may be timed by our clock, and
/// are counted.)
pub fn wait_until_stamping() -> bool {
    let deadline = Instant::now() + STAMPING_WAIT;
    let Ok(socket) = std::net::UdpSocket::bind((std::net::Ipv4Addr::LOCALHOST, 0)) else {
        return false;
    };
    let mut reader = StampedReader::new(socket.as_fd(), Clock::Kernel);
    let ready = socket
        .local_addr()
        .and_then(|me| socket.connect(me))
        .and_then(|()| socket.set_read_timeout(Some(Duration::from_millis(10))));
    if reader.clock() != Clock::Kernel || ready.is_err() {
        return false;
    }
    let mut buf = [0u8; 8];
    while Instant::now() < deadline {
        if socket.send(b"stamp?").is_err() {
            return false;
        }
        if let Ok((_, arrival)) = reader.recv(socket.as_fd(), &mut buf)
            && arrival.kernel.is_some()
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}

/// A tokio socket [`StampedReader::read`] can wait on: TCP streams and UDP sockets. The wait
/// is the socket's own read-readiness slot (as `AsyncRead` uses), not a `readable()` future,
/// which queues a waiter under a lock each time it waits: measurably slower per echo.
pub trait Pollable: AsFd {
    /// Ready when tokio's reactor says the socket may have something to read.
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// Runs a non-blocking read, clearing tokio's readiness when it would block.
    fn try_read_with<R>(&self, read: impl FnOnce() -> io::Result<R>) -> io::Result<R>;
}

impl Pollable for tokio::net::TcpStream {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        tokio::net::TcpStream::poll_read_ready(self, cx)
    }

    fn try_read_with<R>(&self, read: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        self.try_io(Interest::READABLE, read)
    }
}

impl Pollable for tokio::net::UdpSocket {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_recv_ready(cx)
    }

    fn try_read_with<R>(&self, read: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        self.try_io(Interest::READABLE, read)
    }
}

/// Asks for software receive timestamps; whether the kernel agreed.
#[cfg(target_os = "linux")]
fn enable(socket: BorrowedFd<'_>) -> bool {
    use nix::sys::socket::{TimestampingFlag as Flag, setsockopt, sockopt::Timestamping};
    let flags = Flag::SOF_TIMESTAMPING_RX_SOFTWARE | Flag::SOF_TIMESTAMPING_SOFTWARE;
    setsockopt(&socket, Timestamping, &flags).is_ok()
}

#[cfg(not(target_os = "linux"))]
fn enable(_: BorrowedFd<'_>) -> bool {
    false
}

#[cfg(target_os = "linux")]
fn control_space() -> Vec<u8> {
    nix::cmsg_space!(nix::sys::socket::Timestamps)
}

#[cfg(not(target_os = "linux"))]
fn control_space() -> Vec<u8> {
    Vec::new()
}

/// The software receive timestamp in a message's control data, as a wall-clock time.
#[cfg(target_os = "linux")]
fn kernel_time<S>(msg: &nix::sys::socket::RecvMsg<'_, '_, S>) -> Option<SystemTime> {
    use nix::sys::socket::ControlMessageOwned;
    msg.cmsgs().ok()?.find_map(|cmsg| match cmsg {
        ControlMessageOwned::ScmTimestampsns(stamps) => {
            let (secs, nanos) = (stamps.system.tv_sec(), stamps.system.tv_nsec());
            // All zero: no software timestamp (only a hardware one was asked elsewhere).
            let since_epoch = Duration::new(u64::try_from(secs).ok()?, u32::try_from(nanos).ok()?);
            (!since_epoch.is_zero()).then(|| UNIX_EPOCH + since_epoch)
        }
        _ => None,
    })
}

#[cfg(not(target_os = "linux"))]
fn kernel_time<S>(_: &nix::sys::socket::RecvMsg<'_, '_, S>) -> Option<SystemTime> {
    None
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::{TcpListener, TcpStream, UdpSocket};

    use super::*;

    fn tcp_pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    // The kernel switches timestamps on for the whole system lazily (a deferred static key),
    // so the first reads after the first socket asks may come without one: those fall back,
    // until `wait_until_stamping` has seen them on (our socket then keeps them on).
    #[cfg(target_os = "linux")]
    #[test]
    fn the_kernel_arrival_is_never_after_our_own_reading_and_never_before_the_send() {
        let (client, mut server) = tcp_pair();
        let mut reader = StampedReader::new(client.as_fd(), Clock::Kernel);
        assert_eq!(reader.clock(), Clock::Kernel);
        assert!(wait_until_stamping());
        let mut buf = [0u8; 64];
        let mut stamped = 0;
        for _ in 0..200 {
            let sent = Instant::now();
            server.write_all(b"Hello, World!").unwrap();
            let (n, arrival) = reader.recv(client.as_fd(), &mut buf).unwrap();
            assert_eq!(n, 13);
            assert_eq!(arrival.at(), arrival.kernel.unwrap_or(arrival.user));
            let Some(kernel) = arrival.kernel else {
                continue;
            };
            stamped += 1;
            assert!(kernel <= arrival.user, "{arrival:?}");
            assert!(kernel >= sent, "arrived before it was sent: {arrival:?}");
            assert_eq!(arrival.clock(), Clock::Kernel);
        }
        assert!(
            stamped > 100,
            "only {stamped} of 200 reads had a kernel timestamp"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn udp_datagrams_are_timestamped_too() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut reader = StampedReader::new(b.as_fd(), Clock::Kernel);
        let stamped = (0..100).find_map(|_| {
            a.send_to(b"ping", b.local_addr().unwrap()).unwrap();
            let (n, arrival) = reader.recv(b.as_fd(), &mut [0u8; 16]).unwrap();
            assert_eq!(n, 4);
            arrival.kernel.map(|kernel| (kernel, arrival.user))
        });
        let (kernel, user) = stamped.expect("a datagram with a kernel timestamp");
        assert!(kernel <= user);
    }

    #[test]
    fn an_unconnected_socket_learns_who_sent_each_datagram() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        for clock in [Clock::Kernel, Clock::User] {
            let mut reader = StampedReader::new(b.as_fd(), clock);
            a.send_to(b"who?", b.local_addr().unwrap()).unwrap();
            let mut buf = [0u8; 16];
            let (n, from, arrival) = reader.recv_from(b.as_fd(), &mut buf).unwrap();
            assert_eq!((&buf[..n], from), (&b"who?"[..], a.local_addr().unwrap()));
            assert!(arrival.at() <= arrival.user);
        }
    }

    #[test]
    fn the_user_clock_is_a_plain_read() {
        let (client, mut server) = tcp_pair();
        let mut reader = StampedReader::new(client.as_fd(), Clock::User);
        server.write_all(b"abc").unwrap();
        let (n, arrival) = reader.recv(client.as_fd(), &mut [0u8; 8]).unwrap();
        assert_eq!((n, arrival.kernel, arrival.clock()), (3, None, Clock::User));
    }

    #[tokio::test]
    async fn tokio_sockets_wait_until_readable() {
        let (client, mut server) = tcp_pair();
        client.set_nonblocking(true).unwrap();
        let client = tokio::net::TcpStream::from_std(client).unwrap();
        let mut reader = StampedReader::new(client.as_fd(), Clock::Kernel);
        let writer = std::thread::spawn(move || server.write_all(b"late").unwrap());
        let (n, arrival) = reader.read(&client, &mut [0u8; 8]).await.unwrap();
        writer.join().unwrap();
        assert_eq!(n, 4);
        assert!(arrival.at() <= arrival.user);
    }
}
