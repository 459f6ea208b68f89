//! Tests that need something beyond loopback and our own binary: a foreign echo server
//! (socat, Need::program("ncat", "ncat"), the tutorial's Python server), a privileged port, `prlimit`, an address
//! other than loopback, the shells that check the completion scripts, groff for the man page.
//!
//! A machine without it cannot run the test, and says so: the test is reported `ignored`,
//! with the reason on its line of `cargo test`'s output, e.g.
//!
//! ```text
//! test client_echoes_through_socat ... ignored (socat is not installed: apt-get install socat)
//! ```
//!
//! rather than passing without having run. Where every test must run (CI: `.ci/run` sets
//! `ECHOTUI_REQUIRE_ALL=1`), a missing need fails the test instead.
//!
//! libtest's `#[ignore]` is decided when the test is compiled, not by what the machine has,
//! so this binary has a harness of its own (`harness = false` in Cargo.toml, `libtest-mimic`
//! for libtest's command line and output). Every wait is bounded, as everywhere else.

mod common;

use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use common::client::echo_two_messages;
use common::headless::Headless;
use common::peers::refusing_addr;
use common::process::{Pipe, Process, echotui, installed};
use common::servers::{READ_SIZE, Server};
use common::sockets::{connect, local_udp, timed_out, try_echo, udp_client, udp_echo};
use common::{STEP, blocking, eventually, poll};
use echotui::net::event::ServerEventKind;
use echotui::net::udp::DropReason;
use libtest_mimic::{Arguments, Completion, Trial};
use serde_json::Value;

/// Set to `1`, every test must run: a need the machine lacks fails its test.
const REQUIRE_ALL: &str = "ECHOTUI_REQUIRE_ALL";

fn main() -> ExitCode {
    let trials = vec![
        trial(
            "client_echoes_through_the_python_tutorial_server",
            Need::program("python3", "python3"),
            || on_tokio(client_echoes_through_the_python_tutorial_server()),
        ),
        trial(
            "client_echoes_through_socat",
            Need::program("socat", "socat"),
            || on_tokio(client_echoes_through_socat()),
        ),
        trial(
            "client_echoes_through_ncat",
            Need::program("ncat", "ncat"),
            || on_tokio(client_echoes_through_ncat()),
        ),
        trial(
            "udp_from_a_privileged_source_port_is_never_answered",
            Need::PrivilegedUdpPort,
            || on_tokio(udp_from_a_privileged_source_port_is_never_answered()),
        ),
        trial(
            "serve_survives_running_out_of_file_descriptors",
            Need::program("prlimit", "util-linux"),
            serve_survives_running_out_of_file_descriptors,
        ),
        trial(
            "a_udp_flood_writes_a_line_a_second_not_a_line_a_datagram",
            Need::NonLoopbackIpv4,
            a_udp_flood_writes_a_line_a_second_not_a_line_a_datagram,
        ),
        trial(
            "the_bash_completion_script_parses",
            Need::program("bash", "bash"),
            || completion_script_parses("bash", &["-n"]),
        ),
        trial(
            "the_zsh_completion_script_parses",
            Need::program("zsh", "zsh"),
            || completion_script_parses("zsh", &["-n"]),
        ),
        trial(
            "the_fish_completion_script_parses",
            Need::program("fish", "fish"),
            || completion_script_parses("fish", &["--no-execute"]),
        ),
        trial(
            "the_man_page_renders_in_groff",
            Need::program("groff", "groff"),
            the_man_page_renders_in_groff,
        ),
    ];
    libtest_mimic::run(&Arguments::from_args(), trials).exit_code()
}

// ---------------------------------------------------------------------------------------------
// The harness.

/// What a test needs that a machine may lack.
enum Need {
    /// A program on the `PATH`, and the Debian package that brings it.
    Program {
        name: &'static str,
        package: &'static str,
    },
    /// Binding a UDP port below 1024: root, or `CAP_NET_BIND_SERVICE`.
    PrivilegedUdpPort,
    /// An IPv4 address other than loopback, for a source the UDP rate limit applies to.
    NonLoopbackIpv4,
}

impl Need {
    /// A program, and the Debian package that brings it (said in the reason for ignoring).
    fn program(name: &'static str, package: &'static str) -> Self {
        Need::Program { name, package }
    }

    /// Why this machine cannot run the test, or `None` if it can.
    fn missing(&self) -> Option<String> {
        match self {
            Need::Program { name, package } => (!installed(name))
                .then(|| format!("{name} is not installed: apt-get install {package}")),
            Need::PrivilegedUdpPort => privileged_udp_socket().is_none().then(|| {
                "cannot bind a UDP port below 1024 here: needs root or CAP_NET_BIND_SERVICE"
                    .to_owned()
            }),
            Need::NonLoopbackIpv4 => non_loopback_ipv4()
                .is_none()
                .then(|| "this machine has no IPv4 address but loopback".to_owned()),
        }
    }
}

