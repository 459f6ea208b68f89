//! What the kernel knows about a TCP socket that the application does not see: its own RTT
//! estimate, the congestion window, retransmissions, the peer's advertised window, the bytes
//! waiting in each queue and the TCP state, as `ss -ti` shows them (`TCP_INFO`, `SIOCINQ`,
//! `SIOCOUTQ`; Linux only, elsewhere every read says [`Unavailable::NotOnThisSystem`]).
//!
//! A listening socket's accept queue is read the same way ([`accept_queue()`]).
//!
//! Nothing here is on the echo path: a socket is asked when a view on screen wants it (at
//! most a few times a second), once a second for the server's roster, and at the moments a
//! close lesson is about (a FIN sent or received); the listener at most ten times a second.

mod accept_queue;
pub mod congestion;
mod shared;
#[cfg(target_os = "linux")]
mod sys;

use std::fmt;
use std::io;
use std::os::fd::BorrowedFd;
use std::time::Duration;

pub use accept_queue::{AcceptQueue, accept_queue};
pub use congestion::Congestion;
pub use shared::{Holding, SharedSocket};

/// A TCP connection's state, as the kernel names it (RFC 793's states).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpState {
    Established,
    SynSent,
    SynRecv,
    FinWait1,
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    Closing,
    /// A state this program does not know (a newer kernel's).
    Other(u8),
}

impl TcpState {
    /// The state from `tcpi_state` (`include/net/tcp_states.h`).
    pub fn from_kernel(state: u8) -> Self {
        match state {
            1 => TcpState::Established,
            2 => TcpState::SynSent,
            3 => TcpState::SynRecv,
            4 => TcpState::FinWait1,
            5 => TcpState::FinWait2,
            6 => TcpState::TimeWait,
            7 => TcpState::Close,
            8 => TcpState::CloseWait,
            9 => TcpState::LastAck,
            10 => TcpState::Listen,
            11 => TcpState::Closing,
            other => TcpState::Other(other),
        }
    }
}

impl TcpState {
    /// What being in this state means, in a student's words (for the close lessons).
    pub fn meaning(self) -> &'static str {
        match self {
            TcpState::Established => "data flows both ways",
            TcpState::SynSent => "our SYN is sent, waiting for the peer's",
            TcpState::SynRecv => "the peer's SYN arrived, ours is sent",
            TcpState::FinWait1 => {
                "our FIN is sent (after any data still queued), not yet acknowledged"
            }
            TcpState::FinWait2 => "our FIN is acknowledged; the peer may still send",
            TcpState::TimeWait => {
                "the peer's FIN arrived too; the kernel keeps the connection a while for late segments"
            }
            TcpState::Close => {
                "this socket is done (whichever side's FIN went first leaves a TIME_WAIT entry behind a while)"
            }
            TcpState::CloseWait => "the peer's FIN arrived; we may still send",
            TcpState::LastAck => {
                "our FIN is sent after the peer's; waiting for its acknowledgement"
            }
            TcpState::Listen => "waiting for connections",
            TcpState::Closing => "both FINs crossed on the way",
            TcpState::Other(_) => "a state this program does not know",
        }
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::FinWait1 => "FIN_WAIT1",
            TcpState::FinWait2 => "FIN_WAIT2",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSED",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
            TcpState::Other(n) => return write!(f, "state {n}"),
        })
    }
}

