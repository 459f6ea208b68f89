//! `echotui bench` (README, "Measuring"): the JSON contract, exit codes, and that echoes are checked,
//! against the embedded server and against `std::net` servers written here, honest or not.
//! Correctness only: no figure is compared with a speed.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::STEP;
use common::peers::{
    echo_loop, echo_once_and_close, echo_until_eof, free_port, never_echo, std_server,
};
use common::process::{Process, assert_user_error, echotui, run};
use common::reports::{assert_rtt_ladder, keys};
use serde_json::Value;

/// Runs a `--json` bench, checks the object's exact shape, and returns (exit code, object).
fn bench_json(args: &[&str]) -> (i32, Value) {
    let (code, stdout, stderr) = run(&[&["bench", "--json"], args].concat());
    assert_eq!(
        stdout.lines().count(),
        1,
        "one object, nothing else: {stdout} {stderr}"
    );
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let mut expected = vec![
        "target",
        "protocol",
        "connections",
        "size",
        "pipeline",
        "duration_s",
        "messages",
        "bytes",
        "msgs_per_s",
        "mib_per_s",
        "rtt_us",
        "jitter_us",
        "errors",
        "model",
        "read_size",
        "served",
        "server_threads",
        "rss_kib",
        "clock",
        "user_clock_echoes",
    ];
    let protocol = if args.contains(&"--udp") {
        "udp"
    } else {
        expected.push("tcp_info");
        "tcp"
    };
    assert_eq!(keys(&v), expected);
    let clock = match (args.contains(&"user"), cfg!(target_os = "linux")) {
        (false, true) => "kernel",
        _ => "user",
    };
    assert_eq!(v["clock"], clock, "{v}");
    let echoes = v["messages"].as_u64().unwrap();
    let by_user = v["user_clock_echoes"].as_u64().unwrap();
    assert!(by_user <= echoes, "{v}");
    if clock == "user" {
        assert_eq!(by_user, echoes, "{v}");
    }
    if protocol == "tcp" && cfg!(target_os = "linux") {
        assert!(v["tcp_info"]["bytes_acked"].as_u64().unwrap() > 0, "{v}");
    }
    assert!(v["target"].is_string() && v["protocol"] == protocol, "{v}");
    for key in [
        "connections",
        "size",
        "pipeline",
        "messages",
        "bytes",
        "errors",
    ] {
        assert!(v[key].is_u64(), "{key} is a whole number: {v}");
    }
    for key in ["duration_s", "msgs_per_s", "mib_per_s"] {
        assert!(v[key].as_f64().is_some_and(|x| x >= 0.0), "{key}: {v}");
    }
    assert_eq!(
        v["bytes"].as_u64().unwrap(),
        v["messages"].as_u64().unwrap() * v["size"].as_u64().unwrap(),
        "bytes are the echoed messages' bytes: {v}"
    );
    match v["rtt_us"] {
        Value::Object(_) => assert_rtt_ladder(&v["rtt_us"]),
        _ => assert!(
            v["rtt_us"].is_null() && v["messages"] == 0,
            "rtt_us is null exactly when nothing was echoed: {v}"
        ),
    }
    // Jitter pairs consecutive RTTs of one connection: more messages than connections
    // means some connection has two, fewer than one each means none has.
    let messages = v["messages"].as_u64().unwrap();
    if messages > v["connections"].as_u64().unwrap() {
        assert!(v["jitter_us"].as_f64().is_some_and(|j| j >= 0.0), "{v}");
    }
    if messages < 2 {
        assert!(v["jitter_us"].is_null(), "{v}");
    }
    (code, v)
}

/// An honest echo server, as a student writes it, for as many connections as the bench makes.
fn echo_server() -> String {
    std_server(echo_until_eof).to_string()
}

