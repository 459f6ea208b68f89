//! Starting an echo server: bind, spawn, and say where it can be reached. Every mode starts
//! its server here (the UI, `serve` with or without the UI, and the embedded server of a
//! target-less `ping` or `bench`), so they bind, report and stop the same way.

use std::fmt;
use std::net::SocketAddr;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Behaviour, EventSink, NetError, ServerControl, ServerSettings, Transport, interfaces};
use crate::units;

/// Which transports a server answers on its port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocols {
    Tcp,
    Udp,
    /// Both on the same port, so the side-by-side UI can switch its client live.
    Both,
}

impl From<Transport> for Protocols {
    fn from(transport: Transport) -> Self {
        match transport {
            Transport::Tcp => Protocols::Tcp,
            Transport::Udp => Protocols::Udp,
        }
    }
}

impl fmt::Display for Protocols {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocols::Tcp => "TCP",
            Protocols::Udp => "UDP",
            Protocols::Both => "TCP+UDP",
        })
    }
}

/// A server that is running: where it listens, what it answers, and what the user should
/// know about it.
#[derive(Debug)]
pub struct RunningServer {
    pub addr: SocketAddr,
    /// What it answers: [`Protocols::Both`] falls back to TCP alone when the UDP port is taken.
    pub protocols: Protocols,
    /// Sentences for the user: a protocol that could not be served, that the server is
    /// reachable from the network and at which addresses.
    pub notices: Vec<String>,
    /// The UDP socket's receive buffer as the kernel granted it (`None` without UDP, or where
    /// it cannot be read): how big a burst waits there before datagrams die in the kernel.
    pub udp_receive_buffer: Option<usize>,
    tasks: TaskTracker,
}

impl RunningServer {
    /// For the administrator, not the class (so not among [`RunningServer::notices`]): an
    /// exposed server whose UDP receive buffer the kernel kept below what was asked, since
    /// floods come from the network and fill a small buffer sooner.
    pub fn small_receive_buffer(&self) -> Option<String> {
        let granted = self.udp_receive_buffer?;
        (!self.addr.ip().is_loopback() && granted < UDP_RECEIVE_BUFFER)
            .then(|| small_receive_buffer_notice(granted))
    }

    /// Waits until every server task has finished (after the shutdown token is cancelled):
    /// then no connection is left and the port is free.
    pub async fn stopped(self) {
        self.tasks.close();
        self.tasks.wait().await;
    }
}

/// Resolves `listen` and starts a server there behaving as `behaviour`, with a control of
/// its own: what `echotui serve` does, in the UI or headless.
pub async fn start_at(
    listen: &str,
    protocols: Protocols,
    backlog: u32,
    settings: ServerSettings,
    behaviour: Behaviour,
    events: EventSink,
    shutdown: CancellationToken,
) -> Result<(RunningServer, ServerControl), NetError> {
    let control = ServerControl::with(behaviour);
    let addr = super::resolve(listen).await?;
    let server = start(
        addr,
        protocols,
        backlog,
        settings,
        control.clone(),
        events,
        shutdown,
    );
    Ok((server.await?, control))
}

/// Binds `addr` for `protocols` (TCP with `listen()`'s `backlog`) and starts the server until
/// `shutdown` is cancelled.
pub async fn start(
    addr: SocketAddr,
    protocols: Protocols,
    backlog: u32,
    settings: ServerSettings,
    control: ServerControl,
    events: EventSink,
    shutdown: CancellationToken,
) -> Result<RunningServer, NetError> {
    let tasks = TaskTracker::new();
    let mut notices = Vec::new();
    let mut udp_receive_buffer = None;
    let cannot_listen = |cause| NetError::Listen { addr, cause };
    let (bound, protocols) = match protocols {
        Protocols::Udp => {
            let socket = super::listen_udp(addr).await?;
            udp_receive_buffer = enlarge_receive_buffer(&socket, &mut notices);
            let bound = socket.local_addr().map_err(cannot_listen)?;
            tasks.spawn(super::udp::run(socket, settings, control, events, shutdown));
            (bound, Protocols::Udp)
        }
        Protocols::Tcp | Protocols::Both => {
            let listener = super::listen_with_backlog(addr, backlog)?;
            let bound = listener.local_addr().map_err(cannot_listen)?;
            let mut served = Protocols::Tcp;
            if protocols == Protocols::Both {
                // The same port for UDP, so `/udp` reaches the same server.
                match super::listen_udp(bound).await {
                    Ok(socket) => {
                        udp_receive_buffer = enlarge_receive_buffer(&socket, &mut notices);
                        let udp = super::udp::run(
                            socket,
                            settings,
                            control.clone(),
                            events.clone(),
                            shutdown.clone(),
                        );
                        tasks.spawn(udp);
                        served = Protocols::Both;
                    }
                    Err(err) => notices.push(format!("no UDP: {err}")),
                }
            }
            tasks.spawn(super::server::run(
                listener, settings, control, events, shutdown,
            ));
            (bound, served)
        }
    };
    if !bound.ip().is_loopback() {
        notices.push(exposure_notice(bound));
    }
    Ok(RunningServer {
        addr: bound,
        protocols,
        notices,
        udp_receive_buffer,
        tasks,
    })
}

