//! Reference echo server for `scripts/bench.sh`: the plainest blocking `std::net` echo
//! server (one thread per connection, `recv(1024)` then `write_all`, `TCP_NODELAY` on), so
//! RTTs measured against it show the clients' overhead and nothing else.
//!
//! Usage: `ref_echo_server [ADDR]` (default `127.0.0.1:0`); the bound address is the first
//! line on stdout.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = TcpListener::bind(&addr)?;
    // The script waits for this line, so it must not sit in a buffer.
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{}", listener.local_addr()?)?;
    stdout.flush()?;
    drop(stdout);

    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                thread::spawn(move || {
                    if let Err(e) = echo(stream) {
                        eprintln!("ref_echo_server: connection error: {e}");
                    }
                });
            }
            Err(e) => eprintln!("ref_echo_server: accept failed: {e}"),
        }
    }
    Ok(())
}

/// Echoes until the peer closes, like the tutorial's `recv(1024)` → `sendall` loop.
fn echo(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf)? {
            0 => return Ok(()),
            n => stream.write_all(&buf[..n])?,
        }
    }
}
