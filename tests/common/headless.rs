//! `echotui serve --headless` as a child process, its log read as it grows.

use std::net::SocketAddr;
use std::process::Command;

use serde_json::Value;

use super::process::{Pipe, Process, echotui};

/// `echotui serve --headless` running, with the address from its first line. Killed when
/// dropped, if a test ends without stopping it.
pub struct Headless {
    process: Process,
    pub addr: SocketAddr,
    /// How many bytes of stdout were handed out as lines (the listening line included).
    read: usize,
}

/// How `serve --headless` ended, and what it logged.
#[derive(Debug)]
pub struct Stopped {
    /// The exit code (`None`: killed by a signal it did not handle).
    pub code: Option<i32>,
    /// Everything it wrote to stdout, the listening line included.
    pub stdout: Vec<u8>,
    /// The lines not yet read with [`Headless::next_line`].
    pub rest: Vec<String>,
}

impl Headless {
    /// `echotui serve --headless --listen 127.0.0.1:0 ARGS`.
    pub fn start(args: &[&str]) -> Self {
        Self::listening_on("127.0.0.1:0", args)
    }

    /// `echotui serve --headless --listen LISTEN ARGS`.
    pub fn listening_on(listen: &str, args: &[&str]) -> Self {
        let mut command = echotui(&["serve", "--headless", "--listen", listen]);
        command.args(args);
        Self::spawn(&mut command)
    }

    /// Starts `command`, a `serve --headless` (perhaps run by another program, such as
    /// `prlimit`), and waits for its first line, which says where it listens.
    pub fn spawn(command: &mut Command) -> Self {
        let mut server = Self {
            process: Process::spawn(command),
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            read: 0,
        };
        let first = server.next_line();
        server.addr = listening_addr(&first);
        server
    }

    /// Everything written to stdout so far.
    pub fn output(&self) -> Vec<u8> {
        self.process.output(Pipe::Stdout)
    }

    /// Looks at stdout until `done` holds (the log is flushed on a short tick), at most
    /// [`super::STEP`].
    pub fn wait_until(&mut self, what: &str, done: impl Fn(&[u8]) -> bool) {
        self.process.wait_until(what, Pipe::Stdout, done);
    }

    /// The first line of stderr, once it is whole.
    pub fn first_stderr_line(&mut self) -> String {
        let err = self
            .process
            .wait_until("a line on stderr", Pipe::Stderr, |err| err.contains(&b'\n'));
        let line = err.split(|&b| b == b'\n').next().unwrap_or_default();
        String::from_utf8_lossy(line).into_owned()
    }

    /// The next line of the log (at most [`super::STEP`] away), without its newline, leaving
    /// out the accept queue's: the queue is looked at ten times a second, and a look may fall
    /// between any connection's handshake and its `accept()`, so its lines come between any
    /// two others. Tests of the queue read them with [`Headless::wait_until`].
    pub fn next_line(&mut self) -> String {
        loop {
            let line = self.next_line_of_any_kind();
            if !is_accept_queue_line(&line) {
                return line;
            }
        }
    }

    fn next_line_of_any_kind(&mut self) -> String {
        let read = self.read;
        let out = self.process.wait_until("a log line", Pipe::Stdout, |out| {
            out[read..].contains(&b'\n')
        });
        let len = out[read..]
            .iter()
            .position(|&b| b == b'\n')
            .expect("a whole line");
        self.read += len + 1;
        String::from_utf8_lossy(&out[read..read + len]).into_owned()
    }

    /// SIGTERM; see [`Headless::stop_with`].
    pub fn terminate(self) -> Stopped {
        self.stop_with("TERM")
    }

    /// Sends `signal` (`TERM`, `HUP`, `INT`) and waits for the server to exit.
    pub fn stop_with(self, signal: &str) -> Stopped {
        self.process.signal(signal);
        let ended = self.process.wait();
        let rest = String::from_utf8_lossy(&ended.stdout[self.read..])
            .lines()
            .map(str::to_owned)
            .collect();
        Stopped {
            code: ended.status.code(),
            stdout: ended.stdout,
            rest,
        }
    }
}

/// Whether `line` tells the accept queue's length, in JSON (`{"event":"accept_queue",…}`) or
/// text (`TIMESTAMP accept queue: 2 waiting to be accepted (backlog 1)`).
pub fn is_accept_queue_line(line: &str) -> bool {
    match serde_json::from_str::<Value>(line) {
        Ok(json) => json["event"] == "accept_queue",
        Err(_) => line
            .split_once(' ')
            .is_some_and(|(_, rest)| rest.starts_with("accept queue: ")),
    }
}

/// The address in a listening line, text (`... listening on 127.0.0.1:PORT (TCP echo, ...)`)
/// or JSON (`{"event":"listening","addr":"127.0.0.1:PORT",...}`).
fn listening_addr(line: &str) -> SocketAddr {
    let json = serde_json::from_str::<Value>(line).ok();
    let addr = match json {
        Some(json) => json["addr"].as_str().and_then(|addr| addr.parse().ok()),
        None => line.split_whitespace().find_map(|word| word.parse().ok()),
    };
    addr.unwrap_or_else(|| panic!("no address in the listening line {line:?}"))
}
