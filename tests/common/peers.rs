//! `std::net` servers written here, as a student would write them: honest echo servers and
//! peers that misbehave, for our client, `ping` and `bench` to meet.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::IO_TIMEOUT;

/// A plain blocking echo server: it serves `conns` connections one after the other (`recv`
/// up to 1024 bytes, send them back, until EOF), then its thread ends. Returns the address it
/// listens on, `127.0.0.1` and a free port.
pub fn std_echo_server(conns: usize) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local_addr");
    let thread = thread::spawn(move || {
        for _ in 0..conns {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            echo_until_eof(stream);
        }
    });
    (addr, thread)
}

/// A peer that accepts one connection and hands it to `serve`, on its own thread; joining the
/// thread gives what `serve` returned (and fails the test if it panicked).
pub fn std_peer<T: Send + 'static>(
    serve: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> (SocketAddr, JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local_addr");
    let thread = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        stream
            .set_write_timeout(Some(IO_TIMEOUT))
            .expect("write timeout");
        serve(stream)
    });
    (addr, thread)
}

/// A peer that greets first (a banner, or bytes meant for the terminal), then echoes: what
/// the client must report as unsolicited, not as an echo.
pub fn greet_then_echo(greeting: &'static [u8]) -> (SocketAddr, JoinHandle<()>) {
    std_peer(move |mut stream| {
        stream.write_all(greeting).expect("the greeting");
        echo_until_eof(stream);
    })
}

/// A server that runs `serve` on every connection, each on a thread of its own, for as long
/// as the test process lives: what `bench` needs, many connections at once.
pub fn std_server(serve: impl Fn(TcpStream) + Send + Sync + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local_addr");
    let serve = Arc::new(serve);
    thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let serve = serve.clone();
            thread::spawn(move || serve(stream));
        }
    });
    addr
}

/// Echoes everything `stream` sends until it closes, errs, or stays silent for a minute (a
/// safety net only: tests never wait for this thread).
pub fn echo_until_eof(stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let _ = echo_loop(stream, |_| {}, |_| {});
}

/// The tutorial's loop, `recv(1024)` → `sendall`, with `map` applied to what it echoes and
/// `on_read` told how many bytes it read: the honest server, and the dishonest ones a test
/// makes of it. Ends at EOF; an error ends it too (a client resetting at the end is normal).
pub fn echo_loop(
    mut stream: TcpStream,
    map: impl Fn(&mut [u8]),
    on_read: impl Fn(usize),
) -> io::Result<()> {
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        on_read(n);
        map(&mut buf[..n]);
        stream.write_all(&buf[..n])?;
    }
}

/// The tutorial server taken literally: one `recv`, one `sendall`, then it closes.
pub fn echo_once_and_close(mut stream: TcpStream) -> io::Result<()> {
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf)?;
    stream.write_all(&buf[..n])?;
    stream.shutdown(Shutdown::Both)
}

/// A peer that reads everything and never answers, until the client closes.
pub fn never_echo(mut stream: TcpStream) {
    let _ = io::copy(&mut stream, &mut io::sink());
}

/// A loopback port nobody listens on (bound, then released): a connection there is refused.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// [`free_port`] as an address.
pub fn refusing_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}