/// The fields of `struct tcp_info` echotui shows, in plain units. Fields a kernel may be too
/// old to give are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpInfo {
    pub state: TcpState,
    /// The kernel's smoothed RTT estimate (`srtt`) and its mean deviation (`rttvar`).
    pub rtt: Duration,
    pub rttvar: Duration,
    /// The lowest RTT the kernel has seen lately (Linux 4.6).
    pub min_rtt: Option<Duration>,
    /// Congestion window, in segments of `snd_mss` bytes.
    pub cwnd: u32,
    /// Largest segment we send (MSS), in bytes.
    pub snd_mss: u32,
    /// Path MTU, in bytes.
    pub pmtu: u32,
    /// Segments sent and not yet acknowledged.
    pub unacked: u32,
    /// Segments retransmitted and not yet acknowledged, and retransmissions since the start.
    pub retrans: u32,
    pub total_retrans: u32,
    /// Retransmission timer backoffs: while the peer's window is 0, the zero-window probes
    /// sent since it closed (the kernel stops counting at `tcp_retries2`, 15).
    pub backoff: u8,
    /// Bytes of ours the peer acknowledged, and bytes we received (Linux 4.1, 4.2).
    pub bytes_acked: Option<u64>,
    pub bytes_received: Option<u64>,
    /// Bytes in the send queue not yet sent at all (Linux 4.6).
    pub notsent_bytes: Option<u32>,
    /// The kernel's estimate of the rate it delivers at, bytes per second (Linux 4.9).
    pub delivery_rate: Option<u64>,
    /// The receive window the peer advertised last, in bytes (Linux 5.4): 0 means it has no
    /// room, because its program is not reading.
    pub peer_window: Option<u32>,
}

/// One look at a socket: `TCP_INFO`, both queues and the congestion control in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketSample {
    pub tcp: TcpInfo,
    /// Bytes written and not yet acknowledged by the peer (sent or not) (`SIOCOUTQ`).
    pub send_queue: Option<u64>,
    /// Bytes arrived and not yet read by the program (`SIOCINQ`).
    pub receive_queue: Option<u64>,
    /// The congestion control algorithm (`TCP_CONGESTION`), e.g. `cubic`.
    pub congestion: Option<String>,
}

impl SocketSample {
    /// Bytes sent and not yet acknowledged: the send queue less what was never sent.
    pub fn unacked_bytes(&self) -> Option<u64> {
        let unsent = u64::from(self.tcp.notsent_bytes?);
        Some(self.send_queue?.saturating_sub(unsent))
    }
}

/// Why a socket could not be asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// `TCP_INFO` is Linux's; this system has no such thing.
    NotOnThisSystem,
    /// There is no socket to ask (not connected, or already closed and given back).
    NoSocket,
    /// The kernel refused, in words.
    Failed(String),
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unavailable::NotOnThisSystem => f.write_str("not available on this system"),
            Unavailable::NoSocket => f.write_str("no socket to ask"),
            Unavailable::Failed(words) => f.write_str(words),
        }
    }
}

impl From<io::Error> for Unavailable {
    fn from(err: io::Error) -> Self {
        match err.kind() {
            io::ErrorKind::Unsupported => Unavailable::NotOnThisSystem,
            _ => Unavailable::Failed(crate::net::describe(&err)),
        }
    }
}

/// What one look at a socket gave.
pub type Sampled = Result<SocketSample, Unavailable>;

/// The figures the server's roster keeps for each connection, and `serve --json` reports
/// when one closes: a few integers, cheap to ask for every connection once a second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSummary {
    pub state: TcpState,
    pub rtt: Duration,
    pub rttvar: Duration,
    pub total_retrans: u32,
}

impl From<&TcpInfo> for TcpSummary {
    fn from(info: &TcpInfo) -> Self {
        Self {
            state: info.state,
            rtt: info.rtt,
            rttvar: info.rttvar,
            total_retrans: info.total_retrans,
        }
    }
}

/// Asks the kernel about a TCP socket: `TCP_INFO`, both queues and the congestion control.
pub fn sample(fd: BorrowedFd<'_>) -> Sampled {
    let tcp = tcp_info(fd)?;
    Ok(SocketSample {
        tcp,
        send_queue: queue(fd, Queue::Send),
        receive_queue: queue(fd, Queue::Receive),
        congestion: congestion::current(fd),
    })
}

/// Only `TCP_INFO`.
pub fn tcp_info(fd: BorrowedFd<'_>) -> Result<TcpInfo, Unavailable> {
    #[cfg(target_os = "linux")]
    return sys::tcp_info(fd).map_err(Unavailable::from);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = fd;
        Err(Unavailable::NotOnThisSystem)
    }
}