#[test]
fn json_against_the_embedded_server() {
    let (code, v) = bench_json(&["--duration", "300ms"]);
    assert_eq!(code, 0, "{v}");
    assert!(v["messages"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["errors"], 0, "{v}");
    assert_eq!(
        (&v["connections"], &v["size"], &v["pipeline"]),
        (&Value::from(10), &Value::from(64), &Value::from(1)),
        "defaults: {v}"
    );
    assert!(v["duration_s"].as_f64().unwrap() >= 0.3, "{v}");
    assert!(v["rtt_us"].is_object(), "{v}");
    let target = v["target"].as_str().unwrap();
    assert!(
        target.starts_with("127.0.0.1:") && !target.ends_with(":12345"),
        "embedded bench server is on loopback and never on 12345: {target}"
    );
}

#[test]
fn json_with_several_connections_messages_in_flight_and_larger_messages() {
    let (code, v) = bench_json(&[
        "--connections",
        "3",
        "--pipeline",
        "4",
        "--size",
        "1000",
        "--duration",
        "300ms",
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(
        (&v["connections"], &v["size"], &v["pipeline"]),
        (&Value::from(3), &Value::from(1000), &Value::from(4)),
        "{v}"
    );
    assert!(v["messages"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["errors"], 0, "{v}");
}

/// Messages far larger than the socket buffers, several in flight, through 1024-byte reads:
/// only works if the bench reads while it writes.
#[test]
fn large_pipelined_messages_do_not_deadlock() {
    let addr = echo_server();
    let (code, v) = bench_json(&[
        &addr,
        "--connections",
        "2",
        "--pipeline",
        "3",
        "--size",
        "1048576",
        "--duration",
        "300ms",
    ]);
    assert_eq!(code, 0, "{v}");
    assert!(v["messages"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["errors"], 0, "{v}");
}

#[test]
fn json_against_a_std_net_echo_server() {
    let addr = echo_server();
    let (code, v) = bench_json(&[&addr, "--connections", "4", "--duration", "300ms"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["target"], addr.as_str());
    assert!(v["messages"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["errors"], 0, "{v}");
}

/// With echotui's own clock, the report says so (`bench_json` checks `clock` against the
/// arguments) and every echo is counted as timed by it.
#[test]
fn json_with_the_user_space_clock() {
    for transport in [&[][..], &["--udp"]] {
        let mut args = vec!["-c", "2", "-d", "200ms", "--clock", "user"];
        args.extend_from_slice(transport);
        let (code, v) = bench_json(&args);
        assert_eq!((code, v["errors"].as_u64()), (0, Some(0)), "{v}");
    }
}

/// The server counts what it reads; the bench's figures leave out the warm-up, so the server
/// saw at least the warm-up on top of everything the bench counted.
#[test]
fn the_warm_up_is_left_out_of_the_figures() {
    let read = Arc::new(AtomicU64::new(0));
    let counter = read.clone();
    let addr = std_server(move |stream| {
        let counter = counter.clone();
        let _ = echo_loop(
            stream,
            |_| {},
            move |n| {
                counter.fetch_add(n as u64, Ordering::SeqCst);
            },
        );
    })
    .to_string();
    let (code, v) = bench_json(&[
        &addr,
        "--connections",
        "2",
        "--warmup",
        "50",
        "--size",
        "10",
        // The warm-up must finish within the duration: 50 round trips in a second leaves a
        // loaded machine a wide margin.
        "--duration",
        "1s",
    ]);
    assert_eq!(code, 0, "{v}");
    let counted = v["bytes"].as_u64().unwrap();
    assert!(counted > 0, "{v}");
    assert!(
        read.load(Ordering::SeqCst) >= counted + 2 * 50 * 10,
        "server read {} bytes, bench counted {counted} after a 2 × 50 × 10 B warm-up",
        read.load(Ordering::SeqCst)
    );
}

#[test]
fn a_server_that_corrupts_the_echo_is_an_error_and_exit_1() {
    let addr = std_server(|stream| {
        let _ = echo_loop(stream, |bytes| bytes.make_ascii_uppercase(), |_| {});
    })
    .to_string();
    let (code, v) = bench_json(&[&addr, "--connections", "2", "--duration", "200ms"]);
    assert_eq!(code, 1, "{v}");
    assert!(v["errors"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["messages"], 0, "no corrupted echo is counted: {v}");
    assert!(v["rtt_us"].is_null(), "{v}");
}

/// The tutorial server: one `recv`, one `sendall`, close. Each connection gets one echo and
/// then loses its peer; the bench ends without waiting for the rest of `--duration`.
#[test]
fn a_server_that_closes_after_the_first_message_is_an_error_and_exit_1() {
    let addr = std_server(|stream| {
        let _ = echo_once_and_close(stream);
    })
    .to_string();
    let (code, stdout, stderr) = run(&[
        "bench",
        &addr,
        "--connections",
        "3",
        "--duration",
        "1s",
        "--json",
    ]);
    assert_eq!(code, 1, "{stdout} {stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert!(v["errors"].as_u64().unwrap() >= 1, "{v}");
    assert!(v["messages"].as_u64().unwrap() <= 3, "{v}");
    assert!(
        stderr.contains("connection closed by peer") || stderr.contains("connection reset"),
        "stderr names the reason: {stderr}"
    );
}

/// Nothing fails, yet nothing is measured: exit 1, and stderr says why.
#[test]
fn a_server_that_never_echoes_measures_nothing_and_exits_1() {
    let addr = std_server(never_echo).to_string();
    let (code, stdout, stderr) = run(&["bench", &addr, "--duration", "200ms", "--json"]);
    assert_eq!(code, 1, "{stdout} {stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (&v["messages"], &v["errors"]),
        (&Value::from(0), &Value::from(0))
    );
    assert!(v["rtt_us"].is_null(), "{v}");
    assert!(stderr.contains("no echo came back from"), "{stderr}");
}

#[test]
fn a_refused_target_is_one_error_line_and_exit_2() {
    let port = free_port();
    let (code, stdout, stderr) = run(&["bench", &format!("127.0.0.1:{port}"), "--json"]);
    assert_eq!(code, 2, "{stdout} {stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(
        stderr,
        format!("error: cannot connect to 127.0.0.1:{port}: connection refused\n")
    );
}

#[test]
fn bad_values_are_one_line_errors_and_exit_2() {
    for (flag, value, needle) in [
        (
            "--connections",
            "0",
            "must be a whole number from 1 to 1000",
        ),
        (
            "--connections",
            "1001",
            "must be a whole number from 1 to 1000",
        ),
        ("--size", "0", "must be a whole number from 1 to 1048576"),
        (
            "--size",
            "1048577",
            "must be a whole number from 1 to 1048576",
        ),
        ("--pipeline", "0", "must be a whole number from 1 to 1024"),
        (
            "--pipeline",
            "1025",
            "must be a whole number from 1 to 1024",
        ),
        ("--duration", "0", "must be more than 0"),
        ("--duration", "soon", "examples: 250ms"),
        ("--warmup", "many", "--warmup"),
        ("--udp", "-s4", "-s must be 8..=65507"),
    ] {
        assert_user_error(&["bench", flag, value], needle);
    }
}

#[test]
fn help_lists_every_option() {
    let (code, stdout, _) = run(&["bench", "--help"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("Usage: echotui bench"), "{stdout}");
    for flag in [
        "--connections",
        "--duration",
        "--size",
        "--pipeline",
        "--warmup",
        "--json",
        "--nagle",
    ] {
        assert!(stdout.contains(flag), "bench --help lacks {flag}: {stdout}");
    }
    let (_, stdout, _) = run(&["--help"]);
    assert!(stdout.contains("bench"), "{stdout}");
}

#[test]
fn human_output_is_a_table_with_the_percentile_ladder() {
    let (code, stdout, stderr) = run(&["bench", "--duration", "200ms", "--connections", "2"]);
    assert_eq!(code, 0, "{stdout} {stderr}");
    for row in [
        "target",
        "connections",
        "size",
        "pipeline",
        "duration",
        "messages",
        "bytes",
        "msgs/s",
        "MiB/s",
        "jitter",
    ] {
        assert!(
            stdout.lines().any(|line| line.starts_with(row)),
            "no {row} row: {stdout}"
        );
    }
    assert!(
        stdout.contains("rtt          min/mean/p50/p90/p99/p99.9/max/stddev = "),
        "{stdout}"
    );
    assert!(stdout.contains("errors       0\n"), "{stdout}");
    assert!(
        stderr.is_empty(),
        "no progress line when stderr is not a terminal: {stderr:?}"
    );
}

/// SIGTERM mid-run stops the bench early and still prints what was measured. The server
/// says when a connection has read its second message: with one message in flight, the
/// first echo is then back at the bench, so there is something to report.
#[test]
fn sigterm_stops_early_and_still_reports() {
    let (second_read, got_second_read) = mpsc::sync_channel(1);
    let addr = std_server(move |stream| {
        let read = AtomicU64::new(0);
        let second_read = second_read.clone();
        let _ = echo_loop(
            stream,
            |_| {},
            move |n| {
                if read.fetch_add(n as u64, Ordering::SeqCst) + n as u64 > 64 {
                    let _ = second_read.try_send(());
                }
            },
        );
    })
    .to_string();
    let bench = Process::spawn(&mut echotui(&[
        "bench",
        &addr,
        "--connections",
        "1",
        "--duration",
        "60s",
        "--json",
    ]));
    got_second_read
        .recv_timeout(STEP)
        .expect("the bench is exchanging messages");
    bench.signal("TERM");
    let out = bench.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert!(v["messages"].as_u64().unwrap() > 0, "{v}");
    assert!(v["duration_s"].as_f64().unwrap() < 60.0, "{v}");
    assert_eq!(v["errors"], 0, "{v}");
}

/// Over UDP each datagram is matched by nonce and sequence number and checked byte for
/// byte, like TCP's echoes; the report says `udp`.
#[test]
fn udp_json_against_the_embedded_server() {
    let (code, v) = bench_json(&[
        "--udp",
        "--duration",
        "300ms",
        "-c",
        "3",
        "-p",
        "4",
        "--warmup",
        "5",
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["protocol"], "udp");
    assert!(v["messages"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["errors"], 0);
    assert!(v["rtt_us"]["min"].as_f64().unwrap() > 0.0);
}

/// A `std::net` UDP server on a free loopback port that answers each datagram with the
/// datagrams `answer` makes of it, for five seconds (longer than any bench here).
fn udp_server(answer: impl Fn(&[u8]) -> Vec<Vec<u8>> + Send + 'static) -> String {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap().to_string();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    thread::spawn(move || {
        let mut buf = [0u8; 2048];
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Ok((n, peer)) = socket.recv_from(&mut buf) {
                for reply in answer(&buf[..n]) {
                    let _ = socket.send_to(&reply, peer);
                }
            }
        }
    });
    addr
}

/// A UDP server that answers with other bytes: every datagram is an error, none an RTT.
#[test]
fn udp_echoes_that_differ_are_errors() {
    let addr = udp_server(|datagram| {
        let mut reply = datagram.to_vec();
        // Keep the nonce and the sequence number, change the last byte.
        *reply.last_mut().unwrap() ^= 0xff;
        vec![reply]
    });
    let (code, v) = bench_json(&[&addr, "--udp", "--duration", "200ms", "-c", "1"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["messages"], 0);
    assert!(v["errors"].as_u64().unwrap() > 0, "{v}");
    assert!(v["rtt_us"].is_null());
}

/// A UDP server that answers every datagram twice: the first reply is the echo, the second
/// a duplicate, counted on stderr and never an RTT or an error. (Nothing is lost or late:
/// a datagram is lost after 1 s, the bench lasts 200 ms.)
#[test]
fn udp_duplicate_replies_are_counted_apart_and_are_not_errors() {
    let addr = udp_server(|datagram| vec![datagram.to_vec(), datagram.to_vec()]);
    let args = [
        "bench",
        &addr,
        "--udp",
        "--duration",
        "200ms",
        "-c",
        "1",
        "--json",
    ];
    let (code, stdout, stderr) = run(&args);
    assert_eq!(code, 0, "{stdout} {stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["errors"], 0, "{v}");
    assert!(v["messages"].as_u64().unwrap() >= 2, "{v}");
    assert!(
        stderr.starts_with("echotui bench: 0 late replies and ")
            && stderr.contains(" duplicate repl")
            && stderr.ends_with(" (not counted)\n"),
        "{stderr}"
    );
}