/// A trial that runs `test` where `need` is met. Elsewhere it is ignored, saying why, or,
/// under [`REQUIRE_ALL`], fails saying why. A panic in `test` fails it, as in libtest.
fn trial(name: &str, need: Need, test: impl FnOnce() + Send + 'static) -> Trial {
    Trial::ignorable_test(name, move || match need.missing() {
        None => {
            test();
            Ok(Completion::Completed)
        }
        Some(why) if std::env::var_os(REQUIRE_ALL).is_some_and(|v| v == "1") => {
            Err(format!("{why} ({REQUIRE_ALL}=1: every test must run)").into())
        }
        Some(why) => Ok(Completion::ignored_with(why)),
    })
}

/// Runs an async test as `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]` does.
fn on_tokio(test: impl Future<Output = ()>) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(test);
}

/// A UDP socket on 127.0.0.1 at a privileged port: 7 (echo itself: the loop the reflection
/// guard prevents), or 1023 in case an echo service already holds 7.
fn privileged_udp_socket() -> Option<UdpSocket> {
    [7u16, 1023]
        .into_iter()
        .find_map(|port| UdpSocket::bind(("127.0.0.1", port)).ok())
}

/// This machine's first non-loopback IPv4 address.
fn non_loopback_ipv4() -> Option<IpAddr> {
    echotui::net::interfaces::reachable_at(SocketAddr::from(([0, 0, 0, 0], 0)))
        .into_iter()
        .map(|addr| addr.ip())
        .find(IpAddr::is_ipv4)
}

// ---------------------------------------------------------------------------------------------
// Our client against foreign echo servers.