/// The socket's state alone, for the close lessons (`None` where it cannot be asked).
pub fn state(fd: BorrowedFd<'_>) -> Option<TcpState> {
    tcp_info(fd).ok().map(|info| info.state)
}

/// The roster's figures for a socket (`None` where it cannot be asked).
pub fn summary(fd: BorrowedFd<'_>) -> Option<TcpSummary> {
    tcp_info(fd).ok().map(|info| TcpSummary::from(&info))
}

enum Queue {
    Send,
    Receive,
}

fn queue(fd: BorrowedFd<'_>, which: Queue) -> Option<u64> {
    #[cfg(target_os = "linux")]
    return match which {
        Queue::Send => sys::send_queue(fd),
        Queue::Receive => sys::receive_queue(fd),
    }
    .ok();
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (fd, which);
        None
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsFd;

    use super::*;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        client.set_nodelay(true).unwrap();
        (client, server)
    }

    fn look(stream: &TcpStream) -> SocketSample {
        sample(stream.as_fd()).unwrap()
    }

    #[test]
    fn bytes_acked_grow_after_an_echo_and_the_kernel_measured_an_rtt() {
        let (mut client, mut server) = pair();
        let before = look(&client);
        assert_eq!(before.tcp.state, TcpState::Established);
        client.write_all(b"Hello, World!").unwrap();
        let mut buf = [0u8; 13];
        server.read_exact(&mut buf).unwrap();
        server.write_all(&buf).unwrap();
        client.read_exact(&mut buf).unwrap();
        let after = look(&client);
        assert!(after.tcp.bytes_acked > before.tcp.bytes_acked, "{after:?}");
        assert!(after.tcp.bytes_received >= Some(13), "{after:?}");
        assert!(after.tcp.rtt > Duration::ZERO, "{after:?}");
        assert!(after.tcp.cwnd > 0 && after.tcp.snd_mss > 0, "{after:?}");
        assert_eq!((after.send_queue, after.receive_queue), (Some(0), Some(0)));
        assert!(after.congestion.is_some_and(|name| !name.is_empty()));
    }

    #[test]
    fn a_reader_that_stops_fills_its_receive_queue_and_closes_the_window() {
        let (client, server) = pair();
        client.set_nonblocking(true).unwrap();
        let chunk = vec![b'x'; 64 * 1024];
        let mut written = 0u64;
        // Write until the socket takes no more: the server never reads.
        loop {
            match (&client).write(&chunk) {
                Ok(n) => written += n as u64,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) => panic!("{err}"),
            }
        }
        let stuck = look(&client);
        assert!(stuck.send_queue.unwrap() > 0, "{stuck:?}");
        let waiting = look(&server).receive_queue.unwrap();
        assert!(waiting > 0);
        // Every byte is somewhere: still ours (unacknowledged bytes may also have arrived).
        let ours = stuck.send_queue.unwrap();
        assert!(
            ours <= written && ours + waiting >= written,
            "{stuck:?}, {waiting}, {written}"
        );
        // The last ACK the server sent may still advertise a little room; the window reaches
        // 0 once that room is used, which the kernel's zero-window probes then confirm.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while look(&client).tcp.peer_window != Some(0) {
            assert!(std::time::Instant::now() < deadline, "{:?}", look(&client));
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn a_half_close_reads_fin_wait_and_the_peer_close_wait() {
        let (client, server) = pair();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while state(server.as_fd()) != Some(TcpState::CloseWait) {
            assert!(std::time::Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(1));
        }
        let ours = state(client.as_fd()).unwrap();
        assert!(
            matches!(ours, TcpState::FinWait1 | TcpState::FinWait2),
            "{ours}"
        );
        server.shutdown(std::net::Shutdown::Write).unwrap();
        let theirs = state(server.as_fd()).unwrap();
        assert!(
            matches!(theirs, TcpState::LastAck | TcpState::Close),
            "{theirs}"
        );
    }
}
