//! End-to-end tests (ARCHITECTURE.md §7): the real binary in a pseudo-terminal.
//!
//! A reader thread feeds everything the program writes into a `vt100` parser (the screen a user
//! would see) and keeps the raw bytes (to check the escape sequences that restore the
//! terminal). Tests type keys and poll the screen until a deadline: no fixed sleeps, no timing
//! margins. Servers listen on free loopback ports; the default mode falls back to one when
//! 12345 is busy, so these tests may run in parallel with each other and with anything else.

mod common;

use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use common::payloads::{HOSTILE, HOSTILE_SHOWN};
use common::peers::{greet_then_echo, std_echo_server};
use common::poll;
use common::process::send_signal;
use echotui::units;
use portable_pty::{Child, CommandBuilder, ExitStatus, MasterPty, PtySize, native_pty_system};

/// How long the program may take to show what a test waits for (more than
/// [`common::STEP`]: a program starting in a terminal on a loaded machine).
const DEADLINE: Duration = Duration::from_secs(15);
const ENTER_ALTERNATE_SCREEN: &[u8] = b"\x1b[?1049h";
const LEAVE_ALTERNATE_SCREEN: &[u8] = b"\x1b[?1049l";
const SHOW_CURSOR: &[u8] = b"\x1b[?25h";
const CTRL_C: &[u8] = b"\x03";
/// What xterm sends for F1 and Esc.
const F1: &[u8] = b"\x1bOP";
const F2: &[u8] = b"\x1bOQ";
const ESC: &[u8] = b"\x1b";
const HELP_TITLE: &str = "Esc closes";

/// Everything the program wrote to its terminal so far.
struct Output {
    screen: vt100::Parser,
    raw: Vec<u8>,
    /// The reader saw the end of the output (the program and its terminal are gone).
    ended: bool,
}

/// `echotui` running in a pseudo-terminal of a given size.
struct Tui {
    output: Arc<Mutex<Output>>,
    keyboard: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    master: Box<dyn MasterPty + Send>,
}

impl Tui {
    /// Starts `echotui ARGS` in a `rows` x `cols` terminal.
    fn start(args: &[&str], rows: u16, cols: u16) -> Self {
        Self::start_with_env(args, &[], rows, cols)
    }

