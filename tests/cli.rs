//! The command-line contract (README, "Modes" and "Output and exit codes"): help, exit codes, JSON shapes, and one clear
//! `error:` line for every user mistake, never a panic.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;

fn echotui() -> assert_cmd::Command {
    cargo_bin_cmd!("echotui")
}

/// A port that refuses connections: bound, then released.
fn refused_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs and returns (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let out = echotui()
        .args(args)
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts exit 2 and a single `error:` line on stderr containing `needle`, without panic text.
fn assert_user_error(args: &[&str], needle: &str) {
    let (code, stdout, stderr) = run(args);
    assert_eq!(code, 2, "{args:?}: stdout {stdout} stderr {stderr}");
    assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    assert!(
        stderr.contains(needle),
        "{args:?}: expected {needle:?} in {stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
}

/// Asserts that every float in `v`, however deep, is written with three decimals at most:
/// `36.84`, never `36.839999999999996` (times in µs are given to the nanosecond).
fn assert_three_decimals_at_most(v: &Value) {
    match v {
        Value::Number(n) if n.is_f64() => {
            let text = n.to_string();
            let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
            assert!(
                decimals <= 3 && !text.contains('e'),
                "{text} has more than three decimals"
            );
        }
        Value::Array(items) => items.iter().for_each(assert_three_decimals_at_most),
        Value::Object(fields) => fields.values().for_each(assert_three_decimals_at_most),
        _ => {}
    }
}

/// Asserts that `ts` is RFC 3339 with microseconds, as every `serve --headless --json` line has.
fn assert_timestamp(line: &Value) {
    let ts = line["ts"]
        .as_str()
        .unwrap_or_else(|| panic!("no ts: {line}"));
    assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
    assert_eq!(
        ts.split('.').nth(1).unwrap().len(),
        "123456+00:00".len(),
        "µs precision: {ts}"
    );
}

#[test]
fn help_and_version() {
    let (code, stdout, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for word in ["serve", "connect", "ping", "--read-size", "--nagle"] {
        assert!(stdout.contains(word), "--help lacks {word}: {stdout}");
    }
    for sub in ["serve", "connect", "ping"] {
        let (code, stdout, _) = run(&[sub, "--help"]);
        assert_eq!(code, 0, "{sub} --help");
        assert!(stdout.contains("Usage: echotui"), "{stdout}");
    }
    let (code, stdout, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("echotui "), "{stdout}");
}

#[test]
fn tui_modes_without_a_terminal_explain_what_to_use() {
    for args in [&[][..], &["connect", "127.0.0.1:7"], &["serve"]] {
        assert_user_error(
            args,
            "echotui needs a terminal; for scripts use 'echotui ping', 'echotui bench' or \
             'echotui serve --headless'",
        );
    }
}

#[test]
fn bad_addresses_and_values_are_one_line_errors() {
    let port = refused_port();
    assert_user_error(
        &["ping", &format!("127.0.0.1:{port}")],
        &format!("cannot connect to 127.0.0.1:{port}: connection refused"),
    );
    assert_user_error(
        &["ping", "nosuch.invalid:7"],
        "cannot resolve nosuch.invalid:7",
    );
    assert_user_error(&["ping", "127.0.0.1:70000"], "port must be 1..=65535");
    assert_user_error(&["ping", "127.0.0.1"], "expected HOST:PORT");
    assert_user_error(&["ping", "-c", "0"], "-c");
    assert_user_error(&["ping", "-i", "soon"], "examples: 250ms");
    assert_user_error(&["ping", "-s", "0"], "must be a whole number from 1");
    assert_user_error(&["ping", "--timeout", "0"], "must be more than 0");
    assert_user_error(
        &["--read-size", "0", "ping"],
        "must be a whole number from 1 to 65536",
    );
    assert_user_error(&["serve", "--json"], "--headless");
}

#[test]
fn a_busy_listen_address_is_named() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    assert_user_error(
        &["serve", "--headless", "--listen", &addr.to_string()],
        &format!("cannot listen on {addr}: address in use"),
    );
}

#[test]
fn ping_json_has_the_documented_shape() {
    let (code, stdout, stderr) = run(&["ping", "-c", "5", "-i", "0", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.lines().count(),
        1,
        "one object, nothing else: {stdout}"
    );
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "target",
            "protocol",
            "size",
            "sent",
            "received",
            "lost",
            "connect_us",
            "rtt_us",
            "jitter_us",
            "clock",
            "user_clock_echoes",
            "user_clock_p50_us",
            "tcp_info"
        ]
    );
    assert_eq!(v["protocol"], "tcp");
    let tcp_info: Vec<&str> = v["tcp_info"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tcp_info,
        [
            "srtt_us",
            "rttvar_us",
            "min_rtt_us",
            "cwnd",
            "retrans",
            "total_retrans",
            "pmtu",
            "snd_mss",
            "delivery_rate",
            "bytes_acked"
        ]
    );
    // 5 probes of 13 bytes, every one acknowledged by the server's kernel.
    assert!(v["tcp_info"]["bytes_acked"].as_u64().unwrap() >= 65, "{v}");
    assert_eq!(v["size"], 13);
    assert_eq!(
        (
            v["sent"].as_u64(),
            v["received"].as_u64(),
            v["lost"].as_u64()
        ),
        (Some(5), Some(5), Some(0))
    );
    assert!(v["connect_us"].as_f64().unwrap() > 0.0);
    let rtt = v["rtt_us"].as_object().unwrap();
    let ladder: Vec<&str> = rtt.keys().map(String::as_str).collect();
    assert_eq!(
        ladder,
        ["min", "mean", "p50", "p90", "p99", "p999", "max", "stddev"]
    );
    let get = |k: &str| rtt[k].as_f64().unwrap();
    assert!(
        get("min") > 0.0
            && get("min") <= get("p50")
            && get("p50") <= get("p99")
            && get("p99") <= get("max")
    );
    assert!(v["jitter_us"].as_f64().unwrap() >= 0.0);
    assert_three_decimals_at_most(&v);
    assert!(
        !v["target"].as_str().unwrap().ends_with(":12345"),
        "embedded ping server never uses 12345"
    );
}

/// The RTTs end at the kernel's receive timestamps unless `--clock user` (or a system without
/// them) says otherwise, and the report says which clock it was; the same echoes as seen by
/// echotui (after its read returned) can never be faster.
#[test]
fn ping_reports_which_clock_timed_its_rtts() {
    for transport in [&[][..], &["--udp"]] {
        let mut args = vec!["ping", "-c", "20", "-i", "0", "--json"];
        args.extend_from_slice(transport);
        let (code, stdout, stderr) = run(&args);
        assert_eq!(code, 0, "{stderr}");
        let v: Value = serde_json::from_str(&stdout).unwrap();
        let expected = if cfg!(target_os = "linux") {
            "kernel"
        } else {
            "user"
        };
        assert_eq!(v["clock"], expected, "{v}");
        let p50 = v["rtt_us"]["p50"].as_f64().unwrap();
        assert!(v["user_clock_p50_us"].as_f64().unwrap() >= p50, "{v}");
        assert!(v["user_clock_echoes"].as_u64().unwrap() <= 20);

        args.extend(["--clock", "user"]);
        let (code, stdout, stderr) = run(&args);
        assert_eq!(code, 0, "{stderr}");
        let v: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(
            (v["clock"].as_str(), v["user_clock_echoes"].as_u64()),
            (Some("user"), Some(20))
        );
        assert_eq!(v["user_clock_p50_us"], v["rtt_us"]["p50"]);
    }
    let (code, stdout, _) = run(&["ping", "-c", "2", "-i", "0"]);
    assert_eq!(code, 0);
    let last = stdout.lines().last().unwrap();
    if cfg!(target_os = "linux") {
        assert!(last.starts_with("p50: kernel "), "{stdout}");
        assert!(last.contains(", as seen by echotui ") && last.contains(" was our own wake-up"));
    }
    assert_user_error(&["ping", "--clock", "sundial"], "expected kernel or user");
}

/// An algorithm the kernel does not offer is one line naming those it does.
#[test]
fn an_unknown_congestion_control_is_refused_naming_the_available_ones() {
    assert_user_error(
        &["ping", "--congestion", "nosuchalgo"],
        "congestion control 'nosuchalgo'",
    );
    if cfg!(target_os = "linux") {
        assert_user_error(
            &["ping", "--congestion", "nosuchalgo"],
            "this system offers ",
        );
        let (code, _, stderr) = run(&["ping", "-c", "1", "--congestion", "reno"]);
        assert_eq!(code, 0, "{stderr}");
    }
    assert_user_error(
        &["ping", "--udp", "--congestion", "reno"],
        "--congestion applies to TCP only",
    );
    assert_user_error(
        &["serve", "--headless", "--congestion", "reno"],
        "--congestion sets the client's",
    );
    assert_user_error(
        &["ping", "--congestion", "a b"],
        "is not a congestion control name",
    );
}

/// `connect_us`, every `rtt_us` figure, `jitter_us`, `duration_s` and the rates: three
/// decimals at most in every `--json` record, over TCP and UDP.
#[test]
fn json_figures_have_three_decimals_at_most() {
    for args in [
        &["ping", "-c", "5", "-i", "0", "--json"][..],
        &["ping", "--udp", "-c", "5", "-i", "0", "--json"],
        &["bench", "-d", "200ms", "-c", "2", "--json"],
        &["bench", "--udp", "-d", "200ms", "-c", "2", "--json"],
    ] {
        let (code, stdout, stderr) = run(args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        let v: Value = serde_json::from_str(&stdout).unwrap();
        assert!(v["rtt_us"]["mean"].is_f64(), "{args:?}: {v}");
        assert_three_decimals_at_most(&v);
    }
}

/// Counted nouns agree with their number: `1 probe`, `1 byte`.
#[test]
fn ping_text_says_1_probe_and_1_byte() {
    let (code, stdout, stderr) = run(&["ping", "-c", "1", "-s", "1"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("(TCP echo): 1 byte, connected in"),
        "{stdout}"
    );
    assert!(stdout.contains("\n1 byte from 127.0.0.1:"), "{stdout}");
    assert!(
        stdout.contains("\n1 probe sent, 1 echoed, 0.0% lost"),
        "{stdout}"
    );
    let (code, stdout, stderr) = run(&["ping", "--udp", "-c", "1", "-s", "8"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("1 probe sent, 1 echoed, 0.0% lost, 0 duplicates, 0 late"),
        "{stdout}"
    );
}

/// Every datagram doubled each way: each probe gets four replies, the first its echo, the
/// others duplicates, read while the next probe is awaited (the last probe's are not).
#[test]
fn ping_udp_counts_duplicates_apart_from_echoes() {
    let args = [
        "ping",
        "--udp",
        "-c",
        "5",
        "-i",
        "0",
        "--duplicate",
        "100%",
        "--json",
    ];
    let (code, stdout, stderr) = run(&args);
    assert_eq!(code, 0, "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (
            v["received"].as_u64(),
            v["lost"].as_u64(),
            v["late"].as_u64()
        ),
        (Some(5), Some(0), Some(0)),
        "{v}"
    );
    assert!(v["duplicates"].as_u64().unwrap() >= 4, "{v}");
}

#[test]
fn ping_text_reports_each_probe_and_a_summary() {
    let (code, stdout, _) = run(&["ping", "-c", "3", "-i", "10ms", "-s", "100"]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout.matches("100 bytes from 127.0.0.1:").count(),
        3,
        "{stdout}"
    );
    assert!(
        stdout.contains("3 probes sent, 3 echoed, 0.0% lost"),
        "{stdout}"
    );
    assert!(
        stdout.contains("rtt min/mean/p50/p90/p99/p99.9/max/stddev = "),
        "{stdout}"
    );
}

/// A server that accepts and then never echoes: every probe is lost, exit 1, `rtt_us` null.
#[test]
fn unanswered_probes_are_lost_and_exit_1() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let holder = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink);
    });
    let (code, stdout, _) = run(&[
        "ping",
        &addr.to_string(),
        "-c",
        "2",
        "-i",
        "0",
        "--timeout",
        "200ms",
        "--json",
    ]);
    assert_eq!(code, 1, "{stdout}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (
            v["sent"].as_u64(),
            v["received"].as_u64(),
            v["lost"].as_u64()
        ),
        (Some(2), Some(0), Some(2))
    );
    assert!(v["rtt_us"].is_null() && v["jitter_us"].is_null(), "{v}");
    holder.join().unwrap();
}