/// The classic tutorial server, bound to a free port it prints first.
const TUTORIAL_SERVER: &str = r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(('127.0.0.1', 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
conn, addr = s.accept()
while True:
    data = conn.recv(1024)
    if not data:
        break
    conn.sendall(data)
conn.close()
"#;

/// The tutorial's Python server: our client's echoes match, and its close is a clean FIN.
async fn client_echoes_through_the_python_tutorial_server() {
    let mut python = Process::spawn(Command::new("python3").args(["-c", TUTORIAL_SERVER]));
    let line = python.wait_until("the port", Pipe::Stdout, |out| out.contains(&b'\n'));
    let line = String::from_utf8_lossy(&line);
    let port: u16 = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("not a port: {line:?}"));

    let client = echo_two_messages(SocketAddr::from(([127, 0, 0, 1], port))).await;
    // Our close is a clean FIN: the tutorial loop sees b'' and the script ends normally.
    drop(client);
    let status = eventually("python3 to exit", || python.try_wait()).await;
    assert!(status.success(), "python3 exited with {status}");
}

/// socat as an echo server (`PIPE`): our client's echoes match.
async fn client_echoes_through_socat() {
    // A port nobody listens on yet, for socat to take. `fork`: the readiness probe below gets
    // its own child and does not use up the listener.
    let addr = refusing_addr();
    let mut socat = Process::spawn(
        Command::new("socat")
            .arg(format!(
                "TCP-LISTEN:{},bind=127.0.0.1,reuseaddr,fork",
                addr.port()
            ))
            .arg("PIPE"),
    );
    wait_connectable(&mut socat, addr).await;
    echo_two_messages(addr).await;
}

/// ncat as an echo server (`--exec /bin/cat`): our client's echoes match.
async fn client_echoes_through_ncat() {
    let addr = refusing_addr();
    let mut ncat = Process::spawn(
        Command::new("ncat")
            .args(["-l", "--keep-open", "--exec", "/bin/cat", "127.0.0.1"])
            .arg(addr.port().to_string()),
    );
    wait_connectable(&mut ncat, addr).await;
    echo_two_messages(addr).await;
}

/// Waits until the foreign `server` accepts connections on `addr` (it must not exit meanwhile).
async fn wait_connectable(server: &mut Process, addr: SocketAddr) {
    eventually("the server to listen", || {
        if let Some(status) = server.try_wait() {
            panic!("the server exited before listening: {status}");
        }
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Our servers where only some machines let a test go.

/// The reflection guard: a datagram from a privileged port (another echo server, or a
/// spoofed one) is never answered, so two echo servers cannot be made to bounce a packet
/// forever; everyone else still is.
async fn udp_from_a_privileged_source_port_is_never_answered() {
    let socket = privileged_udp_socket().expect("a privileged port (checked before the test)");
    let port = local_udp(&socket).port();
    let (server, log) = Server::udp(READ_SIZE).await;
    let addr = server.addr;
    socket.send_to(b"reflect me", addr).expect("send_to");
    let kind = log.first_from(local_udp(&socket)).await;
    assert_eq!(
        kind,
        ServerEventKind::Dropped {
            reason: DropReason::ReflectionGuard { port },
            count: 1
        }
    );
    assert_eq!(log.seen().events.len(), 1, "the drop is all it reported");
    // The server has decided (the event above), so waiting a little for a reply that would
    // already be on its way is enough: no reply is not a matter of speed.
    let reply = blocking("no reply", move || {
        socket
            .set_read_timeout(Some(Duration::from_millis(300)))
            .expect("read timeout");
        socket.recv_from(&mut [0u8; 64])
    })
    .await;
    assert!(
        reply.as_ref().is_err_and(timed_out),
        "a privileged source got {reply:?}"
    );
    // And the server is not simply dead.
    let echoed = blocking("an ordinary source", move || {
        udp_echo(&udp_client(), addr, b"ordinary")
    })
    .await;
    assert_eq!(echoed, b"ordinary");
    server.stop().await;
}

/// Out of file descriptors, `accept()` fails with EMFILE: the server says so, backs off, and
/// serves again as soon as descriptors are free: it never exits or spins.
fn serve_survives_running_out_of_file_descriptors() {
    let mut server = Headless::spawn(
        Command::new("prlimit")
            .arg("--nofile=32")
            .arg(assert_cmd::cargo::cargo_bin!("echotui"))
            .args(["serve", "--headless", "--listen", "127.0.0.1:0"])
            .args(["--max-per-ip", "1000"]),
    );
    let addr = server.addr;
    // More connections than descriptors: the kernel completes the handshakes, accept() fails.
    let hogs: Vec<TcpStream> = (0..48).map(|_| connect(addr)).collect();
    server.wait_until("an accept failure to be logged", |out| {
        String::from_utf8_lossy(out).contains("accept failed: too many open files (retrying)")
    });
    drop(hogs);
    // Descriptors free again: a new client is served (once the server's back-off is over).
    let echoed = poll(STEP, || try_echo(addr, b"still here").ok());
    assert_eq!(echoed.as_deref(), Some(&b"still here"[..]));
    let stopped = server.terminate();
    assert_eq!(stopped.code, Some(0), "{stopped:?}");
}

/// UDP flat out from one non-loopback source at `serve --headless --json --quiet`: the
/// `limit` lines grow with time (one per second), not with datagrams, and the summary counts
/// every datagram. (Loopback sources are not rate-limited: without another address there is
/// no flood to refuse.)
fn a_udp_flood_writes_a_line_a_second_not_a_line_a_datagram() {
    let ip = non_loopback_ipv4().expect("a non-loopback address (checked before the test)");
    let server = Headless::listening_on(
        "0.0.0.0:0",
        &["--json", "--quiet", "--udp", "--udp-rate", "10"],
    );

    // Flat out for two seconds, from one source the rate limit applies to.
    let flood_for = Duration::from_secs(2);
    let socket = UdpSocket::bind((ip, 0)).expect("bind a non-loopback source");
    let target = SocketAddr::new(ip, server.addr.port());
    let started = Instant::now();
    let mut sent = 0u64;
    while started.elapsed() < flood_for {
        for _ in 0..100 {
            if socket.send_to(b"flood", target).is_ok() {
                sent += 1;
            }
        }
    }
    // The throttle tells the last second's count when its window ends; then stop.
    std::thread::sleep(Duration::from_millis(1200));
    let stopped = server.terminate();
    assert_eq!(stopped.code, Some(0), "{stopped:?}");

    let lines: Vec<Value> = stopped
        .rest
        .iter()
        .map(|line| serde_json::from_str(line).expect("every line is JSON"))
        .collect();
    let limit_lines: Vec<&Value> = lines.iter().filter(|l| l["event"] == "limit").collect();
    let told: u64 = limit_lines
        .iter()
        .map(|l| l["count"].as_u64().unwrap())
        .sum();
    let summary = lines.last().expect("a summary");
    assert_eq!(summary["event"], "summary");
    let unanswered = summary["unanswered_datagrams"].as_u64().unwrap();
    let answered = summary["reads"].as_u64().unwrap();
    println!(
        "flood: {sent} sent, {answered} answered, {unanswered} unanswered, {} limit lines",
        limit_lines.len()
    );
    assert!(unanswered > 100, "the flood was refused: {unanswered}");
    // A line (or two: at once, then the count) per second of flood, never one per datagram.
    let seconds = flood_for.as_secs() + 2;
    assert!(
        limit_lines.len() as u64 <= 2 * seconds,
        "{} limit lines for a {seconds}s flood",
        limit_lines.len()
    );
    // Everything refused was told, by count.
    assert_eq!(told, unanswered, "the counts add up");
}

/// `echotui completions SHELL` is a script `shell` accepts (`check` parses without running).
fn completion_script_parses(shell: &str, check: &[&str]) {
    let script = echotui_output(&["completions", shell]);
    let path = std::env::temp_dir().join(format!("echotui-{}.{shell}", std::process::id()));
    std::fs::write(&path, &script).unwrap();
    let out = Command::new(shell).args(check).arg(&path).output().unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(
        out.status.success(),
        "{shell} {check:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `echotui man` renders in groff (with preconv, as man does) without a warning.
fn the_man_page_renders_in_groff() {
    use std::io::Write;
    let page = echotui_output(&["man"]);
    let mut groff = Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    groff.stdin.take().unwrap().write_all(&page).unwrap();
    let out = groff.wait_with_output().unwrap();
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && warnings.trim().is_empty(),
        "groff: {warnings}"
    );
}

/// What `echotui ARGS` prints, which must succeed.
fn echotui_output(args: &[&str]) -> Vec<u8> {
    let out = echotui(args).output().unwrap();
    assert!(out.status.success(), "echotui {args:?}");
    out.stdout
}
