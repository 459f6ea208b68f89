//! Helpers shared by the integration test binaries (each uses its own part of them).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Every blocking socket call in a test helper gives up after this long, so no test can hang.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A plain blocking `std::net` echo server, as a student would write it: it serves `conns`
/// connections one after the other (`recv` up to 1024 bytes, send them back, until EOF),
/// then its thread ends. Returns the address it listens on, `127.0.0.1` and a free port.
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

/// Echoes everything `stream` sends until it closes, errs, or stays silent for a minute (a
/// safety net only: tests never wait for this thread).
pub fn echo_until_eof(mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}