/// The tutorial server handles one message and exits: the rest are lost, exit 1.
#[test]
fn a_peer_that_closes_mid_run_ends_the_ping_with_exit_1() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).unwrap();
        stream.write_all(&buf[..n]).unwrap();
        stream.shutdown(Shutdown::Both).unwrap();
    });
    let (code, stdout, stderr) = run(&["ping", &addr.to_string(), "-c", "5", "-i", "0", "--json"]);
    assert_eq!(code, 1, "{stdout} {stderr}");
    assert!(stderr.contains("closed by peer"), "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["received"].as_u64(), Some(1));
    server.join().unwrap();
}

/// `serve --headless` as a child process, with its stdout read line by line.
struct HeadlessServer {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    addr: String,
}

impl HeadlessServer {
    fn start(extra: &[&str]) -> Self {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin!("echotui"))
            .args(["serve", "--headless", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let first = lines
            .recv_timeout(Duration::from_secs(10))
            .expect("listening line");
        let addr = first
            .split_whitespace()
            .find_map(|w| {
                w.strip_prefix("127.0.0.1:")
                    .map(|p| format!("127.0.0.1:{p}"))
            })
            .or_else(|| {
                serde_json::from_str::<Value>(&first)
                    .ok()
                    .map(|v| v["addr"].as_str().unwrap().to_owned())
            })
            .unwrap_or_else(|| panic!("no address in {first}"));
        Self { child, lines, addr }
    }

    fn next_line(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(10))
            .expect("a log line within 10 s")
    }

