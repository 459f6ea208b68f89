//! Server designs over loopback (README, "Server designs"): the tutorial's one-at-a-time
//! server, threads and async side by side; servers that misbehave on purpose; framing.
//! Every wait is bounded; nothing depends on how fast the machine is.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use echotui::net::framing::Framing;
use echotui::net::serve::{self, Protocols, RunningServer};
use echotui::net::{
    Behaviour, EventSink, Limits, ServerCommand, ServerControl, ServerModel, ServerSettings,
};
use tokio_util::sync::CancellationToken;

/// Every blocking socket call gives up after this long, so no test can hang.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A server on loopback behaving as `behaviour`.
async fn server(behaviour: Behaviour) -> (RunningServer, ServerControl, CancellationToken) {
    let shutdown = CancellationToken::new();
    let control = ServerControl::with(behaviour);
    let settings = ServerSettings {
        report_reads: true,
        limits: Limits {
            max_per_ip: 100,
            ..Limits::default()
        },
    };
    let server = serve::start(
        "127.0.0.1:0".parse().unwrap(),
        Protocols::Tcp,
        128,
        settings,
        control.clone(),
        EventSink::discard(),
        shutdown.clone(),
    )
    .await
    .expect("start a server on 127.0.0.1:0");
    (server, control, shutdown)
}

fn behaving(model: ServerModel) -> Behaviour {
    Behaviour {
        model,
        ..ServerControl::new(1024).behaviour()
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream
}

/// Writes `message` and reads until exactly as many bytes came back.
fn round_trip(stream: &mut TcpStream, message: &[u8]) -> Vec<u8> {
    stream.write_all(message).expect("write");
    let mut echo = vec![0; message.len()];
    stream.read_exact(&mut echo).expect("the echo");
    echo
}

/// Runs blocking socket work off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::time::timeout(IO_TIMEOUT * 2, tokio::task::spawn_blocking(f))
        .await
        .expect("blocking work took too long")
        .expect("blocking work panicked")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_iterative_server_serves_one_client_at_a_time() {
    let (server, _control, shutdown) = server(behaving(ServerModel::Iterative)).await;
    let addr = server.addr;
    blocking(move || {
        let mut first = connect(addr);
        assert_eq!(round_trip(&mut first, b"first"), b"first");
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
    shutdown.cancel();
    server.stopped().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_and_async_serve_twenty_clients_at_once() {
    for model in [ServerModel::Threads, ServerModel::Async] {
        let (server, control, shutdown) = server(behaving(model)).await;
        let addr = server.addr;
        let threads_seen = blocking(move || {
            let mut clients: Vec<TcpStream> = (0..20).map(|_| connect(addr)).collect();
            // Every one is served while all twenty are connected.
            for (i, client) in clients.iter_mut().enumerate() {
                let message = format!("client {i}");
                assert_eq!(round_trip(client, message.as_bytes()), message.as_bytes());
            }
            control.snapshot().threads
        })
        .await;
        match model {
            ServerModel::Threads => assert_eq!(threads_seen, 20, "one thread per client"),
            _ => assert_eq!(threads_seen, 0, "no thread of its own"),
        }
        shutdown.cancel();
        server.stopped().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_model_restarts_the_server_on_the_same_port() {
    let (server, control, shutdown) = server(behaving(ServerModel::Async)).await;
    let addr = server.addr;
    let mut before = blocking(move || connect(addr)).await;
    control.apply(ServerCommand::SetModel(ServerModel::Threads));
    let closed = blocking(move || before.read(&mut [0u8; 8])).await;
    assert!(
        matches!(closed, Ok(0)),
        "the old connection is closed: {closed:?}"
    );
    let threads = blocking(move || {
        let mut after = connect(addr);
        assert_eq!(round_trip(&mut after, b"again"), b"again");
        control.snapshot().threads
    })
    .await;
    assert_eq!(threads, 1, "served by the new model");
    shutdown.cancel();
    server.stopped().await;
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
        let (server, _control, shutdown) = server(behaviour).await;
        let addr = server.addr;
        let first_reads = blocking(move || {
            (0..5)
                .map(|_| {
                    let mut client = connect(addr);
                    client.write_all(b"Hello, World!").expect("write");
                    let mut buf = [0u8; 1024];
                    let n = client.read(&mut buf).expect("one recv(1024)");
                    let mut echo = buf[..n].to_vec();
                    while echo.len() < 13 {
                        let m = client.read(&mut buf).expect("the rest, in later reads");
                        assert!(m > 0, "the echo was cut short");
                        echo.extend_from_slice(&buf[..m]);
                    }
                    assert_eq!(echo, b"Hello, World!");
                    n
                })
                .collect::<Vec<usize>>()
        })
        .await;
        assert!(
            first_reads.contains(&3),
            "{model}: a single recv never got the first chunk alone: {first_reads:?}"
        );
        shutdown.cancel();
        server.stopped().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_greeting_comes_first_and_close_after_closes() {
    let mut behaviour = behaving(ServerModel::Async);
    behaviour.misbehaviour.greeting = Some(b"220 hello\r\n".as_slice().into());
    behaviour.misbehaviour.close_after = Some(5);
    let (server, _control, shutdown) = server(behaviour).await;
    let addr = server.addr;
    blocking(move || {
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
    shutdown.cancel();
    server.stopped().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_after_aborts_the_connection() {
    let mut behaviour = behaving(ServerModel::Async);
    behaviour.misbehaviour.reset_after = Some(3);
    let (server, _control, shutdown) = server(behaviour).await;
    let addr = server.addr;
    blocking(move || {
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
    shutdown.cancel();
    server.stopped().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framed_servers_assemble_split_reads_into_whole_messages() {
    for model in [ServerModel::Async, ServerModel::Threads] {
        let mut behaviour = behaving(model);
        behaviour.framing = Framing::Line;
        behaviour.read_size = 4;
        let (server, _control, shutdown) = server(behaviour).await;
        let addr = server.addr;
        blocking(move || {
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
        shutdown.cancel();
        server.stopped().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_closes_the_connection_cleanly() {
    let mut behaviour = behaving(ServerModel::Async);
    behaviour.framing = Framing::Line;
    let (server, _control, shutdown) = server(behaviour).await;
    let addr = server.addr;
    blocking(move || {
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
    shutdown.cancel();
    server.stopped().await;
}

/// `bench` compares designs: one run per combination, each against a fresh embedded server,
/// as a JSON array; a connection the iterative server never got to is "not served", not an
/// error.
#[test]
fn bench_compares_models_run_by_run() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_echotui"))
        .args(["bench", "--json", "-d", "300ms"])
        .args(["--model", "iterative,async", "--connections", "1,3"])
        .output()
        .expect("run echotui bench");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let runs: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
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
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_echotui"))
        .args(["bench", "127.0.0.1:9", "--model", "threads"])
        .output()
        .expect("run echotui bench");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: --model and --read-size"),
        "{stderr}"
    );
}
