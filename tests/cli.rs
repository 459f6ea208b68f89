//! The command-line contract (README, "Modes" and "Output and exit codes"): help, exit codes, JSON shapes, and one clear
//! `error:` line for every user mistake, never a panic. (`serve` out of file descriptors needs
//! `prlimit`: that case is in `tests/needs.rs`, which says so where it is missing.)

mod common;

use std::net::TcpListener;

use common::IO_TIMEOUT;
use common::headless::{Headless, Stopped};
use common::payloads::{HELLO, HOSTILE, HOSTILE_SHOWN};
use common::peers::{echo_once_and_close, free_port, never_echo, std_peer};
use common::process::{assert_user_error, run, run_line};
use common::reports::{assert_rtt_ladder, assert_three_decimals_at_most, assert_timestamp, keys};
use common::sockets::{connect, round_trip, udp_round_trip, udp_socket};
use serde_json::Value;

/// A ping report's probe counts: (sent, received, lost).
fn sent_received_lost(v: &Value) -> (Option<u64>, Option<u64>, Option<u64>) {
    (
        v["sent"].as_u64(),
        v["received"].as_u64(),
        v["lost"].as_u64(),
    )
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
    let port = free_port();
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
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
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
    assert_eq!(
        keys(&v),
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
    assert_eq!(v["size"], 13);
    assert_eq!(
        keys(&v["tcp_info"]),
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
    assert_eq!(sent_received_lost(&v), (Some(5), Some(5), Some(0)));
    assert!(v["connect_us"].as_f64().unwrap() > 0.0);
    assert_rtt_ladder(&v["rtt_us"]);
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
    let (code, stdout, stderr) = run_line("ping --udp -c 5 -i 0 --duplicate 100% --json");
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
    let (addr, holder) = std_peer(never_echo);
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
    assert_eq!(sent_received_lost(&v), (Some(2), Some(0), Some(2)));
    assert!(v["rtt_us"].is_null() && v["jitter_us"].is_null(), "{v}");
    holder.join().unwrap();
}

/// The tutorial server handles one message and exits: the rest are lost, exit 1.
#[test]
fn a_peer_that_closes_mid_run_ends_the_ping_with_exit_1() {
    let (addr, server) = std_peer(echo_once_and_close);
    let (code, stdout, stderr) = run(&["ping", &addr.to_string(), "-c", "5", "-i", "0", "--json"]);
    assert_eq!(code, 1, "{stdout} {stderr}");
    assert!(stderr.contains("closed by peer"), "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["received"].as_u64(), Some(1));
    server
        .join()
        .unwrap()
        .expect("the tutorial server's one echo");
}

/// The first line says what the server answers and, for UDP, the receive buffer the kernel
/// granted (how big a burst waits before datagrams die in the kernel); TCP alone has none.
#[test]
fn serve_headless_reports_the_udp_receive_buffer() {
    let first_line = |args: &[&str]| {
        let server = Headless::start(args);
        let out = String::from_utf8_lossy(&server.output()).into_owned();
        out.lines().next().unwrap().to_owned()
    };
    for (args, udp) in [(&["--json"][..], false), (&["--json", "--udp"], true)] {
        let line: Value = serde_json::from_str(&first_line(args)).unwrap();
        assert_eq!(line["event"], "listening", "{line}");
        assert_eq!(line["udp_receive_buffer"].as_u64().is_some(), udp, "{line}");
        assert_eq!(line["udp_receive_buffer"].is_null(), !udp, "{line}");
    }
    let text = first_line(&["--udp"]);
    assert!(
        text.contains("(UDP echo, read size 1024, UDP receive buffer "),
        "{text}"
    );
}

#[test]
fn serve_headless_json_logs_every_event_and_a_summary_on_sigterm() {
    let mut server = Headless::start(&["--json"]);
    round_trip(&mut connect(server.addr), HELLO);
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
    let stopped = server.terminate();
    assert_eq!(stopped.code, Some(0));
    let summary: Value = serde_json::from_str(stopped.rest.last().expect("summary line")).unwrap();
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
    let mut server = Headless::start(&[]);
    round_trip(&mut connect(server.addr), HOSTILE);
    let connected = server.next_line();
    assert!(
        connected.contains("#1") && connected.contains("connected"),
        "{connected}"
    );
    let read = server.next_line();
    assert!(
        read.contains(&format!("read 23 B: {HOSTILE_SHOWN}")),
        "{read}"
    );
    let stopped = server.terminate();
    assert_eq!(stopped.code, Some(0));
    let rest = stopped.rest;
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
    let mut server = Headless::start(&["--quiet"]);
    round_trip(&mut connect(server.addr), b"quiet please");
    assert!(server.next_line().contains("connected"));
    assert!(server.next_line().contains("closed by peer"));
    assert_eq!(server.terminate().code, Some(0));
}

#[test]
fn serve_on_a_non_loopback_address_says_it_is_exposed() {
    let line = Headless::listening_on("0.0.0.0:0", &[]).first_stderr_line();
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
    let (code, stdout, _) = run_line("ping --udp -c 5 -i 0 --timeout 100ms --loss 100% --json");
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(sent_received_lost(&v), (Some(5), Some(0), Some(5)));
}

/// 50% loss each way: a round trip survives with probability 0.25. Over 200 probes the count
/// is binomial (mean 50, σ ≈ 6.1); the bounds are 6σ, so the test cannot flake in practice.
#[test]
fn ping_udp_half_loss_each_way_loses_three_quarters_of_round_trips() {
    let (code, stdout, _) = run_line("ping --udp -c 200 -i 0 --timeout 20ms --loss 50% --json");
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
    let mut server = Headless::start(&["--udp", "--json"]);
    udp_round_trip(&udp_socket(IO_TIMEOUT), server.addr, HELLO);
    let event: Value = serde_json::from_str(&server.next_line()).unwrap();
    assert_eq!(event["event"], "datagram");
    assert_eq!(event["bytes"], 13);
    assert_eq!(event["data"], "Hello, World!");
    let stopped = server.terminate();
    assert_eq!(stopped.code, Some(0));
    let summary: Value = serde_json::from_str(stopped.rest.last().unwrap()).unwrap();
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
    let server = Headless::start(&["--udp"]);
    let socket = udp_socket(IO_TIMEOUT);
    for payload in [HELLO, b"again"] {
        udp_round_trip(&socket, server.addr, payload);
    }
    let stopped = server.terminate();
    assert_eq!(stopped.code, Some(0));
    let summary = stopped.rest.last().unwrap();
    assert!(
        summary.contains(
            "s up, 2 datagrams from 1 source, 0 datagrams unanswered, 18 B echoed, 0 events not logged"
        ),
        "{summary}"
    );
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
        let server = Headless::start(&[]);
        round_trip(&mut connect(server.addr), b"bye");
        let Stopped { code, rest, .. } = server.stop_with(signal);
        assert_eq!(code, Some(0), "SIG{signal}");
        assert!(
            rest.last().is_some_and(|l| l.starts_with("summary: ")),
            "SIG{signal}: {rest:?}"
        );
    }
}