    /// SIGTERM, then the remaining lines and the exit code.
    fn terminate(self) -> (Vec<String>, i32) {
        self.signal("TERM")
    }

    /// Sends `signal` (`TERM`, `HUP`, `INT`), then the remaining lines and the exit code.
    fn signal(mut self, signal: &str) -> (Vec<String>, i32) {
        Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "serve did not exit after SIGTERM"
            );
            thread::sleep(Duration::from_millis(20));
        };
        let rest = self.lines.iter().collect();
        (rest, status.code().unwrap_or(-1))
    }
}

fn echo_once(addr: &str, payload: &[u8]) -> Vec<u8> {
    try_echo(addr, payload).unwrap()
}

fn try_echo(addr: &str, payload: &[u8]) -> io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(payload)?;
    let mut echoed = vec![0u8; payload.len()];
    stream.read_exact(&mut echoed)?;
    Ok(echoed)
}

#[test]
fn serve_headless_json_logs_every_event_and_a_summary_on_sigterm() {
    let server = HeadlessServer::start(&["--json"]);
    assert_eq!(echo_once(&server.addr, b"Hello, World!"), b"Hello, World!");
    let mut events: Vec<Value> = Vec::new();
    while events.last().is_none_or(|event| event["event"] != "closed") {
        events.push(serde_json::from_str(&server.next_line()).unwrap());
    }
    assert_eq!(events[0]["event"], "connected");
    assert_eq!(events[1]["event"], "read");
    assert_eq!(events[1]["bytes"], 13);
    assert_eq!(events[1]["data"], "Hello, World!");
    let closed = events.last().unwrap();
    assert_eq!(closed["reason"], "closed by peer");
    // The close lesson in the server's words: the peer's FIN read (CLOSE_WAIT), ours sent.
    let states: Vec<&str> = events[2..events.len() - 1]
        .iter()
        .map(|event| {
            assert_eq!(event["event"], "tcp_state", "{event}");
            event["state"].as_str().unwrap()
        })
        .collect();
    if cfg!(target_os = "linux") {
        assert_eq!(states.first(), Some(&"CLOSE_WAIT"), "{states:?}");
        assert!(closed["rtt_us"].as_f64().unwrap() > 0.0, "{closed}");
        assert_eq!(closed["retrans"], 0, "loopback loses nothing: {closed}");
    }
    for event in &events {
        assert_eq!(event["conn"], 1);
        assert!(event["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
        assert_timestamp(event);
    }
    let (rest, code) = server.terminate();
    assert_eq!(code, 0);
    let summary: Value = serde_json::from_str(rest.last().expect("summary line")).unwrap();
    assert_eq!(summary["event"], "summary");
    assert_timestamp(&summary);
    assert_three_decimals_at_most(&summary);
    assert_eq!(summary["accepted"], 1);
    assert_eq!(summary["peak_connections"], 1);
    assert_eq!(summary["reads"], 1);
    assert_eq!(summary["bytes"], 13);
    assert_eq!(summary["udp_sources"], 0);
}

#[test]
fn serve_headless_text_shows_hostile_bytes_as_escapes() {
    let server = HeadlessServer::start(&[]);
    let hostile = b"\x1b]0;pwned\x07\x1b[2J\xe2\x80\xaeevil\0\xff";
    assert_eq!(echo_once(&server.addr, hostile), hostile);
    let connected = server.next_line();
    assert!(
        connected.contains("#1") && connected.contains("connected"),
        "{connected}"
    );
    let read = server.next_line();
    assert!(
        read.contains("read 23 B: \\x1b]0;pwned\\x07\\x1b[2J\\u{202E}evil\\0\\xff"),
        "{read}"
    );
    let (rest, code) = server.terminate();
    assert_eq!(code, 0);
    let all = format!("{connected}\n{read}\n{}", rest.join("\n"));
    assert!(
        !all.chars().any(|c| c.is_control() && c != '\n'),
        "raw control bytes in the log: {all:?}"
    );
    let summary = rest.last().unwrap();
    assert!(summary.starts_with("summary: "), "{all}");
    assert!(
        summary.contains(
            "s up, 1 connection (peak 1 at once), 0 turned away, 1 read, 23 B echoed, 0 events not logged"
        ),
        "{summary}"
    );
}

#[test]
fn serve_headless_quiet_leaves_out_reads() {
    let server = HeadlessServer::start(&["--quiet"]);
    echo_once(&server.addr, b"quiet please");
    assert!(server.next_line().contains("connected"));
    assert!(server.next_line().contains("closed by peer"));
    let (_, code) = server.terminate();
    assert_eq!(code, 0);
}

#[test]
fn serve_on_a_non_loopback_address_says_it_is_exposed() {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin!("echotui"))
        .args(["serve", "--headless", "--listen", "0.0.0.0:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(line.contains("reachable from the network"), "{line}");
}

#[test]
fn ping_udp_counts_exactly_and_loss_exits_1() {
    let (code, stdout, stderr) = run(&["ping", "--udp", "-c", "20", "-i", "0", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["protocol"], "udp");
    assert_eq!(
        (v["sent"].as_u64(), v["received"].as_u64()),
        (Some(20), Some(20))
    );
    assert!(v["connect_us"].is_null(), "UDP has no handshake: {v}");
    assert_eq!(
        (v["duplicates"].as_u64(), v["late"].as_u64()),
        (Some(0), Some(0))
    );

    // Every datagram dropped by the impairment proxy: all lost, counted exactly.
    let args = [
        "ping",
        "--udp",
        "-c",
        "5",
        "-i",
        "0",
        "--timeout",
        "100ms",
        "--loss",
        "100%",
        "--json",
    ];
    let (code, stdout, _) = run(&args);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (
            v["sent"].as_u64(),
            v["received"].as_u64(),
            v["lost"].as_u64()
        ),
        (Some(5), Some(0), Some(5))
    );
}

/// 50% loss each way: a round trip survives with probability 0.25. Over 200 probes the count
/// is binomial (mean 50, σ ≈ 6.1); the bounds are 6σ, so the test cannot flake in practice.
#[test]
fn ping_udp_half_loss_each_way_loses_three_quarters_of_round_trips() {
    let args = [
        "ping",
        "--udp",
        "-c",
        "200",
        "-i",
        "0",
        "--timeout",
        "20ms",
        "--loss",
        "50%",
        "--json",
    ];
    let (code, stdout, _) = run(&args);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    // A reply slower than the timeout still survived both losses: it counts as late.
    let came_back = v["received"].as_u64().unwrap() + v["late"].as_u64().unwrap();
    assert!(
        (13..=87).contains(&came_back),
        "{came_back} of 200 came back"
    );
    assert_eq!(v["duplicates"].as_u64(), Some(0));
}

/// Delay applies to each direction: 20 ms each way means no RTT under 40 ms.
#[test]
fn ping_with_delay_has_an_rtt_of_at_least_twice_the_delay() {
    for transport in [&[][..], &["--udp"]] {
        let mut args = vec!["ping", "-c", "3", "-i", "0", "--delay", "20ms", "--json"];
        args.extend(transport);
        let (code, stdout, stderr) = run(&args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        let v: Value = serde_json::from_str(&stdout).unwrap();
        let min = v["rtt_us"]["min"].as_f64().unwrap();
        assert!(min >= 40_000.0, "{args:?}: min RTT {min} µs");
    }
}

#[test]
fn impairment_values_are_checked() {
    assert_user_error(&["ping", "--loss", "150%"], "--loss");
    assert_user_error(&["ping", "--delay=-1s"], "--delay");
    assert_user_error(&["ping", "--rate", "fast"], "--rate");
    assert_user_error(&["ping", "--udp", "-s", "4"], "-s must be 8..=65507");
}

#[test]
fn serve_headless_udp_logs_datagrams() {
    let server = HeadlessServer::start(&["--udp", "--json"]);
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    socket.send_to(b"Hello, World!", &server.addr).unwrap();
    let mut buf = [0u8; 64];
    let (n, _) = socket.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"Hello, World!");
    let event: Value = serde_json::from_str(&server.next_line()).unwrap();
    assert_eq!(event["event"], "datagram");
    assert_eq!(event["bytes"], 13);
    assert_eq!(event["data"], "Hello, World!");
    let (rest, code) = server.terminate();
    assert_eq!(code, 0);
    let summary: Value = serde_json::from_str(rest.last().unwrap()).unwrap();
    assert_timestamp(&summary);
    assert_eq!(summary["reads"], 1);
    assert_eq!(summary["udp_sources"], 1);
    assert_eq!(
        (&summary["accepted"], &summary["peak_connections"]),
        (&Value::from(0), &Value::from(0)),
        "a UDP source is not a connection: {summary}"
    );
}

/// Over UDP the text summary counts datagrams and their sources, not connections.
#[test]
fn serve_headless_udp_text_summary_counts_datagrams_and_sources() {
    let server = HeadlessServer::start(&["--udp"]);
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 64];
    for payload in [&b"Hello, World!"[..], b"again"] {
        socket.send_to(payload, &server.addr).unwrap();
        let (n, _) = socket.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], payload);
    }
    let (rest, code) = server.terminate();
    assert_eq!(code, 0);
    let summary = rest.last().unwrap();
    assert!(
        summary.contains(
            "s up, 2 datagrams from 1 source, 0 datagrams unanswered, 18 B echoed, 0 events not logged"
        ),
        "{summary}"
    );
}