    /// [`Tui::start`] with extra environment variables.
    fn start_with_env(args: &[&str], env: &[(&str, &str)], rows: u16, cols: u16) -> Self {
        let size = PtySize {
            rows,
            cols,
            pixel_width: 0,
            pixel_height: 0,
        };
        let pty = native_pty_system().openpty(size).expect("openpty");
        let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_echotui"));
        command.args(args);
        command.env("TERM", "xterm-256color");
        for (key, value) in env {
            command.env(key, value);
        }
        let child = pty.slave.spawn_command(command).expect("start echotui");
        // Only the child may hold the terminal side: reads on the master end when it exits.
        drop(pty.slave);

        let nonzero = |n| NonZeroU16::new(n).expect("a terminal has rows and columns");
        let output = Arc::new(Mutex::new(Output {
            screen: vt100::Parser::new(nonzero(rows), nonzero(cols), 0),
            raw: Vec::new(),
            ended: false,
        }));
        let mut reader = pty.master.try_clone_reader().expect("pty reader");
        let sink = output.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 8192];
            // Linux reports the end of a pty's output as EIO rather than 0.
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                let mut output = lock(&sink);
                output.screen.process(&buf[..n]);
                output.raw.extend_from_slice(&buf[..n]);
            }
            lock(&sink).ended = true;
        });
        let keyboard = pty.master.take_writer().expect("pty writer");
        Self {
            output,
            keyboard,
            child,
            master: pty.master,
        }
    }

    /// Starts `echotui ARGS` and waits until its client is connected.
    fn start_connected(args: &[&str], rows: u16, cols: u16) -> Self {
        let mut tui = Self::start(args, rows, cols);
        tui.wait_for("connected client", contains(CONNECTED));
        tui
    }

    /// Types `keys` as a user would (raw bytes: `\r` is Enter).
    fn type_keys(&mut self, keys: &[u8]) {
        self.keyboard.write_all(keys).expect("type into the pty");
        self.keyboard.flush().expect("flush the pty");
    }

    /// Polls the screen until `ready` holds; fails with the screen if it never does.
    fn wait_for(&mut self, what: &str, ready: impl Fn(&vt100::Screen) -> bool) {
        let seen = poll(DEADLINE, || {
            if ready(lock(&self.output).screen.screen()) {
                return Some(Ok(()));
            }
            self.child.try_wait().expect("try_wait").map(Err)
        });
        match seen {
            Some(Ok(())) => {}
            Some(Err(status)) => panic!(
                "echotui exited ({status}) before {what}:\n{}",
                self.contents()
            ),
            None => panic!(
                "no {what} within {DEADLINE:?}; the screen:\n{}",
                self.contents()
            ),
        }
    }

    /// The screen as text, for failure messages.
    fn contents(&self) -> String {
        lock(&self.output).screen.screen().contents()
    }

    /// Waits for the program to exit and for the last of its output; returns how it exited.
    fn exit_status(&mut self) -> ExitStatus {
        let status = poll(DEADLINE, || self.child.try_wait().expect("try_wait"));
        let status = status.unwrap_or_else(|| {
            panic!(
                "echotui still runs after {DEADLINE:?}:\n{}",
                self.contents()
            )
        });
        poll(DEADLINE, || lock(&self.output).ended.then_some(()))
            .expect("the pty output never ended");
        status
    }

    /// Waits for a successful exit that left the terminal as it found it.
    fn assert_exits_cleanly_and_restores_the_terminal(&mut self) {
        let status = self.exit_status();
        assert!(
            status.success(),
            "echotui exited with {status}:\n{}",
            self.contents()
        );
        self.assert_terminal_restored();
    }

    /// Ctrl-C, then a successful exit that left the terminal as it found it.
    fn quit_with_ctrl_c(&mut self) {
        self.type_keys(CTRL_C);
        self.assert_exits_cleanly_and_restores_the_terminal();
    }

    /// The alternate screen was left and the cursor shown again, after the last entry.
    fn assert_terminal_restored(&self) {
        let output = lock(&self.output);
        let raw = &output.raw;
        let entered = find_last(raw, ENTER_ALTERNATE_SCREEN)
            .expect("echotui never entered the alternate screen");
        let after = &raw[entered..];
        assert!(
            find_last(after, LEAVE_ALTERNATE_SCREEN).is_some(),
            "the alternate screen was not left"
        );
        assert!(
            find_last(after, SHOW_CURSOR).is_some(),
            "the cursor was not shown again"
        );
        let screen = output.screen.screen();
        assert!(!screen.alternate_screen(), "still on the alternate screen");
        assert!(!screen.hide_cursor(), "the cursor is still hidden");
    }

    /// Resizes the terminal as a window manager would (the program gets SIGWINCH).
    fn resize(&mut self, rows: u16, cols: u16) {
        let size = PtySize {
            rows,
            cols,
            pixel_width: 0,
            pixel_height: 0,
        };
        self.master.resize(size).expect("resize the pty");
        let nonzero = |n| NonZeroU16::new(n).expect("a terminal has rows and columns");
        lock(&self.output)
            .screen
            .screen_mut()
            .set_size(nonzero(rows), nonzero(cols));
    }

    /// Sends the program signal `name`, as a user's `kill` would.
    fn signal(&self, name: &str) {
        let pid = self.child.process_id().expect("the child has a process id");
        send_signal(pid, name);
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        // A failed test must not leave the program running. Killed before the keyboard is
        // dropped, since dropping portable-pty's writer types a newline and an EOF.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Locks the output, even after a failed assertion poisoned it.
fn lock(output: &Mutex<Output>) -> MutexGuard<'_, Output> {
    // A panic while holding the lock (in a test assertion) leaves the bytes intact.
    output.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Where `needle` last occurs in `haystack`: what the terminal was left with.
fn find_last(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .rposition(|window| window == needle)
}

/// The screen's rows, cut to the columns `[start, start + width)`: one pane of a split screen.
fn pane_rows(screen: &vt100::Screen, start: u16, width: u16) -> Vec<String> {
    screen.rows(start, width).collect()
}

/// The left half (the client pane in the default mode) and the right half (the server pane).
fn left_half(screen: &vt100::Screen) -> Vec<String> {
    let (_, cols) = screen.size();
    pane_rows(screen, 0, cols.get() / 2)
}

fn right_half(screen: &vt100::Screen) -> Vec<String> {
    let (_, cols) = screen.size();
    pane_rows(screen, cols.get() / 2, cols.get() - cols.get() / 2)
}

/// A round-trip time as the UI prints it, e.g. `87µs`, `5.2µs`, `1.23ms`, `500ns`.
fn is_rtt(token: &str) -> bool {
    let Some(number) = ["ns", "µs", "ms", "s"]
        .iter()
        .find_map(|unit| token.strip_suffix(unit))
    else {
        return false;
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && digits(fraction)
}

/// Whether `row` shows a fully echoed message: `← TEXT…  SIZE  RTT`.
fn is_echoed_row(row: &str, text: &str, size: &str) -> bool {
    let Some(at) = row.find(&format!("← {text}")) else {
        return false;
    };
    let rest = &row[at..];
    let Some(size_at) = rest.find(size) else {
        return false;
    };
    let tail = rest[size_at + size.len()..].split_whitespace().next();
    tail.is_some_and(|token| is_rtt(token.trim_end_matches('│')))
}

/// Whether one of `rows` shows `text` fully echoed, with its size and an RTT.
fn shows_echo(rows: &[String], text: &str, size: &str) -> bool {
    rows.iter().any(|row| is_echoed_row(row, text, size))
}

/// A screen condition: `text` is shown somewhere.
fn contains(text: &'static str) -> impl Fn(&vt100::Screen) -> bool {
    move |screen| screen.contents().contains(text)
}

/// The status bar's word for a live client connection.
const CONNECTED: &str = "● connected";

#[test]
fn rtt_tokens_are_recognised() {
    for rtt in ["87µs", "5.2µs", "1.23ms", "500ns", "2.50s"] {
        assert!(is_rtt(rtt), "{rtt}");
    }
    for other in ["B", "13", "µs", "1.ms", "KiB", "…"] {
        assert!(!is_rtt(other), "{other}");
    }
    assert!(is_echoed_row(
        "│← Hello, World!      13 B 87µs│",
        "Hello, World!",
        "13 B"
    ));
    assert!(!is_echoed_row(
        "│→ Hello, World!      13 B     │",
        "Hello, World!",
        "13 B"
    ));
    assert!(!is_echoed_row(
        "│← Hello, World! 7/13 B       …│",
        "Hello, World!",
        "13 B"
    ));
}

#[test]
fn default_mode_echoes_hello_world_and_ctrl_c_restores_the_terminal() {
    let mut tui = Tui::start_connected(&[], 24, 80);
    tui.type_keys(b"Hello, World!\r");
    let (size, read) = (units::bytes(13), format!("read {}", units::bytes(13)));
    tui.wait_for("echo with an RTT and the server's read", |screen| {
        shows_echo(&left_half(screen), "Hello, World!", &size)
            && right_half(screen).iter().any(|row| row.contains(&read))
    });
    tui.quit_with_ctrl_c();
}

#[test]
fn connect_mode_echoes_through_a_std_net_server() {
    let (addr, _server) = std_echo_server(1);
    let target = addr.to_string();
    let mut tui = Tui::start_connected(&["connect", &target], 36, 120);
    tui.type_keys(b"Hello, World!\r");
    let size = units::bytes(13);
    tui.wait_for("echo with an RTT", |screen| {
        shows_echo(&pane_rows(screen, 0, 120), "Hello, World!", &size)
    });
    tui.quit_with_ctrl_c();
}

#[test]
fn a_terminal_smaller_than_80x24_says_so() {
    let mut tui = Tui::start(&["serve", "--listen", "127.0.0.1:0"], 20, 60);
    tui.wait_for("too-small note", contains("terminal too small"));
    tui.quit_with_ctrl_c();
}

#[test]
fn f1_opens_the_help_and_esc_closes_it() {
    let mut tui = Tui::start_connected(&[], 36, 120);
    tui.type_keys(F1);
    tui.wait_for("help overlay", contains(HELP_TITLE));
    tui.type_keys(ESC);
    tui.wait_for("help closed", |screen| {
        let text = screen.contents();
        !text.contains(HELP_TITLE) && text.contains(CONNECTED)
    });
    tui.quit_with_ctrl_c();
}

#[test]
fn size_command_shows_the_server_reading_read_size_bytes_at_a_time() {
    let mut tui = Tui::start_connected(&["--read-size", "1000"], 36, 120);
    tui.type_keys(b"/size 3000\r");
    // One 3000-byte write lands in the server's socket buffer whole, so its reads are
    // 1000 + 1000 + 1000 (the log shows every one).
    // Sizes as the UI writes them (`3000 B` or `2.9 KiB`: format.rs decides).
    let (size, read) = (units::bytes(3000), format!("read {}", units::bytes(1000)));
    tui.wait_for("3000-byte echo and 1000-byte reads", |screen| {
        let reads = right_half(screen)
            .iter()
            .filter(|row| row.contains(&read))
            .count();
        shows_echo(&left_half(screen), "Hello, World!", &size) && reads >= 2
    });
    tui.quit_with_ctrl_c();
}

#[test]
fn sigterm_restores_the_terminal_and_exits_0() {
    let (addr, _server) = std_echo_server(1);
    let target = addr.to_string();
    let mut tui = Tui::start_connected(&["connect", &target], 24, 80);
    tui.signal("TERM");
    tui.assert_exits_cleanly_and_restores_the_terminal();
}

/// A peer that greets with escape sequences (retitle the terminal, clear the screen), a bidi
/// override, a NUL and invalid UTF-8: the screen shows them as visible escapes and the terminal
/// obeys none of them.
#[test]
fn hostile_bytes_from_a_peer_are_shown_not_obeyed() {
    let (addr, peer) = greet_then_echo(HOSTILE);
    let target = addr.to_string();
    let mut tui = Tui::start(&["connect", &target], 36, 120);
    tui.wait_for("the greeting, escaped", contains(HOSTILE_SHOWN));
    {
        let output = lock(&tui.output);
        // What reached the terminal: never the peer's sequences, only our escaped text.
        assert!(
            find_last(&output.raw, b"\x1b]0;pwned").is_none(),
            "the peer's OSC title reached the terminal"
        );
        assert!(
            find_last(&output.raw, "\u{202E}".as_bytes()).is_none(),
            "a raw bidi override reached the terminal"
        );
        assert!(output.screen.screen().contents().contains("unsolicited"));
    }
    tui.wait_for(
        "status still drawn after the clear-screen attempt",
        contains(CONNECTED),
    );
    tui.quit_with_ctrl_c();
    peer.join().unwrap();
}

/// Shrinking below 80×24 shows the note; growing back redraws the full layout.
#[test]
fn resizing_redraws_the_layout() {
    let mut tui = Tui::start_connected(&[], 24, 80);
    tui.resize(20, 60);
    tui.wait_for(
        "too-small note after shrinking",
        contains("terminal too small"),
    );
    tui.resize(30, 100);
    tui.wait_for("full layout after growing", |screen| {
        let text = screen.contents();
        text.contains(CONNECTED) && text.contains("Latency") && !text.contains("too small")
    });
    tui.quit_with_ctrl_c();
}

/// The lesson in one screen: at `/read 7`, `Hello, World!` reaches the server as two reads,
/// 7 and 6 bytes, and still comes back whole with one RTT.
/// The flow-control lesson, read off the screen: with the server paused and a few megabytes
/// sent, the socket view (F2 three times) shows the server's window closed, and where the
/// bytes wait.
#[cfg(target_os = "linux")]
#[test]
fn the_socket_view_shows_the_window_closing_when_the_server_stops_reading() {
    let mut tui = Tui::start_connected(&[], 24, 80);
    tui.type_keys(b"/pause\r");
    tui.wait_for("the server paused", contains("PAUSED"));
    for _ in 0..3 {
        tui.type_keys(b"/size 1000000\r");
    }
    tui.type_keys(F2);
    tui.type_keys(F2);
    tui.type_keys(F2);
    tui.wait_for("the socket view", contains("What the kernel knows"));
    tui.wait_for("the closed window", |screen| {
        let text = screen.contents();
        text.contains("window 0: the") && text.contains("client send queue")
    });
    tui.quit_with_ctrl_c();
}

#[test]
fn read_7_splits_hello_world_into_reads_of_7_and_6() {
    let mut tui = Tui::start_connected(&[], 36, 120);
    tui.type_keys(b"/read 7\r");
    tui.wait_for("the read size in the server pane", contains("read 7 ·"));
    tui.type_keys(b"Hello, World!\r");
    let size = units::bytes(13);
    tui.wait_for("reads of 7 and 6 bytes and the whole echo", |screen| {
        let server = right_half(screen);
        let read = |n: u64, text: &str| {
            let head = format!("read {}", units::bytes(n));
            server
                .iter()
                .any(|row| row.contains(&head) && row.contains(text))
        };
        read(7, "Hello,")
            && read(6, "World!")
            && shows_echo(&left_half(screen), "Hello, World!", &size)
    });
    tui.quit_with_ctrl_c();
}

/// The tutorial's server with `listen(1)`: it serves the UI's own client (reconnected after
/// the restart, before the practice clients come), so their connections wait in the kernel's
/// accept queue, which keeps two (one more than the backlog) and drops the third's SYNs.
#[cfg(target_os = "linux")]
#[test]
fn iterative_server_with_practice_clients_shows_them_waiting_to_be_accepted() {
    let mut tui = Tui::start_connected(&["--backlog", "1"], 24, 80);
    tui.type_keys(b"/server model iterative\r");
    tui.wait_for("the client served again after the restart", |screen| {
        right_half(screen)
            .iter()
            .any(|row| row.contains("#2 ") && row.contains("connected"))
    });
    tui.type_keys(b"/clients 3\r");
    tui.wait_for("two practice clients waiting", |screen| {
        right_half(screen)
            .iter()
            .any(|row| row.contains("2 waiting to be accepted (backlog 1)"))
    });
    tui.type_keys(b"Hello, World!\r");
    let size = units::bytes(13);
    tui.wait_for("the served client's echo", |screen| {
        shows_echo(&left_half(screen), "Hello, World!", &size)
    });
    tui.quit_with_ctrl_c();
}

/// `--log FILE` records what the user did and saw: the message sent and its echo with RTT.
#[test]
fn the_session_log_records_sends_and_echoes() {
    let path = std::env::temp_dir().join(format!("echotui-tui-{}.jsonl", std::process::id()));
    let mut tui = Tui::start_connected(&["--log", path.to_str().unwrap()], 24, 80);
    tui.type_keys(b"Hello, World!\r");
    let size = units::bytes(13);
    tui.wait_for("the echo", |screen| {
        shows_echo(&left_half(screen), "Hello, World!", &size)
    });
    tui.quit_with_ctrl_c();
    let text = std::fs::read_to_string(&path).expect("the log file");
    std::fs::remove_file(&path).unwrap();
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let event = |name: &str| events.iter().find(|e| e["event"] == name);
    assert!(event("connected").is_some(), "{text}");
    assert_eq!(event("sent").expect("sent")["data"], "Hello, World!");
    assert!(event("echoed").expect("echoed")["rtt_us"].as_f64().unwrap() > 0.0);
}

/// A panic anywhere (a background task, the UI task itself) ends the program: the terminal is
/// restored, the panic is printed where it can be read, and the exit status is 101.
#[test]
fn a_panic_anywhere_restores_the_terminal_and_exits_101() {
    for site in ["network", "ui"] {
        let mut tui = Tui::start_with_env(&[], &[("ECHOTUI_TEST_PANIC", site)], 36, 120);
        let status = tui.exit_status();
        assert_eq!(
            status.exit_code(),
            101,
            "{site}: {status}:\n{}",
            tui.contents()
        );
        tui.assert_terminal_restored();
        // What was printed after the alternate screen was left, as the user scrolls back to.
        let output = lock(&tui.output);
        let left = find_last(&output.raw, LEAVE_ALTERNATE_SCREEN).expect("left the screen");
        let after = String::from_utf8_lossy(&output.raw[left..]);
        assert!(
            after.contains("echotui panicked") && after.contains("injected panic"),
            "{site}: the panic is not printed after the terminal is restored:\n{after}"
        );
    }
}

/// What xterm sends for PgDn: the key a presenter's clicker sends for "next slide".
const PAGE_DOWN: &[u8] = b"\x1b[6~";

/// A lesson run from the command line: two steps, each read off the screen, narration and
/// effect: the step counter, the step's own words, the command it typed, what the server did.
#[test]
fn a_lesson_narrates_two_steps_and_types_their_commands() {
    let mut tui = Tui::start(&["lesson", "byte-stream", "--no-mouse"], 36, 120);
    tui.wait_for("the lesson's introduction", |screen| {
        let text = screen.contents();
        text.contains("Lesson: TCP is a byte stream") && text.contains("What the class will learn")
    });
    tui.wait_for("connected client", contains(CONNECTED));
    tui.type_keys(PAGE_DOWN);
    tui.wait_for("step 1 and its /read 7", |screen| {
        let text = screen.contents();
        text.contains("step 1/3")
            && text.contains("We make its buffer tiny")
            && text.contains("read 7 ·")
    });
    tui.type_keys(PAGE_DOWN);
    let size = units::bytes(13);
    tui.wait_for(
        "step 2, its message split into reads of 7 and 6 bytes",
        |screen| {
            let text = screen.contents();
            let server = right_half(screen);
            let read = |n: u64, what: &str| {
                let head = format!("read {}", units::bytes(n));
                server
                    .iter()
                    .any(|row| row.contains(&head) && row.contains(what))
            };
            text.contains("step 2/3")
                && text.contains("Look for: The server did two reads")
                && read(7, "Hello,")
                && read(6, "World!")
                && shows_echo(&left_half(screen), "Hello, World!", &size)
        },
    );
    tui.quit_with_ctrl_c();
}
