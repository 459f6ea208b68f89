//! The network core: echo server, echo client, and the events they report.
//!
//! Knows nothing of ratatui, crossterm or clap. Everything it learns is reported as a
//! [`NetEvent`]; everything it is asked to do arrives as a [`ClientCommand`].

pub mod census;
pub mod client;
pub mod event;
pub mod framing;
pub mod impair;
pub mod interfaces;
pub mod practice;
pub mod serve;
pub mod server;
pub mod sockinfo;
pub mod stamp;
pub mod throttle;
mod timer;
pub mod udp;

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};

pub use client::{ClientCommand, ClientHandle, ClientSettings, Message};
pub use event::{
    ClientEvent, CloseReason, ConnId, EventSink, EventStream, NetEvent, Refused, ServerEvent,
    ServerEventKind,
};
pub use server::{
    Behaviour, Limit, Limits, ServerCommand, ServerControl, ServerModel, ServerSettings,
};

/// The transport a client or server speaks: the echo protocol is defined over both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    #[default]
    Tcp,
    Udp,
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Tcp => "TCP",
            Transport::Udp => "UDP",
        })
    }
}

/// Read buffer of the classic tutorial server (`recv(1024)`), our default.
pub const DEFAULT_READ_SIZE: usize = 1024;
/// Largest message a client sends at once (`/size`, `ping -s`, `bench -s`): large enough to
/// show segmentation and flow control, small enough to stay a message.
pub const MAX_MESSAGE_SIZE: usize = 1 << 20;
/// Largest server read buffer we accept: the largest TCP window a `recv` can usefully fill.
pub const MAX_READ_SIZE: usize = 65536;

/// Why a network operation failed, with the address it was about.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("cannot resolve {target}: {reason}")]
    Resolve { target: String, reason: String },
    #[error("cannot listen on {addr}: {}", describe(.cause))]
    Listen { addr: SocketAddr, cause: io::Error },
    #[error("cannot connect to {addr}: {}", describe(.cause))]
    Connect { addr: SocketAddr, cause: io::Error },
    #[error("cannot connect to {addr}: timed out after {}", humantime::format_duration(*.after))]
    ConnectTimeout { addr: SocketAddr, after: Duration },
}

impl NetError {
    /// The connection state a failed connect leaves the client in.
    pub fn close_reason(&self) -> CloseReason {
        match self {
            NetError::Connect { cause, .. } => CloseReason::from_io(cause),
            NetError::ConnectTimeout { .. } => CloseReason::TimedOut,
            NetError::Resolve { reason, .. } => CloseReason::Error(reason.clone()),
            NetError::Listen { cause, .. } => CloseReason::Error(describe(cause)),
        }
    }
}

/// An OS error in the words of the `error:` line: lower case, without "(os error 111)".
pub fn describe(err: &io::Error) -> String {
    use io::ErrorKind::*;
    let words = match err.kind() {
        ConnectionRefused => "connection refused",
        ConnectionReset => "connection reset by peer",
        ConnectionAborted => "connection aborted",
        AddrInUse => "address in use",
        AddrNotAvailable => "address not available on this machine",
        PermissionDenied => "permission denied",
        TimedOut => "timed out",
        HostUnreachable => "host unreachable",
        NetworkUnreachable => "network unreachable",
        BrokenPipe => "broken pipe",
        _ => {
            let text = err.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text);
            let mut chars = text.chars();
            return match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => text.to_owned(),
            };
        }
    };
    words.to_owned()
}

/// Resolves `HOST:PORT` (names, `localhost`, `[::1]:7`) to the first address the system gives.
pub async fn resolve(target: &str) -> Result<SocketAddr, NetError> {
    let fail = |reason: String| NetError::Resolve {
        target: target.to_owned(),
        reason,
    };
    let mut addrs = tokio::net::lookup_host(target)
        .await
        .map_err(|e| fail(describe(&e)))?;
    addrs
        .next()
        .ok_or_else(|| fail("no address found".to_owned()))
}

