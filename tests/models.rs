//! Server designs over loopback (README, "Server designs"): the tutorial's one-at-a-time
//! server, threads and async side by side; servers that misbehave on purpose; framing.
//! Every wait is bounded; nothing depends on how fast the machine is.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::headless::{Headless, is_accept_queue_line};
use common::payloads::HELLO;
use common::process::run;
use common::reports::{assert_timestamp, keys};
use common::servers::{READ_SIZE, Server};
use common::sockets::{connect, round_trip};
use common::{IO_TIMEOUT, blocking, eventually};
use echotui::net::event::{self, NetEvent, ServerEvent, ServerEventKind};
use echotui::net::framing::Framing;
use echotui::net::{
    Behaviour, CloseReason, EventSink, Limits, ServerCommand, ServerControl, ServerModel,
    ServerSettings, Transport,
};
use serde_json::Value;

/// Our TCP server on loopback behaving as `behaviour`, room for many clients from one address.
async fn server(behaviour: Behaviour) -> Server {
    let settings = ServerSettings {
        report_reads: true,
        limits: Limits {
            max_per_ip: 100,
            ..Limits::default()
        },
    };
    let control = ServerControl::with(behaviour);
    Server::start(Transport::Tcp, settings, control, EventSink::discard()).await
}

/// The default behaviour, but for the server's design.
fn behaving(model: ServerModel) -> Behaviour {
    Behaviour {
        model,
        ..ServerControl::new(READ_SIZE).behaviour()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_iterative_server_serves_one_client_at_a_time() {
    let server = server(behaving(ServerModel::Iterative)).await;
    let addr = server.addr;
    blocking("two clients, one at a time", move || {
        let mut first = connect(addr);
        round_trip(&mut first, b"first");
        // The second connects (the kernel queues it) but is not served while the first stays.
        let mut second = connect(addr);
        second.write_all(b"second").expect("write");
        second
            .set_read_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
        let waited = second.read(&mut [0u8; 16]);
        assert!(
            waited.is_err(),
            "the second client was served while the first was connected: {waited:?}"
        );
        // The first leaves: only now is the second accepted, and its bytes echoed.
        drop(first);
        second.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        let mut echo = [0u8; 6];
        second.read_exact(&mut echo).expect("the second's echo");
        assert_eq!(&echo, b"second");
    })
    .await;
    server.stop().await;
}

/// The accept queue read from the listener: while the iterative server serves one client,
/// the others are connected (the kernel completed their handshakes) and counted as waiting;
/// each goes from the queue when the server gets to it. (Linux's `TCP_INFO` of a listener.)
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_accept_queue_counts_the_clients_the_iterative_server_has_not_accepted() {
    let server = server(behaving(ServerModel::Iterative)).await;
    let addr = server.addr;
    let control = server.control.clone();
    // The server shares its listener once its task runs.
    let empty = eventually("the listener to be shared", || control.accept_queue())
        .await
        .expect("Linux reads the accept queue");
    assert_eq!(empty.waiting, 0, "nobody has connected yet");
    assert!(empty.backlog > 0, "{empty:?}");
    let queue = move || {
        control
            .accept_queue()
            .expect("a TCP listener")
            .expect("Linux reads the accept queue")
    };
    let waiting = |n: u32| {
        let queue = queue.clone();
        move || (queue().waiting == n).then_some(())
    };
    let first = blocking("the first client", move || {
        let mut first = connect(addr);
        round_trip(&mut first, b"first");
        first
    })
    .await;
    let mut held = blocking("three more clients", move || {
        (0..3).map(|_| connect(addr)).collect::<Vec<TcpStream>>()
    })
    .await;
    eventually("three clients waiting to be accepted", waiting(3)).await;
    assert_eq!(
        queue().backlog,
        empty.backlog,
        "the backlog is listen()'s, fixed"
    );
    // The first leaves: the server accepts the next, which the queue no longer counts.
    blocking("the first leaves", move || {
        first.shutdown(std::net::Shutdown::Both).expect("shutdown")
    })
    .await;
    eventually("two clients waiting", waiting(2)).await;
    let mut next = held.remove(0);
    blocking("the next client is served", move || {
        round_trip(&mut next, b"next")
    })
    .await;
    drop(held);
    eventually("the queue empty once everyone left", waiting(0)).await;
    server.stop().await;
}

/// The `accept_queue` lines of a `serve --headless --json` log.
fn accept_queue_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .filter(|line| is_accept_queue_line(line))
        .map(|line| serde_json::from_str(line).expect("JSON"))
        .collect()
}

/// Waits until the last `accept_queue` line of `server`'s log says `waiting`.
fn wait_for_queue(server: &mut Headless, waiting: u64) {
    server.wait_until(&format!("accept_queue with {waiting} waiting"), |out| {
        accept_queue_lines(out)
            .last()
            .is_some_and(|line| line["waiting"] == waiting)
    });
}

/// `serve --json` tells the accept queue's length each time it changes: the iterative
/// server serves one client while two more wait, then gets to them one by one.
#[cfg(target_os = "linux")]
#[test]
fn serve_json_tells_the_accept_queue_as_it_changes() {
    let mut server = Headless::start(&["--json", "--model", "iterative", "--backlog", "4"]);
    let mut first = connect(server.addr);
    round_trip(&mut first, HELLO);
    let mut held: Vec<TcpStream> = (0..2).map(|_| connect(server.addr)).collect();
    wait_for_queue(&mut server, 2);
    drop(first);
    wait_for_queue(&mut server, 1);
    round_trip(&mut held[0], b"next");
    drop(held);
    wait_for_queue(&mut server, 0);
    let stopped = server.terminate();
    assert_eq!(stopped.code, Some(0));
    let lines = accept_queue_lines(&stopped.stdout);
    for line in &lines {
        assert_eq!(keys(line), ["ts", "event", "waiting", "backlog"], "{line}");
        assert_eq!(line["backlog"], 4, "listen()'s backlog: {line}");
        assert_timestamp(line);
    }
    let told: Vec<u64> = lines
        .iter()
        .map(|l| l["waiting"].as_u64().unwrap())
        .collect();
    assert!(
        told.windows(2).all(|pair| pair[0] != pair[1]),
        "a line only when the length changes: {told:?}"
    );
    // Two waiting, then one, then none, in that order (other lengths may come between).
    let mut expected = [2, 1, 0].into_iter().peekable();
    for waiting in &told {
        expected.next_if_eq(waiting);
    }
    assert_eq!(expected.next(), None, "2, then 1, then 0 waiting: {told:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_and_async_serve_twenty_clients_at_once() {
    for model in [ServerModel::Threads, ServerModel::Async] {
        let server = server(behaving(model)).await;
        let addr = server.addr;
        let control = server.control.clone();
        let threads_seen = blocking("twenty clients", move || {
            let mut clients: Vec<TcpStream> = (0..20).map(|_| connect(addr)).collect();
            // Every one is served while all twenty are connected.
            for (i, client) in clients.iter_mut().enumerate() {
                round_trip(client, format!("client {i}").as_bytes());
            }
            control.snapshot().threads
        })
        .await;
        match model {
            ServerModel::Threads => assert_eq!(threads_seen, 20, "one thread per client"),
            _ => assert_eq!(threads_seen, 0, "no thread of its own"),
        }
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_model_restarts_the_server_on_the_same_port() {
    let server = server(behaving(ServerModel::Async)).await;
    let addr = server.addr;
    let mut before = blocking("connect", move || connect(addr)).await;
    // The kernel completes the handshake before the server accepts: the old model must have
    // the connection before the model changes, or the new one would simply take it over.
    eventually("the old model to accept the connection", || {
        (server.control.snapshot().accepted == 1).then_some(())
    })
    .await;
    server
        .control
        .apply(ServerCommand::SetModel(ServerModel::Threads));
    let closed = blocking("the old connection's read", move || {
        before.read(&mut [0u8; 8])
    })
    .await;
    assert!(
        matches!(closed, Ok(0)),
        "the old connection is closed: {closed:?}"
    );
    let control = server.control.clone();
    let threads = blocking("a client of the new model", move || {
        let mut after = connect(addr);
        round_trip(&mut after, b"again");
        // Counted while `after` is still connected: its thread is still serving it.
        control.snapshot().threads
    })
    .await;
    assert_eq!(threads, 1, "served by the new model");
    server.stop().await;
}

/// Whatever the model, a restart tells the close of every connection it ends (the iterative
/// model's one connection too): the UI's roster must not learn of it only from the census.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_reports_the_close_of_every_connection_it_ends() {
    for model in [
        ServerModel::Iterative,
        ServerModel::Threads,
        ServerModel::Async,
    ] {
        let (sink, mut events) = event::channel(1024);
        let control = ServerControl::with(behaving(model));
        let server = Server::start(Transport::Tcp, ServerSettings::default(), control, sink).await;
        let addr = server.addr;
        let client = blocking("connect", move || connect(addr)).await;
        eventually("the connection accepted", || {
            (server.control.snapshot().accepted == 1).then_some(())
        })
        .await;
        let next = match model {
            ServerModel::Async => ServerModel::Iterative,
            _ => ServerModel::Async,
        };
        server.control.apply(ServerCommand::SetModel(next));
        let restarted = tokio::time::timeout(IO_TIMEOUT, async {
            while let Some(event) = events.recv().await {
                if let NetEvent::Server(ServerEvent {
                    kind: ServerEventKind::Closed { reason, .. },
                    ..
                }) = event
                {
                    return Some(reason);
                }
            }
            None
        })
        .await;
        assert_eq!(
            restarted,
            Ok(Some(CloseReason::Restarting)),
            "{model:?}: the close is told, as a restart"
        );
        drop(client);
        server.stop().await;
    }
}

/// The tutorial's client does one `recv(1024)`: against a server that echoes in chunks, it
/// prints only the first. The chunks leave 1 ms apart, so a test machine too busy to wake
/// the client within a millisecond sees them merged: the experiment is repeated a few times
/// and must show the first chunk alone at least once; every time, the whole echo arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_recv_gets_only_the_first_chunk() {
    for model in [ServerModel::Async, ServerModel::Threads] {
        let mut behaviour = behaving(model);
        behaviour.misbehaviour.echo_chunks = Some(3);
        let server = server(behaviour).await;
        let addr = server.addr;
        let first_reads = blocking("five single recvs", move || {
            (0..5)
                .map(|_| {
                    let mut client = connect(addr);
                    client.write_all(HELLO).expect("write");
                    let mut buf = [0u8; 1024];
                    let n = client.read(&mut buf).expect("one recv(1024)");
                    let mut echo = buf[..n].to_vec();
                    while echo.len() < 13 {
                        let m = client.read(&mut buf).expect("the rest, in later reads");
                        assert!(m > 0, "the echo was cut short");
                        echo.extend_from_slice(&buf[..m]);
                    }
                    assert_eq!(echo, HELLO);
                    n
                })
                .collect::<Vec<usize>>()
        })
        .await;
        assert!(
            first_reads.contains(&3),
            "{model}: a single recv never got the first chunk alone: {first_reads:?}"
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_greeting_comes_first_and_close_after_closes() {
    let mut behaviour = behaving(ServerModel::Async);
    behaviour.misbehaviour.greeting = Some(b"220 hello\r\n".as_slice().into());
    behaviour.misbehaviour.close_after = Some(5);
    let server = server(behaviour).await;
    let addr = server.addr;
    blocking("a greeting, then a close", move || {
        let mut client = connect(addr);
        let mut greeting = [0u8; 11];
        client.read_exact(&mut greeting).expect("the greeting");
        assert_eq!(&greeting, b"220 hello\r\n");
        client.write_all(b"abcdefgh").expect("write");
        let mut rest = Vec::new();
        client
            .read_to_end(&mut rest)
            .expect("the echo, then the close");
        assert_eq!(rest, b"abcde", "five bytes echoed, then FIN");
    })
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_after_aborts_the_connection() {
    let mut behaviour = behaving(ServerModel::Async);
    behaviour.misbehaviour.reset_after = Some(3);
    let server = server(behaviour).await;
    let addr = server.addr;
    blocking("a reset after three bytes", move || {
        let mut client = connect(addr);
        client.write_all(b"abcdef").expect("write");
        let mut echo = [0u8; 3];
        client.read_exact(&mut echo).expect("three bytes");
        assert_eq!(&echo, b"abc");
        let after = client.read(&mut [0u8; 8]);
        assert!(
            matches!(&after, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
            "an RST, not a FIN: {after:?}"
        );
    })
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framed_servers_assemble_split_reads_into_whole_messages() {
    for model in [ServerModel::Async, ServerModel::Threads] {
        let mut behaviour = behaving(model);
        behaviour.framing = Framing::Line;
        behaviour.read_size = 4;
        let server = server(behaviour).await;
        let addr = server.addr;
        blocking("a line in two writes", move || {
            let mut client = connect(addr);
            client.write_all(b"Hello").expect("write");
            client
                .set_read_timeout(Some(Duration::from_millis(200)))
                .expect("timeout");
            assert!(
                client.read(&mut [0u8; 16]).is_err(),
                "{model}: nothing comes back before the frame is whole"
            );
            client.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
            client.write_all(b", World!\n").expect("write");
            let mut echo = [0u8; 14];
            client.read_exact(&mut echo).expect("the whole line");
            assert_eq!(&echo, b"Hello, World!\n");
        })
        .await;
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_closes_the_connection_cleanly() {
    let mut behaviour = behaving(ServerModel::Async);
    behaviour.framing = Framing::Line;
    let server = server(behaviour).await;
    let addr = server.addr;
    blocking("an endless line", move || {
        let mut client = connect(addr);
        let endless = vec![b'x'; echotui::net::framing::MAX_FRAME + 4096];
        // The server closes mid-way: the write may fail, the read must end.
        let _ = client.write_all(&endless);
        let mut rest = Vec::new();
        let ended = client.read_to_end(&mut rest);
        assert!(rest.is_empty(), "nothing of a bad frame is echoed");
        assert!(
            ended.is_ok()
                || matches!(&ended, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
            "{ended:?}"
        );
    })
    .await;
    server.stop().await;
}

/// `bench` compares designs: one run per combination, each against a fresh embedded server,
/// as a JSON array; a connection the iterative server never got to is "not served", not an
/// error.
#[test]
fn bench_compares_models_run_by_run() {
    let (code, stdout, stderr) = run(&[
        "bench",
        "--json",
        "-d",
        "300ms",
        "--model",
        "iterative,async",
        "--connections",
        "1,3",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let runs: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let runs = runs.as_array().expect("an array of runs");
    let shape: Vec<(String, u64, u64, u64)> = runs
        .iter()
        .map(|run| {
            (
                run["model"].as_str().unwrap().to_owned(),
                run["connections"].as_u64().unwrap(),
                run["served"].as_u64().unwrap(),
                run["errors"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("iterative", 1, 1, 0),
        ("iterative", 3, 1, 0),
        ("async", 1, 1, 0),
        ("async", 3, 3, 0),
    ];
    let expected: Vec<(String, u64, u64, u64)> = expected
        .iter()
        .map(|(m, c, s, e)| (m.to_string(), *c, *s, *e))
        .collect();
    assert_eq!(shape, expected);
    for run in runs {
        assert_eq!(run["read_size"], 1024);
        assert!(run["msgs_per_s"].as_f64().unwrap() > 0.0);
        assert!(run["server_threads"].is_u64());
    }
}

/// A target serves as it does: the embedded server's settings are refused with one.
#[test]
fn bench_refuses_server_settings_for_a_target() {
    let (code, _, stderr) = run(&["bench", "127.0.0.1:9", "--model", "threads"]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("error: --model and --read-size"),
        "{stderr}"
    );
}

/// Nagle's algorithm meets the peer's delayed ACK: a message written in two pieces to a
/// server that answers only whole lines waits for the ACK of the first piece, which the
/// server's kernel delays (40 ms on Linux) because it has nothing to send back yet. Only a
/// lower bound is checked: a slow machine makes the wait longer, never shorter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nagle_holds_the_second_piece_for_the_delayed_ack() {
    let mut behaviour = behaving(ServerModel::Async);
    behaviour.framing = Framing::Line;
    let server = server(behaviour).await;
    let addr = server.addr;
    let slowest = blocking("six lines in two pieces", move || {
        let mut client = connect(addr);
        client.set_nodelay(false).expect("Nagle on");
        (0..6)
            .map(|_| {
                let started = std::time::Instant::now();
                client.write_all(b"Hello").expect("the first piece");
                client.write_all(b", World!\n").expect("the second piece");
                let mut echo = [0u8; 14];
                client.read_exact(&mut echo).expect("the line");
                assert_eq!(&echo, b"Hello, World!\n");
                started.elapsed()
            })
            .max()
            .expect("six round trips")
    })
    .await;
    assert!(
        slowest >= Duration::from_millis(30),
        "no round trip waited for a delayed ACK: the slowest took {slowest:?}"
    );
    server.stop().await;
}
