//! Blocking `std::net` clients, TCP and UDP, whose every call gives up after
//! [`IO_TIMEOUT`] (or less, where a test waits for an absence).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use echotui::text::sanitize;

use super::IO_TIMEOUT;

/// A TCP connection to `addr`, Nagle off (a round trip must not wait for a delayed ACK; the
/// tests that study Nagle use our client actor), every call bounded by [`IO_TIMEOUT`].
pub fn try_connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(stream)
}

/// [`try_connect`] where a failure fails the test.
pub fn connect(addr: SocketAddr) -> TcpStream {
    try_connect(addr).unwrap_or_else(|err| panic!("connect to {addr}: {err}"))
}

/// The address the kernel gave our end of `stream`: how the server's events name it.
pub fn local(stream: &TcpStream) -> SocketAddr {
    stream.local_addr().expect("local_addr")
}

/// Sends `message` and reads exactly as many bytes back, which must be the same bytes.
pub fn round_trip(stream: &mut TcpStream, message: &[u8]) {
    let back = exchange(stream, message).expect("a round trip");
    assert!(
        back == message,
        "the echo differs from what was sent: {:?} → {:?}",
        sanitize(&message[..message.len().min(64)]),
        sanitize(&back[..back.len().min(64)]),
    );
}

/// `count` round trips of short numbered messages (`"{label} {i}"`), each checked.
pub fn round_trips(stream: &mut TcpStream, count: usize, label: &str) {
    for i in 0..count {
        round_trip(stream, format!("{label} {i}").as_bytes());
    }
}

/// Sends `message` and reads back as many bytes, whatever they are.
fn exchange(stream: &mut TcpStream, message: &[u8]) -> io::Result<Vec<u8>> {
    stream.write_all(message)?;
    let mut back = vec![0; message.len()];
    stream.read_exact(&mut back)?;
    Ok(back)
}

/// Connects to `addr`, sends `message` and returns what came back: for a server that may
/// not be ready yet (the caller retries).
pub fn try_echo(addr: SocketAddr, message: &[u8]) -> io::Result<Vec<u8>> {
    exchange(&mut try_connect(addr)?, message)
}

/// The server closed this socket: a read sees EOF (or a reset, if it had bytes to discard).
pub fn assert_closed_by_server(stream: &mut TcpStream) {
    match stream.read(&mut [0u8; 64]) {
        Ok(0) => {}
        Err(err) if err.kind() == io::ErrorKind::ConnectionReset => {}
        other => panic!("expected the server to have closed the socket, read gave {other:?}"),
    }
}

/// A UDP socket on a free loopback port whose reads give up after `read_timeout`.
pub fn udp_socket(read_timeout: Duration) -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    socket
        .set_read_timeout(Some(read_timeout))
        .expect("read timeout");
    socket
}

/// A UDP client that waits 500 ms for a reply before it sends again (see [`udp_echo`]).
pub fn udp_client() -> UdpSocket {
    udp_socket(Duration::from_millis(500))
}

/// The address of our end of a UDP socket: how the server's events name this source.
pub fn local_udp(socket: &UdpSocket) -> SocketAddr {
    socket.local_addr().expect("local_addr")
}

/// Whether a socket call ended because its timeout did (the error kind differs by platform).
pub fn timed_out(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Sends one datagram to `server` and asserts that its one reply, from `server`, is the same
/// bytes: for tests that count datagrams exactly, so nothing is sent twice.
pub fn udp_round_trip(socket: &UdpSocket, server: SocketAddr, payload: &[u8]) {
    socket.send_to(payload, server).expect("send_to");
    let mut buf = vec![0u8; 65_536];
    let (n, from) = socket.recv_from(&mut buf).expect("the echo");
    assert_eq!(from, server, "a reply from elsewhere");
    assert_eq!(&buf[..n], payload, "the echo differs from what was sent");
}

/// Sends `payload` to `server` and returns the first datagram that comes back from it,
/// sending again (up to 10 times) if none does: a flood elsewhere on loopback can fill a
/// queue and the kernel then drops datagrams, as UDP allows.
pub fn udp_echo(socket: &UdpSocket, server: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 65536];
    for _ in 0..10 {
        socket.send_to(payload, server).expect("send_to");
        loop {
            match socket.recv_from(&mut buf) {
                Ok((n, from)) if from == server => return buf[..n].to_vec(),
                Ok(_) => continue,
                Err(err) if timed_out(&err) => break,
                Err(err) => panic!("recv_from: {err}"),
            }
        }
    }
    panic!("no echo from {server} after 10 tries");
}