/// Receive buffer asked for a UDP server socket: room for a burst of datagrams while the
/// server is busy, instead of the kernel's default of about 200 KiB, which a flood from one
/// source fills in a millisecond and everyone else's datagrams then die in the kernel.
pub const UDP_RECEIVE_BUFFER: usize = 4 << 20;

/// Asks for [`UDP_RECEIVE_BUFFER`] and returns what the kernel granted: it caps the request
/// at `net.core.rmem_max` without an error (and reports twice what it keeps for data, its
/// bookkeeping included). A request it refuses outright is told in `notices`.
fn enlarge_receive_buffer(
    socket: &tokio::net::UdpSocket,
    notices: &mut Vec<String>,
) -> Option<usize> {
    use nix::sys::socket::{getsockopt, setsockopt, sockopt::RcvBuf};
    if let Err(err) = setsockopt(socket, RcvBuf, &UDP_RECEIVE_BUFFER) {
        notices.push(format!(
            "UDP receive buffer left at the kernel's default: {err}"
        ));
    }
    getsockopt(socket, RcvBuf).ok()
}

/// The kernel granted less than [`UDP_RECEIVE_BUFFER`]: a flood fills it sooner, and only the
/// administrator can raise the cap.
fn small_receive_buffer_notice(granted: usize) -> String {
    format!(
        "UDP receive buffer {} of the {} asked (net.core.rmem_max caps it): under a flood, \
         other sources' datagrams die in the kernel sooner; 'sysctl -w net.core.rmem_max={}' \
         as root gives it room",
        units::bytes(granted as u64),
        units::bytes(UDP_RECEIVE_BUFFER as u64),
        UDP_RECEIVE_BUFFER
    )
}

/// Exposing the server is the user's explicit choice, and it should look like one: say so,
/// and where students connect (`0.0.0.0` is not an address anyone can type).
fn exposure_notice(bound: SocketAddr) -> String {
    let reachable = interfaces::reachable_at(bound);
    let mut notice = format!("listening on {bound}: the server is reachable from the network");
    if !reachable.is_empty() {
        let list: Vec<String> = reachable.iter().map(ToString::to_string).collect();
        notice += &format!("; students connect to {}", list.join(" or "));
    }
    notice
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn both_protocols_share_one_port_and_stop_together() {
        let shutdown = CancellationToken::new();
        let server = start(
            "127.0.0.1:0".parse().unwrap(),
            Protocols::Both,
            128,
            ServerSettings::default(),
            ServerControl::new(1024),
            EventSink::discard(),
            shutdown.clone(),
        )
        .await
        .unwrap();
        assert_eq!(server.protocols, Protocols::Both);
        assert!(server.notices.is_empty(), "loopback is not exposed");
        // What the kernel granted, read back: never below its default, which we only enlarge.
        let default = std::fs::read_to_string("/proc/sys/net/core/rmem_default")
            .map_or(0, |text| text.trim().parse().unwrap());
        assert!(
            server
                .udp_receive_buffer
                .is_some_and(|size| size >= default)
        );
        let addr = server.addr;
        shutdown.cancel();
        server.stopped().await;
        std::net::TcpListener::bind(addr).expect("TCP port free after stop");
        std::net::UdpSocket::bind(addr).expect("UDP port free after stop");
    }

    #[test]
    fn a_capped_receive_buffer_says_how_to_raise_it() {
        let notice = small_receive_buffer_notice(425_984);
        assert!(notice.starts_with("UDP receive buffer 416.0 KiB of the 4.0 MiB asked"));
        assert!(notice.ends_with("'sysctl -w net.core.rmem_max=4194304' as root gives it room"));
    }

    #[test]
    fn an_exposed_server_says_where_to_connect() {
        let notice = exposure_notice("192.0.2.10:12345".parse().unwrap());
        assert_eq!(
            notice,
            "listening on 192.0.2.10:12345: the server is reachable from the network; \
             students connect to 192.0.2.10:12345"
        );
    }
}