/// Binds a TCP listener, with the address in the error.
pub async fn listen(addr: SocketAddr) -> Result<TcpListener, NetError> {
    TcpListener::bind(addr)
        .await
        .map_err(|cause| NetError::Listen { addr, cause })
}

/// Binds a TCP listener whose `listen()` backlog is `backlog`: how many connections the
/// kernel completes and queues for `accept()` (the tutorial's `listen(1)` is 1). Address
/// reuse is on, so a server restarted on the same port binds again at once.
pub(crate) fn listen_with_backlog(addr: SocketAddr, backlog: u32) -> Result<TcpListener, NetError> {
    let fail = |cause| NetError::Listen { addr, cause };
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    }
    .map_err(fail)?;
    socket.set_reuseaddr(true).map_err(fail)?;
    socket.bind(addr).map_err(fail)?;
    socket.listen(backlog).map_err(fail)
}

/// Binds a UDP socket, with the address in the error.
pub(crate) async fn listen_udp(addr: SocketAddr) -> Result<tokio::net::UdpSocket, NetError> {
    tokio::net::UdpSocket::bind(addr)
        .await
        .map_err(|cause| NetError::Listen { addr, cause })
}

/// Connects with a deadline and reports how long the TCP handshake took.
///
/// The handshake is a blocking `connect()` on a blocking-pool thread, timed around the system
/// call alone: that is the figure a user means by "connect time". Timing an async connect
/// would add however long the runtime takes to notice the socket became writable (on a cold
/// start, milliseconds), which says nothing about the network.
///
/// `nodelay` turns Nagle's algorithm off (`TCP_NODELAY`), our default because we measure latency.
pub async fn connect(
    addr: SocketAddr,
    nodelay: bool,
    timeout: Duration,
) -> Result<(TcpStream, Duration), NetError> {
    let fail = |cause| NetError::Connect { addr, cause };
    let (connected, took) = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let connected = std::net::TcpStream::connect_timeout(&addr, timeout);
        (connected, started.elapsed())
    })
    .await
    .map_err(|join| fail(io::Error::other(join.to_string())))?;
    let stream = match connected {
        Ok(stream) => stream,
        Err(cause) if cause.kind() == io::ErrorKind::TimedOut => {
            return Err(NetError::ConnectTimeout {
                addr,
                after: timeout,
            });
        }
        Err(cause) => return Err(fail(cause)),
    };
    stream.set_nodelay(nodelay).map_err(fail)?;
    stream.set_nonblocking(true).map_err(fail)?;
    let stream = TcpStream::from_std(stream).map_err(fail)?;
    Ok((stream, took))
}

/// `size` bytes of `Hello, World! ` repeated: readable on screen, so a split is easy to see.
/// Used by `/size N` and `ping -s`; 13 bytes is exactly the tutorial's message.
pub fn probe_payload(size: usize) -> Vec<u8> {
    b"Hello, World! "
        .iter()
        .copied()
        .cycle()
        .take(size)
        .collect()
}

/// Locks a mutex shared between network tasks. A poisoned lock only means another task
/// panicked while holding it; counters and trackers are still the best state we have, so
/// carry on with them rather than propagate the panic.
pub fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether an address is reachable only from this machine.
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_os_errors_in_plain_words() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(describe(&refused), "connection refused");
        let raw = io::Error::from_raw_os_error(24); // EMFILE
        assert_eq!(describe(&raw), "too many open files");
    }

    #[test]
    fn probe_payload_starts_with_the_tutorial_message() {
        assert_eq!(probe_payload(13), b"Hello, World!");
        assert_eq!(probe_payload(16), b"Hello, World! He");
        assert!(probe_payload(0).is_empty());
    }

    #[tokio::test]
    async fn connect_error_names_the_address_and_reason() {
        // Bind then drop to find a port that refuses.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = connect(addr, true, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot connect to {addr}: connection refused")
        );
        assert_eq!(err.close_reason(), CloseReason::Refused);
    }

    #[tokio::test]
    async fn listen_error_names_the_address() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let err = listen(addr).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot listen on {addr}: address in use")
        );
    }
}