/// Out of file descriptors, `accept()` fails with EMFILE: the server says so, backs off, and
/// serves again as soon as descriptors are free: it never exits or spins.
#[test]
fn serve_survives_running_out_of_file_descriptors() {
    if Command::new("prlimit").arg("--version").output().is_err() {
        eprintln!("skipped: prlimit (util-linux) is not installed");
        return;
    }
    let mut child = Command::new("prlimit")
        .arg("--nofile=32")
        .arg(assert_cmd::cargo::cargo_bin!("echotui"))
        .args([
            "serve",
            "--headless",
            "--listen",
            "127.0.0.1:0",
            "--max-per-ip",
            "1000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let first = lines
        .recv_timeout(Duration::from_secs(10))
        .expect("listening line");
    let addr = first
        .split_whitespace()
        .find(|w| w.starts_with("127.0.0.1:"))
        .expect("address")
        .to_owned();
    // More connections than descriptors: the kernel completes the handshakes, accept() fails.
    let hogs: Vec<TcpStream> = (0..48)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let line = lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("an accept failure to be logged");
        if line.contains("accept failed: too many open files (retrying)") {
            break;
        }
    }
    drop(hogs);
    // Descriptors free again: a new client is served.
    // (The server may still be in its back-off: retry for a bounded while.)
    let echoed = (0..100).find_map(|_| {
        try_echo(&addr, b"still here").ok().or_else(|| {
            thread::sleep(Duration::from_millis(100));
            None
        })
    });
    assert_eq!(echoed.as_deref(), Some(&b"still here"[..]));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn ping_records_the_session_and_leaves_out_the_warm_up() {
    let path = std::env::temp_dir().join(format!("echotui-ping-{}.jsonl", std::process::id()));
    let path_arg = path.to_str().unwrap();
    let (code, stdout, stderr) = run(&[
        "ping", "-c", "3", "-i", "0", "--warmup", "2", "--json", "--log", path_arg,
    ]);
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (report["sent"].as_u64(), report["received"].as_u64()),
        (Some(3), Some(3))
    );
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Warm-up probes are recorded too (the log is what happened): 5 sent, 5 echoed.
    let count = |event: &str| records.iter().filter(|r| r["event"] == event).count();
    assert_eq!((count("sent"), count("echoed")), (5, 5), "{text}");
    assert!(records.iter().all(|r| r["ts"].is_string()));
    assert!(
        records
            .iter()
            .filter(|r| r["event"] == "echoed")
            .all(|r| r["rtt_us"].as_f64().unwrap() > 0.0)
    );

    assert_user_error(
        &["serve", "--headless", "--log", path_arg],
        "--log records a client session",
    );
    assert_user_error(
        &["ping", "--log", "/nonexistent-dir/x.jsonl"],
        "cannot write the log /nonexistent-dir/x.jsonl",
    );
}

/// SIGHUP (the terminal went away) and SIGINT end `serve --headless` as SIGTERM does: a
/// summary, exit 0.
#[test]
fn serve_headless_ends_cleanly_on_sighup_and_sigint() {
    for signal in ["HUP", "INT"] {
        let server = HeadlessServer::start(&[]);
        echo_once(&server.addr, b"bye");
        let (rest, code) = server.signal(signal);
        assert_eq!(code, 0, "SIG{signal}");
        assert!(
            rest.last().is_some_and(|l| l.starts_with("summary: ")),
            "SIG{signal}: {rest:?}"
        );
    }
}
